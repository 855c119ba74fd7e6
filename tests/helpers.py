"""Running transforms over gradient sequences, and comparing to references."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest


def run_sequence(
  transform: optax.GradientTransformation, grads, params=None, **extra_args
):
  """Feeds `grads` (leaves shaped `[T, ...]`) step by step; stacked updates.

  The parameters stay at `params` (zeros by default): the elementwise
  transforms ignore them.
  """
  if params is None:
    params = jax.tree.map(lambda g: jnp.zeros_like(g[0]), grads)

  def step(state, g):
    updates, state = transform.update(g, state, params, **extra_args)
    return state, updates

  return jax.lax.scan(step, transform.init(params), grads)[1]


def assert_close(actual, expected, tol: float) -> None:
  """Each leaf within `tol` relative, or `tol` times the leaf's largest value."""
  actual_leaves = jax.tree.leaves(actual)
  expected_leaves = jax.tree.leaves(expected)
  assert len(actual_leaves) == len(expected_leaves)
  for a, e in zip(actual_leaves, expected_leaves):
    e = np.asarray(e, np.float64)
    scale = max(float(np.max(np.abs(e), initial=0.0)), 1e-30)
    np.testing.assert_allclose(
      np.asarray(a, np.float64), e, rtol=tol, atol=tol * scale
    )


def random_tree(seed: int, num_steps: int, scale: float = 1.0) -> dict:
  """A multi-leaf gradient sequence with leaves of several shapes."""
  rng = np.random.default_rng(seed)
  return {
    "w": scale * rng.standard_normal((num_steps, 3, 4)),
    "b": scale * rng.standard_normal((num_steps, 4)),
    "layers": [
      scale * rng.standard_normal((num_steps, 2)),
      scale * rng.standard_normal((num_steps,)),
    ],
  }


TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def descend(transform, loss, params, num_steps: int):
  """`num_steps` of `transform` on `loss`: (params, updates) after each step.

  `grad_fn` is always passed, so look-ahead transforms work unchanged.
  """
  grad_fn = jax.grad(loss)

  def step(carry, _):
    params, state = carry
    updates, state = transform.update(
      grad_fn(params), state, params, grad_fn=grad_fn
    )
    params = optax.apply_updates(params, updates)
    return (params, state), (params, updates)

  return jax.lax.scan(step, (params, transform.init(params)), length=num_steps)[
    1
  ]


def in_precision(dtype) -> pytest.param:
  """`dtype` as a test parameter, run with x64 on for float64, off otherwise.

  Through the precision markers of tests/conftest.py: float32 and lower
  run as users run them, x64 off.
  """
  marker = pytest.mark.float64 if np.dtype(dtype) == np.float64 else None
  marker = marker or pytest.mark.float32
  return pytest.param(dtype, marks=marker, id=np.dtype(dtype).name)
