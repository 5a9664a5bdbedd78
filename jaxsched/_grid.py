"""Grids of settings: a batch of schedules as one pytree with a leading axis."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Schedule, as_time


def _is_axis(v: Any) -> bool:
    if isinstance(v, (list, tuple, range)):
        return True
    return isinstance(v, (np.ndarray, jax.Array)) and np.ndim(v) == 1


def _plain(v: Any) -> Any:
    if isinstance(v, (np.generic, jax.Array)) and np.ndim(v) == 0:
        return np.asarray(v).item()
    return v


@dataclasses.dataclass(frozen=True)
class Grid:
    """A batch of schedules and the settings that made them.

    Attributes:
      schedules: one schedule pytree whose leaves have a leading axis of size
        ``len(grid)``; ``jax.vmap(lambda s: s(steps))(grid.schedules)`` gives
        one curve per setting.
      settings: column name -> list of that column's value per setting.
    """

    schedules: Schedule
    settings: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(next(iter(self.settings.values()))) if self.settings else 1

    def __getitem__(self, i: int) -> Schedule:
        """The ``i``-th setting as an ordinary (unbatched) schedule."""
        n = len(self)
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"grid index must be an int, got {i!r}")
        if not -n <= i < n:
            raise IndexError(f"grid index {i} out of range for a grid of {n} settings")
        return jax.tree_util.tree_map(lambda x: x[i], self.schedules)

    def row(self, i: int) -> dict[str, Any]:
        """The settings of row ``i`` as a dict."""
        return {k: v[i] for k, v in self.settings.items()}

    def __call__(self, step: Any) -> jax.Array:
        """Evaluate every setting: an array of shape ``(len(grid),) + shape(step)``."""
        t = as_time(step)
        return jax.vmap(lambda s: s._eval(t))(self.schedules)

    def table(self, values: Sequence[Any] | None = None, value_name: str = "value") -> str:
        """The settings as a plain-text table (optionally with a value column)."""
        cols = list(self.settings)
        rows = [[_fmt(self.settings[c][i]) for c in cols] for i in range(len(self))]
        if values is not None:
            cols = cols + [value_name]
            rows = [r + [_fmt(v)] for r, v in zip(rows, values, strict=True)]
        cols = ["#"] + cols
        rows = [[str(i)] + r for i, r in enumerate(rows)]
        widths = [max(len(c), *(len(r[j]) for r in rows)) for j, c in enumerate(cols)]
        line = "  ".join(c.rjust(w) for c, w in zip(cols, widths))
        out = [line, "  ".join("-" * w for w in widths)]
        out += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()


def _fmt(v: Any) -> str:
    v = _plain(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def stack(schedules: Sequence[Schedule]) -> Schedule:
    """Stack schedules of the same structure into one batched schedule.

    >>> import jaxsched
    >>> b = jaxsched.stack([jaxsched.constant(1.0), jaxsched.constant(2.0)])
    >>> b.value.tolist()
    [1.0, 2.0]
    """
    if not schedules:
        raise ValueError("stack needs at least one schedule")
    defs = [jax.tree_util.tree_structure(s) for s in schedules]
    for i, d in enumerate(defs[1:], start=1):
        if d != defs[0]:
            raise ValueError(
                f"stack needs schedules of one structure; schedule {i} differs from schedule 0:\n  {d}\n  vs {defs[0]}"
            )
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *schedules)


def grid(factory: Callable[..., Schedule], **axes: Any) -> Grid:
    """The Cartesian product of list-valued axes as one batched schedule.

    Every keyword whose value is a list, tuple, range or 1-D array is an axis;
    any other value (a scalar, a string) is passed to every setting. The
    factory is called once per setting (so every setting is validated), and
    the results are stacked leaf by leaf.

    >>> import jax, jax.numpy as jnp, jaxsched
    >>> g = jaxsched.grid(jaxsched.warmup_cosine, peak_value=[1e-3, 3e-3],
    ...                   warmup_steps=[0, 10, 20], total_steps=100)
    >>> len(g)
    6
    >>> curves = jax.vmap(lambda s: s(jnp.arange(100)))(g.schedules)
    >>> curves.shape
    (6, 100)
    >>> g.row(4)
    {'peak_value': 0.003, 'warmup_steps': 10}
    """
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {factory!r}")
    names = [k for k, v in axes.items() if _is_axis(v)]
    fixed = {k: v for k, v in axes.items() if not _is_axis(v)}
    values = [[_plain(x) for x in (np.asarray(axes[k]).tolist() if not isinstance(axes[k], (list, tuple, range)) else axes[k])] for k in names]
    for k, vs in zip(names, values):
        if len(vs) == 0:
            raise ValueError(f"grid axis {k} is empty")
    combos = list(itertools.product(*values))
    scheds = []
    for combo in combos:
        kwargs = dict(fixed)
        kwargs.update(zip(names, combo))
        scheds.append(factory(**kwargs))
    defs = [jax.tree_util.tree_structure(s) for s in scheds]
    for i, d in enumerate(defs):
        if d != defs[0]:
            row = dict(zip(names, combos[i]))
            raise ValueError(
                f"grid: setting {row} builds a schedule of a different structure than setting "
                f"{dict(zip(names, combos[0]))}; only numeric (or index) axes can be batched"
            )
    settings = {k: [c[j] for c in combos] for j, k in enumerate(names)}
    return Grid(stack(scheds), settings)
