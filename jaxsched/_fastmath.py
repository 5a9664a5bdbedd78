"""``exp``, ``expm1``, ``log1p`` and ``power`` for float32 in 25 to 55 vector operations each.

The closed form of :func:`~jaxsched.repeat` takes a ``log1p`` (the cycle index),
an ``expm1`` (the cycle's restart point) and an ``exp`` (the amplitude decay) of
every step. XLA:CPU's own kernels for these are correct but long (its
``log1p`` and ``expm1`` each cost more than all the other arithmetic of an SGDR
step together on a grid, see DESIGN.md), so float32 uses these instead, each the textbook method
in straight-line ``jnp``:

- ``exp`` / ``expm1``: ``z = n ln 2 + r`` with ``n = round(z / ln 2)`` and
  ``|r| <= ln(2) / 2`` (Cody and Waite's two-constant reduction, exact for the
  ``n`` that occur); ``expm1(r)`` by its Taylor polynomial to degree 8
  (truncation below 1e-9 relative; 1e-7 for the ``|r|`` up to ``ln 2`` next to
  overflow, where ``n`` is capped at 127); ``2**n`` built from its exponent bits;
  ``expm1(z) = 2**n expm1(r) + (2**n - 1)``, which keeps the relative precision
  near 0 (``n = 0``) and has no cancellation elsewhere.
- ``log1p``: ``u = 1 + a`` split into ``2**e f`` with ``f`` in
  ``[sqrt(1/2), sqrt(2))`` from its bits; ``log(f) = t + t**2 g(t)`` with
  ``t = f - 1`` (exact) and ``g`` a degree-8 polynomial interpolated at Chebyshev
  points (``scripts/fastmath_coefficients.py``; 1e-8 relative in float64).
  Where ``e = 0``, ``t = a`` itself, without the rounding of ``1 + a``: full
  relative precision near 0. (XLA's algebraic simplifier rewrites ``(1 + a) - 1``
  as ``a``, so the textbook correction ``(a - (u - 1)) / u`` would silently
  vanish.) There is no division: the earlier ``2 atanh((f - 1) / (f + 1))``
  spent a reciprocal in the middle of :func:`~jaxsched.repeat`'s dependency
  chain, and an SGDR grid ran 9% slower with it (DESIGN.md).
- ``power``: ``x**p`` as ``2**(p log2 x)`` from the same split of ``x``, with
  ``p e`` formed exactly so the rounding left is that of ``p log2(f)``
  (``|log2 f| <= 1/2``), not of ``p log2(x)``; see its docstring. XLA:CPU's
  ``pow`` is a scalar call per element: the exponents of ``cosine``,
  ``polynomial`` and timm's k-decay, and the ports built on them (optax's
  cosine schedules, every polynomial port), paid 3.4 times this kernel's
  time for it (``benchmarks/RESULTS.md``, "ports").

Polynomials are evaluated by Estrin's scheme (:func:`poly`).

Maximum relative error against float64, tested over each function's whole range
(``tests/test_fastmath.py``): a few ulps (below 2.5e-7; ``power`` for ``|p| <= 3``). Other dtypes use ``jnp``'s
own. Each has the exact derivative as a custom JVP (the bit manipulations have
none).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from ._base import Array, clamp

_LN2_HI = 0.693359375  # 9 significant bits: n * _LN2_HI is exact for |n| < 2**15
_LN2_LO = math.log(2.0) - _LN2_HI
_LOG2E = 1.0 / math.log(2.0)
_LN2 = math.log(2.0)
# Taylor coefficients of expm1(r) = sum_k r**k / k!, k = 2 .. 8 (the r term is added separately).
_EXPM1 = tuple(1.0 / math.factorial(k) for k in range(2, 9))
# log1p(t) = t + t**2 g(t) on [sqrt(1/2) - 1, sqrt(2) - 1]: g's monomial coefficients, printed by
# scripts/fastmath_coefficients.py (tests/test_fastmath.py checks the two agree).
_LOG1P = (
    -0.4999999766125549,
    0.3333332145368466,
    -0.25000772357280904,
    0.2000196953112977,
    -0.16627594939483814,
    0.1418898143652982,
    -0.13101669533946614,
    0.1282190834869132,
    -0.07866766390336856,
)
_HI = math.log(float(jnp.finfo(jnp.float32).max))  # exp overflows above
_LO = math.log(float(jnp.finfo(jnp.float32).tiny))  # exp is subnormal below, which XLA:CPU flushes to 0


def poly(x: Array, coeffs: tuple[float, ...]) -> Array:
    """``sum_k coeffs[k] * x**k`` by Estrin's scheme.

    Pairs ``c_2k + c_2k+1 x`` are combined with ``x**2``, then ``x**4``, ...: the
    chain of dependent operations is about ``2 log2(n)`` deep instead of
    Horner's ``n``, for two or three more multiplications. Loops that evaluate
    several of these polynomials in series (a step of :func:`~jaxsched.repeat`)
    are bound by that chain's latency, not by their operation count.
    """
    terms: list[Any] = [coeffs[k] + coeffs[k + 1] * x for k in range(0, len(coeffs) - 1, 2)]
    if len(coeffs) % 2:
        terms.append(coeffs[-1])  # a constant, multiplied by the power below
    power = x
    while len(terms) > 1:
        power = power * power
        terms = [terms[k] + terms[k + 1] * power if k + 1 < len(terms) else terms[k] for k in range(0, len(terms), 2)]
    return terms[0] + jnp.zeros_like(x) if len(coeffs) == 1 else terms[0]


def _reduce(z: Array) -> tuple[Array, Array]:
    """``(q, two_n)`` with ``exp(z) = two_n * (1 + q)`` (``q = expm1(r)``) for ``z`` in ``[_LO, _HI]``."""
    zc = clamp(z, _LO, _HI)  # exp and expm1 have their own JVPs: the clips' slopes are never used
    n = clamp(jnp.round(zc * _LOG2E), hi=127.0)  # in [-126, 127]: 2**n is a normal float
    r = (zc - n * _LN2_HI) - n * _LN2_LO  # |r| <= ln(2) / 2, up to ln(2) just below _HI
    q = r + (r * r) * poly(r, _EXPM1)
    two_n = lax.bitcast_convert_type(lax.shift_left(n.astype(jnp.int32) + 127, jnp.int32(23)), jnp.float32)
    return q, two_n


def _exp_like(z: Array, minus_one: bool) -> Array:
    """``exp(z)``, or ``exp(z) - 1`` if ``minus_one``: ``inf`` above ``_HI``, ``0`` / ``-1`` below ``_LO``."""
    z = jnp.asarray(z)
    if z.dtype != jnp.float32:
        return jnp.expm1(z) if minus_one else jnp.exp(z)
    q, two_n = _reduce(z)
    val, low = (two_n * q + (two_n - 1.0), -1.0) if minus_one else (two_n + two_n * q, 0.0)
    return jnp.where(z > _HI, jnp.inf, jnp.where(z < _LO, low, val))  # NaN stays NaN through val


@jax.custom_jvp
def exp(z: Array) -> Array:
    """``exp(z)``; float32 by range reduction and a polynomial (see the module docstring)."""
    return _exp_like(z, minus_one=False)


@exp.defjvp
def _exp_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    y = exp(primals[0])
    return y, y * tangents[0]


@jax.custom_jvp
def expm1(z: Array) -> Array:
    """``exp(z) - 1`` with full relative precision near 0; float32 as ``exp``."""
    return _exp_like(z, minus_one=True)


@expm1.defjvp
def _expm1_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    z = primals[0]
    return expm1(z), exp(z) * tangents[0]  # not expm1(z) + 1, which is 0 for z below -17


def _split(u: Array) -> tuple[Array, Array]:
    """``(e, f)``: ``u = 2**e * f`` with ``f`` in ``[sqrt(1/2), sqrt(2))`` and ``e`` an int32, from the bits
    of a positive normal float32 ``u``."""
    bits = lax.bitcast_convert_type(u, jnp.int32)
    # Offsetting the bits by those of sqrt(1/2) (0x3f3504f3) before the shift moves the exponent's
    # step to sqrt(2).
    e = lax.shift_right_arithmetic(bits - jnp.int32(0x3F3504F3), jnp.int32(23))
    return e, lax.bitcast_convert_type(bits - lax.shift_left(e, jnp.int32(23)), jnp.float32)


def _log_f(t: Array) -> Array:
    """``log(1 + t)`` for ``t = f - 1`` of :func:`_split`'s ``f`` (``|t| < 0.42``), by ``g``."""
    return t + (t * t) * poly(t, _LOG1P)


@jax.custom_jvp
def log1p(a: Array) -> Array:
    """``log(1 + a)`` with full relative precision near 0; float32 from the bits of ``1 + a``.

    ``-1`` gives ``-inf``, below it NaN, ``inf`` gives ``inf`` (as ``jnp.log1p``).
    """
    a = jnp.asarray(a)
    if a.dtype != jnp.float32:
        return jnp.log1p(a)
    u = 1.0 + a
    e, f = _split(u)
    # log(f) = t + t**2 g(t), t = f - 1 (exact: f is within a factor 2 of 1); where e = 0 (f = 1 + a),
    # t = a itself, without the rounding of 1 + a: full relative precision near 0. Elsewhere
    # |log1p(a)| > 0.34, and that rounding (half an ulp of u) costs at most 2e-7 of it.
    t = jnp.where(e == 0, a, f - 1.0)
    ef = e.astype(jnp.float32)
    y = ef * _LN2_HI + (_log_f(t) + ef * _LN2_LO)
    # The bit split means nothing for u <= 0 or u = inf (NaN stays NaN through y).
    return jnp.where(u == jnp.inf, jnp.inf, jnp.where(u > 0.0, y, jnp.where(u == 0.0, -jnp.inf, jnp.nan)))


@log1p.defjvp
def _log1p_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    a = primals[0]
    return log1p(a), tangents[0] / (1.0 + a)


_HIGH_BITS = -256  # 0xFFFFFF00: a float32 without its low 8 mantissa bits (16 significant bits left)


@jax.custom_jvp
def power(x: Array, p: Array) -> Array:
    """``x ** p`` for ``x >= 1.2e-38`` (a normal float32, or ``inf``) and a finite ``p``; float32 from bits.

    ``x = 2**e f`` (:func:`_split`), so ``x**p = 2**w`` with ``w = p e + p log2(f)``. ``p e`` is
    formed exactly as ``ph e + pl e`` (``ph``: ``p``'s top 16 significant bits, so ``ph e`` fits a
    float32's 24; ``pl = p - ph``) and its integer part ``I`` split off before anything is rounded;
    the remainder ``w - I`` is at most ``|p| / 2 + 1`` in size, so rounding it costs an absolute
    ``~|p| 6e-8`` in ``w``, not ``|p e|`` times that: a few ulps relative (below 2.5e-7 for
    ``|p| <= 3``, growing as ``|p|``: 5e-7 at 10). ``2**(w - I)`` is reduced once more to
    ``2**n 2**r``, ``|r| <= 1/2``, and ``2**r = 1 + expm1(r ln 2)`` by the Taylor polynomial of
    :func:`exp`. ``p == 1`` gives ``x`` itself. Results below the smallest normal float are 0.
    """
    x, p = jnp.asarray(x), jnp.asarray(p)
    if x.dtype != jnp.float32 or p.dtype != jnp.float32:
        return jnp.power(x, p)
    e, f = _split(x)
    l2 = _log_f(f - 1.0) * _LOG2E  # log2(f), |l2| <= 1/2
    ef = e.astype(jnp.float32)
    ph = lax.bitcast_convert_type(lax.bitcast_convert_type(p, jnp.int32) & jnp.int32(_HIGH_BITS), jnp.float32)
    a = ph * ef  # exact
    i = jnp.round(a)
    w = ((a - i) + (p - ph) * ef) + p * l2  # w - I, its first two terms exact
    n = jnp.round(w)
    r = (w - n) * _LN2
    q = r + (r * r) * poly(r, _EXPM1)  # 2**(w - I - n) - 1
    k = i + n
    kc = clamp(k, -126.0, 127.0)
    two_k = lax.bitcast_convert_type(lax.shift_left(kc.astype(jnp.int32) + 127, jnp.int32(23)), jnp.float32)
    # k = 128 is finite where q < 0: one more doubling; beyond it inf, below -126 a subnormal or 0 (flushed).
    v = (two_k + two_k * q) * jnp.where(k > 127.0, 2.0, 1.0)
    v = jnp.where(k > 128.0, jnp.inf, jnp.where(k < -126.0, 0.0, v))
    # inf ** p (inf, 1 or 0) and NaN propagate; the bit split means nothing there.
    special = jnp.where(p > 0.0, x, jnp.where(p == 0.0, 1.0, 1.0 / x))
    return jnp.where(p == 1.0, x, jnp.where(x < jnp.inf, v, special))


@power.defjvp
def _power_jvp(primals: tuple[Array, Array], tangents: tuple[Array, Array]) -> tuple[Array, Array]:
    x, p = primals
    dx, dp = tangents
    y = power(x, p)
    # p x**(p - 1), not p y / x: y underflows to 0 first (x = 1e-30, p = 2).
    return y, p * power(x, p - 1.0) * dx + y * jnp.log(x) * dp
