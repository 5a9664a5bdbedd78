"""Every optax 0.2.8 schedule under its optax name and signature, as jaxsched schedules.

Moving over is a change of import::

    # from optax import warmup_cosine_decay_schedule
    from jaxsched.compat.optax import warmup_cosine_decay_schedule

The functions take optax's arguments under optax's names and defaults and
return the same numbers (float32 by default, float64 under x64), but as
jaxsched schedules: pytrees whose numeric arguments are leaves. Every numeric
argument may be traced, so a schedule can be built inside ``jit`` or
``vmap`` over ``warmup_steps``, ``decay_steps``, ``transition_steps``,
``decay_rate``, ``peak_value``, ... (optax's branch in Python on those and
fail with a ``TracerBoolConversionError``). optax's Python branches become
``where`` here: ``transition_steps <= 0`` still gives the constant
``init_value``, ``decay_rate == 0`` too, ``peak_value == 0`` still ignores
``end_value`` in :func:`warmup_cosine_decay_schedule`, and the dict-key
collisions of the one-cycle schedules are reproduced.

``boundaries_and_scales`` is a ``{step: scale}`` dict as in optax, or (so the
boundaries can be traced too) a pair ``(boundaries, scales)`` of sequences or
arrays. Differences from optax (bad inputs optax accepts and turns into NaN or
an infinite rate) are listed in ``docs/migration_torch_optax.md``. This module
does not import optax.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from .. import _validate as V
from .._base import Array, Schedule, float_dtype, pytree, shift
from .._join import Join, Warmup, choose, may_shift
from .._primitives import Constant, Cosine, Exponential, Linear, PiecewiseConstant, Polynomial
from .torch import Function, _safe_join

__all__ = [
    "Delayed",
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
]

INTERPOLATE_TYPES = ("linear", "cosine")


@pytree
class Delayed(Schedule):
    """``lr(t) = schedule(max(t - begin, 0))``: hold the start value until ``begin``.

    optax's ``transition_begin``.

    >>> import jaxsched
    >>> from jaxsched.compat.optax import Delayed
    >>> import jax.numpy as jnp
    >>> Delayed(jaxsched.linear(1.0, 0.0, 2), jnp.asarray(3.0))([0, 3, 4, 5]).tolist()
    [1.0, 1.0, 0.5, 0.0]
    """

    schedule: Schedule
    begin: Array
    _config_bounds = {"begin": ">= 0"}

    def _eval(self, t: Array) -> Array:
        return self.schedule._eval(jnp.maximum(shift(t, self.begin, self.begin.dtype), 0.0))


def _steps(name: str, x: Any) -> Array:
    """A step count that may be <= 0 (optax gives those a meaning)."""
    return V.real(name, x)


def _begin(x: Any) -> Array:
    """optax: a negative ``transition_begin`` falls back to 0."""
    return jnp.maximum(V.real("transition_begin", x), 0.0)


def constant_schedule(value: Any) -> Constant:
    """optax ``constant_schedule``: ``value`` at every step.

    >>> from jaxsched.compat.optax import constant_schedule
    >>> constant_schedule(0.5)([0, 100]).tolist()
    [0.5, 0.5]
    """
    return Constant(V.value("value", value))


def linear_schedule(init_value: Any, end_value: Any, transition_steps: Any, transition_begin: Any = 0) -> Delayed:
    """optax ``linear_schedule``: from ``init_value`` to ``end_value`` over ``transition_steps``.

    .. math:: \\eta(t) = I + (E - I) \\min\\!\\left(\\tfrac{\\max(t - B, 0)}{T}, 1\\right)

    ``transition_steps <= 0`` gives the constant ``init_value`` (optax), also
    when traced.

    >>> from jaxsched.compat.optax import linear_schedule
    >>> linear_schedule(1.0, 0.0, transition_steps=4, transition_begin=2)([0, 2, 4, 6, 9]).tolist()
    [1.0, 1.0, 0.5, 0.0, 0.0]
    """
    I = V.value("init_value", init_value)  # noqa: E741
    T = _steps("transition_steps", transition_steps)
    E = jnp.where(T > 0, V.value("end_value", end_value), I)
    return Delayed(Linear(I, E, jnp.maximum(T, 0.0)), _begin(transition_begin))


def polynomial_schedule(
    init_value: Any, end_value: Any, power: Any, transition_steps: Any, transition_begin: Any = 0
) -> Delayed:
    """optax ``polynomial_schedule``: polynomial transition from ``init_value`` to ``end_value``.

    .. math:: \\eta(t) = (I - E) \\left(1 - \\min\\!\\left(\\tfrac{\\max(t - B, 0)}{T}, 1\\right)\\right)^{p} + E

    ``transition_steps <= 0`` gives the constant ``init_value`` (optax).

    >>> from jaxsched.compat.optax import polynomial_schedule
    >>> polynomial_schedule(1.0, 0.0, power=2, transition_steps=4)([0, 2, 4, 8]).tolist()
    [1.0, 0.25, 0.0, 0.0]
    """
    I = V.value("init_value", init_value)  # noqa: E741
    T = _steps("transition_steps", transition_steps)
    E = jnp.where(T > 0, V.value("end_value", end_value), I)
    p = V.exponent("power", power)  # 1 is None: no power per step
    return Delayed(Polynomial(I, E, jnp.maximum(T, 0.0), p), _begin(transition_begin))


def exponential_decay(
    init_value: Any,
    transition_steps: Any,
    decay_rate: Any,
    transition_begin: Any = 0,
    staircase: bool = False,
    end_value: Any = None,
) -> Delayed:
    """optax ``exponential_decay``: ``init_value * decay_rate ** ((t - B) / T)``.

    .. math:: \\eta(t) = \\mathrm{clip}\\!\\left(I\\, r^{\\max(t - B, 0) / T}, E\\right)
              \\quad (\\lfloor\\cdot\\rfloor \\text{ of the exponent if staircase})

    ``end_value`` is a floor for ``decay_rate < 1`` and a ceiling otherwise;
    it also applies before ``transition_begin``, as in optax.
    ``transition_steps <= 0`` or ``decay_rate == 0`` give the constant
    ``init_value`` with no clip (optax). ``staircase`` is static.

    >>> from jaxsched.compat.optax import exponential_decay
    >>> exponential_decay(1.0, transition_steps=2, decay_rate=0.5)([0, 2, 4, 5]).round(6).tolist()
    [1.0, 0.5, 0.25, 0.176777]
    """
    if not isinstance(staircase, (bool, np.bool_)):
        raise TypeError(f"staircase must be a bool, got {staircase!r}")
    I = V.value("init_value", init_value)  # noqa: E741
    T = _steps("transition_steps", transition_steps)
    r = V.nonneg("decay_rate", decay_rate)
    off = (T <= 0) | (r == 0)
    one = jnp.ones((), I.dtype)
    rate = jnp.where(off, one, r)
    steps = jnp.where(off, one, T)
    end = None
    if end_value is not None:
        end = jnp.where(off, jnp.asarray(jnp.inf, I.dtype), V.value("end_value", end_value))
    return Delayed(Exponential(I, rate, steps, end, V.flag("staircase", staircase)), _begin(transition_begin))


def _boundaries_and_scales(arg: Any) -> tuple[Array, Array]:
    """Sorted boundaries and their scales from a dict or a ``(boundaries, scales)`` pair."""
    dt = float_dtype()
    if arg is None:
        return jnp.zeros((0,), dt), jnp.zeros((0,), dt)
    if isinstance(arg, dict):
        items = sorted(arg.items(), key=lambda kv: float(kv[0]))
        b = V.vector("boundaries_and_scales keys", [k for k, _ in items])
        s = V.vector("boundaries_and_scales values", [v for _, v in items])
    elif isinstance(arg, (tuple, list)) and len(arg) == 2:
        b = V.vector("boundaries_and_scales[0] (boundaries)", arg[0])
        s = V.vector("boundaries_and_scales[1] (scales)", arg[1])
        if b.shape != s.shape:
            raise ValueError(f"boundaries_and_scales: {b.shape[0]} boundaries but {s.shape[0]} scales: {arg!r}")
        order = jnp.argsort(b, stable=True)
        b, s = b[order], s[order]
    else:
        raise TypeError(
            f"boundaries_and_scales must be a dict {{step: scale}} or a pair (boundaries, scales), got {arg!r}"
        )
    if not V.is_traced(s) and s.shape[0] and bool(jnp.any(s < 0)):
        raise ValueError(f"boundaries_and_scales expects non-negative scale factors, got {arg!r}")
    return b, s


def _cumulative(init: Array, scales: Array) -> Array:
    return init * jnp.concatenate([jnp.ones((1,), scales.dtype), jnp.cumprod(scales)])


def piecewise_constant_schedule(init_value: Any, boundaries_and_scales: Any = None) -> PiecewiseConstant:
    """optax ``piecewise_constant_schedule``: ``init_value`` times every scale whose boundary is passed.

    .. math:: \\eta(t) = I \\prod_{i : b_i \\le t} s_i

    >>> from jaxsched.compat.optax import piecewise_constant_schedule
    >>> s = piecewise_constant_schedule(1.0, {2: 0.5, 4: 0.5})
    >>> s([0, 2, 3, 4]).tolist()
    [1.0, 0.5, 0.5, 0.25]
    """
    I = V.value("init_value", init_value)  # noqa: E741
    b, s = _boundaries_and_scales(boundaries_and_scales)
    # A boundary below 0 is passed from step 0 on, as one at 0 (steps are >= 0): the same values, and a
    # config of the schedule loads back (boundaries in configs are >= 0).
    return PiecewiseConstant(_cumulative(I, s), jnp.maximum(b, 0.0))


def _interpolate(kind: tuple[Array | None, int | None], values: Array, b: Array) -> Join:
    """optax's piecewise interpolation through ``(0, b_0, b_1, ...)``; interval lengths floored at 1.

    ``kind`` is ``choice_or_name``'s pair: 0 linear, 1 cosine, as a leaf or a static choice."""
    n = b.shape[0]
    starts = jnp.concatenate([jnp.zeros((1,), b.dtype), b[:-1]]) if n else b
    spans = jnp.maximum(b - starts, 1.0)
    pieces: list[Schedule] = [
        choose(*kind, (Linear(values[i], values[i + 1], spans[i]), Cosine(values[i], values[i + 1], spans[i])))
        for i in range(n)
    ]
    pieces.append(Constant(values[n]))
    return Join(tuple(pieces), b)


def piecewise_interpolate_schedule(interpolate_type: Any, init_value: Any, boundaries_and_scales: Any = None) -> Join:
    """optax ``piecewise_interpolate_schedule``: linear or cosine between the accumulated values.

    .. math:: v_0 = I, \\; v_{i+1} = v_i s_i; \\quad
              \\eta(t) = \\mathrm{interp}\\!\\left(v_i, v_{i+1}, \\tfrac{t - b_{i-1}}{\\max(b_i - b_{i-1}, 1)}\\right),
              \\; b_{i-1} \\le t < b_i, \\; b_{-1} = 0

    and ``v_n`` from the last boundary on. ``interpolate_type`` is
    ``"linear"`` or ``"cosine"`` (structure: only that interpolation is
    computed), or an index 0/1 (a leaf, traced too).

    >>> from jaxsched.compat.optax import piecewise_interpolate_schedule
    >>> s = piecewise_interpolate_schedule("linear", 1.0, {4: 0.1, 8: 0.01})
    >>> s([0, 2, 4, 6, 8, 10]).round(6).tolist()
    [1.0, 0.55, 0.1, 0.0505, 0.001, 0.001]
    """
    kind = V.choice_or_name("interpolate_type", interpolate_type, INTERPOLATE_TYPES)
    I = V.value("init_value", init_value)  # noqa: E741
    b, s = _boundaries_and_scales(boundaries_and_scales)
    return _interpolate(kind, _cumulative(I, s), b)


def cosine_decay_schedule(init_value: Any, decay_steps: Any, alpha: Any = 0.0, exponent: Any = 1.0) -> Cosine:
    """optax ``cosine_decay_schedule``: cosine decay from ``init_value`` to ``alpha * init_value``.

    .. math:: \\eta(t) = I \\left[(1 - \\alpha)
              \\left(\\tfrac{1 + \\cos(\\pi \\min(t, T) / T)}{2}\\right)^{p} + \\alpha\\right]

    >>> from jaxsched.compat.optax import cosine_decay_schedule
    >>> cosine_decay_schedule(1.0, decay_steps=4, alpha=0.5)([0, 2, 4, 8]).round(6).tolist()
    [1.0, 0.75, 0.5, 0.5]
    """
    D = V.real("decay_steps", decay_steps)
    if not V.is_traced(decay_steps) and not float(np.asarray(decay_steps, np.float64)) > 0:
        raise ValueError(f"The cosine_decay_schedule requires positive decay_steps, got decay_steps={decay_steps!r}.")
    I = V.value("init_value", init_value)  # noqa: E741
    a = V.value("alpha", alpha)
    return Cosine(I, a * I, D, V.exponent("exponent", exponent))


def warmup_constant_schedule(init_value: Any, peak_value: Any, warmup_steps: Any) -> Delayed:
    """optax ``warmup_constant_schedule``: a linear warmup to ``peak_value``, then constant.

    As in optax it is :func:`linear_schedule`, so ``warmup_steps <= 0`` gives
    the constant ``init_value`` (not ``peak_value``).

    >>> from jaxsched.compat.optax import warmup_constant_schedule
    >>> warmup_constant_schedule(0.0, 1.0, warmup_steps=4)([0, 2, 4, 9]).tolist()
    [0.0, 0.5, 1.0, 1.0]
    """
    # checked under this function's own names (a bad peak_value was reported as linear_schedule's end_value)
    return linear_schedule(init_value, V.value("peak_value", peak_value), _steps("warmup_steps", warmup_steps))


def warmup_cosine_decay_schedule(
    init_value: Any,
    peak_value: Any,
    warmup_steps: Any,
    decay_steps: Any,
    end_value: Any = 0.0,
    exponent: Any = 1.0,
) -> Warmup:
    """optax ``warmup_cosine_decay_schedule``: linear warmup, then cosine decay to ``end_value``.

    .. math:: \\eta(t) = \\begin{cases} I + (P - I)\\, t / W & t < W \\\\
              E + (P - E) \\left(\\tfrac{1 + \\cos(\\pi \\min(t - W, D - W) / (D - W))}{2}\\right)^{p} & t \\ge W
              \\end{cases}

    ``decay_steps`` (D) includes the warmup (optax). ``peak_value == 0``
    ignores ``end_value`` (the rate is 0 after warmup), as optax's
    ``alpha = end / peak`` guard does; the rule holds for traced values too.
    Core equivalent: :func:`jaxsched.warmup_cosine` with ``total_steps=D``.

    >>> from jaxsched.compat.optax import warmup_cosine_decay_schedule
    >>> s = warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=2, decay_steps=6)
    >>> s([0, 1, 2, 4, 6, 9]).round(6).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    W = V.real("warmup_steps", warmup_steps)
    D = V.real("decay_steps", decay_steps)
    if not (V.is_traced(decay_steps) or V.is_traced(warmup_steps)):
        if not float(np.asarray(decay_steps, np.float64)) - float(np.asarray(warmup_steps, np.float64)) > 0:
            raise ValueError(
                "The cosine_decay_schedule requires positive decay_steps, got "
                f"decay_steps - warmup_steps = {decay_steps!r} - {warmup_steps!r}."
            )
    P = V.value("peak_value", peak_value)
    E = jnp.where(P == 0, jnp.zeros_like(P), V.value("end_value", end_value))
    decay = Cosine(P, E, D - W, V.exponent("exponent", exponent))
    # optax joins linear_schedule(init, peak, W) at W: that is the core Warmup (the
    # ramp reaches decay(0) = peak; W <= 0 never shows the ramp).
    return Warmup(decay, W, V.value("init_value", init_value), shift=may_shift(W))


def warmup_exponential_decay_schedule(
    init_value: Any,
    peak_value: Any,
    warmup_steps: Any,
    transition_steps: Any,
    decay_rate: Any,
    transition_begin: Any = 0,
    staircase: bool = False,
    end_value: Any = None,
) -> Join:
    """optax ``warmup_exponential_decay_schedule``: linear warmup, then :func:`exponential_decay` from ``peak_value``.

    .. math:: \\eta(t) = \\begin{cases} I + (P - I)\\, t / W & t < W \\\\
              \\mathrm{exponential\\_decay}(P, T, r, B, \\ldots)(t - W) & t \\ge W \\end{cases}

    >>> from jaxsched.compat.optax import warmup_exponential_decay_schedule
    >>> s = warmup_exponential_decay_schedule(0.0, 1.0, warmup_steps=2, transition_steps=1, decay_rate=0.5)
    >>> s([0, 1, 2, 3, 4]).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.25]
    """
    W = V.real("warmup_steps", warmup_steps)
    P = V.value("peak_value", peak_value)  # checked under its own name, not linear_schedule's end_value
    warm = linear_schedule(init_value, P, W)
    decay = exponential_decay(P, transition_steps, decay_rate, transition_begin, staircase, end_value)
    return Join((warm, decay), jnp.reshape(W, (1,)))


def _trunc_product(name: str, pct: Any, T: Any) -> Array:
    """optax's ``int(pct * T)``: the same product of the caller's own objects when concrete, ``trunc`` when traced.

    The product is optax's to the bit: Python floats multiply in float64, a NumPy or JAX float32 ``pct``
    in float32 (``np.float32(0.7) * 100`` is 70.0, its float64 value times 100 is 69.99999881).
    ``name`` is the fraction's argument name (``pct_start``, ``pct_final``) for its error messages.
    """
    p = V.real(name, pct)  # checked first: a NaN, a bool or a string gets an error that names it
    if not (V.is_traced(pct) or V.is_traced(T)):
        V.real("transition_steps", T)
        return jnp.asarray(float(int(pct * T)), float_dtype())
    return jnp.trunc(p * V.real("transition_steps", T))


def _dict_last_wins(keys: list[Array], scales: list[Array]) -> tuple[Array, Array]:
    """optax's ``{k1: s1, k2: s2, ...}`` literal: a repeated key keeps the last scale.

    Keys are sorted (stable); within a run of equal keys the first slot takes
    the run's last scale and the others scale by 1 (zero-length intervals).
    """
    k = jnp.stack(keys)
    s = jnp.stack(scales)
    order = jnp.argsort(k, stable=True)
    k, s = k[order], s[order]
    n = len(keys)
    out = []
    for j in range(n):
        last = s[j]
        for m in range(j + 1, n):
            last = jnp.where(k[m] == k[j], s[m], last)
        first = jnp.ones((), bool) if j == 0 else k[j] != k[j - 1]
        out.append(jnp.where(first, last, jnp.ones_like(last)))
    return k, jnp.stack(out)


def _onecycle_steps(transition_steps: Any) -> Array:
    T = V.real("transition_steps", transition_steps)
    if not V.is_traced(transition_steps) and not float(np.asarray(transition_steps, np.float64)) > 0:
        raise ValueError(f"A onecycle schedule needs positive transition_steps, got {transition_steps!r}")
    return T


def linear_onecycle_schedule(
    transition_steps: Any,
    peak_value: Any,
    pct_start: Any = 0.3,
    pct_final: Any = 0.85,
    div_factor: Any = 25.0,
    final_div_factor: Any = 1e4,
) -> Join:
    """optax ``linear_onecycle_schedule``: three linear phases with knots at ``int(pct * T)``.

    ``peak / div -> peak`` until ``int(pct_start T)``, back to ``peak / div``
    until ``int(pct_final T)``, then to ``peak / (div * final_div)`` at
    ``T``. Built, as in optax, on :func:`piecewise_interpolate_schedule`,
    including optax's dict-key collisions (equal knots keep the last scale).
    Traced ``pct`` or ``T`` truncate ``pct * T`` in the float dtype, which
    can differ from optax's float64 ``int()`` when the product is within a
    rounding of an integer. torch's knots are in
    :func:`jaxsched.compat.torch.OneCycleLR`.

    >>> from jaxsched.compat.optax import linear_onecycle_schedule
    >>> s = linear_onecycle_schedule(10, 1.0, pct_start=0.2, pct_final=0.6, div_factor=10.0, final_div_factor=10.0)
    >>> s([0, 2, 6, 10]).round(6).tolist()
    [0.1, 1.0, 0.1, 0.01]
    """
    T = _onecycle_steps(transition_steps)
    d = V.positive("div_factor", div_factor)
    f = V.positive("final_div_factor", final_div_factor)
    init = V.value("peak_value", peak_value) / d
    keys = [_trunc_product("pct_start", pct_start, transition_steps),
            _trunc_product("pct_final", pct_final, transition_steps), T]
    k, s = _dict_last_wins(keys, [d, 1.0 / d, 1.0 / f])
    return _interpolate((None, 0), _cumulative(init, s), k)


def cosine_onecycle_schedule(
    transition_steps: Any,
    peak_value: Any,
    pct_start: Any = 0.3,
    div_factor: Any = 25.0,
    final_div_factor: Any = 1e4,
) -> Join:
    """optax ``cosine_onecycle_schedule``: cosine up to ``peak`` at ``int(pct_start T)``, cosine down at ``T``.

    ``peak / div -> peak -> peak / (div * final_div)``, built on
    :func:`piecewise_interpolate_schedule` as in optax (a knot at
    ``int(pct_start T) == int(T)`` collides and keeps the last scale).

    >>> from jaxsched.compat.optax import cosine_onecycle_schedule
    >>> s = cosine_onecycle_schedule(10, 1.0, pct_start=0.2, div_factor=10.0, final_div_factor=10.0)
    >>> s([0, 1, 2, 6, 10]).round(6).tolist()
    [0.1, 0.55, 1.0, 0.505, 0.01]
    """
    T = _onecycle_steps(transition_steps)
    d = V.positive("div_factor", div_factor)
    f = V.positive("final_div_factor", final_div_factor)
    init = V.value("peak_value", peak_value) / d
    keys = [_trunc_product("pct_start", pct_start, transition_steps), jnp.trunc(T)]
    k, s = _dict_last_wins(keys, [d, 1.0 / (d * f)])
    return _interpolate((None, 1), _cumulative(init, s), k)


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, Any]]) -> Join:
    """optax ``sgdr_schedule``: warmup-cosine cycles joined end to end.

    Each dict holds :func:`warmup_cosine_decay_schedule` arguments; cycle
    ``i`` lasts its ``decay_steps``. Core equivalent for geometric periods:
    :func:`jaxsched.sgdr` (a closed form, no list).

    >>> from jaxsched.compat.optax import sgdr_schedule
    >>> kw = dict(init_value=0.0, peak_value=1.0, warmup_steps=0, decay_steps=4)
    >>> sgdr_schedule([kw, kw])([0, 2, 4, 6]).round(6).tolist()
    [1.0, 0.5, 1.0, 0.5]
    """
    cycles = list(cosine_kwargs)
    if not cycles:
        raise ValueError("sgdr_schedule needs at least one cycle, got an empty list")
    for i, kw in enumerate(cycles):
        if not isinstance(kw, dict) or "decay_steps" not in kw:
            raise TypeError(f"cosine_kwargs[{i}] must be a dict of warmup_cosine_decay_schedule arguments, got {kw!r}")
    pieces = tuple(warmup_cosine_decay_schedule(**kw) for kw in cycles)
    lengths = jnp.stack(
        [V.real(f"cosine_kwargs[{i}]['decay_steps']", kw["decay_steps"]) for i, kw in enumerate(cycles)]
    )
    for i, kw in enumerate(cycles[1:-1], start=1):  # a cycle's length is the step between two boundaries
        d = kw["decay_steps"]
        if not V.is_traced(d) and float(np.asarray(d, np.float64)) < 0:
            raise ValueError(
                f"sgdr_schedule: cosine_kwargs[{i}]['decay_steps'] must be >= 0 (it is the gap between two "
                f"cycle boundaries, which must not decrease, as join_schedules' must not), got {d!r}"
            )
    return Join(pieces, jnp.cumsum(lengths)[:-1])  # Warmup(Cosine) pieces: scalar leaves, gathered


def join_schedules(schedules: Sequence[Schedule | Callable[[Array], Any]], boundaries: Any) -> Join:
    """optax ``join_schedules``: schedule ``i`` from boundary ``i - 1`` on, fed the step from there.

    .. math:: \\eta(t) = s_i(t - b_{i-1}), \\quad b_{i-1} \\le t < b_i

    ``schedules`` may mix jaxsched schedules (whose leaves stay leaves) and
    plain jnp functions of the step (static; they get a float local step).
    Boundaries must be non-decreasing (optax lets a later entry win; see the
    migration notes). Core equivalent: :func:`jaxsched.join`.

    >>> import jaxsched
    >>> from jaxsched.compat.optax import join_schedules, linear_schedule
    >>> s = join_schedules([linear_schedule(0.0, 1.0, 2), jaxsched.constant(0.5)], [2])
    >>> s([0, 1, 2, 5]).tolist()
    [0.0, 0.5, 0.5, 0.5]
    """
    if isinstance(schedules, Schedule) or not isinstance(schedules, Sequence) or not schedules:
        raise TypeError(f"schedules must be a non-empty list of schedules, got {schedules!r}")
    pieces = []
    for i, s in enumerate(schedules):
        if isinstance(s, Schedule):
            pieces.append(s)
        elif callable(s):
            pieces.append(Function(s, float_dtype().name))
        else:
            raise TypeError(f"schedules[{i}] must be a jaxsched schedule or a callable, got {s!r}")
    b = V.vector("boundaries", boundaries, nondecreasing=True)
    if b.shape[-1] != len(pieces) - 1:
        raise ValueError(
            f"join_schedules needs len(boundaries) == len(schedules) - 1: got {b.shape[-1]} boundaries "
            f"for {len(pieces)} schedules (boundaries={boundaries!r})"
        )
    return _safe_join(pieces, b)


# optax.contrib.reduce_on_plateau: the metric-driven port lives with the plateau state machine.
from ._plateau_ports import reduce_on_plateau as reduce_on_plateau  # noqa: E402
