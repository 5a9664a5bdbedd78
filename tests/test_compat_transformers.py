"""Parity of jaxsched.compat.transformers with transformers 5.23, from committed fixtures.

``tests/fixtures/transformers_schedules.json`` holds the learning rates the real
``transformers.get_scheduler`` wrote into a torch optimizer, step by step
(``scripts/make_fixtures_keras_hf_timm.py``). Each group of configurations
with the same structure runs as one ``jit(vmap(...))`` over every numeric
argument, the WSD shape names included (as indices). Steps where transformers'
float ``% 1`` misses an exact restart (``"diff"``) are checked against the
intended value, and the miss is checked to be real.
"""

from __future__ import annotations

import enum
import inspect
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import all_finite, check_parity, eval_group

import jaxsched
from jaxsched.compat import transformers as hf

FIX = json.loads((pathlib.Path(__file__).parent / "fixtures" / "transformers_schedules.json").read_text())
CASES = FIX["cases"]
TYPES = {"linear": 0, "cosine": 1, "1-sqrt": 2}


FUNCS = {
    "linear": hf.get_linear_schedule_with_warmup,
    "cosine": hf.get_cosine_schedule_with_warmup,
    "cosine_with_restarts": hf.get_cosine_with_hard_restarts_schedule_with_warmup,
    "polynomial": hf.get_polynomial_decay_schedule_with_warmup,
    "cosine_with_min_lr": hf.get_cosine_with_min_lr_schedule_with_warmup,
    "cosine_warmup_with_min_lr": hf.get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
    "warmup_stable_decay": hf.get_wsd_schedule,
}


def full_kwargs(case):
    """The case's scheduler kwargs plus the function's numeric defaults (fewer distinct groups)."""
    kw = dict(case["kwargs"])
    fn = FUNCS.get(case["name"])
    if fn is not None:
        for k, p in inspect.signature(fn).parameters.items():
            skip = ("last_epoch", "num_warmup_steps", "num_training_steps", "num_decay_steps", "num_stable_steps")
            numeric = isinstance(p.default, (int, float)) and not isinstance(p.default, bool)
            if k not in kw and k not in skip and numeric:
                kw[k] = p.default
    return kw


def evaluate(cases, dtype):
    groups = {}
    cases = [dict(c, kwargs=full_kwargs(c)) for c in cases]
    for i, c in enumerate(cases):
        kw = c["kwargs"]
        nums = tuple(sorted(k for k in kw if k not in ("warmup_type", "decay_type")))
        has_types = c["name"] == "warmup_stable_decay"
        key = (c["name"], c["num_training_steps"] is None, nums, has_types)
        groups.setdefault(key, []).append(i)
    out = [None] * len(cases)
    for (name, no_n, nums, has_types), idx in groups.items():
        cols = [[cases[i]["lr"] for i in idx], [cases[i]["num_warmup_steps"] for i in idx]]
        if not no_n:
            cols.append([cases[i]["num_training_steps"] for i in idx])
        cols += [[cases[i]["kwargs"][k] for i in idx] for k in nums]
        args = [np.asarray(col, dtype) for col in cols]
        if has_types:
            for t in ("warmup_type", "decay_type"):
                args.append(np.asarray([TYPES[cases[i]["kwargs"].get(t, "linear" if t[0] == "w" else "cosine")]
                                        for i in idx], np.int32))

        def one(vals, k, name=name, no_n=no_n, nums=nums, has_types=has_types):
            vals = list(vals)
            lr, W = vals.pop(0), vals.pop(0)
            N = None if no_n else vals.pop(0)
            kw = {n: vals.pop(0) for n in nums}
            if has_types:
                kw["warmup_type"], kw["decay_type"] = vals.pop(0), vals.pop(0)
            return hf.get_scheduler(name, lr, W, N, kw)(k)

        eval_group(one, args, cases, idx, out)
    return out


def check(case, got, rtol):
    where = f"{case['name']} lr={case['lr']} W={case['num_warmup_steps']} N={case['num_training_steps']}"
    check_parity(case, got, rtol, f"{where} {case['kwargs']}")


def test_fixture_meta():
    assert FIX["library"] == "transformers" and FIX["version"] == hf.TRANSFORMERS_VERSION
    assert {c["name"] for c in CASES} == set(hf.SCHEDULER_TYPES) - {"reduce_lr_on_plateau", "greedy"}


def test_parity_float32():
    for c, g in zip(CASES, evaluate(CASES, np.float32)):
        check(c, g, 1e-6)


def test_parity_x64():
    with jax.enable_x64(True):
        got = evaluate(CASES, np.float64)
    for c, g in zip(CASES, got):
        check(c, g, 1e-12)


def test_documented_differences_are_covered():
    diffs = [c for c in CASES if "diff" in c]
    assert {c["diff"]["reason"] for c in diffs} == {"float mod restart"}
    assert {c["name"] for c in diffs} == {"cosine_with_restarts"}
    # e.g. N - W = 22 with num_cycles = 22: transformers gives ~0 at k = 15, the 16th restart.
    c = next(c for c in diffs if c["num_training_steps"] == 22)
    assert 15 in [c["steps"][i] for i in c["diff"]["idx"]]


def test_signatures_match_transformers():
    for name, params in FIX["signatures"].items():
        if name == "get_adafactor_schedule":
            continue
        ours = inspect.signature(getattr(hf, name)).parameters
        ours = [[k, "<required>" if p.default is inspect.Parameter.empty else p.default]
                for k, p in ours.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        theirs = [["lr", "<required>"] if k == "optimizer" else [k, d] for k, d in params]
        assert ours == theirs, name


def test_get_scheduler_dispatch():
    class Kind(enum.Enum):
        LINEAR = "linear"

    a = hf.get_scheduler(Kind.LINEAR, 1.0, 10, 110)
    b = hf.get_linear_schedule_with_warmup(1.0, 10, 110)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    # "constant" ignores everything else; "constant_with_warmup" drops the kwargs (as transformers does).
    assert isinstance(hf.get_scheduler("constant", 0.5, None, None, {"bogus": 1}), jaxsched.Constant)
    s = hf.get_scheduler("constant_with_warmup", 1.0, 4, None, {"bogus": 1})
    assert jax.tree_util.tree_structure(s) == jax.tree_util.tree_structure(hf.get_constant_schedule_with_warmup(1.0, 4))
    # inverse_sqrt and warmup_stable_decay need no num_training_steps.
    hf.get_scheduler("inverse_sqrt", 1.0, 10)
    hf.get_scheduler("warmup_stable_decay", 1.0, 10, None, {"num_decay_steps": 5, "num_stable_steps": 5})


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: hf.get_scheduler("cosine_annealing", 1.0, 1, 10), ValueError, "not a valid SchedulerType"),
        (lambda: hf.get_scheduler("linear", 1.0, None, 10), ValueError, "linear requires `num_warmup_steps`"),
        (lambda: hf.get_scheduler("cosine", 1.0, 0, None), ValueError, "cosine requires `num_training_steps`"),
        (lambda: hf.get_scheduler("greedy", 1.0), ValueError, "not ported yet"),
        (lambda: hf.get_scheduler("linear", 1.0, 0, 10, {"num_cycles": 2}), TypeError, "num_cycles"),
        (lambda: hf.get_polynomial_decay_schedule_with_warmup(1e-8, 0, 10), ValueError,
         r"lr_end \(1e-07\) must be smaller than initial lr"),
        (lambda: hf.get_cosine_with_min_lr_schedule_with_warmup(1.0, 0, 10), ValueError,
         "One of min_lr or min_lr_rate"),
        (lambda: hf.get_cosine_with_min_lr_schedule_with_warmup(1.0, 0, 10, min_lr=0.1, min_lr_rate=0.1),
         ValueError, "Only one of min_lr or min_lr_rate"),
        (lambda: hf.get_wsd_schedule(1.0, 0, 10), ValueError, "Either num_training_steps or num_stable_steps"),
        (lambda: hf.get_wsd_schedule(1.0, 10, 10, 15), ValueError, "must be >= num_warmup_steps \\+ num_decay_steps"),
        (lambda: hf.get_wsd_schedule(1.0, 1, 1, 5, warmup_type="exp"), ValueError, "warmup_type must be one of"),
        (lambda: hf.get_wsd_schedule(1.0, 1, 1, 5, min_lr_ratio=-0.1), ValueError, "min_lr_ratio must be >= 0"),
        (lambda: hf.get_linear_schedule_with_warmup(1.0, -1, 10), ValueError, "num_warmup_steps must be >= 0"),
        (lambda: hf.get_inverse_sqrt_schedule(1.0, 0, timescale=0), ValueError, "timescale must be > 0"),
        (lambda: hf.get_cosine_with_min_lr_schedule_with_warmup(0.0, 0, 10, min_lr=0.1), ValueError,
         "needs a nonzero lr"),
        (lambda: hf.get_cosine_with_hard_restarts_schedule_with_warmup(1.0, 0, 10, num_cycles=-1), ValueError,
         "num_cycles must be >= 0"),
        (lambda: hf.get_polynomial_decay_schedule_with_warmup(1.0, 0, 10, power=-1.0), ValueError,
         "power must be >= 0"),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_polynomial_with_no_decay_steps_gives_lr_end():
    # N == W: transformers divides by zero (ZeroDivisionError) at k = W; jaxsched gives lr_end from k = W.
    s = hf.get_polynomial_decay_schedule_with_warmup(1.0, 5, 5, lr_end=0.25)
    v = jax.jit(lambda s: s(jnp.asarray([0, 4, 5, 6])))(s)
    np.testing.assert_allclose(v, [0.0, 0.8, 0.25, 0.25], rtol=1e-6)


def test_polynomial_reaches_lr_end_at_n_under_closure_jit():
    s = hf.get_polynomial_decay_schedule_with_warmup(1.0, 0, 41, lr_end=0.0, power=0.5)
    assert float(jax.jit(lambda k: s(k))(41)) == 0.0


def test_wsd_warns_when_both_lengths_are_given():
    with pytest.warns(UserWarning, match="num_stable_steps will be used"):
        s = hf.get_wsd_schedule(1.0, 2, 2, num_training_steps=100, num_stable_steps=3, decay_type="linear")
    t = hf.get_wsd_schedule(1.0, 2, 2, num_stable_steps=3, decay_type="linear")
    for u, v in zip(jax.tree_util.tree_leaves(s), jax.tree_util.tree_leaves(t)):
        np.testing.assert_array_equal(u, v)


def test_native_equivalents():
    N, W = 120, 20
    pairs = [
        (hf.get_linear_schedule_with_warmup(0.3, W, N), jaxsched.linear_to_zero(0.3, N, W)),
        (hf.get_cosine_schedule_with_warmup(0.3, W, N), jaxsched.warmup_cosine(0.3, N, W)),
        (hf.get_inverse_sqrt_schedule(0.3, W), jaxsched.warmup_inverse_sqrt(0.3, W)),
        (hf.get_wsd_schedule(0.3, W, 30, N, decay_type="1-sqrt", min_lr_ratio=0.1),
         jaxsched.wsd(0.3, N, W, decay_steps=30, decay_shape="1-sqrt", init_value=0.03, end_value=0.03)),
    ]
    got = jax.jit(lambda pairs, k: [(p(k), n(k)) for p, n in pairs])(pairs, jnp.arange(0, N + 1))
    for port, native in got:
        np.testing.assert_allclose(port, native, rtol=2e-6, atol=1e-7)


def test_cosine_is_periodic_past_the_end():
    s = hf.get_cosine_schedule_with_warmup(1.0, 0, 30)
    v = jax.jit(lambda s: s(jnp.asarray([30, 35, 60])))(s)
    np.testing.assert_allclose(v, [0.0, (1 - np.cos(np.pi * 5 / 30)) / 2, 1.0], atol=1e-6)


ULPS = 2.4e-7  # float32 structure against leaves: XLA's code for two programs can differ by an ulp


@pytest.mark.parametrize("N", [1.0, 7.0, 12.5, 1000.0, 99_999.0])
@pytest.mark.parametrize("offset", [None, 1.0])
@pytest.mark.parametrize("rate", [None, 0.1])
def test_half_wave_is_as_accurate_as_the_leaves(N, offset, rate):
    # cycles=None (C = 1/2, transformers' default) folds the step into one half period for the core's
    # kernel; the leaves 0.5 / 0 / 0 take the general phase. Both against transformers' formula in
    # float64 over 40 periods and past them, at integer and fractional steps, b - 1, b and b + 1 of
    # every half period included (in float32 the steps are exact; N = 12.5 is too).
    f = np.float32
    frac = np.random.default_rng(0).uniform(0, 40 * N, 20_000)
    k = np.concatenate([np.arange(0, min(int(20 * N), 20_000) + 3), frac, [f(3e5)]]).astype(f)
    b = np.arange(1, 41) * N
    k = np.concatenate([k, (b[:, None] + np.array([-1.0, 0.0, 1.0])).ravel()]).astype(f)
    half = hf.CosineWave(f(0.7), None if rate is None else f(rate), f(N), None, None if offset is None else f(offset))
    leaf = hf.CosineWave(f(0.7), f(rate or 0.0), f(N), f(0.5), f(offset or 0.0))
    a, c = (np.asarray(jax.jit(lambda s: s(jnp.asarray(k)))(s), np.float64) for s in (half, leaf))
    x = (k + f(offset or 0.0)).astype(np.float64)  # the step as the schedule sees it (float32 sum)
    v, r = float(f(0.7)), float(f(rate or 0.0))  # the leaves as float32 holds them
    ref = v * np.maximum(0.0, r + (1 - r) * 0.5 * (1 + np.cos(np.pi * x / N)))
    whole = k == np.floor(k)
    ea, ec = np.abs(a - ref) / v, np.abs(c - ref) / v
    # within 2e-7 of the peak at integer steps (the general phase reached 2.8e-7), 2.4e-7 at fractional
    # ones (the product of the step and 1 / (2 N) rounds once more); never worse than the leaves' path
    assert ea[whole].max() <= 2e-7 and ea.max() <= 2.4e-7
    assert ea[whole].max() <= ec[whole].max() + 1e-8 and ea.max() <= ec.max() + 1e-8
    # every crest (x a multiple of 2 N) to the bit: the factor is exactly 1 there
    crest = np.fmod(x, 2 * N) == 0
    top = f(0.7) if rate is None else f(0.7) * max(f(1.0) * (f(1.0) - f(rate)) + f(rate), f(0.0))
    assert np.all(a[crest] == top) and crest.sum() >= 20


def test_half_wave_is_structure_in_the_ports_and_a_leaf_when_swept():
    W, N, k = 10, 110, jnp.arange(0, 400)
    s = hf.get_cosine_schedule_with_warmup(0.5, W, N)
    wave = s.schedule
    assert (wave.rate, wave.cycles, wave.offset) == (None, None, None)
    assert hf.get_cosine_with_min_lr_schedule_with_warmup(0.5, W, N, min_lr=0.05).schedule.cycles is None
    shifted = hf.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(0.5, W, N, min_lr_rate=0.1)
    assert shifted.schedules[1].cycles is None
    # traced num_cycles stays a leaf (the general phase): the same values up to the two kernels' errors
    # (each within 3e-7 of the peak, test above)
    leafy = jax.jit(lambda lr, c: hf.get_cosine_schedule_with_warmup(lr, W, N, c)(k))
    np.testing.assert_allclose(leafy(0.5, 0.5), s(k), rtol=0, atol=5e-7 * 0.5)
    # a grid mixing the default with other cycles runs every setting as a leaf
    grid = jaxsched.grid(hf.get_cosine_schedule_with_warmup, lr=[0.5, 1.0], num_warmup_steps=W,
                         num_training_steps=N, num_cycles=[0.5, 1.0, 2.25])
    assert grid.schedules.schedule.cycles.shape == (6,)
    rows = np.asarray(jax.vmap(lambda s: s(k))(grid.schedules))
    kk = np.arange(400)
    for row, lr, c in zip(rows, grid.settings["lr"], grid.settings["num_cycles"]):
        # the general phase's rounding grows with C (an ulp of C r / N is 2 pi C ulps of the angle):
        # within 6e-7 of the peak of transformers' float64 formula at C = 2.25, and of a plain call
        ref = np.where(kk < W, lr * kk / W, lr * 0.5 * (1 + np.cos(2 * np.pi * c * (kk - W) / (N - W))))
        assert np.max(np.abs(row - ref)) <= 6e-7 * lr
        np.testing.assert_allclose(row, leafy(lr, c), rtol=0, atol=1e-6 * lr)
    # and so does a stack with the min-lr port (a rate leaf beside rate=None)
    mixed = jaxsched.stack([s, hf.get_cosine_with_min_lr_schedule_with_warmup(0.5, W, N, min_lr_rate=0.2)])
    assert mixed.schedule.rate.shape == (2,)
    np.testing.assert_allclose(np.asarray(jaxsched.evaluate(mixed, k))[0], leafy(0.5, 0.5), rtol=0, atol=ULPS * 0.5)
    # configs keep the structure
    back = jaxsched.from_json(jaxsched.to_json(s))
    assert back.schedule.cycles is None
    np.testing.assert_array_equal(back(k), s(k))


def test_half_wave_gradients_and_empty_phase():
    # finite gradients in every leaf (crest and trough included); a traced length <= 0 is phase 0: the value
    f = np.float32
    k = jnp.arange(0, 65, dtype=jnp.float32)

    def loss(v, N, o):
        return hf.CosineWave(v, None, N, None, o)(k).sum()

    g = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(f(1.0), f(16.0), f(0.5))
    assert all_finite(g) and all(float(x) != 0.0 for x in g)
    # d/dN of the value at one step against a float64 central difference
    t, N = 5.0, 16.0
    d = jax.grad(lambda N: hf.CosineWave(f(1.0), None, N, None)(t))(f(N))
    c = lambda N: 0.5 * (1 + np.cos(np.pi * t / N))  # noqa: E731
    np.testing.assert_allclose(float(d), (c(N + 1e-4) - c(N - 1e-4)) / 2e-4, rtol=1e-4)
    for bad in (0.0, -3.0):
        v = jax.jit(lambda N: hf.CosineWave(f(0.7), None, N, None)(k))(f(bad))
        np.testing.assert_array_equal(v, np.full(k.shape, f(0.7)))
        leaf = hf.CosineWave(f(0.7), f(0.0), f(bad), f(0.5), f(0.0))(k)
        np.testing.assert_array_equal(leaf, v)


@pytest.mark.parametrize("lr,W,N,C", [(0.1, 1, 90, 21), (1.0, 1, 70, 25), (1.0, 61, 3025, 30), (2.0, 10, 1000, 7)])
def test_hard_restarts_keep_float32_precision_over_many_cycles(lr, W, N, C):
    # The phase comes from the exact remainder of C (k - W) by N - W: a repeat of the float32 period
    # (N - W) / C put restart i up to i half-ulps off, 3e-6 of the peak at 30 cycles (found by fuzzing the
    # port against transformers). float64 reference of transformers' formula; restarts give lr exactly.
    k = np.arange(0, N + 5)
    s = hf.get_cosine_with_hard_restarts_schedule_with_warmup(lr, W, N, C)
    v = np.asarray(jax.jit(lambda s: s(jnp.asarray(k)))(s), np.float64)
    p = (k - W) / max(1, N - W)
    ref = lr * np.where(k < W, k / max(1, W), np.where(p >= 1, 0.0, 0.5 * (1 + np.cos(np.pi * ((C * p) % 1.0)))))
    assert np.max(np.abs(v - ref)) <= 2e-7 * lr
    restarts = [W + j * (N - W) // C for j in range(C) if (j * (N - W)) % C == 0]
    assert np.all(v[restarts] == np.float32(lr))
    g = jax.grad(lambda c: hf.get_cosine_with_hard_restarts_schedule_with_warmup(lr, W, N, c)(k).sum())(float(C))
    assert np.isfinite(float(g)) and float(g) != 0.0
    # plain call and a grid under vmap over the cycles (C, 0 and a fraction) give each setting's values
    grid = jaxsched.grid(hf.get_cosine_with_hard_restarts_schedule_with_warmup, lr=lr, num_warmup_steps=W,
                         num_training_steps=N, num_cycles=[C, 0, 2.5])
    rows = jax.vmap(lambda s: s(jnp.asarray(k)))(grid.schedules)
    for row, c in zip(np.asarray(rows), grid.settings["num_cycles"]):
        one = hf.get_cosine_with_hard_restarts_schedule_with_warmup(lr, W, N, c)
        np.testing.assert_allclose(row, np.asarray(one(k)), rtol=0, atol=2.4e-7 * lr)


def test_gradients_are_finite():
    # The compat-only pieces (the periodic cosine, its shifted warmup); core gradients are tested with the core.
    def loss(lr, W, N, C, rho):
        k = jnp.arange(0, 150)
        s = hf.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(lr, W, N, C, min_lr_rate=rho, warmup_lr_rate=rho)
        return s(k).sum()

    g = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3, 4)))(1.0, 10.0, 100.0, 0.75, 0.1)
    assert all_finite(g)
    assert all(float(x) != 0.0 for x in g)


def test_reduce_lr_on_plateau_is_the_torch_plateau_port():
    # get_scheduler("reduce_lr_on_plateau") ignores warmup and length, as transformers does, and
    # returns the metric-driven state machine: patience=0 reduces at the first bad evaluation.
    p = hf.get_scheduler("reduce_lr_on_plateau", 1e-3, 5, 100, {"patience": 0, "factor": 0.5})
    _, lrs = p.run([1.0, 1.0, 0.5, 0.5])
    np.testing.assert_allclose(np.asarray(lrs), [1e-3, 5e-4, 5e-4, 2.5e-4], rtol=1e-6)
