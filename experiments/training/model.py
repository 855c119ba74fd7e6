"""The model: a small Flax (nnx) MLP, its loss and its evaluation."""

import jax
import jax.numpy as jnp
import optax
from flax import nnx


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


def evaluate_fn(model: MLP, x: jax.Array, y: jax.Array) -> jax.Array:
  """``[loss, accuracy]`` on a whole data set."""
  logits = model(x)
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
  accuracy = jnp.mean(jnp.argmax(logits, -1) == y)
  return jnp.stack([loss, accuracy.astype(loss.dtype)])


evaluate = nnx.jit(evaluate_fn)
