"""Exact ports of ``keras.optimizers.schedules`` (Keras 3).

Each function takes the Keras class's own arguments (``name`` is accepted and
ignored) and returns an ordinary jaxsched schedule built from the core
primitives and combinators, so it jits, vmaps over every numeric argument and
differentiates. ``schedule(k)`` is the rate Keras gives the update whose
``optimizer.iterations`` is ``k`` (the first update sees 0).

Keras computes in float32; these ports compute in the default float dtype
(float32, or float64 under x64). Where jaxsched's numbers differ from Keras's
they are listed in ``docs/migration_keras_hf_timm.md``; the main one is the
restart index of :func:`CosineDecayRestarts`, which Keras takes from a floored
float32 logarithm (wrong at some exact restart steps) and jaxsched computes
exactly.

:func:`from_keras_config` rebuilds a schedule from the dict that
``keras.optimizers.schedules.serialize`` writes (or the legacy
``{"class_name", "config"}`` form) without executing any code.

>>> from jaxsched.compat import keras
>>> s = keras.CosineDecay(0.1, decay_steps=100, warmup_target=1.0, warmup_steps=10)
>>> s([0, 5, 10, 60, 110]).round(4).tolist()
[0.1, 0.55, 1.0, 0.5, 0.0]
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import functional as F
from .._arith import Sum
from .._base import Array, Schedule, pytree, safe_div, static_field, to_float
from .._join import Warmup, may_shift
from .._primitives import Constant, Cosine, Exponential, PiecewiseConstant, Polynomial, constant
from .._repeat import Repeat
from .._validate import exponent, flag, growth, is_traced, nonneg, positive, value, vector

__all__ = [
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    "InverseTime",
    "PolynomialCycle",
    "from_keras_config",
    "KERAS_CLASS_NAMES",
]

#: The Keras version whose numbers the fixtures in ``tests/fixtures/keras_*.json`` hold.
KERAS_VERSION = "3.15.1"


def _concrete(x: Any) -> np.ndarray | None:
    """``x`` as a float64 NumPy array for a concrete check, or ``None`` when it holds a tracer.

    Checks look at the caller's own values, never at the converted leaves:
    inside ``jit`` even a constant becomes a tracer once it is a JAX array.
    """
    if is_traced(x) or (isinstance(x, (list, tuple)) and any(is_traced(v) for v in x)):
        return None
    return np.asarray(x, np.float64)


def _floor_div(x: Array, d: Array) -> Array:
    """``floor(x / d)`` exact at multiples of ``d``, for ``d > 0`` (0 when ``d == 0``).

    Under ``jit`` with a constant ``d``, XLA computes ``x / d`` as
    ``x * (1 / d)``, which can land just above or below an integer at an exact
    multiple; the two comparisons (products, which it leaves alone) put it back.
    """
    q = jnp.floor(safe_div(x, d))
    q = jnp.where(q * d > x, q - 1.0, q)
    return jnp.where((q + 1.0) * d <= x, q + 1.0, q)


def _ceil_div(x: Array, d: Array) -> Array:
    """``ceil(x / d)``, exact at multiples of ``d`` like :func:`_floor_div`."""
    q = jnp.ceil(safe_div(x, d))
    q = jnp.where((q - 1.0) * d >= x, q - 1.0, q)
    return jnp.where(q * d < x, q + 1.0, q)


# ----------------------------------------------------------------------------- new primitives


@pytree
class InverseTime(Schedule):
    """Inverse-time decay: ``lr(t) = init / (1 + decay_rate * t / decay_steps)``.

    With ``staircase`` (static) the exponent is ``floor(t / decay_steps)``.
    Guarded: a zero denominator gives 0, a zero ``decay_steps`` gives ``init``.

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat.keras import InverseTime
    >>> s = InverseTime(jnp.float32(1.0), jnp.float32(1.0), jnp.float32(10.0))
    >>> s([0, 10, 30]).tolist()
    [1.0, 0.5, 0.25]
    """

    init_value: Array
    decay_rate: Array
    decay_steps: Array
    staircase: bool = static_field(default=False)
    _config_bounds = {"decay_rate": ">= 0", "decay_steps": "> 0"}

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.init_value.dtype)
        p = _floor_div(x, self.decay_steps) if self.staircase else safe_div(x, self.decay_steps)
        return safe_div(self.init_value, 1.0 + self.decay_rate * p)


@pytree
class PolynomialCycle(Schedule):
    """Keras's ``PolynomialDecay(cycle=True)``: a polynomial whose horizon stretches.

    .. math:: D' = D \\max(1, \\lceil t / D \\rceil), \\quad
              \\eta(t) = e + (v_0 - e)\\,(1 - t / D')^{p}

    This is not a restart to ``init``: just after the ``j``-th multiple of
    ``D`` the rate is about ``e + (v_0 - e) (1/(j+1))^p``.

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat.keras import PolynomialCycle
    >>> f = jnp.float32
    >>> PolynomialCycle(f(1.0), f(0.0), f(10.0), f(1.0))([0, 5, 10, 15, 20]).tolist()
    [1.0, 0.5, 0.0, 0.25, 0.0]
    """

    init_value: Array
    end_value: Array
    steps: Array
    power: Array | None = None  # None is 1 (Keras's default): no power per step
    _config_bounds = {"steps": "> 0", "power": ">= 0"}

    def _eval(self, t: Array) -> Array:
        x = to_float(t, self.init_value.dtype)
        mult = jnp.maximum(_ceil_div(x, self.steps), 1.0)
        return F.polynomial(x, self.init_value, self.end_value, self.steps * mult, self.power)

    _sweepable = Polynomial._sweepable  # power=None as a leaf of 1


# ----------------------------------------------------------------------------- the Keras classes


def ExponentialDecay(
    initial_learning_rate: Any,
    decay_steps: Any,
    decay_rate: Any,
    staircase: bool = False,
    name: str = "ExponentialDecay",
) -> Exponential:
    """``keras.optimizers.schedules.ExponentialDecay``.

    .. math:: \\eta(k) = v_0\\, r^{k / D} \\quad (r^{\\lfloor k / D \\rfloor} \\text{ if staircase})

    Native equivalent: :func:`jaxsched.exponential` (this returns one).
    ``decay_rate`` must be ``> 0`` (Keras accepts ``<= 0`` and returns 0 or NaN).

    >>> from jaxsched.compat import keras
    >>> keras.ExponentialDecay(1.0, 10, 0.5, staircase=True)([0, 9, 10, 25]).tolist()
    [1.0, 1.0, 0.5, 0.25]
    """
    del name
    return Exponential(
        value("initial_learning_rate", initial_learning_rate),
        positive("decay_rate", decay_rate),
        positive("decay_steps", decay_steps),
        None,
        flag("staircase", staircase),
    )


def PiecewiseConstantDecay(boundaries: Any, values: Any, name: str = "PiecewiseConstant") -> PiecewiseConstant:
    """``keras.optimizers.schedules.PiecewiseConstantDecay``: switches at ``B + 1``.

    .. math:: \\eta(k) = v_i, \\quad i = \\#\\{j : B_j < k\\}

    ``values[0]`` holds for ``k <= boundaries[0]``; the switch happens one step
    *after* each boundary (optax and :func:`jaxsched.piecewise_constant` switch
    at the boundary). Built on :class:`jaxsched.PiecewiseConstant` with each
    boundary moved to the next float up (at least the smallest normal float),
    which turns Keras's strict ``B < k`` into the core's ``B' <= k`` for
    integer and float steps alike.
    ``boundaries`` must be non-negative and non-decreasing.

    >>> from jaxsched.compat import keras
    >>> keras.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.25])([0, 5, 6, 10, 11]).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    del name
    b = vector("boundaries", boundaries, nondecreasing=True)
    v = vector("values", values, min_len=1)
    if v.shape[-1] != b.shape[-1] + 1:
        raise ValueError(
            "The length of boundaries should be 1 less than the length of values: got "
            f"{b.shape[-1]} boundaries and {v.shape[-1]} values (boundaries={boundaries!r}, values={values!r})"
        )
    cb = _concrete(boundaries)
    if cb is not None and cb.size and cb.min() < 0:
        raise ValueError(f"boundaries must be >= 0, got {boundaries!r}")
    # Boundaries get no gradient (the value is piecewise constant in them; nextafter has no JVP).
    # At least the smallest normal float: XLA on CPU flushes subnormals (nextafter(0)) to zero.
    up = jnp.nextafter(jax.lax.stop_gradient(b), jnp.asarray(jnp.inf, b.dtype))
    return PiecewiseConstant(v, jnp.maximum(up, jnp.finfo(b.dtype).tiny))


def PolynomialDecay(
    initial_learning_rate: Any,
    decay_steps: Any,
    end_learning_rate: Any = 0.0001,
    power: Any = 1.0,
    cycle: bool = False,
    name: str = "PolynomialDecay",
) -> Polynomial | PolynomialCycle:
    """``keras.optimizers.schedules.PolynomialDecay``.

    .. math:: \\eta(k) = e + (v_0 - e)\\,(1 - \\min(k, D) / D)^{p}

    With ``cycle=True`` the horizon stretches to the next multiple of ``D``
    (:class:`PolynomialCycle`). Note Keras's default end rate ``1e-4``, not 0.
    Native equivalent: :func:`jaxsched.polynomial` (returned when ``cycle`` is
    false). ``power`` must be ``>= 0``.

    >>> from jaxsched.compat import keras
    >>> keras.PolynomialDecay(1.0, 10, 0.0, power=2.0)([0, 5, 10, 20]).tolist()
    [1.0, 0.25, 0.0, 0.0]
    """
    del name
    args = (
        value("initial_learning_rate", initial_learning_rate),
        value("end_learning_rate", end_learning_rate),
        positive("decay_steps", decay_steps),
        exponent("power", power),  # Keras's default 1 is None: no power per step
    )
    return PolynomialCycle(*args) if flag("cycle", cycle) else Polynomial(*args)


def InverseTimeDecay(
    initial_learning_rate: Any,
    decay_steps: Any,
    decay_rate: Any,
    staircase: bool = False,
    name: str = "InverseTimeDecay",
) -> InverseTime:
    """``keras.optimizers.schedules.InverseTimeDecay``.

    .. math:: \\eta(k) = \\frac{v_0}{1 + r\\, k / D} \\quad (\\lfloor k / D \\rfloor \\text{ if staircase})

    No core primitive has this shape; it returns an :class:`InverseTime`.
    ``decay_rate`` must be ``>= 0``.

    >>> from jaxsched.compat import keras
    >>> keras.InverseTimeDecay(1.0, 10, 0.5)([0, 10, 20]).tolist()
    [1.0, 0.6666666865348816, 0.5]
    """
    del name
    return InverseTime(
        value("initial_learning_rate", initial_learning_rate),
        nonneg("decay_rate", decay_rate),
        positive("decay_steps", decay_steps),
        flag("staircase", staircase),
    )


def CosineDecay(
    initial_learning_rate: Any,
    decay_steps: Any,
    alpha: Any = 0.0,
    name: str = "CosineDecay",
    warmup_target: Any = None,
    warmup_steps: Any = 0,
) -> Cosine | Warmup:
    """``keras.optimizers.schedules.CosineDecay``, with its optional linear warmup.

    Without ``warmup_target``:
    :math:`\\eta(k) = v_0\\,[(1-\\alpha)\\,c(\\min(k, D)/D) + \\alpha]` with
    :math:`c(p) = (1 + \\cos \\pi p)/2`; this is ``jaxsched.cosine(v0, alpha*v0, D)``.

    With ``warmup_target`` ``P`` and ``warmup_steps`` ``W``: a ramp from
    ``initial_learning_rate`` (at ``k = 0``) to ``P`` (at ``k = W``), then
    :math:`P\\,[(1-\\alpha)\\,c(\\min(k - W, D)/D) + \\alpha]`. ``decay_steps``
    excludes the warmup and ``alpha`` is a fraction of ``P``; this is
    ``jaxsched.warmup(jaxsched.cosine(P, alpha*P, D), W, init_value=v0)``.

    >>> from jaxsched.compat import keras
    >>> keras.CosineDecay(1.0, 100, alpha=0.1)([0, 50, 100, 500]).round(4).tolist()
    [1.0, 0.55, 0.1, 0.1]
    """
    del name
    v0 = value("initial_learning_rate", initial_learning_rate)
    D = positive("decay_steps", decay_steps)
    a = value("alpha", alpha)
    if warmup_target is None:
        return Cosine(v0, a * v0, D)
    P = value("warmup_target", warmup_target)
    W = nonneg("warmup_steps", warmup_steps)
    return Warmup(Cosine(P, a * P, D), W, v0, shift=may_shift(W))


def CosineDecayRestarts(
    initial_learning_rate: Any,
    first_decay_steps: Any,
    t_mul: Any = 2.0,
    m_mul: Any = 1.0,
    alpha: Any = 0.0,
    name: str = "SGDRDecay",
) -> Sum:
    """``keras.optimizers.schedules.CosineDecayRestarts`` (SGDR).

    .. math:: \\eta(k) = v_0 \\left[(1-\\alpha)\\, m^{i}\\, c(u) + \\alpha\\right]

    where cycle ``i`` lasts ``D t^i`` steps, ``u`` is the fraction of it done
    and :math:`c(u) = (1 + \\cos \\pi u)/2`. The floor ``alpha * v0`` does not
    decay; it restarts forever. Built as
    ``alpha*v0 + jaxsched.repeat(cosine((1-alpha)*v0, 0, D), D, t_mul, m_mul)``.

    Difference from Keras: the cycle index is exact. Keras floors a float32
    ``log`` and, at some exact restart steps (e.g. ``D=1, t_mul=2`` at
    ``k=8191``), lands in the previous cycle and returns ``alpha * v0``
    instead of the restart peak; jaxsched returns the peak. ``t_mul`` must be
    ``> 0`` and ``m_mul >= 0``.

    >>> from jaxsched.compat import keras
    >>> keras.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5)([0, 5, 10, 20, 30]).round(4).tolist()
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """
    del name
    v0 = value("initial_learning_rate", initial_learning_rate)
    D = positive("first_decay_steps", first_decay_steps)
    a = value("alpha", alpha)
    inner = Cosine((1.0 - a) * v0, jnp.zeros_like(v0), D)
    m, doubling = growth("t_mul", t_mul)
    rep = Repeat(inner, D, m, nonneg("m_mul", m_mul), jnp.asarray(jnp.inf, v0.dtype), doubling=doubling)
    return Sum((Constant(a * v0), rep))


# ----------------------------------------------------------------------------- config


_CLASSES = {
    "ExponentialDecay": ExponentialDecay,
    "PiecewiseConstantDecay": PiecewiseConstantDecay,
    "PolynomialDecay": PolynomialDecay,
    "InverseTimeDecay": InverseTimeDecay,
    "CosineDecay": CosineDecay,
    "CosineDecayRestarts": CosineDecayRestarts,
}

#: The class names :func:`from_keras_config` accepts.
KERAS_CLASS_NAMES = tuple(_CLASSES)


def _plain(name: str, x: Any) -> Any:
    """Unwrap Keras's ``__numpy__`` / ``__tensor__`` value wrappers (data only)."""
    if isinstance(x, Mapping) and x.get("class_name") in ("__numpy__", "__tensor__"):
        inner = x.get("config")
        if not isinstance(inner, Mapping) or "value" not in inner:
            raise ValueError(f"config[{name!r}] is a {x.get('class_name')} wrapper without a value: {x!r}")
        return inner["value"]
    if isinstance(x, Mapping):
        raise ValueError(f"config[{name!r}] must be a number or a list of numbers, got a nested object: {x!r}")
    return x


def from_keras_config(config: Any) -> Schedule:
    """Rebuild a Keras learning-rate schedule from its serialized dict.

    Accepts what ``keras.optimizers.schedules.serialize(s)`` returns,
    ``{"module": ..., "class_name": ..., "config": {...}, "registered_name": None}``,
    the legacy ``{"class_name", "config"}`` form, and a plain number (an
    optimizer's ``learning_rate`` when it is not a schedule), which gives a
    :func:`jaxsched.constant`. Nothing is imported or executed: the class name
    selects one of :data:`KERAS_CLASS_NAMES`, and the config's entries become
    that port's arguments.

    Raises:
      ValueError: an unknown or custom (registered) class name, listing the
        accepted ones; a missing or unknown config entry.
      TypeError: ``config`` is neither a mapping nor a number.

    >>> from jaxsched.compat.keras import from_keras_config
    >>> d = {"module": "keras.optimizers.schedules", "class_name": "PiecewiseConstantDecay",
    ...      "config": {"boundaries": [5], "values": [1.0, 0.5], "name": "PiecewiseConstant"},
    ...      "registered_name": None}
    >>> from_keras_config(d)([5, 6]).tolist()
    [1.0, 0.5]
    """
    if isinstance(config, (int, float, np.integer, np.floating)) and not isinstance(config, (bool, np.bool_)):
        return constant(config)
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict from keras.optimizers.schedules.serialize or a number, got {config!r}")
    if "class_name" not in config or "config" not in config:
        raise ValueError(
            f"a serialized Keras schedule needs 'class_name' and 'config' entries, got keys {sorted(config)}"
        )
    cls = config["class_name"]
    registered = config.get("registered_name")
    valid = ", ".join(KERAS_CLASS_NAMES)
    if registered not in (None, cls):
        raise ValueError(
            f"{registered!r} is a custom registered Keras schedule; it cannot be ported from its config. "
            f"Accepted class names: {valid}"
        )
    if cls not in _CLASSES:
        raise ValueError(f"unknown Keras schedule class_name {cls!r}; accepted: {valid}")
    fn = _CLASSES[cls]
    inner = config["config"]
    if not isinstance(inner, Mapping):
        raise ValueError(f"config['config'] must be a dict of arguments, got {inner!r}")
    params = inspect.signature(fn).parameters
    unknown = sorted(set(inner) - set(params))
    if unknown:
        raise ValueError(f"unknown {cls} config entries {unknown}; accepted: {list(params)}")
    missing = [p for p, spec in params.items() if spec.default is inspect.Parameter.empty and p not in inner]
    if missing:
        raise ValueError(f"{cls} config is missing {missing} (got {dict(inner)!r})")
    kwargs = {k: (v if k == "name" else _plain(k, v)) for k, v in inner.items()}
    return fn(**kwargs)

from ._plateau_ports import keras_reduce_lr_on_plateau as ReduceLROnPlateau  # noqa: E402, F401, N812
