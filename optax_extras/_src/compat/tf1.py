"""TensorFlow 1's optimizers (`tf.compat.v1.train`), with their names.

TensorFlow 1 cannot be installed here; each rule is written from its
published source: the Python optimizer in
`tensorflow/python/training/<name>.py` (slots and their initial values) and
its kernel in `tensorflow/core/kernels/training_ops.cc` (`Apply<Name>`), and
tested against float64 references written from the same source
(tests/references.py). The numeric hyperparameters may be traced (a sweep's
grid axis, `jax.vmap`): a traced 0 momentum gives what the concrete 0 gives,
bit for bit. The booleans (`use_nesterov`, `centered`) are static: a traced
one is refused with a TypeError.
"""

import jax
import optax
from optax import ScalarOrSchedule

from optax_extras._src import validation as _validation
from optax_extras._src.compat import rules


def _done(owner, transform, **hyperparameters):
  return _validation.with_param_checks(owner, transform, **hyperparameters)


def _check_rate(owner, learning_rate):
  if not callable(learning_rate):
    _validation.check_nonnegative(owner, "learning_rate", learning_rate)


def tf1_gradient_descent(
  learning_rate: ScalarOrSchedule,
) -> optax.GradientTransformationExtraArgs:
  r"""`GradientDescentOptimizer`: :math:`p \leftarrow p - \eta g`, ``optax.sgd``.

  References:
    ``tensorflow/python/training/gradient_descent.py``;
    ``ApplyGradientDescent`` in ``tensorflow/core/kernels/training_ops.cc``.
  """
  owner = "tf1_gradient_descent"
  _check_rate(owner, learning_rate)
  return _done(owner, optax.sgd(learning_rate), learning_rate=learning_rate)


def tf1_momentum(
  learning_rate: ScalarOrSchedule,
  momentum: jax.typing.ArrayLike,
  use_nesterov: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""`MomentumOptimizer`: optax's heavy ball and Nesterov forms.

  .. math::
    a_t = \mu a_{t-1} + g_t, \quad
    p \leftarrow p - \eta a_t \text{ or, Nesterov, }
    p - \eta (g_t + \mu a_t):

  ``optax.sgd(learning_rate, momentum, nesterov=use_nesterov)``.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    momentum: :math:`\mu \in [0, 1)` (no default in TF1), optax's.
    use_nesterov: optax's ``nesterov``. Static: a bool, never traced.

  References:
    ``tensorflow/python/training/momentum.py``; ``ApplyMomentum`` in
    ``tensorflow/core/kernels/training_ops.cc``.
  """
  owner = "tf1_momentum"
  _check_rate(owner, learning_rate)
  _validation.check_decay(owner, "momentum", momentum)
  use_nesterov = _validation.check_static_flag(
    owner, "use_nesterov", use_nesterov
  )
  return _done(
    owner,
    optax.sgd(learning_rate, momentum, nesterov=use_nesterov),
    learning_rate=learning_rate,
    momentum=momentum,
  )


def tf1_adagrad(
  learning_rate: ScalarOrSchedule,
  initial_accumulator_value: jax.typing.ArrayLike = 0.1,
) -> optax.GradientTransformationExtraArgs:
  r"""`AdagradOptimizer`: accumulator from 0.1, no eps.

  .. math::
    A_t = A_{t-1} + g_t^2, \quad p \leftarrow p - \eta g_t / \sqrt{A_t}:

  ``optax.adagrad(learning_rate, initial_accumulator_value, eps=0)``.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    initial_accumulator_value: :math:`A_0 > 0`, optax's (TF1 refuses 0).

  References:
    ``tensorflow/python/training/adagrad.py``; ``ApplyAdagrad`` in
    ``tensorflow/core/kernels/training_ops.cc``.
  """
  owner = "tf1_adagrad"
  _check_rate(owner, learning_rate)
  _validation.check_positive(
    owner, "initial_accumulator_value", initial_accumulator_value
  )
  return _done(
    owner,
    optax.adagrad(learning_rate, initial_accumulator_value, eps=0.0),
    learning_rate=learning_rate,
    initial_accumulator_value=initial_accumulator_value,
  )


def tf1_rmsprop(
  learning_rate: ScalarOrSchedule,
  decay: jax.typing.ArrayLike = 0.9,
  momentum: jax.typing.ArrayLike = 0.0,
  epsilon: jax.typing.ArrayLike = 1e-10,
  centered: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""`RMSPropOptimizer`: the mean square starts at 1, eps 1e-10 in the root.

  .. math::
    s_t = \rho s_{t-1} + (1 - \rho) g_t^2 \; (s_0 = 1), \quad
    b_t = \mu b_{t-1} + \eta \frac{g_t}{\sqrt{s_t - \bar g_t^2 + \epsilon}},
    \quad p \leftarrow p - b_t,

  with :math:`\bar g_t` the running mean of :math:`g` (from 0) when
  ``centered``, else 0: ``optax.rmsprop(learning_rate, decay, epsilon,
  initial_scale=1.0, centered=centered, momentum=momentum)``. For gradients
  much smaller than 1, the start at 1 makes the first steps about
  :math:`\eta g / \sqrt{\rho}`, far smaller than optax's, until
  :math:`s_t` forgets it.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    decay: :math:`\rho \in [0, 1)`, optax's ``decay``.
    momentum: :math:`\mu \in [0, 1)`, optax's ``momentum``; at 0 (concrete
      or traced) no momentum buffer.
    epsilon: :math:`\epsilon \ge 0`, optax's ``eps``.
    centered: optax's ``centered``. Static: a bool, never traced.

  References:
    ``tensorflow/python/training/rmsprop.py`` (slot ``rms`` from ones);
    ``ApplyRMSProp`` and ``ApplyCenteredRMSProp`` in
    ``tensorflow/core/kernels/training_ops.cc``.
  """
  owner = "tf1_rmsprop"
  _check_rate(owner, learning_rate)
  _validation.check_decay(owner, "decay", decay)
  _validation.check_decay(owner, "momentum", momentum)
  _validation.check_nonnegative(owner, "epsilon", epsilon)
  return _done(
    owner,
    rules.rmsprop(
      learning_rate,
      decay=decay,
      eps=epsilon,
      initial_scale=1.0,
      centered=_validation.check_static_flag(owner, "centered", centered),
      momentum=momentum,
    ),
    learning_rate=learning_rate,
    decay=decay,
    momentum=momentum,
    epsilon=epsilon,
  )


def tf1_adam(
  learning_rate: ScalarOrSchedule = 0.001,
  beta1: jax.typing.ArrayLike = 0.9,
  beta2: jax.typing.ArrayLike = 0.999,
  epsilon: jax.typing.ArrayLike = 1e-8,
) -> optax.GradientTransformationExtraArgs:
  r"""`AdamOptimizer`: the "epsilon hat" Adam (Keras 3's and Lasagne's).

  .. math::
    p \leftarrow p - \eta \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
    \frac{m_t}{\sqrt{v_t} + \hat\epsilon}:

  the uncorrected moments of
  ``optax_extras.scale_by_adam_calibrated(bias_correction="none")``, scaled
  by ``optax.scale_by_schedule``. It is ``optax.adam`` with ``eps`` replaced
  by :math:`\hat\epsilon / \sqrt{1-\beta_2^t}`.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    beta1: optax's ``b1`` in [0, 1).
    beta2: optax's ``b2`` in [0, 1).
    epsilon: :math:`\hat\epsilon \ge 0` (see above).

  References:
    ``tensorflow/python/training/adam.py`` (its docstring writes the rule);
    ``ApplyAdam`` in ``tensorflow/core/kernels/training_ops.cc``.
  """
  owner = "tf1_adam"
  _check_rate(owner, learning_rate)
  _validation.check_decay(owner, "beta1", beta1)
  _validation.check_decay(owner, "beta2", beta2)
  _validation.check_nonnegative(owner, "epsilon", epsilon)
  return _done(
    owner,
    optax.chain(
      rules.scale_by_epsilon_hat_adam(beta1, beta2, epsilon),
      optax.scale_by_learning_rate(learning_rate),
    ),
    learning_rate=learning_rate,
    beta1=beta1,
    beta2=beta2,
    epsilon=epsilon,
  )


def tf1_adadelta(
  learning_rate: ScalarOrSchedule = 0.001,
  rho: jax.typing.ArrayLike = 0.95,
  epsilon: jax.typing.ArrayLike = 1e-8,
) -> optax.GradientTransformationExtraArgs:
  r"""`AdadeltaOptimizer`: optax's Adadelta, rate 0.001, eps 1e-8.

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
    ``tensorflow/python/training/adadelta.py``; ``ApplyAdadelta`` in
    ``tensorflow/core/kernels/training_ops.cc``.
  """
  owner = "tf1_adadelta"
  _check_rate(owner, learning_rate)
  _validation.check_decay(owner, "rho", rho)
  _validation.check_nonnegative(owner, "epsilon", epsilon)
  return _done(
    owner,
    optax.adadelta(learning_rate, rho, eps=epsilon),
    learning_rate=learning_rate,
    rho=rho,
    epsilon=epsilon,
  )
