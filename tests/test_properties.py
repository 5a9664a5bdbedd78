"""Hypothesis property tests for the presets.

For random settings of each family: values stay within the range of the
schedule's own settings; phases meant to be monotone are monotone; pieces meet
where they are meant to (no jump at a warmup's end, at a WSD cooldown's start,
inside an SGDR cycle, ...); ``vmap`` over a batch of settings equals a Python
loop; values and gradients (w.r.t. every float leaf) have no NaN.

Everything is evaluated eagerly at one fixed step shape, so the per-op
compilation caches are shared by every example and every family (no jit
compile per structure).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxsched
from tests.helpers import all_finite

N_STEPS = 72
# The jitted check runs a few dozen times per family: ask XLA for a quick compile.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
DELTA = 2.0**-10  # continuity probe: b - DELTA against b
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)

lr = st.floats(0.0, 10.0, allow_nan=False, allow_subnormal=False)
pos = st.floats(1e-3, 10.0, allow_nan=False, allow_subnormal=False)
unit = st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False)


def fraction(hi: float) -> st.SearchStrategy[float]:
    """0, a tiny fraction (a phase far shorter than a step: 1e-30 and below), or any in [0, hi]."""
    return st.just(0.0) | st.sampled_from([1e-38, 1e-30, 1e-17]).map(lambda x: min(x, hi)) | st.floats(0.0, hi)


def f32(x: float) -> float:
    return float(np.float32(x))


@dataclasses.dataclass
class Spec:
    sched: Any
    lo: float  # every value lies in [lo, hi]
    hi: float
    mono: list[tuple[float, float, int]]  # (start, end, +1 non-decreasing / -1 non-increasing) on [start, end)
    cont: list[float]  # pieces meet here: s(b - DELTA) ~ s(b)
    end: float  # steps are drawn from [0, 1.3 * end]

    @property
    def scale(self) -> float:
        return max(abs(self.lo), abs(self.hi), 1e-6)


# ----------------------------------------------------------------------------- one strategy per family


def _meet(points: list[tuple[float, float, float]]) -> list[float]:
    """Boundaries ``(b, length before, length after)`` where pieces must meet continuously.

    Only where both neighbouring phases last at least a step: an empty phase
    is a deliberate jump (it is over at its start), and the probe b - DELTA
    must not be steeper than the tolerance allows.
    """
    return [b for b, before, after in points if before >= 1 and after >= 1]


@st.composite
def warmup_cosine(draw: Callable[..., Any]) -> tuple[dict[str, Any], Spec]:
    N = draw(st.integers(1, 5000))
    W = draw(st.integers(0, N - 1))  # W == N: see test_presets BUG_RAMP (the ramp targets end_value)
    P = draw(pos)
    v0, v1 = draw(st.floats(0.0, P)), draw(st.floats(0.0, P))
    kw = dict(peak_value=P, total_steps=N, warmup_steps=W, init_value=v0, end_value=v1,
              exponent=draw(st.floats(0.5, 4.0)))  # >= 0.5: Lipschitz at the end
    s = jaxsched.warmup_cosine(**kw)
    return kw, Spec(s, min(v0, v1), P, [(0, W, +1), (W, math.inf, -1)], [W, N], N)


@st.composite
def linear_to_zero(draw: Callable[..., Any]) -> tuple[dict[str, Any], Spec]:
    N = draw(st.integers(1, 5000))
    W = draw(st.integers(0, N - 1))
    P = draw(pos)
    v0, v1 = draw(st.floats(0.0, P)), draw(st.floats(0.0, P))
    kw = dict(peak_value=P, total_steps=N, warmup_steps=W, init_value=v0, end_value=v1)
    return kw, Spec(jaxsched.linear_to_zero(**kw), min(v0, v1), P, [(0, W, +1), (W, math.inf, -1)], [W, N], N)


@st.composite
def warmup_inverse_sqrt(draw: Callable[..., Any]) -> tuple[dict[str, Any], Spec]:
    W = draw(st.integers(0, 3000))
    P = draw(pos)
    v0 = draw(st.floats(0.0, P))
    tau = draw(st.floats(0.5, 5000.0))
    kw = dict(peak_value=P, warmup_steps=W, timescale=tau, init_value=v0)
    return kw, Spec(jaxsched.warmup_inverse_sqrt(**kw), 0.0, P, [(0, W, +1), (W, math.inf, -1)], [W], W + 10 * tau)


@st.composite
def wsd(draw: Callable[..., Any]) -> tuple[dict[str, Any], Spec]:
    N = draw(st.integers(2, 5000))
    W = draw(st.integers(0, N - 1))
    P = draw(pos)
    v0, E = draw(st.floats(0.0, P)), draw(st.floats(0.0, P))
    kw = dict(peak_value=P, total_steps=N, warmup_steps=W, init_value=v0, end_value=E,
              decay_shape=draw(st.sampled_from(["linear", "cosine", "1-sqrt"])))
    if draw(st.booleans()):
        D = float(draw(st.integers(0, N - W)))
        kw["decay_steps"] = int(D)
    else:
        frac = draw(fraction((N - W) / N))
        kw["decay_fraction"] = frac
        D = f32(frac) * N
    s = jaxsched.wsd(**kw)
    S = N - W - D  # stable length
    cont = _meet([(W, W, S + D), (N - D, S, D), (N, D, math.inf)])
    return kw, Spec(s, min(v0, E), P, [(0, W, +1), (W, math.inf, -1)], cont, N)


def _onecycle_common(draw: Callable[..., Any]) -> dict[str, Any]:
    three = draw(st.booleans())
    return dict(total_steps=draw(st.integers(1, 5000)), three_phase=three,
                pct_start=draw(fraction(0.5 if three else 1.0)),
                anneal_strategy=draw(st.sampled_from(["cos", "linear"])))


def _onecycle_mono(kw: dict[str, Any], d1: int, d2: int, d3: int) -> tuple[list[tuple[float, float, int]], list[float]]:
    T = kw["total_steps"]
    up = f32(kw["pct_start"]) * T
    if kw["three_phase"]:
        cont = _meet([(up, up, up), (2 * up, up, T - 2 * up), (T, T - 2 * up, math.inf)])
        return [(0, up, d1), (up, 2 * up, d2), (2 * up, math.inf, d3)], cont
    return [(0, up, d1), (up, math.inf, d2)], _meet([(up, up, T - up), (T, T - up, math.inf)])


@st.composite
def onecycle(draw: Callable[..., Any]) -> tuple[dict[str, Any], Spec]:
    kw = dict(peak_value=draw(pos), div_factor=draw(st.floats(1.0, 100.0)),
              final_div_factor=draw(st.floats(1.0, 1e4)), **_onecycle_common(draw))
    P = kw["peak_value"]
    z = f32(P) / f32(kw["div_factor"]) / f32(kw["final_div_factor"])
    mono, cont = _onecycle_mono(kw, +1, -1, -1)
    return kw, Spec(jaxsched.onecycle(**kw), z, P, mono, cont, kw["total_steps"])


@st.composite
def onecycle_momentum(draw: Callable[..., Any]) -> tuple[dict[str, Any], Spec]:
    lo = draw(unit)
    kw = dict(base_momentum=lo, max_momentum=draw(st.floats(lo, 1.0)), **_onecycle_common(draw))
    mono, cont = _onecycle_mono(kw, -1, +1, +1)
    return kw, Spec(jaxsched.onecycle_momentum(**kw), lo, kw["max_momentum"], mono, cont, kw["total_steps"])


@st.composite
def sgdr(draw: Callable[..., Any]) -> tuple[dict[str, Any], Spec]:
    P = draw(pos)
    v0, v1 = draw(st.floats(0.0, P)), draw(st.floats(0.0, P))
    T0 = draw(st.floats(1.0, 500.0))
    m = draw(st.sampled_from([1.0, 2.0, 0.5]) | st.floats(0.5, 3.0))
    cycles = draw(st.integers(1, 6)) if m < 1 else draw(st.sampled_from([math.inf, 1, 3]))
    W = draw(st.integers(0, 500))
    kw = dict(peak_value=P, period=T0, period_mult=m, decay=draw(unit), end_value=v1, warmup_steps=W,
              init_value=v0, cycles=float(cycles))
    # restart points in float64 from the float32 settings; monotone (non-increasing) inside each cycle
    starts, L = [0.0], f32(T0)
    for _ in range(int(min(cycles, 5))):
        starts.append(starts[-1] + L)
        L *= f32(m)
    mono = [(0, W, +1)] + [(W + a + 1e-3, W + b - 1e-3, -1) for a, b in zip(starts, starts[1:])]
    # inside cycles: probe the middle of each cycle
    cont = [W] + [W + 0.5 * (a + b) for a, b in zip(starts, starts[1:])]
    return kw, Spec(jaxsched.sgdr(**kw), 0.0, P, mono, cont, W + starts[-1])


@st.composite
def cyclic(draw: Callable[..., Any]) -> tuple[dict[str, Any], Spec]:
    b, M = draw(lr), draw(lr)
    U, D = draw(st.integers(1, 1000)), draw(st.integers(1, 1000))
    mode = draw(st.sampled_from(["triangular", "triangular2", "exp_range"]))
    kw = dict(base_value=b, max_value=M, step_size_up=U, step_size_down=D, mode=mode, gamma=draw(st.floats(0.99, 1.0)))
    sgn = 1 if M >= b else -1
    mono = [] if mode == "exp_range" else [(c * (U + D), c * (U + D) + U, sgn) for c in range(3)] + [
        (c * (U + D) + U, (c + 1) * (U + D), -sgn) for c in range(3)]
    cont = [k for c in range(3) for k in (c * (U + D) + U, (c + 1) * (U + D))]  # continuous everywhere
    return kw, Spec(jaxsched.cyclic(**kw), min(b, M), max(b, M), mono, cont, 3 * (U + D))


FAMILIES = {f.__name__: f for f in (warmup_cosine, linear_to_zero, warmup_inverse_sqrt, wsd, onecycle,
                                    onecycle_momentum, sgdr, cyclic)}


def _steps(spec: Spec) -> np.ndarray:
    """Sorted float32 steps: continuity pairs (b - DELTA, b), then an even spread over [0, 1.3 end]."""
    pts = [x for b in spec.cont if b - DELTA >= 0 for x in (b - DELTA, b)]
    n = N_STEPS - len(pts)
    pts += list(np.linspace(0.0, 1.3 * max(spec.end, 1.0), n))
    return np.sort(np.asarray(pts, np.float64).astype(np.float32))


# ----------------------------------------------------------------------------- properties


@functools.partial(jax.jit, compiler_options=FAST_COMPILE)
def _values_and_grads(sched: Any, t: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
    """Values and the gradient of their sum w.r.t. every float leaf.

    The schedule is an argument: one compile per family (its structure is
    fixed), however many examples hypothesis draws.
    """
    g = jax.grad(lambda s: jnp.sum(s(t)), allow_int=True)(sched)
    return sched(t), [x for x in jax.tree_util.tree_leaves(g) if jnp.issubdtype(x.dtype, jnp.floating)]


@pytest.mark.parametrize("family", list(FAMILIES))
@SETTINGS
@given(data=st.data())
def test_bounds_monotone_continuity_finite(family: str, data: st.DataObject) -> None:
    kw, spec = data.draw(FAMILIES[family](), label="settings")
    t = _steps(spec)
    vals, grads = _values_and_grads(spec.sched, t)
    vals = np.asarray(vals, np.float64)
    tol = 2e-6 * spec.scale
    # no NaN in values or gradients (w.r.t. every float leaf)
    assert np.isfinite(vals).all(), (kw, vals)
    assert all_finite(grads), (kw, grads)
    # bounds
    assert vals.min() >= spec.lo - tol and vals.max() <= spec.hi + tol, (kw, vals.min(), vals.max())
    # monotone phases
    tt = t.astype(np.float64)
    for a, b, sign in spec.mono:
        sel = (tt >= a) & (tt < b)
        d = sign * np.diff(vals[sel])
        assert d.size == 0 or d.min() >= -tol, (kw, (a, b, sign), tt[sel], vals[sel])
    # continuity where pieces meet
    rng = spec.hi - spec.lo
    for b in spec.cont:
        if b - DELTA < 0:
            continue
        i = np.searchsorted(tt, np.float32(b))
        j = np.searchsorted(tt, np.float32(b - DELTA))
        assert abs(vals[i] - vals[j]) <= 0.01 * rng + tol, (kw, b, vals[j], vals[i])


@pytest.mark.parametrize("family", list(FAMILIES))
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(data=st.data())
def test_vmap_equals_loop(family: str, data: st.DataObject) -> None:
    specs = [data.draw(FAMILIES[family](), label=f"settings {i}")[1] for i in range(3)]
    t = jnp.asarray(np.round(np.linspace(0, 1.3 * max(s.end for s in specs), N_STEPS)), jnp.float32)
    batch = jaxsched.stack([s.sched for s in specs])
    got = np.asarray(jax.vmap(lambda s: s(t))(batch))  # eager vmap
    for i, s in enumerate(specs):
        np.testing.assert_allclose(got[i], np.asarray(_values_and_grads(s.sched, t)[0]), rtol=0, atol=1e-6 * s.scale)


TINY = [1e-45, 1e-38, 1e-30, 1e-20, 1e-17]  # 1e-45 is subnormal in float32


@pytest.mark.parametrize(
    "make",
    [
        lambda x: jaxsched.warmup_cosine(1.0, total_steps=x, warmup_steps=0, exponent=1.0),
        lambda x: jaxsched.warmup_cosine(1.0, total_steps=10.0, warmup_steps=x),
        lambda x: jaxsched.linear(1.0, 0.0, x),
        lambda x: jaxsched.polynomial(1.0, 0.0, x, power=2.0),
        lambda x: jaxsched.exponential(1.0, 0.5, x),
        lambda x: jaxsched.exponential(1.0, 0.5, x, end_value=0.1),
        lambda x: jaxsched.inverse_sqrt(1.0, x),
        lambda x: jaxsched.join([jaxsched.constant(1.0), jaxsched.linear(1.0, 0.0, 4.0)], jnp.stack([x])),
        lambda x: jaxsched.repeat(jaxsched.linear(1.0, 0.0, x), x),
        lambda x: jaxsched.wsd(1.0, 100, x, decay_steps=x),
        lambda x: jaxsched.onecycle(1.0, 100, pct_start=x),
        lambda x: jaxsched.cyclic(0.1, 1.0, x),
    ],
    ids=["cosine-len", "warmup-len", "linear", "polynomial", "exponential", "exponential-end", "inverse_sqrt",
         "join", "repeat", "wsd", "onecycle", "cyclic"],
)
def test_tiny_phase_length_has_finite_gradient(make: Any) -> None:
    # A division's gradient is taken as -q / length, not -t / length**2 (which underflows: 0 * inf);
    # quotients that saturate (exponential) are capped before the division.
    t = jnp.asarray(np.linspace(0, 10, N_STEPS), jnp.float32)

    @jax.jit
    def vg(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        return jax.vmap(lambda x: jax.value_and_grad(lambda x: make(x)(t).sum())(x))(x)

    vals, grads = vg(jnp.asarray(TINY, jnp.float32))
    assert all_finite(vals) and all_finite(grads), (vals, grads)
    # forward mode too (reverse mode can hide an inf times a zero cotangent)
    x = jnp.asarray(TINY, jnp.float32)
    _, tangents = jax.jit(lambda x: jax.vmap(lambda x: jax.jvp(lambda x: make(x)(t), (x,), (jnp.ones_like(x),)))(x))(x)
    assert all_finite(tangents), tangents
