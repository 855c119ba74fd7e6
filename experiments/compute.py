"""Turning catalogue records into arrays, saved so that drawing never recomputes."""

import pathlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from experiments.catalogue import PathFigure, SignalMethod
from optax_extras import landscapes, signals, sweep


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
      np.stack([signals.seed_signals()[n] for n in names]))
  sign = -1.0 if method.negate else 1.0
  responses = [
      jax.jit(jax.vmap(lambda s, t=method.make(v): sign * signals.response(t, s)))(
          stacked)
      for v in method.values
  ]
  return {"responses": np.asarray(jnp.stack(responses)),
          "signals": np.asarray(stacked)}


def paths(figure: PathFigure) -> dict[str, np.ndarray]:
  """`paths[k, t]`: optimizer k's point after t steps (t = 0 is the start),
  and the surface on the figure's mesh. Computed by the sweep engine."""
  surface = landscapes.get(figure.landscape)
  start = np.asarray([figure.start], np.float64)
  trajectories = [
      sweep(optimizer.make, surface, starts=start, num_steps=figure.num_steps,
            record_every=1, progress=False).trajectories[0]
      for optimizer in figure.optimizers]
  (x0, x1), (y0, y1) = figure.view.bounds
  step = figure.view.mesh_step
  xs, ys = np.arange(x0, x1 + step / 2, step), np.arange(y0, y1 + step / 2, step)
  grid_x, grid_y = np.meshgrid(xs, ys)
  return {"paths": np.stack(trajectories),
          "mesh_x": grid_x, "mesh_y": grid_y,
          "mesh_z": np.asarray(surface.fn(jnp.asarray(grid_x), jnp.asarray(grid_y)))}
