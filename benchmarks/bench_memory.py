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
    return Section(NAME, TITLE, lines, checks)
