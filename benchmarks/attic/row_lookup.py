"""The per-row join lookup that was tried and not kept (``jaxsched/DESIGN.md``, "A lookup per row of steps").

``row_lookup.diff`` is the prototype against commit d243e67. To reproduce its figures, from the
repository's root::

    git worktree add /tmp/rows d243e67 && git -C /tmp/rows apply "$PWD/benchmarks/attic/row_lookup.diff"
    taskset -c 1 python benchmarks/attic/row_lookup.py /tmp/rows

It times the 2- and 128-cosine joins of the join benchmark (10**6 int32 steps) with the row path
and with the per-step lookup (forced), interleaved in one process, and the 128-piece join's trace,
lower and compile time both ways (medians of 3 fresh functions).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

TREE = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])  # the patched checkout
sys.path[:0] = [str(TREE), str(TREE / "benchmarks")]
import bench_join as BJ  # noqa: E402

import jaxsched  # noqa: E402
import jaxsched._join as J  # noqa: E402

S = 1_000_000


def _compiled(s: object, steps: jax.Array, rows: bool) -> object:
    old = J._ROWS_MIN_SIZE
    J._ROWS_MIN_SIZE = old if rows else 2**62
    try:
        return jax.jit(lambda s: jaxsched._base.eval_time(s, jaxsched._base.as_time(steps))).lower(s).compile()
    finally:
        J._ROWS_MIN_SIZE = old


def main() -> None:
    if not hasattr(J, "_by_rows"):
        sys.exit("the prototype is not applied: see this file's docstring")
    steps = jnp.arange(S, dtype=jnp.int32)
    thunks = {}
    for n in (2, 128):
        s = jaxsched.join(*BJ._pieces(n, S)[:2])
        for rows in (True, False):
            f = _compiled(s, steps, rows)
            thunks[(n, rows)] = lambda f=f, s=s: f(s)
    times: dict = {k: [] for k in thunks}
    for _ in range(11):
        for k, v in thunks.items():
            t0 = time.perf_counter()
            v().block_until_ready()
            times[k].append(time.perf_counter() - t0)
    ns = {k: float(np.median(v)) / S * 1e9 for k, v in times.items()}
    for (n, rows), x in ns.items():
        path = "rows    " if rows else "per step"
        print(f"{n:4d} pieces, {path}: {x:.2f} ns/elem, {x / ns[(2, True)]:.2f}x the 2-piece join")
    for rows in (True, False):
        tot = []
        for _ in range(3):
            jax.clear_caches()
            s = jaxsched.join(*BJ._pieces(128, S)[:2])
            t0 = time.perf_counter()
            _compiled(s, steps, rows)
            tot.append(time.perf_counter() - t0)
        print(f"128 pieces, {'rows    ' if rows else 'per step'}: trace+lower+compile {np.median(tot):.3f} s")


if __name__ == "__main__":
    main()
