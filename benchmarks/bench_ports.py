"""Benchmark 7: the ports (``jaxsched.compat``) evaluated as grids, against the peers they port.

A user moving from torch, transformers, timm or optax keeps the peer's
scheduler under its own name, so a sweep runs the *port*, not the core
schedule. Each port is evaluated as a grid of G settings (peak x a second
hyperparameter) over S steps exactly as ``grid`` evaluates the core schedules,
``jit(vmap(lambda s: s(steps)))`` over ``jaxsched.grid(port, ...)``, and timed
interleaved with:

- the core schedule with the same shape (where one exists): what the port
  costs over the library's own schedule;
- the trivial write of the same float32 (G, S) output (the practical limit);
- the peer itself: torch's ``OneCycleLR``, transformers' LambdaLR and timm's
  scheduler stepped in a Python loop (a capped number of steps, extrapolated
  to G x S steps), optax's schedule called eagerly per setting (a capped
  number of settings, extrapolated to G).

The peer is also run over all S steps of one setting (the grid's first), and
the table gives the port's largest difference from it, relative to the peak.
A peer that is not installed is skipped. The issue's targets are for the core
schedules; the verdicts here are informational, at the same limits. Two lines
follow: XLA's ``pow`` against jaxsched's float32 power, and options given as
structure (a name, ``period_mult=None``) against the same options as leaves.
"""

from __future__ import annotations

import dataclasses
import types
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import Check, Config, Section, fmt_med, fmt_num, fmt_time, interleaved, median, status_cell, table

import jaxsched
from jaxsched.compat import optax as c_optax
from jaxsched.compat import timm as c_timm
from jaxsched.compat import torch as c_torch
from jaxsched.compat import transformers as c_hf

NAME = "ports"
TIMM_WARMUP_INIT = 1e-7
TITLE = "The ports as grids, against the peers they port"


class _Port(NamedTuple):
    label: str  # the port's name, as a user calls it
    peer: str  # the importable module the peer needs
    second: str  # the second axis's name (the first is the peak)
    values: Callable[[int, int], list[Any]]  # (a, S) -> the second axis's values
    port: Callable[[list[float], list[Any], int], jaxsched.Grid]  # (peaks, seconds, S) -> the port's grid
    core: Callable[[list[float], list[Any], int], jaxsched.Grid] | None  # the core schedule of the same shape
    core_label: str
    stepper: Callable[[Any, float, Any, int], Callable[[int], list[float]]] | None  # (module, peak, second, S)
    eager: Callable[[float, Any, int], Callable[[Any], Any]] | None  # (peak, second, S) -> a peer closure


def _warmups(a: int, S: int) -> list[int]:
    return [int(x) for x in np.round(np.linspace(0.01, 0.05, a) * S)]


def _torch_opt(torch: Any, lr: float) -> Any:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _loop(opt: Any, advance: Callable[[int], None]) -> Callable[[int], list[float]]:
    """Read the learning rate, then ``advance(k)`` to step ``k``: ``n`` values from step 0."""
    group = opt.param_groups[0]

    def run(n: int) -> list[float]:
        out = [group["lr"]]
        for k in range(1, n):
            advance(k)
            out.append(group["lr"])
        return out

    return run


def _onecycle_peer(torch: Any, peak: float, pct: float, S: int) -> Callable[[int], list[float]]:
    opt = _torch_opt(torch, peak)
    s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peak, total_steps=S, pct_start=pct, cycle_momentum=False)
    return _loop(opt, lambda k: s.step())


def _hf_peer(transformers: Any, peak: float, W: int, S: int) -> Callable[[int], list[float]]:
    import torch

    opt = _torch_opt(torch, peak)
    s = transformers.get_cosine_schedule_with_warmup(opt, W, S)
    return _loop(opt, lambda k: s.step())


def _timm_peer(timm: Any, peak: float, W: int, S: int) -> Callable[[int], list[float]]:
    import torch
    from timm.scheduler import CosineLRScheduler

    opt = _torch_opt(torch, peak)
    s = CosineLRScheduler(opt, t_initial=S, warmup_t=W, warmup_lr_init=TIMM_WARMUP_INIT)
    return _loop(opt, lambda k: s.step(k))


PORTS = (
    _Port(
        "torch OneCycleLR", "torch", "pct_start", lambda a, S: [float(x) for x in np.linspace(0.2, 0.4, a)],
        lambda p, q, S: jaxsched.grid(c_torch.OneCycleLR, max_lr=p, pct_start=q, total_steps=S),
        lambda p, q, S: jaxsched.grid(jaxsched.onecycle, peak_value=p, pct_start=q, total_steps=S),
        "onecycle (its knots at pct_start * S, not torch's pct_start * S - 1)", _onecycle_peer, None,
    ),
    _Port(
        "transformers get_cosine_schedule_with_warmup", "transformers", "num_warmup_steps", _warmups,
        lambda p, q, S: jaxsched.grid(c_hf.get_cosine_schedule_with_warmup, lr=p, num_warmup_steps=q,
                                      num_training_steps=S),
        lambda p, q, S: jaxsched.grid(jaxsched.warmup_cosine, peak_value=p, warmup_steps=q, total_steps=S),
        "warmup_cosine (the same values up to S)", _hf_peer, None,
    ),
    _Port(
        "timm CosineLRScheduler", "timm", "warmup_t", _warmups,
        lambda p, q, S: jaxsched.grid(c_timm.CosineLRScheduler, lr=p, warmup_t=q, t_initial=S,
                                      warmup_lr_init=TIMM_WARMUP_INIT),
        None, "none (timm's warmup replaces the cosine's start, it does not shift it)", _timm_peer, None,
    ),
    _Port(
        "optax warmup_cosine_decay_schedule", "optax", "warmup_steps", _warmups,
        lambda p, q, S: jaxsched.grid(c_optax.warmup_cosine_decay_schedule, peak_value=p, warmup_steps=q,
                                      init_value=0.0, decay_steps=S),
        lambda p, q, S: jaxsched.grid(jaxsched.warmup_cosine, peak_value=p, warmup_steps=q, total_steps=S),
        "warmup_cosine (the same values)", None,
        lambda peak, W, S: optax.warmup_cosine_decay_schedule(0.0, peak, W, S),
    ),
)


def _module(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


def run(cfg: Config) -> Section:
    a = cfg.pick(16, 8)
    G, S = a * a, cfg.pick(100_000, 20_000)
    reps = cfg.repeats
    loop_steps = cfg.pick(3000, 1000)  # steps of a stepped peer per repeat
    eager_cap = cfg.pick(8, 4)  # settings of an eager peer per repeat
    steps = jnp.arange(S)
    peaks = [float(x) for x in np.linspace(1e-4, 1e-3, a)]
    evaluate = jax.jit(lambda sch: jax.vmap(lambda s: s(steps))(sch))
    write = jax.jit(lambda p: jnp.broadcast_to(p[:, None], (G, S)))
    P = jnp.asarray(np.repeat(np.asarray(peaks, np.float32), a))

    rows, checks, notes = [], [], []
    for port in PORTS:
        seconds = port.values(a, S)
        g = port.port(peaks, seconds, S)
        thunks: dict[str, Callable[[], Any]] = {
            "port": lambda g=g: evaluate(g.schedules),
            "write": lambda: write(P),
        }
        if port.core is not None:
            c = port.core(peaks, seconds, S)
            thunks["core"] = lambda c=c: evaluate(c.schedules)
        row0 = np.asarray(evaluate(g.schedules)[0], np.float64)
        first, second = (g.settings[k] for k in g.settings)  # (peaks, seconds) per member, in the grid's order
        s0 = second[0]
        mod = _module(port.peer)
        per_peer, err = None, None
        if mod is not None and port.stepper is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's "step before optimizer.step" and friends
                err = float(np.max(np.abs(np.asarray(port.stepper(mod, first[0], s0, S)(S)) - row0))) / first[0]
                t = interleaved({"peer": lambda: port.stepper(mod, first[0], s0, S)(loop_steps)}, reps)["peer"]
            per_peer = median(t) / loop_steps * S * G
            peer_cell = f"~{fmt_time(per_peer)} ({fmt_time(median(t) / loop_steps)} a step)"
        elif mod is not None and port.eager is not None:
            settings = list(zip(first, second))[:eager_cap]
            closures = [port.eager(float(pk), int(sc), S) for pk, sc in settings]
            err = float(np.max(np.abs(np.asarray(closures[0](steps), np.float64) - row0))) / first[0]
            t = interleaved({"peer": lambda cl=closures: [f(steps) for f in cl]}, reps)["peer"]
            per_peer = median(t) / len(closures) * G
            peer_cell = f"~{fmt_time(per_peer)} (eager, {fmt_time(median(t) / len(closures))} a setting)"
        else:
            peer_cell = f"{port.peer} not installed"
        times = interleaved(thunks, reps)
        m = {k: median(v) for k, v in times.items()}
        to_core = m["port"] / m["core"] if "core" in m else None
        to_write = m["port"] / m["write"]
        speedup = per_peer / m["port"] if per_peer is not None else None
        limit = 10.0 if port.eager is not None else 500.0
        chk = Check(NAME, f"{port.label}, G={G}: peer / port (informational)", speedup, ">=", limit,
                    note="" if mod is not None else f"{port.peer} not installed")
        checks.append(chk)
        rows.append([
            port.label,
            f"{fmt_med(times['port'])} ({m['port'] / (G * S) * 1e9:.2f} ns/elem)",
            f"{fmt_med(times['core'])}, port / core {fmt_num(to_core)}x" if to_core is not None else "(none)",
            f"{fmt_med(times['write'])}, port / write {fmt_num(to_write)}x",
            peer_cell,
            f"~{fmt_num(speedup)}x {status_cell(chk)}" if speedup is not None else "n/a",
            f"{err:.1e}" if err is not None else "n/a",
        ])
        notes.append(f"- {port.label}: grid {{peak}} x {{{port.second}}}; core equivalent: {port.core_label}.")
    lines = [
        f"G = {G} settings ({a} peaks x {a} values of the second axis), S = {S:,} steps (int32 `jnp.arange(S)`), "
        f"float32 output of shape (G, S); medians of {reps} interleaved repeats (port, core, write). Stepped peers: "
        f"{loop_steps:,} steps per repeat, extrapolated to G x S steps (`~`); eager peers: {eager_cap} settings per "
        "repeat, extrapolated to G. Max. difference: the port's first row against the peer over all S steps, "
        "relative to the peak (float32 against the peer's float64, or optax's float32).",
        "",
    ]
    lines += table(["port", "port (grid)", "core schedule", "trivial write", "peer", "peer / port",
                    "max diff / peak"], rows)
    lines += ["", *notes]
    lines += ["", _power_line(G, S, reps, evaluate, write, P)]
    from jaxsched._base import _eval_time, as_time  # the general form: eval_time without its switch

    general = jax.jit(lambda sch: jax.vmap(lambda s: _eval_time(s, as_time(steps)))(sch))
    lines += ["", *_structure_lines(a, S, reps, evaluate, general)]
    return Section(NAME, TITLE, lines, checks)


def _structure_lines(a: int, S: int, reps: int, evaluate: Any, general: Any) -> list[str]:
    """Options as structure against the same options as leaves, on the same grid shape.

    A choice given by name (``Select.fixed``: only that shape) against its index (every shape
    computed, sweepable), equal periods (``period_mult=None``: a division) against a leaf of 1
    (the general closed form), and the ports' concrete defaults (transformers' half wave, timm's
    square root, torch's period doubling) against the same value as a leaf in that one field: the
    same values, timed interleaved. No warmup (``warmup_steps=None``) is timed against a warmup of 0
    steps, a leaf.
    """
    peaks = [float(x) for x in np.linspace(1e-4, 1e-3, a)]
    lengths = [int(x) for x in np.linspace(500, 4500, a)]
    pcts = [float(x) for x in np.linspace(0.1, 0.45, a)]
    # (label, structure, leaf) grids; the leaf uses the value the structure stands for
    cases = [
        ("onecycle, anneal_strategy", "\"cos\"", "0",
         jaxsched.grid(jaxsched.onecycle, peak_value=peaks, total_steps=S, pct_start=pcts, anneal_strategy="cos"),
         jaxsched.grid(jaxsched.onecycle, peak_value=peaks, total_steps=S, pct_start=pcts, anneal_strategy=0)),
        ("cyclic, mode", "\"triangular\"", "0",
         jaxsched.grid(jaxsched.cyclic, base_value=1e-5, max_value=peaks, step_size_up=lengths, mode="triangular"),
         jaxsched.grid(jaxsched.cyclic, base_value=1e-5, max_value=peaks, step_size_up=lengths, mode=0)),
        ("sgdr, period_mult", "None", "1.0",
         jaxsched.grid(jaxsched.sgdr, peak_value=peaks, period=lengths),
         jaxsched.grid(jaxsched.sgdr, peak_value=peaks, period=lengths, period_mult=1.0)),
        ("polynomial, power", "None", "1.0",
         jaxsched.grid(jaxsched.polynomial, init_value=peaks, end_value=1e-6, steps=[20 * n for n in lengths]),
         jaxsched.grid(jaxsched.polynomial, init_value=peaks, end_value=1e-6, steps=[20 * n for n in lengths],
                       power=1.0)),
        ("sgdr, warmup_steps", "None", "0",
         jaxsched.grid(jaxsched.sgdr, peak_value=peaks, period=lengths, period_mult=2.0),
         jaxsched.grid(jaxsched.sgdr, peak_value=peaks, period=lengths, period_mult=2.0, warmup_steps=0)),
    ]
    # peers' defaults that a concrete value makes structure, against the same value as a leaf in that one field
    for label, grid, cls, field in (
        ("transformers cosine, num_cycles", jaxsched.grid(c_hf.get_cosine_schedule_with_warmup, lr=peaks,
                                                          num_warmup_steps=lengths, num_training_steps=S),
         c_hf.CosineWave, "cycles"),
        ("timm PolyLRScheduler, power", jaxsched.grid(c_timm.PolyLRScheduler, lr=peaks, t_initial=S, warmup_t=lengths),
         c_timm.KDecayPolynomial, "power"),
    ):
        leaf = jax.tree_util.tree_map(
            lambda n, cls=cls, field=field: dataclasses.replace(n, **{field: jnp.full_like(n.steps, 0.5)})
            if isinstance(n, cls) else n, grid.schedules, is_leaf=lambda n, cls=cls: isinstance(n, cls))
        cases.append((label, "0.5", "0.5 (a leaf)", grid, types.SimpleNamespace(schedules=leaf)))
    # torch's T_mult=2 (a port's concrete 2: period doubling) against a growth leaf of 2 (the closed form)
    doubling = jaxsched.grid(c_torch.CosineAnnealingWarmRestarts, lr=peaks, T_0=lengths, T_mult=2)
    growth = dataclasses.replace(doubling.schedules, doubling=False,
                                 period_mult=jnp.full_like(doubling.schedules.period, 2.0))
    cases.append(("torch CosineAnnealingWarmRestarts, T_mult", "2", "2.0 (a leaf)", doubling,
                  types.SimpleNamespace(schedules=growth)))
    # A growth leaf of 1 or 2 runs as equal periods or doubling where the grid's growths agree
    # (_base.eval_time's switch), as here; the general form (what a grid of mixed growths runs) is timed
    # beside it, traced without the switch.
    switched = {2, len(cases) - 1}
    thunks: dict[str, Callable[[], Any]] = {}
    for i, (_, _, _, named, leaf) in enumerate(cases):
        thunks[f"s{i}"] = lambda g=named: evaluate(g.schedules)
        thunks[f"l{i}"] = lambda g=leaf: evaluate(g.schedules)
        if i in switched:
            thunks[f"g{i}"] = lambda g=leaf: general(g.schedules)
    t = interleaved(thunks, reps)
    rows = []
    for i, (label, given, index, named, leaf) in enumerate(cases):
        ms, ml, n = median(t[f"s{i}"]), median(t[f"l{i}"]), len(named) * S
        diff = float(jnp.max(jnp.abs(evaluate(named.schedules) - evaluate(leaf.schedules)))) / max(peaks)
        gen = ""
        if i in switched:
            mg = median(t[f"g{i}"])
            diff = max(diff, float(jnp.max(jnp.abs(evaluate(named.schedules) - general(leaf.schedules)))) / max(peaks))
            gen = f"{fmt_med(t[f'g{i}'])} ({mg / n * 1e9:.2f} ns/elem, {mg / ms:.2f}x)"
        rows.append([label, f"`{given}`: {fmt_med(t[f's{i}'])} ({ms / n * 1e9:.2f} ns/elem)",
                     f"`{index}`: {fmt_med(t[f'l{i}'])} ({ml / n * 1e9:.2f} ns/elem)", f"{ml / ms:.2f}x", gen,
                     f"{diff:.1e}"])
    return [
        f"**Options as structure** (informational): grids of {a * a} settings ({a} peaks x {a} pct_start or "
        f"lengths) x {S:,} steps, the option "
        "given as structure (a name: only that shape is computed; `period_mult=None`: equal periods by a division; "
        "`power=None`: no power; `warmup_steps=None`: no warmup, the schedule alone; a port's concrete default "
        "0.5: transformers' half wave, timm's square root; "
        "torch's concrete `T_mult=2`: period doubling, the cycle from a float's exponent bits) "
        "against the same option as a leaf (an index: every shape computed; a power or cycle count computed as "
        "one), both sweepable in a grid; the same interleaved repeats. A growth leaf of `1.0` or `2.0` takes the "
        "values of equal periods or doubling: where the grid's growths agree (as here, from 2**24 elements per "
        "program) that form runs alone, one compiled switch (`jaxsched/_switch.py`); the last column times the "
        "general closed form, which a grid of mixed growths runs (traced without the switch).",
        "",
        *table(["schedule, option", "structure", "leaf", "leaf / structure",
                "leaf, general form (a mixed grid) / structure", "max diff / peak"], rows),
    ]


def _power_line(G: int, S: int, reps: int, evaluate: Any, write: Any, P: jax.Array) -> str:
    """The exponents' kernel: a polynomial grid with XLA's ``pow`` against jaxsched's float32 power."""
    from jaxsched import _fastmath as FM

    steps = jnp.arange(S)
    powers = jnp.asarray(np.repeat(np.linspace(0.5, 2.0, G // 16), 16), jnp.float32)
    left = lambda: 1.0 - steps.astype(jnp.float32) / S  # noqa: E731
    xla = jax.jit(jax.vmap(lambda q: jnp.power(left(), q)))
    ours = jax.jit(jax.vmap(lambda q: FM.power(left(), q)))
    g = jaxsched.grid(jaxsched.polynomial, init_value=[float(x) for x in np.linspace(0.1, 1.0, 16)], end_value=0.0,
                      steps=float(S),
                      power=[float(x) for x in np.linspace(0.5, 2.0, G // 16)])
    t = interleaved({"xla": lambda: xla(powers), "ours": lambda: ours(powers), "poly": lambda: evaluate(g.schedules),
                     "write": lambda: write(P)}, reps)
    m = {k: median(v) for k, v in t.items()}
    err = float(jnp.max(jnp.abs(ours(powers) - xla(powers))))
    return (f"**The exponents' kernel** (informational): a ({G}, {S:,}) grid of `x ** p` (x = 1 - t / S, "
            f"{G // 16} exponents in [0.5, 2]) takes {fmt_med(t['xla'])} with XLA's `pow` (a scalar call per element "
            f"on CPU) and {fmt_med(t['ours'])} with jaxsched's float32 kernel (`_fastmath.power`, behind every "
            f"exponent: `polynomial`, `cosine(exponent=...)`, timm's k-decay, the polynomial ports): "
            f"{m['xla'] / m['ours']:.1f}x faster, largest difference {err:.1e}. `jaxsched.polynomial` over the same "
            f"grid shape takes {fmt_med(t['poly'])}, {m['poly'] / m['write']:.2f}x the trivial write "
            f"({fmt_med(t['write'])}).")
