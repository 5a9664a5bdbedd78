"""Write the torch / optax scheduler parity fixtures by running the real peers.

Runs torch 2.13 (CPU) ``torch.optim.lr_scheduler`` and optax 0.2.8
``optax.schedules`` on seeded random configurations drawn to cover the edge
cases (zero lengths, milestone 0 and repeats, periodic cosines far past
``T_max``, every restart step of the warm restarts, one-cycle knots below 1,
three phases, the step ``k = T``, dict-key collisions in optax's one-cycles,
...), and records the peer's rate at a subset of the steps from 0 to well
past the end (every step at the start, each boundary and restart and its
neighbours, then a sample):

* ``tests/fixtures/torch_<Scheduler>.json``: per case the base ``lr``, the
  torch keyword arguments (the optimizer left out; ``lr_lambda`` /
  ``scale_fn`` as ``{"fn": family, "args": [...]}``, children of
  ``SequentialLR`` / ``ChainedScheduler`` as ``{"name", "kwargs"}``), the
  steps, the rates after that many ``scheduler.step()`` calls (and the
  momentum for ``CyclicLR`` / ``OneCycleLR``). ``CosineAnnealingWarmRestarts``
  cases also record torch's ``step(epoch)`` rate at every restart step.
* ``tests/fixtures/optax_<function>.json``: per case the keyword arguments
  (``boundaries_and_scales`` as a list of ``[boundary, scale]`` pairs), the
  steps and optax's values, computed under x64 (float64).

Every float argument is drawn float32-representable, so the float32 parity
tests see the peer's own inputs. The module also serves the live test
(``tests/test_live_torch.py``), which imports :func:`draw_torch` and
:func:`run_torch`; it imports torch and optax only inside functions.

Usage (a venv with the torch CPU wheel, jax, optax 0.2.8 and numpy)::

    python3 -m venv /tmp/venv-torch
    /tmp/venv-torch/bin/pip install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl \\
        jax jaxlib optax==0.2.8 numpy
    /tmp/venv-torch/bin/python scripts/make_fixtures_torch_optax.py [torch_StepLR optax_sgdr_schedule ...]

Each file has its own seed, so regenerating a subset leaves the others as they are.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import warnings
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")

TORCH_NAMES = (
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

OPTAX_NAMES = (
    "constant_schedule",
    "linear_schedule",
    "polynomial_schedule",
    "exponential_decay",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "cosine_decay_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "warmup_constant_schedule",
    "linear_onecycle_schedule",
    "cosine_onecycle_schedule",
    "sgdr_schedule",
    "join_schedules",
)


def f32(x: float) -> float:
    """``x`` rounded to the nearest float32, as a Python float."""
    return float(np.float32(x))


# ----------------------------------------------------------------------------- lambdas (Python versions)
# The tests hold jax.numpy versions of the same families.

PY_LAMBDAS = {
    "const": lambda a: lambda k: a,
    "pow": lambda a: lambda k: a**k,
    "warmup": lambda W: lambda k: min(1.0, (k + 1) / W),
    "inv": lambda c: lambda k: 1.0 / (1.0 + c * k),
    "cos": lambda T: lambda k: 0.5 * (1.0 + math.cos(math.pi * min(k, T) / T)),
    "every": lambda s, a: lambda k: a if k % s == 0 else 1.0,
    "ratio": lambda c: lambda k: (k + c) / (k + c + 1.0),
}


def py_lambda(spec: dict[str, Any]):
    return PY_LAMBDAS[spec["fn"]](*spec["args"])


# ----------------------------------------------------------------------------- step selection


def pick_steps(rng: random.Random, n: int, points: list[float], head: int = 24, sample: int = 24) -> list[int]:
    """Steps 0..head, each point and its neighbours, a sample up to n, and n."""
    s = set(range(min(head, n) + 1))
    for p in points:
        for d in (-1, 0, 1):
            k = int(math.floor(p)) + d
            if 0 <= k <= n:
                s.add(k)
            k = int(math.ceil(p)) + d
            if 0 <= k <= n:
                s.add(k)
    rest = [k for k in range(n + 1) if k not in s]
    s.update(rng.sample(rest, min(sample, len(rest))))
    s.add(n)
    return sorted(s)


# ----------------------------------------------------------------------------- torch configurations


def _lr(rng: random.Random) -> float:
    return f32(10 ** rng.uniform(-4, 0.5))


def _frac(rng: random.Random, lo: float = 0.0, hi: float = 1.0) -> float:
    return f32(rng.uniform(lo, hi))


def _child(rng: random.Random, name: str, short: bool = False, template: int = 0) -> dict[str, Any]:
    """A child for SequentialLR / ChainedScheduler (total_iters >= 1: see the docs for 0).

    Structure (lambda family, milestone count) depends on ``template`` only, numbers on ``rng``.
    """
    n = 12 if short else 30
    if name == "StepLR":
        return {"step_size": rng.randint(1, n // 2), "gamma": _frac(rng, 0.3, 1.0)}
    if name == "MultiStepLR":
        return {"milestones": sorted(rng.randint(0, n) for _ in range(1 + template % 3)), "gamma": _frac(rng, 0.3, 1.0)}
    if name == "ConstantLR":
        return {"factor": _frac(rng, 0.05, 1.0), "total_iters": rng.randint(1, n)}
    if name == "LinearLR":
        return {
            "start_factor": _frac(rng, 0.05, 1.0),
            "end_factor": _frac(rng, 0.0, 1.0),
            "total_iters": rng.randint(1, n),
        }
    if name == "ExponentialLR":
        return {"gamma": _frac(rng, 0.8, 1.0)}
    if name == "PolynomialLR":
        return {"total_iters": rng.randint(1, n), "power": f32(rng.choice([0.5, 1.0, 2.0, rng.uniform(0, 3)]))}
    if name == "CosineAnnealingLR":
        return {"T_max": rng.randint(1, n)}
    if name == "MultiplicativeLR":
        if template % 2:
            return {"lr_lambda": {"fn": "const", "args": [_frac(rng, 0.8, 1.0)]}}
        return {"lr_lambda": {"fn": "ratio", "args": [f32(rng.uniform(1, 5))]}}
    if name == "LambdaLR":
        if template % 2:
            return {"lr_lambda": {"fn": "warmup", "args": [rng.randint(1, 10)]}}
        return {"lr_lambda": {"fn": "pow", "args": [_frac(rng, 0.8, 1.0)]}}
    if name == "CosineAnnealingWarmRestarts":
        return {"T_0": rng.randint(1, 8), "T_mult": rng.randint(1, 3), "eta_min": 0.0}
    if name == "CyclicLR":
        return {
            "base_lr": _lr(rng),
            "max_lr": _lr(rng),
            "step_size_up": rng.randint(1, 6),
            "mode": rng.choice(["triangular", "triangular2", "exp_range"]),
            "gamma": _frac(rng, 0.9, 1.0),
        }
    raise ValueError(name)


def draw_torch(name: str, rng: random.Random, n_cases: int = 24) -> list[dict[str, Any]]:
    """Random configurations for ``name``: dicts with ``lr``, ``kwargs``, ``n`` (last step) and ``points``."""
    cases: list[dict[str, Any]] = []

    def add(kwargs: dict[str, Any], n: int, points: list[float] = (), lr: float | None = None, **extra: Any) -> None:
        cases.append(
            {"lr": _lr(rng) if lr is None else lr, "kwargs": kwargs, "n": int(n), "points": list(points), **extra}
        )

    for i in range(n_cases):
        if name == "LambdaLR":
            fam = rng.choice(["pow", "warmup", "inv", "cos", "const"])
            args = {
                "pow": [_frac(rng, 0.8, 1.0)],
                "warmup": [rng.randint(1, 30)],
                "inv": [f32(rng.uniform(0, 0.5))],
                "cos": [rng.randint(1, 60)],
                "const": [_frac(rng, 0, 2)],
            }[fam]
            add({"lr_lambda": {"fn": fam, "args": args}}, rng.randint(20, 120), args)
        elif name == "MultiplicativeLR":
            fam = rng.choice(["const", "every", "ratio", "inv"])
            args = {
                "const": [_frac(rng, 0.9, 1.0)],
                "every": [rng.randint(1, 10), _frac(rng, 0.3, 1.0)],
                "ratio": [f32(rng.uniform(0.5, 10))],
                "inv": [f32(rng.uniform(0, 0.05))],
            }[fam]
            add({"lr_lambda": {"fn": fam, "args": args}}, rng.randint(20, 100))
        elif name == "StepLR":
            s = [1, 2, rng.randint(1, 40)][i % 3]
            g = [0.1, 0.5, 1.0, 0.0, _frac(rng, 0.05, 1.0), _frac(rng, 0.05, 1.0)][i % 6]
            kw = {"step_size": s} if i == 0 else {"step_size": s, "gamma": g}
            n = s * rng.randint(2, 8) + rng.randint(0, 5)
            add(kw, n, [s * j for j in range(n // s + 1)])
        elif name == "MultiStepLR":
            ms = [rng.randint(0, 80) for _ in range([0, 2, 3][i % 3])]
            if i % 6 == 1 and ms:
                ms[1] = ms[0]  # a repeated milestone
            if i % 6 == 2 and ms:
                ms[-1] = 0
            if i % 3 != 0:
                rng.shuffle(ms)  # torch keeps a Counter: order does not matter
            kw = {"milestones": ms} if i == 0 else {"milestones": ms, "gamma": [0.1, 0.5, _frac(rng, 0.05, 1.0)][i % 3]}
            add(kw, (max(ms) if ms else 20) + rng.randint(3, 30), ms)
        elif name == "ConstantLR":
            T = [0, 1, 5, rng.randint(2, 60)][i % 4]
            f = [1.0, _frac(rng, 0.01, 1.0), _frac(rng, 0.01, 1.0)][i % 3]
            kw = {} if i == 0 else {"factor": f, "total_iters": T}
            add(kw, (T if kw else 5) + rng.randint(3, 30), [T])
        elif name == "LinearLR":
            T = [0, 1, 5, rng.randint(2, 60)][i % 4]
            kw = (
                {}
                if i == 0
                else {
                    "start_factor": [1.0, _frac(rng, 0.01, 1.0), f32(1e-3)][i % 3],
                    "end_factor": [1.0, 0.0, _frac(rng, 0.0, 1.0)][i % 3 - 1],
                    "total_iters": T,
                }
            )
            add(kw, (T if kw else 5) + rng.randint(3, 30), [T])
        elif name == "ExponentialLR":
            g = [0.5, 1.0, f32(1.01), 0.0, _frac(rng, 0.8, 1.0), _frac(rng, 0.95, 1.0)][i % 6]
            add({"gamma": g}, rng.randint(30, 200) if g <= 1.0 else 150)
        elif name == "PolynomialLR":
            T = [0, 1, 5, rng.randint(2, 60)][i % 4]
            p = [1.0, 0.0, 0.5, 2.0, f32(rng.uniform(0, 4))][i % 5]
            kw = {} if i == 0 else {"total_iters": T, "power": p}
            add(kw, (T if kw else 5) + rng.randint(3, 30), [T])
        elif name == "CosineAnnealingLR":
            T = [1, 2, 3, rng.randint(4, 60)][i % 4]
            lr = _lr(rng)
            m = [0.0, f32(lr * rng.uniform(0, 1)), f32(lr * rng.uniform(1, 3))][i % 3]
            kw = {"T_max": T} if i % 3 == 0 else {"T_max": T, "eta_min": m}
            n = T * rng.randint(2, 7) + rng.randint(0, 3)
            add(kw, n, [T * j for j in range(n // T + 1)], lr=lr)
        elif name == "CosineAnnealingWarmRestarts":
            T0, Tm = [
                (1, 3),
                (1, 10),
                (1, 2),
                (rng.randint(1, 20), 1),
                (rng.randint(1, 10), rng.randint(2, 4)),
                (rng.randint(1, 5), 2),
            ][i % 6]
            lr = _lr(rng)
            kw = (
                {"T_0": T0}
                if i % 4 == 3
                else {"T_0": T0, "T_mult": Tm, "eta_min": [0.0, f32(lr * rng.uniform(0, 1))][i % 2]}
            )
            if i % 4 == 3:
                Tm = 1
            starts, s, L = [], 0, T0
            while s <= 1200 and len(starts) < 12:
                starts.append(s)
                s, L = s + L, L * Tm
            n = min(starts[-1] + 3, 1300) if len(starts) > 1 else 60
            n = max(n, 40)
            add(kw, n, starts, lr=lr, restarts=[t for t in starts if t <= n])
        elif name == "ChainedScheduler":
            # Fixed child templates with random numbers: cases of one template share a structure.
            templates = [
                ["LinearLR", "CosineAnnealingLR"],
                ["ConstantLR", "ExponentialLR"],
                ["StepLR", "MultiStepLR", "PolynomialLR"],
                ["MultiplicativeLR", "LinearLR"],
                ["CosineAnnealingLR", "StepLR", "ConstantLR"],
                ["ExponentialLR", "MultiplicativeLR", "MultiStepLR"],
            ]
            kids = templates[i % len(templates)]
            children = [{"name": k, "kwargs": _child(rng, k, template=i % len(templates))} for k in kids]
            T = min([c["kwargs"]["T_max"] for c in children if c["name"] == "CosineAnnealingLR"], default=None)
            # Products only hold for the cosine up to T_max; cases past it are marked.
            n = T if T is not None and i // len(templates) != 3 else T * 3 if T is not None else rng.randint(20, 60)
            add({"schedulers": children}, n, [], product=bool(T is None or n <= T))
        elif name == "SequentialLR":
            templates = [
                ["LinearLR", "CosineAnnealingLR"],
                ["ConstantLR", "ExponentialLR", "StepLR"],
                ["StepLR", "MultiplicativeLR", "MultiplicativeLR"],
                ["LambdaLR", "CosineAnnealingWarmRestarts", "CyclicLR"],  # CyclicLR last: it would set initial_lr
                ["MultiStepLR", "PolynomialLR", "LambdaLR"],
                ["MultiplicativeLR", "LinearLR", "MultiplicativeLR"],
            ]
            kids = templates[i % len(templates)]
            children = [{"name": k, "kwargs": _child(rng, k, short=True, template=i % len(templates))} for k in kids]
            ms = sorted(rng.randint(0, 30) for _ in range(len(kids) - 1))
            if i // len(templates) == 1:
                ms[0] = 0
            if i // len(templates) == 2 and len(ms) > 1:
                ms[1] = ms[0]
            add({"schedulers": children, "milestones": ms}, (ms[-1] if ms else 0) + rng.randint(10, 40), ms)
        elif name == "CyclicLR":
            up = [rng.randint(1, 12), 1, f32(rng.randint(3, 20) / 2)][i % 3]
            down = [None, rng.randint(0, 12), f32(rng.randint(1, 20) / 2), 0][i % 4]
            mode = ["triangular", "triangular2", "exp_range"][i % 3]
            kw = {
                "base_lr": _lr(rng),
                "max_lr": _lr(rng),
                "step_size_up": up,
                "step_size_down": down,
                "mode": mode,
                "gamma": _frac(rng, 0.9, 1.0),
                "base_momentum": _frac(rng, 0.5, 0.9),
                "max_momentum": _frac(rng, 0.9, 0.99),
            }
            if i % 8 == 5:
                kw["scale_fn"] = {"fn": "pow", "args": [_frac(rng, 0.5, 1.0)]}
                kw["scale_mode"] = "cycle"
            if i % 8 == 6:
                kw["scale_fn"] = {"fn": "inv", "args": [f32(rng.uniform(0, 0.1))]}
                kw["scale_mode"] = "iterations"
            if i in (3, 4):  # gamma is unused outside exp_range: torch accepts any (triangular, triangular2)
                kw["gamma"] = [0.0, -0.5][i - 3]
            if i == 0:
                kw = {"base_lr": kw["base_lr"], "max_lr": kw["max_lr"], "step_size_up": 7}
            C = kw["step_size_up"] + (kw["step_size_up"] if kw.get("step_size_down") is None else kw["step_size_down"])
            n = int(C * rng.uniform(2, 5)) + 2
            add(
                kw,
                n,
                [C * j for j in range(int(n // C) + 1)] + [C * j + kw["step_size_up"] for j in range(int(n // C) + 1)],
                lr=0.0,
            )
        elif name == "OneCycleLR":
            T = [rng.randint(2, 200), rng.randint(2, 30), 1, rng.randint(20, 100)][i % 4]
            pct = [_frac(rng, 0.05, 0.95), 0.3, _frac(rng, 0.0, 0.6)][i % 3]
            if i % 5 == 4:
                pct = f32(rng.uniform(0, 1.0 / T))  # pct * T < 1: the first phase is empty
            three = i % 2 == 1
            kw = {
                "max_lr": _lr(rng),
                "total_steps": T,
                "pct_start": pct,
                "anneal_strategy": ["cos", "linear"][(i // 2) % 2],
                "base_momentum": _frac(rng, 0.7, 0.9),
                "max_momentum": _frac(rng, 0.9, 0.99),
                "div_factor": f32(rng.choice([25.0, 10.0, rng.uniform(1, 100)])),
                "final_div_factor": f32(rng.choice([1e4, 100.0, rng.uniform(1, 1e5)])),
                "three_phase": three,
            }
            if i % 7 == 3 and T % 2 == 0 and T > 2:
                del kw["total_steps"]
                kw["epochs"], kw["steps_per_epoch"] = 2, T // 2
            if i == 0:
                kw = {"max_lr": kw["max_lr"], "total_steps": 100}
                T = 100
            pT = kw.get("pct_start", 0.3) * T
            add(kw, T, [pT - 1, 2 * pT - 2, T - 1], lr=0.0)
        else:
            raise ValueError(name)
    return cases


# ----------------------------------------------------------------------------- running torch


def _make_torch(name: str, opt: Any, kwargs: dict[str, Any]) -> Any:
    from torch.optim import lr_scheduler as L

    kw = dict(kwargs)
    if "lr_lambda" in kw:
        kw["lr_lambda"] = py_lambda(kw["lr_lambda"])
    if kw.get("scale_fn") is not None:
        kw["scale_fn"] = py_lambda(kw["scale_fn"])
    if name == "ChainedScheduler":
        kids = [_make_torch(c["name"], opt, c["kwargs"]) for c in kw["schedulers"]]
        return L.ChainedScheduler(kids, optimizer=opt)
    if name == "SequentialLR":
        kids = [_make_torch(c["name"], opt, c["kwargs"]) for c in kw["schedulers"]]
        return L.SequentialLR(opt, kids, milestones=kw["milestones"])
    return getattr(L, name)(opt, **kw)


def run_torch(name: str, lr: float, kwargs: dict[str, Any], steps: list[int]) -> dict[str, list[float]]:
    """Torch's rate (and momentum) after ``k`` calls of ``step()`` for each ``k`` in ``steps``."""
    import torch

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr if lr > 0 else 0.1, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = _make_torch(name, opt, kwargs)
        want = set(steps)
        lrs, moms = {}, {}
        for k in range(max(steps) + 1):
            if k:
                opt.step()
                sched.step()
            if k in want:
                lrs[k] = float(opt.param_groups[0]["lr"])
                moms[k] = float(opt.param_groups[0]["momentum"])
    out = {"values": [lrs[k] for k in steps]}
    if name in ("CyclicLR", "OneCycleLR"):
        out["momentum"] = [moms[k] for k in steps]
    return out


def run_torch_epoch_form(lr: float, kwargs: dict[str, Any], epochs: list[int]) -> list[float]:
    """CosineAnnealingWarmRestarts' ``step(epoch)`` rate at each epoch (a fresh scheduler each)."""
    import torch
    from torch.optim import lr_scheduler as L

    out = []
    for e in epochs:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=lr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = L.CosineAnnealingWarmRestarts(opt, **kwargs)
            opt.step()
            s.step(e)
        out.append(float(opt.param_groups[0]["lr"]))
    return out


def torch_case(name: str, case: dict[str, Any], rng: random.Random) -> dict[str, Any] | None:
    steps = pick_steps(rng, case["n"], case["points"])
    try:
        res = run_torch(name, case["lr"], case["kwargs"], steps)
    except ZeroDivisionError:
        return None
    out = {"lr": case["lr"], "kwargs": case["kwargs"], "steps": steps, **res}
    if "product" in case:
        out["product"] = case["product"]
    if name == "CosineAnnealingWarmRestarts":
        out["restarts"] = case["restarts"]
        out["epoch_form"] = run_torch_epoch_form(case["lr"], case["kwargs"], case["restarts"])
    return out


# ----------------------------------------------------------------------------- optax configurations


def _pairs(
    rng: random.Random, n: int, lo: int = 0, hi: int = 60, scale: tuple[float, float] = (0.0, 2.0)
) -> list[list[float]]:
    keys = sorted(set(rng.randint(lo, hi) for _ in range(n)))
    return [[k, f32(rng.uniform(*scale))] for k in keys]


def _good_pct(rng: random.Random, T: int, lo: float, hi: float) -> float:
    """A float32 pct whose product with T is not within 1e-6 of an integer unless it is one."""
    while True:
        p = f32(rng.uniform(lo, hi))
        x = p * T
        if abs(x - round(x)) == 0 or abs(x - round(x)) > 1e-3:
            return p


def draw_optax(name: str, rng: random.Random, n_cases: int = 20) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    v = lambda: f32(10 ** rng.uniform(-4, 0.5))  # noqa: E731

    def add(kwargs: dict[str, Any], n: int, points: list[float] = ()) -> None:
        cases.append({"kwargs": kwargs, "n": int(n), "points": list(points)})

    for i in range(n_cases):
        if name == "constant_schedule":
            add({"value": [v(), 0.0, -v()][i % 3]}, 10)
        elif name in ("linear_schedule", "polynomial_schedule"):
            T = [0, -3, 1, rng.randint(2, 60), f32(rng.randint(3, 40) + 0.5)][i % 5]
            B = [0, -2, rng.randint(1, 20)][i % 3]
            kw = {"init_value": v(), "end_value": [v(), 0.0][i % 2], "transition_steps": T}
            if i % 4:
                kw["transition_begin"] = B
            if name == "polynomial_schedule":
                kw["power"] = [1.0, 2.0, 0.5, 0.0, f32(rng.uniform(0, 4))][i % 5]
            add(kw, max(B, 0) + abs(T) + rng.randint(3, 20), [max(B, 0), max(B, 0) + T])
        elif name == "exponential_decay":
            T = [rng.randint(1, 20), 0, 1, f32(rng.randint(2, 20) + 0.5)][i % 4]
            rate = [_frac(rng, 0.3, 1.0), 1.5, 0.0, 0.5, 1.0][i % 5]
            kw = {"init_value": v(), "transition_steps": T, "decay_rate": rate}
            if i % 3:
                kw["transition_begin"] = [0, -1, rng.randint(1, 20)][i % 3]
            if i % 2:
                kw["staircase"] = True
            if i % 4 in (1, 2):
                kw["end_value"] = f32(kw["init_value"] * [0.3, 2.0, 0.9][i % 3])
            B = max(kw.get("transition_begin", 0), 0)
            add(kw, B + rng.randint(10, 60), [B + T * j for j in range(6)])
        elif name == "piecewise_constant_schedule":
            pairs = _pairs(rng, [0, 2, 4][i % 3] + 1, lo=[0, -5, 1][i % 3], scale=(0.0, 2.0))[: [0, 2, 4][i % 3]]
            if i % 6 == 4 and pairs:
                pairs[0][1] = 0.0
            kw = {"init_value": v(), "boundaries_and_scales": pairs if i % 7 else None}
            add(kw, (pairs[-1][0] if pairs else 0) + rng.randint(5, 20), [p[0] for p in pairs])
        elif name == "piecewise_interpolate_schedule":
            pairs = _pairs(rng, 8, lo=[0, 1][i % 2], scale=(0.0, 2.0))[: [0, 2, 4][i % 3]]
            kw = {
                "interpolate_type": ["linear", "cosine"][i % 2],
                "init_value": v(),
                "boundaries_and_scales": pairs if i % 7 else None,
            }
            add(kw, (pairs[-1][0] if pairs else 0) + rng.randint(5, 20), [p[0] for p in pairs])
        elif name == "cosine_decay_schedule":
            D = [rng.randint(1, 80), 1, f32(rng.randint(2, 40) + 0.5)][i % 3]
            kw = {"init_value": v(), "decay_steps": D}
            if i % 2:
                kw["alpha"] = [0.0, _frac(rng, 0, 1), 1.5][i % 3]
            if i % 3 == 1:
                kw["exponent"] = [2.0, 0.5, f32(rng.uniform(0.1, 4))][i % 3]
            add(kw, int(D) + rng.randint(3, 30), [D])
        elif name == "warmup_cosine_decay_schedule":
            W = [0, 1, rng.randint(2, 30)][i % 3]
            D = W + rng.randint(1, 60)
            kw = {
                "init_value": [0.0, v()][i % 2],
                "peak_value": v() if i % 5 != 4 else 0.0,
                "warmup_steps": W,
                "decay_steps": D,
            }
            if i % 2:
                kw["end_value"] = [v(), 0.0][i % 4 // 2]
            if i % 3 == 1:
                kw["exponent"] = f32(rng.choice([2.0, 0.5, rng.uniform(0.1, 3)]))
            add(kw, D + rng.randint(3, 20), [W, D])
        elif name == "warmup_exponential_decay_schedule":
            W = [0, 1, rng.randint(2, 30)][i % 3]
            T = [rng.randint(1, 20), 0, f32(rng.randint(2, 20) + 0.5)][i % 3]
            kw = {
                "init_value": v(),
                "peak_value": v(),
                "warmup_steps": W,
                "transition_steps": T,
                "decay_rate": [_frac(rng, 0.3, 1.0), 1.2, 0.0, 0.5][i % 4],
            }
            if i % 2:
                kw["transition_begin"] = rng.randint(0, 10)
            if i % 3 == 2:
                kw["staircase"] = True
            if i % 4 == 1:
                kw["end_value"] = f32(kw["peak_value"] * 0.5)
            add(kw, W + kw.get("transition_begin", 0) + rng.randint(10, 50), [W])
        elif name == "warmup_constant_schedule":
            W = [0, 1, rng.randint(2, 40)][i % 3]
            add({"init_value": [0.0, v()][i % 2], "peak_value": v(), "warmup_steps": W}, W + rng.randint(3, 20), [W])
        elif name == "linear_onecycle_schedule":
            T = [rng.randint(10, 200), rng.randint(2, 20), 100][i % 3]
            ps = _good_pct(rng, T, 0.05, 0.6)
            pf = _good_pct(rng, T, ps, 1.0)
            if i % 5 == 1:
                pf = ps  # a dict-key collision
            if i % 5 == 2:
                pf = 1.0  # pct_final * T == T collides with the last key
            kw = {
                "transition_steps": T,
                "peak_value": v(),
                "pct_start": ps,
                "pct_final": pf,
                "div_factor": f32(rng.choice([25.0, rng.uniform(2, 100)])),
                "final_div_factor": f32(rng.choice([1e4, rng.uniform(2, 1e5)])),
            }
            if i == 0:
                kw = {"transition_steps": 100, "peak_value": kw["peak_value"]}
            add(
                kw,
                kw["transition_steps"] + rng.randint(3, 20),
                [kw["transition_steps"] * kw.get("pct_start", 0.3), kw["transition_steps"] * kw.get("pct_final", 0.85)],
            )
        elif name == "cosine_onecycle_schedule":
            T = [rng.randint(10, 200), rng.randint(2, 20), 100][i % 3]
            ps = _good_pct(rng, T, 0.05, 0.95) if i % 6 != 5 else 1.0
            kw = {
                "transition_steps": T,
                "peak_value": v(),
                "pct_start": ps,
                "div_factor": f32(rng.choice([25.0, rng.uniform(2, 100)])),
                "final_div_factor": f32(rng.choice([1e4, rng.uniform(2, 1e5)])),
            }
            if i == 0:
                kw = {"transition_steps": 100, "peak_value": kw["peak_value"]}
            add(kw, kw["transition_steps"] + rng.randint(3, 20), [kw["transition_steps"] * kw.get("pct_start", 0.3)])
        elif name == "sgdr_schedule":
            cyc = []
            for j in range([1, 3, 4][i % 3]):
                W = rng.choice([0, rng.randint(1, 10)])
                c = {
                    "init_value": [0.0, v()][rng.randint(0, 1)],
                    "peak_value": v(),
                    "warmup_steps": W,
                    "decay_steps": W + rng.randint(1, 40),
                    "end_value": [v(), 0.0][rng.randint(0, 1)],
                }
                if i % 2:
                    c["exponent"] = f32(rng.uniform(0.5, 2))
                cyc.append(c)
            b = list(np.cumsum([c["decay_steps"] for c in cyc]))
            add({"cosine_kwargs": cyc}, int(b[-1]) + rng.randint(3, 20), [float(x) for x in b])
        elif name == "join_schedules":
            templates = [
                ["linear_schedule", "cosine_decay_schedule"],
                ["constant_schedule"],
                ["linear_schedule", "exponential_decay", "constant_schedule"],
                ["cosine_decay_schedule", "cosine_decay_schedule", "linear_schedule", "exponential_decay"],
            ]
            kinds = templates[i % len(templates)]
            k = len(kinds)
            kids = []
            for kind in kinds:
                if kind == "linear_schedule":
                    kw = {"init_value": v(), "end_value": v(), "transition_steps": rng.randint(1, 30)}
                elif kind == "cosine_decay_schedule":
                    kw = {"init_value": v(), "decay_steps": rng.randint(1, 30), "alpha": _frac(rng)}
                elif kind == "exponential_decay":
                    kw = {"init_value": v(), "transition_steps": rng.randint(1, 10), "decay_rate": _frac(rng, 0.3, 1)}
                else:
                    kw = {"value": v()}
                kids.append({"name": kind, "kwargs": kw})
            b = sorted(rng.randint(0, 50) for _ in range(k - 1))
            if i % 5 == 3 and len(b) > 1:
                b[1] = b[0]
            add({"schedules": kids, "boundaries": b}, (b[-1] if b else 0) + rng.randint(5, 40), b)
        else:
            raise ValueError(name)
    return cases


def _optax_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    kw = dict(kwargs)
    if "boundaries_and_scales" in kw and kw["boundaries_and_scales"] is not None:
        kw["boundaries_and_scales"] = {int(b): s for b, s in kw["boundaries_and_scales"]}
    return kw


def make_optax(name: str, kwargs: dict[str, Any]) -> Any:
    import optax

    kw = _optax_kwargs(kwargs)
    if name == "join_schedules":
        return optax.join_schedules([make_optax(c["name"], c["kwargs"]) for c in kw["schedules"]], kw["boundaries"])
    return getattr(optax, name)(**kw)


def optax_case(name: str, case: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp

    steps = pick_steps(rng, case["n"], case["points"])
    sched = make_optax(name, case["kwargs"])
    vals = jax.vmap(lambda k: jnp.asarray(sched(k), jnp.float64))(jnp.asarray(steps, jnp.int64))
    return {"kwargs": case["kwargs"], "steps": steps, "values": [float(x) for x in np.asarray(vals)]}


# ----------------------------------------------------------------------------- main


def _dump(path: str, payload: dict[str, Any]) -> int:
    text = json.dumps(payload, separators=(",", ":"))
    with open(path, "w") as f:
        f.write(text + "\n")
    return len(text)


def main() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    import optax
    import torch

    only = set(sys.argv[1:])  # optional: regenerate only these files (e.g. torch_StepLR optax_join_schedules)
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for i, name in enumerate(TORCH_NAMES):
        if only and f"torch_{name}" not in only:
            continue
        rng = random.Random(1000 + i)
        cases = [c for c in (torch_case(name, c, rng) for c in draw_torch(name, rng)) if c is not None]
        total += _dump(os.path.join(OUT, f"torch_{name}.json"), {"peer": f"torch {torch.__version__}", "cases": cases})
        print(f"torch {name}: {len(cases)} cases", file=sys.stderr)
    for i, name in enumerate(OPTAX_NAMES):
        if only and f"optax_{name}" not in only:
            continue
        rng = random.Random(2000 + i)
        cases = [optax_case(name, c, rng) for c in draw_optax(name, rng)]
        total += _dump(
            os.path.join(OUT, f"optax_{name}.json"), {"peer": f"optax {optax.__version__} (x64)", "cases": cases}
        )
        print(f"optax {name}: {len(cases)} cases", file=sys.stderr)
    print(f"total {total / 1e6:.2f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
