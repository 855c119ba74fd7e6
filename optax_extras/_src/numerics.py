"""Dtype handling shared by the transforms.

Each transform computes in at least float32 (`upcast`) and casts its state
back to the dtypes it was created with, and its updates back to the
gradient's dtype. So float16 and bfloat16 parameters get float32 arithmetic
(no underflow of `eps`, no 0/0 for a zero gradient), the state keeps a fixed
dtype across steps (as `jax.lax.cond` and `lax.scan` require), and float32 or
float64 computations are unchanged. The state itself is stored in the
parameters' dtype, so float16 moments can still underflow from one step to
the next: train float16 models with float32 master parameters.
"""

import jax
import jax.numpy as jnp
import optax


def upcast(tree: optax.Updates) -> optax.Updates:
  """Each leaf in its own dtype promoted with float32 (float64 stays)."""
  return jax.tree.map(
    lambda x: x.astype(jnp.promote_types(x.dtype, jnp.float32)), tree
  )


def safe_divide(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
  """`numerator / denominator`, and 0 where the denominator is 0."""
  nonzero = denominator != 0
  return jnp.where(nonzero, numerator / jnp.where(nonzero, denominator, 1), 0)
