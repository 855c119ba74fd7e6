"""The workloads: real models on real data that ship with a package.

- ``digits_mlp``: the training example's MLP (64 -> 64 -> 10) on
  scikit-learn's 8x8 digits, split 80/20 with stratification (1,437 + 360).
- ``mnist1d_cnn``: a 1-D CNN on MNIST-1D (Greydanus, 2020), generated locally
  by the `mnist1d` package's ``make_dataset`` with its default arguments
  (4,000 + 1,000 examples of 40 points; never its download path).
  Published test accuracies: logistic regression ~32%, MLP ~68%, CNN ~94%.

Each names its target (a validation accuracy a tuned Adam reaches within
the budget), its budget in steps, its batch size and its split.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from experiments.training.data import Dataset, load_digits
from experiments.training.model import MLP


class PatchConv1D(nnx.Module):
  """A 1-D convolution (``'SAME'`` padding, a stride) written as patches and
  an einsum, with `nnx.Conv`'s parameters (``kernel [width, in, out]``,
  ``bias [out]``), initialisers and so its initial values for the same
  `rngs`; its outputs equal `nnx.Conv`'s (tested).

  Why not `nnx.Conv`: a sweep vmaps the model over its parameters, and
  ``jax.vmap`` of a convolution whose kernel is batched becomes one
  grouped convolution (``feature_group_count`` = lanes), which XLA's CPU
  backend runs through a slow generic loop. Here the width-k patches are k
  strided slices stacked on a new axis, and the product is an einsum, which
  vmaps into a batched matrix multiplication."""

  def __init__(
    self,
    in_features: int,
    out_features: int,
    width: int,
    stride: int = 1,
    *,
    param_dtype=jnp.float32,
    rngs: nnx.Rngs,
  ):
    self.kernel = nnx.Param(
      nnx.initializers.lecun_normal()(
        rngs.params(), (width, in_features, out_features), param_dtype
      )
    )
    self.bias = nnx.Param(
      nnx.initializers.zeros_init()(rngs.params(), (out_features,), param_dtype)
    )
    self.width = width
    self.stride = stride

  def __call__(self, x: jax.Array) -> jax.Array:
    """`x` ``[batch, length, in]`` -> ``[batch, ceil(length / stride),
    out]``."""
    kernel = self.kernel[...]
    length = x.shape[-2]
    ((low, high),) = jax.lax.padtype_to_pads(
      (length,), (self.width,), (self.stride,), "SAME"
    )
    x = jnp.pad(x, ((0, 0), (low, high), (0, 0)))
    out = -(-length // self.stride)
    span = self.stride * (out - 1) + 1
    patches = jnp.stack(
      [x[:, i : i + span : self.stride] for i in range(self.width)], axis=2
    )  # [batch, out, width, in]
    y = jnp.einsum("bowi,wic->boc", patches, kernel.astype(x.dtype))
    return y + self.bias[...].astype(x.dtype)


class CNN1D(nnx.Module):
  """Three 1-D convolutions (32 channels, width 5, the last two of stride
  2) with ReLUs, then a linear layer: about 14,000 parameters. The
  convolutions are `PatchConv1D`, equal to `nnx.Conv` but fast as lanes of
  a sweep."""

  def __init__(self, num_classes: int = 10, channels: int = 32, *, rngs):
    self.conv1 = PatchConv1D(1, channels, 5, rngs=rngs)
    self.conv2 = PatchConv1D(channels, channels, 5, stride=2, rngs=rngs)
    self.conv3 = PatchConv1D(channels, channels, 5, stride=2, rngs=rngs)
    self.output = nnx.Linear(10 * channels, num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    h = x[..., None]  # [batch, 40, 1]
    h = nnx.relu(self.conv1(h))
    h = nnx.relu(self.conv2(h))
    h = nnx.relu(self.conv3(h))  # [batch, 10, channels]
    return self.output(h.reshape(h.shape[0], -1))


def load_mnist1d() -> Dataset:
  """MNIST-1D from ``mnist1d.data.make_dataset()`` with its default
  arguments (its own 80/20 split), as float32 / int32. NumPy's global random
  state, which the generator reseeds, is restored afterwards."""
  from mnist1d.data import make_dataset

  state = np.random.get_state()
  try:
    data = make_dataset()
  finally:
    np.random.set_state(state)
  return Dataset(
    data["x"].astype(np.float32),
    data["y"].astype(np.int32),
    data["x_test"].astype(np.float32),
    data["y_test"].astype(np.int32),
  )


@dataclasses.dataclass(frozen=True)
class Workload:
  """A model, its data, and what counts as trained."""

  name: str
  title: str
  model: Callable[..., nnx.Module]  # (rngs=...) -> module
  load: Callable[[], Dataset]
  target: float  # validation accuracy
  budget: int  # steps
  batch_size: int
  split: str

  @functools.cached_property
  def data(self) -> Dataset:
    return self.load()

  @functools.cached_property
  def graphdef(self) -> nnx.GraphDef:
    return nnx.graphdef(self.model(rngs=nnx.Rngs(0)))

  def initial_params(self, seeds) -> dict[str, Any]:
    """The parameters for each seed, with a leading seed axis."""
    model = self.model
    return jax.vmap(
      lambda seed: nnx.to_pure_dict(
        nnx.state(model(rngs=nnx.Rngs(jax.random.key(seed))), nnx.Param)
      )
    )(np.asarray(seeds, np.int32))

  def logits(self, params, x):
    return nnx.merge(self.graphdef, params)(x)

  @functools.cached_property
  def loss(self) -> Callable:
    """``loss(params, key)``: cross-entropy on `batch_size` training
    examples drawn uniformly (with replacement) with `key`. One object per
    workload, so a sweep's program is reused across optimizers' calls."""
    x, y = jnp.asarray(self.data.x_train), jnp.asarray(self.data.y_train)

    def loss(params, key):
      rows = jax.random.randint(key, (self.batch_size,), 0, len(y))
      logits = self.logits(params, x[rows])
      return optax.softmax_cross_entropy_with_integer_labels(
        logits, y[rows]
      ).mean()

    return loss

  @functools.cached_property
  def metrics(self) -> Callable:
    """``metrics(params)``: loss and accuracy on the validation set."""
    x, y = jnp.asarray(self.data.x_val), jnp.asarray(self.data.y_val)

    def metrics(params):
      logits = self.logits(params, x)
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
      accuracy = jnp.mean(jnp.argmax(logits, -1) == y).astype(loss.dtype)
      return {"val_loss": loss, "val_accuracy": accuracy}

    return metrics


def _mlp(*, rngs):
  return MLP(rngs=rngs)


WORKLOADS: dict[str, Workload] = {
  "digits_mlp": Workload(
    name="digits_mlp",
    title="MLP 64-64-10 on scikit-learn's 8x8 digits",
    model=_mlp,
    load=load_digits,
    target=0.95,
    budget=600,
    batch_size=64,
    split="1,437 train / 360 validation (stratified 80/20, seed 0)",
  ),
  "mnist1d_cnn": Workload(
    name="mnist1d_cnn",
    title="1-D CNN on MNIST-1D (mnist1d.make_dataset, default arguments)",
    model=CNN1D,
    load=load_mnist1d,
    # Not yet measured with this budget (the digits' 0.95 is: Adam reaches
    # it in 60-100 steps): set below the published CNN's ~94% after longer
    # training.
    target=0.80,
    budget=1500,
    batch_size=100,
    split="4,000 train / 1,000 validation (the generator's own 80/20)",
  ),
}


def get(name: str) -> Workload:
  """The workload `name`; an unknown name raises naming the choices."""
  if name not in WORKLOADS:
    raise ValueError(
      f"workload must be one of {sorted(WORKLOADS)}, got {name!r}"
    )
  return WORKLOADS[name]
