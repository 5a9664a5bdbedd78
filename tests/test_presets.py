"""Presets against float64 NumPy references written here from their formulas.

Every preset is checked at 0, at ``b - 1, b, b + 1`` of every phase boundary,
past the end, at negative steps and at huge steps up to ``2**31 - 1``, with
steps given as Python ints, int32, uint32, int64 and float32; plainly (eager),
under ``jit`` with every numeric argument traced (the schedule is built inside
the jitted function), under ``vmap`` over steps and over settings, and with
``jax.jacfwd`` (the jacobian) with respect to every float argument (finite everywhere, and
equal to a central finite difference of the reference away from the knots).

The references are independent of jaxsched: plain NumPy in float64, fed the
float32-rounded hyperparameters (the schedule's own inputs), so the remaining
difference is float32 arithmetic, held to 1e-6 of the peak.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsched
from tests.helpers import STEP_KINDS, all_finite, as_step, assert_close_to_peak

INT32_MAX = 2**31 - 1
N_STEPS = 72  # every step vector is padded to this length (one shape: op caches hit)

# ----------------------------------------------------------------------------- references (float64 NumPy)

WSD_SHAPES = ("linear", "cosine", "1-sqrt")
ANNEAL = ("cos", "linear")
MODES = ("triangular", "triangular2", "exp_range")


def _index(x: Any, names: tuple[str, ...]) -> int:
    return names.index(x) if isinstance(x, str) else int(x)


def _cf(p: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.cos(np.pi * p))


def _prog(u: np.ndarray, n: float) -> np.ndarray:
    """Fraction of a phase of length n done at local step u (1 for an empty phase)."""
    if n <= 0:
        return np.ones_like(u)
    return np.clip(u / n, 0.0, 1.0)


def _warm(t: np.ndarray, W: float, v0: float, peak: float, main: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    t = np.maximum(t, 0.0)
    ramp = v0 + (peak - v0) * (t / W if W > 0 else np.ones_like(t))
    return np.where(t < W, ramp, main(np.maximum(t - W, 0.0)))


def ref_warmup_cosine(t, peak_value, total_steps, warmup_steps=0, init_value=0.0, end_value=0.0, exponent=None):
    P, N, W, e = peak_value, total_steps, warmup_steps, 1.0 if exponent is None else exponent
    return _warm(t, W, init_value, P, lambda u: end_value + (P - end_value) * _cf(_prog(u, N - W)) ** e)


def ref_linear_to_zero(t, peak_value, total_steps, warmup_steps=0, init_value=0.0, end_value=0.0):
    P, N, W = peak_value, total_steps, warmup_steps
    return _warm(t, W, init_value, P, lambda u: P + (end_value - P) * _prog(u, N - W))


def ref_warmup_inverse_sqrt(t, peak_value, warmup_steps, timescale=None, init_value=0.0):
    tau = warmup_steps if timescale is None else timescale
    return _warm(t, warmup_steps, init_value, peak_value, lambda u: peak_value / np.sqrt(1.0 + u / tau))


def _wsd_D(total_steps, decay_steps, decay_fraction):
    if decay_steps is not None:
        return decay_steps
    return (0.2 if decay_fraction is None else decay_fraction) * total_steps


def ref_wsd(t, peak_value, total_steps, warmup_steps=0, decay_steps=None, decay_fraction=None,
            decay_shape="1-sqrt", init_value=0.0, end_value=0.0):
    P, N, W, E = peak_value, total_steps, warmup_steps, end_value
    D = _wsd_D(N, decay_steps, decay_fraction)
    k = _index(decay_shape, WSD_SHAPES)
    shape = [lambda p: 1.0 - p, _cf, lambda p: 1.0 - np.sqrt(p)][k]

    def body(u):
        c = u - (N - W - D)  # local step of the cooldown
        return np.where(c < 0, P, E + (P - E) * shape(_prog(np.maximum(c, 0.0), D)))

    return _warm(t, W, init_value, P, body)


def _interp(x, y, p, k):
    return y + (x - y) * _cf(p) if k == 0 else x + (y - x) * p


def _onecycle_like(t, T, pct, three, k, v_start, v_peak, v_mid_end, v_last):
    """Phase 1 v_start -> v_peak over up; then three phases: v_peak -> v_mid_end over up, v_mid_end -> v_last;
    or two phases: v_peak -> v_last."""
    t = np.maximum(t, 0.0)
    up = pct * T
    p1 = _interp(v_start, v_peak, _prog(t, up), k)
    if three:
        p2 = _interp(v_peak, v_mid_end, _prog(t - up, up), k)
        p3 = _interp(v_mid_end, v_last, _prog(np.maximum(t - 2 * up, 0.0), T - 2 * up), k)
        return np.where(t < up, p1, np.where(t < 2 * up, p2, p3))
    p2 = _interp(v_peak, v_last, _prog(np.maximum(t - up, 0.0), T - up), k)
    return np.where(t < up, p1, p2)


def ref_onecycle(t, peak_value, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4,
                 three_phase=False, anneal_strategy="cos"):
    a = peak_value / div_factor
    z = a / final_div_factor
    k = _index(anneal_strategy, ANNEAL)
    return _onecycle_like(t, total_steps, pct_start, bool(three_phase), k, a, peak_value, a, z)


def ref_onecycle_momentum(t, total_steps, pct_start=0.3, base_momentum=0.85, max_momentum=0.95,
                          three_phase=False, anneal_strategy="cos"):
    k = _index(anneal_strategy, ANNEAL)
    lo, hi = base_momentum, max_momentum
    return _onecycle_like(t, total_steps, pct_start, bool(three_phase), k, hi, lo, hi, hi)


def _sgdr_cycle(u: float, T0: float, m: float, cycles: float) -> tuple[float, float, float]:
    """(cycle index, cycle start, cycle length) of local step u >= 0."""
    if m == 1.0:
        i = math.floor(u / T0)
        return float(i), i * T0, T0
    i, s, L = 0, 0.0, T0
    while s + L <= u and i < cycles:
        s, L, i = s + L, L * m, i + 1
    return float(i), s, L


def ref_sgdr(t, peak_value, period, period_mult=1.0, decay=1.0, end_value=0.0, warmup_steps=0,
             init_value=0.0, cycles=math.inf):
    P, v1 = peak_value, end_value

    def body_scalar(u):
        i, s, L = _sgdr_cycle(u, period, period_mult, cycles)
        frac = (u - s) / L
        if i >= cycles:
            i, frac = cycles - 1, 1.0
        return decay**i * (v1 + (P - v1) * _cf(frac))

    body = lambda u: np.array([body_scalar(float(x)) for x in np.ravel(u)]).reshape(np.shape(u))  # noqa: E731
    return _warm(t, warmup_steps, init_value, P, body)


def ref_cyclic(t, base_value, max_value, step_size_up, step_size_down=None, mode="triangular", gamma=1.0):
    t = np.maximum(t, 0.0)
    U = step_size_up
    D = U if step_size_down is None else step_size_down
    C = U + D
    c = np.floor(t / C)
    u = t - c * C
    h = np.where(u < U, u / U, (C - u) / D)
    k = _index(mode, MODES)
    g = [np.ones_like(t), 0.5**c, gamma**t][k]
    return base_value + (max_value - base_value) * h * g


# ----------------------------------------------------------------------------- known core bugs (reported)

# Each is checked by a strict xfail test below: when the core is fixed the
# test passes, the xfail turns into an error, and the mark must be removed.
# ----------------------------------------------------------------------------- cases


@dataclasses.dataclass
class Case:
    id: str
    factory: Callable[..., Any]
    ref: Callable[..., np.ndarray]
    kw: dict[str, Any]
    knots: list[float]  # phase boundaries (global steps)
    peak: float  # the magnitude tolerances are relative to
    nofd: tuple[str, ...] = ()  # float args without a finite-difference check (flags, cycle counts)
    rtol: float = 1e-6
    bug: str | None = None  # values are wrong because of a known core bug: strict xfail

    def __str__(self) -> str:
        return self.id

    def near_knot(self, t: np.ndarray, eps: float = 0.05) -> np.ndarray:
        """Steps within eps of a phase boundary (where a finite difference is one-sided)."""
        knots = np.asarray(self.knots, np.float64)
        near = np.min(np.abs(t[:, None] - knots[None, :]), axis=1) < eps
        if self.factory is jaxsched.cyclic:  # restarts and peaks repeat forever
            U, D = self.kw["step_size_up"], self.kw["step_size_down"]
            u = np.mod(t, U + D)
            near |= (np.minimum(u, U + D - u) < eps) | (np.abs(u - U) < eps)
        return near

    @property
    def end(self) -> float:
        return max(self.knots)

    def full_kw(self) -> dict[str, Any]:
        """kw with the factory's defaults filled in (None defaults stay out, but for those that mean a number)."""
        sig = inspect.signature(self.factory)
        out = {k: p.default for k, p in sig.parameters.items()
               if p.default is not inspect.Parameter.empty and p.default is not None}
        out.update({k: v for k, v in NONE_MEANS.items() if k in sig.parameters})
        out.update({k: v for k, v in self.kw.items() if v is not None})
        return out

    def ref_kw(self) -> dict[str, Any]:
        """The reference's arguments: floats rounded to float32 (the schedule's own inputs)."""
        return {k: (float(np.float32(v)) if isinstance(v, float) and math.isfinite(v) else v)
                for k, v in self.full_kw().items()}

    def traced_kw(self) -> tuple[dict[str, float], dict[str, int]]:
        """Numeric kwargs for a traced build: float leaves and int indices (names and bools converted)."""
        fl: dict[str, float] = {}
        ix: dict[str, int] = {}
        for k, v in self.full_kw().items():
            if k in CHOICES:
                ix[k] = _index(v, CHOICES[k])
            else:
                fl[k] = float(v)
        return fl, ix


CHOICES = {"decay_shape": WSD_SHAPES, "anneal_strategy": ANNEAL, "mode": MODES}
# Arguments whose None default means a number (no power, no decay, no cycle limit): traced builds pass it.
NONE_MEANS = {"exponent": 1.0, "period_mult": 1.0, "decay": 1.0, "cycles": math.inf, "warmup_steps": 0.0}


def _wsd_case(id, shape, **kw):
    kw = {"peak_value": 2.0, "total_steps": 1000, "decay_shape": shape, **kw}
    N, W = kw["total_steps"], kw.get("warmup_steps", 0)
    D = _wsd_D(N, kw.get("decay_steps"), kw.get("decay_fraction"))
    return Case(id, jaxsched.wsd, ref_wsd, kw, [W, N - D, N], kw["peak_value"])


def _onecycle_case(id, momentum=False, **kw):
    T, pct, three = kw["total_steps"], kw.get("pct_start", 0.3), kw.get("three_phase", False)
    knots = [pct * T, 2 * pct * T, T] if three else [pct * T, T]
    if momentum:
        return Case(id, jaxsched.onecycle_momentum, ref_onecycle_momentum, kw, knots, kw.get("max_momentum", 0.95),
                    nofd=("three_phase",))
    return Case(id, jaxsched.onecycle, ref_onecycle, {"peak_value": 1.5, **kw}, knots, 1.5, nofd=("three_phase",))


def _sgdr_case(id, n_cycles=6, rtol=1e-6, **kw):
    W, T0, m = kw.get("warmup_steps", 0), kw["period"], kw.get("period_mult", 1.0)
    cyc = kw.get("cycles", math.inf)
    knots, s, L = [W], 0.0, T0
    for _ in range(int(min(n_cycles, cyc))):
        s, L = s + L, L * m
        knots.append(W + s)
    peak = max(abs(kw["peak_value"]), abs(kw.get("init_value", 0.0)), abs(kw.get("end_value", 0.0)))
    return Case(id, jaxsched.sgdr, ref_sgdr, kw, knots, peak, nofd=("cycles",), rtol=rtol)


def _cyclic_case(id, n_cycles=3, **kw):
    U, D = kw["step_size_up"], kw["step_size_down"]
    knots = []
    for c in range(n_cycles):
        knots += [c * (U + D), c * (U + D) + U]
    knots.append(n_cycles * (U + D))
    peak = max(abs(kw["base_value"]), abs(kw["max_value"]))
    return Case(id, jaxsched.cyclic, ref_cyclic, kw, knots, peak)


# float32 closed-form restart points of geometric cycles carry a relative error of about
# eps * log(m**i) / (m - 1): a few 1e-6 of the peak for growth 1.25 within 2**24 steps.
GEOM_RTOL = 1e-5

CASES = [
    # warmup_cosine(peak, total, warmup, init, end, exponent)
    Case("wc", jaxsched.warmup_cosine, ref_warmup_cosine,
         dict(peak_value=2.0, total_steps=1000, warmup_steps=100, init_value=0.1, end_value=0.05), [100, 1000], 2.0),
    Case("wc-exp-nowarm", jaxsched.warmup_cosine, ref_warmup_cosine,
         dict(peak_value=0.5, total_steps=300, warmup_steps=0, end_value=0.01, exponent=2.0), [0, 300], 0.5),
    Case("wc-short-decay", jaxsched.warmup_cosine, ref_warmup_cosine,
         dict(peak_value=1.0, total_steps=101, warmup_steps=100, end_value=0.2, exponent=0.5), [100, 101], 1.0),
    Case("wc-nodecay", jaxsched.warmup_cosine, ref_warmup_cosine,
         dict(peak_value=1.0, total_steps=100, warmup_steps=100, end_value=0.2), [100], 1.0),
    # linear_to_zero
    Case("l2z", jaxsched.linear_to_zero, ref_linear_to_zero,
         dict(peak_value=1.0, total_steps=500, warmup_steps=50), [50, 500], 1.0),
    Case("l2z-nowarm", jaxsched.linear_to_zero, ref_linear_to_zero,
         dict(peak_value=3.0, total_steps=77, warmup_steps=0, end_value=0.3), [0, 77], 3.0),
    Case("l2z-nodecay", jaxsched.linear_to_zero, ref_linear_to_zero,
         dict(peak_value=1.0, total_steps=40, warmup_steps=40, init_value=0.5), [40], 1.0),
    # warmup_inverse_sqrt
    Case("isqrt", jaxsched.warmup_inverse_sqrt, ref_warmup_inverse_sqrt,
         dict(peak_value=1.0, warmup_steps=100), [100, 400], 1.0),
    Case("isqrt-tau", jaxsched.warmup_inverse_sqrt, ref_warmup_inverse_sqrt,
         dict(peak_value=0.7, warmup_steps=30, timescale=7.0, init_value=0.1), [30, 37], 0.7),
    Case("isqrt-nowarm", jaxsched.warmup_inverse_sqrt, ref_warmup_inverse_sqrt,
         dict(peak_value=0.7, warmup_steps=0, timescale=10.0), [0, 10], 0.7),
    # wsd: three shapes, decay_steps and decay_fraction, zero-length phases
    _wsd_case("wsd-linear", "linear", warmup_steps=100, decay_steps=200, init_value=0.1, end_value=0.02),
    _wsd_case("wsd-cosine", "cosine", warmup_steps=100, decay_steps=200, init_value=0.1, end_value=0.02),
    _wsd_case("wsd-1sqrt", "1-sqrt", warmup_steps=100, decay_steps=200, init_value=0.1, end_value=0.02),
    _wsd_case("wsd-nodecay", "linear", total_steps=500, warmup_steps=50, decay_steps=0, end_value=0.1),
    _wsd_case("wsd-nostable", "1-sqrt", total_steps=300, warmup_steps=100, decay_steps=200),
    _wsd_case("wsd-only-decay", "cosine", total_steps=300, warmup_steps=0, decay_steps=300, end_value=0.5),
    _wsd_case("wsd-frac", "1-sqrt", decay_fraction=0.25),
    _wsd_case("wsd-frac-frac-knot", "cosine", total_steps=999, warmup_steps=10, decay_fraction=0.3),
    _wsd_case("wsd-frac-linear", "linear", total_steps=400, warmup_steps=40, decay_fraction=0.5, end_value=0.2),
    # onecycle / onecycle_momentum
    _onecycle_case("oc-2-cos", total_steps=1000, pct_start=0.3),
    _onecycle_case("oc-2-lin", total_steps=1000, pct_start=0.25, anneal_strategy="linear", div_factor=10.0),
    _onecycle_case("oc-3-cos", total_steps=999, pct_start=0.3, three_phase=True, final_div_factor=100.0),
    _onecycle_case("oc-3-lin", total_steps=1000, pct_start=0.4, three_phase=True, anneal_strategy="linear"),
    _onecycle_case("oc-2-noup", total_steps=200, pct_start=0.0),
    _onecycle_case("ocm-2-cos", momentum=True, total_steps=1000, pct_start=0.3),
    _onecycle_case("ocm-3-lin", momentum=True, total_steps=600, pct_start=0.25, three_phase=True,
                   anneal_strategy="linear", base_momentum=0.8, max_momentum=0.9),
    # sgdr: equal periods, doubling, fractional growth, shrinking, warmup, decay, cycles
    _sgdr_case("sgdr-eq", peak_value=1.0, period=100),
    _sgdr_case("sgdr-x2-decay-warm", peak_value=1.0, period=8, period_mult=2.0, decay=0.5, end_value=0.01,
               warmup_steps=10, init_value=0.05),
    _sgdr_case("sgdr-x1.5-cycles", peak_value=2.0, period=8, period_mult=1.5, decay=0.8, end_value=0.1, cycles=5.0),
    _sgdr_case("sgdr-x0.5-cycles", peak_value=1.0, period=64, period_mult=0.5, decay=0.9, cycles=6.0),
    _sgdr_case("sgdr-x1.25-frac", rtol=GEOM_RTOL, peak_value=1.0, period=10.5, period_mult=1.25, warmup_steps=3),
    # cyclic (no step_size_down default here: the traced build would untie it; see test_cyclic_defaults)
    _cyclic_case("cyc-tri", base_value=0.1, max_value=1.0, step_size_up=20, step_size_down=30),
    _cyclic_case("cyc-tri2", base_value=0.0, max_value=2.0, step_size_up=25, step_size_down=25, mode="triangular2"),
    _cyclic_case("cyc-exp", base_value=0.01, max_value=0.5, step_size_up=10, step_size_down=5, mode="exp_range",
                 gamma=0.99),
]


CASE_BY_ID = {c.id: c for c in CASES}


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.bug)] if c.bug else [])
            for c in cases]


def _steps(case: Case) -> np.ndarray:
    """0, b-1, b, b+1 around every knot, past the end, and huge steps; padded to N_STEPS - 4."""
    s: set[int] = {0, 1, 2}
    for b in case.knots:
        lo, hi = math.floor(b), math.ceil(b)
        s.update({lo - 1, lo, hi, hi + 1})
    e = math.ceil(case.end)
    s.update({e + 1, 2 * e + 3, 10 * e + 7, 123_457, 2**24 - 1, 2**30 + 1, INT32_MAX - 1, INT32_MAX})
    out = sorted(x for x in s if x >= 0)
    assert len(out) <= N_STEPS - 4, (case.id, len(out))
    return np.asarray(out + [0] * (N_STEPS - 4 - len(out)), np.int64)


def _kind_steps(case: Case, kind: str) -> tuple[Any, np.ndarray]:
    """Steps in ``kind`` (with 4 kind-specific extras: negatives or out-of-range) and the steps the schedule sees."""
    if kind == "uint32":
        extra = [2**32 - 1, 2**31, 2**31 + 5, 0]  # saturate at 2**31 - 1
    elif kind == "int32":
        extra = [-1, -1000, -(2**31), INT32_MAX]
    else:
        extra = [-1, -1000, -(2**31), 2**40]  # 2**40 saturates at 2**31 - 1 as an integer
    k = np.concatenate([_steps(case), np.asarray(extra, np.int64)])
    if kind == "float32" and case.factory in (jaxsched.cyclic, jaxsched.sgdr):
        # float32 steps above 2**24 are not integers: a periodic curve is only defined by them up to there
        k = np.where(np.minimum(k, INT32_MAX) > 2**24, 0, k)
    if kind == "float32":
        eff = np.maximum(k.astype(np.float32).astype(np.float64), 0.0)
    else:
        eff = np.clip(k, 0, INT32_MAX).astype(np.float64)
    return as_step(k, kind), eff


# ----------------------------------------------------------------------------- plain (eager) values, every step kind


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize("case", _params(CASES))
def test_values_every_step_kind(case: Case, kind: str) -> None:
    sched = case.factory(**case.kw)
    steps, eff = _kind_steps(case, kind)
    got = sched(steps)
    assert got.dtype == jnp.float32
    assert got.shape == (N_STEPS,)
    ref = case.ref(eff, **case.ref_kw())
    assert_close_to_peak(got, ref, case.peak, case.rtol)
    if kind == "int32":  # vmap over scalar steps gives the same
        assert_close_to_peak(jax.vmap(sched)(steps), ref, case.peak, case.rtol)


SCALAR_CASES = ("wc", "wsd-1sqrt", "oc-3-cos", "sgdr-x2-decay-warm", "cyc-tri2")


@pytest.mark.parametrize("case", [CASE_BY_ID[i] for i in SCALAR_CASES], ids=str)
def test_scalar_python_steps(case: Case) -> None:
    sched = case.factory(**case.kw)
    b = math.ceil(case.knots[-1])
    for k, eff in [(0, 0), (-5, 0), (b, b), (b + 1, b + 1), (float(b) + 0.5, b + 0.5)]:
        v = sched(k)
        assert v.shape == () and v.dtype == jnp.float32
        assert_close_to_peak(v, case.ref(np.asarray(float(eff)), **case.ref_kw()), case.peak, case.rtol)


# ----------------------------------------------------------------------------- traced build under jit, vmap, jacobian


# These programs run once each: ask XLA for a quick compile rather than a fast program.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


@functools.partial(jax.jit, static_argnums=0, compiler_options=FAST_COMPILE)
def _run(factory, fargs, iargs, t):
    """Build the schedule from traced args inside jit; values and jacobian, vmapped over settings."""

    def one(fa, ia):
        f = lambda a: factory(**a, **ia)(t)  # noqa: E731
        return f(fa), jax.jacfwd(f)(fa)

    return jax.vmap(one)(fargs, iargs)


def _groups() -> dict[str, list[Case]]:
    """Cases of one factory with the same optional (None-default) arguments share one compiled program."""
    g: dict[str, list[Case]] = {}
    for c in CASES:
        opt = sorted(k for k in ("timescale", "decay_steps", "decay_fraction") if c.kw.get(k) is not None)
        g.setdefault("-".join([c.factory.__name__, *opt]), []).append(c)
    return g


GROUPS = _groups()


def _fd(case: Case, name: str, t: np.ndarray) -> np.ndarray:
    kw = case.ref_kw()
    x = float(kw[name])
    h = 1e-5 * max(abs(x), 1.0)
    return (case.ref(t, **dict(kw, **{name: x + h})) - case.ref(t, **dict(kw, **{name: x - h}))) / (2 * h)


@functools.cache
def _group_outputs(key: str) -> tuple[np.ndarray, dict[str, Any], Any, Any]:
    """Values and jacobians of a group's cases at one int32 step vector (every case's knots and extras)."""
    cases = GROUPS[key]
    fls, ixs = zip(*(c.traced_kw() for c in cases))
    fargs = {k: jnp.asarray([f[k] for f in fls], jnp.float32) for k in fls[0]}
    iargs = {k: jnp.asarray([i[k] for i in ixs], jnp.int32) for k in ixs[0]}
    steps = np.unique(np.concatenate([np.asarray(_kind_steps(c, "int32")[0]) for c in cases]))
    steps = np.concatenate([steps, np.zeros((-len(steps)) % 64, steps.dtype)])
    vals, jac = _run(cases[0].factory, fargs, iargs, jnp.asarray(steps, jnp.int32))
    eff = np.clip(steps.astype(np.float64), 0, INT32_MAX)
    return eff, fls, np.asarray(vals), jax.tree_util.tree_map(np.asarray, jac)


@pytest.mark.parametrize("key", list(GROUPS), ids=[f"{k}[{len(v)}]" for k, v in GROUPS.items()])
def test_traced_jit_vmap_grad(key: str) -> None:
    cases = GROUPS[key]
    eff, fls, vals, jac = _group_outputs(key)
    for j, c in enumerate(cases):
        # gradients: finite at every step (boundaries, zero-length phases, huge steps)
        for name, g in jac.items():
            assert all_finite(g[j]), (c.id, name, np.asarray(g[j]))
        if c.bug:
            continue  # values checked by the strict-xfail eager test
        ref = c.ref(eff, **c.ref_kw())
        assert_close_to_peak(np.asarray(vals[j]), ref, c.peak, c.rtol)
        # ... and equal to a central finite difference of the reference away from the knots
        ok = ~c.near_knot(eff) & (eff <= 10 * c.end + 10)
        for name in fls[j]:
            if name in c.nofd or not np.isfinite(fls[j][name]):
                continue
            fd = _fd(c, name, eff[ok])
            g = np.asarray(jac[name][j], np.float64)[ok]
            tol = 2e-3 * max(np.abs(fd).max(), np.abs(g).max()) + 1e-6 * c.peak
            assert np.max(np.abs(g - fd)) <= tol, (c.id, name, eff[ok][np.argmax(np.abs(g - fd))])


# ----------------------------------------------------------------------------- exact nested local steps


def test_sgdr_equal_periods_exact_at_huge_int_steps() -> None:
    # sgdr is warmup(repeat(...)): the warmup hands repeat an exact (int, offset) local step.
    k = np.asarray([2**24 + 3, 123_456_789, 2**30 + 1, INT32_MAX - 1, INT32_MAX] + [0] * (N_STEPS - 5), np.int64)
    s = jaxsched.sgdr(1.0, 100)
    assert_close_to_peak(s(jnp.asarray(k, jnp.int32)), ref_sgdr(k.astype(np.float64), 1.0, 100.0), 1.0)


def test_restart_points_and_boundaries_above_2_30() -> None:
    # Restart points and boundaries above 2**30 (int32 max / 2) are placed exactly.
    # cycle 28 of period 8 * 2**i starts at 2**31 - 8
    k = np.asarray([2**31 - 9, 2**31 - 8, 2**31 - 2, INT32_MAX] + [0] * (N_STEPS - 4), np.int64)
    r = jaxsched.repeat(jaxsched.cosine(1.0, 0.0, 8), 8, 2.0)
    assert_close_to_peak(r(jnp.asarray(k, jnp.int32)), ref_sgdr(k.astype(np.float64), 1.0, 8.0, 2.0), 1.0)
    # a join boundary at 2e9 switches there, not at 2**30
    k = np.asarray([2**30 + 10, 1_999_999_999, 2_000_000_000] + [0] * (N_STEPS - 3), np.int64)
    j = jaxsched.join([jaxsched.constant(1.0), jaxsched.constant(2.0)], [2_000_000_000])
    np.testing.assert_array_equal(np.asarray(j(jnp.asarray(k, jnp.int32)))[:3], [1.0, 1.0, 2.0])


# ----------------------------------------------------------------------------- choices, equivalences, validation

T72 = np.round(np.linspace(0, 1100, N_STEPS)).astype(np.int32)


def test_wsd_shape_by_name_and_index() -> None:
    curves = []
    for i, name in enumerate(WSD_SHAPES):
        a = np.asarray(jaxsched.wsd(1.0, 1000, 100, decay_steps=300, decay_shape=name)(T72))
        b = np.asarray(jaxsched.wsd(1.0, 1000, 100, decay_steps=300, decay_shape=i)(T72))
        np.testing.assert_array_equal(a, b)
        curves.append(a)
    # the three shapes differ inside the cooldown and agree outside it
    inside = (T72 > 700) & (T72 < 1000)
    assert not np.allclose(curves[0][inside], curves[1][inside])
    assert not np.allclose(curves[0][inside], curves[2][inside])
    np.testing.assert_array_equal(curves[0][~inside], curves[2][~inside])


@pytest.mark.parametrize("index, name", list(enumerate(["linear", "cosine", "1-sqrt"])))
def test_wsd_shape_name_is_structure(index: int, name: str) -> None:
    # A name fixes the cooldown's shape (static: only it is computed); an index is a leaf (all three are
    # computed and blended, so a sweep can vary it). Same values to the bit; a grid over names batches
    # them as indices.
    from jaxsched._config import from_config, to_config

    k = jnp.asarray(np.arange(0, 1003), jnp.int32)
    named, indexed = jaxsched.wsd(1.0, 1000, 100, decay_shape=name), jaxsched.wsd(1.0, 1000, 100, decay_shape=index)
    cool = named.schedule.schedules[1]
    assert cool.fixed == index and cool.shape is None and indexed.schedule.schedules[1].fixed is None
    np.testing.assert_array_equal(np.asarray(named(k)), np.asarray(indexed(k)))
    gn, gi = (jax.grad(lambda s: s(k).sum(), allow_int=True)(s).schedule.schedules[1] for s in (named, indexed))
    for a, b in [(gn.init_value, gi.init_value), (gn.end_value, gi.end_value), (gn.steps, gi.steps)]:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    program = lambda s: str(jax.make_jaxpr(lambda s: s(k))(s))  # noqa: E731
    assert len(program(named)) < 0.95 * len(program(indexed))
    c = jaxsched.cooldown(1.0, 0.0, 50, shape=name)
    assert c.fixed == index and from_config(to_config(c)).fixed == index
    g = jaxsched.grid(jaxsched.wsd, peak_value=1.0, total_steps=1000, warmup_steps=100,
                      decay_shape=[name, "linear", "1-sqrt"])
    assert np.asarray(g.schedules.schedule.schedules[1].shape).tolist() == [index, 0, 2]
    np.testing.assert_array_equal(np.asarray(g(k))[0], np.asarray(named(k)))


def test_cooldown_config_needs_one_shape() -> None:
    from jaxsched._config import from_config, to_config

    cfg = to_config(jaxsched.cooldown(1.0, 0.0, 50))
    assert cfg["schedule"]["fixed"] == 2 and cfg["schedule"]["shape"] is None
    for bad, match in [({"fixed": None}, "one of shape"), ({"shape": 1}, "one of shape"), ({"fixed": 3}, "fixed")]:
        with pytest.raises(ValueError, match=match):
            from_config({**cfg, "schedule": {**cfg["schedule"], **bad}})
    # a config written before `fixed` existed (an index, no "fixed" key) loads as the index leaf
    old = {k: v for k, v in cfg["schedule"].items() if k != "fixed"}
    back = from_config({**cfg, "schedule": {**old, "shape": 1}})
    assert back.fixed is None and int(back.shape) == 1
    np.testing.assert_array_equal(np.asarray(back(jnp.arange(60))),
                                  np.asarray(jaxsched.cooldown(1.0, 0.0, 50, shape="cosine")(jnp.arange(60))))


def test_wsd_decay_steps_vs_fraction_and_default() -> None:
    a = jaxsched.wsd(1.0, 1000, 50, decay_steps=250, decay_shape="cosine")
    b = jaxsched.wsd(1.0, 1000, 50, decay_fraction=0.25, decay_shape="cosine")
    np.testing.assert_allclose(np.asarray(a(T72)), np.asarray(b(T72)), atol=1e-6)
    # default: 20% cooldown, 1-sqrt
    t = T72.astype(np.float64)
    assert_close_to_peak(jaxsched.wsd(1.0, 1000)(T72), ref_wsd(t, 1.0, 1000, decay_fraction=0.2), 1.0)


NO_WARMUP = {  # the presets whose warmup_steps defaults to None (no warmup)
    "warmup_cosine": lambda p=2.0, **kw: jaxsched.warmup_cosine(p, 1000, **kw),
    "linear_to_zero": lambda p=2.0, **kw: jaxsched.linear_to_zero(p, 1000, end_value=0.1, **kw),
    "wsd": lambda p=2.0, **kw: jaxsched.wsd(p, 1000, decay_shape="cosine", **kw),
    "sgdr": lambda p=2.0, **kw: jaxsched.sgdr(p, 100, 2.0, 0.5, 0.1, cycles=3.0, **kw),
}


@pytest.mark.parametrize("name", list(NO_WARMUP))
def test_no_warmup_is_structure_with_the_values_of_a_zero_warmup(name: str) -> None:
    make = NO_WARMUP[name]
    none, zero = make(), make(warmup_steps=0)
    assert none.steps is None and not none.shift
    assert jnp.ndim(zero.steps) == 0 and float(zero.steps) == 0.0
    assert len(jax.tree_util.tree_leaves(none)) == len(jax.tree_util.tree_leaves(zero)) - 1
    # the same bits: plain, under jit, at every step kind's boundaries, far out, and per step under vmap
    steps = np.r_[0:5, 95:106, 299:302, 700:702, 795:806, 995:1006, 2**24 - 1, 2**24 + 1, 2**31 - 2, 2**31 - 1]
    for kind in STEP_KINDS:
        t = as_step(steps, kind)
        np.testing.assert_array_equal(np.asarray(none(t)), np.asarray(zero(t)), err_msg=kind)
    t = jnp.asarray(steps, jnp.int32)
    run = jax.jit(lambda s: s(t))
    np.testing.assert_array_equal(np.asarray(run(none)), np.asarray(run(zero)))
    np.testing.assert_array_equal(np.asarray(jax.vmap(none)(t)), np.asarray(zero(t)))
    # the same derivatives w.r.t. the peak, forward per step and reverse
    p = jnp.asarray(2.0, jnp.float32)
    fwd = [jax.jacfwd(lambda p, kw=kw: make(p, **kw)(t))(p) for kw in ({}, {"warmup_steps": 0})]
    assert all_finite(fwd[0])
    np.testing.assert_array_equal(np.asarray(fwd[0]), np.asarray(fwd[1]))
    rev = [jax.grad(lambda p, kw=kw: jnp.sum(make(p, **kw)(t)))(p) for kw in ({}, {"warmup_steps": 0})]
    np.testing.assert_allclose(float(rev[0]), float(rev[1]), rtol=1e-6)
    # no ramp in the program: no warmup traces what its schedule alone does, a warmup of 0 steps more
    count = lambda s: _eqn_count(jax.make_jaxpr(lambda s: s(t))(s).jaxpr)  # noqa: E731
    assert count(none) == count(none.schedule) < count(zero)


def _eqn_count(jaxpr: Any) -> int:
    """Equations of a jaxpr and of every jaxpr inside it (calls, switches' branches, custom rules)."""
    n = 0
    for e in jaxpr.eqns:
        n += 1
        for v in e.params.values():
            for x in v if isinstance(v, (list, tuple)) else [v]:
                inner = getattr(x, "jaxpr", x)
                if hasattr(inner, "eqns"):
                    n += _eqn_count(inner)
    return n


@pytest.mark.parametrize("name", list(NO_WARMUP))
def test_no_warmup_beside_numbers_sweeps_as_a_zero_warmup(name: str) -> None:
    make = NO_WARMUP[name]
    g = jaxsched.grid(lambda warmup_steps: make(warmup_steps=warmup_steps), warmup_steps=[None, 0, 30])
    assert g.schedules.steps.tolist() == [0.0, 0.0, 30.0] and g.schedules.shift
    curves = np.asarray(g(T72))
    for i, w in enumerate((0, 0, 30)):
        assert_close_to_peak(curves[i], make(warmup_steps=w)(T72), 2.0)
    # a config keeps None as null, and reads back to the same structure and values
    cfg = jaxsched.to_config(make())
    back = jaxsched.from_config(json.loads(json.dumps(cfg)))
    assert back.steps is None and not back.shift
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(make())
    np.testing.assert_array_equal(np.asarray(back(T72)), np.asarray(make()(T72)))


def test_no_warmup_inside_a_warmup_and_in_phases() -> None:
    # the outer ramp reaches the inner schedule's value at 0 (its peak), with no inner ramp
    s = jaxsched.warmup(jaxsched.sgdr(2.0, 10), 4)
    t = np.arange(0, 30)
    expect = np.where(t < 4, 2.0 * t / 4, 1.0 + np.cos(np.pi * (np.maximum(t - 4, 0) % 10) / 10))
    assert_close_to_peak(s(t), expect, 2.0)
    assert [(p.start, p.end, p.label) for p in jaxsched.phases(jaxsched.warmup_cosine(1.0, 100))] == [
        (p.start, p.end, p.label) for p in jaxsched.phases(jaxsched.warmup_cosine(1.0, 100, 0))
    ]


def test_warmup_inverse_sqrt_is_transformer_schedule() -> None:
    t = T72.astype(np.float64)
    expect = np.where(t < 100, 2.0 * t / 100, 2.0 * np.sqrt(100 / np.maximum(t, 1)))
    assert_close_to_peak(jaxsched.warmup_inverse_sqrt(2.0, 100)(T72), expect, 2.0)


def test_onecycle_flag_and_index_equal_names() -> None:
    for three in (False, True):
        for k, name in enumerate(ANNEAL):
            a = jaxsched.onecycle(1.0, 1000, 0.3, three_phase=three, anneal_strategy=name)
            b = jaxsched.onecycle(1.0, 1000, 0.3, three_phase=float(three), anneal_strategy=k)
            np.testing.assert_array_equal(np.asarray(a(T72)), np.asarray(b(T72)))
    # the knots: start at peak/div, peak at pct*T, minimum peak/div/final_div at T and after
    t = np.zeros(N_STEPS, np.int32)
    t[:4] = [0, 25, 100, 10**6]
    s = jaxsched.onecycle(2.0, 100, 0.25, div_factor=20.0, final_div_factor=50.0)
    np.testing.assert_allclose(np.asarray(s(t))[:4], [0.1, 2.0, 0.002, 0.002], rtol=1e-6)
    t[:4] = [0, 25, 50, 100]
    m = jaxsched.onecycle_momentum(100, 0.25, three_phase=True)
    np.testing.assert_allclose(np.asarray(m(t))[:4], [0.95, 0.85, 0.95, 0.95], rtol=1e-6)


def test_cyclic_defaults_and_mode_names() -> None:
    t = T72.astype(np.float64)
    a = jaxsched.cyclic(0.1, 1.0, 25)  # step_size_down defaults to step_size_up
    assert_close_to_peak(a(T72), ref_cyclic(t, 0.1, 1.0, 25, 25), 1.0)
    for k, name in enumerate(MODES):
        x = jaxsched.cyclic(0.1, 1.0, 10, 15, mode=name, gamma=0.995)(T72)
        y = jaxsched.cyclic(0.1, 1.0, 10, 15, mode=k, gamma=0.995)(T72)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    # gamma is read by exp_range only: with another mode named, any real is accepted and unused (torch)
    for name in MODES[:2]:
        want = np.asarray(jaxsched.cyclic(0.1, 1.0, 10, 15, mode=name)(T72))
        for g in (0.0, -0.5, 3.0):
            got = jaxsched.cyclic(0.1, 1.0, 10, 15, mode=name, gamma=g)(T72)
            np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: jaxsched.warmup_cosine(1.0, 100, 200), ValueError, "warmup_steps"),
        (lambda: jaxsched.warmup_cosine(1.0, -5), ValueError, "total_steps"),
        (lambda: jaxsched.warmup_cosine(1.0, 100, exponent=-1.0), ValueError, "exponent"),
        (lambda: jaxsched.linear_to_zero(1.0, 10, 11), ValueError, "warmup_steps"),
        (lambda: jaxsched.warmup_inverse_sqrt(1.0, 0), ValueError, "timescale"),
        (lambda: jaxsched.warmup_inverse_sqrt(1.0, 10, timescale=0.0), ValueError, "timescale"),
        (lambda: jaxsched.wsd(1.0, 100, decay_steps=10, decay_fraction=0.1), TypeError, "decay_fraction"),
        (lambda: jaxsched.wsd(1.0, 100, 50, decay_steps=60), ValueError, "decay_steps"),
        (lambda: jaxsched.wsd(1.0, 100, 90, decay_fraction=0.2), ValueError, "warmup_steps"),
        (lambda: jaxsched.wsd(1.0, 100, decay_fraction=1.5), ValueError, "decay_fraction"),
        (lambda: jaxsched.wsd(1.0, 100, decay_shape="exp"), ValueError, "decay_shape"),
        (lambda: jaxsched.wsd(1.0, 100, decay_shape=3), ValueError, "decay_shape"),
        (lambda: jaxsched.onecycle(1.0, 100, pct_start=0.6, three_phase=True), ValueError, "pct_start"),
        # A flag of 1 (or NumPy's True) is three phases too: the same check (1 overran total_steps).
        (lambda: jaxsched.onecycle(1.0, 100, pct_start=0.6, three_phase=1), ValueError, "pct_start must be <= 0.5"),
        (lambda: jaxsched.onecycle_momentum(100, pct_start=0.6, three_phase=np.True_), ValueError, "pct_start"),
        (lambda: jaxsched.onecycle(1.0, 100, three_phase=0.3), ValueError, "three_phase must be a bool, 0 or 1"),
        (lambda: jaxsched.onecycle(1.0, 100, anneal_strategy="step"), ValueError, "anneal_strategy"),
        (lambda: jaxsched.onecycle(0.0, 100), ValueError, "peak_value"),
        (lambda: jaxsched.onecycle_momentum(100, pct_start=1.5), ValueError, "pct_start"),
        (lambda: jaxsched.sgdr(1.0, 0), ValueError, "period"),
        (lambda: jaxsched.sgdr(1.0, 10, period_mult=0.0), ValueError, "period_mult"),
        (lambda: jaxsched.sgdr(1.0, 10, cycles=0.5), ValueError, "cycles"),
        (lambda: jaxsched.cyclic(0.0, 1.0, 0, 0), ValueError, "step_size"),
        (lambda: jaxsched.cyclic(0.0, 1.0, 10, mode="sine"), ValueError, "mode"),
        (lambda: jaxsched.cyclic(0.0, 1.0, 10, mode="exp_range", gamma=0.0), ValueError, "gamma"),
        (lambda: jaxsched.cyclic(0.0, 1.0, 10, mode=2, gamma=-1.0), ValueError, "gamma"),
        (lambda: jaxsched.cyclic(0.0, 1.0, 10, gamma=float("nan")), ValueError, "gamma"),
        # a traced mode may be exp_range: gamma is checked
        (lambda: jax.jit(lambda k: jaxsched.cyclic(0.0, 1.0, 10, mode=k, gamma=0.0)(3))(0), ValueError, "gamma"),
        (lambda: jaxsched.cyclic(0.0, "1.0", 10), TypeError, "max_value"),
    ],
)
def test_validation(call: Callable[[], Any], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize(
    "name,rate",
    [
        ("linear steps", lambda L, t: jaxsched.linear(1.0, 0.0, L)(t)),
        ("cosine steps", lambda L, t: jaxsched.cosine(1.0, 0.0, L)(t)),
        ("warmup_cosine warmup_steps", lambda L, t: jaxsched.warmup_cosine(1.0, 100, L)(t)),
        ("wsd decay_steps", lambda L, t: jaxsched.wsd(1.0, 100, 10, decay_steps=L)(t)),
        ("warmup steps", lambda L, t: jaxsched.warmup(jaxsched.constant(1.0), L)(t)),
    ],
)
def test_tiny_lengths_keep_finite_gradients_far_past_their_end(name: str, rate: Any) -> None:
    # t / length overflows to inf far past the end of a tiny (normal) length; its slope met a `where`'s
    # zero cotangent as 0 * inf = NaN in reverse mode (found by an audit).
    for L in (1e-36, 1e-30, 1e-20):
        for t in (10, 1000, 10**6, 2**31 - 1):
            g = jax.grad(rate)(L, t)
            assert np.isfinite(float(g)), (name, L, t, g)
