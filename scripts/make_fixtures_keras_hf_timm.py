"""Generate parity fixtures for jaxsched.compat.{keras,transformers,timm} by running the peers.

Run it with a Python that has keras 3 (JAX backend), transformers, torch (CPU)
and timm installed, e.g.::

    python3 -m venv /tmp/venv-peers
    /tmp/venv-peers/bin/pip install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
    /tmp/venv-peers/bin/pip install jax jaxlib keras transformers numpy
    /tmp/venv-peers/bin/pip install --no-deps timm && /tmp/venv-peers/bin/pip install pyyaml huggingface_hub safetensors
    /tmp/venv-peers/bin/python scripts/make_fixtures_keras_hf_timm.py

It writes ``tests/fixtures/keras_schedules.json``,
``tests/fixtures/transformers_schedules.json`` and
``tests/fixtures/timm_schedules.json``. jaxsched is not imported: the
configurations are drawn from a seeded RNG to cover the edge cases, each is
evaluated by the peer library itself at steps from 0 to well past the end
(every exact restart step included), and by an independent float64 / exact
rational reference of the peer's *intended* math. Where the peer's number
differs from that reference (a floored float ``log`` or a float ``% 1`` landing
in the wrong cycle at an exact restart) the case records the step indices, the
intended values and the reason under ``"diff"``; the tests check jaxsched
against the peer everywhere else and against the intended value there.

Notes on running the peers:

- Keras runs twice in subprocesses: float32 (its default) and float64
  (``keras.config.set_floatx("float64")`` with JAX x64). Schedules are
  evaluated as Keras's JAX trainer does, under ``jax.jit`` (``jit(vmap(...))``
  over the steps); eager Keras gives different float32 numbers at some
  restart steps.
- transformers: the real ``get_scheduler`` on a torch SGD optimizer, stepped
  ``k`` times; the value is ``param_groups[0]["lr"]``.
- timm: ``timm/__init__.py`` imports torchvision, which has no CPU wheel here,
  so a bare ``timm`` package module (``__path__`` only) is put in
  ``sys.modules`` before ``import timm.scheduler``; only the scheduler files
  run. Values are ``param_groups[0]["lr"]`` after ``scheduler.step(t)``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import types
import warnings
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures"
SEED = 20240611


def f32s(xs):
    return [float(f"{x:.9g}") for x in xs]


def f64s(xs):
    return [float(x) for x in xs]


def cosfac(u):
    return 0.5 * (1.0 + math.cos(math.pi * u))


def exact_cycle(t, T0, mul, limit=None):
    """Exact cycle index, start and length of step ``t`` (rational arithmetic)."""
    t, T0, mul = Fraction(t), Fraction(T0), Fraction(mul)
    if mul == 1:
        i = int(t // T0)
        return i, i * T0, T0
    i, S, L = 0, Fraction(0), T0
    while S + L <= t:
        if limit is not None and i >= limit:
            break
        S += L
        L *= mul
        i += 1
        if i > 10_000:
            raise RuntimeError("too many cycles")
    return i, S, L


def steps_for(end, restarts=(), extra=(), dense=160, past=2.0, rng=None):
    """Steps 0..past*end densely (or sampled), plus each restart and its neighbours."""
    hi = max(int(math.ceil(end * past)) + 2, 4)
    if hi <= dense:
        s = set(range(hi + 1))
    else:
        s = set(range(0, 12))
        s |= {int(round(x)) for x in [hi * j / dense for j in range(dense)]}
        s.add(hi)
    for r in list(restarts) + list(extra):
        for d in (-1, 0, 1):
            if r + d >= 0:
                s.add(int(r + d))
    return sorted(s)


def signature_of(fn, drop=("self",)):
    """Parameter names and JSON-able defaults (None when required) of a peer function."""
    import inspect

    out = []
    for name, p in inspect.signature(fn).parameters.items():
        if name in drop or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        d = p.default
        if d is inspect.Parameter.empty:
            d = "<required>"
        elif not isinstance(d, (int, float, str, bool, type(None))):
            d = repr(d)
        out.append([name, d])
    return out


def find_diffs(peer, ref, peak, tol):
    idx = [i for i, (a, b) in enumerate(zip(peer, ref)) if not abs(a - b) <= tol * max(abs(peak), 1e-300)]
    return idx


# ----------------------------------------------------------------------------- Keras


def keras_configs(rng):
    cases = []

    def add(cls, kwargs, steps):
        cases.append({"cls": cls, "kwargs": kwargs, "steps": steps})

    for _ in range(16):
        D = rng.choice([1, 2, 7, 10, 25, 2.5, rng.randint(1, 60)])
        r = rng.choice([0.5, 0.9, 0.96, 0.1, 1.05, round(rng.uniform(0.05, 0.99), 4)])
        b = rng.choice([0.1, 1.0, 3e-4, round(10 ** rng.uniform(-4, 0), 6)])
        st = rng.random() < 0.5
        add("ExponentialDecay", {"initial_learning_rate": b, "decay_steps": D, "decay_rate": r, "staircase": st},
            steps_for(6 * D, extra=[D, 2 * D, 3 * D]))
    for _ in range(16):
        n = rng.randint(1, 4)
        bs = sorted(rng.choice([0, rng.randint(0, 40)]) for _ in range(n))
        if rng.random() < 0.3:
            bs = sorted(bs + [bs[-1]])  # a duplicate boundary
        vals = [round(rng.uniform(0.001, 1.0), 5) for _ in range(len(bs) + 1)]
        add("PiecewiseConstantDecay", {"boundaries": bs, "values": vals}, list(range(0, bs[-1] + 4)))
    for _ in range(16):
        D = rng.choice([1, 5, 10, 37, rng.randint(1, 50), 7.5])
        b = rng.choice([0.1, 1.0, round(rng.uniform(0.01, 2.0), 4)])
        e = rng.choice([0.0, 0.0001, round(b * rng.uniform(0, 0.5), 6)])
        p = rng.choice([1.0, 0.5, 2.0, 3.3, 0.0])
        cyc = rng.random() < 0.5
        kw = {"initial_learning_rate": b, "decay_steps": D, "end_learning_rate": e, "power": p, "cycle": cyc}
        add("PolynomialDecay", kw, steps_for(4 * D, extra=[D, 2 * D, 3 * D]))
    for _ in range(12):
        D = rng.choice([1, 3, 10, rng.randint(1, 40), 2.5])
        r = rng.choice([0.5, 1.0, 2.0, 0.0, round(rng.uniform(0, 3), 3)])
        st = rng.random() < 0.5
        add("InverseTimeDecay", {"initial_learning_rate": rng.choice([0.1, 1.0]), "decay_steps": D, "decay_rate": r,
                                 "staircase": st}, steps_for(6 * D))
    for _ in range(18):
        D = rng.choice([1, 10, 100, rng.randint(1, 80)])
        a = rng.choice([0.0, 0.1, round(rng.uniform(0, 1), 3)])
        b = rng.choice([0.1, 1.0, 0.0, 3e-4])
        kw = {"initial_learning_rate": b, "decay_steps": D, "alpha": a}
        W = 0
        if rng.random() < 0.6:
            W = rng.choice([0, 1, 5, rng.randint(0, 40)])
            kw.update(warmup_target=rng.choice([1.0, 0.5, round(rng.uniform(0.01, 2), 4)]), warmup_steps=W)
        add("CosineDecay", kw, steps_for((W + D) * 1.3, extra=[W, W + D]))
    specs = [
        (1, 2.0, 1.0, 0.0), (10, 2.0, 1.0, 0.0), (10, 1.0, 0.5, 0.1), (7, 3.0, 0.9, 0.0),
        (4, 1.5, 1.0, 0.05), (16, 0.5, 1.0, 0.0), (3, 1.0, 1.0, 0.0), (5, 2.5, 0.8, 0.2),
        (1, 10.0, 1.0, 0.0), (2, 2.0, 0.5, 0.0), (6, 1.25, 1.0, 0.0), (20, 2.0, 0.7, 0.3),
    ]
    for D, tm, mm, a in specs:
        b = rng.choice([0.1, 1.0])
        kw = {"initial_learning_rate": b, "first_decay_steps": D, "t_mul": tm, "m_mul": mm, "alpha": a}
        if tm < 1:
            horizon = D / (1 - tm)
            restarts = []
            S, L = 0.0, float(D)
            while S + L < horizon - 1 and len(restarts) < 20:
                S += L
                L *= tm
                restarts.append(S)
            steps = [k for k in range(int(horizon) - 1)]
        else:
            n = 5 if tm > 1 else 6
            restarts, S, L = [], 0.0, float(D)
            for _ in range(n):
                S += L
                L *= tm
                restarts.append(S)
            steps = steps_for(restarts[-1], restarts=[r for r in restarts if r == int(r)], past=1.05)
        add("CosineDecayRestarts", kw, steps)
    # The float32 floored-log misses peer-semantics.md lists (D=1): t_mul=10 and t_mul=2.
    add("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 1, "t_mul": 10.0},
        sorted({0, 1, 2, 10, 11, 12, 110, 111, 112, 1110, 1111, 1112, 11110, 11111, 11112, 5000}))
    add("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 1, "t_mul": 2.0},
        sorted({2**j - 1 + d for j in range(1, 15) for d in (-1, 0, 1)}))
    return cases


def keras_reference(cls, kw, k):
    """Independent float64 reference of the intended math (exact cycle index)."""
    if cls == "ExponentialDecay":
        p = k / kw["decay_steps"]
        if kw.get("staircase"):
            p = math.floor(p)
        return kw["initial_learning_rate"] * kw["decay_rate"] ** p
    if cls == "PiecewiseConstantDecay":
        i = sum(1 for b in kw["boundaries"] if b < k)
        return kw["values"][i]
    if cls == "PolynomialDecay":
        b, D, e, p = kw["initial_learning_rate"], kw["decay_steps"], kw["end_learning_rate"], kw["power"]
        if kw.get("cycle"):
            D = D * max(1, math.ceil(k / D))
            x = k
        else:
            x = min(k, D)
        return (b - e) * (1 - x / D) ** p + e
    if cls == "InverseTimeDecay":
        p = k / kw["decay_steps"]
        if kw.get("staircase"):
            p = math.floor(p)
        return kw["initial_learning_rate"] / (1 + kw["decay_rate"] * p)
    if cls == "CosineDecay":
        b, D, a = kw["initial_learning_rate"], kw["decay_steps"], kw.get("alpha", 0.0)
        if kw.get("warmup_target") is None:
            return b * ((1 - a) * cosfac(min(k, D) / D) + a)
        P, W = kw["warmup_target"], kw.get("warmup_steps", 0)
        x = min(k, W + D)
        if x < W:
            return b + (P - b) * x / W
        return P * ((1 - a) * cosfac((x - W) / D) + a)
    if cls == "CosineDecayRestarts":
        b, D = kw["initial_learning_rate"], kw["first_decay_steps"]
        tm, mm, a = kw.get("t_mul", 2.0), kw.get("m_mul", 1.0), kw.get("alpha", 0.0)
        i, S, L = exact_cycle(k, D, tm)
        u = float((Fraction(k) - S) / L)
        return b * ((1 - a) * mm**i * cosfac(u) + a)
    raise ValueError(cls)


def keras_worker(mode, cfg_path, out_path):
    os.environ["KERAS_BACKEND"] = "jax"
    import jax

    if mode == "f64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import keras
    from keras.optimizers import schedules as S

    if mode == "f64":
        keras.config.set_floatx("float64")
    cases = json.loads(Path(cfg_path).read_text())
    out = []
    for c in cases:
        sched = getattr(S, c["cls"])(**c["kwargs"])
        ser = S.serialize(sched)
        f = jax.jit(jax.vmap(lambda k, s=sched: s(k)))
        vals = f(jnp.asarray(c["steps"], jnp.int32))
        out.append({"values": [float(v) for v in vals.tolist()], "dtype": str(vals.dtype), "serialized": ser})
    Path(out_path).write_text(json.dumps({"version": keras.__version__, "cases": out}))


KERAS_DIFF_REASONS = {
    "CosineDecayRestarts": "floored-log restart index",
    # XLA compiles k / D with a constant D as k * (1 / D), so under jit the
    # floor / ceil of k / D can be off by one at an exact multiple of D.
    "PolynomialDecay": "reciprocal division at an exact multiple",
    "ExponentialDecay": "reciprocal division at an exact multiple",
    "InverseTimeDecay": "reciprocal division at an exact multiple",
}


def make_keras(rng):
    cases = keras_configs(rng)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "cfg.json"
        cfg.write_text(json.dumps(cases))
        for mode in ("f32", "f64"):
            outp = Path(tmp) / f"{mode}.json"
            subprocess.run([sys.executable, __file__, "--keras-worker", mode, str(cfg), str(outp)], check=True)
            results[mode] = json.loads(outp.read_text())
    assert results["f32"]["version"] == results["f64"]["version"]
    out_cases = []
    for c, r32, r64 in zip(cases, results["f32"]["cases"], results["f64"]["cases"]):
        assert r32["dtype"] == "float32", r32["dtype"]
        ref = [keras_reference(c["cls"], c["kwargs"], k) for k in c["steps"]]
        peak = max(abs(x) for x in ref) or 1.0
        case = dict(c, f32=f32s(r32["values"]), serialized=r32["serialized"])
        # float32: Keras's own rounding stays within 2e-6 of the peak; anything beyond is listed.
        runs = [("f32", r32["values"], 2e-6)]
        # Keras's CosineDecay without warmup stays float32 even with floatx float64: no f64 numbers then.
        if r64["dtype"] == "float64":
            dev = [abs(a - b) / peak for a, b in zip(r64["values"], ref)]
            if any(1e-12 < d < 1e-3 for d in dev):
                # Some Keras classes keep float32 internals under floatx float64 (CosineDecay's warmup
                # branch): those numbers are float32-accurate only, so no f64 fixture for them.
                worst = max(d for d in dev if d < 1e-3)
                print(f"keras f64 {c['cls']} {c['kwargs']}: float32-accurate only ({worst:.1e})")
            else:
                case["f64"] = f64s(r64["values"])
                runs.append(("f64", r64["values"], 1e-9))
        diff = {}
        for mode, vals, tol in runs:
            idx = find_diffs(vals, ref, peak, tol)
            if idx:
                diff[mode] = {"idx": idx, "expected": [ref[i] for i in idx]}
        # Sanity: away from the listed points, Keras's float64 agrees with the reference to round-off.
        for mode, vals, _ in runs:
            skip = set(diff.get(mode, {}).get("idx", []))
            bad = [i for i in find_diffs(vals, ref, peak, 1e-12 if mode == "f64" else 2e-6) if i not in skip]
            assert not bad, (c, mode, bad)
        if diff:
            if c["cls"] not in KERAS_DIFF_REASONS:
                raise AssertionError(f"unexpected Keras difference: {c} {diff}")
            diff["reason"] = KERAS_DIFF_REASONS[c["cls"]]
            case["diff"] = diff
        out_cases.append(case)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    from keras.optimizers import schedules as S

    sigs = {name: signature_of(getattr(S, name).__init__) for name in sorted({c["cls"] for c in cases})}
    return {"library": "keras", "version": results["f32"]["version"], "seed": SEED, "signatures": sigs,
            "cases": out_cases}


# ----------------------------------------------------------------------------- transformers


def hf_configs(rng):
    cases = []

    def add(name, lr, W, N, kwargs=None, extra=(), restarts=()):
        end = max(N if N is not None else 0, W, 1)
        if name in ("inverse_sqrt",):
            end = max(W, 1) * 4
        if name == "warmup_stable_decay" and N is None:
            end = W + kwargs["num_stable_steps"] + kwargs["num_decay_steps"]
        steps = steps_for(end, restarts=restarts, extra=[W, end, *extra], past=1.6)
        cases.append({"name": name, "lr": lr, "num_warmup_steps": W, "num_training_steps": N,
                      "kwargs": kwargs or {}, "steps": steps})

    lrs = [1e-3, 5e-5, 1.0, 0.3, 2e-4]
    for _ in range(3):
        add("constant", rng.choice(lrs), rng.randint(0, 20), rng.randint(20, 100))
    for W in (0, 1, 7, rng.randint(1, 60)):
        add("constant_with_warmup", rng.choice(lrs), W, None)
    for W, N in ((0, 50), (1, 10), (10, 110), (5, 5), (8, 3), (rng.randint(0, 50), rng.randint(51, 300))):
        add("linear", rng.choice(lrs), W, N)
    for W, N, C in ((0, 100, 0.5), (10, 110, 0.5), (5, 45, 1.0), (3, 63, 2.5), (0, 30, 0.25), (4, 4, 0.5),
                    (rng.randint(0, 30), rng.randint(31, 200), rng.choice([0.5, 1.5, 3.0]))):
        add("cosine", rng.choice(lrs), W, N, {"num_cycles": C})
    for W, N, C in ((0, 100, 1), (10, 110, 2), (0, 49, 7), (3, 33, 3), (0, 60, 5), (2, 102, 4), (0, 70, 0),
                    (5, 35, 1.5), (0, 90, 9), (rng.randint(0, 20), rng.randint(21, 200), rng.randint(1, 6)),
                    # float64 (C * p) % 1 lands just below 1 at some exact restarts (found by a scan):
                    (0, 22, 22), (5, 71, 22), (3, 81, 39), (0, 115, 23)):
        span = max(1, N - W)
        rs = [W + Fraction(span) * j / C for j in range(1, int(C) + 1)] if C else []
        add("cosine_with_restarts", rng.choice(lrs), W, N, {"num_cycles": C},
            restarts=[int(r) for r in rs if r == int(r)])
    for W, N, e, p in ((0, 100, 1e-7, 1.0), (10, 60, 0.0, 2.0), (5, 25, 1e-4, 0.5), (3, 40, 1e-7, 0.0),
                       (rng.randint(0, 30), rng.randint(31, 200), 1e-6, rng.choice([1.0, 3.0]))):
        lr = rng.choice([1e-3, 1.0, 0.3])
        add("polynomial", lr, W, N, {"lr_end": e, "power": p}, extra=[N + 1])
    for W, ts in ((0, None), (100, None), (10, 50), (0, 30), (rng.randint(1, 200), None)):
        add("inverse_sqrt", rng.choice(lrs), W, None, {} if ts is None else {"timescale": ts})
    for W, N, C, kw in ((0, 100, 0.5, {"min_lr": 1e-4}), (10, 110, 0.5, {"min_lr_rate": 0.1}),
                        (5, 45, 1.0, {"min_lr_rate": 0.0}), (0, 30, 0.5, {"min_lr_rate": 0.5}),
                        (3, 50, 2.0, {"min_lr_rate": 0.2})):
        lr = rng.choice([1e-3, 1.0, 0.3])
        add("cosine_with_min_lr", lr, W, N, dict(kw, num_cycles=C))
    for W, N, kw in ((5, 30, {"min_lr_rate": 0.0}), (0, 30, {"min_lr_rate": 0.1}), (1, 20, {"min_lr_rate": 0.1}),
                     (10, 100, {"min_lr_rate": 0.05, "warmup_lr_rate": 0.1}),
                     (2, 40, {"min_lr": 1e-5, "warmup_lr_rate": 0.0}),
                     (1, 20, {"min_lr_rate": 0.1, "warmup_lr_rate": 0.5}),
                     (6, 50, {"min_lr_rate": 0.1, "num_cycles": 1.0})):
        add("cosine_warmup_with_min_lr", rng.choice([1e-3, 1.0, 0.3]), W, N, kw, extra=[N - 1])
    types_ = ("linear", "cosine", "1-sqrt")
    for wt in types_:
        for dt in types_:
            W, D = rng.randint(0, 20), rng.randint(1, 40)
            S = rng.randint(0, 30)
            kw = {"num_decay_steps": D, "warmup_type": wt, "decay_type": dt,
                  "min_lr_ratio": rng.choice([0.0, 0.1, 0.01])}
            if rng.random() < 0.5:
                add("warmup_stable_decay", rng.choice(lrs), W, W + S + D, kw, extra=[W + S, W + S + D])
            else:
                add("warmup_stable_decay", rng.choice(lrs), W, None, dict(kw, num_stable_steps=S),
                    extra=[W + S, W + S + D])
    add("warmup_stable_decay", 1.0, 10, 100, {"num_decay_steps": 40, "num_cycles": 1.5, "min_lr_ratio": 0.05})
    add("warmup_stable_decay", 1.0, 0, 50, {"num_decay_steps": 0})
    return cases


def hf_reference(c, k):
    """Independent float64 reference with exact restart positions for cosine_with_restarts."""
    name, lr, W, N, kw = c["name"], c["lr"], c["num_warmup_steps"], c["num_training_steps"], c["kwargs"]
    if name == "cosine_with_restarts":
        if k < W:
            return lr * k / max(1, W)
        span = max(1, N - W)
        p = Fraction(k - W, span)
        if p >= 1:
            return 0.0
        x = Fraction(kw.get("num_cycles", 1)) * p
        return lr * max(0.0, cosfac(float(x - math.floor(x))))
    return None


def make_transformers(rng):
    import torch
    import transformers
    from transformers.optimization import get_scheduler

    cases = hf_configs(rng)
    out = []
    for c in cases:
        p = torch.nn.Parameter(torch.zeros(()))
        opt = torch.optim.SGD([p], lr=c["lr"])
        sched = get_scheduler(c["name"], opt, num_warmup_steps=c["num_warmup_steps"],
                              num_training_steps=c["num_training_steps"], scheduler_specific_kwargs=dict(c["kwargs"]))
        want = set(c["steps"])
        vals = {}
        for k in range(max(want) + 1):
            if k in want:
                vals[k] = float(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        lr_vals = [vals[k] for k in c["steps"]]
        case = dict(c, lr_values=lr_vals)
        refs = [hf_reference(c, k) for k in c["steps"]]
        if refs[0] is not None:
            idx = find_diffs(lr_vals, refs, c["lr"], 1e-9)
            if idx:
                case["diff"] = {"idx": idx, "expected": [refs[i] for i in idx], "reason": "float mod restart"}
        out.append(case)
    import transformers.optimization as O

    names = [n for n in dir(O) if n.startswith("get_") and n.endswith(("schedule", "_warmup", "_lr_rate"))]
    sigs = {n: signature_of(getattr(O, n)) for n in sorted(names + ["get_scheduler"])}
    return {"library": "transformers", "version": transformers.__version__, "seed": SEED, "signatures": sigs,
            "cases": out}


# ----------------------------------------------------------------------------- timm


def import_timm_scheduler():
    spec = importlib.util.find_spec("timm")
    pkg = types.ModuleType("timm")
    pkg.__path__ = list(spec.submodule_search_locations)  # skip timm/__init__.py (it imports torchvision)
    sys.modules["timm"] = pkg
    import timm.scheduler as ts

    version = "unknown"
    try:
        from importlib.metadata import version as _v

        version = _v("timm")
    except Exception:
        pass
    return ts, version


def timm_configs(rng):
    cases = []

    def add(cls, lr, kw, steps):
        cases.append({"cls": cls, "lr": lr, "kwargs": kw, "steps": steps})

    def cyc_steps(kw, T0):
        M, L = kw.get("cycle_mul", 1.0), kw.get("cycle_limit", 1)
        W = kw.get("warmup_t", 0)
        off = W if kw.get("warmup_prefix", False) else 0
        restarts, S, Lc = [], 0.0, float(T0)
        for _ in range(min(int(L), 6) + 1):
            S += Lc
            Lc *= M
            restarts.append(S + off)
        return steps_for(restarts[-1] * 1.1 + W, restarts=[r for r in restarts if r == int(r)], extra=[W])

    for cls in ("CosineLRScheduler", "TanhLRScheduler", "PolyLRScheduler"):
        for j in range(14):
            T0 = rng.choice([1, 5, 10, 30, rng.randint(2, 60), 7])
            kw = {"t_initial": T0,
                  "lr_min": rng.choice([0.0, 1e-5, 0.01]),
                  "cycle_mul": rng.choice([1.0, 1.0, 2.0, 1.5, 3.0]),
                  "cycle_decay": rng.choice([1.0, 0.5, 0.1]),
                  "cycle_limit": rng.choice([1, 1, 2, 3, 5]),
                  "warmup_t": rng.choice([0, 0, 3, rng.randint(1, 15)]),
                  "warmup_lr_init": rng.choice([0.0, 1e-4, 0.01]),
                  "warmup_prefix": rng.random() < 0.5}
            if cls != "TanhLRScheduler":
                kw["k_decay"] = rng.choice([1.0, 1.0, 0.5, 2.0])
            if cls == "TanhLRScheduler" and j % 3 == 0:
                kw.update(lb=rng.choice([-5.0, -3.0]), ub=rng.choice([2.0, 5.0]))
            if cls == "PolyLRScheduler":
                kw["power"] = rng.choice([0.5, 1.0, 2.0, 0.1])
            lr = rng.choice([0.1, 1.0, 5e-4])
            if kw["lr_min"] >= lr:
                kw["lr_min"] = 0.0
            add(cls, lr, kw, cyc_steps(kw, T0))
    # The float-log restart misses from peer-semantics.md (t_initial=1, cycle_mul=3 at 121; =10 at 111).
    for M, ks in ((3.0, [0, 1, 4, 13, 40, 121, 364]), (10.0, [0, 1, 11, 111, 1111])):
        kw = {"t_initial": 1, "cycle_mul": M, "cycle_limit": 20, "lr_min": 0.001}
        steps = sorted({k + d for k in ks for d in (-1, 0, 1) if k + d >= 0})
        add("CosineLRScheduler", 0.1, kw, steps)
        add("PolyLRScheduler", 0.1, dict(kw, power=1.0), steps)
    for _ in range(10):
        dt = rng.choice([1, 3, 10, 2.5, rng.randint(1, 20)])
        kw = {"decay_t": dt, "decay_rate": rng.choice([1.0, 0.1, 0.5, 0.97]),
              "warmup_t": rng.choice([0, 2, rng.randint(0, 10)]), "warmup_lr_init": rng.choice([0.0, 1e-4]),
              "warmup_prefix": rng.random() < 0.7}
        add("StepLRScheduler", rng.choice([0.1, 1.0]), kw, steps_for(5 * dt + kw["warmup_t"]))
    for _ in range(10):
        n = rng.randint(0, 4)
        ms = sorted(rng.randint(1, 40) for _ in range(n))
        if n and rng.random() < 0.3:
            ms = sorted(ms + [ms[0]])
        kw = {"decay_t": ms, "decay_rate": rng.choice([0.1, 0.5]),
              "warmup_t": rng.choice([0, 3, rng.randint(0, 10)]), "warmup_lr_init": rng.choice([0.0, 1e-4]),
              "warmup_prefix": rng.random() < 0.7}
        last = (ms[-1] if ms else 5) + kw["warmup_t"] + 4
        add("MultiStepLRScheduler", rng.choice([0.1, 1.0]), kw, list(range(0, last)))
    return cases


def timm_reference(c, t):
    """Independent float64 reference of timm's intended math, with the exact cycle index."""
    cls, lr, kw = c["cls"], c["lr"], c["kwargs"]
    if cls not in ("CosineLRScheduler", "TanhLRScheduler", "PolyLRScheduler"):
        return None
    W, w0 = kw.get("warmup_t", 0), kw.get("warmup_lr_init", 0.0)
    prefix = kw.get("warmup_prefix", False)
    T0, M = kw["t_initial"], kw.get("cycle_mul", 1.0)
    g, L, m = kw.get("cycle_decay", 1.0), kw.get("cycle_limit", 1), kw.get("lr_min", 0.0)

    def curve(tt):
        i, S, Lc = exact_cycle(tt, T0, M, limit=L)
        if i >= L:
            return m
        u = float((Fraction(tt) - S) / Lc)
        top = lr * g**i
        if cls == "CosineLRScheduler":
            return m + (top - m) * cosfac(u ** kw.get("k_decay", 1.0))
        if cls == "PolyLRScheduler":
            return m + (top - m) * (1 - u ** kw.get("k_decay", 1.0)) ** kw.get("power", 0.5)
        lb, ub = kw.get("lb", -7.0), kw.get("ub", 3.0)
        return m + 0.5 * (top - m) * (1 - math.tanh(lb * (1 - u) + ub * u))

    if t < W:
        target = lr if (prefix or cls != "TanhLRScheduler") else curve(W)
        return w0 + t * (target - w0) / W
    return curve(t - W if prefix else t)


def make_timm(rng):
    import torch

    ts, version = import_timm_scheduler()
    cases = timm_configs(rng)
    out = []
    for c in cases:
        p = torch.nn.Parameter(torch.zeros(()))
        opt = torch.optim.SGD([p], lr=c["lr"])
        sched = getattr(ts, c["cls"])(opt, **c["kwargs"])
        vals = []
        for t in c["steps"]:
            sched.step(t)
            vals.append(float(opt.param_groups[0]["lr"]))
        case = dict(c, lr_values=vals)
        if hasattr(sched, "get_cycle_length"):
            case["cycle_length"] = sched.get_cycle_length()
        refs = [timm_reference(c, t) for t in c["steps"]]
        if refs[0] is not None:
            peak = max(abs(c["lr"]), 1e-300)
            idx = find_diffs(vals, refs, peak, 1e-9)
            if idx:
                if c["kwargs"].get("cycle_mul", 1.0) == 1.0:
                    raise AssertionError(f"unexpected timm difference: {c} {idx}")
                case["diff"] = {"idx": idx, "expected": [refs[i] for i in idx], "reason": "floored-log restart index"}
        out.append(case)
    # Noise: timm's own draws (noise_seed + t through torch's generator) for a distribution test.
    noise = []
    for pct, std in ((0.67, 1.0), (0.3, 0.5), (1.0, 2.0)):
        p = torch.nn.Parameter(torch.zeros(()))
        opt = torch.optim.SGD([p], lr=1.0)
        sched = ts.StepLRScheduler(opt, decay_t=10**9, noise_range_t=0, noise_pct=pct, noise_std=std, noise_seed=7)
        draws = []
        for t in range(1500):
            sched.step(t)
            draws.append(float(f"{opt.param_groups[0]['lr'] - 1.0:.8g}"))
        noise.append({"noise_pct": pct, "noise_std": std, "noise_seed": 7, "draws": draws})
    sigs = {n: signature_of(getattr(ts, n).__init__) for n in
            ("CosineLRScheduler", "TanhLRScheduler", "PolyLRScheduler", "StepLRScheduler", "MultiStepLRScheduler")}
    return {"library": "timm", "version": version, "seed": SEED, "signatures": sigs, "cases": out, "noise": noise}


# ----------------------------------------------------------------------------- main


def write(name, data):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    ndiff = sum(1 for c in data["cases"] if "diff" in c)
    print(f"wrote {path.relative_to(ROOT)}: {len(data['cases'])} cases, {ndiff} with documented differences, "
          f"{path.stat().st_size / 1024:.0f} KiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keras-worker", nargs=3, metavar=("MODE", "CFG", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--only", choices=["keras", "transformers", "timm"], action="append")
    args = ap.parse_args()
    if args.keras_worker:
        keras_worker(*args.keras_worker)
        return
    warnings.simplefilter("ignore")
    only = set(args.only or ["keras", "transformers", "timm"])
    if "keras" in only:
        write("keras_schedules.json", make_keras(random.Random(SEED)))
    if "transformers" in only:
        write("transformers_schedules.json", make_transformers(random.Random(SEED + 1)))
    if "timm" in only:
        write("timm_schedules.json", make_timm(random.Random(SEED + 2)))


if __name__ == "__main__":
    main()
