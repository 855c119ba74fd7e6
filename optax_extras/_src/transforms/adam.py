"""Adam with a choice of initial calibration (bias correction)."""

from collections.abc import Callable
from typing import Literal, NamedTuple, get_args

import jax
import jax.numpy as jnp
import optax
from optax import ScalarOrSchedule

from optax_extras._src import validation as _validation
from optax_extras._src.numerics import safe_divide, upcast

BiasCorrection = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
"""`(moment, decay, count) -> calibrated moment`, applied leaf by leaf."""

BiasCorrectionName = Literal[
  "standard",
  "none",
  "first_moment_only",
  "second_moment_only",
  "first_gradient",
]

Calibration = (
  BiasCorrectionName | BiasCorrection | tuple[BiasCorrection, BiasCorrection]
)

BIAS_CORRECTIONS: tuple[str, ...] = get_args(BiasCorrectionName)


class AdamCalibratedState(NamedTuple):
  """State of `scale_by_adam_calibrated`."""

  count: jax.Array  # int32 scalar: steps taken.
  mu: optax.Updates  # First moment, an EMA of g.
  nu: optax.Updates  # Second moment, an EMA of g^2.


def _standard(
  moment: jax.Array, decay: jax.Array, count: jax.Array
) -> jax.Array:
  return optax.tree.bias_correction(moment, decay, count)


def _identity(
  moment: jax.Array, decay: jax.Array, count: jax.Array
) -> jax.Array:
  del decay, count
  return moment


def scale_by_adam_calibrated(
  b1: jax.typing.ArrayLike = 0.9,
  b2: jax.typing.ArrayLike = 0.999,
  eps: jax.typing.ArrayLike = 1e-8,
  eps_root: jax.typing.ArrayLike = 0.0,
  *,
  bias_correction: Calibration = "standard",
  nesterov: bool = False,
) -> optax.GradientTransformationExtraArgs:
  r"""Adam whose initial calibration of the moments is a choice.

  .. math::
    m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
    s_t = \beta_2 s_{t-1} + (1 - \beta_2) g_t^2, \quad
    u_t = \frac{C_1(m_t, t)}{\sqrt{C_2(s_t, t) + \epsilon_{root}} + \epsilon}
    \quad (0 \text{ where the denominator is } 0).

  Moments that start at 0 are too small for the first
  :math:`\sim 1/(1-\beta)` steps. The standard correction
  :math:`C(x, t) = x / (1 - \beta^t)` (Kingma & Ba, section 3) can be read
  as a *virtual history*:
  pretend an infinite past of gradients like the ones seen so far, so the
  missing weight :math:`\beta^t` of the zero start is given back, and let
  that virtual part fade as real gradients arrive. The calibration rules:

  - ``"standard"``: correct both moments (Kingma & Ba); equals
    ``optax.scale_by_adam``. The first step is :math:`g / (|g| + \epsilon)`,
    a full-size step of sign :math:`g`.
  - ``"none"``: no correction. With :math:`\beta_2 > \beta_1`, the ratio
    :math:`(1-\beta_1)/\sqrt{1-\beta_2}` makes the first steps about 3x too
    large for the defaults, settling over about :math:`1/(1-\beta_2)` steps.
  - ``"first_moment_only"``: the steps start too large, as above.
  - ``"second_moment_only"``: the steps start small, by
    :math:`1-\beta_1`, and grow over about :math:`1/(1-\beta_1)` steps,
    a built-in warm-up.
  - ``"first_gradient"``: the moments start at the first gradient
    (:math:`m_1 = g_1`, :math:`s_1 = g_1^2`): a virtual history of
    copies of :math:`g_1`, so no correction is needed; the first gradient
    weighs more than in the standard rule.
  - a callable ``(moment, decay, count) -> moment``, applied to both moments
    leaf by leaf (``decay`` is :math:`\beta_1` or :math:`\beta_2`, ``count``
    is :math:`t`), or a pair of callables, one per moment. TF1's and
    Lasagne's Adam, :math:`\eta \sqrt{1-\beta_2^t}/(1-\beta_1^t) \cdot
    m/(\sqrt{s} + \epsilon)`, is the pair
    ``(lambda m, b, t: m * sqrt(1 - b2**t) / (1 - b**t), lambda s, b, t: s)``.
    Under ``optax.inject_hyperparams`` name it in ``static_args``, or a
    callable is taken for a schedule.

  ``nesterov=True`` looks ahead on the first moment as NAdam does,
  :math:`\hat m = \beta_1 C_1(m_t, t+1) + (1-\beta_1) C_1(g_t, t)`, and
  equals ``optax.scale_by_adam(nesterov=True)`` for ``"standard"``.

  Args:
    b1: :math:`\beta_1` in [0, 1).
    b2: :math:`\beta_2` in [0, 1).
    eps: :math:`\epsilon \ge 0`, added outside the root.
    eps_root: :math:`\epsilon_{root} \ge 0`, added inside the root
      (``optax.scale_by_adam``'s ``eps_root``).
    bias_correction: a name from ``BIAS_CORRECTIONS``, a callable, or a pair
      of callables (first moment, second moment).
    nesterov: whether to use the NAdam look-ahead. Static: a bool, never
      traced (a TypeError), as is ``bias_correction``.

  Returns:
    An ``optax.GradientTransformationExtraArgs`` whose updates rescale the
    gradient (no sign flip; see `adam_calibrated` for the optimizer).

  Example: the first step for a gradient of 2 under each rule.

    >>> import jax.numpy as jnp, optax_extras
    >>> for rule in optax_extras.BIAS_CORRECTIONS:
    ...   t = optax_extras.scale_by_adam_calibrated(eps=0.0, bias_correction=rule)
    ...   step, _ = t.update(jnp.array(2.0), t.init(jnp.array(0.0)))
    ...   print(f"{rule:>18s} {float(step):.3f}")
              standard 1.000
                  none 3.162
     first_moment_only 31.623
    second_moment_only 0.100
        first_gradient 1.000

  References:
    Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    Dozat, "Incorporating Nesterov Momentum into Adam", ICLR Workshop 2016.
  """
  owner = "scale_by_adam_calibrated"
  _validation.check_decay(owner, "b1", b1)
  _validation.check_decay(owner, "b2", b2)
  _validation.check_nonnegative(owner, "eps", eps)
  _validation.check_nonnegative(owner, "eps_root", eps_root)
  _validation.check_calibration(
    owner, "bias_correction", bias_correction, BIAS_CORRECTIONS
  )
  nesterov = _validation.check_static_flag(owner, "nesterov", nesterov)
  if callable(bias_correction):
    correct_mu = correct_nu = bias_correction
  elif isinstance(bias_correction, tuple):
    correct_mu, correct_nu = bias_correction
  else:
    correct_mu, correct_nu = {
      "standard": (_standard, _standard),
      "none": (_identity, _identity),
      "first_moment_only": (_standard, _identity),
      "second_moment_only": (_identity, _standard),
      "first_gradient": (_identity, _identity),
    }[bias_correction]
  from_first_gradient = bias_correction == "first_gradient"

  def init_fn(params: optax.Params) -> AdamCalibratedState:
    return AdamCalibratedState(
      count=jnp.zeros([], jnp.int32),
      mu=optax.tree.zeros_like(params),
      nu=optax.tree.zeros_like(params),
    )

  def update_fn(updates, state, params=None):
    del params
    grads = upcast(updates)
    count = optax.safe_increment(state.count)
    if from_first_gradient:  # A zero decay at the first step copies g in.
      first = state.count == 0
      decay_mu, decay_nu = jnp.where(first, 0, b1), jnp.where(first, 0, b2)
    else:
      decay_mu, decay_nu = b1, b2
    mu = optax.tree.update_moment(grads, upcast(state.mu), decay_mu, 1)
    nu = optax.tree.update_moment_per_elem_norm(
      grads, upcast(state.nu), decay_nu, 2
    )
    if nesterov:
      mu_hat = jax.tree.map(
        lambda m, g: (
          b1 * correct_mu(m, b1, optax.safe_increment(count))
          + (1 - b1) * correct_mu(g, b1, count)
        ),
        mu,
        grads,
      )
    else:
      mu_hat = jax.tree.map(lambda m: correct_mu(m, b1, count), mu)
    nu_hat = jax.tree.map(lambda v: correct_nu(v, b2, count), nu)
    scaled = jax.tree.map(
      lambda m, v: safe_divide(m, jnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat
    )
    new_state = AdamCalibratedState(
      count=count,
      mu=optax.tree.cast_like(mu, state.mu),
      nu=optax.tree.cast_like(nu, state.nu),
    )
    return optax.tree.cast_like(scaled, updates), new_state

  return _validation.with_param_checks(
    owner,
    optax.GradientTransformation(init_fn, update_fn),
    b1=b1,
    b2=b2,
    eps=eps,
    eps_root=eps_root,
  )


def adam_calibrated(
  learning_rate: ScalarOrSchedule,
  b1: jax.typing.ArrayLike = 0.9,
  b2: jax.typing.ArrayLike = 0.999,
  eps: jax.typing.ArrayLike = 1e-8,
  eps_root: jax.typing.ArrayLike = 0.0,
  *,
  bias_correction: Calibration = "standard",
  nesterov: bool = False,
) -> optax.GradientTransformationExtraArgs:
  """Adam with a chosen calibration, as a full optimizer: `-learning_rate * u`.

  See `scale_by_adam_calibrated` for the rule, the choices and references.
  """
  owner = "adam_calibrated"
  _validation.check_learning_rate(owner, learning_rate)
  return _validation.with_param_checks(
    owner,
    optax.chain(
      scale_by_adam_calibrated(
        b1,
        b2,
        eps,
        eps_root,
        bias_correction=bias_correction,
        nesterov=nesterov,
      ),
      optax.scale_by_learning_rate(learning_rate),
    ),
    learning_rate=learning_rate,
  )
