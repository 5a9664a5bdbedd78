"""``program``: jit for jaxsched's own top-level programs, 512-bit vectors on CPU.

XLA:CPU vectorises 256 bits wide by default, even on CPUs with AVX-512.
Schedules are elementwise arithmetic, bound by instruction throughput, and
512-bit vectors run them about 1.2x (warmup-cosine, WSD) to 1.6x (SGDR)
faster on such CPUs (``benchmarks/RESULTS.md``) with the same bits: the
vector width changes how many lanes one instruction covers, not the
arithmetic of a lane.

``XLA_FLAGS=--xla_cpu_prefer_vector_width=512`` would change every program of
the process, so jaxsched does not set it. It asks for the width only for the
programs it compiles *itself* at the top level: a schedule called outside any
transformation, :func:`jaxsched.evaluate`, the plot and table helpers. JAX
accepts ``compiler_options`` only on a top-level ``jit``: while any trace is
active (a user's ``jit``, ``vmap``, ``grad``, ``scan``..., even with constant
arguments) the plain ``jit`` is used and the schedule is inlined into the
user's program as before. CPUs without AVX-512 use their widest vectors, as by
default. Other backends get the plain ``jit``.

"At the top level" is JAX's own test, ``jax._src.core.trace_state_clean``: no
public API says it. A JAX without it gets the plain ``jit`` everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax

try:
    from jax._src.core import trace_state_clean as _top_level
except ImportError:  # pragma: no cover - a JAX that moved it: never the wide jit

    def _top_level() -> bool:
        return False

# A field of XLA's DebugOptions, accepted per compilation by jax.jit(compiler_options=...).
CPU_OPTIONS: dict[str, Any] = {"xla_cpu_prefer_vector_width": 512}


def program(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``jax.jit(fn)``; at the top level on CPU, compiled for 512-bit vectors (same results).

    The returned callable keeps both compiled functions as ``.plain`` and
    ``.wide`` (each with its own cache: one compile per structure and shape).
    """
    plain = jax.jit(fn)
    wide = jax.jit(fn, compiler_options=CPU_OPTIONS)

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        # Not a check on the arguments: a jit of constants under a user's trace is staged too.
        if _top_level() and jax.default_backend() == "cpu":
            return wide(*args)
        return plain(*args)

    call.plain = plain  # type: ignore[attr-defined]
    call.wide = wide  # type: ignore[attr-defined]
    return call
