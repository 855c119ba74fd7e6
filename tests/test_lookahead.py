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
  random_tree,
  run_sequence,
)

SIGNALS = np.stack(list(references.seed_signals().values()))  # [6, T]
DECAYS = np.array([0.25, 0.9, 0.975])  # The seed's sweep.
PARAMS = {
  "w": np.linspace(-1.0, 2.0, 6).reshape(2, 3),
  "b": np.array([0.5, -3.0]),
}


def loss(params):
  """Non-separable and non-quadratic, so look-ahead points matter."""
  flat = ravel_pytree(params)[0]
  return (
    jnp.sum(jnp.sin(flat)) + 0.5 * jnp.sum(flat**2) + jnp.sum(flat) ** 2 / 10
  )


def loss_grad_numpy(flat):
  return np.cos(flat) + flat + np.sum(flat) / 5


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
  "lookahead",
  [(0.0,), (1.0,), (0.25, 0.5, 0.75, 1.0)],
  ids=["momentum", "nesterov", "smoothed_nesterov"],
)
def test_seed_signals_match_reference(dtype, lookahead):
  # The seed's 1-D figures, with correct interpolation, lr 0.25.
  @jax.jit
  @jax.vmap
  def run(decay):
    transform = optax_extras.nesterov_lookahead(0.25, decay, lookahead)
    return jax.vmap(lambda s: -signals.response(transform, s))(
      SIGNALS.astype(dtype)
    )

  responses = run(DECAYS.astype(dtype))
  assert responses.dtype == dtype
  # The parameter is the epoch (up to 300): float32 resolves positions only
  # to about 2e-5 there, so look-ahead reads of a signal with unit slopes
  # carry that error; float64 meets the usual bound.
  tolerance = 1e-4 if dtype == np.float32 else TOLERANCE[dtype]
  for i, decay in enumerate(DECAYS):
    for j, signal in enumerate(SIGNALS):
      expected = references.signal_momentum_response(
        signal, 0.25, decay, lookahead
      )
      assert_close(responses[i, j], expected, tolerance)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lookahead", [(1.0,), (0.0, 0.5, 1.5)])
def test_parameter_space_matches_reference_with_schedule(dtype, lookahead):
  def schedule(count):
    return 0.1 / (1 + count.astype(dtype) / 10)

  num_steps = 30
  start = jax.tree.map(lambda p: p.astype(dtype), PARAMS)
  params, updates = jax.jit(
    lambda p: descend(
      optax_extras.nesterov_lookahead(schedule, 0.8, lookahead),
      loss,
      p,
      num_steps,
    )
  )(start)
  thetas, velocities = references.momentum_lookahead(
    loss_grad_numpy,
    ravel_pytree(PARAMS)[0],
    0.1 / (1 + np.arange(num_steps) / 10),
    0.8,
    lookahead,
  )
  flatten = jax.vmap(lambda tree: ravel_pytree(tree)[0])
  assert flatten(params).dtype == dtype
  assert_close(flatten(params), thetas, TOLERANCE[dtype])
  assert_close(flatten(updates), velocities, TOLERANCE[dtype])


@pytest.mark.parametrize("learning_rate,decay", [(0.05, 0.9), (0.2, 0.5)])
def test_nesterov_maps_onto_optax_sgd_through_phi(learning_rate, decay):
  # phi = theta + decay * v follows optax.sgd(nesterov=True) exactly.
  thetas, velocities = descend(
    optax_extras.nesterov_lookahead(learning_rate, decay), loss, PARAMS, 40
  )
  phis = jax.tree.map(lambda t, v: t + decay * v, thetas, velocities)
  sgd_params, _ = descend(
    optax.sgd(learning_rate, decay, nesterov=True), loss, PARAMS, 40
  )
  assert_close(phis, sgd_params, 1e-10)
  # And optax's iterates are those of the independent reference.
  expected = references.nesterov_sgd_params(
    loss_grad_numpy, ravel_pytree(PARAMS)[0], learning_rate, decay, 40
  )
  assert_close(jax.vmap(lambda t: ravel_pytree(t)[0])(phis), expected, 1e-10)


def test_zero_fraction_is_heavy_ball_momentum_without_grad_fn():
  grads = random_tree(seed=0, num_steps=30)
  ours = run_sequence(  # No grad_fn given: none is needed.
    optax_extras.scale_by_momentum_lookahead(0.3, 0.7, (0.0,)), grads
  )
  trace = run_sequence(optax.trace(0.7), grads)
  assert_close(ours, jax.tree.map(lambda t: -0.3 * t, trace), 1e-12)
  expected = jax.tree.map(lambda g: references.heavy_ball_trace(g, 0.7), grads)
  assert_close(trace, expected, 1e-12)


def test_grad_fn_called_once_per_nonzero_fraction():
  calls = []

  def grad_fn(params):
    calls.append(params)
    return jax.grad(loss)(params)

  transform = optax_extras.scale_by_momentum_lookahead(
    0.1, 0.9, (0.0, 0.5, 1.0)
  )
  state = transform.init(PARAMS)
  transform.update(grad_fn(PARAMS), state, PARAMS, grad_fn=grad_fn)
  assert len(calls) == 1 + 2


def test_grad_fn_forwarded_through_chain():
  transform = optax_extras.nesterov_lookahead(0.1, 0.9, (0.5, 1.0))
  chained = optax.chain(optax.clip_by_global_norm(1e9), transform)
  _, alone = descend(transform, loss, PARAMS, 10)
  _, in_chain = descend(chained, loss, PARAMS, 10)
  assert_close(in_chain, alone, 1e-12)
