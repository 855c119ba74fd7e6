"""The sources' optimizers: their libraries' exact rules, in one place.

Lasagne's (the Habr article) and TensorFlow 1's (the TF1 notebook) are
`optax_extras.compat`'s functions themselves; ``seed002_*`` are the DL Notes
post's from-scratch NumPy rules, composed from optax and optax_extras, each
written out in full in its docstring (the README's Sources cites all three).
"""

import optax

import optax_extras
from optax_extras.compat import (  # noqa: F401 (the seeds' optimizers)
  lasagne_adadelta,
  lasagne_adagrad,
  lasagne_adam,
  lasagne_nesterov_momentum,
  lasagne_rmsprop,
  tf1_adagrad,
  tf1_adam,
  tf1_gradient_descent,
  tf1_momentum,
  tf1_rmsprop,
)

# --- The DL Notes post: NumPy from scratch --------------------------------


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
