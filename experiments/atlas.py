"""The optimizer atlas: every optax optimizer tuned on every surface.

For each pair (optimizer, surface with a known global minimum), one
`optax_extras.sweep` runs a log-spaced learning-rate grid × random starts in
the surface's window (a fixed seed) for a fixed budget of steps. A run
succeeds when its final loss is within `tolerance` of the global minimum's
value (and it never diverged). Each optimizer's rate is chosen by a robust
rule (`choose_rate`): its neighbours on the grid must succeed too, so a lone
spike at the edge of chaos is not a tuned rate; ties go to fewer median
steps. Reported per pair: the chosen rate, the success rate with its Wilson
95% interval, the median steps to the tolerance, and tunability (the share
of the rate grid reaching half the best success rate).

``python -m experiments atlas [--quick] [--out DIR]`` writes ``atlas.json``
(a list of records), ``atlas.html`` (a sortable table and an optimizer ×
surface heat map of success), ``atlas.png``, and ``momentum_theory.png``:
heavy ball's and Nesterov's convergence rates measured over a learning-rate
× momentum grid on a quadratic, under the closed-form spectral radius. Each pair's sweep is
checkpointed under ``DIR/checkpoints``, so an interrupted atlas resumes; a
re-run gives the same numbers bit for bit.
"""

import concurrent.futures
import dataclasses
import hashlib
import html
import json
import math
import multiprocessing
import os
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optax
import scipy.ndimage
import scipy.stats

import optax_extras
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


def choose_rate(success: np.ndarray, median_steps: np.ndarray) -> int:
  """The index of the chosen rate: the best success rate that its grid
  neighbours share (the smallest of the three), ties to fewer median steps,
  then to the smaller rate."""
  rates = len(success)
  robust = scipy.ndimage.minimum_filter1d(success, 3, mode="nearest")
  steps = np.where(np.isnan(median_steps), np.inf, median_steps)
  order = np.lexsort((np.arange(rates), steps, -robust))
  return int(order[0])


def tunability(success: np.ndarray) -> float:
  """The share of the rate grid reaching half the best success rate."""
  best = success.max()
  return float(np.mean(success >= 0.5 * best)) if best > 0 else 0.0


def starts(name: str, settings: Settings) -> np.ndarray:
  """Uniform random starts in the surface's box (a seed per surface)."""
  _, _, low, high = surface(name)
  rng = np.random.default_rng([settings.seed, *name.encode()])
  points = rng.uniform(low, high, (settings.num_starts, len(low)))
  return points.astype(np.float32)


def pair(
  optimizer: str,
  surface_name: str,
  settings: Settings,
  checkpoints: pathlib.Path | None = None,
) -> dict[str, Any]:
  """One optimizer on one surface: its record."""
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
    if checkpoints is None
    else checkpoints / f"{optimizer}__{surface_name}__{settings.digest()}",
    progress=False,
  )
  ok = (result.final_loss <= tol) & ~result.diverged  # [rates, starts]
  success = ok.mean(axis=1)
  steps = np.where(ok, result.tol_step, np.nan).astype(np.float64)
  with np.errstate(all="ignore"):
    median = np.array(
      [np.nanmedian(row) if np.isfinite(row).any() else np.nan for row in steps]
    )
  chosen = choose_rate(success, median)
  low, high = wilson_interval(int(ok[chosen].sum()), settings.num_starts)
  return {
    "optimizer": optimizer,
    "surface": surface_name,
    "learning_rate": float(settings.rates[chosen]),
    "success_rate": float(success[chosen]),
    "ci_low": low,
    "ci_high": high,
    "median_steps": None if np.isnan(median[chosen]) else float(median[chosen]),
    "num_starts": settings.num_starts,
    "tunability": tunability(success),
    "success_by_rate": [float(s) for s in success],
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


def momentum_rates(nesterov: bool) -> tuple[np.ndarray, np.ndarray]:
  """Heavy ball (or Nesterov) on ``conditioned_quadratic(KAPPA, 2)`` from
  (1, 1), measured by one float64 sweep over `THEORY_RATES` ×
  `THEORY_MOMENTA`: the per-step convergence rate of |x| (from the envelope
  of the loss: its largest value over steps 300..400 against 100..200, so
  that oscillating iterations are measured too) and which runs diverged."""
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
  (G. Goh, "Why Momentum Really Works", Distill 2017)."""
  a, b = learning_rate, momentum
  radii = []
  for lam in (1.0, KAPPA):
    if nesterov:
      polynomial = [1.0, -(1 + b) * (1 - a * lam), b * (1 - a * lam)]
    else:
      polynomial = [1.0, -(1 + b - a * lam), b]
    radii.append(np.abs(np.roots(polynomial)).max())
  return float(max(radii))


def momentum_theory_figure(path: pathlib.Path) -> pathlib.Path:
  """Measured rates as heat maps with the theory's contours on top."""
  from experiments import draw

  panels = {}
  for nesterov in (False, True):
    measured, diverged = momentum_rates(nesterov)
    theory = np.array(
      [
        [spectral_radius(a, b, nesterov) for b in THEORY_MOMENTA]
        for a in THEORY_RATES
      ]
    )
    name = "Nesterov" if nesterov else "heavy ball"
    panels[name] = (np.where(diverged, np.nan, measured), theory)
  root = math.sqrt(KAPPA)
  optimum = ((2 / (1 + root)) ** 2, ((root - 1) / (root + 1)) ** 2)
  return draw.momentum_theory(
    panels, THEORY_RATES, THEORY_MOMENTA, optimum, KAPPA, path
  )


def build(
  out: pathlib.Path,
  *,
  quick: bool = False,
  optimizers: Sequence[str] | None = None,
  surface_names: Sequence[str] | None = None,
  settings: Settings | None = None,
  show_progress: bool = True,
  workers: int | None = None,
) -> list[dict[str, Any]]:
  """Computes every pair (resuming from ``out/checkpoints``), by `workers`
  processes (default: one per core), and writes atlas.json, atlas.html,
  atlas.png and momentum_theory.png into `out`."""
  from tqdm.auto import tqdm

  settings = settings or (QUICK if quick else Settings())
  optimizers = tuple(
    optimizers or (QUICK_OPTIMIZERS if quick else tuple(OPTIMIZERS))
  )
  surface_names = tuple(
    surface_names or (QUICK_SURFACES if quick else surfaces())
  )
  out.mkdir(parents=True, exist_ok=True)
  start = time.perf_counter()
  pairs = [(o, s) for o in optimizers for s in surface_names]
  workers = min(len(pairs), workers or os.cpu_count() or 1)
  checkpoints = out / "checkpoints"
  with tqdm(
    total=len(pairs), desc="atlas", unit="pair", disable=not show_progress
  ) as bar:
    if workers == 1:
      records = []
      for optimizer, surface in pairs:
        records.append(pair(optimizer, surface, settings, checkpoints))
        bar.update()
    else:
      # One process per core, one device each: every pair compiles once
      # (not once per device), and the bits do not depend on devices.
      with concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with_parent,
      ) as pool:
        futures = [
          pool.submit(pair, o, s, settings, checkpoints) for o, s in pairs
        ]
        for future in concurrent.futures.as_completed(futures):
          future.result()
          bar.update()
        records = [future.result() for future in futures]  # Pair order.
  document = {
    "settings": {
      **dataclasses.asdict(settings),
      "rates": [float(r) for r in settings.rates],
    },
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
    lambda file: file.write(to_html(records, settings).encode()),
  )
  from experiments import draw

  draw.atlas_heatmap(records, out / "atlas.png")
  momentum_theory_figure(out / "momentum_theory.png")
  print(
    f"atlas: {len(pairs)} pairs in {time.perf_counter() - start:.0f} s; "
    f"wrote {out / 'atlas.json'}, atlas.html, atlas.png"
  )
  return records


def to_html(records: list[dict[str, Any]], settings: Settings) -> str:
  """A page: the optimizer × surface heat map of success, then a table
  that sorts by any column (a few lines of inline script, no library)."""
  optimizers = list(dict.fromkeys(r["optimizer"] for r in records))
  surface_names = list(dict.fromkeys(r["surface"] for r in records))
  by_pair = {(r["optimizer"], r["surface"]): r for r in records}

  def cell(record):
    rate = record["success_rate"]
    colour = f"hsl({int(120 * rate)}, 70%, {90 - 40 * rate:.0f}%)"
    tip = (
      f"lr {record['learning_rate']:.3g}, success {rate:.0%} "
      f"[{record['ci_low']:.0%}, {record['ci_high']:.0%}]"
    )
    return (
      f'<td style="background:{colour}" title="{html.escape(tip)}">'
      f"{rate:.0%}</td>"
    )

  heat = ["<tr><th></th>"]
  heat += [f"<th>{html.escape(s)}</th>" for s in surface_names]
  heat.append("</tr>")
  for o in optimizers:
    heat.append(f"<tr><th>{html.escape(o)}</th>")
    heat += [cell(by_pair[o, s]) for s in surface_names if (o, s) in by_pair]
    heat.append("</tr>")
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
      text = "" if v is None else (f"{v:.4g}" if isinstance(v, float) else v)
      cells.append(f"<td>{html.escape(str(text))}</td>")
    rows.append("<tr>" + "".join(cells) + "</tr>")
  header = "".join(
    f"<th onclick='sortBy({i})'>{c}</th>" for i, c in enumerate(columns)
  )
  return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Optimizer atlas</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em; }}
table {{ border-collapse: collapse; margin-bottom: 2em; font-size: 0.85em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.4em; text-align: right; }}
#table th {{ cursor: pointer; background: #eee; }}
.scroll {{ overflow-x: auto; }}
</style></head><body>
<h1>Optimizer atlas</h1>
<p>{settings.num_rates} learning rates from {settings.min_rate:g} to
{settings.max_rate:g} × {settings.num_starts} random starts in each
surface's window × {settings.num_steps} steps, one sweep per pair. Success:
the final loss within {settings.tolerance:g}·(1 + |min|) of the global
minimum. The rate is chosen robustly (its grid neighbours must succeed
too); the interval is Wilson's 95%. <a href="atlas.json">atlas.json</a>
</p>
<p>{"".join(f"<b>{html.escape(k)}</b>: {html.escape(v)}. " for k, v in CAVEATS.items())}</p>
<h2>Success rate at the chosen rate</h2>
<div class="scroll"><table>{"".join(heat)}</table></div>
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
