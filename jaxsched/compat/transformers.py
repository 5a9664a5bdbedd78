"""Exact ports of Hugging Face transformers' learning-rate schedules.

transformers builds every named schedule as ``LambdaLR(optimizer, lambda)``, so
the rate is ``lr * lambda(k)`` where ``lr`` is the optimizer's learning rate and
``k`` counts optimizer updates (the first update sees 0). Here the base ``lr``
takes the optimizer's place and the functions keep transformers' names,
argument names and defaults (``last_epoch`` is accepted and has no effect: a
pure schedule has no state to resume). :func:`get_scheduler` maps the
``lr_scheduler_type`` names of ``TrainingArguments``.

Each function returns an ordinary jaxsched schedule (a pytree of core
primitives and combinators), so it jits, vmaps over every numeric argument and
differentiates. Numbers match transformers 5.23 to float64 round-off under
x64. The few points where they differ (a float ``% 1`` that misses exact
restarts in ``cosine_with_restarts``, inputs on which transformers divides by
zero, ...) are listed in ``docs/migration_keras_hf_timm.md``.

>>> from jaxsched.compat import transformers as hf
>>> s = hf.get_scheduler("linear", 1.0, num_warmup_steps=10, num_training_steps=110)
>>> s([0, 5, 10, 60, 110, 200]).tolist()
[0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import functional as F
from .._base import Array, Schedule, pytree, safe_div, to_float
from .._join import Join, Warmup, choose, may_shift
from .._primitives import Constant, Cosine, InverseSqrt, Linear, Polynomial, SqrtDecay
from .._validate import (
    choice_or_name,
    default_is_none,
    exponent,
    is_traced,
    length,
    nonneg,
    positive,
    real,
    value,
)

__all__ = [
    "get_scheduler",
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_linear_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_inverse_sqrt_schedule",
    "get_cosine_with_min_lr_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "get_wsd_schedule",
    "get_reduce_on_plateau_schedule",
    "get_greedy_schedule",
    "CosineWave",
    "CosineHardRestarts",
    "SCHEDULER_TYPES",
]

#: The transformers version whose numbers the fixtures in ``tests/fixtures/transformers_*.json`` hold.
TRANSFORMERS_VERSION = "5.23.0"

#: Every ``lr_scheduler_type`` name transformers knows, in its own order.
SCHEDULER_TYPES = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
    "greedy",
)

WSD_TYPES = ("linear", "cosine", "1-sqrt")


# ----------------------------------------------------------------------------- the periodic cosine


@pytree
class CosineWave(Schedule):
    """transformers' cosine factor, *not* clamped at the end of training.

    .. math:: \\eta(t) = v \\max\\!\\left(0,\\; \\rho + (1 - \\rho)\\,
              \\frac{1 + \\cos(2 \\pi C (t + o) / N)}{2}\\right)

    ``C`` is ``cycles`` (0.5: one half-wave from ``v`` down to ``rho v``
    over ``N`` steps), ``o`` an offset of the step. Past ``N`` the wave goes on,
    so the rate rises again, as in transformers (and torch's
    ``CosineAnnealingLR``); the core :func:`jaxsched.cosine` clamps instead.

    ``None`` is structure, as ``exponent=None`` in the core: ``cycles=None`` is
    ``C = 1/2`` (transformers' default), folded into the core's cosine kernel
    with no division per step; ``rate=None`` and ``offset=None`` are 0 and
    cost nothing. A grid mixing them with numbers makes them leaves
    (``_sweepable``). The ports pass ``None`` for transformers' defaults.

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat.transformers import CosineWave
    >>> f = jnp.float32
    >>> CosineWave(f(1.0), f(0.0), f(10.0), f(0.5), f(0.0))([0, 5, 10, 15, 20]).round(4).tolist()
    [1.0, 0.5, 0.0, 0.5, 1.0]
    >>> CosineWave(f(1.0), None, f(10.0), None)([0, 5, 10, 15, 20]).round(4).tolist()
    [1.0, 0.5, 0.0, 0.5, 1.0]
    """

    value: Array
    rate: Array | None  # None: 0
    steps: Array
    cycles: Array | None  # None: 1/2
    offset: Array | None = None  # None: 0
    _config_bounds = {"steps": "> 0"}

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.value.dtype)
        if self.offset is not None:
            x = x + self.offset
        ok = self.steps > 0
        if self.cycles is None:
            # C = 1/2: the factor is cos(pi x / (2 N))**2, even and of period 2 N. v = |x - 2 N n| for the
            # nearest whole period n lies in [0, N] (up to rounding; past N the kernel clips to the
            # trough) and is exact where x and N are integers below 2**24; any n gives the same wave, so
            # a rounded x / (2 N) needs no correction. The core's kernel takes v from there, with
            # relative precision near the trough (the cosine port's grid ran 2.7x faster than with the
            # general phase below, DESIGN.md). An empty phase (steps <= 0) is phase 0, as below: there
            # v = |x| over an infinite length, whose factor is 1.
            N = jnp.where(ok, self.steps, jnp.full_like(self.steps, jnp.inf))
            n = jnp.round(x * (0.5 / N))
            v = jnp.abs(x - n * jnp.where(ok, N + N, jnp.zeros_like(N)))
            c = F._cosine_of(v, N)
        else:
            # The phase C x / N in whole waves, reduced before the cosine: x = n N + r with
            # n = floor(x / N) made exact at multiples, then C n and C r / N taken modulo 1 apart.
            # In float32 this keeps the error of the angle near one ulp of pi, not of 2 pi C x / N.
            N = jnp.where(ok, self.steps, jnp.ones_like(self.steps))
            n = _whole_periods(x, N)
            whole = self.cycles * n
            part = self.cycles * ((x - n * N) / N)
            phase = (whole - jnp.round(whole)) + (part - jnp.round(part))
            phase = jnp.where(ok, phase, jnp.zeros_like(phase))
            c = F.periodic_cosine_factor(2.0 * phase)  # (1 + cos(2 pi phase)) / 2, vectorised (XLA's cos is not)
        if self.rate is None:
            return self.value * c
        return self.value * jnp.maximum(c * (1.0 - self.rate) + self.rate, 0.0)

    def _sweepable(self) -> Schedule:
        v = self.value
        return dataclasses.replace(
            self,
            rate=jnp.zeros_like(v) if self.rate is None else self.rate,
            cycles=jnp.full_like(self.steps, 0.5) if self.cycles is None else self.cycles,
            offset=jnp.zeros_like(v) if self.offset is None else self.offset,
        )


@pytree
class CosineHardRestarts(Schedule):
    """transformers' hard restarts: ``C`` cosine cycles over ``N`` steps, from the exact remainder of ``C t``.

    .. math:: \\eta(t) = v\\, \\frac{1 + \\cos(\\pi r / N)}{2}, \\quad r = C t - N \\lfloor C t / N \\rfloor

    ``{C t / N} = r / N``. The remainder is exact wherever ``C t`` is an integer of the float type
    (an integer ``C``, transformers' type, with ``C t < 2**24`` in float32), so a restart gives
    exactly ``v`` and the phase is rounded once: a ``repeat`` of period ``N / C`` carried the rounding of
    that period into every restart point (up to ``i`` half-ulps at restart ``i``: 3e-6 of the peak
    at 30 cycles in float32). Past ``N`` the cycles go on (the port joins it to 0 there).

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat.transformers import CosineHardRestarts
    >>> f = jnp.float32
    >>> CosineHardRestarts(f(1.0), f(20.0), f(2.0))([0, 5, 10, 15, 19]).round(4).tolist()
    [1.0, 0.5, 1.0, 0.5, 0.0245]
    """

    value: Array
    steps: Array
    cycles: Array
    _config_bounds = {"steps": "> 0", "cycles": ">= 0"}
    _negative_ok = True  # clipped at 0 below

    def _eval(self, t: Array) -> Array:
        x = jnp.maximum(to_float(t, self.value.dtype), 0.0)
        ok = self.steps > 0
        N = jnp.where(ok, self.steps, jnp.ones_like(self.steps))
        q = self.cycles * x
        n = _whole_periods(q, N)
        r = jnp.where(ok, q - n * N, jnp.zeros_like(q))
        return F.cosine(r, self.value, jnp.zeros_like(self.value), N)

    def _cycle_starts(self, limit: float, most: int) -> list[float]:
        """Restart steps ``0, N / C, 2 N / C, ...`` below ``limit`` (at most ``most + 1``), for plots."""
        N, C = float(np.asarray(self.steps)), float(np.asarray(self.cycles))
        if not (N > 0 and C > 0):
            return [0.0]
        pts = [0.0]
        while len(pts) <= most and pts[-1] < limit:
            pts.append(len(pts) * N / C)
        return pts


# ----------------------------------------------------------------------------- helpers


def _whole_periods(x: Array, N: Array) -> Array:
    """``floor(x / N)``, corrected where the rounded quotient misplaced it: ``n N <= x < (n + 1) N``."""
    n = jnp.floor(x / N)
    n = jnp.where(n * N > x, n - 1.0, n)
    return jnp.where((n + 1.0) * N <= x, n + 1.0, n)


def _concrete(x: Any) -> np.ndarray | None:
    """``x`` as a float64 NumPy array for a concrete check, or ``None`` when it holds a tracer.

    Checks look at the caller's own values, never at the converted leaves:
    inside ``jit`` even a constant becomes a tracer once it is a JAX array.
    """
    if is_traced(x) or (isinstance(x, (list, tuple)) and any(is_traced(v) for v in x)):
        return None
    return np.asarray(x, np.float64)


def _cycles(x: Any) -> Array | None:
    """``num_cycles``; transformers' default 1/2 as a concrete scalar is ``None`` (:class:`CosineWave`'s half wave)."""
    return default_is_none(real("num_cycles", x), 0.5)


def _zero(x: Array) -> Array:
    return jnp.zeros_like(x)


def _one_plus(W: Array) -> Array:
    return jnp.maximum(W, 1.0)


def _with_warmup(decay: Schedule, W: Array, lr: Array) -> Warmup:
    """transformers' warmup: ``lr * k / max(1, W)`` for ``k < W``, then ``decay(k - W)``.

    The core's ``Warmup`` to ``lr`` (the same bits as a join of a ``Linear`` ramp, ~20% faster on a
    grid: one local step and one select, DESIGN.md).
    """
    return Warmup(decay, W, _zero(lr), lr, shift=may_shift(W))


def _steps(name: str, x: Any) -> Array:
    if x is None:
        raise ValueError(f"{name} is required, got None")
    return length(name, x)


def _min_lr_rate(lr_in: Any, lr: Array, min_lr: Any, min_lr_rate: Any) -> Array:
    if min_lr is not None and min_lr_rate is not None:
        raise ValueError("Only one of min_lr or min_lr_rate should be set")
    if min_lr is not None:
        m = value("min_lr", min_lr)
        c = _concrete(lr_in)
        if c is not None and float(c) == 0.0:
            raise ValueError(f"min_lr needs a nonzero lr to turn it into a rate, got lr={lr_in!r}")
        return safe_div(m, lr)
    if min_lr_rate is None:
        raise ValueError("One of min_lr or min_lr_rate should be set through the `lr_scheduler_kwargs`")
    return value("min_lr_rate", min_lr_rate)


# ----------------------------------------------------------------------------- schedules


def get_constant_schedule(lr: Any, last_epoch: int = -1) -> Constant:
    """transformers' ``get_constant_schedule``: ``lr`` at every step.

    >>> from jaxsched.compat import transformers as hf
    >>> hf.get_constant_schedule(0.5)([0, 1000]).tolist()
    [0.5, 0.5]
    """
    del last_epoch
    return Constant(value("lr", lr))


def get_constant_schedule_with_warmup(lr: Any, num_warmup_steps: Any, last_epoch: int = -1) -> Warmup:
    """transformers' ``get_constant_schedule_with_warmup``.

    .. math:: \\eta(k) = \\begin{cases} \\mathrm{lr}\\, k / \\max(1, W) & k < W \\\\
              \\mathrm{lr} & k \\ge W \\end{cases}

    The first update (``k = 0``) gets rate 0. Native: ``jaxsched.warmup(jaxsched.constant(lr), W)``.

    >>> from jaxsched.compat import transformers as hf
    >>> hf.get_constant_schedule_with_warmup(1.0, 4)([0, 1, 4, 9]).tolist()
    [0.0, 0.25, 1.0, 1.0]
    """
    del last_epoch
    lr = value("lr", lr)
    return _with_warmup(Constant(lr), _steps("num_warmup_steps", num_warmup_steps), lr)


def get_linear_schedule_with_warmup(
    lr: Any, num_warmup_steps: Any, num_training_steps: Any, last_epoch: int = -1
) -> Warmup:
    """transformers' ``get_linear_schedule_with_warmup`` (the Trainer default, ``"linear"``).

    .. math:: \\eta(k) = \\mathrm{lr} \\begin{cases} k / \\max(1, W) & k < W \\\\
              \\max\\!\\left(0, \\frac{N - k}{\\max(1, N - W)}\\right) & k \\ge W \\end{cases}

    Zero from ``k = N`` on. Native: :func:`jaxsched.linear_to_zero`.

    >>> from jaxsched.compat import transformers as hf
    >>> hf.get_linear_schedule_with_warmup(1.0, 2, 6)([0, 1, 2, 4, 6, 8]).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    del last_epoch
    lr = value("lr", lr)
    W = _steps("num_warmup_steps", num_warmup_steps)
    N = _steps("num_training_steps", num_training_steps)
    span = N - W
    # lr * (N - k) / max(1, N - W) at local step j = k - W, as a line over N - W steps (none where W > N,
    # which transformers accepts: 0 from W on; a length below 0 would be empty too, but no config holds it).
    return _with_warmup(Linear(lr * jnp.clip(span, 0.0, 1.0), _zero(lr), jnp.maximum(span, 0.0)), W, lr)


def get_cosine_schedule_with_warmup(
    lr: Any, num_warmup_steps: Any, num_training_steps: Any, num_cycles: Any = 0.5, last_epoch: int = -1
) -> Warmup:
    """transformers' ``get_cosine_schedule_with_warmup`` (``"cosine"``).

    .. math:: \\eta(k) = \\mathrm{lr}\\, \\frac{1 + \\cos(2 \\pi C p)}{2},
              \\quad p = \\frac{k - W}{\\max(1, N - W)}, \\quad k \\ge W

    after the linear warmup from 0. Not clamped: past ``N`` the rate rises
    again (:class:`CosineWave`). Native (clamped) equivalent:
    :func:`jaxsched.warmup_cosine`, equal for ``k <= N`` when ``C = 0.5``.

    >>> from jaxsched.compat import transformers as hf
    >>> hf.get_cosine_schedule_with_warmup(1.0, 10, 110)([0, 10, 60, 110, 160]).round(4).tolist()
    [0.0, 1.0, 0.5, 0.0, 0.5]
    """
    del last_epoch
    lr = value("lr", lr)
    W = _steps("num_warmup_steps", num_warmup_steps)
    N = _steps("num_training_steps", num_training_steps)
    wave = CosineWave(lr, None, _one_plus(N - W), _cycles(num_cycles))
    return _with_warmup(wave, W, lr)


def get_cosine_with_hard_restarts_schedule_with_warmup(
    lr: Any, num_warmup_steps: Any, num_training_steps: Any, num_cycles: Any = 1, last_epoch: int = -1
) -> Warmup:
    """transformers' ``get_cosine_with_hard_restarts_schedule_with_warmup`` (``"cosine_with_restarts"``).

    .. math:: \\eta(k) = \\begin{cases} \\mathrm{lr}\\, \\frac{1 + \\cos(\\pi \\{C p\\})}{2} & p < 1 \\\\
              0 & p \\ge 1 \\end{cases}, \\quad p = \\frac{k - W}{\\max(1, N - W)}

    after the linear warmup from 0 (``{x}`` is the fractional part): ``C``
    equal cosine cycles with hard restarts inside ``N`` steps, then 0. Built
    as ``jaxsched.repeat`` of one cosine cycle, joined to a constant 0.

    Difference from transformers: the restart steps are exact. transformers
    takes ``(C * p) % 1`` in float64, which at some exact restart steps
    rounds to just below 1 and gives a rate near 0 instead of the restart
    peak ``lr``. ``num_cycles`` must be ``>= 0``. The cycles are
    :class:`CosineHardRestarts`, from the exact remainder of ``C (k - W)`` by
    ``N - W``.

    >>> from jaxsched.compat import transformers as hf
    >>> s = hf.get_cosine_with_hard_restarts_schedule_with_warmup(1.0, 0, 20, num_cycles=2)
    >>> s([0, 5, 10, 15, 20]).round(4).tolist()
    [1.0, 0.5, 1.0, 0.5, 0.0]
    """
    del last_epoch
    lr = value("lr", lr)
    W = _steps("num_warmup_steps", num_warmup_steps)
    N = _steps("num_training_steps", num_training_steps)
    C = nonneg("num_cycles", num_cycles)
    span = _one_plus(N - W)
    waves = CosineHardRestarts(lr, span, C)  # C = 0: the phase stays 0, one flat cycle at lr
    return _with_warmup(Join((waves, Constant(_zero(lr))), jnp.reshape(span, (1,))), W, lr)


def get_polynomial_decay_schedule_with_warmup(
    lr: Any,
    num_warmup_steps: Any,
    num_training_steps: Any,
    lr_end: Any = 1e-7,
    power: Any = 1.0,
    last_epoch: int = -1,
) -> Warmup:
    """transformers' ``get_polynomial_decay_schedule_with_warmup`` (``"polynomial"``).

    .. math:: \\eta(k) = \\begin{cases} \\mathrm{lr}\\, k / \\max(1, W) & k < W \\\\
              e + (\\mathrm{lr} - e)\\left(1 - \\frac{k - W}{N - W}\\right)^{p} & W \\le k \\le N \\\\
              e & k > N \\end{cases}

    ``lr`` plays the part of ``optimizer.defaults["lr"]`` and must exceed
    ``lr_end`` (transformers raises the same ``ValueError``). Native:
    ``jaxsched.warmup(jaxsched.polynomial(lr, lr_end, N - W, power), W)``.
    ``power`` must be ``>= 0``.

    >>> from jaxsched.compat import transformers as hf
    >>> hf.get_polynomial_decay_schedule_with_warmup(1.0, 0, 10, lr_end=0.0, power=2.0)([0, 5, 10, 20]).tolist()
    [1.0, 0.25, 0.0, 0.0]
    """
    del last_epoch
    lr_in, lr = lr, value("lr", lr)
    W = _steps("num_warmup_steps", num_warmup_steps)
    N = _steps("num_training_steps", num_training_steps)
    end = value("lr_end", lr_end)
    c_lr, c_end = _concrete(lr_in), _concrete(lr_end)
    if c_lr is not None and c_end is not None and not float(c_lr) > float(c_end):
        raise ValueError(f"lr_end ({lr_end}) must be smaller than initial lr ({lr_in})")
    span = N - W
    # W > N: lr_end from W on; transformers' default power 1 is None (no power per step)
    poly = Polynomial(lr, end, jnp.maximum(span, 0.0), exponent("power", power))
    # transformers switches to lr_end for k > N (strictly), which matters only for power = 0.
    after = jnp.nextafter(jax.lax.stop_gradient(span), jnp.asarray(jnp.inf, span.dtype))
    return _with_warmup(Join((poly, Constant(end)), jnp.reshape(after, (1,))), W, lr)


def get_inverse_sqrt_schedule(lr: Any, num_warmup_steps: Any, timescale: Any = None, last_epoch: int = -1) -> Warmup:
    """transformers' ``get_inverse_sqrt_schedule`` (``"inverse_sqrt"``).

    .. math:: \\eta(k) = \\frac{\\mathrm{lr}}{\\sqrt{1 + (k - W)/\\tau}}, \\quad k \\ge W

    after the linear warmup from 0. ``timescale`` (tau) defaults to
    ``num_warmup_steps``, or 10000 when that is 0. No end. Native:
    :func:`jaxsched.warmup_inverse_sqrt`.

    >>> from jaxsched.compat import transformers as hf
    >>> hf.get_inverse_sqrt_schedule(1.0, 100)([0, 50, 100, 400]).tolist()
    [0.0, 0.5, 1.0, 0.5]
    """
    del last_epoch
    lr = value("lr", lr)
    W = _steps("num_warmup_steps", num_warmup_steps)
    if timescale is None:
        tau = jnp.where(W != 0, W, jnp.asarray(10_000.0, W.dtype))
    else:
        tau = positive("timescale", timescale)
    return _with_warmup(InverseSqrt(lr, tau), W, lr)


def get_cosine_with_min_lr_schedule_with_warmup(
    lr: Any,
    num_warmup_steps: Any,
    num_training_steps: Any,
    num_cycles: Any = 0.5,
    last_epoch: int = -1,
    min_lr: Any = None,
    min_lr_rate: Any = None,
) -> Warmup:
    """transformers' ``get_cosine_with_min_lr_schedule_with_warmup`` (``"cosine_with_min_lr"``).

    .. math:: \\eta(k) = \\mathrm{lr} \\max\\!\\left(0, \\rho + (1 - \\rho)\\,
              \\frac{1 + \\cos(2 \\pi C p)}{2}\\right), \\quad p = \\frac{k - W}{\\max(1, N - W)}

    after the linear warmup from 0 (not from ``rho``). ``rho`` is
    ``min_lr / lr`` or ``min_lr_rate``; give exactly one. Not clamped past
    ``N`` (:class:`CosineWave`). Native (clamped):
    ``jaxsched.warmup_cosine(lr, N, W, end_value=rho * lr)``.

    >>> from jaxsched.compat import transformers as hf
    >>> hf.get_cosine_with_min_lr_schedule_with_warmup(1.0, 0, 100, min_lr=0.1)([0, 50, 100]).round(4).tolist()
    [1.0, 0.55, 0.1]
    """
    del last_epoch
    lr_in, lr = lr, value("lr", lr)
    W = _steps("num_warmup_steps", num_warmup_steps)
    N = _steps("num_training_steps", num_training_steps)
    rho = _min_lr_rate(lr_in, lr, min_lr, min_lr_rate)
    wave = CosineWave(lr, rho, _one_plus(N - W), _cycles(num_cycles))
    return _with_warmup(wave, W, lr)


def get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
    lr: Any,
    num_warmup_steps: Any,
    num_training_steps: Any,
    num_cycles: Any = 0.5,
    last_epoch: int = -1,
    min_lr: Any = None,
    min_lr_rate: Any = None,
    warmup_lr_rate: Any = None,
) -> Join:
    """transformers' ``get_cosine_with_min_lr_schedule_with_warmup_lr_rate`` (``"cosine_warmup_with_min_lr"``).

    Warmup (``k < W``): ``lr (k + 1) / max(1, W)``, or with ``warmup_lr_rate``
    ``omega``: ``lr (omega + (1 - omega) k / max(1, W - 1))``. Then

    .. math:: \\eta(k) = \\mathrm{lr} \\max\\!\\left(0, \\rho + (1 - \\rho)\\,
              \\frac{1 + \\cos(2 \\pi C p)}{2}\\right), \\quad p = \\frac{k - W + 1}{\\max(1, N - W)}

    so the first update already has a nonzero rate and ``rho lr`` is reached
    at ``k = N - 1``, the last update of the run. Not clamped past it.

    >>> from jaxsched.compat import transformers as hf
    >>> s = hf.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(1.0, 4, 14, min_lr_rate=0.0)
    >>> s([0, 3, 4, 8, 13]).round(4).tolist()
    [0.25, 1.0, 0.9755, 0.5, 0.0]
    """
    del last_epoch
    lr_in, lr = lr, value("lr", lr)
    W = _steps("num_warmup_steps", num_warmup_steps)
    N = _steps("num_training_steps", num_training_steps)
    rho = _min_lr_rate(lr_in, lr, min_lr, min_lr_rate)
    if warmup_lr_rate is None:
        m = _one_plus(W)
        ramp = Linear(lr / m, lr * (W + 1.0) / m, W)
    else:
        w = value("warmup_lr_rate", warmup_lr_rate)
        ramp = Linear(w * lr, w * lr + (1.0 - w) * lr * W / _one_plus(W - 1.0), W)
    one = jnp.ones_like(lr)
    wave = CosineWave(lr, rho, _one_plus(N - W), _cycles(num_cycles), one)
    return Join((ramp, wave), jnp.reshape(W, (1,)))


def get_wsd_schedule(
    lr: Any,
    num_warmup_steps: Any,
    num_decay_steps: Any,
    num_training_steps: Any = None,
    num_stable_steps: Any = None,
    warmup_type: Any = "linear",
    decay_type: Any = "cosine",
    min_lr_ratio: Any = 0,
    num_cycles: Any = 0.5,
    last_epoch: int = -1,
) -> Join:
    """transformers' ``get_wsd_schedule`` (``"warmup_stable_decay"``).

    With ``rho = min_lr_ratio``, ``W`` warmup, ``S`` stable and ``D`` decay steps:

    - ``k < W``: ``lr (rho + (1 - rho) w(k / max(1, W)))`` with ``w(p)`` = ``p``
      (linear), ``(1 - cos pi p) / 2`` (cosine) or ``1 - sqrt(1 - p)`` (1-sqrt),
      so the warmup starts at ``rho lr``, not 0;
    - ``W <= k < W + S``: ``lr``;
    - ``W + S <= k < W + S + D``: ``lr (rho + (1 - rho) d(p))``,
      ``p = (k - W - S) / max(1, D)``, with ``d(p)`` = ``1 - p``,
      ``(1 + cos 2 pi C p) / 2`` or ``1 - sqrt(p)``;
    - after: ``rho lr``.

    ``S`` is ``num_stable_steps`` if given (transformers warns when both it
    and ``num_training_steps`` are given; so does this), else
    ``N - W - D``, which must be ``>= 0``. ``warmup_type`` and ``decay_type``
    given as names are structure (only those shapes are computed); they may
    also be integer indices into ``("linear", "cosine", "1-sqrt")``, traced
    too, so a sweep can vary the shapes. Native: :func:`jaxsched.wsd`.

    >>> from jaxsched.compat import transformers as hf
    >>> s = hf.get_wsd_schedule(1.0, 10, 20, num_training_steps=100, decay_type="linear")
    >>> s([0, 5, 10, 79, 80, 90, 100]).tolist()
    [0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0]
    """
    del last_epoch
    if num_training_steps is None and num_stable_steps is None:
        raise ValueError("Either num_training_steps or num_stable_steps must be specified.")
    if num_training_steps is not None and num_stable_steps is not None:
        warnings.warn(
            "Both num_training_steps and num_stable_steps are specified. num_stable_steps will be used.",
            UserWarning,
            stacklevel=2,
        )
    lr = value("lr", lr)
    W = _steps("num_warmup_steps", num_warmup_steps)
    D = _steps("num_decay_steps", num_decay_steps)
    if num_stable_steps is not None:
        S = length("num_stable_steps", num_stable_steps)
    else:
        S = _steps("num_training_steps", num_training_steps) - W - D
        cs = [_concrete(x) for x in (num_training_steps, num_warmup_steps, num_decay_steps)]
        if all(c is not None for c in cs) and float(cs[0] - cs[1] - cs[2]) < 0:
            raise ValueError(
                f"num_training_steps ({num_training_steps}) must be >= num_warmup_steps + num_decay_steps "
                f"({num_warmup_steps} + {num_decay_steps}); transformers would start partway into the decay"
            )
    wi = choice_or_name("warmup_type", warmup_type, WSD_TYPES)
    di = choice_or_name("decay_type", decay_type, WSD_TYPES)
    rho = nonneg("min_lr_ratio", min_lr_ratio)
    C = _cycles(num_cycles)
    low = rho * lr
    mW, mD = _one_plus(W), _one_plus(D)
    half = jnp.asarray(0.5, lr.dtype)
    warm = choose(*wi, (Linear(low, lr, mW), Cosine(low, lr, mW), Polynomial(low, lr, mW, half)))
    decay = choose(*di, (Linear(lr, low, mD), CosineWave(lr, rho, mD, C), SqrtDecay(lr, low, mD)))
    bounds = jnp.stack([W, W + S, W + S + D])
    return Join((warm, Constant(lr), decay, Constant(low)), bounds)


def get_reduce_on_plateau_schedule(lr: Any, **kwargs: Any) -> Any:
    """``"reduce_lr_on_plateau"``: torch's ``ReduceLROnPlateau``, as transformers uses it.

    It is driven by evaluation metrics, not by the step, so it returns a
    :class:`jaxsched.Plateau` state machine (``init()``, ``update(state,
    metric)``), not a step schedule; see ``docs/plateau.md``.

    >>> from jaxsched.compat import transformers as hf
    >>> p = hf.get_reduce_on_plateau_schedule(5e-5, patience=0)
    >>> [round(x, 9) for x in p.run([1.0, 1.0])[1].tolist()]
    [5e-05, 5e-06]
    """
    from ._plateau_ports import reduce_lr_on_plateau

    return reduce_lr_on_plateau(lr, **kwargs)


def get_greedy_schedule(lr: Any, **kwargs: Any) -> Schedule:
    """``"greedy"`` (transformers' ``GreedyLR``) is driven by metrics: not a schedule.

    Always raises ``ValueError`` pointing to jaxsched's stateful plateau
    (``jaxsched.compat._plateau_ports``); GreedyLR itself is not ported yet.
    """
    raise ValueError(
        "greedy (GreedyLR) depends on training metrics, not on the step, so it is not a step schedule, and it "
        "is not ported yet; the closest is jaxsched's stateful plateau (jaxsched.compat._plateau_ports)"
    )


_FUNCTIONS = {
    "linear": get_linear_schedule_with_warmup,
    "cosine": get_cosine_schedule_with_warmup,
    "cosine_with_restarts": get_cosine_with_hard_restarts_schedule_with_warmup,
    "polynomial": get_polynomial_decay_schedule_with_warmup,
    "constant": get_constant_schedule,
    "constant_with_warmup": get_constant_schedule_with_warmup,
    "inverse_sqrt": get_inverse_sqrt_schedule,
    "reduce_lr_on_plateau": get_reduce_on_plateau_schedule,
    "cosine_with_min_lr": get_cosine_with_min_lr_schedule_with_warmup,
    "cosine_warmup_with_min_lr": get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
    "warmup_stable_decay": get_wsd_schedule,
    "greedy": get_greedy_schedule,
}


def get_scheduler(
    name: Any,
    lr: Any,
    num_warmup_steps: Any = None,
    num_training_steps: Any = None,
    scheduler_specific_kwargs: Mapping[str, Any] | None = None,
) -> Schedule:
    """transformers' ``get_scheduler``: any schedule by its ``lr_scheduler_type`` name.

    The base rate ``lr`` takes the optimizer's place (pass it by keyword or
    second). As in transformers: ``"constant"`` ignores every other argument;
    ``"constant_with_warmup"`` drops ``scheduler_specific_kwargs``; every
    other name needs ``num_warmup_steps``; ``"inverse_sqrt"`` and
    ``"warmup_stable_decay"`` do not need ``num_training_steps``; the rest do.
    ``scheduler_specific_kwargs`` (``TrainingArguments.lr_scheduler_kwargs``)
    go to the schedule function; unknown ones raise ``TypeError``.
    ``"reduce_lr_on_plateau"`` returns a :class:`jaxsched.Plateau` state
    machine (metric-driven); ``"greedy"`` is not ported and raises ``ValueError``.

    Args:
      name: one of :data:`SCHEDULER_TYPES` (or an enum whose ``value`` is one).
      lr: the base learning rate (``optimizer.defaults["lr"]`` in transformers).

    >>> from jaxsched.compat import transformers as hf
    >>> s = hf.get_scheduler("cosine", lr=1.0, num_warmup_steps=0, num_training_steps=100,
    ...                      scheduler_specific_kwargs={"num_cycles": 1.0})
    >>> s([0, 25, 50, 100]).round(4).tolist()
    [1.0, 0.5, 0.0, 1.0]
    """
    key = getattr(name, "value", name)
    if not isinstance(key, str) or key not in _FUNCTIONS:
        raise ValueError(f"{name!r} is not a valid SchedulerType, please select one of {list(SCHEDULER_TYPES)}")
    fn = _FUNCTIONS[key]
    if key == "constant":
        return fn(lr)
    kwargs = dict(scheduler_specific_kwargs or {})
    if key in ("reduce_lr_on_plateau", "greedy"):
        return fn(lr, **kwargs)
    if num_warmup_steps is None:
        raise ValueError(f"{key} requires `num_warmup_steps`, please provide that argument.")
    if key == "constant_with_warmup":
        return fn(lr, num_warmup_steps=num_warmup_steps)
    if key == "inverse_sqrt":
        return fn(lr, num_warmup_steps=num_warmup_steps, **kwargs)
    if key == "warmup_stable_decay":
        return fn(lr, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps, **kwargs)
    if num_training_steps is None:
        raise ValueError(f"{key} requires `num_training_steps`, please provide that argument.")
    return fn(lr, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps, **kwargs)
