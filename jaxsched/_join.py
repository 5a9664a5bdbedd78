"""The piecewise combinator ``join``, ``warmup`` and ``select``.

``join`` picks the active piece by counting the boundaries passed, then
evaluates each *family* of pieces once: pieces with the same pytree structure
(and scalar leaves) are stacked and their hyperparameters gathered by the
piece index, so a join of 128 cosines costs one cosine per element, not 128.
A piece evaluated at steps where it is not active sees its local step clipped
into its own range, so it can neither poison the value nor the gradient; a
large family of float children evaluates only the active member, at its own
steps (see DESIGN.md, "Join").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate as V
from ._base import (
    Array,
    Schedule,
    _gets_pair,
    clip_time,
    local_time,
    passed,
    pytree,
    safe_div,
    shift_from,
    split_at,
    sub_time,
    to_float,
)

_WHERE_MAX = 8  # families up to this size select their members with jnp.where, larger ones gather


def _family_key(s: Schedule) -> Any:
    leaves, treedef = jax.tree_util.tree_flatten(s)
    if any(jnp.ndim(x) for x in leaves):
        return object()  # array-valued leaves (piecewise tables): a family of its own
    return treedef, tuple(jnp.result_type(x) for x in leaves)


def _groups(pieces: Sequence[Schedule]) -> list[list[int]]:
    """Static grouping of piece indices by family (structure and leaf shapes)."""
    order: dict[Any, list[int]] = {}
    for i, p in enumerate(pieces):
        order.setdefault(_family_key(p), []).append(i)
    return list(order.values())


@pytree
class Join(Schedule):
    """Piece ``i`` covers ``[boundaries[i-1], boundaries[i])`` and sees ``t - boundaries[i-1]``."""

    schedules: tuple[Schedule, ...]
    boundaries: Array
    _takes_pair = True
    # Finite below 0: piece 0 sees its local step clipped at 0 unless it is finite there itself, the
    # later pieces are not reached (each one's value is finite at any local step; see local_time).
    _negative_ok = True

    def _eval(self, t: Array) -> Array:
        pieces = self.schedules
        n = len(pieces)
        dt = self.boundaries.dtype
        b = self.boundaries
        zero = jnp.zeros((1,), dt)
        starts = jnp.concatenate([zero, b])
        lens = jnp.maximum(jnp.concatenate([b, jnp.full((1,), jnp.inf, dt)]) - starts, 0.0)
        if n == 1:
            return pieces[0]._at(local_time(pieces[0], t, None, dt))
        idx = passed(t, b, dt)
        out = None
        for members in _groups(pieces):
            if len(members) == 1:
                (j,) = members
                # The last piece is unbounded (length inf): no upper clip, and no clip at 0 for a child
                # finite below 0 (_negative_ok: its value is only selected at or after its start).
                hi = None if j == n - 1 else lens[j]
                local = local_time(pieces[j], t, hi, dt, start=None if j == 0 else starts[j])
                val = pieces[j]._at(local)
                sel = idx == j
            else:
                # Gather the members' hyperparameters by the active piece.
                table = np.zeros(n, np.int32)
                table[members] = np.arange(len(members), dtype=np.int32)
                in_group = np.zeros(n, bool)
                in_group[members] = True
                everyone = len(members) == n  # one family: the piece index is the member index
                pos = idx if everyone else jnp.asarray(table)[idx]
                flat = [jax.tree_util.tree_flatten(pieces[j])[0] for j in members]
                treedef = jax.tree_util.tree_structure(pieces[members[0]])
                cols = [list(col) for col in zip(*flat)]
                if len(members) <= _WHERE_MAX:
                    cols += [[starts[j] for j in members], [lens[j] for j in members]]
                    # A select chain vectorises; a per-element gather inside the fused loop does not.
                    picked = []
                    for col in cols:
                        v = col[0]
                        for k in range(1, len(col)):
                            v = jnp.where(pos == k, col[k], v)
                        picked.append(v)
                    *gathered, st, ln = picked
                    local = clip_time(sub_time(t, st, dt), ln)
                elif _gets_pair(pieces[members[0]], t):
                    # The starts and lengths are already arrays: one gather each, not a stack of n slices
                    # (a 128-piece join traces and lowers ~30% faster).
                    rows = slice(None) if everyone else np.asarray(members)
                    picked = [jnp.take(v, pos, axis=0) for v in [*map(jnp.stack, cols), starts[rows], lens[rows]]]
                    *gathered, st, ln = picked
                    local = clip_time(sub_time(t, st, dt), ln)
                else:
                    # A float child: only the active piece is evaluated, and (boundaries sorted) only from
                    # its start to before its end, so there is no upper clip (unsorted traced boundaries
                    # may reach past it, where every schedule is finite: any piece can be the last);
                    # below 0 only piece 0 is active.
                    gathered = [jnp.take(jnp.stack(col), pos, axis=0) for col in cols]
                    local = shift_from(t, b, idx, dt)
                    if not pieces[members[0]]._negative_ok:
                        local = jnp.maximum(local, 0.0)
                piece = jax.tree_util.tree_unflatten(treedef, gathered)
                val = piece._at(local)
                if everyone:
                    return val
                sel = jnp.asarray(in_group)[idx]
            out = val if out is None else jnp.where(sel, val, out)
        return out


@pytree
class Warmup(Schedule):
    """A linear ramp from ``init_value`` to ``target`` over ``steps``, then ``schedule(t - steps)``.

    ``target=None`` ramps to ``schedule(0)``; presets set it to their peak so the
    ramp is right even when the phase after it is empty.
    """

    schedule: Schedule
    steps: Array
    init_value: Array
    target: Array | None = None
    _takes_pair = True

    def _eval(self, t: Array) -> Array:
        dt = self.steps.dtype
        local, before = split_at(self.schedule, t, self.steps, dt)
        peak = self.schedule._eval(jnp.zeros((), dt)) if self.target is None else self.target
        # t / W < 1 wherever the ramp is used (t < W): no clip needed. Not t * ((peak - init) / W): the
        # quotient t / W stays bounded, so its derivative w.r.t. W does for any W > 0 (forward mode too).
        ramp = self.init_value + (peak - self.init_value) * safe_div(to_float(t, dt), self.steps)
        return jnp.where(before, ramp, self.schedule._at(local))


@pytree
class Select(Schedule):
    """``schedules[index](t)``: the choice of schedule is an int leaf, so it can be swept."""

    index: Array
    schedules: tuple[Schedule, ...]
    _takes_pair = True

    def _eval(self, t: Array) -> Array:
        vals = [s._at(t) for s in self.schedules]
        out = vals[0]
        for i, v in enumerate(vals[1:], start=1):
            out = jnp.where(self.index == i, v, out)
        return out


def _schedules(name: str, schedules: Any, min_len: int = 1) -> tuple[Schedule, ...]:
    if isinstance(schedules, Schedule) or not isinstance(schedules, Sequence) or isinstance(schedules, str):
        raise TypeError(f"{name} must be a list of jaxsched schedules, got {schedules!r}")
    out = tuple(V.schedule(f"{name}[{i}]", s) for i, s in enumerate(schedules))
    if len(out) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} schedule(s), got {len(out)}")
    return out


def join(schedules: Sequence[Schedule], boundaries: Any) -> Join:
    """Join schedules piecewise: the piecewise combinator.

    .. math:: \\eta(t) = s_i(t - b_{i-1}), \\quad b_{i-1} \\le t < b_i,
              \\quad b_{-1} = 0, \\; b_{n-1} = \\infty

    Piece ``i`` covers ``[boundaries[i-1], boundaries[i])`` (the switch happens
    *at* a boundary) and sees the step counted from its own start, as optax's
    ``join_schedules`` and torch's ``SequentialLR`` do. Boundaries are leaves:
    they may be traced, vmapped and differentiated. Equal boundaries give a
    zero-length piece.

    Args:
      schedules: ``n >= 1`` schedules.
      boundaries: ``n - 1`` non-negative, non-decreasing step counts.

    >>> import jaxsched
    >>> s = jaxsched.join([jaxsched.linear(0.0, 1.0, 10), jaxsched.cosine(1.0, 0.0, 90)], [10])
    >>> s([0, 5, 10, 55, 100]).round(4).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    pieces = _schedules("schedules", schedules)
    b = V.vector("boundaries", boundaries, nondecreasing=True, nonneg=True)
    if b.shape[-1] != len(pieces) - 1:
        raise ValueError(
            f"join needs len(boundaries) == len(schedules) - 1: got {b.shape[-1]} boundaries "
            f"for {len(pieces)} schedules (boundaries={boundaries!r})"
        )
    return Join(pieces, b)


def warmup(schedule: Schedule, steps: Any, init_value: Any = 0.0) -> Warmup:
    """Prefix ``schedule`` with a linear warmup.

    .. math:: \\eta(t) = \\begin{cases} v_0 + (s(0) - v_0)\\, t / W & t < W \\\\
                                        s(t - W) & t \\ge W \\end{cases}

    The ramp starts at ``init_value`` at step 0 and reaches ``schedule(0)`` at
    step ``steps``; the schedule is shifted by ``steps``.

    >>> import jaxsched
    >>> s = jaxsched.warmup(jaxsched.constant(1.0), 4)
    >>> s([0, 1, 2, 4, 100]).tolist()
    [0.0, 0.25, 0.5, 1.0, 1.0]
    """
    V.schedule("schedule", schedule)
    return Warmup(schedule, V.length("steps", steps), V.value("init_value", init_value))


def select(index: Any, schedules: Sequence[Schedule]) -> Select:
    """Choose one of ``schedules`` by an integer ``index`` that may be traced.

    .. math:: \\eta(t) = s_{k}(t)

    Every candidate is evaluated and the chosen one kept, so a sweep can vary
    the *shape* of a schedule (say, a cooldown's) inside one compiled program.

    >>> import jaxsched
    >>> s = jaxsched.select(1, [jaxsched.constant(1.0), jaxsched.constant(2.0)])
    >>> float(s(0))
    2.0
    """
    pieces = _schedules("schedules", schedules)
    if V.is_traced(index):
        idx = jnp.asarray(index).astype(jnp.int32)
    else:
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer, np.ndarray, jax.Array)):
            raise TypeError(f"index must be an integer, got {index!r}")
        a = np.asarray(index)
        if a.dtype.kind not in "iu" or ((a < 0) | (a >= len(pieces))).any():
            raise ValueError(f"index must be an integer in 0..{len(pieces) - 1}, got {index!r}")
        idx = jnp.asarray(a.astype(np.int32))
    return Select(idx, pieces)
