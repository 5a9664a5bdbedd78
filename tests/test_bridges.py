"""Bridges: a jaxsched schedule drives a PyTorch and a Keras run with the same rates.

torch and Keras tests skip where those libraries are absent. Keras runs on its
JAX backend (``KERAS_BACKEND=jax`` unless already chosen).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

from typing import Any  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import jaxsched  # noqa: E402
from jaxsched._config import from_json, to_json  # noqa: E402
from jaxsched.bridges import RateTable, keras_schedule, torch_scheduler  # noqa: E402

N = 600


def schedules() -> dict[str, Any]:
    J = jaxsched
    return {
        "warmup_cosine": J.warmup_cosine(3e-3, total_steps=N, warmup_steps=60, end_value=1e-5),
        "wsd": J.wsd(1e-3, total_steps=N, warmup_steps=50, decay_shape="1-sqrt"),
        "sgdr": J.sgdr(0.1, period=50, period_mult=2.0, decay=0.7),
        "onecycle": J.onecycle(0.1, total_steps=N, three_phase=True),
    }


@jax.jit
def reference(s: Any) -> jax.Array:
    """The rates of steps 0..N-1, evaluated by jaxsched in one compiled call."""
    return s(jnp.arange(N, dtype=jnp.int32))


def rates(s: Any) -> np.ndarray:
    return np.asarray(reference(s), np.float64)


# ----------------------------------------------------------------------------- the rate table


def test_rate_table_is_the_schedule() -> None:
    s = schedules()["sgdr"]
    t = RateTable(s, block=128)
    got = np.asarray([t(k) for k in range(N)])
    np.testing.assert_array_equal(got, rates(s))
    assert t(-5) == t(0)
    assert t(2**40) == float(s(2**31 - 1))
    assert len(t._blocks) <= 64
    with pytest.raises(TypeError, match="step must be an int"):
        t(1.5)
    with pytest.raises(TypeError, match="jaxsched schedule"):
        RateTable(lambda k: 0.1)  # type: ignore[arg-type]
    batched = jaxsched.stack([jaxsched.constant(1.0), jaxsched.constant(2.0)])
    with pytest.raises(ValueError, match="unbatched"):
        RateTable(batched)


# ----------------------------------------------------------------------------- torch


def _torch_run(torch: Any, sched_fn: Any, steps: int, lr: float = 123.0) -> tuple[np.ndarray, np.ndarray]:
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr)
    sch = sched_fn(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.ones(3, dtype=torch.float64)
        opt.step()
        sch.step()
    return np.asarray(lrs), p.detach().numpy().copy()


@pytest.mark.parametrize("name", sorted(schedules()))
def test_torch_full_run_matches(name: str) -> None:
    torch = pytest.importorskip("torch")
    s = schedules()[name]
    want = rates(s)
    # The same config drives the torch run.
    s2 = from_json(to_json(s))
    lrs, p = _torch_run(torch, lambda opt: torch_scheduler(s2, opt), N)
    np.testing.assert_array_equal(lrs, want)
    np.testing.assert_allclose(p, -np.cumsum(want)[-1] * np.ones(3), rtol=1e-12)
    assert isinstance(
        torch_scheduler(s, torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)),
        torch.optim.lr_scheduler.LambdaLR,
    )


def test_torch_matches_an_optax_run() -> None:
    torch = pytest.importorskip("torch")
    optax = pytest.importorskip("optax")
    s = schedules()["warmup_cosine"]
    _, p_torch = _torch_run(torch, lambda opt: torch_scheduler(s, opt), N)
    tx = optax.sgd(s)

    @jax.jit
    def train(params: jax.Array) -> jax.Array:
        def body(carry: Any, _: Any) -> Any:
            params, state = carry
            updates, state = tx.update(jnp.ones_like(params), state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(body, (params, tx.init(params)), None, length=N)
        return params

    with jax.numpy_dtype_promotion("standard"):  # optax's own arithmetic
        p_optax = np.asarray(train(jnp.zeros(3, jnp.float32)), np.float64)
    np.testing.assert_allclose(p_torch, p_optax, rtol=1e-5)


def test_torch_relative_mode_and_groups() -> None:
    torch = pytest.importorskip("torch")
    s = jaxsched.linear(1.0, 0.0, 10)
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.5}, {"params": [b], "lr": 2.0}], lr=1.0)
    sch = torch_scheduler(s, opt, relative=True)
    got = []
    for _ in range(12):
        got.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sch.step()
    r = np.asarray(jax.jit(lambda s: s(jnp.arange(12)))(s), np.float64)
    want = np.stack([0.5 * r, 2.0 * r], axis=1)
    np.testing.assert_array_equal(np.asarray(got), want)
    with pytest.raises(TypeError, match="relative must be a bool"):
        torch_scheduler(s, opt, relative=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="jaxsched schedule"):
        torch_scheduler(lambda k: 1.0, opt)  # type: ignore[arg-type]


def test_torch_resume_from_state_dict() -> None:
    torch = pytest.importorskip("torch")
    s = schedules()["sgdr"]
    want = rates(s)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sch = torch_scheduler(s, opt)
    for _ in range(200):
        opt.step()
        sch.step()
    state = sch.state_dict()
    assert "rates" not in state and all(x is None for x in state["lr_lambdas"])
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sch2 = torch_scheduler(s, opt2)
    sch2.load_state_dict(state)
    got = []
    for _ in range(100):
        got.append(sch2.get_lr()[0])
        opt2.step()
        sch2.step()
    np.testing.assert_array_equal(np.asarray(got), want[200:300])


# ----------------------------------------------------------------------------- keras


@pytest.fixture(scope="module")
def keras() -> Any:
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("these tests run Keras on its JAX backend")
    return keras


def test_keras_eager_run(keras: Any) -> None:
    s = schedules()["warmup_cosine"]
    ks = keras_schedule(from_json(to_json(s)))
    opt = keras.optimizers.SGD(learning_rate=ks)
    v = keras.Variable(np.zeros(3, np.float32))
    got = []
    for _ in range(40):
        got.append(float(opt.learning_rate))
        opt.apply([keras.ops.ones((3,))], [v])
    want = rates(s)[:40]
    np.testing.assert_allclose(got, want, rtol=0, atol=2 * 2**-23 * want.max())  # float32: an ulp of the peak
    np.testing.assert_allclose(np.asarray(v.value), -np.sum(want) * np.ones(3), rtol=1e-5)


def test_keras_compiled_full_run(keras: Any) -> None:
    for name in ("wsd", "sgdr"):
        s = schedules()[name]
        ks = keras_schedule(s)
        opt = keras.optimizers.SGD(learning_rate=ks)
        v = keras.Variable(np.zeros(3, np.float32))
        opt.build([v])

        @jax.jit
        def train(tv: Any, ov: Any, ks: Any = ks, opt: Any = opt) -> Any:
            def body(carry: Any, _: Any) -> Any:
                tv, ov = carry
                lr = ks(ov[0])  # the rate the optimizer uses at this iteration
                tv, ov = opt.stateless_apply(ov, [jnp.ones(3, jnp.float32)], tv)
                return (tv, ov), lr

            return jax.lax.scan(body, (tv, ov), None, length=N)

        (tv, ov), lrs = train([v.value], [x.value for x in opt.variables])
        want = rates(s)
        # Compiled inside Keras's step, a rate may differ from the batch evaluation by an ulp of the peak.
        np.testing.assert_allclose(np.asarray(lrs, np.float64), want, rtol=0, atol=2 * 2**-23 * want.max())
        assert int(ov[0]) == N
        np.testing.assert_allclose(np.asarray(tv[0]), -np.sum(want) * np.ones(3), rtol=1e-5)


def test_keras_tabulated_schedule_is_exact(keras: Any) -> None:
    s = schedules()["onecycle"]
    ks = keras_schedule(s, total_steps=N - 1)
    got = np.asarray(jax.vmap(ks)(jnp.arange(N + 50)), np.float64)
    want = rates(s)
    np.testing.assert_array_equal(got[:N], want)
    np.testing.assert_array_equal(got[N:], want[-1])  # past the table the last value holds
    with pytest.raises(ValueError, match="total_steps must be an int"):
        keras_schedule(s, total_steps=-1)


def test_keras_serialisation(keras: Any) -> None:
    s = schedules()["sgdr"]
    ks = keras_schedule(s)
    cfg = keras.optimizers.schedules.serialize(ks)
    assert cfg["registered_name"] == "jaxsched>Schedule"
    assert cfg["config"]["schedule"]["format"] == "jaxsched/1"
    back = keras.optimizers.schedules.deserialize(cfg)
    steps = jnp.arange(0, N, 7)
    np.testing.assert_array_equal(np.asarray(jax.vmap(back)(steps)), np.asarray(jax.vmap(ks)(steps)))
    opt = keras.optimizers.Adam(learning_rate=ks)
    opt2 = keras.optimizers.Adam.from_config(opt.get_config())
    assert float(opt2.learning_rate) == float(opt.learning_rate) == float(s(0))
    with pytest.raises(TypeError, match="jaxsched schedule or its config"):
        keras_schedule(0.1)  # type: ignore[arg-type]
