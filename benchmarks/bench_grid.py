"""Benchmark 1: evaluating a grid of G settings over S steps.

For warmup-cosine, WSD (1-sqrt cooldown) and SGDR (period doubling) and
G in (1, 64, 1024) settings, the whole (G, S) float32 array of learning rates
is produced by:

- jaxsched: ``jit(vmap(lambda s: s(steps)))(grid.schedules)``, the grid built
  by ``jaxsched.grid``;
- jaxsched.evaluate: ``jaxsched.evaluate(grid, steps)``, the library's own
  top-level program for the same grid (compiled for 512-bit vectors on CPU,
  see ``jaxsched/_jit.py``); its output must have the same bits;
- hand-fused: the same formula written directly in ``jnp`` for this one
  configuration (per-setting reciprocals precomputed), under ``jit(vmap)``;
- trivial write: ``jit`` of a broadcast that writes the same float32 output
  and computes nothing (the practical limit);
- optax, jitted: one ``jax.jit(schedule)(steps)`` per setting, as users must
  write it (optax closures bake their hyperparameters in, so each setting is a
  fresh trace and compile). A capped number of settings is timed and the time
  per setting extrapolated linearly to G;
- optax, eager: ``schedule(steps)`` per setting without ``jit`` (capped and
  extrapolated likewise). "optax fastest" is the faster of the two;
- torch: a ``torch.optim.lr_scheduler`` object stepped in Python, one step per
  learning rate. A few thousand steps are timed and the time per step is
  extrapolated to S * G steps.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import (
    Check,
    Config,
    Section,
    fmt_med,
    fmt_num,
    fmt_time,
    interleaved,
    median,
    status_cell,
    table,
    time_call,
    torch_or_none,
)

import jaxsched

NAME = "grid"
TITLE = "Grid evaluation: G settings x S steps"

SCHEDULES = ("warmup_cosine", "wsd", "sgdr")
WSD_FRACTION = 0.2
SGDR_MULT = 2.0


# ----------------------------------------------------------------------------- settings


def _axes(G: int, S: int, kind: str) -> tuple[list[float], list[int]]:
    """A square grid: peaks x (warmup lengths or SGDR periods)."""
    a = math.isqrt(G)
    if a * a != G:
        raise ValueError(f"G must be a perfect square, got {G}")
    peaks = [float(x) for x in np.linspace(1e-4, 1e-3, a)]
    if kind == "sgdr":
        second = [int(x) for x in np.round(np.linspace(0.02, 0.1, a) * S)]
    else:
        second = [int(x) for x in np.round(np.linspace(0.01, 0.05, a) * S)]
    return peaks, second


def _grid(kind: str, G: int, S: int) -> jaxsched.Grid:
    peaks, second = _axes(G, S, kind)
    if kind == "warmup_cosine":
        return jaxsched.grid(jaxsched.warmup_cosine, peak_value=peaks, warmup_steps=second, total_steps=S)
    if kind == "wsd":
        return jaxsched.grid(
            jaxsched.wsd, peak_value=peaks, warmup_steps=second, total_steps=S,
            decay_fraction=WSD_FRACTION, decay_shape="1-sqrt",
        )
    return jaxsched.grid(jaxsched.sgdr, peak_value=peaks, period=second, period_mult=SGDR_MULT)


def _second_name(kind: str) -> str:
    return "period" if kind == "sgdr" else "warmup_steps"


class _Setup(NamedTuple):
    """One grid and what every measurement of it needs."""

    grid: jaxsched.Grid
    peaks: np.ndarray  # float32, one per setting
    second: np.ndarray  # warmup lengths or SGDR periods, float32
    P: jax.Array
    X: jax.Array
    f_js: Callable[[Any], jax.Array]  # jit(vmap(schedule(steps))) over the grid's schedules
    f_write: Callable[[jax.Array], jax.Array]  # the trivial write of the same (G, S) float32 output


def _setup(kind: str, G: int, S: int, steps: jax.Array) -> _Setup:
    g = _grid(kind, G, S)
    peaks = np.asarray(g.settings["peak_value"], np.float32)
    second = np.asarray(g.settings[_second_name(kind)], np.float32)
    return _Setup(
        g, peaks, second, jnp.asarray(peaks), jnp.asarray(second),
        jax.jit(lambda sch: jax.vmap(lambda s: s(steps))(sch)),
        jax.jit(lambda p: jnp.broadcast_to(p[:, None], (G, S))),
    )


# ----------------------------------------------------------------------------- hand-fused formulas


def _cosine(kernel: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``(1 + cos(pi p)) / 2`` of a local step ``x`` and a length ``L``, ``p = clip(x / L, 0, 1)``.

    "jnp": ``jnp.cos`` of the progress (what one writes by hand). "lib": jaxsched's own kernel,
    ``jaxsched.functional.cosine`` from the step (no progress formed; see ``jaxsched/DESIGN.md``), or
    ``cosine_factor`` of the progress in a jaxsched that has no such ``cosine``.
    """
    F = jaxsched.functional
    if kernel == "lib" and hasattr(F, "_quarter_arg"):
        return lambda x, L: F.cosine(x, 1.0, 0.0, L)
    cf = getattr(F, "cosine_factor", None) if kernel == "lib" else None
    pi = np.float32(np.pi)
    if cf is None:
        cf = lambda p: 0.5 * (1.0 + jnp.cos(pi * p))  # noqa: E731
    return lambda x, L: cf(jnp.clip(x * (1.0 / L), 0.0, 1.0))


def _fused(kind: str, S: int, steps: jax.Array, kernel: str = "jnp") -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``jit(vmap(formula))`` over (peak, second) vectors, written by hand for this configuration.

    ``kernel`` picks the cosine (:func:`_cosine`): "jnp" is ``jnp.cos`` (what one writes by hand),
    "lib" is jaxsched's own kernel (the same arithmetic jaxsched uses, so the difference to jaxsched
    is the cost of its abstractions alone: the exact local step, the ramp's form, the join).
    """
    t = steps.astype(jnp.float32)
    cos = _cosine(kernel)

    def warmup_cosine(p: jax.Array, w: jax.Array) -> jax.Array:
        return jnp.where(t < w, (p * (1.0 / w)) * t, p * cos(t - w, S - w))

    def wsd(p: jax.Array, w: jax.Array) -> jax.Array:
        d = np.float32(WSD_FRACTION * S)
        start = np.float32(S) - d
        q = jnp.clip((t - start) * (1.0 / d), 0.0, 1.0)
        return jnp.where(t < w, (p / w) * t, p * (1.0 - jnp.sqrt(q)))

    def sgdr(p: jax.Array, period: jax.Array) -> jax.Array:
        # period doubling: cycle i starts at P (2^i - 1) and lasts P 2^i.
        m = jnp.exp2(jnp.floor(jnp.log2(1.0 + t * (1.0 / period))))
        start = period * (m - 1.0)
        m = jnp.where(t < start, 0.5 * m, jnp.where(t >= start + period * m, 2.0 * m, m))  # rounding fix-up
        start = period * (m - 1.0)
        return p * cos(t - start, period * m)

    fn = {"warmup_cosine": warmup_cosine, "wsd": wsd, "sgdr": sgdr}[kind]
    return jax.jit(jax.vmap(fn))


def _bare(S: int, steps: jax.Array, warmup: bool) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The least arithmetic a float32 warmup-cosine (or, without ``warmup``, its cosine alone) can do.

    One polynomial ``sin(pi y)`` on the half period ``|y| <= 1/2`` (five terms, from
    ``scripts/fastmath_coefficients.py``), in the form ``1/2 - sin(pi y) / 2`` on the whole phase: no
    select between quarters, no clipping, no exact local step (``t - w`` in float32, exact below 2**24
    only), no relative precision near the end (the value may be off by 6e-8 of the peak there, or
    slightly negative). Not a schedule to ship: a floor for what any accurate kernel costs on this
    machine, next to the trivial write.
    """
    t = steps.astype(jnp.float32)
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts")
    sys.path.insert(0, script)
    try:
        from fastmath_coefficients import sinpi_coefficients
    finally:
        sys.path.remove(script)
    c = tuple(float(v) for v in sinpi_coefficients())

    def sin_pi(y: jax.Array) -> jax.Array:
        z = y * y
        p = c[-1] * z + c[-2]
        for k in reversed(c[:-2]):
            p = p * z + k
        return y * p

    def bare(p: jax.Array, w: jax.Array) -> jax.Array:
        x = t - w if warmup else t
        cos = p * (0.5 - 0.5 * sin_pi(x * (1.0 / (S - w)) - 0.5))
        return jnp.where(x < 0, (p * (1.0 / w)) * t, cos) if warmup else cos

    return jax.jit(jax.vmap(bare))


# ----------------------------------------------------------------------------- peers


def _optax(kind: str, S: int, peak: float, second: int) -> Callable[[Any], Any]:
    """The optax schedule of one setting (a closure)."""
    if kind == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(0.0, peak, second, S)
    if kind == "wsd":
        # optax has no WSD or 1-sqrt: users join a warmup, a constant and their own cooldown.
        d = WSD_FRACTION * S

        def cooldown(c: Any) -> Any:
            return peak * (1.0 - jnp.sqrt(jnp.clip(c / d, 0.0, 1.0)))

        return optax.join_schedules(
            [optax.linear_schedule(0.0, peak, second), optax.constant_schedule(peak), cooldown],
            [second, int(S - d)],
        )
    cycles, length, total = [], float(second), 0.0
    while total < S:
        cycles.append(dict(init_value=peak, peak_value=peak, decay_steps=int(length), warmup_steps=0))
        total += length
        length *= SGDR_MULT
    return optax.sgdr_schedule(cycles)


def _torch_scheduler(torch: Any, kind: str, S: int, peak: float, second: int) -> tuple[Any, Any]:
    """(optimizer, scheduler) reproducing the schedule with torch's lr_scheduler."""
    from torch.optim import lr_scheduler as L

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=peak)
    if kind == "warmup_cosine":
        sched = L.SequentialLR(
            opt,
            [L.LinearLR(opt, start_factor=1e-8, end_factor=1.0, total_iters=second),
             L.CosineAnnealingLR(opt, T_max=S - second, eta_min=0.0)],
            milestones=[second],
        )
    elif kind == "wsd":
        d = int(WSD_FRACTION * S)
        sched = L.SequentialLR(
            opt,
            [L.LinearLR(opt, start_factor=1e-8, end_factor=1.0, total_iters=second),
             L.ConstantLR(opt, factor=1.0, total_iters=S - d - second),
             L.LambdaLR(opt, lambda k: 1.0 - math.sqrt(min(k / d, 1.0)))],
            milestones=[second, S - d],
        )
    else:
        sched = L.CosineAnnealingWarmRestarts(opt, T_0=second, T_mult=int(SGDR_MULT), eta_min=0.0)
    return opt, sched


def _torch_loop(torch: Any, kind: str, S: int, peak: float, second: int, n: int) -> list[float]:
    """Step a fresh scheduler ``n`` times, reading the learning rate each step (the timed loop)."""
    opt, sched = _torch_scheduler(torch, kind, S, peak, second)
    group = opt.param_groups[0]
    out = [group["lr"]]
    for _ in range(n - 1):
        sched.step()
        out.append(group["lr"])
    return out


# ----------------------------------------------------------------------------- run


def _max_rel_err(a: Any, b: Any, scale: float) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) / scale


# ----------------------------------------------------------------------------- the issue's allocator

# glibc's malloc settings that run.py tunes (see run.py's MALLOC_ENV and the README).
_MALLOC_VARS = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def _issue_setting(G: int, S: int, reps: int) -> dict[str, Any]:
    """jaxsched vs trivial write at ``G`` x ``S`` for every schedule, as the issue measured: a child on
    every core of the machine, with glibc's default malloc.

    The issue's own figures (the write "about 0.2 s" on "this machine (2 CPU cores)") were taken that
    way: every call maps and page-faults a fresh output buffer, for the write as for jaxsched. run.py
    removes that cost from the whole suite and ``--cpus 1`` pins it to one core (steadier numbers);
    this child measures the issue's setting in the same run. If the cpuset refuses every core, the
    child keeps this process's cores and the result says how many it had.
    """
    env = {k: v for k, v in os.environ.items() if k not in _MALLOC_VARS}
    every = list(range(os.cpu_count() or 1))

    def widen() -> None:
        try:
            os.sched_setaffinity(0, every)
        except OSError:
            pass

    cmd = [sys.executable, os.path.abspath(__file__), "--issue-setting", str(G), str(S), str(reps)]
    pre = widen if hasattr(os, "sched_setaffinity") else None
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=True, preexec_fn=pre)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _issue_child(G: int, S: int, reps: int) -> None:
    res = {}
    for kind in SCHEDULES:
        u = _setup(kind, G, S, jnp.arange(S))
        thunks = {"jaxsched": lambda u=u: u.f_js(u.grid.schedules), "write": lambda u=u: u.f_write(u.P)}
        times = interleaved(thunks, reps)
        faults = {}
        for k, th in thunks.items():
            r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            time_call(th)
            faults[k] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0
        res[kind] = {"times": times, "faults": faults}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(json.dumps({"res": res, "cores": cores}))


def _issue_lines(G: int, S: int, reps: int) -> tuple[list[str], list[Check]]:
    """The paragraph, table and checks of :func:`_issue_setting` (warmup-cosine is the issue's target)."""
    r = _issue_setting(G, S, reps)
    where = f"every core ({r['cores']} usable)"
    rows, checks = [], []
    for kind, v in r["res"].items():
        pj, pw = median(v["times"]["jaxsched"]), median(v["times"]["write"])
        target = kind == "warmup_cosine"
        c = Check(NAME, f"{kind}, G={G}: jaxsched / trivial write, {where}, glibc's default malloc (the issue's "
                  "setting)" + ("" if target else " (informational)"), pj / pw, "<=", 1.5,
                  note="issue 7" if target else "")
        checks.append(c)
        rows.append([kind, fmt_med(v["times"]["jaxsched"]), fmt_med(v["times"]["write"]),
                     f"{fmt_num(pj / pw)}x {status_cell(c)}",
                     f"{v['faults']['jaxsched']:,} / {v['faults']['write']:,}"])
    lines = [
        f"**The issue's setting** (informational for WSD and SGDR): the issue measured on \"this machine (2 CPU "
        "cores)\" with glibc's default malloc, where writing the G = 1024 output took \"about 0.2 s\". A child "
        f"process of this run, on {where} with the default malloc, times each schedule at G = {G} against the "
        f"trivial write ({reps} interleaved repeats). Every call there maps and page-faults a fresh output buffer, "
        "jaxsched's and the write's alike. The tables above keep the buffer in the heap (run.py's malloc tuning) "
        "and this run's core count, which leaves the write at its memory bandwidth: the stricter ratio.",
        "",
    ] + table(["schedule", "jaxsched", "trivial write", "jaxsched / trivial write",
               "minor page faults per call (jaxsched / write)"], rows)
    return lines, checks


# ----------------------------------------------------------------------------- wider vectors

WIDE_FLAG = "--xla_cpu_prefer_vector_width=512"


def _has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:
        return False


def _digest(a: Any) -> str:
    return hashlib.sha256(np.ascontiguousarray(np.asarray(a)).tobytes()).hexdigest()


def _child_run(G: int, S: int, reps: int, eager_cap: int, env: dict[str, str] | None = None,
               cpus: list[int] | None = None) -> dict[str, Any]:
    """:func:`_child` in a fresh process: ``env`` its environment (XLA flags), ``cpus`` its affinity
    (so XLA's thread pool), both set before JAX starts there."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", str(G), str(S), str(reps), str(eager_cap)]
    pre = None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=True, preexec_fn=pre)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child(G: int, S: int, reps: int, eager_cap: int) -> None:
    """Time the three schedules at ``G`` x ``S`` (jaxsched, evaluate, hand-fused, write; optax eager from
    ``eager_cap`` settings, extrapolated to G, if ``eager_cap > 0``) and print them with the output digest."""
    steps = jnp.arange(S)
    res: dict[str, Any] = {}
    for kind in SCHEDULES:
        u = _setup(kind, G, S, steps)
        fused = _fused(kind, S, steps, "jnp" if kind == "wsd" else "lib")
        thunks = {
            "jaxsched": lambda u=u: u.f_js(u.grid.schedules),
            "evaluate": lambda u=u: jaxsched.evaluate(u.grid, steps),
            "fused": lambda u=u, fused=fused: fused(u.P, u.X),
            "write": lambda u=u: u.f_write(u.P),
        }
        scheds = [_optax(kind, S, float(u.peaks[i]), int(u.second[i])) for i in range(min(G, eager_cap))]
        if scheds:
            thunks["eager"] = lambda scheds=scheds: [s(steps) for s in scheds]
        digest = _digest(thunks["jaxsched"]())
        times = interleaved(thunks, reps)
        if scheds:
            times["eager"] = [t * G / len(scheds) for t in times["eager"]]
        res[kind] = {"times": times, "digest": digest}
    print(json.dumps({"cores": len(os.sched_getaffinity(0)), "res": res}))


# ----------------------------------------------------------------------------- the other core count


def _other_cpus() -> tuple[list[int], str] | None:
    """The CPU set of the cores child and its name: one core if this run has several, else all of them."""
    have = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(have) > 1:
        return have[:1], "pinned to one core"
    every = list(range(os.cpu_count() or 1))
    return (every, f"all {len(every)} cores") if len(every) > 1 else None


def _cores_lines(G: int, S: int, reps: int, main: dict[str, tuple[float, str]]) -> tuple[list[str], list[Check]]:
    """The informational paragraph, table and checks at the other core count (or why it was skipped)."""
    other = _other_cpus()

    def head(what: str) -> str:
        return (f"**Core count** (informational): the schedules are bound by arithmetic and the trivial write by "
                f"memory bandwidth, so their ratio depends on how many cores XLA may use. A child process of this "
                f"run, {what}, times the G = {G} grids again ({reps} interleaved repeats).")

    if os.environ.get("JAXSCHED_BENCH_NO_CORES") or other is None:
        why = "JAXSCHED_BENCH_NO_CORES is set" if other is not None else "this machine has one core"
        return ["", head("at the other core count") + f" Skipped: {why}."], []
    cpus, what = other
    try:
        r = _child_run(G, S, reps, 0, cpus=cpus)
    except (OSError, subprocess.CalledProcessError) as e:  # a cpuset that refuses the affinity
        return ["", head(what) + f" Skipped: the child failed ({type(e).__name__})."], []
    rows, checks = [], []
    for kind, v in r["res"].items():
        t = {k: median(x) for k, x in v["times"].items()}
        tag = f"{kind}, G={G}, child {what} ({r['cores']} usable)"
        cs = [Check(NAME, f"{tag}: jaxsched / trivial write (informational)", t["jaxsched"] / t["write"], "<=", 1.5),
              Check(NAME, f"{tag}: jaxsched.evaluate / trivial write (informational)", t["evaluate"] / t["write"],
                    "<=", 1.5)]
        if kind == "warmup_cosine":
            checks += cs
        rows.append([
            kind, fmt_med(v["times"]["jaxsched"]), fmt_med(v["times"]["evaluate"]), fmt_med(v["times"]["fused"]),
            fmt_med(v["times"]["write"]), f"{t['jaxsched'] / (G * S) * 1e9:.2f}",
            "yes" if v["digest"] == main[kind][1] else "**no**",
            f"{fmt_num(t['jaxsched'] / t['fused'])}x",
            f"{fmt_num(cs[0].value)}x {status_cell(cs[0])}", f"{fmt_num(cs[1].value)}x {status_cell(cs[1])}",
        ])
    lines = ["", head(f"{what} ({r['cores']} usable)"), ""] + table(
        ["schedule", "jaxsched", "jaxsched.evaluate", "hand-fused", "trivial write", "jaxsched ns/elem",
         "same output bits", "jaxsched / hand-fused", "jaxsched / trivial write", "evaluate / trivial write"],
        rows,
    )
    return lines, checks


def run(cfg: Config) -> Section:
    S = cfg.pick(100_000, 10_000)
    Gs = cfg.pick((1, 64, 1024), (1, 1024))
    reps = cfg.repeats
    jit_cap = cfg.pick(8, 5)  # optax settings compiled and timed per G
    eager_cap = cfg.pick(32, 8)  # optax settings timed eagerly per repeat
    torch_steps = cfg.pick(3000, 1000)
    torch = torch_or_none()
    steps = jnp.arange(S)

    lines: list[str] = [
        f"S = {S:,} steps (int32 `jnp.arange(S)`), float32 output of shape (G, S). Grid axes: "
        f"{{peak_value}} x {{warmup_steps}} (SGDR: {{peak_value}} x {{period}}, period_mult={SGDR_MULT}); "
        f"WSD cools down over the last {WSD_FRACTION:.0%} with 1-sqrt. Times are medians of {reps} interleaved "
        f"repeats ({min(reps, 5)} at G = {max(Gs)}) after a warm-up call (±: half the inter-quartile range). "
        f"`~` marks a time extrapolated linearly: optax-jit from {jit_cap} settings (trace+compile+run each), "
        f"optax-eager from {eager_cap} settings per repeat, torch from {torch_steps:,} steps per repeat. "
        "Hand-fused is timed twice where a cosine is involved: with `jnp.cos` (what one writes by hand; "
        "XLA:CPU does not vectorise it) and with jaxsched's own cosine kernel "
        "(`jaxsched.functional.cosine` of the local step and the length), which isolates the cost of "
        "jaxsched's abstractions. "
        "Targets compare against the faster of the two.",
        "",
    ]
    checks: list[Check] = []
    ratio_rows: list[list[Any]] = []

    torch_per_step: dict[str, float] = {}
    torch_err: dict[str, float] = {}
    faults: dict[str, float] = {}
    main_at_max: dict[str, tuple[float, str]] = {}  # kind -> (jaxsched median, output digest) at the largest G
    floor_lines: list[str] = []

    for kind in SCHEDULES:
        rows: list[list[Any]] = []
        for G in Gs:
            g, peaks, second, P, X, f_js, f_write = _setup(kind, G, S, steps)
            fused = {"fused-jnp": _fused(kind, S, steps, "jnp")}
            if kind != "wsd":  # WSD's 1-sqrt cooldown has no cosine
                fused["fused-lib"] = _fused(kind, S, steps, "lib")

            # Agreement of the hand-fused formulas with jaxsched (so the comparison is fair).
            a = f_js(g.schedules)
            err_fused = 0.0
            for f in fused.values():
                err_fused = max(err_fused, float(jnp.max(jnp.abs(a - f(P, X)))) / float(peaks.max()))
            row0 = np.asarray(a[0])
            digest = _digest(a) if G == max(Gs) else ""
            same_bits = _digest(jaxsched.evaluate(g, steps)) == _digest(a)
            del a

            thunks: dict[str, Callable[[], Any]] = {
                "jaxsched": lambda: f_js(g.schedules),
                "evaluate": lambda: jaxsched.evaluate(g, steps),
            }
            for k, f in fused.items():
                thunks[k] = lambda f=f: f(P, X)
            thunks["write"] = lambda: f_write(P)
            bare: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {}
            if kind == "warmup_cosine" and G == max(Gs):  # the floor paragraph below the tables
                bare = {"bare-cosine": _bare(S, steps, warmup=False), "bare-warmup-cosine": _bare(S, steps, True)}
                err_bare = float(jnp.max(jnp.abs(f_js(g.schedules) - bare["bare-warmup-cosine"](P, X))))
                err_bare /= float(peaks.max())
            for k, f in bare.items():
                thunks[k] = lambda f=f: f(P, X)
            # The largest grid's calls last up to seconds each: 5 repeats (the minimum) keep the suite short.
            times = interleaved(thunks, reps if G < max(Gs) else min(reps, 5))

            # optax, one jit per setting (fresh closure => fresh trace + compile).
            settings = [(float(peaks[i]), int(second[i])) for i in range(G)]
            jit_times = []
            for j in range(max(reps, min(G, jit_cap))):
                pk, sc = settings[j % G]
                jit_times.append(time_call(lambda pk=pk, sc=sc: jax.jit(_optax(kind, S, pk, sc))(steps)))
            optax_jit = median(jit_times) * G

            # optax eager: schedule(steps) per setting, no jit. Closures are built outside the timing.
            n_eager = min(G, eager_cap)
            eager_scheds = [_optax(kind, S, *settings[i]) for i in range(n_eager)]
            err_optax = _max_rel_err(eager_scheds[0](steps), row0, float(peaks[0]))

            def eager_all(scheds: list[Any] = eager_scheds) -> list[Any]:
                return [s(steps) for s in scheds]

            eager_times = interleaved({"eager": eager_all}, reps)["eager"]
            optax_eager = median(eager_times) * G / n_eager

            if torch is not None and kind not in torch_per_step:
                pk, sc = settings[0]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    lrs = _torch_loop(torch, kind, S, pk, sc, torch_steps)
                    torch_err[kind] = _max_rel_err(lrs, row0[:torch_steps], pk)
                    tt = interleaved({"torch": lambda: _torch_loop(torch, kind, S, pk, sc, torch_steps)}, reps)
                torch_per_step[kind] = median(tt["torch"]) / torch_steps

            if bare:
                floor = {k: median(times[k]) / median(times["write"]) for k in ("jaxsched", *bare)}
                floor_lines = [
                    f"**How close an accurate kernel can get** (informational; warmup_cosine at G = {G}, the same "
                    "interleaved repeats as the table above): the trivial write sets the floor, and arithmetic "
                    "comes on top of it. The least a warmup-cosine can compute (`_bare` in `bench_grid.py`: "
                    "one polynomial of sin(pi y) on the half period, five terms, with no select between quarters, no "
                    "clipping, no exact local step and no relative precision near the end; max. abs. difference to "
                    "jaxsched "
                    f"{err_bare:.1e} of the peak) takes {fmt_med(times['bare-warmup-cosine'])}, "
                    f"{fmt_num(floor['bare-warmup-cosine'])}x the write; its cosine alone, without the warmup's "
                    f"select, {fmt_med(times['bare-cosine'])}, {fmt_num(floor['bare-cosine'])}x; jaxsched "
                    f"{fmt_num(floor['jaxsched'])}x. On {len(os.sched_getaffinity(0))} core(s) the write is bound "
                    "by memory bandwidth and these kernels by the core's arithmetic, so these ratios fall with more "
                    "cores (see the core-count paragraph below).",
                    "",
                ]

            if G == max(Gs):
                for k in ("jaxsched", "write"):
                    r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                    for _ in range(3):
                        time_call(thunks[k])
                    faults[f"{kind} {k}"] = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) / 3

            js = median(times["jaxsched"])
            if G == max(Gs):
                main_at_max[kind] = (js, digest)
            best_fused = min(median(times[k]) for k in fused)
            write = median(times["write"])
            fastest = min(optax_jit, optax_eager)
            tor = torch_per_step[kind] * S * G if torch is not None else None
            xj = "~" if G > min(G, jit_cap) else ""
            xe = "~" if G > n_eager else ""
            rows.append([
                G,
                fmt_med(times["jaxsched"]),
                fmt_med(times["evaluate"]) + ("" if same_bits else " (**bits differ**)"),
                fmt_med(times["fused-jnp"]),
                fmt_med(times["fused-lib"]) if "fused-lib" in times else "(no cosine)",
                fmt_med(times["write"]),
                f"{xj}{fmt_time(optax_jit)}",
                f"{xe}{fmt_time(optax_eager)}",
                f"~{fmt_time(tor)}" if tor is not None else "torch not installed",
                f"{js / (G * S) * 1e9:.2f}",
                f"{err_fused:.1e} / {err_optax:.1e}",
            ])
            ratio = {
                "fused": js / best_fused,
                "write": js / write,
                "optax": fastest / js,
                "torch": (tor / js) if tor is not None else None,
            }
            primary = kind == "warmup_cosine" and G == max(Gs)
            tag = "" if primary else " (informational)"
            cs: list[Check] = []
            if G == max(Gs):
                cs = [
                    Check(NAME, f"{kind}, G={G}: jaxsched / hand-fused (faster kernel){tag}", ratio["fused"], "<=",
                          1.1, note="issue 2" if primary else ""),
                    Check(NAME, f"{kind}, G={G}: jaxsched / trivial write, recycled output buffer{tag}",
                          ratio["write"], "<=", 1.5, note="issue 7" if primary else ""),
                    Check(NAME, f"{kind}, G={G}: optax fastest / jaxsched{tag}", ratio["optax"], ">=", 10.0,
                          note="issue 7" if primary else ""),
                    Check(NAME, f"{kind}, G={G}: torch loop / jaxsched{tag}", ratio["torch"], ">=", 500.0,
                          note=("issue 7" if primary else "") if torch is not None else "torch not installed"),
                    Check(NAME, f"{kind}, G={G}: jaxsched.evaluate / trivial write, recycled output buffer "
                          "(informational)", median(times["evaluate"]) / write, "<=", 1.5,
                          note=("same bits as jaxsched" if same_bits else "BITS DIFFER from jaxsched")),
                ]
                checks.extend(cs)

            def cell(text: str, i: int, cs: list[Check] = cs) -> str:
                return text + (f" {status_cell(cs[i])}" if cs else "")

            ratio_rows.append([
                kind, G,
                cell(f"{fmt_num(ratio['fused'])}x", 0),
                cell(f"{fmt_num(ratio['write'])}x", 1),
                cell(("optax-jit" if optax_jit < optax_eager else "eager") + f" {fmt_num(ratio['optax'])}x", 2),
                cell(f"~{fmt_num(ratio['torch'])}x", 3) if ratio["torch"] is not None else "torch not installed",
            ])

        lines.append(f"**{kind}** (torch: {_torch_name(kind)})")
        lines.append("")
        lines += table(
            ["G", "jaxsched", "jaxsched.evaluate", "hand-fused, jnp.cos", "hand-fused, jaxsched kernel",
             "trivial write", "optax jit/setting", "optax eager", "torch loop", "jaxsched ns/elem",
             "max rel. err fused / optax"],
            rows,
        )
        lines.append("")

    lines += floor_lines
    G = max(Gs)
    issue_lines, issue_checks = _issue_lines(G, S, min(reps, 5))
    at = next((i + 1 for i, x in enumerate(checks) if x.what.startswith("warmup_cosine") and "write" in x.what), 0)
    first = [c for c in issue_checks if c.what.startswith("warmup_cosine")]
    checks[at:at] = first  # the target, beside the recycled-buffer ratio in the targets table
    checks += [c for c in issue_checks if c not in first]
    lines += issue_lines
    lines.append("")
    lines.append("**Ratios** (same run; targets at G = 1024: jaxsched/hand-fused ≤ 1.1x, jaxsched/write ≤ 1.5x, "
                 "optax-fastest/jaxsched ≥ 10x, torch/jaxsched ≥ 500x; the stated targets are for warmup-cosine, "
                 "the WSD and SGDR verdicts are informational)")
    lines.append("")
    lines += table(["schedule", "G", "jaxsched / hand-fused (faster)", "jaxsched / trivial write",
                    "optax fastest / jaxsched", "torch loop / jaxsched"], ratio_rows)
    lines.append("")
    out_pages = max(Gs) * S * 4 / 4096
    lines.append(
        f"Minor page faults per call at G = {max(Gs)} (the output is {out_pages:,.0f} pages of 4 KiB): "
        + ", ".join(f"{k} {v:,.0f}" for k, v in faults.items())
        + ". A count near the page count means the call mapped and faulted a fresh output buffer (glibc's default "
        "for large blocks, or memory the kernel reclaimed): that time is the OS's, and the capped optax/torch "
        "measurements do not pay it. `run.py` tunes malloc to avoid it unless given `--no-malloc-tuning`.")
    lines += _wide_lines(max(Gs), S, min(reps, 5), eager_cap, main_at_max)
    core_lines, core_checks = _cores_lines(max(Gs), S, max(reps, 9), main_at_max)
    lines += core_lines
    checks += core_checks
    if torch is not None:
        lines.append("")
        lines.append("torch per step: " + ", ".join(
            f"{k} {fmt_time(v)} (max rel. err vs jaxsched over {torch_steps:,} steps {torch_err[k]:.1e})"
            for k, v in torch_per_step.items()))
    return Section(NAME, TITLE, lines, checks)


def _wide_lines(G: int, S: int, reps: int, eager_cap: int, main: dict[str, tuple[float, str]]) -> list[str]:
    """The informational paragraph and table on 512-bit vectors (or why it was skipped)."""
    head = (f"**512-bit vectors** (informational, no target): XLA:CPU vectorises its loops 256 bits wide by "
            f"default, also on CPUs with AVX-512. A child process of this run with `XLA_FLAGS={WIDE_FLAG}` "
            f"(set before JAX starts; a process-wide choice of the user, not something a library can set) "
            f"times the G = {G} grids again ({reps} interleaved repeats; optax eager from {min(G, eager_cap)} "
            "settings, extrapolated).")
    if os.environ.get("JAXSCHED_BENCH_NO_WIDE") or not _has_avx512():
        why = "JAXSCHED_BENCH_NO_WIDE is set" if os.environ.get("JAXSCHED_BENCH_NO_WIDE") else "no AVX-512 here"
        return ["", head + f" Skipped: {why}."]
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + WIDE_FLAG).strip()
    wide = _child_run(G, S, reps, eager_cap, env=env)["res"]
    rows = []
    for kind, r in wide.items():
        t = {k: median(v) for k, v in r["times"].items()}
        js_main, digest_main = main[kind]
        rows.append([
            kind, fmt_med(r["times"]["jaxsched"]), f"{t['jaxsched'] / (G * S) * 1e9:.2f}",
            f"{fmt_num(js_main / t['jaxsched'])}x", "yes" if r["digest"] == digest_main else "**no**",
            f"{fmt_num(t['jaxsched'] / t['fused'])}x", f"{fmt_num(t['jaxsched'] / t['write'])}x",
            f"{fmt_num(t['eager'] / t['jaxsched'])}x",
        ])
    return ["", head, ""] + table(
        ["schedule", "jaxsched", "ns/elem", "speed-up over the default width (tables above)",
         "same output bits", "jaxsched / hand-fused", "jaxsched / trivial write", "optax eager / jaxsched"],
        rows,
    )


def _torch_name(kind: str) -> str:
    return {
        "warmup_cosine": "SequentialLR(LinearLR, CosineAnnealingLR)",
        "wsd": "SequentialLR(LinearLR, ConstantLR, LambdaLR(1-sqrt))",
        "sgdr": "CosineAnnealingWarmRestarts(T_mult=2)",
    }[kind]


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--issue-setting":
    _issue_child(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "--child":
    _child(*(int(x) for x in sys.argv[2:]))
