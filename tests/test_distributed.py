"""A two-process jax.distributed sweep on localhost equals the same sweep in one process.

Two subprocesses (this file run as a script) each own 4 CPU devices
(``JAX_NUM_CPU_DEVICES=4``) and join a coordinator on 127.0.0.1 (loopback
only, a free port). They shard the 30-setting grid of ``test_sweep.py`` over
the 8 global devices, train it, and gather the results on every process.
Every wait is bounded: the coordinator, the heartbeat, shutdown and the
subprocesses themselves all have timeouts, so a hung run fails instead of
blocking.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TIMEOUT_S = 180


def _worker(pid: int, port: int, out: str) -> None:
    import jax

    jax.distributed.initialize(
        f"127.0.0.1:{port}", num_processes=2, process_id=pid,
        initialization_timeout=90, heartbeat_timeout_seconds=30, shutdown_timeout_seconds=30,
    )
    from test_sweep import make_train, problem_data, problem_grid

    from jaxsched._sweep import gather, shard_data, shard_grid, sweep, sweep_mesh

    mesh = sweep_mesh()  # all 8 devices of both processes
    g = problem_grid()
    x, y = problem_data()
    placed, valid = shard_grid(g, mesh)  # each process places only its own devices' rows
    xs, ys = shard_data((x, y), mesh, data_axis=None)  # shared data, replicated
    out_arrays = sweep(make_train(), in_axes=(0, None, None), mesh=mesh)(placed, xs, ys)
    final, rates, losses = gather(out_arrays, valid)  # all-gather: every process calls it
    info = {"process_index": jax.process_index(), "process_count": jax.process_count(),
            "devices": jax.device_count(), "local_devices": jax.local_device_count(),
            "padded": int(valid.shape[0]), "shards_here": len(out_arrays[0].addressable_shards)}
    np.savez(f"{out}.{pid}.npz", final=final, rates=rates, losses=losses)
    with open(f"{out}.{pid}.json", "w") as fh:
        json.dump(info, fh)
    jax.distributed.shutdown()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_sweep_equals_one_process():
    from test_sweep import PLAIN, TRACES, problem_data, problem_grid

    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS", "PYTHONPATH")}
    env.update(JAX_NUM_CPU_DEVICES="4", JAX_PLATFORMS="cpu", PYTHONPATH=os.pathsep.join([ROOT, HERE]))
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "res")
        port = _free_port()
        procs = [
            subprocess.Popen(
                [sys.executable, os.path.join(HERE, "test_distributed.py"), "--worker", str(pid), str(port), out],
                env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            for pid in (0, 1)
        ]
        logs = []
        try:
            for p in procs:
                logs.append(p.communicate(timeout=TIMEOUT_S)[0])
        finally:
            for p in procs:  # never leave a worker behind
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=10)
        for pid, p in enumerate(procs):
            assert p.returncode == 0, f"worker {pid} failed:\n" + "\n".join(x[-4000:] for x in logs)
        res = [dict(np.load(f"{out}.{pid}.npz")) for pid in (0, 1)]
        info = []
        for pid in (0, 1):
            with open(f"{out}.{pid}.json") as fh:
                info.append(json.load(fh))

    for pid in (0, 1):
        assert info[pid] == {"process_index": pid, "process_count": 2, "devices": 8, "local_devices": 4,
                             "padded": 32, "shards_here": 4}
    # Both processes hold the full gathered results, without the padding rows.
    for k in ("final", "rates", "losses"):
        np.testing.assert_array_equal(res[0][k], res[1][k])
    assert res[0]["final"].shape == (30,)
    # ...equal to the same sweep run in this single process.
    g = problem_grid()
    x, y = problem_data()
    final, rates, losses = PLAIN(g.schedules, x, y)
    assert len(TRACES) == 1
    np.testing.assert_allclose(res[0]["final"], np.asarray(final), rtol=1e-6, atol=0)
    np.testing.assert_allclose(res[0]["rates"], np.asarray(rates), rtol=1e-7, atol=0)
    np.testing.assert_allclose(res[0]["losses"], np.asarray(losses), rtol=1e-6, atol=0)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        _worker(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        raise SystemExit(f"usage: {sys.argv[0]} --worker PID PORT OUT")
