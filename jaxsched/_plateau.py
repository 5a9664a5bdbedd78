"""Metric-driven schedules: reduce-on-plateau as a pure, jittable state machine.

One design serves torch's ``ReduceLROnPlateau``, timm's ``PlateauLRScheduler``,
transformers' ``reduce_lr_on_plateau``, Keras's ``ReduceLROnPlateau`` callback
and optax's ``contrib.reduce_on_plateau``:

* :class:`Plateau` holds the settings. Every setting is an array leaf (the
  directions ``mode`` and the non-finite policy are int32 indices), so a grid of
  settings is one batched pytree and runs under one ``vmap`` and one compile.
* :class:`PlateauState` is the small state: the current value (a scale, or an
  absolute learning rate for the torch-style ports), the best metric, the count
  of bad evaluations, the cooldown counter and an accumulator for averaging
  several metrics per evaluation (optax's ``accumulation_size``).
* ``Plateau.init()`` and ``Plateau.update(state, metric)`` are pure functions.
  The peers' differences are settings: torch reduces after ``patience + 1`` bad
  evaluations (``patience_offset=1``), optax and Keras after ``patience``
  (``patience_offset=0``); torch's rel/abs thresholds and optax's combined
  ``(1 - rtol) * best - atol`` are both ``rtol``/``atol``.
* :class:`PlateauSchedule` composes a plateau with any step schedule:
  ``lr = max(schedule(step) * value, min_lr)``.
* :func:`scale_by_plateau` is an optax ``GradientTransformationExtraArgs`` that
  keeps settings and state in the optimizer state, takes the metric through
  ``update(..., value=metric)`` (or :func:`observe_plateau`) and records the
  learning rate it applied.
* :func:`state_to_bytes` / :func:`state_from_bytes` (and the ``dict`` forms, and
  orbax where installed) checkpoint any of these pytrees exactly.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate as V
from ._base import Array, Schedule, float_dtype, pytree
from ._primitives import Constant

MODES = ("min", "max")
NONFINITE = ("bad", "skip", "ieee")
PATIENCE_RULES = ("ge", "eq")
_BAD, _SKIP, _IEEE = 0, 1, 2
_INT32_MAX = 2**31 - 1
_COUNT_MAX = 2**30


def _sat_inc(x: Array) -> Array:
    """``x + 1`` saturating at the int32 maximum."""
    return jnp.where(x < _INT32_MAX, x + 1, x)


def int_leaf(name: str, x: Any, *, lo: int = 0, hi: int = _COUNT_MAX) -> Array:
    """Validate an integer count (when concrete) and return it as an int32 leaf."""
    if V.is_traced(x):
        return jnp.asarray(x).astype(jnp.int32)
    if isinstance(x, (bool, np.bool_)) or x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an integer, got {x!r}")
    try:
        a = np.asarray(x)
    except Exception as e:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name} must be an integer, got {x!r}") from e
    if a.ndim != 0:
        raise ValueError(f"{name} must be a scalar integer, got shape {a.shape}: {x!r}")
    if a.dtype.kind == "f":
        if not np.isfinite(a) or float(a) != np.floor(float(a)):
            raise ValueError(f"{name} must be a whole number, got {x!r}")
    elif a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer, got {x!r}")
    v = int(a)
    if v < lo or v > hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {x!r}")
    return jnp.asarray(v, jnp.int32)


def group_leaf(name: str, x: Any, **kw: Any) -> Array:
    """A float leaf that is a scalar or a 1-D vector (one entry per param group)."""
    if V.is_traced(x):
        return jnp.asarray(x).astype(float_dtype())
    nd = np.ndim(x) if not isinstance(x, (list, tuple)) else 1
    if nd > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D sequence (one per param group), got {x!r}")
    if nd == 1 and len(np.asarray(x, dtype=object).ravel()) == 0:
        raise ValueError(f"{name} must not be empty, got {x!r}")
    return V.real(name, x, ndim=nd, **kw)


# ----------------------------------------------------------------------------- state


@pytree
class PlateauState:
    """The state of a reduce-on-plateau machine (a small pytree of arrays).

    Attributes:
      value: the current plateau value: a scale starting at ``init_value=1``,
        or an absolute learning rate for the torch-style ports (one entry per
        param group when ``init_value`` is a vector).
      best: the best (accumulated) metric so far; ``+inf`` (min) or ``-inf``
        (max) before the first evaluation.
      num_bad: consecutive bad evaluations (torch's ``num_bad_epochs``,
        optax's ``plateau_count``).
      cooldown_counter: evaluations left in the cooldown.
      count: metrics accumulated toward the next evaluation
        (``accumulation_size > 1`` only; 0 otherwise).
      avg: running mean of the accumulated metrics.
      num_evals: evaluations performed so far.
      num_nonfinite: NaN/inf metrics seen (never silent, whatever the policy).
    """

    value: Array
    best: Array
    num_bad: Array
    cooldown_counter: Array
    count: Array
    avg: Array
    num_evals: Array
    num_nonfinite: Array

    def __repr__(self) -> str:
        return _repr(self)


def _repr(obj: Any) -> str:
    import dataclasses

    parts = []
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, jax.Array) and not isinstance(v, jax.core.Tracer):
            v = v.item() if v.ndim == 0 else np.asarray(v).tolist()
        parts.append(f"{f.name}={v!r}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def _where_tree(c: Array, new: Any, old: Any) -> Any:
    return jax.tree_util.tree_map(lambda a, b: jnp.where(c, a, b), new, old)


# ----------------------------------------------------------------------------- settings


@pytree
class Plateau:
    """Reduce-on-plateau settings; ``init`` and ``update`` make it a state machine.

    Every field is an array leaf. On each evaluation (every
    ``accumulation_size`` metrics, whose mean ``a`` is evaluated):

    .. math::
       \\text{better} = \\begin{cases} a < b\\,(1 - r) - \\alpha & \\text{mode min} \\\\
                                      a > b\\,(1 + r) + \\alpha & \\text{mode max} \\end{cases}

    with ``b`` the best so far, ``r = rtol``, ``alpha = atol``. Then, in order:

    1. if better: ``best = a`` and ``num_bad = 0``; else ``num_bad += 1``;
    2. if ``cooldown_counter > 0``: ``cooldown_counter -= 1`` and ``num_bad = 0``
       (no reduction during the cooldown);
    3. otherwise, if ``num_bad >= patience + patience_offset`` (``==`` with
       ``patience_rule=1``): with ``v' = max(v * factor, min_value)``,
       ``v = v'`` when ``v - v' > eps``; then ``cooldown_counter = cooldown``
       and ``num_bad = 0``.

    ``patience_offset=1`` is torch (``num_bad > patience``: the
    ``patience + 1``-th bad evaluation reduces); ``0`` is optax and Keras.
    ``patience_rule=1`` ("eq") is optax's literal ``plateau_count == patience``,
    which differs from ``>=`` only for ``patience=0``: optax then reduces on
    every *improving* evaluation outside a cooldown, never on a bad one.

    Non-finite metrics follow ``nonfinite``: ``0`` ("bad", the default of
    :func:`plateau`) counts a NaN/inf evaluation as bad and never stores it as
    best; ``1`` ("skip") ignores the metric; ``2`` ("ieee", the ports' default)
    compares as IEEE floats like the peers. ``num_nonfinite`` counts them.

    Attributes:
      factor, patience, patience_offset, rtol, atol, mode (0 min, 1 max),
      cooldown, min_value, eps, init_value, accumulation_size, nonfinite
      (0 bad, 1 skip, 2 ieee), patience_rule (0 ge, 1 eq). See :func:`plateau`.
    """

    factor: Array
    patience: Array
    patience_offset: Array
    rtol: Array
    atol: Array
    mode: Array
    cooldown: Array
    min_value: Array
    eps: Array
    init_value: Array
    accumulation_size: Array
    nonfinite: Array
    patience_rule: Array

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.factor.dtype)

    def init(self) -> PlateauState:
        """The state before any metric: ``value = init_value``, ``best = ±inf``.

        >>> import jaxsched
        >>> s = jaxsched.plateau().init()
        >>> float(s.value), float(s.best), int(s.num_bad)
        (1.0, inf, 0)
        """
        dt = self.factor.dtype
        inf = jnp.asarray(jnp.inf, dt)
        zi = jnp.zeros(jnp.shape(self.mode), jnp.int32)
        return PlateauState(
            value=jnp.asarray(self.init_value, dt) + jnp.zeros((), dt),
            best=jnp.where(self.mode == 1, -inf, inf),
            num_bad=zi,
            cooldown_counter=zi,
            count=zi,
            avg=jnp.zeros(jnp.shape(self.mode), dt),
            num_evals=zi,
            num_nonfinite=zi,
        )

    def update(self, state: PlateauState, metric: Any, where: Any = True) -> PlateauState:
        """Feed one metric; returns the new state (pure, jittable).

        Args:
          state: the current :class:`PlateauState`.
          metric: a scalar metric (lower is better in mode min).
          where: a boolean (may be traced); when false the metric is ignored and
            the state returned unchanged, so one compiled train step can serve
            steps with and without an evaluation.

        >>> import jaxsched
        >>> p = jaxsched.plateau(factor=0.5, patience=1)          # torch semantics
        >>> s = p.init()
        >>> for m in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
        ...     s = p.update(s, m)
        ...     print(float(s.value), int(s.num_bad))
        1.0 0
        1.0 0
        1.0 1
        0.5 0
        0.5 1
        0.25 0
        """
        if isinstance(metric, (bool, np.bool_)) or (hasattr(metric, "dtype") and np.dtype(metric.dtype) == np.bool_):
            raise TypeError(f"metric must be a real number, got a boolean: {metric!r}")
        if metric is None or isinstance(metric, (str, bytes)):
            raise TypeError(f"metric must be a real number, got {metric!r}")
        dt = state.best.dtype
        v = jnp.asarray(metric)
        if v.ndim != 0:
            raise ValueError(f"metric must be a scalar, got shape {v.shape}; vmap over a batch of runs instead")
        if not jnp.issubdtype(v.dtype, jnp.number):  # pragma: no cover - exotic inputs
            raise TypeError(f"metric must be a real number, got dtype {v.dtype}")
        v = v.astype(dt)
        w = jnp.asarray(where)
        if w.dtype != jnp.bool_:
            raise TypeError(f"where must be a boolean, got dtype {w.dtype}")

        finite = jnp.isfinite(v)
        take = w & (finite | (self.nonfinite != _SKIP))
        n = _sat_inc(state.count)
        acc = (state.count.astype(dt) * state.avg + v) / n.astype(dt)
        ready = n >= self.accumulation_size

        # One evaluation of the accumulated metric ``acc``.
        one = jnp.ones((), dt)
        lo = state.best * (one - self.rtol) - self.atol
        hi = state.best * (one + self.rtol) + self.atol
        better = jnp.where(self.mode == 1, acc > hi, acc < lo)
        better = better & (jnp.isfinite(acc) | (self.nonfinite == _IEEE))
        best = jnp.where(better, acc, state.best)
        bad = jnp.where(better, 0, _sat_inc(state.num_bad))
        in_cd = state.cooldown_counter > 0
        cd = jnp.where(in_cd, state.cooldown_counter - 1, state.cooldown_counter)
        bad = jnp.where(in_cd, 0, bad)
        need = self.patience + self.patience_offset
        reduce = ~in_cd & jnp.where(self.patience_rule == 1, bad == need, bad >= need)
        cand = jnp.maximum(state.value * self.factor, self.min_value)
        apply = reduce & (state.value - cand > self.eps)
        evaluated = PlateauState(
            value=jnp.where(apply, cand, state.value),
            best=best,
            num_bad=jnp.where(reduce, 0, bad),
            cooldown_counter=jnp.where(reduce, self.cooldown, cd),
            count=jnp.zeros_like(state.count),
            avg=jnp.zeros_like(state.avg),
            num_evals=_sat_inc(state.num_evals),
            num_nonfinite=state.num_nonfinite,
        )
        waiting = PlateauState(
            value=state.value,
            best=state.best,
            num_bad=state.num_bad,
            cooldown_counter=state.cooldown_counter,
            count=n,
            avg=acc,
            num_evals=state.num_evals,
            num_nonfinite=state.num_nonfinite,
        )
        new = _where_tree(take, _where_tree(ready, evaluated, waiting), state)
        seen = (w & ~finite).astype(jnp.int32)
        return PlateauState(
            value=new.value,
            best=new.best,
            num_bad=new.num_bad,
            cooldown_counter=new.cooldown_counter,
            count=new.count,
            avg=new.avg,
            num_evals=new.num_evals,
            num_nonfinite=jnp.where(seen > 0, _sat_inc(state.num_nonfinite), state.num_nonfinite),
        )

    def run(self, metrics: Any, state: PlateauState | None = None, where: Any = None) -> tuple[PlateauState, Array]:
        """Feed a 1-D sequence of metrics with ``lax.scan``.

        Returns the final state and the value after each metric (shape
        ``(n,)``, or ``(n, groups)`` for per-group values).

        >>> import jaxsched
        >>> p = jaxsched.plateau(factor=0.5, patience=0, patience_offset=0)   # every evaluation
        >>> s, values = p.run([1.0, 1.0, 1.0])
        >>> values.tolist()
        [0.5, 0.25, 0.125]
        """
        state = self.init() if state is None else state
        ms = jnp.asarray(metrics)
        if ms.ndim != 1:
            raise ValueError(f"metrics must be a 1-D sequence, got shape {ms.shape}")
        ws = jnp.ones(ms.shape, jnp.bool_) if where is None else jnp.broadcast_to(jnp.asarray(where), ms.shape)

        def body(s: PlateauState, mw: tuple[Array, Array]) -> tuple[PlateauState, Array]:
            s = self.update(s, mw[0], mw[1])
            return s, s.value

        return jax.lax.scan(body, state, (ms, ws))

    def __repr__(self) -> str:
        return _repr(self)


def plateau(
    factor: Any = 0.1,
    patience: Any = 10,
    *,
    mode: Any = "min",
    rtol: Any = 1e-4,
    atol: Any = 0.0,
    cooldown: Any = 0,
    min_value: Any = 0.0,
    eps: Any = 0.0,
    init_value: Any = 1.0,
    patience_offset: Any = 1,
    accumulation_size: Any = 1,
    nonfinite: Any = "bad",
    patience_rule: Any = "ge",
) -> Plateau:
    """Reduce-on-plateau settings (validated); see :class:`Plateau` for the rule.

    With the defaults the value is a *scale* that starts at 1 and is multiplied
    by ``factor`` after ``patience + 1`` evaluations without improvement (torch's
    counting); compose it with a step schedule with :func:`plateau_schedule`.

    Args:
      factor: the multiplier applied on a reduction, in (0, 1).
      patience: bad evaluations tolerated, an integer >= 0.
      mode: ``"min"`` (lower is better) or ``"max"``, or the index 0/1.
      rtol, atol: an evaluation is better than ``best`` when
        ``a < best * (1 - rtol) - atol`` (min) or ``a > best * (1 + rtol) + atol``
        (max). torch's ``threshold_mode="rel"`` is ``rtol``, ``"abs"`` is ``atol``.
      cooldown: evaluations after a reduction during which bad evaluations
        are not counted, an integer >= 0.
      min_value: the floor of the value (torch's ``min_lr``, optax's ``min_scale``);
        a scalar, or one entry per param group.
      eps: a reduction smaller than ``eps`` is skipped (torch's ``eps``), >= 0.
      init_value: the value before any reduction (1 for a scale; the base
        learning rate for an absolute lr); a scalar or one entry per group.
      patience_offset: 1 (torch, timm, transformers: reduce when
        ``num_bad > patience``) or 0 (optax, Keras: ``num_bad >= patience``).
      accumulation_size: metrics averaged per evaluation (optax), an integer >= 1.
      nonfinite: ``"bad"`` (default), ``"skip"`` or ``"ieee"``; see :class:`Plateau`.
      patience_rule: ``"ge"`` (default) or ``"eq"`` (optax's literal equality;
        only differs for ``patience + patience_offset == 0``).

    Returns:
      A :class:`Plateau`.

    >>> import jaxsched
    >>> p = jaxsched.plateau(factor=0.5, patience=2)
    >>> s, v = p.run([5.0, 4.0, 4.0, 4.0, 4.0])       # reduces at the 5th metric, like torch
    >>> v.tolist()
    [1.0, 1.0, 1.0, 1.0, 0.5]
    """
    f = V.real("factor", factor, lo=0.0, lo_open=True, hi=1.0, hi_open=True)
    iv = group_leaf("init_value", init_value)
    mv = group_leaf("min_value", min_value)
    _check_groups(init_value, min_value, iv, mv, "init_value", "min_value")
    return Plateau(
        factor=f,
        patience=int_leaf("patience", patience),
        patience_offset=int_leaf("patience_offset", patience_offset),
        rtol=V.real("rtol", rtol, lo=0.0),
        atol=V.real("atol", atol, lo=0.0),
        mode=V.choice("mode", mode, MODES),
        cooldown=int_leaf("cooldown", cooldown),
        min_value=mv,
        eps=V.real("eps", eps, lo=0.0),
        init_value=iv,
        accumulation_size=int_leaf("accumulation_size", accumulation_size, lo=1),
        nonfinite=V.choice("nonfinite", nonfinite, NONFINITE),
        patience_rule=V.choice("patience_rule", patience_rule, PATIENCE_RULES),
    )


def _check_groups(a_in: Any, b_in: Any, a: Array, b: Array, a_name: str, b_name: str) -> None:
    if V.is_traced(a_in) or V.is_traced(b_in):
        return
    if a.ndim == 1 and b.ndim == 1 and a.shape != b.shape:
        raise ValueError(
            f"{a_name} and {b_name} must have one entry per param group each; got "
            f"{a.shape[0]} and {b.shape[0]} entries: {a_in!r}, {b_in!r}"
        )
    if a.ndim == 0 and b.ndim == 1 and b.shape[0] != 1:
        raise ValueError(
            f"{b_name} has {b.shape[0]} entries (param groups) but {a_name} is a scalar (one group): {b_in!r}"
        )


# ----------------------------------------------------------------------------- composition


@pytree
class PlateauSchedule:
    """A step schedule times a plateau value: ``lr = max(schedule(step) * value, min_lr)``.

    ``schedule=None`` means 1 (the plateau value is the learning rate itself,
    as in the torch-style ports); ``min_lr=None`` means no floor. Call it as
    ``ps(state, step)``; ``init``/``update`` forward to the plateau.
    """

    plateau: Plateau
    schedule: Schedule | None = None
    min_lr: Array | None = None

    def init(self) -> PlateauState:
        return self.plateau.init()

    def update(self, state: PlateauState, metric: Any, where: Any = True) -> PlateauState:
        return self.plateau.update(state, metric, where)

    def __call__(self, state: PlateauState, step: Any = 0) -> Array:
        value = state.value
        if self.schedule is None:
            lr = value
        else:
            base = self.schedule(step)
            lr = base * value.astype(base.dtype)
        if self.min_lr is not None:
            lr = jnp.maximum(lr, self.min_lr.astype(lr.dtype))
        return lr

    def __repr__(self) -> str:
        return _repr(self)


def plateau_schedule(schedule: Any, plateau: Plateau, min_lr: Any = None) -> PlateauSchedule:
    """Compose a step schedule with a plateau: ``lr(state, k) = max(s(k) * value, min_lr)``.

    Args:
      schedule: a jaxsched schedule, a number (a constant learning rate), or
        ``None`` (the plateau value is the learning rate).
      plateau: a :class:`Plateau`.
      min_lr: an optional floor on the product (like torch's ``min_lr`` applied
        to the composed rate); ``None`` for no floor.

    >>> import jaxsched
    >>> ps = jaxsched.plateau_schedule(jaxsched.linear(1.0, 0.5, 10), jaxsched.plateau(factor=0.5, patience=0))
    >>> s = ps.init()
    >>> s = ps.update(s, 1.0); s = ps.update(s, 1.0)       # second metric is not better: halve
    >>> ps(s, 0).item(), ps(s, 10).item()
    (0.5, 0.25)
    """
    if not isinstance(plateau, Plateau):
        raise TypeError(f"plateau must be a jaxsched Plateau (see jaxsched.plateau), got {type(plateau).__name__}")
    if schedule is not None and not isinstance(schedule, Schedule):
        schedule = Constant(V.value("schedule", schedule))
    floor = None if min_lr is None else V.real("min_lr", min_lr)
    return PlateauSchedule(plateau, schedule, floor)


# ----------------------------------------------------------------------------- optax


class ScaleByPlateauState(NamedTuple):
    """Optimizer state of :func:`scale_by_plateau`.

    Attributes:
      count: updates applied so far (the step the schedule sees next).
      settings: the :class:`PlateauSchedule` (copied at ``init``; ``update``
        reads it from here, so it checkpoints and vmaps with the state).
      plateau: the :class:`PlateauState`.
      lr: the multiplier used by the most recent update (at init: the one the
        first update uses without a metric; after :func:`observe_plateau`: the
        one the next update uses without a metric). Log this.
    """

    count: Array
    settings: PlateauSchedule
    plateau: PlateauState
    lr: Array


def scale_by_plateau(
    plateau: Plateau | PlateauSchedule,
    schedule: Any = None,
    *,
    min_lr: Any = None,
    flip_sign: bool = False,
) -> Any:
    """An optax transformation scaling updates by a plateau (times a step schedule).

    ``update(updates, state, params, value=metric)`` first feeds ``value`` to
    the plateau (if given; ``value_valid=False`` ignores it, so a jitted step
    can take a metric on every call), then multiplies the updates by
    ``lr = max(schedule(count) * value, min_lr)`` (``-lr`` with ``flip_sign``,
    which makes it a complete learning-rate stage after e.g.
    ``optax.scale_by_adam()``). The applied ``lr`` is stored in the state for
    logging (see :func:`plateau_lr`).

    Args:
      plateau: a :class:`Plateau` (or a ready :class:`PlateauSchedule`); its
        ``init_value`` must be a scalar.
      schedule: optional step schedule (or number) multiplied by the value.
      min_lr: optional floor on the product.
      flip_sign: multiply by ``-lr`` instead of ``lr``.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, optax, jaxsched
    >>> tx = optax.chain(optax.sgd(0.1), jaxsched.scale_by_plateau(jaxsched.plateau(factor=0.5, patience=0)))
    >>> params = jnp.zeros(2); state = tx.init(params)
    >>> g = jnp.ones(2)
    >>> u, state = tx.update(g, state, params, value=1.0)
    >>> u, state = tx.update(g, state, params, value=2.0)    # worse: scale 0.5
    >>> u.tolist(), float(jaxsched.plateau_lr(state))
    ([-0.05000000074505806, -0.05000000074505806], 0.5)
    """
    import optax

    if isinstance(plateau, PlateauSchedule):
        if schedule is not None or min_lr is not None:
            raise TypeError("pass schedule/min_lr either inside the PlateauSchedule or here, not both")
        ps = plateau
    else:
        ps = plateau_schedule(schedule, plateau, min_lr)
    if np.ndim(ps.plateau.init_value) != 0 or np.ndim(ps.plateau.min_value) != 0:
        raise ValueError(
            "scale_by_plateau needs a scalar init_value and min_value (one learning rate for all parameters); "
            f"got shapes {np.shape(ps.plateau.init_value)} and {np.shape(ps.plateau.min_value)}"
        )
    flip = bool(flip_sign)

    def init_fn(params: Any) -> ScaleByPlateauState:
        del params
        st = ps.init()
        count = jnp.zeros((), jnp.int32)
        return ScaleByPlateauState(count, ps, st, ps(st, count))

    def update_fn(
        updates: Any, state: ScaleByPlateauState, params: Any = None, *, value: Any = None, value_valid: Any = None,
        **extra_args: Any,
    ) -> tuple[Any, ScaleByPlateauState]:
        del params, extra_args
        settings, pst = state.settings, state.plateau
        if value is not None:
            pst = settings.update(pst, value, True if value_valid is None else value_valid)
        lr = settings(pst, state.count)
        m = -lr if flip else lr
        updates = jax.tree_util.tree_map(lambda g: g * m.astype(g.dtype), updates)
        return updates, ScaleByPlateauState(_sat_inc(state.count), settings, pst, lr)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _is_sbp(x: Any) -> bool:
    return isinstance(x, ScaleByPlateauState)


def observe_plateau(opt_state: Any, value: Any, where: Any = True) -> Any:
    """Feed a metric to every :func:`scale_by_plateau` state inside ``opt_state``.

    The explicit alternative to ``update(..., value=metric)``: call it after an
    evaluation. The stored ``lr`` becomes the rate the next update will use.

    >>> import jax.numpy as jnp, optax, jaxsched
    >>> tx = optax.chain(optax.scale_by_adam(), jaxsched.scale_by_plateau(
    ...     jaxsched.plateau(factor=0.1, patience=0), schedule=1e-3, flip_sign=True))
    >>> state = tx.init(jnp.zeros(3))
    >>> state = jaxsched.observe_plateau(state, 1.0)
    >>> state = jaxsched.observe_plateau(state, 1.5)
    >>> round(float(jaxsched.plateau_lr(state)), 8)
    0.0001
    """
    found = []

    def f(x: Any) -> Any:
        if not _is_sbp(x):
            return x
        found.append(1)
        pst = x.settings.update(x.plateau, value, where)
        return ScaleByPlateauState(x.count, x.settings, pst, x.settings(pst, x.count))

    out = jax.tree_util.tree_map(f, opt_state, is_leaf=_is_sbp)
    if not found:
        raise ValueError("observe_plateau: opt_state holds no scale_by_plateau state")
    return out


def plateau_lr(opt_state: Any) -> Array:
    """The learning rate recorded by the (single) :func:`scale_by_plateau` in ``opt_state``."""
    found = [x for x in jax.tree_util.tree_leaves(opt_state, is_leaf=_is_sbp) if _is_sbp(x)]
    if len(found) != 1:
        raise ValueError(f"plateau_lr: expected exactly one scale_by_plateau state in opt_state, found {len(found)}")
    return found[0].lr


# ----------------------------------------------------------------------------- checkpointing


def _key(path: Any) -> str:
    k = jax.tree_util.keystr(path, simple=True, separator=".")
    return k if k else "_"


def state_to_dict(tree: Any) -> dict[str, np.ndarray]:
    """Flatten any pytree (a state, settings, an optimizer state, a schedule) to ``{path: ndarray}``.

    Exact: arrays keep their dtype and bits (including ``inf`` in ``best``).

    >>> import jaxsched
    >>> d = jaxsched.state_to_dict(jaxsched.plateau().init())
    >>> sorted(d)[:3], d['best'].item()
    (['avg', 'best', 'cooldown_counter'], inf)
    """
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    out: dict[str, np.ndarray] = {}
    for path, x in leaves:
        k = _key(path)
        if k in out:  # pragma: no cover - distinct paths give distinct keys
            raise ValueError(f"state_to_dict: duplicate key {k!r}")
        out[k] = np.asarray(x)
    return out


def state_from_dict(template: Any, data: dict[str, Any]) -> Any:
    """Rebuild a pytree shaped like ``template`` from :func:`state_to_dict` output.

    Keys, shapes and dtype kinds must match the template (a clear error says
    which does not); values are cast to the template's dtypes.
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    keys = [_key(p) for p, _ in leaves]
    missing = [k for k in keys if k not in data]
    extra = sorted(set(data) - set(keys))
    if missing or extra:
        raise ValueError(f"state_from_dict: keys do not match the template; missing {missing}, unexpected {extra}")
    new = []
    for k, (_, t) in zip(keys, leaves):
        a = np.asarray(data[k])
        tt = np.asarray(t)
        if a.shape != tt.shape:
            raise ValueError(f"state_from_dict: {k!r} has shape {a.shape}, the template has {tt.shape}")
        kinds = {a.dtype.kind, tt.dtype.kind}
        if a.dtype.kind != tt.dtype.kind and not kinds <= {"i", "u"}:
            raise TypeError(f"state_from_dict: {k!r} has dtype {a.dtype}, the template has {tt.dtype}")
        if a.dtype.kind in "iu" and tt.dtype.kind in "iu" and a.size:
            info = np.iinfo(tt.dtype)
            if int(a.min()) < info.min or int(a.max()) > info.max:  # astype would wrap (2**32 + 1 -> 1)
                raise ValueError(f"state_from_dict: {k!r} holds {a.tolist()}, which does not fit {tt.dtype}")
        new.append(jnp.asarray(a.astype(tt.dtype)))
    return jax.tree_util.tree_unflatten(treedef, new)


def state_to_bytes(tree: Any) -> bytes:
    """Serialize any pytree of arrays to bytes (a NumPy ``.npz``; no pickle).

    >>> import jaxsched
    >>> p = jaxsched.plateau(factor=0.5, patience=0)
    >>> s, _ = p.run([1.0, 2.0])
    >>> r = jaxsched.state_from_bytes(p.init(), jaxsched.state_to_bytes(s))
    >>> float(r.value), float(r.best)
    (0.5, 1.0)
    """
    buf = io.BytesIO()
    np.savez(buf, **state_to_dict(tree))
    return buf.getvalue()


def state_from_bytes(template: Any, data: bytes) -> Any:
    """Inverse of :func:`state_to_bytes`, shaped by ``template`` (e.g. ``plateau.init()``)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"state_from_bytes: data must be bytes from state_to_bytes, got {type(data).__name__}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(
            f"state_from_bytes: the data is not a state written by state_to_bytes ({len(data)} bytes: "
            f"{type(e).__name__}: {e})"
        ) from None
    return state_from_dict(template, d)


def _orbax() -> Any:
    try:
        import orbax.checkpoint as ocp
    except ImportError as e:
        raise ImportError(
            "orbax is not installed (pip install orbax-checkpoint); state_to_bytes/state_from_bytes need nothing"
        ) from e
    return ocp


def orbax_save(directory: Any, tree: Any) -> None:
    """Save a pytree with orbax (``StandardCheckpointer``), if orbax is installed."""
    ocp = _orbax()
    with ocp.StandardCheckpointer() as ck:
        ck.save(directory, state_to_dict(tree))


def orbax_restore(directory: Any, template: Any) -> Any:
    """Restore a pytree saved by :func:`orbax_save`, shaped like ``template``."""
    ocp = _orbax()
    with ocp.StandardCheckpointer() as ck:
        d = ck.restore(directory)
    return state_from_dict(template, {k: np.asarray(v) for k, v in d.items()})
