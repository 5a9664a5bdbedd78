"""Primitive schedules: one family each, one phase each.

Each class binds its hyperparameters (array leaves) and forwards to the pure
function of the same name in :mod:`jaxsched.functional`. The factories below
validate concrete arguments; classes never validate (unflattening under
``vmap`` must not).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp

from . import _validate as V
from . import functional as F
from ._base import Array, Schedule, passed, pick, pytree, safe_div, shift, static_field, time_shape, to_float

# ----------------------------------------------------------------------------- classes


@pytree
class Constant(Schedule):
    """``lr(t) = value``."""

    value: Array

    _negative_ok = True

    def _eval(self, t: Array) -> Array:
        return jnp.broadcast_to(self.value, jnp.broadcast_shapes(jnp.shape(t), jnp.shape(self.value)))


@pytree
class Linear(Schedule):
    """``lr(t) = init + (end - init) * clip(t / steps, 0, 1)``."""

    init_value: Array
    end_value: Array
    steps: Array
    _config_bounds = {"steps": ">= 0"}

    _negative_ok = True  # progress clips below 0

    def _eval(self, t: Array) -> Array:
        return F.linear(to_float(t, self.init_value.dtype), self.init_value, self.end_value, self.steps)


@pytree
class Cosine(Schedule):
    """``lr(t) = end + (init - end) * ((1 + cos(pi p)) / 2) ** exponent``, ``p = clip(t / steps, 0, 1)``."""

    init_value: Array
    end_value: Array
    steps: Array
    exponent: Array | None = None
    _config_bounds = {"steps": ">= 0", "exponent": ">= 0"}

    _negative_ok = True  # progress clips below 0

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.init_value.dtype)
        return F.cosine(x, self.init_value, self.end_value, self.steps, self.exponent)

    def _sweepable(self) -> Schedule:
        e = jnp.ones_like(self.init_value) if self.exponent is None else self.exponent
        return Cosine(self.init_value, self.end_value, self.steps, e)


@pytree
class Polynomial(Schedule):
    """``lr(t) = end + (init - end) * (1 - p) ** power``, ``p = clip(t / steps, 0, 1)``.

    ``power=None`` is 1 (structure, as a cosine's ``exponent=None``): the linear decay, with no power
    per step. A grid mixing it with numbers makes it a leaf of 1 (``_sweepable``).
    """

    init_value: Array
    end_value: Array
    steps: Array
    power: Array | None = None
    _config_bounds = {"steps": ">= 0", "power": ">= 0"}

    _negative_ok = True  # progress clips below 0

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.init_value.dtype)
        return F.polynomial(x, self.init_value, self.end_value, self.steps, self.power)

    def _sweepable(self) -> Schedule:
        return self if self.power is not None else dataclasses.replace(self, power=jnp.ones_like(self.init_value))


@pytree
class SqrtDecay(Schedule):
    """``lr(t) = end + (init - end) * (1 - p ** power)``, ``p = clip(t / steps, 0, 1)``; ``power=None`` is 1/2."""

    init_value: Array
    end_value: Array
    steps: Array
    power: Array | None = None
    _config_bounds = {"steps": ">= 0", "power": "> 0"}

    _negative_ok = True  # progress clips below 0

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.init_value.dtype)
        return F.sqrt_decay(x, self.init_value, self.end_value, self.steps, self.power)

    def _sweepable(self) -> Schedule:
        p = jnp.full_like(self.init_value, 0.5) if self.power is None else self.power
        return SqrtDecay(self.init_value, self.end_value, self.steps, p)


@pytree
class Cooldown(Schedule):
    """A decay whose shape is an int leaf: 0 linear, 1 cosine, 2 "1-sqrt" (see ``functional.cooldown``).

    ``wsd``'s cooldown: the shape can be swept in a grid like any number, at the
    cost of one progress and three cheap factors rather than three schedules.

    Build it with :func:`cooldown`, which validates the arguments.

    >>> import jax.numpy as jnp
    >>> from jaxsched import Cooldown
    >>> c = Cooldown(jnp.asarray(1.0), jnp.asarray(0.0), jnp.asarray(4.0), shape=jnp.asarray(2))  # 1-sqrt
    >>> c([0, 1, 4]).tolist()
    [1.0, 0.5, 0.0]
    """

    init_value: Array
    end_value: Array
    steps: Array
    shape: Array | None = None  # an int leaf (sweepable): the three shapes are computed and blended
    fixed: int | None = static_field(default=None)  # or a static shape (a name was given): only it is computed
    _config_bounds = {"steps": ">= 0"}

    _negative_ok = True  # progress clips below 0

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.init_value.dtype)
        shape = self.shape if self.fixed is None else self.fixed
        return F.cooldown(x, self.init_value, self.end_value, self.steps, shape)

    def _sweepable(self) -> Schedule:
        if self.fixed is None:
            return self
        shape = jnp.full(jnp.shape(self.init_value), self.fixed, jnp.int32)
        return Cooldown(self.init_value, self.end_value, self.steps, shape)


@pytree
class Exponential(Schedule):
    """``lr(t) = init * decay_rate ** (t / decay_steps)``, bounded by ``end_value``."""

    init_value: Array
    decay_rate: Array
    decay_steps: Array
    end_value: Array | None = None
    staircase: bool = static_field(default=False)
    _config_bounds = {"decay_rate": ">= 0", "decay_steps": "> 0"}

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.init_value.dtype)
        return F.exponential(x, self.init_value, self.decay_rate, self.decay_steps, self.staircase, self.end_value)

    def _sweepable(self) -> Schedule:
        if self.end_value is not None:
            return self
        # No bound: a floor of -inf where the rate decays, a ceiling of +inf where it grows.
        inf = jnp.full_like(self.init_value, jnp.inf)
        end = jnp.where(self.decay_rate < 1, -inf, inf)
        return Exponential(self.init_value, self.decay_rate, self.decay_steps, end, self.staircase)


@pytree
class InverseSqrt(Schedule):
    """``lr(t) = init / sqrt(1 + t / timescale)``."""

    init_value: Array
    timescale: Array
    _config_bounds = {"timescale": "> 0"}

    def _eval(self, t: Array) -> Array:
        return F.inverse_sqrt(to_float(t, self.init_value.dtype), self.init_value, self.timescale)


@pytree
class PiecewiseConstant(Schedule):
    """``lr(t) = values[i]`` where ``i`` counts the boundaries ``<= t``."""

    values: Array
    boundaries: Array
    _takes_pair = True

    def _eval(self, t: Array) -> Array:
        idx = passed(t, self.boundaries, self.values.dtype)
        return pick(self.values, idx)


@pytree
class PiecewiseLinear(Schedule):
    """Linear interpolation through the knots ``(boundaries[i], values[i])``; flat outside."""

    values: Array
    boundaries: Array
    _takes_pair = True

    def _eval(self, t: Array) -> Array:
        n = self.boundaries.shape[-1]
        if n == 1:
            return jnp.broadcast_to(self.values[..., 0], time_shape(t))
        dt = self.values.dtype
        idx = passed(t, self.boundaries, dt)
        i = jnp.clip(idx, 1, n - 1)
        x0, x1 = pick(self.boundaries, i - 1), pick(self.boundaries, i)
        v0, v1 = pick(self.values, i - 1), pick(self.values, i)
        w = jnp.clip(safe_div(shift(t, x0, dt), x1 - x0), 0.0, 1.0)
        w = jnp.where(idx >= n, jnp.ones_like(w), w)  # from the last knot on: values[-1], even after a jump
        return v0 + (v1 - v0) * w


# ----------------------------------------------------------------------------- factories


def constant(value: Any) -> Constant:
    """A constant learning rate.

    .. math:: \\eta(t) = v

    Args:
      value: the learning rate (a finite real).

    >>> import jaxsched
    >>> float(jaxsched.constant(0.1)(1000))
    0.10000000149011612
    """
    return Constant(V.value("value", value))


def linear(init_value: Any, end_value: Any, steps: Any) -> Linear:
    """Linear interpolation from ``init_value`` to ``end_value`` over ``steps``.

    .. math:: \\eta(t) = v_0 + (v_1 - v_0)\\,\\min(t / T, 1)

    Past ``steps`` the end value holds; ``steps = 0`` gives ``end_value`` at once.

    >>> import jaxsched
    >>> jaxsched.linear(1.0, 0.0, 4)([0, 1, 2, 4, 8]).tolist()
    [1.0, 0.75, 0.5, 0.0, 0.0]
    """
    return Linear(V.value("init_value", init_value), V.value("end_value", end_value), V.length("steps", steps))


def cosine(init_value: Any, end_value: Any, steps: Any, exponent: Any = None) -> Cosine:
    """Cosine decay (or rise) from ``init_value`` to ``end_value`` over ``steps``.

    .. math:: \\eta(t) = v_1 + (v_0 - v_1) \\left(\\tfrac{1 + \\cos(\\pi p)}{2}\\right)^{e},
              \\quad p = \\min(t / T, 1)

    Clamped past the end (unlike torch's periodic ``CosineAnnealingLR``).
    ``exponent=None`` (the default) is the plain cosine, ``e = 1``, and costs no
    power; pass a number to make the exponent a leaf you can sweep.

    >>> import jaxsched
    >>> jaxsched.cosine(1.0, 0.0, 100)([0, 50, 100, 200]).round(6).tolist()
    [1.0, 0.5, 0.0, 0.0]

    References: Loshchilov & Hutter, SGDR (2017).
    """
    return Cosine(
        V.value("init_value", init_value),
        V.value("end_value", end_value),
        V.length("steps", steps),
        None if exponent is None else V.nonneg("exponent", exponent),
    )


def polynomial(init_value: Any, end_value: Any, steps: Any, power: Any = None) -> Polynomial:
    """Polynomial decay from ``init_value`` to ``end_value`` over ``steps``.

    .. math:: \\eta(t) = v_1 + (v_0 - v_1)(1 - p)^{k}, \\quad p = \\min(t / T, 1)

    ``power=None`` (the default) is ``k = 1`` as structure: the linear decay, with no
    power per step. A number, 1 included, is a leaf that can be swept.

    >>> import jaxsched
    >>> jaxsched.polynomial(1.0, 0.0, 10, power=2.0)([0, 5, 10]).tolist()
    [1.0, 0.25, 0.0]
    """
    return Polynomial(
        V.value("init_value", init_value),
        V.value("end_value", end_value),
        V.length("steps", steps),
        None if power is None else V.nonneg("power", power),
    )


def sqrt_decay(init_value: Any, end_value: Any, steps: Any, power: Any = None) -> SqrtDecay:
    """The "1-sqrt" cooldown of Hägele et al. (2024), generalised to any power.

    .. math:: \\eta(t) = v_1 + (v_0 - v_1)(1 - p^{k}), \\quad p = \\min(t / T, 1)

    ``power=None`` (the default) is 1-sqrt, computed with a square root; a
    number makes the power a sweepable leaf (``1`` is linear, ``2`` "1-square").

    >>> import jaxsched
    >>> jaxsched.sqrt_decay(1.0, 0.0, 100)([0, 25, 100]).tolist()
    [1.0, 0.5, 0.0]

    References: Hägele et al., Scaling Laws and Compute-Optimal Training
    Beyond Fixed Training Durations (2024).
    """
    return SqrtDecay(
        V.value("init_value", init_value),
        V.value("end_value", end_value),
        V.length("steps", steps),
        None if power is None else V.positive("power", power),
    )


COOLDOWN_SHAPES = ("linear", "cosine", "1-sqrt")


def cooldown(init_value: Any, end_value: Any, steps: Any, shape: Any = "1-sqrt") -> Cooldown:
    """A decay from ``init_value`` to ``end_value`` over ``steps`` whose shape is a sweepable leaf.

    .. math:: \\eta(t) = v_1 + (v_0 - v_1)\\, c(p), \\quad p = \\min(t / T, 1), \\quad
              c(p) = 1 - p,\\ \\tfrac{1 + \\cos(\\pi p)}{2}\\ \\text{or}\\ 1 - \\sqrt{p}

    ``shape`` is ``"linear"``, ``"cosine"`` or ``"1-sqrt"``, or its index
    0..2 (traced too), so a grid can sweep the shape inside one compiled
    program; ``wsd`` decays with it. A name is structure: only that shape is
    computed (a grid over names batches them as indices). An index is a leaf:
    all three shapes are computed and the index picks one.

    >>> import jaxsched
    >>> jaxsched.cooldown(1.0, 0.0, 100, shape="linear")([0, 25, 100]).tolist()
    [1.0, 0.75, 0.0]
    >>> jaxsched.cooldown(1.0, 0.0, 100)([0, 25, 100]).tolist()
    [1.0, 0.5, 0.0]
    """
    index, fixed = V.choice_or_name("shape", shape, COOLDOWN_SHAPES)
    return Cooldown(V.value("init_value", init_value), V.value("end_value", end_value), V.length("steps", steps),
                    index, fixed)


def exponential(
    init_value: Any,
    decay_rate: Any,
    decay_steps: Any,
    staircase: bool = False,
    end_value: Any = None,
) -> Exponential:
    """Exponential decay by ``decay_rate`` every ``decay_steps``.

    .. math:: \\eta(t) = v_0 \\, r^{t / D} \\quad (r^{\\lfloor t / D \\rfloor} \\text{ if staircase})

    ``end_value``, if given, is a floor for ``r < 1`` and a ceiling for ``r > 1``.
    ``r = 0`` drops to 0 after step 0 (torch's ``gamma=0``).
    ``staircase`` is structure (static), not a leaf.

    >>> import jaxsched
    >>> jaxsched.exponential(1.0, 0.5, 10)([0, 10, 20]).tolist()
    [1.0, 0.5, 0.25]
    >>> jaxsched.exponential(1.0, 0.5, 10, staircase=True, end_value=0.3)([9, 10, 20]).tolist()
    [1.0, 0.5, 0.30000001192092896]
    """
    if not isinstance(staircase, bool):
        raise TypeError(f"staircase must be a bool, got {staircase!r}")
    end = None if end_value is None else V.value("end_value", end_value)
    return Exponential(
        V.value("init_value", init_value),
        V.nonneg("decay_rate", decay_rate),
        V.positive("decay_steps", decay_steps),
        end,
        staircase,
    )


def inverse_sqrt(init_value: Any, timescale: Any) -> InverseSqrt:
    """Inverse square-root decay that starts at ``init_value``.

    .. math:: \\eta(t) = \\frac{v_0}{\\sqrt{1 + t / \\tau}}

    With a warmup of ``W`` steps and ``timescale = W`` this is the Transformer
    schedule ``peak * sqrt(W / t)`` after warmup (see :func:`warmup_inverse_sqrt`).

    >>> import jaxsched
    >>> jaxsched.inverse_sqrt(1.0, 100)([0, 300]).tolist()
    [1.0, 0.5]

    References: Vaswani et al., Attention Is All You Need (2017).
    """
    return InverseSqrt(V.value("init_value", init_value), V.positive("timescale", timescale))


def _pairs(values: Any, boundaries: Any, extra: int) -> tuple[Array, Array]:
    b = V.vector("boundaries", boundaries, nondecreasing=True, nonneg=True)
    v = V.vector("values", values, min_len=1)
    if v.shape[-1] != b.shape[-1] + extra:
        rule = "len(boundaries) + 1" if extra else "len(boundaries)"
        raise ValueError(
            f"values must have {rule} entries: got {v.shape[-1]} values and {b.shape[-1]} boundaries "
            f"(values={values!r}, boundaries={boundaries!r})"
        )
    return v, b


def piecewise_constant(values: Any, boundaries: Any) -> PiecewiseConstant:
    """Absolute values that switch *at* each boundary (optax / torch ``MultiStepLR`` placement).

    .. math:: \\eta(t) = v_i, \\quad i = \\#\\{j : b_j \\le t\\}

    ``len(values) == len(boundaries) + 1``; boundaries non-decreasing.

    >>> import jaxsched
    >>> jaxsched.piecewise_constant([1.0, 0.1, 0.01], [10, 20])([0, 9, 10, 19, 20]).tolist()
    [1.0, 1.0, 0.10000000149011612, 0.10000000149011612, 0.009999999776482582]
    """
    v, b = _pairs(values, boundaries, 1)
    return PiecewiseConstant(v, b)


def piecewise_linear(values: Any, boundaries: Any) -> PiecewiseLinear:
    """Linear interpolation through the knots ``(boundaries[i], values[i])``.

    .. math:: \\eta(t) = v_{i-1} + (v_i - v_{i-1}) \\frac{t - b_{i-1}}{b_i - b_{i-1}},
              \\quad b_{i-1} \\le t < b_i

    ``values[0]`` before the first knot, ``values[-1]`` after the last. Equal
    neighbouring boundaries give a jump (right-continuous).

    >>> import jaxsched
    >>> jaxsched.piecewise_linear([0.0, 1.0, 0.0], [0, 10, 30])([0, 5, 10, 20, 40]).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    v, b = _pairs(values, boundaries, 0)
    return PiecewiseLinear(v, b)
