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

  trace: optax.Updates  # In gradient units, as `optax.trace`'s.
  # The parameters of the last update (or of `init`), negated, so that the
  # next update knows the last step taken; None when no fraction looks ahead.
  # Negated, so that keeping them is an instruction of its own (a negation,
  # exact) that XLA can order after the last read of the old value: kept as
  # they are, they are the step's incoming parameters moved to another slot
  # of a `lax.scan` carry, which XLA copies every step.
  negated_previous_params: optax.Params | None

  @property
  def previous_params(self) -> optax.Params | None:
    """The parameters of the last update (or of `init`); None without."""
    if self.negated_previous_params is None:
      return None
    return jax.tree.map(jnp.negative, self.negated_previous_params)


def _negated(tree: optax.Params) -> optax.Params:
  return jax.tree.map(jnp.negative, tree)


def scale_by_momentum_lookahead(
  *,
  decay: jax.typing.ArrayLike = 0.9,
  lookahead: Sequence[float] = (1.0,),
) -> optax.GradientTransformationExtraArgs:
  r"""A momentum trace of gradients taken at points ahead along the last step.

  .. math::
    m_t = \gamma m_{t-1} + \frac{1}{K} \sum_{k=1}^{K}
          \nabla f(\theta_t + c_k \gamma \Delta_t), \qquad
    \Delta_t = \theta_t - \theta_{t-1},

  with :math:`\gamma` = ``decay`` and :math:`c_k` = ``lookahead``; the
  update is :math:`m_t`, in gradient units like ``optax.trace``'s, so chain
  it with ``optax.scale_by_learning_rate`` as any ``scale_by_*`` transform
  (`nesterov_lookahead` does). :math:`\Delta_t` is the step the parameters
  really took since the last update (the parameters of the last call are
  kept, negated, in the state; :math:`\Delta_1 = 0`), whatever scaled it: the
  transform needs neither the learning rate nor the sign.

  With a constant learning rate :math:`\eta`, :math:`\Delta_{t+1} = -\eta
  m_t`, so the velocity :math:`v = \Delta` follows Sutskever et al.'s (2013)
  form of Nesterov's method, :math:`v_{t+1} = \gamma v_t - \eta \bar g(\theta_t
  + c \gamma v_t)`. Under a schedule :math:`\eta_t`, the trace is rescaled by
  each new rate, as in ``optax.sgd``: :math:`v_{t+1} = (\eta_t /
  \eta_{t-1}) \gamma v_t - \eta_t \bar g`, where Sutskever's velocity keeps
  :math:`\gamma v_t`.

  - ``lookahead=(1.0,)`` is Nesterov's accelerated gradient. With a constant
    learning rate its iterates equal those of
    ``optax.sgd(learning_rate, decay, nesterov=True)`` through the change of
    variables :math:`\phi_t = \theta_t + \gamma \Delta_t`.
  - Several fractions, such as ``(0.25, 0.5, 0.75, 1.0)``, average the
    gradient along the line of motion, which steadies noisy objectives.
  - A fraction of 0 uses the incoming gradient, so ``(0.0,)`` is
    ``optax.trace(decay)`` (heavy-ball momentum) and needs neither
    ``grad_fn`` nor ``params``.

  Gradients at the points ahead come from ``grad_fn(params) -> grads``,
  passed to ``update`` as a keyword argument (``optax.chain`` and
  ``flax.nnx.Optimizer.update`` forward it) with the current ``params``.
  ``grad_fn`` must return a tree like its argument (structure, shapes and
  dtypes, as ``jax.grad`` does); it is called once per non-zero fraction,
  so a step costs that many extra gradient evaluations. ``decay`` may be
  traced (``vmap``, ``optax.inject_hyperparams``); ``lookahead`` is static.

  In an ``optax.chain``, the gradients that ``grad_fn`` returns do not pass
  through the transforms *before* this one: with ``lookahead=(1.0,)`` the
  incoming gradient is not used at all, so clip or decay inside ``grad_fn``
  (or after this transform) instead. Under ``optax.masked``, ``grad_fn``
  receives the masked parameter tree.

  This is not ``optax.lookahead`` (Zhang et al., 2019), which keeps slow and
  fast copies of the parameters and pulls the slow ones toward the fast ones
  every few steps; here "look-ahead" means where the gradient is evaluated.

  Args:
    decay: momentum :math:`\gamma` in [0, 1). Keyword-only.
    lookahead: non-empty sequence of fractions :math:`c_k \ge 0` of the step
      :math:`\gamma \Delta_t` at which the gradient is evaluated.

  Returns:
    An ``optax.GradientTransformationExtraArgs`` whose updates are the trace
    :math:`m_t` (no learning rate, no sign flip).

  Example:
    >>> import jax, jax.numpy as jnp, optax, optax_extras
    >>> loss = lambda p: jnp.sum(p ** 2)
    >>> opt = optax.chain(
    ...   optax_extras.scale_by_momentum_lookahead(decay=0.9),
    ...   optax.scale_by_learning_rate(0.1),
    ... )
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
    convergence rate O(1/k^2)", Soviet Mathematics Doklady 27, 1983.
    Sutskever, Martens, Dahl & Hinton, "On the importance of initialization
    and momentum in deep learning", ICML 2013.
    Zhang, Lucas, Hinton & Ba, "Lookahead Optimizer: k steps forward, 1 step
    back", NeurIPS 2019 (the other algorithm, ``optax.lookahead``).
  """
  owner = "scale_by_momentum_lookahead"
  _validation.check_decay(owner, "decay", decay)
  fractions = _validation.check_fractions(owner, "lookahead", lookahead)
  ahead = tuple(c for c in fractions if c != 0.0)
  num_here = len(fractions) - len(ahead)

  def init_fn(params: optax.Params) -> MomentumLookaheadState:
    return MomentumLookaheadState(
      trace=optax.tree.zeros_like(params),
      negated_previous_params=_negated(params) if ahead else None,
    )

  def gradient_ahead(
    fraction: float,
    params: optax.Params,
    negated_previous: optax.Params,
    grad_fn: Callable[[optax.Params], optax.Updates],
  ) -> optax.Updates:
    # p + (-q) is p - q, bit for bit (IEEE 754 defines the one as the other).
    point = jax.tree.map(
      lambda p, n: (
        upcast(p) + fraction * decay * (upcast(p) + upcast(n))
      ).astype(p.dtype),
      params,
      negated_previous,
    )
    grads = grad_fn(point)
    _validation.check_like(owner, "grad_fn(params)", grads, point)
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
    previous = state.negated_previous_params
    if ahead:
      if grad_fn is None or not callable(grad_fn):
        raise TypeError(
          f"{owner}: lookahead={fractions} evaluates the gradient ahead of "
          "the parameters; pass `grad_fn=<function params -> grads>` to "
          f"update() (got grad_fn={grad_fn!r}). Only lookahead=(0.0,) "
          "works without it."
        )
      if params is None:
        raise ValueError(
          f"{owner}: lookahead={fractions} needs the current `params` in "
          "update(updates, state, params, grad_fn=...)."
        )
      gradients += [gradient_ahead(c, params, previous, grad_fn) for c in ahead]
      previous = _negated(optax.tree.cast_like(params, previous))
    trace = jax.tree.map(
      lambda m, *grads: decay * m + sum(grads) / len(grads),
      upcast(state.trace),
      *(upcast(g) for g in gradients),
    )
    new_state = MomentumLookaheadState(
      trace=optax.tree.cast_like(trace, state.trace),
      negated_previous_params=previous,
    )
    return optax.tree.cast_like(trace, updates), new_state

  return _validation.with_param_checks(
    owner,
    optax.GradientTransformationExtraArgs(init_fn, update_fn),
    decay=decay,
  )


def nesterov_lookahead(
  learning_rate: ScalarOrSchedule,
  decay: jax.typing.ArrayLike = 0.9,
  lookahead: Sequence[float] = (1.0,),
) -> optax.GradientTransformationExtraArgs:
  r"""Nesterov momentum with real look-ahead, as a full optimizer.

  ``optax.chain(scale_by_momentum_lookahead(decay=decay,
  lookahead=lookahead), optax.scale_by_learning_rate(learning_rate))``:

  .. math::
    \theta_{t+1} = \theta_t - \eta_t m_t, \qquad
    m_t = \gamma m_{t-1} + \frac{1}{K} \sum_k
          \nabla f(\theta_t + c_k \gamma (\theta_t - \theta_{t-1})).

  With ``lookahead=(0.0,)`` it is ``optax.sgd(learning_rate, decay)``; with
  ``(1.0,)`` and a constant rate, NAG in Sutskever et al.'s form. Pass
  ``grad_fn`` to ``update``; see `scale_by_momentum_lookahead` for the rule
  under a schedule and the references.
  """
  owner = "nesterov_lookahead"
  _validation.check_learning_rate(owner, learning_rate)
  return _validation.with_param_checks(
    owner,
    optax.chain(
      scale_by_momentum_lookahead(decay=decay, lookahead=lookahead),
      optax.scale_by_learning_rate(learning_rate),
    ),
    learning_rate=learning_rate,
  )
