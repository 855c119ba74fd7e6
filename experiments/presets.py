"""Older libraries' optimizers, rebuilt from optax and optax_extras.

Each function returns a full optimizer with exactly the update rule the named
library applies, composed from optax's and this library's transforms; its
docstring writes the rule out and says what differs from optax's default.
The names follow the libraries: Lasagne (``lasagne.updates``, Lasagne 0.1
documentation), TensorFlow 1 (``tf.compat.v1.train``'s optimizers, TensorFlow
1.x API documentation), and ``seed002_*``: a from-scratch NumPy
implementation, whose rules are given in full in each docstring.
"""

import jax.numpy as jnp
import optax

import optax_extras


def epsilon_hat_calibration(b2: float) -> tuple:
  """Adam's calibration in TF1 and Lasagne: `lr sqrt(1-b2^t)/(1-b1^t)` on m only.

  Equivalent to the standard rule with `eps` scaled by `sqrt(1-b2^t)`.
  """
  return (
    lambda m, b1, t: m * jnp.sqrt(1 - b2**t) / (1 - b1**t),
    lambda v, decay, t: v,
  )


# --- Lasagne ----------------------------------------------------------------


def lasagne_nesterov_momentum(learning_rate: float, momentum: float = 0.9):
  """`v = mu v - lr g; w += mu v - lr g`: Lasagne's reformulated Nesterov.

  It evaluates g at the current point; its iterates are those of
  `optax.sgd(nesterov=True)`, and those of `nesterov_lookahead(lr, mu)`
  through `phi = theta + mu (theta - theta_prev)`.
  """
  return optax.sgd(learning_rate, momentum, nesterov=True)


def lasagne_rmsprop(
  learning_rate: float = 1.0, rho: float = 0.9, epsilon: float = 1e-6
):
  """`r = rho r + (1-rho) g^2; w -= lr g / sqrt(r + eps)`; optax's rule, eps 1e-6."""
  return optax.rmsprop(learning_rate, decay=rho, eps=epsilon)


def lasagne_adagrad(learning_rate: float = 1.0, epsilon: float = 1e-6):
  """`a += g^2; w -= lr g / sqrt(a + eps)`: accumulator from 0 (optax's is 0.1)."""
  return optax_extras.adagrad_family(learning_rate, eps=epsilon)


def lasagne_adadelta(
  learning_rate: float = 1.0, rho: float = 0.95, epsilon: float = 1e-6
):
  """Zero-start Adadelta scaled by a learning rate (the seed used 100)."""
  return optax_extras.adadelta_bigstart(
    learning_rate, rho, epsilon, initial_delta_sq=0.0
  )


def lasagne_adam(
  learning_rate: float = 0.001,
  beta1: float = 0.9,
  beta2: float = 0.999,
  epsilon: float = 1e-8,
):
  """`w -= lr sqrt(1-b2^t)/(1-b1^t) m/(sqrt(v) + eps)`: eps not bias-corrected."""
  return optax_extras.adam_calibrated(
    learning_rate,
    beta1,
    beta2,
    epsilon,
    bias_correction=epsilon_hat_calibration(beta2),
  )


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


# --- TensorFlow 1 -----------------------------------------------------------


def tf1_gradient_descent(learning_rate: float):
  """`w -= lr g`."""
  return optax.sgd(learning_rate)


def tf1_momentum(learning_rate: float, momentum: float, nesterov: bool = False):
  """`a = mu a + g; w -= lr a` (Nesterov: `w -= lr (g + mu a)`): optax's rule."""
  return optax.sgd(learning_rate, momentum, nesterov=nesterov)


def tf1_adagrad(learning_rate: float):
  """`a += g^2; w -= lr g / sqrt(a)`: accumulator starts at 0.1, no eps."""
  return optax_extras.adagrad_family(
    learning_rate, eps=0.0, initial_accumulator_value=0.1
  )


def tf1_rmsprop(
  learning_rate: float, decay: float = 0.9, epsilon: float = 1e-10
):
  """`w -= lr g / sqrt(ms + eps)` with the mean square starting at 1 (optax: 0)."""
  return optax.rmsprop(
    learning_rate, decay=decay, eps=epsilon, initial_scale=1.0
  )


def tf1_adam(
  learning_rate: float,
  beta1: float = 0.9,
  beta2: float = 0.999,
  epsilon: float = 1e-8,
):
  """TF1's Adam is Lasagne's: eps is not bias-corrected."""
  return lasagne_adam(learning_rate, beta1, beta2, epsilon)
