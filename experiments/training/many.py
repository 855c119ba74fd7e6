"""Many models at once: seeds x learning rates of one optimizer as one
`optax_extras.sweep`, and what it shows about learning-rate sensitivity."""

import functools
import hashlib
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import optax_extras
from experiments import tuning
from experiments.training.data import Dataset, load_digits
from experiments.training.loop import History
from experiments.training.model import create_model, evaluate_fn, loss_fn
from experiments.training.optimizers import OPTIMIZERS, _spec, make_optimizer

# The models' minibatches and starts: fixed, so a sweep is reproducible.
SWEEP_KEY = 0


@functools.cache
def _graphdef() -> nnx.GraphDef:
  return nnx.graphdef(create_model(0))


def initial_params(seeds: Sequence[int]) -> dict[str, Any]:
  """The MLP's parameters for each seed, as a pure dict with a leading seed
  axis (``jax.vmap`` of the initialisation)."""
  return jax.vmap(
    lambda seed: nnx.to_pure_dict(nnx.state(create_model(seed), nnx.Param))
  )(np.asarray(seeds, np.int32))


def minibatch_loss(params, key, *, data: Dataset, batch_size: int):
  """The loss on `batch_size` training examples drawn uniformly (with
  replacement) with `key`."""
  rows = jax.random.randint(key, (batch_size,), 0, len(data.x_train))
  model = nnx.merge(_graphdef(), params)
  x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
  return loss_fn(model, x[rows], y[rows])


def metrics(params, *, data: Dataset) -> dict[str, jax.Array]:
  """Loss and accuracy on the whole training and validation sets."""
  model = nnx.merge(_graphdef(), params)
  train = evaluate_fn(model, data.x_train, data.y_train)
  val = evaluate_fn(model, data.x_val, data.y_val)
  return {
    "train_loss": train[0],
    "train_accuracy": train[1],
    "val_loss": val[0],
    "val_accuracy": val[1],
  }


@functools.cache
def _optimizer_factory(
  name: str, total_steps: int, options: tuple[tuple[str, Any], ...]
):
  """``make(learning_rate)`` for one catalogue optimizer and schedule: one
  object per arguments, so that `optax_extras.sweep` (jit's cache, keyed by
  the function object) compiles its program once for them."""
  spec = _spec(name)

  def make(learning_rate):
    return make_optimizer(spec, learning_rate, total_steps, **dict(options))

  return make


_DATASETS: dict[str, Dataset] = {}  # By `_digest`: the first one seen.


def _digest(data: Dataset) -> str:
  """The SHA-256 of a data set's arrays (their dtype, shape and bytes)."""
  digest = hashlib.sha256()
  for array in data:
    array = np.ascontiguousarray(array)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.data)
  return digest.hexdigest()


@functools.cache
def _data_functions(digest: str, batch_size: int):
  """The loss and the metrics on the data set `digest`: one pair of
  function objects per data set (by content) and batch size."""
  data = _DATASETS[digest]
  return (
    functools.partial(minibatch_loss, data=data, batch_size=batch_size),
    functools.partial(metrics, data=data),
  )


def _sweep_functions(
  name: str,
  total_steps: int,
  data: Dataset,
  batch_size: int,
  options: Mapping[str, Any],
):
  """`train_many`'s optimizer factory, loss and metrics: the same objects
  whenever the arguments are equal (data sets by content), so that a second
  sweep of the same shapes compiles nothing."""
  digest = _digest(data)
  _DATASETS.setdefault(digest, data)
  try:
    make = _optimizer_factory(name, total_steps, tuple(sorted(options.items())))
  except TypeError:  # An option that cannot be hashed: a factory anew.
    spec = _spec(name)
    make = lambda learning_rate: make_optimizer(
      spec, learning_rate, total_steps, **options
    )
  return (make, *_data_functions(digest, batch_size))


def train_many(
  optimizer_name: str,
  seeds: Sequence[int],
  learning_rates: Sequence[float],
  *,
  epochs: int = 20,
  batch_size: int = 128,
  data: Dataset | None = None,
  checkpoint_dir: str | os.PathLike | None = None,
  progress: bool = False,
  **optimizer_options: Any,
) -> History:
  """Trains ``len(seeds) x len(learning_rates)`` MLPs as one sweep.

  ``optax_extras.sweep`` with the learning rate as the grid and the seeds'
  initial parameters as the starts (`initial_params`): each step of model
  (seed, rate) draws its minibatch with the sweep's key for that model and
  step (`minibatch_loss`), and the whole-set metrics are recorded once per
  epoch (`metrics`, through ``metrics_fn``). So it inherits the sweep's
  chunking, progress bar, checkpoints and devices; its functions are the
  same objects for the same optimizer, epochs, data and batch size
  (`_sweep_functions`), so a second call with the same shapes compiles
  nothing. An epoch is ``len(x_train) // batch_size`` steps.

  Returns:
    A `History` whose arrays are shaped ``[seeds, learning_rates, epochs+1]``.
  """
  data = load_digits() if data is None else data
  _spec(optimizer_name)  # An unknown name raises here.
  steps_per_epoch = len(data.x_train) // batch_size
  total_steps = epochs * steps_per_epoch
  make, loss, metrics_fn = _sweep_functions(
    optimizer_name, total_steps, data, batch_size, optimizer_options
  )
  result = optax_extras.sweep(
    make,
    loss,
    grid={"learning_rate": np.asarray(learning_rates, np.float32)},
    starts=initial_params(seeds),
    num_steps=total_steps,
    key=jax.random.key(SWEEP_KEY),
    metrics_fn=metrics_fn,
    record_every=steps_per_epoch,
    checkpoint_dir=checkpoint_dir,
    progress=progress,
  )
  recorded = {  # [rates, seeds, epochs + 1] -> [seeds, rates, epochs + 1]
    name: np.swapaxes(values, 0, 1).astype(np.float64)
    for name, values in result.trajectory_metrics.items()
  }
  return History(**recorded)


class Sweep(NamedTuple):
  """`train_many` over a learning-rate grid around the tuned rate."""

  learning_rates: np.ndarray  # [L]
  seeds: np.ndarray  # [S]
  history: History  # [S, L, epochs + 1]


DEFAULT_SWEEP = (
  "nesterov_lookahead",
  "sgd_nesterov",
  "adam_calibrated",
  "adam_first_gradient",
)
# 13 rates a factor of 2 apart, from 1/64 to 64 times the tuned rate: wide
# enough to see each optimizer fail on both sides.
RELATIVE_LEARNING_RATES = 2.0 ** np.arange(-6, 7)


def learning_rate_sweep(
  names: Iterable[str] = DEFAULT_SWEEP,
  *,
  num_seeds: int = 8,
  relative_learning_rates: Sequence[float] = tuple(RELATIVE_LEARNING_RATES),
  epochs: int = 20,
  data: Dataset | None = None,
  show_progress: bool = True,
  **train_options: Any,
) -> dict[str, Sweep]:
  """`train_many` for each optimizer, learning rates relative to its tuned one.

  Each optimizer is swept over the same factors around its own catalogue
  learning rate, so the curves compare the *width* of the good range.
  """
  from tqdm.auto import tqdm

  names = tuple(names)
  data = load_digits() if data is None else data
  seeds = np.arange(num_seeds)
  sweeps = {}
  for name in tqdm(names, desc="sweeps", disable=not show_progress):
    rates = OPTIMIZERS[name].learning_rate * np.asarray(
      relative_learning_rates, np.float64
    )
    history = train_many(
      name, seeds, rates, epochs=epochs, data=data, **train_options
    )
    sweeps[name] = Sweep(rates, seeds, history)
  return sweeps


def sensitivity_table(
  sweeps: Mapping[str, Sweep], *, tolerance: float = 0.02
) -> str:
  """Per optimizer: the best rate, the width of the good range, and the fall.

  Accuracies are final validation accuracies, means over seeds. The best
  rate is `experiments.tuning.robust_rate` of the final validation losses
  (so not a rate beside one that diverges on some seed). "Good" learning
  rates are those within `tolerance` of the best; the width is the
  ratio of the largest to the smallest good rate. The last columns give the
  accuracy at the best rate times 1/16, 1/4, 2, 4 and 8, where the grid has
  them: how fast accuracy falls on each side of the optimum.
  """
  factors = (1 / 16, 1 / 4, 2, 4, 8)
  header = " ".join(f"{'x' + _fraction(f):>7}" for f in factors)
  rows = [
    f"{'optimizer':<20} {'best lr':>8} {'val acc':>14} {'good range':>10} "
    + header
  ]
  for name, sweep in sweeps.items():
    accuracy = sweep.history.val_accuracy[..., -1]  # [S, L]
    mean, spread = accuracy.mean(0), accuracy.std(0)
    best = tuning.robust_rate(sweep.history.val_loss[..., -1].T)
    good = np.flatnonzero(mean >= mean[best] - tolerance)
    width = sweep.learning_rates[good].max() / sweep.learning_rates[good].min()
    around = []
    for factor in factors:
      rate = sweep.learning_rates[best] * factor
      index = int(np.argmin(np.abs(np.log(sweep.learning_rates / rate))))
      close = abs(math.log(sweep.learning_rates[index] / rate)) < 0.1
      around.append(f"{mean[index]:>7.1%}" if close else f"{'-':>7}")
    rows.append(
      f"{name:<20} {sweep.learning_rates[best]:>8.3g} "
      f"{mean[best]:>7.2%} ±{spread[best]:>5.2%} {width:>9.0f}x "
      + " ".join(around)
    )
  return "\n".join(rows)


def _fraction(factor: float) -> str:
  return f"1/{round(1 / factor)}" if factor < 1 else f"{factor:g}"
