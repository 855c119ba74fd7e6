"""Runs an optimizer over a hyperparameter grid × a batch of 2-D starts at once.

Every pair (grid configuration, start point) is a *lane*: one trajectory of
``num_steps`` optimizer steps on a 2-D surface. All lanes run in one compiled
program and never interact, so a lane that diverges changes no other lane.
`sweep` computes, `SweepResult` holds NumPy arrays (and saves them), `load`
reads them back, or refuses with an error naming the file if they are not
what `SweepResult.save` wrote (a checksum of the arrays and the settings).

Inputs are checked before anything compiles: every value of every grid axis
is given to ``make_optimizer`` (the whole axis as one array, which this
library's transforms check elementwise, else value by value), so a refused
value is reported with its parameter's name; each axis is checked with the
others at their first value, not each combination. Float grid values are
computed in the starts' dtype and must be finite there, and not rounded to
0; integer values must fit JAX's integer dtype; boolean axes are refused
(a traced value cannot choose a branch).

Checkpoints are identified by content: the fingerprint of the lowered
single-lane program (`checkpoint.fingerprint`: StableHLO with its constants,
so a closure's number or a partial's array counts, a function's name does
not) with the grid values, the starts, the steps, ``tol``, ``record_every``,
the chunk size and the dtype. A folder holding another computation is
refused with an error naming it; the same computation defined anew, in any
process (of the same JAX version), resumes. The folder is claimed
exclusively, so of two sweeps with other settings started together, one is
refused. Every chunk is verified when read (fields, shapes, dtypes, a
checksum, the settings it belongs to); a damaged chunk is recomputed with a
warning naming its file. The same fingerprint keys the compile cache: an
identical function defined anew is not compiled again.

Design: see ``optax_extras/_src/sweep/program.py``. One compiled program
computes a block of lanes; the blocks are dealt over the devices, and under
``jax.distributed`` over the devices of every process, so a lane's result is
the same bits whatever the chunk size, device count or process count (on
one kind of CPU). On a CPU host, ask for a device per core before JAX starts:
``jax.config.update("jax_num_cpu_devices", 2)`` or
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` (``python -m
experiments`` does); this module uses the devices it is given. Under
``jax.distributed``, every process calls `sweep` with the same arguments,
computes its share and gets the whole result (without ``checkpoint_dir``,
which is refused there for now).
"""

import hashlib
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
import optax
from tqdm.auto import tqdm

from optax_extras._src.landscapes import Landscape
from optax_extras._src.sweep import checkpoint, checks
from optax_extras._src.sweep import program as programs
from optax_extras._src.sweep.result import FIELDS, SweepResult

_MAX_CHUNK = 2**20  # Lanes per chunk by default...
_CHUNK_BYTES = 2**28  # ...or fewer, so that a chunk's results fit in this.


def sweep(
  make_optimizer: Callable[..., optax.GradientTransformation],
  loss_fn: Landscape | programs.LossFn,
  *,
  grid: Mapping[str, Any] | None = None,
  starts: Any,
  num_steps: int,
  tol: float | None = None,
  record_every: int | None = None,
  chunk_size: int | None = None,
  checkpoint_dir: str | os.PathLike | None = None,
  progress: bool | None = None,
) -> SweepResult:
  """Runs ``make_optimizer(**config)`` on `loss_fn` for every config × start.

  Args:
    make_optimizer: ``(**hyperparameters) -> optax transform``. It is called
      with one value of each grid axis, traced, so those hyperparameters must
      be numeric (not Python branches). It sees the parameters as a pair of
      scalars ``(x, y)``; look-ahead transforms get ``grad_fn`` in ``update``.
    loss_fn: a `Landscape`, or ``loss(params) -> scalar`` with ``params`` an
      array ``[x, y]`` of shape (2,).
    grid: name -> 1-D array of finite numbers (floats or ints); the
      cartesian product is swept, axes in this order. None sweeps
      ``make_optimizer()`` alone.
    starts: start points, shape ``(..., 2)``; its leading axes are batch axes.
    num_steps: optimizer steps per trajectory, >= 1.
    tol: if given, `SweepResult.tol_step` records when ``loss <= tol``.
    record_every: if given, record every k-th point (`SweepResult.trajectories`).
    chunk_size: lanes per compiled call; default: equal chunks of at most
      2**20 lanes, fewer when trajectories are recorded (256 MB of results).
    checkpoint_dir: if given, each finished chunk is saved there, and a run
      of the same computation resumes, computing only the missing (or
      damaged) chunks; a folder of another computation is refused.
    progress: show a progress bar over chunks; default: when there are several.

  Returns:
    A `SweepResult`.

  Example:
    >>> import numpy as np, optax
    >>> from optax_extras import landscapes
    >>> from optax_extras import sweep
    >>> result = sweep(optax.adam, landscapes.get("booth"),
    ...                grid={"learning_rate": np.array([0.1, 0.3, 1.0])},
    ...                starts=np.zeros((4, 5, 2)), num_steps=50, tol=1e-3)
    >>> result.final_loss.shape, result.final_params.shape
    ((3, 4, 5), (3, 4, 5, 2))
  """
  starts = checks.check_starts(starts)
  dtype = starts.dtype
  grid = checks.check_grid(grid, dtype)
  num_steps = checks.check_int("num_steps", num_steps, low=1)
  tol = checks.check_tol(tol)
  if record_every is not None:
    record_every = checks.check_int("record_every", record_every, low=1)
  if chunk_size is not None:
    chunk_size = checks.check_int("chunk_size", chunk_size, low=1)
  if not callable(loss_fn):
    raise TypeError(
      f"sweep: `loss_fn` must be a Landscape or a callable, got {loss_fn!r}."
    )
  if checkpoint_dir is not None and jax.process_count() > 1:
    raise ValueError(
      "sweep: `checkpoint_dir` is not supported under jax.distributed yet "
      f"({jax.process_count()} processes); sweep without it."
    )
  checks.check_loss(programs.elementwise_loss(loss_fn), dtype)
  checks.check_optimizer(make_optimizer, grid)

  grid_shape = tuple(len(values) for values in grid.values())
  start_shape = starts.shape[:-1]
  num_starts = math.prod(start_shape)
  num_lanes = math.prod(grid_shape) * num_starts
  if num_lanes >= 2**31:
    raise ValueError(
      f"sweep: {num_lanes} trajectories exceed the int32 lane index."
    )
  num_records = 0 if record_every is None else num_steps // record_every + 1
  if chunk_size is None:  # As large as allowed, in chunks of equal size.
    per_lane = dtype.itemsize * (6 + 3 * num_records)
    largest = max(1, min(_MAX_CHUNK, _CHUNK_BYTES // per_lane))
    chunk_size = programs.ceil_div(
      num_lanes, programs.ceil_div(num_lanes, largest)
    )
  chunk_size = min(chunk_size, num_lanes)
  num_chunks = programs.ceil_div(num_lanes, chunk_size)
  program = checkpoint.fingerprint(
    make_optimizer,
    loss_fn,
    {name: values.dtype for name, values in grid.items()},
    dtype,
    num_steps=num_steps,
    tol=tol,
    record_every=record_every,
  )
  # Plain JSON types already: no round trip through text, where a
  # 1M-value grid axis would spend a second.
  settings = {
    "program": program,
    "optimizer": checkpoint.describe(make_optimizer),
    "loss": checkpoint.describe(loss_fn),
    "grid": {name: values.tolist() for name, values in grid.items()},
    "grid_dtypes": {name: v.dtype.name for name, v in grid.items()},
    "start_shape": list(start_shape),
    "starts_sha256": hashlib.sha256(starts.tobytes()).hexdigest(),
    "num_steps": num_steps,
    "tol": tol,
    "record_every": record_every,
    "chunk_size": chunk_size,
    "dtype": dtype.name,
  }

  run_chunk = programs.Chunks(
    make_optimizer,
    loss_fn,
    grid,
    starts.reshape(-1, 2),
    num_steps=num_steps,
    tol=tol,
    record_every=record_every,
    chunk_size=chunk_size,
    cache_key=program,
  )
  shapes = run_chunk.shapes
  flat = {
    name: np.empty((num_lanes, *shape.shape), shape.dtype)
    for name, shape in shapes.items()
  }
  chunks = [
    slice(start, min(start + chunk_size, num_lanes))
    for start in range(0, num_lanes, chunk_size)
  ]
  todo = range(num_chunks)
  if checkpoint_dir is not None:
    checkpoint_dir = os.fspath(checkpoint_dir)
    key = checkpoint.open_checkpoint(checkpoint_dir, settings)
    todo = []
    for chunk, lanes in enumerate(chunks):
      saved = checkpoint.read_chunk(
        checkpoint_dir, chunk, key, shapes, lanes.stop - lanes.start
      )
      if saved is None:
        todo.append(chunk)
      else:
        for name, array in saved.items():
          flat[name][lanes] = array
  bar = tqdm(
    total=num_chunks,
    initial=num_chunks - len(todo),
    unit="chunk",
    disable=not (num_chunks > 1 if progress is None else progress),
  )
  for chunk in todo:
    lanes = chunks[chunk]
    outputs = run_chunk(lanes.start)
    for name, array in outputs.items():
      flat[name][lanes] = array
    if checkpoint_dir is not None:
      checkpoint.write_chunk(checkpoint_dir, chunk, key, outputs)
    bar.update()
  bar.close()

  lead = grid_shape + start_shape
  arrays = {
    name: flat[name].reshape(lead + flat[name].shape[1:])
    if name in flat
    else None
    for name in FIELDS
  }
  return SweepResult(**arrays, starts=starts, settings=settings)
