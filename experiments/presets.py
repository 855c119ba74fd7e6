"""The seeds' optimizers: their libraries' exact rules, in one place.

Lasagne's (seed 000) and TensorFlow 1's (seed 003) come from
`optax_extras.compat`, with the signatures the catalogue calls them with;
``seed002_*`` are a from-scratch NumPy implementation's rules, composed from
optax and optax_extras, each written out in full in its docstring.
"""

import optax

import optax_extras
from optax_extras import compat

# --- Lasagne (lasagne.updates) ----------------------------------------------


def lasagne_nesterov_momentum(learning_rate: float, momentum: float = 0.9):
  """`v = mu v - lr g; w += mu v - lr g`: `compat.lasagne_nesterov_momentum`."""
  return compat.lasagne_nesterov_momentum(learning_rate, momentum)


def lasagne_rmsprop(
  learning_rate: float = 1.0, rho: float = 0.9, epsilon: float = 1e-6
):
  """`r = rho r + (1-rho) g^2; w -= lr g / sqrt(r + eps)`: `compat.lasagne_rmsprop`."""
  return compat.lasagne_rmsprop(learning_rate, rho, epsilon)


def lasagne_adagrad(learning_rate: float = 1.0, epsilon: float = 1e-6):
  """`a += g^2; w -= lr g / sqrt(a + eps)`, a from 0: `compat.lasagne_adagrad`."""
  return compat.lasagne_adagrad(learning_rate, epsilon)


def lasagne_adadelta(
  learning_rate: float = 1.0, rho: float = 0.95, epsilon: float = 1e-6
):
  """Zero-start Adadelta scaled by a learning rate (the seed used 100)."""
  return compat.lasagne_adadelta(learning_rate, rho, epsilon)


def lasagne_adam(
  learning_rate: float = 0.001,
  beta1: float = 0.9,
  beta2: float = 0.999,
  epsilon: float = 1e-8,
):
  """`w -= lr sqrt(1-b2^t)/(1-b1^t) m/(sqrt(v) + eps)`: `compat.lasagne_adam`."""
  return compat.lasagne_adam(learning_rate, beta1, beta2, epsilon)


# --- Seed 002: NumPy from scratch --------------------------------------------


def seed002_momentum(learning_rate: float, momentum: float = 0.95):
  """`v = mu v - lr g; theta += v`: heavy ball (`optax.sgd(lr, mu)`'s iterates)."""
  return optax_extras.nesterov_lookahead(learning_rate, momentum, (0.0,))


def seed002_nag(learning_rate: float, momentum: float = 0.95):
  """`v = mu v - lr g(theta + mu v)`: the gradient really evaluated ahead."""
  return optax_extras.nesterov_lookahead(learning_rate, momentum, (1.0,))


def seed002_adagrad(learning_rate: float):
  """`theta -= lr g / (sqrt(G) + 1e-8)`: eps outside the root (optax: inside)."""
  return optax_extras.adagrad_family(
    learning_rate, eps=1e-8, eps_in_power=False
  )


def seed002_rmsprop(learning_rate: float, decay: float = 0.9):
  """`theta -= lr g / (sqrt(E) + 1e-8)`: eps outside the root."""
  return optax.rmsprop(learning_rate, decay=decay, eps=1e-8, eps_in_sqrt=False)


def seed002_adadelta(learning_rate: float = 1.0, decay: float = 0.9):
  """Zero-start Adadelta with eps 1e-8 and no learning rate (it is ignored)."""
  del learning_rate
  return optax_extras.adadelta_bigstart(1.0, decay, 1e-8, initial_delta_sq=0.0)


def seed002_adam(learning_rate: float):
  """Standard Adam, eps 1e-8 outside the root: optax's rule."""
  return optax.adam(learning_rate, eps=1e-8)


# --- TensorFlow 1 (tf.compat.v1.train) --------------------------------------


def tf1_gradient_descent(learning_rate: float):
  """`w -= lr g`: `compat.tf1_gradient_descent`."""
  return compat.tf1_gradient_descent(learning_rate)


def tf1_momentum(learning_rate: float, momentum: float, nesterov: bool = False):
  """`a = mu a + g; w -= lr a` (Nesterov: `w -= lr (g + mu a)`): `compat.tf1_momentum`."""
  return compat.tf1_momentum(learning_rate, momentum, use_nesterov=nesterov)


def tf1_adagrad(learning_rate: float):
  """`a += g^2; w -= lr g / sqrt(a)`, a from 0.1, no eps: `compat.tf1_adagrad`."""
  return compat.tf1_adagrad(learning_rate)


def tf1_rmsprop(
  learning_rate: float, decay: float = 0.9, epsilon: float = 1e-10
):
  """`w -= lr g / sqrt(ms + eps)`, ms from 1 (optax: 0): `compat.tf1_rmsprop`."""
  return compat.tf1_rmsprop(learning_rate, decay, epsilon=epsilon)


def tf1_adam(
  learning_rate: float,
  beta1: float = 0.9,
  beta2: float = 0.999,
  epsilon: float = 1e-8,
):
  """TF1's Adam is Lasagne's, eps not bias-corrected: `compat.tf1_adam`."""
  return compat.tf1_adam(learning_rate, beta1, beta2, epsilon)
