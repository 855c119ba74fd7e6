"""Each preset applies exactly its library's rule, written out in references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import presets
from optax_extras import landscapes
from tests import references
from tests.helpers import assert_close, descend

pytestmark = pytest.mark.float32  # The users' default; float64 where marked.

SURFACE = landscapes.get("hills_and_canyon")
START = np.array([-2.8, -2.5])
# Some of these paths are chaotic (RMSProp's jumps): after ~40 steps rounding
# differences of 1e-16 grow a thousandfold every 5 steps, so compare 30.
NUM_STEPS = 30
_grad = jax.jit(jax.grad(SURFACE))


def grad_numpy(w):
  return np.asarray(_grad(jnp.asarray(w)), np.float64)


CASES = [
  # (preset, old rule in references, the rule's settings)
  (
    presets.lasagne_nesterov_momentum(0.01, 0.9),
    "lasagne_nesterov",
    dict(lr=0.01, momentum=0.9),
  ),
  (
    presets.lasagne_rmsprop(0.25),
    "lasagne_rmsprop",
    dict(lr=0.25, rho=0.9, eps=1e-6),
  ),
  (presets.lasagne_adagrad(1.0), "lasagne_adagrad", dict(lr=1.0, eps=1e-6)),
  (
    presets.lasagne_adadelta(100.0),
    "lasagne_adadelta",
    dict(lr=100.0, rho=0.95, eps=1e-6),
  ),
  (
    presets.lasagne_adam(0.25),
    "tf1_adam",
    dict(lr=0.25, b1=0.9, b2=0.999, eps=1e-8),
  ),
  (presets.seed002_adagrad(0.1), "seed002_adagrad", dict(lr=0.1)),
  (presets.seed002_rmsprop(0.1), "seed002_rmsprop", dict(lr=0.1, decay=0.9)),
  (presets.seed002_adadelta(), "seed002_adadelta", dict(decay=0.9)),
  (presets.seed002_adam(0.1), "seed002_adam", dict(lr=0.1)),
  (
    presets.tf1_gradient_descent(0.2),
    "tf1_momentum",
    dict(lr=0.2, momentum=0.0),
  ),
  (presets.tf1_momentum(0.2, 0.3), "tf1_momentum", dict(lr=0.2, momentum=0.3)),
  (
    presets.tf1_momentum(0.01, 0.9, use_nesterov=True),
    "tf1_momentum",
    dict(lr=0.01, momentum=0.9, nesterov=True),
  ),
  (presets.tf1_adagrad(1.0), "tf1_adagrad", dict(lr=1.0)),
  (
    presets.tf1_rmsprop(0.15),
    "tf1_rmsprop",
    dict(lr=0.15, decay=0.9, eps=1e-10),
  ),
  (presets.tf1_adam(1.0), "tf1_adam", dict(lr=1.0, b1=0.9, b2=0.999, eps=1e-8)),
]


@pytest.mark.parametrize(
  "preset,rule,settings",
  CASES,
  ids=[f"{r}-{i}" for i, (_, r, _) in enumerate(CASES)],
)
@pytest.mark.float64
def test_preset_follows_the_old_rule(preset, rule, settings):
  iterates, _ = descend(preset, SURFACE, jnp.asarray(START), NUM_STEPS)
  expected = references.old_rule_iterates(
    rule, grad_numpy, START, NUM_STEPS, **settings
  )
  assert_close(iterates, expected, 1e-9)


@pytest.mark.parametrize(
  "make,fractions",
  [(presets.seed002_momentum, (0.0,)), (presets.seed002_nag, (1.0,))],
)
@pytest.mark.float64
def test_seed002_momentum_and_nag(make, fractions):
  iterates, _ = descend(
    make(0.05, 0.95), SURFACE, jnp.asarray(START), NUM_STEPS
  )
  expected, _ = references.momentum_lookahead(
    grad_numpy, START, np.full(NUM_STEPS, 0.05), 0.95, fractions
  )
  assert_close(iterates, expected, 1e-9)
