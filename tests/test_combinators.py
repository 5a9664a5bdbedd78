"""Combinators (join, warmup, select, repeat) and arithmetic against the float64 reference.

The generic checks come from ``test_primitives.py`` (values for every step
kind, plain calls, x64, jit/vmap with one trace, traced fields with finite and
correct gradients); the cases below build nested schedules from their params,
so boundaries, phase lengths, periods and growth factors are traced leaves too.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as R
from helpers import all_finite, assert_close_to_peak
from test_primitives import (
    N_POINTS,
    Case,
    _c,
    _ev,
    _pad,
    check_plain_calls,
    check_traced_and_grad,
    check_values,
    check_x64,
)

import jaxsched as js
from jaxsched._base import pytree


def _restarts(period: float, mult: float, n: int) -> tuple[float, ...]:
    """The first ``n`` restart steps S_1..S_n (exact for binary-representable settings)."""
    out, s, length = [], 0.0, float(period)
    for _ in range(n):
        s += length
        length *= mult
        out.append(s)
    return tuple(out)


# ----------------------------------------------------------------------------- join


def _join_warmup_cosine(peak: float, end: float, w: float, d: float) -> js.Schedule:
    return js.join([js.linear(0.0, peak, w), js.cosine(peak, end, d)], [w])


def _ref_join_warmup_cosine(peak: float, end: float, w: float, d: float) -> R.Ref:
    return R.join([R.linear(0.0, peak, w), R.cosine(peak, end, d)], [w])


def _join_mixed(a: float, b: float, c: float, b1: float, b2: float, b3: float) -> js.Schedule:
    # a constant, a linear piece, a cosine over [b2, b3), then exponential decay
    return js.join(
        [js.constant(a), js.linear(a, b, 20.0), js.cosine(b, c, b3 - b2), js.exponential(c, 0.5, 10.0)],
        [b1, b2, b3],
    )


def _ref_join_mixed(a: float, b: float, c: float, b1: float, b2: float, b3: float) -> R.Ref:
    return R.join(
        [R.constant(a), R.linear(a, b, 20.0), R.cosine(b, c, b3 - b2), R.exponential(c, 0.5, 10.0)],
        [b1, b2, b3],
    )


def _join_same_family(values: Any, boundaries: Any) -> js.Schedule:
    # cosine, linear, cosine, linear, cosine: two families, each evaluated once with gathered params
    v, b = values, boundaries
    starts = [0.0, *[b[i] for i in range(4)]]
    ends = [b[i] for i in range(4)]
    pieces = []
    for i in range(5):
        length = (ends[i] - starts[i]) if i < 4 else 25.0
        f = js.cosine if i % 2 == 0 else js.linear
        pieces.append(f(v[i], v[i + 1], length))
    return js.join(pieces, b)


def _ref_join_same_family(values: Any, boundaries: Any) -> R.Ref:
    v, b = [float(x) for x in values], [float(x) for x in boundaries]
    starts = [0.0, *b]
    pieces = []
    for i in range(5):
        length = (b[i] - starts[i]) if i < 4 else 25.0
        f = R.cosine if i % 2 == 0 else R.linear
        pieces.append(f(v[i], v[i + 1], length))
    return R.join(pieces, b)


SF_VALUES = [1.0, 0.6, 0.8, 0.3, 0.4, 0.0]
SF_BOUNDS = [10.0, 25.0, 30.0, 50.0]

JOIN_CASES = [
    Case(
        "join-warmup-cosine",
        _join_warmup_cosine,
        _ref_join_warmup_cosine,
        {"peak": 1.0, "end": 0.1, "w": 10.0, "d": 90.0},
        (10, 100),
        lambda i: {"peak": 1.0 + _c(i), "end": 0.01 * i, "w": 10.0 + 5 * i, "d": 90.0 + i},
        zero={"peak": 1.0, "end": 0.1, "w": 0.0, "d": 0.0},
    ),
    Case(
        "join-mixed-equal-boundaries",
        _join_mixed,
        _ref_join_mixed,
        {"a": 0.5, "b": 1.0, "c": 0.2, "b1": 10.0, "b2": 10.0, "b3": 40.0},
        (10, 40, 50, 60),
        lambda i: {"a": 0.5, "b": 1.0 + _c(i), "c": 0.2, "b1": 10.0 + i, "b2": 10.0 + 2 * i, "b3": 40.0 + 3 * i},
        zero={"a": 0.5, "b": 1.0, "c": 0.2, "b1": 0.0, "b2": 0.0, "b3": 0.0},
    ),
    Case(
        "join-same-family",
        _join_same_family,
        _ref_join_same_family,
        {"values": SF_VALUES, "boundaries": SF_BOUNDS},
        (10, 25, 30, 50, 75),
        lambda i: {
            "values": [1.0 + i, 0.6, 0.8, 0.3 * _c(i), 0.4, 0.0],
            "boundaries": [10.0, 25.0 + i, 30.0 + i, 50.0 + 2 * i],
        },
        zero={"values": SF_VALUES, "boundaries": [10.0, 10.0, 10.0, 50.0]},
    ),
    Case(
        "join-large-boundary",  # exact local steps around 2**30 in float32
        lambda a, b, n: js.join([js.constant(a), js.linear(a, b, n)], [2.0**30]),
        lambda a, b, n: R.join([R.constant(a), R.linear(a, b, n)], [2.0**30]),
        {"a": 1.0, "b": 0.0, "n": 100.0},
        (2**30, 2**30 + 50, 2**30 + 100),
        lambda i: {"a": 1.0 + i, "b": 0.1 * i, "n": 100.0 + i},
    ),
    Case(
        "join-traced-large-boundary",
        lambda a, bd: js.join([js.constant(a), js.linear(a, 0.0, 64.0)], [bd]),
        lambda a, bd: R.join([R.constant(a), R.linear(a, 0.0, 64.0)], [bd]),
        {"a": 1.0, "bd": 2.0**30 + 128.0},
        (2**30 + 128, 2**30 + 128 + 32, 2**30 + 128 + 64),
        lambda i: {"a": 1.0 + i, "bd": 2.0**30 + 128.0 * (i + 1)},
    ),
    Case(
        "join-fractional-boundary",
        lambda b1: js.join([js.linear(0.0, 1.0, b1), js.linear(1.0, 0.0, 20.0)], [b1]),
        lambda b1: R.join([R.linear(0.0, 1.0, b1), R.linear(1.0, 0.0, 20.0)], [b1]),
        {"b1": 10.5},
        (10.5, 30.5),
        lambda i: {"b1": 10.5 + 0.25 * i},
        zero={"b1": 0.0},
        extra=(10.25, 10.75, 11.0),
    ),
    Case(
        "join-one-piece",
        lambda a, n: js.join([js.cosine(a, 0.0, n)], []),
        lambda a, n: R.join([R.cosine(a, 0.0, n)], []),
        {"a": 1.0, "n": 30.0},
        (30,),
        lambda i: {"a": 1.0 + i, "n": 30.0 + i},
    ),
]


# ----------------------------------------------------------------------------- warmup, select

WARMUP_CASES = [
    Case(
        "warmup-constant",
        lambda v, w, init: js.warmup(js.constant(v), w, init),
        lambda v, w, init: R.warmup(R.constant(v), w, init),
        {"v": 1.0, "w": 16.0, "init": 0.0},
        (16,),
        lambda i: {"v": 1.0 + _c(i), "w": 16.0 + i, "init": 0.01 * i},
        zero={"v": 1.0, "w": 0.0, "init": 0.0},
    ),
    Case(
        "warmup-cosine",
        lambda peak, end, w, d, init: js.warmup(js.cosine(peak, end, d), w, init),
        lambda peak, end, w, d, init: R.warmup(R.cosine(peak, end, d), w, init),
        {"peak": 2.0, "end": 0.2, "w": 25.0, "d": 75.0, "init": 0.1},
        (25, 100),
        lambda i: {"peak": 2.0, "end": 0.2 * _c(i), "w": 25.0 + i, "d": 75.0 + 2 * i, "init": 0.1},
        zero={"peak": 2.0, "end": 0.2, "w": 0.0, "d": 0.0, "init": 0.1},
    ),
    Case(
        "warmup-fractional",
        lambda w: js.warmup(js.linear(1.0, 0.0, 10.0), w),
        lambda w: R.warmup(R.linear(1.0, 0.0, 10.0), w),
        {"w": 4.5},
        (4.5, 14.5),
        lambda i: {"w": 4.5 + i},
        extra=(4.25, 4.75),
    ),
]


def _select(index: Any, a: float, b: float, n: float) -> js.Schedule:
    return js.select(index, [js.constant(a), js.linear(a, b, n), js.cosine(a, b, n)])


def _ref_select(index: Any, a: float, b: float, n: float) -> R.Ref:
    return R.select(int(index), [R.constant(a), R.linear(a, b, n), R.cosine(a, b, n)])


SELECT_CASES = [
    Case(
        f"select-{k}",
        _select,
        _ref_select,
        {"a": 1.0, "b": 0.1, "n": 50.0},
        (50,),
        lambda i, k=k: {"index": (k + i) % 3, "a": 1.0 + _c(i), "b": 0.1, "n": 50.0 + i},
        ints={"index": k},
        zero={"a": 1.0, "b": 0.1, "n": 0.0},
    )
    for k in range(3)
]


# ----------------------------------------------------------------------------- repeat


def _rep(period: float, mult: float, decay: float, cycles: float, low: float) -> js.Schedule:
    return js.repeat(js.cosine(1.0, low, period), period, mult, decay, cycles)


def _ref_rep(period: float, mult: float, decay: float, cycles: float, low: float) -> R.Ref:
    return R.repeat(R.cosine(1.0, low, period), period, mult, decay, cycles)


def _rep_case(
    id: str,
    period: float,
    mult: float,
    n: int,
    decay: float = 1.0,
    cycles: float = math.inf,
    marks: tuple[float, ...] = (),
    **kw: Any,
) -> Case:
    p = {"period": period, "mult": mult, "decay": decay, "cycles": cycles, "low": 0.05}

    def vary(i: int) -> dict[str, float]:
        q = dict(p)
        q["low"] = 0.05 + 0.01 * i
        q["decay"] = decay * (1.0 - 0.02 * i)
        return q

    # float32 steps beyond 2**24 cannot resolve a cycle: no huge float32 steps for restarts
    # Finite differences perturb period_mult off 1 or off a short binary fraction, which makes
    # the exact rational reference expensive per cycle: check gradients within ~40 cycles.
    # Far out, a restart S_i moves by ~S_i * h / P under the perturbation h: stay below 1e6.
    fd_max = min(_restarts(period, mult, 40)[-1], 1e6)
    return Case(
        id,
        _rep,
        _ref_rep,
        p,
        marks or _restarts(period, mult, n),
        vary,
        float_huge=False,
        no_fd=("cycles",),
        fd_max=fd_max,
        **kw,
    )


# More integer settings (period 1 with growth 10, period 3 with growth 2, ...), every restart
# below 2**31 and 1000 cycles are checked by the specific tests further down.
REPEAT_CASES = [
    _rep_case(
        "repeat-equal-decay-cycles",
        7.0,
        1.0,
        5,
        decay=0.5,
        cycles=4.0,
        zero={"period": 7.0, "mult": 1.0, "decay": 0.0, "cycles": 2.0, "low": 0.0},
    ),
    _rep_case("repeat-mult3", 1.0, 3.0, 15, decay=0.9),
    # 11 restarts: float steps 1e-3 off a restart resolve it where 1e-3 exceeds the restart point's doubt
    # ((3 + 1.25 i log m) eps relative, see _repeat; 1e-3 below the 12th, at 1029.97, is inside it in float32).
    _rep_case(
        "repeat-mult1.5",
        4.0,
        1.5,
        11,
        decay=0.8,
        zero={"period": 4.0, "mult": 1.0, "decay": 0.0, "cycles": 1.0, "low": 0.0},
    ),
    _rep_case("repeat-mult0.5-cycles", 16.0, 0.5, 5, decay=0.9, cycles=5.0),
]


# ----------------------------------------------------------------------------- arithmetic

ARITH_CASES = [
    Case(
        "clip",
        lambda lo, hi, n: js.clip(js.linear(0.0, 2.0, n), lo, hi),
        lambda lo, hi, n: R.clip(R.linear(0.0, 2.0, n), lo, hi),
        {"lo": 0.3, "hi": 1.5, "n": 20.0},
        (3, 15, 20),  # crossings of lo and hi, end of the ramp
        lambda i: {"lo": 0.3, "hi": 1.5 + 0.01 * i, "n": 20.0 + i},
        zero={"lo": 0.3, "hi": 0.3, "n": 0.0},
    ),
    Case(
        "clip-one-sided",
        lambda hi: js.clip(js.linear(0.0, 2.0, 20.0), hi=hi),
        lambda hi: R.clip(R.linear(0.0, 2.0, 20.0), hi=hi),
        {"hi": 1.5},
        (15, 20),
        lambda i: {"hi": 1.5 - 0.1 * i},
    ),
    Case(
        "minimum",
        lambda n1, n2, c: js.minimum(js.cosine(1.0, 0.0, n1), js.linear(0.0, 2.0, n2), c),
        lambda n1, n2, c: R.minimum(R.cosine(1.0, 0.0, n1), R.linear(0.0, 2.0, n2), c),
        {"n1": 100.0, "n2": 50.0, "c": 0.8},
        (20, 29.52, 50, 100),  # linear hits 0.8 at 20; the cosine falls below it at 29.52
        lambda i: {"n1": 100.0 + i, "n2": 50.0, "c": 0.8 - 0.02 * i},
        extra=(29.5,),
    ),
    Case(
        "maximum",
        lambda n, c: js.maximum(js.cosine(1.0, 0.0, n), c),
        lambda n, c: R.maximum(R.cosine(1.0, 0.0, n), c),
        {"n": 100.0, "c": 0.25},
        (66.67, 100),
        lambda i: {"n": 100.0 + i, "c": 0.25 + 0.01 * i},
    ),
    Case(
        "sum",
        lambda a, n, c: js.cosine(a, 0.0, n) + c + js.linear(0.0, a, n),
        lambda a, n, c: R.sum_of(R.cosine(a, 0.0, n), c, R.linear(0.0, a, n)),
        {"a": 1.0, "n": 40.0, "c": 0.1},
        (40,),
        lambda i: {"a": 1.0 + i, "n": 40.0 + i, "c": 0.1 * i},
        zero={"a": 1.0, "n": 0.0, "c": 0.1},
    ),
    Case(
        "product-scale",
        lambda w, n, f: f * js.linear(0.0, 1.0, w) * js.cosine(1.0, 0.1, n),
        lambda w, n, f: R.product_of(f, R.linear(0.0, 1.0, w), R.cosine(1.0, 0.1, n)),
        {"w": 10.0, "n": 100.0, "f": 2.0},
        (10, 100),
        lambda i: {"w": 10.0 + i, "n": 100.0, "f": 2.0 + i},
        zero={"w": 0.0, "n": 0.0, "f": 2.0},
    ),
    Case(
        "sub-neg-div",
        lambda a, c, d: -(js.linear(a, 0.0, 30.0) - c) / d + (c - js.constant(a)),
        lambda a, c, d: R.sum_of(R.scale(R.sum_of(R.linear(a, 0.0, 30.0), -c), -1.0 / d), c - a),
        {"a": 1.0, "c": 0.25, "d": 4.0},
        (30,),
        lambda i: {"a": 1.0 + i, "c": 0.25, "d": 4.0 + i},
    ),
]

CASES = JOIN_CASES + WARMUP_CASES + SELECT_CASES + REPEAT_CASES + ARITH_CASES
# Host-side step handling and x64 do not depend on the combinator: a representative few.
SOME = [c for c in CASES if c.id in {"join-mixed-equal-boundaries", "warmup-cosine", "select-1", "repeat-mult3", "sum"}]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_values(case: Case) -> None:
    check_values(case)


@pytest.mark.parametrize("case", SOME, ids=str)
def test_plain_calls(case: Case) -> None:
    check_plain_calls(case)


@pytest.mark.parametrize("case", SOME, ids=str)
def test_x64(case: Case) -> None:
    check_x64(case)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_traced_fields_and_grad(case: Case) -> None:
    check_traced_and_grad(case)


# ----------------------------------------------------------------------------- specifics


def test_join_pieces_see_their_local_step() -> None:
    # A join of non-constant pieces: a wrong local step changes every value.
    s = js.join([js.linear(0.0, 1.0, 4), js.linear(5.0, 1.0, 4), js.linear(10.0, 20.0, 10)], [4, 6])
    out = _ev(s, np.arange(12))
    np.testing.assert_allclose(out, [0.0, 0.25, 0.5, 0.75, 5.0, 4.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0], rtol=1e-6)


# Two programs with the same arithmetic may still round an ulp apart (XLA vectorises each loop its own
# way, with its own contractions): equal in the tests of structure means within two ulps of the peak.
ULPS = 2.4e-7


def _rep_lin(
    period: float, mult: float | None = 1.0, decay: float = 1.0, cycles: float = math.inf, low: float = 0.0
) -> Any:
    """``repeat(linear(1, low, P), ...)`` and its reference: one program structure for all tests below
    (and one more for ``mult=None``, equal periods as structure)."""
    m = None if mult is None else float(mult)
    s = js.repeat(js.linear(1.0, low, float(period)), float(period), m, float(decay), float(cycles))
    return s, R.repeat(R.linear(1.0, low, period), period, 1.0 if mult is None else mult, decay, cycles)


def _ev_padded(s: js.Schedule, k: Any, dtype: Any) -> np.ndarray:
    """Evaluate at steps ``k`` padded to N_POINTS: one compile per dtype for every setting."""
    k = np.asarray(k)
    return _ev(s, _pad(k, N_POINTS).astype(dtype))[: len(k)]


@pytest.mark.parametrize(
    "period, mult", [(1, 3), (1, 10), (1, 2), (3, 2), (2, 7), (5, 1), (1, 1), (5, None), (1, None)]
)
def test_repeat_restarts_exactly_at_every_integer_restart(period: int, mult: int | None) -> None:
    """At every restart step below 2**31 the value is the cycle's peak (no floored log)."""
    restarts, s, length = [], 0, period
    while s + length <= R.INT32_MAX and len(restarts) < N_POINTS // 2:
        s += length
        length *= mult or 1
        restarts.append(s)
    if mult in (1, None):  # equal cycles: the last restarts below 2**31 too
        last = (R.INT32_MAX // period) * period
        restarts[-4:] = [last - 3 * period, last - 2 * period, last - period, last]
    n = len(restarts)
    k = np.asarray(restarts, np.int64)
    sched, _ = _rep_lin(period, mult)
    at = _ev_padded(sched, np.concatenate([k, k - 1]), np.int32)
    np.testing.assert_array_equal(at[:n], 1.0)
    prev_len = np.asarray([period * (mult or 1) ** i for i in range(n)], np.float64)
    assert_close_to_peak(at[n:], 1.0 / prev_len, 1.0)  # the previous cycle's last step
    small = k[k < 2**24]  # float32 steps hold these integers exactly
    np.testing.assert_array_equal(_ev_padded(sched, small, np.float32), 1.0)
    # also without the exact integer path (steps below its limit only take the closed form)
    np.testing.assert_array_equal(_ev_padded(sched, k[k < 2**17], np.int32), 1.0)


def test_repeat_known_floored_log_cases() -> None:
    # The cases where torch / Keras / timm land in the previous cycle; plain scalar calls.
    # (period, growth, restart step, length of the cycle before it)
    for period, mult, k, prev in [
        (1.0, 3.0, 121, 81),
        (1.0, 10.0, 111, 100),
        (1.0, 10.0, 11111, 10**4),
        (1.0, 2.0, 8191, 4096),
    ]:
        s, _ = _rep_lin(period, mult)
        assert float(s(k)) == 1.0, (period, mult, k)
        assert float(s(float(k))) == 1.0, (period, mult, k)
        assert float(s(k - 1)) == pytest.approx(1.0 / prev, abs=1e-6)


@pytest.mark.parametrize(
    "period, mult, decay, cycles, low, k",
    [
        # 1000 cycles, then the last cycle's end value holds
        (10, 1.0, 0.99, 1000, 0.0, [0, 5, 9990, 9995, 9999, 10000, 10005, R.INT32_MAX]),
        # equal cycles far out (exact integer arithmetic), as a leaf and as structure (None)
        (10, 1.0, 1.0, math.inf, 0.1, [10**6, 10**6 + 3, 10**6 + 10, 2**30 + 7, 2**30 + 10, R.INT32_MAX]),
        (10, None, 0.9, math.inf, 0.1, [0, 9, 10, 10**6, 10**6 + 3, 10**6 + 10, 2**30 + 7, 2**30 + 10, R.INT32_MAX]),
        (2.5, None, 1.0, 7.5, 0.0, [0, 2, 3, 5, 7, 17, 19, 20, 21, 10**5, 2**17 + 1, 10**6]),
        # cycles=2.5 runs three cycles (0, 1, 2), then holds cycle 2's end value
        (10, 1.0, 0.5, 2.5, 0.5, [0, 10, 20, 29, 30, 31, 1000]),
        (10, None, 0.5, 2.5, 0.5, [0, 10, 20, 29, 30, 31, 1000]),
        # cycles=0 runs none: the end value from the start (timm's cycle_limit=0); 0.5 runs one
        (10, 1.0, 0.5, 0, 0.5, [0, 1, 9, 10, 11, 1000]),
        (10, 2.0, 0.5, 0.5, 0.5, [0, 1, 9, 10, 11, 1000]),
        # growth 2 with decay, far out
        (1, 2.0, 0.9, math.inf, 0.0, [2**24 - 1, 2**25 - 2, 2**25 - 1, 2**25, 2**30 - 1, 2**31 - 2, R.INT32_MAX]),
        # fractional growth 1.5 (restarts 4, 10, 19, 32.5, 52.75, ...)
        (4, 1.5, 0.8, math.inf, 0.0, [3, 4, 9, 10, 19, 32, 33, 52, 53, 10**4, 10**6]),
        # shrinking cycles accumulate at P / (1 - m) = 32; the cycle limit holds the end value
        (16, 0.5, 1.0, 6, 0.0, [0, 15, 16, 23, 24, 28, 30, 31, 40, 10**6]),
    ],
)
def test_repeat_against_reference(
    period: float, mult: float | None, decay: float, cycles: float, low: float, k: Any
) -> None:
    s, ref = _rep_lin(period, mult, decay, cycles, low)
    k = np.asarray(k, np.int64)
    assert_close_to_peak(_ev_padded(s, k, np.int32), ref(k), 1.0, rtol=2e-6)
    kf = np.asarray([x for x in k if x < 2**24] + [x + 0.5 for x in k if x < 2**24])
    assert_close_to_peak(_ev_padded(s, kf, np.float32), ref(kf), 1.0, rtol=2e-6)


def test_repeat_of_no_cycles_holds_its_end_value_under_a_warmup() -> None:
    # A parent warmup ramps to the value at 0 (Repeat._at_zero): with cycles=0, the schedule's end value.
    s = js.warmup(js.repeat(js.linear(1.0, 0.5, 10), 10, decay=0.9, cycles=0), 4)
    np.testing.assert_allclose(np.asarray(s(jnp.arange(7))), [0.0, 0.125, 0.25, 0.375, 0.5, 0.5, 0.5])
    assert js.from_json(js.to_json(s))(2) == s(2)


def test_repeat_holds_and_decays() -> None:
    ref = R.repeat(R.linear(1.0, 0.0, 10), 10, decay=0.99, cycles=1000)(np.asarray([9990, R.INT32_MAX]))
    assert ref[0] == pytest.approx(0.99**999) and ref[1] == 0.0
    ref = R.repeat(R.linear(1.0, 0.0, 16), 16, 0.5, cycles=6)(np.asarray([31, 31.25, 31.5, 40]))
    np.testing.assert_array_equal(ref, [1.0, 0.5, 0.0, 0.0])  # cycle 5 is [31, 31.5), then the hold
    ref = R.repeat(R.linear(1.0, 0.5, 10), 10, decay=0.5, cycles=2.5)(np.asarray([30, 1000]))
    np.testing.assert_allclose(ref, 0.5 * 0.25)


@pytest.mark.parametrize("period,step", [(10, 11), (10, 25), (10, 75), (2**17, 196_608)])
def test_repeat_decay_gradient_is_continuous_at_zero(period: int, step: int) -> None:
    # The rate in cycle i is decay**i * c: its decay-derivative at decay = 0 is c in cycle 1 and 0 after.
    # decay**j was exp(j * const) at decay = 0: a zero slope in cycle 1 wherever the cycle guess was right
    # (step 25; and every step on the exact integer path, period 2**17). Found by an audit.
    def rate(d: Any) -> Any:
        return js.repeat(js.cosine(1.0, 0.0, period), period, 2.0, decay=d)(step)

    at0 = float(jax.grad(rate)(0.0))
    near = float(jax.grad(rate)(1e-30))
    assert np.isfinite(at0) and at0 == pytest.approx(near, rel=1e-6, abs=1e-12)
    cycle = int(np.floor(np.log2(step / period + 1)))
    assert (at0 != 0.0) == (cycle == 1)
    if cycle == 1:
        assert at0 == pytest.approx(float(rate(1.0)), rel=1e-6)  # c itself


def test_select_index_is_a_sweepable_leaf() -> None:
    pieces = [js.constant(1.0), js.linear(1.0, 0.0, 10), js.cosine(1.0, 0.0, 10)]
    batch = js.stack([js.select(i, pieces) for i in range(3)])
    t = jnp.arange(12)
    out = jax.jit(jax.vmap(lambda s: s(t)))(batch)
    refs = [R.constant(1.0), R.linear(1.0, 0.0, 10), R.cosine(1.0, 0.0, 10)]
    for i in range(3):
        assert_close_to_peak(out[i], refs[i](np.arange(12)), 1.0)
    traced = jax.jit(lambda i: js.select(i, pieces)(t))(jnp.int32(2))
    assert_close_to_peak(traced, refs[2](np.arange(12)), 1.0)


def test_a_choice_given_by_name_is_structure() -> None:
    # A name (onecycle's anneal_strategy, cyclic's mode, optax's interpolate_type, transformers' wsd types,
    # torch's OneCycleLR) is a static choice: Select.fixed computes only the chosen schedule, with the
    # values of the index leaf (within ULPS); a batch mixing names falls back to the index (_sweepable);
    # configs keep the choice and refuse an inconsistent one.
    from jaxsched._join import Select

    k = jnp.concatenate([jnp.arange(-3, 130), jnp.asarray([2**20, R.INT32_MAX], jnp.int32)])
    x = jnp.asarray([0.0, 0.5, 29.7, 30.0, 55.25, 99.9, 100.0, 1e6 + 0.5], jnp.float32)
    for name, idx in (("cos", 0), ("linear", 1)):
        by_name, by_index = js.onecycle(1.0, 100, anneal_strategy=name), js.onecycle(1.0, 100, anneal_strategy=idx)
        assert [p.fixed for p in by_name.schedules] == [idx] * 3 and by_name.schedules[0].index is None
        assert [p.fixed for p in by_index.schedules] == [None] * 3
        for t in (k, x):
            assert_close_to_peak(by_name(t), by_index(t), 1.0, ULPS)
        # gradients in the settings: the same
        g1, g2 = (jax.grad(lambda p, a=a: js.onecycle(p[0], 100, p[1], anneal_strategy=a)(k[:130]).sum())(
            jnp.asarray([1.0, 0.3])) for a in (name, idx))
        np.testing.assert_allclose(np.asarray(g1), np.asarray(g2), rtol=1e-6)
        program = lambda s: str(jax.make_jaxpr(lambda s: s(k))(s))  # noqa: E731
        assert len(program(by_name)) < 0.8 * len(program(by_index))
    for name, idx in (("triangular", 0), ("triangular2", 1), ("exp_range", 2)):
        by_name, by_index = (js.cyclic(0.1, 1.0, 7, mode=m, gamma=0.99) for m in (name, idx))
        assert by_name.terms[1].factors[2].fixed == idx
        assert (by_name.terms[1].factors[1].decay is None) == (name != "triangular2")
        for t in (k, x):
            assert_close_to_peak(by_name(t), by_index(t), 1.0, ULPS)
    g = js.grid(js.onecycle, peak_value=[1.0, 2.0], anneal_strategy=["cos", "linear"], total_steps=100)
    assert g.schedules.schedules[0].fixed is None and g.schedules.schedules[0].index.shape == (4,)
    out = jax.vmap(lambda s: s(k))(g.schedules)
    for row, (p, a) in zip(np.asarray(out), zip(g.settings["peak_value"], g.settings["anneal_strategy"])):
        assert_close_to_peak(row, np.asarray(js.onecycle(p, 100, anneal_strategy=a)(k)), p, 2e-7)
    s = js.onecycle(1.0, 100, anneal_strategy="linear")
    back = js.from_config(js.to_config(s))
    assert [p.fixed for p in back.schedules] == [1, 1, 1]
    np.testing.assert_array_equal(np.asarray(back(k)), np.asarray(s(k)))
    c = js.to_config(js.select(1, [js.constant(1.0), js.constant(2.0)]))
    node = c["schedule"]

    def with_(**kw: Any) -> dict[str, Any]:
        return {**c, "schedule": {**node, **kw}}

    fixed = js.from_config(with_(fixed=1, index=None))
    assert float(fixed(0)) == 2.0 and fixed.fixed == 1 and fixed.index is None
    for bad in (with_(fixed=1), with_(fixed=2, index=None), with_(fixed="1", index=None), with_(index=None)):
        with pytest.raises(ValueError, match="fixed"):
            js.from_config(bad)
    assert isinstance(back.schedules[0], Select)


def test_join_is_cheap_in_the_number_of_pieces() -> None:
    # 64 cosines of one family: one gathered evaluation; the values still match the reference.
    n = 64
    bounds = [float(10 * (i + 1)) for i in range(n - 1)]
    s = js.join([js.cosine(1.0 + i, 0.5 * i, 10.0) for i in range(n)], bounds)
    ref = R.join([R.cosine(1.0 + i, 0.5 * i, 10.0) for i in range(n)], bounds)
    k = np.arange(0, 10 * n + 20, 3)
    assert_close_to_peak(_ev(s, k), ref(k), float(n))

    def size(m: int) -> int:
        j = js.join([js.cosine(1.0, 0.0, 10.0) for _ in range(m)], [10.0 * (i + 1) for i in range(m - 1)])
        return len(jax.make_jaxpr(lambda t: j(t))(jnp.arange(8)).eqns)

    assert size(64) <= size(16) + 8  # the program does not grow with the number of pieces



def test_join_of_two_large_families_gathers_each_members_own_start_and_length() -> None:
    # 24 pieces, cosines and linears alternating: two families of 12 (> the select-chain size), each
    # gathering its members' settings and their own rows of the starts and lengths.
    n = 24
    pieces = [js.linear(1.0 / (i + 1), 0.1, 7.0) if i % 2 else js.cosine(1.0 + i, 0.5, 5.0 + i) for i in range(n)]
    refs = [R.linear(1.0 / (i + 1), 0.1, 7.0) if i % 2 else R.cosine(1.0 + i, 0.5, 5.0 + i) for i in range(n)]
    bounds = [float(6 * i + i % 3) for i in range(1, n)]
    k = np.arange(0, 6 * n + 20)
    expected = R.join(refs, bounds)(k)
    assert_close_to_peak(_ev(js.join(pieces, bounds), k), expected, float(n))
    assert_close_to_peak(jax.jit(lambda s: s(k))(js.join(pieces, bounds)), expected, float(n))

def _family_pieces(kinds: str, c: float, mod: Any) -> list[Any]:
    """One piece per letter of ``kinds`` (c cosine, l linear, k constant), scaled by ``c``."""
    make = {
        "c": lambda i: mod.cosine(c * (1.0 + i), 0.5, 5.0 + i),
        "l": lambda i: mod.linear(c / (i + 1), 0.1, 7.0),
        "k": lambda i: mod.constant(c * 0.3 * (i + 1)),
    }
    return [make[x](i) for i, x in enumerate(kinds)]


@pytest.mark.parametrize(
    "kinds",
    [
        "cl" * 12,  # two families of 12 alternating (arithmetic members)
        "clk" * 10,  # three families of 10 (every third piece)
        "ccl" * 10,  # members 0, 1, 3, 4, ... (no progression: a constant lookup table)
        "ccl" * 14,  # the same above 32 pieces (the table gathered)
        "l" + "c" * 20,  # a family of one, then one of 20
        "lc" + "k" * 5,  # small families: a single piece each, then a stacked family of 5 (select chains)
        "cclcc",  # a family of 4 (each member evaluated on its own), then a single piece
        "c" * 5 + "l" * 4,  # families of 5 (stacked) and 4 (each member on its own)
        "cc",  # the whole join one family of 2, each member on its own
    ],
)
def test_join_families_under_vmap_match_the_reference(kinds: str) -> None:
    # Members are evaluated one by one (families of up to 4) or located by arithmetic, a select chain or
    # a gather (jaxsched._base.pick); under vmap
    # every setting must still see its own pieces, with the gradient of a plain per-setting call.
    n = len(kinds)
    bounds = [float(6 * i + i % 3) for i in range(1, n)]
    k = np.arange(0, 6 * n + 20)
    scales = (1.0, 2.0, 0.5)
    batch = jax.tree.map(lambda *x: jnp.stack(x), *[js.join(_family_pieces(kinds, c, js), bounds) for c in scales])
    got = jax.jit(jax.vmap(lambda s: s(k)))(batch)
    for row, c in zip(np.asarray(got), scales):
        assert_close_to_peak(row, R.join(_family_pieces(kinds, c, R), bounds)(k), 2.0 * n)

    def total(s: Any) -> Any:
        return jnp.sum(s(k) ** 2)

    grads = jax.jit(jax.vmap(jax.grad(total)))(batch)
    for i in range(len(scales)):
        one = jax.tree.map(lambda x, i=i: x[i], batch)
        for a, b in zip(jax.tree.leaves(jax.grad(total)(one)), jax.tree.leaves(grads)):
            np.testing.assert_allclose(np.asarray(b)[i], np.asarray(a), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("n", [1, 5, 8, 9, 40])
def test_pick_matches_take_under_every_batching(n: int) -> None:
    # pick is a select chain (n <= 8) or a gather whose vmap rule reads flattened tables at
    # setting * n + i; every combination of batched table / batched index, nested vmaps, the
    # fallback where the flat index would overflow its dtype, and gradients must equal np.take.
    from jaxsched._base import pick

    rng = np.random.default_rng(n)
    tables = rng.normal(size=(3, n)).astype(np.float32)
    idx = rng.integers(-2, n + 3, size=(3, 7)).astype(np.int32)
    want = np.take_along_axis(tables, np.clip(idx, 0, n - 1), axis=1)
    np.testing.assert_array_equal(pick(jnp.asarray(tables[0]), jnp.asarray(idx[0])), want[0])
    np.testing.assert_array_equal(jax.vmap(pick)(tables, idx), want)
    np.testing.assert_array_equal(jax.vmap(pick, (None, 0))(tables[0], idx), np.take(tables[0], np.clip(idx, 0, n - 1)))
    np.testing.assert_array_equal(jax.vmap(pick, (0, None))(tables, idx[0]), tables[:, np.clip(idx[0], 0, n - 1)])
    nested = jax.vmap(jax.vmap(pick))(np.stack([tables, 2 * tables]), np.stack([idx, idx[::-1]]))
    np.testing.assert_array_equal(nested[1], 2 * np.take_along_axis(tables, np.clip(idx[::-1], 0, n - 1), axis=1))
    small = idx.astype(np.int8)  # 3 * 40 flat entries still fit an int8 index; 51 x 40 do not
    np.testing.assert_array_equal(jax.vmap(pick)(tables, small), want)
    many = np.tile(tables, (17, 1))
    np.testing.assert_array_equal(jax.vmap(pick)(many, np.tile(small, (17, 1))), np.tile(want, (17, 1)))
    grads = jax.vmap(jax.grad(lambda t, i: jnp.sum(pick(t, i) ** 2)))(tables, idx)
    expected = np.zeros_like(tables)
    for r in range(3):
        np.add.at(expected[r], np.clip(idx[r], 0, n - 1), 2 * want[r])
    np.testing.assert_allclose(grads, expected, rtol=1e-6)
    const = (np.arange(n) % 3 == 0)  # a NumPy table is a constant: a chain with steps where it changes
    np.testing.assert_array_equal(jax.vmap(lambda i: pick(const, i))(idx), const[np.clip(idx, 0, n - 1)])


@pytest.mark.parametrize("n", [31, 32, 33, 127, 128, 515, 516, 700])
def test_boundary_count_matches_searchsorted(n: int) -> None:
    # Up to 32 boundaries a compare chain; above, blocks of 4 (the chain over each block's last key,
    # then three gathered keys); above 4 x 128, a binary search for the block. Integer, float and
    # pair steps, integer and fractional boundaries, against NumPy's count.
    from jaxsched._base import Pair, passed

    rng = np.random.default_rng(n)
    k = jnp.arange(-60, 3100, dtype=jnp.int32)
    integer, fractional = np.sort(rng.integers(-50, 3000, n)), np.sort(rng.uniform(-50, 3000, n))
    for b in (integer.astype(np.float32), fractional.astype(np.float32)):
        bj = jnp.asarray(b)
        count = jax.jit(lambda t, b: passed(t, b, jnp.float32))
        np.testing.assert_array_equal(count(k, bj), np.searchsorted(b.astype(np.float64), np.asarray(k), side="right"))
        kf = k.astype(jnp.float32) + 0.5
        np.testing.assert_array_equal(count(kf, bj), np.searchsorted(b, np.asarray(kf), side="right"))
        for r in (0.0, 0.25, 0.75):
            want = np.searchsorted(b.astype(np.float64), np.asarray(k) + r, side="right")
            pair = Pair(k, jnp.full(k.shape, r, jnp.float32), k)  # an offset per step
            np.testing.assert_array_equal(passed(pair, bj, jnp.float32), want)
            one = Pair(k, jnp.float32(r), k)  # one offset for all steps: one integer key per boundary
            np.testing.assert_array_equal(passed(one, bj, jnp.float32), want)
    # Unsorted traced boundaries: not a count any more, but a valid piece index.
    shuffled = jnp.asarray(rng.permutation(np.arange(n, dtype=np.float32) * 3.0))
    idx = jax.jit(lambda t, b: passed(t, b, jnp.float32))(k, shuffled)
    assert int(jnp.min(idx)) >= 0 and int(jnp.max(idx)) <= n


@pytest.mark.parametrize("n", [5, 16])
@pytest.mark.parametrize("weak", [False, True])
@pytest.mark.parametrize("first", ["jit closure", "make_jaxpr", "eval_shape", "grad"])
def test_a_join_first_flattened_inside_a_trace_keeps_concrete_stacks(n: int, weak: bool, first: str) -> None:
    # A join stacks each family of 5 or more pieces the first time it is flattened, and keeps the
    # stacks. Built outside a trace and first used inside one (a closure in the user's jit, as optax
    # holds its schedule), the stacks must be concrete: jnp.asarray of the host stack inside a trace
    # was a tracer, and every later call raised UnexpectedTracerError.
    def make() -> js.Schedule:
        pieces = [js.cosine(1.0 / (i + 1), 0.0, 100) for i in range(n)]
        if weak:  # leaves from Python floats, weakly typed
            pieces = [dataclasses.replace(p, init_value=jnp.asarray(1.0 / (i + 1))) for i, p in enumerate(pieces)]
        return js.join(pieces, [100 * i for i in range(1, n)])

    k = jnp.arange(0, 100 * n + 50, 7)
    s, want = make(), np.asarray(make()(k))
    use = {
        "jit closure": lambda: jax.jit(lambda k: s(k))(k),
        "make_jaxpr": lambda: jax.make_jaxpr(lambda k: s(k))(k),
        "eval_shape": lambda: jax.eval_shape(lambda k: s(k), k),
        "grad": lambda: jax.grad(lambda x: s(x))(jnp.float32(3.0)),
    }[first]
    use()
    np.testing.assert_array_equal(np.asarray(s(k)), want)
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda s: s(k))(s)), want)
    assert not any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(s))


@pytest.fixture
def buckets_from(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set the size from which the boundary count takes its buckets (0: always; the caches are dropped)."""
    from jaxsched import _base

    def set_size(n: int) -> None:
        monkeypatch.setattr(_base, "_BUCKET_MIN_SIZE", n)
        jax.clear_caches()

    yield set_size
    jax.clear_caches()


def _key_layouts(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, bool]]:
    """Integer keys (sorted unless said), and whether every bucket holds at most one key past its start."""
    top, bottom = 2**31 - 1, -(2**31) + 1
    even = np.arange(1, 129) * 7812
    spread = np.cumsum(rng.integers(900, 1100, 200)) - 5000
    return {
        "even": (even, True),
        "spread below 0": (spread, True),
        # A key never passed (a boundary at 3e9): the buckets span the int range, the others share one.
        "one key past the range": (np.r_[even[:-1], top], False),
        "the whole range": (np.linspace(bottom, top, 64).astype(np.int64), True),
        "a short first piece": (np.r_[5, even[1:]], True),  # the first key is where the buckets start
        "two close keys": (np.r_[even[:60], even[59] + 3, even[60:]], False),  # one bucket holds both
        "repeated keys": (np.r_[even[:60], even[59], even[60:]], False),
        "unsorted": (rng.permutation(even), False),
    }


@pytest.mark.parametrize("layout", ["even", "spread below 0", "one key past the range", "the whole range",
                                    "a short first piece", "two close keys", "repeated keys", "unsorted"])
def test_bucketed_boundary_count_matches_the_count(layout: str, buckets_from: Any) -> None:
    # Above 32 keys a large evaluation looks the count up in buckets of 2**shift steps (a shift, two
    # gathers): where every bucket holds at most one key past its start, and the keys are sorted.
    # Otherwise the two-level count. Steps at, next to and between the keys, and at the int range's ends.
    from jaxsched._base import _buckets, _count_keys

    keys, ok = _key_layouts(np.random.default_rng(7))[layout]
    keys = keys.astype(np.int32)
    assert bool(_buckets(jnp.asarray(keys))[0]) == ok
    k64 = keys.astype(np.int64)
    steps = np.r_[k64 - 1, k64, k64 + 1, np.linspace(k64.min() - 3, k64.max() + 3, 5000).astype(np.int64),
                  -(2**31), -(2**31) + 1, 2**31 - 2, 2**31 - 1]
    steps = np.clip(steps, -(2**31), 2**31 - 1).astype(np.int32)
    want = (steps[:, None] > keys[None, :]).sum(1)
    for size in (0, 2**62):  # the buckets, then the two-level count
        buckets_from(size)
        got = np.asarray(jax.jit(_count_keys)(jnp.asarray(steps), jnp.asarray(keys)))
        if layout == "unsorted":  # not a count any more, but a valid piece index either way
            assert got.min() >= 0 and got.max() <= len(keys)
        else:
            np.testing.assert_array_equal(got, want)


def test_bucketed_boundary_count_in_x64(buckets_from: Any) -> None:
    from jaxsched._base import _buckets, _count_keys

    buckets_from(0)
    with jax.enable_x64(True):
        keys = np.arange(-50, 50) * 2**56 + 3  # spread over most of the int64 range
        steps = np.r_[keys - 1, keys, keys + 1, -(2**63), 2**63 - 1, 0]
        assert keys.dtype == np.int64 and bool(_buckets(jnp.asarray(keys))[0])
        got = jax.jit(_count_keys)(jnp.asarray(steps), jnp.asarray(keys))
        assert got.dtype == jnp.int32
        np.testing.assert_array_equal(np.asarray(got), (steps[:, None] > keys[None, :]).sum(1))


def test_large_joins_count_by_buckets_over_a_grid(buckets_from: Any) -> None:
    # A grid of 40-piece joins: each member its own boundaries. Where every member's allow the buckets
    # the grid runs them (checked through a bucket count made wrong on purpose); one member with a piece
    # of 1 step sends the whole grid to the two-level count. The values are the pieces' either way.
    from jaxsched import _base

    buckets_from(0)
    n, L = 40, 1000
    steps = jnp.arange(-5, n * L + 5)

    def member(scale: float, second: float) -> js.Schedule:
        ps = [js.linear(1.0 / (i + 1), 0.0, L) for i in range(n)]
        return js.join(ps, [1000.0, second] + [scale * L * i for i in range(3, n)])

    def want(scale: float, second: float) -> np.ndarray:
        b = np.r_[1000.0, second, scale * L * np.arange(3, n)]
        t = np.asarray(steps, np.float64)
        i = np.searchsorted(b, t, side="right")
        start = np.r_[0.0, b][i]
        return np.maximum(1.0 / (i + 1) * (1.0 - np.clip((t - start) / L, 0.0, 1.0)), 0.0)

    settings = [(1.0, 2000.0), (1.5, 2900.0), (0.9, 1800.0)]
    grid = js.stack([member(*s) for s in settings])
    got = jax.jit(jax.vmap(lambda s: s(steps)))(grid)
    for row, s in zip(np.asarray(got), settings):
        np.testing.assert_allclose(row, want(*s), rtol=1e-6, atol=1e-7)
    short = js.stack([member(*s) for s in [*settings[:2], (1.0, 2999.0)]])
    got = jax.jit(jax.vmap(lambda s: s(steps)))(short)
    for row, s in zip(np.asarray(got), [*settings[:2], (1.0, 2999.0)]):
        np.testing.assert_allclose(row, want(*s), rtol=1e-6, atol=1e-7)
    # Which count ran: a bucket count off by one shows in the agreeing grid only.
    real = _base._bucket_count
    try:
        _base._bucket_count = lambda ops: jnp.minimum(real(ops) + 1, n - 1)
        jax.clear_caches()
        agree = np.asarray(jax.jit(jax.vmap(lambda s: s(steps)))(grid))
        mixed = np.asarray(jax.jit(jax.vmap(lambda s: s(steps)))(short))
    finally:
        _base._bucket_count = real
        jax.clear_caches()
    assert not np.allclose(agree[0], want(*settings[0]), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mixed[0], want(*settings[0]), rtol=1e-6, atol=1e-7)


def test_a_large_join_at_a_large_evaluation_is_exact_with_finite_gradients() -> None:
    # The real threshold (no patch): 2**16 steps and more take the buckets. Integer steps and a scalar
    # pair offset (a join inside a warmup of a fractional length), values and gradients against the
    # two-level count's small evaluations.
    from jaxsched import _base

    n, L = 64, 1100
    ps = [js.cosine(1.0 / (i + 1), 0.1 / (i + 1), L) for i in range(n)]
    shifted = js.warmup(js.join(ps, [L * i + 0.5 for i in range(1, n)]), 10.25)
    for s in (js.join(ps, [L * i for i in range(1, n)]), shifted):
        steps = jnp.arange(-3, 2**16 + 7)
        assert steps.size >= _base._BUCKET_MIN_SIZE
        whole = jax.jit(lambda s: s(steps))(s)
        parts = jnp.concatenate([jax.jit(lambda s, k: s(k))(s, c) for c in np.array_split(np.asarray(steps), 16)])
        np.testing.assert_array_equal(np.asarray(whole), np.asarray(parts))
        g = jax.grad(lambda s: jnp.sum(s(steps)))(s)
        assert all_finite(g)


def test_boundary_count_with_one_offset_matches_an_offset_per_step_at_the_int_range() -> None:
    # passed() folds a scalar pair offset into integer keys (floor(b) - (r >= frac(b))); at boundaries
    # beyond the int range, at the range's ends and at its rounding edge it must count as the general form.
    from jaxsched._base import Pair, passed

    top = 2**31 - 1
    b = jnp.asarray([-3e9, -(2.0**31), -5.5, 0.0, 0.25, 2.0**30 + 0.5, 2.0**31 - 256, 2.0**31 - 128, 2.0**31, 3e9])
    k = jnp.asarray(np.r_[np.arange(-10, 10), 2**30 - 2 + np.arange(5), top - 300 + np.arange(301),
                          -(2**31) + np.arange(3)].astype(np.int32))
    for r in (0.0, 0.25, 0.5, 0.999):
        general = passed(Pair(k, jnp.full(k.shape, r, jnp.float32), k), b, jnp.float32)
        one = jax.jit(lambda r: passed(Pair(k, r, k), b, jnp.float32))(jnp.float32(r))
        np.testing.assert_array_equal(np.asarray(one), np.asarray(general))


def test_a_boundary_past_the_int_range_is_never_passed() -> None:
    # Integer and pair steps compared with boundaries clipped into the int range (to 2**31 - 128, the largest
    # float32 in it): the top 128 steps passed a boundary at 3e9, or at 2**31 - 5 (2**31 in float32).
    from jaxsched._base import Pair, passed

    b = jnp.asarray([-3e9, -5.5, 0.0, 2.0**30 + 0.5, 2.0**31 - 256, 2.0**31 - 128, 2.0**31, 3e9])
    k = np.r_[0, 7, 2**30 + np.arange(-2, 3), 2**31 - 300 + np.arange(300)].astype(np.int32)
    want = (np.asarray(b, np.float64)[None, :] <= k[:, None].astype(np.float64)).sum(1)
    np.testing.assert_array_equal(passed(jnp.asarray(k), b, jnp.float32), want)
    for r in (0.0, 0.5):  # k + r against b: the same count for these b (none lies in (k, k + 1/2])
        want_r = (np.asarray(b, np.float64)[None, :] <= k[:, None] + r).sum(1)
        np.testing.assert_array_equal(passed(Pair(jnp.asarray(k), jnp.full(k.shape, r, jnp.float32), k), b,
                                             jnp.float32), want_r)
        np.testing.assert_array_equal(passed(Pair(jnp.asarray(k), jnp.float32(r), k), b, jnp.float32), want_r)
    top = np.asarray([2**31 - 129, 2**31 - 128, 2**31 - 1], np.int32)
    for s in (js.piecewise_constant([1.0, 2.0], [3e9]), js.join([js.constant(1.0), js.constant(2.0)], [2**31 - 5]),
              js.warmup(js.join([js.constant(1.0), js.constant(2.0)], [3e9]), 10),
              js.join([js.constant(5.0), js.piecewise_constant([1.0, 2.0], [3e9])], [1.0])):
        np.testing.assert_array_equal(s(top), 1.0)
        assert float(s(2**31 - 1)) == 1.0


def test_large_family_local_steps_with_fractional_boundaries() -> None:
    # 40 cosines (one gathered family, float children): each sees t - start with the start's integer
    # and fractional parts split per boundary, for integer, float and pair steps (a warmup of 2.5
    # steps hands the join a pair with offset 1/2), under jit and vmap, with finite gradients.
    n = 40
    bounds = [7.25 * i + 0.5 * (i % 2) for i in range(1, n)]
    s = js.join([js.cosine(1.0 + i, 0.1 * i, 6.0 + (i % 3)) for i in range(n)], bounds)
    ref = R.join([R.cosine(1.0 + i, 0.1 * i, 6.0 + (i % 3)) for i in range(n)], bounds)
    k = np.arange(-3, int(7.25 * n) + 20)
    peak = float(n)
    assert_close_to_peak(_ev(s, k), ref(k), peak)
    assert_close_to_peak(_ev(s, k + 0.5), ref(k + 0.5), peak)
    assert_close_to_peak(jax.jit(lambda s: s(k))(s), ref(k), peak)
    w = js.warmup(s, 2.5, init_value=0.0)
    assert_close_to_peak(_ev(w, k), R.warmup(ref, 2.5, 0.0)(k), peak)
    batch = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), s)
    assert_close_to_peak(jax.vmap(lambda s: s(k))(batch)[1], ref(k), peak)
    g = jax.grad(lambda s: s(jnp.asarray(k)).sum())(s)
    assert all_finite(g)
    # The boundaries carry gradient: each piece's values move with its start.
    assert float(jnp.abs(g.boundaries).sum()) > 0.0


def _large_join(offset: float = 0.0, n: int = 12) -> js.Join:
    # n cosines (one family, stacked as a pytree) around a linear and a nested warmup (pieces of their own)
    pieces = [js.cosine(1.0 + i + offset, 0.1 * i, 5.0 + i) for i in range(n)]
    pieces[3] = js.linear(2.0 + offset, 0.5, 4.0)
    pieces[7] = js.warmup(js.cosine(1.5, 0.0, 6.0), 2)
    return js.join(pieces, [6.0 * i + offset for i in range(1, n)])


def test_join_families_are_stacked_leaves_and_pieces_round_trip() -> None:
    j = _large_join()
    leaves, treedef = jax.tree_util.tree_flatten(j)
    # 10 cosines: 3 stacked leaves of shape (10,); the linear (3), the warmup (5) and the boundaries (1)
    assert sorted(np.shape(x) for x in leaves) == sorted([(10,)] * 3 + [()] * 3 + [()] * 5 + [(11,)])
    back = jax.tree_util.tree_unflatten(treedef, leaves)
    assert len(back.schedules) == 12 and type(back.schedules[7]) is type(j.schedules[7])
    for p, q in zip(j.schedules, back.schedules):
        assert jax.tree_util.tree_structure(p) == jax.tree_util.tree_structure(q)
        for x, y in zip(jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(q)):
            np.testing.assert_array_equal(x, y)
    k = np.arange(0, 90)
    np.testing.assert_array_equal(back(k), j(k))
    # Non-array leaves (in_axes, shardings, sentinels) survive a round trip unchanged.
    marks = jax.tree_util.tree_unflatten(treedef, list(range(len(leaves))))
    assert jax.tree_util.tree_leaves(marks) == list(range(len(leaves)))
    assert jax.tree_util.tree_structure(jax.tree_util.tree_map(lambda x: x, j)) == treedef
    assert jax.tree_util.tree_map(np.shape, j).schedules[2].init_value == (10,)  # every member's
    assert jax.eval_shape(lambda s: s, j).schedules[2].init_value.shape == ()
    assert len(pickle.loads(pickle.dumps(back)).schedules) == 12
    # Inside jit the pieces are sliced from the traced stacks on demand.
    got = jax.jit(lambda s: jnp.stack([p(3) for p in s.schedules]))(j)
    np.testing.assert_allclose(got, [float(p(3)) for p in j.schedules], rtol=1e-6)


def test_join_stacks_its_families_once_and_concretely() -> None:
    # A join built from Python floats (weakly typed leaves), first used inside jit: the stacks it
    # caches must be concrete (a tracer there leaks into the next call) and stay weakly typed.
    from jaxsched._join import Join
    from jaxsched._primitives import Constant

    j = Join(tuple(Constant(float(i)) for i in range(10)), jnp.arange(1.0, 10.0, dtype=jnp.float32))
    k = jnp.arange(12)
    expected = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9]
    np.testing.assert_array_equal(jax.jit(lambda: j(k))(), expected)
    np.testing.assert_array_equal(j(k), expected)
    stacked = jax.tree_util.tree_leaves(j)[0]
    assert not isinstance(stacked, jax.core.Tracer) and stacked.shape == (10,) and stacked.weak_type
    assert jax.tree_util.tree_leaves(j)[0] is stacked  # computed once
    # A join rebuilt from concrete leaves, its pieces first sliced inside a trace: concrete too.
    back = jax.tree_util.tree_map(lambda x: x, j)
    np.testing.assert_array_equal(jax.jit(lambda: back.schedules[4](0))(), 4.0)
    assert not isinstance(back.schedules[4].value, jax.core.Tracer)


def test_large_join_config_checkpoint_batch_and_one_trace() -> None:
    j = _large_join()
    k = np.arange(0, 90)
    np.testing.assert_array_equal(js.from_json(js.to_json(j))(k), j(k))
    d = js.state_to_dict(j)
    assert "families.0.0" in d and len(d) == len(jax.tree_util.tree_leaves(j))
    np.testing.assert_array_equal(js.state_from_dict(j, d)(k), j(k))
    batch = js.stack([_large_join(0.0), _large_join(0.5)])
    out = jax.vmap(lambda s: s(k))(batch)
    np.testing.assert_array_equal(out[1], _large_join(0.5)(k))
    # A batch built leaf by leaf (pieces with batched leaves, as from_config builds it) stacks its
    # family as a stack of joins does: 4 leaves, not 37 (one structure for both), and inside vmap it
    # is one gathered family.
    from jaxsched._join import Join
    from jaxsched._primitives import Cosine

    two = lambda a, b: jnp.asarray([a, b], jnp.float32)  # noqa: E731
    pieces = tuple(Cosine(two(1.0 + i, 2.0 + i), two(0.1 * i, 0.0), two(5.0 + i, 6.0)) for i in range(12))
    bounds = jnp.asarray(np.stack([np.arange(1, 12) * 6.0, np.arange(1, 12) * 7.0]), jnp.float32)
    leafwise = Join(pieces, bounds)
    assert len(jax.tree_util.tree_leaves(leafwise)) == 4
    rows = jax.vmap(lambda s: s(k))(leafwise)
    ones = []
    for r in range(2):
        row = [js.cosine(1.0 + i + r, 0.1 * i * (1 - r), [5.0 + i, 6.0][r]) for i in range(12)]
        ones.append(js.join(row, list(bounds[r])))
        np.testing.assert_allclose(rows[r], ones[r](k), rtol=1e-6, atol=1e-7)
    assert jax.tree_util.tree_structure(leafwise) == jax.tree_util.tree_structure(js.stack(ones))
    traces = []

    @jax.jit
    def f(s: js.Schedule) -> jax.Array:
        traces.append(1)
        return s(k)

    for i in range(10):
        np.testing.assert_allclose(f(_large_join(0.25 * i)), _large_join(0.25 * i)(k), rtol=1e-6)
    assert len(traces) == 1


def test_arith_results_are_schedules_and_pytrees() -> None:
    a, b = js.linear(0.0, 1.0, 10), js.cosine(1.0, 0.0, 10)
    for s in (a + b, a * b, 2.0 * a, a / 2.0, a - b, -a, js.clip(a, 0.1, 0.9), js.minimum(a, b), js.maximum(a, 0.5)):
        assert isinstance(s, js.Schedule)
        leaves, treedef = jax.tree_util.tree_flatten(s)
        assert all(isinstance(x, jax.Array) for x in leaves)
        rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
        assert all_finite(_ev(rebuilt, np.arange(12)))


def test_join_of_array_valued_pieces_keeps_each_piece() -> None:
    # Pieces whose leaves are arrays (piecewise tables) are never stacked into one family.
    a = js.piecewise_constant([1.0, 0.5], [2])
    b = js.piecewise_constant([1.0, 0.25], [3])
    out = js.join([a, b], [5])(jnp.asarray([0, 2, 6, 9], jnp.int32))
    np.testing.assert_array_equal(np.asarray(out), [1.0, 0.5, 1.0, 0.25])


# ----------------------------------------------------------------------------- exact local steps when nested

_W, _B, _P = 10.5, float(2**30 + 128), 100.0  # a fractional warmup; float32-exact boundary above 2**30
_PC_B = [float(2**24 + 64 + 2 * i) for i in range(150)]  # > 32 boundaries: the two-level count


def _nested() -> tuple[js.Schedule, R.Ref]:
    """warmup(join([repeat(linear), piecewise_constant]), 10.5): every local step is fractional and huge."""
    values = [float(i) for i in range(len(_PC_B) + 1)]
    s = js.warmup(js.join([js.repeat(js.linear(1.0, 0.0, _P), _P), js.piecewise_constant(values, _PC_B)], [_B]), _W)
    r = R.warmup(R.join([R.repeat(R.linear(1.0, 0.0, _P), _P), R.piecewise_constant(values, _PC_B)], [_B]), _W)
    return s, r


def test_nested_local_steps_are_exact_at_huge_steps() -> None:
    # Join and warmup hand their children an exact (integer, offset) local step: a restart, a
    # join boundary and a piecewise boundary far above 2**24 fall on the right step in float32.
    s, ref = _nested()
    b2 = int(_W + _B) + 1  # 2**30 + 139: the first step of the second piece (its local step is 0.5)
    k = [11, 110, 111, 10**9 + 10, 10**9 + 11, 2**30 + 100, b2 - 2, b2 - 1, b2, b2 + 1]
    for j in (0, 1, 2, 50, 99, 149):  # boundary j of the table at local 2**24 + 64 + 2 j: switches at + 0.5
        k += [b2 + 2**24 + 63 + 2 * j, b2 + 2**24 + 64 + 2 * j]  # values j, j + 1
    k += [R.INT32_MAX]
    k = np.asarray(k, np.int64)
    got = _ev_padded(s, k, np.int32)
    want = ref(k)
    assert np.all(np.abs(got - want) <= 1e-6 * np.maximum(np.abs(want), 1.0)), np.c_[k, got, want]
    # the last step of the restarts (local 2**30 + 127.5, 51.5 into a cycle), then the table
    assert got[7] == pytest.approx(1.0 - 0.01 * ((2**30 + 127.5) % 100), abs=1e-6)
    assert got[8] == 0.0 and got[10] == 0.0 and got[11] == 1.0 and got[-1] == 150.0


def test_nested_local_steps_carry_gradients() -> None:
    # d lr / d warmup_steps = -(d lr / d t) inside a cycle, even 2**30 steps out.
    s, _ = _nested()
    k = jnp.asarray([2**30 + 100, 10**9 + 33, 1000], jnp.int32)

    def f(w: jax.Array, b: jax.Array) -> jax.Array:
        return js.warmup(dataclasses.replace(s.schedule, boundaries=b), w)(k).sum()

    gw, gb = jax.grad(f, argnums=(0, 1))(jnp.float32(_W), jnp.asarray([_B], jnp.float32))
    assert float(gw) == pytest.approx(3 * 0.01, rel=1e-5)
    assert float(gb[0]) == 0.0  # the boundary is not near these steps: no gradient


def _primitive_names(fn: Any, *args: Any) -> set[str]:
    names: set[str] = set()

    def walk(jaxpr: Any) -> None:
        for eqn in jaxpr.eqns:
            names.add(eqn.primitive.name)
            for v in eqn.params.values():
                for x in v if isinstance(v, (tuple, list)) else [v]:
                    inner = getattr(x, "jaxpr", x)
                    if hasattr(inner, "eqns"):
                        walk(inner)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return names


def test_repeat_exact_path_stays_one_branch_under_a_swept_warmup() -> None:
    # repeat decides on its exact integer path from the global step, which no setting changes: swept over
    # warmup_steps (its local step differs per setting), the lax.cond is not batched into both branches.
    ws = jnp.asarray([0.0, 10.0, 20.5])
    k = jnp.arange(1000)
    swept = jax.vmap(lambda w: js.sgdr(1.0, 100, warmup_steps=w)(k))
    assert "cond" in _primitive_names(swept, ws)
    got = np.asarray(swept(ws))
    for j, w in enumerate(np.asarray(ws, np.float64)):
        want = R.warmup(R.repeat(R.cosine(1.0, 0.0, 100.0), 100.0), w)(np.arange(1000))
        assert_close_to_peak(got[j], want, 1.0)


def _composites() -> list[js.Schedule]:
    cyc = js.repeat(js.cosine(1.0, 0.1, 97.0), 97.0)
    grow = js.repeat(js.linear(1.0, 0.0, 5.0), 5.0, 3.0)
    return [
        js.sgdr(1.0, 1000, 2.0, warmup_steps=7.25) + 0.5 * js.warmup(cyc, 3.5),
        js.clip(
            js.warmup(js.join([cyc, grow, js.cosine(2.0, 0.0, 10.0)], [2**29 + 64.0, 2**30 + 128.0]), 11.75), 0.2, 0.9
        ),
        js.select(1, [js.constant(0.0), js.join([js.constant(1.0), js.warmup(cyc, 2.5)], [2**30 + 256.0])]),
        js.maximum(js.warmup(js.piecewise_constant([1.0, 2.0, 3.0], [2**30 + 128.0, 2**31 - 256.0]), 0.75), 0.5 * cyc),
    ]


@pytest.mark.parametrize("i", range(4))
def test_composites_in_float32_match_x64_at_huge_steps(i: int) -> None:
    # Sums, clips, selects and extrema pass the exact local step through: nested restarts and boundaries
    # far above 2**24 land on the same steps in float32 as in float64. Boundaries are float32-exact
    # (multiples of 64 above 2**29, of 128 above 2**30); the warmups shift them by fractions.
    k = np.concatenate([
        np.arange(2**29 + 60, 2**29 + 90), np.arange(2**30 + 110, 2**30 + 150), np.arange(2**30 + 250, 2**30 + 270),
        np.arange(2**31 - 270, 2**31 - 240), [R.INT32_MAX - 1, R.INT32_MAX],
    ]).astype(np.int64)
    got = np.asarray(_composites()[i](jnp.asarray(k, jnp.int32)), np.float64)
    with jax.enable_x64(True):
        want = np.asarray(_composites()[i](jnp.asarray(k, jnp.int64)))
    assert want.dtype == np.float64
    assert np.max(np.abs(got - want)) <= 2e-6 * max(1.0, np.max(np.abs(want))), k[np.argmax(np.abs(got - want))]


def test_closed_form_matches_the_exact_path_below_its_limit() -> None:
    # Below float_path_limit (2**17 in float32) only the closed form runs: on every step up to there it
    # locates the same cycle as the exact integer path, for 64 integer settings (P 1..16, m 1, 2, 3, 7).
    from jaxsched._base import Pair
    from jaxsched._repeat import float_path_limit

    limit = float_path_limit(jnp.float32)
    assert limit == 2**17
    k = jnp.arange(limit, dtype=jnp.int32)

    def gap(P: jax.Array, m: jax.Array) -> jax.Array:
        s = js.repeat(js.linear(1.0, 0.0, P), P, m)
        return jnp.max(jnp.abs(s._eval(Pair(k, None, k, exact=True)) - s._eval(Pair(k, None, k, exact=False))))

    P, m = np.meshgrid(np.arange(1.0, 17.0), [1.0, 2.0, 3.0, 7.0])
    gaps = jax.jit(jax.vmap(gap))(jnp.asarray(P.ravel(), jnp.float32), jnp.asarray(m.ravel(), jnp.float32))
    assert float(jnp.max(gaps)) <= 1e-6, np.asarray(gaps)


def test_restart_rows_inline_match_the_table() -> None:
    # repeat's exact path for integer growth: settings that are scalars tabulate the restart points
    # with a scan; settings selected per step (a join's family) compute the same rows inline, with a
    # vectorised floor division for the overflow bound. Bit for bit, up to and past the int32 range.
    from jaxsched._repeat import _restart_rows

    p = np.array([1, 1, 3, 7, 1000, 2**20 + 1, 2**30, 2**30, 5, 1], np.int32)
    m = np.array([2, 3, 2, 5, 2, 2, 2, 2**30, 2**30 - 1, 46341], np.int32)
    inline = list(_restart_rows(jnp.asarray(p), jnp.asarray(m), True))
    table = list(_restart_rows(jnp.asarray(p), jnp.asarray(m), False))
    assert len(inline) == len(table) == 31
    for a, b in zip(inline, table):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    exists = np.stack([np.asarray(r[3]) for r in table])
    assert exists[:, 0].sum() == 31 and exists[:, 7].sum() == 1  # P = 1, m = 2: 31 restarts; P = m = 2**30: 1


@pytest.mark.parametrize("n", [2, 3, 4, 5, 9])
def test_join_of_repeats_on_the_exact_path_matches_the_reference(n: int) -> None:
    # A join of n repeats with integer settings, read at steps past 2**17 (the exact integer path).
    # Families of 3 and 4 select their members' leaves per step, 5 and more are stacked and looked up
    # (9: gathered), and the restart points are then computed per step; 2 evaluate each member: all
    # must land every restart exactly.
    periods, mults = [3 + 5 * i for i in range(n)], [2.0 + (i % 2) for i in range(n)]
    bounds = [float(2**21 * i + 7 * i) for i in range(1, n)]

    def pieces(mod: Any, c: float) -> list[Any]:
        return [mod.repeat(mod.linear(c, 0.0, P), P, mv) for P, mv in zip(periods, mults)]

    starts = [0.0, *bounds]
    k = [2**21 * n + 5, R.INT32_MAX]
    for start, P, mv in zip(starts, periods, mults):
        for r in _restarts(P, mv, 40):
            if start + r < min(2**21 * n, R.INT32_MAX):
                k += [int(start + r) - 1, int(start + r), int(start + r) + 1]
    k = np.unique(np.asarray(k, np.int64))
    assert np.any(k >= 2**17)  # the whole call takes the exact path
    assert_close_to_peak(_ev(js.join(pieces(js, 1.0), bounds), k), R.join(pieces(R, 1.0), bounds)(k), 1.0, 2e-6)
    # a grid of two such joins under vmap (the leaves batched, then selected per step)
    batch = jax.tree.map(lambda *x: jnp.stack(x), *[js.join(pieces(js, c), bounds) for c in (1.0, 0.5)])
    got = jax.jit(jax.vmap(lambda s: s(jnp.asarray(k, jnp.int32))))(batch)
    for row, c in zip(np.asarray(got), (1.0, 0.5)):
        assert_close_to_peak(row, R.join(pieces(R, c), bounds)(k), 1.0, 2e-6)


@pytest.mark.parametrize("mult", [1.0, 2.0, 1.5])
def test_repeat_without_decay_or_limit_is_structure(mult: float) -> None:
    # decay=None / cycles=None (the defaults) are structure, like a cosine's exponent=None: the same
    # values and gradients as decay=1 and cycles=inf, from a program without the power or the comparison.
    k = jnp.asarray(np.concatenate([np.arange(0, 400), [2**17 - 1, 2**17, 2**20 + 3, R.INT32_MAX]]), jnp.int32)
    bare, full = js.sgdr(1.0, 10, mult), js.sgdr(1.0, 10, mult, decay=1.0, cycles=math.inf)
    assert bare.schedule.decay is None and bare.schedule.cycles is None
    assert js.repeat(js.linear(1.0, 0.0, 4), 4).decay is None
    np.testing.assert_array_equal(np.asarray(bare(k)), np.asarray(full(k)))
    x = jnp.asarray([0.0, 9.5, 10.0, 31.25, 1e5 + 0.5], jnp.float32)  # float steps too (one pair path less)
    np.testing.assert_array_equal(np.asarray(bare(x)), np.asarray(full(x)))

    def grads(s: js.Schedule) -> list[np.ndarray]:
        g = jax.grad(lambda s: s(k[:400]).sum())(s).schedule
        return [np.asarray(g.period), np.asarray(g.period_mult), np.asarray(g.schedule.init_value)]

    for a, b in zip(grads(bare), grads(full)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    program = lambda s: str(jax.make_jaxpr(lambda s: s(k))(s))  # noqa: E731
    assert len(program(bare)) < 0.9 * len(program(full))


@pytest.mark.parametrize("period", [10.0, 7.0])
def test_repeat_of_equal_periods_is_structure(period: float) -> None:
    # period_mult=None (the default of repeat and sgdr) is equal periods as structure: the values of a
    # leaf of 1 (within ULPS; to the bit here), on the closed form (steps below 2**17), the exact
    # integer path (above) and float steps, with a decay and a cycle limit too, from a program without
    # the logarithm and exponential of the closed form or the restart table of integer growth.
    far = [2**17 - 1, 2**17, 2**20 + 3, 2**30 + 7, R.INT32_MAX]
    k = jnp.asarray(np.concatenate([np.arange(0, 300), far]), jnp.int32)
    x = jnp.asarray([0.0, 2.4, 2.5, 7.29, 7.3, 9.5, 10.0, 31.25, 1e5 + 0.5, 3e6 + 0.25], jnp.float32)
    inner = js.cosine(1.0, 0.1, period)
    for kw in ({}, {"decay": 0.9}, {"decay": 0.9, "cycles": 7.0}):
        eq, leaf = js.repeat(inner, period, **kw), js.repeat(inner, period, 1.0, **kw)
        assert eq.period_mult is None and leaf.period_mult is not None
        for t in (k, x):
            assert_close_to_peak(eq(t), leaf(t), 1.0, ULPS)
        for t in (k[:300], x):  # gradients: the same up to rounding (no period_mult leaf to differentiate)

            def grads(s: js.Schedule, t: jax.Array = t) -> list[np.ndarray]:
                g = jax.grad(lambda s: s(t).sum())(s)
                return [np.asarray(g.period), np.asarray(g.schedule.init_value)] + (
                    [np.asarray(g.decay)] if "decay" in kw else [])

            for a, b in zip(grads(eq), grads(leaf)):
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
                assert all_finite(a)
    program = lambda s, t: str(jax.make_jaxpr(lambda s: s(t))(s))  # noqa: E731
    eq, leaf = js.sgdr(1.0, period), js.sgdr(1.0, period, 1.0)
    assert eq.schedule.period_mult is None
    for t in (k, x):
        assert "scan" not in program(eq, t) and "scan" in program(leaf, t)  # the restart table of growth m >= 2
        assert len(program(eq, t)) < 0.7 * len(program(leaf, t))
    # a batch mixing equal periods with growth falls back to a leaf of 1 (_sweepable; the cosine's
    # exponent to a leaf of 1 too, whose power rounds differently) and keeps each value
    mixed = [js.sgdr(1.0, period), js.sgdr(1.0, period, 2.0), js.sgdr(1.0, period, 1.0)]
    batch = js.stack(mixed)
    assert batch.schedule.period_mult.shape == (3,)
    got = jax.vmap(lambda s: s(k))(batch)
    for row, s in zip(np.asarray(got), mixed):
        assert_close_to_peak(row, np.asarray(s(k)), 1.0, 2e-7)
    # configs keep the structure: null loads back as equal periods, a number as a leaf
    for s in mixed[::2]:
        back = js.from_config(js.to_config(s))
        assert (back.schedule.period_mult is None) == (s.schedule.period_mult is None)
        np.testing.assert_array_equal(np.asarray(back(k)), np.asarray(s(k)))


@pytest.mark.parametrize("period", [7.3, 2.7, 2.5, 0.7, 333.3])
def test_equal_periods_that_are_not_integers_stay_accurate_far_out(period: float) -> None:
    # float32 equal periods take the step into the cycle from exact offsets (_into_cycle), not from
    # rounded restart points: those put a cycle of 2.7 steps 15% off near 10**6 (points rounded at the
    # step's ulp and snapped within 4 eps, 0.5 steps there). Against the reference of the stored
    # (float32) period the error is at most the period's own rounding carried to the step,
    # 0.5 eps k steps, times the child's slope: a point that snaps to an integer (decimal intent,
    # 7.3 -> restart 10 at 73) may move that far, no more.
    P = float(np.float32(period))
    s = js.repeat(js.cosine(1.0, 0.0, P), P)
    k = np.unique(np.concatenate([np.arange(0, 3000), np.geomspace(3000, 2**22, 4000).astype(np.int64),
                                  2**20 - np.arange(400)]))
    ref = R.repeat(R.cosine(1.0, 0.0, P), P)(k)
    got = np.asarray(jax.jit(lambda s: s(jnp.asarray(k, jnp.int32)))(s), np.float64)
    slope = np.pi / (2 * P)  # the cosine's steepest, per step
    shift = 0.5 * float(np.finfo(np.float32).eps) * k
    bound = slope * shift + 2.5e-7
    dist = np.minimum(np.mod(k, P), P - np.mod(k, P))  # to the nearest restart point of the stored period
    clear = (dist == 0) | (dist > 1.01 * shift + 1e-12)  # on a point, or where no snapped point can cross
    err = np.where(clear, np.abs(got - ref) - bound, 0.0)
    assert np.all(err <= 0), (k[np.argmax(err)], np.max(np.abs(got - ref)[clear]))
    assert clear.mean() > 0.5  # (not vacuous: a short period far out has many points a snap may cross)
    # a growth leaf of exactly 1 (equal periods that may be swept, or a traced growth) takes the same
    # exact offsets: it was off by up to a whole amplitude next to restarts far out (0.3 steps at 10**6)
    leaf = js.repeat(js.cosine(1.0, 0.0, P), P, 1.0)
    assert_close_to_peak(np.asarray(jax.jit(lambda s: s(jnp.asarray(k, jnp.int32)))(leaf)), got, 1.0, ULPS)
    # so a grid mixing equal periods with growth (None becomes that leaf) keeps the plain call's values
    batch = js.stack([s, js.repeat(js.cosine(1.0, 0.0, P), P, 2.0)])
    rows = np.asarray(jax.jit(lambda b: js.evaluate(b, jnp.asarray(k, jnp.int32)))(batch))
    assert_close_to_peak(rows[0], got, 1.0, ULPS)
    # decimal periods restart on their integer multiples (snapped), as they did
    if period == 7.3:
        np.testing.assert_array_equal(np.asarray(s(jnp.asarray([73, 146, 730, 7300, 73000]))), 1.0)
    # float steps too, and the gradient in the period stays that of the step into the cycle (-i)
    x = jnp.asarray(k[:200] + 0.25, jnp.float32)
    assert_close_to_peak(s(x), R.repeat(R.cosine(1.0, 0.0, P), P)(np.asarray(x, np.float64)), 1.0, 1e-5)
    g = jax.grad(lambda p: js.repeat(js.cosine(1.0, 0.0, p), p)(jnp.asarray(k[:2000], jnp.int32)).sum())(P)
    assert np.isfinite(float(g)) and float(g) != 0.0


@pytest.mark.parametrize("period", [10.0, 7.3])
def test_growth_gradient_at_a_leaf_of_one(period: float) -> None:
    # A growth leaf of 1 takes the equal path's values and keeps the closed form's slope in the growth:
    # against a central difference of the float64 reference (growths 1 -/+ 1e-4), away from restarts.
    P = float(np.float32(period))
    k = np.array([t for t in range(1, 200) if min(t % P, P - t % P) > 0.5], np.float64)
    g = jax.grad(lambda m: js.repeat(js.cosine(1.0, 0.0, P), P, m)(jnp.asarray(k, jnp.float32)).sum())(1.0)
    h = 1e-4
    fd = [R.repeat(R.cosine(1.0, 0.0, P), P, 1.0 + e)(k).sum() for e in (h, -h)]
    np.testing.assert_allclose(float(g), (fd[0] - fd[1]) / (2 * h), rtol=2e-3)
    assert float(g) != 0.0


def _doubling_ref(k: np.ndarray, P: float, decay: float = 1.0, cycles: float = math.inf) -> np.ndarray:
    """float64 ``decay**i (1 + cos(pi (k - S_i) / L_i)) / 2`` for period doubling (``S_i = P (2**i - 1)``,
    exact in float64 for a float32 ``P`` and ``i < 29``); past ``cycles`` the last cycle's end."""
    k = np.asarray(k, np.float64)
    i = np.floor(np.log2(k / P + 1.0))
    i = np.where(k < P * (2**i - 1), i - 1, np.where(k >= P * (2 ** (i + 1) - 1), i + 1, i))
    u = (k - P * (2**i - 1)) / (P * 2**i)
    last = max(math.ceil(cycles) - 1, 0) if math.isfinite(cycles) else math.inf
    held = i > last
    u, i = np.where(held, 1.0, u), np.minimum(i, last)
    return decay**i * 0.5 * (1.0 + np.cos(np.pi * u))


def _doubling(P: float, **kw: Any) -> tuple[js.Schedule, js.Schedule]:
    """``(Repeat(doubling=True), Repeat(period_mult=2.0))`` of a cosine from 1 to 0 over ``P``."""
    inner = js.cosine(1.0, 0.0, P)
    return js.Repeat(inner, jnp.float32(P), doubling=True, **kw), js.repeat(inner, P, 2.0, **kw)


@pytest.mark.parametrize("period", [10.0, 7.0, 1.0, 7.3, 0.7, 1000.7])
def test_period_doubling_is_structure(period: float) -> None:
    # Repeat(doubling=True) is a growth of 2 as structure (the ports' concrete 2): the cycle from the
    # binary exponent of t / P + 1. Against the float64 closed form at every restart b - 1, b, b + 1 and
    # far out; integer periods restart exactly on their steps; the leaf's gradients.
    P = float(np.float32(period))
    pts = np.asarray(_restarts(P, 2.0, 26))
    near = np.concatenate([np.floor(pts) + d for d in (-1, 0, 1)] + [np.ceil(pts) + d for d in (-1, 0, 1)])
    far = [2**17 - 1, 2**17, 2**20 + 3, 2**23 - 1, 2**23, 2**23 + 1, 2**30 + 7, R.INT32_MAX]
    k = np.unique(np.concatenate([np.arange(0, 400), near[(near >= 0) & (near < 2**31 - 1)], far])).astype(np.int64)
    kj = jnp.asarray(k, jnp.int32)
    x = jnp.asarray([0.0, 0.5, P - 0.25, 2.5 * P, 3 * P - 0.125, 1e5 + 0.5, 3e6 + 0.25], jnp.float32)
    # A point S = P (2**i - 1) of the stored period rounds once, to R; where R is an integer the step
    # between S and R takes R's side (0.2: restart 4 at step 3, not at 3.0000000447; 0.7: restart 22 at
    # step 2936012, 0.05 early), as an equal period's point snaps within eps R / 2: these steps are
    # checked as restarts.
    S = np.asarray(_restarts(P, 2.0, 30))
    r32 = (np.float32(P) * np.float32(2.0) ** np.arange(1, 31, dtype=np.float32) - np.float32(P)).astype(np.float64)
    moved = r32[(r32 == np.round(r32)) & (r32 != S) & (r32 < 2**24)]
    assert np.all(np.abs(moved - S[np.isin(r32, moved)]) <= 0.5 * np.finfo(np.float32).eps * moved)
    small = (k < 2**24) & ~np.isin(k, moved)  # float32 holds these steps exactly
    for kw in ({}, {"decay": 0.9}, {"decay": 0.9, "cycles": 7.0}):
        dbl, leaf = _doubling(P, **{a: jnp.float32(v) for a, v in kw.items()})
        assert dbl.period_mult is None and dbl.doubling and not leaf.doubling
        got, ref = np.asarray(dbl(kj)), _doubling_ref(k, P, **kw)
        assert_close_to_peak(got[small], ref[small], 1.0, 2.5e-7)
        if not kw:
            np.testing.assert_array_equal(np.asarray(dbl(jnp.asarray(moved, jnp.int32))), 1.0)
            # a float step at a point as float32 rounds it is the restart (conventions.md: a fraction a few
            # eps below a point reaches it)
            np.testing.assert_array_equal(np.asarray(dbl(jnp.asarray(S[:12], jnp.float32))), 1.0)
        assert_close_to_peak(dbl(x), _doubling_ref(np.asarray(x), P, **kw), 1.0, 2.5e-7)
        # a float32 leaf of 2 takes doubling's values (test_growth_leaf_of_two_takes_the_values_of_doubling)
        np.testing.assert_array_equal(got, np.asarray(leaf(kj)))
        if P == round(P):  # integer periods restart exactly at their restart steps
            j = np.arange(1, len(pts) + 1)[pts < 2**31 - 1]
            restart = np.asarray(dbl(jnp.asarray(pts[pts < 2**31 - 1], jnp.int32)), np.float64)
            run = j < kw.get("cycles", math.inf)  # restarts of cycles that run (cycle j starts there)
            assert run.sum() >= 6
            peaks = 0.9 ** j[run] if "decay" in kw else np.ones(run.sum())
            assert_close_to_peak(restart[run], peaks, 1.0, 2.5e-7)  # (decay**i: an exp of i log decay)
            np.testing.assert_array_equal(restart[run][peaks == 1.0], 1.0)
        # gradients: those of the leaf's closed form at m = 2 (no growth leaf to differentiate)
        for t in (kj[:300], x):

            def grads(s: js.Schedule, t: jax.Array = t) -> list[np.ndarray]:
                g = jax.grad(lambda s: s(t).sum())(s)
                return [np.asarray(g.period), np.asarray(g.schedule.init_value)] + (
                    [np.asarray(g.decay)] if "decay" in kw else [])

            for a, b in zip(grads(dbl), grads(leaf)):
                assert all_finite(a)
                np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-5)
    # a batch mixing doubling with other growths falls back to a leaf of 2 (_sweepable) and keeps each value
    mixed = [js.Repeat(js.cosine(1.0, 0.0, P), jnp.float32(P), doubling=True), js.repeat(js.cosine(1.0, 0.0, P), P),
             js.repeat(js.cosine(1.0, 0.0, P), P, 3.0)]
    batch = js.stack(mixed)
    assert not batch.doubling and np.asarray(batch.period_mult).tolist() == [2.0, 1.0, 3.0]
    rows = np.asarray(jax.vmap(lambda s: s(kj))(batch))
    for row, s in zip(rows, mixed):  # (float32: a growth leaf of 2 takes doubling's values, as 1 the equal path's)
        assert_close_to_peak(row, np.asarray(s(kj)), 1.0, ULPS)
    # the config keeps the structure; doubling with a growth leaf is refused
    back = js.from_config(js.to_config(mixed[0]))
    assert back.doubling and back.period_mult is None
    np.testing.assert_array_equal(np.asarray(back(kj)), np.asarray(mixed[0](kj)))
    cfg = js.to_config(mixed[0])
    cfg["schedule"]["period_mult"] = 2.0
    with pytest.raises(ValueError, match="doubling=true .*needs period_mult=null, got period_mult=2.0"):
        js.from_config(cfg)
    with pytest.raises(ValueError, match="period_mult must be None"):
        js.Repeat(js.cosine(1.0, 0.0, P), jnp.float32(P), jnp.float32(2.0), doubling=True)(kj)
    assert "doubling=True" in repr(mixed[0]) and "doubling" not in repr(mixed[1])


@pytest.mark.parametrize("period", [7.3, 0.7, 1000.7, 2.5])
def test_growth_leaf_of_two_takes_the_values_of_doubling(period: float, monkeypatch: pytest.MonkeyPatch) -> None:
    # A float32 growth leaf of exactly 2 gives period doubling's values (its points round once), not the
    # closed form's points snapped within 4 eps: sgdr(1, 7.3, 2.0) gave 1.0 at step 239199, where the
    # stored period restarts at 239199.106 (7 such steps below 2**24 for 7.3, 6-14 for the others).
    # The slopes stay the closed form's, which have the growth's own: against a float64 central difference.
    # This is the general form's own selection: eval_time's switch to doubling's form is kept off
    # (2**24 steps would take it; test_switch.py holds the switch to the general form's values).
    monkeypatch.setattr(js._base, "_SWITCH_MIN_SIZE", 2**62)
    jax.clear_caches()
    P = float(np.float32(period))
    k = jnp.arange(2**24, dtype=jnp.int32)
    dbl, leaf = _doubling(P)
    got = jax.jit(lambda s: s(k))
    assert_close_to_peak(got(leaf), got(dbl), 1.0, ULPS)
    if period == 7.3:
        ref = _doubling_ref(np.asarray([239198, 239199, 239200]), P)
        assert_close_to_peak(leaf(jnp.asarray([239198, 239199, 239200])), ref, 1.0, 2.5e-7)
        assert ref[1] < 1e-3 and ref[2] > 0.999
    t = np.array([x for x in np.arange(1.0, 300.0) if np.min(np.abs(x - np.asarray(_restarts(P, 2.0, 8)))) > 0.5])
    g = jax.grad(lambda m: js.repeat(js.cosine(1.0, 0.0, P), P, m)(jnp.asarray(t, jnp.float32)).sum())(2.0)
    h = 1e-4
    fd = [R.repeat(R.cosine(1.0, 0.0, P), P, 2.0 + e)(t).sum() for e in (h, -h)]
    np.testing.assert_allclose(float(g), (fd[0] - fd[1]) / (2 * h), rtol=2e-3)


def test_period_doubling_float_path_is_the_exact_path_below_2_to_the_23() -> None:
    # Integer settings take the float path up to 2**23 (not float_path_limit's 2**17): P 2**i is exact
    # and so is its difference with P below 2**24. Against the exact integer path on every step below
    # 2**20 for 16 periods, and on steps around every restart below 2**23 for 64.
    from jaxsched._base import Pair

    def paths(s: js.Schedule, k: jax.Array) -> list[jax.Array]:
        return [s._at(Pair(k, None, k, exact=e)) for e in (True, False)]

    def both(s: js.Schedule, k: jax.Array) -> tuple[np.ndarray, ...]:
        return tuple(np.asarray(v) for v in jax.jit(paths)(s, k))

    periods = [1, 2, 3, 5, 7, 10, 13, 100, 127, 1000, 1023, 4097, 12345, 65537, 100003, 999983]
    grid = js.stack([js.Repeat(js.cosine(1.0, 0.0, p), jnp.float32(p), doubling=True) for p in periods])
    assert grid.doubling and grid.period_mult is None  # (one structure: stacked as it is)
    every = jnp.arange(2**20, dtype=jnp.int32)
    ex, fl = jax.jit(jax.vmap(paths, (0, None)))(grid, every)
    np.testing.assert_array_equal(np.asarray(ex), np.asarray(fl))
    periods = list(range(1, 33)) + [int(p) for p in np.geomspace(33, 2**22, 32)]
    for p in periods:
        s = js.Repeat(js.cosine(1.0, 0.0, p), jnp.float32(p), doubling=True)
        pts = np.asarray(_restarts(p, 2.0, 24))
        k = np.concatenate([pts + d for d in (-1, 0, 1)])
        k = jnp.asarray(k[(k >= 0) & (k < 2**23)], jnp.int32)
        ex, fl = both(s, k)
        np.testing.assert_array_equal(ex, fl)
    assert s._path_limit() == 2**23 and js.repeat(js.cosine(1.0, 0.0, 3), 3, 2.0)._path_limit() == 2**17


def test_period_doubling_exact_path_is_the_integer_growths() -> None:
    # Doubling's exact path reads the cycle from the bit length of k // P + 1 (a count of leading
    # zeros); integer growth 2 searches a table of restarts. Bit for bit the same, at every restart
    # (b - 1, b, b + 1) up to 2**31 - 1 for periods up to 2**30 (P = 1 restarts at 2**31 - 1 itself),
    # and against float64 (a linear shape: the exact fraction of the cycle run).
    from jaxsched._base import Pair

    periods = [1, 2, 3, 7, 1000, 65537, 1048573, 2**29 + 192, 2**30]
    assert all(float(np.float32(p)) == p for p in periods)  # (the period is a float32 leaf)
    f = jax.jit(jax.vmap(lambda s, k: s._at(Pair(k, None, k, exact=True)), (0, None)))
    dbl = js.stack([js.Repeat(js.linear(1.0, 0.0, float(p)), jnp.float32(p), doubling=True) for p in periods])
    leaf = js.stack([js.repeat(js.linear(1.0, 0.0, float(p)), float(p), 2.0) for p in periods])
    k = {0, 1, 2**31 - 2, 2**31 - 1}
    for p in periods:
        for i in range(32):
            b = p * (2**i - 1)
            k.update(x for x in (b - 1, b, b + 1) if 0 <= x < 2**31)
    k = np.asarray(sorted(k), np.int64)
    got = np.asarray(f(dbl, jnp.asarray(k, jnp.int32)))
    np.testing.assert_array_equal(got, np.asarray(f(leaf, jnp.asarray(k, jnp.int32))))
    for row, p in zip(got, periods):
        i = np.floor(np.log2(k // p + 1)).astype(np.int64)  # exact for these sizes: checked below
        assert (p * (2**i - 1) <= k).all() and (k < p * (2 ** (i + 1) - 1)).all()
        np.testing.assert_allclose(row, 1.0 - (k - p * (2**i - 1)) / (p * 2.0**i), rtol=0, atol=1.2e-7)


def test_period_doubling_is_total() -> None:
    # a traced period of any sign and size gives finite values and gradients (y = t / P + 1 is clipped
    # where 2**(e + 1) would leave the normal floats), and x64 uses the float64 bits
    k = jnp.asarray([0, 1, 5, 1000, 2**20, R.INT32_MAX], jnp.int32)

    def f(P: jax.Array) -> jax.Array:
        return js.Repeat(js.cosine(1.0, 0.0, P), P, doubling=True)(k).sum()

    for P in (1e-38, 1e-30, 1e-3, 0.0, -5.0, 1e30, 3e38):
        v, g = jax.value_and_grad(f)(jnp.float32(P))
        assert np.isfinite(float(v)) and np.isfinite(float(g)), (P, v, g)
    with jax.enable_x64(True):
        P = 7.3
        dbl = js.Repeat(js.cosine(1.0, 0.0, P), jnp.float64(P), doubling=True)
        kk = np.asarray([0, 6, 7, 8, 21, 22, 23, 10**6, 2**40 + 3], np.int64)
        np.testing.assert_allclose(np.asarray(dbl(jnp.asarray(kk))), _doubling_ref(kk, P), rtol=0, atol=1e-12)


def _nested_restarts(depth: int) -> js.Schedule:
    s: js.Schedule = js.cosine(1.0, 0.1, 10)
    for d in range(depth):
        s = js.warmup(js.repeat(s, 10.0 * 3 ** (d + 1), 2.0, decay=0.9), 5 + d, init_value=0.05)
    return s


def test_value_at_zero_is_eval_at_zero() -> None:
    # _at_zero (a warmup's target) gives _eval(0.0)'s value and gradients, for the combinators that
    # override it (warmup, repeat) and those that do not.
    cases = [_nested_restarts(2), js.warmup(js.constant(2.0), 0.0), js.sgdr(1.0, 10, 1.5, decay=0.5, warmup_steps=3),
             js.warmup(js.sgdr(1.0, 10, warmup_steps=0), 4), js.repeat(js.warmup(js.linear(1.0, 0.0, 6), 2.0), 6),
             js.join([js.linear(0.0, 1.0, 3), js.cosine(1.0, 0.0, 7)], [3.0]), js.warmup_cosine(1.0, 100, 10)]
    eval0 = lambda s: s._eval(jnp.zeros((), jnp.float32))  # noqa: E731
    at0 = lambda s: s._at_zero(jnp.float32)  # noqa: E731
    # An empty warmup before a sloped schedule: the value at 0 jumps with the warmup's length (the
    # ramp's start for any length > 0), so its derivative there is a convention: _eval takes the
    # schedule's at 0 - W, _at_zero none. The values agree.
    jump = js.repeat(js.warmup(js.linear(1.0, 0.0, 6), 0.0), 6)
    assert float(at0(jump)) == float(eval0(jump)) == 1.0
    for s in cases:
        assert float(at0(s)) == float(eval0(s))
        for a, b in zip(jax.tree_util.tree_leaves(jax.grad(at0)(s)), jax.tree_util.tree_leaves(jax.grad(eval0)(s))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_nested_restarts_trace_grows_twofold_per_level() -> None:
    # Each repeat evaluates its schedule in both of its paths (two fused loops): the traced program doubles
    # per nesting level. A warmup's target (the value at 0) used to trace the repeat's two paths again,
    # which made it 4-5x per level (3 levels: 3.6 s to trace, 5 levels: 100 s).
    k = jnp.arange(50, dtype=jnp.int32)
    size = [len(str(jax.make_jaxpr(lambda s: s(k))(_nested_restarts(d)))) for d in (1, 2, 3)]
    assert size[2] < 2.8 * size[1] and size[1] < 2.8 * size[0], size
    s = _nested_restarts(3)
    assert all_finite(s(k)) and all_finite(jax.grad(lambda s: s(k).sum())(s))
    steps = np.arange(0, 400)
    got = np.asarray(_nested_restarts(2)(jnp.asarray(steps, jnp.int32)), np.float64)
    with jax.enable_x64(True):
        want = np.asarray(_nested_restarts(2)(jnp.asarray(steps, jnp.int64)))
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


@pytree
class _RootDecay(js.Schedule):
    """A user schedule that is smooth from step 0 on and NaN below step -1: ``v / sqrt(1 + t)``."""

    value: jax.Array

    def _eval(self, t: jax.Array) -> jax.Array:
        return self.value / jnp.sqrt(1.0 + t.astype(self.value.dtype))


@pytest.mark.parametrize("kind", ["three-pieces", "one-piece", "empty-first", "large-family"])
def test_join_below_zero_is_finite_whatever_its_pieces(kind: str) -> None:
    # Join declares _negative_ok, so a warmup hands it negative local steps (and discards the values):
    # they must be finite, with finite gradients, even with pieces that are NaN below 0 on their own.
    root, expo = _RootDecay(jnp.float32(1.0)), js.exponential(1.0, 0.5, 3.0)
    assert not all_finite(root._eval(jnp.float32(-3.0)))
    table = js.piecewise_constant([1.0, 0.5, 0.25], [2.0, 4.0])
    s = {
        "three-pieces": js.join([root, expo, table], [5.0, 9.0]),
        "one-piece": js.join([root], []),
        "empty-first": js.join([expo, root], [0.0]),
        # 12 of one family (gathered): piece 0's local step is clipped at 0 for a child NaN below -1
        "large-family": js.join([_RootDecay(jnp.float32(1.0 + i)) for i in range(12)], [5.0 * i for i in range(1, 12)]),
    }[kind]
    neg = jnp.asarray([-0.5, -3.0, -1e6, -2.0**31], jnp.float32)
    assert all_finite(s._eval(neg))
    assert all_finite(jax.grad(lambda s: s._eval(neg).sum())(s))
    w = js.warmup(s, 2**30 + 128)  # local steps down to about -2**30 (integer and pair arithmetic)
    k = jnp.asarray([0, 1, 2**29, 2**30 + 127, 2**30 + 128, 2**30 + 140], jnp.int32)
    out = w(k)
    assert all_finite(out) and float(out[-2]) == pytest.approx(float(s(0)), rel=1e-6)
    assert all_finite(jax.grad(lambda w: w(k).sum())(w))


def test_a_warmup_ramps_to_a_shifted_schedules_value_at_zero() -> None:
    # warmup(s, -5) is s shifted by 5: its value at 0 is s(5), which an outer warmup (no target) ramps to.
    # Warmup._at_zero gave s(0) for any length <= 0: the ramp aimed at 1.0 and the value fell to 0.5 at
    # its end (found by a helper's fuzz). Also through repeat's value at 0, under vmap over the inner
    # length (traced: -5, 0 and 3 in one program) and with finite gradients.
    s, ref = js.linear(1.0, 0.0, 10), R.linear(1.0, 0.0, 10)
    k = np.arange(0, 40)
    for w in (-5.0, -2.5, 0.0, 3.0):
        for sched, want in ((js.warmup(js.warmup(s, w), 10), R.warmup(R.warmup(ref, w), 10)),
                            (js.warmup(js.repeat(js.warmup(s, w), 10.0), 10),
                             R.warmup(R.repeat(R.warmup(ref, w), 10.0), 10))):
            assert_close_to_peak(sched(k), want(k), 1.0, 1e-6)
    ws = jnp.asarray([-5.0, 0.0, 3.0])
    grid = jax.vmap(lambda w: js.warmup(js.warmup(s, w), 10)(k))(ws)
    for row, w in zip(np.asarray(grid), (-5.0, 0.0, 3.0)):
        assert_close_to_peak(row, R.warmup(R.warmup(ref, w), 10)(k), 1.0, 1e-6)
    g = jax.vmap(jax.grad(lambda w: js.warmup(js.warmup(s, w), 10)(jnp.asarray(k)).sum()))(ws)
    assert all_finite(g) and float(g[0]) != 0.0  # the ramp's target moves with the shift
    # That evaluation is traced only where the length may be below 0 (Warmup.shift, structure): a concrete
    # length >= 0 keeps the value at 0 a value at 0 (nested restarts: compile 4.7 -> 11 s at depth 4).
    assert not js.warmup(s, 3.0).shift and js.warmup(s, -3.0).shift
    seen: list[bool] = []
    jax.vmap(lambda w: seen.append(js.warmup(s, w).shift) or w)(ws)
    assert seen == [True]  # traced: may be below 0
    mixed = js.stack([js.warmup(s, -5.0), js.warmup(s, 3.0)])  # a batch: the general form
    assert mixed.shift
    assert_close_to_peak(jax.vmap(lambda m: js.warmup(m, 10)(k))(mixed)[0], R.warmup(R.warmup(ref, -5.0), 10)(k), 1.0)
    with pytest.raises(ValueError, match="steps below 0 .a shift. need shift=true"):
        cfg = js.to_config(js.warmup(s, 3.0))
        cfg["schedule"]["steps"] = -3.0
        js.from_config(cfg)


@pytest.mark.parametrize("mult", [1.0, 2.0, 1.5])
@pytest.mark.parametrize("w_len", [5003, 2**20 + 3], ids=["closed-form", "exact-path"])
def test_warmup_hands_repeat_negative_steps_on_both_paths(mult: float, w_len: int) -> None:
    # Repeat declares _negative_ok, so a warmup hands it local steps below 0 unclipped. Steps below 2**17
    # take the closed form, a call with larger steps the exact integer path (float32; the decision is
    # taken on the steps): both must give the ramp before the warmup's end, finite gradients, and
    # repeat's own values after it.
    inner = js.repeat(js.cosine(1.0, 0.1, 1000), 1000, period_mult=mult, decay=0.5)
    w = js.warmup(inner, w_len, init_value=0.2)
    k = np.asarray([0, 1, w_len // 2, w_len - 1, w_len, w_len + 1, w_len + 999, w_len + 1000, w_len + 3000], np.int32)
    out = np.asarray(w(k))
    before = k < w_len
    np.testing.assert_allclose(out[before], 0.2 + 0.8 * k[before] / w_len, rtol=2e-6)
    np.testing.assert_allclose(out[~before], np.asarray(inner(k[~before] - w_len)), rtol=0, atol=1e-7)
    grads = jax.grad(lambda s: s(jnp.asarray(k)).sum())(w)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree_util.tree_leaves(grads))


@pytest.mark.parametrize("kinds", ["cc", "clc", "c" * 6, "cl" * 6, "c" * 12])
def test_a_boundary_below_zero_starts_its_piece_before_step_zero(kinds: str) -> None:
    # As in optax's join_schedules: the pieces ending below 0 are never reached, and the first one
    # reached sees t - b > t. Each piece on its own (families up to 4), stacked and looked up (5 and more:
    # select chains up to 8, a gather above).
    n = len(kinds)
    bounds = [-7.5, -2.0][: n - 1] + [float(6 * i + i % 3) for i in range(1, n - 2)]
    k = np.arange(0, 6 * n + 20)
    s, ref = js.join(_family_pieces(kinds, 1.0, js), bounds), R.join(_family_pieces(kinds, 1.0, R), bounds)
    assert_close_to_peak(s(k), ref(k), 2.0 * n)
    assert_close_to_peak(s(k.astype(np.float32)), ref(k), 2.0 * n)
    # inside a warmup the join gets an exact pair (k - 3, 0), and a negative warmup shifts it further
    for w in (3.0, -2.5):
        assert_close_to_peak(js.warmup(s, w, 0.5)(k), R.warmup(ref, w, 0.5)(k), 2.0 * n)
    g = jax.grad(lambda b: jnp.sum(js.join(_family_pieces(kinds, 1.0, js), b)(k) ** 2))(jnp.asarray(bounds))
    assert all_finite(g) and (n == 2 or float(jnp.abs(g[-1])) > 0)  # n = 2: its piece is past its end at step 0


@pytest.mark.parametrize("b", [-0.5, -1.0, -1.5, -2.25, -3.0])
def test_a_pair_child_sees_a_start_below_zero_exactly(b: float) -> None:
    # A child that takes an exact pair (k, r) reads r in [0, 1): a start below 0 carries its whole part
    # into k. (It used to stay in r, and piecewise_constant's boundary test then ignored it.)
    k = np.arange(0, 14)
    for child, ref in (
        (js.piecewise_constant([1.0, 0.5, 0.25], [2, 4]), R.piecewise_constant([1.0, 0.5, 0.25], [2, 4])),
        (js.repeat(js.linear(1.0, 0.0, 3), 3.0), R.repeat(R.linear(1.0, 0.0, 3), 3.0)),
    ):
        want = ref(k - b)
        np.testing.assert_allclose(js.join([js.constant(0.1), child], [b])(k), want, atol=1e-6)
        np.testing.assert_allclose(js.warmup(child, b)(k), want, atol=1e-6)
        np.testing.assert_allclose(js.warmup(js.join([js.constant(0.1), child], [b]), 2)(k + 2), want, atol=1e-6)
    # exact up to the int range's top, for the local step: global steps up to INT_MAX + b
    top = np.asarray([2**31 - 300, 2**31 - 200, 2**31 - 1], np.int32) + np.int32(math.floor(b))
    pc = js.piecewise_constant([1.0, 0.5, 0.25], [2**31 - 256, 2**31 - 128])  # float32-exact boundaries
    want = R.piecewise_constant([1.0, 0.5, 0.25], [2**31 - 256, 2**31 - 128])(top - b)
    np.testing.assert_array_equal(js.join([js.constant(0.1), pc], [b])(top), want)
    assert len(set(want.tolist())) == 3


@pytest.mark.parametrize("P,mult,shift", [(7, 1.0, 2**25 + 4), (5, 2.0, 5242775), (3, 3.0, 21523308)])
def test_a_start_far_below_zero_takes_repeats_exact_path(P: int, mult: float, shift: int) -> None:
    # A start at -shift puts a repeat's local step `shift` ahead of the global one: past 2**17, where only
    # the exact integer path finds its restarts. Whether a call takes it was decided on the global steps
    # alone (all below 2**17 here): the cycle phase was off by up to a whole cycle. (Found in review.)
    # The start's distance now counts, bounded over a grid's settings, so a grid still runs one branch.
    assert float(np.float32(-shift)) == -shift  # the boundary itself is exact in float32
    k = np.arange(0, 200)
    want = R.join([R.constant(0.0), R.repeat(R.linear(1.0, 0.0, P), P, mult)], [-shift])(k)
    rep = js.repeat(js.linear(1.0, 0.0, P), P, mult)
    joined = js.join([js.constant(0.0), rep], [-shift])

    @pytree
    class _Wrap(js.Schedule):  # a class that takes no pair: the join below it decides on its own
        inner: js.Schedule

        def _eval(self, t: Any) -> Any:
            return self.inner._at(t)

    for s in (joined, js.warmup(rep, -shift), _Wrap(joined), js.warmup(joined, 3.0)):
        k_s = k + 3 if isinstance(s, js.Warmup) and s.schedule is joined else k
        assert_close_to_peak(jax.jit(lambda s, k: s(k))(s, jnp.asarray(k_s, jnp.int32)), want, 1.0, 2e-6)
    # a grid of warmups, one of them at -shift: that setting is exact too, and the call one conditional
    ws = jnp.asarray([10.0, -float(shift), 3.0])
    grid = jax.jit(jax.vmap(lambda w: js.warmup(rep, w)(jnp.asarray(k, jnp.int32))))
    for row, w in zip(np.asarray(grid(ws)), np.asarray(ws).tolist()):
        assert_close_to_peak(row, R.warmup(R.repeat(R.linear(1.0, 0.0, P), P, mult), w)(k), 1.0, 2e-6)
    assert grid.lower(ws).compile().as_text().count(" conditional(") == 1


@pytest.mark.parametrize("P,mult", [(1.0, 1.25), (2.5, 3.0), (0.5, 3.0), (1.0, 2.5), (3.0, 1.5), (7.5, 1.125)])
def test_restart_points_exact_in_binary_are_reached(P: float, mult: float) -> None:
    # Restart points that are not integers but exact in binary (P = 1, m = 1.25: 2.25, 3.8125, 5.765625, ...)
    # came out of the closed form a few ulps high, so the step at the point read the end of the cycle
    # before (found by fuzzing the timm port). Every such point is reached, in float32 and x64 (the
    # exact path above 2**17 too), and a step 1/16 below it is still in the cycle before.
    pts, s, length = [], Fraction(0), Fraction(P)
    for _ in range(40):
        s, length = s + length, length * Fraction(mult)
        if s < 2**30:
            pts.append(s)
    ref = R.repeat(R.linear(1.0, 0.0, P), P, mult)
    for x64, dt in ((False, np.float32), (True, np.float64)):
        exact = [float(x) for x in pts if Fraction(float(dt(float(x)))) == x and x.denominator > 1]
        assert exact
        with jax.enable_x64(x64):
            sched = js.repeat(js.linear(1.0, 0.0, P), P, mult)
            # the restart's value, up to the rounding of the point (a few ulps of it, where it came out low)
            np.testing.assert_allclose(np.asarray(sched(np.asarray(exact, dt))), 1.0, rtol=64 * np.finfo(dt).eps)
            # the step 1/16 below: the cycle before, where 1/16 is beyond the point's ~i log(m) ulps of doubt
            below = np.asarray([x - 0.0625 for x in exact if x < (2**12 if dt is np.float32 else 2**30)], dt)
            assert below.size and np.all(np.asarray(sched(below)) < 0.5)
            assert_close_to_peak(sched(below), ref(below), 1.0, 1e-9 if x64 else 2e-5)


@pytest.mark.parametrize("P", [7, 1971, 12345])
def test_a_boundary_inside_a_repeat_falls_on_its_step(P: int) -> None:
    # The child of a repeat sees (u / L) * P, which rounded an integer local step u below itself where the
    # cycle lasts P: a join's or piecewise schedule's boundary at b switched at step b + 1 (10% of the
    # (period, boundary) pairs; P = 1971, b = 306 among them; found by a helper's fuzz). It now sees
    # u * (P / L), with P / L exactly 1 there: every cycle of period_mult 1, the first of any.
    bs = np.unique(np.linspace(1, P - 2, 120).astype(int))  # b + 1 <= P - 1: the next cycle starts at P
    for x64 in (False, True):
        with jax.enable_x64(x64):
            for mult, cycles_seen in ((1.0, (0, 1, 5)), (2.0, (0,))):
                for b in bs:
                    s = js.repeat(js.piecewise_constant([2.0, 1.0], [float(b)]), float(P), mult)
                    j = js.repeat(js.join([js.constant(2.0), js.constant(1.0)], [float(b)]), float(P), mult)
                    k = np.asarray([c * P + b + d for c in cycles_seen for d in (-1, 0, 1)])
                    want = np.tile([2.0, 1.0, 1.0], len(cycles_seen))
                    np.testing.assert_array_equal(np.asarray(s(k)), want, err_msg=f"b={b} mult={mult} x64={x64}")
                    np.testing.assert_array_equal(np.asarray(j(k)), want, err_msg=f"b={b} mult={mult} x64={x64}")


def test_more_than_2_31_cycles_in_float64() -> None:
    # The cycle index was capped at 2**31, so past 2**31 cycles (a period of 2**-10 from step 2**21 on) the
    # value held a cycle's end; float64 resolves those phases (found by a helper's fuzz). float32 cannot:
    # its steps there are 0.25 apart, 256 cycles.
    P = 2.0**-10
    with jax.enable_x64(True):
        s = js.repeat(js.linear(1.0, 0.0, P), P, decay=1.0, cycles=math.inf)
        k = np.asarray([1000, 2**21, 2**21 + 1, 3_000_000])
        np.testing.assert_array_equal(np.asarray(s(k)), 1.0)  # every integer step starts a cycle
        np.testing.assert_allclose(np.asarray(s(k + P / 2)), 0.5, rtol=0, atol=1e-9)


def test_an_integer_step_just_below_a_restart_that_is_not_an_integer() -> None:
    # Restart 10 of P = 1000, m = 1.5 is at 113330.08: step 113330 is in the cycle before. The band that lets
    # a fractional step reach a restart point a few eps above it (see above) would put it past the restart;
    # integer steps keep the plain comparison.
    k = np.asarray([113329, 113330, 113331])
    s, ref = js.repeat(js.cosine(1.0, 0.0, 1000.0), 1000.0, 1.5), R.repeat(R.cosine(1.0, 0.0, 1000.0), 1000.0, 1.5)
    want = ref(k)
    assert want[1] < 1e-9 < 0.99 < want[2]
    assert_close_to_peak(s(k), want, 1.0, 1e-5)
    assert_close_to_peak(s(k.astype(np.float32)), want, 1.0, 1e-5)


def test_batch_max_is_a_bound_over_every_level_of_vmap() -> None:
    from jaxsched._base import _batch_max

    x = jnp.arange(12.0).reshape(3, 4) - 20.0
    assert float(_batch_max(jnp.float32(2.5))) == 2.5
    out = jax.vmap(jax.vmap(_batch_max))(x)
    assert jnp.shape(out) == (3, 4) and bool(jnp.all(out == -9.0))  # unbatched inside: the max of all 12
    assert str(jax.make_jaxpr(jax.vmap(jax.vmap(_batch_max)))(x)).count("reduce_max") == 2


@pytest.mark.parametrize("decay,after", [(None, 0.1), (0.5, 0.0), (1.0, 0.1), (1.5, 0.1 * math.exp(80.0))])
def test_shrinking_cycles_end_at_their_limit_point(decay: float | None, after: float) -> None:
    # Cycles of 16 * 0.5**i add up to 32: from step 32 on every cycle has run. The value there is a cycle's
    # end times decay**i for i -> inf (0 below 1, the growth cap e**80 above 1), in float32 and x64 alike.
    # (It was a cycle's start or end as the rounding fell, times decay**23 or decay**52: 0.5**23 = 1.2e-7.)
    k = np.asarray([32, 33, 40, 1000, 2**31 - 1])
    before = np.arange(32)
    ref = R.repeat(R.cosine(1.0, 0.1, 16.0), 16.0, 0.5, 1.0 if decay is None else decay)
    for x64 in (False, True):
        with jax.enable_x64(x64):
            s = js.repeat(js.cosine(1.0, 0.1, 16.0), 16.0, 0.5, decay=decay)
            np.testing.assert_allclose(s(k), after, rtol=2e-6)
            assert_close_to_peak(s(before), ref(before), 1.0)
            g = jax.grad(lambda s: jnp.sum(s(np.arange(64))))(s)
            assert all(all_finite(x) for x in jax.tree.leaves(g))


def test_growing_amplitudes_over_shrinking_cycles_stay_finite() -> None:
    # keras CosineDecayRestarts(t_mul < 1, m_mul > 1): decay**i grows without bound as the cycles shrink
    # to their limit point (32 steps here). It is capped at e**80, so the values stay finite (they gave
    # inf, then NaN past the limit point, where every cycle has run: the end value 0 here).
    s = js.repeat(js.cosine(1.0, 0.0, 8.0), 8.0, 0.75, decay=10.0)
    k = np.arange(32)
    np.testing.assert_allclose(s(k), R.repeat(R.cosine(1.0, 0.0, 8.0), 8.0, 0.75, 10.0)(k), rtol=2e-5, atol=1e-6)
    near = 32.0 - 2.0 ** -np.arange(1.0, 22.0)  # float steps closing in on the limit point: ~2.4 cycles each
    v = np.asarray(s(near.astype(np.float32)))
    assert np.isfinite(v).all() and v.max() <= math.exp(80.0) * 1.0001 and v.max() > 1e30  # the cap holds it
    np.testing.assert_array_equal(s(np.asarray([32, 33, 1000])), 0.0)
