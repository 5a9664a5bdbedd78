"""Checks on concrete constructor arguments.

Factories call these; they never run on tracers (a traced value is accepted
as is, and the math downstream is total). Each error names the argument, shows
the value and says what is accepted.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._base import float_dtype


def is_traced(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def _concrete(name: str, x: Any) -> np.ndarray:
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got a boolean: {x!r}")
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a real number, got {x!r}")
    if isinstance(x, numbers.Number) and not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {x!r}")
    try:
        a = np.asarray(x)
    except Exception as e:
        raise TypeError(f"{name} must be a real number or array, got {x!r}") from e
    if a.dtype == jnp.bfloat16:  # a float type that numpy knows through ml_dtypes (kind "V")
        a = a.astype(np.float32)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number or array of reals, got {x!r} (dtype {a.dtype})")
    return a.astype(np.float64)


def real(
    name: str,
    x: Any,
    *,
    lo: float | None = None,
    lo_open: bool = False,
    hi: float | None = None,
    hi_open: bool = False,
    allow_inf: bool = False,
    ndim: int | None = 0,
    dtype: Any = None,
) -> jax.Array:
    """Validate ``x`` (when concrete) and return it as a float array leaf."""
    dtype = float_dtype() if dtype is None else dtype
    if is_traced(x):
        return jnp.asarray(x).astype(dtype)
    a = _concrete(name, x)
    if ndim is not None and a.ndim != ndim:
        what = "a scalar" if ndim == 0 else f"a {ndim}-D array"
        raise ValueError(f"{name} must be {what}, got shape {a.shape}: {x!r}")
    if np.isnan(a).any():
        raise ValueError(f"{name} must not be NaN, got {x!r}")
    if not allow_inf and not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite, got {x!r}")
    _bounds(name, x, a, lo, lo_open, hi, hi_open)
    out = _stored(name, x, a, dtype)
    # The leaf is the rounded value: 1e-50 is > 0 but stores 0 in float32 (a config of it is refused too).
    _bounds(name, x, out.astype(np.float64), lo, lo_open, hi, hi_open, f" (stored as {out.tolist()!r} in {out.dtype})")
    return leaf(out)


def _stored(name: str, x: Any, a: np.ndarray, dtype: Any) -> np.ndarray:
    """``a`` as stored in ``dtype``; a finite value that overflows there is an error (named, for a vector)."""
    dt = np.dtype(dtype)
    with np.errstate(over="ignore", under="ignore"):
        out = a.astype(dt)
    over = np.isfinite(a) & ~np.isfinite(out)
    if over.any():
        at = f" ({name}[{int(np.argmax(over))}]={a[np.argmax(over)].item()!r})" if a.ndim == 1 else ""
        raise ValueError(f"{name} overflows {dt.name} (largest {np.finfo(dt).max:.4g}), got {x!r}{at}")
    return out


def _bounds(
    name: str, x: Any, a: np.ndarray, lo: float | None, lo_open: bool, hi: float | None, hi_open: bool, note: str = ""
) -> None:
    if lo is not None:
        bad = a <= lo if lo_open else a < lo
        if bad.any():
            op = ">" if lo_open else ">="
            raise ValueError(f"{name} must be {op} {lo}, got {x!r}{note}")
    if hi is not None:
        bad = a >= hi if hi_open else a > hi
        if bad.any():
            op = "<" if hi_open else "<="
            raise ValueError(f"{name} must be {op} {hi}, got {x!r}{note}")


def leaf(a: Any, dtype: Any = None) -> jax.Array:
    """``jnp.asarray(a, dtype)`` for a checked concrete ``a``, concrete also while a ``jit`` traces.

    A factory called inside a user's ``jit`` with plain numbers would otherwise make its leaves
    tracers (JAX stages every operation there), and a check on their values, such as ``clip``'s
    ``lo <= hi``, would raise ``ConcretizationTypeError`` where the same call works outside.
    """
    with jax.ensure_compile_time_eval():
        return jnp.asarray(a, dtype)


def value(name: str, x: Any) -> jax.Array:
    """A learning-rate-like value: any finite real."""
    return real(name, x)


def length(name: str, x: Any) -> jax.Array:
    """A phase length or step count: finite and >= 0."""
    return real(name, x, lo=0.0)


def positive(name: str, x: Any, *, allow_inf: bool = False) -> jax.Array:
    return real(name, x, lo=0.0, lo_open=True, allow_inf=allow_inf)


def nonneg(name: str, x: Any) -> jax.Array:
    return real(name, x, lo=0.0)


def default_is_none(x: jax.Array, default: float) -> jax.Array | None:
    """``None`` for a concrete scalar equal to ``default`` (structure: no work per step), else ``x``.

    A traced value stays a leaf, and so does an array (a batch of settings).
    """
    return None if not is_traced(x) and np.ndim(x) == 0 and float(np.asarray(x)) == default else x


def _one_is_none(x: jax.Array) -> jax.Array | None:
    """``None`` for a concrete scalar 1 (structure: the identity, no work per step), else ``x``."""
    return default_is_none(x, 1.0)


def exponent(name: str, x: Any) -> jax.Array | None:
    """A nonnegative exponent leaf; a concrete scalar 1 is ``None``: the identity, no power per step.

    For the ports whose peers default to an exponent of 1 (optax's cosine ``exponent``, timm's
    ``k_decay``): the same values, without a power per step. ``None`` is structure, so a grid
    that also sweeps other exponents falls back to a leaf of 1 (``Schedule._sweepable``), and a
    traced exponent stays a leaf.
    """
    return _one_is_none(nonneg(name, x))


def growth(name: str, x: Any) -> tuple[jax.Array | None, bool]:
    """``(period_mult, doubling)`` of a ``Repeat`` for a positive period growth.

    A concrete scalar 1 is ``(None, False)``: equal periods, the cycle found by a division instead
    of a logarithm per step. A concrete scalar 2 is ``(None, True)``: period doubling, the cycle
    read from a float's exponent bits. Both are structure, for the ports whose peers take such
    growths (torch's ``T_mult``, an integer there; timm's ``cycle_mul``; Keras's ``t_mul``, 2 by
    default), with the values of the leaf (a float32 leaf of exactly 1 or 2 takes the structure's
    values). Anything else (a traced value, an array) is the leaf; a grid that also sweeps other
    growths falls back to a leaf.
    """
    m = positive(name, x)
    if default_is_none(m, 2.0) is None:
        return None, True
    return _one_is_none(m), False


def vector(
    name: str, x: Any, *, nondecreasing: bool = False, min_len: int = 0, nonneg: bool = False
) -> jax.Array:
    """A 1-D sequence of finite reals (concrete checks only)."""
    if is_traced(x):
        return jnp.asarray(x).astype(float_dtype())
    if isinstance(x, (str, bytes, dict)) or x is None:
        raise TypeError(f"{name} must be a sequence of numbers, got {x!r}")
    if isinstance(x, (list, tuple)) and any(is_traced(v) for v in x):
        return jnp.stack([jnp.asarray(v).astype(float_dtype()) for v in x]) if x else jnp.zeros((0,), float_dtype())
    if isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            _concrete(f"{name}[{i}]", v)
    a = _concrete(name, x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence, got shape {a.shape}: {x!r}")
    if a.shape[0] < min_len:
        raise ValueError(f"{name} must have at least {min_len} entries, got {x!r}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must hold finite numbers, got {x!r}")
    if nonneg and (a < 0).any():
        raise ValueError(f"{name} must be >= 0, got {x!r}")
    if nondecreasing and a.shape[0] > 1 and (np.diff(a) < 0).any():
        i = int(np.argmax(np.diff(a) < 0))
        raise ValueError(
            f"{name} must be non-decreasing, got {x!r} ({name}[{i + 1}]={a[i + 1]!r} < {name}[{i}]={a[i]!r})"
        )
    # rounding keeps the order and the sign: only overflow is left to check
    return leaf(_stored(name, x, a, float_dtype()))


def choice(name: str, x: Any, options: tuple[str, ...]) -> jax.Array:
    """A choice among named options, as an int32 index leaf.

    Accepts one of the names, or an integer index (concrete or traced) so the
    choice itself can be swept with vmap.
    """
    if is_traced(x):
        return jnp.asarray(x).astype(jnp.int32)
    if isinstance(x, str):
        key = x.lower().replace("_", "-")
        norm = {o.lower().replace("_", "-"): i for i, o in enumerate(options)}
        if key not in norm:
            raise ValueError(f"{name} must be one of {list(options)} or an index 0..{len(options) - 1}, got {x!r}")
        return leaf(norm[key], jnp.int32)
    if isinstance(x, (bool, np.bool_)) or x is None:
        raise TypeError(f"{name} must be one of {list(options)} or an integer index, got {x!r}")
    a = np.asarray(x)
    if a.dtype.kind not in "iu" and not (a.dtype.kind == "f" and np.all(a == np.round(a))):
        raise TypeError(f"{name} must be one of {list(options)} or an integer index, got {x!r}")
    if a.ndim != 0:  # a grid sweeps a choice by giving one per setting (grid, stack), like any other number
        raise ValueError(f"{name} must be one of {list(options)} or one integer index, got shape {a.shape}: {x!r}")
    if ((a < 0) | (a >= len(options))).any():
        raise ValueError(f"{name} index must be in 0..{len(options) - 1} ({list(options)}), got {x!r}")
    return leaf(a.astype(np.int32))


def choice_or_name(name: str, x: Any, options: tuple[str, ...]) -> tuple[jax.Array | None, int | None]:
    """``(None, i)`` for a name (a static choice: structure, so only option ``i`` is computed), else
    ``(choice(name, x, options), None)``: an index, concrete or traced, is a leaf a sweep can vary."""
    if isinstance(x, str):
        return None, int(np.asarray(choice(name, x, options)))
    return choice(name, x, options), None


def flag(name: str, x: Any) -> bool:
    """A Python or NumPy boolean (a static choice, never a leaf): ``bool("false")`` is True, so no coercion."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {x!r}")
    return bool(x)


def schedule(name: str, x: Any) -> Any:
    from ._base import Schedule

    if not isinstance(x, Schedule):
        raise TypeError(f"{name} must be a jaxsched schedule, got {type(x).__name__}: {x!r}")
    return x
