"""Exact ports of timm's ``timm.scheduler`` learning-rate schedulers.

timm's schedulers are stateless in the time ``t`` (an epoch, or an update
count with ``step_update``): ``scheduler.step(t)`` writes ``_get_lr(t)``,
times ``1 + noise`` inside the noise range. Here the base ``lr`` takes the
optimizer's place, the keyword arguments keep timm's names and defaults, and
``schedule(t)`` is timm's ``_get_lr(t)`` (with noise when ``noise_range_t`` is
given). ``t_in_epochs`` and ``initialize`` are accepted and change nothing: the
caller decides what ``t`` counts.

Each function returns an ordinary jaxsched schedule: the warmup is a
:class:`TimmWarmup`, which prefixes the curve (``warmup_prefix=True``) or lays
the ramp over it (timm's default for cosine, tanh and poly: the curve keeps
running on the raw ``t``); ``warmup_prefix`` is a 0/1 leaf, so it can be swept;
cycles are a :class:`TimmCycles`, a core ``Repeat`` of a one-cycle shape from 1
to 0 that scales it to ``lr`` (decayed by ``cycle_decay``) above ``lr_min``
(which timm does not decay).
The cycle shapes timm has and the core does not (k-decay cosine and
polynomial, tanh) are the small primitives
:class:`KDecayCosine`, :class:`KDecayPolynomial` and :class:`TanhDecay`.

Differences from timm 1.0.31 (listed and tested in
``docs/migration_keras_hf_timm.md``): the cycle index with ``cycle_mul != 1``
is exact, where timm floors a float ``log`` and returns ``lr_min`` at some
exact restart steps; and the lr noise is drawn from ``jax.random`` (keyed by
``fold_in(key, t)``), so it has timm's distribution but not torch's numbers.

>>> from jaxsched.compat import timm
>>> s = timm.CosineLRScheduler(1.0, t_initial=10, warmup_t=2, warmup_lr_init=0.1)
>>> s([0, 1, 2, 5, 10, 20]).round(4).tolist()
[0.1, 0.55, 0.9045, 0.5, 0.0, 0.0]
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import functional as F
from .._base import (
    Array,
    Pair,
    Schedule,
    as_pair,
    clip_time,
    float_dtype,
    pytree,
    safe_div,
    safe_pow,
    shift,
    split_at,
    static_field,
    to_float,
    unit_sqrt,
)
from .._primitives import Exponential, PiecewiseConstant
from .._repeat import Repeat
from .._validate import (
    default_is_none,
    exponent,
    flag,
    growth,
    is_traced,
    length,
    nonneg,
    positive,
    real,
    value,
    vector,
)

__all__ = [
    "CosineLRScheduler",
    "TanhLRScheduler",
    "PolyLRScheduler",
    "StepLRScheduler",
    "MultiStepLRScheduler",
    "get_cycle_length",
    "KDecayCosine",
    "KDecayPolynomial",
    "TanhDecay",
    "TimmWarmup",
    "TimmCycles",
    "Noise",
]

#: The timm version whose numbers the fixtures in ``tests/fixtures/timm_*.json`` hold.
TIMM_VERSION = "1.0.31"


# ----------------------------------------------------------------------------- new primitives


def _k_decay_leaf(self: Any) -> Schedule:
    """``_sweepable`` of the k-decay shapes: ``k_decay=None`` (k = 1, no power) as a leaf of 1."""
    k = jnp.ones_like(self.steps) if self.k_decay is None else self.k_decay
    return dataclasses.replace(self, k_decay=k)


@pytree
class KDecayCosine(Schedule):
    """Cosine decay with k-decay (Zhang & Li, 2020), as timm's cosine cycle.

    .. math:: \\eta(t) = e + (v_0 - e)\\,\\frac{1 + \\cos(\\pi p^{k})}{2},
              \\quad p = \\min(t / T, 1)

    ``k = 1`` is the plain cosine; ``k_decay=None`` is ``k = 1`` computed by the core cosine kernel,
    with no power per step (the factories' choice for timm's default). From ``t = T`` on the
    value is ``e``.

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat.timm import KDecayCosine
    >>> f = jnp.float32
    >>> KDecayCosine(f(1.0), f(0.0), f(100.0), f(2.0))([0, 50, 100]).round(4).tolist()
    [1.0, 0.8536, 0.0]

    References: Zhang & Li, k-decay: A New Method For Learning Rate Schedule (2020).
    """

    init_value: Array
    end_value: Array
    steps: Array
    # None is k = 1 (timm's default), with no power per step: the core cosine kernel.
    k_decay: Array | None = None
    _config_bounds = {"steps": "> 0", "k_decay": ">= 0"}

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.init_value.dtype)
        if self.k_decay is None:
            v = F.cosine(x, self.init_value, self.end_value, self.steps)
        else:
            p = F.progress(x, self.steps)
            v = F.blend(self.init_value, self.end_value, F.cosine_factor(safe_pow(p, self.k_decay)))
        return jnp.where(x >= self.steps, self.end_value, v)

    _sweepable = _k_decay_leaf


@pytree
class KDecayPolynomial(Schedule):
    """Polynomial decay with k-decay, as timm's poly cycle.

    .. math:: \\eta(t) = e + (v_0 - e)\\,(1 - p^{k})^{q}, \\quad p = \\min(t / T, 1)

    (``q`` is ``power``). From ``t = T`` on the value is ``e``. ``power=None`` is
    ``q = 1/2`` (timm's default) as structure: one square root per step instead of a
    power (a grid mixing it with numbers makes it a leaf, ``_sweepable``).

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat.timm import KDecayPolynomial
    >>> f = jnp.float32
    >>> KDecayPolynomial(f(1.0), f(0.0), f(10.0), f(2.0), f(1.0))([0, 5, 10]).tolist()
    [1.0, 0.25, 0.0]
    >>> KDecayPolynomial(f(1.0), f(0.0), f(8.0), None)([0, 6, 8]).tolist()
    [1.0, 0.5, 0.0]
    """

    init_value: Array
    end_value: Array
    steps: Array
    power: Array | None  # None is q = 1/2 (timm's default): a square root
    k_decay: Array | None = None  # None is k = 1 (timm's default), with no power of p per step
    _config_bounds = {"steps": "> 0", "power": ">= 0", "k_decay": ">= 0"}

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.init_value.dtype)
        if self.k_decay is None:
            left = F.remaining(x, self.steps)  # 1 - p with its relative precision near the end
        else:
            left = 1.0 - safe_pow(F.progress(x, self.steps), self.k_decay)
        q = unit_sqrt(left) if self.power is None else safe_pow(left, self.power)  # left is in [0, 1]
        v = F.blend(self.init_value, self.end_value, q)
        # The end is decided by comparing steps, not by p: under jit a constant T makes t / T a
        # product t * (1 / T), which can be just below 1 at t = T (then (1 - p)**power is far from 0).
        return jnp.where(x >= self.steps, self.end_value, v)

    def _sweepable(self) -> Schedule:
        s = _k_decay_leaf(self)
        return s if self.power is not None else dataclasses.replace(s, power=jnp.full_like(self.steps, 0.5))


@pytree
class TanhDecay(Schedule):
    """timm's tanh decay: a smooth step from ``init`` to ``end``.

    .. math:: \\eta(t) = e + (v_0 - e)\\,\\frac{1 - \\tanh(l (1 - p) + u p)}{2},
              \\quad p = t / T

    for ``t < T``, and ``e`` from ``t = T`` on. The curve itself never quite
    reaches its ends: with timm's ``l = -7, u = 3`` it starts at
    ``0.99999917`` of the way and ends at ``0.0025`` of the way, so the value
    jumps to ``e`` at ``t = T`` (timm returns ``lr_min`` once a cycle is over).

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat.timm import TanhDecay
    >>> f = jnp.float32
    >>> TanhDecay(f(1.0), f(0.0), f(10.0), f(-7.0), f(3.0))([0, 7, 10]).round(4).tolist()
    [1.0, 0.5, 0.0]
    """

    init_value: Array
    end_value: Array
    steps: Array
    lb: Array
    ub: Array
    _config_bounds = {"steps": "> 0"}

    @staticmethod
    def _config_check(s: TanhDecay, batch_shape: tuple[int, ...]) -> None:
        lb, ub = np.asarray(s.lb, np.float64), np.asarray(s.ub, np.float64)
        if not (lb < ub).all():  # timm's check (TanhLRScheduler)
            raise ValueError(f"lb must be < ub, got lb={lb.tolist()}, ub={ub.tolist()}")

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.init_value.dtype)
        p = F.progress(x, self.steps)
        c = 0.5 * (1.0 - jnp.tanh(self.lb * (1.0 - p) + self.ub * p))
        return jnp.where(x >= self.steps, self.end_value, self.end_value + (self.init_value - self.end_value) * c)


@pytree
class TimmCycles(Repeat):
    """timm's cycles: ``lr_min + (lr * decay**i - lr_min) * c(u)`` in cycle ``i``, ``lr_min`` past the limit.

    A :class:`~jaxsched.Repeat` of the one-cycle shape ``c`` (``schedule``, from 1 to 0: timm's
    cosine, tanh or poly cycle), whose cycle search also gives the ``lr_min`` term: timm decays
    ``lr`` by ``cycle_decay`` per cycle but not ``lr_min``. Past ``cycles`` the shape holds its end
    value 0, so the value is ``lr_min``. ``lr=None`` is 1 and ``lr_min=None`` is 0 (then this is a
    plain ``Repeat``). Two restarts, one for each term, would cost two cycle searches per step.

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat.timm import KDecayCosine, TimmCycles
    >>> f = jnp.float32
    >>> c = KDecayCosine(f(1.0), f(0.0), f(10.0), f(1.0))
    >>> TimmCycles(c, f(10.0), f(1.0), f(0.5), f(2.0), f(1.0), f(0.1))([0, 5, 10, 15, 20]).round(4).tolist()
    [1.0, 0.55, 0.5, 0.3, 0.1]
    """

    lr: Array | None = None
    lr_min: Array | None = None
    # Structure, set from concrete values: at most one cycle runs (timm's default cycle_limit=1), so
    # there is no cycle to search for: the shape at the clipped step. Not in the repr: bookkeeping; a
    # grid over cycle limits falls back to the general form (_sweepable), as does a traced limit.
    single: bool = static_field(default=False, repr=False)

    @property
    def _restarts(self) -> bool:  # type: ignore[override]
        return not self.single  # (no exact integer path to decide on: _base.eval_time)

    @staticmethod
    def _config_check(s: TimmCycles, batch_shape: tuple[int, ...]) -> None:
        Repeat._config_check(s, batch_shape)
        if s.single and (s.cycles is None or (np.asarray(s.cycles) > 1).any()):
            c = None if s.cycles is None else np.asarray(s.cycles).tolist()
            raise ValueError(f"single=true needs cycles <= 1 (one cycle at most), got cycles={c}")

    def _eval(self, t: Any) -> Array:
        if not self.single:
            return super()._eval(t)
        # Cycle 0 throughout: the shape at the step clipped to the period (its end value past it, and
        # from the start with cycles == 0); decay**0 = 1.
        local = clip_time(as_pair(t), self.period)
        local = to_float(local, self.period.dtype) if isinstance(local, Pair) else local
        if self.cycles is not None:
            local = jnp.where(self.cycles <= 0, self.period, local)
        return self._scaled(self.schedule._at(local), None)

    def _scaled(self, c: Array, scale: Array | None) -> Array:
        top = jnp.ones((), c.dtype) if self.lr is None else self.lr
        top = top if scale is None else top * scale
        return top * c if self.lr_min is None else self.lr_min + (top - self.lr_min) * c

    def _finish(self, i: Array, local: Array, scale: Array | None) -> Array:
        return self._scaled(super()._finish(i, local, None), scale)

    def _at_zero(self, dtype: Any) -> Array:
        return self._scaled(super()._at_zero(dtype), None)  # decay**0 = 1

    def _sweepable(self) -> Schedule:
        s = super()._sweepable()
        P = self.period
        return dataclasses.replace(
            s, lr=jnp.ones_like(P) if self.lr is None else self.lr,
            lr_min=jnp.zeros_like(P) if self.lr_min is None else self.lr_min, single=False,
        )


@pytree
class TimmWarmup(Schedule):
    """timm's linear warmup, laid over the curve or prefixed to it.

    .. math:: \\eta(t) = \\begin{cases} v_0 + (P - v_0)\\, t / W & t < W \\\\
              s(t - \\pi W) & t \\ge W \\end{cases}

    with ``pi = prefix`` (a 0/1 leaf, so it can be swept): 1 is timm's
    ``warmup_prefix=True`` (the curve starts after the warmup, like
    :func:`jaxsched.warmup`), 0 its default for cosine, tanh and poly (the curve
    keeps its own clock and the ramp covers its first ``W`` steps, so the rate
    at ``t = W`` is ``s(W)``). The ramp ends at ``P = target``; if
    ``curve_target`` is given (timm's tanh), ``P = s(W)`` where
    ``curve_target`` is 1.

    >>> import jax.numpy as jnp
    >>> import jaxsched
    >>> from jaxsched.compat.timm import TimmWarmup
    >>> f = jnp.float32
    >>> line = jaxsched.linear(1.0, 0.0, 10)
    >>> TimmWarmup(line, f(4.0), f(0.0), f(1.0), f(0.0))([0, 2, 4, 10]).tolist()
    [0.0, 0.5, 0.6000000238418579, 0.0]
    >>> TimmWarmup(line, f(4.0), f(0.0), f(1.0), f(1.0))([2, 4, 14]).tolist()
    [0.5, 1.0, 0.0]
    >>> TimmWarmup(line, f(4.0), f(0.0), f(1.0), f(0.0), f(1.0))([2, 4]).tolist()
    [0.30000001192092896, 0.6000000238418579]
    """

    schedule: Schedule
    steps: Array
    init_value: Array
    target: Array
    prefix: Array
    curve_target: Array | None = None
    _config_bounds = {"steps": ">= 0"}
    # The curve gets an exact pair, as a join's pieces do: the restarts in timm's cycles then take the
    # path decided once for the whole schedule (_base.eval_time). Handed a float local step, each
    # decided per setting, which under vmap over a grid ran both of its paths (2x the time per step).
    _takes_pair = True

    def _eval(self, t: Array) -> Array:
        dt = self.steps.dtype
        local, _ = split_at(self.schedule, t, self.prefix * self.steps, dt)
        main = self.schedule._at(local)
        if self.curve_target is None:
            target = self.target
        else:  # s(W) evaluated on its own: concatenated to the steps, it made every grid row one longer
            # (a copy of each intermediate the size of the output)
            target = jnp.where(self.curve_target > 0.5, self.schedule._at(self.steps), self.target)
        x = to_float(t, dt)
        ramp = self.init_value + (target - self.init_value) * jnp.clip(safe_div(x, self.steps), 0.0, 1.0)
        return jnp.where(shift(t, self.steps, dt) < 0, ramp, main)


@pytree
class Noise(Schedule):
    """Multiplicative lr noise: ``schedule(t) * (1 + n(t))`` for ``lo <= t < hi``.

    ``n(t) = std * z`` where ``z`` is a standard normal truncated to
    ``|std * z| < pct``, drawn with ``jax.random.truncated_normal`` from
    ``fold_in(key, floor(t))``: deterministic per step, jittable and vmappable
    over the key. This is the distribution of timm's rejection loop; the
    numbers differ because timm draws from torch's generator seeded with
    ``noise_seed + t``. ``key`` holds raw key data (``impl`` names its PRNG).

    >>> import jax
    >>> import jaxsched
    >>> from jaxsched.compat.timm import Noise
    >>> f = jax.numpy.float32
    >>> key = jax.random.key_data(jax.random.key(0))
    >>> s = Noise(jaxsched.constant(1.0), key, f(5.0), f(jax.numpy.inf), f(0.5), f(1.0))
    >>> v = s(jax.numpy.arange(10))
    >>> v[:5].tolist(), bool((abs(v[5:] - 1.0) < 0.5).all() & (v[5:] != 1.0).all())
    ([1.0, 1.0, 1.0, 1.0, 1.0], True)
    """

    schedule: Schedule
    key: Array
    lo: Array
    hi: Array
    pct: Array
    std: Array
    impl: str = static_field(default="threefry2x32")
    _config_bounds = {"lo": ">= 0", "hi": ">= 0", "pct": "> 0", "std": ">= 0"}

    @staticmethod
    def _config_check(s: Noise, batch_shape: tuple[int, ...]) -> None:
        lo, hi = np.asarray(s.lo, np.float64), np.asarray(s.hi, np.float64)
        if not (lo <= hi).all():  # noise_range_t's start <= end, as the schedulers check
            raise ValueError(f"lo must be <= hi, got lo={lo.tolist()}, hi={hi.tolist()}")

    def _eval(self, t: Array) -> Array:
        v = self.schedule._eval(t)
        dt = v.dtype
        on = (shift(t, self.lo, self.lo.dtype) >= 0) & (to_float(t, self.hi.dtype) < self.hi)
        if jnp.issubdtype(t.dtype, jnp.integer):
            k = jnp.minimum(t, jnp.asarray(2**31 - 1, t.dtype)).astype(jnp.int32)
        else:
            k = jnp.floor(jnp.clip(t, 0.0, 2.0**31 - 128)).astype(jnp.int32)
        base = jax.random.wrap_key_data(self.key, impl=self.impl)
        ok = (self.pct > 0) & (self.std > 0)
        std = jnp.where(ok, self.std, jnp.ones_like(self.std)).astype(dt)
        bound = jnp.where(ok, self.pct, jnp.ones_like(self.pct)).astype(dt) / std

        def draw(step: Array) -> Array:
            z = jax.random.truncated_normal(jax.random.fold_in(base, step), -bound, bound, dtype=dt)
            return std * z

        n = jax.vmap(draw)(jnp.ravel(k)).reshape(jnp.shape(k))
        n = jnp.where(ok, n, jnp.zeros_like(n))
        n = jnp.broadcast_to(n, jnp.shape(v))
        return jnp.where(jnp.broadcast_to(on, jnp.shape(v)), v * (1.0 + n), v)


# ----------------------------------------------------------------------------- builders


def _cycles(
    make: Any, lr: Array, lr_min: Array, t_initial: Array, cycle_mul: Any, cycle_decay: Any, cycle_limit: Any
) -> TimmCycles:
    """``lr_min + (lr * decay**i - lr_min) * c_i(t)`` over timm's cycles, ``lr_min`` after the limit."""
    M, doubling = growth("cycle_mul", cycle_mul)
    g = nonneg("cycle_decay", cycle_decay)
    L = real("cycle_limit", cycle_limit, lo=0.0, allow_inf=True)
    single = not is_traced(L) and bool((np.asarray(L) <= 1).all())  # timm's default: one cycle, no search
    return TimmCycles(make(jnp.ones_like(lr)), t_initial, M, g, L, lr, lr_min, single=single, doubling=doubling)


def _warmup(curve: Schedule, W: Array, init: Array, lr: Array, prefix: Any, to_curve: bool = False) -> TimmWarmup:
    """timm's linear warmup from ``init`` over ``W``, to ``lr`` (tanh without prefix: to ``curve(W)``)."""
    if is_traced(prefix):
        p = jnp.asarray(prefix).astype(W.dtype)
    else:
        p = jnp.asarray(float(flag("warmup_prefix", prefix)), W.dtype)
    return TimmWarmup(curve, W, init, lr, p, (1.0 - p) if to_curve else None)


def _concrete(x: Any) -> np.ndarray | None:
    """``x`` as a float64 NumPy array for a concrete check, or ``None`` when it holds a tracer.

    Checks look at the caller's own values, never at the converted leaves:
    inside ``jit`` even a constant becomes a tracer once it is a JAX array.
    """
    if is_traced(x) or (isinstance(x, (list, tuple)) and any(is_traced(v) for v in x)):
        return None
    return np.asarray(x, np.float64)


def _noise(
    curve: Schedule,
    noise_range_t: Any,
    noise_pct: Any,
    noise_std: Any,
    noise_seed: Any,
    noise_key: Any,
) -> Schedule:
    if noise_range_t is None:
        return curve
    dt = float_dtype()
    if isinstance(noise_range_t, (list, tuple)):
        if len(noise_range_t) != 2:
            raise ValueError(f"noise_range_t must be a step, a (start, end) pair or None, got {noise_range_t!r}")
        lo = real("noise_range_t[0]", noise_range_t[0], lo=0.0)
        hi = jnp.minimum(real("noise_range_t[1]", noise_range_t[1], lo=0.0, allow_inf=True), jnp.finfo(dt).max)
        c = _concrete(noise_range_t)
        if c is not None and c[0] > c[1]:
            raise ValueError(f"noise_range_t must have start <= end, got {noise_range_t!r}")
    else:
        lo = real("noise_range_t", noise_range_t, lo=0.0)
        hi = jnp.asarray(jnp.finfo(dt).max, dt)  # no end (finite, so the schedule is a valid config)
    pct = positive("noise_pct", noise_pct)
    std = nonneg("noise_std", noise_std)
    if noise_key is None:
        if isinstance(noise_seed, (bool, np.bool_)) or not (
            is_traced(noise_seed) or isinstance(noise_seed, (int, np.integer))
        ):
            raise TypeError(f"noise_seed must be an integer, got {noise_seed!r}")
        noise_key = jax.random.key(noise_seed)
    if jax.dtypes.issubdtype(jnp.result_type(noise_key), jax.dtypes.prng_key):
        impl = str(jax.random.key_impl(noise_key))
        data = jax.random.key_data(noise_key)
    else:
        data = jnp.asarray(noise_key)
        if data.dtype != jnp.uint32 or data.shape != (2,):
            raise TypeError(f"noise_key must be a jax.random.key or a raw uint32[2] key, got {noise_key!r}")
        impl = "threefry2x32"
    return Noise(curve, data, lo, hi, pct, std, impl)


def _common(
    name: str,
    lr: Any,
    t_initial: Any,
    lr_min: Any,
    warmup_t: Any,
    warmup_lr_init: Any,
) -> tuple[Array, Array, Array, Array, Array]:
    return (
        value("lr", lr),
        positive("t_initial", t_initial),
        nonneg("lr_min", lr_min),
        length("warmup_t", warmup_t),
        value("warmup_lr_init", warmup_lr_init),
    )


# ----------------------------------------------------------------------------- the timm classes


def CosineLRScheduler(
    lr: Any,
    t_initial: Any,
    lr_min: Any = 0.0,
    cycle_mul: Any = 1.0,
    cycle_decay: Any = 1.0,
    cycle_limit: Any = 1,
    warmup_t: Any = 0,
    warmup_lr_init: Any = 0.0,
    warmup_prefix: bool = False,
    t_in_epochs: bool = True,
    noise_range_t: Any = None,
    noise_pct: Any = 0.67,
    noise_std: Any = 1.0,
    noise_seed: Any = 42,
    k_decay: Any = 1.0,
    initialize: bool = True,
    *,
    noise_key: Any = None,
) -> Schedule:
    """timm's ``CosineLRScheduler``: cosine with warmup, restarts, k-decay and noise.

    For ``t < warmup_t``: ``warmup_lr_init + t (lr - warmup_lr_init) / warmup_t``.
    Then, with ``t' = t - warmup_t`` if ``warmup_prefix`` else ``t``, in cycle
    ``i`` (length ``t_initial * cycle_mul**i``, fraction done ``u``):

    .. math:: \\eta = m + (\\mathrm{lr}\\, \\gamma^{i} - m)\\,\\frac{1 + \\cos(\\pi u^{k})}{2}

    with ``m = lr_min`` (not decayed), ``gamma = cycle_decay``, ``k = k_decay``;
    ``lr_min`` once ``i >= cycle_limit`` (by default from ``t' = t_initial``).
    Without ``warmup_prefix`` the cosine runs on the raw ``t`` under the
    warmup, so at ``t = warmup_t`` it is already below ``lr``.

    ``noise_range_t`` (a step, from which noise applies, or a ``(start, end)``
    pair) multiplies by ``1 + n(t)``, ``n`` a normal of std ``noise_std``
    truncated to ``|n| < noise_pct``, drawn with ``jax.random`` from
    ``noise_key`` (default ``jax.random.key(noise_seed)``) folded with ``t``:
    timm's distribution, not torch's numbers.

    Native: :func:`jaxsched.warmup_cosine` (prefix warmup, one cycle) and
    :func:`jaxsched.sgdr` (restarts).

    >>> from jaxsched.compat import timm
    >>> s = timm.CosineLRScheduler(1.0, 10, cycle_mul=2.0, cycle_decay=0.5, cycle_limit=2)
    >>> s([0, 5, 10, 20, 30, 40]).round(4).tolist()
    [1.0, 0.5, 0.5, 0.25, 0.0, 0.0]
    """
    del t_in_epochs, initialize
    lr, T0, m, W, w0 = _common("CosineLRScheduler", lr, t_initial, lr_min, warmup_t, warmup_lr_init)
    k = exponent("k_decay", k_decay)
    zero = jnp.zeros_like(lr)
    curve = _cycles(lambda top: KDecayCosine(top, zero, T0, k), lr, m, T0, cycle_mul, cycle_decay, cycle_limit)
    sched = _warmup(curve, W, w0, lr, warmup_prefix)
    return _noise(sched, noise_range_t, noise_pct, noise_std, noise_seed, noise_key)


def TanhLRScheduler(
    lr: Any,
    t_initial: Any,
    lb: Any = -7.0,
    ub: Any = 3.0,
    lr_min: Any = 0.0,
    cycle_mul: Any = 1.0,
    cycle_decay: Any = 1.0,
    cycle_limit: Any = 1,
    warmup_t: Any = 0,
    warmup_lr_init: Any = 0.0,
    warmup_prefix: bool = False,
    t_in_epochs: bool = True,
    noise_range_t: Any = None,
    noise_pct: Any = 0.67,
    noise_std: Any = 1.0,
    noise_seed: Any = 42,
    initialize: bool = True,
    *,
    noise_key: Any = None,
) -> Schedule:
    """timm's ``TanhLRScheduler``: tanh decay with warmup, restarts and noise.

    In cycle ``i`` with fraction done ``r``:

    .. math:: \\eta = m + (\\mathrm{lr}\\, \\gamma^{i} - m)\\,\\frac{1 - \\tanh(l (1 - r) + u r)}{2}

    (:class:`TanhDecay`; ``l = lb``, ``u = ub``), ``lr_min`` after
    ``cycle_limit`` cycles. Warmup and cycles as in :func:`CosineLRScheduler`,
    except that without ``warmup_prefix`` the warmup ramps to the tanh curve's
    value at ``warmup_t`` (timm's rule), so there is no jump there.
    timm's checks are kept: ``lb < ub``, ``warmup_lr_init >= 0``.

    >>> from jaxsched.compat import timm
    >>> timm.TanhLRScheduler(1.0, 10)([0, 5, 7, 9, 10]).round(4).tolist()
    [1.0, 0.982, 0.5, 0.018, 0.0]
    """
    del t_in_epochs, initialize
    lr, T0, m, W, w0 = _common("TanhLRScheduler", lr, t_initial, lr_min, warmup_t, warmup_lr_init)
    nonneg("warmup_lr_init", warmup_lr_init)
    lo, hi = value("lb", lb), value("ub", ub)
    c_lb, c_ub = _concrete(lb), _concrete(ub)
    if c_lb is not None and c_ub is not None and not float(c_lb) < float(c_ub):
        raise ValueError(f"TanhLRScheduler needs lb < ub, got lb={lb!r}, ub={ub!r}")
    zero = jnp.zeros_like(lr)
    curve = _cycles(lambda top: TanhDecay(top, zero, T0, lo, hi), lr, m, T0, cycle_mul, cycle_decay, cycle_limit)
    sched = _warmup(curve, W, w0, lr, warmup_prefix, to_curve=True)
    return _noise(sched, noise_range_t, noise_pct, noise_std, noise_seed, noise_key)


def PolyLRScheduler(
    lr: Any,
    t_initial: Any,
    power: Any = 0.5,
    lr_min: Any = 0.0,
    cycle_mul: Any = 1.0,
    cycle_decay: Any = 1.0,
    cycle_limit: Any = 1,
    warmup_t: Any = 0,
    warmup_lr_init: Any = 0.0,
    warmup_prefix: bool = False,
    t_in_epochs: bool = True,
    noise_range_t: Any = None,
    noise_pct: Any = 0.67,
    noise_std: Any = 1.0,
    noise_seed: Any = 42,
    k_decay: Any = 1.0,
    initialize: bool = True,
    *,
    noise_key: Any = None,
) -> Schedule:
    """timm's ``PolyLRScheduler``: polynomial decay with warmup, restarts, k-decay and noise.

    In cycle ``i`` with fraction done ``u``:

    .. math:: \\eta = m + (\\mathrm{lr}\\, \\gamma^{i} - m)\\,(1 - u^{k})^{q}

    (:class:`KDecayPolynomial`; ``q = power``, default 0.5), ``lr_min`` after
    ``cycle_limit`` cycles. Warmup, cycles and noise as in
    :func:`CosineLRScheduler`. Native: :func:`jaxsched.polynomial`.

    >>> from jaxsched.compat import timm
    >>> timm.PolyLRScheduler(1.0, 10, power=1.0)([0, 5, 10, 20]).tolist()
    [1.0, 0.5, 0.0, 0.0]
    """
    del t_in_epochs, initialize
    lr, T0, m, W, w0 = _common("PolyLRScheduler", lr, t_initial, lr_min, warmup_t, warmup_lr_init)
    k = exponent("k_decay", k_decay)
    q = default_is_none(nonneg("power", power), 0.5)  # timm's default 1/2: a square root (structure)
    zero = jnp.zeros_like(lr)
    curve = _cycles(lambda top: KDecayPolynomial(top, zero, T0, q, k), lr, m, T0, cycle_mul, cycle_decay, cycle_limit)
    sched = _warmup(curve, W, w0, lr, warmup_prefix)
    return _noise(sched, noise_range_t, noise_pct, noise_std, noise_seed, noise_key)


def StepLRScheduler(
    lr: Any,
    decay_t: Any,
    decay_rate: Any = 1.0,
    warmup_t: Any = 0,
    warmup_lr_init: Any = 0.0,
    warmup_prefix: bool = True,
    t_in_epochs: bool = True,
    noise_range_t: Any = None,
    noise_pct: Any = 0.67,
    noise_std: Any = 1.0,
    noise_seed: Any = 42,
    initialize: bool = True,
    *,
    noise_key: Any = None,
) -> Schedule:
    """timm's ``StepLRScheduler``: ``lr * decay_rate ** floor(t' / decay_t)``.

    After the warmup (``t' = t - warmup_t`` with the default
    ``warmup_prefix=True``). ``decay_t`` may be fractional. The default
    ``decay_rate=1`` means no decay. Native: ``jaxsched.exponential(...,
    staircase=True)``, which this is after the warmup.

    >>> from jaxsched.compat import timm
    >>> timm.StepLRScheduler(1.0, 3, decay_rate=0.5, warmup_t=2)([0, 1, 2, 4, 5, 8]).tolist()
    [0.0, 0.5, 1.0, 1.0, 0.5, 0.25]
    """
    del t_in_epochs, initialize
    lr = value("lr", lr)
    W = length("warmup_t", warmup_t)
    curve = Exponential(lr, nonneg("decay_rate", decay_rate), positive("decay_t", decay_t), None, True)
    sched = _warmup(curve, W, value("warmup_lr_init", warmup_lr_init), lr, warmup_prefix)
    return _noise(sched, noise_range_t, noise_pct, noise_std, noise_seed, noise_key)


def MultiStepLRScheduler(
    lr: Any,
    decay_t: Any,
    decay_rate: Any = 1.0,
    warmup_t: Any = 0,
    warmup_lr_init: Any = 0.0,
    warmup_prefix: bool = True,
    t_in_epochs: bool = True,
    noise_range_t: Any = None,
    noise_pct: Any = 0.67,
    noise_std: Any = 1.0,
    noise_seed: Any = 42,
    initialize: bool = True,
    *,
    decay_at_milestone: bool = False,
    noise_key: Any = None,
) -> Schedule:
    """timm's ``MultiStepLRScheduler``: ``lr * decay_rate ** #{m in decay_t : m <= t' + 1}``.

    timm applies each milestone ``m`` at ``t' = m - 1``, one step before
    torch's ``MultiStepLR`` and :func:`jaxsched.piecewise_constant`; timm
    1.0.31 documents this as its retained convention, so it is the default
    here. ``decay_at_milestone=True`` switches at ``t' = m`` instead (torch's
    placement). ``decay_t`` must be sorted (timm bisects it); duplicates apply
    their decay together. Built on :class:`jaxsched.PiecewiseConstant`.

    >>> from jaxsched.compat import timm
    >>> timm.MultiStepLRScheduler(1.0, [5, 8], decay_rate=0.5)([3, 4, 7, 8]).tolist()
    [1.0, 0.5, 0.25, 0.25]
    >>> timm.MultiStepLRScheduler(1.0, [5, 8], 0.5, decay_at_milestone=True)([4, 5, 7, 8]).tolist()
    [1.0, 0.5, 0.5, 0.25]
    """
    del t_in_epochs, initialize
    lr = value("lr", lr)
    W = length("warmup_t", warmup_t)
    m = vector("decay_t", decay_t, nondecreasing=True)
    cm = _concrete(decay_t)
    if cm is not None and cm.size and cm.min() < 0:
        raise ValueError(f"decay_t must hold milestones >= 0, got {decay_t!r}")
    rate = nonneg("decay_rate", decay_rate)
    powers = jnp.arange(m.shape[-1] + 1, dtype=lr.dtype)
    values = lr * rate**powers
    shift_by = 0.0 if flag("decay_at_milestone", decay_at_milestone) else 1.0
    # A milestone at 0 switches at t' = -1: clipped to 0, which every step (>= 0) has passed too, so the
    # boundaries are a piecewise_constant's (>= 0) and the schedule's config loads back.
    curve = PiecewiseConstant(values, jnp.maximum(m - shift_by, 0.0))
    sched = _warmup(curve, W, value("warmup_lr_init", warmup_lr_init), lr, warmup_prefix)
    return _noise(sched, noise_range_t, noise_pct, noise_std, noise_seed, noise_key)


def get_cycle_length(
    t_initial: float,
    cycle_mul: float = 1.0,
    cycle_limit: int = 1,
    warmup_t: float = 0,
    warmup_prefix: bool = False,
    cycles: int = 0,
) -> float:
    """timm's ``scheduler.get_cycle_length(cycles)`` for cosine, tanh and poly (concrete numbers).

    ``T0 * c`` for ``cycle_mul == 1``, else ``floor(T0 (M**c - 1) / (M - 1))``,
    with ``c = max(1, cycles or cycle_limit)``, plus ``warmup_t`` when
    prefixed. timm's ``train.py`` uses it for the number of epochs to run.

    >>> from jaxsched.compat.timm import get_cycle_length
    >>> get_cycle_length(10, cycle_mul=2.0, cycle_limit=3)
    70
    """
    c = max(1, cycles or cycle_limit)
    if cycle_mul == 1.0:
        t = t_initial * c
    else:
        t = int(math.floor(-t_initial * (cycle_mul**c - 1) / (1 - cycle_mul)))
    return t + warmup_t if warmup_prefix else t

from ._plateau_ports import PlateauLRScheduler as PlateauLRScheduler  # noqa: E402
from ._plateau_ports import TimmPlateau as TimmPlateau  # noqa: E402
