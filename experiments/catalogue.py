"""The figures, as data: what to compute and how to caption it.

A figure family here is a small frozen record. `compute` turns a record into
arrays (saved to disk), `draw` turns arrays into pictures; nothing here runs.
"""

import dataclasses
from collections.abc import Callable

import numpy as np
import optax

import optax_extras
from experiments import presets

# --- 1-D gradient-signal responses (the Habr article) ----------------------


# The documents this project started from ("seeds"), named in captions by
# these short names; `SOURCES` cites them in full (the gallery's index and
# the README show it).
HABR = "the Habr article"
DL_NOTES = "the DL Notes post"
TF1_NOTEBOOK = "the TF1 notebook"
SOURCES = (
  (
    HABR,
    "“Neural network optimization methods” (in Russian: “Методы оптимизации "
    "нейронных сетей”), an article on Habr with Theano and Lasagne code: "
    "the 1-D signal responses and the trajectory suites on its six surfaces",
  ),
  (
    DL_NOTES,
    "“DL Notes: Advanced Gradient Descent”, makerluis.com, 5 December 2023, "
    "republished in Towards Data Science, with NumPy code: momentum against "
    "NAG, the saddle, the coordinates against iteration",
  ),
  (
    TF1_NOTEBOOK,
    "a Jupyter notebook comparing TensorFlow 1's optimizers on quad, booth, "
    "a hyperbolic saddle and Beale's function (its copy here names no "
    "title or author)",
  ),
)


@dataclasses.dataclass(frozen=True)
class SignalMethod:
  """One update rule fed the six seed signals, for three values of one knob.

  `make(value)` builds the transform for one value of the swept knob; the
  plotted response is its update, negated when `negate` (full optimizers,
  whose updates carry the descent sign).
  """

  name: str
  title: str
  make: Callable[[float | str], optax.GradientTransformation]
  swept: str
  values: tuple[float | str, ...]
  settings: str
  negate: bool = False
  origin: str = HABR  # Or described in its text, or beyond it.


def _scaled(transform: optax.GradientTransformation, factor: float):
  return optax.chain(transform, optax.scale(factor))


_GAMMAS = (0.25, 0.9, 0.975)
_DESCRIBED = f"described in {HABR}'s text"

SIGNAL_METHODS = (
  SignalMethod(
    "simple_momentum",
    "Simple momentum",
    lambda g: optax_extras.nesterov_lookahead(0.25, g, (0.0,)),
    "γ",
    _GAMMAS,
    "v = γv + lr·g, lr 0.25",
    negate=True,
  ),
  SignalMethod(
    "nesterov",
    "Nesterov",
    lambda g: optax_extras.nesterov_lookahead(0.25, g, (1.0,)),
    "γ",
    _GAMMAS,
    "v = γv + lr·g(i + γv), lr 0.25",
    negate=True,
  ),
  SignalMethod(
    "smoothed_nesterov",
    "Smoothed Nesterov",
    lambda g: optax_extras.nesterov_lookahead(0.25, g, (0.25, 0.5, 0.75, 1.0)),
    "γ",
    _GAMMAS,
    "g averaged at i + cγv, c ∈ {1/4, 1/2, 3/4, 1}, lr 0.25",
    negate=True,
  ),
  SignalMethod(
    "adagrad",
    "Adagrad",
    lambda e: _scaled(optax_extras.scale_by_adagrad_family(eps=e), 2.5),
    "ε",
    (1e-7, 0.1, 10.0),
    "G += g²; v = lr·g/√(G + ε), lr 2.5",
  ),
  SignalMethod(
    "rmsprop",
    "RMSProp",
    lambda g: _scaled(optax.scale_by_rms(decay=g, eps=1e-5), 0.25),
    "γ",
    _GAMMAS,
    "E = γE + (1-γ)g²; v = lr·g/√(E + ε), lr 0.25, ε 1e-5",
  ),
  SignalMethod(
    "adadelta_zero_start",
    "Adadelta, zero start",
    lambda g: optax_extras.scale_by_adadelta_bigstart(g, 1e-3, 0.0),
    "γ",
    _GAMMAS,
    "D₀ = 0, ε 1e-3",
  ),
  SignalMethod(
    "adadelta_big_start",
    "Adadelta, big start",
    lambda g: optax_extras.scale_by_adadelta_bigstart(g, 1e-3, 50.0),
    "γ",
    _GAMMAS,
    "D₀ = 50, ε 1e-3",
  ),
  SignalMethod(
    "adam",
    "Adam",
    lambda b: _scaled(
      optax_extras.scale_by_adam_calibrated(b, 0.999, eps=0.0, eps_root=1e-7),
      0.25,
    ),
    "β1",
    _GAMMAS,
    "β2 0.999, lr 0.25, ε 1e-7 inside the root",
  ),
  # Described in the seed's text without a figure.
  SignalMethod(
    "adagrad_without_root",
    "Adagrad without the root",
    lambda e: _scaled(optax_extras.scale_by_adagrad_family(1.0, eps=e), 2.5),
    "ε",
    (1e-7, 0.1, 10.0),
    "v = lr·g/(G + ε), lr 2.5",
    origin=_DESCRIBED,
  ),
  SignalMethod(
    "adagrad_moduli",
    "Adagrad accumulating |g|",
    lambda e: _scaled(
      optax_extras.scale_by_adagrad_family(order=1.0, eps=e), 2.5
    ),
    "ε",
    (1e-7, 0.1, 10.0),
    "G += |g|; v = lr·g/√(G + ε), lr 2.5",
    origin=_DESCRIBED,
  ),
  SignalMethod(
    "adamax",
    "Adamax",
    lambda b: _scaled(optax.scale_by_adamax(b, 0.999, eps=1e-7), 0.25),
    "β1",
    _GAMMAS,
    "optax.scale_by_adamax, β2 0.999, lr 0.25, ε 1e-7",
    origin=_DESCRIBED,
  ),
  SignalMethod(
    "adam_nesterov",
    "Adam with Nesterov look-ahead (NAdam)",
    lambda b: _scaled(
      optax_extras.scale_by_adam_calibrated(
        b, 0.999, eps=0.0, eps_root=1e-7, nesterov=True
      ),
      0.25,
    ),
    "β1",
    _GAMMAS,
    "β2 0.999, lr 0.25, ε 1e-7 inside the root",
    origin=_DESCRIBED,
  ),
  # Beyond the sources: the article's "virtual history" argument, made visible.
  SignalMethod(
    "adam_calibrations",
    "Adam: initial calibration rules",
    lambda c: _scaled(
      optax_extras.scale_by_adam_calibrated(
        0.9, 0.999, eps=0.0, eps_root=1e-7, bias_correction=c
      ),
      0.25,
    ),
    "calibration",
    optax_extras.BIAS_CORRECTIONS,
    "β1 0.9, β2 0.999, lr 0.25, ε 1e-7 inside the root",
    origin="beyond the sources",
  ),
)


# --- Paths on 2-D surfaces (seeds 000, 002, 003) -----------------------------


@dataclasses.dataclass(frozen=True)
class PathOptimizer:
  """An optimizer drawn as one path: a label and a factory of its transform."""

  label: str
  make: Callable[[], optax.GradientTransformation]


@dataclasses.dataclass(frozen=True)
class View:
  """How a path figure looks: window, contour levels, an optional 3-D panel."""

  bounds: tuple[tuple[float, float], tuple[float, float]]
  mesh_step: float = 0.05
  levels: tuple[float, ...] | int = 30
  log_levels: bool = False  # Contours of log(1 + f - min f), for beale.
  surface_3d: bool = (
    False  # The TF1 notebook: a 3-D surface beside the contour.
  )
  elevation: float = 30.0
  azimuth: float = -60.0
  figsize: tuple[float, float] = (12.0, 8.0)
  star: bool = False  # Mark the known global minima.
  coordinates: bool = False  # x and y against iteration, instead of a map.


@dataclasses.dataclass(frozen=True)
class PathFigure:
  """Several optimizers from one start on one surface, drawn and animated."""

  name: str
  section: str
  title: str
  landscape: str
  start: tuple[float, float]
  num_steps: int
  optimizers: tuple[PathOptimizer, ...]
  view: View
  caption: str


_SEED000_LEVELS = tuple(
  [k / 4 for k in range(-8, 24)]
  + [6.25, 6.5, 6.75, 7.0]
  + [float(k) for k in range(8, 20)]
)
_SEED000_VIEW = View(bounds=((-3.0, 3.0), (-3.0, 3.0)), levels=_SEED000_LEVELS)
_SEED000_SURFACES = (
  "wobbly",
  "basins_and_walls",
  "giant_plateau",
  "hills_and_canyon",
  "two_minimums",
)

NESTEROV_SUITE = tuple(
  PathOptimizer(
    f"nesterov momentum {mu}",
    lambda mu=mu: presets.lasagne_nesterov_momentum(0.01, mu),
  )
  for mu in (0.25, 0.9, 0.975)
)

CROSS_METHOD_SUITE = (
  PathOptimizer(
    "nesterov", lambda: presets.lasagne_nesterov_momentum(0.01, 0.9)
  ),
  PathOptimizer("rmsprop", lambda: presets.lasagne_rmsprop(0.25)),
  PathOptimizer("adadelta", lambda: presets.lasagne_adadelta(100.0)),
  PathOptimizer("adagrad", lambda: presets.lasagne_adagrad(1.0)),
  PathOptimizer("adam", lambda: presets.lasagne_adam(0.25)),
)

_LASAGNE_NOTE = (
  "Lasagne's rules: Nesterov reformulated to evaluate g at the current point "
  "(= optax.sgd(nesterov=True)); Adagrad's accumulator from 0 with ε 1e-6 "
  "inside the root; Adadelta ρ 0.95 scaled by lr 100; Adam's ε not "
  "bias-corrected (lr·√(1-β2ᵗ)/(1-β1ᵗ)·m/(√v + ε))."
)


def _seed000_figures() -> tuple[PathFigure, ...]:
  figures = []
  for suite, optimizers, what in (
    (
      "nesterov_suite",
      NESTEROV_SUITE,
      "Nesterov momentum, lr 0.01, momentum 0.25 / 0.9 / 0.975",
    ),
    (
      "cross_method",
      CROSS_METHOD_SUITE,
      "Nesterov (lr 0.01, μ 0.9), RMSProp (lr 0.25), Adadelta (lr 100), "
      "Adagrad (lr 1), Adam (lr 0.25)",
    ),
  ):
    for surface in _SEED000_SURFACES:
      figures.append(
        PathFigure(
          name=f"{suite}/{surface}",
          section="B. The Habr article: trajectory suites",
          title=f"{surface.replace('_', ' ')}: {suite.replace('_', ' ')}",
          landscape=surface,
          start=(-2.8, -2.5),
          num_steps=125,
          optimizers=optimizers,
          view=_SEED000_VIEW,
          caption=f"{what}; start (-2.8, -2.5), 125 steps. {_LASAGNE_NOTE}",
        )
      )
  return tuple(figures)


def _seed002_suite(learning_rate: float) -> tuple[PathOptimizer, ...]:
  return (
    PathOptimizer("SGD", lambda: optax.sgd(learning_rate)),
    PathOptimizer(
      "momentum", lambda: presets.seed002_momentum(learning_rate, 0.95)
    ),
    PathOptimizer("NAG", lambda: presets.seed002_nag(learning_rate, 0.95)),
    PathOptimizer("Adagrad", lambda: presets.seed002_adagrad(learning_rate)),
    PathOptimizer(
      "RMSProp", lambda: presets.seed002_rmsprop(learning_rate, 0.9)
    ),
    PathOptimizer("AdaDelta", lambda: presets.seed002_adadelta(decay=0.9)),
    PathOptimizer("Adam", lambda: presets.seed002_adam(learning_rate)),
  )


_SEED002_NOTE = (
  "The DL Notes post's rules: NAG evaluates g really ahead at θ + μv; Adagrad and "
  "RMSProp add ε 1e-8 outside the root; AdaDelta has no learning rate. The "
  "text gives no start points: ours are stated here."
)


def _seed002_figures() -> tuple[PathFigure, ...]:
  saddle_view = View(bounds=((-2.0, 2.0), (-2.0, 2.0)))
  figures = [
    PathFigure(
      name="dl_notes/momentum_vs_nag",
      section="C. The DL Notes post: NumPy rules",
      title="two minimums: momentum vs NAG",
      landscape="two_minimums",
      start=(-2.0, -1.2),
      num_steps=150,
      optimizers=_seed002_suite(0.1)[1:3],
      view=View(bounds=((-3.0, 3.0), (-3.0, 3.0)), star=True),
      caption=(
        "Momentum against NAG, lr 0.1, μ 0.95, start (-2, -1.2), "
        "150 steps, on a surface with a local and a global minimum "
        "(the text names none: the Habr article's two minimums). "
        + _SEED002_NOTE
      ),
    ),
    PathFigure(
      name="dl_notes/saddle",
      section="C. The DL Notes post: NumPy rules",
      title="saddle x² - y²: crossing a vanishing gradient",
      landscape="saddle",
      start=(-1.5, 1e-3),
      num_steps=60,
      optimizers=_seed002_suite(0.1),
      view=saddle_view,
      caption=(
        "Every method, lr 0.1, μ 0.95, decay 0.9, from "
        "(-1.5, 0.001), 60 steps. " + _SEED002_NOTE
      ),
    ),
  ]
  for rate in (0.01, 0.1, 0.3):
    figures.append(
      PathFigure(
        name=f"dl_notes/coordinates_lr_{rate}",
        section="C. The DL Notes post: NumPy rules",
        title=f"saddle: x and y against iteration, lr {rate}",
        landscape="saddle",
        start=(-1.5, 1e-3),
        num_steps=40,
        optimizers=_seed002_suite(rate),
        view=View(
          bounds=saddle_view.bounds, coordinates=True, figsize=(12.0, 6.0)
        ),
        caption=(
          f"x and y against iteration at the global learning rate {rate} "
          "(μ 0.95, decay 0.9), from (-1.5, 0.001), 40 steps. " + _SEED002_NOTE
        ),
      )
    )
  return tuple(figures)


def _tf1_suite(
  rates: dict[str, float],
  momentum: float = 0.9,
  names=("GD", "Momentum", "NAG", "Adagrad", "RMSProp", "Adam"),
):
  makers = {
    "GD": lambda: presets.tf1_gradient_descent(rates["GD"]),
    "Momentum": lambda: presets.tf1_momentum(rates["Momentum"], momentum),
    "NAG": lambda: presets.tf1_momentum(
      rates["NAG"], momentum, use_nesterov=True
    ),
    "Adagrad": lambda: presets.tf1_adagrad(rates["Adagrad"]),
    "RMSProp": lambda: presets.tf1_rmsprop(rates["RMSProp"]),
    "Adam": lambda: presets.tf1_adam(rates["Adam"]),
  }
  return tuple(PathOptimizer(name, makers[name]) for name in names)


_TF1_NOTE = (
  "TF1's rules: momentum a = μa + g, w -= lr·a; Adagrad's accumulator starts "
  "at 0.1 with no ε; RMSProp's mean square starts at 1 (ε 1e-10); Adam's ε "
  "not bias-corrected."
)


def _seed003_figures() -> tuple[PathFigure, ...]:
  section = "D. The TF1 notebook: TF1 rules"
  same = lambda rate: {
    k: rate for k in ("GD", "Momentum", "NAG", "Adagrad", "RMSProp", "Adam")
  }
  return (
    PathFigure(
      "tf1_notebook/quad",
      section,
      "quad x² + 4y²: GD vs momentum",
      "quad",
      (-4.0, 4.0),
      20,
      (
        PathOptimizer("GD", lambda: presets.tf1_gradient_descent(0.2)),
        PathOptimizer("Momentum", lambda: presets.tf1_momentum(0.2, 0.3)),
      ),
      View(
        bounds=((-4.5, 4.5), (-4.5, 4.5)),
        levels=30,
        surface_3d=True,
        azimuth=5.0,
        star=True,
        figsize=(14.0, 6.0),
      ),
      "GD lr 0.2; Momentum lr 0.2, μ 0.3; start (-4, 4), 20 steps. "
      + _TF1_NOTE,
    ),
    PathFigure(
      "tf1_notebook/booth",
      section,
      "booth: six TF1 optimizers",
      "booth",
      (1.0, -2.0),
      70,
      _tf1_suite(same(1e-2)),
      View(
        bounds=((-3.0, 6.0), (-3.0, 6.0)),
        levels=40,
        surface_3d=True,
        elevation=70.0,
        star=True,
        figsize=(14.0, 6.0),
      ),
      "All six at lr 1e-2 (momentum 0.9); start (1, -2), 70 steps. "
      + _TF1_NOTE,
    ),
    PathFigure(
      "tf1_notebook/hyperbolic_saddle",
      section,
      "hyperbolic saddle y² - x²: six TF1 optimizers",
      "hyperbolic_saddle",
      (0.0001, 3.0),
      50,
      _tf1_suite(same(0.1)),
      View(
        bounds=((-4.0, 4.0), (-4.0, 4.0)),
        levels=40,
        surface_3d=True,
        azimuth=-30.0,
        figsize=(14.0, 6.0),
      ),
      "All six at lr 0.1, momentum 0.9; start (0.0001, 3), 50 steps. "
      + _TF1_NOTE,
    ),
    PathFigure(
      "tf1_notebook/beale",
      section,
      "beale: six TF1 optimizers",
      "beale",
      (1.5, 2.0),
      200,
      (
        PathOptimizer("GD", lambda: presets.tf1_gradient_descent(1e-3)),
        PathOptimizer("Momentum", lambda: presets.tf1_momentum(2.5e-3, 0.7)),
        PathOptimizer(
          "NAG", lambda: presets.tf1_momentum(5.5e-4, 0.9, use_nesterov=True)
        ),
        PathOptimizer("Adagrad", lambda: presets.tf1_adagrad(1.0)),
        PathOptimizer("RMSProp", lambda: presets.tf1_rmsprop(0.15)),
        PathOptimizer("Adam", lambda: presets.tf1_adam(1.0)),
      ),
      View(
        bounds=((-4.5, 4.5), (-4.5, 4.5)),
        levels=300,
        log_levels=True,
        surface_3d=True,
        azimuth=-20.0,
        star=True,
        figsize=(14.0, 6.0),
      ),
      "GD 1e-3; Momentum 2.5e-3, μ 0.7; NAG 5.5e-4, μ 0.9; Adagrad 1; "
      "RMSProp 0.15; Adam 1; start (1.5, 2), 200 steps. " + _TF1_NOTE,
    ),
  )


# The path figures' old names (the project's seed numbers), still accepted
# by the command line.
OLD_PREFIXES = {"seed002/": "dl_notes/", "seed003/": "tf1_notebook/"}


def current_name(name: str) -> str:
  """A figure's name, with an old prefix (`OLD_PREFIXES`) replaced."""
  for old, new in OLD_PREFIXES.items():
    for prefix in (old, f"paths/{old}"):
      if name.startswith(prefix):
        return name.replace(old, new, 1)
  return name


PATH_FIGURES = _seed000_figures() + _seed002_figures() + _seed003_figures()


# --- Beyond the sources: what one start point and one setting cannot show -----


@dataclasses.dataclass(frozen=True)
class BasinFigure:
  """Per optimizer, a grid of start points coloured by the minimum it reaches."""

  name: str
  title: str
  landscape: str
  optimizers: tuple[PathOptimizer, ...]
  num_steps: int
  resolution: int  # Starts per axis (the quick gallery uses a quarter).
  caption: str


@dataclasses.dataclass(frozen=True)
class HeatmapFigure:
  """Final loss and steps to a tolerance over a grid of two hyperparameters."""

  name: str
  title: str
  landscape: str
  start: tuple[float, float]
  num_steps: int
  make: Callable[..., optax.GradientTransformation]  # make(**{x: ., y: .})
  x_axis: tuple[str, tuple[float, ...]]
  y_axis: tuple[str, tuple[float, ...]]
  tol: float
  caption: str


@dataclasses.dataclass(frozen=True)
class TunedFigure:
  """Each optimizer at its best learning rate, found by one vmapped grid search."""

  name: str
  title: str
  landscape: str
  start: tuple[float, float]
  num_steps: int
  optimizers: tuple[
    tuple[str, Callable[[float], optax.GradientTransformation]], ...
  ]
  learning_rates: tuple[float, ...]
  caption: str


@dataclasses.dataclass(frozen=True)
class FanFigure:
  """Hundreds of paths across a range of one hyperparameter, in one picture."""

  name: str
  title: str
  landscape: str
  start: tuple[float, float]
  num_steps: int
  make: Callable[[float], optax.GradientTransformation]
  swept: str
  values: tuple[float, ...]
  caption: str


_BEYOND = "F. Beyond the sources"


def _log_range(low: float, high: float, count: int) -> tuple[float, ...]:
  return tuple(
    float(v) for v in np.logspace(np.log10(low), np.log10(high), count)
  )


_BASIN_OPTIMIZERS = (
  PathOptimizer("gradient descent, lr 0.01", lambda: optax.sgd(0.01)),
  PathOptimizer(
    "heavy ball, lr 0.01, γ 0.9",
    lambda: optax_extras.nesterov_lookahead(0.01, 0.9, (0.0,)),
  ),
  PathOptimizer(
    "Nesterov look-ahead, lr 0.01, γ 0.9",
    lambda: optax_extras.nesterov_lookahead(0.01, 0.9, (1.0,)),
  ),
  PathOptimizer(
    "smoothed Nesterov, lr 0.01, γ 0.9",
    lambda: optax_extras.nesterov_lookahead(0.01, 0.9, (0.25, 0.5, 0.75, 1.0)),
  ),
  PathOptimizer("Adam, lr 0.1", lambda: optax_extras.adam_calibrated(0.1)),
  PathOptimizer("Adagrad, lr 1", lambda: optax_extras.adagrad_family(1.0)),
)

BEYOND_FIGURES = (
  BasinFigure(
    "basins/himmelblau",
    "Himmelblau: which minimum each start reaches",
    "himmelblau",
    _BASIN_OPTIMIZERS,
    num_steps=200,
    resolution=256,
    caption="256 × 256 starts over [-5, 5]², 200 steps each, coloured by "
    "the minimum the run ends within 0.1 of (grey: none, black: "
    "diverged); 65,536 trajectories per optimizer in one sweep.",
  ),
  BasinFigure(
    "basins/hills_and_canyon",
    "Hills and canyon: basins of attraction",
    "hills_and_canyon",
    _BASIN_OPTIMIZERS,
    num_steps=125,
    resolution=256,
    caption="The Habr article's surface, 256 × 256 starts over [-3, 3]², 125 steps: "
    "where the seed could show one start point, every start.",
  ),
  HeatmapFigure(
    "heatmaps/nesterov_lr_momentum",
    "Nesterov look-ahead: learning rate × momentum",
    "hills_and_canyon",
    (-2.8, -2.5),
    125,
    lambda learning_rate, decay: optax_extras.nesterov_lookahead(
      learning_rate, decay, (1.0,)
    ),
    ("learning_rate", _log_range(1e-3, 1.0, 96)),
    ("decay", tuple(float(v) for v in np.linspace(0.0, 0.99, 96))),
    tol=0.1,
    caption="From the Habr article's start (-2.8, -2.5) on hills and canyon, 125 steps: the "
    "final loss and the first step with loss ≤ 0.1 (the global "
    "minimum is 0.09) over 96 × 96 settings in one sweep.",
  ),
  HeatmapFigure(
    "heatmaps/adam_lr_b1",
    "Adam: learning rate × β1",
    "hills_and_canyon",
    (-2.8, -2.5),
    125,
    lambda learning_rate, b1: optax_extras.adam_calibrated(learning_rate, b1),
    ("learning_rate", _log_range(1e-3, 1.0, 96)),
    ("b1", tuple(float(v) for v in np.linspace(0.0, 0.99, 96))),
    tol=0.1,
    caption="As the Nesterov heatmap, for Adam's learning rate and β1.",
  ),
  TunedFigure(
    "tuned/hills_and_canyon",
    "Hills and canyon: each optimizer at its tuned learning rate",
    "hills_and_canyon",
    (-2.8, -2.5),
    125,
    (
      ("SGD", lambda learning_rate: optax.sgd(learning_rate)),
      (
        "Nesterov look-ahead",
        lambda learning_rate: optax_extras.nesterov_lookahead(
          learning_rate, 0.9, (1.0,)
        ),
      ),
      (
        "smoothed Nesterov",
        lambda learning_rate: optax_extras.nesterov_lookahead(
          learning_rate, 0.9, (0.25, 0.5, 0.75, 1.0)
        ),
      ),
      ("RMSProp", lambda learning_rate: optax.rmsprop(learning_rate)),
      (
        "Adadelta, big start",
        lambda learning_rate: optax_extras.adadelta_bigstart(
          learning_rate, 0.9, 1e-6, 1.0
        ),
      ),
      (
        "Adagrad",
        lambda learning_rate: optax_extras.adagrad_family(learning_rate),
      ),
      (
        "Adam",
        lambda learning_rate: optax_extras.adam_calibrated(learning_rate),
      ),
      (
        "Adam, first-gradient start",
        lambda learning_rate: optax_extras.adam_calibrated(
          learning_rate, bias_correction="first_gradient"
        ),
      ),
    ),
    _log_range(1e-4, 10.0, 1024),
    caption="Each optimizer's learning rate is the one with the lowest mean "
    "final loss over 64 starts around the Habr article's start (-2.8, -2.5), among 1024 "
    "rates on a log grid from 1e-4 to 10: 65,536 runs in one "
    "compiled sweep per optimizer (peers run serial hyperopt "
    "trials). Then the tuned paths from the start are drawn together.",
  ),
  FanFigure(
    "fans/nesterov_momentum",
    "Nesterov look-ahead: a fan of momenta",
    "hills_and_canyon",
    (-2.8, -2.5),
    125,
    lambda decay: optax_extras.nesterov_lookahead(0.01, decay, (1.0,)),
    "decay",
    tuple(float(v) for v in np.linspace(0.0, 0.99, 300)),
    caption="300 paths from the Habr article's start (-2.8, -2.5), lr 0.01, momentum from 0 to "
    "0.99 (colour): where the seed drew three.",
  ),
  FanFigure(
    "fans/adam_learning_rate",
    "Adam: a fan of learning rates",
    "wobbly",
    (-2.8, -2.5),
    125,
    lambda learning_rate: optax_extras.adam_calibrated(learning_rate),
    "learning_rate",
    _log_range(1e-3, 1.0, 300),
    caption="300 paths from the Habr article's start (-2.8, -2.5) on the wobbly surface, Adam "
    "with learning rates from 1e-3 to 1 (colour, log scale).",
  ),
)
