"""Sweeps at scale: place a grid's batch axis across devices and processes.

A sweep is embarrassingly parallel: setting ``g`` never needs setting ``h``.
So the whole recipe is JAX's own SPMD machinery, with no ``shard_map`` and no
``pmap``:

1. build a mesh whose ``grid`` axis spans the devices (:func:`sweep_mesh`,
   always ``AxisType.Auto``: in jax >= 0.9 ``jax.make_mesh`` defaults to
   Explicit axes, under which a vmapped ``lax.scan`` whose carry starts from an
   unbatched constant fails to trace);
2. pad the grid to a multiple of the axis size and place it with
   ``NamedSharding(mesh, P("grid"))`` (:func:`shard_grid`, which also returns
   the validity mask of the padded rows);
3. run ``jit(vmap(train))`` (:func:`sweep`): XLA partitions the batch axis and,
   because nothing couples the settings, emits no collective on it;
4. bring the results home, dropping the padding (:func:`gather`; on several
   processes it is an all-gather that every process must call).

A second mesh axis (``data``) gives each model data parallelism: see
:func:`sweep_mesh` and :func:`shard_data`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from ._grid import Grid

_COLLECTIVE = re.compile(
    r"\b(all-reduce|all-gather|all-to-all|ragged-all-to-all|collective-permute|reduce-scatter|"
    r"collective-broadcast)(-start)?\("
)


def _check_name(where: str, name: str, x: Any) -> None:
    if not isinstance(x, str) or not x:
        raise TypeError(f"{where}: {name} must be a non-empty string, got {x!r}")


def sweep_mesh(
    devices: Any = None,
    *,
    axis: str = "grid",
    data_axis: str | None = None,
    data_size: int = 1,
) -> Mesh:
    """A mesh for sweeps: a ``grid`` axis, optionally a ``data`` axis, Auto axis types.

    .. math:: \\text{mesh shape} = (D / d,\\; d), \\quad D = \\text{number of devices},\\; d = \\text{data\\_size}

    With ``data_axis=None`` the mesh is 1-D, ``(axis,)`` over all devices (every
    process's devices under ``jax.distributed``). With a ``data_axis`` it is
    ``(axis, data_axis)`` of shape ``(D // data_size, data_size)``: each setting
    is trained on ``data_size`` devices with its batch split across them.
    Axes are ``AxisType.Auto`` (see the module docstring for why).

    Args:
      devices: the devices to use, default ``jax.devices()``.
      axis: the name of the grid axis.
      data_axis: the name of the per-model data axis, or ``None``.
      data_size: devices per setting along ``data_axis``; must divide ``D``.

    >>> import jaxsched
    >>> mesh = jaxsched.sweep_mesh()
    >>> mesh.axis_names, mesh.shape["grid"] == len(mesh.devices.ravel())
    (('grid',), True)
    """
    _check_name("sweep_mesh", "axis", axis)
    devs = list(jax.devices() if devices is None else devices)
    if not devs:
        raise ValueError("sweep_mesh: no devices given")
    if not isinstance(data_size, (int, np.integer)) or isinstance(data_size, bool) or data_size < 1:
        raise ValueError(f"sweep_mesh: data_size must be an int >= 1, got {data_size!r}")
    if data_axis is None:
        if data_size != 1:
            raise ValueError(f"sweep_mesh: data_size={data_size} needs a data_axis name")
        return jax.make_mesh((len(devs),), (axis,), axis_types=(AxisType.Auto,), devices=devs)
    _check_name("sweep_mesh", "data_axis", data_axis)
    if data_axis == axis:
        raise ValueError(f"sweep_mesh: data_axis must differ from axis, both are {axis!r}")
    if len(devs) % data_size:
        raise ValueError(f"sweep_mesh: data_size={data_size} does not divide the {len(devs)} devices")
    shape = (len(devs) // int(data_size), int(data_size))
    return jax.make_mesh(shape, (axis, data_axis), axis_types=(AxisType.Auto, AxisType.Auto), devices=devs)


def _leading(where: str, tree: Any) -> int:
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        raise ValueError(f"{where}: the tree has no array leaves")
    sizes = set()
    for x in leaves:
        if np.ndim(x) == 0:
            raise ValueError(f"{where}: every leaf needs a leading grid axis, got a scalar leaf {x!r}")
        sizes.add(int(np.shape(x)[0]))
    if len(sizes) != 1:
        raise ValueError(f"{where}: leaves have different leading sizes {sorted(sizes)}")
    n = sizes.pop()
    if n == 0:
        raise ValueError(f"{where}: the grid is empty")
    return n


def _host(where: str, x: Any) -> np.ndarray:
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        raise ValueError(
            f"{where}: a leaf is already spread over several processes; build the grid on the host "
            "(identically on every process) and pass it unsharded"
        )
    return np.asarray(x)


def shard_grid(tree: Any, mesh: Mesh | None = None, *, axis: str = "grid") -> tuple[Any, jax.Array]:
    """Pad a grid to a multiple of the device count and place it across devices.

    With ``n`` settings and ``k = mesh.shape[axis]`` devices on the grid axis,
    every leaf is padded along its leading axis to ``m = k * ceil(n / k)``
    rows by repeating the last setting (a real, finite setting, so padded
    runs cost time but never produce NaN), and placed with
    ``NamedSharding(mesh, P(axis))``: each device holds ``m / k`` settings and
    is replicated along any other mesh axis. The mask ``valid[i] = i < n``
    marks the real rows; reduce with it (``jnp.where(valid, loss, jnp.inf)``)
    or drop the padding with :func:`gather`.

    Under ``jax.distributed`` call it on every process with the same host
    grid; each process places only its own devices' rows
    (``jax.make_array_from_callback``).

    Args:
      tree: a :class:`~jaxsched.Grid` (its ``schedules`` are placed) or any
        pytree whose leaves share a leading grid axis (e.g. ``(schedules, keys)``).
      mesh: default :func:`sweep_mesh` over all devices.
      axis: the mesh axis that carries the grid.

    Returns:
      ``(placed_tree, valid)``; ``valid`` is a boolean array of shape ``(m,)``
      sharded like the grid.

    >>> import jaxsched
    >>> g = jaxsched.grid(jaxsched.constant, value=[0.1, 0.2, 0.3])
    >>> sched, valid = jaxsched.shard_grid(g)
    >>> valid.shape[0] % len(jaxsched.sweep_mesh().devices.ravel()), bool(valid[:3].all())
    (0, True)
    """
    if isinstance(tree, Grid):
        tree = tree.schedules
    mesh = sweep_mesh(axis=axis) if mesh is None else mesh
    if not isinstance(mesh, Mesh):
        raise TypeError(f"shard_grid: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    if axis not in mesh.axis_names:
        raise ValueError(f"shard_grid: axis {axis!r} is not an axis of the mesh {mesh.axis_names}")
    n = _leading("shard_grid", tree)
    k = int(mesh.shape[axis])
    m = -(-n // k) * k
    sharding = NamedSharding(mesh, P(axis))

    def place(x: Any) -> jax.Array:
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            # Typed PRNG keys (jax.random.key): place their raw data, then wrap it with the same impl.
            return jax.random.wrap_key_data(place(jax.random.key_data(x)), impl=jax.random.key_impl(x))
        a = _host("shard_grid", x)
        if m > n:
            a = np.concatenate([a, np.repeat(a[-1:], m - n, axis=0)], axis=0)
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])

    valid = np.arange(m) < n
    return jax.tree_util.tree_map(place, tree), jax.make_array_from_callback(valid.shape, sharding, lambda i: valid[i])


def shard_data(x: Any, mesh: Mesh, *, data_axis: str | None = "data") -> Any:
    """Place shared data (the same for every setting): split along ``data_axis``, or replicated.

    With a ``data_axis``, every leaf's leading axis (the examples) is split
    over it and replicated over the grid axis: ``NamedSharding(mesh,
    P(data_axis))``. Inside the vmapped train function, keep per-model
    activations split the same way with ``jax.lax.with_sharding_constraint(h,
    NamedSharding(mesh, P(data_axis)))``; :func:`sweep` vmaps with
    ``spmd_axis_name`` so that the constraint also keeps the grid axis
    sharded. The only communication is then each model's gradient
    all-reduce over its own ``data_axis`` group.

    With ``data_axis=None`` every leaf is replicated on every device of the
    mesh (``P()``): the way to hand shared host data to a sweep under
    ``jax.distributed``, where every process passes the same host array.

    >>> import numpy as np, jaxsched
    >>> mesh = jaxsched.sweep_mesh(data_axis="data", data_size=1)
    >>> jaxsched.shard_data(np.zeros((4, 3), np.float32), mesh).shape
    (4, 3)
    """
    if not isinstance(mesh, Mesh):
        raise TypeError(f"shard_data: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    if data_axis is not None and data_axis not in mesh.axis_names:
        raise ValueError(f"shard_data: data_axis {data_axis!r} is not an axis of the mesh {mesh.axis_names}")
    sharding = NamedSharding(mesh, P() if data_axis is None else P(data_axis))
    k = 1 if data_axis is None else int(mesh.shape[data_axis])

    def place(leaf: Any) -> jax.Array:
        a = _host("shard_data", leaf)
        if k > 1 and (a.ndim == 0 or a.shape[0] % k):
            raise ValueError(
                f"shard_data: a leaf of shape {a.shape} cannot be split into {k} equal parts along its first axis"
            )
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])

    return jax.tree_util.tree_map(place, x)


def sweep(
    fn: Callable[..., Any],
    *,
    in_axes: Any = 0,
    out_axes: Any = 0,
    axis: str = "grid",
    mesh: Mesh | None = None,
) -> Callable[..., Any]:
    """``jax.jit(jax.vmap(fn, in_axes, out_axes, spmd_axis_name=axis))``: one program for the whole grid.

    .. math:: \\text{sweep}(f)(x_{1..G}, c) = (f(x_1, c), \\dots, f(x_G, c))

    Map the grid arguments over axis 0 and pass shared arguments (data, a
    key shared by all settings) with ``None`` in ``in_axes``. With grid
    arguments from :func:`shard_grid`, XLA runs each device's slice of the
    grid locally. ``spmd_axis_name`` ties the vmapped axis to the mesh's grid
    axis, which matters when ``fn`` itself constrains shardings (the ``data``
    axis of a 2-D mesh); with unsharded inputs the same function runs on one
    device.

    With ``mesh``, every output is pinned to ``NamedSharding(mesh, P(axis))``
    (``out_axes`` must then be 0). Without it XLA chooses output shardings,
    and an output that does not depend on the grid arguments (initial
    parameters built from a shared key) may come back replicated: every
    device then holds every model, and feeding it back in compiles a second
    program. Pass the mesh whenever outputs are fed back (training state).

    >>> import jax.numpy as jnp, jaxsched
    >>> g = jaxsched.grid(jaxsched.linear, init_value=[1.0, 2.0], end_value=0.0, steps=4)
    >>> run = jaxsched.sweep(lambda s, t: s(t).sum(), in_axes=(0, None))
    >>> run(g.schedules, jnp.arange(5)).tolist()
    [2.5, 5.0]
    """
    if not callable(fn):
        raise TypeError(f"sweep: fn must be callable, got {fn!r}")
    _check_name("sweep", "axis", axis)
    mapped = jax.vmap(fn, in_axes=in_axes, out_axes=out_axes, spmd_axis_name=axis)
    if mesh is None:
        return jax.jit(mapped)
    if not isinstance(mesh, Mesh):
        raise TypeError(f"sweep: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    if axis not in mesh.axis_names:
        raise ValueError(f"sweep: axis {axis!r} is not an axis of the mesh {mesh.axis_names}")
    if not (isinstance(out_axes, int) and out_axes == 0):
        raise ValueError(f"sweep: with a mesh, out_axes must be 0 (outputs are sharded along it), got {out_axes!r}")
    return jax.jit(mapped, out_shardings=NamedSharding(mesh, P(axis)))


def gather(tree: Any, valid: Any = None) -> Any:
    """The results of a sweep as host NumPy arrays, padding rows dropped.

    On one process this is ``np.asarray`` per leaf. Under ``jax.distributed``
    every leaf spread across processes is all-gathered
    (``jax.experimental.multihost_utils.process_allgather``), so **every
    process must call it**; afterwards each holds the full results (print or
    save them on ``jax.process_index() == 0``). With ``valid`` (from
    :func:`shard_grid`) the rows where it is false are dropped from every
    leaf whose leading size equals ``len(valid)``.

    >>> import numpy as np, jaxsched
    >>> g = jaxsched.grid(jaxsched.constant, value=[0.1, 0.2, 0.3])
    >>> sched, valid = jaxsched.shard_grid(g)
    >>> jaxsched.gather(sched.value * 10, valid).round(3).tolist()
    [1.0, 2.0, 3.0]
    """
    multi = jax.process_count() > 1

    def host(x: Any) -> np.ndarray:
        if multi and isinstance(x, jax.Array) and not x.is_fully_addressable:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    out = jax.tree_util.tree_map(host, tree)
    if valid is None:
        return out
    mask = host(valid)
    if mask.ndim != 1 or mask.dtype != np.bool_:
        raise ValueError(f"gather: valid must be a 1-D boolean mask, got {mask.dtype} of shape {mask.shape}")

    def drop(x: np.ndarray) -> np.ndarray:
        return x[mask] if x.ndim >= 1 and x.shape[0] == mask.shape[0] else x

    return jax.tree_util.tree_map(drop, out)


def collectives(fn: Any, *args: Any, **kwargs: Any) -> list[str]:
    """The cross-device collectives in the compiled program of ``fn(*args, **kwargs)``.

    Compiles ``fn`` (jitting it if needed) for the given arguments, or takes
    an already compiled program (``jax.jit(f).lower(...).compile()``, no
    arguments), and returns the HLO instructions that communicate
    (all-reduce, all-gather, all-to-all, collective-permute, reduce-scatter,
    ...). A sweep over a 1-D grid mesh should return ``[]``; on a
    ``(grid, data)`` mesh only each model's all-reduce over its ``data``
    group should appear.

    >>> import jax.numpy as jnp, jaxsched
    >>> g = jaxsched.grid(jaxsched.constant, value=[0.1, 0.2])
    >>> jaxsched.collectives(jaxsched.sweep(lambda s: s(3)), g.schedules)
    []
    """
    if isinstance(fn, jax.stages.Compiled):
        if args or kwargs:
            raise TypeError("collectives: a compiled program takes no arguments")
        text = fn.as_text()
    else:
        jitted = fn if hasattr(fn, "lower") else jax.jit(fn)
        text = jitted.lower(*args, **kwargs).compile().as_text()
    return [line.strip() for line in text.splitlines() if _COLLECTIVE.search(line)]
