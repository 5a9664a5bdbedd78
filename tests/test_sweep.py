"""Grids and sweeps: axes, tables, batch evaluation, one-compile sweeps, sharded sweeps on 8 devices.

The multi-device checks run in ONE subprocess (this file executed as a script
with ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` set before jax is
imported); the pytest process itself keeps its single device.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched
from jaxsched._grid import evaluate, grid_zip, linspace, logspace
from jaxsched._sweep import collectives, gather, shard_data, shard_grid, sweep, sweep_mesh
from jaxsched._train import make_train_step, scheduled

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ----------------------------------------------------------------------------------------------
# The small sweep problem shared with the subprocess and with test_distributed.py.

N_STEPS = 40


def problem_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype(np.float32)
    y = (x @ rng.normal(size=8) + 0.1 * rng.normal(size=64)).astype(np.float32)
    return x, y


def _setting(peak_value: float, decay_shape: str, seed: int) -> tuple[jaxsched.Schedule, jax.Array]:
    """A grid entry may be any pytree: here a schedule and the seed of its initial weights."""
    s = jaxsched.wsd(peak_value, N_STEPS, warmup_steps=5, decay_fraction=0.3, decay_shape=decay_shape)
    return s, jnp.asarray(seed, jnp.int32)


def problem_grid() -> jaxsched.Grid:
    """5 peaks x 3 cooldown shapes x 2 seeds = 30 settings (does not divide 8 devices)."""
    return jaxsched.grid(_setting, peak_value=logspace(1e-3, 1e-1, 5), decay_shape=["linear", "cosine", "1-sqrt"],
                         seed=[0, 1])


def make_train(mesh=None, data_axis="data", counter=None):
    """``train((schedule, seed), x, y) -> (final loss, applied rates, losses)`` with Adam."""

    def loss_fn(w, batch):
        x, y = batch
        if mesh is not None:  # keep the examples split over the data axis (2-D mesh)
            spec = jax.sharding.PartitionSpec(data_axis)
            x = jax.lax.with_sharding_constraint(x, jax.sharding.NamedSharding(mesh, spec))
        r = x @ w - y
        return jnp.mean(r * r)

    ts = make_train_step(loss_fn, scheduled(optax.adam))

    def train(setting, x, y):
        if counter is not None:
            counter.append(1)  # runs once per trace
        sched, seed = setting
        w = jax.random.normal(jax.random.key(seed), (x.shape[1],), jnp.float32)
        state = ts.init(sched, w)
        batches = (jnp.broadcast_to(x, (N_STEPS,) + x.shape), jnp.broadcast_to(y, (N_STEPS,) + y.shape))
        w, _, hist = ts.run(sched, w, state, batches)
        return loss_fn(w, (x, y)), hist["learning_rate"], hist["loss"]

    return train


# One jitted single-process sweep shared by every test in the session (test_distributed.py too):
# it must trace exactly once however many tests call it.
TRACES: list[int] = []
PLAIN = jax.jit(jax.vmap(make_train(counter=TRACES), in_axes=(0, None, None)))


# ----------------------------------------------------------------------------------------------
# Axes, zip, tables, evaluation.


def test_public_names():
    import jaxsched._grid as G
    import jaxsched._sweep as S
    import jaxsched._train as T

    names = {G: ["grid_zip", "linspace", "logspace", "evaluate"],
             S: ["sweep_mesh", "shard_grid", "shard_data", "sweep", "gather", "collectives"],
             T: ["TrainStep", "make_train_step", "scheduled", "grouped", "applied", "layerwise_decay",
                 "onecycle_hparams", "with_state", "WithState"]}
    missing = [n for mod, ns in names.items() for n in ns if getattr(jaxsched, n, None) is not getattr(mod, n)]
    assert not missing, f"not exported from jaxsched/__init__.py: {missing}"


def test_axis_helpers_match_numpy():
    assert linspace(0.0, 0.3, 4) == [0.0, 0.1, 0.2, 0.3]
    np.testing.assert_allclose(logspace(1e-4, 1e-1, 7), np.geomspace(1e-4, 1e-1, 7), rtol=1e-11)
    assert logspace(1e-4, 1e-1, 4) == [0.0001, 0.001, 0.01, 0.1]
    assert linspace(0, 100, 5, integer=True) == [0, 25, 50, 75, 100]
    assert logspace(1, 1000, 4, integer=True) == [1, 10, 100, 1000]
    assert linspace(2.5, 9.0, 1) == [2.5] and logspace(3.0, 9.0, 1) == [3.0]
    with pytest.raises(ValueError, match="start must be > 0"):
        logspace(0.0, 1.0, 3)
    with pytest.raises(ValueError, match="num must be an int >= 1"):
        linspace(0.0, 1.0, 0)
    with pytest.raises(ValueError, match="repeated values"):
        linspace(0, 2, 5, integer=True)
    with pytest.raises(ValueError, match="finite"):
        linspace(0.0, float("inf"), 3)


def test_grid_zip_and_product():
    peaks, warm = [1e-3, 3e-3, 1e-2], [0, 10, 20]
    z = grid_zip(jaxsched.warmup_cosine, peak_value=peaks, warmup_steps=warm, total_steps=100)
    p = jaxsched.grid(jaxsched.warmup_cosine, peak_value=peaks, warmup_steps=warm, total_steps=100)
    assert len(z) == 3 and len(p) == 9
    assert z.settings == {"peak_value": peaks, "warmup_steps": warm}
    assert [p.row(i) for i in range(9)] == [
        {"peak_value": a, "warmup_steps": b} for a, b in itertools.product(peaks, warm)
    ]
    steps = np.arange(0, 120, 7)
    for g in (z, p):
        curves = np.asarray(g(steps), np.float64)
        for i in range(len(g)):  # one vectorised comparison per row against float64 NumPy
            r = g.row(i)
            P, W, N = r["peak_value"], r["warmup_steps"], 100
            ref = np.where(steps < W, P * steps / max(W, 1),
                           P * 0.5 * (1 + np.cos(np.pi * np.clip((steps - W) / (N - W), 0, 1))))
            np.testing.assert_allclose(curves[i], ref, rtol=2e-6, atol=1e-9)
        one = jax.jit(lambda s: s(steps))
        for i in (1, len(g) - 1):  # picking one setting back out as an ordinary schedule
            plain = jaxsched.warmup_cosine(1.0, 100, 10)  # (a number of warmup steps: a leaf, as the axis is)
            assert jax.tree_util.tree_structure(g[i]) == jax.tree_util.tree_structure(plain)
            np.testing.assert_allclose(one(g[i]), curves[i])
    with pytest.raises(ValueError, match="same length"):
        grid_zip(jaxsched.warmup_cosine, peak_value=[1.0, 2.0], warmup_steps=[0, 1, 2], total_steps=10)
    with pytest.raises(ValueError, match="axis peak_value is empty"):
        grid_zip(jaxsched.warmup_cosine, peak_value=[], total_steps=10)
    with pytest.raises(ValueError, match="different structure"):
        grid_zip(lambda k: jaxsched.constant(1.0) if k else jaxsched.linear(1.0, 0.0, 3), k=[0, 1])


def test_table_sorting_and_columns():
    g = jaxsched.grid(jaxsched.constant, value=[0.1, 0.2, 0.3, 0.4])
    acc = [0.5, float("nan"), 0.9, 0.7]
    lines = g.table({"acc": acc, "loss": np.asarray([4.0, 3.0, 2.0, 1.0])}, sort="descending").splitlines()
    assert lines[0].split() == ["#", "value", "acc", "loss"]
    assert [ln.split()[0] for ln in lines[2:]] == ["2", "3", "0", "1"]  # NaN last
    asc = g.table(acc, value_name="acc", sort="ascending", top=2).splitlines()
    assert [ln.split()[0] for ln in asc[2:]] == ["0", "3"]
    assert [ln.split()[0] for ln in g.table(acc, rows=[3, 1]).splitlines()[2:]] == ["3", "1"]
    assert str(g) == g.table()
    with pytest.raises(ValueError, match="has 2 values for a grid of 4"):
        g.table([1.0, 2.0])
    with pytest.raises(ValueError, match="sort must be"):
        g.table(acc, sort="up")
    with pytest.raises(ValueError, match="not both"):
        g.table(acc, sort="ascending", rows=[0])
    with pytest.raises(IndexError, match="out of range"):
        g.table(acc, rows=[7])


def test_stack_and_evaluate():
    scheds = [jaxsched.linear(p, 0.0, 10) for p in (1.0, 2.0, 4.0)]
    b = jaxsched.stack(scheds)
    steps = jnp.arange(12).reshape(3, 4)
    out = evaluate(b, steps)
    assert out.shape == (3, 3, 4)
    ref = np.asarray([p * (1 - np.minimum(np.arange(12) / 10, 1)) for p in (1.0, 2.0, 4.0)]).reshape(3, 3, 4)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(jax.jit(evaluate)(b, steps), out)
    with pytest.raises(ValueError, match="batched schedule"):
        evaluate(scheds[0], 3)
    with pytest.raises(TypeError, match="batched schedule"):
        evaluate({"a": jnp.zeros(3)}, 3)


# ----------------------------------------------------------------------------------------------
# One compile for the whole grid, equal to runs one by one.


def test_small_sweep_compiles_once_and_equals_one_by_one():
    g = problem_grid()
    x, y = problem_data()
    final, rates, losses = PLAIN(g.schedules, x, y)
    final2, _, _ = PLAIN(g.schedules, x, y)  # a second call: no retrace
    assert len(TRACES) == 1 and PLAIN._cache_size() == 1
    np.testing.assert_array_equal(final, final2)
    assert final.shape == (30,) and rates.shape == (30, N_STEPS)

    # The same runs one at a time (one jit, also compiled once for every setting).
    one_traces: list[int] = []
    one = jax.jit(make_train(counter=one_traces))
    idx = [0, 7, 14, 22, 29]
    for i in idx:
        f, r, ls = one(g[i], x, y)
        np.testing.assert_allclose(f, final[i], rtol=2e-5)
        np.testing.assert_allclose(r, rates[i], rtol=1e-6)
        np.testing.assert_allclose(ls, losses[i], rtol=2e-5)
    assert len(one_traces) == 1 and one._cache_size() == 1

    # Applied rates are the schedule's own values at 0..N-1 (independent float64 WSD formula).
    t = np.arange(N_STEPS, dtype=np.float64)
    for i in idx:
        row = g.row(i)
        P, D = row["peak_value"], 0.3 * N_STEPS
        p = np.clip((t - (N_STEPS - D)) / D, 0, 1)
        cool = {"linear": 1 - p, "cosine": 0.5 * (1 + np.cos(np.pi * p)), "1-sqrt": 1 - np.sqrt(p)}[row["decay_shape"]]
        ref = P * np.where(t < 5, t / 5, cool)
        np.testing.assert_allclose(rates[i], ref, rtol=1e-5, atol=1e-9 * P)
    # Higher peaks learn faster on this problem: the table ranks them first.
    best = int(np.nanargmin(np.asarray(final)))
    assert g.row(best)["peak_value"] == pytest.approx(0.1)


def test_shard_grid_single_device_roundtrip():
    g = problem_grid()
    placed, valid = shard_grid(g)
    assert valid.shape == (30,) and bool(valid.all())
    back = gather(placed, valid)
    for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(g.schedules)):
        np.testing.assert_array_equal(a, np.asarray(b))
    # Typed PRNG keys (jax.random.key, what the examples use) beside the schedules, as the docstring shows.
    keys = jax.random.split(jax.random.key(0), 30)
    (_, placed_keys), _ = shard_grid((g.schedules, keys))
    assert jax.dtypes.issubdtype(placed_keys.dtype, jax.dtypes.prng_key) and placed_keys.shape == (30,)
    np.testing.assert_array_equal(jax.random.key_data(placed_keys), jax.random.key_data(keys))
    with pytest.raises(ValueError, match="not an axis of the mesh"):
        shard_grid(g, sweep_mesh(), axis="hp")
    with pytest.raises(ValueError, match="different leading sizes"):
        shard_grid({"a": np.zeros(3), "b": np.zeros(4)})
    with pytest.raises(ValueError, match="needs a data_axis"):
        sweep_mesh(data_size=2)
    with pytest.raises(ValueError, match="does not divide"):
        sweep_mesh(jax.devices() * 3, data_axis="data", data_size=2)


# ----------------------------------------------------------------------------------------------
# Eight devices, in one subprocess.


def _replica_groups(line: str) -> list[list[int]]:
    """Parse ``replica_groups={{0,1},{2,3}}`` or the iota form ``replica_groups=[4,2]<=[8]``."""
    import re

    m = re.search(r"replica_groups=\{(\{[\d,]*\}(?:,\{[\d,]*\})*)\}", line)
    if m:
        return [[int(v) for v in grp.split(",") if v] for grp in re.findall(r"\{([\d,]*)\}", m.group(1))]
    m = re.search(r"replica_groups=\[(\d+),(\d+)\]<=\[(\d+)\](T\([\d,]+\))?", line)
    if m:
        a, b, n, tr = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        ids = np.arange(n)
        if tr:  # iota reshaped then transposed: [a,b]<=[d0,d1]T(1,0)
            dims = [int(v) for v in re.search(r"<=\[([\d,]+)\]", line).group(1).split(",")]
            perm = [int(v) for v in tr[2:-1].split(",")]
            ids = ids.reshape(dims).transpose(perm)
        return ids.reshape(a, b).tolist()
    m = re.search(r"replica_groups=mesh\[([^\]]*)\]\s*\{([^}]*)\}", line)
    if m:  # mesh-axes form: mesh['axis_0'=4,'axis_1'=2] {'axis_1'} = groups along the listed axes
        dims = [(k, int(v)) for k, v in re.findall(r"'([^']+)'=(\d+)", m.group(1))]
        names = [k for k, _ in dims]
        over = [names.index(k) for k in re.findall(r"'([^']+)'", m.group(2))]
        ids = np.arange(int(np.prod([v for _, v in dims]))).reshape([v for _, v in dims])
        keep = [i for i in range(len(dims)) if i not in over]
        size = int(np.prod([dims[i][1] for i in over]))
        return ids.transpose(keep + over).reshape(-1, size).tolist()
    raise AssertionError(f"cannot parse replica groups in: {line[:300]}")


def _eight_device_worker(out_path: str) -> None:
    assert jax.device_count() == 8, jax.devices()
    g = problem_grid()
    x, y = problem_data()
    res = {}
    ref = PLAIN(g.schedules, x, y)  # unsharded: every input on one device
    res["ref_devices"] = len(ref[0].sharding.device_set)

    # 1-D mesh: 30 settings on 8 devices (padded to 32), and 32 settings (no padding).
    mesh1 = sweep_mesh()
    placed, valid = shard_grid(g, mesh1)
    f = sweep(make_train(), in_axes=(0, None, None), mesh=mesh1).lower(placed, x, y).compile()
    out = f(placed, x, y)
    res["padded"] = int(valid.shape[0])
    # Typed keys are padded like any leaf (their raw data, wrapped again).
    (_, keys), _ = shard_grid((g.schedules, jax.random.split(jax.random.key(1), 30)), mesh1)
    kd = np.asarray(jax.random.key_data(keys))
    res["typed_keys"] = [int(keys.shape[0]), bool((kd[30:] == kd[29]).all()), str(keys.sharding.spec)]
    res["shard_shapes"] = sorted({tuple(s.data.shape) for s in out[0].addressable_shards})
    res["out_spec"] = str(out[0].sharding.spec)
    res["coll_1d"] = collectives(f)
    got = gather(out, valid)
    # Outputs that do not depend on the grid stay grid-sharded with a mesh, so feeding them back reuses one program.
    init = sweep(lambda st, k: jax.random.normal(k, (3,)), in_axes=(0, None), mesh=mesh1)
    upd = sweep(lambda st, w: w + st[0](0), in_axes=(0, 0), mesh=mesh1)
    w = init(placed, jax.random.key(0))
    res["init_spec"] = str(w.sharding.spec)
    for _ in range(3):
        w = upd(placed, w)
    res["feedback_cache"] = upd._cache_size()

    # 2-D (grid=4, data=2) mesh: per-model data parallelism via spmd_axis_name.
    mesh = sweep_mesh(data_axis="data", data_size=2)
    placed2, valid2 = shard_grid(g, mesh)
    xs, ys = shard_data((x, y), mesh)
    f2 = sweep(make_train(mesh), in_axes=(0, None, None), mesh=mesh).lower(placed2, xs, ys).compile()
    out2 = f2(placed2, xs, ys)
    res["coll_2d"] = collectives(f2)
    res["mesh_2d_ids"] = np.vectorize(lambda d: d.id)(mesh.devices).tolist()
    got2 = gather(out2, valid2)
    np.savez(out_path + ".npz", ref=np.asarray(ref[0]), ref_rates=np.asarray(ref[1]), got=got[0], got_rates=got[1],
             got2=got2[0], got2_rates=got2[1])
    with open(out_path + ".json", "w") as fh:
        json.dump(res, fh)


def _run_script(args: list[str], env_extra: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES", "JAX_PLATFORMS")}
    env.update(env_extra)
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_sharded_sweep_on_eight_devices_matches_unsharded():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "res")
        proc = _run_script([os.path.join(HERE, "test_sweep.py"), "--eight-devices", out],
                           {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}, timeout=240)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
        arr = dict(np.load(out + ".npz"))
        with open(out + ".json") as fh:
            res = json.load(fh)
    g = problem_grid()
    x, y = problem_data()
    here = PLAIN(g.schedules, x, y)

    assert res["ref_devices"] == 1
    assert res["padded"] == 32 and res["shard_shapes"] == [[4]] and "grid" in res["out_spec"]
    assert res["typed_keys"][:2] == [32, True] and "grid" in res["typed_keys"][2]
    # 1-D mesh: sharded == unsharded (30 settings padded to 32), no collectives at all.
    np.testing.assert_allclose(arr["got"], arr["ref"], rtol=1e-6, atol=0)
    np.testing.assert_allclose(arr["got_rates"], arr["ref_rates"], rtol=1e-7, atol=0)
    assert arr["got"].shape == (30,)
    assert res["coll_1d"] == [], res["coll_1d"]
    assert "grid" in res["init_spec"] and res["feedback_cache"] == 1
    # The 8-device process's unsharded result equals this process's (1 device).
    np.testing.assert_allclose(arr["ref"], np.asarray(here[0]), rtol=1e-6, atol=0)
    # 2-D mesh: same results; the only collectives are all-reduces within one grid row (a model's data group).
    np.testing.assert_allclose(arr["got2"], arr["ref"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(arr["got2_rates"], arr["ref_rates"], rtol=1e-7, atol=0)
    assert res["coll_2d"], "expected the per-model gradient all-reduce over the data axis"
    ids = np.asarray(res["mesh_2d_ids"])  # (grid=4, data=2) device ids
    row_of = {int(ids[r, c]): r for r in range(ids.shape[0]) for c in range(ids.shape[1])}
    flat = ids.ravel().tolist()  # HLO replica groups number devices by their position in the mesh
    for line in res["coll_2d"]:
        assert "all-reduce" in line, line
        for grp in _replica_groups(line):
            assert len(grp) == 2 and len({row_of[flat[i]] for i in grp}) == 1, (grp, line[:200])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--eight-devices":
        _eight_device_worker(sys.argv[2])
    else:
        raise SystemExit(f"usage: {sys.argv[0]} --eight-devices OUT")


def test_sweep_example_runs(tmp_path, capsys):
    """examples/sweep.py end to end on a tiny budget (2 epochs, 1 seed): ranks all 64 settings, writes the PNG."""
    pytest.importorskip("sklearn")
    pytest.importorskip("tqdm")
    pytest.importorskip("matplotlib")
    import importlib.util

    spec = importlib.util.spec_from_file_location("_example_sweep", os.path.join(ROOT, "examples", "sweep.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    png = tmp_path / "sweep.png"
    res = mod.main(["--epochs", "2", "--seeds", "1", "--out", str(png), "--top", "64"])
    assert png.stat().st_size > 10_000
    assert res["val_acc"].shape == (64, 1, 2) and np.isfinite(res["val_loss"]).all()
    out = capsys.readouterr().out
    assert "epoch program compiled 1 time(s)" in out
    lines = out.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["#", "peak_value"])
    ranked = [ln.split()[0] for ln in lines[head + 2 : head + 2 + 64]]
    assert sorted(map(int, ranked)) == list(range(64))
    acc = res["val_acc"][:, 0, -1]
    assert np.all(np.diff(acc[[int(i) for i in ranked]]) <= 1e-6)  # ranked by validation accuracy
