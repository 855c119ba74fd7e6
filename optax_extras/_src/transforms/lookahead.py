"""Momentum that evaluates the gradient at one or several points ahead."""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from optax import ScalarOrSchedule

from optax_extras._src import validation as _validation
from optax_extras._src.numerics import upcast


class MomentumLookaheadState(NamedTuple):
  """State of `scale_by_momentum_lookahead`."""

  count: jax.Array  # int32 scalar: steps taken, the argument of a schedule.
  velocity: optax.Updates  # In parameter units: the last update.


def scale_by_momentum_lookahead(
  learning_rate: ScalarOrSchedule,
  decay: jax.typing.ArrayLike = 0.9,
  lookahead: Sequence[float] = (1.0,),
) -> optax.GradientTransformationExtraArgs:
  r"""Momentum whose gradient is averaged over points ahead along the velocity.

  The velocity is kept in parameter units and is the update itself:

  .. math::
    v_{t+1} = \gamma v_t - \eta_t \frac{1}{K} \sum_{k=1}^{K}
              \nabla f(\theta_t + c_k \gamma v_t), \qquad
    \theta_{t+1} = \theta_t + v_{t+1},

  with :math:`\gamma` = ``decay``, :math:`\eta_t` = ``learning_rate`` (a
  number or a schedule of the step count) and :math:`c_k` = ``lookahead``.

  - ``lookahead=(1.0,)`` is Nesterov's accelerated gradient in the form of
    Sutskever et al. (2013). Its iterates equal those of
    ``optax.sgd(learning_rate, decay, nesterov=True)`` through the change of
    variables :math:`\phi = \theta + \gamma v`.
  - ``lookahead=(0.25, 0.5, 0.75, 1.0)`` is the "smoothed Nesterov" of the
    seed article: the gradient averaged along the line of motion, which
    steadies noisy objectives.
  - A fraction of 0 uses the incoming gradient, so ``(0.0,)`` is heavy-ball
    momentum and needs no ``grad_fn``.

  Gradients at the points ahead come from ``grad_fn(params) -> grads``,
  passed to ``update`` as a keyword argument (``optax.chain`` and
  ``flax.nnx.Optimizer.update`` forward it). ``grad_fn`` is called once per
  non-zero fraction, so a step costs that many extra gradient evaluations.
  ``decay`` and a numeric ``learning_rate`` may be traced (``vmap``,
  ``optax.inject_hyperparams``); ``lookahead`` is static.

  In an ``optax.chain``, the gradients that ``grad_fn`` returns do not pass
  through the transforms *before* this one: with ``lookahead=(1.0,)`` the
  incoming gradient is not used at all, so clip or decay inside ``grad_fn``
  (or after this transform) instead. Under ``optax.masked``, ``grad_fn``
  receives the masked parameter tree.

  Args:
    learning_rate: step size :math:`\eta`, a number or a schedule.
    decay: momentum :math:`\gamma` in [0, 1).
    lookahead: non-empty sequence of fractions :math:`c_k \ge 0` of the step
      :math:`\gamma v` at which the gradient is evaluated.

  Returns:
    An ``optax.GradientTransformationExtraArgs``; apply its updates with
    ``optax.apply_updates``.

  Example:
    >>> import jax, jax.numpy as jnp, optax, optax_extras
    >>> loss = lambda p: jnp.sum(p ** 2)
    >>> opt = optax_extras.scale_by_momentum_lookahead(0.1, decay=0.9)
    >>> params = jnp.array([1.0, -2.0])
    >>> state = opt.init(params)
    >>> for _ in range(100):
    ...   grads = jax.grad(loss)(params)
    ...   updates, state = opt.update(grads, state, params,
    ...                               grad_fn=jax.grad(loss))
    ...   params = optax.apply_updates(params, updates)
    >>> bool(loss(params) < 1e-6)
    True

  References:
    Nesterov, "A method for solving the convex programming problem with
    convergence rate O(1/k^2)", 1983.
    Sutskever, Martens, Dahl & Hinton, "On the importance of initialization
    and momentum in deep learning", ICML 2013.
  """
  owner = "scale_by_momentum_lookahead"
  _validation.check_learning_rate(owner, learning_rate)
  _validation.check_decay(owner, "decay", decay)
  fractions = _validation.check_fractions(owner, "lookahead", lookahead)
  ahead = tuple(c for c in fractions if c != 0.0)
  num_here = len(fractions) - len(ahead)

  def init_fn(params: optax.Params) -> MomentumLookaheadState:
    return MomentumLookaheadState(
      count=jnp.zeros([], jnp.int32),
      velocity=optax.tree.zeros_like(params),
    )

  def gradient_ahead(
    fraction: float,
    params: optax.Params,
    velocity: optax.Updates,
    grad_fn: Callable[[optax.Params], optax.Updates],
    updates: optax.Updates,
  ) -> optax.Updates:
    point = jax.tree.map(
      lambda p, v: (p + fraction * decay * v).astype(p.dtype), params, velocity
    )
    grads = grad_fn(point)
    expected = jax.tree.structure(updates)
    if jax.tree.structure(grads) != expected:
      raise ValueError(
        f"{owner}: grad_fn(params) must return gradients with the tree "
        f"structure of the updates, {expected}; it returned "
        f"{jax.tree.structure(grads)}."
      )
    return grads

  def update_fn(
    updates: optax.Updates,
    state: MomentumLookaheadState,
    params: optax.Params | None = None,
    *,
    grad_fn: Callable[[optax.Params], optax.Updates] | None = None,
    **extra_args: Any,
  ) -> tuple[optax.Updates, MomentumLookaheadState]:
    del extra_args
    gradients = [updates] * num_here
    if ahead:
      if grad_fn is None or not callable(grad_fn):
        raise TypeError(
          f"{owner}: lookahead={fractions} evaluates the gradient ahead of "
          "the parameters; pass `grad_fn=<function params -> grads>` to "
          f"update() (got grad_fn={grad_fn!r}). Only lookahead=(0.0,) "
          "works without it."
        )
      if params is None:
        raise TypeError(
          f"{owner}: lookahead={fractions} needs the current `params` in "
          "update(updates, state, params, grad_fn=...)."
        )
      gradients += [
        gradient_ahead(c, params, state.velocity, grad_fn, updates)
        for c in ahead
      ]
    step_size = (
      learning_rate(state.count) if callable(learning_rate) else learning_rate
    )
    velocity = jax.tree.map(
      lambda v, *grads: decay * v - step_size * (sum(grads) / len(grads)),
      upcast(state.velocity),
      *(upcast(g) for g in gradients),
    )
    velocity = optax.tree.cast_like(velocity, state.velocity)
    new_state = MomentumLookaheadState(
      count=optax.safe_increment(state.count), velocity=velocity
    )
    return optax.tree.cast_like(velocity, updates), new_state

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def nesterov_lookahead(
  learning_rate: ScalarOrSchedule,
  decay: jax.typing.ArrayLike = 0.9,
  lookahead: Sequence[float] = (1.0,),
) -> optax.GradientTransformationExtraArgs:
  """Nesterov momentum with real look-ahead, as a full optimizer.

  The velocity of `scale_by_momentum_lookahead` already carries the learning
  rate and the descent sign (the look-ahead point needs them), so the full
  optimizer is that transform; this alias exists so that the four families
  read alike. Pass ``grad_fn`` to ``update``; see
  `scale_by_momentum_lookahead` for the rule and the references.
  """
  return scale_by_momentum_lookahead(learning_rate, decay, lookahead)
