"""One lane: one optimizer run from one start, written for one trajectory.

`run_lane` is what `sweep` vmaps over every (configuration, start) pair; it
is public so that it can be ``jax.vmap``-ed, ``jax.jit``-ed or
``shard_map``-ed directly. The optimizer and the loss see the lane's own
parameters, with their true shapes and dtypes: whatever is right under
``jax.vmap`` is right in a sweep.
"""

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class Lane(NamedTuple):
  """What one lane computed (`SweepResult`'s fields, for one lane).

  Steps count updates: step 0 is the start, step t the point after t
  updates. A lane diverges at the first step whose loss or parameters are
  not finite; it then keeps its last finite point and loss.

  Attributes:
    final_params: the last point (of a diverged lane: its last finite one).
    final_loss: the loss at ``final_params``.
    best_loss: the smallest loss at steps 0..num_steps (finite points).
    divergence_step: the step at which the lane diverged, -1 if never.
    tol_step: the first step whose loss was ``<= tol``, -1 if never; None
      without ``tol``.
    trajectories: the parameters at steps 0, k, 2k, ... (k =
      ``record_every``), each leaf with a leading axis of ``max_steps // k +
      1`` rows (rows past ``num_steps`` are zeros); None unless recorded.
    trajectory_loss: the loss at those steps; None unless recorded.
    metrics: ``metrics_fn(final_params)``; empty without ``metrics_fn``.
    trajectory_metrics: ``metrics_fn`` at the recorded steps; empty unless
      both ``metrics_fn`` and ``record_every`` are given.
  """

  final_params: Any
  final_loss: jax.Array
  best_loss: jax.Array
  divergence_step: jax.Array
  tol_step: jax.Array | None
  trajectories: Any | None
  trajectory_loss: jax.Array | None
  metrics: dict[str, jax.Array]
  trajectory_metrics: dict[str, jax.Array]


def run_lane(
  optimizer: optax.GradientTransformation,
  loss_fn: Callable[..., jax.Array],
  params: Any,
  key: jax.Array | None = None,
  *,
  num_steps: int | jax.Array,
  tol: float | None = None,
  record_every: int | None = None,
  max_steps: int | None = None,
  metrics_fn: Callable[[Any], Mapping[str, jax.Array]] | None = None,
  record_params: bool = True,
) -> Lane:
  """Runs `optimizer` on `loss_fn` from `params` for `num_steps` steps.

  At step t (t >= 1) the update is computed from the gradient at step t - 1
  and applied; then the loss and its gradient are evaluated at the new
  point; step 0 evaluates the start.

  Args:
    optimizer: an optax transformation; a look-ahead one gets ``grad_fn``
      (the gradient at any point, with the key of the gradient in hand).
    loss_fn: ``loss(params) -> scalar``, or ``loss(params, key)`` with `key`.
    params: the start, any pytree of float arrays.
    key: a PRNG key (typed or raw): the loss at step t gets
      ``jax.random.fold_in(key, t)``.
    num_steps: the number of updates: an int, or a traced integer (a
      ``while_loop`` then runs to it, so that other step counts compile
      nothing); with `record_every`, a traced count needs `max_steps`.
    tol: if given, `Lane.tol_step` records when ``loss <= tol``.
    record_every: if given, record the loss (and with `record_params` the
      parameters, and `metrics_fn`) every k steps.
    max_steps: a static bound on `num_steps` that sizes the records
      (default: `num_steps`).
    metrics_fn: ``metrics(params) -> {name: scalar}``, on the final point
      (and on the recorded ones).
    record_params: record the parameters with `record_every`.

  Returns:
    A `Lane`.

  Example:
    >>> import jax, jax.numpy as jnp, optax
    >>> from optax_extras import run_lane
    >>> loss = lambda p: jnp.sum(p**2)
    >>> lanes = jax.vmap(
    ...   lambda lr: run_lane(optax.sgd(lr), loss, jnp.ones(3), num_steps=10)
    ... )(jnp.array([0.1, 0.2]))
    >>> lanes.final_loss.shape
    (2,)
  """
  optimizer = optax.with_extra_args_support(optimizer)
  if key is None:
    loss = lambda p, t: loss_fn(p)
  else:
    loss = lambda p, t: loss_fn(p, jax.random.fold_in(key, t))
  value_and_grad = jax.value_and_grad(loss)
  if max_steps is None:
    max_steps = num_steps
  if record_every is not None and not isinstance(max_steps, int):
    raise TypeError(
      "run_lane: a traced `num_steps` with `record_every` needs an int "
      "`max_steps` to size the records."
    )

  def record(params, value):
    point = {"loss": value}
    if record_params:
      point["params"] = params
    if metrics_fn is not None:
      point["metrics"] = dict(metrics_fn(params))
    return point

  def evaluate(t, new, state, carry):
    """The loss and gradient at `new`, the point after t updates."""
    params, _, value, _, best, tol_step, diverged_at, records = carry
    moves = t > 0
    new_value, grads = value_and_grad(new, t)
    finite = functools.reduce(
      jnp.logical_and,
      [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(new)],
      jnp.isfinite(new_value),
    )
    diverged_at = jnp.where((diverged_at < 0) & ~finite, t, diverged_at)
    keep = (diverged_at >= 0) & moves  # A diverged lane keeps its last point.
    params, value = jax.tree.map(
      lambda old, now: jnp.where(keep, old, now),
      (params, value),
      (new, new_value),
    )
    if tol is not None:
      tol_step = jnp.where((tol_step < 0) & (value <= tol), t, tol_step)
    if records is not None:
      due = t % record_every == 0
      row = jnp.where(due, t // record_every, len(records["loss"]) - 1)
      if record_every == 1:
        point = record(params, value)
      else:  # Computed only when due (metrics may cost a data set's pass).
        point = jax.lax.cond(
          due,
          record,
          lambda *_: jax.tree.map(lambda r: jnp.zeros_like(r[0]), records),
          params,
          value,
        )
      records = jax.tree.map(
        lambda rows, x: jax.lax.dynamic_update_index_in_dim(rows, x, row, 0),
        records,
        point,
      )
    best = jnp.minimum(best, value)
    return params, state, value, grads, best, tol_step, diverged_at, records

  # Step 0 evaluates the start. On a CPU, by the loop's own body, its update
  # skipped by a conditional: the loss and its gradient compile once (about
  # a quarter of a small sweep's compile time). Elsewhere, before the loop:
  # a conditional costs a device-to-host sync a step on a GPU.
  one_body = jax.default_backend() == "cpu"

  def step(t, carry):
    params, state, _, grads = carry[:4]

    def move(params, state):
      updates, state = optimizer.update(
        grads, state, params, grad_fn=lambda p: jax.grad(loss)(p, t - 1)
      )
      return optax.apply_updates(params, updates), state

    if one_body:
      new, state = jax.lax.cond(t > 0, move, lambda *same: same, params, state)
    else:
      new, state = move(params, state)
    return evaluate(t, new, state, carry)

  value = jax.eval_shape(loss, params, 0)
  records = None
  if record_every is not None:  # One row per record, and a scratch row.
    rows = max_steps // record_every + 2
    records = jax.tree.map(
      lambda x: jnp.zeros((rows, *x.shape), x.dtype),
      jax.eval_shape(record, params, value),
    )
  never = jnp.int32(-1)
  carry = (
    params,
    optimizer.init(params),
    jnp.zeros(value.shape, value.dtype),
    jax.tree.map(jnp.zeros_like, params),
    jnp.full(value.shape, jnp.inf, value.dtype),
    never,
    never,
    records,
  )
  first = 0
  if not one_body:
    carry, first = evaluate(0, params, carry[1], carry), 1
  params, _, value, _, best, tol_step, diverged_at, records = jax.lax.fori_loop(
    first, num_steps + 1, step, carry
  )
  if records is not None:
    records = jax.tree.map(lambda rows: rows[:-1], records)
  else:
    records = {}
  return Lane(
    final_params=params,
    final_loss=value,
    best_loss=best,
    divergence_step=diverged_at,
    tol_step=None if tol is None else tol_step,
    trajectories=records.get("params"),
    trajectory_loss=records.get("loss"),
    metrics={} if metrics_fn is None else dict(metrics_fn(params)),
    trajectory_metrics=records.get("metrics", {}),
  )
