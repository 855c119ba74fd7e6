"""The digits: scikit-learn's 8x8 handwritten digits, shipped with the
package (no download), scaled to [0, 1], split 80/20 with stratification."""

from typing import NamedTuple

import numpy as np


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
