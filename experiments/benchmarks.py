"""Benchmarks: each prints a table; together they write BENCHMARKS.md.

Every number is a ratio or a median over repeats, measured against its
baseline in the same run (the machines are shared and noisy).
"""

import dataclasses
import math
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optax_extras
from optax_extras.io import atomic_write


@dataclasses.dataclass(frozen=True)
class Table:
  """A titled table of strings, with a note on how to read it."""

  title: str
  header: tuple[str, ...]
  rows: list[tuple[str, ...]]
  note: str = ""

  def markdown(self) -> str:
    lines = [f"## {self.title}", ""]
    if self.note:
      lines += [self.note, ""]
    lines.append("| " + " | ".join(self.header) + " |")
    lines.append("|" + "---|" * len(self.header))
    lines += ["| " + " | ".join(row) + " |" for row in self.rows]
    return "\n".join(lines) + "\n"


def median_seconds(run: Callable[[], object], *, repeats: int) -> float:
  """Median wall time of `run()` (which must block until its result is ready)."""
  run()  # Compile and warm up.
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


# --- Training step: this library's transforms against optax's ---------------

_STEP_PAIRS = (
  # (ours, optax's closest counterpart, what differs)
  (
    "nesterov_lookahead (0.0,)",
    lambda: optax_extras.nesterov_lookahead(0.05, 0.9, (0.0,)),
    "optax.sgd(momentum)",
    lambda: optax.sgd(0.05, 0.9),
    "",
  ),
  (
    "nesterov_lookahead (1.0,)",
    lambda: optax_extras.nesterov_lookahead(0.05, 0.9, (1.0,)),
    "optax.sgd(nesterov)",
    lambda: optax.sgd(0.05, 0.9, nesterov=True),
    "1 gradient per step, as optax (θ's is unused and dropped: 8 dots in both); +1 elementwise pass to form θ + γv",
  ),
  (
    "nesterov_lookahead (¼, ½, ¾, 1)",
    lambda: optax_extras.nesterov_lookahead(0.05, 0.9, (0.25, 0.5, 0.75, 1.0)),
    "optax.sgd(nesterov)",
    lambda: optax.sgd(0.05, 0.9, nesterov=True),
    "4 gradients per step (at ¼, ½, ¾, 1 of γv)",
  ),
  (
    "adadelta_bigstart",
    lambda: optax_extras.adadelta_bigstart(1.0),
    "optax.adadelta",
    lambda: optax.adadelta(1.0),
    "",
  ),
  (
    "adam_calibrated",
    lambda: optax_extras.adam_calibrated(1e-3),
    "optax.adam",
    lambda: optax.adam(1e-3),
    "",
  ),
  (
    "adam_calibrated first_gradient",
    lambda: optax_extras.adam_calibrated(
      1e-3, bias_correction="first_gradient"
    ),
    "optax.adam",
    lambda: optax.adam(1e-3),
    "",
  ),
  (
    "adagrad_family",
    lambda: optax_extras.adagrad_family(0.1),
    "optax.adagrad",
    lambda: optax.adagrad(0.1),
    "",
  ),
)


def _mlp(sizes=(64, 512, 512, 10), seed=0):
  keys = jax.random.split(jax.random.key(seed), len(sizes) - 1)
  return [
    {
      "w": jax.random.normal(k, (a, b), jnp.float32) / np.sqrt(a),
      "b": jnp.zeros((b,), jnp.float32),
    }
    for k, a, b in zip(keys, sizes[:-1], sizes[1:])
  ]


def _mlp_loss(params, x, y):
  for layer in params[:-1]:
    x = jax.nn.relu(x @ layer["w"] + layer["b"])
  logits = x @ params[-1]["w"] + params[-1]["b"]
  return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def _steps_runner(transform, params, x, y, num_steps):
  """A jitted run of `num_steps` training steps (one compiled scan)."""
  grad_fn = jax.grad(_mlp_loss)

  @jax.jit
  def run(params, state):
    def step(carry, _):
      params, state = carry
      batch_grad_fn = lambda p: grad_fn(p, x, y)
      updates, state = transform.update(
        batch_grad_fn(params), state, params, grad_fn=batch_grad_fn
      )
      return (optax.apply_updates(params, updates), state), None

    return jax.lax.scan(step, (params, state), length=num_steps)[0]

  state = transform.init(params)
  return lambda: jax.block_until_ready(run(params, state))


def training_step(*, quick: bool) -> Table:
  """Median step time of each transform and its optax counterpart, same model."""
  params = _mlp()
  x = jax.random.uniform(jax.random.key(1), (128, 64), jnp.float32)
  y = jax.random.randint(jax.random.key(2), (128,), 0, 10)
  num_steps, repeats = (20, 5) if quick else (100, 15)
  rows = []
  for ours_name, ours, theirs_name, theirs, note in _STEP_PAIRS:
    # Interleave the two so that load on the machine hits both alike.
    times = {"ours": [], "theirs": []}
    runners = {
      "ours": _steps_runner(ours(), params, x, y, num_steps),
      "theirs": _steps_runner(theirs(), params, x, y, num_steps),
    }
    for _ in range(3):
      for key, runner in runners.items():
        times[key].append(median_seconds(runner, repeats=repeats // 3 or 1))
    ours_s = statistics.median(times["ours"]) / num_steps
    theirs_s = statistics.median(times["theirs"]) / num_steps
    rows.append(
      (
        ours_name,
        f"{1e6 * ours_s:.0f}",
        theirs_name,
        f"{1e6 * theirs_s:.0f}",
        f"{ours_s / theirs_s:.2f}×",
        note,
      )
    )
  return Table(
    "Training step: this library against optax",
    ("ours", "µs/step", "optax", "µs/step", "ratio", "note"),
    rows,
    "An MLP 64-512-512-10 (0.3 M parameters), batch 128, float32: the median "
    f"time of a step inside a jitted scan of {num_steps} steps. Target: "
    "ratio ≤ 1.05 where the rules cost the same; look-ahead adds gradient "
    "evaluations by design.",
  )


def many_models(*, quick: bool) -> Table:
  """The digits MLP, seeds x learning rates as one sweep, against a Python
  loop over the same models."""
  from experiments import training

  data = training.load_digits()
  seeds = tuple(range(2 if quick else 8))
  rates = tuple(0.01 * 2.0**k for k in range(4 if quick else 8))
  epochs = 2
  rows = []
  for name in ("nesterov_lookahead", "adam_calibrated"):
    times = []
    for offset in (0, 100):  # First call (compiles), then other seeds.
      start = time.perf_counter()
      training.train_many(
        name, [s + offset for s in seeds], rates, epochs=epochs, data=data
      )
      times.append(time.perf_counter() - start)
    training.train(name, epochs=1, data=data)  # Compile the loop's step.
    start = time.perf_counter()
    for seed in seeds:
      for rate in rates:
        training.train(
          name, epochs=epochs, seed=seed, learning_rate=rate, data=data
        )
    looped = time.perf_counter() - start
    rows.append(
      (
        name,
        f"{len(seeds)} × {len(rates)}",
        f"{times[0]:.2f}",
        f"{times[1]:.2f}",
        f"{looped:.2f}",
        f"{looped / times[0]:.1f}×",
        f"{looped / times[1]:.1f}×",
        "≥ 5× (1st)",
        _met(looped / times[0], low=5.0),
      )
    )
  return Table(
    "Many models at once: one sweep against a Python loop",
    (
      "optimizer",
      "seeds × rates",
      "sweep s (1st call)",
      "sweep s (again)",
      "loop s",
      "speed-up (1st)",
      "speed-up (again)",
      "target",
      "met",
    ),
    rows,
    "Target (issue 24): the sweep at least 5× the Python loop over (rate, "
    "seed) on its first call, compilation included. "
    f"experiments/training on the digits, {epochs} epochs of 11 steps, "
    "batch 128, float32. The sweep (`train_many`: optax_extras.sweep, "
    "minibatches drawn with each model's key, whole-set metrics per epoch) "
    "compiles on its first call; the second call, with other seeds, "
    "compiles nothing. The loop (`train`, one nnx.jit step per call) is "
    "compiled before timing.",
  )


def gallery_time(*, quick: bool) -> Table:
  """Wall time of the gallery from scratch (nothing saved), quick and full."""
  import pathlib
  import tempfile

  from experiments import gallery

  rows = []
  if quick:  # Each takes longer than the whole quick benchmark should.
    rows = [
      ("gallery --quick", "", "not run (--quick)", "45"),
      ("gallery", "", "not run (--quick)", "300"),
    ]
  for mode in () if quick else (True, False):
    with tempfile.TemporaryDirectory() as out:
      start = time.perf_counter()
      entries = gallery.build(pathlib.Path(out), quick=mode)
      seconds = time.perf_counter() - start
    target = 45 if mode else 300  # Issue 21's quick target.
    rows.append(
      (
        "gallery --quick" if mode else "gallery",
        f"{len(entries)}",
        f"{seconds:.0f}",
        f"{target}",
      )
    )
  return Table(
    "Gallery",
    ("command", "files", "seconds", "target s"),
    rows,
    "python -m experiments gallery from an empty folder: compute, draw, "
    "animate and index everything.",
  )


def atlas_time(*, quick: bool) -> Table:
  """Wall time of the atlas from scratch (no checkpoints), quick and full."""
  import pathlib
  import tempfile

  from experiments import atlas

  rows = []
  if quick:
    rows = [
      ("atlas --quick", "", "", "not run (--quick)", "120"),
      ("atlas", "", "", "not run (--quick)", "300"),
    ]
  for mode in () if quick else (True, False):
    with tempfile.TemporaryDirectory() as out:
      start = time.perf_counter()
      records = atlas.build(
        pathlib.Path(out), quick=mode, show_progress=False, cache=False
      )
      seconds = time.perf_counter() - start
    settings = atlas.QUICK if mode else atlas.Settings()
    optimizers = {r["optimizer"] for r in records}
    surfaces = {r["surface"] for r in records}
    rows.append(
      (
        "atlas --quick" if mode else "atlas",
        f"{len(optimizers)} × {len(surfaces)}",
        f"{settings.num_rates} × {settings.num_starts} × {settings.num_steps}",
        f"{seconds:.0f}",
        "120" if mode else "300",  # Issue 21's full target.
      )
    )
  return Table(
    "Optimizer atlas",
    (
      "command",
      "optimizers × surfaces",
      "rates × starts × steps",
      "seconds",
      "target s",
    ),
    rows,
    "python -m experiments atlas from an empty folder: one program per "
    "optimizer and dimension (one worker process per core), the figures and "
    "the page included.",
  )


# --- The sweep engine: trajectory-steps per second ---------------------------

_SURFACE = "hills_and_canyon"
_STEPS = 125
# name -> (grid axes' sizes, number of starts): a million trajectories each.
_SHAPES = {
  "1,000,000 rates × 1 start": ((1_000_000,), 1),
  "1000 rates × 1000 starts": ((1000,), 1000),
  "100 rates × 100 b1 × 100 starts": ((100, 100), 100),
}
# Sweeps of the gallery's size, which a CPU runs in a fraction of a second.
_SMALL_SHAPES = {
  "16 rates × 1024 starts": ((16,), 1024),
  "64 rates × 1024 starts": ((64,), 1024),
}
_TARGETS = {  # Minimum speed ratios: sweep / naive, sweep / program.
  "large": (1.3, 0.9),
  "small": (0.8, None),  # On a CPU.
}


def _sweep_inputs(axes, num_starts):
  """Adam's grid (learning rates, then b1 values) and starts, as float32."""
  grid = {"learning_rate": np.logspace(-3, 0, axes[0], dtype=np.float32)}
  if len(axes) > 1:
    grid["b1"] = np.linspace(0.5, 0.99, axes[1], dtype=np.float32)
  starts = np.random.default_rng(0).uniform(-3, 3, (num_starts, 2))
  return grid, starts.astype(np.float32)


def _lanes(grid, starts):
  """Per-lane hyperparameters and starts, lane = config * num_starts + start."""
  axes = np.meshgrid(*grid.values(), indexing="ij")
  hyperparams = {
    name: np.repeat(axis.reshape(-1), len(starts))
    for name, axis in zip(grid, axes)
  }
  return hyperparams, np.tile(starts, (axes[0].size, 1))


def _naive(loss, grid, starts):
  """What a user writes today: jit(vmap(scan)) of inject_hyperparams(adam),
  the loss a plain function of a (2,) params array."""
  make = optax.inject_hyperparams(optax.adam)

  def one(hyperparams, start):
    transform = make(**hyperparams)

    def step(carry, _):
      params, state = carry
      updates, state = transform.update(jax.grad(loss)(params), state, params)
      return (optax.apply_updates(params, updates), state), None

    init = (start, transform.init(start))
    (params, _), _ = jax.lax.scan(step, init, length=_STEPS)
    return params, loss(params)

  run = jax.jit(jax.vmap(one))
  hyperparams, lane_starts = _lanes(grid, starts)
  args = jax.device_put((hyperparams, lane_starts))
  return lambda: jax.block_until_ready(run(*args))


def _hand_fused(surface, grid, starts):
  """Adam written out by hand on struct-of-arrays x, y, the surface's
  gradient inlined, blocks of 4096 lanes over all devices: no loss tracking,
  divergence, chunking or grid bookkeeping. The same arithmetic as
  optax.adam: b1 is a scalar unless it is a grid axis (then ``b1**t`` is a
  power per lane and step, as in optax)."""
  from jax.sharding import Mesh, PartitionSpec

  grad_xy = jax.grad(lambda x, y: surface.fn(x, y).sum(), argnums=(0, 1))
  b2, eps = 0.999, 1e-8

  def kernel(rate, b1, x, y):
    def step(carry, t):
      x, y, mx, my, vx, vy = carry
      gx, gy = grad_xy(x, y)
      mx, my = b1 * mx + (1 - b1) * gx, b1 * my + (1 - b1) * gy
      vx, vy = b2 * vx + (1 - b2) * gx * gx, b2 * vy + (1 - b2) * gy * gy
      c1, c2 = 1 - b1**t, 1 - b2**t
      x = x - rate * (mx / c1) / (jnp.sqrt(vx / c2) + eps)
      y = y - rate * (my / c1) / (jnp.sqrt(vy / c2) + eps)
      return (x, y, mx, my, vx, vy), None

    zero = jnp.zeros_like(x)
    steps = jnp.arange(1, _STEPS + 1, dtype=x.dtype)
    (x, y, *_), _ = jax.lax.scan(step, (x, y, zero, zero, zero, zero), steps)
    return x, y, surface.fn(x, y)

  block = 4096
  per_lane_b1 = "b1" in grid

  def blocked(rate, b1, x, y):
    n = rate.shape[0]
    lanes = (rate, b1, x, y) if per_lane_b1 else (rate, x, y)
    one_block = (
      (lambda b: kernel(*b))
      if per_lane_b1
      else (lambda b: kernel(b[0], 0.9, b[1], b[2]))
    )
    out = jax.lax.map(
      one_block, tuple(a.reshape(n // block, block) for a in lanes)
    )
    return jax.tree.map(lambda o: o.reshape(n), out)

  mesh = Mesh(np.array(jax.devices()), ("lanes",))
  run = jax.jit(
    jax.shard_map(
      blocked,
      mesh=mesh,
      in_specs=PartitionSpec("lanes"),
      out_specs=PartitionSpec("lanes"),
      check_vma=False,
    )
  )
  hyperparams, lane_starts = _lanes(grid, starts)
  n = len(lane_starts)
  padded = -(-n // (block * mesh.size)) * block * mesh.size
  pad = lambda a: np.concatenate([a, np.repeat(a[-1:], padded - n, axis=0)])
  rate = hyperparams["learning_rate"]
  b1 = hyperparams.get("b1", np.full_like(rate, 0.9))
  lane_starts = pad(lane_starts)
  args = jax.device_put(
    (pad(rate), pad(b1), lane_starts[:, 0], lane_starts[:, 1])
  )
  return lambda: jax.block_until_ready(run(*args))


def _program(loss, grid, starts):
  """The public lane vmapped by hand, ``jit(vmap(run_lane))``: what `sweep`
  computes (final and best loss, divergence), in one call on one device,
  without its checks, blocks, chunks, devices and settings."""

  def one(hyperparams, start):
    return optax_extras.run_lane(
      optax.adam(**hyperparams), loss, start, num_steps=_STEPS
    )

  run = jax.jit(jax.vmap(one))
  hyperparams, lane_starts = _lanes(grid, starts)
  args = jax.device_put((hyperparams, lane_starts))
  return lambda: jax.block_until_ready(run(*args))


def _peak_memory_of_10m_sweep() -> tuple[float, float]:
  """Peak resident memory (GB) and seconds of a 10,000,000-lane summary sweep."""
  import subprocess
  import sys

  code = (
    "import resource, time, jax, numpy as np, optax\n"
    f"jax.config.update('jax_num_cpu_devices', {jax.device_count()})\n"
    "from optax_extras import landscapes, sweep\n"
    f"rates = np.logspace(-3, 0, 10_000)\n"
    "starts = np.random.default_rng(0).uniform(-3, 3, (1000, 2)).astype(np.float32)\n"
    "start = time.perf_counter()\n"
    f"sweep(optax.adam, landscapes.get('{_SURFACE}'), grid={{'learning_rate': rates}},\n"
    f"      starts=starts, num_steps={_STEPS}, progress=False)\n"
    "print(time.perf_counter() - start,\n"
    "      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)\n"
  )
  out = subprocess.run(
    [sys.executable, "-c", code], capture_output=True, text=True, check=True
  ).stdout.split()
  return float(out[1]), float(out[0])


_COMPILE_SECONDS = []  # XLA compile time in this process, once listened to.


def _compile_seconds() -> float:
  """Seconds XLA spent compiling in this process since the first call."""
  if not _COMPILE_SECONDS:
    _COMPILE_SECONDS.append(0.0)

    def listener(event, duration, **kwargs):
      if event == "/jax/core/compile/backend_compile_duration":
        _COMPILE_SECONDS[0] += duration

    jax.monitoring.register_event_duration_secs_listener(listener)
  return _COMPILE_SECONDS[0]


def _repeated_small_sweep(surface, repeats: int) -> float:
  """Median seconds of the explorer's usual request through the public API:
  2 paths × 50 steps, recorded, a new learning rate per call (one compiled
  program for all, jit's cache)."""
  from optax_extras import sweep

  starts = np.array([[-2.8, -2.5], [1.0, 1.5]], np.float32)
  rates = np.geomspace(1e-3, 0.3, repeats + 1).astype(np.float32)
  seconds = []
  for rate in rates:
    start = time.perf_counter()
    sweep(
      optax.adam,
      surface,
      grid={"learning_rate": np.array([rate])},
      starts=starts,
      num_steps=50,
      record_every=1,
      progress=False,
    )
    seconds.append(time.perf_counter() - start)
  return statistics.median(seconds[1:])  # The first compiles.


def _first_result(surface, repeats: int) -> tuple[float, float]:
  """Median seconds (and of them, XLA's compile seconds) of an explorer-size
  sweep with function objects jit has never seen: 1,000 learning rates × 1
  start × 200 steps, recorded every step, compile included."""
  from optax_extras import sweep

  rates = np.geomspace(1e-3, 1.0, 1000).astype(np.float32)
  starts = np.array([[-2.8, -2.5]], np.float32)
  seconds, compiling = [], []
  for _ in range(repeats):
    # New objects, as a notebook cell run again defines them.
    make = lambda learning_rate: optax.adam(learning_rate)
    loss = lambda params: surface.fn(params[0], params[1])
    compiled = _compile_seconds()
    start = time.perf_counter()
    sweep(
      make,
      loss,
      grid={"learning_rate": rates},
      starts=starts,
      num_steps=200,
      record_every=1,
      progress=False,
    )
    seconds.append(time.perf_counter() - start)
    compiling.append(_compile_seconds() - compiled)
  return statistics.median(seconds), statistics.median(compiling)


def _met(value: float, low: float | None = None, high: float | None = None):
  ok = (low is None or value >= low) and (high is None or value <= high)
  return "yes" if ok else "no"


def sweep_engine(*, quick: bool) -> list[Table]:
  """The sweep engine against the naive program, the public lane vmapped by
  hand and a hand-fused kernel; then its latency and memory."""
  from optax_extras import landscapes, sweep

  surface = landscapes.get(_SURFACE)
  plain = lambda params: surface.fn(params[0], params[1])
  repeats = 3 if quick else 5
  backend = jax.default_backend()
  devices = f"{jax.device_count()} × {jax.devices()[0].device_kind}"
  rows = []
  first_call = None
  naive_cores = []  # CPU time over wall time of the naive program.
  shapes = [(label, shape, "large") for label, shape in _SHAPES.items()]
  shapes += [(label, shape, "small") for label, shape in _SMALL_SHAPES.items()]
  for label, (axes, num_starts), size in shapes:
    if quick and size == "large":  # 1/16 of the lanes: of the starts, else
      if num_starts > 1:  # of the first axis.
        num_starts //= 16
      else:
        axes = (axes[0] // 16, *axes[1:])
    grid, starts = _sweep_inputs(axes, num_starts)
    num_lanes = math.prod(axes) * num_starts
    engine = lambda loss, grid=grid, starts=starts: (
      lambda: sweep(
        optax.adam,
        loss,
        grid=grid,
        starts=starts,
        num_steps=_STEPS,
        progress=False,
      )
    )
    runs = {
      "landscape": engine(surface),
      "plain": engine(plain),
      "landscape program": _program(surface, grid, starts),
      "plain program": _program(plain, grid, starts),
      "naive": _naive(plain, grid, starts),
      "hand": _hand_fused(surface, grid, starts),
    }
    start = time.perf_counter()
    runs["landscape"]()
    if size == "large" and num_starts > 1 and first_call is None:
      first_call = (label, time.perf_counter() - start)  # 1000 × 1000.
    for run in runs.values():
      run()  # Compile and warm up.
    times = {key: [] for key in runs}
    for _ in range(repeats):  # Interleaved, so that load hits all alike.
      for key, run in runs.items():
        start, cpu = time.perf_counter(), time.process_time()
        run()
        times[key].append(time.perf_counter() - start)
        if key == "naive":
          naive_cores.append((time.process_time() - cpu) / times[key][-1])
    speed = {
      key: num_lanes * _STEPS / statistics.median(ts) / 1e6
      for key, ts in times.items()
    }
    low_naive, low_program = _TARGETS[size]
    for loss in ("landscape", "plain"):
      versus_naive = speed[loss] / speed["naive"]
      versus_program = speed[loss] / speed[f"{loss} program"]
      target = f"≥ {low_naive}× naive"
      met = _met(versus_naive, low_naive)
      if size == "small" and backend != "cpu":
        target = met = ""
      elif low_program is not None:
        target += f", ≥ {low_program}× program"
        met = _met(
          min(versus_naive / low_naive, versus_program / low_program), 1
        )
      rows.append(
        (
          label,
          f"{num_lanes:,}",
          "Landscape" if loss == "landscape" else "plain function",
          f"{speed[loss]:.0f}",
          f"{speed[f'{loss} program']:.0f}",
          f"{speed['naive']:.0f}",
          f"{speed['hand']:.0f}",
          f"{versus_naive:.2f}×",
          f"{versus_program:.2f}×",
          f"{speed[loss] / speed['hand']:.2f}×",
          target,
          met,
        )
      )
  throughput = Table(
    f"Sweep engine: trajectory-steps per second ({backend}, {devices})",
    (
      "grid shape",
      "lanes",
      "loss given as",
      "sweep M/s",
      "program M/s",
      "naive M/s",
      "hand-fused M/s",
      "sweep / naive",
      "sweep / program",
      "sweep / hand",
      "target",
      "met",
    ),
    rows,
    f"Adam on {_SURFACE}, {_STEPS} steps, float32, on JAX's {backend} "
    f"backend ({devices} device(s)); {'1/16 of ' if quick else ''}a million "
    "trajectories per large grid shape, then sweeps of the gallery's size; "
    "M/s = million trajectory-steps per second, the median of "
    f"{repeats} runs interleaved with the others'. Sweep: "
    "`optax_extras.sweep` (summary only: final and best loss, divergence), "
    "the loss given as the registry Landscape or as a plain function "
    "`f(params)` of a (2,) array; program: `jax.jit(jax.vmap(...))` of the "
    "public `optax_extras.run_lane` with the same loss, the lane `sweep` "
    "runs, in one call on one device, without `sweep`'s checks, blocks, "
    "chunks and settings. Naive: `jit(vmap(scan))` of "
    "`optax.inject_hyperparams(optax.adam)` with the plain function, what a "
    "user writes without the engine; it runs on one device"
    + (
      ", and XLA spreads its loops over the cores (CPU time / wall time: "
      f"{statistics.median(naive_cores):.1f})"
      if backend == "cpu"
      else ""
    )
    + ". Hand-fused: Adam written out on "
    "struct-of-arrays x, y with the surface's gradient inlined, in blocks "
    "over all devices, without the engine's bookkeeping (no target).",
  )

  small = _repeated_small_sweep(surface, 20 if quick else 100)
  first, compiling = _first_result(surface, 2 if quick else 3)
  latency = [
    (
      "2 paths × 50 steps, recorded, a new rate per call (median)",
      f"{1e3 * small:.1f} ms",
      "≤ 5 ms",
      _met(small, high=5e-3),
    ),
    (
      "time to first result: 1,000 rates × 1 start × 200 steps, recorded, "
      "new function objects (compile included; median)",
      f"{first:.2f} s (XLA compile {compiling:.2f} s)",
      "≤ 1 s",
      _met(first, high=1.0),
    ),
    (
      f"first call, {first_call[0]}{' / 16' if quick else ''}, summary "
      "(compile + run)",
      f"{first_call[1]:.2f} s",
      "",
      "",
    ),
  ]
  if quick:
    latency.append(
      (
        "10,000,000-lane summary sweep: peak resident memory",
        "not run (--quick)",
        "≤ 1.5 GB",
        "",
      )
    )
  else:
    memory, seconds = _peak_memory_of_10m_sweep()
    latency.append(
      (
        "10,000,000-lane summary sweep: peak resident memory (its own process)",
        f"{memory:.2f} GB ({seconds:.1f} s, compile included)",
        "≤ 1.5 GB",
        _met(memory, high=1.5),
      )
    )
  return [
    throughput,
    Table(
      f"Sweep engine: latency and memory ({backend}, {devices})",
      ("what", "measured", "target", "met"),
      latency,
      f"Adam on {_SURFACE} through the public `optax_extras.sweep`, float32. "
      "A repeated sweep reuses jit's compiled program (the same function "
      "objects and shapes); the first result of new function objects "
      "includes tracing, lowering and XLA's compilation.",
    ),
  ]


def explorer(*, quick: bool) -> Table:
  """The explorer's request latency, 8 clients at once (explore/bench.py)."""
  from experiments.explore import bench

  return bench.explorer(quick=quick)


SECTIONS: dict[str, Callable[..., Table | list[Table]]] = {
  "sweep": sweep_engine,
  "training": training_step,
  "many_models": many_models,
  "gallery": gallery_time,
  "atlas": atlas_time,
  "explorer": explorer,
}


def _number(cell: str | None) -> bool:
  try:
    float(cell or "")
  except ValueError:
    return False
  return True


def missed(tables: list[Table]) -> Table | None:
  """The rows that missed their target, or None: "no" in a "met" column, or
  "seconds" above "target s". Measured: the "measured" cell, else the ratio
  columns (named "a / b") that the target is about."""
  rows = []
  for table in tables:
    for row in table.rows:
      cells = dict(zip(table.header, row))
      if cells.get("met") == "no":
        measured = cells.get("measured") or ", ".join(
          f"{name} {value}"
          for name, value in cells.items()
          if " / " in name
          or name.endswith(" ms")
          or name.startswith("speed-up")
        )
        rows.append((table.title, row[0], measured, cells.get("target", "")))
      elif cells.get("target s") and _number(cells.get("seconds")):
        if float(cells["seconds"]) > float(cells["target s"]):
          seconds, target = cells["seconds"], cells["target s"]
          rows.append((table.title, row[0], f"{seconds} s", f"≤ {target} s"))
  if not rows:
    return None
  return Table("Missed targets", ("table", "row", "measured", "target"), rows)


def not_run(tables: list[Table]) -> list[str]:
  """The rows with a target that this run did not measure (--quick)."""
  return [
    f"{table.title}: {row[0]}"
    for table in tables
    for row in table.rows
    if any(cell.startswith("not run") for cell in row)
  ]


def run(names: list[str], *, quick: bool, path) -> list[Table]:
  """Runs the chosen benchmarks, prints each table, writes them to `path`
  (Markdown) and returns them."""
  import platform

  command = "python -m experiments benchmark" + (" --quick" if quick else "")
  if set(names) != set(SECTIONS):
    command += " " + " ".join(names)
  header = (
    "# Benchmarks\n\n"
    f"Written by `{command}` on {time.strftime('%Y-%m-%d')}: "
    f"{platform.processor() or platform.machine()}, "
    f"{jax.device_count()} {jax.devices()[0].platform} device(s), "
    f"jax {jax.__version__}, optax {optax.__version__}. Ratios and medians "
    "against baselines measured in the same run.\n"
  )
  parts, every = [header], []
  for name in names:
    tables = SECTIONS[name](quick=quick)
    for table in [tables] if isinstance(tables, Table) else tables:
      print(table.markdown(), flush=True)
      parts.append(table.markdown())
      every.append(table)
  text = "\n".join(parts)
  atomic_write(path, lambda file: file.write(text.encode()))
  return every
