"""Hypergradients: differentiate a validation loss with respect to the schedule's settings.

A jaxsched schedule is a pytree of arrays, and its factories accept traced
values, so "train for N steps with this schedule, then measure the validation
loss" is an ordinary differentiable function of the schedule's settings:

    val_loss(peak_value, warmup_steps, decay_fraction)
        = L_val(train(wsd(peak_value, N, warmup_steps, decay_fraction=...)))

This script unrolls a short training run (softmax regression with SGD +
momentum on a fixed synthetic data set, 100 full-batch steps, all in one
``lax.scan``), computes the gradient of the validation loss with respect to
the three settings with reverse mode (``jax.grad``) and forward mode
(``jax.jacfwd``: memory independent of the number of steps), and checks both
against central finite differences. It then takes a few steps of gradient
descent on the settings themselves (in unconstrained coordinates: log peak,
log warmup, logit decay fraction).

Things that make this work (and that jaxsched guarantees): no integer casts
or Python branches on settings (a cast would silently give a zero gradient);
boundaries that move continuously with the settings; unselected pieces that
never produce NaN. Settings are chosen away from integer step boundaries: the
loss is continuous but only piecewise smooth in a boundary (its slope changes
when a boundary crosses an integer step), so finite differences must not
straddle one.

Run:  python examples/hypergradient.py        (a few seconds; no extra packages)
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxsched

TOTAL_STEPS = 100
NAMES = ("peak_value", "warmup_steps", "decay_fraction")
# Finite-difference steps, small enough not to move a boundary across an integer step.
START = {"peak_value": 0.5, "warmup_steps": 10.3, "decay_fraction": 0.305}
FD_STEP = {"peak_value": 2e-3, "warmup_steps": 0.05, "decay_fraction": 2e-3}


def make_data(seed: int = 0, n: int = 256, d: int = 16, k: int = 4) -> tuple[jax.Array, ...]:
    """A fixed noisy k-class problem (train and validation halves)."""
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=(d, k))
    x = rng.normal(size=(2 * n, d))
    logits = x @ w_true + 2.0 * rng.normal(size=(2 * n, k))
    y = logits.argmax(-1)
    xs = jnp.asarray(x, jnp.float32)
    ys = jnp.asarray(y, jnp.int32)
    return xs[:n], ys[:n], xs[n:], ys[n:]


def loss(w: jax.Array, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
    x, y = batch
    return optax.softmax_cross_entropy_with_integer_labels(x @ w, y).mean()


TRAIN = jaxsched.make_train_step(loss, jaxsched.scheduled(optax.sgd, momentum=0.9))


def schedule(hp: dict[str, jax.Array]) -> jaxsched.Schedule:
    """The schedule as a function of the settings (traced under grad; no validation then)."""
    return jaxsched.wsd(hp["peak_value"], TOTAL_STEPS, hp["warmup_steps"], decay_fraction=hp["decay_fraction"],
                        decay_shape="cosine")


def val_loss(hp: dict[str, jax.Array], data: tuple[jax.Array, ...]) -> jax.Array:
    """Train ``TOTAL_STEPS`` full-batch steps from zero weights with ``schedule(hp)``; the validation loss."""
    x_tr, y_tr, x_val, y_val = data
    sched = schedule(hp)
    w = jnp.zeros((x_tr.shape[1], 4), jnp.float32)
    state = TRAIN.init(sched, w)
    batches = (jnp.broadcast_to(x_tr, (TOTAL_STEPS,) + x_tr.shape), jnp.broadcast_to(y_tr, (TOTAL_STEPS,) + y_tr.shape))
    w, _, _ = TRAIN.run(sched, w, state, batches)
    return loss(w, (x_val, y_val))


def check(
    hp: dict[str, float] | None = None, data: tuple[jax.Array, ...] | None = None, forward: bool = True
) -> dict[str, dict[str, float]]:
    """Reverse-mode, forward-mode (optional) and central finite-difference gradients of ``val_loss`` at ``hp``."""
    hp = hp or START
    data = make_data() if data is None else data
    hp_a = {k: jnp.asarray(v, jnp.float32) for k, v in hp.items()}
    f = jax.jit(val_loss)
    rev = jax.jit(jax.grad(val_loss))(hp_a, data)
    fwd = jax.jit(jax.jacfwd(val_loss))(hp_a, data) if forward else rev
    out = {}
    for k in NAMES:
        h = FD_STEP[k]
        up = dict(hp_a, **{k: hp_a[k] + h})
        dn = dict(hp_a, **{k: hp_a[k] - h})
        fd = (float(f(up, data)) - float(f(dn, data))) / (2 * h)
        r, fw = float(rev[k]), float(fwd[k])
        out[k] = {"reverse": r, "forward": fw, "finite_diff": fd, "rel_err": abs(r - fd) / max(abs(fd), 1e-12)}
    out["val_loss"] = {"value": float(f(hp_a, data))}
    return out


def descend(
    steps: int = 15, lr: float = 0.05, data: tuple[jax.Array, ...] | None = None
) -> list[tuple[float, dict[str, float]]]:
    """Gradient descent on the settings in unconstrained coordinates; returns (val loss, settings) per step."""
    data = make_data() if data is None else data

    def settings(z: dict[str, jax.Array]) -> dict[str, jax.Array]:
        return {"peak_value": jnp.exp(z["log_peak"]), "warmup_steps": jnp.exp(z["log_warmup"]),
                "decay_fraction": jax.nn.sigmoid(z["logit_decay"])}

    p, w, d = (jnp.float32(START[k]) for k in NAMES)
    z = {"log_peak": jnp.log(p), "log_warmup": jnp.log(w), "logit_decay": jnp.log(d) - jnp.log1p(-d)}
    opt = optax.adam(lr)
    state = opt.init(z)

    @jax.jit
    def meta_step(z, state):
        value, g = jax.value_and_grad(lambda z: val_loss(settings(z), data))(z)
        with jax.numpy_dtype_promotion("standard"):
            u, state = opt.update(g, state, z)
            z = optax.apply_updates(z, u)
        return z, state, value

    history = []
    for _ in range(steps):
        s = {k: float(v) for k, v in settings(z).items()}
        z, state, value = meta_step(z, state)
        history.append((float(value), s))
    return history


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meta-steps", type=int, default=15)
    args = ap.parse_args(argv)
    data = make_data()
    res = check(data=data)
    print(f"validation loss after {TOTAL_STEPS} steps: {res['val_loss']['value']:.6f}")
    print(f"{'setting':>15}  {'reverse (grad)':>15}  {'forward (jacfwd)':>16}  {'finite diff':>12}  {'rel err':>8}")
    for k in NAMES:
        r = res[k]
        print(f"{k:>15}  {r['reverse']:15.6g}  {r['forward']:16.6g}  {r['finite_diff']:12.6g}  {r['rel_err']:8.2%}")
    if args.meta_steps:
        print("\ngradient descent on (log peak, log warmup, logit decay fraction):")
        for i, (v, s) in enumerate(descend(args.meta_steps, data=data)):
            if i % 3 == 0 or i == args.meta_steps - 1:
                print(f"  step {i:2d}: val loss {v:.5f}  peak={s['peak_value']:.4g}  "
                      f"warmup={s['warmup_steps']:.3g}  decay_fraction={s['decay_fraction']:.3g}")


if __name__ == "__main__":
    main()
