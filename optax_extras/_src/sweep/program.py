"""The compiled program of a sweep: one executable, blocks of lanes, devices.

Design (``python -m experiments benchmark sweep`` measures it against
baselines; the numbers are in BENCHMARKS.md):

- Struct of arrays. A lane is written for one trajectory and is
  ``jax.vmap``-ed over lanes. A small vector lane (2 to 16 numbers) is held
  as scalars ``(x, y, ...)`` when the optimizer cannot tell
  (`space.split_coordinates`), so every coordinate and every optimizer
  moment is a contiguous ``(lanes,)`` array; other lanes hold their vector
  or pytree (`Starts`).
  Per-lane hyperparameters are vmapped arguments of ``make_optimizer``; what
  does not depend on a lane (Adam's step count, bias correction) stays a
  scalar. A `Landscape` is called through its elementwise ``fn(x, y)``;
  another loss gets ``[x, y]`` (or its vector, or its pytree, and a key).
- Keys. A keyed loss gets ``fold_in(fold_in(key, lane), t)`` at step t, with
  the global lane index: the same key whatever the chunking and devices.
- One executable for every call. The compiled program computes a fixed
  number of consecutive lanes (the last lane repeated past the end), in
  blocks (``lax.map``), a `layout` that depends only on the sweep's size and
  a lane's size; it is compiled for one device, without partitioning, and
  the host hands calls to the devices in turn (a chunk of little work
  stays on one device: `WORK_PER_DEVICE`). Chunk size, device count and
  process count only decide which device runs which lanes, never the code a
  lane runs, so a lane's result is the same bits whatever they are (on one
  kind of CPU: XLA compiles for the host's instruction set). (A program
  partitioned over a mesh would not do: XLA compiles it apart from the
  one-device program and rewrites Adam's ``moment / (1 - b**t)`` there as
  ``moment * (1 / (1 - b**t))``, which changes the last bit.)
- Chunks: the caller loops over chunks of lanes (bounded memory, progress
  bar, checkpoints); a chunk is a run of calls.
- Compile cache: a call traces and lowers one lane, whose StableHLO
  (constants included) is its content `fingerprint`; with the layout and the
  arguments' shapes it keys the cache, so an identical computation defined
  anew is not compiled again. Only on a miss is the block program built, from
  the lane's jaxpr (the Python is not traced twice). Grid values and starts
  are runtime arguments, padded to a power of two (at least 16), so other
  values, or a few more of them, reuse the compilation.
- Processes: under ``jax.distributed``, the calls of a chunk are dealt over
  all devices of all processes (process by process); each process runs those
  of its own devices, and ``process_allgather`` gives every process the
  whole chunk.
"""

import collections
import dataclasses
import functools
import hashlib
import io
import json
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.extend import core as jex_core

from optax_extras._src.landscapes import Landscape
from optax_extras._src.sweep.result import METRIC, TRAJECTORY_METRIC
from optax_extras._src.sweep.space import Starts

LossFn = Callable[..., jax.Array]
# Lanes per block. On the 2-core AVX-512 CPU of BENCHMARKS.md, Adam ran
# fastest with 4096 to 8192 (1024: 20% slower, 16384: 25% slower).
BLOCK = 4096
# Never fewer lanes in a block. Measured for Adam on hills_and_canyon: blocks
# of 8 to 4096 lanes give a lane the same bits, a block of 1 (scalar code)
# other bits; tests/test_sweep_pytrees.py checks 16 against 4096.
MIN_BLOCK = 16
_BLOCK_NUMBERS = 2**18  # A block's parameters, when a lane holds many.
_BLOCKS_PER_CALL = 8  # A call from Python costs about 0.3 ms.
_CACHE_SIZE = 32  # Compiled programs kept (least recently used dropped).


class Layout(NamedTuple):
  """A call of the program: `blocks` blocks of `block` lanes (``lax.map``)."""

  block: int
  blocks: int

  @property
  def lanes_per_call(self) -> int:
    return self.block * self.blocks


def layout(num_lanes: int, lane_size: int, recording: bool) -> Layout:
  """The call's shape, from the sweep's size and a lane's size only.

  Blocks of `BLOCK` lanes for small lanes (2-D points), fewer when a lane
  holds many numbers (a model: about `_BLOCK_NUMBERS` per block); one block
  per call when trajectories are recorded (their memory); a small sweep gets
  calls of a quarter of it (at least `MIN_BLOCK` lanes), so that devices
  share it and a single lane does not cost a whole call. The chunk size and
  the device count never change it, so never a lane's bits.
  """
  block = BLOCK
  if lane_size > 16:
    block = max(MIN_BLOCK, min(BLOCK, _floor_pow2(_BLOCK_NUMBERS // lane_size)))
  blocks = 1 if recording else _BLOCKS_PER_CALL
  quarter = max(MIN_BLOCK, _ceil_pow2(ceil_div(num_lanes, 4)))
  block = min(block, quarter)
  return Layout(block, max(1, min(blocks, quarter // block)))


class _Carry(NamedTuple):
  """A lane between two steps: ``value`` is the loss at ``params`` and
  ``grads`` the gradient in hand (for a diverged lane: its last finite point
  and loss, and the gradient of its rejected point, unused); ``records``, the
  points recorded every k > 1 steps so far, and a scratch row."""

  params: Any
  state: optax.OptState
  value: jax.Array
  grads: Any
  best_loss: jax.Array
  tol_step: jax.Array | None
  divergence_step: jax.Array
  records: dict[str, jax.Array] | None


@dataclasses.dataclass(frozen=True)
class Keys:
  """How a keyed loss gets its keys: the sweep's key is a runtime argument
  (its data), ``impl`` its PRNG implementation, ``raw`` whether `loss_fn`
  gets raw uint32 key data (as it was given) rather than a typed key."""

  impl: str
  raw: bool
  shape: tuple[int, ...] = (2,)  # Of the key's data.

  def at(self, key_data: jax.Array, lane: jax.Array) -> Callable:
    """``key(t)``: the key of this lane at step t,
    ``fold_in(fold_in(key, lane), t)``."""
    key = jax.random.wrap_key_data(key_data, impl=self.impl)
    lane_key = jax.random.fold_in(key, lane)

    def key_at(t):
      step_key = jax.random.fold_in(lane_key, t)
      return jax.random.key_data(step_key) if self.raw else step_key

    return key_at


def lane_program(
  make_optimizer: Callable[..., optax.GradientTransformation],
  loss_fn: Landscape | LossFn,
  starts: Starts,
  num_steps: int,
  tol: float | None,
  record_every: int | None,
  *,
  keys: Keys | None = None,
  metrics_fn: Callable[[Any], Mapping[str, jax.Array]] | None = None,
  record_params: bool = True,
) -> Callable[..., dict[str, jax.Array]]:
  """``run(hyperparams, lane, start, key_data) -> outputs`` of one lane, for
  `jax.vmap`; ``start`` is one lane's `Starts.inputs`. Outputs are flat:
  ``final_params<path>`` per leaf, ``trajectories<path>`` when recorded,
  ``metrics/<name>``, and ``trajectory_metrics/<name>`` when recorded."""
  loss = lane_loss(loss_fn, starts, keyed=keys is not None)
  value_and_grad = jax.value_and_grad(loss)
  grad = jax.grad(loss)

  def finite(value, params):
    leaves = jax.tree.leaves(params)
    return functools.reduce(
      jnp.logical_and,
      [jnp.all(jnp.isfinite(leaf)) for leaf in leaves],
      jnp.isfinite(value),
    )

  def named(field, params):
    return {
      field + path: leaf
      for path, leaf in zip(starts.paths, starts.user_leaves(params))
    }

  def run(hyperparams, lane, start, key_data):
    optimizer = optax.with_extra_args_support(make_optimizer(**hyperparams))
    key_at = (lambda t: None) if keys is None else keys.at(key_data, lane)
    params = starts.lane_params(start)

    def recorded(params, value):  # A recorded point.
      points = named("trajectories", params) if record_params else {}
      if metrics_fn is not None:
        metrics = metrics_fn(starts.user_params(params))
        points.update({TRAJECTORY_METRIC + k: v for k, v in metrics.items()})
      points["trajectory_loss"] = value
      return points

    def step(carry: _Carry, t: jax.Array) -> tuple[_Carry, Any]:
      """Step t: the update from the gradient in hand, then the loss and
      gradient at the point after t steps. Step 0 makes no update (a
      conditional on t, the same for every lane), so that the start is
      evaluated by the same code as every other point: the loss and its
      gradient are compiled once, not twice."""

      def move(params, state):
        updates, state = optimizer.update(
          carry.grads,
          state,
          params,
          grad_fn=lambda params: grad(params, key_at(t - 1)),
        )
        return optax.apply_updates(params, updates), state

      moves = t > 0
      params, state = jax.lax.cond(
        moves, move, lambda *stay: stay, carry.params, carry.state
      )
      value, grads = value_and_grad(params, key_at(t))
      diverging = (carry.divergence_step < 0) & ~finite(value, params)
      divergence_step = jnp.where(diverging, t, carry.divergence_step)
      # A diverged lane keeps its last finite point and loss (diverged at
      # the start: the start and its loss); its optimizer state and gradient
      # run on, unused. Nothing here mixes lanes.
      params, value = jax.tree.map(
        lambda old, new: jnp.where((divergence_step >= 0) & moves, old, new),
        (carry.params, carry.value),
        (params, value),
      )
      tol_step = (
        None
        if tol is None
        else jnp.where((carry.tol_step < 0) & (value <= tol), t, carry.tol_step)
      )
      records, ys = carry.records, None
      if record_every == 1:
        ys = recorded(params, value)
      elif record_every is not None:
        # Every k-th point in its row (t // k), computed only then; a zero
        # point in the scratch row between them.
        due = t % record_every == 0
        point = jax.lax.cond(
          due,
          recorded,
          lambda *_: jax.tree.map(lambda r: jnp.zeros_like(r[0]), records),
          params,
          value,
        )
        row = jnp.where(due, t // record_every, num_records)
        records = jax.tree.map(
          lambda rows, x: jax.lax.dynamic_update_index_in_dim(rows, x, row, 0),
          records,
          point,
        )
      return _Carry(
        params,
        state,
        value,
        grads,
        jnp.minimum(carry.best_loss, value),
        tol_step,
        divergence_step,
        records,
      ), ys

    value = jax.eval_shape(loss, params, key_at(0))
    never = jnp.int32(-1)
    records = None
    if record_every is not None and record_every > 1:
      num_records = num_steps // record_every + 1
      records = jax.tree.map(
        lambda point: jnp.zeros((num_records + 1, *point.shape), point.dtype),
        jax.eval_shape(recorded, params, value),
      )
    carry = _Carry(  # Value and gradient: placeholders until step 0.
      params,
      optimizer.init(params),
      jnp.zeros(value.shape, value.dtype),
      jax.tree.map(jnp.zeros_like, params),
      jnp.full(value.shape, jnp.inf, value.dtype),
      None if tol is None else never,
      never,
      records,
    )
    carry, ys = jax.lax.scan(
      step, carry, jnp.arange(num_steps + 1, dtype=jnp.int32)
    )
    outputs = {}
    if record_every == 1:
      outputs.update(ys)
    elif record_every is not None:
      outputs.update({k: v[:-1] for k, v in carry.records.items()})
    outputs.update(named("final_params", carry.params))
    outputs.update(
      final_loss=carry.value,
      best_loss=carry.best_loss,
      divergence_step=carry.divergence_step,
    )
    if tol is not None:
      outputs["tol_step"] = carry.tol_step
    if metrics_fn is not None:
      metrics = metrics_fn(starts.user_params(carry.params))
      outputs.update({METRIC + k: v for k, v in metrics.items()})
    return outputs

  return run


def block_program(
  lane: Callable[..., dict[str, jax.Array]],
  grid_names: tuple[str, ...],
  shape: Layout,
) -> Callable[..., dict[str, jax.Array]]:
  """``program(first_lane, sizes, grid_values, start_inputs, key_data)``.

  Computes lanes ``first_lane + i`` (clamped to the last lane) for ``i``
  below ``shape.lanes_per_call``, in blocks of ``shape.block``
  (``lax.map``) of `lane` (``run(hyperparams, lane, start, key_data)``,
  as `lane_program` returns); lane = configuration * num_starts + start,
  configurations in row-major order of the grid axes. ``sizes`` holds the
  length of each grid axis, then num_starts (the arrays may be padded past
  them).
  """
  run_block = jax.vmap(lane, in_axes=(0, 0, 0, None))

  def program(first_lane, sizes, grid_values, start_inputs, key_data):
    num_lanes = jnp.prod(sizes)
    lane = jnp.minimum(
      first_lane + jnp.arange(shape.lanes_per_call, dtype=jnp.int32),
      num_lanes - 1,
    )
    config, start = jnp.divmod(lane, sizes[-1])
    hyperparams = {}
    for axis in reversed(range(len(grid_names))):
      config, index = jnp.divmod(config, sizes[axis])
      hyperparams[grid_names[axis]] = grid_values[axis][index]
    blocks = jax.tree.map(
      lambda a: a.reshape(shape.blocks, shape.block, *a.shape[1:]),
      (hyperparams, lane, tuple(a[start] for a in start_inputs)),
    )
    outputs = jax.lax.map(lambda block: run_block(*block, key_data), blocks)
    return jax.tree.map(
      lambda a: a.reshape(shape.lanes_per_call, *a.shape[2:]), outputs
    )

  return program


# Numbers × steps worth a device more in one process: each device compiles
# the program for itself (0.3 to 1 s), and a core runs about 1.5e8 of these
# a second on a 2-D surface, so a small sweep stays on one device. Which
# device runs a lane never changes its bits.
WORK_PER_DEVICE = 2**25


def ceil_div(numerator: int, denominator: int) -> int:
  return -(-numerator // denominator)


def _ceil_pow2(n: int) -> int:
  return 1 << max(0, n - 1).bit_length()


def _floor_pow2(n: int) -> int:
  return 1 << max(1, n).bit_length() - 1


def lane_loss(
  loss_fn: Landscape | LossFn, starts: Starts, *, keyed: bool
) -> Callable[[Any, Any], jax.Array]:
  """``loss(params, key)`` of one lane's parameters as its optimizer sees
  them: a Landscape's own elementwise ``fn(x, y)``, else `loss_fn` of the
  user's parameters (and the key, for a keyed loss)."""
  if isinstance(loss_fn, Landscape):
    return lambda params, key: loss_fn.fn(*params)
  if keyed:
    return lambda params, key: loss_fn(starts.user_params(params), key)
  return lambda params, key: loss_fn(starts.user_params(params))


# --- The compile cache --------------------------------------------------------


class CacheInfo(NamedTuple):
  """`cache_info()`: programs found and built, executables compiled."""

  hits: int
  misses: int
  compilations: int


_lock = threading.Lock()
_programs: collections.OrderedDict = collections.OrderedDict()
_counts = collections.Counter()


def cache_info() -> CacheInfo:
  """Counts since the process started (for tests of the compile cache)."""
  return CacheInfo(_counts["hits"], _counts["misses"], _counts["compiled"])


def fingerprint(lowered: jax.stages.Lowered, starts: Starts, names) -> str:
  """SHA-256 of a lowered lane's StableHLO, printed whole (no large
  constant elided, no source locations), with the grid's names and the
  starts' structure.

  Whatever the functions capture (a closure's number, a partial's array, a
  data set) is part of it; a function's name is not. The same computation
  defined anywhere, in any process, on any device, has the same fingerprint
  (for one JAX version).
  """
  text = io.StringIO()
  lowered.compiler_ir("stablehlo").operation.print(
    file=text, enable_debug_info=False, large_elements_limit=None
  )
  digest = hashlib.sha256(json.dumps(list(names)).encode())
  digest.update(repr((starts.treedef, starts.paths)).encode())
  digest.update(text.getvalue().encode())
  return digest.hexdigest()


class _Program:
  """A cache entry: the block program, its output shapes, its lowering for
  the first device (until compiled), and its executables (device ->
  executable)."""

  def __init__(self, lane: Callable[..., Any], names, shape, arguments):
    self.jitted = jax.jit(block_program(lane, names, shape))
    self.lowered = self.jitted.lower(np.int32(0), *arguments)
    self.shapes = {
      name: jax.ShapeDtypeStruct(info.shape[1:], info.dtype)
      for name, info in self.lowered.out_info.items()
    }
    self.executables: dict[Any, Any] = {}


def _from_jaxpr(traced: jax.stages.Traced) -> Callable[..., Any]:
  """The traced function again, from its jaxpr: a program that calls it (or
  vmaps it) does not trace the Python again."""
  closed, out_tree = traced.jaxpr, jax.tree.structure(traced.out_info)

  def run(*args):
    outputs = jex_core.jaxpr_as_fun(closed)(*jax.tree.leaves(args))
    return jax.tree.unflatten(out_tree, outputs)

  return run


def _abstract(args: tuple[Any, ...]) -> Any:
  """What a lowering depends on besides the lane: shapes and dtypes."""
  return jax.tree.map(lambda a: (a.shape, a.dtype), args)


def _padded(values: np.ndarray) -> np.ndarray:
  """`values` with its last row repeated to a power-of-two length >= 16."""
  length = max(16, _ceil_pow2(len(values)))
  return np.concatenate(
    [values, np.repeat(values[-1:], length - len(values), axis=0)]
  )


# --- Chunks -------------------------------------------------------------------


class Chunks:
  """``chunks(first_lane)``: the outputs of lanes ``first_lane`` onwards.

  Lane ``i`` is grid configuration ``i // num_starts`` (row-major over the
  grid axes) from start ``i % num_starts``. A call returns NumPy arrays of
  ``min(chunk_size, num_lanes - first_lane)`` rows; `shapes` gives each
  output's per-lane shape and dtype without compiling. Under
  ``jax.distributed`` every process must make the same calls; each computes
  its share and gets the whole chunk. `starts` is a `Starts`, or an array of
  2-D points ``(num_starts, 2)``; ``key_data`` the sweep key's data when
  ``options`` hold `Keys`; ``options`` go to `lane_program`.
  """

  def __init__(
    self,
    make_optimizer: Callable[..., optax.GradientTransformation],
    loss_fn: Landscape | LossFn,
    grid: dict[str, np.ndarray],
    starts: Starts | np.ndarray,
    *,
    num_steps: int,
    tol: float | None,
    record_every: int | None,
    chunk_size: int,
    key_data: np.ndarray | None = None,
    **options: Any,
  ):
    if not isinstance(starts, Starts):
      starts = Starts.from_array(np.asarray(starts))
    names = tuple(grid)
    sizes = [len(v) for v in grid.values()] + [starts.num_starts]
    self.num_lanes = int(math.prod(sizes))
    if self.num_lanes >= 2**31:
      raise ValueError(
        f"sweep: {self.num_lanes} lanes exceed the int32 lane index."
      )
    self.chunk_size = chunk_size
    self._work_per_lane = num_steps * starts.lane_size
    shape = layout(self.num_lanes, starts.lane_size, record_every is not None)
    arguments = (
      np.array(sizes, np.int32),
      tuple(_padded(np.asarray(v)) for v in grid.values()),
      tuple(_padded(a) for a in starts.inputs()),
      np.zeros(2, np.uint32) if key_data is None else key_data,
    )
    self._lanes_per_call = shape.lanes_per_call

    # Calls are dealt over all devices, process by process: each process
    # owns an equal run of "slots" and makes the calls dealt to them.
    devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    local = [d for d in devices if d.process_index == jax.process_index()]
    if len(local) * jax.process_count() != len(devices):
      raise ValueError(
        "sweep: every process must have as many devices as the others, got "
        f"{len(local)} here among {len(devices)} in {jax.process_count()}."
      )
    self._num_slots = len(devices)
    self._first_slot = jax.process_index() * len(local)
    self._devices = local
    self._arguments = [jax.device_put(arguments, d) for d in local]
    # The lane is traced and lowered once: its text is the fingerprint (the
    # same on every device: tested). The block program is built from the
    # lane's jaxpr only when the compile cache has none for it.
    first = self._arguments[0]
    one = lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype)  # One lane's.
    traced = jax.jit(
      lane_program(
        make_optimizer, loss_fn, starts, num_steps, tol, record_every, **options
      )
    ).trace(
      {name: one(values) for name, values in zip(names, first[1])},
      jax.ShapeDtypeStruct((), np.int32),
      tuple(one(a) for a in first[2]),
      jax.ShapeDtypeStruct(first[3].shape, first[3].dtype),
    )
    self.fingerprint = fingerprint(traced.lower(), starts, names)
    key = (self.fingerprint, shape, _abstract(first))
    with _lock:
      self._program = _programs.get(key)
      if self._program is not None:
        _programs.move_to_end(key)
        _counts["hits"] += 1
    if self._program is None:
      program = _Program(_from_jaxpr(traced), names, shape, first)
      with _lock:
        self._program = _programs.setdefault(key, program)
        _counts["misses"] += 1
        while len(_programs) > _CACHE_SIZE:
          _programs.popitem(last=False)
    self.shapes = self._program.shapes

  def _executable(self, slot: int):
    program, device = self._program, self._devices[slot]
    with _lock:
      found = program.executables.get(device)
      lowered = program.lowered if slot == 0 else None
    if found is None:
      if lowered is None:  # Another device, or compiled by another thread.
        lowered = program.jitted.lower(np.int32(0), *self._arguments[slot])
      found = lowered.compile()
      with _lock:
        program.executables[device] = found
        if slot == 0:  # Its text (constants included) is no longer needed.
          program.lowered = None
        _counts["compiled"] += 1
    return found

  def __call__(self, first_lane: int) -> dict[str, np.ndarray]:
    rows = min(self.chunk_size, self.num_lanes - first_lane)
    num_calls = ceil_div(rows, self._lanes_per_call)
    num_slots = self._num_slots
    distributed = jax.process_count() > 1
    if distributed:  # Every process makes as many calls.
      num_calls = ceil_div(num_calls, num_slots) * num_slots
    else:  # A device more for each WORK_PER_DEVICE: it compiles too.
      work = rows * self._work_per_lane
      num_slots = max(1, min(num_slots, work // WORK_PER_DEVICE))
    used = range(min(num_calls, num_slots, len(self._devices)))
    # Compiled here, not in a thread pool: jax.enable_x64 and the other
    # config contexts hold for this thread only.
    executables = [self._executable(slot) for slot in used]
    mine = []  # This process's outputs, all dispatched before any is read.
    for call in range(num_calls):
      slot = call % num_slots - self._first_slot
      if 0 <= slot < len(self._devices):
        lane = first_lane + call * self._lanes_per_call
        lane = np.int32(min(lane, self.num_lanes - 1))
        outputs = executables[slot](
          jax.device_put(lane, self._devices[slot]), *self._arguments[slot]
        )
        mine.append(outputs)
    local = {
      name: np.stack([np.asarray(outputs[name]) for outputs in mine])
      for name in self.shapes
    }
    if distributed:
      # Process p made calls r * slots + p * L + i (round r, its slot i):
      # gathered (p, r * L + i) to call order (r, p, i).
      per_process = len(self._devices)
      gathered = multihost_utils.process_allgather(local, tiled=False)
      local = {
        name: np.swapaxes(
          a.reshape(a.shape[0], -1, per_process, *a.shape[2:]), 0, 1
        )
        for name, a in gathered.items()
      }
    return {
      name: a.reshape(-1, *self.shapes[name].shape)[:rows]
      for name, a in local.items()
    }
