"""Shared test helpers: trace counting, step dtypes, tolerances."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# Steps as users pass them: Python int, int32, uint32, int64 (numpy), float.
STEP_KINDS = ("pyint", "int32", "uint32", "int64", "float32")


def as_step(k: int | np.ndarray, kind: str) -> Any:
    """Express the non-negative integer step(s) ``k`` in the given kind."""
    if kind == "pyint":
        return int(k) if np.ndim(k) == 0 else [int(x) for x in np.asarray(k).ravel()]
    if kind == "int32":
        return jnp.asarray(np.asarray(k, np.int64).astype(np.int32))
    if kind == "uint32":
        return jnp.asarray(np.asarray(k, np.int64).astype(np.uint32))
    if kind == "int64":
        return np.asarray(k, np.int64)
    if kind == "float32":
        return jnp.asarray(np.asarray(k, np.float64).astype(np.float32))
    raise ValueError(kind)


class TraceCounter:
    """Wrap a function so each (re)trace under jit increments ``count``."""

    def __init__(self, fn: Callable[..., Any]):
        self.count = 0
        self._fn = fn

        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return fn(*args, **kwargs)

        self.jitted = jax.jit(wrapped)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.jitted(*args, **kwargs)


def assert_close_to_peak(actual: Any, expected: Any, peak: float, rtol: float = 1e-6) -> None:
    """float32 error within ``rtol`` relative to the schedule's peak magnitude."""
    a = np.asarray(actual, np.float64)
    e = np.asarray(expected, np.float64)
    tol = rtol * max(abs(peak), 1e-30) + 1e-30
    err = np.max(np.abs(a - e)) if a.size else 0.0
    assert a.shape == e.shape, (a.shape, e.shape)
    assert err <= tol, (
        f"max abs error {err:.3g} > {tol:.3g} (peak {peak}); actual={a.ravel()[:8]} expected={e.ravel()[:8]}"
    )


def all_finite(tree: Any) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree_util.tree_leaves(tree))


# ----------------------------------------------------------------------------- peer parity fixtures


def eval_group(one: Callable[..., Any], args: list[Any], cases: list[dict], idx: list[int], out: list[Any]) -> None:
    """Evaluate the fixture cases ``idx`` (one port, one set of numeric arguments) in a single trace.

    ``one(vals, k)`` builds the port from one setting's ``vals`` and evaluates it at
    the steps ``k``; it is vmapped over ``args`` (one array per argument, a row per
    case). Shorter step lists are padded with their last step and cut back;
    ``out[i]`` receives case ``i``'s float64 values.
    """
    width = max(len(cases[i]["steps"]) for i in idx)
    steps = np.stack([np.pad(cases[i]["steps"], (0, width - len(cases[i]["steps"])), mode="edge") for i in idx])
    counter = TraceCounter(jax.vmap(one))
    vals = np.asarray(counter(args, steps.astype(np.int32)), np.float64)
    assert counter.count == 1
    for j, i in enumerate(idx):
        out[i] = vals[j, : len(cases[i]["steps"])]


def check_parity(case: dict, got: Any, rtol: float, where: str) -> None:
    """``got`` equals the peer's ``lr_values`` within ``rtol`` of the peak, except at documented differences.

    A case's ``diff`` lists steps where jaxsched deliberately gives ``expected``
    instead of the peer's value; the peer must really differ there.
    """
    exp = np.asarray(case["lr_values"], np.float64)
    intended = exp.copy()
    diff = case.get("diff")
    if diff:
        intended[diff["idx"]] = diff["expected"]
    peak = max(abs(case["lr"]), float(np.max(np.abs(intended))))
    err = np.abs(got - intended)
    worst = case["steps"][int(np.argmax(err))]
    assert np.all(err <= rtol * peak), f"{where}: max err {err.max() / peak:.2e} of peak at step {worst}"
    if diff:
        assert np.all(np.abs(exp[diff["idx"]] - np.asarray(diff["expected"])) > 1e-3 * peak), where
