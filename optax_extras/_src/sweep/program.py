"""The compiled program of a sweep: one block of lanes per call.

A call computes `Options.block` consecutive lanes (the last lane repeated
past the end) as ``jax.vmap`` of `run_lane`. Lane i is grid configuration
``i // num_starts`` (row-major over the grid axes) from start
``i % num_starts``. The functions are static arguments of one ``jax.jit``,
so jit's own cache reuses a program for the same function objects and
shapes; grid values, starts, the key and the step count are runtime
arguments, padded to a power of two, so that other values, or a few more of
them, compile nothing.
"""

import functools
import hashlib
import io
import json
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jex_core

from optax_extras._src.sweep.lane import Lane, run_lane

# Lanes per block, by backend: large enough that a step's kernels are not
# dominated by the loop's cost per step (on the 2-core CPU of BENCHMARKS.md,
# Adam on a surface ran at 42 M lane-steps/s in blocks of 4096, 82 in blocks
# of 65536, 79 in one of 262144); on an accelerator, larger still (an H200:
# 6,600 M/s in blocks of 2**18, 19,000-21,000 in blocks of 2**22).
BLOCK = {"cpu": 2**16}
ACCELERATOR_BLOCK = 2**22
# A block's parameters at most, when a lane holds many numbers (a model).
BLOCK_NUMBERS = {"cpu": 2**18}
ACCELERATOR_BLOCK_NUMBERS = 2**26
MIN_BLOCK = 16  # Never fewer lanes: a block of 1 compiles to scalar code.
# Primitives whose result the fingerprint cannot see: they call Python.
OPAQUE = frozenset({"pure_callback", "io_callback", "ffi_call"})


class Options(NamedTuple):
  """The static part of a program, besides the functions."""

  block: int
  names: tuple[str, ...]  # Of the grid axes, in the user's order.
  tol: float | None
  record_every: int | None
  max_steps: int | None  # With record_every: the records' size.
  record_params: bool


def block_size(backend: str, num_lanes: int, lane_size: int) -> int:
  """Lanes per call: a power of two fixed by the backend, the lane's size
  and the sweep's size only (never by chunks or devices, so never a lane's
  bits); a sweep smaller than a block gets one block of its size."""
  block = BLOCK.get(backend, ACCELERATOR_BLOCK)
  numbers = BLOCK_NUMBERS.get(backend, ACCELERATOR_BLOCK_NUMBERS)
  block = min(block, _floor_pow2(max(1, numbers // lane_size)))
  return max(MIN_BLOCK, min(block, _ceil_pow2(num_lanes)))


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def program(
  make_optimizer: Callable[..., Any],
  loss_fn: Callable[..., jax.Array],
  metrics_fn: Callable[..., Any] | None,
  options: Options,
  first_lane: jax.Array,
  sizes: jax.Array,
  grid: tuple[jax.Array, ...],
  starts: Any,
  key: jax.Array | None,
  num_steps: jax.Array,
) -> Lane:
  """Lanes ``first_lane + i``, i < `options.block`, as one `Lane` of
  arrays with a leading lane axis. ``sizes`` holds each grid axis's length,
  then the number of starts (the arrays may be padded past them)."""
  lane = jnp.minimum(
    first_lane + jnp.arange(options.block, dtype=jnp.int32),
    jnp.prod(sizes) - 1,
  )
  config, start = jnp.divmod(lane, sizes[-1])
  hyperparams = {}
  for axis in reversed(range(len(grid))):
    config, index = jnp.divmod(config, sizes[axis])
    hyperparams[options.names[axis]] = grid[axis][index]

  def one(hyperparams, params, lane):
    return run_lane(
      make_optimizer(**hyperparams),
      loss_fn,
      params,
      None if key is None else jax.random.fold_in(key, lane),
      num_steps=num_steps,
      tol=options.tol,
      record_every=options.record_every,
      max_steps=options.max_steps,
      metrics_fn=metrics_fn,
      record_params=options.record_params,
    )

  params = jax.tree.map(lambda leaf: leaf[start], starts)
  return jax.vmap(one)(hyperparams, params, lane)


def padded(values: np.ndarray) -> np.ndarray:
  """`values` with its last row repeated to a power-of-two length >= 16."""
  length = max(16, _ceil_pow2(len(values)))
  return np.concatenate(
    [values, np.repeat(values[-1:], length - len(values), axis=0)]
  )


def opaque(jaxpr: jex_core.Jaxpr) -> list[str]:
  """The primitives of `OPAQUE` a program runs, sub-programs included."""
  found = []
  for eqn in jaxpr.eqns:
    if eqn.primitive.name in OPAQUE:
      found.append(eqn.primitive.name)
    for param in eqn.params.values():
      for value in param if isinstance(param, (tuple, list)) else (param,):
        if isinstance(value, jex_core.ClosedJaxpr):
          value = value.jaxpr
        if isinstance(value, jex_core.Jaxpr):
          found += opaque(value)
  return found


def fingerprint(lowered: jax.stages.Lowered) -> str:
  """SHA-256 of a lowered program's StableHLO, printed whole (constants
  included, no source locations): whatever the functions capture (a
  closure's number, a data set) is part of it, a function's name is not."""
  text = io.StringIO()
  lowered.compiler_ir("stablehlo").operation.print(
    file=text, enable_debug_info=False, large_elements_limit=None
  )
  digest = hashlib.sha256(text.getvalue().encode())
  # The pytree structure of the outputs (metric names), not in the text.
  digest.update(json.dumps(str(lowered.out_tree)).encode())
  return digest.hexdigest()


def ceil_div(numerator: int, denominator: int) -> int:
  return -(-numerator // denominator)


def _ceil_pow2(n: int) -> int:
  return 1 << max(0, n - 1).bit_length()


def _floor_pow2(n: int) -> int:
  return 1 << max(1, n).bit_length() - 1
