"""One tuning rule, shared by the tuned comparison, the atlas and the models.

A grid's best raw rate usually sits next to one that diverges: tuned on a
single seed it is the edge of chaos, not a rate a user would keep. The rule
here asks more of a rate than its own score: it must converge on every seed,
and so must its neighbours on the grid (whatever the grid's spacing), so a
small change of rate or seed does not blow the run up. Among those rates,
the best median over seeds wins; ties go to the smaller rate.

A seed is whatever repeats a run at one rate: a model's initialisation, or,
in the atlas and the tuned comparison, a start on the surface.
"""

from __future__ import annotations

import numpy as np

RULE = (
  "the rate with the best median over seeds among the rates that converge "
  "on every seed, as do their neighbours on the grid"
)


class NoRateConverges(ValueError):
  """No rate of the grid converges on over half the seeds (every median is
  a divergence): there is no rate to choose."""


def robust_rate(loss: np.ndarray, diverged: np.ndarray | None = None) -> int:
  """The index of the rate that `RULE` picks.

  `loss[rate, seed]`: lower is better (a 1-D `loss` is one seed); a run
  converges when its loss is finite and `diverged[rate, seed]` (if given) is
  false. Rates are in grid order. Where no rate has stable neighbours, the
  best median among the stable rates wins, then the best finite median; a
  grid where no rate converges on over half the seeds raises
  `NoRateConverges` (a `ValueError`).
  """
  loss = np.asarray(loss, np.float64)
  if loss.ndim == 1:
    loss = loss[:, None]
  if loss.ndim != 2 or loss.size == 0:
    raise ValueError(f"loss must be [rate, seed], got shape {loss.shape}")
  ok = np.isfinite(loss)
  if diverged is not None:
    ok &= ~np.asarray(diverged, bool).reshape(loss.shape)
  stable = ok.all(axis=1)
  beside = np.pad(stable, 1, constant_values=True)
  inside = stable & beside[:-2] & beside[2:]
  median = np.median(np.where(ok, loss, np.inf), axis=1)
  for candidates in (inside, stable, np.isfinite(median)):
    if candidates.any():
      return int(np.argmin(np.where(candidates, median, np.inf)))
  raise NoRateConverges("no rate of the grid converges on any seed")


def tunability(score: np.ndarray) -> float:
  """The share of the rate grid scoring at least half the best (higher is
  better; 0 where nothing scores above 0): how forgiving the rate is."""
  score = np.asarray(score, np.float64)
  best = np.nanmax(score) if score.size else 0.0
  if not best > 0:
    return 0.0
  return float(np.mean(np.nan_to_num(score, nan=0.0) >= 0.5 * best))
