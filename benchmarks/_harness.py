"""Shared machinery of the benchmark suite: timing, environment, tables.

Timing is noise-aware: every measurement blocks on its result
(``jax.block_until_ready``), runs after a warm-up call (so compiles are not
timed unless compiling is what is measured), repeats at least five times and
reports the median (a sample of a short call averages enough calls to last
50 ms). Competing implementations are timed *interleaved*
(round-robin, the order reversed on every other round), so a slow patch on a
shared machine hits all of them alike and the ratios computed from one run stay
meaningful even when the absolute numbers drift.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

import jax

# ----------------------------------------------------------------------------- configuration


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and repeat counts; ``quick`` shrinks the work to a ~1 minute smoke run."""

    quick: bool = False
    repeats: int = 7

    def pick(self, full: Any, quick: Any) -> Any:
        return quick if self.quick else full


@dataclasses.dataclass
class Check:
    """One target: ``value`` compared with ``limit`` by ``op`` (``"<="`` or ``">="``)."""

    benchmark: str
    what: str
    value: float | None
    op: str
    limit: float
    unit: str = "x"
    note: str = ""

    @property
    def status(self) -> str:
        if self.value is None:
            return "SKIP"
        ok = self.value <= self.limit if self.op == "<=" else self.value >= self.limit
        return "PASS" if ok else "FAIL"

    def measured(self) -> str:
        if self.value is None:
            return "n/a"
        return fmt_num(self.value) + (self.unit if self.unit == "x" else f" {self.unit}")

    def target(self) -> str:
        sym = "≤" if self.op == "<=" else "≥"
        return f"{sym} {fmt_num(self.limit)}" + (self.unit if self.unit == "x" else f" {self.unit}")


@dataclasses.dataclass
class Section:
    """The markdown of one benchmark and the targets it checked."""

    name: str
    title: str
    lines: list[str]
    checks: list[Check]
    seconds: float = 0.0


# ----------------------------------------------------------------------------- timing


def block(x: Any) -> Any:
    return jax.block_until_ready(x)


def time_call(thunk: Callable[[], Any]) -> float:
    """Seconds for one call of ``thunk``, including waiting for its result."""
    t0 = time.perf_counter()
    out = thunk()
    block(out)
    dt = time.perf_counter() - t0
    del out
    return dt


def interleaved(
    thunks: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1, min_sample: float = 0.05
) -> dict[str, list[float]]:
    """Seconds per call of every thunk: ``repeats`` samples each, round-robin, after ``warmup`` rounds.

    A sample averages ``number`` back-to-back calls (each waited for), with
    ``number`` chosen from the warm-up so one sample lasts at least
    ``min_sample`` seconds: short calls are then not at the mercy of the timer
    and of single scheduler hiccups. The order is reversed on odd rounds so no
    implementation always runs right after the same neighbour.
    """
    names = list(thunks)
    number = dict.fromkeys(names, 1)
    for w in range(warmup):
        for k in names:
            dt = time_call(thunks[k])
            if w == warmup - 1 and dt < min_sample:
                number[k] = max(1, min(1000, int(min_sample / max(dt, 1e-7))))
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeats):
        for k in names if r % 2 == 0 else names[::-1]:
            n = number[k]
            t0 = time.perf_counter()
            for _ in range(n):
                block(thunks[k]())
            times[k].append((time.perf_counter() - t0) / n)
    return times


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def spread(xs: Sequence[float]) -> float:
    """Half the inter-quartile range relative to the median (a noise indicator).

    Quartiles by linear interpolation between the samples ("inclusive", NumPy's
    default). The "exclusive" method interpolates past the second-largest of 5
    samples toward the largest, so one slow call out of 5 read as ±500%.
    """
    if len(xs) < 4:
        return (max(xs) - min(xs)) / (2 * median(xs)) if median(xs) else 0.0
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return (q[2] - q[0]) / (2 * median(xs)) if median(xs) else 0.0


# ----------------------------------------------------------------------------- formatting


def fmt_num(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e5:
        return str(int(x))
    ax = abs(x)
    if ax >= 1e5:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def fmt_time(s: float) -> str:
    """Seconds in the unit that reads best."""
    if s >= 100:
        return f"{s:,.0f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.3g} µs"
    return f"{s * 1e9:.3g} ns"


def fmt_med(xs: Sequence[float]) -> str:
    """``median ±spread%``."""
    return f"{fmt_time(median(xs))} ±{100 * spread(xs):.0f}%"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return out


def status_cell(c: Check) -> str:
    return f"**{c.status}**" if c.status == "FAIL" else c.status


# ----------------------------------------------------------------------------- environment


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_gib() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        r = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=10)
        return r.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment() -> dict[str, str]:
    """Machine and versions, as shown at the top of RESULTS.md."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = os.cpu_count() or 0
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    commit = _git("rev-parse", "--short", "HEAD")
    # The results file is the run's own output: a previous run's copy does not make the code dirty.
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ":/", ":(exclude,top)benchmarks/RESULTS.md")
    env = {
        "CPU": _cpu_model(),
        "cores": f"{os.cpu_count()} logical, {affinity} usable by this process",
        "memory": _mem_gib(),
        "OS": platform.platform(),
        "JAX backend": f"{jax.default_backend()} ({', '.join(str(d) for d in jax.devices())})",
        "load average at start (1/5/15 min)": " / ".join(f"{x:.2f}" for x in load),
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", "(unset)"),
        "jaxsched commit": (commit + (" + uncommitted changes" if dirty else "")) if commit else "unknown",
    }
    return env


def versions() -> dict[str, str]:
    v = {"python": sys.version.split()[0]}
    for dist in ("jax", "jaxlib", "optax", "numpy", "torch", "transformers", "timm", "jaxsched"):
        got = _version(dist)
        v[dist] = got if got is not None else "not installed"
    return v


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def torch_or_none() -> Any:
    """The torch module, or None when it is not installed (torch benchmarks then skip)."""
    try:
        import torch
    except ImportError:
        return None
    return torch
