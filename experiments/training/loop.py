"""One model at a time: the train step (``nnx.jit``, look-ahead optimizers
get ``grad_fn``), the epoch loop and its `History`."""

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from flax import nnx

from experiments.training.data import Dataset, epoch_batches, load_digits
from experiments.training.model import MLP, evaluate, loss_fn
from experiments.training.optimizers import OPTIMIZERS, _spec, create


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
