"""A short tour of jaxsched: build schedules, read them, train with one, sweep a grid.

Run:  python examples/quickstart.py
"""

import jax
import jax.numpy as jnp
import optax

import jaxsched

# 1. Build a few schedules. Each one is a pytree of its hyperparameters.
cosine = jaxsched.warmup_cosine(peak_value=3e-4, total_steps=10_000, warmup_steps=500)
wsd = jaxsched.wsd(peak_value=3e-4, total_steps=10_000, warmup_steps=500, decay_fraction=0.2, decay_shape="1-sqrt")
sgdr = jaxsched.sgdr(peak_value=1e-3, period=1_000, period_mult=2.0, decay=0.8)
custom = jaxsched.join(
    [jaxsched.linear(0.0, 1e-3, 100), jaxsched.constant(1e-3), jaxsched.exponential(1e-3, 0.5, 1_000)],
    boundaries=[100, 2_000],
)

# 2. Read values at a few steps: a schedule maps any array of steps to rates.
steps = jnp.array([0, 250, 500, 5_000, 8_000, 9_000, 9_999, 20_000])
print("step         ", steps.tolist())
for name, s in [("warmup_cosine", cosine), ("wsd (1-sqrt)", wsd), ("sgdr", sgdr), ("join", custom)]:
    print(f"{name:13s}", [f"{v:.2e}" for v in s(steps).tolist()])


# 3. Plug one into any optax optimizer; the schedule is an argument of the jitted step.
def loss_fn(w, x, y):
    return jnp.mean((x @ w - y) ** 2)


@jax.jit
def train(schedule, w, x, y):
    tx = optax.adamw(schedule, weight_decay=1e-4)
    state = tx.init(w)

    def step(carry, _):
        w, state = carry
        g = jax.grad(loss_fn)(w, x, y)
        updates, state = tx.update(g, state, w)
        return (optax.apply_updates(w, updates), state), loss_fn(w, x, y)

    (w, _), losses = jax.lax.scan(step, (w, state), None, length=300)
    return losses[-1]


key_x, key_w = jax.random.split(jax.random.key(0))
x = jax.random.normal(key_x, (256, 8))
y = x @ jax.random.normal(key_w, (8,))
w0 = jnp.zeros(8)
short = jaxsched.warmup_cosine(peak_value=0.1, total_steps=300, warmup_steps=30)
print("\nadamw + warmup_cosine, final loss:", float(train(short, w0, x, y)))

# 4. vmap over a grid of settings: one compiled program for all of them.
grid = jaxsched.grid(jaxsched.warmup_cosine, peak_value=[0.01, 0.03, 0.1], warmup_steps=[0, 30, 100], total_steps=300)
final = jax.jit(jax.vmap(train, in_axes=(0, None, None, None)))(grid.schedules, w0, x, y)
print("\none compile, 9 trainings:")
print(grid.table(final.tolist(), value_name="final loss"))
