"""The switch between equivalent forms (``_switch.uniform_switch``) and its use for growth leaves.

A float32 growth leaf of ``repeat`` takes the values of equal periods at exactly 1 and of period
doubling at exactly 2; ``_base.eval_time`` runs the schedule in the form its growths share, and under
``vmap`` a batch whose members agree runs that form alone. Which form runs must change no number and
no derivative, only the time; these tests hold the forms to the general one, bit for bit, and check
that the switch really picks the cheap form (with a form made to differ on purpose).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import TraceCounter

import jaxsched as js
from jaxsched import _base
from jaxsched._repeat import Repeat
from jaxsched._switch import uniform_switch

# ----------------------------------------------------------------------------- the mechanism

# Branches that break the contract on purpose (different values and slopes), to see which one ran.
_SPY = (lambda ops: 10.0 + 0.0 * ops[0], lambda ops: 20.0 + 0.0 * ops[0], lambda ops: 3.0 * ops[0])


def _spy(key: Any, x: jax.Array, min_size: int = 4) -> jax.Array:
    return uniform_switch(jnp.asarray(key, jnp.int32), _SPY, (x,), size=x.size, min_size=min_size)


def test_uniform_switch_plain_call_runs_the_keys_branch() -> None:
    x = jnp.ones(8)
    assert [float(_spy(k, x)[0]) for k in (0, 1, 2)] == [10.0, 20.0, 3.0]
    assert [float(jax.jit(_spy)(k, x)[0]) for k in (0, 1, 2)] == [10.0, 20.0, 3.0]


def test_uniform_switch_under_vmap_runs_one_branch_where_the_batch_agrees() -> None:
    xs = jnp.ones((3, 8))
    agree = jax.vmap(_spy)(jnp.array([1, 1, 1]), xs)
    np.testing.assert_array_equal(agree[:, 0], [20.0, 20.0, 20.0])
    differ = jax.vmap(_spy)(jnp.array([1, 0, 1]), xs)  # the general form (the last) for every member
    np.testing.assert_array_equal(differ[:, 0], [3.0, 3.0, 3.0])
    shared = jax.vmap(_spy, in_axes=(None, 0))(0, xs)  # an unbatched key: its branch
    np.testing.assert_array_equal(shared[:, 0], [10.0, 10.0, 10.0])
    # A grid of grids: each level reduces its own axis (rows agree inside, not with each other).
    nested = jax.jit(jax.vmap(jax.vmap(_spy)))
    np.testing.assert_array_equal(nested(jnp.array([[1, 1], [1, 1]]), jnp.ones((2, 2, 8)))[..., 0], 20.0)
    np.testing.assert_array_equal(nested(jnp.array([[1, 1], [0, 0]]), jnp.ones((2, 2, 8)))[..., 0], 3.0)


def test_uniform_switch_below_min_size_runs_the_general_form() -> None:
    assert float(_spy(1, jnp.ones(2))[0]) == 3.0  # 2 elements < 4
    # Under vmap the members count: 2 members of 2 elements reach 4.
    np.testing.assert_array_equal(jax.vmap(_spy)(jnp.array([1, 1]), jnp.ones((2, 2)))[:, 0], 20.0)
    small = jax.vmap(lambda k, x: _spy(k, x, min_size=5))(jnp.array([1, 1]), jnp.ones((2, 2)))
    np.testing.assert_array_equal(small[:, 0], 3.0)


def test_uniform_switch_derivatives_are_the_general_forms() -> None:
    # Whatever branch runs for the value, forward and reverse mode give the last branch's slope (3).
    x = jnp.ones(8)
    for k in (0, 1, 2):
        np.testing.assert_array_equal(jax.grad(lambda x: _spy(k, x).sum())(x), 3.0)
        np.testing.assert_array_equal(jax.jvp(lambda x: _spy(k, x), (x,), (jnp.ones(8),))[1], 3.0)
    g = jax.vmap(jax.grad(lambda x, k: _spy(k, x).sum()))(jnp.ones((2, 8)), jnp.array([1, 1]))
    np.testing.assert_array_equal(g, 3.0)


# ----------------------------------------------------------------------------- growth leaves


@pytest.fixture
def switch_from(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set the size from which eval_time switches (tests use small arrays: 1 = always, huge = never).

    The size is read when a program is traced: the caches of earlier traces are dropped.
    """
    def set_size(n: int) -> None:
        monkeypatch.setattr(_base, "_SWITCH_MIN_SIZE", n)
        jax.clear_caches()

    yield set_size
    jax.clear_caches()


def _steps(period: float) -> jax.Array:
    # Restarts near the start, far out (float path), and for integer periods beyond 2**17 / 2**23 (the
    # exact paths). Periods that are not integers stop below 2**22: from about 2**23 on, float32 snaps
    # every restart point of equal periods to an integer (the tolerance eps R / 2 reaches 1/2), and the
    # values of both forms are wrong there, each in its own way (a known limit, see the closing notes).
    k = [np.arange(0, 3000), np.arange(250_000, 252_000), 2**22 - np.arange(1, 600)]
    if period == round(period):
        k += [2**23 + np.arange(-300, 300), 2**24 + np.arange(-300, 300), np.asarray([2**31 - 1])]
    return jnp.asarray(np.concatenate(k), jnp.int32)


_PERIODS = {"integer": [1.0, 7.0, 10.0, 4097.0], "fraction": [7.3, 0.7, 1000.7]}


def _family(kind: str, period: float, growth: float) -> js.Schedule:
    if kind == "sgdr":
        return js.sgdr(1.0, period, growth)
    return js.repeat(js.linear(1.0, 0.1, period), period, growth, decay=0.7, cycles=9.0)


def _with_growth(s: js.Schedule, growth: float) -> js.Schedule:
    """``s`` with its Repeat's growth leaf set to ``growth`` (sgdr is a warmup of one)."""
    if isinstance(s, Repeat):
        return dataclasses.replace(s, period_mult=jnp.float32(growth))
    return dataclasses.replace(s, schedule=dataclasses.replace(s.schedule, period_mult=jnp.float32(growth)))


@pytest.mark.parametrize("kind", ["sgdr", "repeat"])
@pytest.mark.parametrize("growth", [1.0, 2.0])
def test_growth_leaf_forms_give_the_general_forms_values(kind: str, growth: float, switch_from: Any) -> None:
    # A batch that agrees on a growth of 1 or 2 runs equal periods or doubling alone; the same settings
    # beside a growth of 1.5 run the general form: the same bits. So does a plain call, switched or not.
    switch_from(1)
    f = jax.jit(js.evaluate)
    for periods in _PERIODS.values():
        k = _steps(periods[0])
        ss = [_family(kind, p, growth) for p in periods]
        agree = np.asarray(f(js.stack(ss), k))
        mixed = np.asarray(f(js.stack([*ss, _with_growth(ss[0], 1.5)]), k))
        np.testing.assert_array_equal(agree, mixed[:-1], err_msg=f"{periods}")
        np.testing.assert_array_equal(np.asarray(js.evaluate(js.stack(ss[:1]), k))[0], agree[0])
        switch_from(2**62)
        np.testing.assert_array_equal(np.asarray(ss[-1](k)), agree[-1])
        switch_from(1)


def test_growth_leaf_switch_runs_the_form_of_the_batchs_growth(switch_from: Any, monkeypatch: Any) -> None:
    # With doubling's form made to differ on purpose, a grid at growth 2 shows it ran; at 1.5 or mixed
    # it does not, nor below the switch's size.
    k = jnp.arange(64)
    real = Repeat._growth_form
    monkeypatch.setattr(Repeat, "_growth_form",
                        lambda self, g: real(self, g) if g == 1 else js.constant(-1.0) * real(self, g))
    grid = js.grid(js.sgdr, peak_value=[1.0, 2.0], period=[10, 20], period_mult=2.0)
    mixed = js.grid(js.sgdr, peak_value=[1.0, 2.0], period=[10, 20], period_mult=[2.0, 1.5])
    switch_from(1)
    assert (np.asarray(js.evaluate(grid, k)) < 0).all()
    assert (np.asarray(js.evaluate(mixed, k)) > 0).all()
    assert (np.asarray(js.sgdr(1.0, 10, 2.0)(k)) < 0).all()
    switch_from(10**6)
    assert (np.asarray(js.evaluate(grid, k)) > 0).all()


def test_growth_leaf_gradients_do_not_depend_on_the_form(switch_from: Any) -> None:
    # The derivatives are the general form's wherever the value comes from: period, growth and decay
    # of a growth-2 grid against the same member in a mixed grid, and plain against forced general.
    t = jnp.asarray(np.arange(0.0, 400.0, 0.37), jnp.float32)
    switch_from(1)

    def loss(b: js.Schedule) -> jax.Array:
        return (js.evaluate(b, t) * jnp.arange(1.0, 3.0)[:, None]).sum()

    s = js.repeat(js.cosine(1.0, 0.0, 7.3), 7.3, 2.0, decay=0.8)
    agree, mixed = js.stack([s, s]), js.stack([s, dataclasses.replace(s, period_mult=jnp.float32(1.5))])
    ga, gm = jax.grad(loss)(agree), jax.grad(loss)(mixed)
    for name in ("period", "period_mult", "decay"):
        np.testing.assert_allclose(getattr(ga, name)[0], getattr(gm, name)[0], rtol=1e-6, err_msg=name)
        assert getattr(ga, name)[0] != 0.0
    forced = {}
    for n in (1, 2**62):
        switch_from(n)
        forced[n] = jax.grad(lambda s: s(t).sum())(s)
    for name in ("period", "period_mult", "decay"):
        np.testing.assert_array_equal(getattr(forced[1], name), getattr(forced[2**62], name), err_msg=name)


def test_growth_leaf_switch_is_one_compile(switch_from: Any) -> None:
    # The form is picked at run time: growths 2, 1, 1.5 and a mix share one trace.
    switch_from(1)
    f = TraceCounter(lambda b: js.evaluate(b, jnp.arange(100)))
    outs = [f(js.stack([js.sgdr(1.0, p, g) for p, g in zip((10, 20, 30), gs)]))
            for gs in ((2.0,) * 3, (1.0,) * 3, (1.5,) * 3, (2.0, 1.0, 2.0))]
    assert f.count == 1
    assert all(np.isfinite(np.asarray(o)).all() for o in outs)


def test_growth_leaf_switch_exports_with_symbolic_shapes() -> None:
    # jax.export's shape polymorphism: the switch's size cannot be compared with its threshold (2**24)
    # when a dimension is symbolic, so such programs keep the general form (they exported before the
    # switch, which raised InconclusiveDimensionOperation on them).
    from jax import export

    (n,) = export.symbolic_shape("n")
    s = js.sgdr(1.0, 10, 2.0)
    exp = export.export(jax.jit(lambda s, k: s(k)))(s, jax.ShapeDtypeStruct((n,), jnp.int32))
    k = jnp.arange(40)
    np.testing.assert_array_equal(exp.call(s, k), s(k))
    g = js.stack([s, js.sgdr(2.0, 20, 2.0)])
    (b,) = export.symbolic_shape("b")
    batched = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct((b, *x.shape[1:]), x.dtype), g)
    grid = jax.jit(lambda g, k: jax.vmap(lambda s: s(k))(g))
    exp = export.export(grid)(batched, jax.ShapeDtypeStruct((40,), jnp.int32))
    np.testing.assert_array_equal(exp.call(g, k), grid(g, k))


def test_an_empty_batch_evaluates() -> None:
    # vmap over no settings: the switch reads no member's key, and the warmup's bound over the batch
    # (_base._batch_max) is -inf, no member (it raised "zero-size array to reduction operation max").
    for s in (js.sgdr(1.0, 10, 2.0), js.warmup_cosine(1.0, 100, 10)):
        empty = jax.tree_util.tree_map(lambda x: x[:0], js.stack([s]))
        assert jax.vmap(lambda s: s(jnp.arange(7)))(empty).shape == (0, 7)
    x = jnp.ones((0, 8))
    assert jax.vmap(_spy)(jnp.zeros((0,), jnp.int32), x).shape == (0, 8)
