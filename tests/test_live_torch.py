"""Live parity: fresh random configurations, run through torch itself, against ``jaxsched.compat.torch``.

Skipped when torch is not importable (the committed fixtures cover the suite
without it). Configurations are drawn by ``scripts/make_fixtures_torch_optax.py``
(``draw_torch``: the same edge-case-seeking draws as the fixtures) from a fresh
seed each run; set ``JAXSCHED_LIVE_SEED`` to replay one. Every scheduler is
checked under x64 against torch's float64 rates (and momenta) to 1e-12 of the
peak, all cases in one compiled program.

Run it with a venv that has the torch CPU wheel::

    /tmp/venv-torch/bin/pip install pytest
    cd /work/main && PYTHONPATH=. /tmp/venv-torch/bin/python -m pytest tests/test_live_torch.py -q
"""

from __future__ import annotations

import importlib.util
import os
import random
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from tests.helpers import assert_close_to_peak  # noqa: E402
from tests.test_compat_torch import MOMENTUM, NAMES, build, build_momentum, evaluate  # noqa: E402

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_fixtures_torch_optax.py"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("make_fixtures_torch_optax", _SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def test_live_against_torch() -> None:
    gen = _generator()
    seed = int(os.environ.get("JAXSCHED_LIVE_SEED", int.from_bytes(os.urandom(4), "little")))
    rng = random.Random(seed)
    cases: list[tuple[str, dict[str, Any]]] = []
    for name in NAMES:
        for case in gen.draw_torch(name, rng, n_cases=3):
            steps = gen.pick_steps(rng, case["n"], case["points"], head=12, sample=12)
            try:
                res = gen.run_torch(name, case["lr"], case["kwargs"], steps)
            except ZeroDivisionError:  # torch's own zero-length phases; see the migration notes
                continue
            if name == "ChainedScheduler" and not case["product"]:
                continue  # torch's chain is not a product there (tested against the fixtures)
            cases.append((name, {**case, "steps": steps, **res}))
    assert len(cases) >= 2 * len(NAMES)
    with jax.enable_x64(True):
        scheds = [build(n, c["lr"], c["kwargs"]) for n, c in cases]
        steps = [c["steps"] for _, c in cases]
        moms = [(n, c) for n, c in cases if n in MOMENTUM]
        scheds += [build_momentum(n, c["kwargs"]) for n, c in moms]
        steps += [c["steps"] for _, c in moms]
        got = evaluate(scheds, steps)
    for i, (name, c) in enumerate(cases):
        peak = max(float(np.max(np.abs(c["values"]))), 1e-30)
        try:
            assert_close_to_peak(got[i], c["values"], peak, rtol=1e-12)
        except AssertionError as e:
            raise AssertionError(f"seed {seed}: {name} lr={c['lr']} kwargs={c['kwargs']}: {e}") from None
    for j, (name, c) in enumerate(moms):
        peak = max(float(np.max(np.abs(c["momentum"]))), 1e-30)
        try:
            assert_close_to_peak(got[len(cases) + j], c["momentum"], peak, rtol=1e-12)
        except AssertionError as e:
            raise AssertionError(f"seed {seed}: {name} momentum kwargs={c['kwargs']}: {e}") from None


def test_onecycle_raises_past_total_steps_in_torch() -> None:
    """The policy documented for k > total_steps: torch raises, ours holds the final value."""
    gen = _generator()
    with pytest.raises(ValueError, match="Tried to step"):
        gen.run_torch("OneCycleLR", 0.0, {"max_lr": 1.0, "total_steps": 4}, [0, 5])


@pytest.mark.parametrize("extrapolate", [True, False])
def test_onecycle_edge_phases_against_torch(extrapolate: bool) -> None:
    """An empty last phase (pct_start = 1) and a three-phase e_2 past T - 1, run through torch up to k = T - 1."""
    gen = _generator()
    cases = [
        {"max_lr": 1.0, "total_steps": 10, "pct_start": 1.0, "anneal_strategy": "linear"},
        {"max_lr": 1.0, "total_steps": 10, "pct_start": 1.0, "anneal_strategy": "cos"},
        {"max_lr": 1.0, "total_steps": 10, "pct_start": 0.7, "three_phase": True, "anneal_strategy": "linear"},
    ]
    for kw in cases:
        steps = list(range(10))
        res = gen.run_torch("OneCycleLR", 0.0, kw, steps)
        with jax.enable_x64(True):
            from jaxsched.compat import torch as T

            got = np.asarray(T.OneCycleLR(**kw, extrapolate=extrapolate)(np.asarray(steps)))
        assert_close_to_peak(got, res["values"], 1.0, rtol=1e-12)
