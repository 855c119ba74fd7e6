"""The protocol: every optimizer tuned the same way on every workload.

Per (optimizer, workload), one `optax_extras.sweep`: a log grid of learning
rates (the optimizer's other hyperparameters at their defaults, as in the
atlas's `experiments.atlas.OPTIMIZERS`) x seeds, every model a lane. The
rate is `experiments.tuning.robust_rate` on the final validation loss
(diverged runs excluded). Reported at that rate: the steps to the
workload's target of its validation metric (accuracy: the first record at
or above it; a regression's mean squared error, lower is better: at or
below it; runs that never reach it within the budget, or diverge, are
censored and counted), the final metric's mean with a Student-t 95%
interval over seeds, and the tunability (`tuning.tunability` of the median
improvement over the trivial predictor per rate: accuracy above chance, or
MSE below the training mean's). Rankings are compared with Spearman's rank
correlation and a percentile bootstrap over optimizers.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import scipy.stats

import optax_extras
from experiments import tuning
from experiments.atlas import OPTIMIZERS
from experiments.models.workloads import Workload

SWEEP_KEY = 0  # The minibatches: fixed, so a run is reproducible.
NUM_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
BOOTSTRAP = (
  f"percentile bootstrap over optimizers ({NUM_RESAMPLES} resamples with "
  f"replacement, numpy.random.default_rng({BOOTSTRAP_SEED}); resamples whose "
  "ranks are all tied are skipped)"
)
INTERVAL = "Student-t 95% interval of the mean over seeds"


@dataclasses.dataclass(frozen=True)
class Settings:
  """The grid: `num_rates` rates log-spaced over [min_rate, max_rate], and
  `num_seeds` seeds (initialisations); `num_records` validation records per
  run (the resolution of steps to target); `budget` overrides the
  workload's."""

  num_rates: int = 12
  min_rate: float = 1e-4
  max_rate: float = 10.0
  num_seeds: int = 5
  num_records: int = 20
  budget: int | None = None

  def __post_init__(self):
    for name in ("num_rates", "num_seeds", "num_records"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
    if not 0 < self.min_rate <= self.max_rate:
      raise ValueError(
        f"min_rate must be in (0, max_rate], got {self.min_rate}"
      )

  @property
  def rates(self) -> np.ndarray:
    return np.geomspace(self.min_rate, self.max_rate, self.num_rates).astype(
      np.float32
    )

  @property
  def seeds(self) -> np.ndarray:
    return np.arange(self.num_seeds)


def record_every(budget: int, num_records: int) -> int:
  """Steps between validation records (at least 1)."""
  return max(1, budget // num_records)


def run(
  optimizer: str, workload: Workload, settings: Settings
) -> dict[str, Any]:
  """One optimizer on one workload: its record (JSON-ready)."""
  if optimizer not in OPTIMIZERS:
    raise ValueError(
      f"optimizer must be one of experiments.atlas.OPTIMIZERS, got "
      f"{optimizer!r}"
    )
  budget = settings.budget or workload.budget
  every = record_every(budget, settings.num_records)
  result = optax_extras.sweep(
    OPTIMIZERS[optimizer],
    workload.loss,
    grid={"learning_rate": settings.rates},
    starts=workload.initial_params(settings.seeds),
    num_steps=budget,
    key=jax.random.key(SWEEP_KEY),
    metrics_fn=workload.metrics,
    record_every=every,
    progress=False,
  )
  # Used once: a full mode's ~120 programs would exhaust the memory maps.
  optax_extras.sweep.clear_cache()
  diverged = np.asarray(result.diverged)  # [rates, seeds]
  val_loss = np.asarray(result.metrics["val_loss"], np.float64)
  values = np.asarray(result.metrics[workload.metric], np.float64)
  curve = np.asarray(result.trajectory_metrics[workload.metric], np.float64)
  return summarize(
    optimizer,
    workload,
    settings,
    val_loss=np.where(diverged, np.nan, val_loss),
    values=np.where(diverged, np.nan, values),
    curve=curve,
    diverged=diverged,
    every=every,
    budget=budget,
  )


def steps_to_target(
  curve: np.ndarray,
  diverged: np.ndarray,
  target: float,
  every: int,
  higher_is_better: bool = True,
) -> np.ndarray:
  """Per run, the first recorded step whose metric reaches `target` (>= it,
  or <= it where lower is better; `curve[..., k]` is step ``k * every``);
  NaN (censored) where no record reaches it or the run diverged."""
  curve = np.asarray(curve, np.float64)
  with np.errstate(invalid="ignore"):
    reached = np.isfinite(curve) & (
      curve >= target if higher_is_better else curve <= target
    )
  first = np.argmax(reached, axis=-1).astype(np.float64) * every
  return np.where(reached.any(-1) & ~diverged, first, np.nan)


def nanmedian(values: np.ndarray) -> np.ndarray:
  """The median over seeds (the last axis) of the finite values; NaN, with
  no warning, where a rate has none (every seed diverged)."""
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    return np.nanmedian(np.asarray(values, np.float64), axis=-1)


def t_interval(
  values: np.ndarray, bounds: tuple[float, float] = (-np.inf, np.inf)
) -> tuple[float, float, float]:
  """Mean and `INTERVAL` of the finite values (NaNs where fewer than 2),
  the interval clipped to the metric's `bounds` (an accuracy's [0, 1])."""
  values = np.asarray(values, np.float64)
  values = values[np.isfinite(values)]
  if len(values) < 2:
    mean = float(values.mean()) if len(values) else float("nan")
    return mean, float("nan"), float("nan")
  mean = float(values.mean())
  half = float(
    scipy.stats.t.ppf(0.975, len(values) - 1)
    * values.std(ddof=1)
    / np.sqrt(len(values))
  )
  low, high = np.clip([mean - half, mean + half], *bounds)
  return mean, float(low), float(high)


def summarize(
  optimizer: str,
  workload: Workload,
  settings: Settings,
  *,
  val_loss: np.ndarray,
  values: np.ndarray,
  curve: np.ndarray,
  diverged: np.ndarray,
  every: int,
  budget: int,
) -> dict[str, Any]:
  """The record of one sweep's arrays (`[rates, seeds]`: the final
  validation loss and `workload.metric`; `curve`, the metric, with a
  trailing record axis)."""
  chosen = tuning.robust_rate(val_loss, diverged)
  steps = steps_to_target(
    curve[chosen],
    diverged[chosen],
    workload.target,
    every,
    workload.higher_is_better,
  )
  censored = int(np.isnan(steps).sum())
  # Median time to target with censored runs as infinite (AlgoPerf-style):
  # finite only when more than half the seeds reach the target.
  median_steps = np.median(np.where(np.isnan(steps), np.inf, steps))
  bounds = (0.0, 1.0) if workload.kind == "classification" else (0.0, np.inf)
  mean, low, high = t_interval(values[chosen], bounds)
  median = nanmedian(np.where(diverged, np.nan, values))
  gain = workload.score(median) - workload.score(workload.baseline)
  improvement = np.clip(np.nan_to_num(gain, nan=0.0), 0, None)
  return {
    "optimizer": optimizer,
    "workload": workload.name,
    "metric": workload.metric,
    "higher_is_better": workload.higher_is_better,
    "learning_rate": float(settings.rates[chosen]),
    "chosen_index": chosen,
    "median_steps_to_target": None
    if not np.isfinite(median_steps)
    else float(median_steps),
    "censored": censored,
    "num_seeds": int(val_loss.shape[1]),
    "val_metric": _finite(mean),
    "ci_low": _finite(low),
    "ci_high": _finite(high),
    "tunability": tuning.tunability(improvement),
    "diverged": int(diverged.sum()),
    "budget": budget,
    "record_every": every,
    "val_loss_by_rate_seed": _json(val_loss),
    "val_metric_by_rate_seed": _json(values),
    "steps_to_target_by_seed": _json(steps),
  }


def _finite(value: float) -> float | None:
  """NaN as None, so the JSON is strict."""
  return float(value) if np.isfinite(value) else None


def _json(array: np.ndarray) -> list:
  """NaN as None, so the JSON is strict."""
  array = np.asarray(array, np.float64)
  return np.where(np.isfinite(array), array, None).tolist()


def spearman(
  x: Sequence[float], y: Sequence[float]
) -> dict[str, float | int | None]:
  """Spearman's rho of paired scores with the `BOOTSTRAP` 95% interval."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  if x.shape != y.shape or x.ndim != 1:
    raise ValueError(
      f"x and y must be paired 1-D scores, got {x.shape}, {y.shape}"
    )
  n = len(x)
  rho = float(scipy.stats.spearmanr(x, y).statistic) if n >= 3 else float("nan")
  rng = np.random.default_rng(BOOTSTRAP_SEED)
  picks = rng.integers(0, n, (NUM_RESAMPLES, n))
  xs, ys = x[picks], y[picks]
  keep = (np.ptp(xs, axis=1) > 0) & (np.ptp(ys, axis=1) > 0)
  # Spearman's rho is Pearson's r of the (average) ranks.
  rx = scipy.stats.rankdata(xs[keep], axis=1)
  ry = scipy.stats.rankdata(ys[keep], axis=1)
  rx -= rx.mean(1, keepdims=True)
  ry -= ry.mean(1, keepdims=True)
  samples = (rx * ry).sum(1) / np.sqrt((rx**2).sum(1) * (ry**2).sum(1))
  low, high = (
    np.percentile(samples, [2.5, 97.5]) if len(samples) else (np.nan, np.nan)
  )
  return {
    "rho": None if np.isnan(rho) else rho,
    "ci_low": None if np.isnan(low) else float(low),
    "ci_high": None if np.isnan(high) else float(high),
    "n": n,
    "resamples_used": len(samples),
  }


def atlas_scores(document: Mapping[str, Any]) -> dict[str, float]:
  """Each optimizer's atlas score: its mean success rate over the surfaces
  of an ``atlas.json`` document."""
  by: dict[str, list[float]] = {}
  for record in document["records"]:
    by.setdefault(record["optimizer"], []).append(record["success_rate"])
  return {name: float(np.mean(values)) for name, values in by.items()}


def correlate(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, Any]:
  """`spearman` over the optimizers both score, with their names."""
  common = sorted(set(a) & set(b))
  result = spearman([a[k] for k in common], [b[k] for k in common])
  return {**result, "optimizers": common}
