"""Float32 kernels against float64 over their whole ranges: _fastmath (exp, expm1, log1p, power), the cosine factor."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsched import _fastmath as FM

F32 = np.finfo(np.float32)


def _exps() -> np.ndarray:
    tiny = np.geomspace(1e-30, 0.75, 40_000)
    near = [F32.tiny, -F32.tiny, 0.0, -0.0, FM._HI, np.nextafter(np.float32(FM._HI), np.float32(100)), FM._LO,
            np.nextafter(np.float32(FM._LO), np.float32(-100))]
    return np.concatenate([tiny, -tiny, np.linspace(-110.0, 95.0, 400_001), near]).astype(np.float32)


def _rel(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(out.astype(np.float64) - ref) / np.abs(ref)


@pytest.mark.parametrize("name", ["exp", "expm1"])
def test_exp_family_within_a_few_ulps_of_float64(name: str) -> None:
    z = _exps()
    ref = {"exp": np.exp, "expm1": np.expm1}[name](z.astype(np.float64))
    out = np.asarray(jax.jit(getattr(FM, name))(z))
    assert out.dtype == np.float32
    normal = (np.abs(ref) >= F32.tiny) & (np.abs(ref) <= F32.max) & (ref != 0)
    assert _rel(out[normal], ref[normal]).max() <= 2.5e-7
    # Overflow is inf; below float32's normals exp is 0 (XLA:CPU flushes subnormals) and expm1 is -1.
    assert np.all(out[ref > F32.max] == np.inf)
    low = np.abs(ref) < F32.tiny
    assert np.all(out[low] == 0.0) if name == "exp" else np.all(out[low] == ref[low])
    assert np.all(out[z == 0] == (1.0 if name == "exp" else 0.0))
    if name == "exp":
        assert np.all(out[z < FM._LO] == 0.0)
    else:
        assert np.all(out[z < -20] == -1.0)


def test_log1p_within_a_few_ulps_of_float64() -> None:
    a = np.concatenate([
        np.geomspace(1e-30, F32.max, 300_000), -np.geomspace(1e-30, 1.0, 200_000), np.linspace(-0.999, 3.0, 200_001),
        [0.0, -0.0, F32.tiny, np.sqrt(0.5) - 1, np.sqrt(2.0) - 1, np.nextafter(np.float32(-1), np.float32(0))],
    ]).astype(np.float32)
    a = a[a > -1]
    ref = np.log1p(a.astype(np.float64))
    out = np.asarray(jax.jit(FM.log1p)(a))
    normal = np.abs(ref) >= 2 * F32.tiny  # below, a / (2 + a) is subnormal and XLA:CPU flushes it to 0
    assert _rel(out[normal], ref[normal]).max() <= 2.5e-7
    assert np.all(np.abs(out[~normal] - ref[~normal]) <= 2 * F32.tiny)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 9])
def test_poly_is_the_polynomial(n: int) -> None:
    # Estrin's scheme must give the polynomial of every length (odd ones end in a lone constant).
    coeffs = tuple(float(c) for c in np.linspace(1.0, -0.5, n))
    x = np.linspace(-1.5, 1.5, 101).astype(np.float32)
    ref = np.polynomial.polynomial.polyval(x.astype(np.float64), coeffs)
    out = np.asarray(FM.poly(jnp.asarray(x), coeffs))
    assert out.shape == x.shape and out.dtype == np.float32
    scale = np.polynomial.polynomial.polyval(np.abs(x.astype(np.float64)), np.abs(coeffs))  # sum |c_k x**k|
    assert np.all(np.abs(out - ref) <= 4e-7 * scale)


def test_specials_follow_jnp() -> None:
    z = jnp.asarray([jnp.inf, -jnp.inf, jnp.nan], jnp.float32)
    np.testing.assert_array_equal(np.asarray(FM.exp(z)), [np.inf, 0.0, np.nan])
    np.testing.assert_array_equal(np.asarray(FM.expm1(z)), [np.inf, -1.0, np.nan])
    a = jnp.asarray([jnp.inf, -1.0, -2.0, jnp.nan, -jnp.inf], jnp.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_array_equal(np.asarray(FM.log1p(a)), np.log1p(np.asarray(a)))


@pytest.mark.parametrize("name", ["exp", "expm1", "log1p"])
def test_gradients_are_the_exact_derivatives(name: str) -> None:
    x = jnp.asarray([-30.0, -0.5, -1e-6, 0.0, 1e-6, 0.3, 5.0, 60.0], jnp.float32)
    if name == "log1p":
        x = jnp.abs(x)
    g = jax.vmap(jax.grad(getattr(FM, name)))(x)
    x64 = np.asarray(x, np.float64)
    want = {"exp": np.exp(x64), "expm1": np.exp(x64), "log1p": 1.0 / (1.0 + x64)}[name]
    np.testing.assert_allclose(np.asarray(g), want, rtol=3e-7)


@pytest.mark.parametrize("name", ["exp", "expm1", "log1p"])
def test_other_dtypes_use_jnp(name: str) -> None:
    with jax.enable_x64(True):
        x = jnp.asarray([1e-12, 0.5, 3.0], jnp.float64)
        np.testing.assert_array_equal(np.asarray(getattr(FM, name)(x)), np.asarray(getattr(jnp, name)(x)))


def _bases() -> np.ndarray:
    return np.concatenate([
        np.geomspace(F32.tiny, 1.0, 300_000), np.linspace(1e-6, 1.0, 300_001), np.geomspace(1.0, F32.max, 200_000),
        [F32.tiny, np.sqrt(0.5), np.sqrt(2.0), np.nextafter(np.float32(1), np.float32(0)), 1.0, 2.0, F32.max],
    ]).astype(np.float32)


@pytest.mark.parametrize("p", [0.0, 1e-3, 0.1, 0.5, 0.9, 1.0, 1.5, 2.0, 3.0, -0.5, -3.0, 7.0, 10.0])
def test_power_within_a_few_ulps_of_float64(p: float) -> None:
    x = _bases()
    with np.errstate(over="ignore", divide="ignore"):
        ref = x.astype(np.float64) ** np.float64(np.float32(p))
    out = np.asarray(jax.jit(FM.power)(x, np.float32(p)))
    assert out.dtype == np.float32
    normal = (ref >= F32.tiny) & (ref <= float(F32.max) * (1 - 1e-6))
    # A few ulps up to |p| = 3; the rounding of p log2(f) grows with |p| (module docstring).
    assert _rel(out[normal], ref[normal]).max() <= max(2.5e-7, 6e-8 * abs(p))
    # Absolute error of a progress raised to a power: what a schedule's value sees, relative to its peak.
    unit = x <= 1
    if p >= 0:
        assert np.abs(out[unit] - ref[unit]).max() <= 1e-7
    assert np.all(out[ref > float(F32.max) * (1 + 1e-6)] == np.inf)
    assert np.all(out[ref < F32.tiny / 2] == 0.0)
    if p == 1.0:
        np.testing.assert_array_equal(out, x)  # exactly x, as the schedules without an exponent give
    if p == 0.0:
        assert np.all(out == 1.0)


def test_power_specials_follow_jnp() -> None:
    x = jnp.asarray([jnp.inf, jnp.nan, 1.0, 0.5], jnp.float32)
    for p in [2.5, 1.0, 0.0, -2.5]:
        with np.errstate(divide="ignore", invalid="ignore"):
            want = np.asarray(x) ** np.float32(p)
        np.testing.assert_array_equal(np.asarray(FM.power(x, jnp.float32(p))), want)


def test_power_gradients_are_the_exact_derivatives() -> None:
    x = jnp.asarray([1e-30, 1e-6, 0.3, 0.5, 1.0, 7.0], jnp.float32)
    for p in [0.0, 0.5, 1.0, 2.0, 3.7]:
        dx, dp = jax.vmap(jax.grad(FM.power, argnums=(0, 1)), (0, None))(x, jnp.float32(p))
        x64 = np.asarray(x, np.float64)
        want_dx, want_dp = p * x64 ** (p - 1), x64**p * np.log(x64)
        ok = np.abs(want_dx) >= F32.tiny  # below, float32 has 0
        np.testing.assert_allclose(np.asarray(dx)[ok], want_dx[ok], rtol=1e-6)
        np.testing.assert_allclose(np.asarray(dx)[~ok], 0.0, atol=F32.tiny)
        np.testing.assert_allclose(np.asarray(dp), want_dp, rtol=1e-6, atol=1e-30)


def test_power_under_plain_call_jit_and_vmap() -> None:
    x = jnp.linspace(0.0, 1.0, 1001, dtype=jnp.float32)[1:]
    p = jnp.asarray([0.5, 1.0, 2.0, 3.0], jnp.float32)
    ref = np.asarray(x, np.float64)[None] ** np.asarray(p, np.float64)[:, None]
    plain = np.stack([np.asarray(FM.power(x, q)) for q in p])  # op by op: its own rounding (conventions.md)
    jitted = np.stack([np.asarray(jax.jit(FM.power)(x, q)) for q in p])
    vmapped = np.asarray(jax.jit(jax.vmap(FM.power, (None, 0)))(x, p))  # XLA may contract other products
    for out in (plain, jitted, vmapped):
        np.testing.assert_allclose(out, ref, rtol=2.5e-7)


def test_safe_pow_fast_path_is_total_and_exact_where_it_must_be() -> None:
    from jaxsched._base import safe_pow

    x = jnp.asarray([0.0, 1e-40, F32.tiny, 0.25, 1.0], jnp.float32)
    np.testing.assert_array_equal(np.asarray(safe_pow(x, jnp.float32(0.0))), [1.0, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(safe_pow(x, jnp.float32(1.0))), [0.0, 0.0, F32.tiny, 0.25, 1.0])
    np.testing.assert_array_equal(np.asarray(safe_pow(x, jnp.float32(0.5)))[[0, 1, 3, 4]], [0.0, 0.0, 0.5, 1.0])
    # Finite gradients at 0, in x and in p.
    for f in (lambda v: safe_pow(v, jnp.float32(0.5)), lambda v: safe_pow(v, jnp.float32(2.0))):
        assert np.isfinite(np.asarray(jax.vmap(jax.grad(f))(x))).all()
    assert np.isfinite(np.asarray(jax.vmap(jax.grad(lambda q: safe_pow(x, q).sum()))(jnp.asarray([0.0, 0.5])))).all()
    # exact=True is XLA's pow, bit for bit (tables matched to a peer's numbers).
    g = jnp.asarray(0.3, jnp.float32)
    k = jnp.arange(8, dtype=jnp.float32)
    np.testing.assert_array_equal(np.asarray(safe_pow(g, k, exact=True)), np.asarray(jax.jit(jnp.power)(g, k)))


# ----------------------------------------------------------------------------- cosine factor (functional.py)


def _factor64(f: np.ndarray) -> np.ndarray:
    """(1 + cos(pi f)) / 2 in float64, as sin(pi (1 - f) / 2)**2 past the midpoint (no cancellation)."""
    f = f.astype(np.float64)
    return np.where(f > 0.5, np.sin(0.5 * np.pi * (1.0 - f)) ** 2, 0.5 * (1.0 + np.cos(np.pi * f)))


def test_cosine_factor_within_2e7_over_the_whole_range() -> None:
    from jaxsched.functional import cosine_factor

    half = np.float32(0.5)
    f = np.concatenate([
        np.linspace(0.0, 1.0, 2_000_001, dtype=np.float32),
        np.nextafter(half, np.float32([0.0, 1.0])),
        np.float32([F32.tiny, 1e-30, 1.0 - 2.0**-24, np.nextafter(np.float32(1.0), np.float32(0.0))]),
    ])
    out = np.asarray(jax.jit(cosine_factor)(jnp.asarray(f)), np.float64)
    ref = _factor64(f)
    assert np.abs(out - ref).max() <= 2e-7
    assert out[0] == 1.0 and out[2_000_000] == 0.0
    tail = (f > 0.5) & (ref > 0)  # past the midpoint the factor keeps its relative precision
    assert (np.abs(out[tail] - ref[tail]) / ref[tail]).max() <= 5e-7


def test_periodic_cosine_factor_reduces_any_progress() -> None:
    # transformers' waves and torch's extrapolated one-cycle phase run past p = 1 (and below 0): the
    # reduction into [0, 1] adds at most the rounding of p itself (float32 p near 4: 2 ulps of 4 * pi / 2)
    from jaxsched.functional import periodic_cosine_factor

    p = np.concatenate([np.linspace(-4.0, 4.0, 800_001, dtype=np.float32), np.float32([1.0, 2.0, 3.0, -1.0])])
    out = np.asarray(jax.jit(periodic_cosine_factor)(jnp.asarray(p)), np.float64)
    ref = 0.5 * (1.0 + np.cos(np.pi * p.astype(np.float64)))
    assert np.abs(out - ref).max() <= 2e-7 + 2 * np.pi / 2 * np.spacing(np.float32(4.0))
    np.testing.assert_array_equal(out[-4:], [0.0, 1.0, 0.0, 0.0])


def test_new_functional_helpers_agree_under_plain_call_jit_and_vmap() -> None:
    from jaxsched.functional import blend, periodic_cosine_factor

    f = jnp.linspace(0.0, 1.0, 17, dtype=jnp.float32)
    ends = jnp.asarray([0.0, 0.5, 3.0], jnp.float32)
    plain = jnp.stack([blend(jnp.float32(2.0), e, f) for e in ends])
    np.testing.assert_array_equal(jax.jit(lambda e: blend(jnp.float32(2.0), e, f))(ends[1]), plain[1])
    np.testing.assert_array_equal(jax.vmap(lambda e: blend(jnp.float32(2.0), e, f))(ends), plain)
    p = jnp.linspace(-3.0, 3.0, 25, dtype=jnp.float32)
    want = np.asarray(periodic_cosine_factor(p))
    np.testing.assert_array_equal(np.asarray(jax.jit(periodic_cosine_factor)(p)), want)
    np.testing.assert_array_equal(np.asarray(jax.vmap(periodic_cosine_factor)(p)), want)


def test_remaining_under_plain_call_jit_vmap_and_its_gradients() -> None:
    from jaxsched.functional import progress, remaining

    t = jnp.asarray([-3.0, 0.0, 1.0, 49.5, 99.0, 100.0, 250.0], jnp.float32)
    L = jnp.asarray([100.0, 7.0, 1e-40, 0.0], jnp.float32)  # the last two: empty phases
    plain = np.stack([np.asarray(remaining(t, x)) for x in L])
    np.testing.assert_array_equal(np.asarray(jax.vmap(remaining, (None, 0))(t, L)), plain)
    np.testing.assert_array_equal(np.asarray(jax.jit(remaining)(t, L[0])), plain[0])
    np.testing.assert_allclose(plain, 1.0 - np.stack([np.asarray(progress(t, x)) for x in L]), atol=6e-8)
    assert np.all(plain[2:] == 0.0) and plain[0, 0] == 1.0
    # d/dL (L - t) / L = t / L**2 inside the phase, 0 outside; finite for the empty ones.
    g = jax.vmap(jax.grad(lambda x, tt: remaining(tt, x)), (None, 0))(jnp.float32(100.0), t)
    np.testing.assert_allclose(np.asarray(g), [0.0, 0.0, 1e-4, 49.5e-4, 99e-4, 0.0, 0.0], rtol=2e-5, atol=1e-12)
    assert np.isfinite(np.asarray(jax.vmap(jax.grad(lambda x: remaining(jnp.float32(5.0), x)))(L))).all()


@pytest.mark.parametrize("power", [0.1, 0.3, 0.5, 0.9, 2.5])
def test_fractional_powers_keep_their_precision_near_the_end(power: float) -> None:
    """(1 - p)**power and c**power near the end of the phase, where a power below 1 amplifies the
    rounding of 1 - p (``1 - t / T`` was up to 9e-6 of the peak off; ``(T - t) / T`` is not)."""
    import jaxsched

    T = 100_000
    t = np.arange(T - 2000, T + 2)
    p64 = np.clip(t / T, 0.0, 1.0)
    poly = np.asarray(jaxsched.polynomial(1.0, 0.0, T, power)(t), np.float64)
    np.testing.assert_allclose(poly, (1.0 - p64) ** power, rtol=0, atol=3e-7)
    cos = np.asarray(jaxsched.cosine(1.0, 0.0, T, exponent=power)(t), np.float64)
    np.testing.assert_allclose(cos, ((1.0 + np.cos(np.pi * p64)) / 2) ** power, rtol=0, atol=3e-7)


@pytest.mark.parametrize("peak, end", [(1.0, 0.0), (3e-4, 3e-5), (2.5, 1.0)])
def test_cosine_schedules_within_2e7_of_the_peak_at_every_step(peak: float, end: float) -> None:
    import jaxsched

    T, W = 100_000, 1_000
    t = np.arange(T + 3)
    cos = np.asarray(jaxsched.cosine(peak, end, T)(jnp.asarray(t, jnp.int32)), np.float64)
    want = end + (peak - end) * _factor64(np.minimum(t, T) / T)
    assert np.abs(cos - want).max() <= 2e-7 * peak
    wcos = jaxsched.warmup_cosine(peak, T, warmup_steps=W, end_value=end)
    wc = np.asarray(wcos(jnp.asarray(t, jnp.int32)), np.float64)
    want = np.where(t < W, peak * t / W, end + (peak - end) * _factor64(np.clip((t - W) / (T - W), 0.0, 1.0)))
    assert np.abs(wc - want).max() <= 2e-7 * peak


@pytest.mark.parametrize("length", [1.0, 3.0, 7.0, 999.0, 12345.5, 100_000.0, 2.0**24])
def test_cosine_from_the_step_within_2e7_and_exact_at_both_ends(length: float) -> None:
    # functional.cosine forms no progress (_quarter_arg): its factor must still be the factor of
    # clip(t / L, 0, 1) within the bound, exactly 1 up to the start and 0 from the end on.
    from jaxsched import functional as F

    L = np.float32(length)
    t = np.concatenate([
        np.float32([-1e6, -3.0, -0.5, 0.0]),
        np.linspace(0.0, L, 100_001, dtype=np.float32),
        np.nextafter(L, np.float32([0.0, 2.0 * L])),
        np.nextafter(L / 2, np.float32([0.0, L])),
        np.float32([L / 2, L, L + 0.5, L + 3.0, 4.0 * L]),
    ])
    out = np.asarray(jax.jit(F.cosine)(jnp.asarray(t), 1.0, 0.0, jnp.asarray(L)), np.float64)
    ref = _factor64(np.clip(t.astype(np.float64) / np.float64(L), 0.0, 1.0))
    assert np.abs(out - ref).max() <= 2e-7
    assert np.all(out[t <= 0] == 1.0) and np.all(out[t >= L] == 0.0)
    # A step or more before the end, the factor is not yet 0 (within a rounding of the end, t h and
    # L h may be the same float: so was the progress t * (1 / L) before).
    assert np.all(out[(t > 0) & (t <= L - 1)] > 0.0)


def test_cosine_from_the_step_has_the_factors_derivative() -> None:
    from jaxsched import functional as F

    L = 100.0
    t = np.float32([0.5, 10.0, 49.0, 50.0, 51.0, 90.0, 99.5])
    grad = jax.vmap(jax.grad(lambda t, L: F.cosine(t, 1.0, 0.0, L), argnums=(0, 1)), in_axes=(0, None))
    dt, dL = (np.asarray(g, np.float64) for g in grad(jnp.asarray(t), jnp.float32(L)))
    slope = -0.5 * np.pi * np.sin(np.pi * t / L)  # d/dp of (1 + cos(pi p)) / 2
    np.testing.assert_allclose(dt, slope / L, rtol=2e-5)
    np.testing.assert_allclose(dL, -slope * t / L**2, rtol=2e-5)
    # before the start, from the end on, and on an empty phase: no slope
    out = np.float32([-2.0, 0.0, L, L + 1.0, 1e9])
    dt, dL = grad(jnp.asarray(out), jnp.float32(L))
    assert not np.any(np.asarray(dt)) and not np.any(np.asarray(dL))
    dt, dL = grad(jnp.asarray(t), jnp.float32(0.0))
    assert not np.any(np.asarray(dt)) and not np.any(np.asarray(dL))


@pytest.mark.parametrize("name, where, lo, hi", [
    ("log1p", "jaxsched._fastmath._LOG1P", math.sqrt(0.5) - 1, math.sqrt(2) - 1),
    ("sinpi4", "jaxsched.functional._SIN_PI4", 0.0, 1 / 16),
])
def test_coefficients_are_the_scripts(name: str, where: str, lo: float, hi: float) -> None:
    # The polynomials in the package are the ones scripts/fastmath_coefficients.py fits (no hand-edited digits).
    import importlib
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "fastmath_coefficients.py"
    fitted = runpy.run_path(str(script))[f"{name}_coefficients"]()
    module, attr = where.rsplit(".", 1)
    ours = np.asarray(getattr(importlib.import_module(module), attr))
    # The least-squares fit is ill-conditioned in its coefficients: OpenBLAS's kernel for the CPU at
    # hand moves their last digits (up to 3e-10 relative), not the polynomial. So the coefficients
    # agree to 1e-8 (any edited digit shows) and the polynomials to 1e-13 over the fitted interval.
    np.testing.assert_allclose(ours, fitted, rtol=1e-8, atol=0)
    x = np.linspace(lo, hi, 10_001)
    want = np.polynomial.polynomial.polyval(x, fitted)
    assert np.max(np.abs(np.polynomial.polynomial.polyval(x, ours) - want)) <= 1e-13 * np.max(np.abs(want))
