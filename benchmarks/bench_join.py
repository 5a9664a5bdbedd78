"""Benchmark 2: ``join`` cost per element and compile time vs the number of pieces.

A join of n cosine pieces (n in 2, 4, 8, 32, 128; piece i decays from 1/(i+1)
to 0 over S/n steps) is evaluated on S steps. jaxsched groups pieces of one
family; from 5 members on it looks the active piece's hyperparameters up (a
select chain, or a gather above 8), so its cost per element should barely grow
with n. Up to 4 members it evaluates each on its own (hoisting each one's
start and reciprocal length out of the loop over steps), which is faster for
so few; the 2-piece join is therefore also timed as the lookup evaluates it
(traced with that path forced, ``_lookup_only``). ``optax.join_schedules`` of
the same pieces evaluates every piece at every step (a chain of
``jnp.where``). A mixed join (cosine and linear pieces alternating: two
families) is shown for reference, and so is the 128-piece join written by hand
as a lookup (``_hand_lookup``), the same per-step work with every piece's
constants precomputed.

jaxsched's programs are interleaved among themselves and optax's among
themselves: optax's calls are 70-600x longer and left every jaxsched sample
that followed one cold.

Compile time is the time to trace and lower (``jax.jit(f).lower(s)``) plus the
XLA compile (``.compile()``), each a fresh function after ``jax.clear_caches()``,
so nothing is cached.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import Check, Config, Section, fmt_med, fmt_time, interleaved, median, status_cell, table

import jaxsched

NAME = "join"
TITLE = "join: cost per element and compile time vs number of pieces"

PIECES = (2, 4, 8, 32, 128)


@contextlib.contextmanager
def _patched(module: Any, **values: Any) -> Iterator[None]:
    """Module constants set to ``values`` inside (the paths a join takes are chosen when it is traced)."""
    old = {k: getattr(module, k) for k in values}
    for k, v in values.items():
        setattr(module, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(module, k, v)


def _lookup_only() -> contextlib.AbstractContextManager[None]:
    """Joins traced inside look every family's members up, as families of 5 or more are (no member evaluated alone)."""
    return _patched(jaxsched._join, _EACH_MAX=0)


def _compiled(s: Any, steps: Any) -> Any:
    """``s(steps)`` compiled now, under whatever paths are patched (a fresh jit: not the cached program of ``s``)."""
    return jax.jit(lambda s: jaxsched._base.eval_time(s, jaxsched._base.as_time(steps))).lower(s).compile()


def _by_lookup(s: Any, steps: Any) -> Any:
    """``s(steps)`` compiled with every join family looked up."""
    with _lookup_only():
        return _compiled(s, steps)


# The earlier paths of two joins, forced, against the paths they take (the same join each way, this run):
# the piece of a 128-piece join counted in two levels (no buckets: _base._count_keys), and the 8 pieces of
# one family selected leaf by leaf per step (not stacked: _join._WHERE_MAX was 8). (pieces, patch, name)
_EARLIER = (
    (128, (jaxsched._base, {"_BUCKET_MIN_SIZE": 2**62}), "the two-level count (no buckets)"),
    (8, (jaxsched._join, {"_WHERE_MAX": 8}), "each leaf selected per step (not stacked)"),
)


def _small_joins(S: int) -> dict[str, Callable[[], Any]]:
    """Joins of 2-3 pieces of one family: where evaluating each piece and the lookup differ most."""
    h = S // 2
    return {
        "onecycle (3 phases)": lambda: jaxsched.onecycle(S, 1.0),
        "2 sgdr pieces": lambda: jaxsched.join([jaxsched.sgdr(1.0, 1000, 2.0), jaxsched.sgdr(0.5, 3000, 2.0)], [h]),
        "2 polynomial pieces": lambda: jaxsched.join(
            [jaxsched.polynomial(1.0, 0.1, h, 2.0), jaxsched.polynomial(0.5, 0.0, S - h, 3.0)], [h]),
    }


def _pieces(n: int, S: int, mixed: bool = False) -> tuple[list[Any], list[int], int]:
    L = S // n
    bounds = [L * i for i in range(1, n)]
    ps = []
    for i in range(n):
        if mixed and i % 2:
            ps.append(jaxsched.linear(1.0 / (i + 1), 0.0, L))
        else:
            ps.append(jaxsched.cosine(1.0 / (i + 1), 0.0, L))
    return ps, bounds, L


def _optax_join(n: int, S: int) -> Callable[[Any], Any]:
    L = S // n
    return optax.join_schedules(
        [optax.cosine_decay_schedule(1.0 / (i + 1), L) for i in range(n)], [L * i for i in range(1, n)]
    )


def _hand_lookup(n: int, S: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """A 128-cosine join written by hand in ``jnp`` as a lookup: what the per-element target asks of any code.

    Everything per piece comes in precomputed (NumPy), so the program holds only the per-step work:
    the piece from buckets of ``2**shift`` steps over the boundaries (a shift, two gathers), then each
    piece's start, ``1 / (2 steps)``, midpoint, end point, values and ``init - end`` gathered per step,
    and the float32 cosine of ``jaxsched.functional`` (``cos(pi y)**2`` from the nearer end). Valid
    for these boundaries only (at most one per bucket, integers, sorted): no fallback, no exact path
    for float or large steps, no gradient rules.
    """
    from jaxsched.functional import _sin_pi4

    L = S // n
    b = np.arange(1, n, dtype=np.int64) * L
    off = b - b[0]
    nb = 1 << (8 * n - 1).bit_length()
    shift = max(int(off[-1] - 1).bit_length() - (nb.bit_length() - 1), 0)
    table = np.searchsorted(off, np.arange(nb) << shift, side="right")
    assert np.all(np.diff(off >> shift) > 0), "one boundary per bucket"
    init = 1.0 / (np.arange(n) + 1.0)
    length = np.full(n, float(L))
    h = 0.5 / length
    consts = [np.r_[0, b], h, length * h, 0.5 * length, np.zeros(n), init, init]  # starts .. end, init, drop
    i32 = [jnp.asarray(x, jnp.int32) for x in (b[0], off, table, shift)]
    args = (*i32, *[jnp.asarray(c, jnp.int32 if i == 0 else jnp.float32) for i, c in enumerate(consts)])

    def f(t: Any, lo: Any, off: Any, table: Any, shift: Any, starts: Any, h: Any, endh: Any, half: Any,
          end: Any, init: Any, drop: Any) -> Any:
        d = t - lo
        base = table[jnp.clip(d >> shift, 0, nb - 1)]
        idx = jnp.where(d < 0, 0, base + (d >= off[jnp.minimum(base, n - 2)]).astype(jnp.int32))
        idx = jnp.where(d >= off[-1], n - 1, idx)
        local = (t - starts[idx]).astype(jnp.float32)
        a = local * h[idx]
        tail = local > half[idx]
        y = jnp.maximum(jnp.where(tail, endh[idx] - a, a), 0.0)
        dr = drop[idx]
        return jnp.where(tail, end[idx], init[idx]) + jnp.where(tail, dr, -dr) * jnp.square(_sin_pi4(y))

    return jax.jit(f), args


Maker = Callable[[], tuple[Callable[..., Any], tuple[Any, ...]]]


def _compile_times(make: Maker, reps: int) -> tuple[list[float], list[float]]:
    """(trace+lower seconds, XLA compile seconds), ``reps`` fresh functions each.

    JAX's caches are cleared first: schedules evaluate through a module-level
    ``jax.jit`` whose trace is cached per structure, and the first call of a new
    structure (what the target is about) pays that trace too.
    """
    lower_t, comp_t = [], []
    for _ in range(reps):
        jax.clear_caches()
        fn, args = make()
        t0 = time.perf_counter()
        low = jax.jit(fn).lower(*args)
        t1 = time.perf_counter()
        low.compile()
        t2 = time.perf_counter()
        lower_t.append(t1 - t0)
        comp_t.append(t2 - t1)
    return lower_t, comp_t


def run(cfg: Config) -> Section:
    S = cfg.pick(1_000_000, 200_000)
    reps = cfg.repeats
    creps = cfg.pick(5, 3)
    steps = jnp.arange(S)
    thunks: dict[str, Callable[[], Any]] = {}
    compile_rows: dict[str, tuple[list[float], list[float]]] = {}
    errs: dict[int, float] = {}

    for n in PIECES:
        ps, bounds, L = _pieces(n, S)
        s = jaxsched.join(ps, bounds)
        f = jax.jit(lambda s: s(steps))
        thunks[f"jaxsched-{n}"] = (lambda f=f, s=s: f(s))
        o = jax.jit(_optax_join(n, S))
        thunks[f"optax-{n}"] = (lambda o=o: o(steps))
        errs[n] = float(jnp.max(jnp.abs(f(s) - o(steps))))

        def make_js(n: int = n) -> tuple[Callable[..., Any], tuple[Any, ...]]:
            ps, bounds, _ = _pieces(n, S)
            return (lambda s: s(steps)), (jaxsched.join(ps, bounds),)

        def make_ox(n: int = n) -> tuple[Callable[..., Any], tuple[Any, ...]]:
            sched = _optax_join(n, S)
            return (lambda k: sched(k)), (steps,)

        compile_rows[f"jaxsched-{n}"] = _compile_times(make_js, creps)
        compile_rows[f"optax-{n}"] = _compile_times(make_ox, creps)

    # Reference: compiling a single cosine (no join) in the same run, to read the compile times against.
    ref_lo, ref_co = _compile_times(lambda: ((lambda s: s(steps)), (jaxsched.cosine(1.0, 0.0, S),)), creps)
    ref_c = median([a + b for a, b in zip(ref_lo, ref_co)])

    # The 2-piece join by lookup, and small joins as the presets and users build them, each way.
    ps, bounds, _ = _pieces(2, S)
    s2 = jaxsched.join(ps, bounds)
    f2 = _by_lookup(s2, steps)
    thunks["lookup-2"] = lambda: f2(s2)
    err_lookup = float(jnp.max(jnp.abs(f2(s2) - jax.jit(lambda s: s(steps))(s2))))
    small_err: dict[str, float] = {}
    for name, make in _small_joins(S).items():
        sj, fe = make(), jax.jit(lambda s: s(steps))
        fl = _by_lookup(sj, steps)
        thunks[f"each:{name}"] = lambda fe=fe, sj=sj: fe(sj)
        thunks[f"lookup:{name}"] = lambda fl=fl, sj=sj: fl(sj)
        small_err[name] = float(jnp.max(jnp.abs(fe(sj) - fl(sj))))

    earlier_err: dict[int, float] = {}
    for n, (module, patch), _ in _EARLIER:
        with _patched(module, **patch):  # built inside too: a join fixes its stacking when first flattened
            se = jaxsched.join(*_pieces(n, S)[:2])
            fe = _compiled(se, steps)
        thunks[f"earlier-{n}"] = lambda fe=fe, se=se: fe(se)
        now = jax.jit(lambda s: s(steps))(jaxsched.join(*_pieces(n, S)[:2]))
        earlier_err[n] = float(jnp.max(jnp.abs(fe(se) - now)))

    hand, hand_args = _hand_lookup(max(PIECES), S)
    thunks["hand"] = lambda: hand(steps, *hand_args)
    err_hand = float(jnp.max(jnp.abs(hand(steps, *hand_args) - jax.jit(lambda s: s(steps))(s))))

    ps, bounds, _ = _pieces(max(PIECES), S, mixed=True)
    sm = jaxsched.join(ps, bounds)
    fm = jax.jit(lambda s: s(steps))
    thunks["mixed"] = lambda: fm(sm)

    # optax's programs take 70-600x longer per call than jaxsched's and sweep the caches and the heap:
    # interleaved with them, each jaxsched sample began cold (its first calls ~50% slower, medians
    # 4.8-5.1 against 3.7 ns per element run alone for the 128-piece join). Each library's programs are
    # interleaved among themselves, one group after the other, in the same run.
    ours = {k: v for k, v in thunks.items() if not k.startswith("optax-")}
    times = interleaved(ours, reps)
    times.update(interleaved({k: v for k, v in thunks.items() if k.startswith("optax-")}, reps))

    base = median(times[f"jaxsched-{PIECES[0]}"])
    lookup = median(times["lookup-2"])
    rows, checks = [], []
    for n in PIECES:
        js = median(times[f"jaxsched-{n}"])
        ox = median(times[f"optax-{n}"])
        lo, co = compile_rows[f"jaxsched-{n}"]
        olo, oco = compile_rows[f"optax-{n}"]
        tot = median([a + b for a, b in zip(lo, co)])
        otot = median([a + b for a, b in zip(olo, oco)])
        cells = ["", ""]
        if n == max(PIECES):
            c1 = Check(NAME, f"{n} pieces / 2 pieces, time per element", js / base, "<=", 3.0)
            c2 = Check(NAME, f"{n} pieces: trace+lower+compile", tot, "<=", 0.5, unit="s")
            c3 = Check(NAME, f"{n} pieces / 2 pieces by lookup (the path of 5+ pieces), time per element "
                       "(informational)", js / lookup, "<=", 3.0)
            checks += [c1, c2, c3]
            cells = [" " + status_cell(c1), " " + status_cell(c2)]
        rows.append([
            n,
            f"{js / S * 1e9:.2f} ({fmt_med(times[f'jaxsched-{n}'])})",
            f"{js / base:.2f}x{cells[0]}",
            f"{fmt_time(median(lo))} + {fmt_time(median(co))} = {fmt_time(tot)}{cells[1]} ({tot / ref_c:.1f}x)",
            f"{ox / S * 1e9:.2f}",
            f"{ox / js:.1f}x",
            f"{fmt_time(median(olo))} + {fmt_time(median(oco))} = {fmt_time(otot)}",
            f"{errs[n]:.1e}",
        ])
    mixed = median(times["mixed"])
    lines = [
        f"S = {S:,} steps; runtime medians of {reps} interleaved repeats, compile times medians of {creps} fresh "
        "functions. Targets: 128 pieces ≤ 3x the per-element time of 2 pieces; trace+lower+compile of 128 pieces "
        "≤ 0.5 s.",
        "",
    ]
    lines += table(
        ["pieces", "jaxsched ns/elem (total)", "vs 2 pieces", "jaxsched lower + compile", "optax ns/elem",
         "optax / jaxsched", "optax lower + compile", "max abs diff"],
        rows,
    )
    lines += ["", f"(…x): compile time relative to compiling one plain cosine in this run "
              f"({fmt_time(median(ref_lo))} + {fmt_time(median(ref_co))} = {fmt_time(ref_c)}), which is less "
              "sensitive to the machine's speed and load than the absolute time.",
              "", f"The 2-piece join by lookup (each family's members looked up, as from 5 members on; see the "
              f"module docstring): {lookup / S * 1e9:.2f} ns/elem ({fmt_med(times['lookup-2'])}), {lookup / base:.2f}x "
              f"the 2-piece join as it runs (each piece evaluated on its own); {max(PIECES)} pieces / 2 pieces by "
              f"lookup: {median(times[f'jaxsched-{max(PIECES)}']) / lookup:.2f}x; max abs diff {err_lookup:.1e}.",
              "", "Small joins, each piece on its own (as they run) against the lookup (forced):", ""]
    lines += table(
        ["join", "each piece: ns/elem", "by lookup: ns/elem", "lookup / each", "max abs diff"],
        [[name, f"{median(times[f'each:{name}']) / S * 1e9:.2f}", f"{median(times[f'lookup:{name}']) / S * 1e9:.2f}",
          f"{median(times[f'lookup:{name}']) / median(times[f'each:{name}']):.2f}x", f"{err:.1e}"]
         for name, err in small_err.items()],
    )
    lines += ["", "The same joins on the paths they took before (forced, this run):", ""]
    lines += table(
        ["join", "as it runs: ns/elem", "earlier path", "earlier path: ns/elem", "earlier / as it runs",
         "max abs diff"],
        [[f"{n} cosines", f"{median(times[f'jaxsched-{n}']) / S * 1e9:.2f}", name,
          f"{median(times[f'earlier-{n}']) / S * 1e9:.2f}",
          f"{median(times[f'earlier-{n}']) / median(times[f'jaxsched-{n}']):.2f}x", f"{earlier_err[n]:.1e}"]
         for n, _, name in _EARLIER],
    )
    hand_t, top = median(times["hand"]), median(times[f"jaxsched-{max(PIECES)}"])
    lines += ["", f"The {max(PIECES)}-piece join written by hand as a lookup (`_hand_lookup`: every piece's constants "
              "precomputed, the piece from buckets and its constants gathered per step, jaxsched's cosine kernel; "
              "for these boundaries only): "
              f"{hand_t / S * 1e9:.2f} ns/elem ({fmt_med(times['hand'])}), {hand_t / base:.2f}x the 2-piece join; "
              f"jaxsched's {max(PIECES)}-piece join / it: {top / hand_t:.2f}x; max abs diff {err_hand:.1e}. "
              "XLA:CPU loads gathered values one element at a time (scalar loads inserted into the vector loop): "
              "the lookup per step of the piece and its settings is what a large join costs, and written by "
              "hand it is no faster. The 2-piece join evaluates each piece on its own, with no lookup."]
    lines += ["", f"Mixed join of {max(PIECES)} pieces (cosine and linear alternating, two families): "
              f"{mixed / S * 1e9:.2f} ns/elem ({mixed / base:.2f}x the 2-piece join)."]
    return Section(NAME, TITLE, lines, checks)
