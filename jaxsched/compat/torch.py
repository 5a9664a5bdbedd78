"""Exact ports of ``torch.optim.lr_scheduler`` (torch 2.13) as jaxsched schedules.

Each function takes the torch scheduler's arguments under torch's names and
defaults and returns an ordinary jaxsched schedule (a pytree: jittable,
vmappable over every numeric argument, differentiable) built from the core
primitives and combinators. ``schedule(k)`` is the learning rate after ``k``
calls of ``scheduler.step()``: the rate torch's optimizer uses for update
``k`` when the loop is ``opt.step(); sched.step()``.

The optimizer argument becomes the base learning rate ``lr`` (torch's
``initial_lr``) where the scheduler reads it (``LambdaLR``, ``StepLR``, ...).
It is dropped where torch ignores or overwrites it: ``CyclicLR`` and
``OneCycleLR`` set their own rates, ``SequentialLR`` and ``ChainedScheduler``
take theirs from their children. ``last_epoch`` is gone: a schedule is a pure
function of the step, so resuming is calling it with the resumed step.
Per-param-group lists are not taken: build one schedule per group.

Momentum: ``CyclicLR`` and ``OneCycleLR`` also cycle momentum (or Adam's
``b1``). :func:`cyclic_momentum` and :func:`onecycle_momentum` take the same
arguments as the rate functions and return the momentum schedule, so one dict
of settings serves both::

    kw = dict(max_lr=0.1, total_steps=1000)
    lr, b1 = OneCycleLR(**kw), onecycle_momentum(**kw)
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=lr, b1=b1)

``StepLR``, ``MultiStepLR``, ``ConstantLR``, ``LinearLR``, ``ExponentialLR``,
``PolynomialLR``, ``CosineAnnealingLR`` and ``MultiplicativeLR`` return a
:class:`Multiplicative` (``lr`` times a factor schedule), the form of torch's
chainable schedulers; :func:`ChainedScheduler` multiplies their factors.

Where torch's numbers come from a recursion on the current rate, the closed
forms here agree with it to float64 round-off (~1e-14 relative). Every point
where these ports and torch part ways (torch errors, float quirks) is listed
in ``docs/migration_torch_optax.md``. This module never imports torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _presets
from .. import _validate as V
from .. import functional as F
from .._arith import Product, Sum
from .._base import Array, Schedule, float_dtype, pytree, safe_div, safe_pow, shift, static_field, to_float
from .._join import Join, choose
from .._primitives import Constant, Cosine, Exponential, Linear, PiecewiseConstant, PiecewiseLinear, Polynomial
from .._repeat import Repeat

__all__ = [
    "Function",
    "CumulativeProduct",
    "Multiplicative",
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "SequentialLR",
    "CyclicLR",
    "cyclic_momentum",
    "OneCycleLR",
    "onecycle_momentum",
    "CosineAnnealingWarmRestarts",
]

ANNEAL_STRATEGIES = ("cos", "linear")
CYCLIC_MODES = ("triangular", "triangular2", "exp_range")

# ----------------------------------------------------------------------------- building blocks


@pytree
class Function(Schedule):
    """A schedule from a function of the step: ``lr(t) = fn(t)``.

    ``fn`` is static (part of the structure, not a leaf) and must be a
    ``jax.numpy`` function of a float array of steps that broadcasts; steps
    (integer or float) are converted to ``dtype_name`` (static; ``None``: the
    default float dtype when called). A different ``fn`` means a different program.

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat.torch import Function
    >>> Function(lambda k: 0.5 ** k)(jnp.arange(3)).tolist()
    [1.0, 0.5, 0.25]
    """

    fn: Callable[[Array], Any] = static_field()
    dtype_name: str | None = static_field(default=None)  # the float dtype of the steps fn gets; None: the default

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.dtype_name) if self.dtype_name else float_dtype()

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.dtype)  # float steps too, as every schedule computes in its own dtype
        out = jnp.asarray(self.fn(x))
        if out.dtype != x.dtype:
            out = out.astype(x.dtype)
        return jnp.broadcast_to(out, jnp.broadcast_shapes(jnp.shape(out), jnp.shape(x)))


def _check_max_steps(max_steps: Any) -> None:
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int (a static bound on the product), got {max_steps!r}")


@pytree
class CumulativeProduct(Schedule):
    """``lr(t) = prod_{j=1}^{min(floor(t), max_steps)} factor(j)`` (1 at ``t < 1``).

    The product is a cumulative product over a bounded ``jnp.arange`` of
    ``max_steps`` factors (static), evaluated once per call and indexed by the
    step, so it jits, vmaps and differentiates; from ``max_steps`` on the
    value holds. Cost: ``max_steps`` evaluations of ``factor`` per call.

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat.torch import CumulativeProduct, Function
    >>> CumulativeProduct(Function(lambda k: k), max_steps=4)(jnp.arange(6)).tolist()
    [1.0, 1.0, 2.0, 6.0, 24.0, 24.0]
    """

    factor: Schedule
    max_steps: int = static_field()

    @staticmethod
    def _config_check(s: CumulativeProduct, batch_shape: tuple[int, ...]) -> None:
        _check_max_steps(s.max_steps)

    def table(self) -> Array:
        """The products for ``t = 0 .. max_steps``: shape ``(max_steps + 1,)``."""
        dt = self.factor.dtype
        j = jnp.arange(1, self.max_steps + 1, dtype=dt)
        f = jnp.broadcast_to(self.factor._eval(j), j.shape)
        return jnp.concatenate([jnp.ones((1,), f.dtype), jnp.cumprod(f)])

    def _eval(self, t: Array) -> Array:
        if jnp.issubdtype(t.dtype, jnp.integer):
            k = jnp.minimum(t, self.max_steps).astype(jnp.int32)
        else:
            k = jnp.clip(jnp.floor(t), 0.0, float(self.max_steps)).astype(jnp.int32)
        return jnp.take(self.table(), k, mode="clip")


@pytree
class Multiplicative(Schedule):
    """``lr(t) = lr * factor(t)``: the form of torch's chainable schedulers.

    ``StepLR``, ``MultiStepLR``, ``ConstantLR``, ``LinearLR``,
    ``ExponentialLR``, ``PolynomialLR``, ``CosineAnnealingLR`` and
    ``MultiplicativeLR`` return this; :func:`ChainedScheduler` multiplies the
    factors of several of them.

    >>> from jaxsched.compat.torch import ExponentialLR
    >>> s = ExponentialLR(0.1, gamma=0.5)
    >>> [round(float(v), 6) for v in (s.lr, s(2), s.factor(2))]
    [0.1, 0.025, 0.25]
    """

    lr: Array
    factor: Schedule
    _takes_pair = True  # passes the exact time through (see jaxsched/DESIGN.md, "Time")

    def _eval(self, t: Array) -> Array:
        return self.lr * self.factor._at(t)


@pytree
class _Mirror(Schedule):
    """``schedule`` on ``[0, steps]``, mirrored onto ``[steps, 2 steps]``: ``schedule(min(t, 2 steps - t))``.

    One period of torch's ``CosineAnnealingLR`` as one cosine down and its mirror image, not a join of a
    cosine down and a cosine up (a join evaluates both at every step): ~25% of the port's time on a grid
    (DESIGN.md). ``2 steps - t`` is exact for ``t`` in ``[steps, 2 steps]`` (within a factor 2 of it).
    """

    schedule: Schedule
    steps: Array
    _config_bounds = {"steps": "> 0"}

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.steps.dtype)
        return self.schedule._at(jnp.minimum(x, 2.0 * self.steps - x))


@pytree
class _Anneal(Schedule):
    """torch's one-cycle phase, *not* clamped: ``p = t / steps`` may pass 1 (k = T)."""

    start: Array
    end: Array
    steps: Array
    strategy: Array | None  # 0: cos, 1: linear, a leaf (sweepable); None where `fixed` holds the choice
    fixed: int | None = static_field(default=None)  # a static choice (a name was given): only it is computed

    @staticmethod
    def _config_check(s: _Anneal, batch_shape: tuple[int, ...]) -> None:
        bad = isinstance(s.fixed, bool) or s.fixed not in (None, 0, 1)
        if (s.strategy is None) == (s.fixed is None) or bad:
            raise ValueError(
                f"_Anneal needs one of strategy (a leaf) and fixed (0 or 1), got {s.strategy!r}, {s.fixed!r}"
            )

    def _eval(self, t: Array) -> Array:
        p = safe_div(to_float(t, self.start.dtype), self.steps)
        # The vectorised cosine factor, not XLA's cos (a scalar call on CPU). p leaves [0, 1] only at k = T
        # (extrapolated) or with a negative span (three phases, pct_start > 1/2).
        cos = lambda: self.end + (self.start - self.end) * F.periodic_cosine_factor(p)  # noqa: E731
        lin = lambda: self.start + (self.end - self.start) * p  # noqa: E731
        if self.fixed is not None:
            return lin() if self.fixed == 1 else cos()
        return jnp.where(self.strategy == 1, lin(), cos())

    def _sweepable(self) -> Schedule:
        if self.fixed is None:
            return self
        return dataclasses.replace(self, strategy=jnp.asarray(self.fixed, jnp.int32), fixed=None)


@pytree
class _CycleScale(Schedule):
    """``fn(c)`` with ``c = floor(1 + t / period)``, torch ``CyclicLR``'s cycle number."""

    fn: Schedule
    period: Array
    _takes_pair = True  # to_float and shift are exact for a time pair
    _config_bounds = {"period": "> 0"}

    def _eval(self, t: Array) -> Array:
        dt = self.period.dtype
        P = jnp.where(self.period > 0, self.period, jnp.ones_like(self.period))
        q = jnp.floor(to_float(t, dt) / P)
        q = q + (shift(t, (q + 1.0) * P, dt) >= 0).astype(dt) - (shift(t, q * P, dt) < 0).astype(dt)
        return self.fn._eval(jnp.maximum(q, 0.0) + 1.0)


@pytree
class _Continued(Schedule):
    """torch ``SequentialLR`` entering a ``MultiplicativeLR`` at a milestone ``M >= 1``.

    The child continues from the rate in force (the sequence's value at
    ``M - 1``) and multiplies by ``lambda(0)`` at the milestone:
    ``prev(M - 1) * prod_{j=0}^{u} lambda(j)``. At ``M = 0`` it starts from
    its own ``lr`` as when it runs alone.
    """

    prefix: Schedule
    at: Array
    child: Multiplicative
    _config_bounds = {"at": ">= 0"}

    def _eval(self, t: Array) -> Array:
        cp = self.child.factor
        assert isinstance(cp, CumulativeProduct)
        dt = self.at.dtype
        prev = self.prefix._eval(jnp.maximum(self.at - 1.0, 0.0).astype(dt))
        lam0 = cp.factor._at_zero(dt)
        base = jnp.where(self.at >= 1.0, prev * lam0, self.child.lr)
        return base * cp._eval(t)


@pytree
class _Solo(Schedule):
    """``schedule`` in a family of its own inside a ``Join`` (``tag`` is static and unique).

    Works around the core ``Join`` gathering pieces of one family whose leaves
    are not scalars (a nested ``Join``'s boundaries, a ``PiecewiseConstant``'s
    values): gathering them by the piece index gives wrongly shaped leaves.
    """

    schedule: Schedule
    tag: int = static_field()
    _takes_pair = True

    def _eval(self, t: Array) -> Array:
        return self.schedule._at(t)


def _shared(**values: Any) -> None:
    """Check numbers accepted for a settings dict shared between a rate and a momentum schedule, which
    the one at hand does not use: a typo there still gets an error, never a silent drop."""
    for name, x in values.items():
        V.value(name, x)


def _gather_safe(s: Schedule) -> bool:
    """Whether the core ``Join`` can stack and gather ``s`` with its look-alikes."""
    if any(jnp.ndim(x) for x in jax.tree_util.tree_leaves(s)):
        return False
    stack = [s]
    while stack:
        x = stack.pop()
        if isinstance(x, CumulativeProduct) and jax.tree_util.tree_leaves(x.factor):
            return False
        if isinstance(x, Schedule):
            stack.extend(v for v in vars(x).values() if isinstance(v, Schedule))
            stack.extend(v for v in vars(x).values() if isinstance(v, tuple) for v in v if isinstance(v, Schedule))
    return True


def _safe_join(pieces: Sequence[Schedule], boundaries: Array) -> Join:
    """A core ``Join`` of ``pieces``, each piece that cannot be gathered kept in its own family."""
    return Join(tuple(p if _gather_safe(p) else _Solo(p, i) for i, p in enumerate(pieces)), boundaries)


# ----------------------------------------------------------------------------- helpers


def _as_factor(name: str, fn: Any) -> Schedule:
    if isinstance(fn, Schedule):
        return fn
    if isinstance(fn, (list, tuple)):
        raise TypeError(f"{name}: per-param-group lists are not supported; build one schedule per group, got {fn!r}")
    if not callable(fn):
        raise TypeError(
            f"{name} must be a callable (a jax.numpy function of the step) or a jaxsched schedule, got {fn!r}"
        )
    return Function(fn, float_dtype().name)


def _where(c: Array, a: Any, b: Any) -> Array:
    a = jnp.asarray(a, float_dtype()) if not isinstance(a, jax.Array) else a
    b = jnp.asarray(b, float_dtype()) if not isinstance(b, jax.Array) else b
    return jnp.where(c, a, b)


def _one() -> Array:
    return jnp.ones((), float_dtype())


# ----------------------------------------------------------------------------- schedulers


def LambdaLR(lr: Any, lr_lambda: Callable[[Array], Any] | Schedule) -> Product:
    """torch ``LambdaLR``: the base rate times a function of the step.

    .. math:: \\eta(k) = \\eta_0 \\, \\lambda(k)

    ``lr_lambda`` must be a ``jax.numpy`` function of the step; it receives a
    float array (torch passes a Python int) and is static, so a new function
    is a new program. To sweep what is inside it, pass a jaxsched schedule
    instead: its leaves are leaves of the result.

    Args:
      lr: the base rate (torch: the optimizer's ``lr``).
      lr_lambda: a jnp function of the step, or a jaxsched schedule.

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat.torch import LambdaLR
    >>> LambdaLR(0.1, lambda k: jnp.minimum(1.0, (k + 1) / 4))(jnp.arange(5)).round(6).tolist()
    [0.025, 0.05, 0.075, 0.1, 0.1]
    """
    return Product((Constant(V.value("lr", lr)), _as_factor("lr_lambda", lr_lambda)))


def MultiplicativeLR(
    lr: Any, lr_lambda: Callable[[Array], Any] | Schedule, *, max_steps: int = 10_000
) -> Multiplicative:
    """torch ``MultiplicativeLR``: the rate is multiplied by ``lr_lambda(k)`` at each step.

    .. math:: \\eta(k) = \\eta_0 \\prod_{j=1}^{k} \\lambda(j)

    (``lambda(0)`` is never used, as in torch.) The product is a cumulative
    product over the first ``max_steps`` factors (a static bound, keyword
    only): past ``max_steps`` the value holds. For a constant factor use
    :func:`ExponentialLR`, which has no bound and costs nothing.

    >>> from jaxsched.compat.torch import MultiplicativeLR
    >>> MultiplicativeLR(1.0, lambda k: 0.5 + 0.0 * k, max_steps=100)([0, 1, 2, 3]).tolist()
    [1.0, 0.5, 0.25, 0.125]
    """
    _check_max_steps(max_steps)
    return Multiplicative(V.value("lr", lr), CumulativeProduct(_as_factor("lr_lambda", lr_lambda), int(max_steps)))


def StepLR(lr: Any, step_size: Any, gamma: Any = 0.1) -> Multiplicative:
    """torch ``StepLR``: decay by ``gamma`` every ``step_size`` steps.

    .. math:: \\eta(k) = \\eta_0 \\, \\gamma^{\\lfloor k / s \\rfloor}

    >>> from jaxsched.compat.torch import StepLR
    >>> StepLR(1.0, step_size=2, gamma=0.5)([0, 1, 2, 3, 4]).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    s = V.positive("step_size", step_size)
    g = V.nonneg("gamma", gamma)
    return Multiplicative(V.value("lr", lr), Exponential(_one(), g, s, None, True))


def MultiStepLR(lr: Any, milestones: Any, gamma: Any = 0.1) -> Multiplicative:
    """torch ``MultiStepLR``: decay by ``gamma`` at each milestone.

    .. math:: \\eta(k) = \\eta_0 \\, \\gamma^{\\#\\{m \\in M : m \\le k\\}}

    The switch happens *at* a milestone. Milestones are counted with
    multiplicity and in any order (torch keeps them in a ``Counter``): a
    repeated milestone applies ``gamma`` once per repeat.

    >>> from jaxsched.compat.torch import MultiStepLR
    >>> MultiStepLR(1.0, milestones=[3, 1, 3], gamma=0.5)([0, 1, 2, 3]).tolist()
    [1.0, 0.5, 0.5, 0.125]
    """
    m = V.vector("milestones", milestones)
    if not V.is_traced(m) and m.shape[-1] and float(np.min(np.asarray(m))) < 0:
        raise ValueError(f"milestones must be >= 0, got {milestones!r}")
    g = V.nonneg("gamma", gamma)
    n = m.shape[-1]
    values = safe_pow(g, jnp.arange(n + 1, dtype=g.dtype), exact=True)  # finite gradients at gamma = 0
    return Multiplicative(V.value("lr", lr), PiecewiseConstant(values, jnp.sort(m)))


def ConstantLR(lr: Any, factor: Any = 1.0 / 3, total_iters: Any = 5) -> Multiplicative:
    """torch ``ConstantLR``: ``factor`` times the rate until ``total_iters``.

    .. math:: \\eta(k) = \\eta_0 \\cdot \\begin{cases} f & k < T \\\\ 1 & k \\ge T \\end{cases}

    As torch's recursion does, ``total_iters=0`` keeps the factor forever (the
    factor is applied at step 0 and the undo at ``k == T`` never comes).

    >>> from jaxsched.compat.torch import ConstantLR
    >>> ConstantLR(1.0, factor=0.5, total_iters=2)([0, 1, 2, 9]).tolist()
    [0.5, 0.5, 1.0, 1.0]
    """
    f = V.real("factor", factor, lo=0.0, hi=1.0)
    T = V.length("total_iters", total_iters)
    after = _where(T > 0, 1.0, f)
    return Multiplicative(V.value("lr", lr), PiecewiseConstant(jnp.stack([f, after]), jnp.reshape(T, (1,))))


def LinearLR(lr: Any, start_factor: Any = 1.0 / 3, end_factor: Any = 1.0, total_iters: Any = 5) -> Multiplicative:
    """torch ``LinearLR``: the factor moves linearly from ``start_factor`` to ``end_factor``.

    .. math:: \\eta(k) = \\eta_0 \\left(a + (e - a) \\frac{\\min(k, T)}{T}\\right)

    As torch's recursion does, ``total_iters=0`` holds ``start_factor``.

    >>> from jaxsched.compat.torch import LinearLR
    >>> LinearLR(1.0, start_factor=0.25, end_factor=1.0, total_iters=3)([0, 1, 2, 3, 4]).tolist()
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """
    a = V.real("start_factor", start_factor, lo=0.0, lo_open=True, hi=1.0)
    e = V.real("end_factor", end_factor, lo=0.0, hi=1.0)
    T = V.length("total_iters", total_iters)
    return Multiplicative(V.value("lr", lr), Linear(a, _where(T > 0, e, a), T))


def ExponentialLR(lr: Any, gamma: Any) -> Multiplicative:
    """torch ``ExponentialLR``: decay by ``gamma`` every step.

    .. math:: \\eta(k) = \\eta_0 \\, \\gamma^{k}

    >>> from jaxsched.compat.torch import ExponentialLR
    >>> ExponentialLR(1.0, gamma=0.5)([0, 1, 3]).tolist()
    [1.0, 0.5, 0.125]
    """
    g = V.nonneg("gamma", gamma)
    return Multiplicative(V.value("lr", lr), Exponential(_one(), g, _one(), None, False))


def PolynomialLR(lr: Any, total_iters: Any = 5, power: Any = 1.0) -> Multiplicative:
    """torch ``PolynomialLR``: polynomial decay to zero over ``total_iters``.

    .. math:: \\eta(k) = \\eta_0 \\left(1 - \\frac{\\min(k, T)}{T}\\right)^{p}

    ``total_iters=0`` is a constant ``lr`` (as torch's recursion).

    >>> from jaxsched.compat.torch import PolynomialLR
    >>> PolynomialLR(1.0, total_iters=4, power=2.0)([0, 2, 4, 8]).tolist()
    [1.0, 0.25, 0.0, 0.0]
    """
    T = V.length("total_iters", total_iters)
    p = V.exponent("power", power)  # torch's default 1 is None: no power per step
    end = _where(T > 0, 0.0, 1.0)
    return Multiplicative(V.value("lr", lr), Polynomial(_one(), end, T, p))


def CosineAnnealingLR(lr: Any, T_max: Any, eta_min: Any = 0.0) -> Multiplicative:
    """torch ``CosineAnnealingLR``: cosine annealing, *periodic* past ``T_max``.

    .. math:: \\eta(k) = \\eta_{min} + (\\eta_0 - \\eta_{min}) \\frac{1 + \\cos(\\pi k / T)}{2}
              \\quad \\text{for every } k

    torch never clamps: after ``T_max`` the rate rises back to ``lr`` at
    ``2 T_max`` and repeats with period ``2 T_max``. Built as a repeat of a
    cosine down and its mirror image (``_Mirror``). The factor form is ``lr * (r + (1 - r) c)``
    with ``r = eta_min / lr``, so ``lr = 0`` with ``eta_min != 0`` is
    rejected. (For the clamped cosine use :func:`jaxsched.cosine`.)

    >>> from jaxsched.compat.torch import CosineAnnealingLR
    >>> CosineAnnealingLR(1.0, T_max=4)([0, 2, 4, 6, 8]).round(6).tolist()
    [1.0, 0.5, 0.0, 0.5, 1.0]
    """
    b = V.value("lr", lr)
    m = V.value("eta_min", eta_min)
    if not (V.is_traced(lr) or V.is_traced(eta_min)) and float(b) == 0.0 and float(m) != 0.0:
        raise ValueError(
            f"CosineAnnealingLR: lr=0 with eta_min={eta_min!r} != 0 is not supported (the factor form divides by lr)"
        )
    T = V.positive("T_max", T_max)
    one = _one()
    r = safe_div(m, b)
    return Multiplicative(b, Repeat(_Mirror(Cosine(one, r, T), T), 2.0 * T))


def CosineAnnealingWarmRestarts(lr: Any, T_0: Any, T_mult: Any = 1, eta_min: Any = 0.0) -> Repeat:
    """torch ``CosineAnnealingWarmRestarts`` (SGDR), as stepped by ``step()``.

    .. math:: \\eta(k) = \\eta_{min} + (\\eta_0 - \\eta_{min}) \\frac{1 + \\cos(\\pi (k - S_i) / T_i)}{2},
              \\quad T_i = T_0 m^i, \\; S_i \\le k < S_{i+1}

    The cycle index is exact at every restart step (torch's ``step(epoch)``
    form uses a floored float log and returns ``eta_min`` instead of ``lr`` at
    some restarts, e.g. ``T_0=1, T_mult=3`` at 121; plain ``step()`` does not,
    and this matches it). Any real ``T_mult > 0`` is accepted (torch: an
    integer ``>= 1``).

    >>> from jaxsched.compat.torch import CosineAnnealingWarmRestarts
    >>> CosineAnnealingWarmRestarts(1.0, T_0=2, T_mult=2)([0, 1, 2, 4, 6]).round(6).tolist()
    [1.0, 0.5, 1.0, 0.5, 1.0]
    """
    b = V.value("lr", lr)
    T0 = V.positive("T_0", T_0)
    m, doubling = V.growth("T_mult", T_mult)
    return Repeat(Cosine(b, V.value("eta_min", eta_min), T0), T0, m, doubling=doubling)


def ChainedScheduler(schedulers: Sequence[Schedule]) -> Multiplicative:
    """torch ``ChainedScheduler`` of multiplicative children: the product of their factors.

    .. math:: \\eta(k) = \\eta_0 \\prod_i f_i(k)

    torch steps every child on the shared rate. That is this product exactly
    when every child is a pure multiplicative recursion, which is what this
    accepts: children made by ``StepLR``, ``MultiStepLR``, ``ConstantLR``,
    ``LinearLR``, ``ExponentialLR``, ``PolynomialLR``, ``MultiplicativeLR``,
    ``CosineAnnealingLR`` or another ``ChainedScheduler`` (a
    :class:`Multiplicative`). For ``CosineAnnealingLR`` torch's chain equals
    the product only with ``eta_min=0`` and up to ``T_max`` (its recursion
    is affine otherwise and restarts additively after ``T_max``); this
    returns the product regardless. Children that overwrite the rate
    (``LambdaLR``, ``CyclicLR``, ``OneCycleLR``,
    ``CosineAnnealingWarmRestarts``) are rejected: in torch they discard the
    factors before them. All children must share one ``lr`` (torch: one
    optimizer).

    >>> from jaxsched.compat.torch import ChainedScheduler, ConstantLR, ExponentialLR
    >>> s = ChainedScheduler([ConstantLR(0.05, factor=0.1, total_iters=2), ExponentialLR(0.05, gamma=0.9)])
    >>> s([0, 1, 2]).round(6).tolist()
    [0.005, 0.0045, 0.0405]
    """
    if isinstance(schedulers, Schedule) or not isinstance(schedulers, Sequence) or not schedulers:
        raise TypeError(f"schedulers must be a non-empty list of schedules, got {schedulers!r}")
    for i, s in enumerate(schedulers):
        if not isinstance(s, Multiplicative):
            raise TypeError(
                f"ChainedScheduler: schedulers[{i}] is a {type(s).__name__}; only multiplicative children "
                "(StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR, MultiplicativeLR, "
                "CosineAnnealingLR, ChainedScheduler) chain as a product. Children that overwrite the rate "
                "discard the factors before them in torch; multiply schedules with `*` if a product is what you want."
            )
    lr0 = schedulers[0].lr
    for i, s in enumerate(schedulers[1:], start=1):
        if not (V.is_traced(lr0) or V.is_traced(s.lr)) and float(s.lr) != float(lr0):
            raise ValueError(
                f"ChainedScheduler: all children must share one lr (torch: one optimizer); "
                f"schedulers[0].lr={float(lr0)!r} but schedulers[{i}].lr={float(s.lr)!r}"
            )
    if len(schedulers) == 1:
        return schedulers[0]
    return Multiplicative(lr0, Product(tuple(s.factor for s in schedulers)))


def SequentialLR(schedulers: Sequence[Schedule], milestones: Any) -> Join:
    """torch ``SequentialLR``: child ``i`` runs from milestone ``i - 1`` and sees the step from there.

    .. math:: \\eta(k) = s_i(k - M_{i-1}), \\quad M_{i-1} \\le k < M_i, \\; M_{-1} = 0

    Children restart at their local step 0, as torch's closed-form restart
    does. A ``MultiplicativeLR`` child entered at a milestone ``M >= 1``
    continues from the rate in force instead, as in torch:
    ``eta(M - 1) * prod_{j=0}^{k-M} lambda(j)``.

    >>> from jaxsched.compat.torch import ConstantLR, ExponentialLR, SequentialLR
    >>> s = SequentialLR([ConstantLR(1.0, factor=0.1, total_iters=20), ExponentialLR(1.0, gamma=0.5)], milestones=[2])
    >>> s([0, 1, 2, 3, 4]).round(6).tolist()
    [0.1, 0.1, 1.0, 0.5, 0.25]
    """
    if isinstance(schedulers, Schedule) or not isinstance(schedulers, Sequence) or not schedulers:
        raise ValueError(f"SequentialLR expects at least one scheduler, got {schedulers!r}")
    children = tuple(V.schedule(f"schedulers[{i}]", s) for i, s in enumerate(schedulers))
    M = V.vector("milestones", milestones, nondecreasing=True)
    if M.shape[-1] != len(children) - 1:
        raise ValueError(
            "SequentialLR expects len(milestones) == len(schedulers) - 1, got "
            f"{M.shape[-1]} milestones for {len(children)} schedulers (milestones={milestones!r})"
        )
    if not V.is_traced(M) and M.shape[-1] and float(np.min(np.asarray(M))) < 0:
        raise ValueError(f"milestones must be >= 0, got {milestones!r}")
    pieces: list[Schedule] = [children[0]]
    for i, c in enumerate(children[1:], start=1):
        if isinstance(c, Multiplicative) and isinstance(c.factor, CumulativeProduct):
            prefix = pieces[0] if i == 1 else _safe_join(pieces, M[: i - 1])
            c = _Continued(prefix, M[i - 1], c)
        pieces.append(c)
    return _safe_join(pieces, M)


def _cyclic(
    lo: Any,
    hi: Any,
    step_size_up: Any,
    step_size_down: Any,
    mode: Any,
    gamma: Any,
    scale_fn: Callable[[Array], Any] | None,
    scale_mode: str,
    names: tuple[str, str],
) -> Schedule:
    up = V.positive("step_size_up", step_size_up)
    if scale_fn is None:
        return _presets.cyclic(lo, hi, up, step_size_down, mode=mode, gamma=gamma)
    if scale_mode not in ("cycle", "iterations"):
        raise ValueError(f"scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
    lo_a, hi_a = V.value(names[0], lo), V.value(names[1], hi)
    down = up if step_size_down is None else V.length("step_size_down", step_size_down)
    dt = float_dtype()
    period = up + down
    tri = PiecewiseLinear(jnp.asarray([0.0, 1.0, 0.0], dt), jnp.stack([jnp.zeros((), dt), up, period]))
    wave = Repeat(tri, period)
    g = _as_factor("scale_fn", scale_fn)
    scale = _CycleScale(g, period) if scale_mode == "cycle" else g
    return Sum((Constant(lo_a), Product((Constant(hi_a - lo_a), wave, scale))))


def CyclicLR(
    base_lr: Any,
    max_lr: Any,
    step_size_up: Any = 2000,
    step_size_down: Any = None,
    mode: Any = "triangular",
    gamma: Any = 1.0,
    scale_fn: Callable[[Array], Any] | None = None,
    scale_mode: str = "cycle",
    cycle_momentum: bool = True,
    base_momentum: Any = 0.8,
    max_momentum: Any = 0.9,
) -> Schedule:
    """torch ``CyclicLR``: triangular cycles between ``base_lr`` and ``max_lr``, forever.

    With ``C = up + down``, ``x = k / C - floor(k / C)`` and ``r = up / C``:

    .. math:: \\eta(k) = b + (M - b)\\, h(x)\\, g, \\quad
              h(x) = \\begin{cases} x / r & x \\le r \\\\ (1 - x) / (1 - r) & x > r \\end{cases}

    ``g`` is 1 (``"triangular"``), ``2^{-(c-1)}`` (``"triangular2"``, cycle
    number ``c = floor(1 + k / C)``) or ``gamma^k`` (``"exp_range"``, ``k``
    the global step), or ``scale_fn(c)`` / ``scale_fn(k)`` for a custom
    ``scale_fn`` (a jnp function; ``scale_mode`` ``"cycle"`` or
    ``"iterations"``; ``mode`` is then ignored). ``mode`` may also be an
    index (traced too). Built on :func:`jaxsched.cyclic`. There is no
    optimizer argument: torch overwrites the rate with ``base_lr``. The
    momentum arguments are accepted for a shared settings dict and used by
    :func:`cyclic_momentum`.

    >>> from jaxsched.compat.torch import CyclicLR
    >>> CyclicLR(0.0, 1.0, step_size_up=2)([0, 1, 2, 3, 4]).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    V.flag("cycle_momentum", cycle_momentum)
    _shared(base_momentum=base_momentum, max_momentum=max_momentum)
    return _cyclic(
        base_lr, max_lr, step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode, ("base_lr", "max_lr")
    )


def cyclic_momentum(
    base_lr: Any = None,
    max_lr: Any = None,
    step_size_up: Any = 2000,
    step_size_down: Any = None,
    mode: Any = "triangular",
    gamma: Any = 1.0,
    scale_fn: Callable[[Array], Any] | None = None,
    scale_mode: str = "cycle",
    cycle_momentum: bool = True,
    base_momentum: Any = 0.8,
    max_momentum: Any = 0.9,
) -> Schedule:
    """The momentum (or Adam ``b1``) schedule torch ``CyclicLR`` writes, cycling opposite to the rate.

    .. math:: \\mu(k) = \\mu_{max} - (\\mu_{max} - \\mu_{base})\\, h(x)\\, g

    Takes :func:`CyclicLR`'s arguments (``base_lr`` and ``max_lr`` are not
    used). ``cycle_momentum=False`` raises: torch then leaves momentum alone.

    >>> from jaxsched.compat.torch import cyclic_momentum
    >>> cyclic_momentum(0.0, 1.0, step_size_up=2)([0, 1, 2]).round(6).tolist()
    [0.9, 0.85, 0.8]
    """
    _shared(base_lr=base_lr, max_lr=max_lr)
    if not V.flag("cycle_momentum", cycle_momentum):
        raise ValueError("cyclic_momentum: cycle_momentum=False means torch does not schedule momentum")
    return _cyclic(
        max_momentum,
        base_momentum,
        step_size_up,
        step_size_down,
        mode,
        gamma,
        scale_fn,
        scale_mode,
        ("max_momentum", "base_momentum"),
    )


def _count(name: str, x: Any) -> Array:
    """A count torch takes as an int (> 0): a whole float (``10.0``) is accepted, ``10.5`` is not (traced: any)."""
    v = V.positive(name, x)
    if not V.is_traced(x) and (np.mod(np.asarray(x, np.float64), 1.0) != 0).any():
        raise ValueError(f"{name} must be a whole number (torch takes an int), got {x!r}")
    return v


def _onecycle_knots(
    total_steps: Any, epochs: Any, steps_per_epoch: Any, pct_start: Any, three_phase: Any
) -> tuple[Array, Array]:
    if not isinstance(three_phase, (bool, np.bool_)):
        raise TypeError(f"three_phase must be a bool (it sets the number of phases), got {three_phase!r}")
    if total_steps is not None:
        T = _count("total_steps", total_steps)
    elif epochs is not None and steps_per_epoch is not None:
        T = _count("epochs", epochs) * _count("steps_per_epoch", steps_per_epoch)
    else:
        raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
    pct = V.real("pct_start", pct_start, lo=0.0, hi=1.0)
    up = pct * T
    knots = [up - 1.0, 2.0 * pct * T - 2.0, T - 1.0] if three_phase else [up - 1.0, T - 1.0]
    return T, jnp.stack(knots)


def _onecycle(
    T: Array, knots: Array, values: list[tuple[Array, Array]], strategy: tuple[Array | None, int | None],
    extrapolate: bool,
) -> Join:
    """Phases ending at float ``knots``; adjacent phases share their end point (torch's rule).

    With ``pct_start * T < 1`` the first knots lie below 0 (``e_1 = pct_start T - 1``): the phases
    that end there are never reached, and the first one reached starts before step 0 (a join's
    boundary below 0 is a shift). Spans are floored at 0 (a phase of negative span is empty either
    way) and the three-phase knots ``e_1 > e_2`` (both below 0) sorted. Neither changes a value at a
    step >= 0, and the join is one a config holds (sorted boundaries, lengths >= 0), so it loads back.
    """
    n = len(values)
    if n == 3:  # e_2 = 2 e_1 < e_1 when both are below 0: phase 2 is then empty (never reached) too
        knots = jnp.stack([jnp.minimum(knots[0], knots[1]), knots[1], knots[2]])
    starts = [jnp.zeros((), knots.dtype)] + [knots[i] for i in range(n - 1)]
    raw = [knots[i] - starts[i] for i in range(n)]
    # A span below 0 is an empty phase (its end value from its start on), except where torch extrapolates
    # the last phase at k = T: three-phase pct_start > 1/2 gives it a negative span, used as it is.
    spans = [jnp.maximum(x, 0.0) for x in raw]
    pieces: list[Schedule] = [
        choose(*strategy, (Cosine(a, b, spans[i]), Linear(a, b, spans[i]))) for i, (a, b) in enumerate(values[:-1])
    ]
    a, b = values[-1]
    if extrapolate:
        pieces.append(_Anneal(a, b, raw[-1], *strategy))
    else:
        # An empty last phase (pct_start = 1) still shows its start at its start: torch's k = T - 1 is the end
        # of the phase before (k <= e_i), max_lr, not z. The smallest normal span does that, then z.
        last = jnp.maximum(spans[-1], jnp.finfo(knots.dtype).tiny)
        pieces.append(choose(*strategy, (Cosine(a, b, last), Linear(a, b, last))))
    phases = Join(tuple(pieces), knots[:-1])
    # k > T (torch raises) gives z, also where a three-phase e_2 lies past T - 1. T + 1 is rounded up where it
    # is not a float (T >= 2**24 in float32): rounded to T, it took k = T from torch's phase.
    guard = T + 1.0
    guard = jnp.where(guard > T, guard, T * (1.0 + jnp.finfo(knots.dtype).eps))
    return Join((phases, Constant(b)), jnp.reshape(guard, (1,)))


def OneCycleLR(
    max_lr: Any,
    total_steps: Any = None,
    epochs: Any = None,
    steps_per_epoch: Any = None,
    pct_start: Any = 0.3,
    anneal_strategy: Any = "cos",
    cycle_momentum: bool = True,
    base_momentum: Any = 0.85,
    max_momentum: Any = 0.95,
    div_factor: Any = 25.0,
    final_div_factor: Any = 1e4,
    three_phase: bool = False,
    *,
    extrapolate: bool = True,
) -> Join:
    """torch ``OneCycleLR`` with torch's own knots.

    With ``a = max_lr / div_factor``, ``z = a / final_div_factor`` and
    ``T = total_steps`` (or ``epochs * steps_per_epoch``), the phases end at
    the float knots ``e_1 = pct_start T - 1``, (three-phase:
    ``e_2 = 2 pct_start T - 2``,) ``e_last = T - 1``; the phase of step
    ``k`` is the first with ``k <= e_i``, its progress
    ``p = (k - e_{i-1}) / (e_i - e_{i-1})`` (``e_0 = 0``), so neighbours share
    their end point. Two phases go ``a -> max_lr -> z``; three phases
    ``a -> max_lr -> a -> z``. Each is a cosine (``"cos"``) or linear
    interpolation; ``anneal_strategy`` may be an index (traced too).

    Past the end (torch raises for ``k > T``): with ``extrapolate=True`` (the
    default) the value at ``k = T`` extrapolates the last phase exactly as
    torch does (linear can go negative there) and ``k > T`` gives ``z``; with
    ``extrapolate=False`` the last phase is clamped (``z`` from its end
    ``T - 1`` on) and ``k > T`` gives ``z``. There is no optimizer argument
    (torch overwrites the rate).
    ``three_phase`` is static (a bool). For the momentum see
    :func:`onecycle_momentum`; :func:`jaxsched.onecycle` is the idealised
    policy with knots at ``pct_start * T``.

    >>> from jaxsched.compat.torch import OneCycleLR
    >>> s = OneCycleLR(1.0, total_steps=10, pct_start=0.2, anneal_strategy="linear", div_factor=10.0)
    >>> s([0, 1, 9, 10, 11]).round(5).tolist()
    [0.1, 1.0, 1e-05, -0.12499, 1e-05]
    """
    V.flag("cycle_momentum", cycle_momentum)
    _shared(base_momentum=base_momentum, max_momentum=max_momentum)
    T, knots = _onecycle_knots(total_steps, epochs, steps_per_epoch, pct_start, three_phase)
    P = V.value("max_lr", max_lr)
    a = P / V.positive("div_factor", div_factor)
    z = a / V.positive("final_div_factor", final_div_factor)
    k = V.choice_or_name("anneal_strategy", anneal_strategy, ANNEAL_STRATEGIES)
    values = [(a, P), (P, a), (a, z)] if three_phase else [(a, P), (P, z)]
    return _onecycle(T, knots, values, k, V.flag("extrapolate", extrapolate))


def onecycle_momentum(
    max_lr: Any = None,
    total_steps: Any = None,
    epochs: Any = None,
    steps_per_epoch: Any = None,
    pct_start: Any = 0.3,
    anneal_strategy: Any = "cos",
    cycle_momentum: bool = True,
    base_momentum: Any = 0.85,
    max_momentum: Any = 0.95,
    div_factor: Any = 25.0,
    final_div_factor: Any = 1e4,
    three_phase: bool = False,
    *,
    extrapolate: bool = True,
) -> Join:
    """The momentum (or Adam ``b1``) schedule torch ``OneCycleLR`` writes.

    Same knots as :func:`OneCycleLR`; momentum goes ``max -> base -> max``
    (two phases) or ``max -> base -> max -> max`` (three phases), opposite to
    the rate. Takes :func:`OneCycleLR`'s arguments (``max_lr`` and the div
    factors are not used). ``cycle_momentum=False`` raises.

    >>> from jaxsched.compat.torch import onecycle_momentum
    >>> m = onecycle_momentum(1.0, total_steps=10, pct_start=0.2, anneal_strategy="linear")
    >>> m([0, 1, 9]).round(6).tolist()
    [0.95, 0.85, 0.95]
    """
    del max_lr, div_factor, final_div_factor
    if not V.flag("cycle_momentum", cycle_momentum):
        raise ValueError("onecycle_momentum: cycle_momentum=False means torch does not schedule momentum")
    T, knots = _onecycle_knots(total_steps, epochs, steps_per_epoch, pct_start, three_phase)
    lo = V.value("base_momentum", base_momentum)
    hi = V.value("max_momentum", max_momentum)
    k = V.choice_or_name("anneal_strategy", anneal_strategy, ANNEAL_STRATEGIES)
    values = [(hi, lo), (lo, hi), (hi, hi)] if three_phase else [(hi, lo), (lo, hi)]
    return _onecycle(T, knots, values, k, V.flag("extrapolate", extrapolate))


# The metric-driven port lives with the plateau state machine (docs/plateau.md).
from ._plateau_ports import ReduceLROnPlateau as ReduceLROnPlateau  # noqa: E402
