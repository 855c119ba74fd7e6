"""What makes a figure readable on its own, checked on the `Figure` object.

The rules of issue 21 (a reviewer's checklist, after Tufte, "The Visual
Display of Quantitative Information", and Rougier et al., "Ten Simple Rules
for Better Figures", PLoS Comput. Biol. 2014): a title; named axes; a
labelled colour bar wherever colour encodes a value; a legend wherever there
is more than one series, its entries told apart; no axis line through the
data; every marker named in a legend; wide enough to read.
"""

import numpy as np
from matplotlib.collections import LineCollection, QuadMesh
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D


def _is_colorbar(ax) -> bool:
  return hasattr(ax, "_colorbar")


def _data_axes(fig: Figure) -> list:
  """Axes that show data: not colour bars, not switched off."""
  return [ax for ax in fig.axes if not _is_colorbar(ax) and ax.axison]


def _no_marker(marker) -> bool:
  return marker is None or marker in ("", "None", " ", "none")


def _no_line(linestyle) -> bool:
  return linestyle in ("", "None", " ", "none")


def _in_containers(ax) -> set:
  """Lines that are parts of a container (an error bar's caps and line)."""
  return {
    id(child)
    for container in ax.containers
    for child in container.get_children()
  }


def _series(ax) -> list:
  """Lines of more than one point drawn as lines (markers alone excluded),
  and containers (error bars)."""
  parts = _in_containers(ax)
  return list(ax.containers) + [
    line
    for line in ax.get_lines()
    if id(line) not in parts
    and line.get_visible()
    and not _no_line(line.get_linestyle())
    and len(line.get_xdata()) > 1
  ]


def _markers(ax) -> list[Line2D]:
  parts = _in_containers(ax)
  return [
    line
    for line in ax.get_lines()
    if id(line) not in parts
    and line.get_visible()
    and (_no_line(line.get_linestyle()) or len(line.get_xdata()) == 1)
    and not _no_marker(line.get_marker())
    and len(line.get_xdata()) > 0
  ]


def _legends(fig: Figure) -> list:
  legends = list(fig.legends)
  legends += [ax.get_legend() for ax in fig.axes if ax.get_legend()]
  return legends


def _colour_mappables(ax) -> list:
  """Artists whose colour encodes a value."""
  found = [a for a in ax.images if isinstance(a, AxesImage)]
  for artist in ax.collections:
    if isinstance(artist, QuadMesh):
      found.append(artist)
    elif isinstance(artist, ContourSet) and artist.filled:
      found.append(artist)
    elif isinstance(artist, LineCollection) and not isinstance(
      artist, ContourSet
    ):
      if artist.get_array() is not None:
        found.append(artist)
  return found


def _colorbar_label(colorbar) -> str:
  return colorbar.ax.get_ylabel() or colorbar.ax.get_xlabel()


def _has_label(ax, axis: str, fig: Figure) -> bool:
  """The axes names `axis`, or an axes sharing it does, or the figure does."""
  own = ax.get_xlabel() if axis == "x" else ax.get_ylabel()
  if own.strip():
    return True
  shared = ax.get_shared_x_axes() if axis == "x" else ax.get_shared_y_axes()
  for sibling in shared.get_siblings(ax):
    text = sibling.get_xlabel() if axis == "x" else sibling.get_ylabel()
    if text.strip():
      return True
  figure_label = fig._supxlabel if axis == "x" else fig._supylabel
  return figure_label is not None and bool(figure_label.get_text().strip())


def _style(handle) -> tuple:
  """What tells a legend entry apart: colour, line style, marker."""
  if isinstance(handle, Line2D):
    return (
      str(handle.get_color()),
      str(handle.get_linestyle()),
      str(handle.get_marker()),
    )
  colors = [
    np.asarray(getattr(handle, f"get_{part}color", lambda: None)()).tolist()
    for part in ("face", "edge")
  ]
  return (str(colors), type(handle).__name__, "")


def problems(fig: Figure, *, min_width_px: int, dpi: float) -> list[str]:
  """Every rule `fig` breaks, in words (empty when it is readable)."""
  found = []
  width = fig.get_figwidth() * dpi
  if width < min_width_px:
    found.append(f"{width:.0f} px wide, under {min_width_px} px")
  axes = _data_axes(fig)
  suptitle = fig._suptitle.get_text().strip() if fig._suptitle else ""
  if len(suptitle.split()) < 2 and not all(
    len(ax.get_title().split()) >= 2 for ax in axes
  ):
    found.append("no title (suptitle, or a title on every axes)")
  legends = _legends(fig)
  legend_labels = {t.get_text() for lg in legends for t in lg.get_texts()}
  legend_markers = {
    str(h.get_marker())
    for lg in legends
    for h in lg.legend_handles
    if isinstance(h, Line2D) and _no_line(h.get_linestyle())
  }
  colorbars = [ax._colorbar for ax in fig.axes if _is_colorbar(ax)]
  for lg in legends:
    styles = [_style(h) for h in lg.legend_handles]
    if len(set(styles)) < len(styles):
      texts = [t.get_text() for t in lg.get_texts()]
      found.append(f"legend entries drawn alike: {texts}")
  for index, ax in enumerate(axes):
    name = f"axes {index} ({ax.get_title() or 'untitled'!r})"
    for axis in ("x", "y"):
      if not _has_label(ax, axis, fig):
        found.append(f"{name}: no {axis} label")
    for side, spine in ax.spines.items():
      position = spine.get_position()
      through = position in ("zero", "center") or (
        isinstance(position, tuple)
        and (
          position[0] == "data"
          or (position[0] == "axes" and position[1] not in (0.0, 1.0))
        )
      )
      if through:
        found.append(f"{name}: {side} spine at {position}, through the data")
    series = _series(ax)
    if len(series) > 1:
      unnamed = [s for s in series if s.get_label() not in legend_labels]
      if unnamed:
        found.append(
          f"{name}: {len(series)} series, {len(unnamed)} not in a legend"
        )
    for marker in _markers(ax):
      if (
        marker.get_label() not in legend_labels
        and str(marker.get_marker()) not in legend_markers
      ):
        found.append(f"{name}: marker {marker.get_marker()!r} not in a legend")
    for mappable in _colour_mappables(ax):
      colorbar = getattr(mappable, "colorbar", None)
      if colorbar is None:  # A shared colour bar: same colour map and range.
        colorbar = next(
          (
            c
            for c in colorbars
            if c.mappable.get_cmap().name == mappable.get_cmap().name
            and c.mappable.get_clim() == mappable.get_clim()
          ),
          None,
        )
      if colorbar is None:
        found.append(f"{name}: {type(mappable).__name__} without a colour bar")
      elif not _colorbar_label(colorbar).strip():
        found.append(f"{name}: colour bar without a label")
  return found


def assert_readable(fig: Figure, *, min_width_px: int, dpi: float) -> None:
  """Fails, listing every broken rule, unless `fig` is readable on its own.

  `min_width_px`: 800 for full figures, 600 for quick ones; `dpi`: the
  resolution the figure is saved at.
  """
  broken = problems(fig, min_width_px=min_width_px, dpi=dpi)
  assert not broken, "unreadable figure:\n  " + "\n  ".join(broken)
