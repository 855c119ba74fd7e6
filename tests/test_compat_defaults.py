"""Defaults that work: each optimizer of this library, at its defaults and
its family's conventional learning rate, trains a small MLP on the digits.

scikit-learn's 8x8 digits (shipped with it), 64 -> 64 -> 10 with a ReLU, as
in experiments/training.py, written here in plain JAX: 8 epochs of
mini-batches of 32, then the validation accuracy.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_extras

pytestmark = pytest.mark.float32  # The users' default.

CONVENTIONAL = {
  # name: (optimizer at its defaults, the conventional learning rate)
  "nesterov_lookahead": (optax_extras.nesterov_lookahead, 0.1),
  "adam_calibrated": (optax_extras.adam_calibrated, 1e-3),
  "adadelta_bigstart": (optax_extras.adadelta_bigstart, 1.0),
  "adagrad_family": (optax_extras.adagrad_family, 0.01),
}
EPOCHS, BATCH = 8, 32


@pytest.fixture(scope="module")
def digits():
  from sklearn import datasets, model_selection

  data = datasets.load_digits()
  x = (data.data / 16.0).astype(np.float32)
  y = data.target.astype(np.int32)
  return model_selection.train_test_split(
    x, y, test_size=0.2, stratify=y, random_state=0
  )


def _init(key):
  k1, k2 = jax.random.split(key)
  lecun = jax.nn.initializers.lecun_normal()
  return {
    "w1": lecun(k1, (64, 64)),
    "b1": jnp.zeros(64),
    "w2": lecun(k2, (64, 10)),
    "b2": jnp.zeros(10),
  }


def _logits(p, x):
  return jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


def _loss(p, x, y):
  return optax.softmax_cross_entropy_with_integer_labels(
    _logits(p, x), y
  ).mean()


def train(transform, digits, seed=0):
  """Validation accuracy and the last epoch's training loss."""
  x_train, x_val, y_train, y_val = digits
  steps = len(x_train) // BATCH
  order = np.concatenate(
    [
      np.random.default_rng([seed, e]).permutation(len(x_train))[
        : steps * BATCH
      ]
      for e in range(EPOCHS)
    ]
  ).reshape(-1, BATCH)

  def step(carry, idx):
    params, state = carry
    xb, yb = x_train[idx], y_train[idx]
    grad_fn = jax.grad(lambda p: _loss(p, xb, yb))
    loss, grads = jax.value_and_grad(_loss)(params, xb, yb)
    updates, state = transform.update(grads, state, params, grad_fn=grad_fn)
    return (optax.apply_updates(params, updates), state), loss

  @jax.jit
  def run(params):
    (params, _), losses = jax.lax.scan(
      step, (params, transform.init(params)), order
    )
    return params, losses

  x_train, y_train = jnp.asarray(x_train), jnp.asarray(y_train)
  params, losses = run(_init(jax.random.key(seed)))
  accuracy = jnp.mean(jnp.argmax(_logits(params, x_val), -1) == y_val)
  return float(accuracy), float(jnp.mean(losses[-steps:]))


@pytest.mark.parametrize("name", list(CONVENTIONAL))
def test_defaults_train_the_digits_mlp(name, digits):
  make, learning_rate = CONVENTIONAL[name]
  accuracy, loss = train(make(learning_rate), digits)
  assert accuracy > 0.9, (name, accuracy, loss)


def test_the_old_adadelta_default_did_not(digits):
  """The issue's case: E[dx^2]_0 = 1 makes every first step ~3 at rate 1."""
  accuracy, _ = train(
    optax_extras.adadelta_bigstart(1.0, initial_delta_sq=1.0), digits
  )
  assert accuracy < 0.5


def test_initial_delta_sq_sets_the_first_step():
  """As its docstring says: about sqrt(E[dx^2]_0 / (1 - rho)) per coordinate."""
  transform = optax_extras.scale_by_adadelta_bigstart()
  step, _ = transform.update(jnp.ones(3), transform.init(jnp.zeros(3)))
  np.testing.assert_allclose(step, np.sqrt(1e-4 / 0.1), rtol=1e-2)
