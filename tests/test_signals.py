"""The seed signals, their interpolation, and feeding them to transforms."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_extras
from optax_extras import signals
from tests import references

pytestmark = pytest.mark.float32  # The users' default; float64 where marked.


def test_seed_signals_are_the_seeds():
  ours, expected = signals.seed_signals(), references.seed_signals()
  assert tuple(ours) == signals.SIGNAL_NAMES == tuple(expected)
  for name in expected:
    np.testing.assert_array_equal(ours[name], expected[name], err_msg=name)


@pytest.mark.float64
@pytest.mark.parametrize("name", signals.SIGNAL_NAMES)
def test_interpolate_matches_reference(name):
  signal = references.seed_signals()[name]
  positions = np.concatenate(
    [
      [-3.0, -0.5, 0.0, 298.5, 299.0, 299.25, 300.0, 310.0],
      np.random.default_rng(0).uniform(0, 299, 50),
    ]
  )
  ours = signals.interpolate(jnp.asarray(signal), jnp.asarray(positions))
  expected = [references.interpolate(signal, p) for p in positions]
  np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15)


def test_interpolation_is_not_the_seed_bug():
  # The seed returned X[lo] + frac * X[hi]; midway between 1 and 1 that is 1.5.
  assert float(signals.interpolate(jnp.ones(4), 1.5)) == 1.0


@pytest.mark.float64
def test_response_of_an_optax_transform():
  signal = references.seed_signals()["rectangles"]
  ours = signals.response(optax.scale_by_rss(0.0, 1e-7), jnp.asarray(signal))
  expected = references.adagrad_family(signal, 0.5, 2.0, 1e-7, 0.0)
  np.testing.assert_allclose(ours, expected, rtol=1e-12)


@pytest.mark.float64
def test_response_of_a_full_optimizer_is_negated():
  signal = jnp.asarray(references.seed_signals()["saturation"])
  scaled = signals.response(optax_extras.scale_by_adam_calibrated(), signal)
  full = signals.response(optax_extras.adam_calibrated(0.25), signal)
  np.testing.assert_allclose(full, -0.25 * scaled, rtol=1e-12)
