"""Runs an optimizer over a hyperparameter grid × a batch of starts at once.

Every pair (grid configuration, start point) is a *lane*: one trajectory of
``num_steps`` optimizer steps, on a 2-D surface, a vector of parameters or a
model's parameter pytree (with a key per lane and step for a noisy or
minibatch loss). All lanes run in one compiled
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
single-lane program (`program.fingerprint`: StableHLO with its constants, so
a closure's number or a partial's array counts, a function's name does not)
with the grid values, the starts, the key, the steps, ``tol``,
``record_every``, the chunk size and the dtype. A folder holding another
computation is refused with an error naming it; the same computation
defined anew, in any process (of the same JAX version), resumes. The folder
is claimed exclusively, so of two sweeps with other settings started
together, one is refused. Every chunk is verified when read (fields, shapes, dtypes, a
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
computes its share and gets the whole result; with ``checkpoint_dir``,
process 0 alone reads and writes the folder and shares what it read.
"""

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
import optax
from jax.experimental import multihost_utils
from tqdm.auto import tqdm

from optax_extras._src.landscapes import Landscape
from optax_extras._src.sweep import checkpoint, checks, space
from optax_extras._src.sweep import program as programs
from optax_extras._src.sweep.result import SweepResult, metric_fields

_MAX_CHUNK = 2**20  # Lanes per chunk by default...
_CHUNK_BYTES = 2**28  # ...or fewer, so that a chunk's results fit in this.
_SMALL_LANE = 16  # Numbers in a lane's parameters recorded by default.


def sweep(
  make_optimizer: Callable[..., optax.GradientTransformation],
  loss_fn: Landscape | programs.LossFn,
  *,
  grid: Mapping[str, Any] | None = None,
  starts: Any,
  num_steps: int,
  key: Any = None,
  metrics_fn: Callable[[Any], Mapping[str, Any]] | None = None,
  tol: float | None = None,
  record_every: int | None = None,
  record_params: bool | None = None,
  chunk_size: int | None = None,
  checkpoint_dir: str | os.PathLike | None = None,
  progress: bool | None = None,
) -> SweepResult:
  """Runs ``make_optimizer(**config)`` on `loss_fn` for every config × start.

  Args:
    make_optimizer: ``(**hyperparameters) -> optax transform``. It is called
      with one value of each grid axis, traced, so those hyperparameters must
      be numeric (not Python branches). It sees one lane's parameters as
      `loss_fn` does (for array starts, one vector ``(d,)``; see
      `space.split_coordinates` for how small vectors run fast);
      look-ahead transforms get ``grad_fn`` in ``update``.
    loss_fn: a `Landscape` (2-D starts), or ``loss(params) -> scalar`` with
      ``params`` one start (an array ``(d,)``, or one start of the pytree);
      with `key`, ``loss(params, key)``.
    grid: name -> 1-D array of finite numbers (floats or ints); the
      cartesian product is swept, axes in this order. None sweeps
      ``make_optimizer()`` alone.
    starts: an array ``(..., d)``, whose leading axes are start axes and
      last axis the parameter vector; or a pytree whose leaves share one
      leading start axis (a model's parameters initialised for several
      seeds with ``jax.vmap``).
      Plain lists and tuples are read as arrays.
    num_steps: optimizer steps per trajectory, >= 1.
    key: a ``jax.random.key`` (or ``PRNGKey``): `loss_fn` then gets, at step
      t (the loss at the point after t updates), the key
      ``fold_in(fold_in(key, lane), t)`` with the lane's index in the whole
      sweep (configuration-major), so a noisy or minibatch loss gives the
      same bits whatever the chunking and devices. Look-ahead ``grad_fn``
      gets the key of the gradient in hand.
    metrics_fn: ``metrics(params) -> {name: scalar}``, evaluated on each
      lane's final parameters inside the compiled program (e.g. a validation
      accuracy): `SweepResult.metrics`; with `record_every`, also at every
      recorded point: `SweepResult.trajectory_metrics`.
    tol: if given, `SweepResult.tol_step` records when ``loss <= tol``.
    record_every: if given, record the loss every k steps
      (`SweepResult.trajectory_loss`), and the parameters
      (`SweepResult.trajectories`) when a lane holds at most 16 numbers or
      `record_params` is True.
    record_params: record the parameters with `record_every` (default: when
      small); a request larger than half the machine's memory is refused.
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
  if record_params is not None and not isinstance(record_params, bool):
    raise TypeError(
      f"sweep: `record_params` must be a bool or None, got {record_params!r}."
    )
  keys, key_data = checks.check_key(key)
  checks.check_loss(loss_fn, starts, keys, key_data)
  metric_names = checks.check_metrics(metrics_fn, starts)
  checks.check_optimizer(make_optimizer, grid)
  starts = space.split_coordinates(
    starts, make_optimizer, {name: v.dtype for name, v in grid.items()}
  )

  grid_shape = tuple(len(values) for values in grid.values())
  num_lanes = math.prod(grid_shape) * starts.num_starts
  if num_lanes >= 2**31:
    raise ValueError(
      f"sweep: {num_lanes} trajectories exceed the int32 lane index."
    )
  num_records = 0 if record_every is None else num_steps // record_every + 1
  if record_params is None:
    record_params = starts.lane_size <= _SMALL_LANE
  recorded = num_records * starts.lane_size if record_params else 0
  per_lane = dtype.itemsize * (
    starts.lane_size
    + recorded
    + 4
    + (num_records + 1) * (1 + len(metric_names))
  )
  checks.check_memory(
    "record_params", num_lanes * dtype.itemsize * recorded, num_lanes
  )
  if chunk_size is None:  # As large as allowed, in chunks of equal size.
    largest = max(1, min(_MAX_CHUNK, _CHUNK_BYTES // per_lane))
    chunk_size = programs.ceil_div(
      num_lanes, programs.ceil_div(num_lanes, largest)
    )
  chunk_size = min(chunk_size, num_lanes)
  num_chunks = programs.ceil_div(num_lanes, chunk_size)
  options = dict(keys=keys, metrics_fn=metrics_fn, record_params=record_params)
  run_chunk = programs.Chunks(
    make_optimizer,
    loss_fn,
    grid,
    starts,
    num_steps=num_steps,
    tol=tol,
    record_every=record_every,
    chunk_size=chunk_size,
    key_data=key_data,
    **options,
  )
  # Plain JSON types already: no round trip through text, where a
  # 1M-value grid axis would spend a second.
  settings = {
    "program": run_chunk.fingerprint,
    "optimizer": checkpoint.describe(make_optimizer),
    "loss": checkpoint.describe(loss_fn),
    "grid": {name: values.tolist() for name, values in grid.items()},
    "grid_dtypes": {name: v.dtype.name for name, v in grid.items()},
    "start_shape": list(starts.start_shape),
    "starts_sha256": starts.sha256(),
    "params_paths": list(starts.paths),
    "key": None if keys is None else [keys.impl, key_data.tolist()],
    "metrics": list(metric_names),
    "num_steps": num_steps,
    "tol": tol,
    "record_every": record_every,
    "record_params": record_params,
    "chunk_size": chunk_size,
    "dtype": dtype.name,
  }
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
  writer = jax.process_index() == 0  # Under jax.distributed: process 0.
  if checkpoint_dir is not None:
    checkpoint_dir = os.fspath(checkpoint_dir)
    claim = _on_process_0(
      lambda: checkpoint.open_checkpoint(checkpoint_dir, settings),
      checkpoint_dir,
    )
    todo = []
    for chunk, lanes in enumerate(chunks):
      rows = lanes.stop - lanes.start
      saved = None
      if writer:
        saved = checkpoint.read_chunk(
          checkpoint_dir, chunk, claim, shapes, rows
        )
      if jax.process_count() > 1:  # Process 0's reading, for all.
        saved = _broadcast_chunk(saved, shapes, rows)
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
    if checkpoint_dir is not None and writer:
      checkpoint.write_chunk(checkpoint_dir, chunk, claim, outputs)
    bar.update()
  bar.close()

  lead = grid_shape + starts.start_shape
  shaped = {name: a.reshape(lead + a.shape[1:]) for name, a in flat.items()}

  def params(field):
    if field + starts.paths[0] not in shaped:
      return None
    return starts.unflatten([shaped[field + p] for p in starts.paths])

  user_starts = starts.unflatten(
    [
      leaf.reshape(starts.start_shape + leaf.shape[1:])
      for leaf in starts.leaves
    ]
  )
  return SweepResult(
    final_params=params("final_params"),
    final_loss=shaped["final_loss"],
    best_loss=shaped["best_loss"],
    tol_step=shaped.get("tol_step"),
    divergence_step=shaped["divergence_step"],
    trajectories=params("trajectories"),
    trajectory_loss=shaped.get("trajectory_loss"),
    starts=user_starts,
    settings=settings,
    **metric_fields(shaped, metric_names),
  )


def _on_process_0(claim: Callable[[], str], directory: str) -> str:
  """`claim()` on process 0 (the others get ""); under jax.distributed a
  refusal raises on every process, so none waits for the others."""
  if jax.process_count() == 1:
    return claim()
  key, error = "", None
  if jax.process_index() == 0:
    try:
      key = claim()
    except ValueError as refused:
      error = refused
  ok = multihost_utils.broadcast_one_to_all(np.int32(error is None))
  if error is not None:
    raise error
  if not ok:
    raise ValueError(
      f"sweep: process 0 refused `checkpoint_dir` {directory!r} (see its "
      "error)."
    )
  return key


def _broadcast_chunk(
  saved: dict[str, np.ndarray] | None,
  shapes: Mapping[str, jax.ShapeDtypeStruct],
  rows: int,
) -> dict[str, np.ndarray] | None:
  """Process 0's saved chunk (or None) on every process."""
  found = multihost_utils.broadcast_one_to_all(np.int32(saved is not None))
  if not found:
    return None
  if saved is None:
    saved = {
      name: np.zeros((rows, *shape.shape), shape.dtype)
      for name, shape in shapes.items()
    }
  arrays = multihost_utils.broadcast_one_to_all(saved)
  return {name: np.asarray(array) for name, array in arrays.items()}
