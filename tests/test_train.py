"""Training recipes: the schedule is an argument (one compile for many settings), applied rates are
logged, per-group and layer-wise schedules, one-cycle momentum. Oracles are float64 NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched
from jaxsched._train import applied, grouped, layerwise_decay, make_train_step, onecycle_hparams, scheduled

TARGET = np.asarray([1.0, -2.0, 0.5], np.float32)


def quad_loss(w, target):
    return 0.5 * jnp.sum((w - target) ** 2)  # gradient: w - target


def np_warmup_cosine(t, P, W, N):
    t = np.asarray(t, np.float64)
    return np.where(t < W, P * t / max(W, 1e-12), P * 0.5 * (1 + np.cos(np.pi * np.clip((t - W) / (N - W), 0, 1))))


def np_adam(w0, lrs, b1=0.9, b2=0.999, eps=1e-8):
    """Float64 Adam on quad_loss, rate lrs[k] at update k (optax convention: count starts at 0)."""
    w = np.asarray(w0, np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    b1s = np.broadcast_to(b1, len(lrs))
    for k, lr in enumerate(lrs):
        g = w - TARGET
        m = b1s[k] * m + (1 - b1s[k]) * g
        v = b2 * v + (1 - b2) * g * g
        mh = m / (1 - b1s[k] ** (k + 1))
        vh = v / (1 - b2 ** (k + 1))
        w = w - lr * mh / (np.sqrt(vh) + eps)
    return w


def test_train_step_compiles_once_for_ten_settings_and_logs_applied_rate():
    traces = []

    def loss_fn(w, batch):
        traces.append(1)
        return quad_loss(w, batch)

    ts = make_train_step(loss_fn, scheduled(optax.adam))
    step = jax.jit(ts.step)
    n_steps, N = 6, 20
    settings = [(p, w) for p in (0.05, 0.1, 0.2, 0.3, 0.5) for w in (0.0, 4.0)]
    assert len(settings) == 10
    for P, W in settings:
        s = jaxsched.warmup_cosine(P, total_steps=N, warmup_steps=W)
        w = jnp.zeros(3)
        state = ts.init(s, w)
        lrs = []
        for _ in range(n_steps):
            w, state, info = step(s, w, state, TARGET)
            lrs.append(float(info["learning_rate"]))
        ref_lr = np_warmup_cosine(np.arange(n_steps), P, W, N)
        np.testing.assert_allclose(lrs, ref_lr, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(w, np_adam(np.zeros(3), ref_lr), rtol=2e-5, atol=1e-6)
    assert len(traces) == 1 and step._cache_size() == 1


def test_same_as_optax_closure_and_vmap_equals_loop():
    """The recipe reproduces optax.adam(schedule) (the peer), and vmapping it over settings equals a loop."""
    ts = make_train_step(quad_loss, scheduled(optax.adam, eps=1e-6))
    g = jaxsched.grid(jaxsched.wsd, peak_value=[0.1, 0.3], decay_shape=["linear", "1-sqrt"], total_steps=12,
                      warmup_steps=3)
    batches = jnp.broadcast_to(jnp.asarray(TARGET), (12, 3))

    def run(s):
        w = jnp.zeros(3)
        w, _, hist = ts.run(s, w, ts.init(s, w), batches)
        return w, hist["learning_rate"]

    ws, lrs = jax.jit(jax.vmap(run))(g.schedules)

    @jax.jit
    def peer(s):  # optax's own way: the schedule closed into optax.adam, a plain loop of updates
        tx = optax.adam(s, eps=1e-6)
        w = jnp.zeros(3)
        with jax.numpy_dtype_promotion("standard"):
            st = tx.init(w)
            for _ in range(12):
                u, st = tx.update(w - TARGET, st, w)
                w = optax.apply_updates(w, u)
        return w, s(jnp.arange(12))

    for i in range(len(g)):
        w, lr = peer(g[i])
        np.testing.assert_allclose(ws[i], w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lrs[i], lr, rtol=1e-6)


def test_hp_numbers_are_read_at_update_time():
    """A number in hp is taken from the step's argument, not frozen at init."""
    ts = make_train_step(quad_loss, scheduled(optax.adam), log=("learning_rate", "b1"))
    hp_a = {"learning_rate": jaxsched.constant(0.1), "b1": 0.5}
    hp_b = {"learning_rate": jaxsched.constant(0.2), "b1": 0.7}
    w = jnp.zeros(3)
    state = ts.init(hp_a, w)
    step = jax.jit(ts.step)
    _, _, info = step(hp_b, w, state, TARGET)
    assert float(info["b1"]) == pytest.approx(0.7) and float(info["learning_rate"]) == pytest.approx(0.2)
    w1, _, _ = step(hp_b, w, state, TARGET)
    np.testing.assert_allclose(w1, np_adam(np.zeros(3), [0.2], b1=0.7), rtol=1e-5)


def test_per_group_schedule_compiles_once_for_ten_settings():
    names = ["l0", "l1", "l2"]
    params = {n: jnp.zeros(2) for n in names}
    labels = {n: n for n in names}
    targets = {n: jnp.asarray([1.0, -1.0]) * (i + 1) for i, n in enumerate(names)}
    traces = []

    def loss_fn(p, t):
        traces.append(1)
        return sum(quad_loss(p[n], t[n]) for n in names)

    ts = make_train_step(loss_fn, grouped(optax.sgd, labels))
    step = jax.jit(ts.step)
    for peak in (0.1, 0.2, 0.4, 0.8, 1.0):
        for decay in (0.5, 0.9):
            base = jaxsched.linear(peak, 0.0, 10)
            hp = layerwise_decay(base, decay, names)
            p = params
            state = ts.init(hp, p)
            for k in range(3):
                p_new, state, info = step(hp, p, state, targets)
                lr_ref = peak * (1 - k / 10)
                for i, n in enumerate(names):
                    lr_i = lr_ref * decay**i
                    assert float(info["learning_rate"][n]) == pytest.approx(lr_i, rel=1e-5)
                    np.testing.assert_allclose(
                        p_new[n], np.asarray(p[n]) - lr_i * (np.asarray(p[n]) - np.asarray(targets[n])), rtol=1e-5
                    )
                p = p_new
    assert len(traces) == 1 and step._cache_size() == 1


def test_layerwise_decay_values_reverse_and_gradient():
    s = jaxsched.constant(2.0)
    fwd = layerwise_decay(s, 0.5, ["a", "b", "c"])
    rev = layerwise_decay(s, 0.5, ["a", "b", "c"], reverse=True)
    assert [float(fwd[k](0)) for k in "abc"] == [2.0, 1.0, 0.5]
    assert [float(rev[k](0)) for k in "abc"] == [0.5, 1.0, 2.0]
    # decay is a leaf: d/dg sum_i 2 g^i = 2 (1 + 2 g) = 4 at g = 0.5
    g = jax.grad(lambda d: sum(v(3) for v in layerwise_decay(s, d, ["a", "b", "c"]).values()))(jnp.float32(0.5))
    assert float(g) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="decay must be > 0"):
        layerwise_decay(s, 0.0, ["a"])
    with pytest.raises(ValueError, match="distinct"):
        layerwise_decay(s, 0.5, ["a", "a"])
    with pytest.raises(TypeError, match="sequence of group names"):
        layerwise_decay(s, 0.5, "ab")
    with pytest.raises(TypeError, match="jaxsched schedule"):
        layerwise_decay(lambda t: t, 0.5, ["a"])


def test_onecycle_momentum_through_inject_hyperparams():
    ts = make_train_step(quad_loss, scheduled(optax.adam), log=("learning_rate", "b1"))
    step = jax.jit(ts.step)
    T = 20
    for pct in (0.2, 0.3, 0.5):
        hp = onecycle_hparams(0.5, T, pct_start=pct, anneal_strategy="linear")
        w = jnp.zeros(3)
        state = ts.init(hp, w)
        b1s, lrs = [], []
        for _ in range(T):
            w, state, info = step(hp, w, state, TARGET)
            b1s.append(float(info["b1"]))
            lrs.append(float(info["learning_rate"]))
        t = np.arange(T, dtype=np.float64)
        up = pct * T
        mom_ref = np.where(t < up, 0.95 - 0.1 * t / up, 0.85 + 0.1 * (t - up) / (T - up))
        lr_ref = np.where(t < up, 0.02 + 0.48 * t / up, 0.5 + (0.02 / 1e4 - 0.5) * (t - up) / (T - up))
        np.testing.assert_allclose(b1s, mom_ref, rtol=1e-5)
        np.testing.assert_allclose(lrs, lr_ref, rtol=1e-5)
        np.testing.assert_allclose(w, np_adam(np.zeros(3), lr_ref, b1=mom_ref), rtol=1e-4, atol=1e-6)
    assert step._cache_size() == 1
    sgd_hp = onecycle_hparams(0.5, T, momentum_name="momentum")
    assert set(sgd_hp) == {"learning_rate", "momentum"}
    with pytest.raises(ValueError, match="momentum_name"):
        onecycle_hparams(0.5, T, momentum_name="learning_rate")


def test_applied_and_scheduled_errors():
    with pytest.raises(ValueError, match="no optax.inject_hyperparams state"):
        applied(optax.adam(0.1).init(jnp.zeros(2)))
    state = scheduled(optax.sgd)(jaxsched.constant(0.1)).init(jnp.zeros(2))
    with pytest.raises(ValueError, match="no hyperparameter 'b1'"):
        applied(state, "b1")
    with pytest.raises(TypeError, match="hp must be a schedule"):
        scheduled(optax.sgd)(0.1)
    with pytest.raises(ValueError, match="both in hp and as fixed"):
        scheduled(optax.adam, b1=0.9)({"learning_rate": jaxsched.constant(0.1), "b1": 0.8})
    with pytest.raises(TypeError, match="make_optimizer must be callable"):
        make_train_step(quad_loss, optax.adam(0.1))  # an optimizer, not hp -> optimizer


def _load_example(name: str):
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_example_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_hypergradient_example_matches_finite_differences():
    """d val_loss / d (peak, warmup, decay fraction) through 100 unrolled steps: finite, AD == FD within 3%."""
    res = _load_example("hypergradient").check(forward=False)  # forward mode: run the example itself
    for k in ("peak_value", "warmup_steps", "decay_fraction"):
        r = res[k]
        assert np.isfinite([r["reverse"], r["forward"], r["finite_diff"]]).all(), r
        assert r["reverse"] != 0.0, r
        assert r["rel_err"] < 0.03, (k, r)


def test_plateau_state_is_an_argument_of_the_step():
    """A reduce-on-plateau state bound with with_state: updating it (or the settings) never recompiles."""
    from jaxsched._plateau import plateau, plateau_schedule
    from jaxsched._train import with_state

    ts = make_train_step(quad_loss, scheduled(optax.sgd))
    step = jax.jit(ts.step)
    metrics = [1.0, 0.5, 0.6, 0.7, 0.4, 0.45, 0.5]
    for factor in (0.5, 0.2, 0.1):
        ps = plateau_schedule(jaxsched.linear(0.1, 0.0, 50), plateau(factor=factor, patience=0))
        state = ps.init()
        w = jnp.zeros(3)
        opt_state = ts.init(with_state(ps, state), w)
        values = []
        for k, m in enumerate(metrics):
            state = ps.update(state, m)
            values.append(float(state.value))
            w_new, opt_state, info = step(with_state(ps, state), w, opt_state, TARGET)
            lr = 0.1 * (1 - k / 50) * values[-1]
            assert float(info["learning_rate"]) == pytest.approx(lr, rel=1e-5)
            np.testing.assert_allclose(w_new, np.asarray(w) - lr * (np.asarray(w) - TARGET), rtol=1e-5, atol=1e-7)
            w = w_new
        assert values[0] == 1.0 and values[-1] < values[0]  # the plateau did reduce the rate
    assert step._cache_size() == 1
    with pytest.raises(TypeError, match="callable as schedule"):
        with_state(jaxsched.constant(1.0).__dict__, None)
