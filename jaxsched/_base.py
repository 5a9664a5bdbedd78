"""The schedule protocol, step handling and the pytree decorator.

Every schedule is a frozen dataclass registered as a JAX pytree. Numeric
hyperparameters are array leaves; fields marked ``static`` (structure only) are
metadata. ``Schedule.__call__`` normalises the step once and hands an internal
*time* to ``_eval``: either a non-negative integer array (exact step arithmetic)
or a float array of the schedule's dtype.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from ._jit import program
from ._switch import uniform_switch

Array = jax.Array
T = TypeVar("T")

_INT32_MAX = 2**31 - 1


def static_field(**kwargs: Any) -> Any:
    """A dataclass field that is part of the pytree structure, not a leaf."""
    return dataclasses.field(metadata={"static": True}, **kwargs)


def pytree(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen dataclass registered as a JAX pytree.

    Fields declared with :func:`static_field` are metadata (they must be
    hashable and must never hold arrays); every other field is a child.

    Registered with ``register_pytree_with_keys``, not ``register_dataclass``:
    in jaxlib 0.10.2 the structures of two *different* classes registered as
    dataclasses compare equal when their fields line up (``Cosine(1., 0.,
    100, exponent=2.)`` and ``SqrtDecay(1., 0., 100, power=.7)``), though
    their hashes differ. A jit cache that finds such a key in a colliding hash
    slot runs the other class's program: one test process in 30 to 40
    evaluated ``sqrt_decay`` with the cosine's formula. A custom node compares
    its class. Flattening then goes through Python (about 1 µs per node per
    dispatch of a jitted function that takes a schedule argument).
    """
    cls = dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)
    data, meta = [], []
    for f in dataclasses.fields(cls):
        (meta if f.metadata.get("static", False) else data).append(f.name)
    keys = tuple(jax.tree_util.GetAttrKey(name) for name in data)

    def flatten(x: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        return tuple(getattr(x, name) for name in data), tuple(getattr(x, name) for name in meta)

    def flatten_with_keys(x: Any) -> tuple[tuple[tuple[Any, Any], ...], tuple[Any, ...]]:
        children, aux = flatten(x)
        return tuple(zip(keys, children)), aux

    def unflatten(aux: tuple[Any, ...], children: Any) -> Any:
        return cls(**dict(zip(meta, aux)), **dict(zip(data, children)))

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls


def float_dtype() -> np.dtype:
    """The default float dtype: float32, or float64 when x64 is enabled.

    Read from JAX's dtype rules, not from a device array (``jnp.asarray(0.0)``
    cost ~30 µs of every eager call and every constructor's validation).
    """
    return np.dtype(jax.dtypes.canonicalize_dtype(np.float64))


def int_dtype() -> np.dtype:
    """The default int dtype: int32, or int64 when x64 is enabled."""
    return np.dtype(jax.dtypes.canonicalize_dtype(np.int64))


def as_time(step: Any) -> Array:
    """Normalise a user step to a non-negative internal time.

    Integer steps (Python int, int8..int64, uint8..uint64) stay integers of the
    default int dtype, saturating at its maximum (uint32 above 2**31 - 1
    saturates like optax's int32 count). Float steps are returned as given.
    Negative steps become 0: they give the value at step 0.
    """
    if isinstance(step, bool) or (hasattr(step, "dtype") and np.dtype(step.dtype) == np.bool_):
        raise TypeError(f"step must be an integer or float step count, got a boolean: {step!r}")
    if isinstance(step, (str, bytes)) or step is None:
        raise TypeError(f"step must be an integer or float step count, got {step!r}")
    if isinstance(step, (int, np.integer)) and not isinstance(step, bool):
        idt = int_dtype()
        hi = np.iinfo(idt).max
        return jnp.asarray(max(0, min(int(step), hi)), dtype=idt)
    if isinstance(step, float):
        return jnp.asarray(max(step, 0.0))
    try:
        dt = np.dtype(step.dtype) if hasattr(step, "dtype") else np.asarray(step).dtype
    except Exception as e:  # pragma: no cover - exotic inputs
        raise TypeError(f"step must be an integer or float array, got {step!r}") from e
    if dt.kind in "iu":
        idt = int_dtype()
        info = np.iinfo(idt)
        if dt.kind == "u" and not isinstance(step, jax.Array) and np.iinfo(dt).max > np.iinfo(
            jax.dtypes.canonicalize_dtype(dt)
        ).max:
            # A host array wider than JAX holds (uint64 without x64): jnp.asarray would wrap it modulo
            # 2**32 (2**32 + 5 -> 5), so saturate on the host first.
            return jnp.asarray(np.minimum(np.asarray(step), info.max).astype(idt))
        if dt.kind == "u":
            # Saturate unsigned steps before the signed cast: uint32 2**32-1 -> 2**31-1.
            x = jnp.asarray(step)
            if np.iinfo(dt).max > info.max:
                x = jnp.minimum(x, jnp.asarray(info.max, dtype=x.dtype))
            return x.astype(idt)
        if dt.itemsize > idt.itemsize:
            # int64 numpy input without x64: saturate on the host, then cast.
            x = np.clip(np.asarray(step), 0, info.max).astype(idt)
            return jnp.asarray(x)
        x = jnp.asarray(step).astype(idt)
        return jnp.maximum(x, jnp.zeros((), idt))
    if dt.kind == "f":
        x = jnp.asarray(step)
        return jnp.maximum(x, jnp.zeros((), x.dtype))
    raise TypeError(
        f"step must be an integer or float step count, got an array of dtype {dt}: {step!r}"
    )


def host_time(step: Any) -> Any:
    """:func:`as_time`'s part that must run before a compiled program; the rest runs inside it.

    An int32/uint32/float array or tracer goes into the program as it is and
    :func:`as_time` there normalises it, fused with the schedule (inside a
    user's trace, once: not here and again there). Done eagerly,
    its ``maximum``/``astype`` were separate dispatches that cost more than the
    schedule itself (~170 µs for 100,000 steps, ~30 µs for one). Python
    scalars and integer arrays wider than the default int (int64 without x64,
    which a jit argument would wrap) are normalised here; bad inputs raise here.
    An integer scalar becomes a NumPy scalar of the default int (as
    :func:`as_time` makes it, without a device array of its own: ~40 µs).
    """
    if isinstance(step, (int, np.integer)) and not isinstance(step, bool):
        info = np.iinfo(int_dtype())
        return np.asarray(max(0, min(int(step), int(info.max))), dtype=info.dtype)
    if isinstance(step, (jax.Array, np.ndarray)):  # tracers are jax.Arrays too
        dt = np.dtype(step.dtype)
        if dt.kind == "f" or (dt.kind in "iu" and dt.itemsize <= int_dtype().itemsize):
            return step
    return as_time(step)


def _max_float_in(int_dtype: Any, dtype: Any) -> float:
    """The largest value of float ``dtype`` that fits in ``int_dtype`` (2**31 - 128 for int32, float32)."""
    top = np.asarray(np.iinfo(int_dtype).max, dtype=np.dtype(dtype))
    if float(top) > np.iinfo(int_dtype).max:
        top = np.nextafter(top, np.zeros((), top.dtype))
    return float(top)


# Up to this many boundaries a compare-and-add chain (vectorised) is the whole count. Above it, a
# two-level count: the chain over every 4th boundary, then 3 gathered boundaries (127 boundaries:
# 31 compares and 3 gathers, ~2x faster than the chain of 127; a gather is not vectorised on XLA:CPU,
# so more gathered levels cost more than they save). Above _CHAIN_MAX top keys, a binary search. Large
# evaluations with integer keys look the count up in buckets instead (`_count_keys`).
_CHAIN_SHORT = 32
_BLOCK = 4
_CHAIN_MAX = 128
# The bucketed count (`_count_keys`): buckets per key (a power of 2 at most _BUCKETS_MAX), and the
# smallest evaluation that takes it (its table and the switch cost more than they save below).
_BUCKETS_PER_KEY = 8
_BUCKETS_MAX = 2**14
_BUCKET_MIN_SIZE = 2**16

# Per-step table lookups (`pick`). Up to _PICK_CHAIN entries a select chain: vectorised, and it fuses
# into the step loop. Above it a gather, batched by hand (`_flat_gather`): under vmap JAX batches a
# gather by concatenating a setting index to each step's index, and XLA:CPU writes that index array
# (2x the output in int32) whenever it feeds more than one gather; a grid of piecewise-linear or large
# join settings wrote 4-5x its output in temporaries. A gather from the flattened tables at
# ``setting * n + i`` needs no such array.
_PICK_CHAIN = 8


def pick(table: Array | np.ndarray, i: Array) -> Array:
    """``table[clip(i, 0, n - 1)]`` per step, for a table of ``n`` entries (its last axis).

    A NumPy ``table`` is a constant (structure, not a setting): its select chain, up to _CHAIN_SHORT
    entries, has a step only where the value changes. XLA:CPU does not fuse a gather whose result has
    several consumers.
    """
    n = table.shape[-1]
    if isinstance(table, np.ndarray):
        if n > _CHAIN_SHORT:
            return jnp.take(jnp.asarray(table), i, mode="clip")
        keep = [j for j in range(n) if j == 0 or table[j] != table[j - 1]]
        return select_chain([table[j] for j in keep], keep, i)
    if table.ndim != 1:
        return jnp.take(table, i, axis=-1, mode="clip")
    if n > _PICK_CHAIN:
        return _flat_gather(table, jnp.clip(i, 0, n - 1))
    return select_chain([table[j] for j in range(n)], range(n), i)


def select_chain(values: Sequence[Any], firsts: Sequence[int], i: Array) -> Array:
    """``values[k]`` for the last ``k`` with ``i >= firsts[k]`` (``values[0]`` below ``firsts[1]``), per step.

    A chain of ``jnp.where``: vectorised on XLA:CPU, and it fuses into the step loop.
    """
    out = jnp.broadcast_to(jnp.asarray(values[0]), jnp.shape(i))
    for v, j in zip(values[1:], firsts[1:]):
        out = jnp.where(i >= j, v, out)
    return out


@jax.custom_jvp
def _flat_gather(table: Array, i: Array) -> Array:
    """``table[i]`` (1-d ``table``, ``i`` in range), batched by `_flat_gather_vmap`; linear in ``table``."""
    return _flat_gather_batched(table, i)


@_flat_gather.defjvp
def _flat_gather_jvp(primals: tuple[Array, Array], tangents: tuple[Array, Array]) -> tuple[Array, Array]:
    # The tangent is a plain gather (transposable, so reverse mode works; custom_vmap alone is not).
    table, i = primals
    return _flat_gather_batched(table, i), jnp.take(tangents[0], i, mode="clip")


@jax.custom_batching.custom_vmap
def _flat_gather_batched(table: Array, i: Array) -> Array:
    return jnp.take(table, i, mode="clip")


@_flat_gather_batched.def_vmap
def _flat_gather_vmap(axis_size: int, in_batched: Any, table: Array, i: Array) -> tuple[Array, bool]:
    table_batched, i_batched = in_batched
    n = table.shape[-1]
    if not table_batched:  # one table: a plain gather needs no setting index
        return jnp.take(table, i, mode="clip"), bool(i_batched)
    if axis_size * n > np.iinfo(i.dtype).max:  # flat indices would overflow: JAX's own batching
        return jax.vmap(lambda t, k: jnp.take(t, k, mode="clip"), (0, 0 if i_batched else None))(table, i), True
    if not i_batched:
        i = jnp.broadcast_to(i, (axis_size, *i.shape))
    offset = (jnp.arange(axis_size, dtype=i.dtype) * n).reshape((axis_size,) + (1,) * (i.ndim - 1))
    return _flat_gather_batched(table.reshape(-1), i + offset), True


def _key(keys: Array, j: Any) -> Array:
    """``keys[j]``: a static index, or per step through `pick`."""
    return keys[j] if isinstance(j, int) else pick(keys, j)


def passed(t: Any, boundaries: Array, dtype: Any) -> Array:
    """How many ``boundaries`` are ``<= t`` (the index of the active piece).

    Exact for integer ``t`` (``k >= b`` iff ``k >= ceil(b)``) and for a pair
    ``k + r`` (compared as ``(k, r)`` against ``(floor(b), b - floor(b))``).
    Boundaries are expected sorted; unsorted traced boundaries still give a
    finite index in ``[0, n]``.
    """
    n = boundaries.shape[-1]
    if n == 0:
        return jnp.zeros(time_shape(t), jnp.int32)
    if isinstance(t, Pair) and t.r is None:
        t = t.k
    if isinstance(t, Pair):
        bk, br, fits = _int_split(boundaries.astype(t.r.dtype), t.k.dtype)
        # Beyond the int range: never passed / always (bk was clipped to the largest float in the range,
        # 2**31 - 128 for float32, and every k above it passed a boundary at 3e9).
        top = jnp.iinfo(t.k.dtype).max
        bk = jnp.where(fits, bk, jnp.where(boundaries > 0, top, -top).astype(bk.dtype))
        br = jnp.where(fits, br, jnp.where(boundaries > 0, 2.0, -1.0))
        if jnp.ndim(t.r) == 0:
            # One offset for every step (an integer step shifted by a setting's start): k + r >= b iff
            # k > floor(b) - (r >= b - floor(b)), one integer key per boundary and one compare per step
            # instead of four operations. floor(b) is clipped to at least -INT_MAX: the - 1 cannot wrap.
            return _count_keys(t.k, bk - (t.r >= br).astype(bk.dtype))

        def ge(j: Any) -> Array:
            kj, rj = _key(bk, j), _key(br, j)
            return (t.k > kj) | ((t.k == kj) & (t.r >= rj))

        return _count(ge, n, t.shape)
    if jnp.issubdtype(t.dtype, jnp.integer):
        # k >= ceil(b) as k > ceil(b) - 1, so that a boundary past the int range (its ceil does not fit: 3e9,
        # or 2**31 - 5, which is 2**31 in float32) takes the key INT_MAX and is never passed (clipped to
        # 2**31 - 128, it was passed by the top 128 steps). The clip at min / 2 keeps the - 1 from wrapping.
        info = jnp.iinfo(t.dtype)
        hi = _max_float_in(t.dtype, boundaries.dtype)
        c = jnp.ceil(boundaries)
        keys = jnp.clip(c, float(info.min) / 2, hi).astype(t.dtype) - 1
        keys = jnp.where(c > hi, info.max, keys)
        return _count_keys(t, keys)
    q = to_float(t, dtype)
    return _count(lambda j: q >= _key(boundaries, j), n, jnp.shape(q))


def _count(ge: Any, n: int, shape: tuple[int, ...]) -> Array:
    """The number of sorted keys ``j < n`` with ``ge(j)`` (``ge`` takes an int or an int array)."""
    if n <= _CHAIN_SHORT:
        return _count_chain(ge, n)
    # Level 1: the top key of each full block of _BLOCK; its count c says keys [0, _BLOCK * c) pass.
    m = n // _BLOCK

    def top(j: Any) -> Array:
        return ge(_BLOCK * j + _BLOCK - 1)

    first = _BLOCK * (_count_chain(top, m) if m <= _CHAIN_MAX else _count_search(top, m, shape))
    # Level 2: the rest of the next block (the keys past the last full block when the count is m).
    idx = first
    for j in range(_BLOCK - 1):
        k = first + j
        idx = idx + ((k < n) & ge(jnp.minimum(k, n - 1))).astype(jnp.int32)
    return _own_loop(idx)


def _count_keys(x: Array, keys: Array) -> Array:
    """``#{j : x > keys[j]}`` per step, for integer steps ``x`` and sorted integer ``keys`` (last axis).

    Above _CHAIN_SHORT keys, evaluations of _BUCKET_MIN_SIZE elements or more look the count up in
    buckets that each hold at most one key past their start (:func:`_buckets`): a shift, two gathers and a
    compare per step, against the two-level count's 31 compares and 3 gathers (a 128-piece join runs
    1.17-1.22x faster than by the two-level count, both timed in one run: ``benchmarks/RESULTS.md``, join).
    Where a bucket holds more (keys much closer than their
    mean spacing) or the keys are not sorted, the two-level count (``_switch.uniform_switch``: a
    grid runs the buckets where every member's keys allow them).
    """
    n, shape = keys.shape[-1], jnp.shape(x)

    def general(ops: tuple[Array, ...]) -> Array:
        return _count(lambda j: ops[0] > _key(ops[1], j), n, shape)

    if n <= _CHAIN_SHORT or keys.ndim != 1:
        return general((x, keys))
    ok, buckets = _buckets(keys)
    key = jnp.where(ok, 0, 1).astype(jnp.int32)
    return uniform_switch(
        key, (_bucket_count, general), (x, keys, *buckets), size=math.prod(shape), min_size=_BUCKET_MIN_SIZE
    )


def _unsigned(dtype: Any) -> Any:
    """The unsigned integer dtype of ``dtype``'s width."""
    return jnp.dtype(f"uint{8 * jnp.dtype(dtype).itemsize}")


def _buckets(keys: Array) -> tuple[Array, tuple[Array, Array, Array]]:
    """``(ok, (off, table, shift))``: the counts at the starts of buckets of ``2**shift`` steps over the keys.

    With ``lo, hi`` the first and last key and ``d = x - lo - 1`` (unsigned: exact for any ``x > lo``),
    bucket ``d >> shift`` of the _BUCKETS_PER_KEY * n (a power of 2) that span ``[lo, hi)`` starts at
    ``d = k 2**shift``; ``table[k]`` counts the keys passed there. ``ok``: the keys are sorted and no
    bucket holds a second key past its start, so a step's count is ``table[k]`` plus whether it passed
    key ``table[k]`` (the only other one it can have passed). ``off`` is each key's ``d``-distance
    from the first, unsigned.
    """
    n = keys.shape[-1]
    nb = min(_BUCKETS_MAX, 1 << (_BUCKETS_PER_KEY * n - 1).bit_length())
    ut = _unsigned(keys.dtype)
    lo = keys[0].astype(ut)
    off = keys.astype(ut) - lo  # each key's distance from the first (sorted keys: no wrap)
    top = jnp.maximum(off[-1], 1) - 1  # the largest d below the last key
    bits = 8 * ut.itemsize
    shift = jnp.maximum(bits - jax.lax.clz(top).astype(jnp.int32) - (nb.bit_length() - 1), 0).astype(ut)
    # The keys passed at each bucket's start, one key at a time: a loop over the keys keeps every
    # intermediate the size of the table (`searchsorted`'s compare_all held nb x n per member: a
    # 1024-member grid of 128-piece joins 508 MiB; its binary search and sort compile slower).
    first = jnp.arange(nb, dtype=ut) << shift
    table = jax.lax.fori_loop(0, n, lambda j, c: c + (first >= off[j]).astype(jnp.int32), jnp.zeros(nb, jnp.int32))
    # Sorted keys put at most one key past each bucket's start where no key shares its bucket with the
    # key before it unless that one is at the start. (The last key lies past every bucket's steps.)
    b = off[:-1] >> shift
    alone = (b[1:] != b[:-1]) | (off[:-2] == b[:-1] << shift)
    ok = jnp.all((keys[1:] >= keys[:-1]) & jnp.concatenate([jnp.ones((1,), bool), alone]))
    return ok, (off, table, shift)


def _bucket_count(ops: tuple[Array, ...]) -> Array:
    """:func:`_count_keys` by the buckets of :func:`_buckets` (valid where its ``ok``)."""
    x, keys, off, table, shift = ops
    n, nb = keys.shape[-1], table.shape[-1]
    d = x.astype(off.dtype) - keys[0].astype(off.dtype) - 1
    k = jnp.minimum(d >> shift, nb - 1).astype(jnp.int32)
    base = _flat_gather(table, k)
    nxt = _flat_gather(off, jnp.minimum(base, n - 1))
    count = base + (d >= nxt).astype(jnp.int32)
    return jnp.where(x <= keys[0], 0, jnp.where(x > keys[-1], n, count))


def _own_loop(x: Array) -> Array:
    """``x`` (``>= 0``), computed in a loop of its own: a fusion barrier for XLA:CPU.

    The max over the pair ``(x, 0)`` is ``x``, but XLA:CPU does not fuse a
    reduction into its consumers, so ``x`` is stored once and read back
    instead of being fused into every gather that uses it. For the two-level
    count this is ~30% of a 128-piece join's time per step (7 -> 5 ns, one
    store and load of an int32 per step): fused, the loop holds the count's
    gathers and the settings' gathers back to back, one long dependency chain.
    The price is that int32 per step: a grid of settings with more than
    _CHAIN_SHORT boundaries writes a temporary the size of its float32 output
    (measured: without the barrier a 64 x 100,000 grid of 128-piece joins ran
    at 6.0 instead of 4.1 ns per element; stored as int8 at 5.9 ns).
    """
    return jnp.max(jnp.stack([x, jnp.zeros_like(x)], axis=-1), axis=-1)


def _count_chain(ge: Any, n: int) -> Array:
    idx = ge(0).astype(jnp.int32)
    for j in range(1, n):
        idx = idx + ge(j).astype(jnp.int32)
    return idx


def _count_search(ge: Any, n: int, shape: tuple[int, ...]) -> Array:
    """Branchless binary search: the number of sorted keys ``j`` with ``ge(j)``."""
    count = jnp.zeros(shape, jnp.int32)
    step = 1 << (n.bit_length() - 1)
    while step:
        cand = count + step
        ok = (cand <= n) & ge(jnp.minimum(cand, n) - 1)
        count = jnp.where(ok, cand, count)
        step >>= 1
    return count


class Pair:
    """An exact internal time ``k + r``: an integer ``k`` and a float offset ``r`` in ``[0, 1)``.

    Combinators (``join``, ``warmup``) hand a pair to the children that accept
    one (``_takes_pair``), so a local step ``t - start`` stays exact in float32
    for integer steps up to 2**31 - 1 however deep the nesting: a restart or a
    boundary far above 2**24 still falls on the right step. Children that do not
    accept one get the float ``k + r`` (or ``k`` itself while ``r`` is None, an
    integer time). Internal only: never leaves a trace.

    ``top`` is the global integer step the pair was made from, an upper bound
    of ``k``: a start below 0 (a join's boundary or a warmup's length there)
    puts ``k`` ahead of the global step, and :func:`sub_time` adds its distance,
    bounded over the whole batch. It does not depend on any setting alone, so
    a decision taken on it (``repeat``'s choice of its exact path) stays
    unbatched under ``vmap`` over a grid of settings, and ``lax.cond`` still
    runs one branch. (Where ``exact`` is decided, :func:`eval_time` has
    accounted for such starts and ``top`` is not read, nor updated.)

    ``exact`` (static) is that decision when it was taken once for the whole
    schedule (see :func:`eval_time`): True where some step needs ``repeat``'s
    exact integer path, False where none does, None where each ``repeat``
    decides for itself.
    """

    __slots__ = ("k", "r", "top", "exact")

    def __init__(self, k: Array, r: Array | None, top: Array, exact: bool | None = None) -> None:
        self.k, self.r, self.top, self.exact = k, r, top, exact

    @property
    def shape(self) -> tuple[int, ...]:
        return jnp.shape(self.k) if self.r is None else jnp.broadcast_shapes(jnp.shape(self.k), jnp.shape(self.r))

    def offset(self, dtype: Any) -> Array:
        return jnp.zeros((), dtype) if self.r is None else self.r.astype(dtype)


def as_pair(t: Any) -> Any:
    """An integer time as a :class:`Pair` (no offset); pairs and float times unchanged."""
    if isinstance(t, Pair) or not jnp.issubdtype(t.dtype, jnp.integer):
        return t
    return Pair(t, None, t)


def time_shape(t: Any) -> tuple[int, ...]:
    return t.shape if isinstance(t, Pair) else jnp.shape(t)


def to_float(t: Any, dtype: Any) -> Array:
    """Internal time as a float of ``dtype``."""
    if isinstance(t, Pair):
        k = t.k.astype(dtype)
        return k if t.r is None else k + t.r.astype(dtype)
    return t.astype(dtype) if t.dtype != dtype else t


def _int_split(x: Array, idt: Any) -> tuple[Array, Array, Array]:
    """``x = whole + frac`` with ``whole`` an int of ``idt`` and ``frac`` in ``[0, 1)``.

    ``x`` is clipped into the range of exact integers first; ``fits`` says
    where it was not (there ``whole`` and ``frac`` describe the clipped value).
    """
    hi = _max_float_in(idt, x.dtype)
    lo = -hi
    fits = (x >= lo) & (x <= hi)
    xc = jnp.clip(x, lo, hi)
    whole = jnp.floor(xc)
    return whole.astype(idt), xc - whole, fits


@jax.custom_batching.custom_vmap
def _batch_max(x: Array) -> Array:
    """``x`` (a float scalar); under ``vmap``, its maximum over the batch, unbatched (every level of
    nesting); ``-inf`` over an empty batch (no member to bound).

    A bound that holds for every setting of a grid, so a ``lax.cond`` on it still runs one branch.
    """
    return x


@_batch_max.def_vmap
def _batch_max_rule(axis_size: int, in_batched: Sequence[bool], x: Array) -> tuple[Array, bool]:
    return (_batch_max(jnp.max(x, axis=0, initial=-jnp.inf)) if in_batched[0] else x), False


def _lead(start: Array) -> Array:
    """How far below 0 ``start`` lies (``max(0, -start)``), at most, over its elements and any batch."""
    return _batch_max(jnp.max(jax.lax.stop_gradient(jnp.maximum(-jnp.asarray(start), 0.0))))


def sub_time(t: Any, start: Array, dtype: Any) -> Any:
    """``t - start``: a :class:`Pair` for an integer or pair ``t`` (exact), else a float.

    The pair's offset is normalised into ``[0, 1)``, so the sign of ``k`` alone
    says whether ``t`` is before the start.
    """
    start = jnp.asarray(start, dtype)
    if not isinstance(t, Pair) and not jnp.issubdtype(t.dtype, jnp.integer):
        return to_float(t, dtype) - start
    t = as_pair(t)
    idt = t.k.dtype
    info = jnp.iinfo(idt)
    whole, frac = _start_parts(start, idt, dtype)
    r = t.offset(dtype) + frac
    # r is in (-1, 1) for a start >= 0. A start below 0 (a join's boundary there, a shift) leaves its
    # distance in r (whole is 0, see _start_parts): its whole part is carried into k too, so that r is
    # in [0, 1) as a pair's offset must be (a child's boundary test reads it so).
    carry = jnp.clip(jnp.floor(r), -1.0, _max_float_in(idt, r.dtype))
    # One addition per step (the carry is per setting where r is); a start beyond the int range keeps
    # INT_MIN (no carry: it would wrap). A start at -s carries s into k, which leaves the int range for
    # global steps above INT_MAX - s: saturating there would cost a second operation per step on every
    # pair path (WSD's grid: 19.1 -> 20.9 ms in an in-process A/B, not a benchmark), so those steps are out of
    # range (docs/conventions.md).
    k = t.k + jnp.where(whole == info.min, whole, whole + carry.astype(idt))
    top = t.top
    if t.exact is None:  # top must stay an upper bound of k (repeat decides on it): add a start below 0
        ahead = jnp.clip(jnp.ceil(_lead(start)), 0.0, _max_float_in(idt, dtype)).astype(idt)
        top = jnp.where(top > info.max - ahead, info.max, top + ahead)
    return Pair(k, r - carry, top, t.exact)


def shift(t: Any, start: Array, dtype: Any) -> Array:
    """``float(t - start)``, exact before the final rounding for an integer or pair ``t``.

    The integer parts are subtracted in integer arithmetic, so a local step
    stays exact for global steps up to 2**31 - 1 even in float32. Its sign is
    exact too: the integer difference is exact and the offset lies in
    ``(-1, 1)``, so the rounded sum never crosses 0. Unlike :func:`sub_time`
    the offset is not normalised into ``[0, 1)`` (~5 operations per step fewer):
    for children that take a float.
    """
    start = jnp.asarray(start, dtype)
    if not isinstance(t, Pair) and not jnp.issubdtype(t.dtype, jnp.integer):
        return to_float(t, dtype) - start
    t = as_pair(t)
    whole, frac = _start_parts(start, t.k.dtype, dtype)
    return (t.k + whole).astype(dtype) + (t.offset(dtype) + frac)


def shift_from(t: Any, boundaries: Array, idx: Array, dtype: Any) -> Array:
    """:func:`shift` by the start of piece ``idx`` (0 for piece 0, else ``boundaries[idx - 1]``), per step.

    The integer and fractional parts are split once per boundary and gathered
    (splitting a gathered start costs more per step than a second gather), and
    no ``[0, *boundaries]`` table is built: XLA may fuse a concatenate into the
    gather as a per-step branch, which XLA:CPU does not vectorise.
    """
    first, prev = idx == 0, jnp.maximum(idx - 1, 0)

    def at(v: Array) -> Array:
        return jnp.where(first, jnp.zeros((), v.dtype), pick(v, prev))

    if not isinstance(t, Pair) and not jnp.issubdtype(t.dtype, jnp.integer):
        return to_float(t, dtype) - at(boundaries)
    t = as_pair(t)
    whole, frac = _start_parts(boundaries, t.k.dtype, dtype)
    return (t.k + at(whole)).astype(dtype) + (t.offset(dtype) + at(frac))


def _start_parts(start: Array, idt: Any, dtype: Any) -> tuple[Array, Array]:
    """``(whole, frac)`` with ``k + r - start == (k + whole) + (r + frac)``; ``whole`` an int of ``idt``.

    Starts lie in [0, 2**31) for valid settings. ``whole`` is ``-floor(start)``,
    or INT_MIN for a start beyond the int range (``k + INT_MIN < 0`` for every
    step ``k >= 0``: never reached); ``frac`` is ``floor(start) - start``, plus
    the distance below 0 of a negative traced start (``>= 1``: reached from
    step 0). The one split of a start that :func:`sub_time`, :func:`shift` and
    :func:`shift_from` share.
    """
    ws, fs, fits = _int_split(jnp.clip(start, 0.0, None), idt)
    far = start - (ws.astype(dtype) + fs)  # 0 unless the start is negative or beyond the int range
    return jnp.where(fits, -ws, jnp.iinfo(idt).min), -(fs + far)


def clip_time(t: Any, hi: Array | None = None) -> Any:
    """``t`` clipped into ``[0, hi]`` (``hi=None``: only below), exactly for a pair."""
    if not isinstance(t, Pair):
        return jnp.maximum(t, 0.0) if hi is None else jnp.clip(t, 0.0, hi)
    k, r = t.k, t.r
    dt = r.dtype if r is not None else (jnp.asarray(hi).dtype if hi is not None else float_dtype())
    neg = is_negative(t)
    k = jnp.where(neg, jnp.zeros_like(k), k)
    r = None if r is None else jnp.where(neg, jnp.zeros_like(r), r)
    if hi is not None:
        hk, hr, fits = _int_split(jnp.asarray(hi, dt), k.dtype)
        over = fits & ((k > hk) | ((k == hk) & (t.offset(dt) > hr)))
        k = jnp.where(over, hk, k)
        r = jnp.where(over, hr, jnp.zeros_like(hr) if r is None else r)
    return Pair(k, r, t.top, t.exact)


def _gets_pair(child: Any, t: Any) -> bool:
    """Whether ``child`` is handed ``t`` as an exact pair (it takes one, and ``t`` is integer or a pair)."""
    return child._takes_pair and (isinstance(t, Pair) or jnp.issubdtype(t.dtype, jnp.integer))


def local_time(child: Any, t: Any, hi: Array | None, dtype: Any, start: Array | None = None) -> Any:
    """``t - start`` clipped into ``[0, hi]`` in the form ``child`` takes: a pair if it accepts one, else a float.

    ``start=None`` is 0, ``hi=None`` no upper bound. Clipping after the
    conversion is the same value (rounding is monotonic) and costs one operation
    instead of a pair's four; a float child also skips normalising the pair.
    """
    if _gets_pair(child, t):
        p = as_pair(t) if start is None else sub_time(t, start, dtype)
        return p if hi is None and child._negative_ok else clip_time(p, hi)
    x = to_float(t, dtype) if start is None else shift(t, start, dtype)
    if hi is None:  # a child finite below 0 needs no clip there (see Schedule._negative_ok)
        return x if child._negative_ok else jnp.maximum(x, 0.0)
    return jnp.clip(x, 0.0, hi)


def split_at(child: Any, t: Any, start: Array, dtype: Any) -> tuple[Any, Array]:
    """``(local, before)``: ``t - start`` ready for ``child`` (clipped at 0 where it needs it) and ``t < start``.

    A pair-taking child gets the exact pair, whose integer part decides the
    sign; a float child gets :func:`shift`, whose sign is exact too.
    """
    if _gets_pair(child, t):
        local = sub_time(t, start, dtype)
        return (local if child._negative_ok else clip_time(local)), is_negative(local)
    x = shift(t, start, dtype)
    return (x if child._negative_ok else jnp.maximum(x, 0.0)), x < 0


def is_negative(t: Any) -> Array:
    """``t < 0``, exactly for a pair."""
    if isinstance(t, Pair):
        return t.k < 0  # r >= 0 (see sub_time)
    return t < 0


@jax.custom_jvp
def safe_div(num: Array, den: Array) -> Array:
    """``num / den`` with 0 where ``den == 0``; finite value and gradient.

    ``num * g`` with ``g = 1 / den`` (0 at ``den == 0``): when ``den`` is a
    setting, its reciprocal is taken once, not per step. JAX would
    differentiate ``num / den`` as ``-num * den**-2``, whose square underflows
    for ``|den|`` below ~1e-19 (float32): even ``num == 0`` then gives a NaN
    gradient. The derivative here is ``(dnum - q dden) / den`` with
    ``q = num / den``, finite wherever the quotient is bounded.
    """
    ok = den != 0
    return num * jnp.where(ok, jnp.reciprocal(jnp.where(ok, den, jnp.ones_like(den))), jnp.zeros_like(den))


@safe_div.defjvp
def _safe_div_jvp(primals: tuple[Array, Array], tangents: tuple[Array, Array]) -> tuple[Array, Array]:
    num, den = primals
    dnum, dden = tangents
    q = safe_div(num, den)
    # Where the quotient overflows (a tiny den), its slope -q / den is infinite: in a branch that a
    # `where` does not select (a warmup's ramp far past its end) reverse mode would multiply it by a zero
    # cotangent, 0 * inf = NaN. It is taken as 0 there: the value itself is infinite.
    qf = jnp.where(jnp.isfinite(q), q, jnp.zeros_like(q))
    return q, safe_div(dnum - qf * dden, den)


def safe_pow(x: Array, p: Array, exact: bool = False) -> Array:
    """``x ** p`` for ``x >= 0`` with finite gradients at ``x == 0``.

    ``0 ** p`` is 0 for ``p > 0`` and 1 for ``p == 0``. In float32 the power is
    ``_fastmath.power`` (a few ulps; XLA:CPU's ``pow`` is a scalar call per
    element, 3.4x its cost on a grid: benchmarks/RESULTS.md, "ports"), and
    ``x`` below the smallest normal float (1.2e-38) counts as 0, as XLA:CPU's
    flush to zero takes it anyway.
    ``exact=True`` keeps XLA's ``pow`` (tables computed once, where a peer's
    numbers are matched to the last bit and speed does not matter).
    """
    x, p = jnp.asarray(x), jnp.asarray(p)
    fast = not exact and x.dtype == jnp.float32 and p.dtype == jnp.float32
    pos = x >= np.finfo(np.float32).tiny if fast else x > 0
    xs = jnp.where(pos, x, jnp.ones_like(x))
    at_zero = jnp.where(p == 0, jnp.ones_like(x), jnp.zeros_like(x))
    if fast:
        from ._fastmath import power  # (_fastmath imports this module)

        return jnp.where(pos, power(xs, p), at_zero)
    return jnp.where(pos, xs**p, at_zero)


def clamp(x: Array, lo: Any = None, hi: Any = None) -> Array:
    """``clip(x, lo, hi)`` as selects (``None``: no bound); a NaN ``x`` stays NaN.

    XLA's ``maximum``/``minimum`` must propagate a NaN from either side, which
    costs x86 a compare and a blend per vector besides the ``max``; a select on
    ``x < lo`` (false for a NaN) does not, and LLVM often folds it into a masked
    operation. The values are those of ``clip`` for every non-NaN ``x``; the
    derivative at a bound is ``dx`` (``clip`` splits it there), so this is for
    values whose slope at a bound does not matter: integer-valued indices,
    arguments of functions with their own JVP, guards against values a valid
    setting never reaches.
    """
    if lo is not None:
        lo = jnp.asarray(lo, x.dtype)
        x = jnp.where(x < lo, lo, x)
    if hi is not None:
        hi = jnp.asarray(hi, x.dtype)
        x = jnp.where(x > hi, hi, x)
    return x


def safe_sqrt(x: Array) -> Array:
    """``sqrt(x)`` for ``x > 0``, 0 elsewhere, with derivative 0 where ``x <= 0`` (not inf at 0)."""
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, jnp.ones_like(x))), jnp.zeros_like(x))


@jax.custom_jvp
def unit_sqrt(p: Array) -> Array:
    """``sqrt(p)`` of a progress ``p`` in ``[0, 1]`` (``progress``'s output): ``safe_sqrt``'s values there.

    The derivative is ``dp / (2 sqrt(p))``, and 0 at ``p = 0`` (where ``sqrt``'s is inf),
    as ``safe_sqrt``'s. The guard is in the JVP only: the value is one ``sqrt``, where
    ``safe_sqrt`` adds a compare and two selects per step (a WSD grid, 1024 x 100,000
    on one core: 28 -> 24 ms). Outside ``[0, 1]`` a negative ``p`` gives NaN: use
    ``safe_sqrt`` where the argument is not a clipped progress.
    """
    return jnp.sqrt(p)


@unit_sqrt.defjvp
def _unit_sqrt_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    (p,), (dp,) = primals, tangents
    y = unit_sqrt(p)
    pos = p > 0
    return y, jnp.where(pos, dp / (2.0 * jnp.where(pos, y, jnp.ones_like(y))), jnp.zeros_like(y))


def _nodes(s: Any) -> Any:
    """Every schedule in the tree under ``s`` (``s`` included)."""
    if isinstance(s, Schedule):
        yield s
        for k in s._subschedules():
            yield from _nodes(k)
    elif isinstance(s, (tuple, list)):
        for x in s:
            yield from _nodes(x)


# Evaluations of fewer elements than this (steps, times the members of a batch under vmap) keep the
# general form of growth leaves, without a conditional (eval_time).
_SWITCH_MIN_SIZE = 2**24


def _regrow(schedule: Schedule, growth: int) -> Schedule:
    """``schedule`` with every node's growth leaf (:meth:`Schedule._growth_leaf`) as the structure of
    ``growth``: period doubling for 2, equal periods for 1."""
    def go(x: Any) -> Any:
        if not isinstance(x, Schedule):
            return x
        kids, tree = jax.tree_util.tree_flatten(x, is_leaf=lambda y: y is not x and isinstance(y, Schedule))
        x = jax.tree_util.tree_unflatten(tree, [go(k) for k in kids])
        return x if x._growth_leaf() is None else x._growth_form(growth)

    return go(schedule)


def eval_time(schedule: Schedule, t: Array) -> Array:
    """Evaluate at a normalised time (:func:`as_time`): the entry point of every call.

    A float32 growth leaf of ``repeat`` (``sgdr(..., period_mult=2.0)``) takes the values of period
    doubling where it is exactly 2 and of equal periods where it is exactly 1, and so computes all
    three forms per step. Here the whole schedule is evaluated in the one form that its growths share
    (``_switch.uniform_switch``): under ``vmap`` over a grid whose members agree (a sweep of periods at
    a growth of 2), the batch runs that form alone (a 256 x 100,000 grid of torch's port with the growth
    as a leaf of 2: 0.68 ns per element, against 3.56 for the general form in the same run,
    ``benchmarks/RESULTS.md``, options as structure); where they differ, the general one. Each form
    evaluates the whole tree, so it fuses into one loop. The switch compiles the three forms, so only
    evaluations of ``_SWITCH_MIN_SIZE`` elements or more (steps times members) take it: a train step's
    one step keeps the general form alone.
    """
    growths = [g for g in (s._growth_leaf() for s in _nodes(schedule)) if g is not None]
    if not growths:
        return _eval_time(schedule, t)
    two = functools.reduce(jnp.logical_and, [g == 2.0 for g in growths])
    one = functools.reduce(jnp.logical_and, [g == 1.0 for g in growths])
    key = jnp.where(one, 0, jnp.where(two, 1, 2)).astype(jnp.int32)
    forms = (
        lambda ops: _eval_time(_regrow(ops[0], 1), ops[1]),
        lambda ops: _eval_time(_regrow(ops[0], 2), ops[1]),
        lambda ops: _eval_time(*ops),
    )
    return uniform_switch(key, forms, (schedule, t), size=math.prod(jnp.shape(t)), min_size=_SWITCH_MIN_SIZE)


def _eval_time(schedule: Schedule, t: Array) -> Array:
    """:func:`eval_time` in the form the schedule has.

    A schedule with restarts needs ``repeat``'s exact integer path only for
    large integer local steps (2**17 and up in float32). That is decided here,
    once for the whole tree, on the steps and the distance of any start below 0
    (which puts a local step ahead of the global one; bounded over a batch), by
    one ``lax.cond`` whose branches each evaluate the whole schedule: every
    piece of it fuses into one loop per branch, and under ``vmap`` over
    settings the predicate stays unbatched, so only one branch runs.
    """
    if not jnp.issubdtype(t.dtype, jnp.integer):
        return schedule._eval(t)
    limits = [s._path_limit() for s in _nodes(schedule) if getattr(s, "_restarts", False)]
    if not limits:
        return schedule._eval(t)
    lim = jnp.asarray(min(min(limits), int(jnp.iinfo(t.dtype).max)), t.dtype)
    need = jnp.any(t >= lim)
    # A start below 0 (a join boundary or warmup length there: a shift) puts a child's local step ahead of
    # the global one, by at most the sum of those distances (bounded over the batch: still unbatched).
    aheads = [a for a in (s._ahead() for s in _nodes(schedule)) if a is not None]
    if aheads:
        dt = jnp.result_type(*aheads)
        ahead = sum(aheads[1:], aheads[0])
        need = need | (ahead + jnp.max(t, initial=0).astype(dt) >= lim.astype(dt))
    return jax.lax.cond(
        need,
        lambda: schedule._at(Pair(t, None, t, exact=True)),
        lambda: schedule._at(Pair(t, None, t, exact=False)),
    )


@program
def _evaluate(schedule: Schedule, t: Array) -> Array:
    # One compiled program per schedule structure and step shape: an eager call
    # would otherwise dispatch (and compile) every small op on its own. Inside an
    # outer jit/vmap/grad this is inlined like any jitted function. ``t`` comes
    # from host_time; as_time is idempotent on what it has normalised already.
    return eval_time(schedule, as_time(t))


def _leaf_repr(v: Any) -> str:
    """A concrete leaf as the shortest text that reads back to it in its own dtype, else ``repr``.

    A float32 ``3e-4`` shows as ``0.0003``, not as its float64 expansion ``0.0003000000142492354``;
    an array as a list of such numbers (nested per axis).
    """
    if isinstance(v, np.generic):
        if v.dtype.kind == "V" and np.isfinite(float(v)):  # bfloat16 (ml_dtypes): NumPy's str is not the shortest
            digits = (float(f"{float(v):.{p}g}") for p in range(1, 18))
            return repr(next(x for x in digits if np.asarray(x, v.dtype) == v))
        return str(v)
    if isinstance(v, (jax.Array, np.ndarray)) and not isinstance(v, jax.core.Tracer):
        a = np.asarray(v)
        return _leaf_repr(a[()]) if a.ndim == 0 else "[" + ", ".join(_leaf_repr(x) for x in a) + "]"
    return repr(v)


class Schedule:
    """Base class of every schedule: a pytree mapping steps to learning rates.

    Call it with a Python int or an int/float array of any shape; it returns
    learning rates of the same shape in the hyperparameters' float dtype.
    Schedules support ``+``, ``-``, ``*``, ``/`` with numbers and with other
    schedules; the results are schedules (and pytrees) too.
    """

    def __call__(self, step: Any) -> Array:
        return _evaluate(self, host_time(step))

    # Whether ``_eval`` accepts a :class:`Pair` time (exact local steps from a combinator).
    _takes_pair = False
    # The lower bounds of leaves that the class's factories check, ``{"steps": ">= 0"}``: a config
    # that names the class is held to them too (``_config.register``).
    _config_bounds: dict[str, str] = {}  # read only
    # What else the factories check that bounds cannot say (a relation such as ``lb < ub``, a static
    # int's range): ``_config_check(schedule, batch_shape)``, a staticmethod raising ``ValueError``, held
    # against a config that names the class (``_config.register``). None: nothing more.
    _config_check: Any = None
    # Whether ``_eval`` at a negative step gives finite values and gradients (the primitives give
    # their step-0 value there). Combinators use a child's value only at local steps >= 0 (a join's
    # later pieces once reached, a warmup's schedule after the ramp), so for such a child they skip
    # clipping the local step at 0.
    _negative_ok = False

    def _eval(self, t: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def _growth_leaf(self) -> Array | None:
        """A scalar leaf with cheaper forms of the same values at some of its values (:func:`eval_time`):
        ``repeat``'s float32 growth, which is equal periods at 1 and period doubling at 2. None: none.
        A class that has one also defines ``_growth_form(growth)``: the node with that leaf as the
        structure of ``growth`` (1 or 2), which :func:`_regrow` calls."""
        return None

    def _ahead(self) -> Array | None:
        """How far below 0 a child's start may lie, at most (unbatched: :func:`_lead`); None: never.

        A join's boundary or a warmup's length below 0 starts a child that far in, so the child's local
        step runs ahead of the global one (:func:`eval_time` picks ``repeat``'s exact path from it).
        """
        return None

    def _subschedules(self) -> list[Any]:
        """The fields to walk for schedules inside this one (see ``_nodes``; a join walks its families)."""
        return [getattr(self, f.name) for f in dataclasses.fields(self)]  # type: ignore[arg-type]

    def _at(self, t: Any) -> Array:
        """``_eval`` at an internal time; combinators call their children through this."""
        if isinstance(t, Pair) and not self._takes_pair:
            t = t.k if t.r is None else to_float(t, t.r.dtype)
        return self._eval(t)

    def _sweepable(self) -> Schedule:
        """The same schedule with every optional number that is ``None`` (no work) as a leaf.

        ``stack`` and ``grid`` fall back to this when schedules differ only in such
        fields (``cosine(..., exponent=None)`` beside ``exponent=2.0``, ``sgdr``
        with and without ``decay``): ``None`` is structure, a number a leaf.
        Classes with such fields override it; this one recurses into children.
        """
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, Schedule):
                changes[f.name] = v._sweepable()
            elif isinstance(v, tuple) and v and all(isinstance(x, Schedule) for x in v):
                changes[f.name] = tuple(x._sweepable() for x in v)
        return dataclasses.replace(self, **changes) if changes else self  # type: ignore[type-var]

    def _at_zero(self, dtype: Any) -> Array:
        """``_eval`` at the float step 0 of ``dtype``: the same value and gradients.

        A warmup ramps to its schedule's value at 0. Combinators whose value at 0 is
        one child's (``repeat``: cycle 0 at phase 0; a warmup) override this to ask
        that child alone: ``_eval(0)`` of a ``repeat`` traces both of its paths, so
        nesting ``warmup(repeat(...))`` would multiply the traced program by four per
        level instead of two.
        """
        return self._at(jnp.zeros((), dtype))

    @property
    def dtype(self) -> np.dtype:
        leaves = [x for x in jax.tree_util.tree_leaves(self) if jnp.issubdtype(jnp.result_type(x), jnp.floating)]
        return np.dtype(jnp.result_type(leaves[0])) if leaves else float_dtype()

    # Arithmetic lives in _arith; these forward to it lazily to avoid cycles.
    def __add__(self, other: Any) -> Schedule:
        from ._arith import add

        return add(self, other)

    def __radd__(self, other: Any) -> Schedule:
        from ._arith import add

        return add(other, self)

    def __sub__(self, other: Any) -> Schedule:
        from ._arith import add, scale

        return add(self, scale(other, -1.0))

    def __rsub__(self, other: Any) -> Schedule:
        from ._arith import add, scale

        return add(other, scale(self, -1.0))

    def __neg__(self) -> Schedule:
        from ._arith import scale

        return scale(self, -1.0)

    def __mul__(self, other: Any) -> Schedule:
        from ._arith import multiply

        return multiply(self, other)

    def __rmul__(self, other: Any) -> Schedule:
        from ._arith import multiply

        return multiply(other, self)

    def __truediv__(self, other: Any) -> Schedule:
        from ._arith import reciprocal_scale

        return reciprocal_scale(self, other)

    def __rtruediv__(self, other: Any) -> Schedule:
        raise TypeError(
            f"dividing by a schedule is not supported ({other!r} / {type(self).__name__}); "
            "multiply by a schedule of reciprocals instead"
        )

    def __repr__(self) -> str:
        fields = [f for f in dataclasses.fields(self) if f.repr]  # type: ignore[arg-type]
        return f"{type(self).__name__}({', '.join(f'{f.name}={_leaf_repr(getattr(self, f.name))}' for f in fields)})"


@jax.jit
def at_scalar(schedule: Schedule, t: Array) -> Array:
    """``schedule._at(t)`` for a scalar float ``t``, traced once per structure: a value at 0 that is a
    whole evaluation (a warmup's shift, a repeat of no cycles) is asked for at every level of a nested
    schedule, and inlined the trace grew ~3x per level of ``warmup(repeat(...))``."""
    return schedule._at(t)
