"""Training recipes that never recompile when a setting changes.

The rule behind every recipe here: **the schedule is an argument of the
jitted step, never a constant closed over by it.** A schedule is a pytree, so
passing a different setting of the same structure reuses the compiled
program, and ``jax.vmap`` over a batch of settings trains them all at once.

- :func:`scheduled` turns an optax optimizer factory into ``hp -> optimizer``
  where ``hp`` is a schedule (the learning rate) or a dict of schedules and
  numbers (``{"learning_rate": ..., "b1": ...}``); everything goes through
  ``optax.inject_hyperparams``, so the optimizer state records the values it
  actually applied.
- :func:`grouped` does the same per parameter group (``optax.multi_transform``);
  :func:`layerwise_decay` builds per-layer schedules from one schedule.
- :func:`onecycle_hparams` pairs a one-cycle rate with the matching momentum
  (or Adam ``b1``) cycle.
- :func:`with_state` binds a stateful schedule (a reduce-on-plateau
  ``PlateauSchedule``) to its current state, so the plateau state is an
  argument of the step too: updating it never recompiles.
- :func:`make_train_step` returns ``TrainStep(init, step)``; ``step(hp,
  params, opt_state, batch)`` logs the loss and the applied hyperparameters
  (:func:`applied`); ``TrainStep.run`` scans it over a stack of batches.

optax's own internals are not clean under
``jax_numpy_dtype_promotion="strict"`` (Adam's bias correction mixes an int32
count with a float32 ``b1`` array), so the recipes trace the optimizer's
``init``/``update`` under standard promotion; the user's loss function is
traced under whatever promotion the caller set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _validate as V
from ._base import Array, Schedule, pytree
from ._presets import onecycle, onecycle_momentum

_INJECT_STATES = (optax.InjectStatefulHyperparamsState, optax.InjectHyperparamsState)


class _Fixed:
    """A number as a schedule-like callable, so it is read from ``hp`` at every update."""

    def __init__(self, value: Any):
        self.value = value

    def __call__(self, count: Any) -> jax.Array:
        return jnp.asarray(self.value)


def _as_hp(where: str, hp: Any) -> dict[str, Any]:
    if isinstance(hp, Schedule):
        return {"learning_rate": hp}
    if not isinstance(hp, Mapping):
        raise TypeError(
            f"{where}: hp must be a schedule (the learning rate) or a dict of hyperparameter name -> "
            f"schedule or number, got {type(hp).__name__}: {hp!r}"
        )
    out = {}
    for k, v in hp.items():
        if not isinstance(k, str):
            raise TypeError(f"{where}: hyperparameter names must be strings, got {k!r}")
        out[k] = v if callable(v) else _Fixed(v)
    return out


def scheduled(opt_fn: Callable[..., optax.GradientTransformation], **fixed: Any) -> Callable[[Any], Any]:
    """``hp -> optax.inject_hyperparams(opt_fn)(**hp, **fixed)``: an optimizer built from an argument.

    ``hp`` is a schedule (used as ``learning_rate``) or a dict mapping
    ``opt_fn``'s hyperparameter names to schedules or numbers (arrays,
    traced values). Numbers in ``hp`` are read at every update (not frozen at
    ``init``), so the same optimizer state works with any ``hp`` of the
    same structure. ``fixed`` keywords are passed through as static
    arguments (not logged, not swept). Call the result inside the jitted
    step with the step's ``hp`` argument.

    The state records, in ``state.hyperparams``, the value of every
    hyperparameter used by the most recent update; read it with
    :func:`applied`.

    >>> import jax.numpy as jnp, optax, jaxsched
    >>> make = jaxsched.scheduled(optax.sgd)
    >>> s = jaxsched.linear(1.0, 0.0, 10)
    >>> tx = make(s)
    >>> p = jnp.zeros(2)
    >>> state = tx.init(p)
    >>> u, state = tx.update(jnp.ones(2), state, p)
    >>> u, state = tx.update(jnp.ones(2), state, p)
    >>> round(float(u[0]), 4), round(float(jaxsched.applied(state)), 4)
    (-0.9, 0.9)
    """
    if not callable(opt_fn):
        raise TypeError(f"scheduled: opt_fn must be an optax optimizer factory, got {opt_fn!r}")

    def make(hp: Any) -> optax.GradientTransformationExtraArgs:
        kw = _as_hp("scheduled", hp)
        both = sorted(set(kw) & set(fixed))
        if both:
            raise ValueError(f"scheduled: {both} given both in hp and as fixed arguments")
        return optax.inject_hyperparams(opt_fn, static_args=tuple(fixed))(**kw, **fixed)

    return make


def grouped(
    opt_fn: Callable[..., optax.GradientTransformation] | Mapping[str, Callable[..., optax.GradientTransformation]],
    labels: Any,
    **fixed: Any,
) -> Callable[[Mapping[str, Any]], Any]:
    """Per-parameter-group schedules: ``hp_by_group -> optax.multi_transform``.

    .. math:: \\theta_g \\leftarrow \\theta_g + \\mathrm{opt}_g(\\nabla_{\\theta_g}; hp_g(t))

    ``labels`` is what ``optax.multi_transform`` takes: a pytree of group
    names matching the parameters, or a function ``params -> labels``.
    ``opt_fn`` is one optax factory for every group or a dict group -> factory.
    The result maps ``{group: hp}`` (each ``hp`` as in :func:`scheduled`) to
    one optimizer; :func:`applied` then returns a dict group -> value.

    >>> import jax.numpy as jnp, optax, jaxsched
    >>> params = {"body": jnp.zeros(2), "head": jnp.zeros(1)}
    >>> make = jaxsched.grouped(optax.sgd, {"body": "body", "head": "head"})
    >>> s = jaxsched.constant(1.0)
    >>> tx = make({"body": 0.1 * s, "head": s})
    >>> state = tx.init(params)
    >>> grads = {"body": jnp.ones(2), "head": jnp.ones(1)}
    >>> u, state = tx.update(grads, state, params)
    >>> {k: round(float(v), 4) for k, v in jaxsched.applied(state).items()}
    {'body': 0.1, 'head': 1.0}
    """
    if not (callable(opt_fn) or isinstance(opt_fn, Mapping)):
        raise TypeError(f"grouped: opt_fn must be an optax factory or a dict group -> factory, got {opt_fn!r}")

    def make(hp_by_group: Mapping[str, Any]) -> optax.GradientTransformation:
        if not isinstance(hp_by_group, Mapping):
            raise TypeError(f"grouped: expected a dict group -> hp, got {type(hp_by_group).__name__}")
        if isinstance(opt_fn, Mapping):
            missing = sorted(set(hp_by_group) - set(opt_fn))
            if missing:
                raise ValueError(f"grouped: no optimizer factory for groups {missing}; have {sorted(opt_fn)}")
            fns = opt_fn
        else:
            fns = {g: opt_fn for g in hp_by_group}
        transforms = {g: scheduled(fns[g], **fixed)(hp) for g, hp in hp_by_group.items()}
        return optax.multi_transform(transforms, labels)

    return make


def layerwise_decay(
    schedule: Schedule, decay: Any, names: Sequence[str], *, reverse: bool = False
) -> dict[str, Schedule]:
    """One schedule per layer, scaled geometrically with depth.

    .. math:: \\eta_i(t) = \\gamma^{i}\\, \\eta(t), \\quad i = 0, \\dots, L - 1

    ``names`` are the groups ordered from the input side (``i = 0``) to the
    output side; deeper layers get smaller rates when ``decay < 1``. With
    ``reverse=True`` the exponent is ``L - 1 - i``: the output layer keeps the
    full rate and layers nearer the input get smaller ones (the layer-wise
    rate decay used to fine-tune pretrained transformers, e.g. BEiT,
    ELECTRA). ``decay`` is a leaf of every result (it can be swept or
    differentiated). Feed the dict to :func:`grouped`.

    >>> import jaxsched
    >>> d = jaxsched.layerwise_decay(jaxsched.constant(1.0), 0.5, ["l0", "l1", "l2"])
    >>> {k: float(s(0)) for k, s in d.items()}
    {'l0': 1.0, 'l1': 0.5, 'l2': 0.25}
    """
    V.schedule("schedule", schedule)
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence) or not names:
        raise TypeError(f"layerwise_decay: names must be a non-empty sequence of group names, got {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"layerwise_decay: names must be distinct, got {list(names)!r}")
    g = V.positive("decay", decay)
    n = len(names)
    return {name: schedule * (g ** (n - 1 - i if reverse else i)) for i, name in enumerate(names)}


def onecycle_hparams(
    peak_value: Any,
    total_steps: Any,
    *,
    pct_start: Any = 0.3,
    div_factor: Any = 25.0,
    final_div_factor: Any = 1e4,
    base_momentum: Any = 0.85,
    max_momentum: Any = 0.95,
    three_phase: Any = False,
    anneal_strategy: Any = "cos",
    momentum_name: str = "b1",
) -> dict[str, Schedule]:
    """The one-cycle policy for both the rate and the momentum, as an ``hp`` dict.

    ``{"learning_rate": onecycle(...), momentum_name: onecycle_momentum(...)}``:
    momentum falls from ``max_momentum`` to ``base_momentum`` while the rate
    rises, and climbs back while it falls (Smith & Topin, 2019). Use
    ``momentum_name="b1"`` with ``optax.adam``/``adamw`` and ``"momentum"``
    with ``optax.sgd``; pass the dict to :func:`scheduled`'s optimizer.

    >>> import jax, optax, jaxsched
    >>> hp = jaxsched.onecycle_hparams(1.0, 100, pct_start=0.25, anneal_strategy="linear")
    >>> at = jax.jit(lambda hp, t: {k: s(t) for k, s in hp.items()})(hp, 25)
    >>> round(float(at["learning_rate"]), 4), round(float(at["b1"]), 4)
    (1.0, 0.85)
    >>> tx = jaxsched.scheduled(optax.adam)(hp)
    """
    if not isinstance(momentum_name, str) or not momentum_name or momentum_name == "learning_rate":
        raise ValueError(
            f"onecycle_hparams: momentum_name must be a hyperparameter name like 'b1', got {momentum_name!r}"
        )
    lr = onecycle(peak_value, total_steps, pct_start, div_factor, final_div_factor, three_phase, anneal_strategy)
    mom = onecycle_momentum(total_steps, pct_start, base_momentum, max_momentum, three_phase, anneal_strategy)
    return {"learning_rate": lr, momentum_name: mom}


@pytree
class WithState(Schedule):
    """``lr(t) = schedule(state, t)``: a stateful schedule bound to its current state (see :func:`with_state`)."""

    schedule: Any
    state: Any

    def _eval(self, t: Array) -> Array:
        return jnp.asarray(self.schedule(self.state, t))


def with_state(schedule: Any, state: Any) -> WithState:
    """Bind a stateful schedule to its current state: an ordinary schedule of the step.

    .. math:: \\eta(t) = f(s, t)

    ``schedule`` is a pytree callable as ``schedule(state, step)``, such as a
    reduce-on-plateau ``PlateauSchedule`` (``lr = max(base(t) * value,
    min_lr)``); ``state`` is its state pytree. The result is a schedule whose
    leaves are the settings *and* the state, so pass it as the ``hp`` of a
    train step: after each evaluation, ``state = schedule.update(state,
    metric)`` and bind again; the compiled step is reused (the state is data,
    not a constant). Under ``vmap`` each setting carries its own state.

    >>> import jax, jax.numpy as jnp, optax, jaxsched
    >>> ps = jaxsched.plateau_schedule(jaxsched.constant(0.1), jaxsched.plateau(factor=0.5, patience=0))
    >>> state = ps.init()
    >>> ts = jaxsched.make_train_step(lambda w, x: jnp.sum((w - x) ** 2), jaxsched.scheduled(optax.sgd))
    >>> step = jax.jit(ts.step)
    >>> w = jnp.zeros(2)
    >>> opt_state = ts.init(jaxsched.with_state(ps, state), w)
    >>> for metric in (1.0, 2.0, 3.0):            # worse twice: the rate halves twice
    ...     state = ps.update(state, metric)
    ...     w, opt_state, info = step(jaxsched.with_state(ps, state), w, opt_state, jnp.ones(2))
    >>> round(float(info["learning_rate"]), 6), step._cache_size()
    (0.025, 1)
    """
    if not callable(schedule):
        raise TypeError(f"with_state: schedule must be callable as schedule(state, step), got {schedule!r}")
    if not jax.tree_util.tree_leaves(state) and state is not None:
        raise ValueError(f"with_state: state must be a pytree of arrays (e.g. from schedule.init()), got {state!r}")
    return WithState(schedule, state)


def _group_label(path: tuple[Any, ...]) -> str:
    keys = [str(k.key) for k in path if isinstance(k, jax.tree_util.DictKey)]
    return "/".join(keys) if keys else jax.tree_util.keystr(path)


def applied(opt_state: Any, name: str = "learning_rate") -> Any:
    """The hyperparameter ``name`` used by the most recent update, read from the optimizer state.

    Finds every ``optax.inject_hyperparams`` state inside ``opt_state`` (the
    optimizers from :func:`scheduled` and :func:`grouped` are built that way).
    One such state gives its value; several (one per group of
    ``optax.multi_transform``) give a dict group -> value. Right after
    ``init`` it is the value at step 0. Works on traced and batched states
    (inside ``jit``/``vmap``).

    >>> import jax.numpy as jnp, optax, jaxsched
    >>> tx = jaxsched.scheduled(optax.adam)({"learning_rate": jaxsched.constant(0.1), "b1": 0.8})
    >>> state = tx.init(jnp.zeros(3))
    >>> round(float(jaxsched.applied(state, "b1")), 4)
    0.8
    """
    if not isinstance(name, str):
        raise TypeError(f"applied: name must be a string, got {name!r}")
    found = jax.tree_util.tree_flatten_with_path(opt_state, is_leaf=lambda x: isinstance(x, _INJECT_STATES))[0]
    states = [(p, s) for p, s in found if isinstance(s, _INJECT_STATES)]
    if not states:
        raise ValueError(
            "applied: no optax.inject_hyperparams state in opt_state; build the optimizer with "
            "jaxsched.scheduled or jaxsched.grouped (or optax.inject_hyperparams)"
        )
    hits = [(p, s.hyperparams[name]) for p, s in states if name in s.hyperparams]
    if not hits:
        have = sorted({k for _, s in states for k in s.hyperparams})
        raise ValueError(f"applied: no hyperparameter {name!r} in the optimizer state; it has {have}")
    if len(states) == 1:
        return hits[0][1]
    return {_group_label(p): v for p, v in hits}


class TrainStep(NamedTuple):
    """``init(hp, params) -> opt_state`` and ``step(hp, params, opt_state, batch) -> (params, opt_state, info)``.

    ``hp`` (a schedule, a dict of them, or any pytree the optimizer maker
    understands) is an ordinary argument: jit ``step`` once and call it with
    any setting of the same structure, or ``vmap`` it over a batch of
    settings. ``info`` holds ``"loss"``, ``"aux"`` (with ``has_aux``) and one
    entry per logged hyperparameter (:func:`applied`).
    """

    init: Callable[..., Any]
    step: Callable[..., Any]

    def run(self, hp: Any, params: Any, opt_state: Any, batches: Any) -> tuple[Any, Any, Any]:
        """Scan ``step`` over the leading axis of ``batches``; returns ``(params, opt_state, history)``.

        ``history`` stacks each step's ``info`` (loss and applied rates per step).
        """
        def body(carry: Any, batch: Any) -> tuple[Any, Any]:
            p, s = carry
            p, s, info = self.step(hp, p, s, batch)
            return (p, s), info

        (params, opt_state), history = jax.lax.scan(body, (params, opt_state), batches)
        return params, opt_state, history


def make_train_step(
    loss_fn: Callable[..., Any],
    make_optimizer: Callable[[Any], optax.GradientTransformation],
    *,
    has_aux: bool = False,
    log: Sequence[str] = ("learning_rate",),
) -> TrainStep:
    """A train step that takes its schedule as an argument (and so never recompiles for a new setting).

    .. math:: g = \\nabla_\\theta L(\\theta, b), \\quad (u, s') = \\mathrm{opt}(hp).\\mathrm{update}(g, s, \\theta),
              \\quad \\theta' = \\theta + u

    Args:
      loss_fn: ``loss_fn(params, batch) -> loss`` (or ``(loss, aux)`` with
        ``has_aux=True``).
      make_optimizer: ``hp -> optax optimizer``, e.g. ``scheduled(optax.adamw,
        weight_decay=1e-4)`` or ``grouped(...)``. Building the optimizer is
        free at run time: it happens while tracing.
      has_aux: whether ``loss_fn`` returns ``(loss, aux)``.
      log: hyperparameter names to record in ``info`` (as returned by
        :func:`applied`: the values the update actually used).

    Returns:
      a :class:`TrainStep`.

    >>> import jax, jax.numpy as jnp, optax, jaxsched
    >>> ts = jaxsched.make_train_step(lambda w, x: jnp.sum((w - x) ** 2), jaxsched.scheduled(optax.sgd))
    >>> step = jax.jit(ts.step)
    >>> w = jnp.zeros(2)
    >>> for peak in (0.1, 0.2, 0.3):           # three settings, one compile
    ...     s = jaxsched.warmup_cosine(peak, total_steps=10, warmup_steps=2)
    ...     state = ts.init(s, w)
    ...     _, state, info = step(s, w, state, jnp.ones(2))
    >>> step._cache_size()
    1
    >>> float(info["loss"]), float(info["learning_rate"])
    (2.0, 0.0)
    """
    if not callable(loss_fn):
        raise TypeError(f"make_train_step: loss_fn must be callable, got {loss_fn!r}")
    if not callable(make_optimizer):
        raise TypeError(f"make_train_step: make_optimizer must be callable (hp -> optimizer), got {make_optimizer!r}")
    if isinstance(log, str):
        log = (log,)
    log = tuple(log)
    grad_fn = jax.value_and_grad(loss_fn, has_aux=has_aux)

    def init(hp: Any, params: Any) -> Any:
        with jax.numpy_dtype_promotion("standard"):
            return make_optimizer(hp).init(params)

    def step(hp: Any, params: Any, opt_state: Any, batch: Any) -> tuple[Any, Any, dict[str, Any]]:
        out, grads = grad_fn(params, batch)
        loss, aux = out if has_aux else (out, None)
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = make_optimizer(hp).update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
        info: dict[str, Any] = {"loss": loss}
        if has_aux:
            info["aux"] = aux
        for name in log:
            info[name] = applied(opt_state, name)
        return params, opt_state, info

    return TrainStep(init, step)
