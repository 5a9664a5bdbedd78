"""The name registry: ``jaxsched.get(name, **kwargs)`` for config files.

Native names are jaxsched's own factories (``"warmup_cosine"``, ``"wsd"``, ...)
and combinators (``"join"``, ``"warmup"``, ...). HuggingFace transformers'
``lr_scheduler_type`` names are available with an ``"hf:"`` prefix
(``"hf:cosine"``; ``"transformers:cosine"`` and ``"transformers.cosine"`` are
aliases) because ``linear``, ``cosine``, ``polynomial``, ``constant`` and
``inverse_sqrt`` mean something else natively; the transformers names that do
not collide (``"cosine_with_restarts"``, ``"constant_with_warmup"``,
``"cosine_with_min_lr"``, ``"cosine_warmup_with_min_lr"``,
``"warmup_stable_decay"``) also work without the prefix.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from ._base import Schedule

HF_PREFIX = "hf:"
HF_NAMES = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
)
_HF_SUMMARY = {
    "linear": "transformers 'linear': warmup from 0, then linear decay to 0 at num_training_steps.",
    "cosine": "transformers 'cosine': warmup from 0, then half a cosine (num_cycles=0.5) to 0; periodic past the end.",
    "cosine_with_restarts": "transformers 'cosine_with_restarts': warmup, then num_cycles hard restarts in the run.",
    "polynomial": "transformers 'polynomial': warmup, then polynomial decay to lr_end with power.",
    "constant": "transformers 'constant': a constant multiplier 1.",
    "constant_with_warmup": "transformers 'constant_with_warmup': linear warmup from 0, then 1.",
    "inverse_sqrt": "transformers 'inverse_sqrt': warmup, then sqrt(timescale / (k - W + timescale)).",
    "cosine_with_min_lr": "transformers 'cosine_with_min_lr': cosine to a floor min_lr or min_lr_rate.",
    "cosine_warmup_with_min_lr": "transformers 'cosine_warmup_with_min_lr': (k+1)/W warmup, cosine to a floor.",
    "warmup_stable_decay": "transformers 'warmup_stable_decay': warmup, stable, decay (linear/cosine/1-sqrt shapes).",
}
_HF_TOP = ("num_warmup_steps", "num_training_steps", "lr")
_HYDRA_KEYS = frozenset({"_target_", "_recursive_", "_convert_", "_partial_", "_args_"})


@dataclasses.dataclass(frozen=True)
class _Factory:
    name: str
    fn: Callable[..., Any]
    kind: str  # "preset" | "primitive" | "combinator"

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.fn) or ""
        line = doc.strip().splitlines()[0] if doc.strip() else self.name
        return re.sub(r":\w+:`([^`]*)`", r"\1", line).replace("``", "")


def _minimum(schedules: Sequence[Any]) -> Schedule:
    """Elementwise minimum of a list of schedules (numbers are lifted to constants)."""
    from ._arith import minimum

    if isinstance(schedules, (str, bytes)) or not isinstance(schedules, Sequence):
        raise TypeError(f"schedules must be a list, got {schedules!r}")
    return minimum(*schedules)


def _maximum(schedules: Sequence[Any]) -> Schedule:
    """Elementwise maximum of a list of schedules (numbers are lifted to constants)."""
    from ._arith import maximum

    if isinstance(schedules, (str, bytes)) or not isinstance(schedules, Sequence):
        raise TypeError(f"schedules must be a list, got {schedules!r}")
    return maximum(*schedules)


def _native() -> dict[str, _Factory]:
    from . import _arith, _join, _presets, _primitives, _repeat

    table: list[tuple[str, Callable[..., Any], str]] = [
        ("constant", _primitives.constant, "primitive"),
        ("linear", _primitives.linear, "primitive"),
        ("cosine", _primitives.cosine, "primitive"),
        ("polynomial", _primitives.polynomial, "primitive"),
        ("exponential", _primitives.exponential, "primitive"),
        ("inverse_sqrt", _primitives.inverse_sqrt, "primitive"),
        ("sqrt_decay", _primitives.sqrt_decay, "primitive"),
        ("cooldown", _primitives.cooldown, "primitive"),
        ("piecewise_constant", _primitives.piecewise_constant, "primitive"),
        ("piecewise_linear", _primitives.piecewise_linear, "primitive"),
        ("warmup_cosine", _presets.warmup_cosine, "preset"),
        ("wsd", _presets.wsd, "preset"),
        ("onecycle", _presets.onecycle, "preset"),
        ("onecycle_momentum", _presets.onecycle_momentum, "preset"),
        ("sgdr", _presets.sgdr, "preset"),
        ("cyclic", _presets.cyclic, "preset"),
        ("linear_to_zero", _presets.linear_to_zero, "preset"),
        ("warmup_inverse_sqrt", _presets.warmup_inverse_sqrt, "preset"),
        ("join", _join.join, "combinator"),
        ("warmup", _join.warmup, "combinator"),
        ("select", _join.select, "combinator"),
        ("repeat", _repeat.repeat, "combinator"),
        ("clip", _arith.clip, "combinator"),
        ("minimum", _minimum, "combinator"),
        ("maximum", _maximum, "combinator"),
    ]
    return {n: _Factory(n, f, k) for n, f, k in table}


_NATIVE: dict[str, _Factory] | None = None


def _table() -> dict[str, _Factory]:
    global _NATIVE
    if _NATIVE is None:
        _NATIVE = _native()
    return _NATIVE


def names() -> list[str]:
    """Every name :func:`get` accepts: native names, then ``"hf:"`` names.

    >>> import jaxsched
    >>> "warmup_cosine" in jaxsched.names() and "hf:cosine" in jaxsched.names()
    True
    """
    return list(_table()) + [HF_PREFIX + n for n in HF_NAMES]


def catalog() -> list[tuple[str, str, str]]:
    """``(name, kind, one-line summary)`` for every registered name."""
    out = [(f.name, f.kind, f.summary) for f in _table().values()]
    out += [(HF_PREFIX + n, "transformers", _HF_SUMMARY[n]) for n in HF_NAMES]
    return out


def _split(name: str) -> tuple[str, str]:
    """``("native" | "hf", canonical name)``."""
    raw = name.strip()
    low = raw.lower()
    for pre in ("hf:", "transformers:", "transformers.", "hf."):
        if low.startswith(pre):
            return "hf", low[len(pre) :].replace("-", "_")
    key = low.replace("-", "_")
    if key in _table():
        return "native", key
    if key in HF_NAMES:
        return "hf", key
    return "unknown", key


def _unknown(name: str) -> ValueError:
    every = names()
    close = difflib.get_close_matches(name.strip().lower(), every, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"unknown schedule name {name!r}.{hint} Valid names: {', '.join(every)}")


def _signature_help(fn: Callable[..., Any]) -> str:
    parts = []
    for p in inspect.signature(fn).parameters.values():
        parts.append(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}")
    return ", ".join(parts)


def _is_spec(x: Any) -> bool:
    return isinstance(x, Mapping) and ("type" in x or "name" in x)


def _resolve_value(key: str, v: Any, where: str) -> Any:
    """Nested schedule specs become schedules; mappings and sequences become plain dict/list."""
    from . import _config as C

    if isinstance(v, (Schedule, jax.Array, np.ndarray, np.generic)):
        return v  # schedules and arrays (traced ones too) go to the factory as they are
    if isinstance(v, (list, tuple)) and any(isinstance(x, Schedule) or _is_spec(x) for x in v):
        return [_resolve_value(f"{key}[{i}]", x, where) for i, x in enumerate(v)]
    plain = C._plain(v, f"{where}.{key}", 1, C._Budget())
    if _is_spec(plain):
        return C._decode(plain, f"{where}.{key}", 1, C._Budget())
    if isinstance(plain, list) and plain and all(_is_spec(x) for x in plain):
        return [C._decode(x, f"{where}.{key}[{i}]", 1, C._Budget()) for i, x in enumerate(plain)]
    return plain


def _call(label: str, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    try:
        with warnings.catch_warnings():
            # A huge number overflows the float dtype on the cast; validate() reports it clearly.
            warnings.filterwarnings("ignore", message="overflow encountered", category=RuntimeWarning)
            return fn(**kwargs)
    except (ValueError, TypeError) as e:
        raise type(e)(f"{label}: {e}") from None
    except RecursionError:
        raise ValueError(f"{label}: the arguments are nested too deeply") from None
    except Exception as e:  # a factory choked on a strange value: report it as a bad value
        raise ValueError(f"{label}: could not build the schedule ({type(e).__name__}: {e})") from None


def _build(name: Any, kwargs: Mapping[str, Any], where: str | None = None) -> Schedule:
    from . import _config as C

    if not isinstance(name, str):
        raise TypeError(f"a schedule name must be a string, got {type(name).__name__}: {name!r}")
    label = name if where is None else f"{where} ({name})"
    kwargs = {k: v for k, v in kwargs.items() if k not in _HYDRA_KEYS}  # a Hydra node's own keys
    for k in kwargs:
        if not isinstance(k, str):
            raise TypeError(f"{label}: argument names must be strings, got {k!r}")
    kind, key = _split(name)
    if kind == "unknown":
        err = _unknown(name)
        raise ValueError(f"{where}: {err}" if where else str(err))
    if kind == "hf":
        s = _build_hf(key, dict(kwargs), label)
    else:
        fac = _table()[key]
        params = inspect.signature(fac.fn).parameters
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise TypeError(
                f"{label}: unknown argument(s) {', '.join(unknown)}; valid arguments: {_signature_help(fac.fn)}"
            )
        missing = [p for p, v in params.items() if v.default is inspect.Parameter.empty and p not in kwargs]
        if missing:
            raise TypeError(
                f"{label}: missing argument(s) {', '.join(missing)}; valid arguments: {_signature_help(fac.fn)}"
            )
        where_k = where or key
        args = {k: _resolve_value(k, v, where_k) for k, v in kwargs.items()}
        s = _call(label, fac.fn, args)
    if not isinstance(s, Schedule):
        raise TypeError(f"{label}: the factory returned {type(s).__name__}, not a schedule")
    if not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(s)):
        C.validate(s, (), label)
    return s


def _build_hf(key: str, kwargs: dict[str, Any], label: str) -> Schedule:
    if key not in HF_NAMES:
        raise ValueError(
            f"{label}: unknown transformers schedule {key!r}; valid: {', '.join(HF_PREFIX + n for n in HF_NAMES)}"
        )
    try:
        from .compat.transformers import _FUNCTIONS, get_scheduler
    except ModuleNotFoundError as e:
        if e.name in ("jaxsched.compat.transformers", "jaxsched.compat"):
            raise ValueError(
                f"{label}: transformers-style names need jaxsched.compat.transformers, which this installation lacks"
            ) from None
        raise
    from . import _config as C

    kw = {
        k: v if isinstance(v, (jax.Array, np.ndarray, np.generic)) else C._plain(v, f"{label}.{k}", 1, C._Budget())
        for k, v in kwargs.items()
    }
    specific = kw.pop("scheduler_specific_kwargs", None)
    if specific is not None and not isinstance(specific, dict):
        raise TypeError(f"{label}: scheduler_specific_kwargs must be a dict, got {specific!r}")
    specific = dict(specific or {})
    top = {k: kw.pop(k) for k in _HF_TOP if k in kw}
    # The schedule function's own arguments (what scheduler_specific_kwargs may hold). Given flat, anything
    # else is a typo: transformers' "constant" and "constant_with_warmup" would drop it without a word.
    own = [p for p in inspect.signature(_FUNCTIONS[key]).parameters if p not in ("lr", *_HF_TOP)]
    valid = f"valid arguments: {', '.join(_HF_TOP)}, scheduler_specific_kwargs" + "".join(f", {p}" for p in own)
    unknown = sorted(set(kw) - set(own))
    if unknown:
        raise TypeError(f"{label}: unknown argument(s) {', '.join(unknown)}; {valid}")
    nested_unknown = sorted(set(specific) - set(own))
    if nested_unknown and key not in ("constant", "constant_with_warmup"):  # those two drop them (transformers)
        raise TypeError(f"{label}: unknown scheduler_specific_kwargs {', '.join(nested_unknown)}; {valid}")
    if "lr" not in top:
        raise TypeError(
            f"{label}: missing argument lr (the optimizer's base rate; lr=1.0 gives transformers' multiplier); "
            f"arguments: lr, num_warmup_steps, num_training_steps, and the schedule's own (scheduler_specific_kwargs)"
        )
    both = sorted(set(specific) & set(kw))
    if both:
        raise TypeError(
            f"{label}: {', '.join(both)} given both directly and in scheduler_specific_kwargs; give each once"
        )
    specific.update(kw)
    if specific:
        top["scheduler_specific_kwargs"] = specific
    return _call(label, lambda **a: get_scheduler(key, **a), top)


def get(name: str, **kwargs: Any) -> Schedule:
    """Build a schedule by name, for config files and command lines.

    ``name`` is a native factory or combinator (see :func:`names`) or a
    HuggingFace transformers ``lr_scheduler_type`` with the ``"hf:"`` prefix.
    Keyword arguments are the factory's own; nested schedules may be given as
    specs, ``{"name": ..., ...}``, or as config nodes, so a whole composite
    fits in one Hydra / ml_collections / JSON config. An unknown name or
    argument raises an error that lists what is valid.

    For ``"hf:*"`` names the arguments are transformers' own:
    ``num_warmup_steps``, ``num_training_steps``, ``lr`` and any
    ``scheduler_specific_kwargs`` (given nested or flat).

    >>> import jaxsched
    >>> s = jaxsched.get("warmup_cosine", peak_value=1.0, total_steps=110, warmup_steps=10)
    >>> s([0, 10, 60]).round(4).tolist()
    [0.0, 1.0, 0.5]
    >>> j = jaxsched.get("join", schedules=[{"name": "constant", "value": 1.0},
    ...                                    {"name": "constant", "value": 0.1}], boundaries=[5])
    >>> j([4, 5]).tolist()
    [1.0, 0.10000000149011612]
    >>> jaxsched.get("cosine", init=1.0)
    Traceback (most recent call last):
    ...
    TypeError: cosine: unknown argument(s) init; valid arguments: init_value, end_value, steps, exponent=None
    """
    return _build(name, kwargs)


__all__ = ["HF_NAMES", "HF_PREFIX", "catalog", "get", "names"]
