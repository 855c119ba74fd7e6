"""What every transform of the library must do, beyond its own formula.

Composition with optax (chain, masked, MultiSteps, apply_if_finite,
inject_hyperparams), vmapped hyperparameters, dtypes from float16 to float64,
None leaves, empty trees, and finite-in-finite-out properties.
"""

import functools

import chex
import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_extras
from tests.helpers import assert_close, descend, in_precision

pytestmark = pytest.mark.float32  # The users' default; float64 where marked.

# name -> (optimizer factory, its hyperparameters, (swept name, swept values)).
CASES = {
  "nesterov_lookahead": (
    optax_extras.nesterov_lookahead,
    dict(learning_rate=0.05, decay=0.9, lookahead=(0.5, 1.0)),
    ("decay", [0.0, 0.5, 0.95]),
  ),
  "heavy_ball": (
    optax_extras.nesterov_lookahead,
    dict(learning_rate=0.05, decay=0.9, lookahead=(0.0,)),
    ("learning_rate", [0.01, 0.05, 0.2]),
  ),
  "adadelta_bigstart": (
    optax_extras.adadelta_bigstart,
    dict(learning_rate=0.5, rho=0.9, eps=1e-6, initial_delta_sq=2.0),
    ("initial_delta_sq", [0.0, 1.0, 50.0]),
  ),
  "adam_calibrated": (
    optax_extras.adam_calibrated,
    dict(
      learning_rate=0.05,
      b1=0.8,
      b2=0.99,
      bias_correction="second_moment_only",
      nesterov=True,
    ),
    ("b1", [0.0, 0.5, 0.9]),
  ),
  "adagrad_family": (
    optax_extras.adagrad_family,
    dict(
      learning_rate=0.1,
      power=0.75,
      order=1.5,
      eps=1e-7,
      initial_accumulator_value=0.1,
    ),
    ("power", [0.25, 0.5, 1.0]),
  ),
}
NAMES = list(CASES)
_PARAMS = {  # NumPy, so each test makes them in its own precision.
  "w": np.linspace(-1.0, 1.0, 6).reshape(2, 3),
  "b": np.array([0.5, -2.0, 0.0]),
}


def params_of(dtype=None):
  """The parameters in `dtype`, float64 where x64 is on, float32 otherwise."""
  return jax.tree.map(lambda x: jnp.asarray(x, dtype), _PARAMS)


def loss(params):
  return sum(jnp.sum(jnp.sin(x) + x**2) for x in jax.tree.leaves(params))


def make(name, **overrides):
  factory, hyperparams, _ = CASES[name]
  return factory(**{**hyperparams, **overrides})


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.float64
def test_inject_hyperparams_equals_plain(name):
  params = params_of()
  factory, hyperparams, _ = CASES[name]
  plain = descend(factory(**hyperparams), loss, params, 10)
  injected = descend(
    optax.inject_hyperparams(factory)(**hyperparams), loss, params, 10
  )
  assert_close(injected, plain, 1e-12)


@functools.cache
def _loop_run(name, value, dtype):
  """8 steps of `name` at one swept `value`, a Python number: the loop the
  vmapped sweep must equal, run once for the inject and direct tests (in
  `dtype`, the precision of the test that asks)."""
  swept = CASES[name][2][0]
  return descend(make(name, **{swept: value}), loss, params_of(dtype), 8)


@pytest.mark.parametrize("via_inject", [True, False], ids=["inject", "direct"])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.float64
def test_vmap_over_a_hyperparameter_equals_a_loop(name, via_inject):
  params = params_of()
  factory, hyperparams, (swept, values) = CASES[name]
  if via_inject:
    factory = optax.inject_hyperparams(factory)

  @jax.jit
  @jax.vmap
  def run(value):
    return descend(factory(**{**hyperparams, swept: value}), loss, params, 8)

  vmapped = run(jnp.asarray(values))
  for i, value in enumerate(values):
    expected = _loop_run(name, value, str(params["w"].dtype))
    assert_close(jax.tree.map(lambda x, i=i: x[i], vmapped), expected, 1e-12)


@pytest.mark.float64
def test_inject_hyperparams_follows_a_schedule_and_a_callable_calibration():
  params = params_of()
  schedule = optax.linear_schedule(0.1, 0.0, transition_steps=4)
  fixed = optax.inject_hyperparams(
    optax_extras.adam_calibrated, static_args="bias_correction"
  )(learning_rate=schedule, bias_correction=lambda m, d, c: m)
  plain = optax_extras.adam_calibrated(schedule, bias_correction="none")
  assert_close(
    descend(fixed, loss, params, 6), descend(plain, loss, params, 6), 1e-12
  )


@pytest.mark.parametrize(
  "dtype", [in_precision(np.float64), in_precision(np.float32)]
)
@pytest.mark.parametrize("name", NAMES)
def test_jit_equals_eager(name, dtype):
  # One step compiled and one step run op by op: the same numbers, with the
  # parameters' shapes and dtypes.
  params = params_of(dtype)
  transform = make(name)
  grads = jax.grad(loss)(params)
  step = lambda g, s, p: transform.update(g, s, p, grad_fn=jax.grad(loss))
  compiled, state = jax.jit(step)(grads, transform.init(params), params)
  with jax.disable_jit():
    eager, _ = step(grads, transform.init(params), params)
  chex.assert_trees_all_equal_shapes_and_dtypes(compiled, params)
  chex.assert_trees_all_equal_shapes_and_dtypes(eager, params)
  assert_close(compiled, eager, {np.float64: 1e-12, np.float32: 1e-5}[dtype])
  chex.assert_tree_all_finite(state)


@pytest.mark.parametrize("injected", [False, True], ids=["plain", "inject"])
@pytest.mark.parametrize(
  "dtype",
  [in_precision(d) for d in (np.float16, jnp.bfloat16, np.float32)]
  + [in_precision(np.float64)],
)
@pytest.mark.parametrize("name", NAMES)
def test_dtypes_survive_steps_and_lax_cond(name, dtype, injected):
  factory, hyperparams, _ = CASES[name]
  if injected:
    factory = optax.inject_hyperparams(factory)
  transform = factory(**hyperparams)
  grad_fn = jax.grad(lambda p: loss(p).astype(dtype))

  @jax.jit
  def step(params, state, take_step):
    updates, new_state = transform.update(
      grad_fn(params), state, params, grad_fn=grad_fn
    )
    return updates, jax.lax.cond(take_step, lambda: new_state, lambda: state)

  params = params_of(dtype)
  state = transform.init(params)
  updates, new_state = step(params, state, True)
  chex.assert_trees_all_equal_dtypes(updates, params)
  chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
  chex.assert_tree_all_finite(updates)


@pytest.mark.parametrize("name", NAMES)
def test_zero_gradient_in_float16_gives_zero_updates(name):
  transform = make(name, **({"eps": 1e-8} if "eps" in CASES[name][1] else {}))
  params = jax.tree.map(jnp.zeros_like, params_of(jnp.float16))
  zero_grad_fn = lambda p: jax.tree.map(jnp.zeros_like, p)
  state = transform.init(params)
  for _ in range(3):
    updates, state = transform.update(
      zero_grad_fn(params), state, params, grad_fn=zero_grad_fn
    )
    chex.assert_trees_all_equal(updates, params)  # All zeros, no NaN.
    chex.assert_tree_all_finite(state)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.float64
def test_none_leaves_pass_through(name):
  weights = params_of()["w"]
  params = {"w": weights, "frozen": None}
  (final, updates) = descend(make(name), loss, params, 3)
  assert final["frozen"] is None and updates["frozen"] is None
  expected, _ = descend(make(name), loss, {"w": weights}, 3)
  assert_close(final["w"], expected["w"], 1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_empty_tree(name):
  transform = make(name)
  state = transform.init({})
  updates, _ = transform.update({}, state, {}, grad_fn=lambda p: {})
  assert updates == {}


@pytest.mark.parametrize(
  "name", [n for n in NAMES if n != "nesterov_lookahead"]
)
@pytest.mark.float64
def test_masked(name):
  params = params_of()
  # (grad_fn would receive the masked tree, so the look-ahead is left out.)
  transform = optax.masked(make(name), {"w": True, "b": False})
  grads = jax.grad(loss)(params)
  updates, _ = transform.update(grads, transform.init(params), params)
  alone, _ = make(name).update(
    {"w": grads["w"]}, make(name).init({"w": params["w"]}), {"w": params["w"]}
  )
  assert_close(updates["w"], alone["w"], 1e-12)
  chex.assert_trees_all_equal(updates["b"], grads["b"])  # Untouched.


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.float64
def test_multi_steps_averages_then_updates(name):
  params = params_of()
  transform = optax.MultiSteps(  # Its accumulator is float32 by default.
    make(name), every_k_schedule=2, accumulator_dtype=jnp.float64
  )
  grad_fn = jax.grad(loss)
  first = jax.grad(loss)(params)
  second = jax.tree.map(lambda g: -0.5 * g, first)
  state = transform.init(params)
  skipped, state = transform.update(first, state, params, grad_fn=grad_fn)
  updates, _ = transform.update(second, state, params, grad_fn=grad_fn)
  inner = make(name)
  mean = jax.tree.map(lambda a, b: (a + b) / 2, first, second)
  expected, _ = inner.update(mean, inner.init(params), params, grad_fn=grad_fn)
  chex.assert_trees_all_equal(skipped, jax.tree.map(jnp.zeros_like, params))
  assert_close(updates, expected, 1e-12)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.float64
def test_apply_if_finite_skips_a_nan_step(name):
  params = params_of()
  transform = optax.apply_if_finite(make(name), max_consecutive_errors=3)
  grad_fn = jax.grad(loss)
  nan_grads = jax.tree.map(lambda g: jnp.full_like(g, jnp.nan), params)
  state = transform.init(params)
  updates, state = transform.update(nan_grads, state, params, grad_fn=grad_fn)
  chex.assert_trees_all_equal(updates, jax.tree.map(jnp.zeros_like, params))
  chex.assert_trees_all_equal(state.inner_state, make(name).init(params))
  updates, _ = transform.update(grad_fn(params), state, params, grad_fn=grad_fn)
  expected, _ = make(name).update(
    grad_fn(params), make(name).init(params), params, grad_fn=grad_fn
  )
  assert_close(updates, expected, 1e-12)


# Property tests: one compiled function per family, hyperparameters traced.
_unit = st.floats(0.0, 0.999)
_HYPERPARAMETERS = {
  "nesterov_lookahead": dict(learning_rate=st.floats(0.0, 10.0), decay=_unit),
  "adadelta_bigstart": dict(
    learning_rate=st.floats(0.0, 10.0),
    rho=_unit,
    eps=st.floats(0.0, 1.0),
    initial_delta_sq=st.floats(0.0, 100.0),
  ),
  "adam_calibrated": dict(
    learning_rate=st.floats(0.0, 10.0),
    b1=_unit,
    b2=_unit,
    eps=st.floats(0.0, 1.0),
    eps_root=st.floats(0.0, 1.0),
  ),
  "adagrad_family": dict(
    learning_rate=st.floats(0.0, 10.0),
    power=st.floats(0.01, 2.0),
    order=st.floats(0.1, 4.0),
    eps=st.floats(0.0, 1.0),
    initial_accumulator_value=st.floats(0.0, 10.0),
  ),
}
_FACTORIES = {
  "nesterov_lookahead": functools.partial(
    optax_extras.nesterov_lookahead, lookahead=(0.0, 0.5, 1.0)
  ),
  "adadelta_bigstart": optax_extras.adadelta_bigstart,
  "adam_calibrated": optax_extras.adam_calibrated,
  "adagrad_family": optax_extras.adagrad_family,
}


@functools.cache
def _three_steps(name):
  @jax.jit
  def run(hyperparams, params):
    return descend(_FACTORIES[name](**hyperparams), loss, params, 3)

  return run


_finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("name", list(_FACTORIES))
def test_finite_in_finite_out_shapes_kept(name):
  @hypothesis.settings(max_examples=30, deadline=None)
  @hypothesis.given(
    hyperparams=st.fixed_dictionaries(_HYPERPARAMETERS[name]),
    w=st.lists(_finite, min_size=6, max_size=6),
    b=st.lists(_finite, min_size=3, max_size=3),
  )
  def check(hyperparams, w, b):
    params = {"w": jnp.reshape(jnp.array(w), (2, 3)), "b": jnp.array(b)}
    final, updates = _three_steps(name)(hyperparams, params)
    assert params["w"].dtype == jnp.float32
    assert jax.tree.structure(final) == jax.tree.structure(params)
    chex.assert_tree_all_finite(updates)
    chex.assert_trees_all_equal_shapes(
      jax.tree.map(lambda x: x[-1], final), params
    )

  check()
