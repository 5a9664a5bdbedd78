"""Grids of settings: product of axes, one batched pytree, no recompiles.

``jaxsched.grid`` takes the Cartesian product of list axes (scalars and
strings are passed to every setting), builds each setting with the factory and
stacks the results leaf by leaf. A string axis such as ``decay_shape`` becomes
an index leaf, so every setting has one structure and the whole grid runs in
one compiled program.
"""

from __future__ import annotations

import itertools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsched
from tests.helpers import TraceCounter, assert_close_to_peak

N_STEPS = 72
T = jnp.asarray(np.round(np.linspace(0, 1200, N_STEPS)), jnp.int32)


def ref_warmup_cosine(t: np.ndarray, peak: float, total: float, warmup: float) -> np.ndarray:
    """Float64 reference: linear warmup from 0 to peak over W, cosine to 0 at N, then 0."""
    t = np.maximum(np.asarray(t, np.float64), 0.0)
    p = np.clip((t - warmup) / (total - warmup), 0.0, 1.0)
    ramp = peak * t / warmup if warmup > 0 else np.zeros_like(t)
    return np.where(t < warmup, ramp, 0.5 * peak * (1.0 + np.cos(np.pi * p)))


def _leaves_equal(a: object, b: object) -> None:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(la, lb, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# ----------------------------------------------------------------------------- grid construction


def test_product_order_settings_and_rows() -> None:
    peaks, warm = [1e-3, 3e-3], [0, 100, 200]
    g = jaxsched.grid(jaxsched.warmup_cosine, peak_value=peaks, warmup_steps=warm, total_steps=1000)
    assert len(g) == 6
    combos = list(itertools.product(peaks, warm))  # the last axis varies fastest
    assert g.settings == {"peak_value": [p for p, _ in combos], "warmup_steps": [w for _, w in combos]}
    for i, (p, w) in enumerate(combos):
        assert g.row(i) == {"peak_value": p, "warmup_steps": w}
        # grid[i] is exactly the factory's schedule for row i (the scalar axis broadcast)
        _leaves_equal(g[i], jaxsched.warmup_cosine(peak_value=p, warmup_steps=w, total_steps=1000))
    for leaf in jax.tree_util.tree_leaves(g.schedules):
        assert leaf.shape[0] == 6
    # negative indices count from the end
    _leaves_equal(g[-1], g[5])


@pytest.mark.parametrize(
    "axis",
    [[0.1, 0.2, 0.3], (0.1, 0.2, 0.3), np.asarray([0.1, 0.2, 0.3]), jnp.asarray([0.1, 0.2, 0.3])],
    ids=["list", "tuple", "ndarray", "jax"],
)
def test_axis_kinds(axis: object) -> None:
    g = jaxsched.grid(jaxsched.constant, value=axis)
    assert len(g) == 3
    np.testing.assert_allclose(np.asarray(g.schedules.value), [0.1, 0.2, 0.3], rtol=1e-7)
    assert all(type(v) is float for v in g.settings["value"])  # plain Python numbers in the table


def test_range_axis_and_scalar_broadcast() -> None:
    g = jaxsched.grid(jaxsched.linear, init_value=1.0, end_value=np.float32(0.0), steps=range(1, 4))
    assert len(g) == 3 and list(g.settings) == ["steps"]
    np.testing.assert_array_equal(np.asarray(g.schedules.init_value), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(g.schedules.steps), [1.0, 2.0, 3.0])


def test_string_axis_is_one_structure() -> None:
    shapes = ["linear", "cosine", "1-sqrt"]
    g = jaxsched.grid(jaxsched.wsd, decay_shape=shapes, warmup_steps=[0, 100], peak_value=1.0,
                      total_steps=1000, decay_steps=300)
    assert len(g) == 6
    assert g.settings["decay_shape"] == [s for s in shapes for _ in range(2)]
    curves = np.asarray(g(T))
    assert curves.shape == (6, N_STEPS)
    for i in range(6):
        direct = jaxsched.wsd(1.0, 1000, decay_steps=300, **g.row(i))(T)
        np.testing.assert_allclose(curves[i], np.asarray(direct), rtol=0, atol=1e-6)
    # the shapes really differ inside the cooldown
    inside = (np.asarray(T) > 700) & (np.asarray(T) < 1000)
    assert not np.allclose(curves[0][inside], curves[2][inside])
    assert not np.allclose(curves[0][inside], curves[4][inside])


def test_bool_and_choice_axes_onecycle() -> None:
    g = jaxsched.grid(jaxsched.onecycle, three_phase=[False, True], anneal_strategy=["cos", "linear"],
                      peak_value=1.0, total_steps=1000, pct_start=0.25)
    assert len(g) == 4
    curves = np.asarray(g(T))
    for i in range(4):
        np.testing.assert_allclose(curves[i], np.asarray(jaxsched.onecycle(1.0, 1000, 0.25, **g.row(i))(T)),
                                   rtol=0, atol=1e-6)


def test_no_axes_is_one_setting() -> None:
    g = jaxsched.grid(jaxsched.constant, value=0.5)
    assert len(g) == 1 and g.row(0) == {}
    assert np.asarray(g(3)).tolist() == [0.5]


def test_structure_mismatch_errors() -> None:
    # exponent None (no power) vs a number (a leaf) are different structures, which batch as leaves
    # (test_none_options_and_numbers_stack_together); different families do not
    with pytest.raises(ValueError, match="structure"):
        jaxsched.grid(jaxsched.join, schedules=[[jaxsched.constant(1.0)], [jaxsched.linear(1.0, 0.0, 10)]],
                      boundaries=[[]])
    with pytest.raises(ValueError, match="structure"):
        jaxsched.stack([jaxsched.constant(1.0), jaxsched.linear(1.0, 0.0, 10)])
    with pytest.raises(ValueError, match="at least one"):
        jaxsched.stack([])
    with pytest.raises(ValueError, match="empty"):
        jaxsched.grid(jaxsched.constant, value=[])
    with pytest.raises(TypeError, match="callable"):
        jaxsched.grid("warmup_cosine", value=[1.0])


def test_every_setting_is_validated() -> None:
    with pytest.raises(ValueError, match="warmup_steps"):
        jaxsched.grid(jaxsched.warmup_cosine, peak_value=1.0, total_steps=100, warmup_steps=[10, 200])


def test_stack() -> None:
    scheds = [jaxsched.warmup_cosine(p, 1000, w) for p, w in [(1.0, 0), (2.0, 100), (3.0, 500)]]
    b = jaxsched.stack(scheds)
    assert type(b) is type(scheds[0])
    for leaf, *parts in zip(jax.tree_util.tree_leaves(b), *(jax.tree_util.tree_leaves(s) for s in scheds)):
        np.testing.assert_array_equal(np.asarray(leaf), np.stack([np.asarray(p) for p in parts]))
    got = np.asarray(jax.vmap(lambda s: s(T))(b))
    for i, (p, w) in enumerate([(1.0, 0), (2.0, 100), (3.0, 500)]):
        assert_close_to_peak(got[i], ref_warmup_cosine(np.asarray(T), p, 1000, w), p)


def test_none_options_and_numbers_stack_together() -> None:
    # None options (no power, no decay, no cycle limit) are structure; beside a number they become leaves
    # (1, 1, inf, 1/2, an unbounded exponential's -inf floor or +inf ceiling) so the schedules stack, with
    # each one's own values.
    k = jnp.arange(0, 200, 7)
    groups = [
        [jaxsched.sgdr(1.0, 10, 2.0), jaxsched.sgdr(1.0, 10, 2.0, decay=0.5), jaxsched.sgdr(2.0, 12, cycles=3)],
        [jaxsched.cosine(1.0, 0.0, 50), jaxsched.cosine(1.0, 0.0, 50, exponent=2.0)],
        [jaxsched.sqrt_decay(1.0, 0.0, 90), jaxsched.sqrt_decay(1.0, 0.0, 90, power=2.0)],
        [jaxsched.warmup(jaxsched.cosine(1.0, 0.0, 50), 5), jaxsched.warmup(jaxsched.cosine(1.0, 0.0, 50, 0.5), 5)],
        [jaxsched.exponential(1.0, 0.9, 10), jaxsched.exponential(1.0, 0.9, 10, end_value=0.5),
         jaxsched.exponential(1.0, 1.5, 10), jaxsched.exponential(1.0, 1.5, 10, end_value=3.0)],
    ]
    for scheds in groups:
        got = np.asarray(jax.vmap(lambda s: s(k))(jaxsched.stack(scheds)))
        for row, s in zip(got, scheds):
            np.testing.assert_allclose(row, np.asarray(s(k)), rtol=2e-6, atol=1e-7)
    b = jaxsched.stack(groups[0][:2]).schedule
    np.testing.assert_array_equal(np.asarray(b.decay), [1.0, 0.5])
    np.testing.assert_array_equal(np.asarray(b.cycles), [np.inf, np.inf])
    assert jaxsched.stack(groups[0][:1]).schedule.decay is None  # one structure: kept as it is
    g = jaxsched.grid(jaxsched.sgdr, peak_value=1.0, period=10, decay=[None, 0.5], cycles=[None, 3])
    assert len(g) == 4 and g.settings["decay"] == [None, None, 0.5, 0.5]
    np.testing.assert_array_equal(np.asarray(g.schedules.schedule.cycles), [np.inf, 3, np.inf, 3])
    with pytest.raises(ValueError, match="one structure"):  # what no leaf can make alike
        jaxsched.stack([jaxsched.cosine(1.0, 0.0, 5), jaxsched.linear(1.0, 0.0, 5)])


# ----------------------------------------------------------------------------- Grid methods


def test_getitem_errors() -> None:
    g = jaxsched.grid(jaxsched.constant, value=[1.0, 2.0])
    with pytest.raises(IndexError, match="out of range"):
        g[2]
    with pytest.raises(IndexError, match="out of range"):
        g[-3]
    for bad in (1.0, True, "0", slice(0, 1)):
        with pytest.raises(TypeError, match="int"):
            g[bad]
    assert float(g[np.int64(1)](0)) == 2.0


def test_table() -> None:
    g = jaxsched.grid(jaxsched.wsd, peak_value=[1e-3, 3e-4], decay_shape=["linear", "1-sqrt"], total_steps=100)
    lines = g.table().splitlines()
    assert lines[0].split() == ["#", "peak_value", "decay_shape"]
    assert set(lines[1]) <= {"-", " "}
    assert [ln.split() for ln in lines[2:]] == [
        ["0", "0.001", "linear"], ["1", "0.001", "1-sqrt"], ["2", "0.0003", "linear"], ["3", "0.0003", "1-sqrt"]]
    assert str(g) == g.table()
    with_vals = g.table([0.5, 0.25, 1.0 / 3.0, 2.0], value_name="loss").splitlines()
    assert with_vals[0].split()[-1] == "loss"
    assert [ln.split()[-1] for ln in with_vals[2:]] == ["0.5", "0.25", "0.333333", "2"]
    with pytest.raises(ValueError):
        g.table([1.0, 2.0])  # wrong length


def test_call_shapes_and_values() -> None:
    g = jaxsched.grid(jaxsched.warmup_cosine, peak_value=[1.0, 2.0], warmup_steps=[0, 100, 200], total_steps=1000)
    out = g(T)
    assert out.shape == (6, N_STEPS) and out.dtype == jnp.float32
    for i in range(6):
        r = g.row(i)
        assert_close_to_peak(out[i], ref_warmup_cosine(np.asarray(T), r["peak_value"], 1000, r["warmup_steps"]),
                             r["peak_value"])
    assert g(500).shape == (6,)
    assert g(jnp.reshape(T, (8, 9))).shape == (6, 8, 9)
    np.testing.assert_array_equal(np.asarray(g(jnp.reshape(T, (8, 9)))).reshape(6, -1), np.asarray(out))


# ----------------------------------------------------------------------------- no recompiles; vmap == loop


def test_jit_traces_once_for_ten_settings() -> None:
    # a jitted function that takes the schedule as an argument: one trace for every setting
    counter = TraceCounter(lambda s, t: s(t))
    g = jaxsched.grid(jaxsched.wsd, peak_value=[1e-3, 3e-3], warmup_steps=[0, 50, 100, 150, 200],
                      decay_shape=1, total_steps=1000, decay_fraction=0.2)
    assert len(g) == 10
    outs = [counter(g[i], T) for i in range(10)]
    # schedules built directly by the factory too, with other shapes (indices: leaves), lengths and fractions
    direct = [jaxsched.wsd(p, 1000, w, decay_fraction=f, decay_shape=s)
              for p, w, f, s in [(1.0, 0, 0.1, 0), (2.0, 10, 0.5, 2), (0.5, 999, 0.0, 1)]]
    outs += [counter(s, T) for s in direct]
    assert counter.count == 1
    # a shape's name is structure (only that shape is computed): one more trace per name
    named = [jaxsched.wsd(1.0, 1000, 10, decay_shape=s) for s in ("cosine", "linear", "cosine")]
    for s in named:
        counter(s, T)
    assert counter.count == 3
    for i in range(10):
        np.testing.assert_allclose(np.asarray(outs[i]), np.asarray(g[i](T)), rtol=0, atol=1e-9)
    for o, s in zip(outs[10:], direct):
        np.testing.assert_allclose(np.asarray(o), np.asarray(s(T)), rtol=0, atol=1e-6)


def test_vmap_over_grid_equals_loop() -> None:
    g = jaxsched.grid(jaxsched.sgdr, peak_value=[1.0, 0.5], period=[50, 75.5], period_mult=[1.0, 1.5],
                      warmup_steps=[0, 30])
    assert len(g) == 16
    batched = np.asarray(g(T))  # Grid.__call__: one jitted vmap over the 16 settings
    loop = np.stack([np.asarray(g[i](T)) for i in range(len(g))])
    np.testing.assert_allclose(batched, loop, rtol=0, atol=1e-6)
    # and the loop is right: settings with equal periods against a direct float64 formula
    for i in range(len(g)):
        r = g.row(i)
        if r["period_mult"] != 1.0:
            continue
        t = np.maximum(np.asarray(T, np.float64) - r["warmup_steps"], 0.0)
        P, L = r["peak_value"], float(np.float32(r["period"]))
        body = 0.5 * P * (1.0 + np.cos(np.pi * (t - np.floor(t / L) * L) / L))
        W = r["warmup_steps"]
        ref = np.where(np.asarray(T) < W, P * np.asarray(T, np.float64) / max(W, 1), body)
        assert_close_to_peak(loop[i], ref, P)


def _peaked(factory: Any, **axes: Any) -> Any:
    """``n -> grid of n settings of factory`` with ``peak_value`` swept (and ``axes`` crossed)."""
    return lambda n: jaxsched.grid(factory, peak_value=list(np.linspace(1e-3, 2e-3, n)), **axes).schedules


def _copies(make: Any) -> Any:
    """``n -> n stacked copies of make()`` (a batch of settings of any schedule)."""
    return lambda n: jax.tree.map(lambda x: jnp.stack([x] * n), make())


def _timm_tanh() -> Any:
    from jaxsched.compat import timm

    return timm.TanhLRScheduler(1e-3, 30_000, cycle_limit=3, warmup_t=500)  # its warmup ramps to the curve


def _optax_interpolate() -> Any:
    from jaxsched.compat import optax as O

    return O.piecewise_interpolate_schedule("linear", 1e-3, {4_000: 2.0, 7_000: 0.5, 22_000: 0.1, 24_000: 0.5})


@pytest.mark.parametrize(
    "batch",
    [
        _peaked(jaxsched.warmup_cosine, warmup_steps=[10, 20], total_steps=1000),
        _peaked(jaxsched.wsd, warmup_steps=[10, 20], total_steps=1000),
        _peaked(jaxsched.sgdr, period=[10, 20], period_mult=2.0, decay=0.9),
        _peaked(jaxsched.onecycle, pct_start=[0.2, 0.3], total_steps=1000),
        lambda n: jaxsched.grid(jaxsched.cyclic, base_value=0.0, max_value=list(np.linspace(1e-3, 2e-3, n)),
                                step_size_up=[500, 2000], mode="triangular2").schedules,
        _copies(lambda: jaxsched.piecewise_linear([0.0, 1.0, 0.5, 0.0], [0, 1_000, 50_000, 90_000])),
        _copies(lambda: jaxsched.piecewise_constant([1.0, 0.5, 0.1, 0.01], [20_000, 50_000, 80_000])),
        _copies(_timm_tanh),
        _copies(_optax_interpolate),
        _copies(lambda: jaxsched.piecewise_linear(list(np.linspace(1.0, 0.0, 12)), list(range(0, 96_000, 8_000)))),
        _copies(lambda: jaxsched.join([jaxsched.cosine(1.0, 0.5, 5_000)] * 16, list(range(5_000, 80_000, 5_000)))),
        _copies(lambda: jaxsched.join([jaxsched.cosine(1.0, 0.5, 5_000), jaxsched.linear(1.0, 0.5, 5_000)] * 8,
                                      list(range(5_000, 80_000, 5_000)))),
    ],
    ids=["warmup_cosine", "wsd", "sgdr", "onecycle", "cyclic", "piecewise_linear", "piecewise_constant",
         "timm_tanh", "optax_piecewise_interpolate", "piecewise_linear_12", "join_16", "join_16_mixed"],
)
def test_grid_evaluation_needs_no_temporaries_per_setting(batch: Any) -> None:
    # Every setting x step is computed in fused loops that write only the output: no temporary grows with
    # the number of settings. XLA:CPU splits a loop (and writes an intermediate the size of the output)
    # e.g. at a division whose result has several uses, or builds an index array the size of the output
    # for a gather with per-step indices under vmap (it joins a setting index to each step's), and writes
    # a gather's result when it has several consumers. Before jaxsched._base.pick: cyclic's triangle 5x
    # the output, piecewise-linear 4-5x, a 16-piece join 4x (mixed: 2x, at 9x the time per element),
    # optax's interpolation 1x, and timm's tanh warmup, which evaluated its curve at one step more, 11x.
    # (Above _CHAIN_SHORT boundaries the count is stored once on purpose: see _base._own_loop.)
    steps = jnp.arange(100_000)

    def temp(n: int) -> int:
        schedules = batch(n)
        compiled = jax.jit(lambda s: jax.vmap(lambda x: x(steps))(s)).lower(schedules).compile()
        m = compiled.memory_analysis()
        assert m.output_size_in_bytes == len(jax.tree.leaves(schedules)[0]) * 100_000 * 4
        return int(m.temp_size_in_bytes)

    # (a few KB per setting are tables such as restart points, whatever the number of steps)
    small, large = temp(2), temp(8)
    assert (large - small) / 6 <= 0.02 * 100_000 * 4, (small, large)


def test_a_grid_of_large_joins_stores_only_the_count_per_setting() -> None:
    # Above 32 boundaries the count is stored once per step (an int32 per element, _base._own_loop), and
    # from 2**16 elements it comes from buckets, whose table is built per setting: that build must stay
    # the size of the table (searchsorted's compare_all held 127 x 1024 int32 per setting, 1.3x the count).
    steps = jnp.arange(100_000)
    join = jaxsched.join([jaxsched.cosine(1.0, 0.5, 700)] * 128, list(range(700, 89_600, 700)))

    def temp(n: int) -> int:
        grid = jax.tree.map(lambda x: jnp.stack([x] * n), join)
        return int(jax.jit(jax.vmap(lambda s: s(steps))).lower(grid).compile().memory_analysis().temp_size_in_bytes)

    small, large = temp(2), temp(8)
    assert (large - small) / 6 <= 1.05 * 100_000 * 4, (small, large)
