"""The compiled program of a sweep: one executable, blocks of lanes, devices.

Design (``python -m experiments benchmark sweep`` measures it against
baselines; the numbers are in BENCHMARKS.md):

- Struct of arrays. A lane is written for one trajectory whose parameters are
  a pair of scalars ``(x, y)`` and is ``jax.vmap``-ed over lanes, so every
  coordinate and every optimizer moment is a contiguous ``(lanes,)`` array
  and per-lane hyperparameters are vmapped arguments of ``make_optimizer``;
  what does not depend on a lane (Adam's step count, bias correction) stays
  a scalar. A `Landscape` is called through its elementwise ``fn(x, y)``;
  another loss gets ``jnp.stack([x, y])``.
- One executable for every call. The compiled program computes a fixed
  number of consecutive lanes (`lanes_per_call`; the last lane repeated past
  the end), in blocks of `BLOCK` (``lax.map``); it is compiled for one
  device, without partitioning, and the host hands calls to the devices in
  turn. Chunk size, device count and process count only decide which device
  runs which lanes, never the code a lane runs, so a lane's result is the
  same bits whatever they are (on one kind of CPU: XLA compiles for the
  host's instruction set). (A program partitioned over a
  mesh would not do: XLA compiles it apart from the one-device program and
  rewrites Adam's ``moment / (1 - b**t)`` there as ``moment * (1 / (1 -
  b**t))``, which changes the last bit.)
- Chunks: the caller loops over chunks of lanes (bounded memory, progress
  bar, checkpoints); a chunk is a run of calls.
- Compile cache: keyed by the caller's content fingerprint of the lane
  computation (else the functions' identity), the grid's names and dtypes and
  the starts' dtype. Grid values and starts are runtime arguments, padded to
  a power of two (at least 16), so other values, or a few more of them,
  reuse the compilation.
- Processes: under ``jax.distributed``, the calls of a chunk are dealt over
  all devices of all processes (process by process); each process runs those
  of its own devices, and ``process_allgather`` gives every process the
  whole chunk.
"""

import collections
import math
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils

from optax_extras._src.landscapes import Landscape

LossFn = Callable[[jax.Array], jax.Array]
# Lanes per block. On the 2-core AVX-512 CPU of BENCHMARKS.md, Adam ran
# fastest with 4096 to 8192 (1024: 20% slower, 16384: 25% slower).
BLOCK = 4096


def lanes_per_call(record_every: int | None) -> int:
  """Lanes of one call of the compiled program: 8 blocks (a call from Python
  costs about 0.3 ms), or 1 when trajectories are recorded (their memory)."""
  return BLOCK * (8 if record_every is None else 1)


_CACHE_SIZE = 32  # Compiled programs kept (least recently used dropped).


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


def lane_program(
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


def block_program(
  make_optimizer: Callable[..., optax.GradientTransformation],
  loss_fn: Landscape | LossFn,
  grid_names: tuple[str, ...],
  num_steps: int,
  tol: float | None,
  record_every: int | None,
) -> Callable[..., dict[str, jax.Array]]:
  """``program(first_lane, sizes, grid_values, xs, ys)``: a call's lanes.

  Computes lanes ``first_lane + i`` (clamped to the last lane) for ``i``
  below `lanes_per_call(record_every)`, in blocks of `BLOCK` (``lax.map``);
  lane = configuration * num_starts + start, configurations in row-major
  order of the grid axes. ``sizes`` holds the length of each grid axis, then
  num_starts (the arrays may be padded past them).
  """
  run_block = jax.vmap(
    lane_program(
      make_optimizer, elementwise_loss(loss_fn), num_steps, tol, record_every
    )
  )
  num_lanes_here = lanes_per_call(record_every)

  def program(first_lane, sizes, grid_values, xs, ys):
    num_lanes = jnp.prod(sizes)
    lane = first_lane + jnp.arange(num_lanes_here, dtype=jnp.int32)
    config, start = jnp.divmod(jnp.minimum(lane, num_lanes - 1), sizes[-1])
    hyperparams = {}
    for axis in reversed(range(len(grid_names))):
      config, index = jnp.divmod(config, sizes[axis])
      hyperparams[grid_names[axis]] = grid_values[axis][index]
    blocks = jax.tree.map(
      lambda a: a.reshape(-1, BLOCK), (hyperparams, xs[start], ys[start])
    )
    outputs = jax.lax.map(lambda block: run_block(*block), blocks)
    return jax.tree.map(
      lambda a: a.reshape(num_lanes_here, *a.shape[2:]), outputs
    )

  return program


def ceil_div(numerator: int, denominator: int) -> int:
  return -(-numerator // denominator)


def elementwise_loss(
  loss_fn: Landscape | LossFn,
) -> Callable[[jax.Array, jax.Array], jax.Array]:
  """``loss(x, y)``: a Landscape's own ``fn``, else ``loss_fn([x, y])``."""
  if isinstance(loss_fn, Landscape):
    return loss_fn.fn
  return lambda x, y: loss_fn(jnp.stack([x, y]))


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


class _Program:
  """A jitted block program and its executables, one per device and shapes."""

  def __init__(self, program: Callable[..., Any]):
    self.jitted = jax.jit(program)
    self.executables: dict[Any, Any] = {}

  def executable(self, device: jax.Device, args: tuple[Any, ...]):
    key = (
      device,
      jax.config.read("jax_enable_x64"),  # Decides dtypes inside.
      jax.tree.map(lambda a: (a.shape, a.dtype), args),
    )
    with _lock:
      found = self.executables.get(key)
    if found is None:
      found = self.jitted.lower(*args).compile()
      with _lock:
        self.executables[key] = found
        _counts["compiled"] += 1
    return found


def _program(key: Any, build: Callable[[], Callable[..., Any]]) -> _Program:
  with _lock:
    found = _programs.get(key)
    if found is not None:
      _programs.move_to_end(key)
      _counts["hits"] += 1
      return found
    _counts["misses"] += 1
    found = _programs[key] = _Program(build())
    while len(_programs) > _CACHE_SIZE:
      _programs.popitem(last=False)
    return found


def _padded(values: np.ndarray) -> np.ndarray:
  """`values` with its last row repeated to a power-of-two length >= 16."""
  length = max(16, 1 << (len(values) - 1).bit_length())
  return np.concatenate([values, np.repeat(values[-1:], length - len(values))])


# --- Chunks -------------------------------------------------------------------


class Chunks:
  """``chunks(first_lane)``: the outputs of lanes ``first_lane`` onwards.

  Lane ``i`` is grid configuration ``i // num_starts`` (row-major over the
  grid axes) from start ``i % num_starts``. A call returns NumPy arrays of
  ``min(chunk_size, num_lanes - first_lane)`` rows; `shapes` gives each
  output's per-lane shape and dtype without compiling. Under
  ``jax.distributed`` every process must make the same calls; each computes
  its share and gets the whole chunk.
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
    names = tuple(grid)
    sizes = np.array([len(v) for v in grid.values()] + [len(starts)])
    if math.prod(sizes.tolist()) >= 2**31:
      raise ValueError(
        f"sweep: {math.prod(sizes.tolist())} lanes exceed the int32 lane index."
      )
    self.num_lanes = int(math.prod(sizes.tolist()))
    self.chunk_size = chunk_size
    arguments = (
      sizes.astype(np.int32),
      tuple(_padded(np.asarray(v)) for v in grid.values()),
      _padded(starts[:, 0]),
      _padded(starts[:, 1]),
    )
    identity = (
      ("identity", make_optimizer, loss_fn)
      if cache_key is None
      else ("content", cache_key)
    )
    key = (identity, names, num_steps, tol, record_every, BLOCK)
    self._lanes_per_call = lanes_per_call(record_every)
    self._program = _program(
      key,
      lambda: block_program(
        make_optimizer, loss_fn, names, num_steps, tol, record_every
      ),
    )

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
    shapes = jax.eval_shape(
      self._program.jitted, np.int32(0), *self._arguments[0]
    )
    self.shapes = {
      name: jax.ShapeDtypeStruct(shape.shape[1:], shape.dtype)
      for name, shape in shapes.items()
    }

  def _executable(self, slot: int):
    device = self._devices[slot]
    return self._program.executable(
      device, (np.int32(0), *self._arguments[slot])
    )

  def __call__(self, first_lane: int) -> dict[str, np.ndarray]:
    rows = min(self.chunk_size, self.num_lanes - first_lane)
    num_calls = ceil_div(rows, self._lanes_per_call)
    num_slots = self._num_slots
    distributed = jax.process_count() > 1
    if distributed:  # Every process makes as many calls.
      num_calls = ceil_div(num_calls, num_slots) * num_slots
    used = range(min(num_calls, len(self._devices)))
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
