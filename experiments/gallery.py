"""The gallery: every figure of the catalogue in one folder, with an index.html."""

import concurrent.futures
import dataclasses
import html
import multiprocessing
import multiprocessing.connection
import os
import pathlib
import threading

import numpy as np
from tqdm import tqdm

from experiments import compute, draw
from experiments.catalogue import (
  BEYOND_FIGURES,
  PATH_FIGURES,
  SIGNAL_METHODS,
  BasinFigure,
  FanFigure,
  HeatmapFigure,
  PathFigure,
  SignalMethod,
  TunedFigure,
)
from optax_extras import signals


@dataclasses.dataclass(frozen=True)
class Entry:
  """One picture in the gallery: its file (relative to the gallery) and caption."""

  section: str
  path: str
  caption: str


def signal_family(
  method: SignalMethod, arrays, out: pathlib.Path, *, dpi: int
) -> list[Entry]:
  """One method's six signal figures."""
  entries = []
  for index, name in enumerate(signals.SIGNAL_NAMES):
    path = pathlib.Path("signals") / method.name / f"{name}.png"
    draw.signal_figure(
      method,
      name,
      arrays["signals"][index],
      arrays["responses"][:, index],
      out / path,
      dpi=dpi,
    )
    values = ", ".join(str(v) for v in method.values)
    entries.append(
      Entry(
        section="A. Gradient-signal responses",
        path=str(path),
        caption=(
          f"{method.title} on {name.replace('_', ' ')} ({method.origin}). "
          f"{method.settings}; {method.swept} ∈ {{{values}}}. "
          "Look-ahead reads use correct linear interpolation "
          "(the seed's helper did not interpolate)."
        ),
      )
    )
  return entries


def path_family(
  figure: PathFigure, arrays, out: pathlib.Path, *, dpi: int, frames: int
) -> list[Entry]:
  """One 2-D figure: its final picture and its animation."""
  picture = pathlib.Path("paths") / f"{figure.name}.png"
  draw.path_figure(figure, arrays, out / picture, dpi=dpi)
  entries = [
    Entry(figure.section, str(picture), f"{figure.title}. {figure.caption}")
  ]
  if not figure.view.coordinates:
    for movie in draw.path_animation(
      figure, arrays, out / picture.with_suffix(""), frames=frames, dpi=dpi // 2
    ):
      entries.append(
        Entry(
          figure.section,
          str(movie.relative_to(out)),
          f"{figure.title}: animation ({movie.suffix[1:]}).",
        )
      )
  return entries


_SUBSAMPLE = {  # Quick gallery: every k-th setting (for basins, per axis).
  BasinFigure: 4,
  HeatmapFigure: 3,
  TunedFigure: 8,
  FanFigure: 5,
}
_BEYOND = {  # type -> (compute, draw)
  BasinFigure: (compute.basins, draw.basin_figure),
  HeatmapFigure: (compute.heatmap, draw.heatmap_figure),
  TunedFigure: (compute.tuned, draw.tuned_figure),
  FanFigure: (compute.fan, draw.fan_figure),
}


def beyond_arrays(figure, *, quick: bool) -> dict[str, np.ndarray]:
  """A basin map, heatmap, tuned comparison or fan, computed."""
  return _BEYOND[type(figure)][0](
    figure, _SUBSAMPLE[type(figure)] if quick else 1
  )


def beyond_family(
  figure, arrays, out: pathlib.Path, *, quick: bool, dpi: int
) -> list[Entry]:
  """A basin map, heatmap, tuned comparison or fan, drawn."""
  render = _BEYOND[type(figure)][1]
  picture = pathlib.Path(f"{figure.name}.png")
  render(figure, arrays, out / picture, dpi=dpi)
  caption = f"{figure.title}. {figure.caption}"
  if quick:
    caption += " (Quick gallery: a subsample of these settings.)"
  if isinstance(figure, TunedFigure):
    caption += (
      " Tuned rates: "
      + ", ".join(
        f"{label} {rate:.3g}"
        for (label, _), rate in zip(figure.optimizers, arrays["best_rate"])
      )
      + "."
    )
  return [Entry(_BEYOND_SECTION, str(picture), caption)]


_BEYOND_SECTION = "F. Beyond the seeds (computed by the sweep engine)"


def training_family(arrays, out: pathlib.Path) -> list[Entry]:
  """The Flax training example: learning histories and learning-rate sensitivity."""
  from experiments import training  # Flax and scikit-learn load only here.

  histories, sweeps = training.from_arrays(arrays)
  section = "E. Learning histories: a Flax MLP on scikit-learn's digits"
  accuracies = ", ".join(
    f"{name} {100 * history.val_accuracy[-1]:.1f}%"
    for name, history in sorted(
      histories.items(), key=lambda item: -item[1].val_accuracy[-1]
    )
  )
  epochs = next(iter(histories.values())).val_loss.shape[-1] - 1
  histories_png = pathlib.Path("training") / "histories.png"
  sweep_png = pathlib.Path("training") / "lr_sensitivity.png"
  training.plot_learning_histories(histories, out / histories_png)
  training.plot_sweep(sweeps, out / sweep_png)
  return [
    Entry(
      section,
      str(histories_png),
      f"Training and validation loss and accuracy per epoch, {epochs} "
      "epochs, each optimizer behind clip_by_global_norm(1), weight "
      "decay on kernels and a cosine schedule, in nnx.Optimizer. Final "
      f"validation accuracy: {accuracies}.",
    ),
    Entry(
      section,
      str(sweep_png),
      "Many models at once: seeds × learning rates trained as one "
      "vmapped computation per optimizer; mean ± spread and the final "
      "validation accuracy against the learning rate (relative to each "
      "optimizer's tuned rate), testing the seed's claim that Nesterov "
      "is more sensitive to the learning rate than Adam.",
    ),
  ]


def write_index(entries: list[Entry], out: pathlib.Path) -> pathlib.Path:
  """An index.html showing every entry under its section, with its caption."""
  parts = [
    "<!doctype html><meta charset='utf-8'><title>optax_extras gallery</title>",
    "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
    "figure{display:inline-block;width:380px;vertical-align:top}"
    "img,video{width:100%}figcaption{font-size:12px}</style>",
    "<h1>optax_extras gallery</h1>",
  ]
  section = None
  for entry in entries:
    if entry.section != section:
      section = entry.section
      parts.append(f"<h2>{html.escape(section)}</h2>")
    parts.append(
      f"<figure><a href='{html.escape(entry.path)}'>"
      + (
        f"<video src='{html.escape(entry.path)}' controls></video>"
        if entry.path.endswith(".mp4")
        else f"<img src='{html.escape(entry.path)}' loading='lazy'>"
      )
      + "</a>"
      f"<figcaption>{html.escape(entry.caption)}</figcaption></figure>"
    )
  index = out / "index.html"
  index.write_text("\n".join(parts), encoding="utf-8")
  return index


# --- Jobs: what to compute (in worker processes) and draw (here) -------------

_SIGNALS = {method.name: method for method in SIGNAL_METHODS}
_PATHS = {figure.name: figure for figure in PATH_FIGURES}
_BEYOND_FIGURES = {figure.name: figure for figure in BEYOND_FIGURES}


def job_keys() -> list[str]:
  """Every family of the gallery, in the order it is shown."""
  return (
    [f"signals/{name}" for name in _SIGNALS]
    + [f"paths/{name}" for name in _PATHS]
    + [f"beyond/{name}" for name in _BEYOND_FIGURES]
    + ["training"]
  )


def data_path(out: pathlib.Path, key: str, quick: bool) -> pathlib.Path:
  """Where a job's arrays are saved; quick runs of subsampled jobs apart."""
  subsampled = key == "training" or key.startswith("beyond/")
  return out / "data" / f"{key}{'_quick' if quick and subsampled else ''}.npz"


def compute_arrays(key: str, quick: bool) -> dict[str, np.ndarray]:
  """A job's arrays, computed."""
  kind, _, name = key.partition("/")
  if kind == "signals":
    return compute.signal_responses(_SIGNALS[name])
  if kind == "paths":
    return compute.paths(_PATHS[name])
  if kind == "beyond":
    return beyond_arrays(_BEYOND_FIGURES[name], quick=quick)
  from experiments import training  # Flax and scikit-learn load only here.

  return training.to_arrays(*training.results(quick, show_progress=False))


def draw_entries(
  key: str, arrays, out: pathlib.Path, *, quick: bool
) -> list[Entry]:
  """A job's pictures, drawn from its arrays."""
  dpi, frames = (40, 12) if quick else (100, 60)
  kind, _, name = key.partition("/")
  if kind == "signals":
    return signal_family(_SIGNALS[name], arrays, out, dpi=dpi)
  if kind == "paths":
    return path_family(_PATHS[name], arrays, out, dpi=dpi, frames=frames)
  if kind == "beyond":
    return beyond_family(
      _BEYOND_FIGURES[name], arrays, out, quick=quick, dpi=dpi
    )
  return training_family(arrays, out)


def _die_with_parent() -> None:
  """A worker's initializer: the worker exits as soon as its parent is gone.

  Else a worker whose parent was killed (SIGKILL runs no clean-up) would
  finish its computation and take the next ones, for minutes. A thread waits
  on the parent's sentinel (`multiprocessing.parent_process`), which the
  Python documentation defines as ready when that process ends (a file
  descriptor on POSIX, a handle on Windows): no polling and no Linux-only
  ``prctl(PR_SET_PDEATHSIG)``. Tested on Linux.
  """
  parent = multiprocessing.parent_process()

  def wait_then_exit():
    multiprocessing.connection.wait([parent.sentinel])
    os._exit(1)

  threading.Thread(target=wait_then_exit, daemon=True).start()


def _compute_and_save(key: str, quick: bool, out: str) -> None:
  """A worker's task: compute a job's arrays and save them atomically."""
  compute.cached(
    data_path(pathlib.Path(out), key, quick), lambda: compute_arrays(key, quick)
  )


def build(
  out: pathlib.Path,
  *,
  quick: bool = False,
  only: list[str] | None = None,
  workers: int | None = None,
) -> list[Entry]:
  """Draws the gallery (or the jobs `only`) into `out`, with its index.html.

  Missing arrays are computed by `workers` processes (default: one per core),
  longest job first, while this process draws the finished ones in order.
  Saved arrays are re-drawn, not recomputed, and an interrupted build keeps
  every array it finished. The workers exit with this process, even killed.
  """
  keys = job_keys() if only is None else only
  out.mkdir(parents=True, exist_ok=True)
  missing = [k for k in keys if not data_path(out, k, quick).exists()]
  workers = min(len(missing), workers or os.cpu_count() or 1)
  futures = {}
  pool = None
  if workers > 1:
    pool = concurrent.futures.ProcessPoolExecutor(
      workers,
      mp_context=multiprocessing.get_context("spawn"),
      initializer=_die_with_parent,
    )
    for key in sorted(missing, key=lambda k: k != "training"):  # Longest first.
      futures[key] = pool.submit(_compute_and_save, key, quick, str(out))
  entries = []
  try:
    for key in tqdm(keys, desc="gallery", unit="family"):
      if key in futures:
        futures[key].result()
      arrays = compute.cached(
        data_path(out, key, quick), lambda key=key: compute_arrays(key, quick)
      )
      entries += draw_entries(key, arrays, out, quick=quick)
  finally:
    if pool is not None:
      pool.shutdown(wait=False, cancel_futures=True)
  if only is None:
    write_index(entries, out)
  return entries
