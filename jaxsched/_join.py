"""The piecewise combinator ``join``, ``warmup`` and ``select``.

``join`` picks the active piece by counting the boundaries passed, then
evaluates each *family* of pieces once: pieces with the same pytree structure
(and scalar leaves) are stacked and their hyperparameters gathered by the
piece index, so a join of 128 cosines costs one cosine per element, not 128.
A family of up to 4 evaluates each member instead, which is faster for so few
(DESIGN.md, "Join").
A piece evaluated at steps where it is not active sees its local step clipped
into its own range, so it can neither poison the value nor the gradient; a
large family of float children evaluates only the active member, at its own
steps (see DESIGN.md, "Join").
"""

from __future__ import annotations

import dataclasses
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
    _lead,
    _nodes,
    at_scalar,
    clip_time,
    float_dtype,
    local_time,
    passed,
    pick,
    pytree,
    safe_div,
    select_chain,
    shift_from,
    split_at,
    static_field,
    sub_time,
    to_float,
)

_WHERE_MAX = 4  # families up to this size are not stacked (each member, or a select per leaf); larger ones gather
_EACH_MAX = 4  # families up to this size evaluate every member with its own start and length (DESIGN.md, "Join")
_EACH_MAX_RESTARTS = 2  # the same for families with a `repeat` inside: a member costs a cycle search


def _family_key(s: Schedule, batch_ndim: int) -> Any:
    leaves, treedef = jax.tree_util.tree_flatten(s)
    if any(jnp.ndim(x) > batch_ndim for x in leaves):
        return object()  # array-valued leaves (piecewise tables): a family of its own
    return treedef, tuple(jnp.result_type(x) for x in leaves), tuple(jnp.shape(x) for x in leaves)


def _groups(pieces: Sequence[Schedule], batch_ndim: int = 0) -> list[list[int]]:
    """Static grouping of piece indices by family (structure, leaf dtypes and shapes).

    ``batch_ndim`` is the number of leading batch axes of a batched join (its boundaries' ndim - 1):
    pieces whose leaves have exactly those axes are scalars per member, so a batch built from a config
    (batched pieces) groups its pieces as a ``stack`` of joins does (one pytree structure for both).
    """
    order: dict[Any, list[int]] = {}
    for i, p in enumerate(pieces):
        order.setdefault(_family_key(p, batch_ndim), []).append(i)
    return list(order.values())


def _column(col: Sequence[Any]) -> Array:
    """One leaf of a family, stacked over its members on the last axis (behind a batch's axes).

    Concrete leaves give a concrete stack even inside a trace (the join caches it: a tracer there
    would leak into every later call, as ``jnp.asarray`` of a NumPy array inside a trace is one):
    arrays are stacked on the host (no XLA program for a 128-way stack); weakly typed ones (a class
    built from Python floats) eagerly by ``jnp.stack``, which keeps them weak, as the pieces
    themselves are (``_grid``'s stack drops weak types; a join's evaluation must not).
    """
    if any(isinstance(x, jax.core.Tracer) for x in col):
        return jnp.stack(col, axis=-1)
    with jax.ensure_compile_time_eval():
        if all(isinstance(x, (jax.Array, np.ndarray)) and not getattr(x, "weak_type", False) for x in col):
            return jnp.asarray(np.stack([np.asarray(x) for x in col], axis=-1))
        return jnp.stack(col, axis=-1)


def _row(leaf: Any, r: int) -> Any:
    """Member ``r`` of a stacked family leaf (the last axis; a batch of joins has a leading one).

    Leaves that are not arrays (``in_axes``, shardings, anything a ``tree_map`` returned) are
    every member's; a ``ShapeDtypeStruct`` loses its last axis.
    """
    if isinstance(leaf, (jax.Array, np.ndarray)) and leaf.ndim >= 1:
        return leaf[..., r]
    if isinstance(leaf, jax.ShapeDtypeStruct) and leaf.ndim >= 1:
        return jax.ShapeDtypeStruct(leaf.shape[:-1], leaf.dtype)
    return leaf


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Join(Schedule):
    """Piece ``i`` covers ``[boundaries[i-1], boundaries[i])`` and sees ``t - boundaries[i-1]``.

    As a pytree, each family of more than 4 pieces (same structure and scalar
    leaves) is one array per leaf, stacked over its members: a jitted function
    of a 128-cosine join takes 3 arrays, not 384 scalars, and XLA builds no
    128-way stacks (half of its compile time). ``schedules`` is still the tuple
    of pieces; a join rebuilt from leaves slices it out on first use.
    """

    schedules: tuple[Schedule, ...]
    boundaries: Array
    _takes_pair = True
    # Finite below 0: piece 0 sees its local step clipped at 0 unless it is finite there itself, the
    # later pieces are not reached (each one's value is finite at any local step; see local_time).
    _negative_ok = True

    def __getattr__(self, name: str) -> Any:
        # Only reached for a join rebuilt from leaves (tree_unflatten), whose pieces are built lazily.
        flat = self.__dict__.get("_flat")
        if name != "schedules" or flat is None:
            raise AttributeError(name)
        (stacks, plain_pieces, _), (n, families, plain) = flat
        out: list[Any] = [None] * n
        with jax.ensure_compile_time_eval():  # concrete stacks give concrete pieces, even inside a trace
            for (members, treedef), cols in zip(families, stacks):
                for r, j in enumerate(members):
                    out[j] = jax.tree_util.tree_unflatten(treedef, [_row(c, r) for c in cols])
        for j, p in zip(plain, plain_pieces):
            out[j] = p
        pieces = tuple(out)
        object.__setattr__(self, "schedules", pieces)
        return pieces

    def _subschedules(self) -> list[Schedule]:
        """One schedule per kind of piece (a family as one batched member), for walks over the tree.

        Unlike ``schedules`` this slices nothing: the tree walk at every trace stays cheap.
        """
        (stacks, plain_pieces, _), (_, families, _) = _flatten_join(self)
        protos = [jax.tree_util.tree_unflatten(treedef, list(cols)) for (_, treedef), cols in zip(families, stacks)]
        return [*protos, *plain_pieces]

    def _ahead(self) -> Array | None:
        b = self.boundaries
        return None if b.shape[-1] == 0 else _lead(b)

    def _eval(self, t: Array) -> Array:
        (stacks, plain_pieces, b), (n, families, plain) = _flatten_join(self)
        dt = b.dtype
        zero = jnp.zeros((1,), dt)
        starts = jnp.concatenate([zero, b])
        lens = jnp.maximum(jnp.concatenate([b, jnp.full((1,), jnp.inf, dt)]) - starts, 0.0)
        if n == 1:
            p = plain_pieces[0]
            return p._at(local_time(p, t, None, dt))
        idx = passed(t, b, dt)
        # (value, where it is used) per family; a family of all n pieces is the whole join
        parts: list[tuple[Array, Any]] = []
        for (members, treedef), cols in zip(families, stacks):
            parts.append(self._gathered(t, idx, b, starts, lens, members, treedef, list(cols)))
        for group in _groups(plain_pieces, max(b.ndim - 1, 0)):
            members = [plain[g] for g in group]
            restarts = any(getattr(s, "_restarts", False) for s in _nodes(plain_pieces[group[0]]))
            if len(members) <= (_EACH_MAX_RESTARTS if restarts else _EACH_MAX):
                # Each member on its own: its start and length are per setting, so the exact local
                # step's split and the progress's reciprocal are hoisted out of the loop over steps.
                # Selecting the leaves per step instead (below) made them per step (a divide and an
                # int/frac split each): a grid of 2 cosine pieces ran 2.5x slower, 4 pieces 1.4x. A
                # member with restarts costs more (the cycle search, and above 2**17 the exact path):
                # selecting pays from 3 such members (DESIGN.md, "Join").
                for g, j in zip(group, members):
                    piece = plain_pieces[g]
                    # The last piece is unbounded (length inf): no upper clip, and no clip at 0 for a
                    # child finite below 0 (_negative_ok: its value is only selected from its start).
                    hi = None if j == n - 1 else lens[j]
                    local = local_time(piece, t, hi, dt, start=None if j == 0 else starts[j])
                    parts.append((piece._at(local), idx == j))
                continue
            flat = [jax.tree_util.tree_flatten(plain_pieces[g])[0] for g in group]
            treedef = jax.tree_util.tree_structure(plain_pieces[group[0]])
            if len(members) > _WHERE_MAX:  # a family not stacked in the pytree (a batch built leaf by leaf)
                cols = [_column(col) for col in zip(*flat)]
                parts.append(self._gathered(t, idx, b, starts, lens, members, treedef, cols))
                continue
            # A family of 3 or 4 with restarts: one evaluation with selected leaves (a select chain per leaf,
            # vectorised) beats evaluating each member. Larger families are stacked (`_gathered`).
            pos = self._member_pos(idx, n, members)
            cols = [list(col) for col in zip(*flat)]
            cols += [[starts[j] for j in members], [lens[j] for j in members]]
            *gathered, st, ln = [select_chain(col, range(len(col)), pos) for col in cols]
            local = clip_time(sub_time(t, st, dt), ln)
            val = jax.tree_util.tree_unflatten(treedef, gathered)._at(local)
            parts.append((val, self._in_group(idx, n, members)))
        out = None
        for val, sel in parts:
            out = val if out is None or sel is None else jnp.where(sel, val, out)
        return out

    @staticmethod
    def _member_pos(idx: Array, n: int, members: Sequence[int]) -> Array:
        """The active piece's position among ``members`` (a valid position where another family is active)."""
        if len(members) == n:
            return idx
        ap = _progression(members)
        if ap is not None:  # e.g. alternating families: arithmetic, no lookup
            return jnp.clip(_nearest_below(idx, *ap), 0, len(members) - 1)
        table = np.zeros(n, np.int32)
        table[list(members)] = np.arange(len(members), dtype=np.int32)
        return pick(table, idx)

    @staticmethod
    def _in_group(idx: Array, n: int, members: Sequence[int]) -> Array | None:
        if len(members) == n:
            return None  # every piece: no selection needed
        ap = _progression(members)
        if ap is not None:
            on = (idx >= ap[0]) & (idx <= members[-1])
            return on if ap[1] == 1 else on & (ap[0] + _nearest_below(idx, *ap) * ap[1] == idx)
        in_group = np.zeros(n, bool)
        in_group[list(members)] = True
        return pick(in_group, idx)

    def _gathered(
        self, t: Any, idx: Array, b: Array, starts: Array, lens: Array, members: Sequence[int], treedef: Any, cols: list
    ) -> tuple[Array, Array | None]:
        """A large family's value: its members' settings gathered by the active piece."""
        dt, n = b.dtype, b.shape[-1] + 1
        pos = self._member_pos(idx, n, members)
        gathered = [pick(c, pos) for c in cols]
        proto = jax.tree_util.tree_unflatten(treedef, gathered)
        if _gets_pair(proto, t):
            rows = np.asarray(members)
            st, ln = pick(starts[rows], pos), pick(lens[rows], pos)
            local = clip_time(sub_time(t, st, dt), ln)
        else:
            # A float child: only the active piece is evaluated, and (boundaries sorted) only from
            # its start to before its end, so there is no upper clip (unsorted traced boundaries
            # may reach past it, where every schedule is finite: any piece can be the last);
            # below 0 only piece 0 is active. The start comes from `b`, not `starts`: XLA may fuse a
            # concatenate into the gather as a per-step branch, and then the loop does not vectorise.
            local = shift_from(t, b, idx, dt)
            if not proto._negative_ok:
                local = jnp.maximum(local, 0.0)
        return proto._at(local), self._in_group(idx, n, members)


def _progression(members: Sequence[int]) -> tuple[int, int] | None:
    """``(first, step)`` when the sorted piece indices ``members`` are an arithmetic progression."""
    a = members[0]
    d = members[1] - a if len(members) > 1 else 1
    return (a, d) if all(m == a + k * d for k, m in enumerate(members)) else None


def _nearest_below(idx: Array, a: int, d: int) -> Array:
    """``floor((idx - a) / d)`` for small integers (float arithmetic: vectorised, unlike integer division)."""
    return jnp.floor((idx - a).astype(jnp.float32) * (1.0 / d) + 0.5 / d).astype(jnp.int32)


def _flatten_join(j: Join) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """``((family stacks, other pieces, boundaries), (n, ((members, treedef), ...), other indices))``, cached."""
    flat = j.__dict__.get("_flat")
    if flat is not None:
        return flat
    pieces = j.schedules
    families, stacks, plain = [], [], []
    for members in _groups(pieces, max(jnp.ndim(j.boundaries) - 1, 0)):
        if len(members) > _WHERE_MAX:  # (pieces with array leaves are families of one: see _family_key)
            flats = [jax.tree_util.tree_flatten(pieces[m])[0] for m in members]
            families.append((tuple(members), jax.tree_util.tree_structure(pieces[members[0]])))
            stacks.append(tuple(_column(col) for col in zip(*flats)))
        else:
            plain += members
    plain.sort()
    flat = (tuple(stacks), tuple(pieces[m] for m in plain), j.boundaries), (len(pieces), tuple(families), tuple(plain))
    object.__setattr__(j, "_flat", flat)
    return flat


def _flatten_join_with_keys(j: Join) -> tuple[list[tuple[Any, Any]], Any]:
    children, aux = _flatten_join(j)
    keys = [jax.tree_util.GetAttrKey(k) for k in ("families", "schedules", "boundaries")]
    return list(zip(keys, children)), aux


def _unflatten_join(aux: Any, children: Any) -> Join:
    j = object.__new__(Join)
    object.__setattr__(j, "boundaries", children[2])
    object.__setattr__(j, "_flat", (tuple(children), aux))
    return j


jax.tree_util.register_pytree_with_keys(Join, _flatten_join_with_keys, _unflatten_join, _flatten_join)


@pytree
class Warmup(Schedule):
    """A linear ramp from ``init_value`` to ``target`` over ``steps``, then ``schedule(t - steps)``.

    ``target=None`` ramps to ``schedule(0)``; presets set it to their peak so the
    ramp is right even when the phase after it is empty. ``steps`` below 0 is a
    shift (no ramp). ``shift`` (static) says whether it may be: the factories set
    it False for a concrete ``steps >= 0``, so a parent warmup's target (this
    warmup's value at 0) is not a whole evaluation of ``schedule``.

    ``steps=None`` is no warmup (structure, as a cosine's ``exponent=None``): the
    schedule from step 0, with no ramp, split or select per step (the presets'
    default). A grid mixing it with numbers makes it a leaf of 0 (``_sweepable``).
    """

    schedule: Schedule
    steps: Array | None
    init_value: Array
    target: Array | None = None
    # Whether steps may lie below 0 (structure): only then is the value at 0 a whole evaluation of the
    # schedule (at -steps), which a parent warmup asks for. Factories set False for concrete steps >= 0.
    # Not in the repr: bookkeeping, and the default (True) is right for any steps.
    shift: bool = static_field(default=True, repr=False)
    _takes_pair = True
    # No bound on steps: below 0 there is no ramp and the schedule starts -steps in (see `warmup`).

    @staticmethod
    def _config_check(s: Warmup, batch_shape: tuple[int, ...]) -> None:
        if not s.shift and may_shift(s.steps):
            raise ValueError(f"steps below 0 (a shift) need shift=true, got steps={np.asarray(s.steps).tolist()}")

    def _ahead(self) -> Array | None:
        return None if self.steps is None else _lead(self.steps)

    def _eval(self, t: Array) -> Array:
        if self.steps is None:  # no warmup: the schedule's own time (a parent clipped it at 0 where needed)
            return self.schedule._at(t)
        dt = self.steps.dtype
        local, before = split_at(self.schedule, t, self.steps, dt)
        peak = self.schedule._at_zero(dt) if self.target is None else self.target
        # t / W < 1 wherever the ramp is used (t < W): no clip needed. Not t * ((peak - init) / W): the
        # quotient t / W stays bounded, so its derivative w.r.t. W does for any W > 0 (forward mode too).
        ramp = self.init_value + (peak - self.init_value) * safe_div(to_float(t, dt), self.steps)
        return jnp.where(before, ramp, self.schedule._at(local))

    def _at_zero(self, dtype: Any) -> Array:
        # _eval at 0.0: the ramp's start where steps > 0 (init_value: 0 / steps of the way to the peak,
        # with no slope in the peak or the length), the schedule at 0 where steps == 0, and below 0 (a
        # shift) the schedule at -steps: a whole evaluation, traced only where steps may be below 0.
        if self.steps is None:
            return self.schedule._at_zero(dtype)
        dt = self.steps.dtype
        at_zero = self.schedule._at_zero(dt)
        if self.shift:
            shifted = at_scalar(self.schedule, jnp.maximum(-self.steps, jnp.zeros((), dt)))
            at_zero = jnp.where(self.steps < 0, shifted, at_zero)
        return jnp.where(self.steps > 0, self.init_value, at_zero)

    def _sweepable(self) -> Schedule:
        # A batch may mix lengths below 0 and not: the general form for every member. No warmup is a length
        # of 0, in the dtype of lengths (a float leaf, as the factories make it).
        steps = jnp.zeros(jnp.shape(self.init_value), float_dtype()) if self.steps is None else self.steps
        return dataclasses.replace(super()._sweepable(), steps=steps, shift=True)  # type: ignore[type-var]


@pytree
class Select(Schedule):
    """``schedules[index](t)``: the choice of schedule is an int leaf, so it can be swept.

    Or ``fixed`` (with ``index=None``), a static choice: structure, so only that schedule is
    computed. The presets set it where a choice is given by name (``onecycle(anneal_strategy="cos")``,
    ``cyclic(mode="triangular")``), as ``cooldown`` does its shape; an index keeps the leaf. A batch
    mixing choices falls back to the index leaf (``_sweepable``).
    """

    index: Array | None
    schedules: tuple[Schedule, ...]
    fixed: int | None = static_field(default=None)

    # A static choice is its schedule to its parent: the time in the form that schedule takes, unclipped
    # below 0 where it is finite there (a join's float child gets the cheaper local step; see local_time).
    @property
    def _takes_pair(self) -> bool:  # type: ignore[override]
        return self.fixed is None or self.schedules[self.fixed]._takes_pair

    @property
    def _negative_ok(self) -> bool:  # type: ignore[override]
        return self.fixed is not None and self.schedules[self.fixed]._negative_ok

    def _eval(self, t: Array) -> Array:
        if self.fixed is not None:
            return self.schedules[self.fixed]._at(t)
        vals = [s._at(t) for s in self.schedules]
        out = vals[0]
        for i, v in enumerate(vals[1:], start=1):
            out = jnp.where(self.index == i, v, out)
        return out

    def _sweepable(self) -> Schedule:
        s = super()._sweepable()
        if self.fixed is None:
            return s
        return dataclasses.replace(s, index=jnp.asarray(self.fixed, jnp.int32), fixed=None)  # type: ignore[type-var]


def choose(index: Array | None, fixed: int | None, schedules: tuple[Schedule, ...]) -> Schedule:
    """The ``Select`` of :func:`jaxsched._validate.choice_or_name`'s pair: a leaf ``index``, or ``fixed``."""
    return Select(None, schedules, fixed) if fixed is not None else Select(index, schedules)


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
    zero-length piece. A boundary below 0 starts its piece before step 0 (the
    piece at step 0 sees ``-b``, a shift; the pieces before it are never
    reached), as in optax's ``join_schedules``: the ports of optax and torch
    build such joins at some settings.

    Args:
      schedules: ``n >= 1`` schedules.
      boundaries: ``n - 1`` finite, non-decreasing step counts.

    >>> import jaxsched
    >>> s = jaxsched.join([jaxsched.linear(0.0, 1.0, 10), jaxsched.cosine(1.0, 0.0, 90)], [10])
    >>> s([0, 5, 10, 55, 100]).round(4).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    pieces = _schedules("schedules", schedules)
    b = V.vector("boundaries", boundaries, nondecreasing=True)
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
    step ``steps``; the schedule is shifted by ``steps``. This is
    ``join([ramp, schedule], [steps])``, and like a join's boundary ``steps``
    may be below 0: then there is no ramp and the schedule starts ``-steps``
    in, as optax's ``warmup_cosine_decay_schedule`` does with a negative
    warmup (its port builds such a warmup).

    >>> import jaxsched
    >>> s = jaxsched.warmup(jaxsched.constant(1.0), 4)
    >>> s([0, 1, 2, 4, 100]).tolist()
    [0.0, 0.25, 0.5, 1.0, 1.0]
    """
    V.schedule("schedule", schedule)
    W = V.real("steps", steps)
    return Warmup(schedule, W, V.value("init_value", init_value), shift=may_shift(W))


def may_shift(steps: Array | None) -> bool:
    """``Warmup.shift`` for a length leaf: False only where it is concrete and ``>= 0`` everywhere (or None)."""
    return steps is not None and (V.is_traced(steps) or bool(np.any(np.asarray(steps) < 0)))


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
