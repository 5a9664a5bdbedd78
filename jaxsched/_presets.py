"""Presets: the schedules people ask for by name, built from the layers below.

Every preset returns an ordinary composite (``Warmup``, ``Join``, ``Repeat``,
...), so its hyperparameters are leaves and it sweeps, jits and differentiates
like any schedule. ``total_steps`` is always the whole run; a length is the
length of that phase only.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from . import _validate as V
from ._arith import Product, Sum
from ._base import Array, Schedule, float_dtype
from ._join import Join, Warmup, choose, may_shift
from ._primitives import COOLDOWN_SHAPES, Constant, Cooldown, Cosine, Exponential, InverseSqrt, Linear, PiecewiseLinear
from ._repeat import Repeat

ANNEAL_STRATEGIES = ("cos", "linear")
CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


def _concrete(*xs: Any) -> bool:
    return not any(V.is_traced(x) for x in xs)


def _fits(name: str, parts: dict[str, Any], total: Any, total_name: str = "total_steps") -> None:
    """Concrete check that the phases fit in the run (a phase of None has no length)."""
    parts = {k: v for k, v in parts.items() if v is not None}
    if not _concrete(total, *parts.values()):
        return
    s = sum(float(np.asarray(v)) for v in parts.values())
    if s > float(np.asarray(total)) * (1 + 1e-6):
        desc = " + ".join(f"{k}={float(np.asarray(v))!r}" for k, v in parts.items())
        raise ValueError(f"{name}: {desc} exceeds {total_name}={float(np.asarray(total))!r}")


def _one() -> Array:
    return jnp.ones((), float_dtype())


def _warmup_length(warmup_steps: Any) -> Array | None:
    """``warmup_steps`` as a length leaf, or None: no warmup (structure, no work per step: ``Warmup``)."""
    return None if warmup_steps is None else V.length("warmup_steps", warmup_steps)


def _less(n: Array, w: Array | None) -> Array:
    """``n - w``, with no warmup (None) as 0."""
    return n if w is None else n - w


def warmup_cosine(
    peak_value: Any,
    total_steps: Any,
    warmup_steps: Any = None,
    init_value: Any = 0.0,
    end_value: Any = 0.0,
    exponent: Any = None,
) -> Warmup:
    """Linear warmup to ``peak_value``, then cosine decay to ``end_value``.

    .. math:: \\eta(t) = \\begin{cases} v_0 + (P - v_0)\\, t / W & t < W \\\\
              v_1 + (P - v_1) \\left(\\tfrac{1 + \\cos(\\pi \\min(\\frac{t - W}{N - W}, 1))}{2}\\right)^{e}
              & t \\ge W \\end{cases}

    ``total_steps`` (N) is the whole run, warmup included (as optax's
    ``decay_steps``). ``exponent=None`` means ``e = 1`` with no power computed,
    and ``warmup_steps=None`` no warmup (``W = 0``) with no ramp computed; pass
    numbers (0 included) to sweep them.
    Matches ``optax.warmup_cosine_decay_schedule(init_value, peak_value,
    warmup_steps, total_steps, end_value, exponent)``.

    >>> import jaxsched
    >>> s = jaxsched.warmup_cosine(1.0, total_steps=110, warmup_steps=10)
    >>> s([0, 5, 10, 60, 110]).round(4).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    P = V.value("peak_value", peak_value)
    N = V.length("total_steps", total_steps)
    W = _warmup_length(warmup_steps)
    _fits("warmup_cosine", {"warmup_steps": warmup_steps}, total_steps)
    e = None if exponent is None else V.nonneg("exponent", exponent)
    decay = Cosine(P, V.value("end_value", end_value), _less(N, W), e)
    return Warmup(decay, W, V.value("init_value", init_value), P, may_shift(W))


def linear_to_zero(
    peak_value: Any,
    total_steps: Any,
    warmup_steps: Any = None,
    init_value: Any = 0.0,
    end_value: Any = 0.0,
) -> Warmup:
    """Linear warmup, then linear decay to ``end_value`` (zero by default) at ``total_steps``.

    .. math:: \\eta(t) = P \\left(1 - \\min(\\tfrac{t - W}{N - W}, 1)\\right) + v_1 \\min(\\tfrac{t - W}{N - W}, 1),
              \\quad t \\ge W

    ``warmup_steps=None`` is no warmup (``W = 0``) with no ramp computed; pass a
    number (0 included) to sweep it.

    References: Bergsma et al., Straight to Zero: Why Linearly Decaying the
    Learning Rate to Zero Works Best for LLMs (2025).

    >>> import jaxsched
    >>> jaxsched.linear_to_zero(1.0, total_steps=100, warmup_steps=20)([0, 10, 20, 60, 100]).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    P = V.value("peak_value", peak_value)
    N = V.length("total_steps", total_steps)
    W = _warmup_length(warmup_steps)
    _fits("linear_to_zero", {"warmup_steps": warmup_steps}, total_steps)
    return Warmup(Linear(P, V.value("end_value", end_value), _less(N, W)), W, V.value("init_value", init_value), P,
                  may_shift(W))


def warmup_inverse_sqrt(
    peak_value: Any,
    warmup_steps: Any,
    timescale: Any = None,
    init_value: Any = 0.0,
) -> Warmup:
    """Linear warmup, then inverse square-root decay (the Transformer schedule).

    .. math:: \\eta(t) = \\frac{P}{\\sqrt{1 + (t - W) / \\tau}}, \\quad t \\ge W

    ``timescale`` (tau) defaults to ``warmup_steps``, which gives
    ``P * sqrt(W / t)`` after warmup, as in Vaswani et al. (2017) and
    transformers' ``inverse_sqrt``.

    >>> import jaxsched
    >>> jaxsched.warmup_inverse_sqrt(1.0, warmup_steps=100)([0, 50, 100, 400]).tolist()
    [0.0, 0.5, 1.0, 0.5]
    """
    P = V.value("peak_value", peak_value)
    W = V.length("warmup_steps", warmup_steps)
    if timescale is None:
        if _concrete(warmup_steps) and float(W) == 0.0:
            raise ValueError(
                "warmup_inverse_sqrt: timescale is required when warmup_steps=0 (it defaults to warmup_steps)"
            )
        tau = W
    else:
        tau = V.positive("timescale", timescale)
    return Warmup(InverseSqrt(P, tau), W, V.value("init_value", init_value), P, may_shift(W))


def wsd(
    peak_value: Any,
    total_steps: Any,
    warmup_steps: Any = None,
    decay_steps: Any = None,
    decay_fraction: Any = None,
    decay_shape: Any = "1-sqrt",
    init_value: Any = 0.0,
    end_value: Any = 0.0,
) -> Warmup:
    """Warmup-stable-decay: warmup, a constant plateau, then a cooldown.

    .. math:: \\eta(t) = \\begin{cases} v_0 + (P - v_0) t / W & t < W \\\\
              P & W \\le t < N - D \\\\
              v_1 + (P - v_1)\\, c\\!\\left(\\frac{t - (N - D)}{D}\\right) & t \\ge N - D \\end{cases}

    where the cooldown shape ``c`` is ``1 - p`` (``"linear"``),
    ``(1 + cos(pi p)) / 2`` (``"cosine"``) or ``1 - sqrt(p)`` (``"1-sqrt"``,
    the default). ``decay_shape`` may be a name (structure: only that shape is
    computed; a grid over names batches them as indices) or an integer index
    (a leaf, traced too), so a sweep can vary the shape inside one compiled
    program. The cooldown length is ``decay_steps``, or
    ``decay_fraction * total_steps`` (default 0.2); give at most one.
    ``warmup_steps=None`` is no warmup (``W = 0``) with no ramp computed; pass a
    number (0 included) to sweep it.

    References: Hägele et al. (2024); Hu et al., MiniCPM (2024).

    >>> import jaxsched
    >>> s = jaxsched.wsd(1.0, total_steps=100, warmup_steps=10, decay_steps=20, decay_shape="linear")
    >>> s([0, 5, 10, 79, 80, 90, 100]).tolist()
    [0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0]
    """
    P = V.value("peak_value", peak_value)
    N = V.length("total_steps", total_steps)
    W = _warmup_length(warmup_steps)
    if decay_steps is not None and decay_fraction is not None:
        raise TypeError(
            f"wsd: give decay_steps or decay_fraction, not both (got {decay_steps!r} and {decay_fraction!r})"
        )
    if decay_steps is None:
        frac = V.real("decay_fraction", 0.2 if decay_fraction is None else decay_fraction, lo=0.0, hi=1.0)
        D = frac * N
        d_conc = None if not _concrete(decay_fraction, total_steps) else float(frac) * float(N)
    else:
        D = V.length("decay_steps", decay_steps)
        d_conc = decay_steps
    if d_conc is not None:
        _fits("wsd", {"warmup_steps": warmup_steps, "decay_steps": d_conc}, total_steps)
    index, fixed = V.choice_or_name("decay_shape", decay_shape, COOLDOWN_SHAPES)
    E = V.value("end_value", end_value)
    cooldown = Cooldown(P, E, D, index, fixed)
    body = Join((Constant(P), cooldown), jnp.reshape(_less(N, W) - D, (1,)))
    return Warmup(body, W, V.value("init_value", init_value), P, may_shift(W))


def _phase(strategy: tuple[Array | None, int | None], a: Array, b: Array, n: Array) -> Schedule:
    """A cosine or linear phase: ``strategy`` is ``choice_or_name``'s pair (a leaf, or a name's static choice)."""
    return choose(*strategy, (Cosine(a, b, n), Linear(a, b, n)))


def _onecycle_knots(total_steps: Any, pct_start: Any, three_phase: Any) -> tuple[Array, Array, Array, Array]:
    T = V.length("total_steps", total_steps)
    if isinstance(three_phase, (bool, np.bool_)):
        three = jnp.asarray(float(three_phase), float_dtype())
    else:
        # A 0/1 leaf, so a sweep can vary it; a traced value anywhere in [0, 1] stays finite.
        three = V.real("three_phase", three_phase, lo=0.0, hi=1.0)
        if not V.is_traced(three_phase) and not np.isin(np.asarray(three_phase, np.float64), (0.0, 1.0)).all():
            raise ValueError(f"three_phase must be a bool, 0 or 1, got {three_phase!r}")
    pct = V.real("pct_start", pct_start, lo=0.0, hi=1.0)
    # Three phases take 2 * pct_start of total_steps (checked where both are concrete, a flag of 1 too).
    if not V.is_traced(three_phase) and not V.is_traced(pct_start):
        over = (np.asarray(three_phase, np.float64) == 1.0) & (np.asarray(pct_start, np.float64) > 0.5)
        if over.any():
            raise ValueError(f"pct_start must be <= 0.5 with three phases, got {pct_start!r}")
    up = pct * T
    mid = three * up
    return T, up, mid, three


def onecycle(
    peak_value: Any,
    total_steps: Any,
    pct_start: Any = 0.3,
    div_factor: Any = 25.0,
    final_div_factor: Any = 1e4,
    three_phase: Any = False,
    anneal_strategy: Any = "cos",
) -> Join:
    """The one-cycle policy (Smith & Topin, 2019), two or three phases.

    With ``a = peak / div_factor`` and ``z = a / final_div_factor``:

    - two phases: ``a -> peak`` over ``pct_start * N``, then ``peak -> z``;
    - three phases: ``a -> peak`` over ``pct_start * N``, ``peak -> a`` over
      the same length, then ``a -> z``.

    Each phase is a cosine (``"cos"``) or linear (``"linear"``) interpolation.
    Knots are at ``pct_start * N`` (the idealised policy; torch's knots at
    ``pct_start * N - 1`` are in :mod:`jaxsched.compat.torch`).
    ``three_phase`` is a leaf (a 0/1 flag) and can be swept;
    ``anneal_strategy`` may be a name (structure: only that interpolation is
    computed; a grid over names batches them as indices) or an integer index
    (a leaf, traced too). Pair with :func:`onecycle_momentum`.

    >>> import jaxsched
    >>> s = jaxsched.onecycle(1.0, total_steps=100, pct_start=0.25, anneal_strategy="linear")
    >>> s([0, 25, 100]).round(6).tolist()
    [0.04, 1.0, 4e-06]
    """
    T, up, mid, three = _onecycle_knots(total_steps, pct_start, three_phase)
    P = V.positive("peak_value", peak_value)
    a = P / V.positive("div_factor", div_factor)
    z = a / V.positive("final_div_factor", final_div_factor)
    k = V.choice_or_name("anneal_strategy", anneal_strategy, ANNEAL_STRATEGIES)
    last_start = jnp.where(three > 0.5, a, P)
    pieces = (_phase(k, a, P, up), _phase(k, P, a, mid), _phase(k, last_start, z, T - up - mid))
    return Join(pieces, jnp.stack([up, up + mid]))


def onecycle_momentum(
    total_steps: Any,
    pct_start: Any = 0.3,
    base_momentum: Any = 0.85,
    max_momentum: Any = 0.95,
    three_phase: Any = False,
    anneal_strategy: Any = "cos",
) -> Join:
    """The momentum (or Adam ``b1``) schedule that goes with :func:`onecycle`.

    Momentum moves opposite to the rate: ``max -> base`` while the rate rises,
    back to ``max`` while it falls (and stays at ``max`` in the third phase).

    >>> import jaxsched
    >>> m = jaxsched.onecycle_momentum(100, pct_start=0.25, anneal_strategy="linear")
    >>> m([0, 25, 100]).round(6).tolist()
    [0.95, 0.85, 0.95]
    """
    T, up, mid, three = _onecycle_knots(total_steps, pct_start, three_phase)
    lo = V.value("base_momentum", base_momentum)
    hi = V.value("max_momentum", max_momentum)
    k = V.choice_or_name("anneal_strategy", anneal_strategy, ANNEAL_STRATEGIES)
    last_start = jnp.where(three > 0.5, hi, lo)
    pieces = (_phase(k, hi, lo, up), _phase(k, lo, hi, mid), _phase(k, last_start, hi, T - up - mid))
    return Join(pieces, jnp.stack([up, up + mid]))


def sgdr(
    peak_value: Any,
    period: Any,
    period_mult: Any = None,
    decay: Any = None,
    end_value: Any = 0.0,
    warmup_steps: Any = None,
    init_value: Any = 0.0,
    cycles: Any = None,
) -> Warmup:
    """Cosine annealing with warm restarts (SGDR), with period growth and decay.

    .. math:: \\eta(t) = \\gamma^{i} \\left[v_1 + (P - v_1)\\tfrac{1 + \\cos(\\pi (t - S_i) / L_i)}{2}\\right],
              \\quad L_i = T_0 m^i

    Cycle ``i`` lasts ``period * period_mult**i`` (any ``period_mult > 0``) and
    its values are scaled by ``decay**i``; the restart index is exact at every
    restart step (see :func:`repeat`). An optional linear warmup comes first
    (``warmup_steps=None``: none, with no ramp computed).
    ``period_mult``, ``decay`` and ``cycles`` default to ``None``: equal
    periods, no decay and no cycle limit, with no work for any of them at
    any step (equal periods are found by a division, with no logarithm).
    Pass numbers to sweep them.

    References: Loshchilov & Hutter, SGDR (2017).

    >>> import jaxsched
    >>> s = jaxsched.sgdr(1.0, period=10, period_mult=2.0)
    >>> s([0, 5, 10, 20, 30]).round(4).tolist()
    [1.0, 0.5, 1.0, 0.5, 1.0]
    """
    P = V.value("peak_value", peak_value)
    T0 = V.positive("period", period)
    inner = Cosine(P, V.value("end_value", end_value), T0)
    rep = Repeat(
        inner,
        T0,
        None if period_mult is None else V.positive("period_mult", period_mult),
        None if decay is None else V.nonneg("decay", decay),
        None if cycles is None else V.real("cycles", cycles, lo=1.0, allow_inf=True),
    )
    W = _warmup_length(warmup_steps)
    return Warmup(rep, W, V.value("init_value", init_value), P, may_shift(W))


def cyclic(
    base_value: Any,
    max_value: Any,
    step_size_up: Any,
    step_size_down: Any = None,
    mode: Any = "triangular",
    gamma: Any = 1.0,
) -> Sum:
    """Cyclical learning rates (Smith, 2017): triangular, triangular2, exp_range.

    .. math:: \\eta(t) = b + (M - b)\\, h(t)\\, g(t)

    ``h`` is a triangle that rises over ``step_size_up`` and falls over
    ``step_size_down`` (default: the same), repeating forever; ``g`` is 1
    (``"triangular"``), ``0.5**cycle`` (``"triangular2"``) or ``gamma**t``
    (``"exp_range"``, ``t`` the global step). ``mode`` may be a name
    (structure: only its factors are computed; a grid over names batches them
    as indices) or an integer index (a leaf, traced too). ``gamma > 0`` is
    read by ``"exp_range"`` only; with another mode given concretely, any
    real ``gamma`` is accepted and unused (as in torch's ``CyclicLR``). For
    the matching momentum cycle pass the momenta in reverse:
    ``cyclic(max_momentum, base_momentum, ...)``.

    >>> import jaxsched
    >>> jaxsched.cyclic(0.0, 1.0, 2)([0, 1, 2, 3, 4]).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    >>> jaxsched.cyclic(0.0, 1.0, 2, mode="triangular2")([2, 6]).tolist()
    [1.0, 0.5]
    """
    lo = V.value("base_value", base_value)
    hi = V.value("max_value", max_value)
    up = V.length("step_size_up", step_size_up)
    down = up if step_size_down is None else V.length("step_size_down", step_size_down)
    if _concrete(step_size_up, step_size_down) and float(up) + float(down) <= 0:
        raise ValueError(
            f"cyclic: step_size_up + step_size_down must be > 0, got {step_size_up!r} and {step_size_down!r}"
        )
    k, fixed = V.choice_or_name("mode", mode, CYCLIC_MODES)
    # gamma is read by "exp_range" only: with another mode chosen concretely any real is accepted and
    # unused, as torch's CyclicLR does; where the mode is traced any of them may run.
    exp_range = fixed == 2 if fixed is not None else V.is_traced(k) or int(k) == CYCLIC_MODES.index("exp_range")
    g = V.positive("gamma", gamma) if exp_range else V.real("gamma", gamma)
    one = _one()
    dt = float_dtype()
    period = up + down
    tri = PiecewiseLinear(jnp.asarray([0.0, 1.0, 0.0], dt), jnp.stack([jnp.zeros((), dt), up, period]))
    if fixed is None:  # an index leaf (a sweep may vary it): every mode's factors, selected per setting
        amp_decay: Array | None = jnp.where(k == 1, 0.5 * one, one)
        rate = jnp.where(k == 2, g, one)
    else:  # a name (structure): only its factors (triangular: no decay per cycle, no envelope per step)
        amp_decay = 0.5 * one if fixed == 1 else None
        rate = g if fixed == 2 else one
    wave = Repeat(tri, period, None, amp_decay)
    envelope = choose(k, fixed, (Constant(one), Constant(one), Exponential(one, rate, one)))
    return Sum((Constant(lo), Product((Constant(hi - lo), wave, envelope))))
