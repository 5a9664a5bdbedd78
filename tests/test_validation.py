"""Validation: bad concrete inputs raise errors that name the argument and show the value.

Factories check concrete values only; traced values are accepted as they are
and the math is total, so a traced bad value never raises and never gives NaN
(``test_traced_bad_values_stay_finite``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import all_finite

import jaxsched as js

C = js.constant(0.5)


def _raises(exc: type[Exception], fn: Callable[[], Any], *shown: str) -> str:
    """``fn()`` raises ``exc`` whose message contains every string in ``shown``."""
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for s in shown:
        assert s in msg, f"{s!r} not in message {msg!r}"
    return msg


# ----------------------------------------------------------------------------- scalar arguments

# factory -> a valid set of keyword arguments
SPECS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "constant": (js.constant, {"value": 0.1}),
    "linear": (js.linear, {"init_value": 1.0, "end_value": 0.0, "steps": 10}),
    "cosine": (js.cosine, {"init_value": 1.0, "end_value": 0.0, "steps": 10, "exponent": 1.0}),
    "polynomial": (js.polynomial, {"init_value": 1.0, "end_value": 0.0, "steps": 10, "power": 2.0}),
    "sqrt_decay": (js.sqrt_decay, {"init_value": 1.0, "end_value": 0.0, "steps": 10, "power": 0.5}),
    "cooldown": (js.cooldown, {"init_value": 1.0, "end_value": 0.0, "steps": 10}),  # shape: see below
    "exponential": (js.exponential, {"init_value": 1.0, "decay_rate": 0.5, "decay_steps": 10, "end_value": 0.1}),
    "inverse_sqrt": (js.inverse_sqrt, {"init_value": 1.0, "timescale": 10}),
    "warmup": (js.warmup, {"schedule": C, "steps": 5, "init_value": 0.0}),
    "repeat": (js.repeat, {"schedule": C, "period": 10, "period_mult": 2.0, "decay": 0.5, "cycles": 3}),
    "clip": (js.clip, {"schedule": C, "lo": 0.1, "hi": 0.5}),
}
# arguments for which None means "absent" (a valid default)
NONE_OK = {
    ("cosine", "exponent"),
    ("sqrt_decay", "power"),
    ("polynomial", "power"),
    ("exponential", "end_value"),
    ("clip", "lo"),
    ("clip", "hi"),
    ("repeat", "period_mult"),
    ("repeat", "decay"),
    ("repeat", "cycles"),
}
# (factory, argument, value) that are valid although infinite
INF_OK = {("repeat", "cycles", math.inf), ("clip", "lo", -math.inf), ("clip", "hi", math.inf)}

NUMERIC_ARGS = [(f, a) for f, (_, kw) in SPECS.items() for a in kw if a != "schedule"]


def _call(factory: str, **override: Any) -> Any:
    fn, kw = SPECS[factory]
    return fn(**{**kw, **override})


def test_valid_specs_build() -> None:
    for name in SPECS:
        assert isinstance(_call(name), js.Schedule)


@pytest.mark.parametrize("factory, arg", NUMERIC_ARGS, ids=[f"{f}-{a}" for f, a in NUMERIC_ARGS])
def test_non_numbers_are_type_errors(factory: str, arg: str) -> None:
    bad: list[Any] = [True, np.bool_(False), "0.5", b"1", 1 + 2j, {"a": 1}]
    if (factory, arg) not in NONE_OK:
        bad.append(None)
    for value in bad:
        _raises(TypeError, lambda value=value: _call(factory, **{arg: value}), arg, repr(value))


@pytest.mark.parametrize("factory, arg", NUMERIC_ARGS, ids=[f"{f}-{a}" for f, a in NUMERIC_ARGS])
def test_non_finite_values_are_value_errors(factory: str, arg: str) -> None:
    for value in (math.nan, math.inf, -math.inf, np.float32("nan")):
        if (factory, arg, value) in INF_OK:
            assert isinstance(_call(factory, **{arg: value}), js.Schedule)
            continue
        _raises(ValueError, lambda value=value: _call(factory, **{arg: value}), arg, repr(value))


@pytest.mark.parametrize("factory, arg", NUMERIC_ARGS, ids=[f"{f}-{a}" for f, a in NUMERIC_ARGS])
def test_arrays_where_a_scalar_is_expected(factory: str, arg: str) -> None:
    _raises(ValueError, lambda: _call(factory, **{arg: [1.0, 2.0]}), arg, "[1.0, 2.0]")


OUT_OF_RANGE = [
    ("linear", "steps", -1),
    ("linear", "steps", -0.5),
    ("cosine", "steps", -10),
    ("cosine", "exponent", -1.0),
    ("polynomial", "steps", -1),
    ("polynomial", "power", -0.5),
    ("sqrt_decay", "steps", -3),
    ("sqrt_decay", "power", 0.0),
    ("sqrt_decay", "power", -1.0),
    ("cooldown", "steps", -2),
    ("exponential", "decay_rate", -0.5),
    ("exponential", "decay_steps", 0),
    ("exponential", "decay_steps", -3),
    ("inverse_sqrt", "timescale", 0),
    ("inverse_sqrt", "timescale", -1.0),
    ("warmup", "steps", math.inf),
    ("repeat", "period", 0),
    ("repeat", "period", -10),
    ("repeat", "period_mult", 0.0),
    ("repeat", "period_mult", -2.0),
    ("repeat", "decay", -0.5),
    ("repeat", "cycles", -1.0),
]


@pytest.mark.parametrize("factory, arg, value", OUT_OF_RANGE, ids=[f"{f}-{a}-{v}" for f, a, v in OUT_OF_RANGE])
def test_out_of_range_values(factory: str, arg: str, value: Any) -> None:
    _raises(ValueError, lambda: _call(factory, **{arg: value}), arg, repr(value))


@pytest.mark.parametrize("factory, arg, value", [("repeat", "period", 1e-50), ("exponential", "decay_steps", 1e-46),
                                                  ("inverse_sqrt", "timescale", 1e-300)])
def test_a_value_in_range_that_rounds_out_of_it(factory: str, arg: str, value: float) -> None:
    # > 0 as given, 0 as stored in float32: the leaf is what the schedule (and its config) holds, so the
    # factory checks it too (a config of it was refused: from_json(to_json(s)) failed)
    _raises(ValueError, lambda: _call(factory, **{arg: value}), arg, "> 0", repr(value), "stored as 0.0 in float32")


def test_cooldown_shape_is_a_name_or_an_index() -> None:
    for good, k in (("linear", 0), ("Cosine", 1), ("1_sqrt", 2)):  # a name: static (only it is computed)
        c = _call("cooldown", shape=good)
        assert c.fixed == k and c.shape is None
    for good, k in ((2, 2), (np.int32(1), 1)):  # an index: a leaf
        c = _call("cooldown", shape=good)
        assert int(c.shape) == k and c.fixed is None
    for bad in ("square", 3, -1):
        _raises(ValueError, lambda bad=bad: _call("cooldown", shape=bad), "shape", repr(bad))
    for bad in (0.5, None, True):
        _raises(TypeError, lambda bad=bad: _call("cooldown", shape=bad), "shape", repr(bad))


def test_numpy_and_jax_scalars_are_accepted() -> None:
    for v in (np.float32(10), np.int64(10), jnp.asarray(10.0), jnp.asarray(10, jnp.int32), 10):
        assert float(js.linear(1.0, 0.0, v)(5)) == pytest.approx(0.5)
    _raises(ValueError, lambda: js.linear(1.0, 0.0, np.float32(-1)), "steps", "-1")
    _raises(ValueError, lambda: js.linear(1.0, 0.0, jnp.asarray(-2.0)), "steps", "-2")


def test_staircase_must_be_a_bool() -> None:
    for v in (1, "yes", None):
        _raises(TypeError, lambda v=v: js.exponential(1.0, 0.5, 10, staircase=v), "staircase", repr(v))


def test_clip_needs_lo_le_hi() -> None:
    _raises(ValueError, lambda: js.clip(C, 0.5, 0.1), "lo=0.5", "hi=0.1")
    assert isinstance(js.clip(C, 0.3, 0.3), js.Clip)


# ----------------------------------------------------------------------------- sequences


def test_piecewise_constant_validation() -> None:
    pc = js.piecewise_constant
    _raises(ValueError, lambda: pc([1.0, 0.5], [10, 20]), "values", "len(boundaries) + 1", "[1.0, 0.5]", "[10, 20]")
    _raises(ValueError, lambda: pc([1.0, 0.5, 0.1, 0.01], [10, 20]), "values", "[10, 20]")
    _raises(ValueError, lambda: pc([1.0, 0.5, 0.1], [20, 10]), "boundaries", "non-decreasing", "[20, 10]")
    _raises(ValueError, lambda: pc([1.0, 0.5], [-5]), "boundaries", "[-5]")
    _raises(ValueError, lambda: pc([1.0, 0.5], [math.nan]), "boundaries", "[nan]")
    _raises(ValueError, lambda: pc([1.0, 0.5], [math.inf]), "boundaries", "[inf]")
    _raises(ValueError, lambda: pc([1.0, math.nan], [5]), "values", "[1.0, nan]")
    _raises(ValueError, lambda: pc([], []), "values", "[]")
    _raises(ValueError, lambda: pc([[1.0, 2.0]], []), "values", "[[1.0, 2.0]]")
    _raises(TypeError, lambda: pc([1.0, "a"], [5]), "values[1]", "'a'")
    _raises(TypeError, lambda: pc([1.0, 0.5], [True]), "boundaries[0]", "True")
    _raises(TypeError, lambda: pc(None, [5]), "values", "None")
    _raises(TypeError, lambda: pc([1.0, 0.5], "5"), "boundaries", "'5'")
    assert isinstance(pc([1.0, 0.5, 0.1], [10, 10]), js.PiecewiseConstant)  # equal boundaries are fine


def test_piecewise_linear_validation() -> None:
    pl = js.piecewise_linear
    _raises(ValueError, lambda: pl([0.0, 1.0, 0.5], [0, 10]), "values", "len(boundaries)", "[0.0, 1.0, 0.5]", "[0, 10]")
    _raises(ValueError, lambda: pl([0.0, 1.0], [0, 10, 20]), "values", "[0, 10, 20]")
    _raises(ValueError, lambda: pl([0.0, 1.0], [10, 0]), "boundaries", "non-decreasing", "[10, 0]")
    _raises(ValueError, lambda: pl([], []), "values", "[]")
    _raises(ValueError, lambda: pl([0.0, math.inf], [0, 10]), "values", "inf")
    _raises(ValueError, lambda: pl([0.0, 1.0], [-1, 10]), "boundaries", "[-1, 10]")
    # finite as given, inf in float32 (s(0) was NaN), as a scalar argument is refused
    _raises(ValueError, lambda: pl([1e39, 0.5], [0, 10]), "values overflows float32", "values[0]=1e+39")
    _raises(ValueError, lambda: js.piecewise_constant([1.0, 0.5], [1e39]), "boundaries overflows float32")
    _raises(ValueError, lambda: js.join([C, C], [-1e39]), "boundaries overflows float32", "[-1e+39]")


def test_join_validation() -> None:
    a, b = js.linear(0.0, 1.0, 10), js.cosine(1.0, 0.0, 90)
    _raises(ValueError, lambda: js.join([a, b], []), "len(boundaries) == len(schedules) - 1", "[]")
    _raises(ValueError, lambda: js.join([a, b], [10, 20]), "boundaries", "[10, 20]")
    _raises(ValueError, lambda: js.join([a, b, a], [20, 10]), "boundaries", "non-decreasing", "[20, 10]")
    _raises(ValueError, lambda: js.join([a, b], [-math.inf]), "boundaries", "[-inf]")
    _raises(ValueError, lambda: js.join([a, b], [math.nan]), "boundaries", "[nan]")
    _raises(ValueError, lambda: js.join([], []), "schedules")
    _raises(TypeError, lambda: js.join([a, 0.5], [10]), "schedules[1]", "0.5")
    _raises(TypeError, lambda: js.join(a, []), "schedules")
    _raises(TypeError, lambda: js.join([a, b], "10"), "boundaries", "'10'")
    _raises(TypeError, lambda: js.join([a, b], [None]), "boundaries[0]", "None")
    assert isinstance(js.join([a, b, a], [10, 10]), js.Join)  # a zero-length piece is fine


def test_select_validation() -> None:
    pieces = [js.constant(1.0), js.constant(2.0)]
    _raises(ValueError, lambda: js.select(2, pieces), "index", "2")
    _raises(ValueError, lambda: js.select(-1, pieces), "index", "-1")
    for bad in (True, 1.0, "1", None):
        _raises(TypeError, lambda bad=bad: js.select(bad, pieces), "index", repr(bad))
    _raises(ValueError, lambda: js.select(0, []), "schedules")
    _raises(TypeError, lambda: js.select(0, [js.constant(1.0), 2.0]), "schedules[1]", "2.0")


def test_schedule_arguments_must_be_schedules() -> None:
    for bad in (0.5, None, "cosine", lambda t: t):
        _raises(TypeError, lambda bad=bad: js.warmup(bad, 5), "schedule")
        _raises(TypeError, lambda bad=bad: js.repeat(bad, 10), "schedule")
        _raises(TypeError, lambda bad=bad: js.clip(bad, 0.0, 1.0), "schedule")


def test_arithmetic_validation() -> None:
    s = js.linear(1.0, 0.0, 10)
    _raises(ValueError, lambda: s / 0, "divisor", "0")
    _raises(ValueError, lambda: s / 0.0, "divisor", "0.0")
    _raises(TypeError, lambda: s / s, "dividing by a schedule")
    _raises(TypeError, lambda: 3.0 / s, "dividing by a schedule is not supported (3.0 / ")
    _raises(ValueError, lambda: s + math.nan, "operand", "nan")
    _raises(ValueError, lambda: math.inf * s, "operand", "inf")
    _raises(TypeError, lambda: s * "2", "operand", "'2'")
    _raises(TypeError, lambda: s - None, "operand", "None")
    _raises(ValueError, lambda: js.minimum(s), "at least 2")
    _raises(ValueError, lambda: js.maximum(), "at least 2")
    _raises(TypeError, lambda: js.minimum(s, "a"), "operand 1", "'a'")
    _raises(ValueError, lambda: js.maximum(s, math.nan), "operand 1", "nan")


def test_bad_steps_are_type_errors() -> None:
    s = js.linear(1.0, 0.0, 10)
    for bad in (True, "3", None, np.asarray([True, False]), 1 + 1j):
        msg = _raises(TypeError, lambda bad=bad: s(bad), "step")
        assert re.search(r"got", msg)


# ----------------------------------------------------------------------------- traced values


def _bad_builders() -> list[tuple[str, Callable[[jax.Array], js.Schedule], list[float]]]:
    """(name, build(theta), bad theta) for theta traced; each builds without checks."""
    c = js.cosine(1.0, 0.0, 10.0)

    def rep(th: jax.Array) -> js.Schedule:  # one builder for several bad settings: one compile
        return js.repeat(js.cosine(1.0, 0.0, th[0]), th[0], th[1], th[2], th[3])

    return [
        ("linear-steps", lambda th: js.linear(1.0, 0.0, th[0]), [-5.0]),
        ("cosine-steps-exponent", lambda th: js.cosine(1.0, 0.0, th[0], th[1]), [-5.0, -1.0]),
        ("polynomial", lambda th: js.polynomial(1.0, 0.0, th[0], th[1]), [-5.0, -1.0]),
        ("sqrt-decay", lambda th: js.sqrt_decay(1.0, 0.0, th[0], th[1]), [-5.0, -1.0]),
        ("exponential", lambda th: js.exponential(1.0, th[0], th[1], True, th[2]), [-0.5, 0.0, -1.0]),
        ("exponential-growth", lambda th: js.exponential(1.0, th[0], th[1]), [1e6, 0.5]),
        ("inverse-sqrt", lambda th: js.inverse_sqrt(1.0, th[0]), [-10.0]),
        ("piecewise-constant", lambda th: js.piecewise_constant([1.0, 0.5, 0.1], th[:2]), [20.0, -10.0]),
        ("piecewise-linear", lambda th: js.piecewise_linear([0.0, 1.0, 0.5], th[:3]), [20.0, 10.0, -5.0]),
        ("join", lambda th: js.join([c, js.linear(0.0, 1.0, th[0]), c], th[1:3]), [-3.0, 20.0, -10.0]),
        ("join-list", lambda th: js.join([c, c], [th[0]]), [-7.0]),
        ("warmup", lambda th: js.warmup(c, th[0], th[1]), [-4.0, 0.0]),
        ("select", lambda th: js.select(th[0].astype(jnp.int32), [c, js.constant(2.0)]), [5.0]),
        ("repeat-zero", rep, [0.0, 0.0, 0.0, 0.0]),
        ("repeat-negative", rep, [-10.0, -2.0, -0.5, -1.0]),
        ("repeat-shrinking", rep, [10.0, 0.5, 0.9, math.inf]),
        ("repeat-tiny-growth", rep, [1.0, 1e-30, 2.0, math.inf]),
        ("clip", lambda th: js.clip(c, th[0], th[1]), [0.9, 0.1]),
        ("divide", lambda th: c / th[0], [0.0]),
    ]


def test_traced_bad_values_stay_finite() -> None:
    """Under jit a bad traced value never raises and gives finite values and gradients."""
    steps = jnp.asarray([0, 1, 5, 10, 11, 25, 100, 10**4, 10**6, 2**31 - 1], jnp.int32)
    fsteps = jnp.asarray([0.0, 0.5, 9.999, 10.0, 31.999, 32.0, 1e3, 1e9], jnp.float32)
    builders: dict[Any, list[tuple[str, list[float]]]] = {}
    for name, build, theta in _bad_builders():
        builders.setdefault(build, []).append((name, theta))
    fns = list(builders)

    def one(build: Callable[..., Any]) -> Callable[..., Any]:
        def value(th: jax.Array, t: jax.Array) -> jax.Array:
            return build(th)(t)

        vg = jax.vmap(jax.value_and_grad(value), (None, 0))
        return jax.vmap(lambda th, ti, tf: (vg(th, ti), vg(th, tf)), (0, None, None))

    @jax.jit
    def run(thetas: list[jax.Array], ti: jax.Array, tf: jax.Array) -> list[Any]:
        # one program for every builder; a builder's bad settings are a vmapped batch
        return [one(build)(th, ti, tf) for build, th in zip(fns, thetas)]

    thetas = [jnp.asarray([th for _, th in builders[b]], jnp.float32) for b in fns]
    for build, out in zip(fns, run(thetas, steps, fsteps)):
        for j, (name, theta) in enumerate(builders[build]):
            mine = jax.tree_util.tree_map(lambda x, j=j: x[j], out)
            assert all_finite(mine), (name, theta, mine)


def test_traced_values_skip_validation_under_vmap() -> None:
    # A batch of settings with a bad one: vmap never re-validates (unflattening runs no checks).
    batch = js.stack([js.linear(1.0, 0.0, 10), js.linear(1.0, 0.0, 20)])
    bad = jax.tree_util.tree_map(lambda x: x.at[1].set(-1.0) if x.ndim else x, batch)
    out = jax.vmap(lambda s: s(jnp.arange(4)))(bad)
    assert all_finite(out)


# ----------------------------------------------------------------------------- choices, flags, bfloat16


@pytest.mark.parametrize(
    "fn,name",
    [
        (lambda: js.wsd(1.0, 100, 10, decay_shape=[0, 1]), "decay_shape"),
        (lambda: js.cooldown(1.0, 0.0, 10, shape=np.ones((1, 1))), "shape"),
        (lambda: js.cyclic(0.1, 1.0, 10, mode=[0, 2]), "mode"),
        (lambda: js.onecycle(1.0, 100, anneal_strategy=[[1]]), "anneal_strategy"),
    ],
)
def test_a_choice_is_one_name_or_one_index(fn: Callable[[], Any], name: str) -> None:
    # An array of indices used to pass, then broke on the first call (or gave a (1, n) output): a grid
    # sweeps a choice with one index per setting, like every other number.
    _raises(ValueError, fn, name, "one integer index", "shape")


def test_bfloat16_arguments_are_floats() -> None:
    b = jnp.bfloat16
    one, ten = jnp.asarray(1.0, b), jnp.asarray(10, b)
    t = jnp.arange(12)
    np.testing.assert_array_equal(js.linear(one, 0.0, ten)(t), js.linear(1.0, 0.0, 10)(t))
    np.testing.assert_array_equal(js.warmup_cosine(one, 100)(t), js.warmup_cosine(1.0, 100)(t))
    assert js.constant(one).dtype == js.constant(1.0).dtype  # cast to the default float dtype, as float16 is


def test_torch_flags_are_booleans_and_shared_settings_are_checked() -> None:
    from jaxsched.compat import torch as T

    # bool("false") is True: a string flag used to flip the schedule silently.
    _raises(TypeError, lambda: T.OneCycleLR(1.0, total_steps=10, extrapolate="false"), "extrapolate", "'false'")
    _raises(TypeError, lambda: T.onecycle_momentum(1.0, total_steps=10, cycle_momentum="False"), "cycle_momentum")
    _raises(TypeError, lambda: T.cyclic_momentum(0.01, 0.1, cycle_momentum=1), "cycle_momentum")
    # Momentum settings the rate schedule does not use are still checked (a shared settings dict).
    _raises(TypeError, lambda: T.OneCycleLR(1.0, total_steps=10, base_momentum="abc"), "base_momentum", "abc")
    _raises(ValueError, lambda: T.CyclicLR(0.01, 0.1, max_momentum=float("nan")), "max_momentum", "nan")
    _raises(ValueError, lambda: T.cyclic_momentum(0.01, float("inf")), "max_lr", "inf")
    assert T.OneCycleLR(1.0, total_steps=10, extrapolate=np.bool_(False))(9) >= 0.0


def test_optax_staircase_is_a_boolean() -> None:
    from jaxsched.compat import optax as O

    _raises(TypeError, lambda: O.exponential_decay(1.0, 10, 0.5, staircase="yes"), "staircase", "'yes'")


def test_a_tagged_config_leaf_of_an_index_field_is_an_int() -> None:
    c = {"type": "Constant", "value": 1.0}
    for node in (
        {"type": "Select", "index": {"dtype": "float32", "value": 0.5}, "schedules": [c, c]},
        {"type": "Cooldown", "init_value": 1.0, "end_value": 0.0, "steps": 10, "shape": {"dtype": "float32",
                                                                                          "value": 1.5}},
    ):
        _raises(ValueError, lambda node=node: js.from_config(node), "integer leaf", "float32")
    assert float(js.from_config({"type": "Select", "index": {"dtype": "int32", "value": 1}, "schedules": [
        c, {"type": "Constant", "value": 2.0}]})(0)) == 2.0


@pytest.mark.parametrize(
    "fn,exc,shown",
    [
        (lambda ox: ox.cosine_decay_schedule(1.0, decay_steps="abc"), TypeError, ("decay_steps", "abc")),
        (lambda ox: ox.cosine_decay_schedule(1.0, decay_steps=[1, 2]), ValueError, ("decay_steps", "shape")),
        (lambda ox: ox.warmup_cosine_decay_schedule(0.0, 1.0, "abc", 100), TypeError, ("warmup_steps", "abc")),
        (lambda ox: ox.linear_onecycle_schedule(100, 0.1, pct_start=float("nan")), ValueError, ("pct_start", "nan")),
        (lambda ox: ox.linear_onecycle_schedule(100, 0.1, pct_start=float("inf")), ValueError, ("pct_start", "inf")),
        (lambda ox: ox.linear_onecycle_schedule(100, 0.1, pct_final=1e39), ValueError, ("pct_final", "1e+39")),
        (lambda ox: ox.cosine_onecycle_schedule(100, 0.1, pct_start=True), TypeError, ("pct_start", "True")),
        (lambda ox: ox.cosine_onecycle_schedule(None, 0.1), TypeError, ("transition_steps", "None")),
    ],
)
def test_optax_ports_check_arguments_before_using_them(fn: Any, exc: type[Exception], shown: tuple[str, ...]) -> None:
    # These reached float()/int() first: raw messages naming no argument, an OverflowError, or no error at all.
    from jaxsched.compat import optax as ox

    _raises(exc, lambda: fn(ox), *shown)
