"""Looking at schedules: phases, a summary, and a matplotlib plot.

:func:`phases` reads a schedule's structure (warmups, joins, restarts, ...)
into labelled intervals of the global step; :func:`describe` adds the range
of values; :func:`plot` draws one schedule with its phases marked, or a batch
as several curves with a legend. matplotlib is an optional extra
(``pip install jaxsched[plot]``) imported only by :func:`plot`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Schedule
from ._jit import program

_MAX_CYCLES = 200  # restart phases listed before the rest is summarised


@program
def _at(s: Schedule, k: jax.Array) -> jax.Array:
    """``s(k)``, compiled once per schedule structure and step shape."""
    return s(k)


@program
def _at_batch(s: Schedule, k: jax.Array) -> jax.Array:
    """``s_g(k)`` for every member ``g`` of a batched schedule."""
    return jax.vmap(lambda x: x(k))(s)


@dataclasses.dataclass(frozen=True)
class Phase:
    """A labelled interval ``[start, end)`` of global steps (``end`` may be ``inf``)."""

    start: float
    end: float
    label: str


def _f(x: Any) -> float:
    a = np.asarray(x)
    if a.ndim != 0:
        raise ValueError(
            "phases and plots of one schedule need an unbatched schedule; this one has leaves of shape "
            f"{list(a.shape)} (plot a batch with jaxsched.plot(batch) instead)"
        )
    return float(a)


def _chosen(s: Any) -> int:
    """A ``Select``'s chosen schedule: its static ``fixed`` choice or its index leaf (clipped)."""
    i = s.fixed if s.fixed is not None else int(np.asarray(s.index))
    return int(np.clip(i, 0, len(s.schedules) - 1))


def _mult(s: Any) -> float:
    """A ``Repeat``'s period growth (for ``None``: 2 with ``doubling``, else 1, equal periods)."""
    if s.period_mult is None:
        return 2.0 if s.doubling else 1.0
    return _f(s.period_mult)


def _cycles(s: Any) -> float:
    """A ``Repeat``'s cycle limit (inf for ``None``, no limit)."""
    return math.inf if s.cycles is None else _f(s.cycles)


def _restart_points(s: Any, limit: float) -> list[float]:
    """Cycle starts ``S_0 = 0, S_1, ...`` of a ``Repeat`` up to ``limit`` (and its cycle count)."""
    P, m, cycles = _f(s.period), _mult(s), _cycles(s)
    pts = [0.0]
    length = P
    while len(pts) <= _MAX_CYCLES and len(pts) <= cycles and pts[-1] < limit and length > 0:
        nxt = pts[-1] + length
        if abs(nxt - round(nxt)) <= 1e-9 * max(1.0, abs(nxt)):
            nxt = float(round(nxt))
        if nxt <= pts[-1]:
            break
        pts.append(nxt)
        length *= m
    return pts


def _extent(s: Any, depth: int = 0) -> float:
    """The natural length of a schedule: where its last phase ends (0 if it has none)."""
    from ._arith import Clip, Extremum, Product, Sum
    from ._join import Join, Select, Warmup
    from ._primitives import (
        Constant,
        Cooldown,
        Cosine,
        Exponential,
        InverseSqrt,
        Linear,
        PiecewiseConstant,
        PiecewiseLinear,
        Polynomial,
        SqrtDecay,
    )
    from ._repeat import Repeat

    if depth > 64:
        return 0.0
    if isinstance(s, (Linear, Cosine, Polynomial, SqrtDecay, Cooldown)):
        return max(_f(s.steps), 0.0)
    if isinstance(s, (PiecewiseConstant, PiecewiseLinear)):
        b = np.asarray(s.boundaries, np.float64)
        return float(b[-1]) if b.size else 0.0
    if isinstance(s, Exponential):
        return 5.0 * _f(s.decay_steps)
    if isinstance(s, InverseSqrt):
        return 10.0 * _f(s.timescale)
    if isinstance(s, Constant):
        return 0.0
    if isinstance(s, Warmup):  # a negative length shifts the schedule: it ends earlier; None is no warmup
        W = 0.0 if s.steps is None else _f(s.steps)
        return max(W + _extent(s.schedule, depth + 1), W, 0.0)
    if isinstance(s, Join):
        b = np.asarray(s.boundaries, np.float64)
        last = float(b[-1]) if b.size else 0.0
        return last + _extent(s.schedules[-1], depth + 1)
    if isinstance(s, Select):
        return _extent(s.schedules[_chosen(s)], depth + 1)
    if isinstance(s, Repeat):
        n = min(_cycles(s), 3.0)
        P, m = _f(s.period), _mult(s)
        total, length = 0.0, P
        for _ in range(int(n)):
            total += length
            length *= m
        return total
    if isinstance(s, (Sum, Product, Extremum)):
        kids = s.terms if isinstance(s, Sum) else s.factors if isinstance(s, Product) else s.schedules
        return max(_extent(k, depth + 1) for k in kids)
    if isinstance(s, Clip):
        return _extent(s.schedule, depth + 1)
    # An unknown (compat) class: its largest child extent, or a length-like setting of its own.
    kids = _children(s)
    own = [0.0]
    if dataclasses.is_dataclass(s):
        for f in dataclasses.fields(s):
            v = getattr(s, f.name)
            if any(w in f.name for w in ("steps", "period", "boundar", "milestone")) and isinstance(
                v, (jax.Array, np.ndarray)
            ):
                a = np.asarray(v, np.float64)
                if a.size and np.isfinite(a).all():
                    own.append(float(a.max()))
    return max([_extent(k, depth + 1) for k in kids] + own)


def _children(s: Any) -> list[Schedule]:
    out: list[Schedule] = []
    if dataclasses.is_dataclass(s):
        for f in dataclasses.fields(s):
            v = getattr(s, f.name)
            if isinstance(v, Schedule):
                out.append(v)
            elif isinstance(v, tuple) and v and all(isinstance(x, Schedule) for x in v):
                out.extend(v)
    return out


def horizon(schedule: Schedule) -> int:
    """A sensible number of steps to look at: where the last phase ends.

    Three cycles for endless restarts, ``5 * decay_steps`` for an exponential,
    ``10 * timescale`` for an inverse square root, 100 when nothing says.

    >>> import jaxsched
    >>> jaxsched.horizon(jaxsched.warmup_cosine(1.0, total_steps=1000, warmup_steps=100))
    1000
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"horizon expects a schedule, got {schedule!r}")
    e = _extent(schedule)
    if not math.isfinite(e) or e <= 0:
        return 100
    return int(math.ceil(min(e, 2.0**31 - 1)))


def _label(s: Any) -> str:
    from ._primitives import Cooldown, SqrtDecay

    if isinstance(s, SqrtDecay):
        return "1-sqrt" if s.power is None else "power decay"
    if isinstance(s, Cooldown):
        i = int(np.clip(int(np.asarray(s.shape)) if s.fixed is None else s.fixed, 0, 2))
        return ("linear", "cosine", "1-sqrt")[i]
    names = {
        "Constant": "constant",
        "Linear": "linear",
        "Cosine": "cosine",
        "Polynomial": "polynomial",
        "Exponential": "exponential",
        "InverseSqrt": "inverse sqrt",
    }
    return names.get(type(s).__name__, type(s).__name__)


def _from(lo: float, phases: list[Phase]) -> list[Phase]:
    """``phases`` from ``lo`` on (those of a child that starts before its parent's step 0, a shift)."""
    return [dataclasses.replace(p, start=max(p.start, lo)) for p in phases if p.end > lo]


def _segments(s: Any, off: float, length: float, depth: int) -> list[Phase]:
    from ._arith import Clip, Extremum, Product, Sum
    from ._join import Join, Select, Warmup
    from ._primitives import Cooldown, Cosine, Linear, PiecewiseConstant, PiecewiseLinear, Polynomial, SqrtDecay
    from ._repeat import Repeat

    end = off + length
    if length <= 0 or depth > 64:
        return []
    if isinstance(s, Warmup):
        W = 0.0 if s.steps is None else _f(s.steps)
        out = [Phase(off, min(off + W, end), "warmup")] if W > 0 else []
        return out + _from(off, _segments(s.schedule, off + W, length - W, depth + 1))  # W < 0: a shift
    if isinstance(s, Join):
        b = [float(x) for x in np.asarray(s.boundaries, np.float64)]
        starts, ends = [0.0] + b, b + [math.inf]
        out = []
        for piece, st, en in zip(s.schedules, starts, ends):
            lo, hi = off + st, min(off + en, end)
            if hi > max(lo, off):  # a piece starting below 0 (a shift) shows from `off` on
                out += _from(off, _segments(piece, lo, hi - lo, depth + 1))
        return out
    if isinstance(s, Select):
        return _segments(s.schedules[_chosen(s)], off, length, depth + 1)
    own = getattr(s, "_cycle_starts", None)  # a class with cycles of its own (a compat wave)
    if isinstance(s, Repeat) or own is not None:
        pts = _restart_points(s, length) if own is None else own(length, _MAX_CYCLES)
        out = []
        for i in range(len(pts) - 1):
            lo, hi = off + pts[i], min(off + pts[i + 1], end)
            if hi > lo:
                out.append(Phase(lo, hi, f"cycle {i + 1}"))
        last = off + pts[-1]
        if last < end:
            held = own is None and len(pts) - 1 >= _cycles(s)
            out.append(Phase(last, end, "hold" if held else f"cycle {len(pts)}+"))
        return out
    if isinstance(s, (Linear, Cosine, Polynomial, SqrtDecay, Cooldown)):
        T = max(_f(s.steps), 0.0)
        out = [Phase(off, min(off + T, end), _label(s))] if T > 0 else []
        if off + T < end:
            out.append(Phase(off + T, end, "hold"))
        return out
    if isinstance(s, (PiecewiseConstant, PiecewiseLinear)):
        b = [float(x) for x in np.asarray(s.boundaries, np.float64)]
        word = "piece" if isinstance(s, PiecewiseConstant) else "segment"
        edges = [0.0] + [x for x in b if x > 0] + [math.inf]
        out = []
        for i in range(len(edges) - 1):
            lo, hi = off + edges[i], min(off + edges[i + 1], end)
            if hi > lo:
                out.append(Phase(lo, hi, f"{word} {i + 1}"))
        return out
    kids = (
        _children(s)
        if not isinstance(s, (Sum, Product, Extremum, Clip))
        else (
            list(s.terms)
            if isinstance(s, Sum)
            else list(s.factors)
            if isinstance(s, Product)
            else list(s.schedules)
            if isinstance(s, Extremum)
            else [s.schedule]
        )
    )
    if kids:
        best = max((_segments(k, off, length, depth + 1) for k in kids), key=len)
        if best:
            return best
    return [Phase(off, end, _label(s))]


def phases(schedule: Schedule, until: float | None = None) -> list[Phase]:
    """The schedule's phases as labelled ``[start, end)`` intervals of global steps.

    Warmups, joined pieces, primitive decays (and the hold after them),
    restart cycles and piecewise pieces each become a :class:`Phase`; the
    intervals tile ``[0, until)``. ``until`` defaults to :func:`horizon`.

    >>> import jaxsched
    >>> s = jaxsched.wsd(1.0, total_steps=100, warmup_steps=10, decay_steps=20)
    >>> [(p.start, p.end, p.label) for p in jaxsched.phases(s)]
    [(0.0, 10.0, 'warmup'), (10.0, 80.0, 'constant'), (80.0, 100.0, '1-sqrt')]
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"phases expects a jaxsched schedule, got {type(schedule).__name__}")
    u = float(horizon(schedule) if until is None else until)
    segs = _segments(schedule, 0.0, u, 0)
    return [Phase(p.start, min(p.end, u), p.label) for p in segs if p.start < u]


def _eval_points(schedule: Schedule, until: int, bounds: Sequence[float]) -> np.ndarray:
    if until <= 200_000:
        return np.arange(until + 1, dtype=np.int64)
    base = np.round(np.linspace(0, until, 100_001)).astype(np.int64)
    extra = []
    for b in bounds:
        k = int(math.ceil(b))
        extra += [k - 1, k, k + 1]
    pts = np.concatenate([base, np.asarray(extra, np.int64)])
    return np.unique(pts[(pts >= 0) & (pts <= until)])


def describe(schedule: Schedule, until: int | None = None) -> dict[str, Any]:
    """A summary of a schedule over steps ``0..until``: phases, boundaries, range, end value.

    Returns a dict with ``until``, ``phases`` (a list of :class:`Phase`),
    ``boundaries`` (where phases change), ``min`` / ``max`` (with the first
    step where each is reached) and ``end`` (the value at step ``until``).
    Values are evaluated at every step up to 200 000 steps, above that at
    100 001 evenly spaced steps plus the steps around every boundary.

    >>> import jaxsched
    >>> d = jaxsched.describe(jaxsched.linear_to_zero(1.0, total_steps=100, warmup_steps=20))
    >>> d["boundaries"], d["max"], d["end"]
    ([20.0], 1.0, 0.0)
    """
    u = horizon(schedule) if until is None else until
    if isinstance(u, bool) or not isinstance(u, (int, np.integer)) or u < 0:
        raise ValueError(f"until must be a non-negative integer step, got {until!r}")
    u = int(min(u, 2**31 - 1))
    ph = phases(schedule, u)
    bounds = sorted({p.start for p in ph if p.start > 0})
    pts = _eval_points(schedule, u, bounds)
    vals = np.asarray(_at(schedule, jnp.asarray(pts.astype(np.int32))), np.float64)
    if vals.ndim != 1:
        raise ValueError("describe needs an unbatched schedule")
    i_min, i_max = int(np.argmin(vals)), int(np.argmax(vals))
    return {
        "until": u,
        "phases": ph,
        "boundaries": bounds,
        "min": float(vals[i_min]),
        "argmin": int(pts[i_min]),
        "max": float(vals[i_max]),
        "argmax": int(pts[i_max]),
        "end": float(vals[-1]),
    }


# ----------------------------------------------------------------------------- plotting


def _need_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError("jaxsched.plot needs matplotlib: pip install 'jaxsched[plot]'") from None
    return matplotlib


def _batch(obj: Any, labels: Sequence[str] | None) -> tuple[list[Any], list[str]] | None:
    """``(list of evaluators, labels)`` for a batch, ``None`` for a single schedule."""
    from ._config import _batch_shape_of
    from ._grid import Grid

    if isinstance(obj, Grid):
        n = len(obj)
        labs = [", ".join(f"{k}={_short(v)}" for k, v in obj.row(i).items()) or str(i) for i in range(n)]
        return [obj], list(labels) if labels is not None else labs
    if isinstance(obj, Schedule):
        bs = _batch_shape_of(obj)
        if bs == ():
            return None
        if len(bs) != 1:
            raise ValueError(f"plot draws batches with one batch axis, got batch shape {list(bs)}")
        labs = [str(i) for i in range(bs[0])]
        return [obj], list(labels) if labels is not None else labs
    if isinstance(obj, Sequence) and not isinstance(obj, str) and obj and all(isinstance(s, Schedule) for s in obj):
        labs = [type(s).__name__ + f" {i}" for i, s in enumerate(obj)]
        return list(obj), list(labels) if labels is not None else labs
    raise TypeError(f"plot expects a schedule, a Grid, a batched schedule or a list of schedules, got {obj!r}")


def _members(obj: Any) -> list[Schedule]:
    """The unbatched members of a batch (a grid, a batched schedule or a list)."""
    from ._grid import Grid

    if isinstance(obj, Grid):
        return [obj[i] for i in range(len(obj))]
    if isinstance(obj, Schedule):
        n = np.shape(jax.tree_util.tree_leaves(obj)[0])[0]
        return [jax.tree_util.tree_map(lambda a, i=i: a[i], obj) for i in range(n)]
    return list(obj)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _steps(steps: Any, default: int) -> np.ndarray:
    if steps is None:
        steps = default
    if isinstance(steps, bool):
        raise TypeError(f"steps must be an int or a sequence of steps, got {steps!r}")
    if isinstance(steps, (int, np.integer)):
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps!r}")
        n = int(steps)
        if n > 200_000:
            return np.unique(np.round(np.linspace(0, n, 100_001)).astype(np.int64))
        return np.arange(n + 1, dtype=np.int64)
    a = np.asarray(steps)
    if a.ndim != 1 or a.size == 0 or a.dtype.kind not in "iuf":
        raise ValueError(f"steps must be an int or a non-empty 1-D sequence of steps, got {steps!r}")
    return a


def _eval(obj: Any, x: np.ndarray, batched: bool = False) -> np.ndarray:
    from ._grid import Grid

    k = jnp.asarray(x.astype(np.int32)) if x.dtype.kind in "iu" else jnp.asarray(x.astype(np.float32))
    if isinstance(obj, Grid):
        return np.asarray(obj(k), np.float64)
    return np.asarray((_at_batch if batched else _at)(obj, k), np.float64)


def plot(
    schedule: Any,
    steps: Any = None,
    ax: Any = None,
    *,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    show_phases: bool = True,
    logy: bool = False,
    ylabel: str = "learning rate",
) -> Any:
    """Plot a schedule (phases marked) or a batch of schedules (one curve each, with a legend).

    Args:
      schedule: a schedule; or a batch: a :class:`~jaxsched.Grid`, a batched
        schedule pytree, or a list of schedules.
      steps: an int ``N`` (steps ``0..N``), or the steps to evaluate. Default:
        ``0..horizon(schedule)``.
      ax: a matplotlib ``Axes`` to draw into; a new figure when omitted.
      labels: legend labels of a batch (default: a grid's settings), or one
        label for a single schedule (drawn with a legend).
      title: the axes title.
      show_phases: mark the phases of a single schedule (dotted lines at each
        boundary, labels at the top, alternate phases lightly shaded).
      logy: a logarithmic value axis.
      ylabel: the value axis label.

    Returns:
      the ``Axes``.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import jaxsched
    >>> ax = jaxsched.plot(jaxsched.warmup_cosine(1e-3, total_steps=1000, warmup_steps=100))
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('step', 'learning rate')
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    _need_matplotlib()
    if isinstance(labels, str):  # list("ab") would label two curves
        raise TypeError(f"labels must be a sequence of strings (one per curve), got the string {labels!r}")
    batch = _batch(schedule, labels)
    default = horizon(schedule) if batch is None else max(horizon(m) for m in _members(schedule))
    x = _steps(steps, default)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    if batch is None:
        if labels is not None and len(labels) != 1:
            raise ValueError(f"labels: a single schedule takes one label, got {labels!r}")
        y = _eval(schedule, x)
        ax.plot(x, y, lw=1.8, color="C0", label=None if labels is None else labels[0])
        if labels is not None:
            ax.legend(fontsize="small", frameon=False)
        if show_phases:
            _mark_phases(ax, phases(schedule, float(x.max())), float(x.min()))
    else:
        evals, labs = batch
        batched = isinstance(schedule, Schedule)
        ys = [_eval(e, x, batched) for e in evals]
        curves = np.concatenate([y if y.ndim == 2 else y[None] for y in ys], axis=0)
        if len(labs) != curves.shape[0]:
            raise ValueError(f"labels: got {len(labs)} labels for {curves.shape[0]} curves")
        for i, (c, lab) in enumerate(zip(curves, labs)):
            ax.plot(x, c, lw=1.5, label=lab, color=f"C{i % 10}")
        if curves.shape[0] <= 20:
            ax.legend(fontsize="small", ncol=1 if curves.shape[0] <= 8 else 2, frameon=False)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.25, lw=0.6)
    ax.margins(x=0.0)
    if not logy:
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    return ax


def _mark_phases(ax: Any, ph: list[Phase], x0: float) -> None:
    from matplotlib.transforms import blended_transform_factory

    if len(ph) <= 1:
        return
    tr = blended_transform_factory(ax.transData, ax.transAxes)
    many = len(ph) > 12
    if not many:  # head room for the labels
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.08 * (hi - lo))
    for i, p in enumerate(ph):
        if i > 0 and p.start > x0:
            ax.axvline(p.start, color="0.45", lw=0.8, ls=":", zorder=0)
        if not many and i % 2 == 1:
            ax.axvspan(max(p.start, x0), p.end, color="0.5", alpha=0.07, lw=0, zorder=0)
        if not many:
            mid = (max(p.start, x0) + p.end) / 2
            ax.text(mid, 0.98, p.label, transform=tr, ha="center", va="top", fontsize="small", color="0.3")
