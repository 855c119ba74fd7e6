"""Benchmarks: each prints a table; together they write BENCHMARKS.md.

Every number is a ratio or a median over repeats, measured against its
baseline in the same run (the machines are shared and noisy).
"""

import dataclasses
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optax_extras


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
  """The vmapped seeds x learning rates training against a Python loop."""
  from experiments import training

  data = training.load_digits()
  seeds = tuple(range(2 if quick else 8))
  rates = tuple(0.01 * 2.0**k for k in range(4 if quick else 8))
  epochs = 2
  rows = []
  for name in ("nesterov_lookahead", "adam_calibrated"):
    start = time.perf_counter()
    training.train_many(name, seeds, rates, epochs=epochs, data=data)
    vmapped = time.perf_counter() - start
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
        f"{vmapped:.2f}",
        f"{looped:.2f}",
        f"{looped / vmapped:.1f}×",
      )
    )
  return Table(
    "Many models at once: vmapped against a Python loop",
    ("optimizer", "seeds × rates", "vmapped s", "loop s", "speed-up"),
    rows,
    f"experiments/training.py on the digits, {epochs} epochs. The vmapped "
    "time includes its compilation (train_many compiles on each call); the "
    "loop's jitted step is compiled before timing.",
  )


def gallery_time(*, quick: bool) -> Table:
  """Wall time of the gallery from scratch (nothing saved), quick and full."""
  import pathlib
  import tempfile

  from experiments import gallery

  rows = []
  for mode in (True,) if quick else (True, False):
    with tempfile.TemporaryDirectory() as out:
      start = time.perf_counter()
      entries = gallery.build(pathlib.Path(out), quick=mode)
      seconds = time.perf_counter() - start
    target = 60 if mode else 300
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


# --- The sweep engine (issue 3): trajectory-steps per second -----------------

_SURFACE = "hills_and_canyon"
_STEPS = 125


def _adam_grid(num_rates: int, num_starts: int):
  rates = np.logspace(-3, 0, num_rates)
  starts = np.random.default_rng(0).uniform(-3, 3, (num_starts, 2))
  return rates, starts


def _baseline_vmap_scan(surface, rates, starts):
  """(c) jit(vmap(scan)) of optax.adam with (N, 2) parameters."""

  def one(rate, start):
    transform = optax.adam(rate)

    def step(carry, _):
      params, state = carry
      updates, state = transform.update(
        jax.grad(surface)(params), state, params
      )
      return (params + updates, state), None

    (params, _), _ = jax.lax.scan(
      step, (start, transform.init(start)), length=_STEPS
    )
    return params, surface(params)

  run = jax.jit(jax.vmap(one))
  lane_rates = jnp.asarray(np.repeat(rates, len(starts)), jnp.float32)
  lane_starts = jnp.asarray(np.tile(starts, (len(rates), 1)), jnp.float32)
  return lambda: jax.block_until_ready(run(lane_rates, lane_starts))


def _baseline_hand_kernel(surface, rates, starts):
  """(d) Adam written out on x and y arrays, blocked and sharded like the engine."""
  from jax.sharding import Mesh, PartitionSpec

  grad_xy = jax.grad(lambda x, y: surface.fn(x, y).sum(), argnums=(0, 1))

  def kernel(rate, x, y):
    def step(carry, t):
      x, y, mx, my, vx, vy = carry
      gx, gy = grad_xy(x, y)
      mx, my = 0.9 * mx + 0.1 * gx, 0.9 * my + 0.1 * gy
      vx, vy = 0.999 * vx + 0.001 * gx * gx, 0.999 * vy + 0.001 * gy * gy
      c1, c2 = 1 - 0.9**t, 1 - 0.999**t
      x = x - rate * (mx / c1) / (jnp.sqrt(vx / c2) + 1e-8)
      y = y - rate * (my / c1) / (jnp.sqrt(vy / c2) + 1e-8)
      return (x, y, mx, my, vx, vy), None

    zero = jnp.zeros_like(x)
    steps = jnp.arange(1, _STEPS + 1, dtype=jnp.float32)
    (x, y, *_), _ = jax.lax.scan(step, (x, y, zero, zero, zero, zero), steps)
    return x, y, surface.fn(x, y)

  def blocked(*lanes, block=4096):
    n = lanes[0].shape[0]
    out = jax.lax.map(
      lambda b: kernel(*b), tuple(a.reshape(n // block, block) for a in lanes)
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
  multiple = 4096 * jax.device_count()
  n = (len(rates) * len(starts) // multiple) * multiple
  lane_rates = jnp.asarray(np.repeat(rates, len(starts))[:n], jnp.float32)
  lane_starts = np.tile(starts, (len(rates), 1))[:n].astype(np.float32)
  return n, lambda: jax.block_until_ready(
    run(
      lane_rates, jnp.asarray(lane_starts[:, 0]), jnp.asarray(lane_starts[:, 1])
    )
  )


def _baseline_config_loop(surface, rates, starts, num_configs):
  """(b) A Python loop over configurations of one jitted optax scan."""

  @jax.jit
  def one_config(rate, starts):
    transform = optax.adam(rate)

    def step(carry, _):
      params, state = carry
      grads = jax.vmap(jax.grad(surface))(params)
      updates, state = transform.update(grads, state, params)
      return (params + updates, state), None

    (params, _), _ = jax.lax.scan(
      step, (starts, transform.init(starts)), length=_STEPS
    )
    return surface(params)

  starts = jnp.asarray(starts, jnp.float32)
  return lambda: [
    jax.block_until_ready(one_config(jnp.float32(r), starts))
    for r in rates[:num_configs]
  ]


def _baseline_numpy_loop(surface, starts, num_trajectories):
  """(a) The seeds' style: one trajectory at a time, a compiled gradient per step."""
  grad = jax.jit(jax.grad(surface))

  def run():
    for start in starts[:num_trajectories]:
      w, m, v = np.array(start, np.float32), np.zeros(2), np.zeros(2)
      for t in range(1, _STEPS + 1):
        g = np.asarray(grad(w))
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        w = w - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)

  return run


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


def sweep_engine(*, quick: bool) -> Table:
  """Trajectory-steps per second of the sweep engine against four baselines."""
  from optax_extras import landscapes, sweep

  surface = landscapes.get(_SURFACE)
  rates, starts = _adam_grid(100 if quick else 1000, 1000)
  num_lanes = len(rates) * len(starts)
  repeats = 1 if quick else 3
  rate = lambda seconds, lanes=num_lanes: (
    f"{lanes * _STEPS / seconds / 1e6:.3g}"
  )

  start = time.perf_counter()
  run_engine = lambda make=optax.adam: sweep(
    make,
    surface,
    grid={"learning_rate": rates},
    starts=starts.astype(np.float32),
    num_steps=_STEPS,
    progress=False,
  )
  run_engine()
  first_call = time.perf_counter() - start
  engine = median_seconds(run_engine, repeats=repeats)
  hand_lanes, hand = _baseline_hand_kernel(surface, rates, starts)
  measured = {
    "engine": engine,
    "(c) jit(vmap(scan)), (N, 2)": median_seconds(
      _baseline_vmap_scan(surface, rates, starts), repeats=repeats
    ),
    "(d) hand-fused SoA kernel": median_seconds(hand, repeats=repeats),
  }
  configs, trajectories = 10, 4
  loop = median_seconds(
    _baseline_config_loop(surface, rates, starts, configs), repeats=1
  )
  numpy_loop = median_seconds(
    _baseline_numpy_loop(surface, starts, trajectories), repeats=1
  )
  rows = [
    ("optax_extras.sweep, Adam", rate(engine), "1.00", ""),
    (
      "(a) per-trajectory loop, seeds' style",
      rate(numpy_loop, trajectories),
      f"{numpy_loop / trajectories * num_lanes / engine:.0f}",
      f"{trajectories} trajectories, scaled",
    ),
    (
      "(b) Python loop over configs of a jitted optax scan",
      rate(loop, configs * len(starts)),
      f"{loop / configs * len(rates) / engine:.1f}",
      f"{configs} configs, scaled",
    ),
    (
      "(c) jit(vmap(scan)) of optax.adam, (N, 2) params",
      rate(measured["(c) jit(vmap(scan)), (N, 2)"]),
      f"{measured['(c) jit(vmap(scan)), (N, 2)'] / engine:.2f}",
      "",
    ),
    (
      "(d) hand-fused SoA Adam kernel, no bookkeeping",
      rate(measured["(d) hand-fused SoA kernel"], hand_lanes),
      f"{measured['(d) hand-fused SoA kernel'] / hand_lanes * num_lanes / engine:.2f}",
      "no loss tracking, divergence or chunking",
    ),
  ]
  for label, fractions in (
    ("heavy ball (0.0,)", (0.0,)),
    ("NAG, 1 point", (1.0,)),
    ("smoothed, 4 points", (0.25, 0.5, 0.75, 1.0)),
  ):
    make = lambda learning_rate, f=fractions: optax_extras.nesterov_lookahead(
      learning_rate, 0.9, f
    )
    seconds = median_seconds(
      lambda make=make: run_engine(make), repeats=repeats
    )
    rows.append(
      (
        f"optax_extras.sweep, nesterov_lookahead {label}",
        rate(seconds),
        f"{seconds / engine:.2f}",
        "gradients per step: 1 at θ "
        f"(the engine tracks the loss) + {sum(c != 0 for c in fractions)} ahead",
      )
    )
  note = (
    f"Adam on {_SURFACE}, {num_lanes:,} trajectories ({len(rates)} learning "
    f"rates on a log grid × {len(starts)} starts) × {_STEPS} steps, summary "
    f"only, float32, {jax.device_count()} device(s). M/s = million "
    "trajectory-steps per second; 'time ×' is a baseline's time over the "
    f"engine's for the same work. First call (compile + run): "
    f"{first_call:.2f} s against {engine:.2f} s warm. Targets on the 2-core "
    "CPU: ≥ 300 M/s, ≥ 5× baseline (c), within 10% of (d), compile ≤ 3 s."
  )
  if not quick:
    memory, seconds = _peak_memory_of_10m_sweep()
    note += (
      f" A 10,000,000-trajectory summary sweep: {memory:.2f} GB peak "
      f"resident memory, {seconds:.1f} s including compile (target ≤ 1.5 GB)."
    )
  return Table(
    "Sweep engine: trajectory-steps per second",
    ("program", "M/s", "time ×", "note"),
    rows,
    note,
  )


SECTIONS: dict[str, Callable[..., Table]] = {
  "sweep": sweep_engine,
  "training": training_step,
  "many_models": many_models,
  "gallery": gallery_time,
}


def run(names: list[str], *, quick: bool, path) -> str:
  """Runs the chosen benchmarks, prints each table, writes them to `path`."""
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
  parts = [header]
  for name in names:
    table = SECTIONS[name](quick=quick)
    print(table.markdown(), flush=True)
    parts.append(table.markdown())
  text = "\n".join(parts)
  path.write_text(text, encoding="utf-8")
  return text
