"""scale_by_momentum_lookahead against its float64 reference and optax."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

import optax_extras
from optax_extras import signals
from tests import references
from tests.helpers import (
  TOLERANCE,
  assert_close,
  descend,
  in_precision,
  random_tree,
  run_sequence,
)

pytestmark = pytest.mark.float32  # The users' default; float64 where marked.

SIGNALS = np.stack(list(references.seed_signals().values()))  # [6, T]
DECAYS = np.array([0.25, 0.9, 0.975])
PARAMS = {
  "w": np.linspace(-1.0, 2.0, 6).reshape(2, 3),
  "b": np.array([0.5, -3.0]),
}
# The same, flat as ravel_pytree orders them, in float64 whatever the mode.
FLAT_PARAMS = np.concatenate([np.ravel(x) for x in jax.tree.leaves(PARAMS)])
FRACTIONS = [(0.0,), (1.0,), (0.25, 0.5, 0.75, 1.0), (0.0, 0.5, 1.5)]


def loss(params):
  """Non-separable and non-quadratic, so look-ahead points matter."""
  flat = ravel_pytree(params)[0]
  return (
    jnp.sum(jnp.sin(flat)) + 0.5 * jnp.sum(flat**2) + jnp.sum(flat) ** 2 / 10
  )


def loss_grad_numpy(flat):
  return np.cos(flat) + flat + np.sum(flat) / 5


def flatten(trees):
  return jax.vmap(lambda tree: ravel_pytree(tree)[0])(trees)


def as_dtype(tree, dtype):
  return jax.tree.map(lambda x: jnp.asarray(x, dtype), tree)


@pytest.mark.parametrize(
  "dtype", [in_precision(np.float64), in_precision(np.float32)]
)
@pytest.mark.parametrize(
  "lookahead",
  [
    pytest.param((0.0,), id="momentum"),
    pytest.param((1.0,), id="nesterov"),
    pytest.param((0.25, 0.5, 0.75, 1.0), id="smoothed_nesterov"),
  ],
)
def test_seed_signals_match_reference(dtype, lookahead):
  # v = decay v + lr mean_c X(i + c decay v), read with linear interpolation.

  @jax.jit
  @jax.vmap
  def run(decay):
    transform = optax_extras.nesterov_lookahead(0.25, decay, lookahead)
    return jax.vmap(lambda s: -signals.response(transform, s))(
      SIGNALS.astype(dtype)
    )

  responses = run(DECAYS.astype(dtype))
  assert responses.dtype == dtype
  # Float32 resolves the position read only to about eps * |parameter|.
  tolerance = 1e-4 if dtype == np.float32 else TOLERANCE[dtype]
  for i, decay in enumerate(DECAYS):
    for j, signal in enumerate(SIGNALS):
      expected = references.signal_momentum_response(
        signal, 0.25, decay, lookahead
      )
      assert_close(responses[i, j], expected, tolerance)


@pytest.mark.parametrize(
  "dtype", [in_precision(np.float64), in_precision(np.float32)]
)
@pytest.mark.parametrize("lookahead", FRACTIONS)
def test_constant_rate_is_sutskever_nesterov(dtype, lookahead):
  # Sutskever et al. (2013): v = mu v - lr g(theta + mu v), theta += v; the
  # updates are the velocities, and both paths build the same optimizer.
  num_steps = 30
  expected_params, expected_velocities = references.momentum_lookahead(
    loss_grad_numpy,
    FLAT_PARAMS,
    np.full(num_steps, 0.1),
    0.8,
    lookahead,
  )
  composed = optax.chain(
    optax_extras.scale_by_momentum_lookahead(decay=0.8, lookahead=lookahead),
    optax.scale_by_learning_rate(0.1),
  )
  alias = optax_extras.nesterov_lookahead(0.1, 0.8, lookahead)
  for transform in (composed, alias):
    params, updates = jax.jit(lambda p, t=transform: descend(t, loss, p, 30))(
      as_dtype(PARAMS, dtype)
    )
    assert flatten(params).dtype == dtype
    assert_close(flatten(params), expected_params, TOLERANCE[dtype])
    assert_close(flatten(updates), expected_velocities, TOLERANCE[dtype])


@pytest.mark.float64
@pytest.mark.parametrize("lookahead", FRACTIONS)
def test_schedule_rescales_the_trace_as_optax_sgd(lookahead):
  # Under a schedule the trace is in gradient units: theta -= lr_t m.
  num_steps = 30
  rates = 0.1 / (1 + np.arange(num_steps) / 10)
  transform = optax_extras.nesterov_lookahead(
    lambda count: 0.1 / (1 + count.astype(jnp.float64) / 10), 0.8, lookahead
  )
  params, updates = jax.jit(lambda p: descend(transform, loss, p, num_steps))(
    as_dtype(PARAMS, jnp.float64)
  )
  thetas, steps = references.momentum_lookahead_trace(
    loss_grad_numpy, FLAT_PARAMS, rates, 0.8, lookahead
  )
  assert_close(flatten(params), thetas, 1e-10)
  assert_close(flatten(updates), steps, 1e-10)
  # Which is not Sutskever's velocity, gamma v - lr_t g, once the rate moves.
  sutskever, _ = references.momentum_lookahead(
    loss_grad_numpy, FLAT_PARAMS, rates, 0.8, lookahead
  )
  assert np.max(np.abs(flatten(params) - sutskever)) > 1e-3


@pytest.mark.float64
@pytest.mark.parametrize(
  "learning_rate", [0.05, optax.linear_schedule(0.2, 0.01, 30)]
)
def test_heavy_ball_is_optax_sgd_and_trace(learning_rate):
  # lookahead=(0.0,) is optax.trace, and nesterov_lookahead optax.sgd,
  # schedules included.
  params = as_dtype(PARAMS, jnp.float64)
  run = jax.jit(lambda t, p: descend(t, loss, p, 30), static_argnums=0)
  ours = run(
    optax_extras.nesterov_lookahead(learning_rate, 0.7, (0.0,)), params
  )
  theirs = run(optax.sgd(learning_rate, 0.7), params)
  assert_close(ours, theirs, 1e-12)
  grads = random_tree(seed=0, num_steps=30)
  transform = optax_extras.scale_by_momentum_lookahead(
    decay=0.7, lookahead=(0.0,)
  )
  trace = run_sequence(transform, grads)  # No grad_fn, no params needed.
  assert_close(trace, run_sequence(optax.trace(0.7), grads), 1e-12)
  expected = jax.tree.map(lambda g: references.heavy_ball_trace(g, 0.7), grads)
  assert_close(trace, expected, 1e-12)


@pytest.mark.float64
def test_gradient_is_read_along_the_last_step_taken():
  # The point ahead is theta_t + c decay (theta_t - theta_{t-1}), whatever
  # moved the parameters: the transform keeps the last parameters it saw.
  points = []

  def grad_fn(params):
    points.append(params)
    return jax.grad(loss)(params)

  transform = optax_extras.scale_by_momentum_lookahead(
    decay=0.5, lookahead=(0.0, 1.0, 2.0)
  )
  first = as_dtype(PARAMS, jnp.float64)
  second = jax.tree.map(lambda p: 3.0 * p - 1.0, first)
  state = transform.init(first)
  updates, state = transform.update(
    grad_fn(first), state, first, grad_fn=grad_fn
  )
  assert_close(points[1:], [first, first], 0.0)  # No step taken yet.
  points.clear()
  transform.update(grad_fn(second), state, second, grad_fn=grad_fn)
  expected = [
    jax.tree.map(lambda p, q, c=c: p + c * 0.5 * (p - q), second, first)
    for c in (1.0, 2.0)
  ]
  assert_close(points[1:], expected, 1e-15)
  # And the update is the trace: decay * m_1 + the mean of the three.
  grads = [jax.grad(loss)(second)] + [jax.grad(loss)(p) for p in expected]
  new, _ = transform.update(grad_fn(second), state, second, grad_fn=grad_fn)
  assert_close(
    new,
    jax.tree.map(lambda m, *g: 0.5 * m + sum(g) / 3, updates, *grads),
    1e-14,
  )


@pytest.mark.float64
@pytest.mark.parametrize("learning_rate,decay", [(0.05, 0.9), (0.2, 0.5)])
def test_nesterov_maps_onto_optax_sgd_through_phi(learning_rate, decay):
  # phi_t = theta_t + decay (theta_t - theta_{t-1}) follows
  # optax.sgd(nesterov=True) exactly, for a constant learning rate.
  start = as_dtype(PARAMS, jnp.float64)
  thetas, _ = descend(
    optax_extras.nesterov_lookahead(learning_rate, decay), loss, start, 40
  )
  previous = jax.tree.map(
    lambda s, t: jnp.concatenate([s[None], t[:-1]]), start, thetas
  )
  phis = jax.tree.map(lambda t, p: t + decay * (t - p), thetas, previous)
  sgd_params, _ = descend(
    optax.sgd(learning_rate, decay, nesterov=True), loss, start, 40
  )
  assert_close(phis, sgd_params, 1e-10)
  # And optax's iterates are those of the independent reference.
  expected = references.nesterov_sgd_params(
    loss_grad_numpy, FLAT_PARAMS, learning_rate, decay, 40
  )
  assert_close(flatten(phis), expected, 1e-10)


def test_updates_have_the_sign_and_units_of_the_gradient():
  # A scale_by_* transform: at the first step the update is the gradient.
  transform = optax_extras.scale_by_momentum_lookahead(decay=0.9)
  params = {"w": jnp.array([1.0, -2.0])}
  grads = jax.grad(loss)(params)
  updates, _ = transform.update(
    grads, transform.init(params), params, grad_fn=jax.grad(loss)
  )
  assert_close(updates, grads, 1e-6)


def test_old_positional_learning_rate_is_refused():
  # The learning rate left this transform: an old call must not silently
  # take it for the decay.
  with pytest.raises(TypeError):
    optax_extras.scale_by_momentum_lookahead(0.1, 0.9)
  with pytest.raises(TypeError):
    optax_extras.scale_by_momentum_lookahead(0.1)


def test_grad_fn_called_once_per_nonzero_fraction():
  calls = []

  def grad_fn(params):
    calls.append(params)
    return jax.grad(loss)(params)

  transform = optax_extras.scale_by_momentum_lookahead(
    decay=0.9, lookahead=(0.0, 0.5, 1.0)
  )
  params = as_dtype(PARAMS, jnp.float32)
  transform.update(
    grad_fn(params), transform.init(params), params, grad_fn=grad_fn
  )
  assert len(calls) == 1 + 2


@pytest.mark.float64
def test_grad_fn_forwarded_through_chain():
  transform = optax_extras.nesterov_lookahead(0.1, 0.9, (0.5, 1.0))
  chained = optax.chain(optax.clip_by_global_norm(1e9), transform)
  params = as_dtype(PARAMS, jnp.float64)
  _, alone = descend(transform, loss, params, 10)
  _, in_chain = descend(chained, loss, params, 10)
  assert_close(in_chain, alone, 1e-12)
