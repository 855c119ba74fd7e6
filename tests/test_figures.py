"""Every kind of figure the gallery and the atlas write is readable on its own.

Each is drawn small from synthetic arrays (no sweeps) and its `Figure`
checked by `figure_rules.assert_readable`, at the quick gallery's
resolution (600 px) and the full one's (800 px).
"""

import numpy as np
import pytest

from experiments import draw, gallery
from experiments.catalogue import (
  BEYOND_FIGURES,
  PATH_FIGURES,
  SIGNAL_METHODS,
  BasinFigure,
  FanFigure,
  HeatmapFigure,
  TunedFigure,
)
from experiments.training.loop import History
from experiments.training.many import Sweep
from optax_extras import landscapes
from tests.figure_rules import assert_readable, problems

pytestmark = pytest.mark.float32

QUICK_DPI, FULL_DPI = gallery.DPI[True], gallery.DPI[False]
RNG = np.random.default_rng(0)


@pytest.fixture
def drawn(monkeypatch):
  """The figures `draw` would save, kept open: [(figure, dpi)]."""
  figures = []
  monkeypatch.setattr(
    draw, "_save", lambda fig, path, dpi: figures.append((fig, dpi))
  )
  yield figures
  for fig, _ in figures:
    draw.plt.close(fig)


def _check(figures, *, gallery_dpi=True):
  """Quick and full widths; figures saved at their own dpi (training,
  atlas) are checked at it against the full width."""
  assert figures
  for fig, dpi in figures:
    if gallery_dpi:
      assert_readable(fig, min_width_px=600, dpi=QUICK_DPI)
      assert fig.get_figwidth() * FULL_DPI >= 800
    else:
      assert_readable(fig, min_width_px=800, dpi=dpi)


def _mesh(landscape):
  (x0, x1), (y0, y1) = landscapes.get(landscape).bounds
  x, y = np.meshgrid(np.linspace(x0, x1, 12), np.linspace(y0, y1, 10))
  z = np.asarray(landscapes.get(landscape).fn(x, y), np.float64)
  return {"mesh_x": x, "mesh_y": y, "mesh_z": z}


def _paths(count, start, steps=6):
  walk = RNG.normal(scale=0.1, size=(count, steps, 2)).cumsum(1)
  return np.asarray(start) + walk


def _path_figure(name):
  return next(f for f in PATH_FIGURES if f.name == name)


def _beyond(kind):
  return next(f for f in BEYOND_FIGURES if isinstance(f, kind))


def test_signal_figure(drawn):
  method = SIGNAL_METHODS[0]
  signal = np.sin(np.arange(30) / 3.0)
  responses = np.stack([signal * (i + 1) for i in range(len(method.values))])
  draw.signal_figure(method, "noisy_sin", signal, responses, None, QUICK_DPI)
  _check(drawn)


@pytest.mark.parametrize(
  "name",
  [
    "dl_notes/momentum_vs_nag",  # Stars on the map.
    "tf1_notebook/booth",  # A 3-D panel.
    "dl_notes/coordinates_lr_0.1",  # Coordinates against iteration.
  ],
)
def test_path_figure_and_animation_frame(drawn, name):
  figure = _path_figure(name)
  arrays = {
    **_mesh(figure.landscape),
    "paths": _paths(len(figure.optimizers), figure.start),
  }
  draw.path_figure(figure, arrays, None, QUICK_DPI)
  if not figure.view.coordinates:
    frame, _ = draw.animation_frame(figure, arrays)
    drawn.append((frame, QUICK_DPI))
    # The animation is drawn at half the picture's dpi: still large enough.
    assert frame.get_figwidth() * QUICK_DPI / 2 > 240
    assert frame.get_figheight() * QUICK_DPI / 2 > 160
  _check(drawn)


def test_basin_figure(drawn):
  figure = _beyond(BasinFigure)
  minima = np.array([[3.0, 2.0], [-2.8, 3.1]])
  labels = RNG.integers(-2, len(minima), size=(len(figure.optimizers), 6, 6))
  arrays = {
    "labels": labels.astype(np.int8),
    "xs": np.linspace(-5, 5, 6),
    "ys": np.linspace(-5, 5, 6),
    "minima": minima,
  }
  draw.basin_figure(figure, arrays, None, QUICK_DPI)
  _check(drawn)


@pytest.mark.parametrize(
  "figure", [f for f in BEYOND_FIGURES if isinstance(f, HeatmapFigure)]
)
def test_heatmap_figure(drawn, figure):
  xs, ys = np.geomspace(1e-3, 1.0, 5), np.linspace(0.0, 0.99, 4)
  arrays = {
    "final_loss": RNG.uniform(0.1, 10.0, size=(5, 4)),
    "tol_step": RNG.integers(-1, 100, size=(5, 4)),
    "xs": xs,
    "ys": ys,
  }
  draw.heatmap_figure(figure, arrays, None, QUICK_DPI)
  _check(drawn)
  (fig, _), *_ = drawn
  title = fig._suptitle.get_text()
  for ax in fig.axes[:2]:  # The axis shows what the title names.
    assert ax.get_ylabel().split()[0] in title.lower()


def test_tuned_figure_states_its_rule(drawn):
  from experiments.tuning import RULE

  figure = _beyond(TunedFigure)
  rates = np.geomspace(1e-3, 1.0, 7)
  losses = RNG.uniform(0.1, 1.0, size=(len(figure.optimizers), 7))
  losses[:, -1] = np.inf
  arrays = {
    **_mesh(figure.landscape),
    "learning_rates": rates,
    "mean_final_loss": losses,
    "best_rate": rates[RNG.integers(0, 6, size=len(figure.optimizers))],
    "paths": _paths(len(figure.optimizers), figure.start),
  }
  draw.tuned_figure(figure, arrays, None, QUICK_DPI)
  _check(drawn)
  (fig, _), *_ = drawn
  texts = [fig._suptitle.get_text()] + [t.get_text() for t in fig.texts]
  assert any(RULE in " ".join(t.split()) for t in texts)


def test_fan_figure(drawn):
  figure = _beyond(FanFigure)
  values = np.linspace(0.0, 0.99, 5)
  arrays = {
    **_mesh(figure.landscape),
    "paths": _paths(5, figure.start),
    "values": values,
  }
  draw.fan_figure(figure, arrays, None, QUICK_DPI)
  _check(drawn)


_FAMILIES = {
  f"opt{i}": ("momentum", "adam", "adagrad")[i % 3] for i in range(13)
}


def _history(shape=()):
  epochs = np.arange(5)
  loss = np.exp(-epochs / 3.0) * RNG.uniform(0.5, 2.0, size=(*shape, 1))
  accuracy = 1 - 0.4 * loss
  return History(loss, loss * 1.1, accuracy, accuracy * 0.98)


def test_learning_histories_tell_13_optimizers_apart(drawn):
  histories = {name: _history() for name in _FAMILIES}
  draw.learning_histories(histories, "unused.png", families=_FAMILIES)
  _check(drawn, gallery_dpi=False)


def test_learning_rate_sensitivity(drawn):
  names = list(_FAMILIES)[:5]
  rates = np.geomspace(0.1, 10.0, 3)
  sweeps = {
    name: Sweep(rates * 0.01, np.arange(2), _history((2, 3))) for name in names
  }
  draw.learning_rate_sensitivity(
    sweeps,
    "unused.png",
    families=_FAMILIES,
    tuned_rates={name: 0.01 for name in names},
  )
  _check(drawn, gallery_dpi=False)


def test_atlas_heatmap(drawn):
  records = [
    {"optimizer": o, "surface": s, "success_rate": RNG.uniform()}
    for o in ("sgd", "adam", "lion")
    for s in ("quad", "booth", "beale")
  ]
  draw.atlas_heatmap(records, "unused.png")
  _check(drawn, gallery_dpi=False)


def test_momentum_theory(drawn):
  rates, momenta = np.geomspace(1e-3, 1.0, 6), np.linspace(0.0, 0.99, 5)
  theory = np.linspace(0.5, 1.2, 30).reshape(6, 5)
  calls = []

  def radius(rate, momentum):  # A theory given as a function: drawn finer.
    calls.append(rate)
    return 0.5 + rate + 0.5 * momentum

  panels = {"heavy ball": (theory * 0.95, theory), "Nesterov": (theory, radius)}
  draw.momentum_theory(panels, rates, momenta, (0.01, 0.5), 100.0, "unused")
  _check(drawn, gallery_dpi=False)
  assert len(calls) == (4 * 6) * (4 * 5)


def test_the_rules_catch_what_a_reviewer_would():
  fig, ax = draw.plt.subplots(figsize=(4, 3))
  ax.plot([0, 1], [0, 1], "r-", label="a")
  ax.plot([0, 1], [1, 0], "r-", label="b")
  ax.plot([0.5], [0.5], "k*")
  ax.imshow([[0, 1]])
  ax.spines["bottom"].set_position("zero")
  ax.legend()
  found = " | ".join(problems(fig, min_width_px=800, dpi=100))
  draw.plt.close(fig)
  for rule in (
    "px wide",
    "no title",
    "no x label",
    "drawn alike",
    "spine at zero",
    "marker '*' not in a legend",
    "AxesImage without a colour bar",
  ):
    assert rule in found
