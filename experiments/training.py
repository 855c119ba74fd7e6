"""Training a Flax (nnx) network with every optimizer of this library.

The example reads top to bottom like a Flax tutorial:

1. **Data**: scikit-learn's 8x8 handwritten digits (shipped with the package,
   no download), scaled to [0, 1], split 80/20 with stratification.
2. **Model**: a small MLP, 64 -> 64 -> 10 with a ReLU.
3. **Optimizers**: a catalogue, `OPTIMIZERS`, of this library's optimizers
   next to their optax counterparts, each behind the same
   ``optax.chain(clip_by_global_norm, add_decayed_weights, optimizer)`` with a
   cosine learning-rate schedule, inside ``nnx.Optimizer``.
4. **Train step**: one ``@nnx.jit`` step for all of them. The look-ahead
   momentum (`optax_extras.nesterov_lookahead`) reads gradients at points
   ahead of the parameters, so the step hands it
   ``grad_fn = gradient of the mini-batch loss at given parameters``
   through ``optimizer.update(model, grads, grad_fn=...)``; the others ignore
   it.
5. **Loop**: `train` runs one optimizer and returns its `History`;
   `learning_histories` runs several; `plot_learning_histories` draws them.

Then **many models at once**: `train_many` trains seeds x learning rates of
one optimizer as a single vmapped computation (the same train step, under
``nnx.vmap``), and `learning_rate_sweep` / `plot_sweep` /
`sensitivity_table` use it to test the seed article's claim that Nesterov
momentum is more sensitive to the learning rate than Adam.

`run(out_dir, quick=False)` does it all and writes two PNGs; `main(argv)` is
its command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, traverse_util

import optax_extras

# -----------------------------------------------------------------------------
# 1. Data
# -----------------------------------------------------------------------------


class Dataset(NamedTuple):
  """The digits, as float32 features in [0, 1] and int32 labels."""

  x_train: np.ndarray  # [1437, 64]
  y_train: np.ndarray  # [1437]
  x_val: np.ndarray  # [360, 64]
  y_val: np.ndarray  # [360]


def load_digits(validation_fraction: float = 0.2, seed: int = 0) -> Dataset:
  """scikit-learn's 8x8 digits with a fixed stratified split.

  The pixels (0..16) are divided by 16. Everything is cast explicitly to
  float32 / int32, so the model trains in float32 with or without x64
  (``jax.enable_x64``), to rounding.
  """
  from sklearn import datasets, model_selection

  digits = datasets.load_digits()
  x = (digits.data / 16.0).astype(np.float32)
  y = digits.target.astype(np.int32)
  x_train, x_val, y_train, y_val = model_selection.train_test_split(
    x, y, test_size=validation_fraction, stratify=y, random_state=seed
  )
  return Dataset(x_train, y_train, x_val, y_val)


def epoch_batches(
  seed: int, epoch: int, num_examples: int, batch_size: int
) -> np.ndarray:
  """Indices `[steps, batch_size]` of one epoch's mini-batches.

  A fixed shuffle per (seed, epoch); the last incomplete batch is dropped, so
  every step has the same shape (one compilation).
  """
  order = np.random.default_rng([seed, epoch]).permutation(num_examples)
  steps = num_examples // batch_size
  return order[: steps * batch_size].reshape(steps, batch_size)


# -----------------------------------------------------------------------------
# 2. Model
# -----------------------------------------------------------------------------


class MLP(nnx.Module):
  """64 -> 64 -> 10, ReLU: about 4,800 parameters."""

  def __init__(
    self,
    in_features: int = 64,
    hidden_features: int = 64,
    num_classes: int = 10,
    *,
    rngs: nnx.Rngs,
  ):
    self.hidden = nnx.Linear(in_features, hidden_features, rngs=rngs)
    self.output = nnx.Linear(hidden_features, num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.output(nnx.relu(self.hidden(x)))


def loss_fn(model: MLP, x: jax.Array, y: jax.Array) -> jax.Array:
  """Mean cross-entropy of the logits against integer labels."""
  logits = model(x)
  return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def create_model(seed: int | jax.Array) -> MLP:
  """The MLP initialised from `seed`; `seed` may be traced (under vmap)."""
  return MLP(rngs=nnx.Rngs(jax.random.key(seed)))


# -----------------------------------------------------------------------------
# 3. Optimizers
# -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
  """One entry of the catalogue: an optimizer and its settings.

  Attributes:
    factory: ``schedule -> optax transform``; ``schedule(count)`` is the
      learning rate at step ``count``.
    learning_rate: the peak of the schedule, tuned for this example.
    weight_decay: coupled L2 (``optax.add_decayed_weights``) on the kernels.
    family: the optimizers that are compared with each other.
    description: one line for tables and legends.
  """

  factory: Callable[[optax.Schedule], optax.GradientTransformation]
  learning_rate: float
  weight_decay: float = 0.0
  family: str = ""
  description: str = ""


SMOOTHED_LOOKAHEAD = (0.25, 0.5, 0.75, 1.0)

# Weight decay (coupled L2) is used for the momentum family, where it is the
# usual weight decay; for the adaptive optimizers L2 in the gradient is not
# weight decay (AdamW decouples it), so they train without it.
_WEIGHT_DECAY = 1e-4

OPTIMIZERS: dict[str, OptimizerSpec] = {
  # Momentum.
  "momentum": OptimizerSpec(
    lambda lr: optax.sgd(lr, momentum=0.9),
    0.3,
    _WEIGHT_DECAY,
    "momentum",
    "optax.sgd(momentum=0.9)",
  ),
  "sgd_nesterov": OptimizerSpec(
    lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True),
    0.3,
    _WEIGHT_DECAY,
    "momentum",
    "optax.sgd(momentum=0.9, nesterov=True)",
  ),
  "nesterov_lookahead": OptimizerSpec(
    lambda lr: optax_extras.nesterov_lookahead(lr, 0.9, (1.0,)),
    0.3,
    _WEIGHT_DECAY,
    "momentum",
    "nesterov_lookahead, 1 point ahead",
  ),
  "smoothed_nesterov": OptimizerSpec(
    lambda lr: optax_extras.nesterov_lookahead(lr, 0.9, SMOOTHED_LOOKAHEAD),
    0.3,
    _WEIGHT_DECAY,
    "momentum",
    "nesterov_lookahead, 4 points ahead",
  ),
  # Adam.
  "adam": OptimizerSpec(
    optax.adam, 1e-2, family="adam", description="optax.adam"
  ),
  "adam_calibrated": OptimizerSpec(
    optax_extras.adam_calibrated,
    1e-2,
    family="adam",
    description="adam_calibrated, standard",
  ),
  "adam_first_gradient": OptimizerSpec(
    lambda lr: optax_extras.adam_calibrated(
      lr, bias_correction="first_gradient"
    ),
    1e-2,
    family="adam",
    description="adam_calibrated, first_gradient",
  ),
  "rmsprop": OptimizerSpec(
    optax.rmsprop, 1e-2, family="adam", description="optax.rmsprop"
  ),
  # Adadelta.
  "adadelta": OptimizerSpec(
    optax.adadelta,
    1.0,
    family="adadelta",
    description="optax.adadelta (starts from 0)",
  ),
  "adadelta_bigstart": OptimizerSpec(
    lambda lr: optax_extras.adadelta_bigstart(
      lr, rho=0.9, initial_delta_sq=1e-4
    ),
    1.0,
    family="adadelta",
    description="adadelta_bigstart, E[dx^2]_0 = 1e-4",
  ),
  # Adagrad.
  "adagrad": OptimizerSpec(
    optax.adagrad,
    0.3,
    family="adagrad",
    description="optax.adagrad (A_0 = 0.1)",
  ),
  "adagrad_family": OptimizerSpec(
    lambda lr: optax_extras.adagrad_family(lr, initial_accumulator_value=0.1),
    0.3,
    family="adagrad",
    description="adagrad_family, power 1/2",
  ),
  "adagrad_power1": OptimizerSpec(
    lambda lr: optax_extras.adagrad_family(
      lr, power=1.0, initial_accumulator_value=0.1
    ),
    0.3,
    family="adagrad",
    description="adagrad_family, power 1",
  ),
}
"""Name -> optimizer, this library's next to optax's (tuned learning rates)."""

LIBRARY_OPTIMIZERS = (
  "nesterov_lookahead",
  "smoothed_nesterov",
  "adam_calibrated",
  "adam_first_gradient",
  "adadelta_bigstart",
  "adagrad_family",
  "adagrad_power1",
)


def _kernels_only(params: optax.Params) -> Any:
  """Weight-decay mask: True on the weight matrices, False on the biases."""
  return jax.tree_util.tree_map_with_path(
    lambda path, _: getattr(path[-1], "key", None) == "kernel", params
  )


def _with_grad_fn_through(
  preprocess: optax.GradientTransformation,
  inner: optax.GradientTransformation,
) -> optax.GradientTransformationExtraArgs:
  """`inner`, whose ``grad_fn`` gradients also pass through `preprocess`.

  In ``optax.chain(preprocess, lookahead)``, the gradients that
  ``grad_fn`` returns at the points ahead would skip `preprocess` (that is
  documented behaviour of `scale_by_momentum_lookahead`: with
  ``lookahead=(1.0,)`` the incoming gradient is not used at all, so clipping
  before it would clip nothing). This wrapper applies the same `preprocess`
  to them, so the look-ahead optimizers see clipped, decayed gradients like
  every other. `preprocess` must be stateless (clipping, weight decay are).
  Other optimizers ignore ``grad_fn``, and this wrapper with them.
  """

  def update_fn(updates, state, params=None, *, grad_fn=None, **extra_args):
    if grad_fn is not None:
      raw_grad_fn = grad_fn

      def grad_fn(point):
        grads = raw_grad_fn(point)
        return preprocess.update(grads, preprocess.init(point), point)[0]

      extra_args["grad_fn"] = grad_fn
    return inner.update(updates, state, params, **extra_args)

  return optax.GradientTransformationExtraArgs(inner.init, update_fn)


def make_optimizer(
  spec: OptimizerSpec,
  learning_rate: float | jax.Array,
  total_steps: int,
  *,
  clip_norm: float = 1.0,
) -> optax.GradientTransformationExtraArgs:
  """``chain(clip, weight decay, optimizer with a cosine schedule)``.

  The schedule decays from `learning_rate` to a tenth of it over
  `total_steps`. `learning_rate` (the peak) is an
  ``optax.inject_hyperparams`` hyperparameter: it lives in the optimizer
  state (``opt_state[1].hyperparams["learning_rate"]``), so it can be traced
  and vmapped (`train_many`).
  """
  shape = optax.cosine_decay_schedule(1.0, max(total_steps, 1), alpha=0.1)

  def scheduled(learning_rate):
    return spec.factory(lambda count: learning_rate * shape(count))

  preprocess = optax.chain(
    optax.clip_by_global_norm(clip_norm),
    optax.add_decayed_weights(spec.weight_decay, mask=_kernels_only),
  )
  return optax.chain(
    preprocess,
    _with_grad_fn_through(
      preprocess,
      optax.inject_hyperparams(scheduled)(learning_rate=learning_rate),
    ),
  )


def create(
  name: str,
  seed: int | jax.Array,
  learning_rate: float | jax.Array,
  total_steps: int,
  **optimizer_options: Any,
) -> tuple[MLP, nnx.Optimizer]:
  """A fresh model and its ``nnx.Optimizer`` for catalogue entry `name`."""
  spec = _spec(name)
  model = create_model(seed)
  tx = make_optimizer(spec, learning_rate, total_steps, **optimizer_options)
  return model, nnx.Optimizer(model, tx, wrt=nnx.Param)


def _spec(name: str) -> OptimizerSpec:
  if name not in OPTIMIZERS:
    raise KeyError(
      f"Unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}."
    )
  return OPTIMIZERS[name]


# -----------------------------------------------------------------------------
# 4. Train step
# -----------------------------------------------------------------------------


def train_step_fn(
  model: MLP, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array
) -> jax.Array:
  """One optimizer step on a mini-batch; returns the mini-batch loss.

  ``grad_fn`` evaluates the gradient of the same mini-batch loss at other
  parameters: ``nnx.Optimizer.update`` calls the optimizer with the
  parameters as a pure ``nnx.State`` (arrays only), and
  ``nnx.merge(graphdef, params)`` turns such a state back into a model.
  """
  graphdef = nnx.graphdef(model)

  def loss_at(params: nnx.State) -> jax.Array:
    return loss_fn(nnx.merge(graphdef, params), x, y)

  loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
  optimizer.update(model, grads, grad_fn=jax.grad(loss_at))
  return loss


train_step = nnx.jit(train_step_fn)


def evaluate_fn(model: MLP, x: jax.Array, y: jax.Array) -> jax.Array:
  """``[loss, accuracy]`` on a whole data set."""
  logits = model(x)
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
  accuracy = jnp.mean(jnp.argmax(logits, -1) == y)
  return jnp.stack([loss, accuracy.astype(loss.dtype)])


evaluate = nnx.jit(evaluate_fn)


# -----------------------------------------------------------------------------
# 5. Loop
# -----------------------------------------------------------------------------


class History(NamedTuple):
  """Per-epoch metrics, shaped ``[..., epochs + 1]``.

  Index 0 is before training; index e is after epoch e. Leading axes (if any)
  are those of `train_many`: ``[seed, learning_rate]``.
  """

  train_loss: np.ndarray
  val_loss: np.ndarray
  train_accuracy: np.ndarray
  val_accuracy: np.ndarray


def _history(metrics: Sequence[np.ndarray]) -> History:
  """From per-epoch ``[..., 4]`` (train loss, train acc, val loss, val acc)."""
  stacked = np.stack([np.asarray(m, np.float64) for m in metrics], axis=-1)
  return History(
    train_loss=stacked[..., 0, :],
    val_loss=stacked[..., 2, :],
    train_accuracy=stacked[..., 1, :],
    val_accuracy=stacked[..., 3, :],
  )


def train(
  optimizer_name: str,
  *,
  epochs: int = 30,
  seed: int = 0,
  learning_rate: float | None = None,
  batch_size: int = 128,
  data: Dataset | None = None,
  progress: Any = None,
  **optimizer_options: Any,
) -> History:
  """Trains the MLP with one optimizer of the catalogue.

  Args:
    optimizer_name: a key of `OPTIMIZERS`.
    epochs: passes over the training set.
    seed: initialisation and shuffling.
    learning_rate: peak learning rate; the catalogue's by default.
    batch_size: mini-batch size.
    data: the data set; `load_digits()` by default.
    progress: a tqdm bar to advance by one per epoch, or None.
    **optimizer_options: passed to `make_optimizer` (``clip_norm``).

  Returns:
    The `History` of train / validation loss and accuracy.
  """
  data = load_digits() if data is None else data
  spec = _spec(optimizer_name)
  learning_rate = spec.learning_rate if learning_rate is None else learning_rate
  steps_per_epoch = len(data.x_train) // batch_size
  model, optimizer = create(
    optimizer_name,
    seed,
    learning_rate,
    epochs * steps_per_epoch,
    **optimizer_options,
  )

  def metrics() -> np.ndarray:
    return np.concatenate(
      [
        np.asarray(evaluate(model, data.x_train, data.y_train)),
        np.asarray(evaluate(model, data.x_val, data.y_val)),
      ]
    )

  history = [metrics()]
  for epoch in range(epochs):
    for batch in epoch_batches(seed, epoch, len(data.x_train), batch_size):
      train_step(model, optimizer, data.x_train[batch], data.y_train[batch])
    history.append(metrics())
    if progress is not None:
      progress.update(1)
  return _history(history)


def learning_histories(
  names: Iterable[str] = tuple(OPTIMIZERS),
  epochs: int = 30,
  *,
  seed: int = 0,
  data: Dataset | None = None,
  show_progress: bool = True,
  **train_options: Any,
) -> dict[str, History]:
  """`train` for each optimizer in `names`, with one tqdm bar over all."""
  from tqdm.auto import tqdm

  names = tuple(names)
  data = load_digits() if data is None else data
  histories = {}
  with tqdm(
    total=len(names) * epochs,
    desc="training",
    unit="epoch",
    disable=not show_progress,
  ) as bar:
    for name in names:
      bar.set_postfix_str(name)
      histories[name] = train(
        name,
        epochs=epochs,
        seed=seed,
        data=data,
        progress=bar,
        **train_options,
      )
  return histories


_METRICS = (
  ("train_loss", "training loss", True),
  ("val_loss", "validation loss", True),
  ("train_accuracy", "training accuracy", False),
  ("val_accuracy", "validation accuracy", False),
)
_FAMILY_COLORS = {
  "momentum": "tab:blue",
  "adam": "tab:red",
  "adadelta": "tab:green",
  "adagrad": "tab:purple",
}
_LINE_STYLES = ("-", "--", ":", "-.")


def _styles(names: Sequence[str]) -> dict[str, dict[str, Any]]:
  """One colour per family, one line style per member of the family."""
  seen: dict[str, int] = {}
  styles = {}
  for name in names:
    family = OPTIMIZERS[name].family if name in OPTIMIZERS else ""
    index = seen.get(family, 0)
    seen[family] = index + 1
    styles[name] = {
      "color": _FAMILY_COLORS.get(family),
      "linestyle": _LINE_STYLES[index % len(_LINE_STYLES)],
    }
  return styles


def plot_learning_histories(
  histories: Mapping[str, History], path: str | Path, *, title: str = ""
) -> Path:
  """The learning-history figure: 2 x 2 panels, one line per optimizer.

  Training and validation loss (log scale) and accuracy per epoch.
  """
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  styles = _styles(list(histories))
  fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), sharex=True)
  for ax, (field, label, log) in zip(axes.T.ravel(), _METRICS):
    for name, history in histories.items():
      values = getattr(history, field)
      ax.plot(np.arange(len(values)), values, label=name, **styles[name])
    ax.set_title(label)
    ax.set_yscale("log" if log else "linear")
    if not log:
      ax.set_ylim(0.5, 1.005)
    ax.grid(alpha=0.3)
  for ax in axes[-1]:
    ax.set_xlabel("epoch")
  axes[0, 1].legend(fontsize=8, ncol=2)
  fig.suptitle(title or "Digits MLP: learning histories")
  fig.tight_layout()
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def results_table(histories: Mapping[str, History]) -> str:
  """Final losses and accuracies, one row per optimizer."""
  rows = [
    f"{'optimizer':<22} {'lr':>7} {'train loss':>10} {'val loss':>9} "
    f"{'train acc':>9} {'val acc':>8}"
  ]
  for name, h in histories.items():
    lr = OPTIMIZERS[name].learning_rate if name in OPTIMIZERS else math.nan
    rows.append(
      f"{name:<22} {lr:>7.3g} {h.train_loss[-1]:>10.4f} "
      f"{h.val_loss[-1]:>9.4f} {h.train_accuracy[-1]:>9.2%} "
      f"{h.val_accuracy[-1]:>8.2%}"
    )
  return "\n".join(rows)


# -----------------------------------------------------------------------------
# 6. Many models at once
# -----------------------------------------------------------------------------


def train_many(
  optimizer_name: str,
  seeds: Sequence[int],
  learning_rates: Sequence[float],
  *,
  epochs: int = 20,
  batch_size: int = 128,
  data: Dataset | None = None,
  progress: Any = None,
  **optimizer_options: Any,
) -> History:
  """Trains ``len(seeds) x len(learning_rates)`` MLPs as one computation.

  Model ``(i, j)`` is exactly ``train(optimizer_name, seed=seeds[i],
  learning_rate=learning_rates[j], ...)`` (same initialisation, same
  shuffles), but all of them take each step together: the models and their
  optimizers are created under ``nnx.vmap`` (every array gets a leading
  model axis), and the very same `train_step_fn` runs under ``nnx.vmap``, an
  epoch at a time inside ``nnx.scan``. The learning rate is vmapped through
  ``optax.inject_hyperparams``.

  Returns:
    A `History` whose arrays are shaped ``[seeds, learning_rates, epochs+1]``.
  """
  data = load_digits() if data is None else data
  steps_per_epoch = len(data.x_train) // batch_size
  total_steps = epochs * steps_per_epoch
  seed_grid, rate_grid = np.meshgrid(
    np.asarray(seeds), np.asarray(learning_rates, np.float32), indexing="ij"
  )

  @nnx.jit
  @nnx.vmap
  def create_many(seed, learning_rate):
    return create(
      optimizer_name, seed, learning_rate, total_steps, **optimizer_options
    )

  model, optimizer = create_many(
    jnp.asarray(seed_grid.ravel(), jnp.int32),
    jnp.asarray(rate_grid.ravel(), jnp.float32),
  )
  x_train, y_train = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
  x_val, y_val = jnp.asarray(data.x_val), jnp.asarray(data.y_val)
  step_many = nnx.vmap(train_step_fn)

  @nnx.vmap
  def metrics_many(model):
    return jnp.concatenate(
      [evaluate_fn(model, x_train, y_train), evaluate_fn(model, x_val, y_val)]
    )

  @nnx.jit
  def run_epoch(model, optimizer, batches):  # batches: [steps, models, batch]
    @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
    def steps(carry, batch):
      step_many(*carry, x_train[batch], y_train[batch])
      return carry

    steps((model, optimizer), batches)
    return metrics_many(model)

  history = [nnx.jit(metrics_many)(model)]
  unique_seeds = [int(s) for s in np.asarray(seeds)]
  for epoch in range(epochs):
    per_seed = {
      s: epoch_batches(s, epoch, len(data.x_train), batch_size)
      for s in unique_seeds
    }
    batches = np.stack([per_seed[int(s)] for s in seed_grid.ravel()], axis=1)
    history.append(run_epoch(model, optimizer, jnp.asarray(batches)))
    if progress is not None:
      progress.update(1)
  return _history([np.asarray(m).reshape(*seed_grid.shape, 4) for m in history])


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
  with tqdm(
    total=len(names) * epochs,
    desc="vmapped sweep",
    unit="epoch",
    disable=not show_progress,
  ) as bar:
    for name in names:
      bar.set_postfix_str(name)
      rates = OPTIMIZERS[name].learning_rate * np.asarray(
        relative_learning_rates, np.float64
      )
      history = train_many(
        name,
        seeds,
        rates,
        epochs=epochs,
        data=data,
        progress=bar,
        **train_options,
      )
      sweeps[name] = Sweep(rates, seeds, history)
  return sweeps


def sensitivity_table(
  sweeps: Mapping[str, Sweep], *, tolerance: float = 0.02
) -> str:
  """Per optimizer: the best rate, the width of the good range, and the fall.

  Accuracies are final validation accuracies, means over seeds. "Good"
  learning rates are those within `tolerance` of the best; the width is the
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
    best = int(np.argmax(mean))
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


def plot_sweep(
  sweeps: Mapping[str, Sweep], path: str | Path, *, title: str = ""
) -> Path:
  """Mean ± spread bands and the learning-rate sensitivity curves.

  Left: validation loss per epoch at the tuned learning rate, mean over seeds
  with a band of ± one standard deviation. Middle and right: final
  validation loss and accuracy against the learning rate relative to the
  tuned one, mean ± one standard deviation over seeds.
  """
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  styles = _styles(list(sweeps))
  fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
  for name, sweep in sweeps.items():
    style = styles[name]
    relative = sweep.learning_rates / OPTIMIZERS[name].learning_rate
    tuned = int(np.argmin(np.abs(np.log(relative))))
    curves = sweep.history.val_loss[:, tuned]  # [S, E + 1]
    epochs = np.arange(curves.shape[-1])
    mean, spread = curves.mean(0), curves.std(0)
    axes[0].plot(epochs, mean, label=name, **style)
    axes[0].fill_between(
      epochs, mean - spread, mean + spread, color=style["color"], alpha=0.15
    )
    for ax, field in ((axes[1], "val_loss"), (axes[2], "val_accuracy")):
      final = getattr(sweep.history, field)[..., -1]  # [S, L]
      mean, spread = final.mean(0), final.std(0)
      ax.errorbar(
        relative,
        mean,
        yerr=spread,
        marker="o",
        markersize=3,
        capsize=2,
        label=name,
        **style,
      )
  axes[0].set(
    title="validation loss at the tuned rate (±1 sd over seeds)",
    xlabel="epoch",
    yscale="log",
  )
  axes[1].set(
    title="final validation loss",
    xscale="log",
    yscale="log",
    xlabel="learning rate / tuned learning rate",
  )
  axes[2].set(
    title="final validation accuracy",
    xscale="log",
    xlabel="learning rate / tuned learning rate",
  )
  for ax in axes:
    ax.grid(alpha=0.3)
  axes[2].legend(fontsize=8)
  some = next(iter(sweeps.values()))
  fig.suptitle(
    title
    or f"{len(some.seeds)} seeds x {len(some.learning_rates)} "
    "learning rates per optimizer, trained at once (vmap)"
  )
  fig.tight_layout()
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


# -----------------------------------------------------------------------------
# 7. Entry points
# -----------------------------------------------------------------------------


def results(
  quick: bool = False, *, show_progress: bool = True
) -> tuple[dict[str, History], dict[str, Sweep]]:
  """The learning histories and the vmapped learning-rate sweeps.

  ``quick=True`` trains fewer epochs and a smaller sweep (a smoke test, about
  15 s on two CPU cores; the full run takes about 50 s).
  """
  data = load_digits()
  if quick:
    names = (
      "sgd_nesterov",
      "nesterov_lookahead",
      "adam",
      "adam_calibrated",
      "adadelta_bigstart",
      "adagrad_family",
    )
    epochs, sweep_epochs, num_seeds = 3, 3, 2
    relative = RELATIVE_LEARNING_RATES[::3]
    sweep_names = ("nesterov_lookahead", "adam_calibrated")
  else:
    names, epochs, sweep_epochs, num_seeds = tuple(OPTIMIZERS), 30, 20, 8
    relative = RELATIVE_LEARNING_RATES
    sweep_names = DEFAULT_SWEEP
  histories = learning_histories(
    names, epochs, data=data, show_progress=show_progress
  )
  sweeps = learning_rate_sweep(
    sweep_names,
    num_seeds=num_seeds,
    relative_learning_rates=relative,
    epochs=sweep_epochs,
    data=data,
    show_progress=show_progress,
  )
  return histories, sweeps


def to_arrays(
  histories: Mapping[str, History], sweeps: Mapping[str, Sweep]
) -> dict[str, np.ndarray]:
  """Flat arrays (for ``np.savez``) of `results`; `from_arrays` inverts it.

  Keys are ``history/NAME/FIELD`` and ``sweep/NAME/FIELD``, where a sweep's
  fields are its learning rates, its seeds and its history's fields.
  """
  tree = {
    "history": {name: h._asdict() for name, h in histories.items()},
    "sweep": {
      name: {
        "learning_rates": s.learning_rates,
        "seeds": s.seeds,
        **s.history._asdict(),
      }
      for name, s in sweeps.items()
    },
  }
  flat = traverse_util.flatten_dict(tree, sep="/")
  return {key: np.asarray(value) for key, value in flat.items()}


def from_arrays(
  arrays: Mapping[str, np.ndarray],
) -> tuple[dict[str, History], dict[str, Sweep]]:
  """`results` back from the arrays of `to_arrays`."""
  tree = traverse_util.unflatten_dict(dict(arrays), sep="/")
  histories = {
    name: History(**fields) for name, fields in tree.get("history", {}).items()
  }
  sweeps = {
    name: Sweep(
      fields.pop("learning_rates"), fields.pop("seeds"), History(**fields)
    )
    for name, fields in tree.get("sweep", {}).items()
  }
  return histories, sweeps


def run(
  out_dir: str | Path = "figures",
  quick: bool = False,
  *,
  show_progress: bool = True,
) -> dict[str, Any]:
  """The whole example: learning histories, then the vmapped sweep.

  Writes ``training_histories.png`` and ``training_lr_sensitivity.png`` into
  `out_dir` and prints the tables.

  Returns:
    ``{"histories", "sweeps", "figures", "seconds"}``.
  """
  start = time.perf_counter()
  out_dir = Path(out_dir)
  histories, sweeps = results(quick, show_progress=show_progress)
  figures = [
    plot_learning_histories(histories, out_dir / "training_histories.png"),
    plot_sweep(sweeps, out_dir / "training_lr_sensitivity.png"),
  ]
  print(results_table(histories))
  print(sensitivity_table(sweeps))
  seconds = time.perf_counter() - start
  for figure in figures:
    print(f"wrote {figure}")
  print(f"done in {seconds:.1f} s")
  return {
    "histories": histories,
    "sweeps": sweeps,
    "figures": figures,
    "seconds": seconds,
  }


def main(argv: Sequence[str] | None = None) -> int:
  """Command line: ``[--out DIR] [--quick]``."""
  parser = argparse.ArgumentParser(
    description="Train a Flax MLP on the digits with every optimizer."
  )
  parser.add_argument("--out", default="figures", help="output directory")
  parser.add_argument(
    "--quick", action="store_true", help="few epochs, small sweep"
  )
  args = parser.parse_args(argv)
  run(args.out, quick=args.quick)
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
