"""Grids of settings: a batch of schedules as one pytree with a leading axis."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate as V
from ._base import Schedule, as_time, eval_time, host_time
from ._jit import program


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
        return jax.tree_util.tree_map(lambda x: _take(x, int(i)), self.schedules)

    def row(self, i: int) -> dict[str, Any]:
        """The settings of row ``i`` as a dict."""
        return {k: v[i] for k, v in self.settings.items()}

    def __call__(self, step: Any) -> jax.Array:
        """Evaluate every setting: an array of shape ``(len(grid),) + shape(step)``."""
        return evaluate(self.schedules, step)

    def table(
        self,
        values: Any = None,
        value_name: str = "value",
        *,
        sort: str | None = None,
        top: int | None = None,
        rows: Sequence[int] | None = None,
    ) -> str:
        """The settings as a plain-text table, optionally with value columns.

        Args:
          values: ``None``, one sequence of ``len(grid)`` values (a column named
            ``value_name``), or a dict of column name -> sequence.
          value_name: the column name for a single ``values`` sequence.
          sort: ``None`` (grid order), ``"ascending"`` or ``"descending"``:
            order rows by the first value column (NaN rows last).
          top: keep only the first ``top`` rows (after sorting).
          rows: an explicit list of grid indices to show, in that order
            (e.g. ``np.lexsort`` of several columns); excludes ``sort``.

        The ``#`` column is always the row's index in the grid, so
        ``grid[i]`` picks that setting back out.

        >>> import jaxsched
        >>> g = jaxsched.grid(jaxsched.constant, value=[0.1, 0.2, 0.3])
        >>> print(g.table({"loss": [0.5, 0.25, 0.75]}, sort="ascending", top=2))
        #  value  loss
        -  -----  ----
        1    0.2  0.25
        0    0.1   0.5
        """
        n = len(self)
        cols = list(self.settings)
        columns: dict[str, list[Any]] = {}
        if values is not None:
            given = dict(values) if isinstance(values, dict) else {value_name: values}
            for name, vs in given.items():
                vs = _column(vs)
                if len(vs) != n:
                    raise ValueError(f"table: column {name!r} has {len(vs)} values for a grid of {n} settings")
                columns[str(name)] = vs
        if sort not in (None, "ascending", "descending"):
            raise ValueError(f"table: sort must be None, 'ascending' or 'descending', got {sort!r}")
        if top is not None and (not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 0):
            raise ValueError(f"table: top must be a non-negative int or None, got {top!r}")
        order = list(range(n))
        if rows is not None:
            if sort is not None:
                raise ValueError("table: give sort or rows, not both")
            order = [int(i) for i in np.asarray(rows).ravel()]
            bad = [i for i in order if not 0 <= i < n]
            if bad:
                raise IndexError(f"table: rows {bad} out of range for a grid of {n} settings")
        if sort is not None:
            if not columns:
                raise ValueError("table: sort needs values to sort by")
            key = np.asarray([_as_float(v) for v in next(iter(columns.values()))], np.float64)
            sign = 1.0 if sort == "ascending" else -1.0
            nan = np.isnan(key)
            order = sorted(order, key=lambda i: (bool(nan[i]), sign * key[i] if not nan[i] else 0.0, i))
        if top is not None:
            order = order[:top]
        head = ["#"] + cols + list(columns)
        rows = [
            [str(i)] + [_fmt(self.settings[c][i]) for c in cols] + [_fmt(columns[c][i]) for c in columns]
            for i in order
        ]
        widths = [max(len(c), *(len(r[j]) for r in rows)) if rows else len(c) for j, c in enumerate(head)]
        out = ["  ".join(c.rjust(w) for c, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
        out += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()


def _fmt(v: Any) -> str:
    v = _plain(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _column(vs: Any) -> list[Any]:
    if isinstance(vs, (np.ndarray, jax.Array)):
        a = np.asarray(vs)
        if a.ndim != 1:
            raise ValueError(f"table: a value column must be 1-D, got shape {a.shape}")
        return a.tolist()
    return list(vs)


def _as_float(v: Any) -> float:
    try:
        return float(_plain(v))
    except (TypeError, ValueError):
        return float("nan")


def stack(schedules: Sequence[Schedule]) -> Schedule:
    """Stack schedules of the same structure into one batched schedule.

    >>> import jaxsched
    >>> b = jaxsched.stack([jaxsched.constant(1.0), jaxsched.constant(2.0)])
    >>> b.value.tolist()
    [1.0, 2.0]
    """
    if not schedules:
        raise ValueError("stack needs at least one schedule")
    schedules, i = _one_structure(list(schedules))
    if i:
        d, d0 = jax.tree_util.tree_structure(schedules[i]), jax.tree_util.tree_structure(schedules[0])
        raise ValueError(
            f"stack needs schedules of one structure; schedule {i} differs from schedule 0:\n  {d}\n  vs {d0}"
        )
    return jax.tree_util.tree_map(_stack_leaves, *schedules)


def _one_structure(schedules: list[Any]) -> tuple[list[Any], int]:
    """``(schedules, 0)`` if they share one structure, as given or with their ``None`` options as leaves
    (``Schedule._sweepable``: ``exponent=None`` beside ``exponent=2.0``); else ``(schedules, i)``, ``i``
    the first that differs from the first."""
    def sweepable(x: Any) -> Any:  # grid entries may be any pytree holding schedules
        return jax.tree_util.tree_map(lambda s: s._sweepable() if isinstance(s, Schedule) else s, x,
                                      is_leaf=lambda s: isinstance(s, Schedule))

    for cand in (schedules, [sweepable(s) for s in schedules]):
        defs = [jax.tree_util.tree_structure(s) for s in cand]
        bad = next((i for i, d in enumerate(defs) if d != defs[0]), 0)
        if not bad:
            return cand, 0
    return schedules, bad


def _concrete_leaf(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer) and (not isinstance(x, jax.Array) or x.is_fully_addressable)


def _stack_leaves(*xs: Any) -> jax.Array:
    # Concrete leaves are stacked on the host: no XLA program per leaf shape (grids call this eagerly).
    if all(_concrete_leaf(x) for x in xs):
        return jnp.asarray(np.stack([np.asarray(x) for x in xs]))
    return jnp.stack(xs)


def _take(x: Any, i: int) -> jax.Array:
    if _concrete_leaf(x):
        return jnp.asarray(np.asarray(x)[i])
    return x[i]


def _split_axes(where: str, axes: dict[str, Any]) -> tuple[list[str], list[list[Any]], dict[str, Any]]:
    names = [k for k, v in axes.items() if _is_axis(v)]
    fixed = {k: v for k, v in axes.items() if not _is_axis(v)}
    values = []
    for k in names:
        v = axes[k]
        if isinstance(v, (np.ndarray, jax.Array)):
            v = np.asarray(v).tolist()
        vs = [_plain(x) for x in v]
        if len(vs) == 0:
            raise ValueError(f"{where}: axis {k} is empty")
        values.append(vs)
    return names, values, fixed


def _build(
    where: str, factory: Callable[..., Any], names: list[str], combos: list[tuple[Any, ...]], fixed: dict[str, Any]
) -> Grid:
    scheds = []
    for combo in combos:
        kwargs = dict(fixed)
        kwargs.update(zip(names, combo))
        scheds.append(factory(**kwargs))
    scheds, i = _one_structure(scheds)
    if i:
        row = dict(zip(names, combos[i]))
        raise ValueError(
            f"{where}: setting {row} builds a schedule of a different structure than setting "
            f"{dict(zip(names, combos[0]))}; only numeric (or index) axes can be batched"
        )
    settings = {k: [c[j] for c in combos] for j, k in enumerate(names)}
    return Grid(stack(scheds), settings)


def grid(factory: Callable[..., Schedule], **axes: Any) -> Grid:
    """The Cartesian product of list-valued axes as one batched schedule.

    Every keyword whose value is a list, tuple, range or 1-D array is an axis;
    any other value (a scalar, a string) is passed to every setting. The
    factory is called once per setting (so every setting is validated), and
    the results are stacked leaf by leaf. Settings are ordered like
    ``itertools.product``: the last axis varies fastest. The factory may
    return any pytree of arrays of one structure (a schedule, or a tuple of
    a schedule and a seed, ...). See :func:`grid_zip` for axes that move
    together.

    >>> import jax, jax.numpy as jnp, jaxsched
    >>> g = jaxsched.grid(jaxsched.warmup_cosine, peak_value=[1e-3, 3e-3],
    ...                   warmup_steps=[0, 10, 20], total_steps=100)
    >>> len(g)
    6
    >>> curves = jax.jit(jax.vmap(lambda s: s(jnp.arange(100))))(g.schedules)
    >>> curves.shape
    (6, 100)
    >>> g.row(4)
    {'peak_value': 0.003, 'warmup_steps': 10}
    """
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {factory!r}")
    names, values, fixed = _split_axes("grid", axes)
    return _build("grid", factory, names, list(itertools.product(*values)), fixed)


def grid_zip(factory: Callable[..., Schedule], **axes: Any) -> Grid:
    """Settings whose list-valued axes move together (``zip``, not product).

    Setting ``i`` takes the ``i``-th entry of every axis; all axes must have
    the same length (no silent truncation). Scalars are passed to every
    setting, as in :func:`grid`. Use it for hand-picked settings, or to pair
    values that belong together (a peak rate with its warmup).

    >>> import jaxsched
    >>> g = jaxsched.grid_zip(jaxsched.warmup_cosine, peak_value=[1e-3, 3e-3, 1e-2],
    ...                       warmup_steps=[0, 10, 20], total_steps=100)
    >>> len(g)
    3
    >>> g.row(2)
    {'peak_value': 0.01, 'warmup_steps': 20}
    >>> g(50).shape
    (3,)
    """
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {factory!r}")
    names, values, fixed = _split_axes("grid_zip", axes)
    lengths = {k: len(v) for k, v in zip(names, values)}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"grid_zip: every axis must have the same length, got {lengths}")
    return _build("grid_zip", factory, names, list(zip(*values)), fixed)


def _count(where: str, num: Any) -> int:
    if not isinstance(num, (int, np.integer)) or isinstance(num, bool) or num < 1:
        raise ValueError(f"{where}: num must be an int >= 1, got {num!r}")
    return int(num)


def _scalar(where: str, name: str, x: Any, positive: bool = False) -> float:
    """A concrete finite real (float64 on the host: no float32 rounding of the endpoints)."""
    if V.is_traced(x):
        raise TypeError(f"{where}: {name} must be a concrete number (axes are built on the host), got a tracer")
    a = V._concrete(f"{where}: {name}", x)
    if a.ndim != 0 or not np.isfinite(a):
        raise ValueError(f"{where}: {name} must be a finite scalar, got {x!r}")
    if positive and not a > 0:
        raise ValueError(f"{where}: {name} must be > 0, got {x!r}")
    return float(a)


def _finish(where: str, xs: np.ndarray, integer: bool) -> list[Any]:
    if integer:
        out = [int(v) for v in np.round(xs)]
        if len(set(out)) < len(out):
            raise ValueError(f"{where}: rounding to integers gives repeated values {out}; use fewer points")
        return out
    # 12 significant digits: 10**-3 comes back as 0.001, not 0.0010000000000000002.
    return [float(f"{v:.12g}") for v in xs]


def linspace(start: Any, stop: Any, num: int, *, integer: bool = False) -> list[Any]:
    """``num`` evenly spaced values from ``start`` to ``stop`` (both included), as a grid axis.

    .. math:: x_i = a + (b - a)\\, \\frac{i}{n - 1}, \\quad i = 0, \\dots, n - 1

    Returns a list of Python numbers (so the settings table prints them
    plainly); ``integer=True`` rounds to ints (for step counts) and refuses
    repeats. ``num=1`` gives ``[start]``.

    >>> import jaxsched
    >>> jaxsched.linspace(0.0, 1.0, 5)
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> jaxsched.linspace(0, 100, 3, integer=True)
    [0, 50, 100]
    """
    n = _count("linspace", num)
    a = _scalar("linspace", "start", start)
    b = _scalar("linspace", "stop", stop)
    xs = np.asarray([a]) if n == 1 else np.linspace(a, b, n)
    return _finish("linspace", xs, integer)


def logspace(start: Any, stop: Any, num: int, *, integer: bool = False) -> list[Any]:
    """``num`` log-evenly spaced values from ``start`` to ``stop`` (both included), as a grid axis.

    .. math:: x_i = a \\left(\\frac{b}{a}\\right)^{i / (n - 1)}, \\quad i = 0, \\dots, n - 1

    ``start`` and ``stop`` are the values themselves (like
    ``numpy.geomspace``, not ``numpy.logspace``'s exponents) and must be
    positive. ``integer=True`` rounds to ints and refuses repeats.

    >>> import jaxsched
    >>> jaxsched.logspace(1e-4, 1e-1, 4)
    [0.0001, 0.001, 0.01, 0.1]
    >>> jaxsched.logspace(10, 1000, 3, integer=True)
    [10, 100, 1000]
    """
    n = _count("logspace", num)
    a = _scalar("logspace", "start", start, positive=True)
    b = _scalar("logspace", "stop", stop, positive=True)
    xs = np.asarray([a]) if n == 1 else np.exp(np.linspace(np.log(a), np.log(b), n))
    if n > 1:
        xs[0], xs[-1] = a, b
    return _finish("logspace", xs, integer)


def evaluate(schedules: Any, step: Any) -> jax.Array:
    """Evaluate a batch of schedules (a leading axis on every leaf) at ``step``.

    .. math:: \\mathrm{out}[g, \\ldots] = s_g(\\mathrm{step}[\\ldots])

    ``schedules`` is what :func:`stack` or ``Grid.schedules`` returns (or a
    :class:`Grid`); ``step`` is a Python int or an int/float array of any
    shape. The result has shape ``(batch,) + shape(step)``. Jit- and
    grad-friendly (it is one ``jax.vmap``).

    >>> import jax.numpy as jnp, jaxsched
    >>> b = jaxsched.stack([jaxsched.linear(1.0, 0.0, 4), jaxsched.linear(2.0, 0.0, 4)])
    >>> jaxsched.evaluate(b, jnp.arange(5)).tolist()
    [[1.0, 0.75, 0.5, 0.25, 0.0], [2.0, 1.5, 1.0, 0.5, 0.0]]
    """
    if isinstance(schedules, Grid):
        schedules = schedules.schedules
    if not isinstance(schedules, Schedule):
        raise TypeError(f"evaluate needs a batched schedule (from stack or grid), got {type(schedules).__name__}")
    leaves = jax.tree_util.tree_leaves(schedules)
    if not leaves or any(np.ndim(x) == 0 for x in leaves):
        raise ValueError(
            "evaluate needs a batched schedule: every leaf must have a leading batch axis (use jaxsched.stack)"
        )
    sizes = {int(np.shape(x)[0]) for x in leaves}
    if len(sizes) != 1:
        raise ValueError(f"evaluate: the schedule's leaves have different leading sizes {sorted(sizes)}")
    return _evaluate(schedules, host_time(step))


@program
def _evaluate(schedules: Schedule, t: jax.Array) -> jax.Array:
    # One compiled program per schedule structure and step shape, instead of one dispatch per op
    # (the step's normalisation included: see host_time).
    t = as_time(t)
    return jax.vmap(lambda s: eval_time(s, t))(schedules)
