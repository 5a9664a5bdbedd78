"""Primitive schedules against the float64 reference, under call / jit / vmap / grad.

Each :class:`Case` pairs a jaxsched builder with its reference in
``tests/reference.py``. The generic checks defined here (also used by
``test_combinators.py``) are:

* values at 0, ``b-1, b, b+1`` of every boundary, past the end and near
  ``2**31 - 1`` for every step kind (Python int, int32, uint32, int64, float),
  negative steps, scalar and N-D steps, float32 within 1e-6 of the peak
  (``check_values``, ``check_plain_calls``);
* plain call == jit == vmap over a batch of settings == a Python loop, with
  one trace for ten settings (``check_values``);
* a few cases under x64 (float64 out, within ~1e-12; ``check_x64``);
* every field traced inside ``jit``: values equal the reference, gradients
  w.r.t. every float field are finite at and around every boundary and with
  zero-length phases, and match finite differences of the reference inside
  the phases.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as R
from helpers import TraceCounter, all_finite, as_step, assert_close_to_peak

import jaxsched

Params = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Case:
    """One schedule configuration and its reference.

    ``build(**params)`` makes the jaxsched schedule (it must accept traced
    params); ``ref(**params)`` the float64 reference. ``ints`` are integer
    params (traced but not differentiated). ``vary(i)`` gives the params of the
    i-th of ten settings (same structure). ``zero`` are params with zero-length
    phases whose values and gradients must stay finite.
    """

    id: str
    build: Callable[..., jaxsched.Schedule]
    ref: Callable[..., R.Ref]
    params: Params
    marks: tuple[float, ...]
    vary: Callable[[int], Params]
    ints: Params = dataclasses.field(default_factory=dict)
    zero: Params | None = None
    float_huge: bool = True  # float32 steps near 2**31 are meaningful for this case
    no_fd: tuple[str, ...] = ()  # params the reference is not smooth in (e.g. a cycle count)
    fd_max: float = np.inf  # finite differences only below this step (keeps exact references cheap)
    int_grads: bool = True  # also differentiate at integer steps (a separate step path in _eval)
    extra: tuple[float, ...] = ()  # extra (possibly fractional) steps to check

    def __str__(self) -> str:
        return self.id

    def all_params(self, p: Params | None = None) -> Params:
        return {**self.ints, **(self.params if p is None else p)}

    def schedule(self, p: Params | None = None) -> jaxsched.Schedule:
        return self.build(**self.all_params(p))

    def reference(self, p: Params | None = None) -> R.Ref:
        return self.ref(**self.all_params(p))

    def points(self, huge: bool = True) -> np.ndarray:
        return _pad(R.points_around(*self.marks, huge=huge), N_POINTS)

    def fractional(self) -> np.ndarray:
        """Non-integer steps around every mark, and the extra steps."""
        pts = [0.25, *(b + d for b in self.marks for d in (-0.5, 0.5) if b + d >= 0), *self.extra]
        return _pad(pts, N_FRAC).astype(np.float64)

    def peak(self, p: Params | None = None) -> float:
        pts = np.concatenate([self.points(huge=False).astype(np.float64), np.asarray(self.extra, np.float64)])
        return float(np.max(np.abs(self.reference(p)(pts))))

    def interior(self) -> np.ndarray:
        """Non-integer steps strictly inside phases (for finite differences)."""
        m = sorted({0.0, *self.marks})
        mids = [(a + b) / 2 + 0.137 for a, b in zip(m[:-1], m[1:]) if b - a > 1]
        return np.asarray([0.37, *mids, m[-1] + 3.3], np.float64)


# Fixed step-array lengths: one compiled program per schedule structure, whatever the case.
N_POINTS = 64
N_FRAC = 32


def _pad(pts: Any, n: int) -> np.ndarray:
    a = np.asarray(pts)
    assert 0 < a.shape[0] <= n, a.shape
    return np.pad(a, (0, n - a.shape[0]), mode="edge")


def _arrays(p: Params, dtype: Any) -> Params:
    return {k: jnp.asarray(v, dtype) for k, v in p.items()}


# ----------------------------------------------------------------------------- generic checks

# Compiled checks are cached per builder: cases with one builder share a program structure
# (repeat cases differ only in their settings), so they share one compile.
_VALUES: dict[Any, TraceCounter] = {}
_GRADS: dict[Any, Any] = {}


def _values_fn(case: Case) -> TraceCounter:
    if case.build not in _VALUES:

        def f(s: jaxsched.Schedule, b: jaxsched.Schedule, steps: dict[str, jax.Array]) -> Any:
            return {k: s(v) for k, v in steps.items()}, jax.vmap(lambda x: x(steps["int32"]))(b)

        _VALUES[case.build] = TraceCounter(f)
    return _VALUES[case.build]


def check_values(case: Case) -> None:
    """Values, jit, vmap and one trace for ten settings, in one compiled function.

    For the base settings every step form is checked against the float64
    reference at every critical step: int32 (as a 2-D array, with negative
    steps), uint32 and float32 (as a 3-D array, with fractional and negative
    steps); float32 within 1e-6 of the peak. The same jitted function, called
    with ten settings (one trace), also maps over a stacked batch of four
    settings (vmap == a Python loop of plain calls == the reference).
    Step kinds share one array per dtype: every evaluation is a copy of the
    schedule's program, and some programs (``repeat``) are slow to compile.
    """
    pts = case.points()
    neg_i = np.asarray([-1, -7, -(2**31)], np.int64)
    ints = _pad(np.concatenate([pts, neg_i]), 72).reshape(8, 9)
    floats = np.concatenate([case.points(huge=case.float_huge), case.fractional(), [-0.5, -7.0, -1e10]])
    floats = _pad(floats, 2 * 6 * 9).reshape(2, 6, 9)
    steps = {
        "int32": jnp.asarray(ints, jnp.int32),
        "uint32": as_step(pts, "uint32"),
        "float32": jnp.asarray(floats, jnp.float32),
    }
    settings = [case.params] + [case.vary(i) for i in range(1, 10)]
    scheds = [case.schedule(p) for p in settings]
    batch = jaxsched.stack(scheds[:4])

    counter = _values_fn(case)
    for i, (p, s) in enumerate(zip(settings, scheds)):
        ref, peak = case.reference(p), case.peak(p)
        out, vm = counter(s, batch, steps)
        assert_close_to_peak(out["int32"], ref(R.seen_step(ints)), peak)
        if i == 0:
            for k, step in steps.items():
                assert out[k].dtype == jnp.float32 and out[k].shape == step.shape, (k, out[k])
                assert_close_to_peak(out[k], ref(R.seen_step(step)), peak, rtol=2e-6 if k == "float32" else 1e-6)
    # ten settings (and every other case with this builder): one trace
    assert counter.count == 1, counter.count
    assert vm.shape == (4, *ints.shape) and vm.dtype == jnp.float32
    for i in range(4):
        plain = scheds[i](pts.tolist())  # a plain call (Python ints)
        assert_close_to_peak(vm[i].ravel()[: len(pts)], plain, case.peak(settings[i]))
        assert_close_to_peak(plain, case.reference(settings[i])(pts), case.peak(settings[i]))


def check_plain_calls(case: Case) -> None:
    """Plain (eager) calls with host-side step forms: Python ints, numpy int64, scalars of every kind.

    Integers beyond int32 saturate at 2**31 - 1 (optax's saturating count);
    negative steps give the value at step 0.
    """
    s, ref, peak = case.schedule(), case.reference(), case.peak()
    pts = case.points()
    for kind in ("pyint", "int64"):
        step = as_step(pts, kind)
        out = s(step)
        assert out.dtype == jnp.float32 and out.shape == pts.shape
        assert_close_to_peak(out, ref(R.seen_step(step)), peak)
    big = _pad([2**31, 2**40, -(2**40), -1], N_POINTS).astype(np.int64)
    assert_close_to_peak(s(big), ref(np.clip(big, 0, R.INT32_MAX).astype(np.float64)), peak)
    # uint64 host arrays saturate too (jnp.asarray alone wraps them modulo 2**32: 2**32 + 5 -> 5).
    ubig = _pad(np.array([2**32 + 5, 2**63, 2**64 - 1, 7], np.uint64), N_POINTS)
    assert_close_to_peak(s(ubig), ref(np.minimum(ubig, R.INT32_MAX).astype(np.float64)), peak)
    b = int(case.marks[0]) if case.marks else 3
    scalars = [
        (b, b),
        (np.int64(b + 1), b + 1),
        (np.uint32(2**32 - 1), R.INT32_MAX),
        (2**40, R.INT32_MAX),
        (-3, 0),
        (float(b) + 0.5, float(np.float32(b + 0.5))),  # a Python float becomes a float32 step
        (-2.5, 0),
    ]
    for step, seen in scalars:
        out = s(step)
        assert out.shape == () and out.dtype == jnp.float32, (step, out)
        assert_close_to_peak(out, ref(np.float64(seen)), peak)


def check_x64(case: Case) -> None:
    """Under x64 the schedule is float64 and within ~1e-12 of the reference."""
    with jax.enable_x64(True):
        s, ref, peak = case.schedule(), case.reference(), case.peak()
        far = [2**40, 2**52] if case.float_huge else []
        pts = _pad([*R.points_around(*case.marks), *far], N_POINTS)
        steps = {
            "int64": jnp.asarray(pts, jnp.int64),
            "float64": jnp.asarray(pts, jnp.float64),
            "frac": jnp.asarray(case.fractional(), jnp.float64),
            "int32": jnp.asarray(case.points(), jnp.int32),
        }
        out = jax.jit(lambda s, steps: {k: s(v) for k, v in steps.items()})(s, steps)
        for k, step in steps.items():
            assert out[k].dtype == jnp.float64 and out[k].shape == step.shape
            assert_close_to_peak(out[k], ref(np.asarray(step, np.float64)), peak, rtol=1e-12)
        plain = s(2**40)
        assert plain.dtype == jnp.float64
        assert_close_to_peak(plain, ref(np.float64(2**40)), peak, rtol=1e-12)


def _split(tree: Any, n: int) -> tuple[Any, Any]:
    return jax.tree_util.tree_map(lambda x: x[:n], tree), jax.tree_util.tree_map(lambda x: x[n:], tree)


def check_traced_and_grad(case: Case) -> None:
    """Every field traced inside jit: reference values, finite and correct gradients.

    Gradients w.r.t. every float field are finite at, just before and just
    after every boundary (integer and float steps), also for the ``zero``
    settings (zero-length phases); away from the boundaries they match central
    differences of the float64 reference.
    """
    build = case.build
    ints = _arrays(case.ints, jnp.int32)
    if build not in _GRADS:

        def value(p: Params, q: Params, t: jax.Array) -> jax.Array:
            return build(**p, **q)(t)

        vg = jax.vmap(jax.value_and_grad(value), in_axes=(None, None, 0))
        if case.int_grads:
            _GRADS[build] = jax.jit(lambda p, q, ti, tf: (vg(p, q, ti), vg(p, q, tf)))
        else:  # one program for both float arrays
            _GRADS[build] = jax.jit(lambda p, q, ti, tf: _split(vg(p, q, jnp.concatenate([ti, tf])), ti.shape[0]))
    run = _GRADS[build]

    pts = case.points()
    ti = jnp.asarray(pts, jnp.int32)
    inner = case.interior()
    near = [b + d for b in case.marks for d in (-1e-3, 0.0, 1e-3) if b + d >= 0]
    fpts = _pad([*inner, *near], N_POINTS)
    tf = jnp.asarray(fpts, jnp.float32)
    # Where the reference is smooth in the settings: off the marks (and not huge).
    smooth_i = ~np.isin(pts, np.asarray(case.marks, np.float64)) & (pts < 2**24)
    smooth_f = (np.arange(N_POINTS) < len(inner)) & (fpts < 2**24)
    if not case.int_grads:  # the schedule converts steps to float first: integer-valued floats suffice
        ti = jnp.asarray(pts, jnp.float32)
        pts = np.asarray(ti, np.float64)
    for p in [case.params] + ([case.zero] if case.zero is not None else []):
        peak = max(case.peak(p), 1e-30)
        (vi, gi), (vf, gf) = run(_arrays(p, jnp.float32), ints, ti, tf)
        ref = case.reference(p)
        assert_close_to_peak(vi, ref(pts), peak)
        assert_close_to_peak(vf, ref(np.asarray(tf, np.float64)), peak, rtol=2e-6)
        assert all_finite((vi, gi, vf, gf)), (p, gi, gf)
        if p is not case.params:
            continue
        x = np.concatenate([pts[smooth_i].astype(np.float64), np.asarray(tf, np.float64)[smooth_f]])
        cheap = x < case.fd_max
        x = x[cheap]
        for k, v in p.items():
            if k in case.no_fd:
                continue
            got_all = np.concatenate([np.asarray(gi[k], np.float64)[smooth_i], np.asarray(gf[k], np.float64)[smooth_f]])
            got_all = got_all[cheap]
            v = np.asarray(v, np.float64)
            for j in np.ndindex(v.shape):
                if not np.isfinite(v[j]):  # e.g. cycles=inf: nothing to perturb
                    continue
                h = 1e-8 * max(1.0, abs(float(v[j])))  # small: restarts far out move by i * h
                up, dn = v.copy(), v.copy()
                up[j] += h
                dn[j] -= h

                def with_(val: np.ndarray, k: str = k) -> R.Ref:
                    q = dict(p)
                    q[k] = val.tolist() if val.ndim else float(val)
                    return case.reference(q)

                fd = (with_(up)(x) - with_(dn)(x)) / (2 * h)
                got = got_all[(slice(None), *j)]
                tol = 2e-3 * np.abs(fd) + 3e-4 * peak / max(1.0, abs(float(v[j])))
                bad = np.abs(got - fd) > tol
                assert not bad.any(), (k, j, x[bad], got[bad], fd[bad])


# ----------------------------------------------------------------------------- cases


def _c(i: int) -> float:
    """A deterministic spread in [0, 1) for setting i."""
    return ((i * 0.618034) % 1.0) if i else 0.0


CASES = [
    Case(
        "constant",
        lambda value: jaxsched.constant(value),
        R.constant,
        {"value": 0.3},
        (),
        lambda i: {"value": 0.3 + _c(i)},
    ),
    Case(
        "linear-down",
        lambda init_value, end_value, steps: jaxsched.linear(init_value, end_value, steps),
        R.linear,
        {"init_value": 1.0, "end_value": 0.1, "steps": 100.0},
        (100,),
        lambda i: {"init_value": 1.0 + _c(i), "end_value": 0.1 * _c(i), "steps": 100.0 + 13 * i},
        zero={"init_value": 1.0, "end_value": 0.1, "steps": 0.0},
    ),
    Case(
        "linear-up-frac",
        lambda init_value, end_value, steps: jaxsched.linear(init_value, end_value, steps),
        R.linear,
        {"init_value": 0.0, "end_value": 2.0, "steps": 37.5},
        (37.5,),
        lambda i: {"init_value": 0.1 * _c(i), "end_value": 2.0 + i, "steps": 37.5 + i},
    ),
    Case(
        "cosine",
        lambda init_value, end_value, steps: jaxsched.cosine(init_value, end_value, steps),
        R.cosine,
        {"init_value": 1.0, "end_value": 0.1, "steps": 1000.0},
        (1000,),
        lambda i: {"init_value": 1.0 + _c(i), "end_value": 0.01 * i, "steps": 1000.0 + 100 * i},
        zero={"init_value": 1.0, "end_value": 0.1, "steps": 0.0},
    ),
    Case(
        "cosine-exponent",
        lambda init_value, end_value, steps, exponent: jaxsched.cosine(init_value, end_value, steps, exponent),
        R.cosine,
        {"init_value": 2.0, "end_value": 0.0, "steps": 64.0, "exponent": 0.5},
        (64,),
        lambda i: {"init_value": 2.0, "end_value": 0.0, "steps": 64.0 + i, "exponent": 0.5 + _c(i) * 3},
        zero={"init_value": 2.0, "end_value": 0.0, "steps": 0.0, "exponent": 0.0},
    ),
    Case(
        "polynomial",
        lambda init_value, end_value, steps, power: jaxsched.polynomial(init_value, end_value, steps, power),
        R.polynomial,
        {"init_value": 1.0, "end_value": 0.01, "steps": 50.0, "power": 2.0},
        (50,),
        lambda i: {"init_value": 1.0, "end_value": 0.01 * i, "steps": 50.0 + i, "power": 0.5 + _c(i) * 2},
        zero={"init_value": 1.0, "end_value": 0.01, "steps": 0.0, "power": 0.0},
    ),
    Case(
        "polynomial-sqrt",
        lambda init_value, end_value, steps, power: jaxsched.polynomial(init_value, end_value, steps, power),
        R.polynomial,
        {"init_value": 0.5, "end_value": 0.0, "steps": 20.0, "power": 0.5},
        (20,),
        lambda i: {"init_value": 0.5 + i, "end_value": 0.0, "steps": 20.0, "power": 0.5},
        zero={"init_value": 0.5, "end_value": 0.0, "steps": 0.0, "power": 0.5},
    ),
    Case(
        "sqrt-decay",
        lambda init_value, end_value, steps: jaxsched.sqrt_decay(init_value, end_value, steps),
        R.sqrt_decay,
        {"init_value": 1.0, "end_value": 0.0, "steps": 80.0},
        (80,),
        lambda i: {"init_value": 1.0 + _c(i), "end_value": 0.05 * _c(i), "steps": 80.0 + 3 * i},
        zero={"init_value": 1.0, "end_value": 0.0, "steps": 0.0},
    ),
    Case(
        "sqrt-decay-power",
        lambda init_value, end_value, steps, power: jaxsched.sqrt_decay(init_value, end_value, steps, power),
        R.sqrt_decay,
        {"init_value": 1.0, "end_value": 0.2, "steps": 80.0, "power": 2.0},
        (80,),
        lambda i: {"init_value": 1.0, "end_value": 0.2, "steps": 80.0, "power": 0.25 + _c(i) * 3},
        zero={"init_value": 1.0, "end_value": 0.2, "steps": 0.0, "power": 2.0},
    ),
    Case(
        "exponential",
        lambda init_value, decay_rate, decay_steps: jaxsched.exponential(init_value, decay_rate, decay_steps),
        R.exponential,
        {"init_value": 1.0, "decay_rate": 0.5, "decay_steps": 10.0},
        (10, 20, 30),
        lambda i: {"init_value": 1.0 + _c(i), "decay_rate": 0.5 + 0.04 * i, "decay_steps": 10.0 + i},
    ),
    Case(
        "exponential-staircase-floor",
        lambda init_value, decay_rate, decay_steps, end_value: jaxsched.exponential(
            init_value, decay_rate, decay_steps, staircase=True, end_value=end_value
        ),
        lambda **p: R.exponential(staircase=True, **p),
        {"init_value": 1.0, "decay_rate": 0.5, "decay_steps": 10.0, "end_value": 0.2},
        (10, 20, 30),
        lambda i: {"init_value": 1.0, "decay_rate": 0.5 + 0.04 * i, "decay_steps": 10.0 + i, "end_value": 0.02 * i},
    ),
    Case(
        "exponential-growth-ceiling",
        lambda init_value, decay_rate, decay_steps, end_value: jaxsched.exponential(
            init_value, decay_rate, decay_steps, end_value=end_value
        ),
        R.exponential,
        {"init_value": 0.01, "decay_rate": 2.0, "decay_steps": 7.0, "end_value": 1.0},
        (7, 14, 42, 46.5),
        lambda i: {"init_value": 0.01, "decay_rate": 2.0 + 0.1 * i, "decay_steps": 7.0, "end_value": 1.0 + i},
    ),
    Case(
        "inverse-sqrt",
        lambda init_value, timescale: jaxsched.inverse_sqrt(init_value, timescale),
        R.inverse_sqrt,
        {"init_value": 1.0, "timescale": 100.0},
        (100, 300),
        lambda i: {"init_value": 1.0 + _c(i), "timescale": 100.0 + 10 * i},
    ),
    Case(
        "piecewise-constant",
        lambda values, boundaries: jaxsched.piecewise_constant(values, boundaries),
        R.piecewise_constant,
        {"values": [1.0, 0.5, 0.1, 0.05, 0.01], "boundaries": [10.0, 20.0, 20.0, 35.0]},
        (10, 20, 35),
        lambda i: {"values": [1.0 + i, 0.5, 0.1, 0.05 * i, 0.01], "boundaries": [10.0, 20.0 + i, 20.0 + i, 35.0 + i]},
        zero={"values": [1.0, 0.5, 0.1, 0.05, 0.01], "boundaries": [0.0, 0.0, 20.0, 20.0]},
    ),
    Case(
        "piecewise-constant-large",
        lambda values, boundaries: jaxsched.piecewise_constant(values, boundaries),
        R.piecewise_constant,
        {"values": [float(v) for v in np.linspace(1.0, 0.1, 12)], "boundaries": [float(2**k) for k in range(4, 15)]},
        tuple(2**k for k in range(4, 15)) + (2**30,),
        lambda i: {
            "values": [float(v) for v in np.linspace(1.0, 0.1 * i, 12)],
            "boundaries": [float(2**k + i) for k in range(4, 15)],
        },
    ),
    Case(
        "piecewise-linear",
        lambda values, boundaries: jaxsched.piecewise_linear(values, boundaries),
        R.piecewise_linear,
        {"values": [0.1, 1.0, 0.5, 0.2, 0.0], "boundaries": [5.0, 15.0, 40.0, 40.0, 61.0]},
        (5, 15, 40, 61),
        lambda i: {
            "values": [0.1 * i, 1.0, 0.5, 0.2, 0.0],
            "boundaries": [5.0, 15.0 + i, 40.0 + i, 40.0 + i, 61.0 + i],
        },
        zero={"values": [0.1, 1.0, 0.5, 0.2, 0.0], "boundaries": [0.0, 0.0, 40.0, 40.0, 40.0]},
        extra=(7.5, 27.25),
    ),
    Case(  # more knots than a select chain takes: the gathered lookup (jaxsched._base.pick)
        "piecewise-linear-large",
        lambda values, boundaries: jaxsched.piecewise_linear(values, boundaries),
        R.piecewise_linear,
        {
            "values": [float(v) for v in np.linspace(0.0, 1.0, 12) ** 2],
            "boundaries": [float(3 * 2**k) for k in range(12)],
        },
        tuple(3 * 2**k for k in range(12)),
        lambda i: {
            "values": [float(v) for v in np.linspace(0.1 * i, 1.0, 12) ** 2],
            "boundaries": [float(3 * 2**k + i) for k in range(12)],
        },
    ),
    *(
        Case(
            f"cooldown-{name}",
            lambda init_value, end_value, steps, shape: jaxsched.cooldown(init_value, end_value, steps, shape),
            lambda init_value, end_value, steps, shape: [R.linear, R.cosine, R.sqrt_decay][int(shape)](
                init_value, end_value, steps
            ),
            {"init_value": 1.0, "end_value": 0.05, "steps": 300.0},
            (300,),
            lambda i: {"init_value": 1.0 + _c(i), "end_value": 0.05 * i, "steps": 300.0 + 7 * i},
            ints={"shape": k},
            zero={"init_value": 1.0, "end_value": 0.05, "steps": 0.0},
        )
        for k, name in enumerate(("linear", "cosine", "1-sqrt"))
    ),
    Case(
        "piecewise-linear-one-knot",
        lambda values, boundaries: jaxsched.piecewise_linear(values, boundaries),
        R.piecewise_linear,
        {"values": [0.7], "boundaries": [12.0]},
        (12,),
        lambda i: {"values": [0.7 + i], "boundaries": [12.0 + i]},
    ),
]


# One-phase primitives convert the step to float before any arithmetic: their gradients
# are checked at float steps only (integer-valued ones included).
CASES = [c if c.id.startswith("piecewise") else dataclasses.replace(c, int_grads=False) for c in CASES]
# x64: a few representative families
X64_CASES = [
    c
    for c in CASES
    if c.id
    in {
        "linear-down",
        "cosine-exponent",
        "exponential-staircase-floor",
        "inverse-sqrt",
        "piecewise-constant-large",
        "piecewise-linear",
        "piecewise-linear-large",
    }
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_values(case: Case) -> None:
    check_values(case)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_plain_calls(case: Case) -> None:
    check_plain_calls(case)


@pytest.mark.parametrize("case", X64_CASES, ids=str)
def test_x64(case: Case) -> None:
    check_x64(case)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_traced_fields_and_grad(case: Case) -> None:
    check_traced_and_grad(case)


# ----------------------------------------------------------------------------- specifics


def _ev(s: jaxsched.Schedule, t: Any) -> np.ndarray:
    """One-off evaluation under jit (cheaper than eager dispatch for odd shapes)."""
    return np.asarray(_EVAL(s, jnp.asarray(t)))


_EVAL = jax.jit(lambda s, t: s(t))


def test_grid_over_primitive_matches_loop() -> None:
    g = jaxsched.grid(jaxsched.cosine, init_value=[1.0, 0.5], end_value=0.0, steps=[10, 100, 1000])
    t = jnp.arange(0, 1200, 7)
    out = jax.jit(lambda b, t: jax.vmap(lambda s: s(t))(b))(g.schedules, t)
    assert out.shape == (6, t.shape[0]) and out.dtype == jnp.float32
    for i in range(6):
        row = g.row(i)
        assert_close_to_peak(out[i], R.cosine(row["init_value"], 0.0, row["steps"])(np.asarray(t)), 1.0)


def test_exponential_stays_finite_past_overflow() -> None:
    out = _ev(jaxsched.exponential(1.0, 10.0, 1.0), [0, 10, 100, R.INT32_MAX])  # the exponent is capped
    assert all_finite(out)
    assert_close_to_peak(out[:2], [1.0, 1e10], 1e10, rtol=1e-5)  # exp(p log r): error ~ |p log r| eps


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_rate_zero_is_zero_after_step_zero(staircase: bool) -> None:
    # 0**x = 0 for x > 0: the rate was clamped to the smallest normal float, and tiny**(1 / 10) is 1.6e-4
    # (torch's gamma=0 and timm's decay_rate=0 build such a decay; rate 0 is now a factory's value too)
    s = jaxsched.exponential(2.0, 0.0, 10, staircase=staircase)
    want = [2.0, 2.0, 0.0, 0.0, 0.0] if staircase else [2.0, 0.0, 0.0, 0.0, 0.0]
    np.testing.assert_array_equal(_ev(s, [0, 1, 10, 11, R.INT32_MAX]), want)
    assert all_finite(jax.grad(lambda s: s(5.0))(s))


def test_exponential_staircase_holds_between_steps() -> None:
    out = _ev(jaxsched.exponential(1.0, 0.5, 4, staircase=True), np.arange(13))
    np.testing.assert_array_equal(out, np.repeat([1.0, 0.5, 0.25, 0.125], [4, 4, 4, 1]))


def test_piecewise_switch_happens_at_the_boundary() -> None:
    out = _ev(jaxsched.piecewise_constant([3.0, 2.0, 1.0], [5, 5]), [4, 5, 6])
    np.testing.assert_array_equal(out, [3.0, 1.0, 1.0])
    out = _ev(jaxsched.piecewise_linear([0.0, 1.0, 3.0, 2.0], [0, 4, 4, 8]), [0, 2, 3, 4, 6, 8, 9])
    np.testing.assert_allclose(out, [0.0, 0.5, 0.75, 3.0, 2.5, 2.0, 2.0])
    out = _ev(jaxsched.piecewise_linear([0.0, 1.0, 3.0], [0, 4, 4]), [3, 4, 5])  # a jump at the last knot
    np.testing.assert_allclose(out, [0.75, 3.0, 3.0])


def test_cosine_exponent_none_is_exponent_one() -> None:
    t = np.arange(0, 120, 3)
    a = _ev(jaxsched.cosine(1.0, 0.1, 100), t)
    b = _ev(jaxsched.cosine(1.0, 0.1, 100, exponent=1.0), t)
    assert_close_to_peak(a, b, 1.0)
    # exponent None is structure (no leaf), a number is a leaf.
    assert len(jax.tree_util.tree_leaves(jaxsched.cosine(1.0, 0.1, 100))) == 3
    assert len(jax.tree_util.tree_leaves(jaxsched.cosine(1.0, 0.1, 100, exponent=2.0))) == 4


def test_cosine_fractional_exponent_is_accurate_near_the_end() -> None:
    # (1 + cos(pi p)) / 2 cancels near p = 1; a small exponent amplifies the error.
    # With exponent 0.1 the remaining float32 error comes from rounding p = t / T
    # itself (1 - p loses relative precision as p -> 1), hence the looser bound.
    for e, rtol in ((0.5, 1e-6), (0.1, 1e-5)):
        s = jaxsched.cosine(1.0, 0.0, 1000, exponent=e)
        t = np.arange(990, 1001)
        assert_close_to_peak(_ev(s, t), R.cosine(1.0, 0.0, 1000, e)(t), 1.0, rtol=rtol)


_SMALL = float(np.float32(1e-4))  # a one-cycle's first rate, max_lr / 1e4: far below the end value


@pytest.mark.parametrize(
    "make",
    [
        lambda a, b: jaxsched.cosine(a, b, 30),
        lambda a, b: jaxsched.cosine(a, b, 30, exponent=2.0),
        lambda a, b: jaxsched.polynomial(a, b, 30, 2.0),
        lambda a, b: jaxsched.cooldown(a, b, 30, "linear"),
        lambda a, b: jaxsched.linear(a, b, 30),
    ],
    ids=["cosine", "cosine-exponent", "polynomial", "cooldown-linear", "linear"],
)
@pytest.mark.parametrize("x64", [False, True])
def test_decays_are_exact_at_both_ends(make: Any, x64: bool) -> None:
    # end + (init - end) * 1 rounds init to the precision of end: 1e-4 came out 1.00017e-4 (float32) at the
    # start of a cosine to 1.0 (a one-cycle's first phase; found by fuzzing). Both ends are settings.
    # (sqrt_decay and the 1-sqrt / cosine cooldowns keep the plain blend, WSD's cost: DESIGN.md.)
    with jax.enable_x64(x64):
        for a, b in ((_SMALL, 1.0), (1.0, _SMALL), (-3.0, 1e-7)):
            s = make(a, b)
            dt = np.float64 if x64 else np.float32
            got = np.asarray(s(np.asarray([0, 30], np.int32)), np.float64)
            np.testing.assert_array_equal(got, [float(dt(a)), float(dt(b))])
            grads = jax.grad(lambda s: s(7.0), allow_int=True)(s)  # (float0 for an int shape leaf)
            assert all(np.isfinite(g).all() for g in jax.tree_util.tree_leaves(grads) if g.dtype.kind == "f")


def test_blend_has_the_plain_forms_derivative() -> None:
    from jaxsched.functional import blend

    f = jnp.linspace(0.0, 1.0, 11, dtype=jnp.float32)
    ours = jax.vmap(jax.grad(blend, argnums=(0, 1, 2)), (None, None, 0))(2.0, 0.5, f)
    plain = jax.vmap(jax.grad(lambda i, e, f: e + (i - e) * f, argnums=(0, 1, 2)), (None, None, 0))(2.0, 0.5, f)
    for x, y in zip(ours, plain):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(blend(2.0, 0.5, f)), np.asarray(0.5 + 1.5 * f), rtol=1e-6)


def test_huge_phase_lengths_are_exact_at_the_end() -> None:
    n = 2**31 - 1
    t = np.asarray([0, n - 1, n, n // 2])
    out = _ev(jaxsched.linear(1.0, 0.0, n), t.astype(np.int32))
    assert_close_to_peak(out, R.linear(1.0, 0.0, float(np.float32(n)))(t), 1.0)
    assert float(out[2]) == 0.0


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16])
def test_progress_stays_at_most_one_below_the_end_without_a_clip(dtype: Any) -> None:
    # functional._unit_ratio has no upper clip: where t < D, t * (1 / D) must round to at most 1.
    # The worst case is the float just below D; lengths span every binade, mantissas at random.
    from jaxsched import functional as F

    fi = np.finfo(dtype)
    rng = np.random.default_rng(0)
    exps = rng.uniform(np.log2(float(fi.tiny)) + 2, np.log2(float(fi.max)) - 1, 200_000)
    d = np.concatenate([np.exp2(np.floor(exps)), np.exp2(exps)]).astype(dtype)  # powers of two and others
    d = d[np.isfinite(d) & (d >= fi.tiny)]
    below = np.nextafter(d, np.zeros((), dtype))
    for t in (below, np.nextafter(below, np.zeros((), dtype)), d * dtype(0.9999)):
        p = np.asarray(jax.jit(F.progress)(jnp.asarray(t), jnp.asarray(d)))
        assert p.max() <= 1.0 and p.min() >= 0.0
    assert np.all(np.asarray(jax.jit(F.progress)(jnp.asarray(d), jnp.asarray(d))) == 1.0)
    # so a linear decay never passes its end value (its ends are exact: test_values)
    lin = np.asarray(jax.jit(F.linear)(jnp.asarray(below), dtype(1.0), dtype(0.5), jnp.asarray(d)))
    assert lin.min() >= 0.5


@pytest.mark.parametrize(
    "make",
    [
        lambda: jaxsched.constant(0.7),
        lambda: jaxsched.linear(1.0, 0.1, 10.0),
        lambda: jaxsched.cosine(1.0, 0.1, 10.0, exponent=1.5),
        lambda: jaxsched.polynomial(1.0, 0.1, 10.0, power=2.0),
        lambda: jaxsched.sqrt_decay(1.0, 0.1, 10.0),
        lambda: jaxsched.Cooldown(*(jnp.asarray(v) for v in (1.0, 0.1, 10.0)), jnp.asarray(1)),
        lambda: jaxsched.repeat(jaxsched.cosine(1.0, 0.1, 10.0), 10.0, period_mult=1.5, decay=0.5, cycles=3.0),
    ],
    ids=["constant", "linear", "cosine", "polynomial", "sqrt_decay", "cooldown", "repeat"],
)
def test_negative_ok_classes_hold_their_start_below_zero(make: Any) -> None:
    # Combinators skip clipping a local step at 0 for these (_negative_ok). They only need finite values
    # and gradients there (join checks that in test_combinators); the primitives promise more: below 0
    # they give the step-0 value and the step-0 gradient w.r.t. every leaf (and none w.r.t. the step).
    s = make()
    assert type(s)._negative_ok
    neg = jnp.asarray([-0.5, -3.0, -1e6], jnp.float32)
    np.testing.assert_array_equal(np.asarray(s._eval(neg)), np.full(3, float(s._eval(jnp.float32(0.0)))))
    at_neg = jax.grad(lambda s: s._eval(neg).sum(), allow_int=True)(s)
    at_zero = jax.grad(lambda s: 3.0 * s._eval(jnp.float32(0.0)), allow_int=True)(s)
    for a, b in zip(jax.tree_util.tree_leaves(at_neg), jax.tree_util.tree_leaves(at_zero)):
        if jnp.issubdtype(a.dtype, jnp.floating):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=0)
    assert float(jnp.abs(jax.grad(lambda x: s._eval(x).sum())(neg)).max()) == 0.0


def test_clamp_is_clip_as_selects() -> None:
    # _base.clamp: the values of jnp.clip for every non-NaN input (bounds, infinities, signed zeros),
    # a NaN passes through, bounds may be traced per setting (vmap), and the slope at a bound is dx.
    from jaxsched._base import clamp

    x = jnp.asarray([-jnp.inf, -3.0, -0.0, 0.0, 0.5, 1.0, 2.0, jnp.inf, 1e30], jnp.float32)
    for lo, hi in ((0.0, 1.0), (None, 1.0), (0.0, None), (-1.0, 1e30)):
        want = jnp.clip(x, lo, hi)
        for got in (clamp(x, lo, hi), jax.jit(clamp, static_argnums=(1, 2))(x, lo, hi)):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=f"{lo} {hi}")
    assert bool(jnp.isnan(clamp(jnp.float32(jnp.nan), 0.0, 1.0)))
    los, his = jnp.asarray([0.0, 0.25]), jnp.asarray([1.0, 0.5])
    out = jax.vmap(lambda lo, hi: clamp(x, lo, hi))(los, his)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(jnp.clip(x[None], los[:, None], his[:, None])))
    assert float(jax.grad(lambda v: clamp(v, 0.0, 1.0))(jnp.float32(1.0))) == 1.0
    assert float(jax.grad(lambda v: clamp(v, 0.0, 1.0))(jnp.float32(2.0))) == 0.0


def test_unit_sqrt_is_safe_sqrt_on_a_progress() -> None:
    # _base.unit_sqrt (1-sqrt decays, sqrt_decay with power None): safe_sqrt's values and gradients on
    # [0, 1], computed by one sqrt (the guard against sqrt's inf slope at 0 lives in the JVP alone).
    from jaxsched._base import safe_sqrt, unit_sqrt

    rng = np.random.default_rng(0)
    p = np.concatenate([[0.0, np.finfo(np.float32).tiny, 1e-30, 0.25, 1 - 2**-24, 1.0], rng.random(2000)])
    x = jnp.asarray(p, jnp.float32)
    for f in (unit_sqrt, jax.jit(unit_sqrt)):
        np.testing.assert_array_equal(np.asarray(f(x)), np.asarray(safe_sqrt(x)))
    g_unit, g_safe = (jax.vmap(jax.grad(f))(x) for f in (unit_sqrt, safe_sqrt))
    np.testing.assert_array_equal(np.asarray(g_unit), np.asarray(g_safe))
    assert float(g_unit[0]) == 0.0 and all_finite(g_unit)
    assert float(jax.jvp(unit_sqrt, (jnp.float32(0.0),), (jnp.float32(1.0),))[1]) == 0.0
    assert "select_n" not in str(jax.make_jaxpr(unit_sqrt)(x)) and "select_n" in str(jax.make_jaxpr(safe_sqrt)(x))


def test_repr_shows_each_leaf_in_its_own_precision() -> None:
    import re

    s = jaxsched.warmup_cosine(3e-4, 1000, 100)
    assert repr(s) == (
        "Warmup(schedule=Cosine(init_value=0.0003, end_value=0.0, steps=900.0, exponent=None), "
        "steps=100.0, init_value=0.0, target=0.0003)"
    )
    batch = jaxsched.stack([jaxsched.cosine(1e-3, 0.0, 10), jaxsched.cosine(0.1, 0.0, 10)])
    assert "init_value=[0.001, 0.1]" in repr(batch)
    assert repr(jaxsched.select(1, [jaxsched.constant(1.0), jaxsched.constant(2.0)])).startswith("Select(index=1, ")
    assert "cycles=inf" in repr(jaxsched.repeat(jaxsched.constant(1.0), 10, cycles=np.inf))
    # Every number shown reads back to the leaf it shows (float32 here).
    for text in ("0.0003", "0.001", "0.1"):
        assert re.search(rf"\b{re.escape(text)}\b", repr(s) + repr(batch))
    assert np.float32(float("0.0003")) == np.asarray(s.target)
    jax.jit(lambda s: repr(s) and s(0))(s)  # tracers: their own repr, no error
    # bfloat16 (NumPy's str of it is not the shortest): the shortest text that reads back in bfloat16
    from jaxsched._primitives import Cosine

    bf = Cosine(*(jnp.asarray(x, jnp.bfloat16) for x in ([0.1, 1.0], [3e-4, jnp.inf], [1000.0, 7.0])), None)
    assert repr(bf) == "Cosine(init_value=[0.1, 1.0], end_value=[0.0003, inf], steps=[1000.0, 7.0], exponent=None)"


def test_polynomial_without_a_power_is_the_linear_decay_as_structure() -> None:
    # power=None (the default; the ports map their peers' default 1 to it) is the linear decay with no
    # power per step: the values of a leaf of 1 to the bit (the power returns its base at 1), a grid mixing it
    # with powers runs each as a leaf, and configs keep null. A float64 reference at b - 1, b, b + 1.
    from jaxsched.compat import keras as K
    from jaxsched.compat import optax as O
    from jaxsched.compat import torch as T
    from jaxsched.compat import transformers as H

    k = jnp.asarray(np.concatenate([np.arange(0, 40), [9, 10, 11, 99, 100, 101, 2**20]]), jnp.int32)
    x = jnp.asarray([0.25, 4.5, 9.75, 10.0, 12.5], jnp.float32)
    s, leaf = jaxsched.polynomial(1.0, 0.1, 10), jaxsched.polynomial(1.0, 0.1, 10, 1.0)
    assert s.power is None and leaf.power is not None
    for t in (k, x):
        np.testing.assert_array_equal(np.asarray(s(t)), np.asarray(leaf(t)))
        ref = R.polynomial(1.0, 0.1, 10.0, 1.0)(np.asarray(t, np.float64))
        assert_close_to_peak(s(t), ref, 1.0, 2e-7)
    batch = jaxsched.stack([s, jaxsched.polynomial(1.0, 0.1, 10, 2.0)])
    assert batch.power.shape == (2,)
    rows = np.asarray(jax.vmap(lambda b: b(k))(batch))
    np.testing.assert_array_equal(rows[0], np.asarray(s(k)))
    np.testing.assert_array_equal(rows[1], np.asarray(jaxsched.polynomial(1.0, 0.1, 10, 2.0)(k)))
    back = jaxsched.from_config(jaxsched.to_config(s))
    assert back.power is None
    g = jax.grad(lambda a, n: jaxsched.polynomial(a, 0.1, n)(x).sum(), argnums=(0, 1))(1.0, 10.0)
    assert all_finite(g) and all(float(v) != 0.0 for v in g)
    # the ports' default power of 1 (concrete) is None; any other power, or a traced one, a leaf
    ports = {
        "keras": lambda p: K.PolynomialDecay(1.0, 10, 0.1, power=p),
        "keras-cycle": lambda p: K.PolynomialDecay(1.0, 10, 0.1, power=p, cycle=True),
        "torch": lambda p: T.PolynomialLR(1.0, 10, power=p).factor,
        "optax": lambda p: O.polynomial_schedule(1.0, 0.1, p, 10).schedule,
        "transformers": lambda p: H.get_polynomial_decay_schedule_with_warmup(1.0, 0, 10, 0.1, power=p)
        .schedule.schedules[0],
    }
    for name, make in ports.items():
        assert make(1.0).power is None and make(2.0).power is not None, name

        def traced(p: jax.Array, make: Any = make) -> jax.Array:
            node = make(p)
            assert node.power is not None  # a traced power stays a leaf
            return node(k)

        np.testing.assert_array_equal(np.asarray(jax.jit(traced)(1.0)), np.asarray(make(1.0)(k)), err_msg=name)
