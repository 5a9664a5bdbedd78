"""Benchmark 3: ``repeat`` cost vs the number of cycles over the same steps.

``jaxsched.repeat(cosine(1, 0, P), period=P, decay=0.9)`` over S steps with
P = S, S/10 and S/1000 (1, 10 and 1000 cycles), equal periods (``period_mult``
left at ``None``). The cycle index is a closed form, so the cost should not
depend on the number of cycles. For scale: the same 1000 cycles with
``period_mult=1.0`` (a sweepable leaf: the general closed form), the
plain cosine (no restarts), a hand-fused restart (``t mod P``, the same decay
per cycle), SGDR with period doubling (``period_mult=2``) and a join of six
such SGDR pieces. Above 2**17 steps the restarts are located in exact integer
arithmetic (``repeat``'s exact path), which these S take.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from _harness import Check, Config, Section, fmt_med, interleaved, median, status_cell, table

import jaxsched

NAME = "repeat"
TITLE = "repeat: cost vs number of cycles"

CYCLES = (1, 10, 1000)


def run(cfg: Config) -> Section:
    S = cfg.pick(1_000_000, 200_000)
    reps = cfg.repeats
    steps = jnp.arange(S)
    thunks: dict[str, Callable[[], Any]] = {}
    label: dict[str, str] = {}
    errs: dict[str, float] = {}

    def add(key: str, text: str, sched: Any) -> None:
        f = jax.jit(lambda s: s(steps))
        thunks[key] = lambda: f(sched)
        label[key] = text

    for c in CYCLES:
        P = S // c
        rep = jaxsched.repeat(jaxsched.cosine(1.0, 0.0, P), P, decay=0.9)
        add(f"repeat-{c}", f"repeat, {c} cycle(s) of {P:,}", rep)
    # Equal periods are structure (period_mult=None, the default: one division per step); a leaf of 1
    # (sweepable) runs the closed form's log1p and expm1, and the exact path's table of integer growth.
    P = S // max(CYCLES)
    leaf = jaxsched.repeat(jaxsched.cosine(1.0, 0.0, P), P, 1.0, decay=0.9)
    add("repeat-leaf", f"repeat, {max(CYCLES)} cycle(s), period_mult=1.0 (a leaf, sweepable)", leaf)
    add("cosine", "plain cosine, no restarts", jaxsched.cosine(1.0, 0.0, S))
    add("sgdr", f"sgdr, period {S // 1000:,}, period_mult=2", jaxsched.sgdr(1.0, S // 1000, period_mult=2.0))
    # A join of restarts: a family of 6 repeats selects its members' leaves per step (DESIGN.md, "Join").
    six = [jaxsched.sgdr(1.0 / (i + 1), S // 1000 + i, period_mult=2.0) for i in range(6)]
    add("join-sgdr", "join of 6 sgdr pieces (each as above)", jaxsched.join(six, [S * i // 6 for i in range(1, 6)]))

    t = steps
    for c in CYCLES:
        P = S // c

        def fused(t: jax.Array = t, P: int = P) -> jax.Array:
            i = t // P
            u = (t - i * P).astype(jnp.float32) * np.float32(1.0 / P)
            return 0.5 * (1.0 + jnp.cos(np.float32(np.pi) * u)) * jnp.power(np.float32(0.9), i.astype(jnp.float32))

        ff = jax.jit(fused)
        thunks[f"fused-{c}"] = ff
        label[f"fused-{c}"] = f"hand-fused t mod P, {c} cycle(s)"
        errs[f"repeat-{c}"] = float(jnp.max(jnp.abs(thunks[f"repeat-{c}"]() - ff())))

    times = interleaved(thunks, reps)
    base = median(times["repeat-1"])
    rows, checks = [], []
    for key in thunks:
        m = median(times[key])
        ratio = f"{m / base:.2f}x"
        if key == f"repeat-{max(CYCLES)}":
            c = Check(NAME, f"{max(CYCLES)} cycles / 1 cycle, same steps", m / base, "<=", 1.2)
            checks.append(c)
            ratio += " " + status_cell(c)
        err = f"{errs[key]:.1e}" if key in errs else ""
        rows.append([label[key], f"{m / S * 1e9:.2f}", fmt_med(times[key]), ratio, err])
    lines = [
        f"S = {S:,} steps, medians of {reps} interleaved repeats. Target: 1000 cycles ≤ 1.2x one cycle.",
        "",
    ]
    lines += table(["schedule", "ns/elem", "total", "vs repeat with 1 cycle", "max abs diff vs hand-fused"], rows)
    return Section(NAME, TITLE, lines, checks)
