"""Benchmark 5: compiles needed for a sweep of N settings.

A sweep over N (peak_value, warmup_steps) settings of warmup-cosine, written
the way each library is used:

- jaxsched, loop: one jitted function taking the schedule as an argument,
  called once per setting (``f(jaxsched.warmup_cosine(p, N, w))``);
- jaxsched, vmap: the N settings stacked into one batch (``jaxsched.stack``, built before
  counting starts), one jitted call;
- optax: one ``jax.jit`` per setting, because each optax schedule is a new
  closure with its hyperparameters baked in.

Two workloads: evaluating the schedule's curve on 1,000 steps, and a small
train run (20 Adam steps of a 16-32-1 MLP inside ``lax.scan``). Compiles are
counted two ways: traces of the user's function (a Python counter inside it)
and XLA backend compiles (``jax.monitoring`` events
``/jax/core/compile/backend_compile_duration``) during the sweep. The sweep's
wall time includes the compiles.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import Check, Config, Section, fmt_time, status_cell, table

import jaxsched

NAME = "compiles"
TITLE = "Compiles for a sweep of N settings"

BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"
TOTAL = 10_000
CURVE_STEPS = 1_000


class _Counter:
    def __init__(self) -> None:
        self.traces = 0
        self.compiles = 0
        self.compile_s = 0.0

    def listener(self, event: str, duration: float, **kwargs: Any) -> None:
        if event == BACKEND_COMPILE:
            self.compiles += 1
            self.compile_s += duration


def _settings(n: int) -> list[tuple[float, int]]:
    peaks = np.linspace(1e-4, 1e-3, n)
    warm = np.round(np.linspace(0, 1000, n)).astype(int)
    return [(float(p), int(w)) for p, w in zip(peaks, warm)]


def _measure(sweep: Callable[[_Counter], Any]) -> _Counter:
    c = _Counter()
    jax.monitoring.register_event_duration_secs_listener(c.listener)
    try:
        t0 = time.perf_counter()
        jax.block_until_ready(sweep(c))
        c.wall = time.perf_counter() - t0  # type: ignore[attr-defined]
    finally:
        jax.monitoring.unregister_event_duration_listener(c.listener)
    return c


# ----------------------------------------------------------------------------- workloads


def _curve_sweeps(n: int) -> dict[str, Callable[[_Counter], Any]]:
    steps = jnp.arange(CURVE_STEPS)
    sets = _settings(n)

    def js_loop(c: _Counter) -> Any:
        def curve(s: Any) -> Any:
            c.traces += 1
            return s(steps)

        f = jax.jit(curve)
        return [f(jaxsched.warmup_cosine(p, TOTAL, w)) for p, w in sets]

    # The batch is built before counting starts (stacking runs eager ops that compile once per size).
    batch = jaxsched.stack([jaxsched.warmup_cosine(p, TOTAL, w) for p, w in sets])  # a zip of the settings

    def js_vmap(c: _Counter) -> Any:
        def curves(s: Any) -> Any:
            c.traces += 1
            return jax.vmap(lambda x: x(steps))(s)

        return jax.jit(curves)(batch)

    def optax_loop(c: _Counter) -> Any:
        out = []
        for p, w in sets:
            sched = optax.warmup_cosine_decay_schedule(0.0, p, w, TOTAL)

            def curve(k: Any, sched: Any = sched) -> Any:
                c.traces += 1
                return sched(k)

            out.append(jax.jit(curve)(steps))
        return out

    return {"jaxsched loop": js_loop, "jaxsched vmap": js_vmap, "optax loop": optax_loop}


def _train_sweeps(n: int) -> dict[str, Callable[[_Counter], Any]]:
    sets = _settings(n)
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(0), 4)
    params = [
        (jax.random.normal(k1, (16, 32)) / 4.0, jnp.zeros(32)),
        (jax.random.normal(k2, (32, 1)) / 6.0, jnp.zeros(1)),
    ]
    x = jax.random.normal(k3, (128, 16))
    y = jax.random.normal(k4, (128, 1))

    def loss(p: Any) -> Any:
        h = jax.nn.relu(x @ p[0][0] + p[0][1])
        return jnp.mean((h @ p[1][0] + p[1][1] - y) ** 2)

    def run(lr: Any, params: Any) -> Any:
        tx = optax.adam(lr)

        def step(carry: Any, _: Any) -> Any:
            p, s = carry
            value, g = jax.value_and_grad(loss)(p)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), value

        (_, _), ls = jax.lax.scan(step, (params, tx.init(params)), None, length=20)
        return ls[-1]

    def js_loop(c: _Counter) -> Any:
        def train(s: Any, params: Any) -> Any:
            c.traces += 1
            return run(s, params)

        f = jax.jit(train)
        return [f(jaxsched.warmup_cosine(p, TOTAL, w), params) for p, w in sets]

    def optax_loop(c: _Counter) -> Any:
        out = []
        for p, w in sets:
            sched = optax.warmup_cosine_decay_schedule(0.0, p, w, TOTAL)

            def train(params: Any, sched: Any = sched) -> Any:
                c.traces += 1
                return run(sched, params)

            out.append(jax.jit(train)(params))
        return out

    return {"jaxsched loop": js_loop, "optax loop": optax_loop}


def run(cfg: Config) -> Section:
    curve_ns = cfg.pick((1, 10, 100), (1, 10))
    train_ns = cfg.pick((1, 10), (1, 2))
    # Warm the eager caches (schedule construction runs a few eager ops) so they do not count.
    jaxsched.warmup_cosine(1e-3, TOTAL, 10)(jnp.arange(CURVE_STEPS))
    optax.warmup_cosine_decay_schedule(0.0, 1e-3, 10, TOTAL)(jnp.arange(CURVE_STEPS))

    rows, checks = [], []
    for workload, ns, make in (("curve of 1,000 steps", curve_ns, _curve_sweeps),
                               ("20 Adam steps, 16-32-1 MLP", train_ns, _train_sweeps)):
        for n in ns:
            for how, sweep in make(n).items():
                c = _measure(sweep)
                cell = str(c.compiles)
                if how.startswith("jaxsched") and n == max(ns):
                    chk = Check(NAME, f"{workload}, N={n}, {how}: XLA compiles", c.compiles, "<=", 1, unit="compiles")
                    checks.append(chk)
                    cell += " " + status_cell(chk)
                rows.append([workload, n, how, c.traces, cell, fmt_time(c.compile_s), fmt_time(c.wall)])
    lines = [
        "Counts from one sweep each (traces: calls of the Python function being jitted; compiles: XLA backend "
        "compile events while the sweep ran; compile time: their summed duration; wall: the whole sweep). "
        "Target: jaxsched compiles once for any N.",
        "",
    ]
    lines += table(["workload", "N settings", "how", "traces", "XLA compiles", "compile time", "sweep wall time"], rows)
    return Section(NAME, TITLE, lines, checks)
