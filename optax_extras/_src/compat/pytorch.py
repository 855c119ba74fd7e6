"""PyTorch's `torch.optim` rules, with its keyword names and defaults.

Written from `torch/optim/*.py` (PyTorch 2.13), the single-tensor path that
runs on the CPU (`_single_tensor_<name>`); checked against real PyTorch by
the goldens and the live comparison of tests/test_compat*.py. `lr` may also
be an optax schedule, where PyTorch would use an LR scheduler. A complex
parameter is its real and imaginary parts, as in PyTorch (`real_view`).
"""

import jax
import jax.numpy as jnp
import optax
from optax import ScalarOrSchedule

from optax_extras._src import validation as _validation
from optax_extras._src.compat import rules
from optax_extras._src.transforms.adagrad import scale_by_adagrad_family

Betas = tuple[jax.typing.ArrayLike, jax.typing.ArrayLike]


def _check(owner, lr, weight_decay, eps=None):
  if not callable(lr):
    _validation.check_nonnegative(owner, "lr", lr)
  _validation.check_nonnegative(owner, "weight_decay", weight_decay)
  if eps is not None:
    _validation.check_nonnegative(owner, "eps", eps)


def _l2(weight_decay) -> optax.GradientTransformation:
  """PyTorch's default `weight_decay`: `g + weight_decay * p` (L2); none at
  all where it is 0, concrete or traced."""
  return rules.add_decayed_weights(weight_decay)


def _as_real(tree):
  """Each complex leaf `z` as its real view, `stack([z.real, z.imag])`."""
  return jax.tree.map(
    lambda x: jnp.stack([x.real, x.imag]) if jnp.iscomplexobj(x) else x, tree
  )


def real_view(
  transform: optax.GradientTransformation,
) -> optax.GradientTransformationExtraArgs:
  r"""`transform` applied to each complex leaf's real and imaginary parts.

  PyTorch's optimizers treat a complex tensor as ``torch.view_as_real`` of
  it, two real numbers per element: Adam's second moment is
  :math:`|\mathrm{Re}\, g|^2` and :math:`|\mathrm{Im}\, g|^2`, not
  :math:`|g|^2`. Here a complex leaf of shape ``s`` is the real array
  ``stack([z.real, z.imag])`` of shape ``(2, *s)`` (parts first, so that a
  hyperparameter of the parameter's shape still broadcasts), which is the
  shape its state has; the update is put back together as a complex array.
  Real leaves pass through untouched.
  """
  transform = optax.with_extra_args_support(transform)

  def update_fn(updates, state, params=None, **extra_args):
    real = None if params is None else _as_real(params)
    new, state = transform.update(_as_real(updates), state, real, **extra_args)
    new = jax.tree.map(
      lambda u, g: jax.lax.complex(u[0], u[1]) if jnp.iscomplexobj(g) else u,
      new,
      updates,
    )
    return new, state

  return optax.GradientTransformationExtraArgs(
    lambda params: transform.init(_as_real(params)), update_fn
  )


def _finish(owner, transforms, **hyperparameters):
  return _validation.with_param_checks(
    owner, real_view(optax.chain(*transforms)), **hyperparameters
  )


def _adam_like(owner, lr, weight_decay, decoupled, direction, **hp):
  """L2 before `direction`, or decoupled decay after it; then `-lr`."""
  if decoupled:
    transforms = (direction, rules.add_decayed_weights(weight_decay))
  else:
    transforms = (_l2(weight_decay), direction)
  return _finish(
    owner,
    (*transforms, optax.scale_by_learning_rate(lr)),
    lr=lr,
    weight_decay=weight_decay,
    **hp,
  )


def torch_sgd(
  lr: ScalarOrSchedule = 1e-3,
  momentum: jax.typing.ArrayLike = 0.0,
  dampening: jax.typing.ArrayLike = 0.0,
  weight_decay: jax.typing.ArrayLike = 0.0,
  nesterov: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""`torch.optim.SGD`: momentum buffer in gradient units, L2 weight decay.

  .. math::
    g \leftarrow g + \lambda p, \quad
    b_1 = g_1, \quad b_t = \mu b_{t-1} + (1 - \tau) g_t, \quad
    p \leftarrow p - \eta\, (b_t \text{ or, Nesterov, } g_t + \mu b_t).

  With ``dampening=0`` this is ``optax.sgd(lr, momentum, nesterov)`` after
  ``optax.add_decayed_weights(weight_decay)``; a nonzero ``dampening``
  :math:`\tau` damps every gradient but the first.

  Args:
    lr: :math:`\eta`, optax's ``learning_rate``.
    momentum: :math:`\mu \in [0, 1)`, optax's ``momentum`` (0: none).
    dampening: :math:`\tau \in [0, 1]`; optax has none (it is 0 there).
    weight_decay: :math:`\lambda \ge 0`, L2 added to the gradient
      (``optax.add_decayed_weights``).
    nesterov: optax's ``nesterov``; needs ``momentum > 0`` and
      ``dampening=0`` (a ValueError otherwise, as in PyTorch), checked on
      every element of a concrete array (a sweep's grid axis is checked
      value by value before it is traced). Static: a bool, never traced.

  ``momentum``, ``dampening`` and ``weight_decay`` may be traced (a sweep's
  grid axis, ``jax.vmap``): where one is 0, the update is what the concrete
  0 gives, bit for bit (at momentum 0, the gradient, whatever the
  dampening, as PyTorch keeps no buffer there).

  References:
    ``torch.optim.SGD``, ``torch/optim/sgd.py`` (``_single_tensor_sgd``).
  """
  owner = "torch_sgd"
  _check(owner, lr, weight_decay)
  _validation.check_decay(owner, "momentum", momentum)
  _validation.check_range(owner, "dampening", dampening, low=0.0, high=1.0)
  nesterov = _validation.check_static_flag(owner, "nesterov", nesterov)
  if nesterov and (
    _validation.any_element(momentum, lambda m: m == 0)
    or _validation.any_element(dampening, lambda d: d != 0)
  ):
    raise ValueError(
      f"{owner}: `nesterov` requires a `momentum` > 0 and zero "
      f"`dampening` (every value of them), got momentum={momentum!r}, "
      f"dampening={dampening!r}."
    )
  buffer = rules.scale_by_torch_sgd_momentum(momentum, dampening, nesterov)
  return _finish(
    owner,
    (_l2(weight_decay), buffer, optax.scale_by_learning_rate(lr)),
    lr=lr,
    momentum=momentum,
    dampening=dampening,
    weight_decay=weight_decay,
  )


def torch_adam(
  lr: ScalarOrSchedule = 1e-3,
  betas: Betas = (0.9, 0.999),
  eps: jax.typing.ArrayLike = 1e-8,
  weight_decay: jax.typing.ArrayLike = 0.0,
  amsgrad: bool = False,
  *,
  decoupled_weight_decay: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""`torch.optim.Adam`: optax's Adam, with L2 weight decay.

  .. math::
    g \leftarrow g + \lambda p, \quad
    p \leftarrow p - \eta\, \frac{m_t / (1 - \beta_1^t)}
    {\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon}.

  That is ``optax.adam(lr, *betas, eps)`` after
  ``optax.add_decayed_weights(weight_decay)``. With ``amsgrad``, PyTorch
  keeps the maximum of the *uncorrected* :math:`v_t` and corrects it at the
  current step; ``optax.amsgrad`` keeps the maximum of the corrected ones,
  which is larger while the correction shrinks, so this uses its own rule.
  ``decoupled_weight_decay=True`` is `torch_adamw`.

  Args:
    lr: :math:`\eta`, optax's ``learning_rate``.
    betas: :math:`(\beta_1, \beta_2)`, optax's ``b1, b2``, each in [0, 1).
    eps: :math:`\epsilon \ge 0`, outside the root (optax's ``eps``).
    weight_decay: :math:`\lambda \ge 0`, L2 added to the gradient.
    amsgrad: whether to divide by the running maximum of :math:`v_t`
      (static: a bool, never traced).
    decoupled_weight_decay: decay the parameters by :math:`\eta\lambda p`
      instead (AdamW). Static.

  ``weight_decay`` may be traced; where it is 0 the update is the concrete
  0's, bit for bit (no decay at all).

  References:
    ``torch.optim.Adam``, ``torch/optim/adam.py`` (``_single_tensor_adam``).
  """
  decoupled_weight_decay = _validation.check_static_flag(
    "torch_adam", "decoupled_weight_decay", decoupled_weight_decay
  )
  owner = "torch_adamw" if decoupled_weight_decay else "torch_adam"
  _check(owner, lr, weight_decay, eps)
  b1, b2 = rules.check_betas(owner, betas)
  if _validation.check_static_flag(owner, "amsgrad", amsgrad):
    direction = rules.scale_by_amsgrad_of_raw_moment(
      b1, b2, eps, bias_correction=True
    )
  else:
    direction = optax.scale_by_adam(b1, b2, eps)
  return _adam_like(
    owner, lr, weight_decay, decoupled_weight_decay, direction, eps=eps
  )


def torch_adamw(
  lr: ScalarOrSchedule = 1e-3,
  betas: Betas = (0.9, 0.999),
  eps: jax.typing.ArrayLike = 1e-8,
  weight_decay: jax.typing.ArrayLike = 1e-2,
  amsgrad: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""`torch.optim.AdamW`: Adam with decoupled weight decay, default 0.01.

  .. math::
    p \leftarrow p (1 - \eta\lambda) - \eta\, \frac{m_t / (1 - \beta_1^t)}
    {\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon},

  ``optax.adamw(lr, *betas, eps, weight_decay=weight_decay)`` (whose
  default decay is 1e-4, PyTorch's 1e-2). Arguments as in `torch_adam`.

  References:
    ``torch.optim.AdamW``, ``torch/optim/adamw.py`` (``Adam`` with
    ``decoupled_weight_decay=True``).
  """
  return torch_adam(
    lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True
  )


def torch_adagrad(
  lr: ScalarOrSchedule = 1e-2,
  lr_decay: jax.typing.ArrayLike = 0.0,
  weight_decay: jax.typing.ArrayLike = 0.0,
  initial_accumulator_value: jax.typing.ArrayLike = 0.0,
  eps: jax.typing.ArrayLike = 1e-10,
) -> optax.GradientTransformationExtraArgs:
  r"""`torch.optim.Adagrad`: eps outside the root, accumulator from 0.

  .. math::
    g \leftarrow g + \lambda p, \quad A_t = A_{t-1} + g_t^2, \quad
    p \leftarrow p - \frac{\eta}{1 + (t - 1)\delta}
    \frac{g_t}{\sqrt{A_t} + \epsilon}.

  ``optax.adagrad`` adds eps inside the root and starts at 0.1; this is
  `optax_extras.adagrad_family` with ``eps_in_power=False`` and the rate
  decayed by the schedule :math:`\eta / (1 + t\delta)`, t from 0.

  Args:
    lr: :math:`\eta`, optax's ``learning_rate``.
    lr_decay: :math:`\delta \ge 0`; optax has none.
    weight_decay: :math:`\lambda \ge 0`, L2 added to the gradient.
    initial_accumulator_value: :math:`A_0 \ge 0` (optax's, default 0.1).
    eps: :math:`\epsilon \ge 0`, added to the root (optax's ``eps`` is
      inside it).

  References:
    ``torch.optim.Adagrad``, ``torch/optim/adagrad.py``
    (``_single_tensor_adagrad``).
  """
  owner = "torch_adagrad"
  _check(owner, lr, weight_decay, eps)
  _validation.check_nonnegative(owner, "lr_decay", lr_decay)
  _validation.check_nonnegative(
    owner, "initial_accumulator_value", initial_accumulator_value
  )
  rate = rules.as_schedule(lr)
  schedule = lambda count: rate(count) / (1 + count * lr_decay)
  return _finish(
    owner,
    (
      _l2(weight_decay),
      scale_by_adagrad_family(
        0.5, 2.0, eps, initial_accumulator_value, eps_in_power=False
      ),
      optax.scale_by_learning_rate(schedule),
    ),
    lr=lr,
    lr_decay=lr_decay,
    weight_decay=weight_decay,
    initial_accumulator_value=initial_accumulator_value,
    eps=eps,
  )


def torch_rmsprop(
  lr: ScalarOrSchedule = 1e-2,
  alpha: jax.typing.ArrayLike = 0.99,
  eps: jax.typing.ArrayLike = 1e-8,
  weight_decay: jax.typing.ArrayLike = 0.0,
  momentum: jax.typing.ArrayLike = 0.0,
  centered: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""`torch.optim.RMSprop`: eps outside the root, momentum without the rate.

  .. math::
    g \leftarrow g + \lambda p, \quad
    s_t = \alpha s_{t-1} + (1 - \alpha) g_t^2, \quad
    d_t = \sqrt{s_t - \bar g_t^2} + \epsilon, \quad
    b_t = \mu b_{t-1} + g_t / d_t, \quad p \leftarrow p - \eta b_t,

  with :math:`\bar g_t` the running mean of :math:`g` when ``centered`` (0
  otherwise). ``optax.rmsprop`` puts eps inside the root by default
  (``eps_in_sqrt=True``) and the learning rate inside the momentum; this is
  ``optax.scale_by_rms`` (or ``scale_by_stddev``) with ``eps_in_sqrt=False``,
  then ``optax.trace(momentum)``, then the rate, so that an LR schedule
  acts as PyTorch's schedulers do.

  Args:
    lr: :math:`\eta`, optax's ``learning_rate``.
    alpha: :math:`\alpha \in [0, 1)`, optax's ``decay`` (optax's default 0.9).
    eps: :math:`\epsilon \ge 0`, optax's ``eps`` with ``eps_in_sqrt=False``.
    weight_decay: :math:`\lambda \ge 0`, L2 added to the gradient.
    momentum: :math:`\mu \in [0, 1)`, optax's ``momentum``; at 0 (concrete
      or traced) no buffer is applied, as in PyTorch.
    centered: optax's ``centered``. Static: a bool, never traced.

  References:
    ``torch.optim.RMSprop``, ``torch/optim/rmsprop.py``
    (``_single_tensor_rmsprop``).
  """
  owner = "torch_rmsprop"
  _check(owner, lr, weight_decay, eps)
  _validation.check_decay(owner, "alpha", alpha)
  _validation.check_decay(owner, "momentum", momentum)
  centered = _validation.check_static_flag(owner, "centered", centered)
  scale = optax.scale_by_stddev if centered else optax.scale_by_rms
  return _finish(
    owner,
    (
      _l2(weight_decay),
      scale(decay=alpha, eps=eps, initial_scale=0.0, eps_in_sqrt=False),
      rules.trace(momentum),
      optax.scale_by_learning_rate(lr),
    ),
    lr=lr,
    alpha=alpha,
    eps=eps,
    weight_decay=weight_decay,
    momentum=momentum,
  )


def torch_adadelta(
  lr: ScalarOrSchedule = 1.0,
  rho: jax.typing.ArrayLike = 0.9,
  eps: jax.typing.ArrayLike = 1e-6,
  weight_decay: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
  r"""`torch.optim.Adadelta`: optax's Adadelta, with L2 weight decay.

  .. math::
    g \leftarrow g + \lambda p, \quad
    E_t = \rho E_{t-1} + (1 - \rho) g_t^2, \quad
    \Delta_t = \frac{\sqrt{D_{t-1} + \epsilon}}{\sqrt{E_t + \epsilon}} g_t,
    \quad D_t = \rho D_{t-1} + (1 - \rho)\Delta_t^2, \quad
    p \leftarrow p - \eta \Delta_t,

  from :math:`E_0 = D_0 = 0`: ``optax.adadelta(lr, rho, eps)`` after
  ``optax.add_decayed_weights(weight_decay)``.

  Args:
    lr: :math:`\eta`, optax's ``learning_rate``.
    rho: :math:`\rho \in [0, 1)`, optax's ``rho``.
    eps: :math:`\epsilon \ge 0`, inside both roots (optax's ``eps``).
    weight_decay: :math:`\lambda \ge 0`, L2 added to the gradient.

  References:
    ``torch.optim.Adadelta``, ``torch/optim/adadelta.py``
    (``_single_tensor_adadelta``).
  """
  owner = "torch_adadelta"
  _check(owner, lr, weight_decay, eps)
  _validation.check_decay(owner, "rho", rho)
  return _finish(
    owner,
    (
      _l2(weight_decay),
      optax.scale_by_adadelta(rho, eps),
      optax.scale_by_learning_rate(lr),
    ),
    lr=lr,
    rho=rho,
    eps=eps,
    weight_decay=weight_decay,
  )


def torch_adamax(
  lr: ScalarOrSchedule = 2e-3,
  betas: Betas = (0.9, 0.999),
  eps: jax.typing.ArrayLike = 1e-8,
  weight_decay: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
  r"""`torch.optim.Adamax`: optax's AdaMax (eps inside the maximum).

  .. math::
    g \leftarrow g + \lambda p, \quad
    u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon), \quad
    p \leftarrow p - \frac{\eta}{1 - \beta_1^t} \frac{m_t}{u_t}:

  ``optax.adamax(lr, *betas, eps)`` after
  ``optax.add_decayed_weights(weight_decay)``. Arguments as in `torch_adam`.

  References:
    ``torch.optim.Adamax``, ``torch/optim/adamax.py``
    (``_single_tensor_adamax``).
  """
  owner = "torch_adamax"
  _check(owner, lr, weight_decay, eps)
  b1, b2 = rules.check_betas(owner, betas)
  return _adam_like(
    owner, lr, weight_decay, False, optax.scale_by_adamax(b1, b2, eps), eps=eps
  )


def torch_nadam(
  lr: ScalarOrSchedule = 2e-3,
  betas: Betas = (0.9, 0.999),
  eps: jax.typing.ArrayLike = 1e-8,
  weight_decay: jax.typing.ArrayLike = 0.0,
  momentum_decay: jax.typing.ArrayLike = 4e-3,
  decoupled_weight_decay: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""`torch.optim.NAdam`: Dozat's NAdam with its momentum schedule.

  .. math::
    \mu_t = \beta_1 (1 - \tfrac12 0.96^{t\psi}), \quad
    P_t = \textstyle\prod_{s \le t} \mu_s, \quad
    p \leftarrow p - \eta\, \frac{\frac{1 - \mu_t}{1 - P_t} g_t +
    \frac{\mu_{t+1}}{1 - P_t \mu_{t+1}} m_t}
    {\sqrt{v_t / (1 - \beta_2^t)} + \epsilon},

  with :math:`\psi` = ``momentum_decay``. ``optax.nadam`` uses a constant
  :math:`\mu = \beta_1` and corrects by :math:`1 - \beta_1^t`, so the two
  differ at every step.

  Args:
    lr: :math:`\eta`, optax's ``learning_rate``.
    betas: :math:`(\beta_1, \beta_2)`, optax's ``b1, b2``, each in [0, 1).
    eps: :math:`\epsilon \ge 0`, outside the root (optax's ``eps``).
    weight_decay: :math:`\lambda \ge 0`: L2 added to the gradient, or
      with ``decoupled_weight_decay`` the decay :math:`\eta\lambda p`.
    momentum_decay: :math:`\psi \ge 0`; optax has none.
    decoupled_weight_decay: decouple the decay (NAdamW). Static.

  References:
    ``torch.optim.NAdam``, ``torch/optim/nadam.py`` (``_single_tensor_nadam``);
    Dozat, "Incorporating Nesterov Momentum into Adam", ICLR Workshop 2016.
  """
  owner = "torch_nadam"
  decoupled_weight_decay = _validation.check_static_flag(
    owner, "decoupled_weight_decay", decoupled_weight_decay
  )
  _check(owner, lr, weight_decay, eps)
  b1, b2 = rules.check_betas(owner, betas)
  _validation.check_nonnegative(owner, "momentum_decay", momentum_decay)
  direction = rules.scale_by_nadam_schedule(b1, b2, eps, momentum_decay)
  return _adam_like(
    owner,
    lr,
    weight_decay,
    decoupled_weight_decay,
    direction,
    eps=eps,
    momentum_decay=momentum_decay,
  )


def torch_radam(
  lr: ScalarOrSchedule = 1e-3,
  betas: Betas = (0.9, 0.999),
  eps: jax.typing.ArrayLike = 1e-8,
  weight_decay: jax.typing.ArrayLike = 0.0,
  decoupled_weight_decay: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""`torch.optim.RAdam`: rectified Adam, eps outside the uncorrected root.

  .. math::
    \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1 - \beta_2^t}, \quad
    p \leftarrow p - \eta \frac{m_t}{1 - \beta_1^t} \cdot
    \begin{cases} r_t \frac{\sqrt{1 - \beta_2^t}}{\sqrt{v_t} + \epsilon}
    & \rho_t > 5 \\ 1 & \text{otherwise,} \end{cases}

  with :math:`\rho_\infty = 2/(1-\beta_2) - 1` and :math:`r_t` Liu et al.'s
  rectification. ``optax.radam`` divides by
  :math:`\sqrt{v_t/(1-\beta_2^t)} + \epsilon` instead (eps not scaled) and
  rectifies from :math:`\rho_t \ge 5`.

  Args:
    lr: :math:`\eta`, optax's ``learning_rate``.
    betas: :math:`(\beta_1, \beta_2)`, optax's ``b1, b2``, each in [0, 1).
    eps: :math:`\epsilon \ge 0`, outside the root.
    weight_decay: :math:`\lambda \ge 0`: L2 added to the gradient, or
      with ``decoupled_weight_decay`` the decay :math:`\eta\lambda p`.
    decoupled_weight_decay: decouple the decay. Static.

  References:
    ``torch.optim.RAdam``, ``torch/optim/radam.py`` (``_single_tensor_radam``);
    Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond",
    ICLR 2020.
  """
  owner = "torch_radam"
  decoupled_weight_decay = _validation.check_static_flag(
    owner, "decoupled_weight_decay", decoupled_weight_decay
  )
  _check(owner, lr, weight_decay, eps)
  b1, b2 = rules.check_betas(owner, betas)
  direction = rules.scale_by_torch_radam(b1, b2, eps)
  return _adam_like(
    owner, lr, weight_decay, decoupled_weight_decay, direction, eps=eps
  )
