"""Runs an optimizer over a hyperparameter grid × a batch of starts at once.

What a reader needs, in eight concepts:

1. A *lane* is one trajectory: one grid configuration from one start
   (`run_lane`, the public function `sweep` vmaps). Lane i is configuration
   ``i // num_starts`` (row-major over the grid axes) from start
   ``i % num_starts``; lanes never interact.
2. A *block* is the lanes one compiled call computes (`program.program`):
   its size is fixed by the backend, a lane's size and the sweep's size
   (`program.block_size`), so a lane's bits never depend on anything else.
3. A *chunk* is a run of blocks whose results are brought to the host (and
   saved) together; chunks and devices only decide where a block runs.
4. *jit's cache*: the functions are static arguments of one ``jax.jit``;
   the same function objects and shapes reuse the program, and captured
   values are read when it is traced (JAX's usual rule). Grid values,
   starts, the key and the step count are runtime arguments. Programs stay
   in the cache, as any jitted function's do, until `sweep.clear_cache()`
   frees them (a loop over many optimizers needs it: see there).
5. The *settings* identify the computation: the fingerprint of the lowered
   program (constants included), the grid, the starts, the key, the steps.
6. A *checkpoint folder* holds the settings and verified files of lane
   ranges (`checkpoint.py`); the program that runs is the one whose lowering
   was fingerprinted. A host callback, which no fingerprint can see, needs
   an explicit ``checkpoint_key``.
7. *Processes* (``jax.distributed``): every process checks its arguments
   and all agree on the settings before anything runs (`processes.py`).
8. The *result* (`SweepResult`) has the fields of `Lane`, shaped
   ``[*grid, *starts, ...]``.

The flow is check → plan → run → assemble, one function each.
"""

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
import optax
from tqdm.auto import tqdm

from optax_extras._src.landscapes import Landscape
from optax_extras._src.sweep import checkpoint, checks, processes
from optax_extras._src.sweep import program as programs
from optax_extras._src.sweep.lane import Lane
from optax_extras._src.sweep.result import SweepResult

_MAX_CHUNK = {"cpu": 2**20}  # Lanes per chunk by default (else 2**24)...
_CHUNK_BYTES = 2**28  # ...or fewer, so that a chunk's results fit in this.
_SMALL_LANE = 16  # Numbers in a lane's parameters recorded by default.
# Numbers × steps worth a device more in one process: each device compiles
# the program for itself (0.3 to 1 s), and a CPU core runs about 1.5e8 of
# these a second on a 2-D surface, so a small sweep stays on one device.
WORK_PER_DEVICE = 2**25


@dataclasses.dataclass
class _Plan:
  static: tuple[Any, ...]  # The program's static arguments.
  args: tuple[Any, ...]  # Its runtime arguments (host arrays).
  starts: checks.Starts
  grid_shape: tuple[int, ...]
  num_lanes: int
  num_steps: int
  chunk_size: int
  out_tree: Any  # The structure of a `Lane`...
  shapes: list[jax.ShapeDtypeStruct]  # ...and one lane's leaves.
  settings: dict[str, Any]

  @property
  def options(self) -> programs.Options:
    return self.static[3]


def sweep(
  make_optimizer: Callable[..., optax.GradientTransformation],
  loss_fn: Landscape | Callable[..., jax.Array],
  *,
  grid: Mapping[str, Any] | None = None,
  starts: Any,
  num_steps: int,
  key: Any = None,
  metrics_fn: Callable[[Any], Mapping[str, Any]] | None = None,
  tol: float | None = None,
  record_every: int | None = None,
  record_params: bool | None = None,
  max_steps: int | None = None,
  chunk_size: int | None = None,
  checkpoint_dir: str | os.PathLike | None = None,
  checkpoint_key: str | None = None,
  progress: bool | None = None,
) -> SweepResult:
  """Runs ``make_optimizer(**config)`` on `loss_fn` for every config × start.

  Every lane is `run_lane` (see it for the step, divergence and record
  rules), vmapped; the results are what ``jax.vmap`` of it gives, lane by
  lane.

  Args:
    make_optimizer: ``(**hyperparameters) -> optax transform``, called with
      one value of each grid axis, traced (so those hyperparameters must be
      numeric: not Python branches). Every value of every axis is first
      checked concretely (with the whole axis as one array, else value by
      value; each axis with the others at their first value), so a refused
      value is reported with its parameter's name.
    loss_fn: a `Landscape` (2-D starts), or ``loss(params) -> scalar`` with
      ``params`` one start; with `key`, ``loss(params, key)``.
    grid: name -> 1-D array of finite numbers (floats, computed in the
      starts' dtype, or ints); the cartesian product is swept, axes in this
      order. None sweeps ``make_optimizer()`` alone.
    starts: an array ``(..., d)`` whose leading axes are start axes (plain
      lists read as arrays); or a pytree whose leaves share one leading
      start axis (a model's parameters initialised for several seeds).
    num_steps: optimizer steps per trajectory, >= 1; a runtime value of the
      program, so another count compiles nothing (unless it changes the
      records' size: see `max_steps`).
    key: a ``jax.random.key`` (or ``PRNGKey``): `loss_fn` then gets, at step
      t, ``fold_in(fold_in(key, lane), t)`` with the lane's index in the
      whole sweep, whatever the chunking and devices.
    metrics_fn: ``metrics(params) -> {name: scalar}`` on each lane's final
      parameters (`SweepResult.metrics`), and with `record_every` at every
      recorded point (`SweepResult.trajectory_metrics`).
    tol: if given, `SweepResult.tol_step` records when ``loss <= tol``.
    record_every: if given, record the loss every k steps, and the
      parameters when a lane holds at most 16 numbers or `record_params`.
    record_params: record the parameters with `record_every` (default: when
      small).
    max_steps: with `record_every`, the records are sized for this many
      steps (default `num_steps`), so that sweeps of up to `max_steps` steps
      share one program.
    chunk_size: lanes brought to the host (and saved) at a time; default:
      equal chunks of at most 2**20 lanes on a CPU (2**24 on an
      accelerator), fewer when the results of one would pass 256 MB.
    checkpoint_dir: if given, each finished chunk is saved there, and a run
      of the same computation resumes, computing only the missing (or
      damaged) lanes, whatever its chunk size; a folder of another
      computation, or one that cannot be written (a file, a dangling link,
      read-only, a full disk), is refused with an error naming the path.
    checkpoint_key: a string that identifies what the program's fingerprint
      cannot see: a loss or optimizer calling back into Python
      (``jax.pure_callback``, ``io_callback``) is refused with
      `checkpoint_dir` or under ``jax.distributed`` unless given one.
    progress: show a progress bar; default: when there are several chunks.

  Returns:
    A `SweepResult`. Under ``jax.distributed``, every process calls `sweep`
    with the same arguments (else all raise), computes its share of every
    chunk and gets the whole result; with `checkpoint_dir`, process 0 alone
    reads and writes the folder.

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
  try:
    checkpoint_dir = checks.check_checkpoint_dir(checkpoint_dir)
    plan = _plan(
      make_optimizer,
      loss_fn,
      grid=grid,
      starts=starts,
      num_steps=num_steps,
      key=key,
      metrics_fn=metrics_fn,
      tol=tol,
      record_every=record_every,
      record_params=record_params,
      max_steps=max_steps,
      chunk_size=chunk_size,
      fingerprinted=checkpoint_dir is not None or jax.process_count() > 1,
      checkpoint_key=checkpoint_key,
    )
  except Exception as error:  # Raised on every process.
    processes.agree(error)
  identity = [k for k in plan.settings if k not in checkpoint.INFORMATION]
  processes.agree(None, plan.settings, identity)
  leaves = _run(plan, checkpoint_dir, progress)
  return _assemble(plan, leaves)


def clear_cache() -> None:
  """Frees every compiled sweep program (jit's cache of the program); the
  next sweep compiles again.

  Call it between sweeps of different optimizers or losses in one process:
  each program keeps its machine code mapped, a few hundred memory maps a
  model, and Linux allows a process 65,530 (``vm.max_map_count``), so a loop
  over ~100 model sweeps otherwise fails in XLA's compiler ("Cannot allocate
  memory")."""
  programs.program.clear_cache()


sweep.clear_cache = clear_cache


def _plan(
  make_optimizer,
  loss_fn,
  *,
  grid,
  starts,
  num_steps,
  key,
  metrics_fn,
  tol,
  record_every,
  record_params,
  max_steps,
  chunk_size,
  fingerprinted,
  checkpoint_key,
) -> _Plan:
  """Checks every argument and plans the program, compiling nothing."""
  starts = checks.check_starts(starts)
  grid = checks.check_grid(grid, starts.dtype)
  num_steps = checks.check_int("num_steps", num_steps, low=1)
  tol = checks.check_tol(tol)
  if record_every is None:  # Only records depend on the step count.
    max_steps = None
  else:
    record_every = checks.check_int("record_every", record_every, low=1)
    max_steps = num_steps if max_steps is None else max_steps
    max_steps = checks.check_int("max_steps", max_steps, low=num_steps)
  if chunk_size is not None:
    chunk_size = checks.check_int("chunk_size", chunk_size, low=1)
  if record_params is not None and not isinstance(record_params, bool):
    raise TypeError(
      f"sweep: `record_params` must be a bool or None, got {record_params!r}."
    )
  if checkpoint_key is not None and not isinstance(checkpoint_key, str):
    raise TypeError(
      f"sweep: `checkpoint_key` must be a string, got {checkpoint_key!r}."
    )
  key = checks.check_key(key)
  checks.check_loss(loss_fn, starts, key)
  if metrics_fn is not None and not callable(metrics_fn):
    raise TypeError(
      f"sweep: `metrics_fn` must be callable, got {metrics_fn!r}."
    )
  checks.check_updates(checks.check_optimizer(make_optimizer, grid), starts)
  for name, function in (
    ("make_optimizer", make_optimizer),
    ("loss_fn", loss_fn),
    ("metrics_fn", metrics_fn),
  ):
    try:
      hash(function)
    except TypeError as error:
      raise TypeError(
        f"sweep: `{name}` must be hashable (jax.jit keys its programs by "
        f"it): {error}"
      ) from error

  grid_shape = tuple(len(values) for values in grid.values())
  num_lanes = math.prod(grid_shape) * starts.num_starts
  if num_lanes >= 2**31:
    raise ValueError(f"sweep: {num_lanes} lanes exceed the int32 lane index.")
  if record_params is None:
    record_params = starts.lane_size <= _SMALL_LANE
  backend = jax.default_backend()
  options = programs.Options(
    programs.block_size(backend, num_lanes, starts.lane_size),
    tuple(grid),
    tol,
    record_every,
    max_steps,
    record_params,
  )
  static = (make_optimizer, loss_fn, metrics_fn, options)
  args = (
    np.array([*grid_shape, starts.num_starts], np.int32),
    tuple(programs.padded(values) for values in grid.values()),
    starts.unflatten([programs.padded(leaf) for leaf in starts.leaves]),
    key,
    np.int32(num_steps),
  )
  try:
    traced = programs.program.trace(*static, np.int32(0), *args)
  except Exception as error:  # Name the function that failed, if one did.
    checks.check_loss_output(loss_fn, starts, key)
    if metrics_fn is not None:
      checks.check_metrics(metrics_fn, starts)
    raise ValueError(
      "sweep: the optimizer failed on one lane's parameters "
      f"({checks.describe_starts(starts)}): {type(error).__name__}: {error}"
    ) from error
  lane: Lane = traced.out_info
  if lane.final_loss.shape != (options.block,) or (
    lane.final_loss.dtype.kind != "f"
  ):
    checks.check_loss_output(loss_fn, starts, key)
  if any(m.shape != (options.block,) for m in lane.metrics.values()):
    checks.check_metrics(metrics_fn, starts)
  shapes = [
    jax.ShapeDtypeStruct(leaf.shape[1:], leaf.dtype)
    for leaf in jax.tree.leaves(lane)
  ]
  per_lane = sum(s.dtype.itemsize * math.prod(s.shape) for s in shapes)
  checks.check_memory(num_lanes * per_lane, f"{num_lanes} lanes × {per_lane} B")
  if chunk_size is None:  # As large as allowed, in chunks of equal size.
    largest = max(
      1, min(_MAX_CHUNK.get(backend, 2**24), _CHUNK_BYTES // per_lane)
    )
    chunk_size = programs.ceil_div(
      num_lanes, programs.ceil_div(num_lanes, largest)
    )

  fingerprint = None
  if fingerprinted:
    callbacks = programs.opaque(traced.jaxpr.jaxpr)
    if callbacks and checkpoint_key is None:
      raise ValueError(
        f"sweep: the loss or the optimizer calls Python ({callbacks[0]}), "
        "which the program's fingerprint cannot see, so a checkpoint folder "
        "(or another process) could hold another computation's results; "
        "pass `checkpoint_key=` a string that identifies the Python it "
        "calls (you vouch for it), or drop `checkpoint_dir`."
      )
    fingerprint = programs.fingerprint(
      _lower(static, args, _local_devices()[0])
    )
  settings = {
    "format": checkpoint.FORMAT,
    "program": fingerprint,
    "checkpoint_key": checkpoint_key,
    "optimizer": checkpoint.describe(make_optimizer),
    "loss": checkpoint.describe(loss_fn),
    "grid": grid,  # NumPy arrays: lists in JSON.
    "grid_dtypes": {name: v.dtype.name for name, v in grid.items()},
    "start_shape": list(starts.start_shape),
    "starts_sha256": starts.sha256(),
    "params_paths": list(starts.paths),
    "key": checks.describe_key(key),
    "metrics": list(lane.metrics),
    "num_steps": num_steps,
    "max_steps": max_steps,
    "tol": tol,
    "record_every": record_every,
    "record_params": record_params,
    "dtype": starts.dtype.name,
    "backend": backend,
    "block": options.block,
  }
  return _Plan(
    static,
    args,
    starts,
    grid_shape,
    num_lanes,
    num_steps,
    min(chunk_size, num_lanes),
    jax.tree.structure(lane),
    shapes,
    settings,
  )


def _run(plan: _Plan, checkpoint_dir, progress) -> list[np.ndarray]:
  """Every lane's leaves, ``(num_lanes, ...)``: read back from the
  checkpoint folder where saved, else computed chunk by chunk."""
  leaves = [np.empty((plan.num_lanes, *s.shape), s.dtype) for s in plan.shapes]
  todo = [(0, plan.num_lanes)]
  folder = claim = None
  if checkpoint_dir is not None:
    folder = checkpoint_dir
    names = [  # As `SweepResult.save` names them: final_params['w'].
      jax.tree_util.keystr(path).removeprefix(".")
      for path, _ in jax.tree_util.tree_flatten_with_path(
        jax.tree.unflatten(plan.out_tree, plan.shapes)
      )[0]
    ]

    def read():
      claimed = checkpoint.open_checkpoint(folder, plan.settings)
      found = checkpoint.read_all(
        folder, claimed, dict(zip(names, plan.shapes))
      )
      return claimed, [(s, [a[n] for n in names]) for s, a in found]

    claim, saved = processes.on_process_0(read) or (None, None)
    saved = processes.broadcast_saved(saved, plan.shapes)
    for start, arrays in saved:
      for leaf, array in zip(leaves, arrays):
        leaf[start : start + len(array)] = array
    todo = _gaps(plan.num_lanes, [(s, s + len(a[0])) for s, a in saved])
  chunks = [
    (start, min(start + plan.chunk_size, stop))
    for begin, stop in todo
    for start in range(begin, stop, plan.chunk_size)
  ]
  computed = sum(stop - start for start, stop in chunks)
  bar = tqdm(
    total=plan.num_lanes,
    initial=plan.num_lanes - computed,
    unit="lane",
    unit_scale=True,
    disable=not (len(chunks) > 1 if progress is None else progress),
  )
  runner = _Runner(plan, fingerprinted=folder is not None)
  for start, stop in chunks:
    runner(start, stop, leaves)
    if folder is not None and jax.process_index() == 0:
      arrays = [leaf[start:stop] for leaf in leaves]
      checkpoint.write(folder, claim, start, dict(zip(names, arrays)))
    bar.update(stop - start)
  bar.close()
  return leaves


def _gaps(
  num_lanes: int, ranges: list[tuple[int, int]]
) -> list[tuple[int, int]]:
  """The runs of lanes in [0, num_lanes) that no range covers."""
  gaps, at = [], 0
  for start, stop in sorted(ranges):
    if start > at:
      gaps.append((at, start))
    at = max(at, stop)
  if at < num_lanes:
    gaps.append((at, num_lanes))
  return gaps


def _local_devices() -> list[jax.Device]:
  """This process's devices, in order."""
  local = sorted(jax.local_devices(), key=lambda d: d.id)
  if len(local) * jax.process_count() != jax.device_count():
    raise ValueError(
      "sweep: every process must have as many devices as the others, got "
      f"{len(local)} here among {jax.device_count()}."
    )
  return local


def _lower(static, args, device) -> jax.stages.Lowered:
  """The program lowered for `device` (the same text on every device)."""
  committed = jax.device_put((np.int32(0), args), device)
  return programs.program.trace(*static, committed[0], *committed[1]).lower()


class _Runner:
  """``runner(start, stop)``: the leaves of lanes [start, stop), in blocks
  dealt over the devices, process by process; each process runs the blocks
  of its own devices and all get the whole chunk."""

  def __init__(self, plan: _Plan, *, fingerprinted: bool):
    self.plan = plan
    self.local = _local_devices()
    self.num_slots = len(self.local) * jax.process_count()
    self.first_slot = jax.process_index() * len(self.local)
    self.fingerprinted = fingerprinted
    self.args = {}  # Device -> its runtime arguments...
    self.compiled = {}  # ...and, with a checkpoint, its executable.

  def _call(self, device, first_lane: int) -> list[jax.Array]:
    plan = self.plan
    if device not in self.args:
      self.args[device] = jax.device_put(plan.args, device)
      if self.fingerprinted:  # Compile the lowering that was fingerprinted.
        lowered = _lower(plan.static, self.args[device], device)
        if programs.fingerprint(lowered) != plan.settings["program"]:
          raise RuntimeError(
            f"sweep: the program lowered for {device} is not the one "
            "fingerprinted; please report this."
          )
        self.compiled[device] = lowered.compile()
    first = jax.device_put(np.int32(first_lane), device)
    if self.fingerprinted:
      lane = self.compiled[device](first, *self.args[device])
    else:
      lane = programs.program(*plan.static, first, *self.args[device])
    leaves = jax.tree.leaves(lane)
    for leaf in leaves:  # Copied while the next blocks run.
      leaf.copy_to_host_async()
    return leaves

  def __call__(self, start: int, stop: int, out: list[np.ndarray]) -> None:
    """Writes lanes [start, stop) into `out` (one array per leaf)."""
    plan, block = self.plan, self.plan.options.block
    rows = stop - start
    num_calls = programs.ceil_div(rows, block)
    num_slots, distributed = self.num_slots, jax.process_count() > 1
    if distributed:  # Every process makes as many calls.
      num_calls = programs.ceil_div(num_calls, num_slots) * num_slots
    else:  # A device more for each WORK_PER_DEVICE: it compiles too.
      work = rows * plan.num_steps * plan.starts.lane_size
      num_slots = max(1, min(num_slots, work // WORK_PER_DEVICE))
    mine = {}  # This process's calls, all dispatched before any is read.
    for call in range(num_calls):
      slot = call % num_slots - self.first_slot
      if 0 <= slot < len(self.local):
        first = min(start + call * block, plan.num_lanes - 1)
        mine[call] = self._call(self.local[slot], first)
    if distributed:
      # Process p made calls r * slots + p * L + i (round r, its slot i).
      local = [
        np.stack([np.asarray(c[i]) for c in mine.values()])
        for i in range(len(plan.shapes))
      ]
      gathered = processes.gather(local)  # (process, its calls, ...)
      per_process = len(self.local)
      mine = {
        (r * self.num_slots + p * per_process + i): [
          g[p, r * per_process + i] for g in gathered
        ]
        for p in range(jax.process_count())
        for r in range(num_calls // self.num_slots)
        for i in range(per_process)
      }
    for call, leaves in mine.items():
      lanes = slice(call * block, min((call + 1) * block, rows))
      if lanes.start < lanes.stop:
        for target, leaf in zip(out, leaves):
          target[start + lanes.start : start + lanes.stop] = np.asarray(leaf)[
            : lanes.stop - lanes.start
          ]


def _assemble(plan: _Plan, leaves: list[np.ndarray]) -> SweepResult:
  """The lanes' leaves shaped ``[*grid, *starts, ...]``, as a SweepResult."""
  lead = plan.grid_shape + plan.starts.start_shape
  lane: Lane = jax.tree.unflatten(
    plan.out_tree, [leaf.reshape(lead + leaf.shape[1:]) for leaf in leaves]
  )
  record_every = plan.options.record_every
  if record_every is not None:  # Records sized for max_steps: the first.
    rows = (slice(None),) * len(lead) + (
      slice(plan.num_steps // record_every + 1),
    )
    take = lambda tree: jax.tree.map(lambda r: r[rows], tree)
    lane = lane._replace(
      trajectories=take(lane.trajectories),
      trajectory_loss=take(lane.trajectory_loss),
      trajectory_metrics=take(lane.trajectory_metrics),
    )
  starts = plan.starts
  return SweepResult(
    final_params=lane.final_params,
    final_loss=lane.final_loss,
    best_loss=lane.best_loss,
    tol_step=lane.tol_step,
    divergence_step=lane.divergence_step,
    trajectories=lane.trajectories,
    trajectory_loss=lane.trajectory_loss,
    starts=starts.unflatten(
      [
        leaf.reshape(starts.start_shape + leaf.shape[1:])
        for leaf in starts.leaves
      ]
    ),
    settings=plan.settings,
    metrics=lane.metrics,
    trajectory_metrics=lane.trajectory_metrics,
  )
