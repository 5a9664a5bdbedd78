"""Write the reduce-on-plateau parity fixtures by running the real peers.

Runs torch 2.13 (CPU) ``torch.optim.lr_scheduler.ReduceLROnPlateau`` and optax
0.2.8 ``optax.contrib.reduce_on_plateau`` on seeded random metric sequences and
settings, and records what the peers report after every metric:

* ``tests/fixtures/plateau_torch.json``: per case the settings, the metric
  sequence and, after each ``step(metric)``, every param group's lr, ``best``,
  ``num_bad_epochs`` and ``cooldown_counter``. Cases whose decisions hinge on
  float32 rounding (a metric that is not a float32, an improvement test that
  comes out differently when evaluated in float32, ``old - new`` within 1e-5
  of ``eps``) or that reduce more than 10 times (float32 lr drift) are marked
  ``"f32": false``; the float32 parity test skips them (the x64 test runs
  every case).
* ``tests/fixtures/plateau_optax.json``: per case the settings, the metric
  sequence and, after each ``update(..., value=metric)``, ``scale``,
  ``best_value``, ``plateau_count`` and ``cooldown_count``, once with float32
  parameters and once under x64 with float64 parameters.
* ``tests/fixtures/plateau_timm.json``: timm's ``PlateauLRScheduler``
  (``timm/scheduler/plateau_lr.py``, loaded without ``timm/__init__`` so no
  torchvision is needed) stepped with explicit epochs, warmup and metrics
  (some ``None``); every group's lr after each ``step(epoch, metric)``.

The metric sequences mix random walks, plateaus, exact ties, metrics placed
exactly on the improvement threshold (computed from the peer's own ``best``),
max mode, abs thresholds, cooldowns, min-lr floors, ``eps`` large enough to
veto small reductions, several param groups, and NaN/+inf/-inf metrics.

Usage (a venv with the torch CPU wheel, jax, optax 0.2.8 and numpy)::

    python3 -m venv /tmp/venv-plateau
    /tmp/venv-plateau/bin/pip install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl \
        jax jaxlib optax==0.2.8 numpy
    /tmp/venv-plateau/bin/pip install --no-deps timm
    /tmp/venv-plateau/bin/python scripts/make_fixtures_plateau.py
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")

N_TORCH = 120
N_OPTAX = 90


def f32(x: float) -> float:
    """Round to the nearest float32 (so float32 and float64 runs see one metric)."""
    return float(np.float32(x))


# ----------------------------------------------------------------------------- metric sequences


def base_sequence(rng: random.Random, n: int, mode: str) -> list[float]:
    """A random metric sequence with walks, plateaus, ties and the odd jump."""
    kind = rng.choice(["walk", "plateau", "ties", "noisy", "mixed"])
    sign = 1.0 if mode == "min" else -1.0
    start = rng.choice([1.0, 2.5, 10.0, 0.3, -1.0, 100.0])
    x = start
    out: list[float] = []
    levels = [round(rng.uniform(-1, 3), 1) for _ in range(4)]
    for i in range(n):
        if kind == "walk":
            x = x - sign * rng.uniform(-0.05, 0.1) * max(abs(x), 0.1)
        elif kind == "plateau":
            if rng.random() < 0.25:
                x = x - sign * rng.uniform(0.0, 0.2) * max(abs(x), 0.1)
        elif kind == "ties":
            x = rng.choice(levels)
        elif kind == "noisy":
            x = start * (1 - sign * 0.01 * i) + rng.gauss(0, 0.05)
        else:
            r = rng.random()
            if r < 0.3:
                x = x - sign * rng.uniform(0, 0.3) * max(abs(x), 0.1)
            elif r < 0.4:
                x = x + sign * rng.uniform(0, 0.5)
        out.append(f32(x))
    return out


def nonfinite_sprinkle(rng: random.Random, seq: list[float]) -> list[float]:
    seq = list(seq)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(seq))
        seq[i] = rng.choice([math.nan, math.inf, -math.inf, math.nan])
    return seq


# ----------------------------------------------------------------------------- torch


def torch_cases(seed: int = 0) -> list[dict]:
    import torch

    torch.set_default_dtype(torch.float64)
    rng = random.Random(seed)

    class Recording(torch.optim.lr_scheduler.ReduceLROnPlateau):
        """Records the lrs at each reduction attempt (to measure the eps margin)."""

        attempts: list[list[float]]

        def _reduce_lr(self, epoch):  # noqa: D401 - recording hook only
            self.attempts.append([float(g["lr"]) for g in self.optimizer.param_groups])
            return super()._reduce_lr(epoch)

    cases = []
    for ci in range(N_TORCH):
        mode = rng.choice(["min", "max"])
        threshold_mode = rng.choice(["rel", "abs"])
        thresholds = [0.0, 1e-4, 1e-3, 1e-2, 0.1, 0.5] if threshold_mode == "rel" else [0.0, 1e-4, 0.01, 0.1, 0.5]
        threshold = rng.choice(thresholds)
        factor = rng.choice([0.1, 0.5, 0.2, 0.9, 1 / 3, round(rng.uniform(0.05, 0.95), 6)])
        patience = rng.choice([0, 0, 1, 2, 3, 5])
        cooldown = rng.choice([0, 0, 1, 2, 3])
        groups = 2 if rng.random() < 0.2 else 1
        lrs = [rng.choice([0.1, 1e-3, 1.0, 0.05, round(rng.uniform(1e-4, 0.5), 6)]) for _ in range(groups)]
        min_lr_choice = rng.choice(["zero", "frac", "frac", "big"])

        def mk_min(lr: float) -> float:
            return {"zero": 0.0, "frac": lr * rng.choice([1e-2, 0.3, 0.05]), "big": lr * 0.8}[min_lr_choice]

        min_lrs = [mk_min(lr) for lr in lrs]
        eps = rng.choice([1e-8, 1e-8, 0.0, 1e-3 * lrs[0], 0.05 * lrs[0]])
        n = rng.randint(20, 50)
        seq = base_sequence(rng, n, mode)
        if rng.random() < 0.2:
            seq = nonfinite_sprinkle(rng, seq)
        edge = rng.random() < 0.3

        params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(groups)]
        opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)])
        min_lr_arg = min_lrs if groups > 1 else min_lrs[0]
        sched = Recording(
            opt,
            mode=mode,
            factor=factor,
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            cooldown=cooldown,
            min_lr=min_lr_arg,
            eps=eps,
        )
        sched.attempts = []
        metrics, out_lrs, best, bad, cd = [], [], [], [], []
        safe = True
        n_reductions = 0
        for i in range(n):
            m = seq[i]
            b = sched.best
            if edge and rng.random() < 0.35 and math.isfinite(b):
                # Exactly on the improvement threshold (a tie: not better), or one ulp past it.
                if mode == "min":
                    thr = b * (1 - threshold) if threshold_mode == "rel" else b - threshold
                else:
                    thr = b * (threshold + 1) if threshold_mode == "rel" else b + threshold
                m = thr if rng.random() < 0.6 else math.nextafter(thr, -math.inf if mode == "min" else math.inf)
            # float32 safety: the float32 decision (jaxsched's formula in float32:
            # best * (1 -/+ rtol) -/+ atol) must equal torch's float64 one.
            if math.isfinite(b) and not math.isnan(m):
                if f32(m) != m:
                    safe = False
                else:
                    rtol32 = np.float32(threshold if threshold_mode == "rel" else 0.0)
                    atol32 = np.float32(threshold if threshold_mode == "abs" else 0.0)
                    b32, m32, one = np.float32(b), np.float32(m), np.float32(1)
                    if mode == "min":
                        d32 = m32 < np.float32(np.float32(b32 * (one - rtol32)) - atol32)
                        d64 = m < (b * (1 - threshold) if threshold_mode == "rel" else b - threshold)
                    else:
                        d32 = m32 > np.float32(np.float32(b32 * (one + rtol32)) + atol32)
                        d64 = m > (b * (threshold + 1) if threshold_mode == "rel" else b + threshold)
                    if bool(d32) != bool(d64) or float(b32) != b:
                        safe = False
            before = len(sched.attempts)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sched.step(m)
            if len(sched.attempts) > before:
                for old, mn in zip(sched.attempts[-1], min_lrs):
                    new = max(old * factor, mn)
                    if old != new and abs((old - new) - eps) <= 1e-5 * max(old, eps, 1e-30):
                        safe = False
            now = [float(g["lr"]) for g in opt.param_groups]
            if out_lrs and now != out_lrs[-1]:
                n_reductions += 1
            metrics.append(m)
            out_lrs.append(now)
            best.append(float(sched.best))
            bad.append(int(sched.num_bad_epochs))
            cd.append(int(sched.cooldown_counter))
        if n_reductions > 10:
            safe = False
        cases.append(
            {
                "id": ci,
                "settings": {
                    "lr": lrs if groups > 1 else lrs[0],
                    "mode": mode,
                    "factor": factor,
                    "patience": patience,
                    "threshold": threshold,
                    "threshold_mode": threshold_mode,
                    "cooldown": cooldown,
                    "min_lr": min_lr_arg,
                    "eps": eps,
                },
                "f32": safe,
                "metrics": metrics,
                "lr": out_lrs if groups > 1 else [x[0] for x in out_lrs],
                "best": best,
                "num_bad_epochs": bad,
                "cooldown_counter": cd,
            }
        )
    return cases


# ----------------------------------------------------------------------------- optax


def _optax_run(settings: dict, metrics: list[float], dtype) -> dict:
    """Feed ``metrics`` to optax's transform in one jitted ``lax.scan``; record its state."""
    import jax
    import jax.numpy as jnp
    import optax

    tx = optax.contrib.reduce_on_plateau(**settings)
    params = {"w": jnp.zeros((2,), dtype)}
    upd = {"w": jnp.ones((2,), dtype)}

    @jax.jit
    def run(ms):
        def body(state, m):
            _, state = tx.update(upd, state, params, value=m)
            return state, (state.scale, state.best_value, state.plateau_count, state.cooldown_count)

        return jax.lax.scan(body, tx.init(params), ms)[1]

    scale, best, plateau_count, cooldown_count = run(jnp.asarray(np.asarray(metrics), dtype))
    return {
        "scale": [float(x) for x in np.asarray(scale)],
        "best_value": [float(x) for x in np.asarray(best)],
        "plateau_count": [int(x) for x in np.asarray(plateau_count)],
        "cooldown_count": [int(x) for x in np.asarray(cooldown_count)],
    }


def optax_cases(seed: int = 1) -> list[dict]:
    import jax
    import jax.numpy as jnp
    import optax

    rng = random.Random(seed)
    rtols = [1e-4, 0.0, 1e-2, 0.1, 1e-3]
    for r in rtols:  # our float32 1 - rtol must equal optax's float32(1 - rtol)
        assert np.float32(1 - r) == np.float32(1) - np.float32(r), r
    cases = []
    for ci in range(N_OPTAX):
        rtol = rng.choice(rtols)
        atol = rng.choice([0.0, 1e-3, 0.01, 0.5] if rtol > 0 else [1e-3, 0.01, 0.5])
        settings = {
            "factor": rng.choice([0.1, 0.5, 0.2, 0.9, 1 / 3]),
            "patience": rng.choice([0, 1, 2, 3, 5]),
            "rtol": rtol,
            "atol": atol,
            "cooldown": rng.choice([0, 0, 1, 2, 3]),
            "accumulation_size": rng.choice([1, 1, 1, 2, 3]),
            "min_scale": rng.choice([0.0, 0.0, 0.01, 0.05, 0.3]),
        }
        n = rng.randint(20, 50)
        seq = base_sequence(rng, n, "min")
        if rng.random() < 0.2:
            seq = nonfinite_sprinkle(rng, seq)
        if rng.random() < 0.3:
            # Place some metrics exactly on the float32 threshold (1 - rtol) * best - atol,
            # using optax's own best value from a float32 run.
            tx = optax.contrib.reduce_on_plateau(**settings)
            params = {"w": jnp.zeros((2,), jnp.float32)}
            st = tx.init(params)
            upd = {"w": jnp.ones((2,), jnp.float32)}
            step = jax.jit(lambda st, v, tx=tx, upd=upd, params=params: tx.update(upd, st, params, value=v)[1])
            for i in range(n):
                b = np.float32(st.best_value)
                if settings["accumulation_size"] == 1 and np.isfinite(b) and rng.random() < 0.35:
                    thr = np.float32(np.float32(1 - rtol) * b) - np.float32(atol)
                    seq[i] = float(thr if rng.random() < 0.6 else np.nextafter(thr, np.float32(-np.inf)))
                st = step(st, jnp.asarray(seq[i], jnp.float32))
        rec32 = _optax_run(settings, seq, jnp.float32)
        with jax.enable_x64(True):
            rec64 = _optax_run(settings, seq, jnp.float64)
        cases.append(
            {
                "id": ci,
                "settings": settings,
                "metrics": seq,
                "f32": {k: v for k, v in rec32.items()},
                "x64": {k: v for k, v in rec64.items()},
            }
        )
    return cases


# ----------------------------------------------------------------------------- timm


N_TIMM = 30


def _timm_plateau_module():
    """Load timm.scheduler.plateau_lr without timm/__init__ (which needs torchvision)."""
    import importlib
    import importlib.util
    import types

    loc = importlib.util.find_spec("timm").submodule_search_locations[0]
    pkg = types.ModuleType("_timm_scheduler")
    pkg.__path__ = [os.path.join(loc, "scheduler")]
    sys.modules["_timm_scheduler"] = pkg
    return importlib.import_module("_timm_scheduler.plateau_lr")


def timm_cases(seed: int = 2) -> tuple[str, list[dict]]:
    import importlib.metadata

    import torch

    torch.set_default_dtype(torch.float64)
    mod = _timm_plateau_module()
    rng = random.Random(seed)
    cases = []
    for ci in range(N_TIMM):
        mode = rng.choice(["max", "max", "min"])
        groups = 2 if rng.random() < 0.2 else 1
        lrs = [rng.choice([0.1, 1e-3, 0.05, round(rng.uniform(1e-3, 0.5), 6)]) for _ in range(groups)]
        settings = {
            "decay_rate": rng.choice([0.1, 0.5, 0.2, 1 / 3]),
            "patience_t": rng.choice([0, 1, 2, 3]),
            "threshold": rng.choice([1e-4, 1e-2, 0.0]),
            "cooldown_t": rng.choice([0, 0, 1, 2]),
            "warmup_t": rng.choice([0, 0, 1, 3, 5]),
            "warmup_lr_init": rng.choice([0.0, 1e-4, 0.01]),
            "lr_min": rng.choice([0.0, 0.0, 1e-3]),
            "mode": mode,
        }
        start = 0 if rng.random() < 0.15 else 1  # timm's train loop calls step(epoch + 1); step(0) is a quirk
        n = rng.randint(15, 35)
        seq = base_sequence(rng, n, mode)
        metrics = [None if rng.random() < 0.05 else m for m in seq]
        params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(groups)]
        opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sch = mod.PlateauLRScheduler(opt, **settings)
        init = [float(g["lr"]) for g in opt.param_groups]
        out = []
        for i, m in enumerate(metrics):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sch.step(start + i, m)
            out.append([float(g["lr"]) for g in opt.param_groups])
        cases.append(
            {
                "id": ci,
                "lr": lrs if groups > 1 else lrs[0],
                "settings": settings,
                "epochs": [start + i for i in range(n)],
                "metrics": metrics,
                "init_lr": init if groups > 1 else init[0],
                "out_lr": out if groups > 1 else [x[0] for x in out],
            }
        )
    return f"timm {importlib.metadata.version('timm')} (scheduler/plateau_lr.py)", cases


def main() -> None:
    import optax
    import torch

    assert torch.__version__.startswith("2.13.0"), torch.__version__
    assert optax.__version__ == "0.2.8", optax.__version__
    os.makedirs(OUT, exist_ok=True)
    t = {"peer": f"torch {torch.__version__}", "generator": "scripts/make_fixtures_plateau.py", "cases": torch_cases()}
    o = {"peer": f"optax {optax.__version__}", "generator": "scripts/make_fixtures_plateau.py", "cases": optax_cases()}
    peer, cases = timm_cases()
    tm = {"peer": peer, "generator": "scripts/make_fixtures_plateau.py", "cases": cases}
    for name, data in (("plateau_torch.json", t), ("plateau_optax.json", o), ("plateau_timm.json", tm)):
        path = os.path.join(OUT, name)
        with open(path, "w") as fh:
            json.dump(data, fh, separators=(",", ":"))
        print(f"wrote {path}: {os.path.getsize(path)} bytes, {len(data['cases'])} cases", file=sys.stderr)
    print(
        f"torch cases safe in float32: {sum(c['f32'] for c in t['cases'])}/{len(t['cases'])}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
