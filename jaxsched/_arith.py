"""Arithmetic on schedules: sums, products, scaling, clipping, min and max.

Every result is a schedule and a pytree, so it jits, vmaps and
differentiates like any other. Numbers are lifted to :func:`constant` leaves.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from . import _validate as V
from ._base import Array, Schedule, pytree, safe_div, static_field
from ._primitives import Constant


def _lift(name: str, x: Any) -> Schedule:
    if isinstance(x, Schedule):
        return x
    return Constant(V.value(name, x))


@pytree
class Sum(Schedule):
    """``lr(t) = sum_i s_i(t)``."""

    terms: tuple[Schedule, ...]
    _takes_pair = True

    def _eval(self, t: Array) -> Array:
        out = self.terms[0]._at(t)
        for s in self.terms[1:]:
            out = out + s._at(t)
        return out


@pytree
class Product(Schedule):
    """``lr(t) = prod_i s_i(t)``."""

    factors: tuple[Schedule, ...]
    _takes_pair = True

    def _eval(self, t: Array) -> Array:
        out = self.factors[0]._at(t)
        for s in self.factors[1:]:
            out = out * s._at(t)
        return out


@pytree
class Clip(Schedule):
    """``lr(t) = clip(s(t), lo, hi)``."""

    schedule: Schedule
    lo: Array
    hi: Array
    _takes_pair = True

    def _eval(self, t: Array) -> Array:
        return jnp.clip(self.schedule._at(t), self.lo, self.hi)


@pytree
class Extremum(Schedule):
    """Elementwise ``min`` or ``max`` of several schedules."""

    schedules: tuple[Schedule, ...]
    op: str = static_field(default="min")
    _takes_pair = True

    def _eval(self, t: Array) -> Array:
        f = jnp.minimum if self.op == "min" else jnp.maximum
        out = self.schedules[0]._at(t)
        for s in self.schedules[1:]:
            out = f(out, s._at(t))
        return out


def add(a: Any, b: Any) -> Sum:
    """``a + b`` for schedules or numbers (at least one a schedule).

    >>> import jaxsched
    >>> float((jaxsched.constant(1.0) + 0.5)(0))
    1.5
    """
    parts: list[Schedule] = []
    for name, x in (("left operand", a), ("right operand", b)):
        s = _lift(name, x)
        parts.extend(s.terms if isinstance(s, Sum) else (s,))
    return Sum(tuple(parts))


def multiply(a: Any, b: Any) -> Product:
    """``a * b`` for schedules or numbers (at least one a schedule).

    >>> import jaxsched
    >>> float((2.0 * jaxsched.constant(0.25))(0))
    0.5
    """
    parts: list[Schedule] = []
    for name, x in (("left operand", a), ("right operand", b)):
        s = _lift(name, x)
        parts.extend(s.factors if isinstance(s, Product) else (s,))
    return Product(tuple(parts))


def scale(s: Any, factor: Any) -> Product:
    """``factor * s``."""
    return multiply(s, factor)


def reciprocal_scale(s: Schedule, divisor: Any) -> Product:
    """``s / divisor`` for a nonzero number ``divisor``."""
    if isinstance(divisor, Schedule):
        raise TypeError("dividing by a schedule is not supported; multiply by a schedule of reciprocals instead")
    d = V.value("divisor", divisor)
    if not V.is_traced(divisor) and float(d) == 0.0:
        raise ValueError(f"divisor must be nonzero, got {divisor!r}")
    return multiply(s, Constant(safe_div(jnp.ones_like(d), d)))  # a traced 0 gives 0, not inf


def clip(schedule: Schedule, lo: Any = None, hi: Any = None) -> Clip:
    """Clip a schedule's values to ``[lo, hi]`` (either bound may be omitted).

    .. math:: \\eta(t) = \\min(\\max(s(t), lo), hi)

    >>> import jaxsched
    >>> jaxsched.clip(jaxsched.linear(0.0, 1.0, 10), lo=0.2, hi=0.5)([0, 4, 10]).tolist()
    [0.20000000298023224, 0.4000000059604645, 0.5]
    """
    V.schedule("schedule", schedule)
    lo_a = V.real("lo", -jnp.inf if lo is None else lo, allow_inf=True)
    hi_a = V.real("hi", jnp.inf if hi is None else hi, allow_inf=True)
    if not (V.is_traced(lo) or V.is_traced(hi)) and float(lo_a) > float(hi_a):
        raise ValueError(f"clip needs lo <= hi, got lo={lo!r}, hi={hi!r}")
    return Clip(schedule, lo_a, hi_a)


def minimum(*schedules: Any) -> Extremum:
    """Elementwise minimum of schedules (numbers are lifted to constants).

    >>> import jaxsched
    >>> jaxsched.minimum(jaxsched.linear(0.0, 1.0, 10), 0.5)([0, 10]).tolist()
    [0.0, 0.5]
    """
    if len(schedules) < 2:
        raise ValueError(f"minimum needs at least 2 operands, got {len(schedules)}")
    return Extremum(tuple(_lift(f"operand {i}", s) for i, s in enumerate(schedules)), "min")


def maximum(*schedules: Any) -> Extremum:
    """Elementwise maximum of schedules (numbers are lifted to constants).

    >>> import jaxsched
    >>> jaxsched.maximum(jaxsched.linear(1.0, 0.0, 10), 0.25)([0, 10]).tolist()
    [1.0, 0.25]
    """
    if len(schedules) < 2:
        raise ValueError(f"maximum needs at least 2 operands, got {len(schedules)}")
    return Extremum(tuple(_lift(f"operand {i}", s) for i, s in enumerate(schedules)), "max")
