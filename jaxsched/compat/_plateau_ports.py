"""Peer-exact reduce-on-plateau constructors, under the peers' own names.

Each returns the one jaxsched design (:class:`jaxsched._plateau.Plateau`, a
pure state machine of array leaves) with the peer's settings and counting:

* ``ReduceLROnPlateau`` (torch 2.13), also transformers' ``reduce_lr_on_plateau``
  / ``get_reduce_on_plateau_schedule``: a :class:`Plateau` whose value is the
  absolute learning rate (one per param group if ``lr`` is a list).
* ``PlateauLRScheduler`` (timm 1.0): a :class:`TimmPlateau`, the torch machine
  plus timm's epoch-indexed linear warmup during which metrics are ignored.
* ``keras_reduce_lr_on_plateau`` (Keras 3 callback): a :class:`Plateau`.
* ``reduce_on_plateau`` (optax 0.2.8 ``contrib``): an optax transformation that
  scales updates, as optax's does, via :func:`jaxsched.scale_by_plateau`.

The ports compare metrics as IEEE floats like the peers (``nonfinite="ieee"``);
pass ``nonfinite="bad"`` or ``"skip"`` for jaxsched's safer rules.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from .. import _validate as V
from .._base import Array, float_dtype, pytree, safe_div
from .._plateau import (
    MODES,
    NONFINITE,
    Plateau,
    PlateauState,
    _check_groups,
    _repr,
    group_leaf,
    int_leaf,
    scale_by_plateau,
)

THRESHOLD_MODES = ("rel", "abs")


def _torch_like(
    lr: Any,
    mode: Any,
    factor: Any,
    patience: Any,
    threshold: Any,
    threshold_mode: Any,
    cooldown: Any,
    min_lr: Any,
    eps: Any,
    nonfinite: Any,
    names: dict[str, str],
) -> Plateau:
    n = names
    f = V.real(n["factor"], factor, lo=0.0, hi=1.0, hi_open=True)
    thr = V.real(n["threshold"], threshold)
    tm = V.choice(n["threshold_mode"], threshold_mode, THRESHOLD_MODES)
    iv = group_leaf(n["lr"], lr)
    if not V.is_traced(min_lr) and isinstance(min_lr, (list, tuple)) and not V.is_traced(lr) and np.ndim(lr) == 0:
        if len(min_lr) != 1:
            raise ValueError(
                f"{n['min_lr']} has {len(min_lr)} entries but there is one param group ({n['lr']}={lr!r}): {min_lr!r}"
            )
        min_lr = min_lr[0]
    mv = group_leaf(n["min_lr"], min_lr)
    _check_groups(lr, min_lr, iv, mv, n["lr"], n["min_lr"])
    zero = jnp.zeros((), thr.dtype)
    return Plateau(
        factor=f,
        patience=int_leaf(n["patience"], patience),
        patience_offset=jnp.asarray(1, jnp.int32),
        rtol=jnp.where(tm == 0, thr, zero),
        atol=jnp.where(tm == 1, thr, zero),
        mode=V.choice(n["mode"], mode, MODES),
        cooldown=int_leaf(n["cooldown"], cooldown),
        min_value=mv,
        eps=V.real(n["eps"], eps),
        init_value=iv,
        accumulation_size=jnp.asarray(1, jnp.int32),
        nonfinite=V.choice("nonfinite", nonfinite, NONFINITE),
        patience_rule=jnp.asarray(0, jnp.int32),
    )


_TORCH_NAMES = {
    k: k for k in ("lr", "mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps")
}


def ReduceLROnPlateau(  # noqa: N802 - the peer's name
    lr: Any,
    mode: Any = "min",
    factor: Any = 0.1,
    patience: Any = 10,
    threshold: Any = 1e-4,
    threshold_mode: Any = "rel",
    cooldown: Any = 0,
    min_lr: Any = 0.0,
    eps: Any = 1e-8,
    *,
    nonfinite: Any = "ieee",
) -> Plateau:
    """torch's ``ReduceLROnPlateau`` as a pure state machine; the value is the lr.

    Per ``update(state, metric)`` (torch's ``step(metric)``): better means
    ``a < best * (1 - threshold)`` (min, rel), ``a < best - threshold`` (min,
    abs), ``a > best * (1 + threshold)`` (max, rel) or ``a > best + threshold``
    (max, abs). A better metric becomes ``best`` and resets the bad count,
    otherwise it adds one; in cooldown the counter ticks down and the bad count
    is zeroed; when ``num_bad > patience``:

    .. math:: lr' = \\max(lr \\cdot factor,\\ min\\_lr), \\quad
              lr \\leftarrow lr' \\text{ if } lr - lr' > eps

    then the cooldown restarts. So the lr drops at the ``patience + 1``-th
    consecutive bad metric.

    Args:
      lr: the optimizer's learning rate (torch's ``param_group['lr']``); a list
        gives one lr per param group (and ``min_lr`` may then be a list).
      mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps:
        torch's arguments and defaults. ``factor`` must be in [0, 1) (torch
        raises for ``factor >= 1``; a negative factor is rejected here).
      nonfinite: ``"ieee"`` (torch's behaviour: NaN is never better, ``-inf`` in
        min mode becomes best), or jaxsched's ``"bad"``/``"skip"``.

    Returns:
      A :class:`jaxsched.Plateau`; ``init()``, ``update(state, metric)``, and
      ``state.value`` is ``[g['lr'] for g in optimizer.param_groups]``.

    >>> from jaxsched.compat._plateau_ports import ReduceLROnPlateau
    >>> p = ReduceLROnPlateau(0.1, patience=2, factor=0.5)
    >>> s, lrs = p.run([5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0])
    >>> [round(x, 6) for x in lrs.tolist()]
    [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    """
    return _torch_like(lr, mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps, nonfinite,
                       _TORCH_NAMES)


def reduce_lr_on_plateau(
    lr: Any, num_warmup_steps: Any = None, num_training_steps: Any = None, **scheduler_specific_kwargs: Any
) -> Plateau:
    """transformers' ``"reduce_lr_on_plateau"``: torch's ``ReduceLROnPlateau(**kwargs)``.

    ``get_scheduler("reduce_lr_on_plateau", ...)`` ignores warmup and the
    number of training steps (silently, in transformers 5.23); so does this.
    The Trainer steps it after each evaluation with
    ``metrics["eval_" + metric_for_best_model]``: call ``update(state, metric)``
    there. Keyword arguments are torch's (see :func:`ReduceLROnPlateau`).

    >>> from jaxsched.compat._plateau_ports import reduce_lr_on_plateau
    >>> p = reduce_lr_on_plateau(5e-5, patience=0)
    >>> s, lrs = p.run([1.0, 1.0])
    >>> [round(x, 9) for x in lrs.tolist()]
    [5e-05, 5e-06]
    """
    del num_warmup_steps, num_training_steps
    allowed = {"mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps", "nonfinite"}
    bad = sorted(set(scheduler_specific_kwargs) - allowed)
    if bad:
        raise TypeError(f"reduce_lr_on_plateau got unexpected keyword arguments {bad}; torch accepts {sorted(allowed)}")
    return ReduceLROnPlateau(lr, **scheduler_specific_kwargs)


get_reduce_on_plateau_schedule = reduce_lr_on_plateau


# ----------------------------------------------------------------------------- timm


@pytree
class TimmPlateau:
    """timm's ``PlateauLRScheduler``: torch's plateau plus an epoch-indexed warmup.

    ``step(state, epoch, metric)`` is timm's ``step(epoch, metric)``: for
    ``epoch <= warmup_t`` the lr is ``warmup_lr_init + epoch * d`` with
    ``d = (lr - warmup_lr_init) / warmup_t`` (``d = 1`` when ``warmup_t = 0``,
    as in timm) and the metric is ignored; afterwards the torch machine runs
    on the current lr. ``state.value`` is the lr (see :meth:`lr`).
    """

    plateau: Plateau
    warmup_t: Array
    warmup_lr_init: Array

    def init(self) -> PlateauState:
        """The state after construction: lr = ``warmup_lr_init`` if ``warmup_t`` else the base lr."""
        s = self.plateau.init()
        warm = jnp.broadcast_to(self.warmup_lr_init, jnp.shape(s.value)).astype(s.value.dtype)
        return PlateauState(
            value=jnp.where(self.warmup_t != 0, warm, s.value),
            best=s.best,
            num_bad=s.num_bad,
            cooldown_counter=s.cooldown_counter,
            count=s.count,
            avg=s.avg,
            num_evals=s.num_evals,
            num_nonfinite=s.num_nonfinite,
        )

    def step(self, state: PlateauState, epoch: Any, metric: Any = None) -> PlateauState:
        """timm's ``step(epoch, metric)``; ``metric=None`` feeds no metric (fine during warmup)."""
        dt = state.value.dtype
        e = jnp.asarray(epoch).astype(dt)
        in_warm = e <= self.warmup_t
        base = self.plateau.init_value.astype(dt)
        d = jnp.where(self.warmup_t != 0, safe_div(base - self.warmup_lr_init, self.warmup_t), jnp.ones((), dt))
        warm_lr = self.warmup_lr_init + e * d
        if metric is None:
            after = state
        else:
            after = self.plateau.update(state, metric, ~in_warm)
        return PlateauState(
            value=jnp.where(in_warm, warm_lr, after.value),
            best=after.best,
            num_bad=after.num_bad,
            cooldown_counter=after.cooldown_counter,
            count=after.count,
            avg=after.avg,
            num_evals=after.num_evals,
            num_nonfinite=after.num_nonfinite,
        )

    def lr(self, state: PlateauState) -> Array:
        """The current learning rate(s)."""
        return state.value

    def __repr__(self) -> str:
        return _repr(self)


def PlateauLRScheduler(  # noqa: N802 - the peer's name
    lr: Any,
    decay_rate: Any = 0.1,
    patience_t: Any = 10,
    threshold: Any = 1e-4,
    cooldown_t: Any = 0,
    warmup_t: Any = 0,
    warmup_lr_init: Any = 0.0,
    lr_min: Any = 0.0,
    mode: Any = "max",
    noise_range_t: Any = None,
    noise_type: str = "normal",
    noise_pct: float = 0.67,
    noise_std: float = 1.0,
    noise_seed: Any = None,
    initialize: bool = True,
    *,
    verbose: Any = None,
    nonfinite: Any = "ieee",
) -> TimmPlateau:
    """timm's ``PlateauLRScheduler``: torch's plateau (rel threshold, ``eps=1e-8``) with warmup.

    ``decay_rate``, ``patience_t``, ``cooldown_t`` and ``lr_min`` are torch's
    ``factor``, ``patience``, ``cooldown`` and ``min_lr``; the default mode is
    ``"max"`` (accuracy). Warmup covers ``epoch <= warmup_t`` inclusive:
    ``lr = warmup_lr_init + epoch * (lr - warmup_lr_init) / warmup_t``, and
    metrics passed then are ignored. timm's training loop calls
    ``step(epoch + 1, metric)`` at each epoch end.

    Not supported: lr noise (``noise_range_t``), which timm draws from torch's
    RNG and cannot be reproduced. ``initialize`` (and the older releases'
    ``verbose``) are accepted and have no effect. Checked against timm 1.0.31,
    whose ``step(epoch, None)`` after warmup leaves the plateau untouched.

    >>> from jaxsched.compat._plateau_ports import PlateauLRScheduler
    >>> sch = PlateauLRScheduler(0.1, decay_rate=0.5, patience_t=0, warmup_t=2, warmup_lr_init=0.0)
    >>> s = sch.init()
    >>> out = []
    >>> for epoch, acc in zip(range(1, 6), [0.1, 0.2, 0.5, 0.4, 0.4]):
    ...     s = sch.step(s, epoch, acc); out.append(round(float(sch.lr(s)), 6))
    >>> out
    [0.05, 0.1, 0.1, 0.05, 0.025]
    """
    del verbose, initialize, noise_type, noise_pct, noise_std, noise_seed
    if noise_range_t is not None:
        raise ValueError(
            f"noise_range_t={noise_range_t!r}: timm's lr noise comes from torch's RNG and cannot be reproduced; "
            "use noise_range_t=None"
        )
    names = {
        "lr": "lr", "mode": "mode", "factor": "decay_rate", "patience": "patience_t", "threshold": "threshold",
        "threshold_mode": "threshold_mode", "cooldown": "cooldown_t", "min_lr": "lr_min", "eps": "eps",
    }
    p = _torch_like(lr, mode, decay_rate, patience_t, threshold, "rel", cooldown_t, lr_min, 1e-8, nonfinite, names)
    return TimmPlateau(
        plateau=p,
        warmup_t=V.real("warmup_t", warmup_t, lo=0.0),
        warmup_lr_init=V.real("warmup_lr_init", warmup_lr_init),
    )


# ----------------------------------------------------------------------------- Keras


def keras_reduce_lr_on_plateau(
    lr: Any,
    monitor: str = "val_loss",
    factor: Any = 0.1,
    patience: Any = 10,
    verbose: int = 0,
    mode: str = "auto",
    min_delta: Any = 1e-4,
    cooldown: Any = 0,
    min_lr: Any = 0.0,
    *,
    nonfinite: Any = "ieee",
) -> Plateau:
    """Keras 3's ``keras.callbacks.ReduceLROnPlateau`` as a state machine (call ``update`` per epoch end).

    Keras counts ``wait`` only outside the cooldown, checks the cooldown
    *after* decrementing it, and reduces when ``wait >= patience`` on a bad
    epoch, only while ``lr > min_lr``. In jaxsched's terms:
    ``patience_offset=0``, ``patience=max(patience, 1)``,
    ``cooldown=max(cooldown - 1, 0)``, ``atol=min_delta``, ``rtol=0``,
    ``eps=0``. ``mode="auto"`` is ``"min"`` for ``"loss"`` and ``"val_loss"``;
    for any other monitor Keras 3 reads the direction from the model's metric
    object (AUC and accuracy go up), which a schedule cannot see, so it needs
    ``mode="min"`` or ``"max"`` (a ``ValueError`` says so, as Keras raises for
    a metric it cannot place). Keras 2 guessed ``"max"`` from ``"acc"`` in the
    name; that guess minimised ``val_auc``.
    Keras keeps the lr in float32; jaxsched's default float32 does the same.

    >>> from jaxsched.compat._plateau_ports import keras_reduce_lr_on_plateau
    >>> p = keras_reduce_lr_on_plateau(0.1, factor=0.5, patience=2)
    >>> s, lrs = p.run([5.0, 4.0, 4.0, 4.0])           # one epoch earlier than torch
    >>> [round(x, 6) for x in lrs.tolist()]
    [0.1, 0.1, 0.1, 0.05]
    """
    del verbose
    if not isinstance(monitor, str):
        raise TypeError(f"monitor must be a string, got {monitor!r}")
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be one of ['auto', 'min', 'max'], got {mode!r}")
    if mode == "auto" and monitor.removeprefix("val_") != "loss":
        raise ValueError(
            f"keras_reduce_lr_on_plateau: mode='auto' for monitor={monitor!r} needs the metric's direction, which "
            "Keras 3 reads from the compiled metric object; pass mode='max' (accuracy, AUC, ...) or mode='min'"
        )
    m = "min" if mode == "auto" else mode
    f = V.real("factor", factor, hi=1.0, hi_open=True)
    pat = int_leaf("patience", patience)
    cd = int_leaf("cooldown", cooldown)
    iv = group_leaf("lr", lr)
    mv = group_leaf("min_lr", min_lr)
    _check_groups(lr, min_lr, iv, mv, "lr", "min_lr")
    return Plateau(
        factor=f,
        patience=jnp.maximum(pat, 1),
        patience_offset=jnp.asarray(0, jnp.int32),
        rtol=jnp.zeros((), float_dtype()),
        atol=V.real("min_delta", min_delta),
        mode=V.choice("mode", m, MODES),
        cooldown=jnp.maximum(cd - 1, 0),
        min_value=mv,
        eps=jnp.zeros((), float_dtype()),
        init_value=iv,
        accumulation_size=jnp.asarray(1, jnp.int32),
        nonfinite=V.choice("nonfinite", nonfinite, NONFINITE),
        patience_rule=jnp.asarray(0, jnp.int32),
    )


# ----------------------------------------------------------------------------- optax


def reduce_on_plateau(
    factor: Any = 0.1,
    patience: Any = 10,
    rtol: Any = 1e-4,
    atol: Any = 0.0,
    cooldown: Any = 0,
    accumulation_size: Any = 1,
    min_scale: Any = 0.0,
    *,
    nonfinite: Any = "ieee",
) -> Any:
    """optax's ``contrib.reduce_on_plateau``: a transformation scaling updates by a plateau scale.

    Every ``accumulation_size`` values (``update(..., value=v)``) their mean
    ``a`` is evaluated: it improves when ``a < (1 - rtol) * best - atol``; outside
    a cooldown the scale drops (``scale = max(scale * factor, min_scale)``) when
    the count of non-improving evaluations equals ``patience``, one evaluation
    earlier than torch. optax tests ``plateau_count == patience`` after
    counting, so ``patience=0`` reduces at every *improving* evaluation outside
    a cooldown and never at a bad one; the port keeps that
    (``patience_rule="eq"``). The updates are multiplied by the
    new scale. The state is a :class:`jaxsched.ScaleByPlateauState`
    (``state.plateau.value`` is optax's ``scale``).

    Validation follows optax: ``factor`` in (0, 1); ``rtol`` in [0, 1];
    ``atol >= 0``; not both zero. Also ``min_scale`` in [0, 1] (optax would
    raise the scale to ``min_scale > 1`` at the first evaluation; rejected).

    >>> import jax.numpy as jnp
    >>> from jaxsched.compat._plateau_ports import reduce_on_plateau
    >>> tx = reduce_on_plateau(factor=0.5, patience=1)
    >>> st = tx.init(jnp.zeros(1))
    >>> for v in [1.0, 1.0, 1.0]:
    ...     u, st = tx.update(jnp.ones(1), st, value=v)
    >>> u.tolist()
    [0.25]
    """
    f = V.real("factor", factor, lo=0.0, lo_open=True, hi=1.0, hi_open=True)
    r = V.real("rtol", rtol, lo=0.0, hi=1.0)
    a = V.real("atol", atol, lo=0.0)
    if not (V.is_traced(rtol) or V.is_traced(atol)) and float(r) == 0.0 and float(a) == 0.0:
        raise ValueError(f"at least one of rtol and atol must be positive, got rtol={rtol!r}, atol={atol!r}")
    p = Plateau(
        factor=f,
        patience=int_leaf("patience", patience),
        patience_offset=jnp.asarray(0, jnp.int32),
        rtol=r,
        atol=a,
        mode=jnp.asarray(0, jnp.int32),
        cooldown=int_leaf("cooldown", cooldown),
        min_value=V.real("min_scale", min_scale, lo=0.0, hi=1.0),
        eps=jnp.zeros((), float_dtype()),
        init_value=jnp.ones((), float_dtype()),
        accumulation_size=int_leaf("accumulation_size", accumulation_size, lo=1),
        nonfinite=V.choice("nonfinite", nonfinite, NONFINITE),
        patience_rule=jnp.asarray(1, jnp.int32),
    )
    return scale_by_plateau(p)


__all__ = [
    "ReduceLROnPlateau",
    "reduce_lr_on_plateau",
    "get_reduce_on_plateau_schedule",
    "PlateauLRScheduler",
    "TimmPlateau",
    "keras_reduce_lr_on_plateau",
    "reduce_on_plateau",
]
