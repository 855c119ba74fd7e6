"""Runs an optimizer over a hyperparameter grid × a batch of 2-D starts at once.

Every pair (grid configuration, start point) is a *lane*: one trajectory of
``num_steps`` optimizer steps on a 2-D surface. All lanes run in one compiled
program and never interact, so a lane that diverges changes no other lane.
`sweep` computes, `SweepResult` holds NumPy arrays (and saves them), `load`
reads them back.

Design (``python -m experiments benchmark sweep`` measures it against
baselines; the numbers are in BENCHMARKS.md):

- Struct of arrays. A lane is written for one trajectory whose parameters are
  a pair of scalars ``(x, y)`` and is ``jax.vmap``-ed over lanes, so every
  coordinate and every optimizer moment is a contiguous ``(lanes,)`` array
  and per-lane hyperparameters are vmapped arguments of ``make_optimizer``;
  what does not depend on a lane (Adam's step count, bias correction) stays
  a scalar.
- A `Landscape` is called through its elementwise ``fn(x, y)``; another loss
  gets ``jnp.stack([x, y])``.
- Blocks: a device runs its lanes in blocks of at most `_BLOCK` lanes
  (``lax.map``), so that a block's state stays in cache.
- Chunks: the host loops over chunks of lanes (bounded memory, progress bar,
  checkpoints) with one compiled program: the chunk's first lane is an
  argument, and a short chunk is padded with repeats of the last lane.
- Devices: lanes are split over all local devices (``jax.shard_map``, 1-D
  mesh). On a CPU host, entry points should ask for a device per core before
  JAX starts: ``jax.config.update("jax_num_cpu_devices", 2)`` or
  ``XLA_FLAGS=--xla_force_host_platform_device_count=2`` (``python -m
  experiments`` does); this module uses the devices it is given. On CPUs
  with AVX-512, ``XLA_FLAGS=--xla_cpu_prefer_vector_width=512`` may help.
  With ``jax.distributed``, let each process sweep its own part (split the
  grid by ``jax.process_index()``) on its local devices and save its result.
"""

import dataclasses
import functools
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from optax_extras.landscapes import Landscape

LossFn = Callable[[jax.Array], jax.Array]
_AXIS = "lanes"
_BLOCK = 4096  # Lanes per block at most; a block's state (~20 arrays) fits in L2.
# Blocks are whole multiples of this, so that every lane takes the vectorised
# path of XLA's loops, never a scalar remainder that may round differently:
# results are then the same bits whatever the chunk size and device count.
_VECTOR = 128
_MAX_CHUNK = 2**20  # Lanes per chunk by default...
_CHUNK_BYTES = 2**28  # ...or fewer, so that a chunk's results fit in this.
_FIELDS = ("final_params", "final_loss", "best_loss", "tol_step",
           "divergence_step", "trajectories", "trajectory_loss")


@dataclasses.dataclass(frozen=True)
class SweepResult:
  """The outcome of `sweep`, as NumPy arrays shaped ``[*grid, *starts, ...]``.

  Steps count updates: step 0 is the start, step t the point after t updates.

  Attributes:
    final_params: ``[..., 2]``, the last point, or for a diverged lane the
      last point whose loss and coordinates were finite (the start if none).
    final_loss: the loss at ``final_params``.
    best_loss: the smallest loss over steps 0..num_steps (finite points).
    tol_step: first step whose loss was ``<= tol``, -1 if never; None
      without ``tol``.
    divergence_step: first step whose loss or coordinates were not finite,
      -1 if none. `diverged` is ``divergence_step >= 0``.
    trajectories: ``[..., num_records, 2]``, the points at steps 0, k, 2k, …
      (k = ``record_every``, ``num_records = num_steps // k + 1``); a
      diverged lane stays at its last finite point. None unless recorded.
    trajectory_loss: ``[..., num_records]``, the loss at those points.
    starts: the start points, ``[*starts, 2]``.
    settings: what was swept (grid values, steps, names); JSON-serialisable.
  """

  final_params: np.ndarray
  final_loss: np.ndarray
  best_loss: np.ndarray
  tol_step: np.ndarray | None
  divergence_step: np.ndarray
  trajectories: np.ndarray | None
  trajectory_loss: np.ndarray | None
  starts: np.ndarray
  settings: dict[str, Any]

  @property
  def diverged(self) -> np.ndarray:
    """True where the loss or the coordinates became non-finite."""
    return self.divergence_step >= 0

  def save(self, path: str | os.PathLike) -> None:
    """Writes ``path.npz`` (the arrays) and ``path.json`` (the settings)."""
    base = _strip_suffix(path)
    arrays = {name: getattr(self, name) for name in (*_FIELDS, "starts")
              if getattr(self, name) is not None}
    _atomic_write(base + ".npz", lambda file: np.savez(file, **arrays))
    _atomic_write(base + ".json", lambda file: file.write(_to_json(self.settings)))


def load(path: str | os.PathLike) -> SweepResult:
  """Reads a result written by `SweepResult.save` (``path`` with or without .npz)."""
  base = _strip_suffix(path)
  with open(base + ".json", "rb") as file:
    settings = json.load(file)
  with np.load(base + ".npz") as data:
    arrays = {name: data[name] if name in data else None for name in (*_FIELDS, "starts")}
  return SweepResult(**arrays, settings=settings)


def sweep(
    make_optimizer: Callable[..., optax.GradientTransformation],
    loss_fn: Landscape | LossFn,
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
    grid: name -> 1-D array of values; the cartesian product is swept, axes in
      this order. None sweeps ``make_optimizer()`` alone.
    starts: start points, shape ``(..., 2)``; its leading axes are batch axes.
    num_steps: optimizer steps per trajectory, >= 1.
    tol: if given, `SweepResult.tol_step` records when ``loss <= tol``.
    record_every: if given, record every k-th point (`SweepResult.trajectories`).
    chunk_size: lanes per compiled call; default: equal chunks of at most
      2**20 lanes, fewer when trajectories are recorded (256 MB of results).
    checkpoint_dir: if given, each finished chunk is saved there, and a run
      with the same settings resumes, computing only the missing chunks.
    progress: show a progress bar over chunks; default: when there are several.

  Returns:
    A `SweepResult`.

  Example:
    >>> import numpy as np, optax
    >>> from optax_extras import landscapes
    >>> from optax_extras.sweep import sweep
    >>> result = sweep(optax.adam, landscapes.get("booth"),
    ...                grid={"learning_rate": np.array([0.1, 0.3, 1.0])},
    ...                starts=np.zeros((4, 5, 2)), num_steps=50, tol=1e-3)
    >>> result.final_loss.shape, result.final_params.shape
    ((3, 4, 5), (3, 4, 5, 2))
  """
  grid = _check_grid(grid)
  starts = _check_starts(starts)
  _check_int("num_steps", num_steps, low=1)
  tol = _check_tol(tol)
  if record_every is not None:
    _check_int("record_every", record_every, low=1)
  if chunk_size is not None:
    _check_int("chunk_size", chunk_size, low=1)
  if not callable(loss_fn):
    raise TypeError(f"sweep: `loss_fn` must be a Landscape or a callable, got {loss_fn!r}.")
  dtype = starts.dtype
  grid = {name: values.astype(dtype) if values.dtype.kind == "f" else values
          for name, values in grid.items()}
  _check_loss(_elementwise_loss(loss_fn), dtype)
  _check_optimizer(make_optimizer, grid)

  grid_shape = tuple(len(values) for values in grid.values())
  start_shape = starts.shape[:-1]
  num_starts = math.prod(start_shape)
  num_lanes = math.prod(grid_shape) * num_starts
  if num_lanes >= 2**31:
    raise ValueError(f"sweep: {num_lanes} trajectories exceed the int32 lane index.")
  num_records = 0 if record_every is None else num_steps // record_every + 1
  if chunk_size is None:  # As large as allowed, in chunks of equal size.
    per_lane = dtype.itemsize * (6 + 3 * num_records)
    largest = max(1, min(_MAX_CHUNK, _CHUNK_BYTES // per_lane))
    chunk_size = _ceil_div(num_lanes, _ceil_div(num_lanes, largest))
  chunk_size = min(chunk_size, num_lanes)
  num_chunks = _ceil_div(num_lanes, chunk_size)
  settings = json.loads(_to_json({
      "optimizer": _describe(make_optimizer), "loss": _describe(loss_fn),
      "grid": {name: values.tolist() for name, values in grid.items()},
      "start_shape": list(start_shape),
      "starts_sha256": hashlib.sha256(starts.tobytes()).hexdigest(),
      "num_steps": num_steps, "tol": tol, "record_every": record_every,
      "chunk_size": chunk_size, "dtype": dtype.name,
  }))

  mesh = Mesh(np.array(jax.local_devices()), (_AXIS,))
  num_blocks = _ceil_div(chunk_size, mesh.size * _BLOCK)  # Per device.
  block = _ceil_div(_ceil_div(chunk_size, mesh.size * num_blocks), _VECTOR) * _VECTOR
  lanes_per_device = num_blocks * block
  program = _chunk_program(make_optimizer, loss_fn, tuple(grid), num_steps, tol,
                           record_every, lanes_per_device, block, mesh)
  constants = jax.device_put(
      (np.int32(num_starts), np.int32(num_lanes), tuple(grid.values()),
       starts[..., 0].ravel(), starts[..., 1].ravel()),
      NamedSharding(mesh, PartitionSpec()))
  shapes = jax.eval_shape(program, np.int32(0), *constants)  # Traces, no compiling.
  flat = {name: np.empty((num_lanes, *shape.shape[1:]), shape.dtype)
          for name, shape in shapes.items()}
  done = set()
  if checkpoint_dir is not None:
    checkpoint_dir = os.fspath(checkpoint_dir)
    _open_checkpoint(checkpoint_dir, settings)
    done = {chunk for chunk in range(num_chunks)
            if os.path.exists(_chunk_path(checkpoint_dir, chunk))}
  bar = tqdm(total=num_chunks, initial=len(done), unit="chunk",
             disable=not (num_chunks > 1 if progress is None else progress))
  for chunk in range(num_chunks):
    lanes = slice(chunk * chunk_size, min((chunk + 1) * chunk_size, num_lanes))
    if chunk in done:
      with np.load(_chunk_path(checkpoint_dir, chunk)) as saved:
        outputs = dict(saved)
    else:
      outputs = program(np.int32(lanes.start), *constants)
    for name, array in outputs.items():
      flat[name][lanes] = np.asarray(array)[:lanes.stop - lanes.start]
    if chunk not in done:
      if checkpoint_dir is not None:
        _atomic_write(_chunk_path(checkpoint_dir, chunk), lambda file: np.savez(
            file, **{name: array[lanes] for name, array in flat.items()}))
      bar.update()
  bar.close()

  lead = grid_shape + start_shape
  arrays = {name: flat[name].reshape(lead + flat[name].shape[1:]) if name in flat
            else None for name in _FIELDS}
  return SweepResult(**arrays, starts=starts, settings=settings)


# --- The compiled program --------------------------------------------------------


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
    return jnp.isfinite(value) & jnp.isfinite(params[0]) & jnp.isfinite(params[1])

  def run(hyperparams, x, y):
    optimizer = optax.with_extra_args_support(make_optimizer(**hyperparams))

    def step(carry: _Carry, t: jax.Array) -> tuple[_Carry, None]:
      updates, state = optimizer.update(carry.grads, carry.state, carry.params,
                                        grad_fn=grad_fn)
      params = optax.apply_updates(carry.params, updates)
      value, grads = value_and_grad(params)
      diverging = (carry.divergence_step < 0) & ~finite(value, params)
      divergence_step = jnp.where(diverging, t, carry.divergence_step)
      # A diverged lane keeps its last finite point and loss; its optimizer
      # state and gradient run on, unused. Nothing here mixes lanes.
      params, value = jax.tree.map(
          lambda old, new: jnp.where(divergence_step >= 0, old, new),
          (carry.params, carry.value), (params, value))
      tol_step = None if tol is None else jnp.where(
          (carry.tol_step < 0) & (value <= tol), t, carry.tol_step)
      return _Carry(params, state, value, grads, jnp.minimum(carry.best_loss, value),
                    tol_step, divergence_step), None

    def advance(carry: _Carry, first: jax.Array, length: int) -> _Carry:
      return jax.lax.scan(step, carry, first + jnp.arange(length, dtype=jnp.int32))[0]

    params = (x, y)
    value, grads = value_and_grad(params)
    never = jnp.int32(-1)
    at_start = lambda reached: jnp.where(reached, jnp.int32(0), never)
    carry = _Carry(params, optimizer.init(params), value, grads, value,
                   None if tol is None else at_start(value <= tol),
                   at_start(~finite(value, params)))
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
        carry = advance(carry, jnp.int32(1 + record_every * num_records), remainder)
      outputs["trajectories"] = jnp.concatenate([jnp.stack(params)[None], points])
      outputs["trajectory_loss"] = jnp.concatenate([value[None], values])
    outputs.update(final_params=jnp.stack(carry.params), final_loss=carry.value,
                   best_loss=carry.best_loss, divergence_step=carry.divergence_step)
    if tol is not None:
      outputs["tol_step"] = carry.tol_step
    return outputs

  return run


@functools.lru_cache(maxsize=32)
def _chunk_program(
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
  run_block = jax.vmap(_lane_program(make_optimizer, _elementwise_loss(loss_fn),
                                     num_steps, tol, record_every))

  def per_device(first_lane, num_starts, num_lanes, grid_values, xs, ys):
    lane = (first_lane + jax.lax.axis_index(_AXIS) * lanes_per_device
            + jnp.arange(lanes_per_device, dtype=jnp.int32))
    config, start = jnp.divmod(jnp.minimum(lane, num_lanes - 1), num_starts)
    hyperparams = {}
    for name, values in reversed(tuple(zip(grid_names, grid_values))):
      config, index = jnp.divmod(config, values.shape[0])
      hyperparams[name] = values[index]
    inputs = jax.tree.map(lambda a: a.reshape(-1, block), (hyperparams, xs[start], ys[start]))
    outputs = jax.lax.map(lambda args: run_block(*args), inputs)
    return jax.tree.map(lambda a: a.reshape(lanes_per_device, *a.shape[2:]), outputs)

  # check_vma=False: optimizer states mix per-lane and shared values freely.
  return jax.jit(jax.shard_map(per_device, mesh=mesh, in_specs=PartitionSpec(),
                               out_specs=PartitionSpec(_AXIS), check_vma=False))


def _ceil_div(numerator: int, denominator: int) -> int:
  return -(-numerator // denominator)


def _elementwise_loss(loss_fn: Landscape | LossFn) -> Callable[[jax.Array, jax.Array], jax.Array]:
  """``loss(x, y)``: a Landscape's own ``fn``, else ``loss_fn([x, y])``."""
  if isinstance(loss_fn, Landscape):
    return loss_fn.fn
  return lambda x, y: loss_fn(jnp.stack([x, y]))


# --- Checks, before anything is compiled ---------------------------------------------


def _check_int(name: str, value: Any, *, low: int) -> None:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(f"sweep: `{name}` must be an int, got {value!r}.")
  if value < low:
    raise ValueError(f"sweep: `{name}` must be >= {low}, got {value}.")


def _check_tol(tol: Any) -> float | None:
  if tol is None:
    return None
  if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)):
    raise TypeError(f"sweep: `tol` must be a number or None, got {tol!r}.")
  if math.isnan(tol):
    raise ValueError("sweep: `tol` must not be NaN.")
  return float(tol)


def _check_grid(grid: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
  if grid is None:
    return {}
  if not isinstance(grid, Mapping):
    raise TypeError(f"sweep: `grid` must be a dict name -> 1-D array, got {type(grid).__name__}.")
  checked = {}
  for name, values in grid.items():
    if not isinstance(name, str) or not name.isidentifier():
      raise TypeError(f"sweep: `grid` keys must be keyword names, got {name!r}.")
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
      raise TypeError(f"sweep: grid[{name!r}] must hold numbers, got dtype {values.dtype}.")
    if values.ndim != 1 or values.size == 0:
      raise ValueError(
          f"sweep: grid[{name!r}] must be a non-empty 1-D array, got shape {values.shape}.")
    checked[name] = values
  return checked


def _check_starts(starts: Any) -> np.ndarray:
  array = np.asarray(starts)
  if array.dtype.kind not in "biuf":
    raise TypeError(f"sweep: `starts` must be numbers of shape (..., 2), got dtype {array.dtype}.")
  if array.ndim == 0 or array.shape[-1] != 2 or array.size == 0:
    raise ValueError(
        f"sweep: `starts` must have shape (..., 2) with at least one point, got {array.shape}.")
  kind = array.dtype if array.dtype.kind == "f" else float
  return array.astype(jax.dtypes.canonicalize_dtype(kind))


def _check_loss(loss_xy: Callable[[jax.Array, jax.Array], jax.Array], dtype: np.dtype) -> None:
  point = jax.ShapeDtypeStruct((), dtype)
  out = jax.eval_shape(loss_xy, point, point)
  if not isinstance(out, jax.ShapeDtypeStruct) or out.shape != () or out.dtype.kind != "f":
    raise ValueError(
        f"sweep: `loss_fn` must return a float scalar for one start point, got {out}.")


def _check_optimizer(make_optimizer: Callable[..., Any], grid: Mapping[str, np.ndarray]) -> None:
  if not callable(make_optimizer):
    raise TypeError(f"sweep: `make_optimizer` must be callable, got {make_optimizer!r}.")
  config = {name: values[0] for name, values in grid.items()}
  try:
    optimizer = make_optimizer(**config)
  except TypeError as error:
    raise TypeError(
        f"sweep: make_optimizer(**config) with the grid keys {list(grid)} failed: {error}"
    ) from error
  if not isinstance(optimizer, optax.GradientTransformation):
    raise TypeError(
        "sweep: `make_optimizer` must return an optax.GradientTransformation, "
        f"got {type(optimizer).__name__}.")


# --- Files -----------------------------------------------------------------------------


def _describe(function: Any) -> str:
  """A name that is the same in every run (no memory address)."""
  if isinstance(function, Landscape):
    return f"landscape {function.name}"
  if isinstance(function, functools.partial):
    return f"partial({_describe(function.func)}, *{function.args!r}, **{function.keywords!r})"
  named = function if hasattr(function, "__qualname__") else type(function)
  return f"{named.__module__}.{named.__qualname__}"


def _to_json(settings: Mapping[str, Any]) -> bytes:
  return json.dumps(settings, indent=1, sort_keys=True).encode()


def _strip_suffix(path: str | os.PathLike) -> str:
  path = os.fspath(path)
  return path[:-4] if path.endswith(".npz") else path


def _atomic_write(path: str, write: Callable[[Any], object]) -> None:
  """Writes through a temporary file in the same folder, then renames it."""
  handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
  try:
    with os.fdopen(handle, "wb") as file:
      write(file)
      file.flush()
      os.fsync(file.fileno())
    os.replace(temporary, path)
  except BaseException:
    os.unlink(temporary)
    raise


def _chunk_path(directory: str, chunk: int) -> str:
  return os.path.join(directory, f"chunk_{chunk:06d}.npz")


def _open_checkpoint(directory: str, settings: dict[str, Any]) -> None:
  """Creates `directory` with the settings, or checks that they match."""
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, "settings.json")
  if not os.path.exists(path):
    _atomic_write(path, lambda file: file.write(_to_json(settings)))
    return
  with open(path, "rb") as file:
    saved = json.load(file)
  differing = sorted(key for key in saved.keys() | settings.keys()
                     if saved.get(key) != settings.get(key))
  if differing:
    raise ValueError(
        f"sweep: `checkpoint_dir` {directory!r} holds a sweep with other settings "
        f"(differing: {', '.join(differing)}); use a new folder or the same settings.")
