"""Draw docs/gallery.png: every jaxsched preset, with its phases marked.

Run from the repository root (needs matplotlib, ``pip install -e '.[plot]'``)::

    python scripts/make_gallery.py            # writes docs/gallery.png
    python scripts/make_gallery.py out.png    # or anywhere else

Each panel is drawn by ``jaxsched.plot`` (the same function users call), so
the gallery also checks that plotting works for every preset.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

import jaxsched  # noqa: E402
from jaxsched._plot import plot  # noqa: E402

N = 1_000


def panels() -> list[tuple[str, object, dict]]:
    J = jaxsched
    return [
        (
            "warmup_cosine(peak_value=1e-3, total_steps=1000, warmup_steps=100)",
            J.warmup_cosine(1e-3, total_steps=N, warmup_steps=100),
            {},
        ),
        (
            "wsd(1e-3, total_steps=1000, warmup_steps=100): decay shapes",
            [J.wsd(1e-3, total_steps=N, warmup_steps=100, decay_shape=k) for k in ("linear", "cosine", "1-sqrt")],
            {"labels": ["linear", "cosine", "1-sqrt"]},
        ),
        (
            "onecycle(0.1, total_steps=1000): two and three phases",
            [J.onecycle(0.1, total_steps=N), J.onecycle(0.1, total_steps=N, three_phase=True)],
            {"labels": ["three_phase=False", "three_phase=True"]},
        ),
        (
            "onecycle_momentum(total_steps=1000)",
            J.onecycle_momentum(N),
            {"ylabel": "momentum"},
        ),
        (
            "sgdr(0.1, period=100, period_mult=2, decay=0.8, warmup_steps=50)",
            J.sgdr(0.1, period=100, period_mult=2.0, decay=0.8, warmup_steps=50),
            {"steps": 800},
        ),
        (
            "cyclic(0.01, 0.1, step_size_up=100): modes",
            [
                J.cyclic(0.01, 0.1, 100, mode="triangular"),
                J.cyclic(0.01, 0.1, 100, mode="triangular2"),
                J.cyclic(0.01, 0.1, 100, mode="exp_range", gamma=0.998),
            ],
            {"labels": ["triangular", "triangular2", "exp_range (gamma=0.998)"], "steps": N},
        ),
        (
            "linear_to_zero(1e-3, total_steps=1000, warmup_steps=100)",
            J.linear_to_zero(1e-3, total_steps=N, warmup_steps=100),
            {},
        ),
        (
            "warmup_inverse_sqrt(1e-3, warmup_steps=100)",
            J.warmup_inverse_sqrt(1e-3, warmup_steps=100),
            {"steps": N},
        ),
    ]


def main(out: str = "docs/gallery.png") -> None:
    items = panels()
    fig = Figure(figsize=(14, 2.9 * ((len(items) + 1) // 2)), layout="constrained")
    axes = fig.subplots((len(items) + 1) // 2, 2).ravel()
    for ax, (title, sched, kw) in zip(axes, items):
        steps = kw.pop("steps", None)
        plot(sched, steps, ax=ax, **kw)
        ax.set_title(title, fontsize="medium", loc="left")
    for ax in axes[len(items) :]:
        ax.set_visible(False)
    fig.suptitle("jaxsched presets (dotted lines: phase boundaries)", fontsize="large")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
