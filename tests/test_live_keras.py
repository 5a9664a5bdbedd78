"""Live parity with Keras 3 itself, on freshly drawn configurations (skipped without keras).

Keras runs on its JAX backend, in float32 (its default), under ``jax.jit`` as
its trainer does. Configurations are drawn from a new seed on every run (set
``JAXSCHED_LIVE_SEED`` to replay one; the seed is in every failure message).
At steps where Keras's number is far from the exact math (the documented
floored-log restart misses and reciprocal-division floors) jaxsched is
checked against an independent float64 reference instead.
"""

from __future__ import annotations

import math
import os
import random
import warnings
from fractions import Fraction

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":  # pragma: no cover - depends on the environment
    pytest.skip("keras is not on its JAX backend", allow_module_level=True)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jaxsched.compat import keras as K  # noqa: E402

SEED = int(os.environ.get("JAXSCHED_LIVE_SEED", random.SystemRandom().randrange(2**31)))


def cosfac(u):
    return 0.5 * (1.0 + math.cos(math.pi * u))


def reference(cls, kw, k):
    """Independent float64 math, with the exact restart index."""
    b = kw.get("initial_learning_rate")
    if cls in ("ExponentialDecay", "InverseTimeDecay"):
        p = k / kw["decay_steps"]
        p = math.floor(p) if kw["staircase"] else p
        return b * kw["decay_rate"] ** p if cls == "ExponentialDecay" else b / (1 + kw["decay_rate"] * p)
    if cls == "PiecewiseConstantDecay":
        return kw["values"][sum(1 for x in kw["boundaries"] if x < k)]
    if cls == "PolynomialDecay":
        D, e, p = kw["decay_steps"], kw["end_learning_rate"], kw["power"]
        if kw["cycle"]:
            D, x = D * max(1, math.ceil(k / D)), k
        else:
            x = min(k, D)
        return (b - e) * (1 - x / D) ** p + e
    if cls == "CosineDecay":
        D, a = kw["decay_steps"], kw["alpha"]
        if kw.get("warmup_target") is None:
            return b * ((1 - a) * cosfac(min(k, D) / D) + a)
        P, W = kw["warmup_target"], kw["warmup_steps"]
        x = min(k, W + D)
        return b + (P - b) * x / W if x < W else P * ((1 - a) * cosfac((x - W) / D) + a)
    D, tm, mm, a = kw["first_decay_steps"], Fraction(kw["t_mul"]), kw["m_mul"], kw["alpha"]
    i, S, L = 0, Fraction(0), Fraction(D)
    while S + L <= k:
        S, L, i = S + L, L * tm, i + 1
    return b * ((1 - a) * mm**i * cosfac(float((k - S) / L)) + a)


def draw(rng):
    b = rng.choice([0.1, 1.0, round(10 ** rng.uniform(-4, 0), 6)])
    D = rng.choice([1, 2, 3, 10, rng.randint(1, 60), round(rng.uniform(0.5, 20), 2)])
    cls = rng.choice(K.KERAS_CLASS_NAMES)
    if cls == "ExponentialDecay":
        kw = {"initial_learning_rate": b, "decay_steps": D, "decay_rate": round(rng.uniform(0.05, 1.2), 4),
              "staircase": rng.random() < 0.5}
        end = 5 * D
    elif cls == "InverseTimeDecay":
        kw = {"initial_learning_rate": b, "decay_steps": D, "decay_rate": round(rng.uniform(0, 3), 3),
              "staircase": rng.random() < 0.5}
        end = 5 * D
    elif cls == "PiecewiseConstantDecay":
        bs = sorted(rng.randint(0, 50) for _ in range(rng.randint(1, 5)))
        kw = {"boundaries": bs, "values": [round(rng.uniform(0, 1), 5) for _ in range(len(bs) + 1)]}
        end = bs[-1] + 3
    elif cls == "PolynomialDecay":
        kw = {"initial_learning_rate": b, "decay_steps": D, "end_learning_rate": round(b * rng.uniform(0, 0.5), 7),
              "power": rng.choice([1.0, 2.0, 0.5, round(rng.uniform(0, 4), 2)]), "cycle": rng.random() < 0.5}
        end = 4 * D
    elif cls == "CosineDecay":
        kw = {"initial_learning_rate": b, "decay_steps": D, "alpha": round(rng.uniform(0, 0.5), 3)}
        if rng.random() < 0.6:
            kw.update(warmup_target=round(rng.uniform(0.01, 2), 4), warmup_steps=rng.randint(0, 30))
        end = 1.3 * (D + kw.get("warmup_steps", 0))
    else:
        kw = {"initial_learning_rate": b, "first_decay_steps": max(1, int(D)),
              "t_mul": rng.choice([1.0, 2.0, 3.0, 1.5]), "m_mul": rng.choice([1.0, 0.5, 0.9]),
              "alpha": rng.choice([0.0, 0.1])}
        end = 8 * kw["first_decay_steps"] * kw["t_mul"] ** 2
    return cls, kw, np.arange(0, int(end) + 2)


def test_live_keras_parity():
    from keras.optimizers import schedules as S

    rng = random.Random(SEED)
    for _ in range(24):
        cls, kw, steps = draw(rng)
        where = f"seed={SEED} {cls} {kw}"
        peer = getattr(S, cls)(**kw)
        theirs = np.asarray(jax.jit(jax.vmap(peer))(jnp.asarray(steps, jnp.int32)), np.float64)
        ours = np.asarray(jax.jit(lambda s, k: s(k))(getattr(K, cls)(**kw), steps), np.float64)
        again = K.from_keras_config(S.serialize(peer))
        for u, v in zip(jax.tree_util.tree_leaves(again), jax.tree_util.tree_leaves(getattr(K, cls)(**kw))):
            np.testing.assert_array_equal(np.asarray(u), np.asarray(v), err_msg=where)
        ref = np.asarray([reference(cls, kw, int(k)) for k in steps])
        peak = max(float(np.max(np.abs(ref))), 1e-30)
        # Keras's float32 rounding stays within 2e-6 of the peak; beyond that (or NaN) are its documented
        # misses (restart index, reciprocal division), where jaxsched gives the exact value.
        off = ~(np.abs(theirs - ref) <= 2e-6 * peak)
        assert np.all(np.abs(ours[~off] - theirs[~off]) <= 1e-6 * peak), where
        assert np.all(np.abs(ours[off] - ref[off]) <= 1e-6 * peak), where
        if np.any(off):
            assert cls in ("CosineDecayRestarts", "PolynomialDecay", "ExponentialDecay", "InverseTimeDecay"), where
