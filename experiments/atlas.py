"""The optimizer atlas: every optax optimizer tuned on every surface.

For each pair (optimizer, surface with a known global minimum), the lanes of
`optax_extras.run_lane` (one program per optimizer and dimension, the
surface a runtime index: `optimizer_group`) run a log-spaced learning-rate
grid × random starts in
the surface's window (a fixed seed) for a fixed budget of steps. A run
succeeds when its final loss is within `tolerance` of the global minimum's
value (and it never diverged).

Each optimizer's rate is chosen by the shared rule `experiments.tuning.RULE`
(`tuning.robust_rate`), the one the tuned comparison uses too, with the
starts as its seeds. A run's loss is its steps to the tolerance, a failed
run censored at the budget (``num_steps``), and a run converges unless it
diverged (a non-finite loss). So the chosen rate never diverges from any
start, nor do its two grid neighbours (a lone rate at the edge of chaos is
not a tuned rate), and among such rates the fewest median steps win: a rate
that succeeds from over half the starts beats one that does not, since a
censored median is the budget. Ties go to the smaller rate.

Reported per pair: the chosen rate, the success rate with its Wilson 95%
interval, the median steps to the tolerance over the successful starts, and
tunability (`tuning.tunability`: the share of the rate grid reaching half
the best success rate).

``python -m experiments atlas [--quick] [--out DIR] [--cache DIR]`` writes
into DIR ``atlas.json`` (the settings, a manifest of every written file
with its title, caption and settings, and a record per pair),
``atlas.html`` (the figures, the terms explained, a sortable table),
``atlas.png`` and ``momentum_theory.png``: heavy ball's and Nesterov's
convergence rates measured over a learning-rate × momentum grid on a
quadratic, under the closed-form spectral radius. Each pair's arrays are
saved in a cache folder outside DIR (`default_cache`, one folder per
settings, a file per pair, identified by its settings and checked when
read), so an interrupted atlas resumes; a re-run gives the same numbers
bit for bit.
"""

import concurrent.futures
import dataclasses
import functools
import hashlib
import html
import json
import math
import multiprocessing
import os
import pathlib
import time
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optax
import scipy.stats

import optax_extras
from experiments import progress, tuning
from experiments.gallery import die_with_parent
from optax_extras import landscapes
from optax_extras.io import atomic_write

# name -> learning_rate -> optax transform. optax's first-order aliases that
# take a learning rate, with their defaults, and this library's families.
OPTIMIZERS: dict[str, Callable[[Any], optax.GradientTransformation]] = {
  "sgd": optax.sgd,
  "momentum": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
  "nesterov": lambda learning_rate: optax.sgd(
    learning_rate, momentum=0.9, nesterov=True
  ),
  "adam": optax.adam,
  "adamw": optax.adamw,
  "adamax": optax.adamax,
  "adamaxw": optax.adamaxw,
  "amsgrad": optax.amsgrad,
  "nadam": optax.nadam,
  "nadamw": optax.nadamw,
  "radam": optax.radam,
  "adabelief": optax.adabelief,
  "adan": optax.adan,
  "yogi": optax.yogi,
  "adagrad": optax.adagrad,
  "adadelta": optax.adadelta,
  "rmsprop": optax.rmsprop,
  "rmsprop_momentum": lambda learning_rate: optax.rmsprop(
    learning_rate, momentum=0.9
  ),
  "lion": optax.lion,
  "lamb": optax.lamb,
  "lars": optax.lars,
  "novograd": optax.novograd,
  "adafactor": optax.adafactor,
  "sm3": optax.sm3,
  "sign_sgd": optax.sign_sgd,
  "signum": optax.signum,
  "fromage": optax.fromage,
  "rprop": optax.rprop,
  "optimistic_gd": optax.optimistic_gradient_descent,
  "adopt": optax.contrib.adopt,
  "madgrad": optax.contrib.madgrad,
  "ademamix": optax.contrib.ademamix,
  # Learning-rate-free methods: their learning rate is a multiplier of the
  # step they estimate (1 by default), swept like any rate.
  "prodigy": optax.contrib.prodigy,
  "dadapt_adamw": optax.contrib.dadapt_adamw,
  "cocob": optax.contrib.cocob,
  "dog": optax.contrib.dog,
  "dowg": optax.contrib.dowg,
  # This library's families.
  "nesterov_lookahead": lambda learning_rate: optax_extras.nesterov_lookahead(
    learning_rate, 0.9
  ),
  "adam_first_gradient": lambda learning_rate: optax_extras.adam_calibrated(
    learning_rate, bias_correction="first_gradient"
  ),
  "adadelta_bigstart": optax_extras.adadelta_bigstart,
  "adagrad_family": optax_extras.adagrad_family,
}
LEFT_OUT = {
  "lbfgs": "a quasi-Newton method with a line search (needs value_fn)",
  "noisy_sgd": "adds noise: needs a key per step, not a deterministic rule",
  "schedule_free*": "evaluates the loss at other parameters than it returns",
  "momo, momo_adam, polyak_sgd": "need the loss value as an extra argument",
  "sophia": "needs Hessian estimates as extra arguments",
  "muon, galore": "act on weight matrices, not on a point of the plane",
  "dpsgd": "needs per-example gradients",
  "optimistic_adam*": "deprecated aliases of optimistic Adam variants",
  "acprop, simplified_ademamix": "close variants of adabelief and ademamix",
}
# Read the atlas with these in mind.
CAVEATS = {
  "fromage, adafactor, lamb": "their steps scale with the parameters' norm "
  "(fromage's step is lr·‖p‖/‖g‖ and it shrinks p by 1/√(1 + lr²); "
  "adafactor's is relative to p's RMS; lamb's trust ratio is ‖p‖/‖u‖), so "
  "they take ever smaller steps near the origin: on a surface whose minimum "
  "is at the origin (ackley, rastrigin, ripple, matyas, quad, "
  "three_hump_camel, …) that is built into the rule, not found by tuning, "
  "and they lead there while trailing elsewhere",
}
QUICK_OPTIMIZERS = (
  "sgd",
  "momentum",
  "nesterov",
  "adam",
  "rmsprop",
  "adagrad",
  "lion",
  "adabelief",
  "nesterov_lookahead",
  "adam_first_gradient",
)
QUICK_SURFACES = (
  "booth",
  "beale",
  "rosenbrock",
  "himmelblau",
  "matyas",
  "three_hump_camel",
)


@dataclasses.dataclass(frozen=True)
class Settings:
  """An atlas's size: rates, starts, steps, and the success tolerance."""

  # 32 rates (6 per decade): 48 took the full atlas past 10 minutes on 2
  # cores, where XLA compiles a pair in 0.3 s and runs it in about as long.
  num_rates: int = 32
  min_rate: float = 1e-4
  max_rate: float = 10.0
  num_starts: int = 1024
  num_steps: int = 500
  tolerance: float = 1e-3  # Relative: value + tolerance * (1 + |value|).
  seed: int = 0

  def digest(self) -> str:
    """A short name of these settings (checkpoint folders are per settings)."""
    text = json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
    return hashlib.sha256(text).hexdigest()[:12]

  @property
  def rates(self) -> np.ndarray:
    return np.geomspace(self.min_rate, self.max_rate, self.num_rates).astype(
      np.float32
    )


QUICK = Settings(num_rates=24, num_starts=64, num_steps=300)


# 5, not 10: Rastrigin and Ackley call a cosine per coordinate, XLA:CPU's
# cosine runs at a sixth of its exp's speed, and in 10 dimensions those two
# surfaces took a quarter of the full atlas's time.
ND_DIMENSION = 5
# N-D surfaces: name -> (the loss, its global minimum's value, its box).
ND_SURFACES = {
  **{
    f"{name}_d{ND_DIMENSION}": (
      landscapes.get_nd(name),
      landscapes.get_nd(name).minimum(ND_DIMENSION),
      landscapes.get_nd(name).bounds,
    )
    for name in landscapes.names_nd()
  },
  f"quadratic_kappa100_d{ND_DIMENSION}": (
    landscapes.conditioned_quadratic(100.0, ND_DIMENSION),
    0.0,
    (-1.0, 1.0),
  ),
}


def surfaces() -> tuple[str, ...]:
  """Every registered 2-D surface with a known global minimum, then the N-D
  test functions in `ND_DIMENSION` dimensions (`ND_SURFACES`)."""
  flat = [n for n in landscapes.names() if landscapes.get(n).global_minima]
  return (*flat, *ND_SURFACES)


def surface(name: str) -> tuple[Any, float, np.ndarray, np.ndarray]:
  """A surface's loss, its minimum's value, and its box: low and high
  corners of its window (2-D) or of its search box (N-D)."""
  if name in ND_SURFACES:
    loss, value, (low, high) = ND_SURFACES[name]
    return loss, value, np.full(ND_DIMENSION, low), np.full(ND_DIMENSION, high)
  loss = landscapes.get(name)
  (x0, x1), (y0, y1) = loss.bounds
  return (
    loss,
    loss.global_minima[0].value,
    np.array([x0, y0]),
    np.array([x1, y1]),
  )


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
  """The Wilson score 95% interval of a binomial proportion (SciPy's)."""
  interval = scipy.stats.binomtest(successes, trials).proportion_ci(
    0.95, method="wilson"
  )
  return float(interval.low), float(interval.high)


def starts(name: str, settings: Settings) -> np.ndarray:
  """Uniform random starts in the surface's box (a seed per surface)."""
  _, _, low, high = surface(name)
  rng = np.random.default_rng([settings.seed, *name.encode()])
  points = rng.uniform(low, high, (settings.num_starts, len(low)))
  return points.astype(np.float32)


def default_cache() -> pathlib.Path:
  """Where the pairs' checkpoints go by default: ``$XDG_CACHE_HOME`` (else
  ``~/.cache``) ``/optax_extras/atlas``, outside the atlas's output."""
  root = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
  return pathlib.Path(root) / "optax_extras" / "atlas"


def steps_to_tolerance(
  result: optax_extras.SweepResult, tol: float, num_steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """`(ok, steps, diverged)`, each ``[rate, start]``: success (the final
  loss within `tol`, never diverged), the first step at `tol` for a success
  and `num_steps` (the budget: censored) otherwise, and divergence (a
  non-finite loss)."""
  diverged = result.diverged | ~np.isfinite(result.final_loss)
  ok = (result.final_loss <= tol) & ~diverged & (result.tol_step >= 0)
  steps = np.where(ok, result.tol_step, num_steps).astype(np.float64)
  return ok, steps, diverged


def pair(
  optimizer: str,
  surface_name: str,
  settings: Settings,
  cache: pathlib.Path | None = None,
) -> dict[str, Any]:
  """One optimizer on one surface: its record (`cache`: a folder for its
  checkpoint, None for none)."""
  loss, value, _, _ = surface(surface_name)
  tol = value + settings.tolerance * (1 + abs(value))
  result = optax_extras.sweep(
    OPTIMIZERS[optimizer],
    loss,
    grid={"learning_rate": settings.rates},
    starts=starts(surface_name, settings),
    num_steps=settings.num_steps,
    tol=tol,
    checkpoint_dir=None
    if cache is None
    else cache / settings.digest() / f"{optimizer}__{surface_name}",
    progress=False,
  )
  ok, steps, diverged = steps_to_tolerance(result, tol, settings.num_steps)
  progress.report()
  return record(optimizer, surface_name, settings, ok, steps, diverged)


@functools.cache
def _shared_program(optimizer: str, surface_names: tuple[str, ...]):
  """One jitted program for `optimizer` on every surface of `surface_names`
  (one dimension): the surface is a runtime index (``lax.switch``), the
  starts, the tolerance and the step count runtime arrays, so the group
  compiles once instead of once per surface. Lanes are laid out as `sweep`
  lays them (rate-major, one block padded to a power of two)."""
  import jax
  import jax.numpy as jnp

  losses = [surface(name)[0] for name in surface_names]
  make = OPTIMIZERS[optimizer]

  @jax.jit
  def lanes(index, rates, points, tol, num_steps):
    loss = lambda params: jax.lax.switch(index, losses, params)
    num_rates, num_starts = rates.shape[0], points.shape[0]
    num_lanes = num_rates * num_starts
    lane = jnp.minimum(
      jnp.arange(1 << (num_lanes - 1).bit_length()), num_lanes - 1
    )
    rate, start = jnp.divmod(lane, num_starts)

    def one(learning_rate, params):
      return optax_extras.run_lane(
        make(learning_rate), loss, params, num_steps=num_steps, tol=tol
      )

    out = jax.vmap(one)(rates[rate], points[start])
    shape = (num_rates, num_starts)
    return tuple(
      x[:num_lanes].reshape(shape)
      for x in (out.final_loss, out.tol_step, out.divergence_step)
    )

  return lanes


def _cache_key(
  optimizer: str, surface_name: str, group: Sequence[str], settings: Settings
) -> str:
  """What a cached pair's arrays depend on: the settings, the pair, the
  group its program was shared with, and the versions that compute it."""
  import jax

  return json.dumps(
    {
      "settings": dataclasses.asdict(settings),
      "optimizer": optimizer,
      "surface": surface_name,
      "group": list(group),
      "versions": [
        optax_extras.__version__,
        jax.__version__,
        optax.__version__,
      ],
    },
    sort_keys=True,
  )


def _read_cached(path: pathlib.Path, key: str, shape) -> dict | None:
  """A pair's saved arrays, if `path` holds this `key`'s, whole."""
  try:
    with np.load(path) as saved:  # A zip: its CRCs are checked on reading.
      arrays = {name: saved[name] for name in saved.files}
    if str(arrays.pop("key")) != key:
      return None
    if any(a.shape != shape for a in arrays.values()) or len(arrays) != 3:
      return None
    return arrays
  except Exception:  # Missing, damaged, or of another format: computed.
    return None


def optimizer_group(
  optimizer: str,
  surface_names: Sequence[str],
  settings: Settings,
  cache: pathlib.Path | None = None,
) -> list[dict[str, Any]]:
  """`optimizer` on `surface_names` (one dimension): their records, in
  order, from one compiled program (`_shared_program`), each pair reported
  to the progress bar as it finishes.

  This runs the lanes with the library's public `optax_extras.run_lane`,
  not `optax_extras.sweep`: `sweep`'s loss is a static function of the
  parameters (its only runtime values are the optimizer's grid, the starts,
  a key and the step count), and its `tol` is static too, so a surface
  cannot be a runtime value there, and each surface would compile its own
  program (984 in the full atlas, which is compile-bound). The lanes are
  `sweep`'s (the same layout and block), but XLA compiles the switched
  loss apart from the step and rounds a few operations differently, which
  chaotic runs amplify: against a per-surface `sweep` (`pair`), the quick
  atlas's 60 records keep their chosen rate, success rate, interval, median
  steps and tunability, and 12 differ in their per-rate lists by 1 or 2
  starts of 64 at some rates; Adam in the full settings keeps every chosen
  rate, and on rosenbrock succeeds from 638 starts of 1024 instead of 637
  (median steps 364.5 instead of 365).

  `cache`: a folder where each pair's arrays are saved, identified by
  `_cache_key` and checked when read, so an interrupted atlas resumes.
  """
  group = tuple(surface_names)
  program = _shared_program(optimizer, group)
  shape = (settings.num_rates, settings.num_starts)
  records = []
  for index, name in enumerate(group):
    _, value, _, _ = surface(name)
    tol = value + settings.tolerance * (1 + abs(value))
    key = _cache_key(optimizer, name, group, settings)
    path = None
    if cache is not None:
      path = cache / settings.digest() / f"{optimizer}__{name}.npz"
    arrays = None if path is None else _read_cached(path, key, shape)
    if arrays is None:
      final_loss, tol_step, divergence_step = program(
        np.int32(index),
        settings.rates,
        starts(name, settings),
        np.float32(tol),  # As `sweep` compares: in the loss's float32.
        np.int32(settings.num_steps),
      )
      arrays = {
        "final_loss": np.asarray(final_loss),
        "tol_step": np.asarray(tol_step),
        "divergence_step": np.asarray(divergence_step),
      }
      if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(
          path, lambda file, a=arrays, k=key: np.savez(file, key=k, **a)
        )
    result = types.SimpleNamespace(
      final_loss=arrays["final_loss"],
      tol_step=arrays["tol_step"],
      diverged=arrays["divergence_step"] >= 0,
    )
    ok, steps, diverged = steps_to_tolerance(result, tol, settings.num_steps)
    records.append(record(optimizer, name, settings, ok, steps, diverged))
    progress.report()
  return records


def record(
  optimizer: str,
  surface_name: str,
  settings: Settings,
  ok: np.ndarray,
  steps: np.ndarray,
  diverged: np.ndarray,
) -> dict[str, Any]:
  """A pair's record from `steps_to_tolerance`'s arrays. Where no rate of
  the grid converges (every rate diverges from over half the starts:
  `tuning.NoRateConverges`), the pair does not converge: its rate and
  median steps are null, its success rate 0."""
  success = ok.mean(axis=1)
  try:
    chosen = tuning.robust_rate(steps, diverged)
  except tuning.NoRateConverges:
    chosen = None
  successes = 0 if chosen is None else int(ok[chosen].sum())
  low, high = wilson_interval(successes, settings.num_starts)
  return {
    "optimizer": optimizer,
    "surface": surface_name,
    "converges": chosen is not None,
    "learning_rate": None if chosen is None else float(settings.rates[chosen]),
    "success_rate": 0.0 if chosen is None else float(success[chosen]),
    "ci_low": low,
    "ci_high": high,
    "median_steps": float(np.median(steps[chosen][ok[chosen]]))
    if chosen is not None and ok[chosen].any()
    else None,
    "num_starts": settings.num_starts,
    "tunability": tuning.tunability(success),
    "success_by_rate": [float(s) for s in success],
    "diverged_by_rate": [float(d) for d in diverged.mean(axis=1)],
    "censored_median_steps_by_rate": [float(m) for m in np.median(steps, 1)],
  }


# --- Momentum against theory ---------------------------------------------------

KAPPA = 10.0  # The quadratic's condition number: eigenvalues 1 and 10.
THEORY_RATES = np.geomspace(0.01, 0.5, 24)
THEORY_MOMENTA = np.linspace(0.0, 0.95, 20)
_THEORY_STEPS, _THEORY_EVERY = 400, 5


_THEORY_SURFACE = landscapes.conditioned_quadratic(KAPPA, 2)


def _heavy_ball(learning_rate, momentum) -> optax.GradientTransformation:
  return optax.sgd(learning_rate, momentum)


def _nesterov_momentum(learning_rate, momentum) -> optax.GradientTransformation:
  return optax.sgd(learning_rate, momentum, nesterov=True)


@functools.cache
def momentum_rates(nesterov: bool) -> tuple[np.ndarray, np.ndarray]:
  """Heavy ball (or Nesterov) on ``conditioned_quadratic(KAPPA, 2)`` from
  (1, 1), measured by one float64 sweep over `THEORY_RATES` ×
  `THEORY_MOMENTA`: the per-step convergence rate of |x| (from the envelope
  of the loss: its largest value over steps 300..400 against 100..200, so
  that oscillating iterations are measured too) and which runs diverged
  (computed once per process)."""
  import jax

  with jax.enable_x64(True):
    result = optax_extras.sweep(
      _nesterov_momentum if nesterov else _heavy_ball,
      _THEORY_SURFACE,
      grid={"learning_rate": THEORY_RATES, "momentum": THEORY_MOMENTA},
      starts=np.ones(2),
      num_steps=_THEORY_STEPS,
      record_every=_THEORY_EVERY,
      progress=False,
    )
  return envelope_rate(result.trajectory_loss), result.diverged


def envelope_rate(loss: np.ndarray) -> np.ndarray:
  """Per-step rate of |x| from a quadratic loss recorded every 5 steps."""
  every = _THEORY_EVERY
  late = loss[..., 300 // every :].max(-1)
  early = loss[..., 100 // every : 200 // every + 1].max(-1)
  with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
    return (late / early) ** (1.0 / (2 * 200))


def spectral_radius(
  learning_rate: float, momentum: float, nesterov: bool
) -> float:
  """The closed-form rate on the quadratic: the largest root modulus of
  z^2 - (1 + b - a l) z + b (heavy ball, Polyak 1964) or
  z^2 - (1 + b)(1 - a l) z + b (1 - a l) (Nesterov), over l in {1, KAPPA}
  (G. Goh, "Why Momentum Really Works", Distill 2017), by the quadratic
  formula (a complex square root where the roots are complex)."""
  a, b = float(learning_rate), float(momentum)
  radius = 0.0
  for lam in (1.0, KAPPA):
    if nesterov:
      p, q = (1 + b) * (1 - a * lam), b * (1 - a * lam)
    else:
      p, q = 1 + b - a * lam, b
    root = complex(p * p - 4 * q) ** 0.5
    radius = max(radius, abs((p + root) / 2), abs((p - root) / 2))
  return radius


def momentum_theory_figure(path: pathlib.Path) -> pathlib.Path:
  """Measured rates as heat maps with the theory's contours on top."""
  from experiments import draw

  panels = {}
  for nesterov in (False, True):
    measured, diverged = momentum_rates(nesterov)
    # The theory as a function: drawn on a finer grid than the measured
    # one, so that its contours are smooth (interpolating a coarse grid
    # draws jagged ones at the radius's kinks).
    theory = functools.partial(spectral_radius, nesterov=nesterov)
    name = "Nesterov" if nesterov else "heavy ball"
    panels[name] = (np.where(diverged, np.nan, measured), theory)
  root = math.sqrt(KAPPA)
  optimum = ((2 / (1 + root)) ** 2, ((root - 1) / (root + 1)) ** 2)
  return draw.momentum_theory(
    panels, THEORY_RATES, THEORY_MOMENTA, optimum, KAPPA, path
  )


def manifest(
  settings: Settings,
  optimizers: Sequence[str],
  surface_names: Sequence[str],
  quick: bool,
) -> list[dict[str, Any]]:
  """Every file the atlas writes: its name, title, caption, and the settings
  that made it (with the call that remakes it)."""
  call = (
    "python -m experiments atlas" + (" --quick" if quick else "")
    if optimizers == (QUICK_OPTIMIZERS if quick else tuple(OPTIMIZERS))
    and surface_names == (QUICK_SURFACES if quick else surfaces())
    and settings == (QUICK if quick else Settings())
    else "experiments.atlas.build(out, optimizers=..., surface_names=..., "
    "settings=Settings(...)) with the settings below"
  )
  common = {
    **dataclasses.asdict(settings),
    "optimizers": list(optimizers),
    "surfaces": list(surface_names),
    "rule": tuning.RULE,
    "version": optax_extras.__version__,
    "remake": call,
  }
  sizes = (
    f"{settings.num_rates} learning rates from {settings.min_rate:g} to "
    f"{settings.max_rate:g} × {settings.num_starts} random starts × "
    f"{settings.num_steps} steps per pair"
  )
  theory = {
    "kappa": KAPPA,
    "learning_rates": [float(r) for r in THEORY_RATES],
    "momenta": [float(m) for m in THEORY_MOMENTA],
    "num_steps": _THEORY_STEPS,
    "start": [1.0, 1.0],
    "dtype": "float64",
    "version": optax_extras.__version__,
    "remake": "experiments.atlas.momentum_theory_figure(path)",
  }
  return [
    {
      "file": "atlas.json",
      "title": "Optimizer atlas: the records",
      "caption": f"One record per optimizer and surface; {sizes}.",
      "settings": common,
    },
    {
      "file": "atlas.html",
      "title": "Optimizer atlas",
      "caption": "The figures, the terms, and a table of every pair.",
      "settings": common,
    },
    {
      "file": "atlas.png",
      "title": "Success rate at the chosen rate, optimizer × surface",
      "caption": f"The share of starts that reach the tolerance at the rate "
      f"the rule chooses ({tuning.RULE}; the starts are its seeds); {sizes}.",
      "settings": common,
    },
    {
      "file": "momentum_theory.png",
      "title": "Momentum against theory",
      "caption": f"Heavy ball's and Nesterov's per-step convergence rates "
      f"measured on a quadratic of condition number {KAPPA:g} from (1, 1) "
      f"over {len(THEORY_RATES)} learning rates × {len(THEORY_MOMENTA)} "
      "momenta (float64), with the closed-form spectral radius's contours "
      "and its stability boundary on top (Polyak 1964; Goh 2017).",
      "settings": theory,
    },
  ]


def build(
  out: pathlib.Path,
  *,
  quick: bool = False,
  optimizers: Sequence[str] | None = None,
  surface_names: Sequence[str] | None = None,
  settings: Settings | None = None,
  show_progress: bool = True,
  workers: int | None = None,
  cache: pathlib.Path | bool = True,
) -> list[dict[str, Any]]:
  """Computes every pair by `workers` processes (default: one per core),
  and writes atlas.png, momentum_theory.png, atlas.json (with the
  `manifest`) and atlas.html into `out`, which holds nothing else.

  Each pair's sweep is checkpointed in `cache` (True: `default_cache()`;
  False: no checkpoints), so that a run resumes where one stopped.
  """
  from experiments import draw

  settings = settings or (QUICK if quick else Settings())
  optimizers = tuple(
    optimizers or (QUICK_OPTIMIZERS if quick else tuple(OPTIMIZERS))
  )
  surface_names = tuple(
    surface_names or (QUICK_SURFACES if quick else surfaces())
  )
  unknown = [o for o in optimizers if o not in OPTIMIZERS]
  if unknown:
    raise ValueError(f"optimizers: unknown {unknown}; see atlas.OPTIMIZERS")
  unknown = [s for s in surface_names if s not in surfaces()]
  if unknown:
    raise ValueError(f"surface_names: unknown {unknown}; see atlas.surfaces()")
  if cache is True:
    cache = default_cache()
  elif cache is False:
    cache = None
  out.mkdir(parents=True, exist_ok=True)
  start = time.perf_counter()
  pairs = [(o, s) for o in optimizers for s in surface_names]
  # One program per optimizer and dimension (`optimizer_group`).
  dimensions: dict[int, list[str]] = {}
  for name in surface_names:
    dimensions.setdefault(len(surface(name)[2]), []).append(name)
  groups = [(o, tuple(g)) for o in optimizers for g in dimensions.values()]
  workers = min(len(groups), workers or os.cpu_count() or 1)
  with progress.Progress(
    len(pairs),
    "atlas",
    "pair",
    disable=not show_progress,
    worker_init=die_with_parent,
  ) as bar:
    if workers == 1:
      done = [optimizer_group(o, g, settings, cache) for o, g in groups]
    else:
      # One process per core, one device each: every group compiles once
      # (not once per device), and the bits do not depend on devices. Each
      # reports its pairs to the bar (`progress.report`) as it finishes them.
      with concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=bar.initializer,
        initargs=bar.initargs,
      ) as pool:
        futures = [
          pool.submit(optimizer_group, o, g, settings, cache) for o, g in groups
        ]
        done = [future.result() for future in futures]
  by_pair = {(r["optimizer"], r["surface"]): r for rs in done for r in rs}
  records = [by_pair[p] for p in pairs]  # Pair order.
  draw.atlas_heatmap(records, out / "atlas.png")
  momentum_theory_figure(out / "momentum_theory.png")
  files = manifest(settings, optimizers, surface_names, quick)
  document = {
    "settings": {
      **dataclasses.asdict(settings),
      "rates": [float(r) for r in settings.rates],
      "rule": tuning.RULE,
    },
    "files": files,
    "left_out": LEFT_OUT,
    "caveats": CAVEATS,
    "records": records,
  }
  atomic_write(
    out / "atlas.json",
    lambda file: file.write(json.dumps(document, indent=1).encode()),
  )
  atomic_write(
    out / "atlas.html",
    lambda file: file.write(to_html(records, settings, files).encode()),
  )
  print(
    f"atlas: {len(pairs)} pairs in {time.perf_counter() - start:.0f} s; "
    f"wrote {out / 'atlas.json'}, atlas.html, atlas.png, momentum_theory.png"
  )
  return records


def to_html(
  records: list[dict[str, Any]],
  settings: Settings,
  files: list[dict[str, Any]],
) -> str:
  """A page: what was run, the terms, the figures (from the manifest
  `files`), and a table that sorts by any column (a few lines of inline
  script, no library). It names only the run's optimizers and surfaces."""
  optimizers = list(dict.fromkeys(r["optimizer"] for r in records))
  surface_names = list(dict.fromkeys(r["surface"] for r in records))
  columns = (
    "optimizer",
    "surface",
    "learning_rate",
    "success_rate",
    "ci_low",
    "ci_high",
    "median_steps",
    "tunability",
  )
  rows = []
  for r in records:
    cells = []
    for c in columns:
      v = r[c]
      text = "—" if v is None else (f"{v:.4g}" if isinstance(v, float) else v)
      cells.append(f"<td>{html.escape(str(text))}</td>")
    rows.append("<tr>" + "".join(cells) + "</tr>")
  header = "".join(
    f"<th onclick='sortBy({i})'>{c}</th>" for i, c in enumerate(columns)
  )
  figures = "".join(
    f'<figure><img src="{f["file"]}" alt="{html.escape(f["title"])}">'
    f"<figcaption><b>{html.escape(f['title'])}.</b> "
    f"{html.escape(f['caption'])}</figcaption></figure>"
    for f in files
    if f["file"].endswith(".png")
  )
  caveats = "".join(
    f"<p><b>{html.escape(k)}</b>: {html.escape(v)}.</p>"
    for k, v in CAVEATS.items()
    if set(k.split(", ")) & set(optimizers)
  )

  def names(items):
    return ", ".join(html.escape(i) for i in items)

  return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Optimizer atlas</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em; max-width: 80em; }}
table {{ border-collapse: collapse; margin-bottom: 2em; font-size: 0.85em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.4em; text-align: right; }}
#table th {{ cursor: pointer; background: #eee; }}
.scroll {{ overflow-x: auto; }}
figure {{ margin: 1em 0; }}
figure img {{ max-width: 100%; }}
dt {{ font-weight: bold; }}
</style></head><body>
<h1>Optimizer atlas</h1>
<p>{len(optimizers)} optimizers ({names(optimizers)}) on
{len(surface_names)} surfaces ({names(surface_names)}): for each pair, one
sweep of {settings.num_rates} learning rates from {settings.min_rate:g} to
{settings.max_rate:g} × {settings.num_starts} random starts in the
surface's window × {settings.num_steps} steps.
Records and settings: <a href="atlas.json">atlas.json</a>.</p>
<h2>Terms</h2>
<dl>
<dt>Success rate</dt><dd>The share of starts whose final loss is within
{settings.tolerance:g}·(1 + |min|) of the global minimum's value, without
diverging.</dd>
<dt>Wilson interval</dt><dd>The 95% interval of the success rate
(Wilson 1927): unlike the textbook ±2σ, it stays within [0, 1] and is not
empty at 0% or 100%.</dd>
<dt>Chosen rate (the rule)</dt><dd>{html.escape(tuning.RULE)}. Here a
start is a seed, a run's loss is its steps to the tolerance (a failed run
counts as the whole budget of {settings.num_steps}), and a run converges
unless its loss becomes non-finite. So the chosen rate and its neighbours
never diverge, and a rate at the edge of chaos is passed over. Where every
rate diverges from over half the starts, no rate is chosen (—): the pair
does not converge and its success rate is 0.</dd>
<dt>Median steps</dt><dd>The median, over the starts that succeed at the
chosen rate, of the first step whose loss is within the tolerance.</dd>
<dt>Tunability</dt><dd>The share of the rate grid whose success rate is at
least half the best one: near 1, almost any rate does; near 0, the rate
must be found.</dd>
</dl>
{caveats}
<h2>Figures</h2>
{figures}
<h2>Every pair (click a column to sort)</h2>
<div class="scroll"><table id="table"><thead><tr>{header}</tr></thead>
<tbody>{"".join(rows)}</tbody></table></div>
<script>
function sortBy(column) {{
  const body = document.querySelector("#table tbody");
  const rows = Array.from(body.rows);
  const key = (row) => {{
    const text = row.cells[column].textContent;
    const number = parseFloat(text);
    return isNaN(number) ? text : number;
  }};
  const up = body.dataset.column == column && body.dataset.up != "1";
  rows.sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0));
  if (!up) rows.reverse();
  body.dataset.column = column;
  body.dataset.up = up ? "1" : "0";
  rows.forEach((row) => body.appendChild(row));
}}
</script>
</body></html>
"""
