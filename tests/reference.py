"""Float64 NumPy reference implementations of jaxsched's schedules: the test oracle.

Written from the math in DESIGN.md and the public docstrings, never from
jaxsched's code (this module does not import jaxsched or JAX). Every builder
returns a plain function ``f(t) -> np.ndarray`` (float64, same shape as ``t``)
so references compose exactly like the schedules they check::

    ref = join([linear(0.0, 1.0, 10), cosine(1.0, 0.0, 90)], [10])
    ref(np.arange(200))

Conventions (DESIGN.md section 2):

* ``f(t)`` is the rate used by the update that sees ``count == t``.
* Negative steps give the value at step 0 (every builder clamps ``t >= 0``).
* Pieces are half-open ``[b_{i-1}, b_i)``; the switch happens *at* a boundary
  and each piece sees the step counted from its own start.
* After the last phase the final value holds (a ``repeat`` without a cycle
  limit keeps restarting).
* A phase of length 0 is already over at its start (its end value holds).

Restart cycles are located with exact rational arithmetic (``fractions``), by
walking the cycles one by one (or an exact floor division for equal cycles),
never by a floored logarithm.

:func:`seen_step` gives the step value a schedule actually sees for a step
passed in a given form (negative -> 0, integers saturate at the default int's
maximum, float32 steps are rounded), so a reference can be evaluated at the
very same point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

Ref = Callable[[Any], np.ndarray]

INT32_MAX = 2**31 - 1

__all__ = [
    "Ref",
    "INT32_MAX",
    "seen_step",
    "points_around",
    "constant",
    "linear",
    "cosine",
    "polynomial",
    "sqrt_decay",
    "exponential",
    "inverse_sqrt",
    "piecewise_constant",
    "piecewise_linear",
    "join",
    "warmup",
    "select",
    "repeat",
    "repeat_cycle",
    "clip",
    "minimum",
    "maximum",
    "sum_of",
    "product_of",
    "scale",
]


# ----------------------------------------------------------------------------- steps


def _t(t: Any) -> np.ndarray:
    """A float64 copy of ``t`` with negative steps moved to 0."""
    return np.maximum(np.asarray(t, dtype=np.float64), 0.0)


def seen_step(step: Any, int_max: int = INT32_MAX) -> np.ndarray:
    """The (float64) step a schedule sees when called with ``step``.

    Integer steps (Python ints, lists of them, any numpy/JAX integer dtype)
    saturate into ``[0, int_max]`` (the default int's range: 2**31 - 1 without
    x64, like optax's saturating int32 count). Float steps keep their exact
    value (a float32 step is already rounded) and negatives become 0.
    """
    a = np.asarray(step)
    if a.dtype.kind in "iu":
        return np.clip(a.astype(np.float64), 0.0, float(int_max))
    return _t(a.astype(np.float64))


def points_around(*marks: float, past: float | None = None, huge: bool = True) -> list[int]:
    """Sorted distinct non-negative integer steps: 0, and ``b-1, b, b+1`` for every mark.

    Also a point past the last mark (``past``, default twice the largest mark
    plus 7) and, when ``huge``, steps near ``2**31 - 1``.
    """
    pts = {0, 1}
    for b in marks:
        for d in (-1, 0, 1):
            k = math.floor(b) + d
            if k >= 0:
                pts.add(k)
        if b != math.floor(b):
            pts.add(math.ceil(b))
    top = max([0.0, *marks])
    pts.add(min(int(past if past is not None else 2 * top + 7), INT32_MAX))
    if huge:
        pts.update({10**6 + 3, 2**24 + 1, 2**30, INT32_MAX - 1, INT32_MAX})
    return sorted(pts)


def _progress(t: np.ndarray, steps: float) -> np.ndarray:
    """``clip(t / steps, 0, 1)``; an empty phase (steps == 0) is already done."""
    if steps <= 0:
        return np.ones_like(t)
    return np.clip(t / float(steps), 0.0, 1.0)


# ----------------------------------------------------------------------------- primitives


def constant(value: float) -> Ref:
    """``f(t) = value``."""

    def f(t: Any) -> np.ndarray:
        return np.full(np.shape(t), float(value), dtype=np.float64)

    return f


def linear(init_value: float, end_value: float, steps: float) -> Ref:
    """``f(t) = init + (end - init) * p``, ``p = min(t / steps, 1)``."""

    def f(t: Any) -> np.ndarray:
        p = _progress(_t(t), steps)
        return init_value + (end_value - init_value) * p

    return f


def cosine(init_value: float, end_value: float, steps: float, exponent: float | None = None) -> Ref:
    """``f(t) = end + (init - end) * ((1 + cos(pi p)) / 2) ** exponent`` (exponent None = 1)."""
    e = 1.0 if exponent is None else float(exponent)

    def f(t: Any) -> np.ndarray:
        p = _progress(_t(t), steps)
        c = 0.5 * (1.0 + np.cos(np.pi * p))
        return end_value + (init_value - end_value) * np.power(c, e)

    return f


def polynomial(init_value: float, end_value: float, steps: float, power: float = 1.0) -> Ref:
    """``f(t) = end + (init - end) * (1 - p) ** power`` (``0 ** 0 = 1``)."""

    def f(t: Any) -> np.ndarray:
        p = _progress(_t(t), steps)
        return end_value + (init_value - end_value) * np.power(1.0 - p, float(power))

    return f


def sqrt_decay(init_value: float, end_value: float, steps: float, power: float | None = None) -> Ref:
    """``f(t) = end + (init - end) * (1 - p ** power)``; ``power=None`` is 1/2 (the 1-sqrt cooldown)."""
    k = 0.5 if power is None else float(power)

    def f(t: Any) -> np.ndarray:
        p = _progress(_t(t), steps)
        return end_value + (init_value - end_value) * (1.0 - np.power(p, k))

    return f


def exponential(
    init_value: float,
    decay_rate: float,
    decay_steps: float,
    staircase: bool = False,
    end_value: float | None = None,
) -> Ref:
    """``f(t) = init * rate ** (t / D)`` (``floor(t / D)`` if staircase).

    ``end_value`` is a floor when ``rate < 1`` and a ceiling otherwise.
    """

    def f(t: Any) -> np.ndarray:
        x = _t(t) / float(decay_steps)
        if staircase:
            x = np.floor(x)
        with np.errstate(over="ignore", under="ignore"):
            v = init_value * np.power(float(decay_rate), x)
        if end_value is None:
            return v
        return np.maximum(v, end_value) if decay_rate < 1 else np.minimum(v, end_value)

    return f


def inverse_sqrt(init_value: float, timescale: float) -> Ref:
    """``f(t) = init / sqrt(1 + t / timescale)``."""

    def f(t: Any) -> np.ndarray:
        return init_value / np.sqrt(1.0 + _t(t) / float(timescale))

    return f


def piecewise_constant(values: Sequence[float], boundaries: Sequence[float]) -> Ref:
    """``f(t) = values[i]``, ``i = #{j : boundaries[j] <= t}`` (switch *at* a boundary)."""
    v = np.asarray(values, np.float64)
    b = np.asarray(boundaries, np.float64)
    assert v.shape == (b.shape[0] + 1,)

    def f(t: Any) -> np.ndarray:
        return v[np.searchsorted(b, _t(t), side="right")]

    return f


def piecewise_linear(values: Sequence[float], boundaries: Sequence[float]) -> Ref:
    """Linear interpolation through the knots ``(boundaries[i], values[i])``.

    ``values[0]`` before the first knot, ``values[-1]`` from the last knot on;
    equal neighbouring knots make a jump, and the value *at* the knot is the
    one after the jump (right-continuous).
    """
    v = np.asarray(values, np.float64)
    b = np.asarray(boundaries, np.float64)
    assert v.shape == b.shape and b.shape[0] >= 1

    def one(x: float) -> float:
        k = int(np.searchsorted(b, x, side="right")) - 1  # last knot <= x
        if k < 0:
            return float(v[0])
        if k >= len(b) - 1:
            return float(v[-1])
        w = (x - b[k]) / (b[k + 1] - b[k])  # b[k] <= x < b[k + 1], so the gap is > 0
        return float(v[k] + (v[k + 1] - v[k]) * w)

    def f(t: Any) -> np.ndarray:
        x = _t(t)
        return np.vectorize(one, otypes=[np.float64])(x) if x.size else x

    return f


# ----------------------------------------------------------------------------- combinators


def join(schedules: Sequence[Ref], boundaries: Sequence[float]) -> Ref:
    """Piece ``i`` covers ``[b_{i-1}, b_i)`` (``b_{-1} = 0``, ``b_{n-1} = inf``) and sees ``t - b_{i-1}``."""
    b = np.asarray(boundaries, np.float64)
    assert len(schedules) == b.shape[0] + 1
    starts = np.concatenate([[0.0], b])

    def f(t: Any) -> np.ndarray:
        x = _t(t)
        idx = np.searchsorted(b, x, side="right")  # boundaries passed
        out = np.zeros_like(x)
        for i, s in enumerate(schedules):
            sel = idx == i
            if np.any(sel):
                out[sel] = s(x[sel] - starts[i])
        return out

    return f


def warmup(schedule: Ref, steps: float, init_value: float = 0.0) -> Ref:
    """``init + (s(0) - init) * t / W`` for ``t < W``, then ``s(t - W)`` (``W < 0``: no ramp, a shift)."""

    def f(t: Any) -> np.ndarray:
        x = _t(t)
        peak = float(np.asarray(schedule(np.zeros(()))))
        if steps <= 0:
            return schedule(x - float(steps))
        ramp = init_value + (peak - init_value) * (x / float(steps))
        return np.where(x < steps, ramp, schedule(np.maximum(x - steps, 0.0)))

    return f


def select(index: int, schedules: Sequence[Ref]) -> Ref:
    """``schedules[index]``."""
    return schedules[int(index)]


def _frac(x: float) -> Fraction:
    return Fraction(float(x))


def repeat_cycle(
    t: float, period: float, period_mult: float = 1.0, cycles: float = math.inf
) -> tuple[int, Fraction, Fraction, bool]:
    """Locate step ``t`` among restart cycles with exact rational arithmetic.

    Cycle ``i`` has length ``L_i = P m**i`` and starts at ``S_i = sum_{j<i} L_j``.
    Returns ``(i, S_i, L_i, held)`` with ``S_i <= t < S_{i+1}``; ``held`` is
    True when ``i`` would be ``>= cycles`` (then ``i = ceil(cycles) - 1``, the
    last cycle). Raises for a step at or past the accumulation point
    ``P / (1 - m)`` of shrinking cycles without a cycle limit.
    """
    x = _frac(max(float(t), 0.0))
    P, m = _frac(period), _frac(period_mult)
    assert P > 0 and m > 0
    if cycles <= 0:  # no cycle runs: cycle 0's end value from the start
        return 0, Fraction(0), P, True
    if m == 1:
        i = math.floor(x / P)
        if i >= cycles:
            last = math.ceil(cycles) - 1
            return last, P * last, P, True
        return i, P * i, P, False
    if m < 1 and math.isinf(cycles) and x >= P / (1 - m):
        raise ValueError(f"step {t} is past the accumulation point of shrinking cycles")
    i, start, length = 0, Fraction(0), P
    while x >= start + length:
        if i + 1 >= cycles:
            return i, start, length, True
        start, length, i = start + length, length * m, i + 1
        if i > 100_000:
            raise RuntimeError("too many cycles for the reference")
    return i, start, length, False


def repeat(
    schedule: Ref,
    period: float,
    period_mult: float = 1.0,
    decay: float = 1.0,
    cycles: float = math.inf,
) -> Ref:
    """Restarts: ``decay**i * s(P (t - S_i) / L_i)`` for ``S_i <= t < S_{i+1}``.

    ``L_i = P m**i``, ``S_i = P (m**i - 1) / (m - 1)`` (``P i`` when ``m == 1``).
    ``schedule`` is defined on ``[0, P]``. After ``cycles`` cycles the last
    cycle's end value holds: ``decay**(cycles - 1) * s(P)``.
    """

    def one(x: float) -> float:
        i, start, length, held = repeat_cycle(x, period, period_mult, cycles)
        if held:
            local = float(period)
        else:
            local = float(_frac(period) * (_frac(x) - start) / length)
        val = float(np.asarray(schedule(np.asarray(local))))
        return val * float(decay) ** i

    def f(t: Any) -> np.ndarray:
        x = _t(t)
        return np.vectorize(one, otypes=[np.float64])(x) if x.size else x

    return f


# ----------------------------------------------------------------------------- arithmetic


def clip(schedule: Ref, lo: float | None = None, hi: float | None = None) -> Ref:
    """``min(max(s(t), lo), hi)``; a missing bound does not clip."""

    def f(t: Any) -> np.ndarray:
        v = schedule(t)
        if lo is not None:
            v = np.maximum(v, lo)
        if hi is not None:
            v = np.minimum(v, hi)
        return v

    return f


def _lift(x: Ref | float) -> Ref:
    return x if callable(x) else constant(float(x))


def minimum(*schedules: Ref | float) -> Ref:
    """Elementwise minimum (numbers are constants)."""
    fs = [_lift(s) for s in schedules]
    return lambda t: np.minimum.reduce([f(t) for f in fs])


def maximum(*schedules: Ref | float) -> Ref:
    """Elementwise maximum (numbers are constants)."""
    fs = [_lift(s) for s in schedules]
    return lambda t: np.maximum.reduce([f(t) for f in fs])


def sum_of(*terms: Ref | float) -> Ref:
    """``sum_i s_i(t)`` (numbers are constants)."""
    fs = [_lift(s) for s in terms]
    return lambda t: np.sum([f(t) for f in fs], axis=0)


def product_of(*factors: Ref | float) -> Ref:
    """``prod_i s_i(t)`` (numbers are constants)."""
    fs = [_lift(s) for s in factors]
    return lambda t: np.prod([f(t) for f in fs], axis=0)


def scale(schedule: Ref, factor: float) -> Ref:
    """``factor * s(t)``."""
    return lambda t: float(factor) * schedule(t)
