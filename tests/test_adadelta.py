"""scale_by_adadelta_bigstart against its float64 reference and optax."""

import jax
import numpy as np
import optax
import pytest

import optax_extras
from tests import references
from tests.helpers import (
  TOLERANCE,
  assert_close,
  in_precision,
  random_tree,
  run_sequence,
)

pytestmark = pytest.mark.float32  # The users' default; float64 where marked.

SIGNALS = np.stack(list(references.seed_signals().values()), axis=1)  # [T, 6]
RHOS = np.array([0.25, 0.9, 0.975])


@pytest.mark.parametrize(
  "dtype", [in_precision(np.float64), in_precision(np.float32)]
)
@pytest.mark.parametrize("initial_delta_sq", [0.0, 50.0])
def test_seed_signals_match_reference(dtype, initial_delta_sq):
  # The seed's figures: eps 1e-3, three decays, zero and big start. The
  # decays are swept with vmap: they are traced, not Python constants.
  run = jax.jit(
    jax.vmap(
      lambda rho: run_sequence(
        optax_extras.scale_by_adadelta_bigstart(rho, 1e-3, initial_delta_sq),
        SIGNALS.astype(dtype),
      )
    )
  )
  updates = run(RHOS.astype(dtype))
  assert updates.dtype == dtype
  for i, rho in enumerate(RHOS):
    expected = references.adadelta(SIGNALS, rho, 1e-3, initial_delta_sq)
    assert_close(updates[i], expected, TOLERANCE[dtype])


@pytest.mark.float64
def test_random_tree_matches_reference():
  grads = random_tree(seed=0, num_steps=40, scale=3.0)
  updates = jax.jit(
    lambda g: run_sequence(
      optax_extras.scale_by_adadelta_bigstart(0.8, 1e-6, 2.0), g
    )
  )(grads)
  expected = jax.tree.map(
    lambda g: references.adadelta(g, 0.8, 1e-6, 2.0), grads
  )
  assert_close(updates, expected, 1e-10)


@pytest.mark.float64
@pytest.mark.parametrize("rho,eps", [(0.9, 1e-6), (0.5, 1e-3)])
def test_zero_start_equals_optax(rho, eps):
  grads = random_tree(seed=1, num_steps=30)
  ours = run_sequence(
    optax_extras.scale_by_adadelta_bigstart(rho, eps, initial_delta_sq=0.0),
    grads,
  )
  theirs = run_sequence(optax.scale_by_adadelta(rho, eps), grads)
  assert_close(ours, theirs, 1e-12)


@pytest.mark.float64
def test_alias_is_transform_times_minus_learning_rate():
  grads = random_tree(seed=2, num_steps=10)
  scaled = run_sequence(optax_extras.scale_by_adadelta_bigstart(), grads)
  full = run_sequence(optax_extras.adadelta_bigstart(learning_rate=0.3), grads)
  assert_close(full, jax.tree.map(lambda u: -0.3 * u, scaled), 1e-12)
