"""Restarts: ``repeat`` with period growth, amplitude decay and a cycle limit.

Cycle ``i`` lasts ``L_i = period * m**i`` and starts at
``S_i = period * (m**i - 1) / (m - 1)`` (``period * i`` when ``m == 1``). The
cycle index comes from the closed form ``i = log1p(t (m - 1) / period) /
log1p(m - 1)``, then is corrected by one in either direction with exact
comparisons of the step against the neighbouring restart points. Restart
points that are integers up to float rounding are snapped to those integers,
so integer-valued settings restart exactly at every restart step (the floored
log of torch, Keras and timm lands in the previous cycle at some of them, see
``docs/conventions.md``). There is no loop over cycles: the cost is the same
for 1 cycle or 10**6.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from . import _validate as V
from ._base import Array, Schedule, pytree, safe_div, shift, to_float


def _snap(s: Array) -> Array:
    """Round ``s`` to the nearest integer when it is one up to a few ulps (value only)."""
    r = jnp.round(s)
    tol = 4 * jnp.finfo(s.dtype).eps * jnp.maximum(jnp.abs(s), 1.0)
    snapped = s + jax.lax.stop_gradient(r - s)
    return jnp.where(jnp.abs(s - r) <= tol, snapped, s)


def _geom(i: Array, d: Array) -> Array:
    """``(m**i - 1) / (m - 1)`` with ``d = m - 1``; ``i`` (and its d-derivative) at ``d == 0``."""
    dz = d == 0
    ds = jnp.where(dz, jnp.ones_like(d), d)
    exact = jnp.expm1(i * jnp.log1p(ds)) / ds
    return jnp.where(dz, i + 0.5 * i * (i - 1.0) * d, exact)


@pytree
class Repeat(Schedule):
    """Restarts of ``schedule`` (defined on ``[0, period]``), stretched over growing cycles."""

    schedule: Schedule
    period: Array
    period_mult: Array
    decay: Array
    cycles: Array

    def _eval(self, t: Array) -> Array:
        dt = self.period.dtype
        one = jnp.ones((), dt)
        P = jnp.where(self.period > 0, self.period, one)
        m = jnp.maximum(self.period_mult, jnp.asarray(jnp.finfo(dt).tiny, dt))
        d = m - 1.0
        dz = d == 0
        ds = jnp.where(dz, one, d)
        x = to_float(t, dt)

        # Closed-form guess of the cycle index (may be off by one at restarts).
        arg = jnp.maximum(x * d / P, -1.0 + jnp.finfo(dt).eps)
        i_geo = jnp.log1p(arg) / jnp.log1p(ds)
        i0 = jnp.clip(jnp.floor(jnp.where(dz, x / P, i_geo)), 0.0, 2.0**31)
        g0 = _geom(i0, d)
        s0 = P * g0
        l0 = P * (1.0 + d * g0)  # P * m**i0
        starts = [_snap(s0 - l0 / m), _snap(s0), _snap(s0 + l0), _snap(s0 + l0 * (1.0 + m))]
        down = shift(t, starts[1], dt) < 0
        up = shift(t, starts[2], dt) >= 0
        i = i0 - down.astype(dt) + up.astype(dt)
        start = jnp.where(down, starts[0], jnp.where(up, starts[2], starts[1]))
        end = jnp.where(down, starts[1], jnp.where(up, starts[3], starts[2]))
        u = shift(t, start, dt)
        length = end - start

        if jnp.issubdtype(t.dtype, jnp.integer):
            # Equal integer periods: exact integer arithmetic at any step.
            whole = (m == 1) & (P == jnp.round(P)) & (P <= 2.0**30)
            pi = jnp.where(whole, P, one).astype(t.dtype)
            q = t // pi
            i = jnp.where(whole, q.astype(dt), i)
            u = jnp.where(whole, (t - q * pi).astype(dt), u)
            length = jnp.where(whole, P, length)

        frac = jnp.clip(safe_div(u, length), 0.0, 1.0)
        i = jax.lax.stop_gradient(i)  # an integer count: no gradient flows through it
        over = i >= self.cycles
        last = jnp.maximum(self.cycles - 1.0, 0.0)
        i = jax.lax.stop_gradient(jnp.where(over, last, i))
        frac = jnp.where(over, one, frac)
        val = self.schedule._eval(frac * self.period)
        first = i == 0
        # decay**i with a safe base and exponent at i == 0 (0**0 has no finite gradient).
        amp = jnp.where(first, one, jnp.where(first, one, self.decay) ** jnp.where(first, one, i))
        return val * amp


def repeat(
    schedule: Schedule,
    period: Any,
    period_mult: Any = 1.0,
    decay: Any = 1.0,
    cycles: Any = float("inf"),
) -> Repeat:
    """Restart ``schedule`` every cycle (SGDR-style warm restarts).

    .. math:: L_i = P m^i, \\quad S_i = P \\frac{m^i - 1}{m - 1}, \\quad
              \\eta(t) = \\gamma^{i}\\, s\\!\\left(P \\frac{t - S_i}{L_i}\\right),
              \\quad S_i \\le t < S_{i+1}

    ``schedule`` is defined on ``[0, period]`` and is stretched over each
    cycle; cycle ``i``'s values are scaled by ``decay**i``. Any
    ``period_mult > 0`` is accepted, fractional included (cycles shrink and
    accumulate at ``period / (1 - period_mult)`` when it is below 1). After
    ``cycles`` cycles the last cycle's end value holds.

    Args:
      schedule: the schedule of one cycle, on ``[0, period]``.
      period: length of the first cycle (``> 0``).
      period_mult: growth factor of each cycle's length (``> 0``).
      decay: amplitude factor per cycle (``>= 0``).
      cycles: number of cycles before the value holds (``>= 1``; default inf).

    >>> import jaxsched
    >>> s = jaxsched.repeat(jaxsched.linear(1.0, 0.0, 10), period=10, period_mult=2.0, decay=0.5)
    >>> s([0, 5, 10, 20, 30]).tolist()
    [1.0, 0.5, 0.5, 0.25, 0.25]

    References: Loshchilov & Hutter, SGDR: Stochastic Gradient Descent with
    Warm Restarts (2017).
    """
    V.schedule("schedule", schedule)
    return Repeat(
        schedule,
        V.positive("period", period),
        V.positive("period_mult", period_mult),
        V.nonneg("decay", decay),
        V.real("cycles", cycles, lo=1.0, allow_inf=True),
    )
