"""Benchmark 6: peak memory of a large grid evaluation vs the output's size.

XLA's own accounting of the compiled program
(``jax.jit(f).lower(...).compile().memory_analysis()``) for
``jit(vmap(lambda s: s(steps)))(grid.schedules)`` at G = 1024 settings and
S = 100,000 steps: the peak is bounded by temporaries + output (+ arguments,
which here are the step vector and the grid's hyperparameters). The target is
(temp + output) / output <= 1.5: no (G, S) intermediate is materialised
besides the result. Nothing is executed, so this benchmark is cheap.
The hand-fused formulas of benchmark 1 are shown for reference.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from _harness import Check, Config, Section, status_cell, table
from bench_grid import SCHEDULES, _fused, _grid, _second_name

import jaxsched

NAME = "memory"
TITLE = "Peak memory of a large grid evaluation"


def _mib(x: float) -> str:
    return f"{x / 2**20:,.1f}"


def _analysis(compiled: Any) -> tuple[int, int, int]:
    m = compiled.memory_analysis()
    return int(m.temp_size_in_bytes), int(m.output_size_in_bytes), int(m.argument_size_in_bytes)


def run(cfg: Config) -> Section:
    G, S = 1024, 100_000
    steps = jnp.arange(S)
    rows, checks = [], []
    for kind in SCHEDULES:
        g = _grid(kind, G, S)
        out_bytes = G * S * 4
        f = jax.jit(lambda sch: jax.vmap(lambda s: s(steps))(sch))
        t, o, a = _analysis(f.lower(g.schedules).compile())
        ratio = (t + o) / out_bytes
        chk = Check(NAME, f"{kind}, G={G}, S={S:,}: (temp + output) / output bytes", ratio, "<=", 1.5)
        checks.append(chk)
        ref = "(skipped in --quick)"
        if not cfg.quick:
            P = jnp.asarray(np.asarray(g.settings["peak_value"], np.float32))
            X = jnp.asarray(np.asarray(g.settings[_second_name(kind)], np.float32))
            ft, fo, _ = _analysis(_fused(kind, S, steps, "lib").lower(P, X).compile())
            ref = f"{(ft + fo) / out_bytes:.3f}x"
        rows.append([kind, _mib(out_bytes), _mib(o), _mib(t), _mib(a), f"{ratio:.3f}x {status_cell(chk)}", ref])
    lines = [
        f"G = {G} settings x S = {S:,} steps, float32 output. Sizes in MiB from XLA's memory analysis of the "
        "compiled program. Target: (temp + output) / output ≤ 1.5.",
        "",
    ]
    lines += table(["schedule", "output (G x S x 4 B)", "XLA output", "XLA temp", "XLA arguments",
                    "jaxsched (temp + out) / out", "hand-fused (temp + out) / out"], rows)
    lines += ["", "Other schedules (informational; per-step table lookups, see jaxsched/DESIGN.md):", ""]
    other = []
    for label, batch in _others(G).items():
        t, o, _ = _analysis(jax.jit(lambda sch: jax.vmap(lambda s: s(steps))(sch)).lower(batch).compile())
        other.append([label, _mib(o), _mib(t), f"{(t + o) / (G * S * 4):.3f}x"])
    lines += table(["schedule", "XLA output", "XLA temp", "(temp + out) / out"], other)
    return Section(NAME, TITLE, lines, checks)


def _others(G: int) -> dict[str, Any]:
    """Batches of G settings of schedules outside the issue's three (each setting its own peak)."""
    peaks = np.linspace(1e-4, 1e-3, G)
    stack = lambda make: jax.tree.map(lambda *x: jnp.stack(x), *[make(float(p)) for p in peaks])  # noqa: E731
    cos = lambda p: jaxsched.cosine(p, 0.0, 700)  # noqa: E731
    lin = lambda p: jaxsched.linear(p, 0.0, 700)  # noqa: E731
    return {
        "cyclic (triangular2)": jaxsched.grid(jaxsched.cyclic, base_value=0.0, max_value=list(peaks),
                                              step_size_up=2000, mode="triangular2").schedules,
        "piecewise_linear, 4 knots": stack(lambda p: jaxsched.piecewise_linear([0.0, p, p / 2, 0.0],
                                                                               [0, 1_000, 50_000, 90_000])),
        "piecewise_linear, 12 knots": stack(lambda p: jaxsched.piecewise_linear(list(np.linspace(p, 0.0, 12)),
                                                                                list(range(0, 96_000, 8_000)))),
        "join, 16 cosines": stack(lambda p: jaxsched.join([cos(p)] * 16, list(range(700, 11_200, 700)))),
        "join, 16 pieces (cosine, linear alternating)": stack(
            lambda p: jaxsched.join([cos(p), lin(p)] * 8, list(range(700, 11_200, 700)))),
        "join, 128 cosines (count stored once: _own_loop)": stack(
            lambda p: jaxsched.join([cos(p)] * 128, list(range(700, 89_600, 700)))),
    }
