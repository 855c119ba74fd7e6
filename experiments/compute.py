"""Turning catalogue records into arrays, saved so that drawing never recomputes.

Every figure is computed in float64, as the seeds' NumPy and Theano code
was: each function here runs inside ``jax.enable_x64(True)``, whatever the
process's default.
"""

import functools
import pathlib
import warnings
import zipfile
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import progress, tuning
from experiments.catalogue import (
  BasinFigure,
  FanFigure,
  HeatmapFigure,
  PathFigure,
  PathOptimizer,
  SignalMethod,
  TunedFigure,
)
from optax_extras import landscapes, signals, sweep
from optax_extras.io import atomic_write


def cached(path: pathlib.Path, compute: Callable[[], dict[str, np.ndarray]]):
  """The arrays saved at `path`; if absent, computed and saved atomically.

  A file at `path` that is not a readable `.npz` is never used: the arrays
  are computed again, with a warning naming it, as the sweep engine does
  with a damaged checkpoint. Two runs may save the same file at once: each
  writes its own temporary file, and `path` always holds one whole `.npz`.
  """
  if path.exists():
    try:
      return _load(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
      warnings.warn(
        f"{path}: unreadable saved arrays ({error}); computing them again.",
        stacklevel=2,
      )
  arrays = compute()
  path.parent.mkdir(parents=True, exist_ok=True)
  atomic_write(path, lambda file: np.savez(file, **arrays))
  return arrays


def _load(path: pathlib.Path) -> dict[str, np.ndarray]:
  saved = np.load(path)
  if not isinstance(saved, np.lib.npyio.NpzFile):
    raise ValueError("one array (.npy), not an .npz archive")
  with saved:
    return dict(saved)


def _float64(compute: Callable) -> Callable:
  """`compute`, run with x64 enabled."""

  @functools.wraps(compute)
  def in_float64(*args, **kwargs):
    with jax.enable_x64(True):
      return compute(*args, **kwargs)

  return in_float64


@_float64
def signal_responses(method: SignalMethod) -> dict[str, np.ndarray]:
  """`responses[v, s, t]`: the response to signal `s` for swept value `v`.

  Numeric values are one traced argument (`jax.vmap` over them: one
  compilation per method); others (names of variants) one program each.
  """
  names = list(signals.SIGNAL_NAMES)
  stacked = jnp.asarray(np.stack([signals.seed_signals()[n] for n in names]))
  sign = -1.0 if method.negate else 1.0

  def respond(value):
    transform = method.make(value)
    return jax.vmap(lambda s: sign * signals.response(transform, s))(stacked)

  if all(isinstance(v, int | float) for v in method.values):
    responses = jax.jit(jax.vmap(respond))(jnp.asarray(method.values))
  else:
    respond_to = jax.jit(respond, static_argnums=0)
    responses = jnp.stack([respond_to(v) for v in method.values])
  return {
    "responses": np.asarray(responses),
    "signals": np.asarray(stacked),
  }


def _mesh(landscape: str, bounds, step: float) -> dict[str, np.ndarray]:
  """The surface on a grid over `bounds`, for contour plots."""
  (x0, x1), (y0, y1) = bounds
  grid_x, grid_y = np.meshgrid(
    np.arange(x0, x1 + step / 2, step), np.arange(y0, y1 + step / 2, step)
  )
  surface = landscapes.get(landscape)
  return {
    "mesh_x": grid_x,
    "mesh_y": grid_y,
    "mesh_z": np.asarray(surface.fn(jnp.asarray(grid_x), jnp.asarray(grid_y))),
  }


def one_of(
  index: jax.Array, optimizers: list[optax.GradientTransformation]
) -> optax.GradientTransformationExtraArgs:
  """``optimizers[index]`` with a traced `index`: one sweep runs them all,
  one per lane of a grid axis over the indices. The state holds every
  optimizer's state; a lane updates its own optimizer's (``lax.switch``;
  under ``vmap`` every branch is computed and the lane's kept). One program
  for a figure's optimizers: XLA compiles the loss and its gradient once."""
  optimizers = [optax.with_extra_args_support(o) for o in optimizers]

  def init(params):
    return tuple(o.init(params) for o in optimizers)

  def update(updates, state, params=None, **extra_args):
    def branch(k):
      def run():
        new, own = optimizers[k].update(updates, state[k], params, **extra_args)
        return new, state[:k] + (own,) + state[k + 1 :]

      return run

    return jax.lax.switch(index, [branch(k) for k in range(len(optimizers))])

  return optax.GradientTransformationExtraArgs(init, update)


@functools.cache
def one_of_factory(
  optimizers: tuple[PathOptimizer, ...],
) -> Callable[[jax.Array], optax.GradientTransformationExtraArgs]:
  """``make(index)``, `one_of` the transforms of `optimizers`: one function
  object per tuple of optimizers, so that `sweep` (jit's cache, keyed by
  the function) compiles a figure's program once per process and surface,
  however often the figure is computed."""

  def make(index):
    return one_of(index, [o.make() for o in optimizers])

  return make


@_float64
def paths(figure: PathFigure) -> dict[str, np.ndarray]:
  """`paths[k, t]`: optimizer k's point after t steps (t = 0 is the start),
  and the surface on the figure's mesh. One sweep for every optimizer of
  the figure (`one_of`), each lane its own optimizer from the start."""
  result = sweep(
    one_of_factory(figure.optimizers),
    landscapes.get(figure.landscape),
    grid={"index": np.arange(len(figure.optimizers))},
    starts=np.asarray([figure.start], np.float64),
    num_steps=figure.num_steps,
    record_every=1,
    progress=False,
  )
  return {
    "paths": result.trajectories[:, 0],
    **_mesh(figure.landscape, figure.view.bounds, figure.view.mesh_step),
  }


@_float64
def basins(figure: BasinFigure, every: int) -> dict[str, np.ndarray]:
  """`labels[k, i, j]`: the index of the minimum that optimizer k reaches from
  start (xs[j], ys[i]); -1 none within 0.1, -2 diverged. `every` > 1 coarsens
  the grid of starts by that factor per axis."""
  surface = landscapes.get(figure.landscape)
  (x0, x1), (y0, y1) = surface.bounds
  resolution = figure.resolution // every
  xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
  starts = np.stack(np.meshgrid(xs, ys), axis=-1)
  minima = np.array([m.location for m in surface.minima])
  labels = []
  for optimizer in figure.optimizers:
    result = sweep(
      optimizer.make,
      surface,
      starts=starts,
      num_steps=figure.num_steps,
      progress=False,
    )
    distance = np.linalg.norm(
      result.final_params[..., None, :] - minima, axis=-1
    )
    label = np.where(distance.min(-1) < 0.1, distance.argmin(-1), -1)
    labels.append(np.where(result.diverged, -2, label))
    progress.report()  # A sweep done: the gallery's unit of progress.
  return {
    "labels": np.stack(labels).astype(np.int8),
    "xs": xs,
    "ys": ys,
    "minima": minima,
  }


@_float64
def heatmap(figure: HeatmapFigure, every: int) -> dict[str, np.ndarray]:
  """Final loss and first step with loss <= tol over the two axes (every k-th value)."""
  (x_name, x_values), (y_name, y_values) = figure.x_axis, figure.y_axis
  xs, ys = np.array(x_values[::every]), np.array(y_values[::every])
  result = sweep(
    figure.make,
    landscapes.get(figure.landscape),
    grid={x_name: xs, y_name: ys},
    starts=np.asarray([figure.start], np.float64),
    num_steps=figure.num_steps,
    tol=figure.tol,
    progress=False,
  )
  final_loss = np.where(result.diverged, np.nan, result.final_loss)
  return {
    "final_loss": final_loss[..., 0],
    "tol_step": result.tol_step[..., 0],
    "xs": xs,
    "ys": ys,
  }


@_float64
def tuned(figure: TunedFigure, every: int) -> dict[str, np.ndarray]:
  """Each optimizer's best learning rate, and its path from the figure's start.

  The best rate is `tuning.RULE`'s (`tuning.robust_rate`, as in the atlas),
  with a cloud of 64 starts around the figure's start as its seeds and the
  final loss as the loss: the best median over the cloud, so a lucky jump
  from one point does not win, among the rates that never diverge from the
  cloud, as their grid neighbours do not, so a rate at the edge of chaos
  does not win either. One sweep per optimizer: learning rates × the
  figure's start and the cloud, recorded at every step; the path is the
  start's lane at the best rate (a lane's bits do not depend on the others).
  """
  rates = np.array(figure.learning_rates[::every])
  surface = landscapes.get(figure.landscape)
  cloud = np.asarray(figure.start) + 0.1 * np.random.default_rng(
    0
  ).standard_normal((64, 2))
  losses, best, trajectories = [], [], []
  for _, make in figure.optimizers:
    result = sweep(
      make,
      surface,
      grid={"learning_rate": rates},
      starts=np.concatenate([[figure.start], cloud]),
      num_steps=figure.num_steps,
      record_every=1,
      progress=False,
    )
    final = np.where(result.diverged, np.inf, result.final_loss)[:, 1:]
    losses.append(final.mean(axis=1))
    chosen = tuning.robust_rate(final, result.diverged[:, 1:])
    best.append(rates[chosen])
    trajectories.append(result.trajectories[chosen, 0])
    progress.report()  # A sweep done: the gallery's unit of progress.
  return {
    "learning_rates": rates,
    "mean_final_loss": np.stack(losses),
    "best_rate": np.array(best),
    "paths": np.stack(trajectories),
    **_mesh(figure.landscape, surface.bounds, 0.05),
  }


@_float64
def fan(figure: FanFigure, every: int) -> dict[str, np.ndarray]:
  """`paths[v, t]` for every k-th value of the swept hyperparameter."""
  values = np.array(figure.values[::every])
  result = sweep(
    figure.make,
    landscapes.get(figure.landscape),
    grid={figure.swept: values},
    starts=np.asarray([figure.start], np.float64),
    num_steps=figure.num_steps,
    record_every=1,
    progress=False,
  )
  surface = landscapes.get(figure.landscape)
  return {
    "paths": result.trajectories[:, 0],
    "values": values,
    **_mesh(figure.landscape, surface.bounds, 0.05),
  }
