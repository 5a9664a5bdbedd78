"""The schedule protocol, step handling and the pytree decorator.

Every schedule is a frozen dataclass registered as a JAX pytree. Numeric
hyperparameters are array leaves; fields marked ``static`` (structure only) are
metadata. ``Schedule.__call__`` normalises the step once and hands an internal
*time* to ``_eval``: either a non-negative integer array (exact step arithmetic)
or a float array of the schedule's dtype.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

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
    """
    cls = dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)
    data, meta = [], []
    for f in dataclasses.fields(cls):
        (meta if f.metadata.get("static", False) else data).append(f.name)
    return jax.tree_util.register_dataclass(cls, data_fields=data, meta_fields=meta)


def float_dtype() -> np.dtype:
    """The default float dtype: float32, or float64 when x64 is enabled."""
    return np.dtype(jnp.asarray(0.0).dtype)


def int_dtype() -> np.dtype:
    return np.dtype(jnp.asarray(0).dtype)


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


def to_float(t: Array, dtype: Any) -> Array:
    """Internal time as a float of ``dtype``."""
    return t.astype(dtype) if t.dtype != dtype else t


def _max_float_in(int_dtype: Any, dtype: Any) -> float:
    """The largest value of float ``dtype`` that fits in ``int_dtype`` (2**31 - 128 for int32, float32)."""
    top = np.asarray(np.iinfo(int_dtype).max, dtype=np.dtype(dtype))
    if float(top) > np.iinfo(int_dtype).max:
        top = np.nextafter(top, np.zeros((), top.dtype))
    return float(top)


def shift(t: Array, start: Array, dtype: Any) -> Array:
    """``t - start`` as a float of ``dtype``, exact for integer ``t``.

    For an integer step the integer part of ``start`` is subtracted in integer
    arithmetic before the cast, so a local step stays exact for global steps up
    to 2**31 - 1 even in float32 (only the local result is rounded).
    """
    start = jnp.asarray(start, dtype)
    if jnp.issubdtype(t.dtype, jnp.integer):
        info = jnp.iinfo(t.dtype)
        lo = jnp.asarray(float(info.min) / 2, dtype)
        hi = jnp.asarray(_max_float_in(t.dtype, dtype), dtype)  # starts up to 2**31 - 128 stay exact
        s = jnp.clip(start, lo, hi)
        whole = jnp.floor(s)
        # A start beyond the int range keeps its distance (and sign) through the float part.
        far = jnp.clip(start, -float(jnp.finfo(dtype).max) / 4, float(jnp.finfo(dtype).max) / 4)
        return (t - whole.astype(t.dtype)).astype(dtype) - (far - whole)
    return to_float(t, dtype) - start


def passed(t: Array, boundaries: Array, dtype: Any) -> Array:
    """How many ``boundaries`` are ``<= t`` (the index of the active piece).

    Exact for integer ``t``: ``k >= b`` iff ``k >= ceil(b)``. Boundaries are
    expected sorted; unsorted traced boundaries still give a finite index.
    """
    n = boundaries.shape[-1]
    if n == 0:
        return jnp.zeros(jnp.shape(t), jnp.int32)
    if jnp.issubdtype(t.dtype, jnp.integer):
        info = jnp.iinfo(t.dtype)
        c = jnp.clip(jnp.ceil(boundaries), float(info.min) / 2, _max_float_in(t.dtype, boundaries.dtype))
        keys = c.astype(t.dtype)
        q = t
    else:
        keys = boundaries
        q = to_float(t, dtype)
    if n <= 64:  # a compare-and-add chain vectorises; binary search does not
        idx = jnp.zeros(jnp.shape(q), jnp.int32)
        for j in range(n):
            idx = idx + (q >= keys[j]).astype(jnp.int32)
        return idx
    return jnp.searchsorted(keys, q, side="right", method="scan_unrolled").astype(jnp.int32)


def safe_div(num: Array, den: Array) -> Array:
    """``num / den`` with 0 where ``den == 0``; finite value and gradient."""
    ok = den != 0
    return jnp.where(ok, num / jnp.where(ok, den, jnp.ones_like(den)), jnp.zeros_like(num))


def safe_pow(x: Array, p: Array) -> Array:
    """``x ** p`` for ``x >= 0`` with finite gradients at ``x == 0``.

    ``0 ** p`` is 0 for ``p > 0`` and 1 for ``p == 0``.
    """
    pos = x > 0
    xs = jnp.where(pos, x, jnp.ones_like(x))
    at_zero = jnp.where(p == 0, jnp.ones_like(x), jnp.zeros_like(x))
    return jnp.where(pos, xs**p, at_zero)


def safe_sqrt(x: Array) -> Array:
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, jnp.ones_like(x))), jnp.zeros_like(x))


@jax.jit
def _evaluate(schedule: Schedule, t: Array) -> Array:
    # One compiled program per schedule structure and step shape: an eager call
    # would otherwise dispatch (and compile) every small op on its own. Inside an
    # outer jit/vmap/grad this is inlined like any jitted function.
    return schedule._eval(t)


class Schedule:
    """Base class of every schedule: a pytree mapping steps to learning rates.

    Call it with a Python int or an int/float array of any shape; it returns
    learning rates of the same shape in the hyperparameters' float dtype.
    Schedules support ``+``, ``-``, ``*``, ``/`` with numbers and with other
    schedules; the results are schedules (and pytrees) too.
    """

    def __call__(self, step: Any) -> Array:
        return _evaluate(self, as_time(step))

    def _eval(self, t: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

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

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, jax.Array) and not isinstance(v, jax.core.Tracer) and v.ndim == 0:
                v = v.item()
            elif isinstance(v, jax.Array) and not isinstance(v, jax.core.Tracer):
                v = np.asarray(v).tolist()
            parts.append(f"{f.name}={v!r}")
        return f"{type(self).__name__}({', '.join(parts)})"
