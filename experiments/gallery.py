"""The gallery: every figure of the catalogue in one folder, with an index.html."""

import dataclasses
import html
import pathlib

from tqdm import tqdm

from experiments import compute, draw
from experiments.catalogue import (
    PATH_FIGURES, SIGNAL_METHODS, PathFigure, SignalMethod)
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
  write_index(entries, out)
  return entries
