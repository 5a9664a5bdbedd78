"""Schedules to and from plain dicts and JSON: a versioned, code-free format.

A config is ``{"format": "jaxsched/1", "schedule": NODE}``. A node is either a
*structural* node, ``{"type": "Cosine", "init_value": 1.0, ...}``, with one key
per dataclass field of the class (nested schedules as nested nodes, tuples of
schedules as lists, array leaves as numbers or nested lists, ``None`` as
``null``, infinities as the strings ``"inf"`` / ``"-inf"``), or a *factory*
node, ``{"name": "warmup_cosine", "peak_value": 3e-4, ...}``, built through the
name registry (:func:`jaxsched.get`). A batch of schedules (a grid) adds
``"batch_shape"`` and, for a :class:`~jaxsched.Grid`, its ``"settings"``.

Loading never executes code: classes come from an explicit allow-list
(:func:`register`), values are checked for type, finiteness, shape and size,
and nesting is limited. Every malformed input raises ``ValueError`` or
``TypeError`` naming the path of the offending entry.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import importlib
import json
import math
import pkgutil
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Schedule, float_dtype

FORMAT = "jaxsched/1"
MAX_DEPTH = 64  # nested schedules
MAX_NODES = 4096  # schedules in one config
MAX_ELEMENTS = 1_000_000  # numbers in one config
MAX_NDIM = 8  # dimensions of one leaf

_DTYPES = ("float16", "bfloat16", "float32", "float64", "int32", "int64", "uint32")
_INF_STRINGS = {
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
}


# ----------------------------------------------------------------------------- the allow-list


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    kind: str  # "schedule" | "schedules" | "array" | "static"
    optional: bool  # None accepted
    required: bool  # no default
    default: Any
    cls: type  # the schedule class a "schedule(s)" field needs


@dataclasses.dataclass(frozen=True)
class _Entry:
    cls: type
    name: str
    fields: tuple[_Field, ...]
    int_fields: frozenset[str]
    inf_fields: frozenset[str]
    choices: Mapping[str, tuple[Any, ...]]
    check: Callable[[Any, tuple[int, ...]], None] | None
    bounds: Mapping[str, tuple[str, float]] = dataclasses.field(default_factory=dict)


# The comparisons a bound may use (``bounds={"steps": ">= 0"}``).
_BOUND_OPS: dict[str, Callable[[Any, float], Any]] = {">": np.greater, ">=": np.greater_equal}


def _parse_bound(field: str, spec: Any) -> tuple[str, float]:
    op, _, num = str(spec).strip().partition(" ")
    try:
        lo = float(num)
    except ValueError:
        lo = float("nan")
    if op not in _BOUND_OPS or lo != lo:
        raise ValueError(f"register: bounds[{field!r}] must be like '>= 0' or '> 0', got {spec!r}")
    return op, lo


_BY_NAME: dict[str, _Entry] = {}
_BY_CLASS: dict[type, _Entry] = {}


def _hint_kind(hint: Any) -> tuple[str, bool, type] | None:
    """``(kind, optional, schedule class)`` from a resolved type hint, if it names schedules."""
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and issubclass(hint, Schedule):
        return "schedule", False, hint
    if origin in (tuple, list, Sequence, collections.abc.Sequence) and args:
        inner = args[0]
        if isinstance(inner, type) and issubclass(inner, Schedule):
            return "schedules", False, inner
        return None
    if args and (origin is typing.Union or origin is types.UnionType):
        sub = [a for a in args if a is not type(None)]
        optional = len(sub) < len(args)
        if len(sub) == 1:
            k = _hint_kind(sub[0])
            if k is not None:
                return k[0], optional, k[2]
    return None


def _kind(cls: type, f: dataclasses.Field) -> tuple[str, bool, type]:
    ann = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", repr(f.type))
    ann = str(ann)
    optional = "None" in ann or "Optional" in ann
    if f.metadata.get("static", False):
        return "static", optional, object
    try:
        hint = typing.get_type_hints(cls).get(f.name)
    except Exception:  # unresolvable annotations: fall back on their text
        hint = None
    k = _hint_kind(hint) if hint is not None else None
    if k is not None:
        return k
    if "Schedule" in ann and ("tuple[" in ann or "Tuple[" in ann or "Sequence[" in ann):
        return "schedules", optional, Schedule
    if "Schedule" in ann:
        return "schedule", optional, Schedule
    return "array", optional, object


def _callable_field(cls: type) -> str | None:
    for f in dataclasses.fields(cls):
        ann = f.type if isinstance(f.type, str) else repr(f.type)
        if "Callable" in str(ann) or "callable" in str(ann):
            return f.name
    return None


def _default_name(cls: type) -> str:
    mod = cls.__module__ or ""
    parts = mod.split(".")
    if len(parts) >= 3 and parts[0] == "jaxsched" and parts[1] == "compat":
        return f"compat.{parts[2].lstrip('_')}.{cls.__name__}"
    return cls.__name__


def register(
    cls: type | None = None,
    *,
    name: str | None = None,
    int_fields: Iterable[str] = (),
    inf_fields: Iterable[str] = (),
    choices: Mapping[str, Iterable[Any]] | None = None,
    check: Callable[[Any, tuple[int, ...]], None] | None = None,
    bounds: Mapping[str, str] | None = None,
) -> Any:
    """Allow a schedule class in configs (usable as a class decorator).

    Only registered classes can be written by :func:`to_config` and built by
    :func:`from_config`. Classes defined in ``jaxsched.compat.*`` modules and
    schedule classes exported by ``jaxsched`` are registered on first use with
    the defaults; call ``register`` to declare more about a class:

    Args:
      cls: a ``Schedule`` subclass made with ``jaxsched``'s pytree decorator.
      name: the ``"type"`` written in configs (default: the class name, or
        ``"compat.<module>.<Class>"`` for classes of ``jaxsched.compat``).
      int_fields: leaves stored as int32 (for example ``Select.index``);
        every other leaf is a float of the default float dtype.
      inf_fields: leaves that may be infinite (for example ``Repeat.cycles``).
      choices: allowed values of static fields, ``{"op": ("min", "max")}``.
      check: ``check(schedule, batch_shape)`` raising ``ValueError`` when a
        loaded schedule is inconsistent (say, boundaries of the wrong length).
        Default: the class attribute ``_config_check`` (a staticmethod), which
        jaxsched's classes declare where their factories check more than
        ``bounds`` can say (timm's tanh ``lb < ub``).
      bounds: lower bounds of leaves, ``{"steps": ">= 0", "period": "> 0"}``:
        the ranges the class's factory accepts, so that a config naming the
        class directly is held to them too. Default: the class attribute
        ``_config_bounds``, which jaxsched's own classes declare beside their fields.

    Registering a class again replaces its entry: options not given again are
    dropped (the bounds and the check fall back to ``_config_bounds`` and
    ``_config_check``).

    >>> import jax, jax.numpy as jnp, jaxsched
    >>> from jaxsched._base import pytree
    >>> from jaxsched._config import register
    >>> @register(name="example.Halving", bounds={"every": "> 0"})
    ... @pytree
    ... class Halving(jaxsched.Schedule):
    ...     value: jax.Array
    ...     every: jax.Array
    ...     def _eval(self, t):
    ...         return self.value * 0.5 ** jnp.floor(t.astype(self.value.dtype) / self.every)
    >>> cfg = jaxsched.to_config(Halving(jnp.float32(1.0), jnp.float32(10.0)))
    >>> cfg["schedule"]
    {'type': 'example.Halving', 'value': 1.0, 'every': 10.0}
    >>> jaxsched.from_config(cfg)(25).item()
    0.25
    """

    def do(c: type) -> type:
        if not (isinstance(c, type) and issubclass(c, Schedule) and dataclasses.is_dataclass(c)):
            raise TypeError(f"register needs a jaxsched Schedule dataclass, got {c!r}")
        nm = name or _default_name(c)
        if not isinstance(nm, str) or not nm or nm in ("format",):
            raise ValueError(f"register: invalid name {nm!r}")
        old = _BY_NAME.get(nm)
        if old is not None and old.cls is not c:
            raise ValueError(
                f"register: the name {nm!r} is already used by {old.cls.__module__}.{old.cls.__qualname__}"
            )
        bad = _callable_field(c)
        if bad is not None:
            raise TypeError(f"register: {c.__name__}.{bad} holds a Python callable, which a config cannot store")
        fields = []
        for f in dataclasses.fields(c):
            kind, optional, need = _kind(c, f)
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            default = f.default if f.default is not dataclasses.MISSING else None
            fields.append(
                _Field(f.name, kind, optional or (has_default and default is None), not has_default, default, need)
            )
        names = {f.name for f in fields}
        bnds = bounds if bounds is not None else c._config_bounds
        # A subclass of a registered class keeps its integer and infinite fields (timm's TimmCycles, a Repeat).
        base = next((_BY_CLASS[b] for b in c.__mro__[1:] if b in _BY_CLASS), None)
        ints, infs = tuple(int_fields), tuple(inf_fields)
        if base is not None:
            ints, infs = (*ints, *base.int_fields), (*infs, *base.inf_fields)
        for group, what in (
            (ints, "int_fields"),
            (infs, "inf_fields"),
            ((choices or {}).keys(), "choices"),
            ((bnds or {}).keys(), "bounds"),
        ):
            for fld in group:
                if fld not in names:
                    raise ValueError(
                        f"register: {what} names {fld!r}, which is not a field of {c.__name__} ({sorted(names)})"
                    )
        entry = _Entry(
            c,
            nm,
            tuple(fields),
            frozenset(ints),
            frozenset(infs),
            {k: tuple(v) for k, v in (choices or {}).items()},
            check if check is not None else c._config_check,
            {k: _parse_bound(k, v) for k, v in (bnds or {}).items()},
        )
        old_cls = _BY_CLASS.get(c)
        if old_cls is not None and old_cls.name != nm:
            _BY_NAME.pop(old_cls.name, None)
        _BY_NAME[nm] = entry
        _BY_CLASS[c] = entry
        return c

    if cls is None:
        return do
    return do(cls)


def registered() -> dict[str, type]:
    """Every class allowed in configs, by its config ``"type"`` name.

    >>> import jaxsched
    >>> from jaxsched._config import registered
    >>> registered()["Cosine"] is jaxsched.Cosine
    True
    """
    _scan_public()
    return {k: v.cls for k, v in sorted(_BY_NAME.items())}


def _auto_ok(c: type) -> bool:
    mod = getattr(c, "__module__", "") or ""
    return (
        isinstance(c, type)
        and issubclass(c, Schedule)
        and c is not Schedule
        and dataclasses.is_dataclass(c)
        and (mod == "jaxsched" or mod.startswith("jaxsched."))
        and _callable_field(c) is None
    )


def _entry_for_class(c: type) -> _Entry:
    e = _BY_CLASS.get(c)
    if e is not None:
        return e
    if _auto_ok(c):
        register(c)
        return _BY_CLASS[c]
    bad = _callable_field(c) if dataclasses.is_dataclass(c) else None
    if bad is not None:
        raise TypeError(
            f"{c.__name__}.{bad} holds a Python callable, which a config cannot store (configs never hold code); "
            "express the schedule with jaxsched's primitives and combinators instead"
        )
    raise TypeError(
        f"{c.__module__}.{c.__qualname__} is not a registered jaxsched schedule class, so it cannot be "
        f"written to a config; register it first with jaxsched.register_config({c.__name__}) "
        "(jaxsched._config.register)"
    )


def _scan_module(mod: Any) -> None:
    for obj in list(vars(mod).values()):
        if _auto_ok(obj) and obj not in _BY_CLASS and obj.__module__ == mod.__name__:
            try:
                register(obj)
            except ValueError:  # a name clash: leave it for an explicit register(..., name=...)
                pass


def _scan_public() -> None:
    import jaxsched

    for obj in list(vars(jaxsched).values()):
        if _auto_ok(obj) and obj not in _BY_CLASS:
            try:
                register(obj)
            except ValueError:
                pass


def _compat_modules() -> list[str]:
    import jaxsched.compat as compat

    return sorted(m.name for m in pkgutil.iter_modules(compat.__path__) if m.name.isidentifier())


def _entry_for_name(nm: str, path: str) -> _Entry:
    e = _BY_NAME.get(nm)
    if e is not None:
        return e
    _scan_public()
    if nm not in _BY_NAME and nm.startswith("compat."):
        parts = nm.split(".")
        mods = _compat_modules()
        if len(parts) == 3:
            for cand in (parts[1], "_" + parts[1]):
                if cand in mods:  # import only modules of our own package, by a name found on disk
                    _scan_module(importlib.import_module(f"jaxsched.compat.{cand}"))
    e = _BY_NAME.get(nm)
    if e is None:
        valid = ", ".join(sorted(_BY_NAME))
        raise ValueError(f"{path}: unknown schedule type {nm!r}; valid types: {valid}")
    return e


# ----------------------------------------------------------------------------- writing


def _batch_shape_of(s: Schedule) -> tuple[int, ...]:
    def at0(x: Schedule) -> jax.Array:
        return x(jnp.zeros((), jnp.int32))

    try:
        out = jax.eval_shape(at0, s)
        if out.shape == ():
            return ()
    except Exception:
        pass
    # The fewest leading axes that every leaf shares and that vmapped as often give one value per member
    # (a batch of 3 x 2 settings: two; a 1-D batch of piecewise schedules, whose leaves are vectors: one).
    leaves = jax.tree_util.tree_leaves(s)
    fn = at0
    for d in range(1, min((np.ndim(x) for x in leaves), default=0) + 1):
        fn = jax.vmap(fn)
        lead = tuple(np.shape(leaves[0])[:d])
        if any(tuple(np.shape(x)[:d]) != lead for x in leaves):
            break
        try:
            if jax.eval_shape(fn, s).shape == lead:
                return lead
        except Exception:
            pass
    raise ValueError(
        f"cannot tell the batch shape of {type(s).__name__}: its leaves do not form a schedule or a "
        "batch with shared leading axes; pass batch_shape= explicitly"
    )


def _shape_at_one_step(s: Schedule, bs: tuple[int, ...]) -> jax.ShapeDtypeStruct:
    """The shape and dtype of ``s`` at step 0, vmapped once per batch axis of ``bs`` (no computation)."""

    def at0(x: Schedule) -> jax.Array:
        return x(jnp.zeros((), jnp.int32))

    f = at0
    for _ in bs:
        f = jax.vmap(f)
    return jax.eval_shape(f, s)


def _check_given(s: Schedule, bs: tuple[int, ...]) -> tuple[int, ...]:
    """``bs`` if ``s`` evaluates to values of that shape at one step (``bs`` vmaps), else a ValueError."""
    try:
        got: Any = list(_shape_at_one_step(s, bs).shape)
    except Exception:
        got = "no batch of that shape"
    if got != list(bs):
        raise ValueError(f"to_config: batch_shape={list(bs)} does not fit the schedule's leaves (a step gives {got})")
    return bs


def _encode_number(x: Any, path: str) -> Any:
    if isinstance(x, float):
        if math.isnan(x):
            raise ValueError(f"{path}: cannot write NaN to a config")
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
    return x


def _encode_leaf(v: Any, expected: np.dtype, path: str) -> Any:
    if isinstance(v, jax.core.Tracer):
        raise TypeError(f"{path}: cannot write a traced value to a config; call to_config outside jit/vmap/grad")
    a = np.asarray(v)
    if a.dtype.kind not in "iuf" and a.dtype.name != "bfloat16":
        raise TypeError(f"{path}: leaves must be numeric arrays, got dtype {a.dtype}")
    if a.dtype.kind == "f" or a.dtype.name == "bfloat16":
        payload = a.astype(np.float64).tolist()
    else:
        payload = a.tolist()

    def walk(p: Any) -> Any:
        if isinstance(p, list):
            return [walk(q) for q in p]
        return _encode_number(p, path)

    payload = walk(payload)
    if a.dtype != expected:
        if a.dtype.name not in _DTYPES:
            raise TypeError(f"{path}: leaf dtype {a.dtype} cannot be written to a config (supported: {_DTYPES})")
        return {"dtype": a.dtype.name, "value": payload}
    return payload


def _expected_dtype(entry: _Entry, field: str) -> np.dtype:
    return np.dtype(np.int32) if field in entry.int_fields else float_dtype()


def _encode(s: Any, path: str, depth: int, count: list[int]) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: schedules nested deeper than {MAX_DEPTH} levels cannot be written")
    count[0] += 1
    if count[0] > MAX_NODES:
        raise ValueError(f"a config holds at most {MAX_NODES} schedules")
    if not isinstance(s, Schedule):
        raise TypeError(f"{path}: expected a jaxsched schedule, got {type(s).__name__}: {s!r}")
    entry = _entry_for_class(type(s))
    node: dict[str, Any] = {"type": entry.name}
    for f in entry.fields:
        v = getattr(s, f.name)
        p = f"{path}.{f.name}"
        if v is None:
            node[f.name] = None
        elif f.kind == "schedule" or (f.kind != "static" and isinstance(v, Schedule)):
            node[f.name] = _encode(v, p, depth + 1, count)
        elif f.kind == "schedules" or (isinstance(v, (tuple, list)) and v and all(isinstance(x, Schedule) for x in v)):
            node[f.name] = [_encode(x, f"{p}[{i}]", depth + 1, count) for i, x in enumerate(v)]
        elif f.kind == "static":
            node[f.name] = _encode_static(v, p)
        else:
            node[f.name] = _encode_leaf(v, _expected_dtype(entry, f.name), p)
    return node


def _encode_static(v: Any, path: str) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, float)):
        return _encode_number(v, path)
    if isinstance(v, (tuple, list)):
        return [_encode_static(x, f"{path}[{i}]") for i, x in enumerate(v)]
    raise TypeError(f"{path}: static field of type {type(v).__name__} cannot be written to a config: {v!r}")


def to_config(schedule: Any, *, batch_shape: Sequence[int] | None = None) -> dict[str, Any]:
    """A plain, JSON-ready dict describing ``schedule`` exactly.

    Works for every registered schedule: primitives, combinators nested to any
    depth, presets (which are composites), compat ports, and batches (a
    :class:`~jaxsched.Grid` or a batched schedule pytree, whose leaves are
    written as nested lists). :func:`from_config` rebuilds an identical
    schedule: same classes, same leaves, same dtypes, same values.

    Format: ``{"format": "jaxsched/1", "schedule": {"type": <class>,
    <field>: <value>, ...}}`` with ``"batch_shape"`` (and a grid's
    ``"settings"``) for batches.

    Args:
      schedule: a schedule, a batched schedule, or a ``Grid``.
      batch_shape: the batch axes of a batched schedule (found by itself
        when omitted).

    >>> import jaxsched
    >>> cfg = jaxsched.to_config(jaxsched.cosine(1.0, 0.0, 100))
    >>> cfg["format"], cfg["schedule"]
    ('jaxsched/1', {'type': 'Cosine', 'init_value': 1.0, 'end_value': 0.0, 'steps': 100.0, 'exponent': None})
    >>> jaxsched.from_config(cfg)(50).item()
    0.5
    """
    from ._grid import Grid

    out: dict[str, Any] = {"format": FORMAT}
    given = None if batch_shape is None else _check_batch_shape(batch_shape, "batch_shape")
    if isinstance(schedule, Grid):
        bs: tuple[int, ...] = (len(schedule),)
        if given is not None and given != bs:
            raise ValueError(f"to_config: batch_shape={list(given)}, but the grid has {bs[0]} settings")
        settings, count = {}, [0]
        for k, vs in schedule.settings.items():
            # an axis of schedules (grid(warmup, schedule=[...])): each as a node, read back by _setting
            settings[str(k)] = [
                _encode(x, f"settings.{k}[{i}]", 0, count) if isinstance(x, Schedule)
                else _encode_static(_py(x), f"settings.{k}[{i}]")
                for i, x in enumerate(vs)
            ]
        sched = schedule.schedules
        out["batch_shape"] = list(bs)
        out["settings"] = settings
    elif isinstance(schedule, Schedule):
        sched = schedule
        bs = _batch_shape_of(schedule) if given is None else _check_given(schedule, given)
        if bs:
            out["batch_shape"] = list(bs)
    else:
        raise TypeError(f"to_config expects a jaxsched schedule or Grid, got {type(schedule).__name__}: {schedule!r}")
    out["schedule"] = _encode(sched, "schedule", 0, [0])
    return out


def _py(x: Any) -> Any:
    if isinstance(x, (np.generic, jax.Array)) and np.ndim(x) == 0:
        return np.asarray(x).item()
    return x


def to_json(schedule: Any, *, indent: int | None = 2, batch_shape: Sequence[int] | None = None) -> str:
    """``to_config`` as standard JSON text (no NaN, infinities as strings).

    >>> import jaxsched
    >>> s = jaxsched.warmup_cosine(1e-3, total_steps=100, warmup_steps=10)
    >>> t = jaxsched.to_json(s, indent=None)
    >>> (jaxsched.from_json(t)(55) == s(55)).item()
    True
    """
    return json.dumps(to_config(schedule, batch_shape=batch_shape), indent=indent, allow_nan=False)


# ----------------------------------------------------------------------------- reading


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0
        self.elements = 0


def _plain(obj: Any, path: str, depth: int, budget: _Budget) -> Any:
    """Normalise mappings/sequences (dict, OmegaConf, ml_collections) to dict/list of JSON scalars."""
    if depth > 2 * MAX_DEPTH + MAX_NDIM + 8:
        raise ValueError(f"{path}: the config is nested too deeply (limit {MAX_DEPTH} schedules)")
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        budget.elements += 1
        if budget.elements > MAX_ELEMENTS:
            raise ValueError(f"the config holds more than {MAX_ELEMENTS} numbers")
        return obj
    if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
        return _plain(obj.item(), path, depth, budget)
    if isinstance(obj, np.ndarray) or isinstance(obj, jax.Array):
        if isinstance(obj, jax.core.Tracer):
            raise TypeError(f"{path}: a config cannot hold traced values")
        a = np.asarray(obj)
        if a.dtype.kind not in "iuf":
            raise TypeError(f"{path}: arrays in a config must be numeric, got dtype {a.dtype}")
        if a.size > MAX_ELEMENTS:
            raise ValueError(f"{path}: array of {a.size} numbers exceeds the limit {MAX_ELEMENTS}")
        return _plain(a.tolist(), path, depth, budget)
    if not isinstance(obj, Mapping) and callable(getattr(obj, "to_dict", None)) and not isinstance(obj, type):
        obj = obj.to_dict()  # ml_collections.ConfigDict and friends
        if not isinstance(obj, Mapping):
            raise TypeError(f"{path}: to_dict() returned {type(obj).__name__}, not a mapping")
    if isinstance(obj, Mapping):
        out = {}
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"{path}: config keys must be strings, got {type(k).__name__}: {k!r}")
            out[k] = _plain(obj[k], f"{path}.{k}", depth + 1, budget)
        return out
    if isinstance(obj, Sequence) and not isinstance(obj, (bytes, bytearray)):
        if len(obj) > MAX_ELEMENTS:
            raise ValueError(f"{path}: a list of {len(obj)} entries exceeds the limit {MAX_ELEMENTS}")
        return [_plain(x, f"{path}[{i}]", depth + 1, budget) for i, x in enumerate(obj)]
    raise TypeError(
        f"{path}: configs hold only dicts, lists, numbers, strings, booleans and null; "
        f"got {type(obj).__name__}: {obj!r}"
    )


def _check_batch_shape(bs: Any, path: str) -> tuple[int, ...]:
    if not isinstance(bs, (list, tuple)) or len(bs) > MAX_NDIM:
        raise TypeError(f"{path} must be a list of at most {MAX_NDIM} positive integers, got {bs!r}")
    for x in bs:
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not 1 <= int(x) <= MAX_ELEMENTS:
            raise ValueError(f"{path} must be a list of positive integers, got {bs!r}")
    return tuple(int(x) for x in bs)


def _number(x: Any, path: str, want_int: bool, allow_inf: bool) -> float | int:
    if isinstance(x, bool):
        raise TypeError(f"{path}: expected a number, got a boolean: {x!r}")
    if isinstance(x, str):
        key = x.strip().lower()
        if key in _INF_STRINGS and not want_int:
            if not allow_inf:
                raise ValueError(f"{path} must be finite, got {x!r}")
            return _INF_STRINGS[key]
        raise TypeError(f"{path}: expected a number, got the string {x!r}")
    if not isinstance(x, (int, float)):
        raise TypeError(f"{path}: expected a number, got {type(x).__name__}: {x!r}")
    if want_int:
        if isinstance(x, float):
            if not (math.isfinite(x) and x == int(x)):
                raise ValueError(f"{path} must be an integer, got {x!r}")
            x = int(x)
        if not -(2**31) <= x < 2**31:
            raise ValueError(f"{path} must fit in int32, got {x!r}")
        return x
    if isinstance(x, int):
        try:
            x = float(x)
        except OverflowError:
            raise ValueError(f"{path} is too large: {str(x)[:30]}...") from None
    if math.isnan(x):
        raise ValueError(f"{path} must not be NaN")
    if math.isinf(x) and not allow_inf:
        raise ValueError(f"{path} must be finite, got {x!r}")
    return x


def _nested(x: Any, path: str, want_int: bool, allow_inf: bool, depth: int = 0) -> Any:
    if depth > MAX_NDIM:
        raise ValueError(f"{path}: arrays have at most {MAX_NDIM} dimensions")
    if isinstance(x, list):
        return [_nested(y, path, want_int, allow_inf, depth + 1) for y in x]
    return _number(x, path, want_int, allow_inf)


def _decode_leaf(x: Any, entry: _Entry, field: str, path: str) -> jax.Array:
    dtype = _expected_dtype(entry, field)
    if isinstance(x, dict):
        extra = set(x) - {"dtype", "value"}
        if extra or "value" not in x or "dtype" not in x:
            raise ValueError(f"{path}: a tagged leaf is {{'dtype': ..., 'value': ...}}, got keys {sorted(x)}")
        if x["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: dtype must be one of {list(_DTYPES)}, got {x['dtype']!r}")
        dtype = np.dtype(jnp.bfloat16) if x["dtype"] == "bfloat16" else np.dtype(x["dtype"])
        if field in entry.int_fields and dtype.kind not in "iu":
            raise ValueError(f"{path}: an integer leaf (an index), so its dtype must be an int, got {x['dtype']!r}")
        x = x["value"]
    want_int = np.dtype(dtype).kind in "iu"
    allow_inf = field in entry.inf_fields
    vals = _nested(x, path, want_int, allow_inf)
    try:
        a = np.asarray(vals, dtype=np.float64 if not want_int else np.int64)
    except ValueError as e:
        raise ValueError(f"{path}: nested lists must be rectangular (an array), got {str(x)[:80]}") from e
    if a.ndim > MAX_NDIM:
        raise ValueError(f"{path}: arrays have at most {MAX_NDIM} dimensions")
    if want_int:
        info = np.iinfo(dtype)
        if a.size and (a.min() < info.min or a.max() > info.max):
            raise ValueError(f"{path}: values must fit in {np.dtype(dtype).name}, got {str(x)[:80]}")
    canon = jax.dtypes.canonicalize_dtype(dtype)
    if not want_int and a.size:
        fmax = float(jnp.finfo(canon).max)
        finite = a[np.isfinite(a)]
        if finite.size and float(np.max(np.abs(finite))) > fmax:
            raise ValueError(f"{path}: values overflow {np.dtype(canon).name} (must be finite), got {str(x)[:80]}")
    if field in entry.bounds:  # the value as written, as a factory checks it (the stored leaf: _walk_check)
        op, lo = entry.bounds[field]
        if not _BOUND_OPS[op](a, lo).all():
            raise ValueError(f"{path} must be {op} {lo:g}, got {str(x)[:80]}")
    return jnp.asarray(a.astype(canon))


def _decode_static(x: Any, f: _Field, entry: _Entry, path: str) -> Any:
    def hashable(v: Any, p: str) -> Any:
        if isinstance(v, list):
            return tuple(hashable(w, f"{p}[{i}]") for i, w in enumerate(v))
        if isinstance(v, dict):
            raise TypeError(f"{p}: static fields hold numbers, strings, booleans, null or lists, got a dict")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{p} must be finite, got {v!r}")
        if isinstance(v, int) and not isinstance(v, bool) and not -(2**31) <= v < 2**31:
            raise ValueError(f"{p} must fit in int32, got {v!r}")
        return v

    v = hashable(x, path)
    if f.name in entry.choices:
        opts = entry.choices[f.name]
        if not any(type(v) is type(o) and v == o for o in opts):
            raise ValueError(f"{path} must be one of {list(opts)}, got {x!r}")
    elif f.default is not None and not f.required:
        want = type(f.default)
        ok = type(v) is want or (want is float and type(v) is int) or (v is None and f.optional)
        if not ok:
            raise TypeError(f"{path} must be a {want.__name__}, got {type(v).__name__}: {x!r}")
    return v


def _decode(node: Any, path: str, depth: int, budget: _Budget) -> Schedule:
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: schedules are nested deeper than the limit of {MAX_DEPTH} levels")
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise ValueError(f"a config holds at most {MAX_NODES} schedules")
    if not isinstance(node, dict):
        raise TypeError(
            f"{path} must be a schedule: a dict with a 'type' or 'name' key, "
            f"got {type(node).__name__}: {str(node)[:80]}"
        )
    if "type" in node and "name" in node:
        raise ValueError(
            f"{path}: give 'type' (a class and its fields) or 'name' (a factory and its arguments), not both"
        )
    if "name" in node:
        return _decode_spec(node, path, depth, budget)
    if "type" not in node:
        raise ValueError(
            f"{path}: a schedule needs a 'type' (a class) or a 'name' (a factory); got keys {sorted(node)}"
        )
    nm = node["type"]
    if not isinstance(nm, str):
        raise TypeError(f"{path}.type must be a string, got {type(nm).__name__}: {nm!r}")
    entry = _entry_for_name(nm, f"{path}.type")
    known = {f.name for f in entry.fields}
    unknown = sorted(set(node) - known - {"type"})
    if unknown:
        raise ValueError(
            f"{path}: unknown field(s) {unknown} for {nm}; its fields are {[f.name for f in entry.fields]}"
        )
    kwargs = {}
    for f in entry.fields:
        p = f"{path}.{f.name}"
        if f.name not in node:
            if f.required:
                raise ValueError(
                    f"{path}: missing field {f.name!r} for {nm}; its fields are {[g.name for g in entry.fields]}"
                )
            kwargs[f.name] = f.default
            continue
        x = node[f.name]
        if x is None:
            if not f.optional:
                raise TypeError(f"{p} must not be null")
            kwargs[f.name] = None
        elif f.kind == "schedule":
            kwargs[f.name] = _need(f, _decode(x, p, depth + 1, budget), p)
        elif f.kind == "schedules":
            if not isinstance(x, list) or not x:
                raise TypeError(f"{p} must be a non-empty list of schedules, got {str(x)[:80]}")
            kwargs[f.name] = tuple(
                _need(f, _decode(y, f"{p}[{i}]", depth + 1, budget), f"{p}[{i}]") for i, y in enumerate(x)
            )
        elif f.kind == "static":
            kwargs[f.name] = _decode_static(x, f, entry, p)
        else:
            kwargs[f.name] = _decode_leaf(x, entry, f.name, p)
    try:
        return entry.cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{path}: {e}") from None


def _need(f: _Field, s: Schedule, path: str) -> Schedule:
    if not isinstance(s, f.cls):
        raise TypeError(f"{path} must be a {f.cls.__name__} schedule, got {type(s).__name__}")
    return s


def _decode_spec(node: dict[str, Any], path: str, depth: int, budget: _Budget) -> Schedule:
    from ._registry import _build

    name = node["name"]
    if not isinstance(name, str):
        raise TypeError(f"{path}.name must be a string, got {type(name).__name__}: {name!r}")
    kwargs = {k: v for k, v in node.items() if k != "name"}

    def resolve(k: str, v: Any) -> Any:
        if isinstance(v, dict) and ("type" in v or "name" in v):
            return _decode(v, f"{path}.{k}", depth + 1, budget)
        if isinstance(v, list) and v and all(isinstance(y, dict) and ("type" in y or "name" in y) for y in v):
            return [_decode(y, f"{path}.{k}[{i}]", depth + 1, budget) for i, y in enumerate(v)]
        return v

    return _build(name, {k: resolve(k, v) for k, v in kwargs.items()}, path)


# ----------------------------------------------------------------------------- checks on a built schedule


def _leading(a: Any, bs: tuple[int, ...], path: str) -> None:
    if tuple(np.shape(a)[: len(bs)]) != bs:
        raise ValueError(f"{path}: expected leading batch shape {list(bs)}, got an array of shape {list(np.shape(a))}")


def _walk_check(s: Any, bs: tuple[int, ...], path: str) -> None:
    entry = _BY_CLASS.get(type(s))
    if entry is None:
        return
    for f in entry.fields:
        v = getattr(s, f.name)
        p = f"{path}.{f.name}"
        if v is None:
            continue
        if isinstance(v, Schedule):
            _walk_check(v, bs, p)
        elif isinstance(v, tuple) and v and all(isinstance(x, Schedule) for x in v):
            for i, x in enumerate(v):
                _walk_check(x, bs, f"{p}[{i}]")
        elif f.kind == "array" and isinstance(v, (jax.Array, np.ndarray)) and not isinstance(v, jax.core.Tracer):
            _leading(v, bs, p)
            a = np.asarray(v)
            if a.dtype.kind == "f" or a.dtype.name == "bfloat16":
                a64 = a.astype(np.float64)
                if np.isnan(a64).any():
                    raise ValueError(f"{p} must not be NaN")
                if f.name not in entry.inf_fields and not np.isfinite(a64).all():
                    raise ValueError(
                        f"{p} must be finite (a value overflowed {a.dtype.name}?), got {np.asarray(a).tolist()}"
                    )
            if f.name in entry.bounds:
                op, lo = entry.bounds[f.name]
                if not _BOUND_OPS[op](a.astype(np.float64), lo).all():
                    raise ValueError(f"{p} must be {op} {lo:g}, got {np.asarray(a).tolist()}")
    if entry.check is not None:
        try:
            entry.check(s, bs)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None


def _leaves_shaped(s: Any, shape: tuple[int, ...], path: str) -> list[str]:
    """The paths of array leaves whose leading axes are ``shape`` (to name them in a shape error)."""
    entry = _BY_CLASS.get(type(s))
    out: list[str] = []
    for f in entry.fields if entry is not None else ():
        v, p = getattr(s, f.name), f"{path}.{f.name}"
        if isinstance(v, Schedule):
            out += _leaves_shaped(v, shape, p)
        elif isinstance(v, tuple) and v and all(isinstance(x, Schedule) for x in v):
            for i, x in enumerate(v):
                out += _leaves_shaped(x, shape, f"{p}[{i}]")
        elif f.kind == "array" and v is not None and tuple(np.shape(v)[: len(shape)]) == shape:
            out.append(p)
    return out


def validate(schedule: Schedule, batch_shape: tuple[int, ...] = (), path: str = "schedule") -> Schedule:
    """Check a built schedule: finite leaves, consistent shapes, and that it evaluates.

    Raises ``ValueError`` naming the offending entry. Used by
    :func:`from_config` and :func:`jaxsched.get`.
    """
    _walk_check(schedule, batch_shape, path)
    try:
        out = _shape_at_one_step(schedule, batch_shape)
    except (RecursionError, MemoryError):
        raise
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: the config does not describe a schedule that can be evaluated ({msg})") from None
    if tuple(out.shape) != tuple(batch_shape):
        shaped = _leaves_shaped(schedule, tuple(out.shape), path) if len(out.shape) > len(batch_shape) else []
        raise ValueError(
            f"{path}: leaf shapes do not match: a step gives values of shape {list(out.shape)}, "
            f"expected {list(batch_shape)}" + ("" if batch_shape else " (a batched schedule needs 'batch_shape')")
            + (f"; leaves of leading shape {list(out.shape)}: {', '.join(shaped)}" if shaped else "")
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(f"{path}: the schedule gives {out.dtype} values, expected floats")
    return schedule


def from_config(config: Any) -> Any:
    """Build the schedule (or :class:`~jaxsched.Grid`) that ``config`` describes.

    Accepts what :func:`to_config` writes, a factory spec ``{"name":
    "warmup_cosine", "peak_value": 3e-4, ...}`` (see :func:`jaxsched.get`), or
    a bare structural node ``{"type": "Cosine", ...}``; any mapping works
    (``dict``, OmegaConf ``DictConfig``, ``ml_collections.ConfigDict``). Only
    registered jaxsched classes are built; nothing is imported by name, nothing
    is evaluated. A malformed config raises ``ValueError`` or ``TypeError``
    that names the offending entry and what is accepted.

    >>> import jaxsched
    >>> s = jaxsched.from_config({"name": "linear", "init_value": 1.0, "end_value": 0.0, "steps": 4})
    >>> s(2).item()
    0.5
    >>> jaxsched.from_config({"format": "jaxsched/1", "schedule": {"type": "Cosine", "init_value": 1.0}})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: schedule: missing field 'end_value' for Cosine; its fields are ['init_value', ...]
    """
    try:
        return _from_config(config)
    except RecursionError:
        raise ValueError("the config is nested too deeply") from None


def _from_config(config: Any) -> Any:
    budget = _Budget()
    cfg = _plain(config, "config", 0, budget)
    if not isinstance(cfg, dict):
        raise TypeError(f"a config must be a dict, got {type(config).__name__}: {str(config)[:80]}")
    if "format" not in cfg:
        if "name" in cfg or "type" in cfg:
            s = _decode(cfg, "schedule", 0, budget)
            return validate(s)
        raise ValueError(
            f"a config needs 'format': {FORMAT!r} and 'schedule', or a factory spec with 'name' "
            f"(see jaxsched.names()); got keys {sorted(cfg)}"
        )
    fmt = cfg["format"]
    if fmt != FORMAT:
        raise ValueError(f"unsupported config format {fmt!r}; this jaxsched reads {FORMAT!r}")
    unknown = sorted(set(cfg) - {"format", "schedule", "batch_shape", "settings"})
    if unknown:
        raise ValueError(f"unknown top-level key(s) {unknown}; valid keys: format, schedule, batch_shape, settings")
    if "schedule" not in cfg:
        raise ValueError("the config has no 'schedule'")
    bs = _check_batch_shape(cfg.get("batch_shape", []), "batch_shape")
    s = _decode(cfg["schedule"], "schedule", 0, budget)
    validate(s, bs)
    if "settings" not in cfg:
        return s
    settings = cfg["settings"]
    if len(bs) != 1:
        raise ValueError(f"'settings' describe a grid, which has a batch_shape of one axis; got {list(bs)}")
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict of column -> list, got {type(settings).__name__}")
    if not settings and bs[0] != 1:
        raise ValueError(f"settings must have at least one column for a grid of {bs[0]} settings, got {{}}")
    out = {}
    for k, col in settings.items():
        if not isinstance(col, list) or len(col) != bs[0]:
            raise ValueError(f"settings.{k} must be a list of {bs[0]} values, got {str(col)[:80]}")
        out[k] = [_setting(v, f"settings.{k}[{i}]", budget) for i, v in enumerate(col)]
    from ._grid import Grid

    return Grid(s, out)


def _setting(v: Any, path: str, budget: _Budget) -> Any:
    """A grid setting read back: what ``to_config`` writes (numbers, ``"inf"``, strings, booleans, null,
    and lists of them, such as a piecewise schedule's values; a schedule as a node)."""
    if isinstance(v, list):
        return [_setting(x, f"{path}[{i}]", budget) for i, x in enumerate(v)]
    if isinstance(v, dict):
        if "type" in v:
            return validate(_decode(v, path, 0, budget), (), path)
        raise TypeError(f"{path} must be a number, string, boolean, null, a list of them or a schedule node "
                        f"({{'type': ...}}), got {str(v)[:80]}")
    if isinstance(v, str) and v in ("inf", "-inf"):  # how to_config writes an infinity (JSON has none)
        return float(v)
    if isinstance(v, float) and math.isnan(v):
        raise ValueError(f"{path} must not be NaN")
    return v


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict; a key given twice is an error (``json`` keeps the last one, silently)."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"invalid JSON: the key {k!r} is given twice in one object")
        out[k] = v
    return out


def from_json(text: str | bytes) -> Any:
    """Build a schedule (or grid) from JSON text written by :func:`to_json`.

    >>> import jaxsched
    >>> jaxsched.from_json('{"name": "constant", "value": 0.5}')(10).item()
    0.5
    """
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"from_json expects JSON text, got {type(text).__name__}")
    try:
        cfg = json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON: {e}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"invalid JSON text: {e}") from None
    return from_config(cfg)


# ----------------------------------------------------------------------------- core classes


def _check_sorted(name: str, b: Any, bs: tuple[int, ...], nonneg: bool = True) -> None:
    a = np.asarray(b, np.float64)
    if a.ndim != len(bs) + 1:
        raise ValueError(f"{name} must be a 1-D list (per batch member), got shape {list(a.shape)}")
    if a.shape[-1] > 1 and (np.diff(a, axis=-1) < 0).any():
        raise ValueError(f"{name} must be non-decreasing, got {a.tolist()}")
    if nonneg and a.size and (a < 0).any():
        raise ValueError(f"{name} must be >= 0, got {a.tolist()}")


def _register_core() -> None:
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

    def check_join(s: Any, bs: tuple[int, ...]) -> None:
        _check_sorted("boundaries", s.boundaries, bs, nonneg=False)  # below 0: a shift, as `join` allows
        n = np.shape(s.boundaries)[-1]
        if n != len(s.schedules) - 1:
            raise ValueError(f"Join needs len(boundaries) == len(schedules) - 1, got {n} and {len(s.schedules)}")

    def check_pieces(extra: int) -> Callable[[Any, tuple[int, ...]], None]:
        def check(s: Any, bs: tuple[int, ...]) -> None:
            _check_sorted("boundaries", s.boundaries, bs)
            nv, nb = np.shape(s.values)[-1:] or (None,), np.shape(s.boundaries)[-1]
            if np.ndim(s.values) != len(bs) + 1 or nv[0] != nb + extra or nv[0] < 1:
                rule = "len(boundaries) + 1" if extra else "len(boundaries) (at least 1)"
                raise ValueError(
                    f"values must be a list of {rule} entries, got shape {list(np.shape(s.values))} "
                    f"for boundaries of shape {list(np.shape(s.boundaries))}"
                )

        return check

    def check_select(s: Any, bs: tuple[int, ...]) -> None:
        if (s.index is None) == (s.fixed is None):
            raise ValueError(f"Select needs one of index (a leaf) and fixed, got {s.index!r} and {s.fixed!r}")
        if s.fixed is not None:
            f = s.fixed
            if isinstance(f, bool) or not isinstance(f, int) or not 0 <= f < len(s.schedules):
                raise ValueError(f"fixed must be an integer in 0..{len(s.schedules) - 1}, got {f!r}")
            return
        a = np.asarray(s.index)
        if a.shape != bs:
            raise ValueError(f"index must be one integer (per batch member), got shape {list(a.shape)}")
        if ((a < 0) | (a >= len(s.schedules))).any():
            raise ValueError(f"index must be in 0..{len(s.schedules) - 1}, got {a.tolist()}")

    # Bounds: each class's _config_bounds (those its factory checks), for configs naming the class.
    for c in (Constant, Sum, Product, Linear, Cosine, Polynomial, SqrtDecay, InverseSqrt, Warmup):
        register(c)

    def check_exponential(s: Any, bs: tuple[int, ...]) -> None:
        # An infinite end_value is no bound (what `stack` gives a member without one, and optax's port a
        # constant): -inf as the floor of a decaying rate, +inf as the ceiling of any other. The other
        # side would bound every value to infinity.
        if s.end_value is None:
            return
        end, rate = np.asarray(s.end_value, np.float64), np.asarray(s.decay_rate, np.float64)
        binding = np.isinf(end) & ((end > 0) == (rate < 1))
        if binding.any():
            raise ValueError(
                "end_value may be infinite only where it bounds nothing (-inf with decay_rate < 1, inf with "
                f"decay_rate >= 1), got end_value={end.tolist()}, decay_rate={rate.tolist()}"
            )

    register(Exponential, inf_fields=("end_value",), check=check_exponential)
    register(PiecewiseConstant, check=check_pieces(1))
    register(PiecewiseLinear, check=check_pieces(0))
    register(Join, check=check_join)
    register(Select, int_fields=("index",), check=check_select)

    def check_cooldown(s: Any, bs: tuple[int, ...]) -> None:
        if (s.shape is None) == (s.fixed is None):
            raise ValueError(f"Cooldown needs one of shape (an index leaf) and fixed, got {s.shape!r} and {s.fixed!r}")
        if s.fixed is not None:
            return  # a static choice, checked by `choices`
        a = np.asarray(s.shape)
        if a.shape != bs or ((a < 0) | (a > 2)).any():
            raise ValueError(f"shape must be an integer in 0..2 (linear, cosine, 1-sqrt), got {a.tolist()}")

    register(Cooldown, int_fields=("shape",), choices={"fixed": (None, 0, 1, 2)}, check=check_cooldown)
    register(Repeat, inf_fields=("cycles",))

    def check_clip(s: Any, bs: tuple[int, ...]) -> None:
        lo, hi = np.asarray(s.lo, np.float64), np.asarray(s.hi, np.float64)
        if (lo > hi).any():
            raise ValueError(f"Clip needs lo <= hi, got lo={lo.tolist()}, hi={hi.tolist()}")

    def check_extremum(s: Any, bs: tuple[int, ...]) -> None:
        if len(s.schedules) < 2:
            raise ValueError(f"Extremum needs at least 2 operands, got {len(s.schedules)}")

    register(Clip, inf_fields=("lo", "hi"), check=check_clip)
    register(Extremum, choices={"op": ("min", "max")}, check=check_extremum)


_register_core()

__all__ = ["FORMAT", "from_config", "from_json", "register", "registered", "to_config", "to_json", "validate"]
