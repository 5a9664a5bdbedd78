"""``jaxsched.compat.optax`` against numbers optax 0.2.8 produced (``tests/fixtures/optax_*.json``).

The fixtures were written by ``scripts/make_fixtures_torch_optax.py``, running
optax under x64. Every case is checked in float32 (1e-6 of the case's peak)
and under x64 (1e-12). In the float32 test the largest group of cases of one
structure is built inside ``jit(vmap(...))`` with *every* numeric argument
traced (boundaries and transition lengths included, which optax's own
schedules cannot take) and one trace serves two grids. The last tests pin the
documented differences from optax (``docs/migration_torch_optax.md``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched
from jaxsched._base import Array, Schedule
from jaxsched.compat import optax as O
from tests.test_compat_torch import _check, check_traced, evaluate

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = (
    "constant_schedule",
    "linear_schedule",
    "polynomial_schedule",
    "exponential_decay",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "cosine_decay_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "warmup_constant_schedule",
    "linear_onecycle_schedule",
    "cosine_onecycle_schedule",
    "sgdr_schedule",
    "join_schedules",
)


@functools.cache
def load(name: str) -> list[dict[str, Any]]:
    with open(FIXTURES / f"optax_{name}.json") as f:
        cases = json.load(f)["cases"]
    for c in cases:
        c["lr"] = None  # the shared helpers report it
    return cases


def build(name: str, kwargs: dict[str, Any], *, pairs: str = "dict") -> Schedule:
    """The jaxsched port of the optax schedule a fixture case describes.

    ``pairs="dict"`` passes ``boundaries_and_scales`` as optax's dict;
    ``"arrays"`` as ``(boundaries, scales)`` (the form whose boundaries may be traced).
    """
    kw = dict(kwargs)
    bs = kw.get("boundaries_and_scales")
    if bs is not None:
        if pairs == "dict":
            kw["boundaries_and_scales"] = {int(b): s for b, s in bs}
        else:
            kw["boundaries_and_scales"] = ([b for b, _ in bs], [s for _, s in bs])
    if name == "join_schedules":
        return O.join_schedules([build(c["name"], c["kwargs"], pairs=pairs) for c in kw["schedules"]], kw["boundaries"])
    return getattr(O, name)(**kw)


# ----------------------------------------------------------------------------- parity


@pytest.mark.parametrize("name", NAMES)
def test_parity_float32_built_under_vmap(name: str) -> None:
    """float32, 1e-6 of the peak, every case built inside ``jit(vmap(...))`` with every
    numeric argument traced (boundaries as a traced ``(boundaries, scales)`` pair): one
    trace serves two grids."""
    cases = load(name)
    assert len(cases) >= 10

    def build_one(tree: dict[str, Any], k: Array) -> Array:
        return build(name, tree["kwargs"], pairs="arrays")(k)[None]

    check_traced(name, cases, lambda c: {"kwargs": c["kwargs"]}, build_one, ("values",))


@pytest.mark.parametrize("name", NAMES)
def test_parity_x64(name: str) -> None:
    cases = load(name)
    with jax.enable_x64(True):
        scheds = [build(name, c["kwargs"]) for c in cases]
        assert jax.eval_shape(lambda s: s(0), scheds[0]).dtype == jnp.float64
        _check(name, cases, evaluate(scheds, [c["steps"] for c in cases]), 1e-12)


# ----------------------------------------------------------------------------- interop and tracing


def test_drop_in_for_an_optax_optimizer() -> None:
    """The port and optax's own schedule drive optax.sgd to the same parameters."""
    kw = dict(init_value=0.0, peak_value=0.1, warmup_steps=3, decay_steps=10, end_value=0.01)
    params = {"w": jnp.ones(3)}

    def train(schedule: Any) -> Array:
        tx = optax.sgd(schedule)

        @jax.jit
        def step(p: Any, s: Any) -> Any:
            u, s = tx.update({"w": jnp.ones(3)}, s, p)
            return optax.apply_updates(p, u), s

        p, s = params, tx.init(params)
        for _ in range(12):
            p, s = step(p, s)
        return p["w"]

    with jax.numpy_dtype_promotion("standard"):
        np.testing.assert_allclose(
            train(O.warmup_cosine_decay_schedule(**kw)), train(optax.warmup_cosine_decay_schedule(**kw)), rtol=1e-6
        )


def test_vmap_where_optax_cannot() -> None:
    """optax branches in Python on these arguments; ours take them traced."""
    steps = jnp.arange(0, 30, 3)
    ws = jnp.asarray([0.0, 2.0, 5.0])
    ours = jax.jit(jax.vmap(lambda w: O.warmup_cosine_decay_schedule(0.0, 1.0, w, 20)(steps)))(ws)
    with jax.numpy_dtype_promotion("standard"):  # optax's own code needs standard promotion
        with pytest.raises(jax.errors.TracerBoolConversionError):
            jax.vmap(lambda w: optax.warmup_cosine_decay_schedule(0.0, 1.0, w, 20)(steps))(ws)
        ref = [jax.vmap(optax.warmup_cosine_decay_schedule(0.0, 1.0, w, 20))(steps) for w in (0, 2, 5)]
        with pytest.raises(jax.errors.TracerBoolConversionError):
            jax.vmap(lambda r: optax.exponential_decay(1.0, 5, r)(steps))(jnp.asarray([0.5, 0.9]))
        with pytest.raises(jax.errors.TracerBoolConversionError):
            jax.vmap(lambda t: optax.linear_schedule(1.0, 0.0, t)(steps))(jnp.asarray([5, 10]))
    np.testing.assert_allclose(ours, np.stack(ref), rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- documented differences from optax


def test_differences_from_optax() -> None:
    """Inputs optax accepts and turns into NaN/inf or silently reorders; our choices instead."""
    # A negative decay_rate: optax gives NaN at fractional exponents; we refuse it.
    assert np.isnan(float(optax.exponential_decay(1.0, 2, -0.5)(1)))
    with pytest.raises(ValueError, match="decay_rate"):
        O.exponential_decay(1.0, 2, -0.5)
    # A negative exponent: optax gives inf at the end of the cosine; we refuse it.
    assert np.isinf(float(optax.cosine_decay_schedule(1.0, 10, exponent=-1.0)(10)))
    with pytest.raises(ValueError, match="exponent"):
        O.cosine_decay_schedule(1.0, 10, exponent=-1.0)
    # A negative power: optax gives inf at the end of the transition; we refuse it.
    with jax.numpy_dtype_promotion("standard"):
        assert np.isinf(float(optax.polynomial_schedule(1.0, 0.0, -1.0, 10)(10)))
    with pytest.raises(ValueError, match="power"):
        O.polynomial_schedule(1.0, 0.0, -1.0, 10)
    # Unsorted join boundaries: optax lets the later entry win; we refuse them.
    with pytest.raises(ValueError, match="non-decreasing"):
        O.join_schedules([O.constant_schedule(1.0), O.constant_schedule(2.0), O.constant_schedule(3.0)], [10, 5])
    # decay_steps <= 0: optax raises for a concrete value; ours raises too, and a traced one gives alpha * init.
    with pytest.raises(ValueError, match="positive decay_steps"):
        O.cosine_decay_schedule(1.0, 0)
    v = jax.jit(lambda d: O.cosine_decay_schedule(2.0, d, alpha=0.25)(jnp.arange(3)))(0.0)
    np.testing.assert_allclose(v, 0.5)
    # constant_schedule: optax returns the value as given (a Python int stays an int); ours a float array.
    assert optax.constant_schedule(5)(0) == 5
    assert O.constant_schedule(5)(0).dtype == jnp.float32


def test_exponential_growth_is_capped() -> None:
    """decay_rate > 1 without end_value: optax grows without bound; ours stops at init * e**80."""
    with jax.enable_x64(True):
        ours = float(O.exponential_decay(1.0, 1, 2.0)(200))
        theirs = float(optax.exponential_decay(1.0, 1, 2.0)(200))
    assert theirs == 2.0**200
    np.testing.assert_allclose(ours, np.exp(80.0), rtol=1e-12)


def test_traced_onecycle_knots_truncate_in_the_float_dtype() -> None:
    """optax's int(pct * T) is float64 Python arithmetic; concrete arguments reproduce it exactly,
    traced ones truncate pct * T in the schedule's dtype (float32: 0.7f * 10 rounds to 7, not 6.99..)."""
    pct = float(np.float32(0.7))
    k = jnp.arange(11)
    with jax.numpy_dtype_promotion("standard"):
        ref = np.asarray(jax.vmap(optax.linear_onecycle_schedule(10, 1.0, pct_start=0.3, pct_final=pct))(k))
    ours = O.linear_onecycle_schedule(10, 1.0, pct_start=0.3, pct_final=pct)
    traced = jax.jit(lambda p: O.linear_onecycle_schedule(10, 1.0, pct_start=0.3, pct_final=p)(k))(pct)
    np.testing.assert_allclose(ours(k), ref, rtol=1e-6)
    assert abs(float(traced[6]) - ref[6]) > 1e-3  # knot at 7 instead of 6


@pytest.mark.parametrize("pct", [np.float32(0.7), jnp.float32(0.7), 0.7])
def test_onecycle_knot_is_optaxs_product_of_the_callers_objects(pct: Any) -> None:
    """optax's int(pct * T) multiplies the caller's own objects: a float32 pct gives 0.7f * 100 = 70.0 (knot
    70), its float64 value 69.99999881 (knot 69, what the port computed; found by fuzzing)."""
    k = jnp.arange(66, 74)
    for ours_fn, theirs_fn in ((O.linear_onecycle_schedule, optax.linear_onecycle_schedule),
                               (O.cosine_onecycle_schedule, optax.cosine_onecycle_schedule)):
        with jax.numpy_dtype_promotion("standard"):
            want = np.asarray([float(theirs_fn(100, 1.0, pct_start=pct)(int(i))) for i in k])
        np.testing.assert_allclose(ours_fn(100, 1.0, pct_start=pct)(k), want, rtol=2e-6)


def test_warmups_name_their_own_arguments() -> None:
    # warmup_constant_schedule is linear_schedule: a bad peak_value was reported as its end_value
    with pytest.raises(ValueError, match="peak_value must not be NaN"):
        O.warmup_constant_schedule(0.0, float("nan"), 10)
    with pytest.raises(TypeError, match="warmup_steps must be a real number"):
        O.warmup_constant_schedule(0.0, 1.0, "ten")
    with pytest.raises(TypeError, match="peak_value must be a real number"):
        O.warmup_exponential_decay_schedule(0.0, None, 10, 100, 0.5)


def test_dict_key_collisions() -> None:
    """optax's one-cycle dicts drop a scale when two knots coincide; so do we (the fixtures cover
    pct_start == pct_final and pct_final == 1), and the pair form keeps both."""
    ours = O.linear_onecycle_schedule(10, 1.0, pct_start=0.5, pct_final=0.5, div_factor=10.0, final_div_factor=10.0)
    k = jnp.arange(12)
    with jax.numpy_dtype_promotion("standard"):
        ref = optax.linear_onecycle_schedule(
            10, 1.0, pct_start=0.5, pct_final=0.5, div_factor=10.0, final_div_factor=10.0
        )
        want = np.asarray(jax.vmap(ref)(k))
    np.testing.assert_allclose(ours(k), want, rtol=1e-6)
    both = O.piecewise_constant_schedule(1.0, ([5, 5], [0.5, 0.5]))
    np.testing.assert_allclose(both([4, 5]), [1.0, 0.25])


def test_negative_boundaries_are_optaxs_and_load_back_from_a_config() -> None:
    # optax applies a scale whose boundary is below 0 from step 0 on: the port holds such a boundary at 0
    # (the same values), so that its config loads back (configs hold boundaries to >= 0).
    k = jnp.arange(8)
    bs = {-3: 0.5, 2: 0.1, 5: 2.0}
    ours = O.piecewise_constant_schedule(1.0, bs)
    want = np.asarray([optax.piecewise_constant_schedule(1.0, bs)(int(i)) for i in k])
    np.testing.assert_allclose(ours(k), want, rtol=1e-6)
    back = jaxsched.from_config(jaxsched.to_config(ours))
    np.testing.assert_array_equal(back(k), ours(k))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="non-negative scale"):
        O.piecewise_constant_schedule(1.0, {5: -0.1})
    # a negative middle cycle (optax accepts it when its warmup is more negative) would make the cycle
    # boundaries decrease, which join_schedules refuses too (optax lets a later boundary win)
    cyc = [dict(init_value=0.0, peak_value=1.0, warmup_steps=w, decay_steps=d) for w, d in ((0, 4), (-10, -5), (0, 4))]
    with pytest.raises(ValueError, match=r"cosine_kwargs\[1\]\['decay_steps'\] must be >= 0.*got -5"):
        O.sgdr_schedule(cyc)
    O.sgdr_schedule([cyc[1], cyc[0]])  # first (or last): its boundary moves, none decreases
    with pytest.raises(ValueError, match="interpolate_type"):
        O.piecewise_interpolate_schedule("cubic", 1.0, {5: 0.1})
    with pytest.raises(ValueError, match="transition_steps"):
        O.cosine_onecycle_schedule(0, 1.0)
    with pytest.raises(ValueError, match="positive decay_steps"):
        O.warmup_cosine_decay_schedule(0.0, 1.0, 10, 10)
    with pytest.raises(ValueError, match="at least one cycle"):
        O.sgdr_schedule([])
    with pytest.raises(TypeError, match="staircase"):
        O.exponential_decay(1.0, 2, 0.5, staircase=1)
    with pytest.raises(ValueError, match="len\\(boundaries\\)"):
        O.join_schedules([O.constant_schedule(1.0)], [3])
    with pytest.raises(TypeError, match="boundaries_and_scales"):
        O.piecewise_constant_schedule(1.0, [1, 2, 3])
    assert isinstance(O.join_schedules([lambda k: 1.0 + 0 * k, jaxsched.constant(2.0)], [3]), jaxsched.Join)


def _optax_at(f: Any, k: Any) -> np.ndarray:
    with jax.numpy_dtype_promotion("standard"):  # optax's own code, under its own promotion rules
        return np.asarray([f(int(i)) for i in k], np.float64)


@pytest.mark.parametrize(
    "ours,theirs",
    [
        # a negative warmup shifts the cosine (optax joins its linear ramp at W < 0)
        (lambda m: m.warmup_cosine_decay_schedule(0.1, 1.0, -3, 12, 0.05),
         lambda: optax.warmup_cosine_decay_schedule(0.1, 1.0, -3, 12, 0.05)),
        # a boundary below 0: the interpolation from it is shifted
        (lambda m: m.piecewise_interpolate_schedule("cosine", 1.0, {-4: 0.5, 6: 0.1}),
         lambda: optax.piecewise_interpolate_schedule("cosine", 1.0, {-4: 0.5, 6: 0.1})),
        # a join at -1 and -1.5 of a child that takes an exact pair (its own boundary test)
        *[(lambda m, b=b: m.join_schedules([m.constant_schedule(0.1), m.piecewise_constant_schedule(1.0, {2: 0.5})],
                                           [b]),
           lambda b=b: optax.join_schedules([optax.constant_schedule(0.1),
                                             optax.piecewise_constant_schedule(1.0, {2: 0.5})], [b]))
          for b in (-1, -1.5, -3)],
    ],
    ids=["warmup-cosine", "interpolate", "join-1", "join-1.5", "join-3"],
)
def test_starts_below_zero_match_optax_and_load_back(ours: Any, theirs: Any) -> None:
    k = np.arange(16)
    s = ours(O)
    np.testing.assert_allclose(s(k), _optax_at(theirs(), k), rtol=2e-6, atol=1e-7)
    np.testing.assert_array_equal(jaxsched.from_json(jaxsched.to_json(s))(k), s(k))


def test_exponent_one_is_the_plain_cosine_and_a_grid_of_exponents_still_matches_optax():
    """A concrete exponent of 1 (optax's default) builds the plain cosine (no power per step);
    other exponents and traced ones stay leaves, and a grid mixing them matches optax."""
    k = jnp.arange(0, 130, 3)
    assert O.cosine_decay_schedule(1.0, 100).exponent is None
    assert O.warmup_cosine_decay_schedule(0.0, 1.0, 10, 100).schedule.exponent is None
    assert O.cosine_decay_schedule(1.0, 100, exponent=2.0).exponent is not None
    traced = jax.jit(lambda e: O.cosine_decay_schedule(1.0, 100, exponent=e)(k))(1.0)
    np.testing.assert_allclose(np.asarray(traced), _optax_at(optax.cosine_decay_schedule(1.0, 100), k),
                               rtol=1e-6, atol=1e-7)
    g = jaxsched.grid(O.warmup_cosine_decay_schedule, peak_value=[1.0, 2.0], warmup_steps=[10], init_value=0.0,
                      decay_steps=100, exponent=[1.0, 2.0, 0.5])
    out = jax.vmap(lambda s: s(k))(g.schedules)
    for i, (peak, w, e) in enumerate(zip(*(g.settings[a] for a in ("peak_value", "warmup_steps", "exponent")))):
        want = _optax_at(optax.warmup_cosine_decay_schedule(0.0, peak, w, 100, exponent=e), k)
        np.testing.assert_allclose(np.asarray(out[i]), want, rtol=1e-6, atol=2e-7 * peak)  # optax: float32 cos
