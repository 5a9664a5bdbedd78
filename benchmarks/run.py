"""Run the jaxsched benchmark suite and write benchmarks/RESULTS.md.

    python benchmarks/run.py                  # full suite (~5 minutes on 2 cores)
    python benchmarks/run.py --quick          # smaller sizes, ~1 minute smoke run
    python benchmarks/run.py --only grid,join # some benchmarks only
    python benchmarks/run.py --list           # the benchmark names
    python benchmarks/run.py --cpus 1         # pin to one core (steadier on a shared machine)

See benchmarks/README.md for what each benchmark measures.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from types import ModuleType

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# name -> module; imported only after --cpus is applied (XLA sizes its thread pool at import).
BENCHMARKS = {
    "grid": "bench_grid",
    "join": "bench_join",
    "repeat": "bench_repeat",
    "train": "bench_train",
    "compiles": "bench_compiles",
    "memory": "bench_memory",
    "ports": "bench_ports",
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    names = list(BENCHMARKS)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller sizes: a ~1 minute smoke run")
    p.add_argument("--only", action="append", default=None, metavar="NAME",
                   help=f"run only these benchmarks (repeatable or comma-separated): {', '.join(names)}")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats per measurement (default 7, quick 5; min 5)")
    p.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"), help="where to write the results markdown")
    p.add_argument("--cpus", type=int, default=None, metavar="N",
                   help="pin the process to N of its CPUs before JAX starts (XLA then uses N threads)")
    p.add_argument("--no-malloc-tuning", action="store_true",
                   help="keep glibc's default malloc (every call producing a large grid then maps and "
                   "page-faults a fresh output buffer; see README)")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = p.parse_args(argv)
    if args.only:
        wanted = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            p.error(f"unknown benchmark(s) {unknown}; choose from {names}")
        args.only = wanted
    if args.repeats is not None and args.repeats < 5:
        p.error(f"--repeats must be >= 5 (medians of at least 5 repeats), got {args.repeats}")
    if args.cpus is not None:
        have = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if not have:
            p.error("--cpus needs os.sched_setaffinity (Linux)")
        if not 1 <= args.cpus <= len(have):
            p.error(f"--cpus must be between 1 and {len(have)}, got {args.cpus}")
    return args


def _modules(names: list[str]) -> list[ModuleType]:
    return [importlib.import_module(BENCHMARKS[n]) for n in names]


# With glibc's defaults every large output (410 MB at G=1024, S=100,000) is mapped fresh on each
# call (allocations above 32 MB, or above a 64 MB per-thread arena, go to mmap and back to the OS on
# free), so each call page-faults its whole output; the peers' small outputs are recycled from the
# heap instead. One arena that keeps freed memory removes that asymmetry. See README.
MALLOC_ENV = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": str(2**32), "MALLOC_TRIM_THRESHOLD_": str(2**34)}


def _reexec_with_malloc_tuning(argv: list[str] | None) -> None:
    """Restart this script once with MALLOC_ENV set (glibc reads it only at process start)."""
    if not sys.platform.startswith("linux") or all(os.environ.get(k) for k in MALLOC_ENV):
        return
    env = dict(os.environ)
    env.update(MALLOC_ENV)
    args = sys.argv[1:] if argv is None else argv
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *args], env)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if not args.no_malloc_tuning and not args.list:
        _reexec_with_malloc_tuning(argv)
    if args.cpus is not None:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])
    global H
    import _harness as H

    if args.list:
        for b in _modules(list(BENCHMARKS)):
            print(f"{b.NAME:10s} {b.TITLE}")
        return 0
    cfg = H.Config(quick=args.quick, repeats=args.repeats or (5 if args.quick else 7))
    chosen = _modules([n for n in BENCHMARKS if not args.only or n in args.only])

    env = H.environment()
    vers = H.versions()
    started = H.now()
    t_start = time.perf_counter()
    sections: list[H.Section] = []
    for b in chosen:
        print(f"[{time.perf_counter() - t_start:6.1f}s] {b.NAME}: {b.TITLE} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            sec = b.run(cfg)
        except Exception:  # keep going: one broken benchmark must not hide the others
            tb = traceback.format_exc()
            print(tb, file=sys.stderr)
            sec = H.Section(b.NAME, b.TITLE, ["**ERROR** — the benchmark raised:", "", "```", tb.rstrip(), "```"],
                            [H.Check(b.NAME, "benchmark ran without error", None, "<=", 0.0, note="error")])
        sec.seconds = time.perf_counter() - t0
        sections.append(sec)
        print(f"[{time.perf_counter() - t_start:6.1f}s] {b.NAME} done in {sec.seconds:.1f}s", file=sys.stderr,
              flush=True)
    total = time.perf_counter() - t_start
    load_end = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"

    cmd = "python benchmarks/run.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    out: list[str] = [
        "# jaxsched benchmark results",
        "",
        f"Generated by `{cmd.strip()}` ({'quick smoke run' if cfg.quick else 'full run'}, "
        f"{cfg.repeats} repeats per timing), started {started}, took {total:.0f} s. "
        "Every ratio below compares numbers measured in this same run. See `benchmarks/README.md`.",
        "",
        "## Machine",
        "",
    ]
    env["load average at end (1/5/15 min)"] = load_end
    tuned = [f"{k}={os.environ[k]}" for k in MALLOC_ENV if os.environ.get(k)]
    env["malloc"] = (" ".join(tuned) + " (freed memory stays in the heap; see README)") if tuned else "glibc default"
    out += H.table(["", ""], list(env.items()))
    out += ["", "## Versions", ""]
    out += H.table(["package", "version"], list(vers.items()))
    checks = [c for s in sections for c in s.checks]
    out += ["", "## Targets", ""]
    if checks:
        out += H.table(
            ["benchmark", "target", "measured", "limit", "result", "note"],
            [[c.benchmark, c.what, c.measured(), c.target(), H.status_cell(c), c.note] for c in checks],
        )
        n = {k: sum(c.status == k for c in checks) for k in ("PASS", "FAIL", "SKIP")}
        out += ["", f"{n['PASS']} pass, {n['FAIL']} fail, {n['SKIP']} skipped."]
    else:
        out.append("(no targets in the benchmarks run)")
    for i, s in enumerate(sections, start=1):
        out += ["", f"## {i}. {s.title} (`{s.name}`, {s.seconds:.0f} s)", ""]
        out += s.lines
    out.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(out))
    print(f"wrote {args.out} ({total:.0f} s)", file=sys.stderr)
    for c in checks:
        print(f"  {c.status:4s}  {c.benchmark:9s} {c.what}: {c.measured()} (target {c.target()})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
