"""``jaxsched.compat.torch`` against numbers torch 2.13 produced (``tests/fixtures/torch_*.json``).

The fixtures were written by ``scripts/make_fixtures_torch_optax.py``, which
ran torch itself; this module needs no torch. Every case is checked in
float32 (error within 1e-6 of the case's peak) and under x64 (1e-12). Cases
of one structure are stacked and evaluated in one ``jit(vmap(...))`` call, so
the parity tests double as batching tests. A second test per scheduler
builds the schedule *inside* ``jit(vmap(...))`` from traced arguments (every
numeric torch argument, the lambdas' parameters included) and checks one
trace serves two grids. The last tests pin every documented difference from
torch (``docs/migration_torch_optax.md``).
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsched
from jaxsched._base import Array, Schedule, float_dtype, pytree, static_field, to_float
from jaxsched.compat import torch as T
from tests.helpers import TraceCounter, all_finite, assert_close_to_peak

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = (
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "SequentialLR",
    "CyclicLR",
    "OneCycleLR",
    "CosineAnnealingWarmRestarts",
)
MOMENTUM = {"CyclicLR": T.cyclic_momentum, "OneCycleLR": T.onecycle_momentum}


@functools.cache
def load(name: str) -> list[dict[str, Any]]:
    with open(FIXTURES / f"torch_{name}.json") as f:
        return json.load(f)["cases"]


# ----------------------------------------------------------------------------- lambdas as jnp
# The fixture's lambda families, written here in jax.numpy. ``Lam`` makes the
# family's parameters leaves (a schedule passed as ``lr_lambda``), so cases of
# one family share one compiled program; ``plain`` is the same as a bare lambda.

_FAMILIES = {
    "const": lambda k, a: a + 0.0 * k,
    "pow": lambda k, a: a**k,
    "warmup": lambda k, W: jnp.minimum(1.0, (k + 1.0) / W),
    "inv": lambda k, c: 1.0 / (1.0 + c * k),
    "cos": lambda k, n: 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(k, n) / n)),
    "every": lambda k, s, a: jnp.where(jnp.mod(k, s) == 0, a, 1.0),
    "ratio": lambda k, c: (k + c) / (k + c + 1.0),
}


@pytree
class Lam(Schedule):
    """A lambda family with its parameters as leaves."""

    args: tuple[Array, ...]
    fam: str = static_field()

    def _eval(self, t: Array) -> Array:
        dt = self.args[0].dtype
        k = to_float(t, dt)
        return jnp.broadcast_to(_FAMILIES[self.fam](k, *self.args), jnp.shape(k))


def lam(spec: dict[str, Any], traced: tuple[Any, ...] | None = None) -> Lam:
    args = spec["args"] if traced is None else traced
    return Lam(tuple(jnp.asarray(a, float_dtype()) for a in args), spec["fn"])


def plain(spec: dict[str, Any]):
    fam, args = _FAMILIES[spec["fn"]], spec["args"]
    return lambda k: fam(k, *args)


# ----------------------------------------------------------------------------- building from a fixture spec


def build(name: str, lr: Any, kwargs: dict[str, Any], *, lambdas: str = "leaves") -> Schedule:
    """The jaxsched port of the torch scheduler a fixture case describes."""
    kw = dict(kwargs)
    mk = lam if lambdas == "leaves" else plain
    for key in ("lr_lambda", "scale_fn"):
        if kw.get(key) is not None:
            kw[key] = mk(kw[key])
    if name == "ChainedScheduler":
        return T.ChainedScheduler([build(c["name"], lr, c["kwargs"], lambdas=lambdas) for c in kw["schedulers"]])
    if name == "SequentialLR":
        kids = [build(c["name"], lr, c["kwargs"], lambdas=lambdas) for c in kw["schedulers"]]
        return T.SequentialLR(kids, kw["milestones"])
    if name in ("CyclicLR", "OneCycleLR"):
        return getattr(T, name)(**kw)
    return getattr(T, name)(lr, **kw)


def build_momentum(name: str, kwargs: dict[str, Any]) -> Schedule:
    kw = dict(kwargs)
    if kw.get("scale_fn") is not None:
        kw["scale_fn"] = lam(kw["scale_fn"])
    return MOMENTUM[name](**kw)


# ----------------------------------------------------------------------------- batched evaluation


@jax.jit
def _eval_all(batches: list[Schedule], batch_steps: list[Array], singles: list[Schedule], single_steps: Array) -> Any:
    many = [jax.vmap(lambda s, k: s(k))(b, k) for b, k in zip(batches, batch_steps)]
    return many, [s(k) for s, k in zip(singles, single_steps)]


def _key(s: Schedule) -> Any:
    leaves, treedef = jax.tree_util.tree_flatten(s)
    return treedef, tuple((jnp.shape(x), jnp.result_type(x)) for x in leaves)


def evaluate(schedules: list[Schedule], steps: list[list[int]]) -> list[np.ndarray]:
    """Each schedule at its steps, all in one compiled program (cases of one structure vmapped)."""
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, s in enumerate(schedules):
        groups[_key(s)].append(i)
    L = max(len(k) for k in steps)
    padded = [np.pad(np.asarray(k, np.int32), (0, L - len(k)), mode="edge") for k in steps]
    batched = [idx for idx in groups.values() if len(idx) >= 3]
    singles = [i for idx in groups.values() if len(idx) < 3 for i in idx]
    # Stack on the host: an eager jnp.stack compiles once per shape.
    stacks = [
        jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *[schedules[i] for i in idx])
        for idx in batched
    ]
    many, one = _eval_all(
        stacks,
        [np.stack([padded[i] for i in idx]) for idx in batched],
        [schedules[i] for i in singles],
        np.stack([padded[i] for i in singles]) if singles else np.zeros((0, L), np.int32),
    )
    out: list[np.ndarray | None] = [None] * len(schedules)
    for idx, vals in zip(batched, many):
        vals = np.asarray(vals, np.float64)  # slice on the host: slicing a jax.Array compiles per shape
        for r, i in enumerate(idx):
            out[i] = vals[r, : len(steps[i])]
    for i, vals in zip(singles, one):
        out[i] = np.asarray(vals, np.float64)[: len(steps[i])]
    return out  # type: ignore[return-value]


def _peak(case: dict[str, Any], key: str = "values") -> float:
    return max(float(np.max(np.abs(case[key]))), 1e-30)


def _check(name: str, cases: list[dict[str, Any]], got: list[np.ndarray], rtol: float, key: str = "values") -> None:
    for i, (case, g) in enumerate(zip(cases, got)):
        try:
            assert_close_to_peak(g, case[key], _peak(case, key), rtol)
        except AssertionError as e:
            raise AssertionError(f"{name} case {i} ({key}) kwargs={case['kwargs']} lr={case['lr']}: {e}") from None


def parity_cases(name: str) -> list[dict[str, Any]]:
    cases = load(name)
    if name == "ChainedScheduler":
        return [c for c in cases if c["product"]]
    return cases


# ----------------------------------------------------------------------------- built inside jit from traced arguments


# Named choices that the ports also take as (traceable) indices: swept as numbers.
CHOICES = {
    "mode": ("triangular", "triangular2", "exp_range"),
    "anneal_strategy": ("cos", "linear"),
    "interpolate_type": ("linear", "cosine"),
}


def _flatten(obj: Any, path: tuple = ()) -> tuple[list[tuple], list[float], Any]:
    """Split a kwargs tree into numeric leaves (with paths) and a hashable static signature.

    Named choices (``CHOICES``) become numeric leaves: their index."""
    paths, vals = [], []

    def walk(x: Any, p: tuple) -> Any:
        if isinstance(x, str) and p and p[-1] in CHOICES:
            paths.append(p)
            vals.append(float(CHOICES[p[-1]].index(x)))
            return "#"
        if isinstance(x, bool) or x is None or isinstance(x, str):
            return x
        if isinstance(x, (int, float)):
            paths.append(p)
            vals.append(float(x))
            return "#"
        if isinstance(x, dict):
            return tuple((k, walk(x[k], p + (k,))) for k in sorted(x))
        if isinstance(x, list):
            return tuple(walk(v, p + (j,)) for j, v in enumerate(x))
        raise TypeError(x)

    sig = walk(obj, path)
    return paths, vals, sig


def _rebuild(obj: Any, paths: list[tuple], leaves: Any) -> Any:
    """``obj`` with the numeric values at ``paths`` replaced by ``leaves`` (lambda args as tuples)."""
    obj = json.loads(json.dumps(obj))
    for p, v in zip(paths, leaves):
        o = obj
        for k in p[:-1]:
            o = o[k]
        o[p[-1]] = v
    return obj


def vmap_groups(name: str, cases: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for c in cases:
        _, _, sig = _flatten({"lr": c["lr"], "kwargs": c["kwargs"]})
        groups[sig].append(c)
    return sorted(groups.values(), key=len, reverse=True)


def _traced_build(name: str, tree: dict[str, Any]) -> Schedule:
    kw = tree["kwargs"]
    for key in ("lr_lambda", "scale_fn"):
        if kw.get(key) is not None:
            kw[key] = lam(kw[key], tuple(kw[key]["args"]))
    for c in kw.get("schedulers", []):
        if c["kwargs"].get("lr_lambda") is not None:
            c["kwargs"]["lr_lambda"] = lam(c["kwargs"]["lr_lambda"], tuple(c["kwargs"]["lr_lambda"]["args"]))
    if name == "ChainedScheduler":
        return T.ChainedScheduler([build_traced_child(c, tree["lr"]) for c in kw["schedulers"]])
    if name == "SequentialLR":
        return T.SequentialLR([build_traced_child(c, tree["lr"]) for c in kw["schedulers"]], kw["milestones"])
    if name in ("CyclicLR", "OneCycleLR"):
        return getattr(T, name)(**kw)
    return getattr(T, name)(tree["lr"], **kw)


def build_traced_child(c: dict[str, Any], lr: Any) -> Schedule:
    if c["name"] == "CyclicLR":
        return T.CyclicLR(**c["kwargs"])
    return getattr(T, c["name"])(lr, **c["kwargs"])


def traced_program(
    cases: list[dict[str, Any]], tree: Any, build_one: Any
) -> tuple[TraceCounter, list[Array], list[Array], list[list[dict[str, Any]]]]:
    """One jitted, trace-counted program evaluating every case, built from traced arguments.

    Cases are grouped by static signature (``vmap_groups``); each group's numeric
    arguments form a table whose rows are vmapped over, rebuilt into the case's
    keyword arguments (tracers in place of numbers) and handed to
    ``build_one(tree, steps) -> values`` of shape ``(rows, len(steps))``.
    """
    groups = vmap_groups("", [{**c, "lr": c.get("lr")} for c in cases])
    specs = []
    for group in groups:
        paths, _, _ = _flatten(tree(group[0]))
        # Host (NumPy) arrays: jnp.asarray / slicing / reversing a jax.Array eagerly compiles per shape.
        table = np.asarray([_flatten(tree(c))[1] for c in group], np.float32)
        L = max(len(c["steps"]) for c in group)
        ks = np.stack([np.pad(np.asarray(c["steps"], np.int32), (0, L - len(c["steps"])), mode="edge") for c in group])
        specs.append((paths, tree(group[0]), table, ks))

    def run(tables: list[Array], steps: list[Array]) -> list[Array]:
        out = []
        for (paths, template, _, _), tab, ks in zip(specs, tables, steps):

            def one(row: Array, k: Array, paths=paths, template=template) -> Array:
                return build_one(_rebuild(template, paths, [row[j] for j in range(len(paths))]), k)

            out.append(jax.vmap(one)(tab, ks))
        return out

    return TraceCounter(run), [s[2] for s in specs], [s[3] for s in specs], groups


def check_traced(name: str, cases: list[dict[str, Any]], tree: Any, build_one: Any, keys: tuple[str, ...]) -> None:
    """float32 parity of every case built from traced arguments; one trace serves two grids."""
    counted, tables, steps, groups = traced_program(cases, tree, build_one)
    first = counted(tables, steps)
    second = counted([t[::-1] for t in tables], [k[::-1] for k in steps])
    assert counted.count == 1
    for group, a, b in zip(groups, first, second):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        for r, c in enumerate(group):
            n = len(c["steps"])
            for j, key in enumerate(keys):
                _check(name, [c], [a[r, j, :n]], 1e-6, key=key)
                _check(name, [c], [b[len(group) - 1 - r, j, :n]], 1e-6, key=key)


def _torch_one(name: str) -> Any:
    def build_one(tree: dict[str, Any], k: Array) -> Array:
        lr = _traced_build(name, _copy(tree))
        if name not in MOMENTUM:
            return lr(k)[None]
        kw = _copy(tree)["kwargs"]
        if kw.get("scale_fn") is not None:
            kw["scale_fn"] = lam(kw["scale_fn"], tuple(kw["scale_fn"]["args"]))
        # The rate and the momentum schedules share a structure: evaluate them as one batch of two.
        both = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), lr, MOMENTUM[name](**kw))
        return jax.vmap(lambda s: s(k))(both)

    return build_one


def _copy(x: Any) -> Any:
    """A structural copy of a kwargs tree (leaves, tracers included, shared)."""
    if isinstance(x, dict):
        return {k: _copy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_copy(v) for v in x]
    return x


# ----------------------------------------------------------------------------- parity


@pytest.mark.parametrize("name", NAMES)
def test_parity_float32_built_under_vmap(name: str) -> None:
    """float32, 1e-6 of the peak, every case built inside ``jit(vmap(...))`` from traced
    arguments (every numeric torch argument, lambda parameters included): cases of one
    structure share a vmapped program, and one trace serves two grids."""
    cases = parity_cases(name)
    assert len(cases) >= 10
    keys = ("values", "momentum") if name in MOMENTUM else ("values",)
    check_traced(name, cases, lambda c: {"lr": c["lr"], "kwargs": c["kwargs"]}, _torch_one(name), keys)


@pytest.mark.parametrize("name", NAMES)
def test_parity_x64(name: str) -> None:
    """Under x64 every case matches torch's float64 numbers to 1e-12 of the peak.

    ``ChainedScheduler`` cases with a ``CosineAnnealingLR`` child run past its ``T_max``
    are not products in torch (its cosine recursion restarts additively there). Ours is
    the product: those cases are checked against a float64 NumPy product of the
    children's closed forms and must differ from torch.
    """
    with jax.enable_x64(True):
        if name != "ChainedScheduler":
            _parity(name, parity_cases(name), x64=True)
            return
        cases = load(name)
        got = _parity(name, cases, x64=True, check=[c["product"] for c in cases])
    off = [(c, g) for c, g in zip(cases, got) if not c["product"]]
    assert len(off) >= 2
    for c, ours in off:
        k = np.asarray(c["steps"], np.float64)
        prod = c["lr"] * np.prod([_np_factor(x["name"], x["kwargs"], k) for x in c["kwargs"]["schedulers"]], axis=0)
        np.testing.assert_allclose(ours, prod, rtol=1e-12, atol=1e-15 * c["lr"])
        assert np.max(np.abs(ours - c["values"])) > 1e-6 * _peak(c)


def _parity(name: str, cases: list[dict[str, Any]], x64: bool, check: list[bool] | None = None) -> list[np.ndarray]:
    if not cases:
        return []
    scheds = [build(name, c["lr"], c["kwargs"]) for c in cases]
    steps = [c["steps"] for c in cases]
    if name in MOMENTUM:
        scheds += [build_momentum(name, c["kwargs"]) for c in cases]
        steps += steps
    got = evaluate(scheds, steps)
    assert jax.eval_shape(lambda s: s(0), scheds[0]).dtype == (jnp.float64 if x64 else jnp.float32)
    rtol = 1e-12 if x64 else 1e-6
    keep = [i for i in range(len(cases)) if check is None or check[i]]
    _check(name, [cases[i] for i in keep], [got[i] for i in keep], rtol)
    if name in MOMENTUM:
        _check(name, cases, got[len(cases) :], rtol, key="momentum")
    return got[: len(cases)]


def test_plain_lambdas() -> None:
    """Cases with bare jnp lambdas (static functions), as users write them, in one program."""
    picked = []
    for name in ("LambdaLR", "MultiplicativeLR"):
        picked += [(name, c) for c in load(name) if c["kwargs"].get("lr_lambda") or c["kwargs"].get("scale_fn")][:3]
    got = evaluate(
        [build(n, c["lr"], c["kwargs"], lambdas="plain") for n, c in picked], [c["steps"] for _, c in picked]
    )
    for (n, c), g in zip(picked, got):
        _check(n, [c], [g], 1e-6)


def test_grad_finite() -> None:
    """Gradients with respect to every float leaf are finite, at and between the recorded steps (one compile)."""
    # three phases, extrapolated past the end; a cumulative product of a lambda with leaves
    cases = [load("OneCycleLR")[3], load("MultiplicativeLR")[1]]
    mult = cases[1]
    scheds = [
        build("OneCycleLR", cases[0]["lr"], cases[0]["kwargs"]),
        T.MultiplicativeLR(mult["lr"], lam(mult["kwargs"]["lr_lambda"]), max_steps=max(mult["steps"])),
    ]
    floats = [[x for x in jax.tree_util.tree_leaves(s) if jnp.issubdtype(x.dtype, jnp.floating)] for s in scheds]

    @jax.jit
    def grads(floats: list[list[Array]]) -> list[list[Array]]:
        out = []
        for s, fl, c in zip(scheds, floats, cases):
            leaves, treedef = jax.tree_util.tree_flatten(s)

            def total(fl: list[Array], s=s, leaves=leaves, treedef=treedef, c=c) -> Array:
                it = iter(fl)
                new = [next(it) if jnp.issubdtype(x.dtype, jnp.floating) else x for x in leaves]
                k = jnp.asarray(c["steps"], jnp.float32)
                return jnp.sum(jax.tree_util.tree_unflatten(treedef, new)(jnp.concatenate([k, k + 0.5])))

            out.append(jax.grad(total)(fl))
        return out

    assert all_finite(grads(floats))


# ----------------------------------------------------------------------------- documented differences from torch


def ev(*pairs: tuple[Schedule, Any]) -> list[np.ndarray]:
    """Evaluate ``(schedule, steps)`` pairs in one compiled program."""
    return evaluate([p[0] for p in pairs], [list(np.atleast_1d(p[1])) for p in pairs])


def test_cosine_annealing_is_periodic() -> None:
    """torch does not clamp: its rate is back at lr at 2*T_max and repeats with period 2*T_max
    (the fixtures reach 7*T_max, so the parity tests hold ours to the same curve)."""
    checked = 0
    for c in load("CosineAnnealingLR"):
        v, T2 = dict(zip(c["steps"], c["values"])), 2 * c["kwargs"]["T_max"]
        for k in c["steps"]:
            if k + T2 in v:
                assert abs(v[k + T2] - v[k]) <= 1e-12 * c["lr"]
                checked += 1
        assert max(c["steps"]) >= 2 * c["kwargs"]["T_max"]
    assert checked > 100


@pytest.mark.parametrize("T_max", [1, 7, 50, 1000, 12.5])
def test_cosine_annealing_mirror_in_float32(T_max: float) -> None:
    """One period is a cosine down and its mirror image (``_Mirror``): within 2e-7 of the peak of the float64
    closed form over 6 periods (``T_max - 1``, ``T_max``, ``T_max + 1`` of each half included), back at ``lr``
    exactly at every crest, finite gradients in ``lr``, ``T_max`` and ``eta_min``."""
    k = np.unique(np.concatenate([np.arange(0, int(12 * T_max) + 2),
                                  (np.arange(1, 13)[:, None] * T_max + np.array([-1.0, 0.0, 1.0])).ravel()]))
    k = k[(k >= 0) & (k == np.floor(k))].astype(np.int64)
    s = T.CosineAnnealingLR(0.7, T_max, eta_min=0.07)
    got = np.asarray(jax.jit(lambda s: s(jnp.asarray(k, jnp.int32)))(s), np.float64)
    b, m = float(np.float32(0.7)), float(np.float32(0.07))
    ref = m + (b - m) * 0.5 * (1.0 + np.cos(np.pi * k / float(np.float32(T_max))))
    assert np.max(np.abs(got - ref)) <= 2e-7 * b
    crest = np.mod(k, 2 * T_max) == 0
    assert crest.sum() >= 6 and np.all(got[crest] == np.float32(0.7))
    g = jax.grad(lambda a, t, e: T.CosineAnnealingLR(a, t, eta_min=e)(jnp.asarray(k[:100], jnp.int32)).sum(),
                 argnums=(0, 1, 2))(0.7, float(T_max), 0.07)
    assert all(np.isfinite(float(x)) for x in g)
    assert (float(g[1]) != 0.0) == (T_max > 1)  # T_max = 1: every step is a crest or a trough, slope 0


def test_warm_restarts_exact_at_every_restart() -> None:
    """torch's ``step()`` restarts exactly and so do we (the parity tests cover every restart step);
    torch's ``step(epoch)`` floored log returns eta_min at t=121 (T_0=1, T_mult=3) and t=111 (T_mult=10)."""
    missed = []
    for c in load("CosineAnnealingWarmRestarts"):
        step_vals = dict(zip(c["steps"], c["values"]))
        assert set(c["restarts"]) <= set(step_vals)
        np.testing.assert_allclose([step_vals[t] for t in c["restarts"]], c["lr"], rtol=1e-12)
        for t, e in zip(c["restarts"], c["epoch_form"]):
            if abs(e - c["lr"]) > 1e-9 * c["lr"]:
                missed.append((c["kwargs"].get("T_0"), c["kwargs"].get("T_mult"), t))
    assert (1, 3, 121) in missed and (1, 10, 111) in missed


def test_t_mult_of_one_is_equal_periods_and_a_grid_mixing_growths_matches() -> None:
    """torch's default ``T_mult=1`` (concrete) builds equal periods as structure (no logarithm per
    step), and ``T_mult=2`` period doubling (the cycle from a float's exponent bits); other growths
    and a traced one are leaves, and a grid mixing them (falling back to a leaf) gives each setting's
    values. The equal-period waves (CosineAnnealingLR, CyclicLR) too."""
    k = jnp.arange(0, 400, 3)
    assert T.CosineAnnealingWarmRestarts(1.0, 10).period_mult is None
    assert T.CosineAnnealingWarmRestarts(1.0, 10, T_mult=1.0).period_mult is None
    two = T.CosineAnnealingWarmRestarts(1.0, 10, T_mult=2)
    assert two.period_mult is None and two.doubling
    assert T.CosineAnnealingWarmRestarts(1.0, 10, T_mult=3).period_mult is not None
    traced2 = jax.jit(lambda m: T.CosineAnnealingWarmRestarts(1.0, 10, T_mult=m)(k))(2.0)
    np.testing.assert_array_equal(np.asarray(traced2), np.asarray(two(k)))  # integer settings: the same bits
    assert T.CosineAnnealingLR(1.0, 10).factor.period_mult is None
    assert T.CyclicLR(0.1, 1.0, 10).terms[1].factors[1].period_mult is None
    plain = np.asarray(T.CosineAnnealingWarmRestarts(1.0, 10)(k))
    traced = jax.jit(lambda m: T.CosineAnnealingWarmRestarts(1.0, 10, T_mult=m)(k))(1.0)
    assert_close_to_peak(np.asarray(traced), plain, 1.0, 2.4e-7)  # two programs: an ulp apart at most
    g = jaxsched.grid(T.CosineAnnealingWarmRestarts, lr=[1.0, 0.5], T_0=[10, 7], T_mult=[1, 2, 3])
    out = jax.vmap(lambda s: s(k))(g.schedules)
    for i, (lr, t0, m) in enumerate(zip(*(g.settings[a] for a in ("lr", "T_0", "T_mult")))):
        assert_close_to_peak(np.asarray(out[i]), np.asarray(T.CosineAnnealingWarmRestarts(lr, t0, m)(k)), lr, 2e-7)


def test_onecycle_past_the_end_and_zero_length_phase() -> None:
    """k = T extrapolates as torch; k > T (torch raises) gives the final value; extrapolate=False
    clamps. pct_start * total_steps == 1: torch divides by zero; ours starts at max_lr."""
    kw = dict(max_lr=1.0, total_steps=4, anneal_strategy="linear")
    torch_vals = [0.04, 0.7142868571428571, 0.3571454285714285, 4.000000000004e-06, -0.3571374285714286]
    z = 0.04 / 1e4
    with jax.enable_x64(True):
        a, b, c, d, e = ev(
            (T.OneCycleLR(**kw), [0, 1, 2, 3, 4, 5, 6, 100]),
            (T.OneCycleLR(**kw, extrapolate=False), [3, 4, 5]),
            (T.onecycle_momentum(**kw), [4, 5, 100]),
            (T.OneCycleLR(1.0, total_steps=10, pct_start=0.1), np.arange(11)),
            (T.onecycle_momentum(**kw, extrapolate=False), [3, 4]),
        )
    np.testing.assert_allclose(a[:5], torch_vals, rtol=1e-12)
    np.testing.assert_allclose(a[5:], z, rtol=1e-12)
    np.testing.assert_allclose(b, z, rtol=1e-12)
    assert c[0] > 0.95 and np.allclose(c[1:], 0.95, rtol=1e-12)
    assert np.all(np.isfinite(d)) and abs(d[0] - 1.0) < 1e-12
    np.testing.assert_allclose(e, 0.95, rtol=1e-12)


@pytest.mark.parametrize(
    "kw",
    [
        dict(total_steps=10, pct_start=1.0),  # an empty last phase: k = T - 1 is max_lr (torch's k <= e_1)
        dict(total_steps=10, pct_start=0.7, three_phase=True),  # e_2 = 12 lies past T - 1 = 9
        dict(total_steps=11, pct_start=0.3, three_phase=True),
        dict(total_steps=7, pct_start=0.5),
    ],
)
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_onecycle_policies_agree_up_to_total_steps(kw: dict[str, Any], strategy: str) -> None:
    """Both policies past the end give torch's values up to k = T - 1 (extrapolate=True is the fixtures'),
    and z for k > T. Clamped, an empty last phase gave z at T - 1, and a three-phase e_2 past T - 1 ran on
    past T (found by fuzzing)."""
    T_ = kw["total_steps"]
    k = np.arange(T_ + 4)
    z = 1.0 / 25.0 / 1e4
    for fn, z_end in ((T.OneCycleLR, z), (T.onecycle_momentum, 0.95)):
        a = np.asarray(fn(1.0, anneal_strategy=strategy, **kw)(k))
        b = np.asarray(fn(1.0, anneal_strategy=strategy, extrapolate=False, **kw)(k))
        np.testing.assert_allclose(b[:T_], a[:T_], rtol=2e-6, atol=1e-7)
        np.testing.assert_allclose(a[T_ + 1 :], z_end, rtol=1e-6)
        np.testing.assert_allclose(b[T_ + 1 :], z_end, rtol=1e-6)
    if kw["pct_start"] == 1.0:
        assert float(T.OneCycleLR(1.0, extrapolate=False, **kw)(T_ - 1)) == 1.0


@pytest.mark.parametrize("span", [10.0, 0.4, -3.0])
def test_onecycle_unclamped_phase_is_the_cosine_at_any_progress(span: float) -> None:
    """torch's unclamped last phase reduces p (beyond [0, 1] at k = T, or below 0 for a negative span)
    into [0, 1] for the vectorised cosine factor (XLA's cos is a scalar call on CPU)."""
    from jaxsched.compat.torch import _Anneal

    f = jnp.float32
    t = np.arange(0.0, 31.0, 0.25)
    p = t / span
    want = 0.2 + (1.5 - 0.2) * 0.5 * (1.0 + np.cos(np.pi * p))
    phase = _Anneal(f(1.5), f(0.2), f(span), jnp.asarray(0, jnp.int32))
    got = np.asarray(phase(jnp.asarray(t, jnp.float32)))
    np.testing.assert_allclose(got, want, atol=3e-6 * max(1.0, float(np.max(np.abs(p)))))
    g = jax.grad(lambda s: s(jnp.float32(3.0)), allow_int=True)(phase)
    assert np.isfinite(float(g.steps)) and np.isfinite(float(g.start))


def test_onecycle_step_total_steps_is_torchs_past_2_24_in_float32() -> None:
    # The switch to z is at T + 1, which float32 rounded to T for T >= 2**24: k = T (the T-th step(),
    # legal in torch) gave z where torch is mid-phase 2 (three phases, pct_start > 1/2). Found by fuzzing.
    kw = dict(total_steps=2**24, pct_start=0.6, three_phase=True, anneal_strategy="linear")
    got = float(T.OneCycleLR(1.0, **kw)(2**24))
    with jax.enable_x64(True):  # x64 is torch's number (the fixtures check the x64 port against torch)
        want = float(T.OneCycleLR(1.0, **kw)(2**24))
    assert want > 0.35  # mid-phase 2, far from z = 4e-6
    assert got == pytest.approx(want, rel=1e-6)


def _np_factor(name: str, kw: dict[str, Any], k: np.ndarray) -> np.ndarray:
    """Float64 NumPy closed forms of the multiplicative children's factors (the chain's reference)."""
    if name == "LinearLR":
        a, e, n = kw["start_factor"], kw["end_factor"], kw["total_iters"]
        return a + (e - a) * np.minimum(k, n) / n
    if name == "CosineAnnealingLR":
        return 0.5 * (1.0 + np.cos(np.pi * k / kw["T_max"]))
    if name == "StepLR":
        return kw["gamma"] ** np.floor(k / kw["step_size"])
    if name == "ConstantLR":
        return np.where(k < kw["total_iters"], kw["factor"], 1.0)
    raise NotImplementedError(name)


def test_chained_rejects_overwriting_children() -> None:
    for bad in (T.LambdaLR(0.1, lambda k: 1.0 + 0 * k), T.CosineAnnealingWarmRestarts(0.1, 5), T.CyclicLR(0.1, 1.0, 4)):
        with pytest.raises(TypeError, match="multiplicative"):
            T.ChainedScheduler([T.ExponentialLR(0.1, 0.9), bad])
    with pytest.raises(ValueError, match="share one lr"):
        T.ChainedScheduler([T.ExponentialLR(0.1, 0.9), T.StepLR(0.2, 3)])


def test_step_edge_semantics() -> None:
    """Sequential MultiplicativeLR continuation, total_iters=0, fractional lengths, factor=0, max_steps.

    * torch: a MultiplicativeLR entered at M >= 1 continues from the rate in force, times lambda(0);
      at M = 0 it starts from lr (values from torch 2.13).
    * total_iters=0 (torch's recursion): ConstantLR / LinearLR keep their start factor, PolynomialLR
      stays at lr. Inside SequentialLR after a milestone torch restarts ConstantLR(total_iters=0) from
      its closed form (lr: [1.0, 0.9, 1.0, 1.0]); ours keeps the factor.
    * fractional total_iters / milestones: torch's recursion never reaches them (ConstantLR(0.5, 2.5)
      stays 0.5, LinearLR holds 0.9 from k=2); ours follow the closed form and switch at the ceiling.
    * ConstantLR(factor=0): torch divides by zero at total_iters; ours returns lr there.
    * MultiplicativeLR holds its value from max_steps on; a float step uses its floor.
    * Extension: CosineAnnealingWarmRestarts takes any real T_mult > 0 (torch: an integer) and
      restarts exactly at S_i = T_0 (m^i - 1) / (m - 1): 4, 4 + 6, 10 + 9.
    * gamma > 1 (growth): the exponent is capped, so ExponentialLR stops at lr * e**80 (torch: 2**200).
    """
    with jax.enable_x64(True):
        seq_mult = T.SequentialLR(
            [T.ConstantLR(1.0, 0.5, 10), T.MultiplicativeLR(1.0, lambda k: jnp.where(k == 0, 0.7, 0.9))], [2]
        )
        seq_at0 = T.SequentialLR([T.ConstantLR(1.0, 0.5, 10), T.MultiplicativeLR(1.0, lambda k: 0.9 + 0 * k)], [0])
        seq_c0 = T.SequentialLR([T.ExponentialLR(1.0, 0.9), T.ConstantLR(1.0, 0.5, 0)], [2])
        mult = T.MultiplicativeLR(1.0, lambda k: 0.5 + 0.0 * k, max_steps=3)
        got = ev(
            (seq_mult, np.arange(6)),
            (seq_at0, np.arange(4)),
            (T.ConstantLR(1.0, 0.5, 0), np.arange(4)),
            (T.LinearLR(1.0, 0.5, 1.0, 0), np.arange(4)),
            (T.PolynomialLR(1.0, 0, 2.0), np.arange(4)),
            (seq_c0, np.arange(4)),
            (T.ConstantLR(1.0, 0.5, 2.5), [2, 3]),
            (T.LinearLR(1.0, 0.5, 1.0, 2.5), [1, 2, 3]),
            (T.MultiStepLR(1.0, [2.5], 0.5), [2, 3]),
            (T.ConstantLR(1.0, 0.0, 2), [0, 1, 2, 3]),
            (mult, [0, 3, 4, 1000]),
            (mult, [2.7]),
            (T.CosineAnnealingWarmRestarts(1.0, T_0=4, T_mult=1.5), [0, 4, 10, 19]),
            (T.ExponentialLR(1.0, 2.0), [10, 200]),
        )
    want = [
        [0.5, 0.5, 0.35, 0.315, 0.2835, 0.25515],
        [1.0, 0.9, 0.81, 0.729],
        [0.5] * 4,
        [0.5] * 4,
        [1.0] * 4,
        [1.0, 0.9, 0.5, 0.5],
        [0.5, 1.0],
        [0.7, 0.9, 1.0],
        [1.0, 0.5],
        [0.0, 0.0, 1.0, 1.0],
        [1.0, 0.125, 0.125, 0.125],
        [0.25],
        [1.0, 1.0, 1.0, 1.0],
        [1024.0, np.exp(80.0)],
    ]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="milestones"):
        T.MultiStepLR(1.0, [-1, 3])
    with pytest.raises(ValueError, match="gamma"):
        T.ExponentialLR(1.0, -0.5)
    with pytest.raises(ValueError, match="power"):
        T.PolynomialLR(1.0, 5, power=-1.0)
    with pytest.raises(ValueError, match="step_size_up"):
        T.CyclicLR(0.1, 1.0, step_size_up=0)
    with pytest.raises(ValueError, match="eta_min"):
        T.CosineAnnealingLR(0.0, 10, eta_min=0.1)
    with pytest.raises(ValueError, match="factor"):
        T.ConstantLR(1.0, factor=1.5)
    with pytest.raises(ValueError, match="start_factor"):
        T.LinearLR(1.0, start_factor=0.0)
    with pytest.raises(TypeError, match="three_phase"):
        T.OneCycleLR(1.0, total_steps=10, three_phase=1)
    with pytest.raises(ValueError, match="total_steps"):
        T.OneCycleLR(1.0)
    with pytest.raises(ValueError, match="cycle_momentum"):
        T.onecycle_momentum(1.0, total_steps=10, cycle_momentum=False)
    with pytest.raises(ValueError, match="cycle_momentum"):
        T.cyclic_momentum(0.1, 1.0, cycle_momentum=False)
    with pytest.raises(ValueError, match="len\\(milestones\\)"):
        T.SequentialLR([T.ExponentialLR(1.0, 0.9)], [3])
    with pytest.raises(TypeError, match="lr_lambda"):
        T.LambdaLR(1.0, 0.5)
    with pytest.raises(ValueError, match="max_steps"):
        T.MultiplicativeLR(1.0, lambda k: k, max_steps=0)
    with pytest.raises(ValueError, match="scale_mode"):
        T.CyclicLR(0.1, 1.0, 4, scale_fn=lambda c: 1.0 / c, scale_mode="epoch")


def test_lambdas_see_float_steps() -> None:
    """Lambdas get float steps of the schedule's dtype (torch passes ints)."""
    seen = []
    s = T.LambdaLR(2.0, lambda k: seen.append(k.dtype) or 0.5**k)
    np.testing.assert_allclose(jax.jit(lambda s: s(jnp.asarray([0, 3])))(s), [2.0, 0.25], rtol=1e-6)
    assert set(seen) == {np.dtype(np.float32)}
    # float steps too: under x64 a float32 step reached the lambda as float32 (found by fuzzing)
    with jax.enable_x64(True):
        s = T.LambdaLR(2.0, lambda k: seen.append(k.dtype) or 0.5**k)
        out = s(jnp.asarray([2.5], jnp.float32))
    assert seen[-1] == np.dtype(np.float64) and out.dtype == np.float64


def test_periodic_children_after_a_milestone_are_exact_at_huge_steps() -> None:
    # SequentialLR is a join: its children see an exact (integer, offset) local step, so a periodic child
    # entered at a milestone keeps its place in the period up to 2**31 - 1 in float32 (float64 reference).
    M, T0 = 7, 100
    k = np.asarray([M - 1, M, M + 1, M + T0, 2**30 + 5, 2**30 + 50, 2**31 - 100, 2**31 - 2, 2**31 - 1], np.int64)
    warm = T.ConstantLR(1.0, factor=0.5, total_iters=M)
    restarts = T.SequentialLR([warm, T.CosineAnnealingWarmRestarts(1.0, T0)], [M])
    u = np.mod(k - M, T0).astype(np.float64)
    want = np.where(k < M, 0.5, 0.5 * (1.0 + np.cos(np.pi * u / T0)))
    assert_close_to_peak(restarts(jnp.asarray(k, jnp.int32)), want, 1.0)
    # CosineAnnealingLR past T_max is a cosine of period 2 T_max (lr * a repeat): the same through its wrapper
    periodic = T.SequentialLR([warm, T.CosineAnnealingLR(1.0, T_max=T0)], [M])
    u = np.mod(k - M, 2 * T0).astype(np.float64)
    want = np.where(k < M, 0.5, 0.5 * (1.0 + np.cos(np.pi * u / T0)))
    assert_close_to_peak(periodic(jnp.asarray(k, jnp.int32)), want, 1.0)


@pytest.mark.parametrize("extrapolate", [True, False])
def test_onecycle_configs_load_back_at_every_recorded_setting(extrapolate: bool) -> None:
    # pct_start * T < 1 puts the first knots below 0 (a shift), and three-phase pct_start > 1/2 gives the
    # last phase a negative span: each recorded setting (among them both kinds) loads back from its
    # config with the same values, which still match torch's.

    cases = load("OneCycleLR")
    edges = set()
    for c in cases:
        kw = dict(c["kwargs"], extrapolate=extrapolate)
        total = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
        pct, three = kw.get("pct_start", 0.3), bool(kw.get("three_phase"))
        edges |= {"first knot below 0"} if pct * total < 1 else set()
        edges |= {"negative last span"} if three and pct > 0.5 else set()
        s = T.OneCycleLR(**kw)
        k = jnp.asarray(c["steps"], jnp.int32)
        back = jaxsched.from_json(jaxsched.to_json(s))
        np.testing.assert_array_equal(back(k), s(k))
        if extrapolate:
            assert_close_to_peak(s(k), np.asarray(c["values"]), 2.0)
    assert edges == {"first knot below 0", "negative last span"}
