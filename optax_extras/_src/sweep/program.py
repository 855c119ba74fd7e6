"""The compiled program of a sweep: lanes vmapped, in blocks, over devices."""

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from optax_extras._src.landscapes import Landscape

LossFn = Callable[[jax.Array], jax.Array]
AXIS = "lanes"
# Lanes per block at most; a block's state (~20 arrays) fits in L2.
BLOCK = 4096
# Blocks are whole multiples of this, so that every lane takes the vectorised
# path of XLA's loops, never a scalar remainder that may round differently:
# results are then the same bits whatever the chunk size and device count.
VECTOR = 128


class _Carry(NamedTuple):
  """A lane between two steps: ``value`` is the loss at ``params``, ``grads``
  its gradient (for a diverged lane, that of its rejected point: unused)."""

  params: tuple[jax.Array, jax.Array]
  state: optax.OptState
  value: jax.Array
  grads: tuple[jax.Array, jax.Array]
  best_loss: jax.Array
  tol_step: jax.Array | None
  divergence_step: jax.Array


def _lane_program(
  make_optimizer: Callable[..., optax.GradientTransformation],
  loss_xy: Callable[[jax.Array, jax.Array], jax.Array],
  num_steps: int,
  tol: float | None,
  record_every: int | None,
) -> Callable[..., dict[str, jax.Array]]:
  """``run(hyperparams, x, y) -> outputs`` of one lane, for `jax.vmap`."""
  loss = lambda params: loss_xy(*params)
  value_and_grad = jax.value_and_grad(loss)
  grad_fn = jax.grad(loss)

  def finite(value, params):
    return (
      jnp.isfinite(value) & jnp.isfinite(params[0]) & jnp.isfinite(params[1])
    )

  def run(hyperparams, x, y):
    optimizer = optax.with_extra_args_support(make_optimizer(**hyperparams))

    def step(carry: _Carry, t: jax.Array) -> tuple[_Carry, None]:
      updates, state = optimizer.update(
        carry.grads, carry.state, carry.params, grad_fn=grad_fn
      )
      params = optax.apply_updates(carry.params, updates)
      value, grads = value_and_grad(params)
      diverging = (carry.divergence_step < 0) & ~finite(value, params)
      divergence_step = jnp.where(diverging, t, carry.divergence_step)
      # A diverged lane keeps its last finite point and loss; its optimizer
      # state and gradient run on, unused. Nothing here mixes lanes.
      params, value = jax.tree.map(
        lambda old, new: jnp.where(divergence_step >= 0, old, new),
        (carry.params, carry.value),
        (params, value),
      )
      tol_step = (
        None
        if tol is None
        else jnp.where((carry.tol_step < 0) & (value <= tol), t, carry.tol_step)
      )
      return _Carry(
        params,
        state,
        value,
        grads,
        jnp.minimum(carry.best_loss, value),
        tol_step,
        divergence_step,
      ), None

    def advance(carry: _Carry, first: jax.Array, length: int) -> _Carry:
      return jax.lax.scan(
        step, carry, first + jnp.arange(length, dtype=jnp.int32)
      )[0]

    params = (x, y)
    value, grads = value_and_grad(params)
    never = jnp.int32(-1)
    at_start = lambda reached: jnp.where(reached, jnp.int32(0), never)
    carry = _Carry(
      params,
      optimizer.init(params),
      value,
      grads,
      value,
      None if tol is None else at_start(value <= tol),
      at_start(~finite(value, params)),
    )
    outputs = {}
    if record_every is None:
      carry = advance(carry, jnp.int32(1), num_steps)
    else:
      num_records = num_steps // record_every

      def record(carry, first):
        carry = advance(carry, first, record_every)
        return carry, (jnp.stack(carry.params), carry.value)

      firsts = 1 + record_every * jnp.arange(num_records, dtype=jnp.int32)
      carry, (points, values) = jax.lax.scan(record, carry, firsts)
      remainder = num_steps - record_every * num_records
      if remainder:  # A second copy of the step to compile: only if needed.
        carry = advance(
          carry, jnp.int32(1 + record_every * num_records), remainder
        )
      outputs["trajectories"] = jnp.concatenate(
        [jnp.stack(params)[None], points]
      )
      outputs["trajectory_loss"] = jnp.concatenate([value[None], values])
    outputs.update(
      final_params=jnp.stack(carry.params),
      final_loss=carry.value,
      best_loss=carry.best_loss,
      divergence_step=carry.divergence_step,
    )
    if tol is not None:
      outputs["tol_step"] = carry.tol_step
    return outputs

  return run


@functools.lru_cache(maxsize=32)
def chunk_program(
  make_optimizer: Callable[..., optax.GradientTransformation],
  loss_fn: Landscape | LossFn,
  grid_names: tuple[str, ...],
  num_steps: int,
  tol: float | None,
  record_every: int | None,
  lanes_per_device: int,
  block: int,
  mesh: Mesh,
) -> Callable[..., dict[str, jax.Array]]:
  """``program(first_lane, num_starts, num_lanes, grid_values, xs, ys)``.

  Computes lanes ``first_lane + i`` (clamped to the last lane) for ``i`` below
  ``lanes_per_device * mesh.size``; lane = configuration * num_starts + start,
  configurations in row-major order of the grid axes. Cached, so that a
  repeated sweep with the same functions and settings reuses its compilation.
  """
  run_block = jax.vmap(
    _lane_program(
      make_optimizer, elementwise_loss(loss_fn), num_steps, tol, record_every
    )
  )

  def per_device(first_lane, num_starts, num_lanes, grid_values, xs, ys):
    lane = (
      first_lane
      + jax.lax.axis_index(AXIS) * lanes_per_device
      + jnp.arange(lanes_per_device, dtype=jnp.int32)
    )
    config, start = jnp.divmod(jnp.minimum(lane, num_lanes - 1), num_starts)
    hyperparams = {}
    for name, values in reversed(tuple(zip(grid_names, grid_values))):
      config, index = jnp.divmod(config, values.shape[0])
      hyperparams[name] = values[index]
    inputs = jax.tree.map(
      lambda a: a.reshape(-1, block), (hyperparams, xs[start], ys[start])
    )
    outputs = jax.lax.map(lambda args: run_block(*args), inputs)
    return jax.tree.map(
      lambda a: a.reshape(lanes_per_device, *a.shape[2:]), outputs
    )

  # check_vma=False: optimizer states mix per-lane and shared values freely.
  return jax.jit(
    jax.shard_map(
      per_device,
      mesh=mesh,
      in_specs=PartitionSpec(),
      out_specs=PartitionSpec(AXIS),
      check_vma=False,
    )
  )


def ceil_div(numerator: int, denominator: int) -> int:
  return -(-numerator // denominator)


def elementwise_loss(
  loss_fn: Landscape | LossFn,
) -> Callable[[jax.Array, jax.Array], jax.Array]:
  """``loss(x, y)``: a Landscape's own ``fn``, else ``loss_fn([x, y])``."""
  if isinstance(loss_fn, Landscape):
    return loss_fn.fn
  return lambda x, y: loss_fn(jnp.stack([x, y]))


class Chunks:
  """``chunks(first_lane)``: the outputs of lanes ``first_lane`` onwards.

  Lane ``i`` is grid configuration ``i // num_starts`` (row-major over the
  grid axes) from start ``i % num_starts``. A call returns NumPy arrays of
  ``min(chunk_size, num_lanes - first_lane)`` rows; `shapes` gives each
  output's per-lane shape and dtype without compiling.
  """

  def __init__(
    self,
    make_optimizer: Callable[..., optax.GradientTransformation],
    loss_fn: Landscape | LossFn,
    grid: dict[str, np.ndarray],
    starts: np.ndarray,
    *,
    num_steps: int,
    tol: float | None,
    record_every: int | None,
    chunk_size: int,
    cache_key: str | None = None,
  ):
    del cache_key  # To come: the compile cache, keyed by content.
    num_starts = starts.shape[0]
    self.num_lanes = num_starts * math.prod(len(v) for v in grid.values())
    self.chunk_size = chunk_size
    mesh = Mesh(np.array(jax.local_devices()), (AXIS,))
    num_blocks = ceil_div(chunk_size, mesh.size * BLOCK)  # Per device.
    block = ceil_div(ceil_div(chunk_size, mesh.size * num_blocks), VECTOR)
    block *= VECTOR
    self._program = chunk_program(
      make_optimizer,
      loss_fn,
      tuple(grid),
      num_steps,
      tol,
      record_every,
      num_blocks * block,
      block,
      mesh,
    )
    self._constants = jax.device_put(
      (
        np.int32(num_starts),
        np.int32(self.num_lanes),
        tuple(grid.values()),
        starts[:, 0],
        starts[:, 1],
      ),
      NamedSharding(mesh, PartitionSpec()),
    )
    shapes = jax.eval_shape(self._program, np.int32(0), *self._constants)
    self.shapes = {
      name: jax.ShapeDtypeStruct(shape.shape[1:], shape.dtype)
      for name, shape in shapes.items()
    }

  def __call__(self, first_lane: int) -> dict[str, np.ndarray]:
    rows = min(self.chunk_size, self.num_lanes - first_lane)
    outputs = self._program(np.int32(first_lane), *self._constants)
    return {name: np.asarray(a)[:rows] for name, a in outputs.items()}
