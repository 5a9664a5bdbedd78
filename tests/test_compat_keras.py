"""Parity of jaxsched.compat.keras with Keras 3.15.1, from committed fixtures.

``tests/fixtures/keras_schedules.json`` holds numbers produced by running
Keras itself (``scripts/make_fixtures_keras_hf_timm.py``): float32 (Keras's
default) and, where Keras really computes in float64 under
``floatx("float64")``, float64. Each group of fixture configurations with the
same structure runs as one ``jit(vmap(...))`` over every numeric argument of the
port (one trace, checked). Steps where Keras's numbers are documented to differ
from jaxsched's (``"diff"``) are checked against the intended value instead,
and the difference is checked to be real.
"""

from __future__ import annotations

import inspect
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import TraceCounter, all_finite

import jaxsched
from jaxsched.compat import keras as K

FIX = json.loads((pathlib.Path(__file__).parent / "fixtures" / "keras_schedules.json").read_text())
CASES = FIX["cases"]

NUMERIC = {
    "ExponentialDecay": ("initial_learning_rate", "decay_steps", "decay_rate"),
    "PiecewiseConstantDecay": ("boundaries", "values"),
    "PolynomialDecay": ("initial_learning_rate", "decay_steps", "end_learning_rate", "power"),
    "InverseTimeDecay": ("initial_learning_rate", "decay_steps", "decay_rate"),
    "CosineDecay": ("initial_learning_rate", "decay_steps", "alpha", "warmup_target", "warmup_steps"),
    "CosineDecayRestarts": ("initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha"),
}


def full_kwargs(case):
    sig = inspect.signature(getattr(K, case["cls"]))
    kw = {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}
    kw.pop("name", None)
    kw.update(case["kwargs"])
    return kw


def evaluate(cases, dtype):
    """Every case's values: one ``jit(vmap(...))`` (one trace) per group of cases with the same structure."""
    groups = {}
    for i, c in enumerate(cases):
        kw = full_kwargs(c)
        num = [k for k in NUMERIC[c["cls"]] if kw.get(k) is not None]
        static = {k: v for k, v in kw.items() if k not in num}
        key = (c["cls"], json.dumps(static, sort_keys=True), tuple((k, np.shape(kw[k])) for k in num))
        groups.setdefault(key, []).append(i)
    out = [None] * len(cases)
    for (cls, static_json, shapes), idx in groups.items():
        static, names = json.loads(static_json), [n for n, _ in shapes]
        args = [np.asarray([full_kwargs(cases[i])[n] for i in idx], dtype) for n in names]
        width = max(len(cases[i]["steps"]) for i in idx)
        steps = np.stack([np.pad(cases[i]["steps"], (0, width - len(cases[i]["steps"])), mode="edge") for i in idx])

        def one(vals, k, cls=cls, static=static, names=names):
            return getattr(K, cls)(**static, **dict(zip(names, vals)))(k)

        counter = TraceCounter(jax.vmap(one))
        vals = np.asarray(counter(args, steps.astype(np.int32)), np.float64)
        assert counter.count == 1
        for j, i in enumerate(idx):
            out[i] = vals[j, : len(cases[i]["steps"])]
    return out


def check(case, got, mode, rtol):
    exp = np.asarray(case[mode], np.float64)
    diff = case.get("diff", {}).get(mode)
    intended = exp.copy()
    if diff:
        intended[diff["idx"]] = diff["expected"]
    peak = max(float(np.max(np.abs(intended))), 1e-30)
    err = np.abs(got - intended)
    where = f"{case['cls']} {case['kwargs']} ({mode})"
    worst = case["steps"][int(np.argmax(err))]
    assert np.all(err <= rtol * peak), f"{where}: max err {err.max() / peak:.2e} of peak at step {worst}"
    if diff:
        # The documented difference is real: Keras's own number is off the intended one (or NaN).
        peer = exp[diff["idx"]]
        assert np.all(np.isnan(peer) | (np.abs(peer - np.asarray(diff["expected"])) > 2 * rtol * peak)), where


def test_fixture_meta():
    assert FIX["library"] == "keras" and FIX["version"] == K.KERAS_VERSION
    assert {c["cls"] for c in CASES} == set(K.KERAS_CLASS_NAMES)


def test_parity_float32():
    got = evaluate(CASES, np.float32)
    for c, g in zip(CASES, got):
        assert g.dtype == np.float64
        check(c, g, "f32", 1e-6)


def test_parity_x64():
    with jax.enable_x64(True):
        got = evaluate(CASES, np.float64)
    for c, g in zip(CASES, got):
        if "f64" in c:
            check(c, g, "f64", 1e-12)
        else:  # Keras computed (partly) in float32 even under floatx float64
            check(c, g, "f32", 1e-6)
    assert sum("f64" in c for c in CASES) >= 40


def test_documented_differences_are_covered():
    reasons = {}
    for c in CASES:
        if "diff" in c:
            reasons.setdefault(c["diff"]["reason"], set()).add(c["cls"])
    assert reasons["floored-log restart index"] == {"CosineDecayRestarts"}
    assert "PolynomialDecay" in reasons["reciprocal division at an exact multiple"]
    # peer-semantics.md's float32 misses (D=1): t_mul=10 at k=1, 11, 1111, 11111 and t_mul=2 at k=8191.
    missed = {}
    for c in CASES:
        if c["cls"] == "CosineDecayRestarts" and "f32" in c.get("diff", {}) and c["kwargs"]["first_decay_steps"] == 1:
            missed[c["kwargs"]["t_mul"]] = {c["steps"][i] for i in c["diff"]["f32"]["idx"]}
    assert {1, 11, 1111, 11111} <= missed[10.0]
    assert 8191 in missed[2.0]


def test_restarts_exact_at_keras_misses_under_closure_jit():
    # Keras (float32, jit) returns alpha * lr here; the intended value is the restart peak.
    s = K.CosineDecayRestarts(0.1, 1, t_mul=10.0, alpha=0.0)
    f = jax.jit(lambda k: s(k))
    np.testing.assert_allclose(f(jnp.asarray([1, 11, 111, 1111, 11111])), 0.1, rtol=1e-6)
    s2 = K.CosineDecayRestarts(0.1, 1, t_mul=2.0)
    np.testing.assert_allclose(jax.jit(lambda k: s2(k))(8191), 0.1, rtol=1e-6)


def test_exact_multiples_under_closure_jit():
    # XLA turns k / D with a constant D into k * (1 / D); the ports stay exact at multiples.
    p = K.PolynomialDecay(0.1, 7.5, 0.0, 0.5, cycle=True)
    vals = jax.jit(lambda k: p(k))(jnp.asarray([15, 30, 45, 46]))
    np.testing.assert_allclose(vals[:3], 0.0, atol=1e-9)
    np.testing.assert_allclose(vals[3], 0.1 * (1 - 46 / 52.5) ** 0.5, rtol=1e-6)
    for D in (0.375, 2.5, 7.5, 3.0, 6.0):
        s = K.InverseTimeDecay(1.0, D, 1.0, staircase=True)
        ks = np.arange(1, 60)
        exact = 1.0 / (1.0 + np.floor(ks / D))
        np.testing.assert_allclose(jax.jit(lambda k, s=s: s(k))(ks), exact, rtol=1e-6)


def test_exponential_staircase_exact_multiples_under_closure_jit():
    for D in (41, 47, 55, 61):
        s = K.ExponentialDecay(1.0, D, 0.5, staircase=True)
        np.testing.assert_allclose(jax.jit(lambda k, s=s: s(k))(np.arange(1, 6) * D), 0.5 ** np.arange(1, 6), rtol=1e-6)


def test_polynomial_end_exact_under_closure_jit():
    s = K.PolynomialDecay(1.0, 41, 0.0, power=0.5)
    assert float(jax.jit(lambda k: s(k))(41)) == 0.0


def test_t_mul_of_one_is_equal_periods_and_two_is_doubling():
    """t_mul=1 (concrete) is equal periods as structure, and 2 (the default) period doubling: the values
    of a traced growth; 3 is a leaf."""
    assert K.CosineDecayRestarts(1.0, 10, t_mul=1.0).terms[1].period_mult is None
    rep = K.CosineDecayRestarts(1.0, 10).terms[1]
    assert rep.period_mult is None and rep.doubling
    assert K.CosineDecayRestarts(1.0, 10, t_mul=3.0).terms[1].period_mult is not None
    k = jnp.arange(0, 2000, 3)
    for m in (1.0, 2.0):
        traced = jax.jit(lambda m: K.CosineDecayRestarts(1.0, 10, t_mul=m, m_mul=0.5)(k))(m)
        plain = K.CosineDecayRestarts(1.0, 10, t_mul=m, m_mul=0.5)(k)
        np.testing.assert_allclose(np.asarray(traced), np.asarray(plain), rtol=0, atol=2.4e-7)  # an ulp apart at most


def test_growth_is_capped_and_shrinking_restarts_stay_finite():
    # ExponentialDecay with decay_rate > 1: the core caps the exponent at 80 where Keras overflows to inf.
    # CosineDecayRestarts with t_mul < 1: Keras gives NaN from k = D / (1 - t_mul) on; jaxsched stays finite.
    # Every cycle has run there: the value is alpha * b, also with m_mul > 1 (whose growing amplitude is
    # capped at e**80 towards that point; it gave inf, then NaN).
    grow = K.ExponentialDecay(1.0, 1, 2.0)
    shrink = K.CosineDecayRestarts(1.0, 16, t_mul=0.5, alpha=0.1)
    both = K.CosineDecayRestarts(1.0, 1, t_mul=0.98, m_mul=1.5, alpha=0.1)
    g, r, b = jax.jit(lambda a, s, t: (a(200), s(jnp.arange(0, 80)), t(jnp.arange(0, 80))))(grow, shrink, both)
    assert float(g) == pytest.approx(np.exp(80.0), rel=1e-5)
    assert np.isfinite(np.asarray(r)).all() and np.isfinite(np.asarray(b)).all()
    np.testing.assert_allclose(r[32:], 0.1, rtol=1e-6)  # D / (1 - t_mul) = 32
    np.testing.assert_allclose(b[51:], 0.1, rtol=1e-6)  # about 50
    assert float(np.max(b)) <= 0.9 * np.exp(80.0) * 1.0001 + 0.1


def test_from_keras_config_matches_constructor():
    for c in CASES:
        a = K.from_keras_config(c["serialized"])
        legacy = {"class_name": c["serialized"]["class_name"], "config": c["serialized"]["config"]}
        b = K.from_keras_config(legacy)
        d = getattr(K, c["cls"])(**c["kwargs"])
        for x in (a, b):
            assert jax.tree_util.tree_structure(x) == jax.tree_util.tree_structure(d)
            for u, v in zip(jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(d)):
                np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_from_keras_config_values_and_wrappers():
    cfg = {"class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": {"class_name": "__numpy__", "config": {"value": 0.5, "dtype": "float32"}},
        "decay_steps": 10, "decay_rate": 0.5, "staircase": True, "name": "ExponentialDecay"}}
    assert K.from_keras_config(cfg)([0, 10]).tolist() == [0.5, 0.25]
    assert float(K.from_keras_config(0.01)(5)) == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("config", "exc", "match"),
    [
        ({"class_name": "LinearCosineDecay", "config": {}}, ValueError,
         "accepted: ExponentialDecay, PiecewiseConstantDecay"),
        ({"module": None, "class_name": "CosineDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 5},
          "registered_name": "my_pkg>CosineDecay"}, ValueError, "custom registered"),
        ({"class_name": "CosineDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 5, "beta": 1}},
         ValueError, "unknown CosineDecay config entries \\['beta'\\]"),
        ({"class_name": "CosineDecay", "config": {"initial_learning_rate": 0.1}}, ValueError,
         "missing \\['decay_steps'\\]"),
        ({"class_name": "CosineDecay", "config": {"initial_learning_rate": {"class_name": "Foo"}, "decay_steps": 5}},
         ValueError, "nested object"),
        ({"config": {}}, ValueError, "class_name"),
        ("CosineDecay", TypeError, "config must be a dict"),
    ],
)
def test_from_keras_config_errors(config, exc, match):
    with pytest.raises(exc, match=match):
        K.from_keras_config(config)


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: K.ExponentialDecay(0.1, 0, 0.5), ValueError, "decay_steps must be > 0"),
        (lambda: K.ExponentialDecay(0.1, 10, 0.0), ValueError, "decay_rate must be > 0"),
        (lambda: K.ExponentialDecay(0.1, 10, 0.5, staircase=1), TypeError, "staircase must be a bool"),
        (lambda: K.PiecewiseConstantDecay([5, 10], [1.0, 0.5]), ValueError, "1 less than the length of values"),
        (lambda: K.PiecewiseConstantDecay([10, 5], [1.0, 0.5, 0.1]), ValueError, "non-decreasing"),
        (lambda: K.PiecewiseConstantDecay([-1], [1.0, 0.5]), ValueError, "boundaries must be >= 0"),
        (lambda: K.PolynomialDecay(0.1, -3), ValueError, "decay_steps must be > 0"),
        (lambda: K.PolynomialDecay(0.1, 3, power=-1.0), ValueError, "power must be >= 0"),
        (lambda: K.InverseTimeDecay(0.1, 3, -0.5), ValueError, "decay_rate must be >= 0"),
        (lambda: K.CosineDecay(0.1, 0), ValueError, "decay_steps must be > 0"),
        (lambda: K.CosineDecay(0.1, 10, warmup_target=1.0, warmup_steps=-2), ValueError, "warmup_steps must be >= 0"),
        (lambda: K.CosineDecayRestarts(0.1, 0), ValueError, "first_decay_steps must be > 0"),
        (lambda: K.CosineDecayRestarts(0.1, 10, t_mul=0.0), ValueError, "t_mul must be > 0"),
        (lambda: K.CosineDecayRestarts(0.1, 10, m_mul=-0.5), ValueError, "m_mul must be >= 0"),
    ],
)
def test_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_native_equivalents():
    pairs = [
        (K.ExponentialDecay(0.3, 7, 0.8, staircase=True), jaxsched.exponential(0.3, 0.8, 7, staircase=True)),
        (K.PolynomialDecay(0.3, 50, 0.01, 2.0), jaxsched.polynomial(0.3, 0.01, 50, 2.0)),
        (K.CosineDecay(0.3, 100, alpha=0.1), jaxsched.cosine(0.3, 0.03, 100)),
        (K.CosineDecay(0.0, 100, warmup_target=0.3, warmup_steps=10),
         jaxsched.warmup_cosine(0.3, total_steps=110, warmup_steps=10)),
        (K.CosineDecayRestarts(0.3, 10, t_mul=2.0, m_mul=0.5),
         jaxsched.sgdr(0.3, period=10, period_mult=2.0, decay=0.5)),
    ]
    got = jax.jit(lambda pairs, k: [(p(k), n(k)) for p, n in pairs])(pairs, jnp.arange(0, 130))
    for port, native in got:
        np.testing.assert_allclose(port, native, rtol=2e-6, atol=1e-7)


def test_gradients_are_finite():
    # The compat-only pieces; the core primitives' gradients are tested with the core.
    def loss(b, D, t, m):
        k = jnp.arange(0, 200)
        s1 = K.PolynomialDecay(b, D, 0.0, t, cycle=True)(k).sum()
        s2 = K.InverseTimeDecay(b, D, t, staircase=True)(k).sum()
        s3 = K.PiecewiseConstantDecay(jnp.stack([D, 2 * D]), jnp.stack([b, t, m]))(k).sum()
        return s1 + s2 + s3

    g = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))(0.1, 10.0, 2.0, 0.5)
    assert all_finite(g)
    assert all(float(x) != 0.0 for x in g)


def test_step_kinds():
    s = K.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.25])
    f = jax.jit(lambda s, k: s(k))
    for k in (jnp.asarray([5, 6], jnp.uint32), np.asarray([5, 6], np.int64), jnp.asarray([5.0, 5.5])):
        assert f(s, k).tolist() == [1.0, 0.5]
    assert f(s, np.asarray([2**31 - 1, 2**32 - 1], np.uint32)).tolist() == [0.25, 0.25]
