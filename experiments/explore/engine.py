"""What the explorer computes: paths, basin maps and surface grids.

Paths of a few lanes (a few start points, a fan of a few hundred settings)
come from a small compiled program of this module, `jit(vmap(scan))` of one
lane, because a call of `optax_extras.sweep` costs about 60 ms of Python
before it computes anything (it traces and lowers a lane, whose fingerprint
keys its compile cache and its checkpoints): 8 clients dragging sliders on
2 cores would queue behind that lock-free but GIL-bound work. The lane here
is the engine's own (`optax_extras._src.sweep.program.lane_program`), and
its hyperparameters are traced inputs: one executable per (surface, optimizer, hyperparameter names,
steps, record interval, padded lane count) serves every value of every
slider. tests/test_explore.py checks that it gives `sweep`'s numbers.
Larger requests, and every basin map, call `optax_extras.sweep` itself.
"""

import collections
import dataclasses
import functools
import math
import threading
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.explore.optimizers import Optimizer
from optax_extras import sweep
from optax_extras._src.sweep import program as programs
from optax_extras._src.sweep import space
from optax_extras.landscapes import Landscape

SMALL = 4096  # Lanes up to which paths use this module's program.
_MIN_LANES = 16  # Padded to a power of two at least this (vector code).
_CACHE_SIZE = 64  # Executables kept, least recently used dropped.

_lock = threading.Lock()
_executables: collections.OrderedDict = collections.OrderedDict()
_compiling: dict[Any, threading.Lock] = {}
_counts = collections.Counter()


def cache_info() -> dict[str, int]:
  """``{"compilations": n, "hits": n}`` since the process started."""
  with _lock:
    return {"compilations": _counts["compiled"], "hits": _counts["hits"]}


def _lane_program(
  make, landscape: Landscape, num_steps: int, record_every: int, split: bool
):
  """``run(hyperparams, x, y)``: one trajectory, the sweep engine's own lane
  (`program.lane_program`) with the layout `sweep` chooses, so its bits are
  `sweep`'s."""
  starts = space.Starts.from_array(np.zeros((1, 2), np.float32))
  run = programs.lane_program(
    make,
    landscape,
    dataclasses.replace(starts, split=split),
    num_steps,
    None,
    record_every,
  )
  if split:
    return lambda hyperparams, x, y: run(
      hyperparams, jnp.int32(0), (x, y), None
    )
  return lambda hyperparams, x, y: run(
    hyperparams, jnp.int32(0), (jnp.stack([x, y]),), None
  )


@functools.cache
def _split(optimizer: Optimizer) -> bool:
  """`sweep`'s layout for `optimizer` (`space.split_coordinates`), with its
  hyperparameters traced as float32, as in `sweep` on float32 sliders."""
  starts = space.Starts.from_array(np.zeros((1, 2), np.float32))
  names = {h.name: np.float32 for h in optimizer.hyperparameters}
  return space.split_coordinates(starts, optimizer.make, names).split


def _executable(key, build, args):
  with _lock:
    found = _executables.get(key)
    if found is not None:
      _executables.move_to_end(key)
      _counts["hits"] += 1
      return found
    gate = _compiling.setdefault(key, threading.Lock())
  with gate:  # One thread compiles a key; the others wait for it.
    with _lock:
      found = _executables.get(key)
    if found is None:
      found = jax.jit(build()).lower(*args).compile()
      with _lock:
        _executables[key] = found
        _counts["compiled"] += 1
        _compiling.pop(key, None)
        while len(_executables) > _CACHE_SIZE:
          _executables.popitem(last=False)
    else:
      with _lock:
        _counts["hits"] += 1
  return found


def lanes(
  grid: Mapping[str, np.ndarray], starts: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
  """Per-lane hyperparameters and starts, lane = config * num_starts + start,
  configurations in row-major order of the grid axes (as `sweep`)."""
  axes = np.meshgrid(*grid.values(), indexing="ij")
  hyperparams = {
    name: np.repeat(axis.reshape(-1), len(starts))
    for name, axis in zip(grid, axes)
  }
  count = axes[0].size if axes else 1
  return hyperparams, np.tile(starts, (count, 1))


def _padded(values: np.ndarray, length: int) -> np.ndarray:
  return np.concatenate(
    [values, np.repeat(values[-1:], length - len(values), axis=0)]
  )


def paths(
  landscape: Landscape,
  optimizer: Optimizer,
  grid: Mapping[str, np.ndarray],
  starts: np.ndarray,
  *,
  num_steps: int,
  record_every: int,
) -> dict[str, np.ndarray]:
  """The trajectories of every grid configuration × start, shaped like
  `sweep`'s: ``trajectories [*grid, starts, records, 2]``,
  ``trajectory_loss [*grid, starts, records]``, ``final_loss`` and
  ``divergence_step`` ``[*grid, starts]``. Grid values and starts are float32
  arrays (the users' default precision)."""
  shape = tuple(len(v) for v in grid.values()) + (len(starts),)
  num_lanes = math.prod(shape)
  if num_lanes > SMALL:
    result = sweep(
      optimizer.make,
      landscape,
      grid=dict(grid),
      starts=starts,
      num_steps=num_steps,
      record_every=record_every,
      progress=False,
    )
    return {
      "trajectories": result.trajectories,
      "trajectory_loss": result.trajectory_loss,
      "final_loss": result.final_loss,
      "divergence_step": result.divergence_step,
    }
  hyperparams, lane_starts = lanes(grid, starts)
  length = max(_MIN_LANES, 1 << (num_lanes - 1).bit_length())
  args = (
    {name: _padded(v, length) for name, v in hyperparams.items()},
    _padded(lane_starts[:, 0], length),
    _padded(lane_starts[:, 1], length),
  )
  key = (
    landscape,
    optimizer,
    tuple(grid),
    num_steps,
    record_every,
    length,
    jax.config.read("jax_enable_x64"),
  )
  split = _split(optimizer)
  key += (split,)
  build = lambda: jax.vmap(
    _lane_program(optimizer.make, landscape, num_steps, record_every, split)
  )
  outputs = _executable(key, build, args)(*args)
  return {
    name: np.asarray(array)[:num_lanes].reshape(shape + array.shape[1:])
    for name, array in outputs.items()
  }


def basin_starts(
  bounds: tuple[tuple[float, float], tuple[float, float]], resolution: int
) -> np.ndarray:
  """``[resolution, resolution, 2]`` float32 starts: row i is y = ys[i]."""
  (x0, x1), (y0, y1) = bounds
  xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
  return np.stack(np.meshgrid(xs, ys), axis=-1).astype(np.float32)


def basins(
  landscape: Landscape,
  optimizer: Optimizer,
  hyperparams: Mapping[str, float],
  *,
  bounds: tuple[tuple[float, float], tuple[float, float]],
  resolution: int,
  num_steps: int,
) -> dict[str, np.ndarray]:
  """Where each start of a grid ends, by `optax_extras.sweep`: ``labels``
  ``[resolution, resolution]``, the index of the known minimum the run ends
  within 0.1 of, -1 none, -2 diverged (as the gallery's basin maps); and
  the final loss and point of each start."""
  starts = basin_starts(bounds, resolution)
  result = sweep(
    optimizer.make,
    landscape,
    grid={name: np.array([v], np.float32) for name, v in hyperparams.items()},
    starts=starts,
    num_steps=num_steps,
    progress=False,
  )
  lead = (resolution, resolution)
  final_params = result.final_params.reshape(lead + (2,))
  labels = np.full(lead, -1, np.int32)
  if landscape.minima:
    minima = np.array([m.location for m in landscape.minima])
    distance = np.linalg.norm(final_params[..., None, :] - minima, axis=-1)
    labels = np.where(distance.min(-1) < 0.1, distance.argmin(-1), -1)
  labels = np.where(result.diverged.reshape(lead), -2, labels)
  return {
    "labels": labels.astype(np.int32),
    "final_loss": result.final_loss.reshape(lead),
    "final_params": final_params,
  }


def surface_values(
  landscape: Landscape,
  bounds: tuple[tuple[float, float], tuple[float, float]],
  resolution: int,
) -> np.ndarray:
  """``[resolution, resolution]`` float32 losses on the grid `basin_starts`
  draws (row i is y = ys[i]), for the contour under the paths."""
  starts = basin_starts(bounds, resolution)
  values = jax.jit(landscape.fn)(starts[..., 0], starts[..., 1])
  return np.asarray(values, np.float32)
