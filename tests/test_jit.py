"""jaxsched's own top-level programs: 512-bit vectors on CPU, the same bits, one compile.

``_jit.program`` compiles a schedule called outside any transformation (and
``evaluate``, the plot and table helpers) with ``xla_cpu_prefer_vector_width
= 512``; inside a user's ``jit``/``vmap``/``grad`` the plain ``jit`` is
inlined. Both must give the same bits for every family, at every step kind.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_config import CASES

import jaxsched
from jaxsched import _jit
from jaxsched._base import _evaluate as _call_program
from jaxsched._grid import _evaluate as _grid_program

_INT_STEPS = np.concatenate([np.arange(3000), [2**17 - 1, 2**17, 2**24 + 1, 2**31 - 1]]).astype(np.int32)
_FLOAT_STEPS = np.concatenate([np.linspace(0.0, 1500.0, 4001), [1e6, 3.5e9]]).astype(np.float32)
_NESTED = jax.jit(lambda s, t: s(t))  # the plain program, inlined into this jit


def _bits(x: jax.Array) -> np.ndarray:
    return np.asarray(x).view(np.uint32)


@pytest.mark.parametrize("name", sorted(CASES))
def test_top_level_call_has_the_bits_of_the_inlined_schedule(name: str) -> None:
    s = CASES[name]
    for steps in (_INT_STEPS, _FLOAT_STEPS):
        wide, plain = s(jnp.asarray(steps)), _NESTED(s, jnp.asarray(steps))
        np.testing.assert_array_equal(_bits(wide), _bits(plain), err_msg=f"{name} {steps.dtype}")


def test_structures_of_different_classes_never_compare_equal() -> None:
    # A jit cache keys its programs by the arguments' tree structures. jaxlib 0.10.2 compares
    # the structures of two classes registered with register_dataclass as equal when their fields
    # line up (Cosine and SqrtDecay: four float leaves), though their hashes differ: a lookup that
    # meets the other key in a colliding slot ran sqrt_decay with the cosine's program (about one
    # process in 30 to 40; test_top_level_call_has_the_bits_of_the_inlined_schedule caught it).
    treedefs = {name: jax.tree_util.tree_structure(s) for name, s in CASES.items()}
    for a, ta in treedefs.items():
        for b, tb in treedefs.items():
            same_class = type(CASES[a]) is type(CASES[b])
            if not same_class:
                assert ta != tb, f"{a} and {b} have equal tree structures: {ta} == {tb}"
                assert {ta: a}.get(tb) is None
    # The same class and fields: equal, whatever the leaf values (one program for every setting).
    one, two = jaxsched.sqrt_decay(1.0, 0.0, 100, power=0.7), jaxsched.sqrt_decay(2.0, 0.5, 7, power=3.0)
    assert jax.tree_util.tree_structure(one) == jax.tree_util.tree_structure(two)


def test_a_users_jit_runs_each_class_with_its_own_program() -> None:
    # The schedules of test_structures_of_different_classes_never_compare_equal through one jit:
    # each must give its own values (a cache hit on the wrong structure gives the other formula).
    f = jax.jit(lambda s, t: s(t))
    t = jnp.linspace(0.0, 120.0, 241)
    for s in (jaxsched.cosine(1.0, 0.1, 100, exponent=2.0), jaxsched.sqrt_decay(1.0, 0.0, 100, power=0.7),
              jaxsched.polynomial(1.0, 0.0, 100, power=2.0)):
        np.testing.assert_array_equal(_bits(f(s, t)), _bits(s(t)), err_msg=type(s).__name__)


def test_evaluate_has_the_bits_of_a_users_jit_vmap() -> None:
    g = jaxsched.grid(
        jaxsched.sgdr, peak_value=[1e-3, 3e-3], period=[70, 130], period_mult=[1.0, 2.0], decay=[1.0, 0.7]
    )
    steps = jnp.arange(5000)
    mine = jax.jit(lambda b: jax.vmap(lambda s: s(steps))(b))(g.schedules)
    np.testing.assert_array_equal(_bits(jaxsched.evaluate(g, steps)), _bits(mine))


def test_program_picks_the_wide_jit_only_at_the_top_level_on_cpu() -> None:
    if jax.default_backend() != "cpu":
        pytest.skip("the wide program is CPU-only")
    s = jaxsched.cosine(1.0, 0.0, 123)
    t = jnp.arange(17, dtype=jnp.int32)  # a step shape no other test uses
    wide0, plain0 = _call_program.wide._cache_size(), _call_program.plain._cache_size()
    s(t)
    assert (_call_program.wide._cache_size(), _call_program.plain._cache_size()) == (wide0 + 1, plain0)
    # Other settings of the same structure: no new compile.
    jaxsched.cosine(2.0, 0.5, 999)(t)
    assert _call_program.wide._cache_size() == wide0 + 1
    # Inside jit / vmap / grad the plain jit is traced (compiler_options are top-level only).
    jax.jit(lambda x: x(t))(s)
    jax.vmap(lambda v: jaxsched.cosine(v, 0.0, 123)(t))(jnp.ones(3))
    jax.grad(lambda v: jaxsched.cosine(v, 0.0, 123)(t).sum())(1.0)
    # (The wide jit inside a transformation would raise: compiler_options on a nested jit.)
    assert _call_program.wide._cache_size() == wide0 + 1


def test_grid_program_compiles_once_for_any_settings() -> None:
    steps = jnp.arange(19)
    before = _grid_program.wide._cache_size()
    for peaks in ([1.0, 2.0], [0.5, 0.25], [3.0, 4.0]):
        g = jaxsched.grid(jaxsched.warmup_cosine, peak_value=peaks, total_steps=50, warmup_steps=5)
        jaxsched.evaluate(g, steps)
    assert _grid_program.wide._cache_size() - before <= 1


def test_options_are_a_known_xla_field() -> None:
    # A typo in the option name would make every top-level call fail; compile one for real.
    f = jax.jit(lambda x: x * 2.0, compiler_options=_jit.CPU_OPTIONS)
    assert float(f(jnp.float32(1.5))) == 3.0


_STEP_INPUTS = {
    "int32 with negatives": np.array([-7, -1, 0, 1, 999, 1000, 1001], np.int32),
    "uint32 past int32": np.array([0, 5, 2**31, 2**32 - 1], np.uint32),
    "int64 past int32": np.array([-(2**40), -1, 3, 2**31 - 1, 2**31, 2**40], np.int64),
    "int16 jax": jnp.array([-3, 5, 1200], jnp.int16),
    "float32 with negatives": np.array([-2.5, -0.0, 0.5, 999.5, 3e9], np.float32),
    "float64 numpy": np.array([-1.0, 12.25, 5e3]),
    "python int": -3,
    "python big int": 2**40,
    "python float": -1.5,
    "numpy scalar": np.int64(2**35),
}


@pytest.mark.parametrize("name", sorted(_STEP_INPUTS))
def test_steps_normalised_inside_the_program_equal_as_time(name: str) -> None:
    # The top-level call hands arrays to the compiled program raw (host_time) and normalises them
    # there; the values must be those of the step normalised eagerly by as_time.
    from jaxsched._base import as_time

    x = _STEP_INPUTS[name]
    for case in ("warmup_cosine", "sgdr", "onecycle"):
        s = CASES[case]
        np.testing.assert_array_equal(_bits(s(x)), _bits(_NESTED(s, as_time(x))), err_msg=f"{case} {name}")


def test_host_time_passes_arrays_through_and_converts_the_rest() -> None:
    from jaxsched._base import host_time

    for a in (jnp.arange(4, dtype=jnp.int32), np.arange(4, dtype=np.uint32), np.ones(3, np.float32)):
        assert host_time(a) is a
    wide = host_time(np.array([2**40, -5], np.int64))  # a jit argument would wrap it
    np.testing.assert_array_equal(np.asarray(wide), [2**31 - 1, 0])
    assert int(host_time(-4)) == 0 and int(host_time(2**40)) == 2**31 - 1
    with pytest.raises(TypeError, match="boolean"):
        host_time(np.array([True]))
    with pytest.raises(TypeError, match="step must be"):
        host_time("3")


def test_constant_calls_inside_transformations_work() -> None:
    # A schedule of constants called at a constant step inside a user's program: no argument is a
    # tracer, but a trace is active, so the plain jit must be used (JAX refuses compiler_options on a
    # staged jit) and the value must be the plain one.
    s = jaxsched.cosine(1.0, 0.0, 100)
    g = jaxsched.grid(jaxsched.cosine, init_value=[1.0, 2.0], end_value=0.0, steps=100)
    want = float(_NESTED(s, 5))
    assert float(jax.jit(lambda x: x * s(5))(1.0)) == want
    assert float(jax.grad(lambda x: x * s(5))(2.0)) == want
    assert np.all(np.asarray(jax.vmap(lambda x: x * s(5))(jnp.ones(2))) == want)
    assert float(jax.lax.scan(lambda c, _: (c + s(5), None), 0.0, None, length=2)[0]) == 2 * want
    assert float(jax.lax.cond(True, lambda: s(5), lambda: s(6))) == want
    # The same with nothing cached yet (a shape no other test uses): the call is staged, not dispatched.
    # (Everything is a constant there, and XLA folds it at compile time without fused multiply-adds:
    # one ulp from the run-time program, hence allclose.)
    # The step arrays are made outside the jit, so they are concrete inside it as well.
    fresh, t23, t29 = jaxsched.cosine(1.0, 0.0, 321), jnp.arange(23), jnp.arange(29)
    np.testing.assert_allclose(jax.jit(lambda: fresh(t23))(), _NESTED(fresh, t23), rtol=3e-7)
    np.testing.assert_allclose(jax.jit(lambda: jaxsched.evaluate(g, t29))(),
                               jax.vmap(lambda b: _NESTED(b, t29))(g.schedules), rtol=3e-7)
    np.testing.assert_array_equal(jax.jit(lambda x: x * jaxsched.evaluate(g, 5))(1.0), [want, 2 * want])


def _compat_builders() -> dict[str, Any]:
    from jaxsched.compat import keras as K
    from jaxsched.compat import optax as O
    from jaxsched.compat import timm as TM
    from jaxsched.compat import torch as T
    from jaxsched.compat import transformers as HF

    return {
        "torch.CosineAnnealingLR": lambda: T.CosineAnnealingLR(1.0, T_max=50),
        "torch.MultiStepLR": lambda: T.MultiStepLR(1.0, milestones=[3, 7], gamma=0.5),
        "torch.SequentialLR": lambda: T.SequentialLR([T.LinearLR(1.0, 0.1, total_iters=5), T.ExponentialLR(1.0, 0.9)],
                                                      milestones=[5]),
        "torch.OneCycleLR": lambda: T.OneCycleLR(1.0, total_steps=40),
        "torch.CyclicLR": lambda: T.CyclicLR(0.1, 1.0, step_size_up=4),
        "optax.warmup_cosine_decay_schedule": lambda: O.warmup_cosine_decay_schedule(0.0, 1.0, 5, 50),
        "optax.linear_onecycle_schedule": lambda: O.linear_onecycle_schedule(50, 1.0),
        "keras.CosineDecayRestarts": lambda: K.CosineDecayRestarts(1.0, 10),
        "timm.CosineLRScheduler": lambda: TM.CosineLRScheduler(1.0, t_initial=20, warmup_t=3, cycle_limit=2),
        "transformers.get_cosine_schedule_with_warmup": lambda: HF.get_cosine_schedule_with_warmup(1.0, 5, 50),
    }


def test_factories_build_inside_a_users_jit_from_plain_numbers() -> None:
    # Inside jit, jnp.asarray of a plain number is a tracer: checks on the leaves' values (clip's lo <= hi,
    # wsd's decay fraction, cyclic's step sizes, a divisor, CosineAnnealingLR's eta_min) raised
    # ConcretizationTypeError there while the same call worked outside (found by an audit).
    from test_config import SAMPLE_ARGS

    t = jnp.arange(0, 120, 7)
    builders = {name: (lambda name=name, kw=kw: jaxsched.get(name, **kw)) for name, kw in SAMPLE_ARGS.items()}
    builders.update({
        "wsd(decay_fraction)": lambda: jaxsched.wsd(1.0, 100, 10, decay_fraction=0.3),
        "s / 2": lambda: jaxsched.linear(0.0, 1.0, 10) / 2.0,
        **_compat_builders(),
    })
    for name, build in builders.items():
        s = build()
        if not callable(s) or not isinstance(s, jaxsched.Schedule):
            continue
        inside = jax.jit(lambda build=build: build()(t))()
        np.testing.assert_allclose(np.asarray(inside), np.asarray(s(t)), rtol=2e-6, atol=1e-7, err_msg=name)
    # One hyperparameter traced, the others plain: the sweep the library is for.
    got = jax.vmap(lambda p: jaxsched.wsd(p, 100, 10, decay_fraction=0.3)(50))(jnp.asarray([1.0, 2.0]))
    np.testing.assert_allclose(got, [1.0, 2.0])
    got = jax.jit(lambda lo: jaxsched.clip(jaxsched.linear(0.0, 1.0, 10), lo, 0.5)(4))(0.2)
    np.testing.assert_allclose(got, 0.4, rtol=1e-6)
