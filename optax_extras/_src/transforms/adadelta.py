"""Adadelta whose running average of squared updates starts high."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from optax import ScalarOrSchedule

from optax_extras._src import validation as _validation
from optax_extras._src.numerics import safe_divide, upcast


class AdadeltaBigstartState(NamedTuple):
  """State of `scale_by_adadelta_bigstart`."""

  e_g: optax.Updates  # Running average of squared gradients, E[g^2].
  e_x: optax.Updates  # Running average of squared updates, E[dx^2].


def scale_by_adadelta_bigstart(
  rho: jax.typing.ArrayLike = 0.9,
  eps: jax.typing.ArrayLike = 1e-6,
  initial_delta_sq: jax.typing.ArrayLike = 1e-4,
) -> optax.GradientTransformationExtraArgs:
  r"""Adadelta with the running average of squared updates started at a value.

  .. math::
    E[g^2]_t = \rho E[g^2]_{t-1} + (1 - \rho) g_t^2, \quad
    \Delta_t = \frac{\sqrt{E[\Delta^2]_{t-1} + \epsilon}}
                    {\sqrt{E[g^2]_t + \epsilon}} g_t, \quad
    E[\Delta^2]_t = \rho E[\Delta^2]_{t-1} + (1 - \rho) \Delta_t^2,

  with :math:`E[\Delta^2]_0` = ``initial_delta_sq`` (and :math:`\Delta_t = 0`
  where :math:`E[g^2]_t + \epsilon = 0`). With 0 this is
  ``optax.scale_by_adadelta``: the first steps are of size about
  :math:`\sqrt{\epsilon}` and grow only as updates accumulate, so parameters
  that are updated *often* get the larger steps. A "big start" (say 50)
  gives every parameter large steps at first, like RMSProp
  with learning rate :math:`\sqrt{E[\Delta^2]_0}`, fading with the
  time scale :math:`1 / (1 - \rho)`.

  Args:
    rho: decay :math:`\rho` of both running averages, in [0, 1).
    eps: :math:`\epsilon \ge 0`, added inside both roots.
    initial_delta_sq: :math:`E[\Delta^2]_0 \ge 0`, a squared update: in
      the parameters' units squared, so the first step is about
      :math:`\sqrt{E[\Delta^2]_0 / (1 - \rho)}` in every coordinate (times
      the learning rate). The default 1e-4 (a first step of about 0.03)
      suits weights of order 0.1 to 1; 1.0 gives steps of about 3, which
      wreck a small network.

  Returns:
    An ``optax.GradientTransformationExtraArgs`` whose updates rescale the
    gradient (no sign flip; see `adadelta_bigstart` for the optimizer).

  Example: the first step for a unit gradient, zero start against big start.

    >>> import jax.numpy as jnp, optax_extras
    >>> for start in (0.0, 50.0):
    ...   t = optax_extras.scale_by_adadelta_bigstart(0.9, 1e-6, start)
    ...   step, _ = t.update(jnp.array(1.0), t.init(jnp.array(0.0)))
    ...   print(start, f"{float(step):.3g}")
    0.0 0.00316
    50.0 22.4

  References:
    Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
  """
  owner = "scale_by_adadelta_bigstart"
  _validation.check_decay(owner, "rho", rho)
  _validation.check_nonnegative(owner, "eps", eps)
  _validation.check_nonnegative(owner, "initial_delta_sq", initial_delta_sq)

  def init_fn(params: optax.Params) -> AdadeltaBigstartState:
    return AdadeltaBigstartState(
      e_g=optax.tree.zeros_like(params),
      e_x=optax.tree.full_like(params, initial_delta_sq),
    )

  def update_fn(updates, state, params=None):
    del params
    grads, e_x = upcast(updates), upcast(state.e_x)
    e_g = optax.tree.update_moment_per_elem_norm(
      grads, upcast(state.e_g), rho, 2
    )
    deltas = jax.tree.map(
      lambda g, eg, ex: safe_divide(jnp.sqrt(ex + eps) * g, jnp.sqrt(eg + eps)),
      grads,
      e_g,
      e_x,
    )
    e_x = optax.tree.update_moment_per_elem_norm(deltas, e_x, rho, 2)
    new_state = AdadeltaBigstartState(
      e_g=optax.tree.cast_like(e_g, state.e_g),
      e_x=optax.tree.cast_like(e_x, state.e_x),
    )
    return optax.tree.cast_like(deltas, updates), new_state

  return _validation.with_param_checks(
    owner,
    optax.GradientTransformation(init_fn, update_fn),
    rho=rho,
    eps=eps,
    initial_delta_sq=initial_delta_sq,
  )


def adadelta_bigstart(
  learning_rate: ScalarOrSchedule = 1.0,
  rho: jax.typing.ArrayLike = 0.9,
  eps: jax.typing.ArrayLike = 1e-6,
  initial_delta_sq: jax.typing.ArrayLike = 1e-4,
) -> optax.GradientTransformationExtraArgs:
  """Adadelta with a big start, as a full optimizer: `-learning_rate * Delta`.

  See `scale_by_adadelta_bigstart` for the rule and the reference.
  """
  owner = "adadelta_bigstart"
  _validation.check_learning_rate(owner, learning_rate)
  return _validation.with_param_checks(
    owner,
    optax.chain(
      scale_by_adadelta_bigstart(rho, eps, initial_delta_sq),
      optax.scale_by_learning_rate(learning_rate),
    ),
    learning_rate=learning_rate,
  )
