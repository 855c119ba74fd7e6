"""The gallery: every figure of the catalogue in one folder, with an index.html."""

import dataclasses
import html
import pathlib

from tqdm import tqdm

from experiments import compute, draw
from experiments.catalogue import (
    BEYOND_FIGURES, PATH_FIGURES, SIGNAL_METHODS, BasinFigure, FanFigure,
    HeatmapFigure, PathFigure, SignalMethod, TunedFigure)
from optax_extras import signals


@dataclasses.dataclass(frozen=True)
class Entry:
  """One picture in the gallery: its file (relative to the gallery) and caption."""

  section: str
  path: str
  caption: str


def signal_family(
    method: SignalMethod, out: pathlib.Path, *, dpi: int
) -> list[Entry]:
  """Computes (or loads) one method's responses and draws its six figures."""
  arrays = compute.cached(
      out / "data" / "signals" / f"{method.name}.npz",
      lambda: compute.signal_responses(method))
  origin = "seed 000" if method.seed_figure else "described in seed 000's text"
  if method.name == "adam_calibrations":
    origin = "beyond the seed"
  entries = []
  for index, name in enumerate(signals.SIGNAL_NAMES):
    path = pathlib.Path("signals") / method.name / f"{name}.png"
    draw.signal_figure(method, name, arrays["signals"][index],
                       arrays["responses"][:, index], out / path, dpi=dpi)
    values = ", ".join(str(v) for v in method.values)
    entries.append(Entry(
        section="A. Gradient-signal responses",
        path=str(path),
        caption=(f"{method.title} on {name.replace('_', ' ')} ({origin}). "
                 f"{method.settings}; {method.swept} ∈ {{{values}}}. "
                 "Look-ahead reads use correct linear interpolation "
                 "(the seed's helper did not interpolate).")))
  return entries


def path_family(
    figure: PathFigure, out: pathlib.Path, *, dpi: int, frames: int
) -> list[Entry]:
  """Computes (or loads) one figure's paths; draws its picture and animation."""
  arrays = compute.cached(out / "data" / "paths" / f"{figure.name}.npz",
                          lambda: compute.paths(figure))
  picture = pathlib.Path("paths") / f"{figure.name}.png"
  draw.path_figure(figure, arrays, out / picture, dpi=dpi)
  entries = [Entry(figure.section, str(picture), f"{figure.title}. {figure.caption}")]
  if not figure.view.coordinates:
    for movie in draw.path_animation(
        figure, arrays, out / picture.with_suffix(""), frames=frames, dpi=dpi // 2):
      entries.append(Entry(figure.section, str(movie.relative_to(out)),
                           f"{figure.title}: animation ({movie.suffix[1:]})."))
  return entries


def beyond_family(figure, out: pathlib.Path, *, quick: bool, dpi: int) -> list[Entry]:
  """A basin map, heatmap, tuned comparison or fan: computed (or loaded), drawn."""
  kinds = {  # type -> (compute, draw, quick-mode subsampling)
      BasinFigure: (compute.basins, draw.basin_figure, lambda f: f.resolution // (4 if quick else 1)),
      HeatmapFigure: (compute.heatmap, draw.heatmap_figure, lambda f: 3 if quick else 1),
      TunedFigure: (compute.tuned, draw.tuned_figure, lambda f: 8 if quick else 1),
      FanFigure: (compute.fan, draw.fan_figure, lambda f: 5 if quick else 1),
  }
  calculate, render, size = kinds[type(figure)]
  suffix = "_quick" if quick else ""
  arrays = compute.cached(out / "data" / f"{figure.name}{suffix}.npz",
                          lambda: calculate(figure, size(figure)))
  picture = pathlib.Path(f"{figure.name}.png")
  render(figure, arrays, out / picture, dpi=dpi)
  caption = f"{figure.title}. {figure.caption}"
  if quick:
    caption += " (Quick gallery: a subsample of these settings.)"
  if isinstance(figure, TunedFigure):
    caption += " Tuned rates: " + ", ".join(
        f"{label} {rate:.3g}" for (label, _), rate in
        zip(figure.optimizers, arrays["best_rate"])) + "."
  return [Entry(_BEYOND_SECTION, str(picture), caption)]


_BEYOND_SECTION = "F. Beyond the seeds (computed by the sweep engine)"


def training_family(out: pathlib.Path, *, quick: bool) -> list[Entry]:
  """The Flax training example: learning histories and learning-rate sensitivity."""
  from experiments import training  # Flax and scikit-learn load only here.

  arrays = compute.cached(
      out / "data" / f"training{'_quick' if quick else ''}.npz",
      lambda: training.to_arrays(*training.results(quick)))
  histories, sweeps = training.from_arrays(arrays)
  section = "E. Learning histories: a Flax MLP on scikit-learn's digits"
  accuracies = ", ".join(
      f"{name} {100 * history.val_accuracy[-1]:.1f}%"
      for name, history in sorted(
          histories.items(), key=lambda item: -item[1].val_accuracy[-1]))
  epochs = next(iter(histories.values())).val_loss.shape[-1] - 1
  histories_png = pathlib.Path("training") / "histories.png"
  sweep_png = pathlib.Path("training") / "lr_sensitivity.png"
  training.plot_learning_histories(histories, out / histories_png)
  training.plot_sweep(sweeps, out / sweep_png)
  return [
      Entry(section, str(histories_png),
            f"Training and validation loss and accuracy per epoch, {epochs} "
            "epochs, each optimizer behind clip_by_global_norm(1), weight "
            "decay on kernels and a cosine schedule, in nnx.Optimizer. Final "
            f"validation accuracy: {accuracies}."),
      Entry(section, str(sweep_png),
            "Many models at once: seeds × learning rates trained as one "
            "vmapped computation per optimizer; mean ± spread and the final "
            "validation accuracy against the learning rate (relative to each "
            "optimizer's tuned rate), testing the seed's claim that Nesterov "
            "is more sensitive to the learning rate than Adam."),
  ]


def write_index(entries: list[Entry], out: pathlib.Path) -> pathlib.Path:
  """An index.html showing every entry under its section, with its caption."""
  parts = ["<!doctype html><meta charset='utf-8'><title>optax_extras gallery</title>",
           "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
           "figure{display:inline-block;width:380px;vertical-align:top}"
           "img,video{width:100%}figcaption{font-size:12px}</style>",
           "<h1>optax_extras gallery</h1>"]
  section = None
  for entry in entries:
    if entry.section != section:
      section = entry.section
      parts.append(f"<h2>{html.escape(section)}</h2>")
    parts.append(
        f"<figure><a href='{html.escape(entry.path)}'>"
        + (f"<video src='{html.escape(entry.path)}' controls></video>"
           if entry.path.endswith(".mp4") else
           f"<img src='{html.escape(entry.path)}' loading='lazy'>")
        + "</a>"
        f"<figcaption>{html.escape(entry.caption)}</figcaption></figure>")
  index = out / "index.html"
  index.write_text("\n".join(parts), encoding="utf-8")
  return index


def build(out: pathlib.Path, *, quick: bool = False) -> list[Entry]:
  """Every figure family into `out`; saved results are re-drawn, not recomputed."""
  out.mkdir(parents=True, exist_ok=True)
  dpi, frames = (40, 12) if quick else (100, 60)
  entries = []
  for method in tqdm(SIGNAL_METHODS, desc="signal figures", unit="method"):
    entries += signal_family(method, out, dpi=dpi)
  for figure in tqdm(PATH_FIGURES, desc="path figures", unit="figure"):
    entries += path_family(figure, out, dpi=dpi, frames=frames)
  for figure in tqdm(BEYOND_FIGURES, desc="beyond the seeds", unit="figure"):
    entries += beyond_family(figure, out, quick=quick, dpi=dpi)
  entries += training_family(out, quick=quick)
  write_index(entries, out)
  return entries
