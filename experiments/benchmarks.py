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
    ("nesterov_lookahead (0.0,)",
     lambda: optax_extras.nesterov_lookahead(0.05, 0.9, (0.0,)),
     "optax.sgd(momentum)", lambda: optax.sgd(0.05, 0.9), ""),
    ("nesterov_lookahead (1.0,)",
     lambda: optax_extras.nesterov_lookahead(0.05, 0.9, (1.0,)),
     "optax.sgd(nesterov)", lambda: optax.sgd(0.05, 0.9, nesterov=True),
     "1 gradient per step, as optax: the one at θ unused, XLA drops it"),
    ("nesterov_lookahead (¼, ½, ¾, 1)",
     lambda: optax_extras.nesterov_lookahead(0.05, 0.9, (0.25, 0.5, 0.75, 1.0)),
     "optax.sgd(nesterov)", lambda: optax.sgd(0.05, 0.9, nesterov=True),
     "4 gradients per step (at ¼, ½, ¾, 1 of γv)"),
    ("adadelta_bigstart", lambda: optax_extras.adadelta_bigstart(1.0),
     "optax.adadelta", lambda: optax.adadelta(1.0), ""),
    ("adam_calibrated", lambda: optax_extras.adam_calibrated(1e-3),
     "optax.adam", lambda: optax.adam(1e-3), ""),
    ("adam_calibrated first_gradient",
     lambda: optax_extras.adam_calibrated(1e-3, bias_correction="first_gradient"),
     "optax.adam", lambda: optax.adam(1e-3), ""),
    ("adagrad_family", lambda: optax_extras.adagrad_family(0.1),
     "optax.adagrad", lambda: optax.adagrad(0.1), ""),
)


def _mlp(sizes=(64, 512, 512, 10), seed=0):
  keys = jax.random.split(jax.random.key(seed), len(sizes) - 1)
  return [{"w": jax.random.normal(k, (a, b), jnp.float32) / np.sqrt(a),
           "b": jnp.zeros((b,), jnp.float32)}
          for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


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
          batch_grad_fn(params), state, params, grad_fn=batch_grad_fn)
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
    runners = {"ours": _steps_runner(ours(), params, x, y, num_steps),
               "theirs": _steps_runner(theirs(), params, x, y, num_steps)}
    for _ in range(3):
      for key, runner in runners.items():
        times[key].append(median_seconds(runner, repeats=repeats // 3 or 1))
    ours_s = statistics.median(times["ours"]) / num_steps
    theirs_s = statistics.median(times["theirs"]) / num_steps
    rows.append((ours_name, f"{1e6 * ours_s:.0f}", theirs_name,
                 f"{1e6 * theirs_s:.0f}", f"{ours_s / theirs_s:.2f}×", note))
  return Table(
      "Training step: this library against optax",
      ("ours", "µs/step", "optax", "µs/step", "ratio", "note"), rows,
      "An MLP 64-512-512-10 (0.3 M parameters), batch 128, float32: the median "
      f"time of a step inside a jitted scan of {num_steps} steps. Target: "
      "ratio ≤ 1.05 where the rules cost the same; look-ahead adds gradient "
      "evaluations by design.")


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
        training.train(name, epochs=epochs, seed=seed, learning_rate=rate,
                       data=data)
    looped = time.perf_counter() - start
    rows.append((name, f"{len(seeds)} × {len(rates)}", f"{vmapped:.2f}",
                 f"{looped:.2f}", f"{looped / vmapped:.1f}×"))
  return Table(
      "Many models at once: vmapped against a Python loop",
      ("optimizer", "seeds × rates", "vmapped s", "loop s", "speed-up"), rows,
      f"experiments/training.py on the digits, {epochs} epochs. The vmapped "
      "time includes its compilation (train_many compiles on each call); the "
      "loop's jitted step is compiled before timing.")


def gallery_time(*, quick: bool) -> Table:
  """Wall time of the gallery from scratch (nothing saved), quick and full."""
  import tempfile

  from experiments import gallery

  rows = []
  for mode in ((True,) if quick else (True, False)):
    with tempfile.TemporaryDirectory() as out:
      start = time.perf_counter()
      entries = gallery.build(__import__("pathlib").Path(out), quick=mode)
      seconds = time.perf_counter() - start
    target = 60 if mode else 300
    rows.append(("gallery --quick" if mode else "gallery", f"{len(entries)}",
                 f"{seconds:.0f}", f"{target}"))
  return Table(
      "Gallery", ("command", "files", "seconds", "target s"), rows,
      "python -m experiments gallery from an empty folder: compute, draw, "
      "animate and index everything.")


SECTIONS: dict[str, Callable[..., Table]] = {
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
      "against baselines measured in the same run.\n")
  parts = [header]
  for name in names:
    table = SECTIONS[name](quick=quick)
    print(table.markdown(), flush=True)
    parts.append(table.markdown())
  text = "\n".join(parts)
  path.write_text(text, encoding="utf-8")
  return text
