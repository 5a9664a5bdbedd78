"""Drive a PyTorch or Keras run with a jaxsched schedule.

- :func:`torch_scheduler` returns a ``torch.optim.lr_scheduler.LambdaLR``
  (a small subclass of it) whose learning rate after ``k`` calls of
  ``scheduler.step()`` is exactly ``float(schedule(k))``, torch's own
  convention for ``LambdaLR``: the constructor sets ``schedule(0)`` for the
  first ``optimizer.step()``.
- :func:`keras_schedule` returns a ``keras.optimizers.schedules.LearningRateSchedule``
  whose value at ``optimizer.iterations == k`` is ``schedule(k)``, Keras's
  convention (the first update sees ``k = 0``).

So the same config (:func:`jaxsched.to_config`) drives an optax, a torch and a
Keras run with identical rates. torch and keras are imported only when these
functions are called; jaxsched does not depend on either.

Rates are evaluated by jaxsched itself in blocks of steps with one compiled
call per block (and cached), so a torch ``scheduler.step()`` costs a list
lookup, not a JAX dispatch.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Schedule
from ._jit import program

_INT32_MAX = 2**31 - 1


@program
def _eval_block(schedule: Schedule, steps: jax.Array) -> jax.Array:
    return schedule(steps)


class RateTable:
    """``schedule(k)`` as Python floats for integer steps ``k``, computed in cached blocks.

    ``table(k)`` is ``float(schedule(k))`` exactly (the schedule's own float
    dtype, widened to a Python float). Negative steps give the value at step
    0 and steps past ``2**31 - 1`` saturate, as the schedule itself does.

    >>> import jaxsched
    >>> from jaxsched.bridges import RateTable
    >>> t = RateTable(jaxsched.linear(1.0, 0.0, 4))
    >>> [t(k) for k in range(6)]
    [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    def __init__(self, schedule: Schedule, block: int = 4096):
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a jaxsched schedule, got {type(schedule).__name__}: {schedule!r}")
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise ValueError(f"block must be a positive int, got {block!r}")
        from ._config import _batch_shape_of

        try:
            batched = _batch_shape_of(schedule) != ()
        except ValueError:
            batched = True
        if batched:
            raise ValueError("bridges need an unbatched schedule (one rate per step), not a batch of schedules")
        self.schedule = schedule
        self.block = block
        self._blocks: dict[int, list[float]] = {}

    def _fill(self, b: int) -> list[float]:
        start = b * self.block
        ks = np.minimum(np.arange(start, start + self.block, dtype=np.int64), _INT32_MAX).astype(np.int32)
        vals = np.asarray(_eval_block(self.schedule, jnp.asarray(ks)))
        out = [float(v) for v in vals]
        self._blocks[b] = out
        if len(self._blocks) > 64:  # bounded memory for very long runs
            self._blocks.pop(next(iter(self._blocks)))
        return out

    def __call__(self, k: Any) -> float:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"step must be an int, got {type(k).__name__}: {k!r}")
        k = min(max(int(k), 0), _INT32_MAX)
        b, i = divmod(k, self.block)
        vals = self._blocks.get(b)
        if vals is None:
            vals = self._fill(b)
        return vals[i]


# ----------------------------------------------------------------------------- torch


@functools.cache
def _torch_class() -> type:
    try:
        from torch.optim.lr_scheduler import LambdaLR
    except ImportError:
        raise ImportError("jaxsched.bridges.torch_scheduler needs PyTorch: pip install torch") from None

    class JaxschedLR(LambdaLR):
        """A ``LambdaLR`` driven by a jaxsched schedule.

        ``relative=False``: every group's lr is ``schedule(last_epoch)``.
        ``relative=True``: group ``g``'s lr is ``base_lr_g * schedule(last_epoch)``
        (``LambdaLR``'s own rule; the schedule is a multiplier).
        """

        def __init__(self, optimizer: Any, schedule: Schedule, relative: bool = False, last_epoch: int = -1):
            self.relative = bool(relative)
            self.rates = RateTable(schedule)
            rates = self.rates

            def lr_lambda(k: int) -> float:  # a plain function: state_dict() leaves it out
                return rates(k)

            super().__init__(optimizer, lr_lambda, last_epoch)

        def get_lr(self) -> list[Any]:
            if self.relative:
                return super().get_lr()
            return [fn(self.last_epoch) for fn in self.lr_lambdas]

        def state_dict(self) -> dict[str, Any]:
            d = super().state_dict()
            d.pop("rates", None)  # rebuilt from the schedule; not part of the state
            return d

        def load_state_dict(self, state_dict: dict[str, Any]) -> None:
            rates, lambdas = self.rates, self.lr_lambdas
            super().load_state_dict(state_dict)
            self.rates, self.lr_lambdas = rates, lambdas

    return JaxschedLR


def torch_scheduler(schedule: Schedule, optimizer: Any, *, relative: bool = False, last_epoch: int = -1) -> Any:
    """A PyTorch ``LambdaLR`` scheduler that follows ``schedule``.

    After ``k`` calls of ``scheduler.step()`` every parameter group's lr is
    ``float(schedule(k))`` (``relative=False``, the default), or
    ``base_lr_g * float(schedule(k))`` for group ``g`` (``relative=True``: the
    schedule is a multiplier, as in transformers' ``LambdaLR`` schedules).

    .. math:: \\text{lr}_g(k) = s(k) \\quad\\text{or}\\quad b_g\\, s(k)

    Call ``optimizer.step()`` then ``scheduler.step()`` once per update, as
    usual; the first update uses ``schedule(0)``, as optax's first update does.
    The result is a subclass of ``LambdaLR``, so ``state_dict()``,
    ``get_last_lr()`` and resuming with ``last_epoch`` behave as for any
    ``LambdaLR``.

    Args:
      schedule: an unbatched jaxsched schedule.
      optimizer: a ``torch.optim.Optimizer``.
      relative: multiply each group's initial lr instead of replacing it.
      last_epoch: torch's resume index (``-1`` to start).

    >>> import pytest; torch = pytest.importorskip("torch")  # the example needs PyTorch
    >>> import jaxsched
    >>> from jaxsched.bridges import torch_scheduler
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=123.0)
    >>> sched = torch_scheduler(jaxsched.linear(1.0, 0.0, 4), opt)
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
    >>> lrs
    [1.0, 0.75, 0.5, 0.25, 0.0]
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a jaxsched schedule, got {type(schedule).__name__}: {schedule!r}")
    if not isinstance(relative, bool):
        raise TypeError(f"relative must be a bool, got {relative!r}")
    if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
        raise ValueError(f"last_epoch must be an int >= -1, got {last_epoch!r}")
    return _torch_class()(optimizer, schedule, relative, last_epoch)


# ----------------------------------------------------------------------------- keras


def _keras() -> Any:
    try:
        import keras
    except ImportError as e:
        raise ImportError(
            f"jaxsched.bridges.keras_schedule needs Keras 3 ({e}); pip install keras and choose a backend, "
            "for example KERAS_BACKEND=jax"
        ) from None
    return keras


@functools.cache
def _keras_class() -> type:
    keras = _keras()

    @keras.saving.register_keras_serializable(package="jaxsched", name="Schedule")
    class JaxschedSchedule(keras.optimizers.schedules.LearningRateSchedule):
        """A Keras learning-rate schedule that follows a jaxsched schedule.

        ``schedule`` is a jaxsched schedule or its config (:func:`jaxsched.to_config`).
        """

        def __init__(self, schedule: Any, total_steps: int | None = None):
            from ._config import from_config, to_config

            if isinstance(schedule, Schedule):
                self.schedule = schedule
            elif isinstance(schedule, dict):
                self.schedule = from_config(schedule)
            else:
                raise TypeError(f"schedule must be a jaxsched schedule or its config, got {schedule!r}")
            if not isinstance(self.schedule, Schedule):
                raise TypeError("keras_schedule needs one schedule, not a grid")
            self.config = to_config(self.schedule, batch_shape=())
            self.total_steps = _total_steps(total_steps)
            backend = keras.backend.backend()
            if self.total_steps is None and backend != "jax":
                raise ValueError(
                    f"on the {backend!r} Keras backend pass total_steps so the rates can be tabulated "
                    "(the 'jax' backend evaluates the schedule itself at any step)"
                )
            self._table = None
            if self.total_steps is not None:
                rates = RateTable(self.schedule)
                vals = np.asarray([rates(k) for k in range(self.total_steps + 1)], dtype=keras.backend.floatx())
                self._table = keras.ops.convert_to_tensor(vals)

        def __call__(self, step: Any) -> Any:
            ops = keras.ops
            if self._table is not None:
                n = int(self._table.shape[0])
                idx = ops.clip(ops.cast(step, "int32"), 0, n - 1)
                return ops.take(self._table, idx)
            k = ops.convert_to_tensor(step)
            k = jnp.asarray(k)
            if jnp.issubdtype(k.dtype, jnp.integer) and k.dtype != jnp.int32:
                k = jnp.minimum(k, jnp.asarray(_INT32_MAX, k.dtype)).astype(jnp.int32)
            return self.schedule(k)

        def get_config(self) -> dict[str, Any]:
            return {"schedule": self.config, "total_steps": self.total_steps}

    return JaxschedSchedule


def _total_steps(n: Any) -> int | None:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= int(n) <= 10**8:
        raise ValueError(f"total_steps must be an int in 0..1e8, got {n!r}")
    return int(n)


def keras_schedule(schedule: Schedule, *, total_steps: int | None = None) -> Any:
    """A Keras 3 ``LearningRateSchedule`` that follows ``schedule``.

    Its value at ``optimizer.iterations == k`` is ``schedule(k)``:

    .. math:: \\text{lr}(k) = s(k)

    On the JAX backend the jaxsched schedule is called on the step directly
    (exact at every step, inside Keras's compiled train step too). Pass
    ``total_steps`` to tabulate ``schedule(0..total_steps)`` instead, which
    works on every backend (TensorFlow, PyTorch, JAX); past the table the
    last value holds. The schedule serialises through Keras
    (``keras.optimizers.schedules.serialize``, ``optimizer.get_config()``)
    with its jaxsched config, registered as ``"jaxsched>Schedule"``.

    Args:
      schedule: an unbatched jaxsched schedule (or its config dict).
      total_steps: tabulate the rates of steps ``0..total_steps``.

    >>> import os, pytest
    >>> _ = os.environ.setdefault("KERAS_BACKEND", "jax")
    >>> keras = pytest.importorskip("keras")  # the example needs Keras 3
    >>> import jaxsched
    >>> from jaxsched.bridges import keras_schedule
    >>> opt = keras.optimizers.SGD(learning_rate=keras_schedule(jaxsched.linear(1.0, 0.0, 4)))
    >>> float(opt.learning_rate)
    1.0
    """
    return _keras_class()(schedule, total_steps)


__all__ = ["RateTable", "keras_schedule", "torch_scheduler"]
