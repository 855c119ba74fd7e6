"""The Adagrad family: other powers, other norms of the gradient."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from optax import ScalarOrSchedule

from optax_extras._src import validation as _validation
from optax_extras._src.numerics import safe_divide, upcast


class AdagradFamilyState(NamedTuple):
  """State of `scale_by_adagrad_family`."""

  accumulator: optax.Updates  # Sum of |g|**order to date.


def scale_by_adagrad_family(
  power: jax.typing.ArrayLike = 0.5,
  order: jax.typing.ArrayLike = 2.0,
  eps: jax.typing.ArrayLike = 1e-7,
  initial_accumulator_value: jax.typing.ArrayLike = 0.0,
  *,
  eps_in_power: bool = True,
) -> optax.GradientTransformationExtraArgs:
  r"""Adagrad with a free power and order: divide by a power of summed |g|^p.

  .. math::
    A_t = A_{t-1} + |g_t|^{p}, \qquad u_t = \frac{g_t}{(A_t + \epsilon)^{q}}
    \quad \text{or, with ``eps_in_power=False``,} \quad
    u_t = \frac{g_t}{A_t^{q} + \epsilon},

  with :math:`p` = ``order``, :math:`q` = ``power``, :math:`A_0` =
  ``initial_accumulator_value``, and :math:`u_t = 0` where the denominator
  is 0.

  - ``power=0.5, order=2`` is Adagrad, equal to ``optax.scale_by_rss`` with
    the same ``eps`` and ``initial_accumulator_value`` (eps inside the root).
  - ``power=1`` "removes the root": steps shrink like :math:`1/t` instead
    of :math:`1/\sqrt{t}`, so the total distance travelled grows only like
    :math:`\log t` and progress dies out much sooner.
  - ``order=1`` accumulates moduli :math:`|g|` instead of squares.

  Args:
    power: :math:`q > 0`.
    order: :math:`p > 0`.
    eps: :math:`\epsilon \ge 0`, added before the power.
    initial_accumulator_value: :math:`A_0 \ge 0` (TF1's Adagrad uses 0.1).
    eps_in_power: whether :math:`\epsilon` is added inside the power (as
      optax and Lasagne do) or outside it (as in ``sqrt(G) + 1e-8``).
      Static: a bool, never traced (a TypeError).

  Returns:
    An ``optax.GradientTransformationExtraArgs`` whose updates rescale the
    gradient (no sign flip; see `adagrad_family` for the optimizer).

  Example: a constant gradient; steps fall like 1/sqrt(t), or 1/t without
  the root.

    >>> import jax.numpy as jnp, optax_extras
    >>> for power in (0.5, 1.0):
    ...   t = optax_extras.scale_by_adagrad_family(power, eps=0.0)
    ...   state = t.init(jnp.array(0.0))
    ...   steps = []
    ...   for _ in range(4):
    ...     step, state = t.update(jnp.array(1.0), state)
    ...     steps.append(round(float(step), 3))
    ...   print(power, steps)
    0.5 [1.0, 0.707, 0.577, 0.5]
    1.0 [1.0, 0.5, 0.333, 0.25]

  References:
    Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning
    and Stochastic Optimization", JMLR 12, 2011.
  """
  owner = "scale_by_adagrad_family"
  _validation.check_positive(owner, "power", power)
  _validation.check_positive(owner, "order", order)
  _validation.check_nonnegative(owner, "eps", eps)
  _validation.check_nonnegative(
    owner, "initial_accumulator_value", initial_accumulator_value
  )
  eps_in_power = _validation.check_static_flag(
    owner, "eps_in_power", eps_in_power
  )

  def init_fn(params: optax.Params) -> AdagradFamilyState:
    return AdagradFamilyState(
      accumulator=optax.tree.full_like(params, initial_accumulator_value)
    )

  def update_fn(updates, state, params=None):
    del params
    grads = upcast(updates)
    accumulator = jax.tree.map(
      lambda g, a: a + jnp.abs(g) ** order, grads, upcast(state.accumulator)
    )
    if eps_in_power:
      denominator = lambda a: (a + eps) ** power
    else:
      denominator = lambda a: a**power + eps
    scaled = jax.tree.map(
      lambda g, a: safe_divide(g, denominator(a)), grads, accumulator
    )
    new_state = AdagradFamilyState(
      accumulator=optax.tree.cast_like(accumulator, state.accumulator)
    )
    return optax.tree.cast_like(scaled, updates), new_state

  return _validation.with_param_checks(
    owner,
    optax.GradientTransformation(init_fn, update_fn),
    power=power,
    order=order,
    eps=eps,
    initial_accumulator_value=initial_accumulator_value,
  )


def adagrad_family(
  learning_rate: ScalarOrSchedule,
  power: jax.typing.ArrayLike = 0.5,
  order: jax.typing.ArrayLike = 2.0,
  eps: jax.typing.ArrayLike = 1e-7,
  initial_accumulator_value: jax.typing.ArrayLike = 0.0,
  *,
  eps_in_power: bool = True,
) -> optax.GradientTransformationExtraArgs:
  """The Adagrad family as a full optimizer: `-learning_rate * u`.

  See `scale_by_adagrad_family` for the rule and the reference.
  """
  owner = "adagrad_family"
  _validation.check_learning_rate(owner, learning_rate)
  return _validation.with_param_checks(
    owner,
    optax.chain(
      scale_by_adagrad_family(
        power, order, eps, initial_accumulator_value, eps_in_power=eps_in_power
      ),
      optax.scale_by_learning_rate(learning_rate),
    ),
    learning_rate=learning_rate,
  )
