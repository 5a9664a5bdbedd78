"""Configs: exact JSON round trips, the name registry, and malformed input.

Round trips are checked leaf by leaf (class tree, dtypes, bits) and by value.
Malformed configs, from hand-written cases and from a fuzzer that mutates
valid configs, must raise only ``ValueError`` or ``TypeError`` with a message.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxsched
from jaxsched import _config as C
from jaxsched._base import Schedule, pytree
from jaxsched._config import FORMAT, from_config, from_json, register, to_config, to_json
from jaxsched._registry import HF_NAMES, get, names

STEPS = jnp.asarray([0, 1, 2, 5, 9, 10, 11, 37, 99, 100, 101, 250, 1000, 10**6], jnp.int32)


@jax.jit
def values(s: Schedule) -> jax.Array:
    """``s(STEPS)``, one compile per structure: a schedule and its round trip share it."""
    return s(STEPS)


@jax.jit
def batch_values(s: Schedule) -> jax.Array:
    return jax.vmap(lambda x: x(STEPS))(s)


def assert_same(a: Any, b: Any) -> None:
    """Same classes, same static fields, same leaves (dtype, shape, bits), same values."""
    la, da = jax.tree_util.tree_flatten(a)
    lb, db = jax.tree_util.tree_flatten(b)
    assert da == db, f"structure differs:\n{da}\n{db}"
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape, (x.dtype, y.dtype, x.shape, y.shape)
        assert np.array_equal(x, y), (x, y)


def roundtrip(s: Any) -> Any:
    text = to_json(s)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    return from_json(text)


# ----------------------------------------------------------------------------- every kind of schedule


def _cases() -> dict[str, Schedule]:
    J = jaxsched
    return {
        "constant": J.constant(0.1),
        "linear": J.linear(1.0, 0.0, 10),
        "cosine_exp": J.cosine(1.0, 0.1, 100, exponent=2.0),
        "polynomial": J.polynomial(1.0, 0.0, 100, power=2.0),
        "exponential": J.exponential(1.0, 0.5, 10, staircase=True, end_value=0.2),
        "inverse_sqrt": J.inverse_sqrt(1.0, 100),
        "sqrt_decay": J.sqrt_decay(1.0, 0.0, 100, power=0.7),
        "piecewise_constant": J.piecewise_constant([1.0, 0.1, 0.01], [10, 20]),
        "piecewise_linear": J.piecewise_linear([0.0, 1.0, 0.0], [0, 10, 30]),
        "piecewise_linear_1": J.piecewise_linear([0.5], [3]),
        "warmup_cosine": J.warmup_cosine(3e-4, total_steps=1000, warmup_steps=100, end_value=1e-5),
        "wsd": J.wsd(1e-3, total_steps=1000, warmup_steps=100, decay_fraction=0.3, decay_shape="1-sqrt"),
        "onecycle": J.onecycle(0.1, total_steps=1000, three_phase=True, anneal_strategy="linear"),
        "onecycle_momentum": J.onecycle_momentum(1000),
        "sgdr": J.sgdr(0.1, period=100, period_mult=1.5, decay=0.8, warmup_steps=10),
        "sgdr_cycles": J.sgdr(0.1, period=100, cycles=3),
        "cyclic": J.cyclic(0.01, 0.1, 20, mode="exp_range", gamma=0.999),
        "linear_to_zero": J.linear_to_zero(1.0, total_steps=100, warmup_steps=10),
        "warmup_inverse_sqrt": J.warmup_inverse_sqrt(1.0, warmup_steps=100),
        "join": J.join([J.linear(0.0, 1.0, 10), J.cosine(1.0, 0.0, 90), J.constant(0.0)], [10, 100]),
        "nested": J.repeat(J.join([J.warmup(J.cosine(1.0, 0.0, 50), 5), J.constant(0.2)], [55]), period=60, decay=0.5),
        "select": J.select(2, [J.constant(1.0), J.linear(1.0, 0.0, 10), J.cosine(1.0, 0.0, 10)]),
        "clip_inf": J.clip(J.linear(0.0, 2.0, 10), lo=0.5),
        "arith": 0.5 * J.cosine(1.0, 0.0, 100) + J.constant(0.1) - J.linear(0.0, 0.05, 100),
        "minmax": J.maximum(J.minimum(J.linear(0.0, 1.0, 10), 0.5), J.constant(0.1)),
        "divide": J.cosine(1.0, 0.0, 100) / 4.0,
    }


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_roundtrip_every_kind(name: str) -> None:
    s = CASES[name]
    back = roundtrip(s)
    assert_same(s, back)
    np.testing.assert_array_equal(np.asarray(values(s)), np.asarray(values(back)))
    # The config is plain data: a second trip gives the very same text.
    assert to_json(back) == to_json(s)


def test_format_is_readable_and_versioned() -> None:
    cfg = to_config(jaxsched.sgdr(0.1, period=10, cycles=math.inf))
    assert cfg["format"] == FORMAT == "jaxsched/1"
    node = cfg["schedule"]
    assert node["type"] == "Warmup" and node["schedule"]["type"] == "Repeat"
    assert node["schedule"]["cycles"] == "inf"  # standard JSON: infinities as strings
    assert node["schedule"]["decay"] is None  # not given: no decay (and no work for it)
    assert to_config(jaxsched.sgdr(0.1, period=10))["schedule"]["schedule"]["cycles"] is None
    assert node["schedule"]["schedule"] == {
        "type": "Cosine",
        "init_value": 0.10000000149011612,
        "end_value": 0.0,
        "steps": 10.0,
        "exponent": None,
    }
    with pytest.raises(ValueError, match="unsupported config format 'jaxsched/2'"):
        from_config({**cfg, "format": "jaxsched/2"})


def test_int_leaves_stay_int32() -> None:
    s = jaxsched.wsd(1.0, total_steps=100, decay_shape=1)  # an index: an int leaf (a name is static)
    back = roundtrip(s)
    idx = back.schedule.schedules[1].shape  # the cooldown's shape
    assert idx.dtype == jnp.int32 and int(idx) == 1
    cfg = to_config(s)
    cool = cfg["schedule"]["schedule"]["schedules"][1]  # warmup -> join -> [constant, cooldown]
    assert cool["type"] == "Cooldown" and cool["shape"] == 1
    cool["shape"] = 3
    with pytest.raises(ValueError, match="shape must be an integer in 0..2"):
        from_config(cfg)
    # A hand-written config may say 1 or 1.0 for an int field, never 1.5.
    node = {"type": "Select", "index": 1.0, "schedules": [{"name": "constant", "value": 1.0}] * 2}
    assert from_config(node).index.dtype == jnp.int32
    with pytest.raises(ValueError, match="index must be an integer"):
        from_config({**node, "index": 1.5})
    with pytest.raises(ValueError, match="index must be in 0..1"):
        from_config({**node, "index": 2})


def test_tagged_dtypes() -> None:
    # A leaf of a dtype other than the field's default is written with its dtype.
    s = jaxsched.Constant(jnp.asarray(1.5, jnp.bfloat16))
    cfg = to_config(s)
    assert cfg["schedule"]["value"] == {"dtype": "bfloat16", "value": 1.5}
    assert_same(s, from_config(cfg))
    # float64 asked for without x64 is canonicalised quietly (no warning).
    back = from_config({"type": "Constant", "value": {"dtype": "float64", "value": 0.25}})
    assert back.value.dtype == jnp.float32
    with pytest.raises(ValueError, match="dtype must be one of"):
        from_config({"type": "Constant", "value": {"dtype": "complex64", "value": 1.0}})


def test_x64_roundtrip() -> None:
    with jax.enable_x64(True):
        s = jaxsched.warmup_cosine(0.1, total_steps=1000, warmup_steps=10)
        assert s.dtype == np.float64
        back = roundtrip(s)
        assert_same(s, back)
        assert back.dtype == np.float64


# ----------------------------------------------------------------------------- batches


def test_grid_roundtrip() -> None:
    g = jaxsched.grid(jaxsched.wsd, peak_value=[1e-3, 3e-3], decay_shape=[0, 1, 2], total_steps=100, warmup_steps=10)
    back = roundtrip(g)
    assert isinstance(back, jaxsched.Grid)
    assert back.settings == g.settings
    assert_same(g.schedules, back.schedules)
    np.testing.assert_array_equal(np.asarray(batch_values(g.schedules)), np.asarray(batch_values(back.schedules)))
    assert to_config(g)["batch_shape"] == [6]


def test_grid_settings_roundtrip_lists_and_infinities() -> None:
    # Lists as settings (a piecewise schedule's values) were written but refused on reading; an
    # infinite setting came back as the string "inf".
    g = jaxsched.grid(jaxsched.piecewise_constant, values=[[1.0, 0.5, 0.1], [2.0, 1.0, 0.2]], boundaries=[[10, 100]])
    back = from_json(to_json(g))
    assert back.settings == g.settings
    np.testing.assert_array_equal(np.asarray(batch_values(g.schedules)), np.asarray(batch_values(back.schedules)))
    g = jaxsched.grid_zip(jaxsched.sgdr, peak_value=[1.0, 0.5], period=[10, 20], cycles=[3, math.inf])
    back = from_json(to_json(g))
    assert back.settings == g.settings and isinstance(back.settings["cycles"][1], float)
    assert from_config(to_config(g)).settings == g.settings  # the dict form, with a float inf in it
    cfg = to_config(g)
    cfg["settings"]["cycles"] = [3, float("nan")]
    with pytest.raises(ValueError, match=r"settings.cycles\[1\] must not be NaN"):
        from_config(cfg)
    cfg["settings"] = {}
    with pytest.raises(ValueError, match="at least one column for a grid of 2"):
        from_config(cfg)  # would be a Grid whose len (1) is not its number of schedules (2)


def test_a_grid_over_schedules_roundtrips() -> None:
    # An axis of schedules (grid(warmup, schedule=[...])): its settings are written as nodes (to_json raised
    # "static field of type Cosine cannot be written").
    g = jaxsched.grid(jaxsched.warmup, schedule=[jaxsched.cosine(1.0, 0.0, 10), jaxsched.cosine(2.0, 0.0, 20)],
                      steps=[0, 5])
    back = roundtrip(g)
    assert isinstance(back, jaxsched.Grid) and back.settings.keys() == g.settings.keys()
    assert back.settings["steps"] == g.settings["steps"]
    for a, b in zip(back.settings["schedule"], g.settings["schedule"]):
        assert_same(a, b)
    assert_same(back.schedules, g.schedules)
    assert to_json(back) == to_json(g)
    cfg = to_config(g)
    cfg["settings"]["schedule"][1]["steps"] = -1.0  # a node there is checked as any other
    with pytest.raises(ValueError, match=r"settings.schedule\[1\].steps must be >= 0"):
        from_config(cfg)
    cfg["settings"]["schedule"][1] = {"steps": 1.0}  # not a node: no 'type'
    with pytest.raises(TypeError, match=r"settings.schedule\[1\] must be a number, .* or a schedule node"):
        from_config(cfg)


def test_an_exponential_without_a_bound_in_a_batch_roundtrips() -> None:
    # A member without end_value gets an infinite one in a batch (no bound: -inf under a decaying rate), as
    # optax's port gets inf where it is a constant; configs refused both ("end_value must be finite").
    from jaxsched.compat import optax as ox

    e = jaxsched.exponential
    for s in (jaxsched.stack([e(1.0, 0.5, 10), e(1.0, 0.5, 10, end_value=0.1), e(1.0, 2.0, 10)]),
              jaxsched.grid(e, init_value=1.0, decay_rate=0.5, decay_steps=10, end_value=[None, 0.1]).schedules,
              ox.exponential_decay(1.0, transition_steps=0, decay_rate=0.5, end_value=0.1),
              ox.warmup_exponential_decay_schedule(0.0, 1.0, 10, 0, 0.5, end_value=0.05)):
        assert_same(roundtrip(s), s)
    # an infinite bound on the side where it binds would make every value infinite: refused
    node = {"type": "Exponential", "init_value": 1.0, "decay_rate": 0.5, "decay_steps": 10.0, "end_value": "inf"}
    with pytest.raises(ValueError, match="end_value may be infinite only where it bounds nothing"):
        from_config({"format": FORMAT, "schedule": node})
    with pytest.raises(ValueError, match="end_value may be infinite only where it bounds nothing"):
        from_config({"format": FORMAT, "schedule": {**node, "decay_rate": 2.0, "end_value": "-inf"}})


def test_a_batch_of_large_joins_keeps_its_structure() -> None:
    # Joins with a family of more than 8 pieces stack it into one array per leaf. A batch loaded from a
    # config (batched pieces) grouped each piece on its own: 37 leaves instead of 4, a tree_map between
    # the two failed and a jit compiled twice (found by an audit).
    def big(scale: float) -> Schedule:
        return jaxsched.join([jaxsched.cosine(scale * (1 - i / 40), 0.0, 10) for i in range(12)],
                             list(range(10, 120, 10)))

    for batch in (jaxsched.grid(big, scale=[1.0, 0.5]), jaxsched.stack([big(1.0), big(0.5)])):
        back = from_json(to_json(batch))
        a, b = (x.schedules if isinstance(x, jaxsched.Grid) else x for x in (batch, back))
        assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
        shapes = [[np.shape(x) for x in jax.tree_util.tree_leaves(y)] for y in (a, b)]
        assert shapes[0] == shapes[1]
        np.testing.assert_array_equal(batch_values(a), batch_values(b))


def test_to_config_checks_a_given_batch_shape() -> None:
    one = jaxsched.linear(1.0, 0.0, 10)
    two = jaxsched.stack([one, jaxsched.linear(2.0, 0.0, 10)])
    for s, bs in ((one, [2]), (two, []), (two, [3])):
        with pytest.raises(ValueError, match="does not fit the schedule's leaves"):
            to_config(s, batch_shape=bs)  # was written, then refused by from_config
    with pytest.raises(ValueError, match="the grid has 2 settings"):
        to_config(jaxsched.grid(jaxsched.constant, value=[1.0, 2.0]), batch_shape=[5])  # was ignored
    six = jax.tree_util.tree_map(lambda x: jnp.stack([x, x, x]), two)  # two batch axes, given explicitly
    assert from_config(to_config(six, batch_shape=[3, 2]))(0).shape == (3, 2)
    # or found (it needed batch_shape=, which the CLI cannot pass: it refused such a config's file)
    assert to_config(six)["batch_shape"] == [3, 2] and to_config(two)["batch_shape"] == [2]
    pcs = jaxsched.stack([jaxsched.piecewise_constant([1.0, 0.5], [10]), jaxsched.piecewise_constant([2.0, 1.0], [5])])
    assert to_config(pcs)["batch_shape"] == [2]  # vector leaves: the fewest axes that give one value per member


def test_stacked_batch_roundtrip() -> None:
    b = jaxsched.stack([jaxsched.sgdr(0.1, period=p, period_mult=m) for p, m in [(10, 1.0), (20, 2.0), (5, 1.5)]])
    cfg = to_config(b)
    assert cfg["batch_shape"] == [3]
    back = from_json(json.dumps(cfg))
    assert_same(b, back)
    np.testing.assert_array_equal(np.asarray(batch_values(b)), np.asarray(batch_values(back)))
    # A batch without its batch_shape is not a schedule.
    with pytest.raises(ValueError, match="batch_shape"):
        from_config({k: v for k, v in cfg.items() if k != "batch_shape"})


# ----------------------------------------------------------------------------- random schedules

finite = st.floats(-10, 10, allow_nan=False, width=32)
positive = st.floats(0.25, 100, width=32)
lengths = st.one_of(st.integers(0, 200), st.floats(0, 200, width=32))


@st.composite
def leaf_schedules(draw: Any) -> Schedule:
    J = jaxsched
    k = draw(st.integers(0, 15))
    v, w = draw(finite), draw(finite)
    n = draw(lengths)
    if k == 0:
        return J.constant(v)
    if k == 1:
        return J.linear(v, w, n)
    if k == 2:
        return J.cosine(v, w, n, exponent=draw(st.none() | st.floats(0, 4, width=32)))
    if k == 3:
        return J.polynomial(v, w, n, power=draw(st.floats(0, 4, width=32)))
    if k == 4:
        return J.exponential(
            v,
            draw(st.floats(0.125, 2.0, width=32)),
            draw(positive),
            staircase=draw(st.booleans()),
            end_value=draw(st.none() | finite),
        )
    if k == 5:
        return J.inverse_sqrt(v, draw(positive))
    if k == 6:
        return J.sqrt_decay(v, w, n, power=draw(st.none() | st.floats(0.125, 3, width=32)))
    if k in (7, 8):
        b = sorted(draw(st.lists(lengths, min_size=1, max_size=4)))
        vals = draw(st.lists(finite, min_size=len(b) + (k == 7), max_size=len(b) + (k == 7)))
        return J.piecewise_constant(vals, b) if k == 7 else J.piecewise_linear(vals, b)
    total = draw(st.integers(10, 500))
    wu = draw(st.integers(0, total // 2))
    if k == 9:
        return J.warmup_cosine(v, total, wu, init_value=w)
    if k == 10:
        return J.wsd(v, total, wu, decay_fraction=draw(st.floats(0, 0.5)), decay_shape=draw(st.integers(0, 2)))
    if k == 11:
        return J.onecycle(
            draw(positive),
            total,
            pct_start=draw(st.floats(0.05, 0.45)),
            three_phase=draw(st.booleans()),
            anneal_strategy=draw(st.sampled_from(["cos", "linear"])),
        )
    if k == 12:
        return J.sgdr(
            v,
            draw(positive),
            period_mult=draw(st.floats(0.5, 3.0)),
            decay=draw(st.floats(0, 1)),
            cycles=draw(st.sampled_from([1, 3, math.inf])),
        )
    if k == 13:
        return J.cyclic(v, w, draw(st.integers(1, 50)), mode=draw(st.integers(0, 2)), gamma=draw(st.floats(0.9, 1.0)))
    if k == 14:
        return J.linear_to_zero(v, total, wu)
    return J.warmup_inverse_sqrt(v, draw(st.integers(1, 100)))


def _extend(children: st.SearchStrategy[Schedule]) -> st.SearchStrategy[Schedule]:
    J = jaxsched

    @st.composite
    def node(draw: Any) -> Schedule:
        k = draw(st.integers(0, 7))
        a = draw(children)
        if k == 0:
            rest = draw(st.lists(children, min_size=0, max_size=2))
            b = sorted(draw(st.lists(lengths, min_size=len(rest), max_size=len(rest))))
            return J.join([a, *rest], b)
        if k == 1:
            return J.warmup(a, draw(lengths), init_value=draw(finite))
        if k == 2:
            return J.repeat(
                a,
                draw(positive),
                period_mult=draw(st.floats(0.5, 2.0)),
                decay=draw(st.floats(0, 1)),
                cycles=draw(st.sampled_from([1, 2, math.inf])),
            )
        if k == 3:
            rest = draw(st.lists(children, min_size=1, max_size=2))
            return J.select(draw(st.integers(0, len(rest))), [a, *rest])
        if k == 4:
            lo = draw(st.none() | finite)
            return J.clip(a, lo=lo, hi=None if lo is None else lo + draw(st.floats(0, 5)))
        if k == 5:
            return draw(st.sampled_from([J.minimum, J.maximum]))(a, draw(children))
        if k == 6:
            return a + draw(children)
        return a * draw(finite)

    return node()


random_schedules = st.recursive(leaf_schedules(), _extend, max_leaves=5)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_schedules)
def test_roundtrip_random_schedules(s: Schedule) -> None:
    back = roundtrip(s)
    assert_same(s, back)
    np.testing.assert_array_equal(np.asarray(values(s)), np.asarray(values(back)))


# ----------------------------------------------------------------------------- the name registry

SAMPLE_ARGS: dict[str, dict[str, Any]] = {
    "constant": {"value": 0.1},
    "linear": {"init_value": 1.0, "end_value": 0.0, "steps": 10},
    "cosine": {"init_value": 1.0, "end_value": 0.0, "steps": 10},
    "polynomial": {"init_value": 1.0, "end_value": 0.0, "steps": 10, "power": 2.0},
    "exponential": {"init_value": 1.0, "decay_rate": 0.5, "decay_steps": 10},
    "inverse_sqrt": {"init_value": 1.0, "timescale": 10},
    "sqrt_decay": {"init_value": 1.0, "end_value": 0.0, "steps": 10},
    "cooldown": {"init_value": 1.0, "end_value": 0.0, "steps": 10, "shape": "cosine"},
    "piecewise_constant": {"values": [1.0, 0.1], "boundaries": [5]},
    "piecewise_linear": {"values": [0.0, 1.0], "boundaries": [0, 5]},
    "warmup_cosine": {"peak_value": 1.0, "total_steps": 100, "warmup_steps": 10},
    "wsd": {"peak_value": 1.0, "total_steps": 100, "warmup_steps": 10, "decay_shape": "cosine"},
    "onecycle": {"peak_value": 1.0, "total_steps": 100},
    "onecycle_momentum": {"total_steps": 100},
    "sgdr": {"peak_value": 1.0, "period": 10, "period_mult": 2.0},
    "cyclic": {"base_value": 0.1, "max_value": 1.0, "step_size_up": 5, "mode": "triangular2"},
    "linear_to_zero": {"peak_value": 1.0, "total_steps": 100, "warmup_steps": 10},
    "warmup_inverse_sqrt": {"peak_value": 1.0, "warmup_steps": 10},
    "join": {
        "schedules": [jaxsched.constant(1.0), {"name": "linear", "init_value": 1.0, "end_value": 0.0, "steps": 5}],
        "boundaries": [3],
    },
    "warmup": {"schedule": {"name": "cosine", "init_value": 1.0, "end_value": 0.0, "steps": 50}, "steps": 5},
    "select": {"index": 1, "schedules": [{"name": "constant", "value": 1.0}, {"name": "constant", "value": 2.0}]},
    "repeat": {"schedule": {"type": "Linear", "init_value": 1.0, "end_value": 0.0, "steps": 10.0}, "period": 10},
    "clip": {"schedule": {"name": "linear", "init_value": 0.0, "end_value": 1.0, "steps": 10}, "lo": 0.2, "hi": 0.8},
    "minimum": {"schedules": [{"name": "linear", "init_value": 0.0, "end_value": 1.0, "steps": 10}, 0.5]},
    "maximum": {"schedules": [{"name": "linear", "init_value": 1.0, "end_value": 0.0, "steps": 10}, 0.25]},
}


def test_every_native_name_builds() -> None:
    native = [n for n in names() if not n.startswith("hf:")]
    assert sorted(native) == sorted(SAMPLE_ARGS)
    for n in native:
        s = get(n, **SAMPLE_ARGS[n])
        assert isinstance(s, Schedule), n
        assert np.isfinite(np.asarray(values(s))).all(), n
        assert_same(s, roundtrip(s))
        # The same spec works inside a config.
        assert_same(s, from_config({"name": n, **SAMPLE_ARGS[n]}) if n not in ("join",) else s)


def test_get_matches_the_factories() -> None:
    assert_same(
        get("warmup_cosine", peak_value=1.0, total_steps=100, warmup_steps=10),
        jaxsched.warmup_cosine(1.0, total_steps=100, warmup_steps=10),
    )
    assert_same(get("WSD", peak_value=1.0, total_steps=100), jaxsched.wsd(1.0, total_steps=100))
    assert_same(get("warmup-cosine", peak_value=1.0, total_steps=10), jaxsched.warmup_cosine(1.0, 10))

    # Arrays pass through, traced ones too: get() works inside jit and vmap.
    @jax.jit
    @jax.vmap
    def at_50(peak: jax.Array) -> jax.Array:
        return get("warmup_cosine", peak_value=peak, total_steps=100, warmup_steps=10)(50)

    peaks = jnp.asarray([1.0, 2.0])
    want = [float(jaxsched.warmup_cosine(p, total_steps=100, warmup_steps=10)(50)) for p in (1.0, 2.0)]
    np.testing.assert_allclose(np.asarray(at_50(peaks)), want, rtol=1e-6)


def test_get_errors_list_what_is_valid() -> None:
    with pytest.raises(
        ValueError, match=r"unknown schedule name 'cosin'\. Did you mean 'cosine'.*Valid names: constant"
    ):
        get("cosin", init_value=1.0)
    with pytest.raises(
        TypeError,
        match=r"cosine: unknown argument\(s\) init; valid arguments: init_value, end_value, "
        r"steps, exponent=None",
    ):
        get("cosine", init=1.0)
    with pytest.raises(TypeError, match=r"missing argument\(s\) end_value, steps"):
        get("cosine", init_value=1.0)
    with pytest.raises(ValueError, match=r"warmup_cosine: peak_value must be finite"):
        get("warmup_cosine", peak_value=math.inf, total_steps=10)
    with pytest.raises(ValueError, match=r"steps overflows float32"):
        get("cosine", init_value=1.0, end_value=0.0, steps=1e300)
    with pytest.raises(TypeError, match="a schedule name must be a string"):
        get(3)  # type: ignore[arg-type]


class AttrDict(Mapping):
    """A read-only mapping like OmegaConf's DictConfig (not a dict)."""

    def __init__(self, **kw: Any):
        self._d = kw

    def __getitem__(self, k: str) -> Any:
        return self._d[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)


class ToDict:
    """Like ml_collections.ConfigDict: not a Mapping, but has to_dict()."""

    def __init__(self, **kw: Any):
        self._d = kw

    def to_dict(self) -> dict[str, Any]:
        return {k: v.to_dict() if isinstance(v, ToDict) else v for k, v in self._d.items()}


def test_hydra_and_ml_collections_style_configs() -> None:
    want = jaxsched.warmup(jaxsched.cosine(1.0, 0.0, 90), 10)
    # Hydra: `_target_: jaxsched.get` with the name and arguments; nested nodes are mappings.
    cfg = AttrDict(name="warmup", steps=10, schedule=AttrDict(name="cosine", init_value=1.0, end_value=0.0, steps=90))
    assert_same(get(**cfg), want)
    assert_same(from_config(cfg), want)
    hydra_node = {"_target_": "jaxsched.get", "_recursive_": False, **cfg}  # as written in a Hydra YAML
    assert_same(from_config(hydra_node), want)
    # ml_collections: a ConfigDict-like object with to_dict(), and tuples for lists.
    ml = ToDict(
        name="join",
        boundaries=(10,),
        schedules=(ToDict(name="linear", init_value=0.0, end_value=1.0, steps=10), ToDict(name="constant", value=1.0)),
    )
    assert_same(from_config(ml), jaxsched.join([jaxsched.linear(0.0, 1.0, 10), jaxsched.constant(1.0)], [10]))
    # A full config inside a larger experiment config.
    exp = {"optimizer": "adamw", "schedule": to_config(want)}
    assert_same(from_config(exp["schedule"]), want)


def test_hf_names_without_the_compat_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jaxsched.compat.transformers", None)
    with pytest.raises(ValueError, match="need jaxsched.compat.transformers"):
        get("hf:cosine", lr=1.0, num_warmup_steps=0, num_training_steps=10)


def test_hf_names() -> None:
    hf = pytest.importorskip("jaxsched.compat.transformers")
    assert [n for n in names() if n.startswith("hf:")] == ["hf:" + n for n in HF_NAMES]
    want = hf.get_scheduler(
        "cosine", lr=2.0, num_warmup_steps=10, num_training_steps=100, scheduler_specific_kwargs={"num_cycles": 1.0}
    )
    # Flat or nested scheduler_specific_kwargs; 'hf:', 'transformers:' and 'transformers.' prefixes.
    assert_same(get("hf:cosine", lr=2.0, num_warmup_steps=10, num_training_steps=100, num_cycles=1.0), want)
    assert_same(
        get(
            "transformers.cosine",
            lr=2.0,
            num_warmup_steps=10,
            num_training_steps=100,
            scheduler_specific_kwargs={"num_cycles": 1.0},
        ),
        want,
    )
    assert_same(
        from_config(
            {
                "name": "transformers:cosine",
                "lr": 2.0,
                "num_warmup_steps": 10,
                "num_training_steps": 100,
                "num_cycles": 1.0,
            }
        ),
        want,
    )
    # Non-colliding names work without the prefix; colliding ones are native.
    assert_same(
        get("constant_with_warmup", lr=1.0, num_warmup_steps=5),
        hf.get_scheduler("constant_with_warmup", lr=1.0, num_warmup_steps=5),
    )
    assert type(get("cosine", init_value=1.0, end_value=0.0, steps=10)) is jaxsched.Cosine
    with pytest.raises(TypeError, match="missing argument lr"):
        get("hf:linear", num_warmup_steps=1, num_training_steps=10)
    # A setting given flat and nested: one of the two values was dropped silently.
    with pytest.raises(TypeError, match="num_cycles given both directly and in scheduler_specific_kwargs"):
        get("hf:cosine", lr=1.0, num_warmup_steps=10, num_training_steps=100, num_cycles=1.0,
            scheduler_specific_kwargs={"num_cycles": 0.25})
    with pytest.raises(ValueError, match="unknown transformers schedule 'cosin'"):
        get("hf:cosin", lr=1.0)
    s = get("hf:warmup_stable_decay", lr=1.0, num_warmup_steps=10, num_training_steps=100, num_decay_steps=20)
    assert_same(s, roundtrip(s))
    # A misspelt argument, given flat: "constant_with_warmup" (like transformers) drops what it does not read,
    # so it was accepted without a word; every unknown one lists what is valid.
    with pytest.raises(TypeError, match="unknown argument.s. num_trainng_steps; valid arguments: .*last_epoch"):
        get("hf:constant_with_warmup", lr=1.0, num_warmup_steps=10, num_trainng_steps=100)
    with pytest.raises(TypeError, match="unknown argument.s. num_cycle; valid arguments: .*num_cycles"):
        get("hf:cosine", lr=1.0, num_warmup_steps=10, num_training_steps=100, num_cycle=2)
    with pytest.raises(TypeError, match="unknown scheduler_specific_kwargs num_cycle; valid arguments: .*num_cycles"):
        get("hf:cosine", lr=1.0, num_warmup_steps=10, num_training_steps=100,
            scheduler_specific_kwargs={"num_cycle": 2})
    # nested ones are transformers' own: "constant_with_warmup" drops them, as transformers does
    assert_same(get("hf:constant_with_warmup", lr=1.0, num_warmup_steps=5, scheduler_specific_kwargs={"x": 1}),
                hf.get_scheduler("constant_with_warmup", lr=1.0, num_warmup_steps=5))


def test_the_api_doc_lists_every_native_name() -> None:
    api = (Path(__file__).parents[1] / "docs" / "api.md").read_text()
    listed = re.search(r"Registry names\. Native: (.*?)\(the arguments", api, re.S)
    assert listed is not None
    assert re.findall(r"`([a-z_]+)`", listed.group(1)) == [n for n in names() if ":" not in n]


# ----------------------------------------------------------------------------- registering classes


def test_register_hook_for_new_classes() -> None:
    @pytree
    class Halving(Schedule):
        value: jax.Array
        every: jax.Array
        floor: bool = jaxsched._base.static_field(default=True)

        def _eval(self, t: jax.Array) -> jax.Array:
            x = t.astype(self.value.dtype) / self.every
            return self.value * 0.5 ** (jnp.floor(x) if self.floor else x)

    s = Halving(jnp.float32(1.0), jnp.float32(10.0))
    with pytest.raises(TypeError, match="not a registered jaxsched schedule class.*register"):
        to_config(s)
    try:
        register(Halving, name="test.Halving")
        cfg = to_config(s)
        assert cfg["schedule"] == {"type": "test.Halving", "value": 1.0, "every": 10.0, "floor": True}
        assert_same(s, roundtrip(s))
        with pytest.raises(TypeError, match="floor must be a bool"):
            from_config({"type": "test.Halving", "value": 1.0, "every": 10.0, "floor": "yes"})
        with pytest.raises(ValueError, match="already used"):
            register(jaxsched.Cosine, name="test.Halving")
    finally:
        C._BY_NAME.pop("test.Halving", None)
        C._BY_CLASS.pop(Halving, None)


def test_registering_a_core_class_again_keeps_its_bounds() -> None:
    # The bounds live on the class (_config_bounds), so a second register() with no options keeps them.
    cfg = to_config(jaxsched.cosine(1.0, 0.0, 10))
    cfg["schedule"]["steps"] = -1.0
    register(jaxsched.Cosine)
    with pytest.raises(ValueError, match=r"steps must be >= 0, got -1.0"):
        from_config(cfg)


def test_compat_classes_are_found_by_name() -> None:
    torch_compat = pytest.importorskip("jaxsched.compat.torch")
    s = torch_compat.StepLR(0.1, step_size=10, gamma=0.5)
    assert_same(s, roundtrip(s))
    assert to_config(s)["schedule"]["type"] == "compat.torch.Multiplicative"
    # Callables (LambdaLR with a Python function) never go into a config.
    with pytest.raises(TypeError, match="callable"):
        to_config(torch_compat.LambdaLR(0.1, lambda k: 0.9**k))
    with pytest.raises(ValueError, match="unknown schedule type 'compat.nothere.X'"):
        from_config({"type": "compat.nothere.X"})


# ----------------------------------------------------------------------------- malformed configs

GOOD = {
    "format": FORMAT,
    "schedule": to_config(
        jaxsched.join(
            [
                jaxsched.warmup(jaxsched.cosine(1.0, 0.0, 90), 10),
                jaxsched.select(1, [jaxsched.constant(0.1), jaxsched.linear(0.1, 0.0, 50)]),
            ],
            [100],
        )
    )["schedule"],
}
GOOD_GRID = to_config(jaxsched.grid(jaxsched.sgdr, peak_value=[0.1, 0.2], period=10, cycles=3))
GOOD_SPEC = {"name": "wsd", "peak_value": 1e-3, "total_steps": 1000, "warmup_steps": 100, "decay_shape": "1-sqrt"}

BAD_CASES: list[tuple[Any, type, str]] = [
    ([], TypeError, "a config must be a dict"),
    ("jaxsched/1", TypeError, "a config must be a dict"),
    ({}, ValueError, "needs 'format'"),
    ({"format": FORMAT}, ValueError, "has no 'schedule'"),
    ({"format": FORMAT, "schedule": {}, "extra": 1}, ValueError, r"unknown top-level key\(s\) \['extra'\]"),
    ({"format": FORMAT, "schedule": 3}, TypeError, "schedule must be a schedule"),
    (
        {"format": FORMAT, "schedule": {"type": "Evil", "value": 1}},
        ValueError,
        "unknown schedule type 'Evil'; valid types: ",
    ),
    ({"format": FORMAT, "schedule": {"type": "os.system"}}, ValueError, "unknown schedule type 'os.system'"),
    ({"format": FORMAT, "schedule": {"type": "Constant"}}, ValueError, "missing field 'value' for Constant"),
    (
        {"format": FORMAT, "schedule": {"type": "Constant", "value": 1.0, "x": 2}},
        ValueError,
        r"unknown field\(s\) \['x'\]",
    ),
    ({"format": FORMAT, "schedule": {"type": "Constant", "value": float("nan")}}, ValueError, "must not be NaN"),
    (
        {"format": FORMAT, "schedule": {"type": "Constant", "value": "NaN"}},
        TypeError,
        "expected a number, got the string",
    ),
    ({"format": FORMAT, "schedule": {"type": "Constant", "value": "inf"}}, ValueError, "value must be finite"),
    ({"format": FORMAT, "schedule": {"type": "Constant", "value": 1e39}}, ValueError, "overflow float32"),
    ({"format": FORMAT, "schedule": {"type": "Constant", "value": 10**400}}, ValueError, "too large"),
    ({"format": FORMAT, "schedule": {"type": "Constant", "value": True}}, TypeError, "got a boolean"),
    ({"format": FORMAT, "schedule": {"type": "Constant", "value": None}}, TypeError, "must not be null"),
    ({"format": FORMAT, "schedule": {"type": "Constant", "value": [[1.0], [2.0, 3.0]]}}, ValueError, "rectangular"),
    ({"format": FORMAT, "schedule": {"type": "Constant", "value": [1.0, 2.0]}}, ValueError,
     r"leaf shapes do not match.*; leaves of leading shape \[2\]: schedule\.value$"),
    (  # the error names the leaf that carries the extra axis, however deep
        {"format": FORMAT, "schedule": {"type": "Warmup", "steps": 5.0, "init_value": 0.0, "schedule": {
            "type": "Cosine", "init_value": 1.0, "end_value": 0.0, "steps": [90.0, 80.0, 70.0]}}},
        ValueError,
        r"values of shape \[3\], expected \[\].*: schedule\.schedule\.steps$",
    ),
    ({"format": FORMAT, "schedule": {"type": "Constant", "value": {"a": 1}}}, ValueError, "tagged leaf"),
    (
        {"format": FORMAT, "schedule": {"type": "Warmup", "schedule": 1.0, "steps": 1.0, "init_value": 0.0}},
        TypeError,
        r"schedule\.schedule must be a schedule",
    ),
    ({"format": FORMAT, "schedule": {"type": "Join", "schedules": [], "boundaries": []}}, TypeError, "non-empty list"),
    (
        {
            "format": FORMAT,
            "schedule": {
                "type": "Join",
                "schedules": [{"name": "constant", "value": 1.0}] * 2,
                "boundaries": [1.0, 5.0],
            },
        },
        ValueError,
        "len\\(boundaries\\) == len\\(schedules\\) - 1",
    ),
    (
        {
            "format": FORMAT,
            "schedule": {"type": "PiecewiseConstant", "values": [1.0, 2.0, 3.0], "boundaries": [5.0, 1.0]},
        },
        ValueError,
        "non-decreasing",
    ),
    (
        {
            "format": FORMAT,
            "schedule": {"type": "Extremum", "schedules": [{"name": "constant", "value": 1.0}], "op": "sum"},
        },
        ValueError,
        r"op must be one of \['min', 'max'\]",
    ),
    (
        {
            "format": FORMAT,
            "schedule": {
                "type": "Exponential",
                "init_value": 1.0,
                "decay_rate": 0.5,
                "decay_steps": 1.0,
                "staircase": 1,
            },
        },
        TypeError,
        "staircase must be a bool",
    ),
    (
        {"format": FORMAT, "batch_shape": [-1], "schedule": {"type": "Constant", "value": 1.0}},
        ValueError,
        "positive integers",
    ),
    (
        {"format": FORMAT, "batch_shape": [2], "schedule": {"type": "Constant", "value": 1.0}},
        ValueError,
        "leading batch shape",
    ),
    ({"name": "nope"}, ValueError, "unknown schedule name 'nope'"),
    ({"name": "cosine", "init_value": 1.0}, TypeError, "missing argument"),
    (
        {"name": "cosine", "init_value": "1", "end_value": 0.0, "steps": 1},
        TypeError,
        "init_value must be a real number",
    ),
    ({"name": "cosine", "type": "Cosine"}, ValueError, "not both"),
    ({"name": ["constant"]}, TypeError, "name must be a string"),
    (
        {"format": FORMAT, "schedule": {"type": "Constant", "value": 1.0}, "settings": {"a": [1]}},
        ValueError,
        "settings",
    ),
    ({1: 2}, TypeError, "keys must be strings"),
    ({"name": "constant", "value": object()}, TypeError, "configs hold only"),
]


@pytest.mark.parametrize("cfg,exc,msg", BAD_CASES, ids=range(len(BAD_CASES)))
def test_malformed_configs(cfg: Any, exc: type, msg: str) -> None:
    with pytest.raises(exc, match=msg):
        from_config(cfg)


_C1 = {"type": "Constant", "value": 1.0}
# A config naming a class directly is held to the ranges its factory checks: (factory call, config).
STRUCTURAL_OUT_OF_RANGE = [
    (lambda: jaxsched.linear(1.0, 0.0, -3), {"type": "Linear", "init_value": 1.0, "end_value": 0.0, "steps": -3},
     "steps must be >= 0"),
    (lambda: jaxsched.cosine(1.0, 0.0, 10, exponent=-1.0),
     {"type": "Cosine", "init_value": 1.0, "end_value": 0.0, "steps": 10, "exponent": -1.0}, "exponent must be >= 0"),
    (lambda: jaxsched.polynomial(1.0, 0.0, 10, power=-1),
     {"type": "Polynomial", "init_value": 1.0, "end_value": 0.0, "steps": 10, "power": -1}, "power must be >= 0"),
    (lambda: jaxsched.sqrt_decay(1.0, 0.0, 10, power=0.0),
     {"type": "SqrtDecay", "init_value": 1.0, "end_value": 0.0, "steps": 10, "power": 0.0}, "power must be > 0"),
    (lambda: jaxsched.exponential(1.0, -0.5, 10),
     {"type": "Exponential", "init_value": 1.0, "decay_rate": -0.5, "decay_steps": 10}, "decay_rate must be >= 0"),
    (lambda: jaxsched.exponential(1.0, 0.5, 0),
     {"type": "Exponential", "init_value": 1.0, "decay_rate": 0.5, "decay_steps": 0}, "decay_steps must be > 0"),
    (lambda: jaxsched.inverse_sqrt(1.0, -10), {"type": "InverseSqrt", "init_value": 1.0, "timescale": -10},
     "timescale must be > 0"),
    (lambda: jaxsched.cooldown(1.0, 0.0, -1), {"type": "Cooldown", "init_value": 1.0, "end_value": 0.0, "steps": -1,
                                               "shape": 0}, "steps must be >= 0"),
    (lambda: jaxsched.repeat(jaxsched.constant(1.0), 0),
     {"type": "Repeat", "schedule": _C1, "period": 0, "period_mult": 1, "decay": 1, "cycles": "inf"},
     "period must be > 0"),
    (lambda: jaxsched.repeat(jaxsched.constant(1.0), 10, 0.0),
     {"type": "Repeat", "schedule": _C1, "period": 10, "period_mult": 0, "decay": 1, "cycles": "inf"},
     "period_mult must be > 0"),
    (lambda: jaxsched.repeat(jaxsched.constant(1.0), 10, decay=-1),
     {"type": "Repeat", "schedule": _C1, "period": 10, "period_mult": 1, "decay": -1, "cycles": "inf"},
     "decay must be >= 0"),
    (lambda: jaxsched.repeat(jaxsched.constant(1.0), 10, cycles=-math.inf),
     {"type": "Repeat", "schedule": _C1, "period": 10, "period_mult": 1, "decay": 1, "cycles": "-inf"},
     "cycles must be >= 0"),
    (lambda: jaxsched.clip(jaxsched.constant(1.0), 1.0, 0.0), {"type": "Clip", "schedule": _C1, "lo": 1.0, "hi": 0.0},
     "lo <= hi"),
    # Out of range as written, in range once rounded to float32 (-0.0, 1.0): checked as written, as the
    # factory checks it (the config was accepted)...
    (lambda: jaxsched.linear(1.0, 0.0, -1e-50), {"type": "Linear", "init_value": 1.0, "end_value": 0.0,
                                                  "steps": -1e-50}, "steps must be >= 0"),
    (lambda: jaxsched.repeat(jaxsched.constant(1.0), 10, cycles=-1e-50),
     {"type": "Repeat", "schedule": _C1, "period": 10, "period_mult": 1, "decay": 1, "cycles": -1e-50},
     "cycles must be >= 0"),
    # ...and in range as written, out of it once rounded (0.0): checked as stored, by the factory too (its
    # schedule's own config was refused)
    (lambda: jaxsched.repeat(jaxsched.constant(1.0), 1e-50),
     {"type": "Repeat", "schedule": _C1, "period": 1e-50, "period_mult": 1, "decay": 1, "cycles": "inf"},
     "period must be > 0"),
    (lambda: jaxsched.minimum(jaxsched.constant(1.0)), {"type": "Extremum", "op": "min", "schedules": [_C1]},
     "at least 2 operands"),
]


@pytest.mark.parametrize("factory,cfg,msg", STRUCTURAL_OUT_OF_RANGE, ids=range(len(STRUCTURAL_OUT_OF_RANGE)))
def test_a_config_naming_a_class_is_held_to_its_factorys_ranges(factory: Any, cfg: Any, msg: str) -> None:
    with pytest.raises(ValueError):
        factory()  # the factory refuses the value...
    with pytest.raises(ValueError, match=msg):
        from_config(cfg)  # ...and so does a config that builds the class without it
    with pytest.raises(ValueError, match=msg):  # batched too: every member is checked
        from_config({"format": FORMAT, "batch_shape": [2], "schedule": _batched(cfg)})


def _batched(node: Any) -> Any:
    """``node`` with each number leaf repeated for two batch members, the first one in range."""
    if isinstance(node, dict):
        return {k: (v if k in ("type", "op") else _batched(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_batched(x) for x in node]
    return [1.0 if isinstance(node, (int, float)) else node, node]


def test_bounds_are_declared_for_fields_that_exist() -> None:
    @pytree
    class Tmp(Schedule):
        steps: jax.Array

    with pytest.raises(ValueError, match="not a field"):
        register(Tmp, bounds={"stepz": ">= 0"})
    with pytest.raises(ValueError, match="like '>= 0'"):
        register(Tmp, bounds={"steps": "=> 0"})


def test_deep_nesting_and_huge_inputs_fail_fast() -> None:
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="nested too deeply"):
        from_json("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        from_json('{"a":' * 200_000 + "1" + "}" * 200_000)
    node: Any = {"type": "Constant", "value": 1.0}
    for _ in range(500):
        node = {"type": "Warmup", "schedule": node, "steps": 1.0, "init_value": 0.0}
    with pytest.raises(ValueError, match="nested (deeper than|too deeply)"):
        from_config({"format": FORMAT, "schedule": node})
    with pytest.raises(ValueError, match="nested too deeply|deeper"):
        from_json(json.dumps({"format": FORMAT, "schedule": node}))
    deep_list: Any = 1.0
    for _ in range(40):
        deep_list = [deep_list]
    with pytest.raises(ValueError, match="at most 8 dimensions|nested"):
        from_config({"type": "Constant", "value": deep_list})
    with pytest.raises(ValueError, match="exceeds the limit"):
        from_config({"type": "Constant", "value": [0.0] * 1_000_001})
    many = {"type": "Sum", "terms": [{"type": "Constant", "value": 1.0}] * 5000}
    with pytest.raises(ValueError, match="at most 4096 schedules"):
        from_config(many)
    with pytest.raises(ValueError, match="invalid JSON"):
        from_json('{"format": ')
    # a key twice: json keeps the last value and drops the other without a word
    with pytest.raises(ValueError, match="invalid JSON: the key 'value' is given twice"):
        from_json('{"name": "constant", "value": 0.5, "value": 0.7}')
    with pytest.raises(TypeError, match="expects JSON text"):
        from_json(None)  # type: ignore[arg-type]
    assert time.perf_counter() - t0 < 20


JUNK = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    -1e30,
    1e39,
    10**30,
    float("nan"),
    float("inf"),
    "",
    "inf",
    "Cosine",
    "x" * 50,
    [],
    [1.0],
    [[1.0, 2.0]],
    [None],
    {},
    {"type": "Nope"},
    {"name": "constant"},
    {"type": "Constant", "value": 1.0},
    {"dtype": "int32", "value": 1},
    [{"type": "Constant", "value": 1.0}],
    [[[[[[[[[[1.0]]]]]]]]]],
]


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


def _mutate(cfg: Any, path: tuple, op: str, junk: Any, key: str) -> Any:
    cfg = copy.deepcopy(cfg)
    if not path:
        return junk if op == "replace" else cfg
    parent = cfg
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    if op == "replace":
        parent[last] = junk
    elif op == "delete":
        del parent[last]
    elif op == "add" and isinstance(parent, dict):
        parent[key] = junk
    elif op == "nest":
        parent[last] = (
            [parent[last]] * 2 if not isinstance(parent[last], dict) else {"type": "Warmup", "schedule": parent[last]}
        )
    return cfg


@st.composite
def malformed(draw: Any) -> Any:
    base = draw(st.sampled_from([GOOD, GOOD_GRID, GOOD_SPEC]))
    cfg = base
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(cfg)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "nest"]))
        cfg = _mutate(
            cfg, path, op, draw(st.sampled_from(JUNK)), draw(st.sampled_from(["type", "name", "steps", "zzz"]))
        )
    return cfg


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(malformed())
def test_fuzzed_configs_raise_only_value_or_type_errors(cfg: Any) -> None:
    try:
        text = json.dumps(cfg)
    except (TypeError, ValueError):
        text = None
    for load in (from_config, from_json):
        arg = cfg if load is from_config else text
        if arg is None:
            continue
        try:
            out = load(arg)
        except (ValueError, TypeError) as e:
            msg = str(e)
            assert msg and "\n" not in msg.strip() or len(msg) < 2000, msg
            continue
        # Whatever loads is a working schedule (or grid).
        assert isinstance(out, (Schedule, jaxsched.Grid))


# ----------------------------------------------------------------------------- the recipes run


def _blocks(path: str) -> list[str]:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / path).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("i", range(len(_blocks("docs/recipes.md"))))
def test_recipes_run(i: int, capsys: pytest.CaptureFixture[str]) -> None:
    needed = ("to_json", "from_json", "from_config", "get", "phases", "describe", "plateau", "scheduled")
    missing = [n for n in needed if not hasattr(jaxsched, n)]
    if missing:
        pytest.skip(f"jaxsched does not export {missing} yet")
    code = _blocks("docs/recipes.md")[i]
    os.environ.setdefault("KERAS_BACKEND", "jax")
    for lib in ("torch", "keras", "optax"):
        if f"import {lib}" in code:
            pytest.importorskip(lib)
    if "import keras" in code:
        keras = pytest.importorskip("keras")
        if keras.backend.backend() != "jax":
            pytest.skip("the recipe uses Keras on its JAX backend")
    with jax.numpy_dtype_promotion("standard"):  # snippets are user code, under default promotion
        exec(compile(code, f"docs/recipes.md[block {i}]", "exec"), {"__name__": "recipe"})
    capsys.readouterr()


# ----------------------------------------------------------------------------- compat classes in configs

# A compat class named in a config is held to the ranges its factories check (``_config_bounds``):
# (module, factory, class, field, bound, an out-of-range value).
COMPAT_OUT_OF_RANGE = [
    ("keras", lambda m: m.InverseTimeDecay(1.0, 10, 0.5), "InverseTime", "decay_rate", ">= 0", -0.5),
    ("keras", lambda m: m.InverseTimeDecay(1.0, 10, 0.5), "InverseTime", "decay_steps", "> 0", 0.0),
    ("keras", lambda m: m.PolynomialDecay(1.0, 10, power=2.0, cycle=True), "PolynomialCycle", "steps", "> 0", 0.0),
    ("keras", lambda m: m.PolynomialDecay(1.0, 10, power=2.0, cycle=True), "PolynomialCycle", "power", ">= 0", -1.0),
    ("optax", lambda m: m.linear_schedule(1.0, 0.0, 10, transition_begin=5), "Delayed", "begin", ">= 0", -1.0),
    ("timm", lambda m: m.CosineLRScheduler(1.0, 10, k_decay=2.0), "KDecayCosine", "steps", "> 0", 0.0),
    ("timm", lambda m: m.CosineLRScheduler(1.0, 10, k_decay=2.0), "KDecayCosine", "k_decay", ">= 0", -1.0),
    ("timm", lambda m: m.PolyLRScheduler(1.0, 10, k_decay=2.0), "KDecayPolynomial", "steps", "> 0", 0.0),
    ("timm", lambda m: m.PolyLRScheduler(1.0, 10, k_decay=2.0), "KDecayPolynomial", "power", ">= 0", -0.5),
    ("timm", lambda m: m.PolyLRScheduler(1.0, 10, k_decay=2.0), "KDecayPolynomial", "k_decay", ">= 0", -1.0),
    ("timm", lambda m: m.TanhLRScheduler(1.0, 10), "TanhDecay", "steps", "> 0", 0.0),
    ("timm", lambda m: m.CosineLRScheduler(1.0, 10, warmup_t=2), "TimmWarmup", "steps", ">= 0", -2.0),
    ("timm", lambda m: m.CosineLRScheduler(1.0, 10, noise_range_t=(2, 8)), "Noise", "lo", ">= 0", -1.0),
    ("timm", lambda m: m.CosineLRScheduler(1.0, 10, noise_range_t=(2, 8)), "Noise", "hi", ">= 0", -1.0),
    ("timm", lambda m: m.CosineLRScheduler(1.0, 10, noise_range_t=(2, 8)), "Noise", "pct", "> 0", 0.0),
    ("timm", lambda m: m.CosineLRScheduler(1.0, 10, noise_range_t=(2, 8)), "Noise", "std", ">= 0", -1.0),
    ("torch", lambda m: m.CyclicLR(0.0, 1.0, step_size_up=2, scale_fn=jaxsched.constant(0.5)), "_CycleScale",
     "period", "> 0", 0.0),
    ("torch", lambda m: m.CosineAnnealingLR(1.0, 10), "_Mirror", "steps", "> 0", 0.0),
    ("torch", lambda m: m.SequentialLR([m.ConstantLR(1.0, 0.5, 2), m.MultiplicativeLR(1.0, jaxsched.constant(0.9),
                                        max_steps=8)], [3]), "_Continued", "at", ">= 0", -1.0),
    ("transformers", lambda m: m.get_cosine_schedule_with_warmup(1.0, 10, 110), "CosineWave", "steps", "> 0", 0.0),
    ("transformers", lambda m: m.get_cosine_with_hard_restarts_schedule_with_warmup(1.0, 10, 110, 3),
     "CosineHardRestarts", "steps", "> 0", 0.0),
    ("transformers", lambda m: m.get_cosine_with_hard_restarts_schedule_with_warmup(1.0, 10, 110, 3),
     "CosineHardRestarts", "cycles", ">= 0", -1.0),
]


def _node_of_type(node: Any, name: str) -> Any:
    """The first schedule node of config type ``name`` in ``node``, depth first (None if there is none)."""
    kids = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    if isinstance(node, dict) and node.get("type") == name:
        return node
    return next((n for n in (_node_of_type(k, name) for k in kids) if n is not None), None)


@pytest.mark.parametrize(
    "mod,factory,cls,field,bound,bad", COMPAT_OUT_OF_RANGE, ids=[f"{c[2]}.{c[3]}" for c in COMPAT_OUT_OF_RANGE]
)
def test_a_config_naming_a_compat_class_is_held_to_its_factorys_ranges(
    mod: str, factory: Any, cls: str, field: str, bound: str, bad: float
) -> None:
    s = factory(pytest.importorskip(f"jaxsched.compat.{mod}"))
    cfg = to_config(s)
    assert_same(s, from_config(copy.deepcopy(cfg)))  # in range, it loads as it was
    node = _node_of_type(cfg["schedule"], f"compat.{mod}.{cls}")
    assert node is not None and field in node, (cls, field)
    node[field] = bad
    with pytest.raises(ValueError, match=rf"\.{field} must be {bound}, got {bad}"):
        from_config(cfg)


def _compat_classes_declaring(attr: str) -> Iterator[tuple[str, type]]:
    """``(module, class)`` for each compat class that declares ``attr`` itself (not inherited)."""
    import importlib

    for m in C._compat_modules():
        mod = importlib.import_module(f"jaxsched.compat.{m}")
        for obj in vars(mod).values():
            if isinstance(obj, type) and obj.__module__ == mod.__name__ and attr in vars(obj):
                yield m.lstrip("_"), obj


def test_every_compat_bound_is_tested() -> None:
    declared = {
        (m, c.__name__, f, b)
        for m, c in _compat_classes_declaring("_config_bounds")
        for f, b in c._config_bounds.items()
    }
    assert declared == {(c[0], c[2], c[3], c[4]) for c in COMPAT_OUT_OF_RANGE}


# A compat class whose factories check more than lower bounds declares ``_config_check``; a config naming it
# is held to it too: (module, factory, class, {field: bad value}, message).
COMPAT_CHECKED = [
    ("timm", lambda m: m.TanhLRScheduler(1.0, 10), "TanhDecay", {"lb": 3.0, "ub": 3.0},
     r": lb must be < ub, got lb=3\.0, ub=3\.0"),
    ("timm", lambda m: m.TanhLRScheduler(1.0, 10), "TanhDecay", {"lb": 5.0},
     r"lb must be < ub, got lb=5\.0, ub=3\.0"),
    ("timm", lambda m: m.CosineLRScheduler(1.0, 10, noise_range_t=(2, 8)), "Noise", {"lo": 9.0},
     r": lo must be <= hi, got lo=9\.0, hi=8\.0"),
    # single (structure: no cycle search) is right only for at most one cycle
    ("timm", lambda m: m.CosineLRScheduler(1.0, 10), "TimmCycles", {"cycles": 2.0},
     r": single=true needs cycles <= 1 \(one cycle at most\), got cycles=2\.0"),
    ("timm", lambda m: m.PolyLRScheduler(1.0, 10, cycle_limit=0.5), "TimmCycles", {"cycles": float("inf")},
     r": single=true needs cycles <= 1 \(one cycle at most\), got cycles=inf"),
    # torch's extrapolated one-cycle phase: a strategy leaf or a static choice (a name), one of them
    ("torch", lambda m: m.OneCycleLR(1.0, 10), "_Anneal", {"fixed": 2},
     r": _Anneal needs one of strategy \(a leaf\) and fixed \(0 or 1\), got None, 2$"),
    ("torch", lambda m: m.OneCycleLR(1.0, 10), "_Anneal", {"strategy": 1},
     r": _Anneal needs one of strategy \(a leaf\) and fixed \(0 or 1\), got .*1.*, 0$"),
    ("torch", lambda m: m.OneCycleLR(1.0, 10, anneal_strategy=1), "_Anneal", {"strategy": None},
     r": _Anneal needs one of strategy \(a leaf\) and fixed \(0 or 1\), got None, None$"),
    *[("torch", lambda m: m.MultiplicativeLR(1.0, jaxsched.constant(0.9), max_steps=8), "CumulativeProduct",
       {"max_steps": bad}, rf": max_steps must be a positive int .*got {re.escape(shown)}$")
      for bad, shown in ((0, "0"), (-5, "-5"), (2.5, "2.5"), (True, "True"), ("8", "'8'"), ([8], "(8,)"))],
]


@pytest.mark.parametrize("mod,factory,cls,bad,msg", COMPAT_CHECKED, ids=[f"{c[2]}-{i}" for i, c in
                                                                        enumerate(COMPAT_CHECKED)])
def test_a_config_naming_a_compat_class_is_held_to_its_factorys_checks(
    mod: str, factory: Any, cls: str, bad: dict[str, Any], msg: str
) -> None:
    m = pytest.importorskip(f"jaxsched.compat.{mod}")
    s = factory(m)
    cfg = to_config(s)
    assert_same(s, from_config(copy.deepcopy(cfg)))  # as the factory built it, it loads
    node = _node_of_type(cfg["schedule"], f"compat.{mod}.{cls}")
    assert node is not None and set(bad) <= set(node), (cls, bad)
    node.update(bad)
    with pytest.raises(ValueError, match=msg):
        from_config(cfg)


def test_every_compat_check_is_tested() -> None:
    declared = {(m, c.__name__) for m, c in _compat_classes_declaring("_config_check")}
    assert declared == {(c[0], c[2]) for c in COMPAT_CHECKED}


def test_a_registered_check_overrides_the_class_check() -> None:
    from jaxsched.compat.timm import TanhDecay

    calls = []
    try:
        register(TanhDecay, check=lambda s, bs: calls.append(bs))
        cfg = to_config(pytest.importorskip("jaxsched.compat.timm").TanhLRScheduler(1.0, 10))
        _node_of_type(cfg["schedule"], "compat.timm.TanhDecay").update(lb=5.0)
        from_config(cfg)  # the given check replaces the class's
        assert calls and all(bs == () for bs in calls)
    finally:
        register(TanhDecay)
    with pytest.raises(ValueError, match="lb must be < ub"):
        from_config(cfg)  # registered again without one: the class's check is back


def _port_edges() -> list[tuple[str, Any]]:
    from jaxsched.compat import optax as O
    from jaxsched.compat import timm as Ti
    from jaxsched.compat import torch as To
    from jaxsched.compat import transformers as Hf

    return [
        ("torch StepLR gamma=0", lambda: To.StepLR(0.1, 3, 0.0)),
        ("torch ExponentialLR gamma=0", lambda: To.ExponentialLR(0.1, 0.0)),
        ("torch OneCycleLR pct_start=1 clamped", lambda: To.OneCycleLR(1.0, total_steps=10, pct_start=1.0,
                                                                       extrapolate=False)),
        ("timm StepLR decay_rate=0", lambda: Ti.StepLRScheduler(0.1, 3, decay_rate=0.0)),
        ("timm cosine cycle_limit=0", lambda: Ti.CosineLRScheduler(0.1, 10, lr_min=0.01, cycle_limit=0)),
        ("timm cosine cycle_limit=0.5", lambda: Ti.CosineLRScheduler(0.1, 10, lr_min=0.01, cycle_limit=0.5)),
        ("timm tanh cycle_limit=0", lambda: Ti.TanhLRScheduler(0.1, 10, lr_min=0.01, cycle_limit=0)),
        ("timm poly cycle_limit=0", lambda: Ti.PolyLRScheduler(0.1, 10, lr_min=0.01, cycle_limit=0)),
        ("timm multistep milestone 0", lambda: Ti.MultiStepLRScheduler(0.1, [0, 5], 0.5)),
        ("hf linear W > N", lambda: Hf.get_scheduler("linear", 1.0, num_warmup_steps=10, num_training_steps=5)),
        ("hf polynomial W > N", lambda: Hf.get_scheduler("polynomial", 1.0, num_warmup_steps=10,
                                                         num_training_steps=5)),
        ("optax exponential_decay rate 0", lambda: O.exponential_decay(1.0, 2, 0.0)),
    ]


@pytest.mark.parametrize("name, make", _port_edges(), ids=[n for n, _ in _port_edges()])
def test_ports_at_edge_settings_load_back(name: str, make: Any) -> None:
    """Ports build core classes at settings their peers accept: each one's config must load back. Found by
    fuzzing the ports: a rate of 0 (Exponential), 0 cycles (Repeat), a boundary or a length below 0."""
    s = make()
    back = jaxsched.from_json(jaxsched.to_json(s))
    k = jnp.asarray([0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 20, 100, 2**31 - 1], jnp.int32)
    np.testing.assert_array_equal(np.asarray(back(k)), np.asarray(s(k)))
