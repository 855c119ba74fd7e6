"""The gallery: every figure of the catalogue in one folder, with an index.html."""

import concurrent.futures
import dataclasses
import html
import json
import multiprocessing
import multiprocessing.connection
import os
import pathlib
import threading

import numpy as np

from experiments import compute, draw, progress
from experiments.catalogue import (
  BEYOND_FIGURES,
  PATH_FIGURES,
  SIGNAL_METHODS,
  SOURCES,
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
  """One picture in the gallery: its file (relative to the gallery) and
  caption, and the job that made it (`job_keys`; set by `build`)."""

  section: str
  path: str
  caption: str
  key: str = ""
  redraw: str = ""  # The command that draws it again (`redraw_command`).


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


_BEYOND_SECTION = "F. Beyond the sources (computed by the sweep engine)"


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


# --- The front page ------------------------------------------------------------

_KINDS = (  # Job-key prefix -> heading, in the order the page leads with.
  ("beyond/basins/", "Basin maps"),
  ("beyond/heatmaps/", "Heat maps"),
  ("beyond/fans/", "Fans"),
  ("beyond/tuned/", "Tuned comparisons"),
  ("training", "Training"),
)
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1280px;margin:auto;
padding:0 12px;color:#222}
h1{margin:16px 0 4px}h2{margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{margin:18px 0 6px;font-size:1.05em}
.lead{color:#444;max-width:75ch}
.explorer{background:#eef5ff;border:1px solid #b8d0f0;padding:8px 12px;
max-width:75ch}
nav{display:flex;flex-wrap:wrap;gap:8px 32px;font-size:14px}
nav>div{flex:1 1 300px}nav ul{margin:4px 0 12px;padding-left:18px}
nav h3{margin:6px 0 2px;font-size:14px}.note{font-size:13px}
.grid{display:grid;gap:16px;
grid-template-columns:repeat(auto-fill,minmax(min(100%,380px),1fr))}
.wide{grid-template-columns:minmax(0,1100px)}
figure{margin:0}img,video{width:100%;height:auto;display:block}
figcaption{font-size:13px;margin-top:4px}
details{font-size:12px;margin-top:4px}
code{background:#f3f3f3;padding:1px 3px;overflow-wrap:anywhere}
.multiples{display:grid;gap:4px;
grid-template-columns:repeat(auto-fill,minmax(min(100%,240px),1fr))}
.method{margin-bottom:18px}
.media{display:grid;gap:6px;grid-template-columns:repeat(auto-fit,minmax(min(100%,260px),1fr))}
"""


def _anchor(key: str) -> str:
  return "f-" + key.replace("/", "-")


def redraw_command(key: str, quick: bool) -> str:
  """The command that draws a job's pictures again from its saved data."""
  kind, _, name = key.partition("/")
  if kind in ("signals", "paths"):
    return f"python -m experiments {kind} {name}"
  name = key.removeprefix("beyond/")
  return f"python -m experiments figure {name}{' --quick' if quick else ''}"


def _media(entry: Entry, animation_of: dict[str, Entry] | None = None) -> str:
  source = html.escape(entry.path, quote=True)
  alt = html.escape(entry.caption, quote=True)
  if entry.path.endswith(".mp4"):
    fallback = animation_of.get(entry.path) if animation_of else None
    inner = (
      f"<img src='{html.escape(fallback.path)}' alt='{alt}'>"
      if fallback
      else ""
    )
    return (
      f"<video src='{source}' autoplay muted loop playsinline controls "
      f"preload='metadata' aria-label='{alt}'>{inner}</video>"
    )
  return (
    f"<a href='{source}'><img src='{source}' alt='{alt}' loading='lazy'></a>"
  )


def _details(key: str, out: pathlib.Path, quick: bool, redraw: str = "") -> str:
  data = data_path(out, key, quick).relative_to(out).as_posix()
  redraw = redraw or redraw_command(key, quick)
  return (
    "<details><summary>data and redraw</summary>"
    f"Saved data: <a href='{html.escape(data)}'>{html.escape(data)}</a> "
    "(NumPy .npz). Redraw from it: "
    f"<code>{html.escape(redraw)}</code></details>"
  )


def _figure(
  key: str,
  entries: list[Entry],
  out: pathlib.Path,
  quick: bool,
  *,
  details: bool = True,
) -> str:
  """A job's pictures with their animation (playing inline), caption,
  saved data and redraw command."""
  pictures = [e for e in entries if e.path.endswith(".png")]
  gifs = {e.path: e for e in entries if e.path.endswith(".gif")}
  movies = [e for e in entries if e.path.endswith(".mp4")]
  fallback = {m.path: gifs.pop(m.path[:-4] + ".gif", None) for m in movies}
  fallback = {path: gif for path, gif in fallback.items() if gif}
  media = [_media(e) for e in pictures]
  media += [_media(m, fallback) for m in movies]
  media += [_media(g) for g in gifs.values()]
  captions = " ".join(html.escape(e.caption) for e in pictures)
  return (
    f"<figure id='{_anchor(key)}'><div class='media'>{''.join(media)}</div>"
    f"<figcaption>{captions}"
    f"{_details(key, out, quick, entries[0].redraw) if details else ''}"
    "</figcaption></figure>"
  )


def _title(key: str, entries: list[Entry]) -> str:
  if key == "training":
    return "A Flax MLP on the digits: histories and rate sensitivity"
  caption = entries[0].caption
  return caption.split(". ")[0] if ". " in caption else key


def write_index(
  entries: list[Entry], out: pathlib.Path, *, quick: bool = False
) -> pathlib.Path:
  """The gallery's index.html: the figures only this project can show first
  (basin maps, heat maps, fans, tuned comparisons, training), then the 2-D
  paths by surface, then the signal plots as small multiples (a method
  across the six signals); a table of contents by family and by surface;
  animations inline; per figure its settings, saved data and the command
  that redraws it."""
  by_key: dict[str, list[Entry]] = {}
  for entry in entries:
    by_key.setdefault(entry.key or entry.path, []).append(entry)
  surface_of = {f"paths/{n}": f.landscape for n, f in _PATHS.items()}
  surface_of.update(
    {f"beyond/{n}": f.landscape for n, f in _BEYOND_FIGURES.items()}
  )
  kinds = {heading: [] for _, heading in _KINDS}
  surfaces: dict[str, list[str]] = {}
  signal_keys, other_keys = [], []
  for key in by_key:
    heading = next((h for p, h in _KINDS if key.startswith(p)), None)
    if heading is not None:
      kinds[heading].append(key)
    elif key.startswith("paths/"):
      surfaces.setdefault(surface_of[key], []).append(key)
    elif key.startswith("signals/"):
      signal_keys.append(key)
    else:
      other_keys.append(key)
  for key in by_key:
    if key.startswith("beyond/") and key in surface_of:
      surfaces.setdefault(surface_of[key], [])

  def link(key: str) -> str:
    title = html.escape(_title(key, by_key[key]))
    return f"<li><a href='#{_anchor(key)}'>{title}</a></li>"

  toc = ["<h2>Contents</h2><nav aria-label='contents'><div>"]
  toc.append("<h3>By family</h3><ul>")
  for heading, keys in kinds.items():
    if keys:
      slug = heading.lower().replace(" ", "-")
      toc.append(f"<li><a href='#{slug}'>{heading}</a><ul>")
      toc += [link(key) for key in keys]
      toc.append("</ul></li>")
  if surfaces:
    toc.append("<li><a href='#paths'>2-D paths</a></li>")
  if signal_keys:
    toc.append("<li><a href='#signals'>1-D signal responses</a><ul>")
    for key in signal_keys:
      method = _SIGNALS[key.partition("/")[2]]
      toc.append(
        f"<li><a href='#{_anchor(key)}'>{html.escape(method.title)}</a></li>"
      )
    toc.append("</ul></li>")
  toc.append("</ul></div><div><h3>By surface</h3><ul>")
  for surface in sorted(surfaces):
    keys = [k for k in by_key if surface_of.get(k) == surface]
    toc.append(f"<li>{html.escape(surface.replace('_', ' '))}<ul>")
    toc += [link(key) for key in keys]
    toc.append("</ul></li>")
  toc.append("</ul></div></nav>")

  parts = [
    "<!doctype html><html lang='en'><meta charset='utf-8'>",
    "<meta name='viewport' content='width=device-width, initial-scale=1'>",
    "<title>optax_extras gallery</title>",
    f"<style>{_STYLE}</style>",
    "<h1>optax_extras gallery</h1>",
    "<p class='lead'>Optimizers on 2-D surfaces and 1-D gradient signals. "
    "First what one start point and one setting cannot show, computed by "
    "the sweep engine: every start of a grid, every setting of a grid, "
    "hundreds of paths at once. Then the path figures of the documents "
    "this project started from, by surface, and their signal plots. Each "
    "figure states its settings, links its saved data and gives the command "
    "that draws it again.</p>",
    "<p class='sources'><b>Sources</b> (named in the captions by their "
    "short names; every figure is computed anew here, none copied): "
    + "; ".join(
      f"<i>{html.escape(name)}</i>: {html.escape(citation)}"
      for name, citation in SOURCES
    )
    + ".</p>",
    "<p class='explorer'><b>Steer them yourself:</b> <code>python -m "
    "experiments explore</code> serves a page on "
    "<code>http://127.0.0.1:8765/</code> where you pick a surface and "
    "optimizers, click start points and move the sliders; every view is "
    "computed live and comes with the Python that reproduces it.</p>",
    "<p class='explorer'><b>Every optimizer, tuned:</b> <code>python -m "
    "experiments atlas</code> tunes each optax optimizer on each surface "
    "from many starts (success rates with intervals) into "
    "<a href='../atlas/atlas.html'>atlas/atlas.html</a>.</p>",
    *toc,
  ]
  for heading, keys in kinds.items():
    if not keys:
      continue
    slug = heading.lower().replace(" ", "-")
    parts.append(f"<h2 id='{slug}'>{heading}</h2><div class='grid wide'>")
    parts += [_figure(key, by_key[key], out, quick) for key in keys]
    parts.append("</div>")
  if surfaces:
    parts.append("<h2 id='paths'>2-D paths, by surface</h2>")
    for surface in sorted(surfaces):
      keys = [k for k in by_key if surface_of.get(k) == surface]
      paths = [k for k in keys if k.startswith("paths/")]
      if not paths:
        continue
      parts.append(
        f"<h3 id='surface-{surface}'>{html.escape(surface.replace('_', ' '))}"
        "</h3><div class='grid'>"
      )
      parts += [_figure(key, by_key[key], out, quick) for key in paths]
      parts.append("</div>")
  if signal_keys:
    parts.append(
      "<h2 id='signals'>1-D signal responses</h2><p class='lead'>Each "
      "method's update in response to the six gradient signals, for three "
      "values of one parameter: one row per method.</p>"
    )
    for key in signal_keys:
      method = _SIGNALS[key.partition("/")[2]]
      values = ", ".join(str(v) for v in method.values)
      parts.append(
        f"<section class='method' id='{_anchor(key)}'>"
        f"<h3>{html.escape(method.title)}</h3><div class='multiples'>"
        + "".join(_media(e) for e in by_key[key])
        + f"</div><p class='note'>{html.escape(method.settings)}; "
        f"{html.escape(method.swept)} ∈ {{{html.escape(values)}}} "
        f"({html.escape(method.origin)}).</p>"
        f"{_details(key, out, quick, by_key[key][0].redraw)}"
        "</section>"
      )
  for key in other_keys:
    parts.append(_figure(key, by_key[key], out, quick, details=False))
  index = out / "index.html"
  index.write_text("\n".join(parts), encoding="utf-8")
  return index


# --- Provenance: manifest.json ----------------------------------------------


def _plain(value):
  """`value` as JSON: numbers, strings, lists; long grids summarised."""
  if isinstance(value, str | bool | int | float) or value is None:
    return value
  if isinstance(value, np.generic):
    return value.item()
  if dataclasses.is_dataclass(value):
    return {
      f.name: _plain(getattr(value, f.name))
      for f in dataclasses.fields(value)
      if not callable(getattr(value, f.name))
    }
  if isinstance(value, tuple | list | np.ndarray):
    items = [_plain(v) for v in value]
    if len(items) > 8 and all(isinstance(v, int | float) for v in items):
      return {"first": items[0], "last": items[-1], "count": len(items)}
    return items
  return repr(value)


def settings(key: str, quick: bool) -> dict:
  """The settings that made a job's pictures: its catalogue entry (surface,
  start, steps, optimizers with their hyperparameters in their labels,
  grids), the mode and the library versions."""
  import jax
  import optax

  import optax_extras

  kind, _, name = key.partition("/")
  if kind == "signals":
    method = _SIGNALS[name]
    found = {
      "method": method.title,
      "settings": method.settings,
      "swept": method.swept,
      "values": _plain(method.values),
      "signals": list(signals.SIGNAL_NAMES),
      "origin": method.origin,
    }
  elif kind == "paths":
    found = _plain(_PATHS[name])
  elif kind == "beyond":
    figure = _BEYOND_FIGURES[name]
    found = _plain(figure)
    if isinstance(figure, TunedFigure):
      found["optimizers"] = [label for label, _ in figure.optimizers]
      found["starts"] = "the start and 64 around it (seed 0, sd 0.1)"
    found["subsample"] = _SUBSAMPLE[type(figure)] if quick else 1
  else:
    found = {"optimizers": "experiments.training.OPTIMIZERS"}
  return {
    **found,
    "quick": quick,
    "dpi": DPI[quick],
    "versions": {
      "optax_extras": optax_extras.__version__,
      "jax": jax.__version__,
      "optax": optax.__version__,
    },
  }


def write_manifest(
  entries: list[Entry], out: pathlib.Path, *, quick: bool
) -> pathlib.Path:
  """`out/manifest.json`: every file the gallery wrote (pictures and saved
  data), with its title, caption, redraw command and `settings`; a build of
  some jobs updates their records and keeps the others'."""
  path = out / "manifest.json"
  records = json.loads(path.read_text("utf-8")) if path.exists() else {}
  for key in dict.fromkeys(e.key for e in entries):
    mine = [e for e in entries if e.key == key]
    records[key] = {
      "title": _title(key, mine),
      "data": data_path(out, key, quick).relative_to(out).as_posix(),
      "redraw": redraw_command(key, quick),
      "settings": settings(key, quick),
      "files": [
        {"path": e.path, "section": e.section, "caption": e.caption}
        for e in mine
      ],
    }
  path.write_text(json.dumps(records, indent=1, ensure_ascii=False), "utf-8")
  return path


def read_manifest(out: pathlib.Path) -> list[Entry]:
  """The entries recorded in `out/manifest.json`, as the front page shows
  them (captions and redraw commands from the manifest)."""
  records = json.loads((out / "manifest.json").read_text("utf-8"))
  return [
    Entry(f["section"], f["path"], f["caption"], key, record["redraw"])
    for key, record in records.items()
    for f in record["files"]
  ]


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


DPI = {True: 60, False: 100}  # quick -> the pictures' resolution
FRAMES = {True: 12, False: 60}  # quick -> frames per animation


def draw_entries(
  key: str, arrays, out: pathlib.Path, *, quick: bool
) -> list[Entry]:
  """A job's pictures, drawn from its arrays."""
  dpi, frames = DPI[quick], FRAMES[quick]
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


def die_with_parent() -> None:
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


def units(key: str) -> int:
  """A job's units of progress: its sweeps (one per optimizer of a basin map
  or a tuned comparison; one for a path figure, a heatmap or a fan), and one
  for a signal family (no sweep) and for the training comparison."""
  kind, _, name = key.partition("/")
  if kind == "beyond" and isinstance(
    _BEYOND_FIGURES[name], (BasinFigure, TunedFigure)
  ):
    return len(_BEYOND_FIGURES[name].optimizers)
  return 1


def _compute_and_save(key: str, quick: bool, out: str) -> None:
  """A worker's task: compute a job's arrays and save them atomically,
  reporting its `units` to the progress bar as it goes."""
  with progress.job(units(key)):
    compute.cached(
      data_path(pathlib.Path(out), key, quick),
      lambda: compute_arrays(key, quick),
    )


# Job-key prefixes by how long their jobs take, longest first: workers take
# them in this order, so that short jobs fill the end.
_LONGEST_FIRST = (
  "training",
  "beyond/tuned",
  "beyond/basins",
  "paths/",
  "beyond/",
  "signals/",
)


def _expected_rank(key: str) -> int:
  return next(
    (i for i, prefix in enumerate(_LONGEST_FIRST) if key.startswith(prefix)),
    len(_LONGEST_FIRST),
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
  longest job first (`_LONGEST_FIRST`), while this process draws each as it
  finishes.
  Saved arrays are re-drawn, not recomputed, and an interrupted build keeps
  every array it finished. The workers exit with this process, even killed.
  """
  keys = job_keys() if only is None else only
  out.mkdir(parents=True, exist_ok=True)
  missing = [k for k in keys if not data_path(out, k, quick).exists()]
  workers = min(len(missing), workers or os.cpu_count() or 1)
  futures = {}
  pool = None
  # The bar counts sweeps (`units`), reported by the workers as they go.
  bar = progress.Progress(
    sum(units(k) for k in keys),
    "gallery",
    "sweep",
    worker_init=die_with_parent,
  )
  if workers > 1:
    pool = concurrent.futures.ProcessPoolExecutor(
      workers,
      mp_context=multiprocessing.get_context("spawn"),
      initializer=bar.initializer,
      initargs=bar.initargs,
    )
    for key in sorted(missing, key=_expected_rank):  # Longest first.
      futures[pool.submit(_compute_and_save, key, quick, str(out))] = key
  drawn = {}

  def draw(key):
    with progress.job(0 if key in computing else units(key)):
      arrays = compute.cached(
        data_path(out, key, quick), lambda: compute_arrays(key, quick)
      )
    drawn[key] = [
      dataclasses.replace(entry, key=key)
      for entry in draw_entries(key, arrays, out, quick=quick)
    ]

  computing = set(missing) if pool is not None else set()
  try:
    with bar:
      for key in keys:  # Saved, or computed here without workers.
        if key not in computing:
          draw(key)
      # The others as their workers finish them, so that drawing overlaps
      # the computing, whatever the order.
      for future in concurrent.futures.as_completed(futures):
        future.result()
        draw(futures[future])
  finally:
    if pool is not None:
      pool.shutdown(wait=False, cancel_futures=True)
  entries = [entry for key in keys for entry in drawn[key]]
  write_manifest(entries, out, quick=quick)
  if only is None:
    order = {key: index for index, key in enumerate(keys)}
    shown = [e for e in read_manifest(out) if e.key in order]
    write_index(sorted(shown, key=lambda e: order[e.key]), out, quick=quick)
  return entries
