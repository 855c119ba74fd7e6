"""Turning catalogue records into arrays, saved so that drawing never recomputes."""

import pathlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from experiments.catalogue import SignalMethod
from optax_extras import signals


def cached(path: pathlib.Path, compute: Callable[[], dict[str, np.ndarray]]):
  """The arrays saved at `path`, computed and saved (atomically) if absent."""
  if path.exists():
    with np.load(path) as saved:
      return dict(saved)
  arrays = compute()
  path.parent.mkdir(parents=True, exist_ok=True)
  partial = path.with_suffix(".partial.npz")
  np.savez(partial, **arrays)
  partial.replace(path)
  return arrays


def signal_responses(method: SignalMethod) -> dict[str, np.ndarray]:
  """`responses[v, s, t]`: the response to signal `s` for swept value `v`."""
  names = list(signals.SIGNAL_NAMES)
  stacked = jnp.asarray(
      np.stack([signals.seed_signals()[n] for n in names]), jnp.float32)
  sign = -1.0 if method.negate else 1.0
  responses = [
      jax.jit(jax.vmap(lambda s, t=method.make(v): sign * signals.response(t, s)))(
          stacked)
      for v in method.values
  ]
  return {"responses": np.asarray(jnp.stack(responses)),
          "signals": np.asarray(stacked)}
