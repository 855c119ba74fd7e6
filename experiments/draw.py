"""Drawing saved arrays: no optimizer runs here."""

import pathlib
import shutil
import textwrap
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import animation  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from experiments.catalogue import (  # noqa: E402
  BasinFigure,
  FanFigure,
  HeatmapFigure,
  PathFigure,
  SignalMethod,
  TunedFigure,
)
from experiments.tuning import RULE  # noqa: E402
from optax_extras import landscapes  # noqa: E402


def signal_figure(
  method: SignalMethod,
  signal_name: str,
  signal: np.ndarray,
  responses: np.ndarray,
  path: pathlib.Path,
  dpi: int,
) -> None:
  """The seed's 1-D figure: the signal and the response for each swept value."""
  epochs = np.arange(signal.shape[0])
  fig, ax = plt.subplots(figsize=(16.0, 9.0))
  ax.plot(epochs, signal, label="gradient", color="0.6")
  for value, response in zip(method.values, responses):
    ax.plot(epochs, response, label=f"{method.swept} = {value}")
  ax.set_xticks(np.arange(0, signal.shape[0], 20))
  ax.grid(True)
  ax.set_title(
    f"{method.title}: the update for each {method.swept}, on the "
    f"{signal_name.replace('_', ' ')} gradient signal"
  )
  ax.set_xlabel("epoch")
  ax.set_ylabel("gradient and update")
  ax.legend()
  _save(fig, path, dpi)


def _contour(ax, figure: PathFigure, arrays: dict[str, np.ndarray]):
  z = arrays["mesh_z"]
  levels = figure.view.levels
  if figure.view.log_levels:
    z = np.log1p(z - z.min())
  contours = ax.contour(
    arrays["mesh_x"],
    arrays["mesh_y"],
    z,
    levels=levels,
    cmap="viridis",
    linewidths=0.8,
  )
  if not figure.view.log_levels and isinstance(levels, tuple):
    ax.clabel(contours, inline=True, fontsize=8)
  (x0, x1), (y0, y1) = figure.view.bounds
  ax.set_xlim(x0, x1)
  ax.set_ylim(y0, y1)


def _stars(ax, figure: PathFigure, three_d=None):
  if not figure.view.star:
    return
  minima = landscapes.get(figure.landscape).global_minima
  xs, ys = np.array([m.location for m in minima]).T
  ax.plot(xs, ys, "r*", markersize=15, label="global minimum")
  if three_d is not None:
    values = [m.value for m in minima]
    three_d.plot(xs, ys, values, "r*", markersize=15, zorder=10)


def _layout(figure: PathFigure, arrays: dict[str, np.ndarray]):
  """The figure with its map axes (and 3-D axes); returns (fig, ax, ax3d)."""
  fig = plt.figure(figsize=figure.view.figsize)
  three_d = None
  if figure.view.surface_3d:
    three_d = fig.add_subplot(1, 2, 1, projection="3d")
    three_d.plot_surface(
      arrays["mesh_x"],
      arrays["mesh_y"],
      arrays["mesh_z"],
      cmap="viridis",
      alpha=0.7,
      linewidth=0,
    )
    three_d.view_init(elev=figure.view.elevation, azim=figure.view.azimuth)
    three_d.set_axis_off()
    ax = fig.add_subplot(1, 2, 2)
  else:
    ax = fig.add_subplot(1, 1, 1)
  _contour(ax, figure, arrays)
  _stars(ax, figure, three_d)
  ax.set_title(figure.title)
  ax.set_xlabel("x")
  ax.set_ylabel("y")
  return fig, ax, three_d


def _clipped(path: np.ndarray, bounds) -> np.ndarray:
  """Points far outside the window `bounds` (diverging paths) are not drawn."""
  (x0, x1), (y0, y1) = bounds
  span = max(x1 - x0, y1 - y0)
  far = (np.abs(path[:, 0] - (x0 + x1) / 2) > 2 * span) | (
    np.abs(path[:, 1] - (y0 + y1) / 2) > 2 * span
  )
  return np.where(far[:, None], np.nan, path)


def coordinates_figure(
  figure: PathFigure, arrays, path: pathlib.Path, dpi: int
):
  """The DL Notes post's comparison: x and y against iteration, every
  optimizer."""
  fig, (ax_x, ax_y) = plt.subplots(
    1, 2, figsize=figure.view.figsize, sharex=True
  )
  for optimizer, trajectory in zip(figure.optimizers, arrays["paths"]):
    ax_x.plot(trajectory[:, 0], label=optimizer.label)
    ax_y.plot(trajectory[:, 1], label=optimizer.label)
  for ax, name in ((ax_x, "x"), (ax_y, "y")):
    ax.set_xlabel("iteration")
    ax.set_ylabel(name)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.grid(True)
  ax_x.legend()
  fig.suptitle(figure.title)
  _save(fig, path, dpi)


def path_figure(
  figure: PathFigure, arrays, path: pathlib.Path, dpi: int
) -> None:
  """The final picture: every optimizer's whole path on the contour map."""
  if figure.view.coordinates:
    coordinates_figure(figure, arrays, path, dpi)
    return
  fig, ax, three_d = _layout(figure, arrays)
  for optimizer, trajectory in zip(figure.optimizers, arrays["paths"]):
    trajectory = _clipped(trajectory, figure.view.bounds)
    (line,) = ax.plot(trajectory[:, 0], trajectory[:, 1], label=optimizer.label)
    if three_d is not None:
      heights = landscapes.get(figure.landscape).fn(
        trajectory[:, 0], trajectory[:, 1]
      )
      three_d.plot(
        trajectory[:, 0],
        trajectory[:, 1],
        np.asarray(heights),
        color=line.get_color(),
        zorder=10,
      )
  ax.legend()
  _save(fig, path, dpi)


def animation_frame(figure: PathFigure, arrays) -> tuple[Any, list]:
  """The animation's still part: the map with its legend, no paths yet;
  returns the figure and each optimizer's colour."""
  fig, ax, _ = _layout(figure, arrays)
  colors = [
    ax.plot([], [], label=o.label)[0].get_color() for o in figure.optimizers
  ]
  ax.legend(loc="upper right")
  return fig, colors


def path_animation(
  figure: PathFigure, arrays, path: pathlib.Path, *, frames: int, dpi: int
) -> list[pathlib.Path]:
  """The paths drawn step by step: a GIF (Pillow), and an MP4 if ffmpeg is here.

  The map is rendered once; each frame draws the paths so far onto a copy of
  it with Pillow, in the axes' own pixel coordinates.
  """
  fig, colors = animation_frame(figure, arrays)
  (ax,) = [a for a in fig.axes if a.name != "3d"]
  fig.set_dpi(dpi)
  fig.canvas.draw()
  background = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert(
    "RGB"
  )
  height = background.height
  pixels = [
    ax.transData.transform(_clipped(t, figure.view.bounds))
    for t in arrays["paths"]
  ]
  plt.close(fig)
  steps = np.unique(np.linspace(1, figure.num_steps, frames).astype(int))
  images = []
  for step in steps:
    image = background.copy()
    pen = ImageDraw.Draw(image)
    for color, points in zip(colors, pixels):
      points = points[: step + 1]
      points = points[np.isfinite(points).all(axis=1)]
      if len(points) > 1:
        pen.line(
          [(x, height - y) for x, y in points],
          fill=matplotlib.colors.to_hex(color),
          width=max(1, dpi // 40),
        )
    pen.text((4, 4), f"step {step}", fill="black")
    images.append(image)
  path.parent.mkdir(parents=True, exist_ok=True)
  written = [path.with_suffix(".gif")]
  images[0].save(
    written[0], save_all=True, append_images=images[1:], duration=200, loop=0
  )
  if shutil.which("ffmpeg"):
    written.append(path.with_suffix(".mp4"))
    writer = animation.FFMpegWriter(fps=5)
    movie_fig = plt.figure(
      figsize=(background.width / dpi, height / dpi), dpi=dpi
    )
    movie_ax = movie_fig.add_axes((0, 0, 1, 1))
    movie_ax.set_axis_off()
    shown = movie_ax.imshow(images[0])
    with writer.saving(movie_fig, written[1], dpi=dpi):
      for image in images:
        shown.set_data(image)
        writer.grab_frame()
    plt.close(movie_fig)
  return written


def _save(fig, path: pathlib.Path, dpi: int) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=dpi)
  plt.close(fig)


# --- Beyond the seeds ---------------------------------------------------------


def _plain_contour(ax, arrays, levels=30):
  z = arrays["mesh_z"]
  ax.contour(
    arrays["mesh_x"],
    arrays["mesh_y"],
    np.log1p(z - z.min()),
    levels=levels,
    colors="0.7",
    linewidths=0.6,
  )


def basin_figure(
  figure: BasinFigure, arrays, path: pathlib.Path, dpi: int
) -> None:
  """One panel per optimizer: each start coloured by the minimum it reaches."""
  labels, minima = arrays["labels"], arrays["minima"]
  columns = 3
  rows = -(-len(figure.optimizers) // columns)
  fig, axes = plt.subplots(
    rows,
    columns,
    figsize=(5 * columns, 4.6 * rows),
    squeeze=False,
    layout="constrained",
  )
  palette = plt.get_cmap("tab10")
  colors = ["black", "0.75"] + [palette(i) for i in range(len(minima))]
  cmap = matplotlib.colors.ListedColormap(colors)
  extent = (
    arrays["xs"][0],
    arrays["xs"][-1],
    arrays["ys"][0],
    arrays["ys"][-1],
  )
  for ax, optimizer, label in zip(axes.flat, figure.optimizers, labels):
    image = ax.imshow(
      label + 2,
      origin="lower",
      extent=extent,
      cmap=cmap,
      vmin=-0.5,
      vmax=len(colors) - 0.5,
      interpolation="nearest",
    )
    ax.plot(
      minima[:, 0],
      minima[:, 1],
      "w*",
      markersize=12,
      markeredgecolor="k",
      label="minimum",
    )
    reached = [f"{100 * np.mean(label == k):.0f}%" for k in range(len(minima))]
    ax.set_title(
      f"{optimizer.label}\nreached: {', '.join(reached)}", fontsize=9
    )
    ax.set(xlabel="start x", ylabel="start y")
  axes.flat[0].legend(loc="upper right", fontsize=8)
  for ax in list(axes.flat)[len(figure.optimizers) :]:
    ax.set_axis_off()
  key = fig.colorbar(
    image,
    ax=axes,
    ticks=range(len(colors)),
    label="where the run ends",
    shrink=0.8,
    aspect=30,
  )
  key.ax.set_yticklabels(
    ["diverged", "no minimum"]
    + [f"minimum {k + 1} ({x:.2g}, {y:.2g})" for k, (x, y) in enumerate(minima)]
  )
  fig.suptitle(f"{figure.title}: {figure.num_steps} steps from every start")
  _save(fig, path, dpi)


_NAMES = {  # Hyperparameters as the titles name them.
  "learning_rate": "learning rate",
  "decay": "momentum (decay)",
  "b1": "β1",
}


def heatmap_figure(
  figure: HeatmapFigure, arrays, path: pathlib.Path, dpi: int
) -> None:
  """Final loss (log scale) and steps to the tolerance over two hyperparameters."""
  (x_name, _), (y_name, _) = figure.x_axis, figure.y_axis
  xs, ys = arrays["xs"], arrays["ys"]
  log_x = xs.min() > 0 and xs.max() / xs.min() > 50
  fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5))
  steps = np.where(arrays["tol_step"] < 0, np.nan, arrays["tol_step"])
  for ax, values, label, title, cmap in (
    (
      left,
      np.log10(arrays["final_loss"]),
      "log10 final loss",
      f"final loss after {figure.num_steps} steps",
      "viridis",
    ),
    (
      right,
      steps,
      f"first step with loss ≤ {figure.tol} (blank: never)",
      f"steps to reach loss ≤ {figure.tol}",
      "magma",
    ),
  ):
    mesh = ax.pcolormesh(xs, ys, values.T, cmap=cmap, shading="nearest")
    fig.colorbar(mesh, ax=ax, label=label)
    ax.set_xlabel(
      _NAMES.get(x_name, x_name) + (" (log scale)" if log_x else "")
    )
    ax.set_ylabel(_NAMES.get(y_name, y_name))
    ax.set_title(title)
    if log_x:
      ax.set_xscale("log")
  fig.suptitle(f"{figure.title}, on {figure.landscape.replace('_', ' ')}")
  _save(fig, path, dpi)


def tuned_figure(
  figure: TunedFigure, arrays, path: pathlib.Path, dpi: int
) -> None:
  """The tuned paths together (a path that leaves the window is drawn to
  the point where it left, marked ×), and each optimizer's mean final loss
  against its rate."""
  fig, (left, right) = plt.subplots(1, 2, figsize=(15, 6.5))
  _plain_contour(left, arrays)
  surface = landscapes.get(figure.landscape)
  for (label, _), trajectory, rate, loss in zip(
    figure.optimizers,
    arrays["paths"],
    arrays["best_rate"],
    arrays["mean_final_loss"],
  ):
    (x0, x1), (y0, y1) = surface.bounds
    inside = (
      (trajectory[:, 0] >= x0)
      & (trajectory[:, 0] <= x1)
      & (trajectory[:, 1] >= y0)
      & (trajectory[:, 1] <= y1)
    )
    left_at = np.flatnonzero(~inside)
    shown = trajectory if not left_at.size else trajectory[: left_at[0]]
    name = f"{label} (tuned lr {rate:.3g})"
    (line,) = left.plot(shown[:, 0], shown[:, 1], label=name)
    if left_at.size and len(shown):  # Where the path left the window.
      left.plot(*shown[-1], "x", color=line.get_color(), markersize=10)
    right.plot(
      arrays["learning_rates"],
      np.where(np.isfinite(loss), loss, np.nan),
      color=line.get_color(),
      label=name,
    )
    chosen = np.argmin(np.abs(arrays["learning_rates"] - rate))
    right.plot([rate], [loss[chosen]], "o", color=line.get_color())
  (x0, x1), (y0, y1) = surface.bounds
  left.set_xlim(x0, x1)
  left.set_ylim(y0, y1)
  left.set(xlabel="x", ylabel="y", title="paths from the start, tuned rates")
  right.set_title("mean final loss against the learning rate")
  handles, _ = right.get_legend_handles_labels()
  handles += [
    matplotlib.lines.Line2D(
      [], [], color="k", marker="o", ls="none", label="tuned rate"
    ),
    matplotlib.lines.Line2D(
      [], [], color="k", marker="x", ls="none", label="path left the window"
    ),
  ]
  right.legend(handles=handles, fontsize=8)
  fig.suptitle(
    f"{figure.title}\n"
    + textwrap.fill(f"Tuned rate: {RULE}.", 110)
    + f" {len(arrays['learning_rates'])} rates, 64 starts.",
    fontsize=10,
  )
  fig.tight_layout()
  right.set_xscale("log")
  right.set_yscale("log")
  finite = arrays["mean_final_loss"][np.isfinite(arrays["mean_final_loss"])]
  right.set_ylim(
    0.5 * finite.min(), 10 * float(surface(np.asarray(figure.start)))
  )
  right.set_xlabel("learning rate (log scale)")
  right.set_ylabel(f"mean loss after {figure.num_steps} steps, 64 starts")
  right.grid(True)
  _save(fig, path, dpi)


def fan_figure(figure: FanFigure, arrays, path: pathlib.Path, dpi: int) -> None:
  """All paths on the contour map, coloured by the swept hyperparameter."""
  from matplotlib.collections import LineCollection

  values = arrays["values"]
  log = values.min() > 0 and values.max() / values.min() > 50
  norm = (matplotlib.colors.LogNorm if log else matplotlib.colors.Normalize)(
    values.min(), values.max()
  )
  fig, ax = plt.subplots(figsize=(12, 8))
  _plain_contour(ax, arrays)
  lines = LineCollection(
    list(arrays["paths"]), cmap="plasma", norm=norm, linewidths=0.6, alpha=0.7
  )
  lines.set_array(values)
  ax.add_collection(lines)
  fig.colorbar(
    lines, ax=ax, label=_NAMES.get(figure.swept, figure.swept) + " (colour)"
  )
  ax.plot(*figure.start, "ko", label="start")
  ax.legend(loc="upper right")
  ax.set(xlabel="x", ylabel="y")
  (x0, x1), (y0, y1) = landscapes.get(figure.landscape).bounds
  ax.set_xlim(x0, x1)
  ax.set_ylim(y0, y1)
  ax.set_title(figure.title)
  _save(fig, path, dpi)


# --- The Flax training example -------------------------------------------------


_METRICS = (
  ("train_loss", "training loss", True),
  ("val_loss", "validation loss", True),
  ("train_accuracy", "training accuracy", False),
  ("val_accuracy", "validation accuracy", False),
)
_LINE_STYLES = ("-", "--", ":", "-.")


def _styles(names, families: Mapping[str, str]) -> dict[str, dict[str, Any]]:
  """One colour per optimizer (tab20: up to 20 told apart by colour alone)
  and one line style per family, so no two optimizers are drawn alike."""
  palette = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
  order = list(dict.fromkeys(families.get(name, "") for name in names))
  return {
    name: {
      "color": palette(index % palette.N),
      "linestyle": _LINE_STYLES[
        order.index(families.get(name, "")) % len(_LINE_STYLES)
      ],
    }
    for index, name in enumerate(names)
  }


def learning_histories(
  histories: Mapping[str, Any],
  path: str | pathlib.Path,
  *,
  families: Mapping[str, str],
  title: str = "",
) -> pathlib.Path:
  """The learning-history figure: 2 x 2 panels, one line per optimizer.

  Training and validation loss (log scale) and accuracy per epoch, from
  `History` arrays; one colour per family.
  """
  styles = _styles(list(histories), families)
  fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), sharex=True)
  for ax, (field, label, log) in zip(axes.T.ravel(), _METRICS):
    for name, history in histories.items():
      values = getattr(history, field)
      ax.plot(np.arange(len(values)), values, label=name, **styles[name])
    ax.set_title(label)
    ax.set_ylabel(label + (" (log scale)" if log else ""))
    ax.set_yscale("log" if log else "linear")
    if not log:
      ax.set_ylim(0.5, 1.005)
    ax.grid(alpha=0.3)
  for ax in axes[-1]:
    ax.set_xlabel("epoch")
  axes[0, 1].legend(fontsize=8, ncol=2)
  fig.suptitle(title or "Digits MLP: learning histories")
  fig.tight_layout()
  path = pathlib.Path(path)
  _save(fig, path, 110)
  return path


def learning_rate_sensitivity(
  sweeps: Mapping[str, Any],
  path: str | pathlib.Path,
  *,
  families: Mapping[str, str],
  tuned_rates: Mapping[str, float],
  title: str = "",
) -> pathlib.Path:
  """Mean ± spread bands and the learning-rate sensitivity curves.

  Left: validation loss per epoch at the tuned learning rate, mean over seeds
  with a band of ± one standard deviation. Middle and right: final
  validation loss and accuracy against the learning rate relative to the
  tuned one, mean ± one standard deviation over seeds.
  """
  styles = _styles(list(sweeps), families)
  fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
  for name, sweep in sweeps.items():
    style = styles[name]
    relative = sweep.learning_rates / tuned_rates[name]
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
    ylabel="validation loss (log scale)",
    yscale="log",
  )
  axes[1].set(
    title="final validation loss",
    xscale="log",
    yscale="log",
    xlabel="learning rate / tuned learning rate (log scale)",
    ylabel="final validation loss (log scale)",
  )
  axes[2].set(
    title="final validation accuracy",
    xscale="log",
    xlabel="learning rate / tuned learning rate (log scale)",
    ylabel="final validation accuracy",
  )
  for ax in axes:
    ax.grid(alpha=0.3)
  axes[2].legend(fontsize=8)
  some = next(iter(sweeps.values()))
  fig.suptitle(
    title
    or f"{len(some.seeds)} seeds x {len(some.learning_rates)} "
    "learning rates per optimizer, trained as one sweep"
  )
  fig.tight_layout()
  path = pathlib.Path(path)
  _save(fig, path, 110)
  return path


# --- The optimizer atlas ------------------------------------------------------


def atlas_heatmap(
  records: list[dict[str, Any]], path: str | pathlib.Path
) -> pathlib.Path:
  """Success rate at the chosen rate, optimizer × surface."""
  optimizers = list(dict.fromkeys(r["optimizer"] for r in records))
  surfaces = list(dict.fromkeys(r["surface"] for r in records))
  success = np.full((len(optimizers), len(surfaces)), np.nan)
  for r in records:
    success[optimizers.index(r["optimizer"]), surfaces.index(r["surface"])] = r[
      "success_rate"
    ]
  fig, ax = plt.subplots(
    figsize=(max(8.0, 2.6 + 0.55 * len(surfaces)), 2.0 + 0.3 * len(optimizers))
  )
  image = ax.imshow(success, cmap="viridis", vmin=0, vmax=1, aspect="auto")
  ax.set_xticks(range(len(surfaces)), surfaces, rotation=60, ha="right")
  ax.set_yticks(range(len(optimizers)), optimizers)
  for (i, j), value in np.ndenumerate(success):
    if np.isfinite(value):
      ax.text(
        j,
        i,
        f"{value:.0%}",
        ha="center",
        va="center",
        fontsize=6,
        color="white" if value < 0.6 else "black",
      )
  fig.colorbar(image, ax=ax, label="success rate at the chosen rate")
  ax.set(
    title="Optimizer atlas: success rate at each optimizer's tuned rate",
    xlabel="surface",
    ylabel="optimizer",
  )
  fig.tight_layout()
  path = pathlib.Path(path)
  _save(fig, path, 110)
  return path


def _theory_grid(theory, rates: np.ndarray, momenta: np.ndarray, fine: int):
  """(rates, momenta, values[rate, momentum]) of the theory: given as an
  array on the measured grid, or as a function ``theory(rate, momentum)``
  evaluated on a grid `fine` times finer per axis, for smooth contours."""
  if not callable(theory):
    return rates, momenta, np.asarray(theory)
  rates = np.geomspace(rates[0], rates[-1], fine * len(rates))
  momenta = np.linspace(momenta[0], momenta[-1], fine * len(momenta))
  values = np.array([[theory(a, b) for b in momenta] for a in rates])
  return rates, momenta, values


def momentum_theory(
  panels: dict[str, tuple[np.ndarray, np.ndarray]],
  rates: np.ndarray,
  momenta: np.ndarray,
  optimum: tuple[float, float],
  kappa: float,
  path: str | pathlib.Path,
) -> pathlib.Path:
  """Per panel: the measured rate (colour; blank where the run diverged)
  with the theory's contours (white) and its stability boundary (red).

  `panels[name] = (measured[rate, momentum], theory)`: the theory as an
  array on the same grid, or as a function ``theory(rate, momentum)``,
  drawn smooth on a 4× finer grid (`_theory_grid`).
  """
  fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.6))
  for ax, (name, (measured, theory)) in zip(
    np.atleast_1d(axes), panels.items()
  ):
    mesh = ax.pcolormesh(
      rates,
      momenta,
      measured.T,
      cmap="magma_r",
      vmin=0.5,
      vmax=1.0,
      shading="nearest",
    )
    fine = _theory_grid(theory, rates, momenta, 4)
    lines = ax.contour(
      fine[0],
      fine[1],
      fine[2].T,
      levels=[0.7, 0.8, 0.9, 0.95, 0.99],
      colors="white",
      linewidths=0.8,
    )
    ax.clabel(lines, fontsize=7)
    ax.contour(fine[0], fine[1], fine[2].T, levels=[1.0], colors="red")
    handles = [
      matplotlib.lines.Line2D([], [], color="white", label="theory's rate"),
      matplotlib.lines.Line2D([], [], color="red", label="stability edge"),
    ]
    if name == "heavy ball":
      (star,) = ax.plot(
        *optimum,
        marker="*",
        color="cyan",
        markersize=12,
        ls="none",
        label="Polyak's optimal setting",
      )
      handles.append(star)
    ax.legend(handles=handles, fontsize=7, loc="lower left", facecolor="0.6")
    ax.set(
      xscale="log",
      xlabel="learning rate (log scale)",
      ylabel="momentum",
      title=f"{name}: measured rate, theory contours (κ = {kappa:g})",
    )
    fig.colorbar(mesh, ax=ax, label="measured rate per step (blank: diverged)")
  fig.tight_layout()
  path = pathlib.Path(path)
  _save(fig, path, 110)
  return path
