"""Pure, broadcasting functions ``f(t, *hyperparameters) -> lr``.

These are the arithmetic under every primitive schedule. ``t`` is a float
local step (``>= 0``); every hyperparameter broadcasts against it. They are
total: any finite input (a zero length, a zero rate) gives a finite value and
a finite gradient, so they are safe under ``jit``, ``vmap`` and ``grad`` with
traced hyperparameters.

>>> import jax.numpy as jnp
>>> from jaxsched import functional as F
>>> F.cosine(jnp.array([0.0, 50.0, 100.0]), 1.0, 0.0, 100.0, 1.0).round(4).tolist()
[1.0, 0.5, 0.0]
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Array, clamp, safe_div, safe_pow, safe_sqrt, unit_sqrt

__all__ = [
    "progress",
    "remaining",
    "linear",
    "cosine",
    "polynomial",
    "exponential",
    "inverse_sqrt",
    "sqrt_decay",
    "cooldown",
    "cosine_factor",
    "periodic_cosine_factor",
    "blend",
]


@jax.custom_jvp
def _unit_ratio(t: Array, den: Array) -> Array:
    """``max(t / den, 0)`` (``den > 0``), whose derivative is ``(dt - q dden) / den`` below 1.

    JAX would differentiate ``t / den`` as ``-t * den**-2``, which underflows to
    ``0 * inf`` for lengths below ~1e-19 (float32); with the quotient clipped
    into ``[0, 1]`` this form is finite for any ``den`` down to the smallest
    normal float. ``1 / den`` is taken once per setting, not per step.

    :func:`progress` uses it only where ``t < den``, and there the quotient
    needs no upper clip: ``t`` is at most ``den (1 - 2**-p)`` (the float below
    ``den``, ``p`` the precision) and ``1 / den`` rounds up by at most a factor
    ``1 + 2**-p``, so ``t * (1 / den)`` is below ``1 - 2**-2p`` before its
    rounding and at most 1 after it (``tests/test_primitives.py`` checks this).
    The lower clip is a select (``_base.clamp``), not ``maximum``: XLA's ``maximum`` must
    propagate a NaN, which costs x86 two more vector operations per step
    (``q < 0`` is false for a NaN, which passes through either way). Both
    savings together made a warmup-cosine grid 9% faster.
    """
    return clamp(t * jnp.reciprocal(den), 0.0)


@_unit_ratio.defjvp
def _unit_ratio_jvp(primals: tuple[Array, Array], tangents: tuple[Array, Array]) -> tuple[Array, Array]:
    t, den = primals
    dt, dden = tangents
    q = _unit_ratio(t, den)
    moving = (t >= 0) & (q < 1)
    # q is inf where t / den overflows (a tiny den, far past the end): outside `moving` its slope
    # -q / den would meet where's zero cotangent as 0 * inf = NaN in reverse mode, so it is zeroed first.
    qm = jnp.where(moving, q, jnp.zeros_like(q))
    return q, jnp.where(moving, (dt - qm * dden) / den, jnp.zeros_like(q))


def progress(t: Array, steps: Array) -> Array:
    """Fraction of a phase done: ``clip(t / steps, 0, 1)``; 1 for an empty phase.

    The division's gradient is taken as ``-p / steps``, so a phase of any
    length, however short, has a finite gradient. Lengths below the smallest
    normal float (which XLA flushes to zero) count as empty.
    """
    t, den, inside = _phase(t, steps)
    return jnp.where(inside, _unit_ratio(t, den), jnp.ones(jnp.broadcast_shapes(t.shape, den.shape), t.dtype))


def _phase(t: Array, steps: Array) -> tuple[Array, Array, Array]:
    """``(t, den, inside)``: the length as a divisor (1 for an empty phase) and ``t < steps``."""
    t = jnp.asarray(t)
    steps = jnp.asarray(steps, t.dtype)
    ok = steps >= jnp.finfo(t.dtype).tiny
    den = jnp.where(ok, steps, jnp.ones_like(steps))  # per setting: its reciprocal is taken once
    # The end is decided by comparing steps, not by the quotient (t * (1 / D) may be one ulp short
    # of 1 at t == D); an empty phase compares against -inf (over from the start).
    return t, den, t < jnp.where(ok, steps, jnp.full_like(steps, -jnp.inf))


def remaining(t: Array, steps: Array) -> Array:
    """Fraction of a phase left: ``1 - progress(t, steps)``, as ``(steps - t) / steps``.

    ``steps - t`` is exact near the end (``t`` within a factor 2 of ``steps``),
    so the fraction keeps its relative precision as it goes to 0, where a power
    below 1 amplifies an error (``1 - p`` is off by up to an ulp of 1 there:
    ``polynomial(power=0.1)`` was 4.9e-5 of the peak off near the end of
    100,000 steps). 0 for an empty phase. Gradients are those of
    ``(steps - t) / steps`` inside the phase (finite for any length, as
    :func:`progress`'s), 0 outside it.

    >>> from jaxsched import functional as F
    >>> F.remaining(jnp.array([-1.0, 0.0, 25.0, 99.0, 100.0, 120.0]), 100.0).tolist()
    [1.0, 1.0, 0.75, 0.009999999776482582, 0.0, 0.0]
    """
    t, den, inside = _phase(t, steps)
    # Above 1 before the start (t < 0), where the select caps it (and the ratio's slope is 0).
    return jnp.where(inside, clamp(_unit_ratio(den - t, den), hi=1.0), jnp.zeros_like(t))


# sin(pi y) = y * sum_k c_k y**(2k), |y| <= 1/4: interpolated at Chebyshev points by
# scripts/fastmath_coefficients.py (relative error ~3e-9 in float64, below float32's rounding).
_SIN_PI4 = (
    3.141592643737863,
    -5.167707801600477,
    2.5497663655717555,
    -0.5890697851090452,
)


def _sin_pi4(y: Array) -> Array:
    """``sin(pi y)`` for float32 ``|y| <= 1/4``: ``y`` times ``_SIN_PI4`` in ``y**2`` by Horner's rule.

    Horner, not Estrin: the cosine loops are bound by throughput, not latency (DESIGN.md).
    """
    z = y * y
    p = _SIN_PI4[-1] * z + _SIN_PI4[-2]
    for c in reversed(_SIN_PI4[:-2]):
        p = p * z + c
    return y * p


def _quarters(y: Array, tail: Array) -> Array:
    """``sin(pi y)**2`` in the tail, ``1 - sin(pi y)**2`` (``cos(pi y)**2``) before it; ``0 <= y <= 1/4``."""
    q = jnp.square(_sin_pi4(y))
    return jnp.where(tail, q, 1.0 - q)


def blend(init_value: Array, end_value: Array, f: Array) -> Array:
    """``end + (init - end) * f`` for ``f`` in ``[0, 1]``, exact at both ends.

    Written from the nearer end: ``init + (init - end) * (f - 1)`` where
    ``f > 1/2`` (``f - 1`` is exact there), so ``f = 1`` gives ``init`` itself,
    not ``end + (init - end)``, which float32 rounds to the precision of
    ``end``: a one-cycle's first rate ``max_lr / 1e4`` came out 1.7e-4 too
    high (relative). ``f = 0`` gives ``end``. The derivative is the plain
    form's.

    >>> from jaxsched import functional as F
    >>> import numpy as np
    >>> a, one = np.float32(1e-4), np.float32(1.0)
    >>> bool(F.blend(a, one, one) == a), bool(one + (a - one) * one == a)  # blend, and the plain form
    (True, False)
    """
    d = init_value - end_value
    hi = f > 0.5
    return jnp.where(hi, init_value, end_value) + d * jnp.where(hi, f - 1.0, f)


def cosine_factor(frac: Array) -> Array:
    """``(1 + cos(pi * frac)) / 2`` for ``frac`` in ``[0, 1]``: 1 at 0, 0 at 1.

    The factor is ``cos(pi y)**2`` with ``y = frac / 2``. In float32 it is
    computed on quarter periods: ``1 - sin(pi y)**2`` up to the midpoint and
    ``sin(pi u)**2`` with ``u = (1 - frac) / 2`` (exact) past it, with one odd
    polynomial for ``sin(pi y)`` on ``|y| <= 1/4`` (four terms, fitted by
    ``scripts/fastmath_coefficients.py``) evaluated by Horner's rule: XLA's
    ``cos`` is not vectorised on CPU and costs several times the polynomial.
    The maximum error against float64 is about 1.6e-7
    (``tests/test_fastmath.py`` checks 2e-7 over the whole range, and within
    2e-7 of the peak at every step of cosine schedules). Past the midpoint the
    factor keeps its *relative* precision as it approaches 0 (a fractional
    ``exponent`` would amplify an absolute error there: ``c ** 0.1`` off by 0.1
    in float32 from ``1/2 + cos(pi frac) / 2``). Wider dtypes use ``jnp.cos``.
    """
    frac = jnp.asarray(frac)
    tail = frac > 0.5
    u = 0.5 * (1.0 - frac)
    if frac.dtype != jnp.float32:
        return jnp.where(tail, jnp.square(jnp.sin(jnp.pi * u)), 0.5 * (1.0 + jnp.cos(jnp.pi * frac)))
    return _quarters(jnp.where(tail, u, 0.5 * frac), tail)


def periodic_cosine_factor(p: Array) -> Array:
    """``(1 + cos(pi p)) / 2`` for any ``p``: even with period 2, reduced into ``[0, 1]`` for :func:`cosine_factor`.

    For the waves that run past their end (transformers' cosine schedules, torch's extrapolated
    one-cycle phase): XLA's ``cos`` is a scalar call on CPU, several times the polynomial's cost.

    >>> from jaxsched import functional as F
    >>> F.periodic_cosine_factor(jnp.array([0.0, 0.5, 1.0, 1.5, -0.5, 2.0])).round(6).tolist()
    [1.0, 0.5, 0.0, 0.5, 0.5, 1.0]
    """
    r = jnp.abs(jnp.asarray(p))
    r = r - 2.0 * jnp.floor(0.5 * r)
    return cosine_factor(jnp.where(r > 1.0, 2.0 - r, r))


def _half_rate(steps: Array) -> tuple[Array, Array]:
    """``(ok, h)``: whether ``steps`` is a phase (at least the smallest normal float); ``1 / (2 steps)``, or 0."""
    ok = steps >= jnp.finfo(steps.dtype).tiny
    return ok, jnp.where(ok, 0.5 * jnp.reciprocal(jnp.where(ok, steps, jnp.ones_like(steps))), jnp.zeros_like(steps))


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _quarter_arg(t: Array, steps: Array, precise: bool = False) -> tuple[Array, Array]:
    """``(y, tail)``: ``(1 + cos(pi p)) / 2`` is ``cos(pi y)**2``, in the tail ``sin(pi y)**2``.

    ``p = clip(t / steps, 0, 1)``.

    ``y = t h`` up to the midpoint and ``s h - t h`` past it, ``h = 1 / (2 steps)``
    and ``s h`` per setting: the product ``t h`` is shared, and ``y`` is exactly
    0 at ``t = steps`` (the same product) and at ``t = 0``. ``precise`` takes
    ``(s - t) h`` past the midpoint instead (``s - t`` exact there): full relative
    precision near the end, for a power of the factor. ``y`` is clipped at 0
    (before the start, after the end). Lengths below the smallest normal float
    count as empty (the tail from the start: ``y = 0``, the factor 0). The
    derivative is ``h (dt - 2 y dsteps)`` up to the midpoint and
    ``-h (dt - (1 - 2 y) dsteps)`` past it, finite for any length (JAX's own
    would square ``1 / steps``, which overflows below ~1e-19).
    """
    ok, h = _half_rate(steps)
    tail = t > jnp.where(ok, 0.5 * steps, jnp.full_like(steps, -jnp.inf))
    if precise:
        # In the tail s - t is exact (t within a factor 2 of s), so y keeps its relative precision up
        # to the end, where an exponent amplifies it (s h - t h rounds both products: 2e-6 of the peak
        # off near the end of cosine(exponent=0.3)). An empty or infinite phase has h = 0: y = 0 (s is
        # made finite per setting, as inf * 0 is NaN). The plain cosine keeps the shared product
        # below: the select before the product made the warmup-cosine grid ~8% slower (in-process A/B).
        s = jnp.where(h > 0, steps, jnp.zeros_like(steps))
        return clamp(jnp.where(tail, s - t, t) * h, 0.0), tail
    end = jnp.where(h > 0, steps * h, jnp.zeros_like(steps))  # ~1/2; 0 for an empty or infinite phase
    a = t * h
    return clamp(jnp.where(tail, end - a, a), 0.0), tail


@_quarter_arg.defjvp
def _quarter_arg_jvp(
    precise: bool, primals: tuple[Array, Array], tangents: tuple[Array, Array]
) -> tuple[Any, Any]:
    t, steps = primals
    dt, dsteps = tangents
    y, tail = _quarter_arg(t, steps, precise)
    h = _half_rate(steps)[1]
    moving = y > 0  # clipped (before the start, after the end) or empty: no slope
    g = jnp.where(tail, 1.0 - 2.0 * y, 2.0 * y)  # t / steps, in [0, 1] where moving
    dy = jnp.where(tail, -h, h) * (dt - g * dsteps)
    return (y, tail), (jnp.where(moving, dy, jnp.zeros_like(dy)), np.zeros(np.shape(tail), jax.dtypes.float0))


def _cosine_of(t: Array, steps: Array) -> Array:
    """``cosine_factor(progress(t, steps))`` from the step and the length, without the progress.

    In float32 the quarter's argument comes straight from ``t`` (:func:`_quarter_arg`):
    no clipped progress, no ``1 - p``, 4 operations per step fewer than the
    composition (``jaxsched/DESIGN.md``). Other dtypes compose the two.
    """
    t = jnp.asarray(t)
    steps = jnp.asarray(steps, t.dtype)
    if t.dtype != jnp.float32:
        return cosine_factor(progress(t, steps))
    y, tail = _quarter_arg(t, steps, True)  # a power of the factor follows: relative precision at the end
    return _quarters(y, tail)


def linear(t: Array, init_value: Array, end_value: Array, steps: Array) -> Array:
    """``(1 - p) * init + p * end`` with ``p = clip(t / steps, 0, 1)`` (exact at both ends)."""
    p = progress(t, steps)
    return (1.0 - p) * init_value + p * end_value


def cosine(t: Array, init_value: Array, end_value: Array, steps: Array, exponent: Array | None = None) -> Array:
    """``end + (init - end) * ((1 + cos(pi p)) / 2) ** exponent``, ``p = clip(t / steps, 0, 1)``.

    ``exponent=None`` is the plain cosine (no power is computed).
    """
    t = jnp.asarray(t)
    if exponent is None and t.dtype == jnp.float32:
        # From the nearer end, as `blend`, at no cost: the quarter's sin(pi y)**2 is 1 - c before the
        # midpoint and c past it, so init + (end - init) q there and end + (init - end) q here.
        y, tail = _quarter_arg(t, jnp.asarray(steps, t.dtype))
        d = init_value - end_value
        return jnp.where(tail, end_value, init_value) + jnp.where(tail, d, -d) * jnp.square(_sin_pi4(y))
    c = _cosine_of(t, steps)
    if exponent is not None:
        c = safe_pow(c, exponent)
    return blend(init_value, end_value, c)


def polynomial(t: Array, init_value: Array, end_value: Array, steps: Array, power: Array | None = None) -> Array:
    """``end + (init - end) * (1 - p) ** power``, ``p = clip(t / steps, 0, 1)``; ``power=None`` is 1 (no power)."""
    left = remaining(t, steps)
    return blend(init_value, end_value, left if power is None else safe_pow(left, power))


def sqrt_decay(t: Array, init_value: Array, end_value: Array, steps: Array, power: Array | None = None) -> Array:
    """The "1-sqrt" cooldown: ``end + (init - end) * (1 - p ** power)``; ``power=None`` is 1-sqrt."""
    p = progress(t, steps)
    q = unit_sqrt(p) if power is None else safe_pow(p, power)
    # The plain blend (exact at the end, within an ulp of init at the start of a decay): WSD's cooldown is
    # this cheap kernel, and `blend`'s selects made the WSD grid 30% slower (DESIGN.md, "Cosine in float32").
    return end_value + (init_value - end_value) * (1.0 - q)


def cooldown(t: Array, init_value: Array, end_value: Array, steps: Array, shape: Array) -> Array:
    """A decay from ``init`` to ``end`` whose shape is a number (so a sweep can vary it).

    ``shape`` 0: linear ``(1 - p) init + p end``; 1: cosine
    ``end + (init - end) (1 + cos(pi p)) / 2``; 2: "1-sqrt"
    ``end + (init - end) (1 - sqrt(p))``; ``p = clip(t / steps, 0, 1)``. The
    shapes share one progress and one blend: a ``select`` of three schedules
    would compute three of each. A Python ``int`` shape is static: only that
    shape is computed.

    >>> import jax.numpy as jnp
    >>> from jaxsched import functional as F
    >>> F.cooldown(jnp.array([0.0, 1.0, 4.0]), 1.0, 0.0, 4.0, jnp.array(2)).tolist()
    [1.0, 0.5, 0.0]
    """
    p = progress(t, steps)
    linear = lambda: (1.0 - p) * init_value + p * end_value  # noqa: E731
    mix = lambda f: end_value + (init_value - end_value) * f  # noqa: E731  (plain, as sqrt_decay's: WSD's cost)
    if isinstance(shape, int) and not isinstance(shape, bool):  # static: only that shape is computed
        return linear() if shape == 0 else mix(cosine_factor(p) if shape == 1 else 1.0 - unit_sqrt(p))
    return jnp.where(shape == 0, linear(), mix(jnp.where(shape == 1, cosine_factor(p), 1.0 - unit_sqrt(p))))


def exponential(
    t: Array,
    init_value: Array,
    decay_rate: Array,
    decay_steps: Array,
    staircase: bool = False,
    end_value: Array | None = None,
) -> Array:
    """``init * decay_rate ** (t / decay_steps)`` (floored exponent if ``staircase``; ``0 ** 0 = 1``).

    ``end_value`` bounds the result: a floor when ``decay_rate < 1``, a ceiling
    when ``decay_rate > 1``. The exponent is capped so the value stays finite.
    """
    t = jnp.asarray(t)
    fi = jnp.finfo(t.dtype)
    ok = decay_steps >= fi.tiny
    d = jnp.where(ok, decay_steps, jnp.ones_like(decay_steps))
    rate = jnp.maximum(decay_rate, jnp.asarray(fi.tiny, t.dtype))
    logr = jnp.log(rate)
    lo = -2.0 * math.log(float(fi.max))  # exp(lo) is exactly 0
    # A rate of 0 (torch's gamma=0, timm's decay_rate=0): 0**x is exactly 0 for x > 0 (tiny**x is not).
    gone = decay_rate <= 0
    if staircase:
        # floor(t / D), corrected at exact multiples (XLA may compute t * (1 / D)).
        q = jnp.floor(t / d)
        q = jnp.where((q + 1.0) * d <= t, q + 1.0, q)
        p = jnp.where(q * d > t, q - 1.0, q)
        e = jnp.where(gone & (p > 0), lo, jnp.minimum(p * logr, 80.0))
    else:
        # e = t log(rate) / D, saturated before the division where exp(e) is 0 or capped:
        # then the quotient (and its gradient, -e / D) stays bounded for any D > 0.
        num = t * logr
        low, high = (num < lo * d) | (gone & (t > 0)), num > 80.0 * d
        e = safe_div(jnp.where(low | high, jnp.zeros_like(num), num), d)
        e = jnp.where(low, lo, jnp.where(high, 80.0, e))
    v = init_value * jnp.exp(e)
    if end_value is None:
        return v
    return jnp.where(decay_rate < 1, jnp.maximum(v, end_value), jnp.minimum(v, end_value))


def inverse_sqrt(t: Array, init_value: Array, timescale: Array) -> Array:
    """``init / sqrt(1 + t / timescale)``: 1/sqrt decay that starts at ``init``."""
    t = jnp.asarray(t)
    ok = timescale >= jnp.finfo(t.dtype).tiny
    ts = jnp.where(ok, timescale, jnp.ones_like(timescale))
    # sqrt(ts / (ts + t)): a bounded quotient, so any timescale > 0 has a finite gradient.
    return init_value * safe_sqrt(safe_div(ts, ts + t))
