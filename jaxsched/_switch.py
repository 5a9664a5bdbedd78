"""A switch between equivalent forms that stays a switch under ``vmap`` where the batch agrees.

Some settings have a cheaper form with the same values: a growth leaf of exactly
2 is period doubling (the cycle from a float's exponent bits), one of exactly 1
is equal periods (one division), against the general closed form's logarithm
and exponential per step. Under ``jax.vmap`` over a grid of settings, a
``lax.switch`` on a setting's value is batched into a select that runs every
branch, so the general form would have to compute them all and select.

:func:`uniform_switch` is ``lax.switch`` with a batching rule (``custom_vmap``):
where every member of the batch has the same key (a sweep of periods at a
growth of 2: the common grid), the batch runs that one branch; where they
differ, the general form alone (the last branch), which is valid for every key.
Branch ``j`` must give the general form's values where the key is ``j``, so
which of them runs changes no number, only the time.

Derivatives are the general form's (a ``custom_jvp`` whose rule is the JVP of
the last branch): the cheap forms may hold a leaf as structure (doubling has no
growth leaf), and the gradient must not depend on which form ran. Forward and
reverse mode both work (``custom_vmap`` alone has no transpose; here it only
ever runs on primals).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

Branch = Callable[[Any], jax.Array]


def uniform_switch(
    key: jax.Array, branches: Sequence[Branch], operands: Any, *, size: Any = 0, min_size: int = 0
) -> jax.Array:
    """``branches[key](operands)``; under ``vmap``, one branch for the whole batch (see module docstring).

    ``key`` is an int32 scalar (per member of a batch); ``branches[-1]`` is valid for every key, and
    ``branches[j]`` gives its values where ``key == j``. An evaluation of fewer than ``min_size``
    elements (``size`` per member, times the members under ``vmap``) runs the general form alone:
    the switch compiles every branch, which costs more than it saves there.
    """
    general = branches[-1]

    @jax.custom_jvp
    def run(key: jax.Array, operands: Any) -> jax.Array:
        return _switch(key, tuple(branches), operands, size, min_size)

    @run.defjvp
    def _jvp(primals: tuple[Any, Any], tangents: tuple[Any, Any]) -> tuple[jax.Array, jax.Array]:
        return jax.jvp(general, (primals[1],), (tangents[1],))

    return run(key, operands)


def _large(size: Any, min_size: int) -> bool:
    """Whether ``size >= min_size``; a symbolic size (``jax.export``'s shape polymorphism), whose
    comparison cannot be decided when tracing, counts as small: the general form, no conditional."""
    return isinstance(size, int) and size >= min_size


def _switch(key: jax.Array, branches: tuple[Branch, ...], operands: Any, size: Any, min_size: int) -> jax.Array:
    def plain(key: jax.Array, operands: Any) -> jax.Array:
        if not _large(size, min_size):
            return branches[-1](operands)
        return jax.lax.switch(key, branches, operands)

    switch = jax.custom_batching.custom_vmap(plain)

    @switch.def_vmap
    def _rule(axis_size: int, in_batched: Any, key: jax.Array, operands: Any) -> tuple[jax.Array, bool]:
        key_batched, ops_batched = in_batched
        if not any(jax.tree_util.tree_leaves(ops_batched)):  # (a key batched alone: every member agrees in value)
            return branches[-1](operands), False
        axes = jax.tree_util.tree_map(lambda b: 0 if b else None, ops_batched)
        mapped = tuple(lambda ops, f=f: jax.vmap(f, in_axes=(axes,))(ops) for f in branches)
        if not _large(size * axis_size, min_size):  # (before reading key[0]: an empty batch is small)
            return mapped[-1](operands), True
        if key_batched:
            first = key[0]
            key = jnp.where(jnp.all(key == first), first, len(branches) - 1)
        # Itself a switch with this rule: an outer vmap (a grid of grids) batches the key once more.
        return _switch(key, mapped, operands, size * axis_size, min_size), True

    return switch(key, operands)
