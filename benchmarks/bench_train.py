"""Benchmark 4: the overhead of a schedule inside an Adam train step.

A jitted ``lax.scan`` runs K Adam steps of an MLP on one fixed batch of 128;
the time per step with ``optax.adam(schedule)`` (a jaxsched warmup-cosine
passed as an *argument* of the jitted function, as a sweep would) is compared
with ``optax.adam(1e-3)`` (a constant float rate). The loop is inside one
compiled program, so Python dispatch does not dilute the overhead (a stricter
test than one jitted call per step).

Two models: a 3x256 MLP (256 -> 256 -> 256 -> 256 -> 10) and a tiny MLP
(16 -> 32 -> 1). The constant-rate program is timed twice (A/A): the gap
between its two copies is the noise floor of this run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from _harness import Check, Config, Section, fmt_med, fmt_time, interleaved, median, status_cell, table

import jaxsched

NAME = "train"
TITLE = "Schedule overhead inside an Adam train step"

BATCH = 128


def _init(key: jax.Array, sizes: tuple[int, ...]) -> list[tuple[jax.Array, jax.Array]]:
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        key, k = jax.random.split(key)
        params.append((jax.random.normal(k, (a, b), jnp.float32) / jnp.sqrt(float(a)), jnp.zeros((b,), jnp.float32)))
    return params


def _loss(params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
    h = x
    for w, b in params[:-1]:
        h = jax.nn.relu(h @ w + b)
    w, b = params[-1]
    return jnp.mean((h @ w + b - y) ** 2)


def _trainer(K: int, with_schedule: bool) -> Callable[..., Any]:
    def train(params: Any, lr: Any, x: jax.Array, y: jax.Array) -> Any:
        tx = optax.adam(lr if with_schedule else 1e-3)
        state = tx.init(params)

        def step(carry: Any, _: Any) -> tuple[Any, jax.Array]:
            p, s = carry
            loss, g = jax.value_and_grad(_loss)(p, x, y)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), loss

        (params, _), losses = jax.lax.scan(step, (params, state), None, length=K)
        return params, losses[-1]

    return jax.jit(train)


def run(cfg: Config) -> Section:
    reps = cfg.pick(11, 7) if cfg.repeats <= 7 else cfg.repeats
    models = {
        "3x256 MLP": ((256, 256, 256, 256, 10), cfg.pick(200, 40), 2.0),
        "tiny MLP": ((16, 32, 1), cfg.pick(5000, 1000), 10.0),
    }
    sched = jaxsched.warmup_cosine(1e-3, total_steps=10_000, warmup_steps=100)
    rows, checks = [], []
    for name, (sizes, K, limit) in models.items():
        key = jax.random.PRNGKey(0)
        params = _init(key, sizes)
        x = jax.random.normal(jax.random.PRNGKey(1), (BATCH, sizes[0]), jnp.float32)
        y = jax.random.normal(jax.random.PRNGKey(2), (BATCH, sizes[-1]), jnp.float32)
        f_const = _trainer(K, False)
        f_const2 = _trainer(K, False)
        f_sched = _trainer(K, True)
        times = interleaved(
            {
                "const": lambda: f_const(params, sched, x, y),
                "sched": lambda: f_sched(params, sched, x, y),
                "const2": lambda: f_const2(params, sched, x, y),
            },
            reps,
        )
        c, s = median(times["const"]), median(times["sched"])
        # Paired per-round ratios (the three programs ran back to back in each round): drift cancels.
        over = 100.0 * (median([b / a for a, b in zip(times["const"], times["sched"])]) - 1.0)
        noise = 100.0 * abs(median([b / a for a, b in zip(times["const"], times["const2"])]) - 1.0)
        chk = Check(NAME, f"{name}: schedule vs constant rate, time per step", over, "<=", limit, unit="%",
                    note=f"A/A noise {noise:.1f}%")
        checks.append(chk)
        rows.append([
            name, K, fmt_time(c / K), fmt_time(s / K), f"{over:+.1f}% {status_cell(chk)}", f"{noise:.1f}%",
            fmt_med(times["const"]), fmt_med(times["sched"]),
        ])
    lines = [
        f"K Adam steps inside one jitted `lax.scan`, batch {BATCH}, medians of {reps} interleaved repeats. "
        "Overhead = median over rounds of (schedule time / constant time) - 1, each round timing the programs back "
        "to back. Targets: overhead < 2% (3x256 MLP) and < 10% (tiny MLP). The A/A column is the same statistic "
        "for two identical constant-rate programs: overheads below it are noise.",
        "",
    ]
    lines += table(["model", "K", "constant: per step", "schedule: per step", "overhead", "A/A noise",
                    "constant: total", "schedule: total"], rows)
    return Section(NAME, TITLE, lines, checks)
