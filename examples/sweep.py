"""Train a grid of learning-rate schedules at once: 64 settings x 3 seeds in one jit(vmap(...)).

The data set is scikit-learn's handwritten digits (it ships inside the
package; nothing is downloaded). Each model is a small MLP trained with Adam.
The grid is peak rate x warmup length x decay shape (4 x 4 x 4 = 64 settings),
each trained from 3 seeds: 192 models in one compiled program, one call per
epoch (the progress bar). At the end the settings are ranked by validation
accuracy and a PNG of the applied rate curves and the loss curves is written.

Run (needs the ``examples`` extras: scikit-learn, tqdm, matplotlib):

    python examples/sweep.py                       # about a minute on a 2-core CPU
    python examples/sweep.py --shard               # spread the grid over all devices
    XLA_FLAGS=--xla_force_host_platform_device_count=8 python examples/sweep.py --shard

With ``--shard`` the grid is padded to a multiple of the device count and
placed with ``jaxsched.shard_grid``; the same script runs unchanged on several
GPUs, or on every host of a TPU pod slice after ``jax.distributed.initialize()``
(see docs/sweeps.md).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxsched

DECAYS = ("none", "linear", "cosine", "1-sqrt")


def make_schedule(peak_value: float, warmup_steps: int, decay: str, total_steps: int) -> jaxsched.Schedule:
    """Warmup, then decay to zero over the rest of the run in the given shape ("none": stay at peak).

    Every setting is a ``wsd`` schedule (so all 64 share one structure): the
    decay shape is an index leaf, and "none" is a cooldown of length zero.
    """
    decay_steps = 0 if decay == "none" else total_steps - warmup_steps
    shape = "linear" if decay == "none" else decay
    return jaxsched.wsd(peak_value, total_steps, warmup_steps, decay_steps=decay_steps, decay_shape=shape)


def load_data(seed: int = 0) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    y = y.astype(np.int32)
    perm = np.random.default_rng(seed).permutation(len(x))
    n_val = 357
    val, train = perm[:n_val], perm[n_val:]
    return x[train], y[train], x[val], y[val]


def init_mlp(key: jax.Array, sizes: tuple[int, ...] = (64, 64, 10)) -> list[dict[str, jax.Array]]:
    params = []
    for k, (m, n) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        params.append({"w": jax.random.normal(k, (m, n)) * jnp.sqrt(2.0 / m), "b": jnp.zeros(n)})
    return params


def forward(params: list[dict[str, jax.Array]], x: jax.Array) -> jax.Array:
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"][None, :])
    return x @ params[-1]["w"] + params[-1]["b"][None, :]


def cross_entropy(params: list[dict[str, jax.Array]], x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    logits = forward(params, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    acc = jnp.mean((jnp.argmax(logits, -1) == y).astype(jnp.float32))
    return loss, acc


def main(argv: list[str] | None = None) -> dict[str, np.ndarray]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--shard", action="store_true", help="place the grid across all devices (jaxsched.shard_grid)")
    ap.add_argument("--out", default="sweep.png", help="where to write the PNG ('' to skip)")
    ap.add_argument("--top", type=int, default=12, help="rows of the ranking to print")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    from tqdm.auto import tqdm

    x_tr, y_tr, x_val, y_val = load_data()
    steps_per_epoch = len(x_tr) // args.batch_size
    total = args.epochs * steps_per_epoch

    # 1. The grid: 4 peak rates x 4 warmups x 4 decay shapes = 64 settings, one batched pytree.
    grid = jaxsched.grid(
        make_schedule,
        peak_value=jaxsched.logspace(1e-3, 1e-1, 4),
        warmup_steps=jaxsched.linspace(0, total // 4, 4, integer=True),
        decay=list(DECAYS),
        total_steps=total,
    )
    hp, valid, mesh = grid.schedules, None, None
    if args.shard:  # pad the grid to a multiple of the device count and spread it over the devices
        mesh = jaxsched.sweep_mesh()
        hp, valid = jaxsched.shard_grid(grid, mesh)
    n_run = int(jax.tree_util.tree_leaves(hp)[0].shape[0])
    print(f"{len(grid)} settings x {args.seeds} seeds = {len(grid) * args.seeds} models, "
          f"{total} steps each, on {jax.device_count()} device(s)")

    # 2. One train step that takes the schedule as an argument; Adam's state records the applied rate.
    def loss_fn(params, batch):
        xb, yb = batch
        return cross_entropy(params, xb, yb)[0]

    ts = jaxsched.make_train_step(loss_fn, jaxsched.scheduled(optax.adam))

    def init(hp, key):
        params = init_mlp(key)
        return params, ts.init(hp, params)

    def epoch(hp, params, opt_state, key, e, x_tr, y_tr, x_val, y_val):
        idx = jax.random.permutation(jax.random.fold_in(key, e), len(x_tr))
        idx = idx[: steps_per_epoch * args.batch_size].reshape(steps_per_epoch, args.batch_size)
        params, opt_state, hist = ts.run(hp, params, opt_state, (x_tr[idx], y_tr[idx]))
        val_loss, val_acc = cross_entropy(params, x_val, y_val)
        return params, opt_state, hist, val_loss, val_acc

    # vmap over seeds (inner: same schedule, different key), then over settings (outer):
    # jaxsched.sweep is jit(vmap(...)); with a mesh its outputs stay sharded along the grid axis.
    data = (None,) * 5
    init_all = jaxsched.sweep(jax.vmap(init, (None, 0)), in_axes=(0, None), mesh=mesh)
    epoch_all = jaxsched.sweep(jax.vmap(epoch, (None, 0, 0, 0) + data), in_axes=(0, 0, 0, None) + data, mesh=mesh)

    keys = jax.random.split(jax.random.key(0), args.seeds)
    params, opt_state = init_all(hp, keys)
    shape = (n_run, args.seeds)
    rates = np.zeros(shape + (total,), np.float32)
    train_loss = np.zeros(shape + (total,), np.float32)
    val_loss = np.zeros(shape + (args.epochs,), np.float32)
    val_acc = np.zeros(shape + (args.epochs,), np.float32)
    t0 = time.perf_counter()
    for e in tqdm(range(args.epochs), desc="epochs", unit="epoch"):
        params, opt_state, hist, vl, va = epoch_all(hp, params, opt_state, keys, e, x_tr, y_tr, x_val, y_val)
        sl = slice(e * steps_per_epoch, (e + 1) * steps_per_epoch)
        hist, vl, va = jaxsched.gather((hist, vl, va))
        rates[..., sl], train_loss[..., sl] = hist["learning_rate"], hist["loss"]
        val_loss[..., e], val_acc[..., e] = vl, va
    train_time = time.perf_counter() - t0
    if valid is not None:  # drop the padding rows
        rates, train_loss, val_loss, val_acc = jaxsched.gather((rates, train_loss, val_loss, val_acc), valid)
    print(f"trained in {train_time:.1f} s (first epoch includes the one compile; "
          f"epoch program compiled {epoch_all._cache_size()} time(s))")

    # 3. Rank the settings by final validation accuracy (mean over seeds), ties by validation loss.
    final = np.round(val_acc[..., -1].astype(np.float64) * len(y_val)) / len(y_val)  # exact fractions
    acc, loss = final.mean(1), val_loss[..., -1].astype(np.float64).mean(1)
    order = np.lexsort((loss, -np.round(acc, 9)))
    print(grid.table({"val_acc": acc, "acc_std": final.std(1), "val_loss": loss}, rows=order[: args.top]))
    best = grid[int(order[0])]  # the winning setting, back as an ordinary (unbatched) schedule
    probe = [0, total // 4, total // 2, total - 1]
    print(f"best: {grid.row(int(order[0]))}: a {type(best).__name__} schedule; applied rates at steps {probe}: "
          f"{[f'{v:.3g}' for v in rates[order[0], 0, probe].tolist()]}")

    if args.out:
        plot(grid, rates, train_loss, val_loss, order, args.out, steps_per_epoch)
        print(f"wrote {args.out}")
    print(f"total time {time.perf_counter() - t_start:.1f} s")
    return {"val_acc": val_acc, "val_loss": val_loss, "rates": rates, "order": order}


def plot(grid, rates, train_loss, val_loss, order, path, steps_per_epoch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = dict(zip(DECAYS, ("tab:gray", "tab:blue", "tab:orange", "tab:green")))
    decay = grid.settings["decay"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))

    ax = axes[0]
    for i in range(len(grid)):
        ax.plot(rates[i, 0], color=colors[decay[i]], lw=0.8, alpha=0.6)
    for d, c in colors.items():
        ax.plot([], [], color=c, label=d)
    ax.set(yscale="log", ylim=(1e-6, 0.2), xlabel="step", ylabel="applied learning rate",
           title=f"rate curves ({len(grid)} settings)")
    ax.legend(title="decay", fontsize=8)

    # Training loss: mean over seeds, averaged over each epoch's steps; validation loss: per epoch.
    n_ep = val_loss.shape[-1]
    epoch_train = train_loss.mean(1).reshape(len(grid), n_ep, steps_per_epoch).mean(-1)
    epochs = np.arange(1, n_ep + 1)
    for ax, curves, title in ((axes[1], epoch_train, "training loss (epoch mean, mean of seeds)"),
                              (axes[2], val_loss.mean(1), "validation loss (mean of seeds)")):
        for i in range(len(grid)):
            ax.plot(epochs, curves[i], color="0.82", lw=0.6)
        for rank, i in enumerate(order[:5]):
            r = grid.row(int(i))
            ax.plot(epochs, curves[i], color=colors[decay[i]], lw=1.6,
                    label=f"#{rank + 1}: peak={r['peak_value']:.2g}, warmup={r['warmup_steps']}, {r['decay']}")
        ax.set(yscale="log", xlabel="epoch", title=title)
    axes[2].legend(fontsize=7, title="best 5 by val. accuracy", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
