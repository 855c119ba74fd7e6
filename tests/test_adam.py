"""scale_by_adam_calibrated against its float64 reference and optax."""

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
BETA1S = np.array([0.25, 0.9, 0.975])  # The seed's sweep.


def halfway_correction(moment, decay, count):
  """A user rule: correct half of the missing weight."""
  return moment / (1 - decay**count / 2)


def tf1_calibration(b2):
  """TF1's and Lasagne's rule as a pair: sqrt(1 - b2^t) / (1 - b1^t) on m only."""
  return (
    lambda m, b1, t: m * jnp.sqrt(1 - b2**t) / (1 - b1**t),
    lambda s, decay, t: s,
  )


CALIBRATIONS = [*optax_extras.BIAS_CORRECTIONS, halfway_correction]


@pytest.mark.parametrize(
  "dtype", [in_precision(np.float64), in_precision(np.float32)]
)
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize(
  "bias_correction", CALIBRATIONS, ids=lambda c: getattr(c, "__name__", c)
)
def test_seed_signals_match_reference(dtype, nesterov, bias_correction):
  # The seed's Adam: lr 0.25, b2 0.999, eps 1e-7 inside the root.
  run = jax.jit(
    jax.vmap(
      lambda b1: run_sequence(
        optax_extras.scale_by_adam_calibrated(
          b1,
          0.999,
          eps=0.0,
          eps_root=1e-7,
          bias_correction=bias_correction,
          nesterov=nesterov,
        ),
        SIGNALS.astype(dtype),
      )
    )
  )
  updates = run(BETA1S.astype(dtype))
  assert updates.dtype == dtype
  for i, b1 in enumerate(BETA1S):
    expected = references.adam(
      SIGNALS, b1, 0.999, 0.0, 1e-7, bias_correction, nesterov
    )
    assert_close(updates[i], expected, TOLERANCE[dtype])


@pytest.mark.float64
@pytest.mark.parametrize("bias_correction", CALIBRATIONS[:5])
def test_random_tree_matches_reference(bias_correction):
  grads = random_tree(seed=0, num_steps=40, scale=0.1)
  updates = run_sequence(
    optax_extras.scale_by_adam_calibrated(
      0.8, 0.95, 1e-6, 1e-9, bias_correction=bias_correction, nesterov=True
    ),
    grads,
  )
  expected = jax.tree.map(
    lambda g: references.adam(g, 0.8, 0.95, 1e-6, 1e-9, bias_correction, True),
    grads,
  )
  assert_close(updates, expected, 1e-10)


@pytest.mark.float64
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("eps,eps_root", [(1e-8, 0.0), (0.0, 1e-7)])
def test_standard_equals_optax_scale_by_adam(nesterov, eps, eps_root):
  grads = random_tree(seed=1, num_steps=30)
  ours = run_sequence(
    optax_extras.scale_by_adam_calibrated(
      0.9, 0.999, eps, eps_root, nesterov=nesterov
    ),
    grads,
  )
  theirs = run_sequence(
    optax.scale_by_adam(0.9, 0.999, eps, eps_root, nesterov=nesterov), grads
  )
  assert_close(ours, theirs, 1e-12)


@pytest.mark.float64
def test_full_optimizer_equals_optax_adam_with_schedule():
  schedule = optax.exponential_decay(0.1, transition_steps=5, decay_rate=0.5)
  grads = random_tree(seed=2, num_steps=20)
  ours = run_sequence(optax_extras.adam_calibrated(schedule), grads)
  theirs = run_sequence(optax.adam(schedule), grads)
  assert_close(ours, theirs, 1e-12)


@pytest.mark.float64
@pytest.mark.parametrize(
  "bias_correction,first_step",
  [
    ("standard", 1.0),
    ("first_gradient", 1.0),
    ("none", 0.1 / np.sqrt(0.001)),
    ("first_moment_only", 1 / np.sqrt(0.001)),
    ("second_moment_only", 0.1),
  ],
)
def test_first_step_sizes_as_documented(bias_correction, first_step):
  # A constant gradient of 2: the first step, from the virtual-history view.
  updates = run_sequence(
    optax_extras.scale_by_adam_calibrated(
      eps=0.0, bias_correction=bias_correction
    ),
    jnp.full((1, 1), 2.0),
  )
  np.testing.assert_allclose(updates[0, 0], first_step, rtol=1e-12)


@pytest.mark.float64
def test_calibrations_agree_once_history_is_long():
  # Constant gradient: every rule's step tends to 1 as the zero start fades.
  grads = jnp.ones((20_000, 1))
  last_steps = [
    run_sequence(
      optax_extras.scale_by_adam_calibrated(eps=0.0, bias_correction=c), grads
    )[-1, 0]
    for c in ("standard", "none", "second_moment_only", "first_gradient")
  ]
  np.testing.assert_allclose(last_steps, 1.0, rtol=1e-6)


def test_float16_small_gradients_keep_the_unit_first_step():
  # (1 - b2) g^2 = 1e-11 underflows in float16; computing in float32 keeps
  # Adam's first step g / |g| instead of a silent 0.
  grads = jnp.full((1, 3), 1e-4, jnp.float16)
  updates = run_sequence(optax_extras.scale_by_adam_calibrated(), grads)
  assert updates.dtype == jnp.float16
  np.testing.assert_allclose(np.asarray(updates, np.float32), 1.0, rtol=1e-3)


@pytest.mark.float64
@pytest.mark.parametrize("learning_rate", [0.25, 1.0])
def test_calibration_pair_reproduces_tf1_adam(learning_rate):
  grads = random_tree(seed=4, num_steps=30)
  ours = run_sequence(
    optax_extras.adam_calibrated(
      learning_rate, 0.9, 0.999, 1e-8, bias_correction=tf1_calibration(0.999)
    ),
    grads,
  )
  expected = jax.tree.map(
    lambda g: references.tf1_adam(g, learning_rate, 0.9, 0.999, 1e-8), grads
  )
  assert_close(ours, expected, 1e-10)
