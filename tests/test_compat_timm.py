"""Parity of jaxsched.compat.timm with timm 1.0.31, from committed fixtures.

``tests/fixtures/timm_schedules.json`` holds the learning rates timm's own
schedulers wrote into a torch optimizer after ``scheduler.step(t)``
(``scripts/make_fixtures_keras_hf_timm.py``). Each group of configurations
with the same structure runs as one ``jit(vmap(...))`` over every numeric
argument. Steps where timm's floored float ``log`` puts an exact restart in the
previous cycle (``"diff"``) are checked against the intended value, and the miss
is checked to be real. The lr noise is compared with timm's own draws by
distribution (a two-sample Kolmogorov-Smirnov test), since the numbers come from
different generators.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import TraceCounter, all_finite, check_parity, eval_group

import jaxsched
from jaxsched.compat import timm

FIX = json.loads((pathlib.Path(__file__).parent / "fixtures" / "timm_schedules.json").read_text())
CASES = FIX["cases"]
CYCLIC = ("CosineLRScheduler", "TanhLRScheduler", "PolyLRScheduler")


def full_kwargs(case):
    """The case's kwargs plus the class's numeric defaults (fewer distinct groups, one trace each)."""
    kw = dict(case["kwargs"])
    for k, p in inspect.signature(getattr(timm, case["cls"])).parameters.items():
        if k not in kw and p.kind != p.KEYWORD_ONLY and k not in ("t_in_epochs", "initialize", "noise_range_t"):
            if isinstance(p.default, (int, float)) and k not in ("noise_pct", "noise_std", "noise_seed"):
                kw[k] = p.default  # bools included (warmup_prefix)
    return kw


def evaluate(cases, dtype):
    groups = {}
    cases = [dict(c, kwargs=full_kwargs(c)) for c in cases]
    for i, c in enumerate(cases):
        kw = c["kwargs"]
        nums = tuple(sorted(kw))  # warmup_prefix too: it is a 0/1 leaf, swept like the rest
        shape = np.shape(kw.get("decay_t"))
        groups.setdefault((c["cls"], nums, shape), []).append(i)
    out = [None] * len(cases)
    for (cls, nums, _), idx in groups.items():
        args = [np.asarray([cases[i]["lr"] for i in idx], dtype)]
        args += [np.asarray([cases[i]["kwargs"][k] for i in idx], dtype) for k in nums]

        def one(vals, k, cls=cls, nums=nums):
            return getattr(timm, cls)(vals[0], **dict(zip(nums, vals[1:])))(k)

        eval_group(one, args, cases, idx, out)
    return out


def check(case, got, rtol):
    check_parity(case, got, rtol, f"{case['cls']} lr={case['lr']} {case['kwargs']}")


def test_fixture_meta():
    assert FIX["library"] == "timm" and FIX["version"] == timm.TIMM_VERSION
    assert {c["cls"] for c in CASES} == set(CYCLIC) | {"StepLRScheduler", "MultiStepLRScheduler"}


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
    assert {c["diff"]["reason"] for c in diffs} == {"floored-log restart index"}
    missed = {(c["cls"], c["kwargs"]["cycle_mul"]): [c["steps"][i] for i in c["diff"]["idx"]] for c in diffs}
    # peer-semantics.md: t_initial=1, cycle_mul=3 at t=121 and cycle_mul=10 at t=111 (timm gives lr_min there).
    assert 121 in missed[("CosineLRScheduler", 3.0)] and 111 in missed[("CosineLRScheduler", 10.0)]
    assert all(c["kwargs"].get("cycle_mul", 1.0) != 1.0 for c in diffs)


def test_multistep_milestone_placement():
    # Default: timm's convention (milestone m applies at t = m - 1); the fixtures above check it against timm.
    # decay_at_milestone=True: torch's MultiStepLR placement, i.e. jaxsched.piecewise_constant.
    a = timm.MultiStepLRScheduler(1.0, [5, 8, 8], decay_rate=0.5)
    b = timm.MultiStepLRScheduler(1.0, [5, 8, 8], decay_rate=0.5, decay_at_milestone=True)
    native = jaxsched.piecewise_constant([1.0, 0.5, 0.125], [5, 8])
    got = jax.jit(lambda s, k: [x(k) for x in s])((a, b, native), jnp.arange(12))
    np.testing.assert_array_equal(got[0][:-1], got[1][1:])
    np.testing.assert_array_equal(got[1], got[2])
    assert got[0][4] == 0.5 and got[1][4] == 1.0


def test_cycle_length_matches_timm():
    for c in CASES:
        if "cycle_length" in c:
            kw = c["kwargs"]
            args = {k: kw[k] for k in ("t_initial", "cycle_mul", "cycle_limit", "warmup_t", "warmup_prefix") if k in kw}
            assert timm.get_cycle_length(**args) == c["cycle_length"], c


def test_signatures_match_timm():
    for name, params in FIX["signatures"].items():
        ours = inspect.signature(getattr(timm, name)).parameters
        ours = [[k, "<required>" if p.default is inspect.Parameter.empty else p.default]
                for k, p in ours.items() if p.kind != p.KEYWORD_ONLY]
        theirs = [["lr", "<required>"] if k == "optimizer" else [k, d] for k, d in params]
        assert ours == theirs, name


def ks_statistic(a, b):
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, grid, side="right") / a.size
                               - np.searchsorted(b, grid, side="right") / b.size)))


def truncated_normal_std(pct, std):
    z = pct / std
    phi = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(z / math.sqrt(2))
    return std * math.sqrt(1 - 2 * z * phi / mass)


def test_noise_distribution_matches_timm():
    steps = jnp.arange(1500)
    scheds = [timm.StepLRScheduler(1.0, 10**9, noise_range_t=0, noise_pct=n["noise_pct"], noise_std=n["noise_std"],
                                   noise_seed=n["noise_seed"]) for n in FIX["noise"]]
    got = jax.jit(lambda ss, k: [s(k) for s in ss])(scheds, steps)
    for n, v in zip(FIX["noise"], got):
        ours = np.asarray(v, np.float64) - 1.0
        theirs = np.asarray(n["draws"])
        assert np.all(np.abs(ours) < n["noise_pct"]) and np.all(np.abs(theirs) < n["noise_pct"])
        # Two-sample KS at alpha = 0.001: critical value 1.949 * sqrt(2 / 1500).
        assert ks_statistic(ours, theirs) < 1.949 * math.sqrt(2 / 1500), n
        sd = truncated_normal_std(n["noise_pct"], n["noise_std"])
        assert abs(ours.std() - sd) < 0.1 * sd and abs(theirs.std() - sd) < 0.1 * sd


def test_noise_is_deterministic_ranged_and_keyed():
    def run(key, k):
        return timm.StepLRScheduler(1.0, 7, 0.5, noise_range_t=(10, 20), noise_pct=0.5, noise_key=key)(k)

    keys = jax.random.split(jax.random.key(1), 3)
    f = TraceCounter(jax.vmap(run, in_axes=(0, None)))
    k = jnp.arange(30)
    a, b = np.asarray(f(keys, k)), np.asarray(f(keys, k))
    assert f.count == 1
    np.testing.assert_array_equal(a, b)
    clean = 0.5 ** np.floor(np.arange(30) / 7)
    np.testing.assert_allclose(a[:, :10], np.broadcast_to(clean[:10], (3, 10)), rtol=1e-6)
    np.testing.assert_allclose(a[:, 20:], np.broadcast_to(clean[20:], (3, 10)), rtol=1e-6)
    assert np.all(a[:, 10:20] != clean[10:20]) and not np.array_equal(a[0], a[1])
    assert np.all(np.abs(a[:, 10:20] / clean[10:20] - 1.0) < 0.5)
    # Same step, same draw, whatever the shape of the step argument; noise_std=0 means no noise.
    s = timm.StepLRScheduler(1.0, 10**9, noise_range_t=0, noise_seed=3)
    quiet = timm.StepLRScheduler(1.0, 10**9, noise_range_t=0, noise_std=0.0)
    one, many, still = jax.jit(lambda s, q: (s(17), s(jnp.arange(30)), q(5)))(s, quiet)
    assert float(one) == float(many[17]) != 1.0
    assert float(still) == 1.0


def test_step_decays_at_exact_multiples_under_closure_jit():
    for D in (41, 47, 55, 61, 82, 83, 94, 97):
        s = timm.StepLRScheduler(1.0, D, decay_rate=0.5)
        ks = np.arange(1, 8) * D
        np.testing.assert_allclose(jax.jit(lambda k, s=s: s(k))(ks), 0.5 ** np.arange(1, 8), rtol=1e-6)


def test_cycle_ends_exactly_under_closure_jit():
    # With a constant t_initial, jit computes t / T as t * (1 / T), a hair below 1 at t = T for T = 41;
    # the shapes decide the end by comparing steps, so (1 - p)**0.5 never leaks 2.4e-4 of lr.
    s = timm.PolyLRScheduler(1.0, 41, power=0.5, lr_min=0.0)
    c = timm.CosineLRScheduler(1.0, 41, k_decay=0.5, cycle_limit=2)
    v, w = jax.jit(lambda k: (s(k), c(k)))(jnp.asarray([41, 42, 82, 90]))
    np.testing.assert_array_equal(v, 0.0)
    assert float(w[0]) == pytest.approx(1.0) and float(w[2]) == 0.0


def test_step_fractional_decay_t_uses_the_true_quotient():
    # timm computes t // decay_t in Python floats: 1 // 0.1 == 9.0 (0.1 is a hair above 1/10), so timm
    # decays 9 times at t = 1; jaxsched takes floor(1 / 0.1) = 10, the count the setting means.
    v = jax.jit(lambda s: s(jnp.asarray([1, 2])))(timm.StepLRScheduler(1.0, 0.1, decay_rate=0.5))
    np.testing.assert_allclose(v, [0.5**10, 0.5**20], rtol=1e-6)


def test_restarts_at_steps_that_are_not_integers():
    # cycle_mul != 1 with restart points exact in binary but not integers (1 + 1.25 + 1.5625 + 1.953125 =
    # 5.765625): the port gave the end of the previous cycle there (1e-30), where timm restarts at lr.
    # Found by fuzzing the port against timm 1.0.31 (1,154 of 3,239 such restarts; now none).
    cases = [
        (timm.CosineLRScheduler(1.0, 1, cycle_mul=1.25, cycle_limit=100), 5.765625),
        (timm.PolyLRScheduler(1.0, 0.5, cycle_mul=3.0, cycle_limit=math.inf, warmup_prefix=True), 6.5),
        (timm.CosineLRScheduler(1.0, 2.5, cycle_mul=3.0, cycle_limit=100), 302.5),
        (timm.CosineLRScheduler(1.0, 1000, cycle_mul=1.25, cycle_limit=100), 5765.625),
    ]
    for x64 in (False, True):
        with jax.enable_x64(x64):
            for s, t in cases:
                assert float(s(t)) == pytest.approx(1.0, rel=1e-6), (s, t, x64)
                assert float(s(t - 0.0625)) < 0.2  # near the end of the cycle before
    # tanh's value at a restart is its start value, not lr (timm misses this one too, with 0.00247)
    tanh = timm.TanhLRScheduler(1.0, 8, cycle_mul=1.25, cycle_limit=100)
    assert float(tanh(30.5)) == pytest.approx(float(tanh(0)), rel=1e-6)


def test_shrinking_cycles_past_their_limit():
    # cycle_mul < 1: timm raises ValueError (math domain error) from t = t_initial / (1 - cycle_mul) on;
    # jaxsched gives lr_min once cycle_limit cycles are done, and keeps going finitely with no limit.
    def run(limit):
        return timm.CosineLRScheduler(1.0, 10, lr_min=0.01, cycle_mul=0.5, cycle_limit=limit)(jnp.arange(0, 60))

    a, b = jax.jit(jax.vmap(run))(jnp.asarray([3.0, jnp.inf]))
    np.testing.assert_allclose(a[18:], 0.01, rtol=1e-6)  # cycles [0, 10), [10, 15), [15, 17.5)
    assert np.isfinite(np.asarray(b)).all()


def test_growth_is_capped_not_infinite():
    # decay_rate > 1: the core exponential caps its exponent at 80 (timm's float64 overflows only near 1e308).
    v = float(jax.jit(lambda s: s(100))(timm.StepLRScheduler(1.0, 1, decay_rate=10.0)))
    assert v == pytest.approx(math.exp(80), rel=1e-5)


def test_native_equivalents():
    pairs = [
        (timm.CosineLRScheduler(0.3, 100, lr_min=0.01, warmup_t=10, warmup_lr_init=0.001, warmup_prefix=True),
         jaxsched.warmup_cosine(0.3, 110, 10, init_value=0.001, end_value=0.01)),
        (timm.CosineLRScheduler(0.3, 10, cycle_mul=2.0, cycle_decay=0.5, cycle_limit=10**6, warmup_prefix=True),
         jaxsched.sgdr(0.3, period=10, period_mult=2.0, decay=0.5)),
        (timm.StepLRScheduler(0.3, 7, 0.5), jaxsched.exponential(0.3, 0.5, 7, staircase=True)),
        (timm.PolyLRScheduler(0.3, 50, power=2.0, lr_min=0.01), jaxsched.polynomial(0.3, 0.01, 50, 2.0)),
    ]
    got = jax.jit(lambda pairs, k: [(p(k), n(k)) for p, n in pairs])(pairs, jnp.arange(0, 160))
    for port, native in got:
        np.testing.assert_allclose(port, native, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: timm.CosineLRScheduler(0.1, 0), ValueError, "t_initial must be > 0"),
        (lambda: timm.CosineLRScheduler(0.1, 10, lr_min=-1e-3), ValueError, "lr_min must be >= 0"),
        (lambda: timm.CosineLRScheduler(0.1, 10, cycle_mul=0.0), ValueError, "cycle_mul must be > 0"),
        (lambda: timm.CosineLRScheduler(0.1, 10, cycle_limit=-1), ValueError, "cycle_limit must be >= 0"),
        (lambda: timm.CosineLRScheduler(0.1, 10, warmup_prefix=1), TypeError, "warmup_prefix must be a bool"),
        (lambda: timm.CosineLRScheduler(0.1, 10, noise_range_t=5, noise_pct=0.0), ValueError, "noise_pct must be > 0"),
        (lambda: timm.CosineLRScheduler(0.1, 10, noise_range_t=(8, 2)), ValueError, "start <= end"),
        (lambda: timm.CosineLRScheduler(0.1, 10, noise_range_t=(1, 2, 3)), ValueError, "pair"),
        (lambda: timm.CosineLRScheduler(0.1, 10, noise_range_t=1, noise_seed=1.5), TypeError, "noise_seed"),
        (lambda: timm.CosineLRScheduler(0.1, 10, noise_range_t=1, noise_key=jnp.zeros(3)), TypeError, "noise_key"),
        (lambda: timm.TanhLRScheduler(0.1, 10, lb=3.0, ub=3.0), ValueError, "lb < ub"),
        (lambda: timm.TanhLRScheduler(0.1, 10, warmup_lr_init=-0.1), ValueError, "warmup_lr_init must be >= 0"),
        (lambda: timm.PolyLRScheduler(0.1, 10, power=-1.0), ValueError, "power must be >= 0"),
        (lambda: timm.StepLRScheduler(0.1, 0), ValueError, "decay_t must be > 0"),
        (lambda: timm.MultiStepLRScheduler(0.1, [5, 3]), ValueError, "non-decreasing"),
        (lambda: timm.MultiStepLRScheduler(0.1, [5], warmup_t=-1), ValueError, "warmup_t must be >= 0"),
    ],
)
def test_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_gradients_are_finite():
    # The compat pieces and one whole port; Repeat's own gradients are the core's business.
    def loss(lr, m, W, k, lb, q):
        t = jnp.arange(0, 120)
        a = timm.CosineLRScheduler(lr, 30, lr_min=m, cycle_limit=3, warmup_t=W, k_decay=k)(t).sum()
        b = timm.TanhDecay(lr, m, W + 20.0, lb, q + 2.0)(t).sum()
        c = timm.KDecayPolynomial(lr, m, W + 20.0, q, k)(t).sum()
        d = timm.StepLRScheduler(lr, 10, q, warmup_t=W, noise_range_t=50)(t).sum()
        return a + b + c + d

    g = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3, 4, 5)))(0.1, 0.01, 5.0, 1.5, -6.0, 0.5)
    assert all_finite(g)
    assert all(float(x) != 0.0 for x in g)


@pytest.mark.parametrize("k_decay", [1.0, 1.5])
def test_poly_default_power_is_a_square_root(k_decay):
    # timm's default power 1/2 is structure (power=None): one sqrt per step, not a power. Against the leaf
    # of 0.5 and a float64 reference of timm's formula at b - 1, b, b + 1 of the cycle's end (T = 40) and
    # past it, with two cycles; a traced power stays a leaf; a grid mixing powers keeps each value; the
    # gradient is finite at the end of a cycle, where sqrt's own is infinite.
    f = np.float32
    t = jnp.arange(0, 130)
    kw = dict(t_initial=40, lr_min=0.01, cycle_limit=2, k_decay=k_decay)
    s = timm.PolyLRScheduler(0.5, **kw)
    node = next(n for n in jax.tree_util.tree_leaves(s, is_leaf=lambda x: isinstance(x, timm.KDecayPolynomial))
                if isinstance(n, timm.KDecayPolynomial))
    assert node.power is None
    leaf = jax.jit(lambda q: timm.PolyLRScheduler(0.5, power=q, **kw)(t))(f(0.5))
    np.testing.assert_allclose(np.asarray(s(t)), np.asarray(leaf), rtol=0, atol=2.4e-7 * 0.5)
    u = np.mod(np.arange(130), 40) / 40.0
    ref = np.where(np.arange(130) < 80, 0.01 + (0.5 - 0.01) * np.sqrt(1.0 - u**k_decay), 0.01)
    assert np.max(np.abs(np.asarray(s(t), np.float64) - ref)) <= 2.4e-7 * 0.5
    grid = jaxsched.grid(timm.PolyLRScheduler, lr=0.5, power=[0.5, 1.0, 2.0], **kw)
    rows = np.asarray(jax.vmap(lambda g: g(t))(grid.schedules))
    for row, q in zip(rows, grid.settings["power"]):
        np.testing.assert_allclose(row, np.asarray(timm.PolyLRScheduler(0.5, power=q, **kw)(t)), rtol=0,
                                   atol=2.4e-7 * 0.5)
    g = jax.grad(lambda lr: timm.PolyLRScheduler(lr, **kw)(jnp.arange(30, 50)).sum())(0.5)
    assert np.isfinite(float(g)) and float(g) != 0.0
    back = jaxsched.from_json(jaxsched.to_json(s))
    np.testing.assert_array_equal(np.asarray(back(t)), np.asarray(s(t)))


@pytest.mark.parametrize("cls", CYCLIC)
def test_cycles_are_one_restart_with_both_terms(cls):
    """TimmCycles gives ``lr_min + (lr g**i - lr_min) c`` from one cycle search: the values of the
    two restarts it replaced (one for ``lr``, decayed; one for ``lr_min``, not), its value at 0 for a
    parent warmup, a grid that falls back to ``_sweepable`` and a config with an infinite limit."""
    from jaxsched._arith import Product, Sum
    from jaxsched._primitives import Constant
    from jaxsched._repeat import Repeat

    k = jnp.concatenate([jnp.arange(0, 400), jnp.asarray([2**17 - 1, 2**17, 2**20 + 3, 2**31 - 1])])
    for kw in [dict(lr_min=0.05, cycle_mul=2.0, cycle_decay=0.5, cycle_limit=3),
               dict(lr_min=0.2, cycle_mul=0.7, cycle_decay=1.3, cycle_limit=math.inf),
               dict(lr_min=0.0, cycle_decay=0.0, cycle_limit=2.5),
               dict(lr_min=0.1, cycle_decay=0.5),  # timm's default cycle_limit=1: no cycle search (single)
               dict(lr_min=0.1, cycle_limit=0.5, cycle_mul=2.0),
               dict(lr_min=0.1, cycle_limit=0)]:
        s = getattr(timm, cls)(1.5, 40, warmup_t=7, **kw)
        cyc = s.schedule
        assert type(cyc) is timm.TimmCycles
        assert cyc.single == (kw.get("cycle_limit", 1) <= 1)
        assert getattr(cyc, "_restarts") == (not cyc.single)
        assert sum(isinstance(n, Repeat) for n in jaxsched._base._nodes(s)) == 1
        shape = cyc.schedule  # from 1 to 0

        def scaled(top, shape=shape):  # the shape from `top` to 0, as the two restarts had it
            return dataclasses.replace(shape, init_value=top)

        one = jnp.ones_like(cyc.lr)
        two = Sum((Constant(cyc.lr_min),
                   Repeat(scaled(cyc.lr), cyc.period, cyc.period_mult, cyc.decay, cyc.cycles, doubling=cyc.doubling),
                   Product((Constant(-one), Repeat(scaled(cyc.lr_min), cyc.period, cyc.period_mult, one,
                                                   cyc.cycles, doubling=cyc.doubling)))))
        for c in (cyc, cyc._sweepable()):  # single, and the general form a grid falls back to
            # two float32 forms of one formula (lr g**i c - m c against (lr g**i - m) c)
            np.testing.assert_allclose(np.asarray(c(k)), np.asarray(two(k)), rtol=1e-6, atol=3e-7)
        np.testing.assert_allclose(np.asarray(jaxsched.warmup(cyc, 10)(k[:11])),
                                   np.linspace(0.0, float(cyc(0)), 11), rtol=1e-6)
        back = jaxsched.from_json(jaxsched.to_json(s))
        np.testing.assert_array_equal(np.asarray(back(k)), np.asarray(s(k)))
        # as an argument of the user's jit (single is static: part of the structure)
        np.testing.assert_array_equal(np.asarray(jax.jit(lambda sch: sch(k))(s)), np.asarray(s(k)))
    g = jaxsched.grid(getattr(timm, cls), lr=[1.0, 2.0], t_initial=10, lr_min=[0.0, 0.1], cycle_limit=[1, math.inf])
    assert type(g.schedules.schedule) is timm.TimmCycles
    out = jax.vmap(lambda s: s(k[:60]))(g.schedules)
    for i, (lr, m, lim) in enumerate(zip(*g.settings.values())):
        one = getattr(timm, cls)(lr, 10, lr_min=m, cycle_limit=lim)
        np.testing.assert_allclose(np.asarray(out[i]), np.asarray(one(k[:60])), rtol=1e-6, atol=1e-7)


def test_default_cycle_mul_is_equal_periods_and_a_grid_mixing_growths_matches():
    """timm's default cycle_mul=1 (concrete) is equal periods as structure (no logarithm per step), and
    2 period doubling; other growths are leaves, and a grid mixing them gives each setting's values."""
    make = timm.CosineLRScheduler
    assert make(1.0, 10, cycle_limit=5).schedule.period_mult is None
    two = make(1.0, 10, cycle_mul=2.0, cycle_limit=5).schedule
    assert two.period_mult is None and two.doubling
    assert make(1.0, 10, cycle_mul=1.5, cycle_limit=5).schedule.period_mult is not None
    k = jnp.arange(0, 200, 3)
    g = jaxsched.grid(make, lr=[1.0, 2.0], t_initial=10, cycle_mul=[1.0, 1.5, 2.0], cycle_limit=5, cycle_decay=0.5)
    out = jax.vmap(lambda s: s(k))(g.schedules)
    for i, (lr, m) in enumerate(zip(g.settings["lr"], g.settings["cycle_mul"])):
        one = make(lr, 10, cycle_mul=m, cycle_limit=5, cycle_decay=0.5)
        np.testing.assert_allclose(np.asarray(out[i]), np.asarray(one(k)), rtol=1e-6, atol=2e-7 * lr)


@pytest.mark.parametrize("cls,shape", [("CosineLRScheduler", "KDecayCosine"), ("PolyLRScheduler", "KDecayPolynomial")])
def test_default_k_decay_takes_no_power_and_a_grid_mixing_k_decays_matches(cls, shape):
    """timm's default k_decay=1 is structure (None: no power per step); other values and traced ones
    are leaves, and a grid mixing them (falling back to a leaf of 1) gives each setting's values."""
    make = getattr(timm, cls)
    assert make(1.0, 100).schedule.schedule.k_decay is None
    assert make(1.0, 100, k_decay=2.0).schedule.schedule.k_decay is not None
    k = jnp.arange(0, 130, 3)
    traced = jax.jit(lambda kd: make(1.0, 100, k_decay=kd)(k))(1.0)
    np.testing.assert_allclose(np.asarray(traced), np.asarray(make(1.0, 100)(k)), rtol=1e-6, atol=2e-7)
    g = jaxsched.grid(make, lr=[1.0, 2.0], t_initial=100, k_decay=[1.0, 2.0, 0.5])
    assert type(g.schedules.schedule.schedule).__name__ == shape
    out = jax.vmap(lambda s: s(k))(g.schedules)
    for i, (lr, kd) in enumerate(zip(g.settings["lr"], g.settings["k_decay"])):
        np.testing.assert_allclose(np.asarray(out[i]), np.asarray(make(lr, 100, k_decay=kd)(k)), rtol=1e-6,
                                   atol=2e-7 * lr)
