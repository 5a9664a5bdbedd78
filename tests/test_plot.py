"""Phases, describe and plot: structure read correctly, figures drawn as promised, PNGs valid."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest

import jaxsched
from jaxsched._plot import describe, horizon, phases, plot


@pytest.fixture
def plt() -> Any:
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@jax.jit
def values(s: Any, k: Any) -> Any:
    """The reference values, compiled once per structure (eager evaluation compiles op by op)."""
    return s(k)


def spans(s: Any, until: float | None = None) -> list[tuple[float, float, str]]:
    return [(round(p.start, 3), round(p.end, 3), p.label) for p in phases(s, until)]


# ----------------------------------------------------------------------------- phases and describe


def test_phases_of_presets() -> None:
    J = jaxsched
    assert spans(J.warmup_cosine(1.0, total_steps=1000, warmup_steps=100)) == [
        (0, 100, "warmup"),
        (100, 1000, "cosine"),
    ]
    assert spans(J.wsd(1.0, total_steps=1000, warmup_steps=100, decay_steps=200, decay_shape="linear")) == [
        (0, 100, "warmup"),
        (100, 800, "constant"),
        (800, 1000, "linear"),
    ]
    assert spans(J.sgdr(1.0, period=10, period_mult=2.0)) == [
        (0, 10, "cycle 1"),
        (10, 30, "cycle 2"),
        (30, 70, "cycle 3"),
    ]
    assert spans(J.sgdr(1.0, period=10, cycles=2), 50) == [(0, 10, "cycle 1"), (10, 20, "cycle 2"), (20, 50, "hold")]
    assert spans(J.piecewise_constant([1.0, 0.1, 0.01], [10, 20]), 30) == [
        (0, 10, "piece 1"),
        (10, 20, "piece 2"),
        (20, 30, "piece 3"),
    ]
    assert spans(J.cyclic(0.1, 1.0, 5), 25) == [(0, 10, "cycle 1"), (10, 20, "cycle 2"), (20, 25, "cycle 3")]
    assert spans(J.linear(1.0, 0.0, 10), 15) == [(0, 10, "linear"), (10, 15, "hold")]


def test_phases_of_a_compat_class_with_its_own_cycles() -> None:
    # transformers' hard restarts (CosineHardRestarts, not a Repeat) list their cycles through _cycle_starts
    from jaxsched.compat import transformers as hf

    s = hf.get_cosine_with_hard_restarts_schedule_with_warmup(1.0, 5, 95, num_cycles=3)
    assert spans(s) == [(0, 5, "warmup"), (5, 35, "cycle 1"), (35, 65, "cycle 2"), (65, 95, "cycle 3")]


def test_phases_of_a_three_phase_onecycle() -> None:
    s = jaxsched.onecycle(1.0, total_steps=100, pct_start=0.25, three_phase=True, anneal_strategy="linear")
    got = spans(s)
    assert [g[2] for g in got] == ["linear", "linear", "linear"]
    assert [g[0] for g in got] == [0, 25, 50] and got[-1][1] == 100


def test_phases_of_a_start_below_zero() -> None:
    # A join's boundary or a warmup's length below 0 shifts the next schedule: its phases show from step 0
    # and end early (they began before 0); the pieces before it never show.
    s = jaxsched.join([jaxsched.constant(0.1), jaxsched.cosine(1.0, 0.0, 20)], [-3])
    assert [(p.start, p.end, p.label) for p in phases(s, 30)] == [(0.0, 17.0, "cosine"), (17.0, 30.0, "hold")]
    w = jaxsched.warmup(jaxsched.cosine(1.0, 0.0, 20), -2.5)
    assert [(p.start, p.end, p.label) for p in phases(w, 30)] == [(0.0, 17.5, "cosine"), (17.5, 30.0, "hold")]
    assert horizon(s) == 17 and horizon(w) == 18


def test_horizon() -> None:
    J = jaxsched
    assert horizon(J.warmup_cosine(1.0, total_steps=5000, warmup_steps=10)) == 5000
    assert horizon(J.sgdr(1.0, period=100, period_mult=2.0, warmup_steps=50)) == 50 + 100 + 200 + 400
    assert horizon(J.sgdr(1.0, period=100, cycles=2)) == 200
    assert horizon(J.exponential(1.0, 0.5, 10)) == 50
    assert horizon(J.constant(1.0)) == 100
    assert horizon(J.warmup_inverse_sqrt(1.0, warmup_steps=100)) == 100 + 1000
    for bad in ("x", None, 3):  # not a default length of 100: a TypeError naming what it got
        with pytest.raises(TypeError, match="horizon expects a schedule"):
            horizon(bad)


def test_describe_against_numpy() -> None:
    s = jaxsched.sgdr(0.1, period=100, period_mult=2.0, end_value=0.01, warmup_steps=20)
    d = describe(s, 400)
    vals = np.asarray(values(s, np.arange(401)), np.float64)
    assert d["until"] == 400 and d["boundaries"] == [20.0, 120.0, 320.0]
    assert d["min"] == vals.min() and d["argmin"] == int(np.argmin(vals))
    assert d["max"] == vals.max() and d["argmax"] == int(np.argmax(vals))
    assert d["end"] == vals[-1]
    with pytest.raises(ValueError, match="until must be a non-negative integer"):
        describe(s, -1)


def test_describe_long_runs_are_sampled_with_boundaries() -> None:
    s = jaxsched.join([jaxsched.constant(1.0), jaxsched.constant(5.0), jaxsched.constant(0.5)], [1_000_001, 1_000_002])
    d = describe(s, 3_000_000)
    assert d["max"] == 5.0 and d["argmax"] == 1_000_001  # a one-step phase is still seen
    assert d["min"] == 0.5 and d["end"] == 0.5


def test_phases_need_an_unbatched_schedule() -> None:
    b = jaxsched.stack([jaxsched.linear(1.0, 0.0, 10), jaxsched.linear(1.0, 0.0, 20)])
    with pytest.raises(ValueError, match="unbatched"):
        phases(b)
    with pytest.raises(TypeError, match="expects a jaxsched schedule"):
        phases("cosine")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- plot


def _png_ok(path: Path, plt: Any) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    img = plt.imread(str(path))
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert float(img[..., :3].std()) > 0.01  # not blank


def test_plot_one_schedule(plt: Any, tmp_path: Path) -> None:
    s = jaxsched.wsd(1e-3, total_steps=1000, warmup_steps=100, decay_steps=200)
    ax = plot(s, title="wsd")
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "learning rate" and ax.get_title() == "wsd"
    (line,) = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2]
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    np.testing.assert_array_equal(x, np.arange(1001))
    np.testing.assert_allclose(y, np.asarray(values(s, np.arange(1001)), np.float64), rtol=0, atol=1e-6 * 1e-3)
    vlines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] == ln.get_xdata()[1]]
    assert sorted(float(v.get_xdata()[0]) for v in vlines) == [100.0, 800.0]
    assert [t.get_text() for t in ax.texts] == ["warmup", "constant", "1-sqrt"]
    path = tmp_path / "wsd.png"
    ax.figure.savefig(path)
    _png_ok(path, plt)


def test_plot_a_grid_with_a_legend(plt: Any, tmp_path: Path) -> None:
    g = jaxsched.grid(jaxsched.warmup_cosine, peak_value=[1e-3, 3e-3], warmup_steps=[0, 100], total_steps=1000)
    ax = plot(g, 500)
    lines = ax.get_lines()
    assert len(lines) == 4
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "peak_value=0.001, warmup_steps=0",
        "peak_value=0.001, warmup_steps=100",
        "peak_value=0.003, warmup_steps=0",
        "peak_value=0.003, warmup_steps=100",
    ]
    np.testing.assert_allclose(
        np.asarray(lines[3].get_ydata()), np.asarray(values(g[3], np.arange(501)), np.float64), rtol=1e-6
    )
    path = tmp_path / "grid.png"
    ax.figure.savefig(path)
    _png_ok(path, plt)


def test_plot_batches_and_lists(plt: Any) -> None:
    b = jaxsched.stack([jaxsched.sgdr(1.0, period=p) for p in (10.0, 20.0, 40.0)])
    ax = plot(b, 100)
    assert len(ax.get_lines()) == 3 and [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]
    np.testing.assert_allclose(
        np.asarray(ax.get_lines()[1].get_ydata()),
        np.asarray(values(jaxsched.sgdr(1.0, period=20.0), np.arange(101)), np.float64),
        atol=1e-7,
    )
    fig, ax2 = plt.subplots()
    out = plot(
        [jaxsched.constant(1.0), jaxsched.linear(1.0, 0.0, 10)], [0, 5, 10], ax=ax2, labels=["c", "l"], logy=True
    )
    assert out is ax2 and ax2.get_yscale() == "log"
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == ["c", "l"]
    with pytest.raises(ValueError, match="2 labels for 3 curves"):
        plot(b, 10, labels=["a", "b"])
    # a single schedule takes one label (a legend), not a list it would drop
    ax3 = plot(jaxsched.linear(1.0, 0.0, 10), 10, labels=["lr"])
    assert [t.get_text() for t in ax3.get_legend().get_texts()] == ["lr"]
    for bad in (["a", "b"], []):
        with pytest.raises(ValueError, match="single schedule takes one label"):
            plot(jaxsched.linear(1.0, 0.0, 10), 10, labels=bad)
    for obj in (jaxsched.linear(1.0, 0.0, 10), b):
        with pytest.raises(TypeError, match="sequence of strings"):
            plot(obj, 10, labels="ab")


def test_plot_bad_input(plt: Any) -> None:
    with pytest.raises(TypeError, match="plot expects a schedule"):
        plot("cosine")
    with pytest.raises(ValueError, match="steps must be >= 1"):
        plot(jaxsched.constant(1.0), 0)
    with pytest.raises(ValueError, match="steps must be an int or a non-empty 1-D"):
        plot(jaxsched.constant(1.0), [[1, 2]])


def test_plot_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'jaxsched\[plot\]'"):
        plot(jaxsched.constant(1.0))


def test_plot_many_phases_stays_readable(plt: Any) -> None:
    s = jaxsched.sgdr(1.0, period=10)
    ax = plot(s, 500)  # 50 cycles: boundaries marked, no crowd of labels
    assert len(ax.texts) == 0
    assert math.isclose(ax.get_xlim()[1], 500)
