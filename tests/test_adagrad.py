"""scale_by_adagrad_family against its float64 reference and optax."""

import jax
import jax.numpy as jnp
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
EPSILONS = np.array([1e-7, 0.1, 10.0])  # The seed's sweep.


@pytest.mark.parametrize(
  "dtype", [in_precision(np.float64), in_precision(np.float32)]
)
@pytest.mark.parametrize(
  "power,order",
  [(0.5, 2.0), (1.0, 2.0), (0.5, 1.0)],
  ids=["adagrad", "without_root", "moduli"],
)
def test_seed_signals_match_reference(dtype, power, order):
  run = jax.jit(
    jax.vmap(
      lambda eps: run_sequence(
        optax_extras.scale_by_adagrad_family(power, order, eps),
        SIGNALS.astype(dtype),
      )
    )
  )
  updates = run(EPSILONS.astype(dtype))
  assert updates.dtype == dtype
  for i, eps in enumerate(EPSILONS):
    expected = references.adagrad_family(SIGNALS, power, order, eps, 0.0)
    assert_close(updates[i], expected, TOLERANCE[dtype])


@pytest.mark.float64
def test_random_tree_matches_reference():
  grads = random_tree(seed=0, num_steps=40, scale=2.0)
  updates = jax.jit(
    lambda g: run_sequence(
      optax_extras.scale_by_adagrad_family(0.7, 1.5, 1e-3, 0.2), g
    )
  )(grads)
  expected = jax.tree.map(
    lambda g: references.adagrad_family(g, 0.7, 1.5, 1e-3, 0.2), grads
  )
  assert_close(updates, expected, 1e-10)


@pytest.mark.float64
@pytest.mark.parametrize("initial,eps", [(0.0, 1e-7), (0.1, 1e-7), (0.1, 0.0)])
def test_adagrad_equals_optax_scale_by_rss(initial, eps):
  grads = random_tree(seed=1, num_steps=30)
  ours = run_sequence(
    optax_extras.scale_by_adagrad_family(0.5, 2.0, eps, initial), grads
  )
  theirs = run_sequence(optax.scale_by_rss(initial, eps), grads)
  assert_close(ours, theirs, 1e-12)


@pytest.mark.float64
def test_zero_gradient_without_eps_gives_zero_not_nan():
  transform = optax_extras.scale_by_adagrad_family(eps=0.0)
  updates = run_sequence(transform, {"w": jnp.zeros((3, 2))})
  np.testing.assert_array_equal(updates["w"], 0.0)


@pytest.mark.float64
def test_without_root_decays_as_one_over_t():
  # The seed's warning: removing the root makes steps fall like 1/t.
  grads = np.ones((100, 1))
  updates = run_sequence(
    optax_extras.scale_by_adagrad_family(1.0, eps=0.0), grads
  )
  np.testing.assert_allclose(updates[:, 0], 1.0 / np.arange(1, 101), rtol=1e-12)


@pytest.mark.float64
@pytest.mark.parametrize("power", [0.5, 1.0])
def test_eps_outside_the_power_matches_reference(power):
  # Seed 002's Adagrad: g / (sqrt(G) + 1e-8).
  grads = random_tree(seed=3, num_steps=30)
  updates = run_sequence(
    optax_extras.scale_by_adagrad_family(power, 2.0, 1e-8, eps_in_power=False),
    grads,
  )
  expected = jax.tree.map(
    lambda g: references.adagrad_family(
      g, power, 2.0, 1e-8, 0.0, eps_in_power=False
    ),
    grads,
  )
  assert_close(updates, expected, 1e-10)
