"""Lasagne's update rules (`lasagne.updates`), with their names and defaults.

Lasagne (on Theano) cannot be installed here; each rule is written from its
published source, `lasagne/updates.py` (Lasagne 0.1), and tested against
float64 references written from the same source (tests/references.py).
The Habr article "Neural network optimization methods", whose figures the
gallery redraws, uses `nesterov_momentum`, `rmsprop`, `adadelta`,
`adagrad` and `adam`.
"""

import jax
import optax
from optax import ScalarOrSchedule

from optax_extras._src import validation as _validation
from optax_extras._src.compat import rules


def _done(owner, transform, learning_rate, **hyperparameters):
  if not callable(learning_rate):
    _validation.check_nonnegative(owner, "learning_rate", learning_rate)
  return _validation.with_param_checks(
    owner, transform, learning_rate=learning_rate, **hyperparameters
  )


def lasagne_sgd(
  learning_rate: ScalarOrSchedule,
) -> optax.GradientTransformationExtraArgs:
  r"""`lasagne.updates.sgd`: :math:`p \leftarrow p - \eta g`, ``optax.sgd``.

  References:
    ``lasagne/updates.py``, ``sgd``.
  """
  return _done("lasagne_sgd", optax.sgd(learning_rate), learning_rate)


def _velocity(owner, learning_rate, momentum, nesterov):
  _validation.check_decay(owner, "momentum", momentum)
  return _done(
    owner,
    optax.chain(
      optax.scale_by_learning_rate(learning_rate),
      optax.trace(decay=momentum, nesterov=nesterov),
    ),
    learning_rate,
    momentum=momentum,
  )


def lasagne_momentum(
  learning_rate: ScalarOrSchedule, momentum: jax.typing.ArrayLike = 0.9
) -> optax.GradientTransformationExtraArgs:
  r"""`lasagne.updates.momentum`: the velocity holds the learning rate.

  .. math::
    v_t = \mu v_{t-1} - \eta_t g_t, \quad p \leftarrow p + v_t:

  ``optax.scale_by_learning_rate`` then ``optax.trace(momentum)``; the
  iterates of ``optax.sgd(learning_rate, momentum)`` at a constant rate.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    momentum: :math:`\mu \in [0, 1)`, optax's ``momentum``.

  References:
    ``lasagne/updates.py``, ``momentum`` and ``apply_momentum``.
  """
  return _velocity("lasagne_momentum", learning_rate, momentum, False)


def lasagne_nesterov_momentum(
  learning_rate: ScalarOrSchedule, momentum: jax.typing.ArrayLike = 0.9
) -> optax.GradientTransformationExtraArgs:
  r"""`lasagne.updates.nesterov_momentum`: Sutskever's reformulated Nesterov.

  .. math::
    v_t = \mu v_{t-1} - \eta_t g_t, \quad
    p \leftarrow p + \mu v_t - \eta_t g_t,

  with :math:`g_t` at the current point: ``optax.scale_by_learning_rate``
  then ``optax.trace(momentum, nesterov=True)``; the iterates of
  ``optax.sgd(nesterov=True)`` at a constant rate, and those of
  ``optax_extras.nesterov_lookahead(learning_rate, momentum)`` through
  :math:`\varphi = \theta + \mu (\theta - \theta_{prev})`.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    momentum: :math:`\mu \in [0, 1)`, optax's ``momentum``.

  References:
    ``lasagne/updates.py``, ``nesterov_momentum`` and
    ``apply_nesterov_momentum``.
  """
  return _velocity("lasagne_nesterov_momentum", learning_rate, momentum, True)


def lasagne_adagrad(
  learning_rate: ScalarOrSchedule = 1.0, epsilon: jax.typing.ArrayLike = 1e-6
) -> optax.GradientTransformationExtraArgs:
  r"""`lasagne.updates.adagrad`: accumulator from 0, eps 1e-6 in the root.

  .. math::
    A_t = A_{t-1} + g_t^2, \quad
    p \leftarrow p - \eta \frac{g_t}{\sqrt{A_t + \epsilon}}:

  ``optax.adagrad(learning_rate, initial_accumulator_value=0,
  eps=epsilon)`` (optax's accumulator starts at 0.1).

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    epsilon: :math:`\epsilon \ge 0`, optax's ``eps``.

  References:
    ``lasagne/updates.py``, ``adagrad``.
  """
  owner = "lasagne_adagrad"
  _validation.check_nonnegative(owner, "epsilon", epsilon)
  return _done(
    owner,
    optax.adagrad(learning_rate, initial_accumulator_value=0.0, eps=epsilon),
    learning_rate,
    epsilon=epsilon,
  )


def lasagne_rmsprop(
  learning_rate: ScalarOrSchedule = 1.0,
  rho: jax.typing.ArrayLike = 0.9,
  epsilon: jax.typing.ArrayLike = 1e-6,
) -> optax.GradientTransformationExtraArgs:
  r"""`lasagne.updates.rmsprop`: optax's RMSProp, eps 1e-6, rate 1.

  .. math::
    s_t = \rho s_{t-1} + (1 - \rho) g_t^2, \quad
    p \leftarrow p - \eta \frac{g_t}{\sqrt{s_t + \epsilon}}:

  ``optax.rmsprop(learning_rate, decay=rho, eps=epsilon)``.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    rho: :math:`\rho \in [0, 1)`, optax's ``decay``.
    epsilon: :math:`\epsilon \ge 0`, optax's ``eps``.

  References:
    ``lasagne/updates.py``, ``rmsprop``.
  """
  owner = "lasagne_rmsprop"
  _validation.check_decay(owner, "rho", rho)
  _validation.check_nonnegative(owner, "epsilon", epsilon)
  return _done(
    owner,
    optax.rmsprop(learning_rate, decay=rho, eps=epsilon),
    learning_rate,
    rho=rho,
    epsilon=epsilon,
  )


def lasagne_adadelta(
  learning_rate: ScalarOrSchedule = 1.0,
  rho: jax.typing.ArrayLike = 0.95,
  epsilon: jax.typing.ArrayLike = 1e-6,
) -> optax.GradientTransformationExtraArgs:
  r"""`lasagne.updates.adadelta`: optax's Adadelta, rho 0.95.

  .. math::
    E_t = \rho E_{t-1} + (1 - \rho) g_t^2, \quad
    \Delta_t = \frac{\sqrt{D_{t-1} + \epsilon}}{\sqrt{E_t + \epsilon}} g_t,
    \quad D_t = \rho D_{t-1} + (1 - \rho)\Delta_t^2, \quad
    p \leftarrow p - \eta \Delta_t:

  ``optax.adadelta(learning_rate, rho, eps=epsilon)``.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    rho: :math:`\rho \in [0, 1)`, optax's ``rho``.
    epsilon: :math:`\epsilon \ge 0`, optax's ``eps``.

  References:
    ``lasagne/updates.py``, ``adadelta``.
  """
  owner = "lasagne_adadelta"
  _validation.check_decay(owner, "rho", rho)
  _validation.check_nonnegative(owner, "epsilon", epsilon)
  return _done(
    owner,
    optax.adadelta(learning_rate, rho, eps=epsilon),
    learning_rate,
    rho=rho,
    epsilon=epsilon,
  )


def lasagne_adam(
  learning_rate: ScalarOrSchedule = 0.001,
  beta1: jax.typing.ArrayLike = 0.9,
  beta2: jax.typing.ArrayLike = 0.999,
  epsilon: jax.typing.ArrayLike = 1e-8,
) -> optax.GradientTransformationExtraArgs:
  r"""`lasagne.updates.adam`: the "epsilon hat" Adam, as TF1's.

  .. math::
    p \leftarrow p - \eta \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
    \frac{m_t}{\sqrt{v_t} + \hat\epsilon}:

  see `tf1_adam`, the same rule.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    beta1: optax's ``b1`` in [0, 1).
    beta2: optax's ``b2`` in [0, 1).
    epsilon: :math:`\hat\epsilon \ge 0` (not corrected).

  References:
    ``lasagne/updates.py``, ``adam``.
  """
  owner = "lasagne_adam"
  _validation.check_decay(owner, "beta1", beta1)
  _validation.check_decay(owner, "beta2", beta2)
  _validation.check_nonnegative(owner, "epsilon", epsilon)
  return _done(
    owner,
    optax.chain(
      rules.scale_by_epsilon_hat_adam(beta1, beta2, epsilon),
      optax.scale_by_learning_rate(learning_rate),
    ),
    learning_rate,
    beta1=beta1,
    beta2=beta2,
    epsilon=epsilon,
  )


def lasagne_adamax(
  learning_rate: ScalarOrSchedule = 0.002,
  beta1: jax.typing.ArrayLike = 0.9,
  beta2: jax.typing.ArrayLike = 0.999,
  epsilon: jax.typing.ArrayLike = 1e-8,
) -> optax.GradientTransformationExtraArgs:
  r"""`lasagne.updates.adamax`: eps outside the maximum, as Keras 3's.

  .. math::
    u_t = \max(\beta_2 u_{t-1}, |g_t|), \quad
    p \leftarrow p - \frac{\eta}{1 - \beta_1^t} \frac{m_t}{u_t + \epsilon}

  (``optax.adamax``: :math:`\max(\beta_2 u, |g| + \epsilon)`).

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    beta1: optax's ``b1`` in [0, 1).
    beta2: optax's ``b2`` in [0, 1).
    epsilon: :math:`\epsilon \ge 0` (placed as above).

  References:
    ``lasagne/updates.py``, ``adamax``.
  """
  owner = "lasagne_adamax"
  _validation.check_decay(owner, "beta1", beta1)
  _validation.check_decay(owner, "beta2", beta2)
  _validation.check_nonnegative(owner, "epsilon", epsilon)
  return _done(
    owner,
    optax.chain(
      rules.scale_by_adamax_eps_outside(beta1, beta2, epsilon),
      optax.scale_by_learning_rate(learning_rate),
    ),
    learning_rate,
    beta1=beta1,
    beta2=beta2,
    epsilon=epsilon,
  )
