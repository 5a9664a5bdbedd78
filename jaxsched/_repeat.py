"""Restarts: ``repeat`` with period growth, amplitude decay and a cycle limit.

Cycle ``i`` lasts ``L_i = period * m**i`` and starts at
``S_i = period * (m**i - 1) / (m - 1)`` (``period * i`` when ``m == 1``). The
cycle index comes from the closed form ``i = log1p(t (m - 1) / period) /
log1p(m - 1)``, floored after subtracting 1/2, which makes it the cycle or the
one before; one comparison of the step with the next restart point settles
which (the log and exp of each step are ``_fastmath``'s). Restart points that
are integers up to float rounding are snapped to those integers, so
integer-valued settings restart exactly at every restart step (the floored log
of torch, Keras and timm lands in the previous cycle at some of them, see
``docs/conventions.md``). Other settings' points carry up to ~``i log(m)``
ulps of rounding; a step that is not an integer and lies within ``3 + 1.25 i
|log m|`` of them (relative, in ``eps``) below restart ``i`` counts as reaching it, so a point exact in binary
(``P = 1, m = 1.25``: 5.765625) restarts there too.
There is no loop over cycles: the cost is the same for 1 cycle or 10**6.
Equal periods (``period_mult=None``) take one division instead, and period
doubling as structure (``doubling=True``, which the ports build from a
concrete 2) the binary exponent of ``t / P + 1``, read from its bits.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _fastmath as FM
from . import _validate as V
from ._base import (
    Array,
    Pair,
    Schedule,
    _max_float_in,
    _unsigned,
    at_scalar,
    clamp,
    pytree,
    safe_div,
    static_field,
    to_float,
)


@jax.custom_jvp
def _snap(s: Array, tol: Array) -> Array:
    """Round ``s >= 0`` to the nearest integer when it is within ``tol * max(s, 1)`` of it (value only).

    ``tol`` is per setting: 1/2 where the true value is known to be an integer (integer period and
    growth: ``s`` is rounded whenever its float error is below 1/2), a few ulps elsewhere.

    The derivative is ``ds`` (rounding moves the value, not its slope), as a custom JVP: the
    straight-through ``s + stop_gradient(round(s) - s)`` has the same value (``round(s) - s`` is
    exact, so the sum is ``round(s)`` again) but costs two more operations per step, and a step of
    an SGDR grid snaps three restart points (4% of its time).
    """
    r = jnp.round(s)
    return jnp.where(jnp.abs(s - r) <= tol * clamp(s, 1.0), r, s)


@_snap.defjvp
def _snap_jvp(primals: tuple[Array, Array], tangents: tuple[Array, Array]) -> tuple[Array, Array]:
    s, tol = primals
    return _snap(s, tol), tangents[0]


@jax.custom_jvp
def _stretch(u: Array, P: Array, L: Array) -> Array:
    """``u * P / L``: a step ``u`` into a cycle of length ``L`` as the one-cycle schedule's time (0 at
    ``L == 0``).

    ``P / L`` is a true quotient, exactly 1 where the cycle is ``P`` long (every cycle for
    ``period_mult == 1``, the first for any): the child sees the local step itself there, so an
    integer boundary inside it (a join's, a piecewise schedule's) falls on its step. ``(u / L) * P``
    rounded it below in 10% of the (period, boundary) pairs (``(306 * (1 / 1971)) * 1971 < 306``).
    The derivative is ``P du / L + (u / L) dP - (t / L) dL`` (``safe_div``'s form: no ``L**-2``, which
    overflows for shrinking cycles), ordered so that reverse mode scales a cotangent by ``P`` before
    ``1 / L`` (a tiny period: a child's slope ~1/P times 1/L overflowed, and 0 * inf gave NaN).
    """
    ok = L != 0
    return u * jnp.where(ok, P / jnp.where(ok, L, jnp.ones_like(L)), jnp.zeros_like(L))


@_stretch.defjvp
def _stretch_jvp(primals: tuple[Array, Array, Array], tangents: tuple[Array, Array, Array]) -> tuple[Array, Array]:
    u, P, L = primals
    du, dP, dL = tangents
    t = _stretch(u, P, L)
    return t, P * safe_div(du, L) + safe_div(u, L) * dP - safe_div(t, L) * dL


@jax.custom_jvp
def _into_cycle(x: Array, i: Array, P: Array) -> Array:
    """``x - i P`` in float32 with one rounding, for an integer-valued ``i < 2**24``: the step into cycle ``i``
    of equal periods ``P``, accurate to about an ulp of ``P`` however far out ``x`` is (``x`` exact).

    ``i P`` is split into four exact products: ``P = P_h + P_l`` (the top 12 bits of its mantissa, by a
    mask: XLA's simplifier removes the arithmetic splits, such as ``c - (c - a)``) and ``i = i_h + i_l``
    (``i_l = i mod 2**12``). Subtracted from ``x`` largest first, every difference but the last is exact
    for ``P >= 1`` and ``x < 2**24`` (the magnitudes shrink by 12 bits per step). The plain ``x - i P``
    rounds ``i P`` at the ulp of ``x``: 0.06 steps near 10**6, 2% of a cycle of 2.7 steps.
    The derivative is ``dx - i dP``.
    """
    mask = jnp.asarray(0xFFFFF000, jnp.uint32)
    ph = jax.lax.bitcast_convert_type(jax.lax.bitcast_convert_type(P, jnp.uint32) & mask, jnp.float32)
    pl = P - ph
    il = i - 4096.0 * jnp.floor(i * (1.0 / 4096.0))
    ih = i - il
    return (((x - ih * ph) - il * ph) - ih * pl) - il * pl


@_into_cycle.defjvp
def _into_cycle_jvp(primals: tuple[Array, Array, Array], tangents: tuple[Array, Array, Array]) -> tuple[Array, Array]:
    x, i, P = primals
    return _into_cycle(x, i, P), tangents[0] - i * tangents[2]


# The growth cap: decay**i is at most e**80 (as functional.exponential's rate), so growing amplitudes
# (decay > 1) stay finite however many cycles have run (shrinking cycles run unboundedly many).
_GROWTH_CAP = 80.0


@jax.custom_jvp
def _decay_power(decay: Array, logd: Array, j: Array) -> Array:
    """``decay**j`` for integer ``j >= 0`` as ``exp(j logd)``, ``logd = log(decay)`` (a large negative
    number at ``decay == 0``, so the value there is ``0**j``: 1 at ``j = 0``, else 0), at most ``e**80``.

    The derivative is ``j decay**(j - 1)`` in ``decay`` (``logd``'s tangent is not used: it is
    ``decay``'s, once more): at ``decay == 0`` it is 1 for ``j = 1``, which ``exp`` of a constant
    ``logd`` would make 0; 0 where the cap holds the value.
    """
    return FM.exp(jnp.minimum(j * logd, _GROWTH_CAP))


@_decay_power.defjvp
def _decay_power_jvp(primals: tuple[Array, Array, Array], tangents: tuple[Array, Array, Array]) -> tuple[Array, Array]:
    decay, logd, j = primals
    y = _decay_power(decay, logd, j)
    pos = decay > 0
    slope = jnp.where(pos, j * y / jnp.where(pos, decay, jnp.ones_like(decay)), (j == 1).astype(y.dtype))
    return y, jnp.where(j * logd < _GROWTH_CAP, slope, jnp.zeros_like(slope)) * tangents[0]


_ENDLESS = 2.0**31  # the cycle index past the limit point of shrinking cycles: every cycle has run


def float_path_limit(dtype: Any) -> int:
    """The step from which integer settings need the exact integer path: ``2**E``.

    Below ``2**E`` the closed form's restart points are within 1/2 of the true
    integers, so snapping them (see ``_snap``) is exact. Their error is about
    ``i log(m)`` ulps at restart ``i``, and ``i log(m) <= E log 2`` below
    ``2**E`` (``m >= 2``, ``P >= 1``): ``E`` is the largest with
    ``E log(2) ulp(2**E) <= 0.2`` (a 2.5x margin). float32: ``2**17`` (checked
    against the exact path on every step below ``2**19`` for 1,024 integer
    settings; it first fails at ``2**20``); float64: ``2**44``.
    """
    nmant = jnp.finfo(dtype).nmant
    e = 1
    while (e + 1) * math.log(2.0) * 2.0 ** (e + 1 - nmant) <= 0.2:
        e += 1
    return 2**e


def _floordiv(k: Array, p: Array) -> Array:
    """``k // p`` for integers ``k >= 0`` and ``1 <= p``, through float division (vectorised, unlike
    integer division) corrected twice in integer arithmetic. Products may wrap; the remainders they
    give are still exact (two's complement)."""
    f = jnp.float32 if k.dtype == jnp.int32 else jnp.float64
    pf = p.astype(f)
    q = jnp.floor(k.astype(f) / pf).astype(k.dtype)
    q = q + jnp.floor((k - q * p).astype(f) / pf).astype(k.dtype)
    r = k - q * p
    return q + (r >= p).astype(k.dtype) - (r < 0).astype(k.dtype)


def _restart_rows(p: Array, m: Array, per_step: bool) -> Any:
    """Restart points of cycles ``p, p m, p m**2, ...`` (integers) up to the int range.

    Yields ``(S, L, exact, exists)`` for restarts ``j = 1 .. bits - 1``: ``S`` the step of restart
    ``j``, ``L`` the length of the cycle it starts, ``exact`` whether that length fits the int type,
    ``exists`` whether the restart does (false from the first one past the maximum on).

    Settings that are scalars per setting tabulate the rows once (a ``lax.scan`` over scalars: under
    ``vmap`` a table per setting, outside the loop over steps). Settings selected per step (a ``join``'s
    family of repeats, whose leaves are gathered by the active piece) compute them inline, fused into
    the step's loop: a scan over per-step arrays makes one pass through memory per restart (~100 ns
    per element for a join of 5 SGDR pieces; ~20 inline, DESIGN.md).
    """
    big = jnp.iinfo(p.dtype).max
    # length <= big // m: whether the next length fits (a vectorised floor division for per-step m)
    lim = _floordiv(jnp.full_like(m, big), m) if per_step else big // m

    def step(carry: tuple[Array, Array, Array], _: Any) -> tuple[tuple[Array, Array, Array], tuple[Array, ...]]:
        s, length, ok = carry
        exists = ok & (length <= big - s)
        s = jnp.where(exists, s + length, s)
        exact = exists & (length <= lim)
        length = jnp.where(exact, length * m, length)
        return (s, length, exact), (s, length, exact, exists)

    carry = (jnp.zeros_like(p), p, jnp.ones(jnp.shape(p), bool))
    n = jnp.iinfo(p.dtype).bits - 1
    if per_step:
        for _ in range(n):
            carry, row = step(carry, None)
            yield row
    else:
        _, rows = jax.lax.scan(step, carry, None, length=n)
        for j in range(n):
            yield tuple(x[j] for x in rows)


def _doubling_cycle(k: Array, p: Array) -> tuple[Array, Array, Array, Array]:
    """Period doubling's cycle of integer steps ``k >= 0`` in integer arithmetic, for an integer ``p >= 1``:
    ``(i, S_i, L_i, exact)`` as :func:`_restart_rows` gives them (``L_i`` exact where ``exact``).

    ``S_i = p (2**i - 1) <= k`` exactly where ``2**i <= k // p + 1`` (``2**i`` is an integer), so ``i``
    is the bit length of ``k // p + 1`` less one: a count of leading zeros, no table of restarts
    (31 rows of the general integer growth's search, each a comparison and three selects per step).
    Unsigned, where ``2**31`` and ``S_i + p`` still fit.
    """
    u = _unsigned(k.dtype)
    bits = jnp.iinfo(u).bits
    pu = p.astype(u)
    i = (bits - 1) - jax.lax.clz(_floordiv(k, p).astype(u) + 1)
    start = pu * ((jnp.ones_like(i) << i) - 1)  # <= k
    length = start + pu
    return i.astype(k.dtype), start.astype(k.dtype), length, length <= jnp.iinfo(k.dtype).max


def _geom(i: Array, d: Array) -> Array:
    """``(m**i - 1) / (m - 1)`` with ``d = m - 1``; ``i`` (and its d-derivative) at ``d == 0``."""
    dz = d == 0
    ds = jnp.where(dz, jnp.ones_like(d), d)
    exact = FM.expm1(i * jnp.log1p(ds)) / ds
    return jnp.where(dz, i + 0.5 * i * (i - 1.0) * d, exact)


@pytree
class Repeat(Schedule):
    """Restarts of ``schedule`` (defined on ``[0, period]``), stretched over growing cycles.

    Built by :func:`repeat`. ``doubling=True`` (keyword-only, with ``period_mult=None``) is a growth
    of 2 as structure: cycle ``i`` starts at ``S_i = P (2**i - 1)``, found from the binary exponent
    of ``t / P + 1`` (the torch, timm and Keras ports build it from a concrete 2).

    >>> import jax.numpy as jnp
    >>> import jaxsched
    >>> s = jaxsched.Repeat(jaxsched.linear(1.0, 0.0, 10), jnp.float32(10.0), doubling=True)
    >>> s([0, 5, 10, 20, 30, 70]).tolist()
    [1.0, 0.5, 1.0, 0.5, 1.0, 1.0]
    """

    schedule: Schedule
    period: Array
    # None: equal periods, found by a division (no logarithm and exponential per step); no amplitude
    # decay; no cycle limit. None does no work for it at any step (a number, 1 or inf included, is a
    # leaf that may be swept, and costs the closed form's log1p and expm1, a power, a comparison).
    period_mult: Array | None = None
    decay: Array | None = None
    cycles: Array | None = None
    _takes_pair = True
    _restarts = True  # see _base.eval_time
    # Below 0 the closed form clips its cycle index and phase to 0 and the exact path its step: the value
    # and gradients of step 0, so a warmup in front need not clip the local step (saves a few operations
    # per step in the loop's dependency chain).
    _negative_ok = True
    float_path_limit = staticmethod(float_path_limit)
    _config_bounds = {"period": "> 0", "period_mult": "> 0", "decay": ">= 0", "cycles": ">= 0"}
    # Structure: a growth of exactly 2 (period doubling), with ``period_mult=None``. The ports set it
    # from a concrete 2 (torch's ``T_mult``, Keras's default ``t_mul``, timm's ``cycle_mul``), as they
    # set ``None`` from a concrete 1: the cycle is the binary exponent of ``t / P + 1``, with no
    # logarithm, exponential or division per step. A grid mixing it with other growths falls back to a
    # leaf of 2 (``_sweepable``). Keyword-only, so that subclasses' positional fields keep their places.
    doubling: bool = static_field(default=False, kw_only=True, repr=False)

    @staticmethod
    def _config_check(s: Repeat, batch_shape: tuple[int, ...]) -> None:
        if s.doubling and s.period_mult is not None:
            raise ValueError(
                "doubling=true is a growth of 2 as structure and needs period_mult=null, got "
                f"period_mult={np.asarray(s.period_mult).tolist()}"
            )

    def __repr__(self) -> str:
        # doubling shows only where it is set: period_mult=None reads as equal periods otherwise.
        text = super().__repr__()
        return f"{text[:-1]}, doubling=True)" if self.doubling else text

    def _path_limit(self) -> int:
        """The step from which integer settings take the exact integer path (``_base.eval_time``).

        :func:`float_path_limit`, or with ``doubling`` ``2**nmant`` (``2**23`` in float32): there the
        restart points ``P (2**i - 1)`` of an integer ``P`` are exact integers (``P 2**i`` is exact and
        the difference below ``2**(nmant + 1)``), and ``k + r`` for a fraction ``r`` stays below the
        next integer.
        """
        dt = self.period.dtype
        return 2 ** jnp.finfo(dt).nmant if self.doubling else float_path_limit(dt)

    def _growth_leaf(self) -> Array | None:
        # A float32 growth leaf takes the values of equal periods at exactly 1 and of doubling at exactly
        # 2 (closed_form): _base.eval_time runs that form alone where a batch's growths agree.
        m = self.period_mult
        if m is None or self.period.dtype != jnp.float32 or jnp.ndim(m) or jnp.ndim(self.period):
            return None
        return m

    def _growth_form(self, growth: int) -> Repeat:
        return dataclasses.replace(self, period_mult=None, doubling=growth == 2)

    def _eval(self, t: Array) -> Array:
        dt = self.period.dtype
        one = jnp.ones((), dt)
        P = jnp.where(self.period > 0, self.period, one)
        if self.doubling and self.period_mult is not None:
            raise ValueError("Repeat(doubling=True) is a growth of 2 as structure: period_mult must be None")
        # m is None for equal periods (structure): every expression below in m, d or the restart table
        # of integer growth is then left out, not computed for m = 1 (the same values, bit for bit).
        equal = self.period_mult is None and not self.doubling
        if not equal:
            # finite log1p(m - 1), gradient; doubling: a constant 2 (only the exact path reads it)
            eps = jnp.asarray(jnp.finfo(dt).eps, dt)
            m = jnp.asarray(2.0, dt) if self.doubling else jnp.maximum(self.period_mult, eps)
            d = m - 1.0
            dz = d == 0
            ds = jnp.where(dz, one, d)
        x = to_float(t, dt)
        # decay**j as exp(j log decay) (XLA lowers a float power to a scalar libm call on CPU); a zero
        # decay takes a log so negative that exp gives 0 from j = 1 on and 1 at j = 0 (0**0), with
        # finite gradients everywhere.
        decay = self.decay
        if decay is not None:
            pos = decay > 0
            logd = jnp.where(pos, jnp.log(jnp.where(pos, decay, one)), jnp.asarray(-1e4, dt))
        # The last cycle run (also for non-integer cycles): past it the index is held at `last`, so the
        # decay applies ``decay**min(i, last)``.
        last = None if self.cycles is None else jax.lax.stop_gradient(jnp.maximum(jnp.ceil(self.cycles) - 1.0, 0.0))

        def decay_power(j: Array) -> Array | None:
            return None if decay is None else _decay_power(decay, logd, clamp(j, hi=last))

        def guess_scale(i0: Array, up: Array) -> Array | None:
            # decay**min(i, last) for i = i0 + up: decay**min(i0, last), times decay when i0 + 1 <= last
            scale = decay_power(i0)
            if scale is None:
                return None
            step_up = up if last is None else up & (i0 < last)
            up_one = jnp.minimum(scale * decay, jnp.exp(jnp.asarray(_GROWTH_CAP, dt)))  # capped as decay_power
            return jnp.where(step_up, up_one, scale)

        # The point shrinking cycles converge to (inf for m >= 1), per setting.
        converge = None if equal else jnp.where(d < 0, P / jnp.where(d < 0, -d, one), jnp.asarray(jnp.inf, dt))

        def equal_periods_f32(rp: Array, i0: Array | None = None) -> tuple[Array, Array, Array | None]:
            # Equal periods in float32, from exact offsets instead of rounded restart points: a point
            # i P rounded at the ulp of the step (0.06 near 10**6, 2% of a cycle of 2.7 steps), and
            # snapped within 4 eps of an integer (0.5 steps there), put far cycles of short periods
            # up to 15% off. u0 = x - i0 P to about an ulp of P (_into_cycle), in [0, 2 P) for the
            # biased guess i0. A restart point n P is snapped to the integer R = round(n P) where
            # |R - n P| <= eps R / 2, what the period's own rounding can carry there: a decimal period
            # restarts on its integer steps (7.3: restart 10 at step 73; integer periods always), as
            # before, and no point moves further than that rounding.
            eps = jnp.finfo(dt).eps
            if i0 is None:  # (the closed form's own guess where the growth is 1: the same number)
                i0 = clamp(jnp.floor(x * rp - 0.5), 0.0, 2.0**31)  # as the closed form's cap (see there)

            u0 = _into_cycle(x, i0, P)  # x - S_i0
            e1 = u0 - P  # x - S_{i0+1}, exact for u0 in [P/2, 2P]

            def from_point(n: Array, e: Array) -> Array:
                # x - S_n (e) where S_n = n P does not snap, else x - R for R = round(n P): the offset
                # R - n P = (R - x) + e (R - x is exact: no second product), a shift of the value, not
                # of its slope in P (as _snap).
                R = jnp.round(P * n)
                off = (R - x) + e
                return jnp.where(jnp.abs(off) <= 0.5 * eps * R, e - jax.lax.stop_gradient(off), e)

            to_next = from_point(i0 + 1.0, e1)
            # a step that is not an integer within 3 eps below a point reaches it (docs/conventions.md)
            band = jnp.where(x == jnp.floor(x), jnp.zeros_like(x), 3 * eps * (P * (i0 + 1.0)))
            up = to_next >= -band
            local = jnp.where(up, to_next, from_point(i0, u0))
            return i0 + up.astype(dt), local, guess_scale(i0, up)

        def doubling_form() -> tuple[Array, Array, Array | None]:
            # Cycle i starts at S_i = P (2**i - 1) and lasts P 2**i. The guess is the binary exponent of
            # y = x / P + 1 (floor(log2(y)), read from its bits), off by one at most where y rounds
            # across a power of 2; comparing the step with S_e and S_{e+1} settles it. P 2**i is exact,
            # so a point carries one rounding (none for integer P below 2**(nmant + 1)), and the one-cycle
            # time (x - S_i) P / L_i is (x - S_i) / 2**i: a scaling by a power of 2, no division. Its
            # derivative in P is -(2**i - 1) / 2**i, that of the closed form at m = 2.
            info = jnp.finfo(dt)
            ib = jnp.dtype(f"int{info.bits}")
            nm, bias = info.nmant, info.maxexp - 1
            # y >= 1 (a step below 0 is cycle 0, clipped by _finish); at most 2**(maxexp - 3), so that
            # 2**(e + 1) and 2**-(e + 1) are normal floats (a period below ~1e-30 steps)
            y = jnp.clip(x * (1.0 / P) + 1.0, 1.0, 2.0 ** (info.maxexp - 3))
            e = (jax.lax.bitcast_convert_type(jax.lax.stop_gradient(y), ib) >> nm) - bias

            def pow2(k: Array) -> Array:
                return jax.lax.bitcast_convert_type((k + bias) << nm, dt)

            w = pow2(e)
            up = x >= P * (w + w) - P
            down = (x < P * w - P) & (e > 0)
            i = e + up.astype(ib) - down.astype(ib)
            start = P * pow2(i) - P
            local = (x - start) * pow2(-i)
            i = i.astype(dt)
            return i, local, decay_power(i)

        def closed_form() -> tuple[Array, Array, Array | None]:
            # A guess of the cycle index from the closed form, biased down by 1/2 so that it is the
            # cycle or the one before (its error is far below 1/2 where the float path is exact);
            # comparing the step with the next restart point settles which.
            if self.doubling:
                return doubling_form()
            rp = 1.0 / P
            if equal and dt == jnp.float32:
                return equal_periods_f32(rp)
            if equal:
                guess = x * rp
            else:
                arg = clamp(x * (d * rp), -1.0 + jnp.finfo(dt).eps)  # log1p has its own JVP
                guess = jnp.where(dz, x * rp, FM.log1p(arg) * (1.0 / jnp.log1p(ds)))
            # no gradient (floor); capped where the index stops being an integer of dt (2**53 in float64:
            # 2**31 held the value at a cycle's end past 2**31 cycles of a tiny period), at least 2**31
            cap = float(max(2**31, 2 ** (jnp.finfo(dt).nmant + 1)))
            i0 = clamp(jnp.floor(guess - 0.5), 0.0, cap)
            raw0 = P * (i0 if equal else _geom(i0, d))
            # The closed form's error grows like i * log(m) ulps (0.1 steps near 2**16 in float32):
            # integer settings have integer restarts, so round them.
            integral = P == jnp.round(P)
            if not equal:
                integral = integral & (m == jnp.round(m))
            tol = jnp.where(integral, 0.5 * one, 4 * jnp.finfo(dt).eps)
            # S_{i+1} = m S_i + P from the unrounded S_i: both points are rounded side by side, not one
            # after the other (the loop is bound by the latency of its dependency chain: log1p, expm1,
            # snap, reciprocal, cosine, DESIGN.md).
            s0, s1 = _snap(raw0, tol), _snap((raw0 if equal else m * raw0) + P, tol)
            # Plain float arithmetic: exact below float_path_limit, where this path is the answer; above,
            # the exact path below replaces it for integer settings, and the restart points of the
            # others carry float errors of the same order as a rounded step.
            # The step is in cycle i0 + up, which starts at `start` and lasts L = P + (m - 1) start
            # (P m**i): exact for integer settings, whose restart points are integers.
            # Settings that are not integers: a restart point is exact in binary at some (P = 1, m = 1.25:
            # 5.765625) but comes out of expm1 high by up to ~(1.5 + 0.65 i |log m|) eps, relative (the
            # largest of ~35,000 points measured, float32 and x64), so a step that is not an integer and
            # lies within (3 + 1.25 i |log m|) eps below it counts as reaching it (the local time is then a little
            # below 0, clipped: the restart's value). An integer step never equals a point that is not
            # an integer (integer points are snapped), so it keeps the plain comparison: there the band
            # would only misread steps just below a point (31 misreads against 19 in a scan of integer
            # steps around every restart of 36 settings). Integer settings' points are snapped exact.
            eps = jnp.finfo(dt).eps
            near = jnp.where(integral, one, 1.0 - 3 * eps)
            if not equal:
                near = near - i0 * jnp.where(integral, 0.0, 1.25 * eps * jnp.abs(jnp.log1p(d)))
            up = x >= s1 * jnp.where(x == jnp.floor(x), one, near)
            i = i0 + up.astype(dt)
            start = jnp.where(up, s1, s0)
            # Shrinking cycles (m < 1) add up to P / (1 - m): from there on every cycle has run, and the
            # value is a cycle's end times decay**i for i -> inf (0 for decay < 1, the growth cap above 1).
            # Without this, rounding left the cycle length there about 0 of either sign (the start of a
            # cycle or its end, as it fell) and i at a float32 or float64 limit (decay**i with it).
            # Equal periods: every cycle lasts P, and the child sees the step into it as it is.
            past = None if equal else x >= converge
            local = x - start if equal else jnp.where(past, P, _stretch(x - start, P, P + d * start))
            scale = guess_scale(i0, up)
            if scale is not None and not equal:
                scale = jnp.where(past, decay_power(_ENDLESS * one), scale)
            if self.cycles is not None and not equal:  # only _finish's cycle limit reads i
                i = jnp.where(past, _ENDLESS * one, i)
            if dt == jnp.float32:
                # A growth leaf of exactly 1 (equal periods that may be swept): the exact offsets of the
                # equal path, not restart points rounded at the step's ulp and snapped within 4 eps
                # (0.5 steps near 10**6, where a cycle of 1000.7 steps was off by 0.3 steps throughout).
                # The values are the equal path's; the slopes stay the closed form's, which has the
                # growth's own (the start moves by P i (i - 1) / 2 per unit of m - 1 there).
                ei, elocal, escale = equal_periods_f32(rp, i0)
                sg = jax.lax.stop_gradient
                elocal = sg(elocal) + (local - sg(local))
                i, local = jnp.where(dz, ei, i), jnp.where(dz, elocal, local)
                scale = None if scale is None else jnp.where(dz, escale, scale)
                # Likewise a growth leaf of exactly 2 takes the values of period doubling (doubling_form),
                # whose points round once: the closed form's points, snapped within 4 eps, put isolated steps
                # next to far restarts of periods that are not integers a whole amplitude off (sgdr(1, 7.3,
                # 2.0) at step 239199: the restart at 239199.106 snapped onto it), and a grid mixing the
                # ports' doubling with other growths gave that member other values than the plain call.
                # ~5% of a 1,024 x 100,000 sgdr grid of growth 2 (503 -> 530 ms, in-process A/B).
                two = m == 2.0
                wi, wlocal, wscale = doubling_form()
                wlocal = sg(wlocal) + (local - sg(local))
                i, local = jnp.where(two, wi, i), jnp.where(two, wlocal, local)
                scale = None if scale is None else jnp.where(two, wscale, scale)
            return i, local, scale

        # Exact integer arithmetic is only needed where float restart points can be
        # inexact (see float_path_limit: 2**17 in float32, 2**44 in float64). The predicate
        # depends on the steps alone, so under vmap over a grid it stays unbatched and
        # lax.cond runs just one branch: the float path costs what a few transcendental
        # functions cost; the integer path is only paid for large steps.
        limit = self._path_limit()
        if isinstance(t, Pair):  # decided on the global step (unbatched), an upper bound of the local one
            need = jnp.any(t.top >= jnp.asarray(min(limit, int(jnp.iinfo(t.top.dtype).max)), t.top.dtype))
        elif jnp.issubdtype(t.dtype, jnp.integer):
            lim = min(limit, int(jnp.iinfo(t.dtype).max))
            need = jnp.any(t >= jnp.asarray(lim, t.dtype))
        else:
            need = jnp.any(jnp.floor(t) >= float(limit))

        def exact_path(i: Array, local: Array, scale: Array | None) -> tuple[Array, Array, Array | None]:
            # Integer settings (an integer period; growth 1 or an integer >= 2): locate the cycle of
            # the step's integer part k in exact integer arithmetic (float32 cannot hold restart
            # points such as 2**25 - 1). Restarts are integers, so t = k + r lies in k's cycle.
            if isinstance(t, Pair):  # an exact local step from a combinator: r in [0, 1)
                k, r, in_range = jnp.broadcast_to(t.k, t.shape), t.r, jnp.ones(t.shape, bool)
                r = None if r is None else r.astype(dt)
            elif jnp.issubdtype(t.dtype, jnp.integer):
                k, r, in_range = t, None, jnp.ones(jnp.shape(t), bool)
            else:
                kdt = jnp.asarray(0).dtype  # the default int: int32, or int64 under x64
                fl = jnp.floor(t)
                in_range = fl <= _max_float_in(kdt, t.dtype)
                k = jnp.where(in_range, fl, jnp.zeros_like(fl)).astype(kdt)
                r = (t - fl).astype(dt)
            neg = k < 0  # a local step below 0 (_negative_ok): the value of step 0
            k = jnp.where(neg, jnp.zeros_like(k), k)
            r = None if r is None else jnp.where(neg, jnp.zeros_like(r), r)
            int_p = (P == jnp.round(P)) & (P <= 2.0**30)
            whole = int_p if equal else (m == 1) & int_p  # equal periods: one floor division
            pi = jnp.where(whole, P, one).astype(k.dtype)
            q = _floordiv(k, pi)
            if equal:  # no growth: the division is the whole search
                exact = whole & in_range
                i_ex = jnp.where(whole, q, 0).astype(dt)
                u_ex = (k - q * pi).astype(dt)
                if r is not None:
                    u_ex = u_ex + r
                # Exact values; the gradient w.r.t. the period is that of S_i = P i
                s_f = P * i_ex
                local_ex = u_ex - (s_f - jax.lax.stop_gradient(s_f))
            else:
                # Integer growth m >= 2: at most 31 restarts lie below 2**31 (63 below 2**63). They are
                # tabulated once per setting; each step counts those it has passed (a vectorised chain).
                mr = jnp.round(m)
                geo = (m == mr) & (mr >= 2) & (mr <= 2.0**30) & int_p
                p_int = jnp.where(geo, P, one).astype(k.dtype)
                if self.doubling:
                    n_k, s_k, l_k, exact_l = _doubling_cycle(k, p_int)
                else:
                    per_step = jnp.ndim(p_int) > 0 and jnp.size(p_int) >= jnp.size(k)  # leaves selected by a join
                    rows = _restart_rows(p_int, jnp.where(geo, mr, 2 * one).astype(k.dtype), per_step)
                    s_k = jnp.zeros_like(k)
                    l_k = jnp.where(geo, P, one).astype(k.dtype) + s_k
                    exact_l = jnp.ones(jnp.shape(k), bool)  # l_k is the current cycle's exact length
                    n_k = s_k
                    for s_j, l_j, exact_j, exists_j in rows:
                        move = exists_j & (k >= s_j)
                        n_k = n_k + move.astype(k.dtype)
                        s_k = jnp.where(move, s_j, s_k)
                        l_k = jnp.where(move, l_j, l_k)
                        exact_l = jnp.where(move, exact_j, exact_l)
                exact = (whole | geo) & in_range
                i_ex = jnp.where(whole, q, jnp.where(geo, n_k, 0)).astype(dt)
                u_ex = jnp.where(whole, k - q * pi, k - s_k).astype(dt)
                if r is not None:
                    u_ex = u_ex + r
                # Exact values; the gradients w.r.t. period and period_mult are those of S_i and L_i at this i.
                g_ex = _geom(i_ex, d)
                s_f = P * g_ex
                l_f = P * (1.0 + d * g_ex)
                l_ex = jax.lax.stop_gradient(jnp.where(whole, P, jnp.where(exact_l, l_k.astype(dt), l_f)))
                local_ex = _stretch(u_ex - (s_f - jax.lax.stop_gradient(s_f)), P,
                                    l_ex + (l_f - jax.lax.stop_gradient(l_f)))
            scale_ex = decay_power(i_ex)
            scale = None if scale is None else jnp.where(exact, scale_ex, scale)
            return jnp.where(exact, i_ex, i), jnp.where(exact, local_ex, local), scale

        exact_value = lambda: self._finish(*exact_path(*closed_form()))  # noqa: E731
        float_value = lambda: self._finish(*closed_form())  # noqa: E731
        mode = t.exact if isinstance(t, Pair) else None
        if mode is not None:  # decided once for the whole schedule (_base.eval_time)
            return exact_value() if mode else float_value()
        # Each branch computes the whole value (one fused loop); the intermediates never hit memory.
        return jax.lax.cond(need, exact_value, float_value)

    def _sweepable(self) -> Schedule:
        P = self.period
        growth = jnp.full_like(P, 2.0) if self.doubling else jnp.ones_like(P)
        return dataclasses.replace(  # (a subclass keeps its class and its own fields)
            self, schedule=self.schedule._sweepable(), doubling=False,
            period_mult=growth if self.period_mult is None else self.period_mult,
            decay=jnp.ones_like(P) if self.decay is None else self.decay,
            cycles=jnp.full_like(P, jnp.inf) if self.cycles is None else self.cycles,
        )

    def _at_zero(self, dtype: Any) -> Array:
        # _eval at 0.0: cycle 0 at phase 0 (local time 0, decay**0 = 1 with no slope in decay), without
        # tracing the closed form and the exact path for it; with cycles = 0 the end value from the start.
        start = self.schedule._at_zero(self.period.dtype)
        if self.cycles is None:
            return start
        return jnp.where(self.cycles > 0, start, at_scalar(self.schedule, self.period))

    def _finish(self, i: Array, local: Array, scale: Array | None) -> Array:
        """The value in cycle ``i`` at the one-cycle time ``local`` (``period`` times the fraction of the
        cycle run), times ``scale = decay**min(i, last)``."""
        local = jnp.clip(local, 0.0, self.period)
        if self.cycles is not None:
            over = jax.lax.stop_gradient(i) >= self.cycles  # an integer count: no gradient flows through it
            local = jnp.where(over, self.period, local)
        value = self.schedule._at(local)
        return value if scale is None else value * scale


def repeat(
    schedule: Schedule,
    period: Any,
    period_mult: Any = None,
    decay: Any = None,
    cycles: Any = None,
) -> Repeat:
    """Restart ``schedule`` every cycle (SGDR-style warm restarts).

    .. math:: L_i = P m^i, \\quad S_i = P \\frac{m^i - 1}{m - 1}, \\quad
              \\eta(t) = \\gamma^{i}\\, s\\!\\left(P \\frac{t - S_i}{L_i}\\right),
              \\quad S_i \\le t < S_{i+1}

    ``schedule`` is defined on ``[0, period]`` and is stretched over each
    cycle; cycle ``i``'s values are scaled by ``decay**i``. Any
    ``period_mult > 0`` is accepted, fractional included (cycles shrink and
    accumulate at ``period / (1 - period_mult)`` when it is below 1; from
    there on every cycle has run, and a cycle's end value holds, times
    ``decay**i`` for ``i -> inf``: 0 for ``decay < 1``). ``decay**i`` is
    capped at ``e**80``, as ``exponential``'s growth is. After ``cycles``
    cycles the last cycle's end value holds (``cycles=0``: the schedule's
    end value from the start, as timm's ``cycle_limit=0`` gives).

    Args:
      schedule: the schedule of one cycle, on ``[0, period]``.
      period: length of the first cycle (``> 0``).
      period_mult: growth factor of each cycle's length (``> 0``);
        ``None`` (the default) means equal periods, found by one division
        per step (no logarithm or exponential). A number, 1 included, is a
        leaf that can be swept.
      decay: amplitude factor per cycle (``>= 0``); ``None`` (the default)
        means 1 with no power computed. A number, 1 included, is a leaf that
        can be swept.
      cycles: number of cycles before the value holds (``>= 0``, inf
        allowed; a fraction counts its cycle whole); ``None`` (the
        default) means no limit, with no comparison per step.

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
        None if period_mult is None else V.positive("period_mult", period_mult),
        None if decay is None else V.nonneg("decay", decay),
        None if cycles is None else V.real("cycles", cycles, lo=0.0, allow_inf=True),
    )
