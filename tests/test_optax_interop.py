"""A jaxsched schedule is an optax schedule: it is a callable of the step count.

Checked against optax itself (the peer): optimizers driven by
``jaxsched.constant(lr)`` and by the float ``lr`` reach the same parameters;
``jaxsched.warmup_cosine`` equals ``optax.warmup_cosine_decay_schedule`` at
every step; ``optax.inject_hyperparams`` reports the scheduled rate; a
schedule passed as an argument into a jitted train step does not retrace.

optax is not promised to be clean under strict dtype promotion, so this module
opts back into standard promotion (the rest of the suite stays strict).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched
from tests.helpers import TraceCounter, assert_close_to_peak


@pytest.fixture(autouse=True)
def _standard_promotion() -> Iterator[None]:
    with jax.numpy_dtype_promotion("standard"):
        yield


def _problem() -> tuple[dict[str, jax.Array], Callable[[dict[str, jax.Array]], jax.Array]]:
    key = jax.random.key(0)
    k1, k2, k3 = jax.random.split(key, 3)
    x = jax.random.normal(k1, (16, 4))
    y = jax.random.normal(k2, (16,))
    params = {"w": jax.random.normal(k3, (4,)), "b": jnp.zeros(())}

    def loss(p: dict[str, jax.Array]) -> jax.Array:
        return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)

    return params, loss


def _run(tx: optax.GradientTransformation, steps: int = 5) -> dict[str, jax.Array]:
    params, loss = _problem()
    state = tx.init(params)
    for _ in range(steps):
        g = jax.grad(loss)(params)
        updates, state = tx.update(g, state, params)
        params = optax.apply_updates(params, updates)
    return params


OPTIMIZERS: dict[str, Callable[[Any], optax.GradientTransformation]] = {
    "sgd": lambda lr: optax.sgd(lr, momentum=0.9),
    "adam": lambda lr: optax.adam(lr),
    "adamw": lambda lr: optax.adamw(lr, weight_decay=1e-2),
    "lion": lambda lr: optax.lion(lr),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_constant_schedule_equals_float_lr(name: str) -> None:
    lr = 0.05
    a = _run(OPTIMIZERS[name](lr))
    b = _run(OPTIMIZERS[name](jaxsched.constant(lr)))
    initial, _ = _problem()
    for k in a:
        np.testing.assert_array_equal(np.asarray(b[k]), np.asarray(a[k]))  # identical, bit for bit
        assert not np.allclose(np.asarray(a[k]), np.asarray(initial[k]))  # the optimizer did move


def test_scheduled_sgd_matches_hand_written_updates() -> None:
    """Plain SGD with a schedule: update k uses schedule(k) (optax's count starts at 0)."""
    sched = jaxsched.warmup_cosine(0.1, total_steps=6, warmup_steps=2, init_value=0.01)
    params, loss = _problem()
    got = _run(optax.sgd(sched), steps=6)
    p = params
    for k in range(6):
        g = jax.grad(loss)(p)
        p = jax.tree_util.tree_map(lambda x, d: x - sched(k) * d, p, g)
    for key in p:
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(p[key]), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "init, peak, warmup, total, end, exponent",
    [(0.0, 1e-3, 100, 1000, 0.0, 1.0), (1e-5, 3e-4, 0, 500, 1e-5, 1.0), (0.1, 1.0, 37, 251, 0.05, 2.0),
     (0.0, 2.0, 1, 2, 0.5, 1.0)],
)
def test_warmup_cosine_matches_optax(init: float, peak: float, warmup: int, total: int, end: float,
                                     exponent: float) -> None:
    ours = jaxsched.warmup_cosine(peak, total, warmup, init, end, exponent=None if exponent == 1.0 else exponent)
    theirs = optax.warmup_cosine_decay_schedule(init, peak, warmup, total, end, exponent)
    t = np.arange(1056)  # every step of every case's run and past its end (one shape for all cases)
    assert total + 50 <= len(t)
    expect = np.asarray(theirs(jnp.asarray(t, jnp.int32)))
    assert_close_to_peak(ours(t), expect, peak, rtol=2e-6)


def test_inject_hyperparams_reports_scheduled_lr() -> None:
    sched = jaxsched.warmup_cosine(1e-2, total_steps=8, warmup_steps=3, init_value=1e-3, end_value=1e-4)
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=sched)
    params, loss = _problem()
    state = tx.init(params)
    seen = []
    for _ in range(10):
        seen.append(float(state.hyperparams["learning_rate"]))
        updates, state = tx.update(jax.grad(loss)(params), state, params)
        params = optax.apply_updates(params, updates)
    # before update k the injected rate is schedule(k) (inject_hyperparams evaluates at its count)
    expect = [float(sched(k)) for k in range(10)]
    np.testing.assert_allclose(seen[0], expect[0], rtol=1e-6)  # init reports schedule(0)
    np.testing.assert_allclose(seen[1:], expect[: len(seen) - 1], rtol=1e-6)
    # and the adam step really used it: compare with adam driven by the schedule directly
    direct = _run(optax.adam(sched), steps=10)
    for k in params:  # equal up to float32 rounding order (adam normalises tiny gradients)
        np.testing.assert_allclose(np.asarray(params[k]), np.asarray(direct[k]), rtol=1e-5, atol=1e-6)


def test_schedule_as_argument_of_jitted_train_step() -> None:
    params0, loss = _problem()

    def train(schedule: jaxsched.Schedule, params: dict[str, jax.Array]) -> dict[str, jax.Array]:
        tx = optax.adamw(schedule, weight_decay=1e-2)

        def step(carry: Any, _: Any) -> tuple[Any, None]:
            p, s = carry
            u, s = tx.update(jax.grad(loss)(p), s, p)
            return (optax.apply_updates(p, u), s), None

        (p, _), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=12)
        return p

    counter = TraceCounter(train)
    settings = [(1e-2, 0), (3e-2, 4), (1e-3, 11)]
    results = [counter(jaxsched.warmup_cosine(p, 12, w), params0) for p, w in settings]
    assert counter.count == 1  # one trace for every setting: the schedule is data
    # equal to the same training with the schedule closed over (un-jitted optax loop)
    for (p, w), got in zip(settings, results):
        ref = _run(optax.adamw(jaxsched.warmup_cosine(p, 12, w), weight_decay=1e-2), steps=12)
        for k in got:
            np.testing.assert_allclose(np.asarray(got[k]), np.asarray(ref[k]), rtol=2e-5, atol=1e-6)
    # and a vmap over a grid of settings runs them all in one program
    g = jaxsched.grid(jaxsched.warmup_cosine, peak_value=[p for p, _ in settings], total_steps=12, warmup_steps=0)
    batched = jax.jit(jax.vmap(train, in_axes=(0, None)))(g.schedules, params0)
    solo = counter(jaxsched.warmup_cosine(settings[1][0], 12, 0), params0)
    for k in solo:
        np.testing.assert_allclose(np.asarray(batched[k][1]), np.asarray(solo[k]), rtol=1e-5, atol=1e-6)
