"""Keras 3's optimizers (`keras.optimizers`), with its names and defaults.

Written from `keras/src/optimizers/<name>.py` (Keras 3.15), each
optimizer's `update_step`, and `base_optimizer.py` (`_apply_weight_decay`);
checked against Keras 3 on its JAX backend by the goldens and the live
comparison of tests/test_compat*.py. Every Keras 3 optimizer takes
`weight_decay` (None: none), decoupled: each variable shrinks by
`learning_rate * weight_decay * variable` before its step.
`learning_rate` may be an optax schedule (Keras's schedules are functions
of the step count too). The numeric hyperparameters may be traced (a sweep's
grid axis, `jax.vmap`): a traced 0 (momentum, weight decay) gives what the
concrete 0 gives, bit for bit. The booleans (`nesterov`, `amsgrad`,
`centered`) are static: a traced one is refused with a TypeError.
"""

import jax
import optax
from optax import ScalarOrSchedule

from optax_extras._src import validation as _validation
from optax_extras._src.compat import rules

WeightDecay = jax.typing.ArrayLike | None


def _start(owner, learning_rate, weight_decay, epsilon=None):
  if not callable(learning_rate):
    _validation.check_nonnegative(owner, "learning_rate", learning_rate)
  if weight_decay is not None:
    _validation.check_nonnegative(owner, "weight_decay", weight_decay)
  if epsilon is not None:
    _validation.check_nonnegative(owner, "epsilon", epsilon)


def _finish(owner, step, learning_rate, weight_decay, **hyperparameters):
  """`step` (rate included), then Keras's decoupled weight decay (none where
  it is 0, concrete or traced)."""
  if weight_decay is None or rules.known_zero(weight_decay):
    decay = optax.identity()
  else:
    decay = rules.add_decayed_weights_at_rate(learning_rate, weight_decay)
  return _validation.with_param_checks(
    owner,
    optax.chain(step, decay),
    learning_rate=learning_rate,
    weight_decay=0.0 if weight_decay is None else weight_decay,
    **hyperparameters,
  )


def keras_sgd(
  learning_rate: ScalarOrSchedule = 0.01,
  momentum: jax.typing.ArrayLike = 0.0,
  nesterov: bool = False,
  weight_decay: WeightDecay = None,
) -> optax.GradientTransformationExtraArgs:
  r"""`keras.optimizers.SGD`: the velocity holds the learning rate.

  .. math::
    v_t = \mu v_{t-1} - \eta_t g_t, \quad
    p \leftarrow p + v_t \text{ or, Nesterov, } p + \mu v_t - \eta_t g_t.

  ``optax.sgd`` keeps :math:`\sum \mu^k g` and multiplies by the current
  rate: the same iterates at a constant rate, not under a schedule. This is
  ``optax.scale_by_learning_rate`` then ``optax.trace(momentum, nesterov)``.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    momentum: :math:`\mu \in [0, 1)`, optax's ``momentum``; at 0 (concrete
      or traced) no velocity, and ``nesterov`` is ignored, as in Keras.
    nesterov: optax's ``nesterov``. Static: a bool, never traced.
    weight_decay: decoupled decay :math:`\eta\lambda p` (None: none).

  References:
    ``keras.optimizers.SGD``, ``keras/src/optimizers/sgd.py``
    (``SGD.update_step``).
  """
  owner = "keras_sgd"
  _start(owner, learning_rate, weight_decay)
  _validation.check_decay(owner, "momentum", momentum)
  nesterov = _validation.check_static_flag(owner, "nesterov", nesterov)
  step = optax.chain(
    optax.scale_by_learning_rate(learning_rate),
    rules.trace(momentum, nesterov),
  )
  return _finish(owner, step, learning_rate, weight_decay, momentum=momentum)


def keras_adam(
  learning_rate: ScalarOrSchedule = 0.001,
  beta_1: jax.typing.ArrayLike = 0.9,
  beta_2: jax.typing.ArrayLike = 0.999,
  epsilon: jax.typing.ArrayLike = 1e-7,
  amsgrad: bool = False,
  weight_decay: WeightDecay = None,
) -> optax.GradientTransformationExtraArgs:
  r"""`keras.optimizers.Adam`: the "epsilon hat" Adam, eps 1e-7.

  .. math::
    p \leftarrow p - \eta \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
    \frac{m_t}{\sqrt{v_t} + \hat\epsilon}:

  the moments are not corrected, the step size is, so :math:`\hat\epsilon`
  acts as optax's ``eps`` times :math:`\sqrt{1-\beta_2^t}` (about 30 times
  smaller at the first step). This is
  ``optax_extras.scale_by_adam_calibrated(bias_correction="none")`` then
  ``optax.scale_by_schedule`` of that factor. With ``amsgrad``,
  :math:`v_t` is the running maximum of the uncorrected second moments.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    beta_1: optax's ``b1`` in [0, 1).
    beta_2: optax's ``b2`` in [0, 1).
    epsilon: :math:`\hat\epsilon \ge 0` (not optax's ``eps``: see above).
    amsgrad: whether to divide by the running maximum of :math:`v_t`.
      Static: a bool, never traced.
    weight_decay: decoupled decay :math:`\eta\lambda p` (None: none).

  References:
    ``keras.optimizers.Adam``, ``keras/src/optimizers/adam.py``
    (``Adam.update_step``); Kingma & Ba, ICLR 2015, section 2.
  """
  return _keras_adam(
    "keras_adam",
    learning_rate,
    beta_1,
    beta_2,
    epsilon,
    amsgrad,
    weight_decay,
  )


def _keras_adam(
  owner, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay
):
  _start(owner, learning_rate, weight_decay, epsilon)
  _validation.check_decay(owner, "beta_1", beta_1)
  _validation.check_decay(owner, "beta_2", beta_2)
  amsgrad = _validation.check_static_flag(owner, "amsgrad", amsgrad)
  step = optax.chain(
    rules.scale_by_epsilon_hat_adam(beta_1, beta_2, epsilon, amsgrad),
    optax.scale_by_learning_rate(learning_rate),
  )
  return _finish(
    owner,
    step,
    learning_rate,
    weight_decay,
    beta_1=beta_1,
    beta_2=beta_2,
    epsilon=epsilon,
  )


def keras_adamw(
  learning_rate: ScalarOrSchedule = 0.001,
  weight_decay: jax.typing.ArrayLike = 0.004,
  beta_1: jax.typing.ArrayLike = 0.9,
  beta_2: jax.typing.ArrayLike = 0.999,
  epsilon: jax.typing.ArrayLike = 1e-7,
  amsgrad: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""`keras.optimizers.AdamW`: `keras_adam` with weight decay 0.004.

  .. math::
    p \leftarrow p (1 - \eta\lambda) - \eta
    \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
    \frac{m_t}{\sqrt{v_t} + \hat\epsilon}.

  ``optax.adamw`` has the same decay (:math:`\eta\lambda p`) but optax's
  Adam inside (eps after the correction) and a default decay of 1e-4.
  Arguments as in `keras_adam`.

  References:
    ``keras.optimizers.AdamW``, ``keras/src/optimizers/adamw.py``.
  """
  return _keras_adam(
    "keras_adamw",
    learning_rate,
    beta_1,
    beta_2,
    epsilon,
    amsgrad,
    weight_decay,
  )


def keras_rmsprop(
  learning_rate: ScalarOrSchedule = 0.001,
  rho: jax.typing.ArrayLike = 0.9,
  momentum: jax.typing.ArrayLike = 0.0,
  epsilon: jax.typing.ArrayLike = 1e-7,
  centered: bool = False,
  weight_decay: WeightDecay = None,
) -> optax.GradientTransformationExtraArgs:
  r"""`keras.optimizers.RMSprop`: optax's RMSProp with eps 1e-7.

  .. math::
    s_t = \rho s_{t-1} + (1 - \rho) g_t^2, \quad
    b_t = \mu b_{t-1} + \eta \frac{g_t}{\sqrt{s_t - \bar g_t^2 + \epsilon}},
    \quad p \leftarrow p - b_t,

  with :math:`\bar g_t` the running mean of :math:`g` when ``centered``
  (else 0): ``optax.rmsprop(learning_rate, decay=rho, eps=epsilon,
  centered=centered, momentum=momentum)``, eps inside the root and the rate
  inside the momentum as in optax.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    rho: :math:`\rho \in [0, 1)`, optax's ``decay``.
    momentum: :math:`\mu \in [0, 1)`, optax's ``momentum``; at 0 (concrete
      or traced) no momentum buffer, as in Keras.
    epsilon: :math:`\epsilon \ge 0`, optax's ``eps``.
    centered: optax's ``centered``. Static: a bool, never traced.
    weight_decay: decoupled decay :math:`\eta\lambda p` (None: none).

  References:
    ``keras.optimizers.RMSprop``, ``keras/src/optimizers/rmsprop.py``
    (``RMSprop.update_step``).
  """
  owner = "keras_rmsprop"
  _start(owner, learning_rate, weight_decay, epsilon)
  _validation.check_decay(owner, "rho", rho)
  _validation.check_decay(owner, "momentum", momentum)
  step = rules.rmsprop(
    learning_rate,
    decay=rho,
    eps=epsilon,
    centered=_validation.check_static_flag(owner, "centered", centered),
    momentum=momentum,
  )
  return _finish(
    owner,
    step,
    learning_rate,
    weight_decay,
    rho=rho,
    momentum=momentum,
    epsilon=epsilon,
  )


def keras_adagrad(
  learning_rate: ScalarOrSchedule = 0.001,
  initial_accumulator_value: jax.typing.ArrayLike = 0.1,
  epsilon: jax.typing.ArrayLike = 1e-7,
  weight_decay: WeightDecay = None,
) -> optax.GradientTransformationExtraArgs:
  r"""`keras.optimizers.Adagrad`: optax's Adagrad (accumulator from 0.1).

  .. math::
    A_t = A_{t-1} + g_t^2, \quad
    p \leftarrow p - \eta \frac{g_t}{\sqrt{A_t + \epsilon}}:

  ``optax.adagrad(learning_rate, initial_accumulator_value, eps=epsilon)``.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    initial_accumulator_value: :math:`A_0 \ge 0`, optax's.
    epsilon: :math:`\epsilon \ge 0`, inside the root (optax's ``eps``).
    weight_decay: decoupled decay :math:`\eta\lambda p` (None: none).

  References:
    ``keras.optimizers.Adagrad``, ``keras/src/optimizers/adagrad.py``
    (``Adagrad.update_step``).
  """
  owner = "keras_adagrad"
  _start(owner, learning_rate, weight_decay, epsilon)
  _validation.check_nonnegative(
    owner, "initial_accumulator_value", initial_accumulator_value
  )
  step = optax.adagrad(learning_rate, initial_accumulator_value, eps=epsilon)
  return _finish(
    owner,
    step,
    learning_rate,
    weight_decay,
    initial_accumulator_value=initial_accumulator_value,
    epsilon=epsilon,
  )


def keras_adadelta(
  learning_rate: ScalarOrSchedule = 0.001,
  rho: jax.typing.ArrayLike = 0.95,
  epsilon: jax.typing.ArrayLike = 1e-7,
  weight_decay: WeightDecay = None,
) -> optax.GradientTransformationExtraArgs:
  r"""`keras.optimizers.Adadelta`: optax's Adadelta, rate 0.001, rho 0.95.

  .. math::
    E_t = \rho E_{t-1} + (1 - \rho) g_t^2, \quad
    \Delta_t = \frac{\sqrt{D_{t-1} + \epsilon}}{\sqrt{E_t + \epsilon}} g_t,
    \quad D_t = \rho D_{t-1} + (1 - \rho)\Delta_t^2, \quad
    p \leftarrow p - \eta \Delta_t:

  ``optax.adadelta(learning_rate, rho, eps=epsilon)``. Keras's default rate
  of 0.001 makes the steps a thousand times smaller than Zeiler's rule.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    rho: :math:`\rho \in [0, 1)`, optax's ``rho``.
    epsilon: :math:`\epsilon \ge 0`, optax's ``eps``.
    weight_decay: decoupled decay :math:`\eta\lambda p` (None: none).

  References:
    ``keras.optimizers.Adadelta``, ``keras/src/optimizers/adadelta.py``
    (``Adadelta.update_step``).
  """
  owner = "keras_adadelta"
  _start(owner, learning_rate, weight_decay, epsilon)
  _validation.check_decay(owner, "rho", rho)
  step = optax.adadelta(learning_rate, rho, eps=epsilon)
  return _finish(
    owner, step, learning_rate, weight_decay, rho=rho, epsilon=epsilon
  )


def keras_adamax(
  learning_rate: ScalarOrSchedule = 0.001,
  beta_1: jax.typing.ArrayLike = 0.9,
  beta_2: jax.typing.ArrayLike = 0.999,
  epsilon: jax.typing.ArrayLike = 1e-7,
  weight_decay: WeightDecay = None,
) -> optax.GradientTransformationExtraArgs:
  r"""`keras.optimizers.Adamax`: eps outside the maximum.

  .. math::
    u_t = \max(\beta_2 u_{t-1}, |g_t|), \quad
    p \leftarrow p - \frac{\eta}{1 - \beta_1^t} \frac{m_t}{u_t + \epsilon}.

  ``optax.adamax`` (and PyTorch) take :math:`\max(\beta_2 u, |g| +
  \epsilon)` and divide by it; the two differ where :math:`|g|` is small.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    beta_1: optax's ``b1`` in [0, 1).
    beta_2: optax's ``b2`` in [0, 1).
    epsilon: :math:`\epsilon \ge 0` (placed as above).
    weight_decay: decoupled decay :math:`\eta\lambda p` (None: none).

  References:
    ``keras.optimizers.Adamax``, ``keras/src/optimizers/adamax.py``
    (``Adamax.update_step``).
  """
  owner = "keras_adamax"
  _start(owner, learning_rate, weight_decay, epsilon)
  _validation.check_decay(owner, "beta_1", beta_1)
  _validation.check_decay(owner, "beta_2", beta_2)
  step = optax.chain(
    rules.scale_by_adamax_eps_outside(beta_1, beta_2, epsilon),
    optax.scale_by_learning_rate(learning_rate),
  )
  return _finish(
    owner,
    step,
    learning_rate,
    weight_decay,
    beta_1=beta_1,
    beta_2=beta_2,
    epsilon=epsilon,
  )


def keras_nadam(
  learning_rate: ScalarOrSchedule = 0.001,
  beta_1: jax.typing.ArrayLike = 0.9,
  beta_2: jax.typing.ArrayLike = 0.999,
  epsilon: jax.typing.ArrayLike = 1e-7,
  weight_decay: WeightDecay = None,
) -> optax.GradientTransformationExtraArgs:
  r"""`keras.optimizers.Nadam`: Dozat's schedule with :math:`0.96^t`.

  .. math::
    \mu_t = \beta_1 (1 - \tfrac12 0.96^{t}), \quad
    P_t = \textstyle\prod_{s \le t} \mu_s, \quad
    p \leftarrow p - \eta\, \frac{\frac{1 - \mu_t}{1 - P_t} g_t +
    \frac{\mu_{t+1}}{1 - P_t \mu_{t+1}} m_t}
    {\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}:

  `torch_nadam`'s rule with ``momentum_decay=1`` (PyTorch's 0.004 makes
  :math:`\mu_t` rise over thousands of steps, Keras's over tens).
  ``optax.nadam`` keeps :math:`\mu = \beta_1`.

  Args:
    learning_rate: :math:`\eta`, optax's ``learning_rate``.
    beta_1: optax's ``b1`` in [0, 1).
    beta_2: optax's ``b2`` in [0, 1).
    epsilon: :math:`\epsilon \ge 0`, outside the root (optax's ``eps``).
    weight_decay: decoupled decay :math:`\eta\lambda p` (None: none).

  References:
    ``keras.optimizers.Nadam``, ``keras/src/optimizers/nadam.py``
    (``Nadam.update_step`` and ``_backend_update_step``).
  """
  owner = "keras_nadam"
  _start(owner, learning_rate, weight_decay, epsilon)
  _validation.check_decay(owner, "beta_1", beta_1)
  _validation.check_decay(owner, "beta_2", beta_2)
  step = optax.chain(
    rules.scale_by_nadam_schedule(beta_1, beta_2, epsilon, 1.0),
    optax.scale_by_learning_rate(learning_rate),
  )
  return _finish(
    owner,
    step,
    learning_rate,
    weight_decay,
    beta_1=beta_1,
    beta_2=beta_2,
    epsilon=epsilon,
  )
