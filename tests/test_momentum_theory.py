"""Momentum against theory: the convergence rate that a sweep measures on a
2-D quadratic equals the closed-form spectral radius of the iteration, over
a learning-rate x momentum grid, including the optimum and the stability
boundary."""

import numpy as np
import optax
import pytest

from optax_extras import landscapes, sweep
from tests import references

pytestmark = pytest.mark.float64

KAPPA = 10.0  # Eigenvalues 1 and 10.
QUADRATIC = landscapes.conditioned_quadratic(KAPPA, 2)
RATES = np.geomspace(0.01, 0.5, 24)
MOMENTA = np.linspace(0.0, 0.95, 20)
STEPS = 400
EVERY = 5  # Records every 5 steps; the rate from the envelope of the loss.


def measured_rates(nesterov: bool) -> tuple[np.ndarray, np.ndarray]:
  result = sweep(
    lambda learning_rate, momentum: optax.sgd(
      learning_rate, momentum, nesterov=nesterov
    ),
    QUADRATIC,
    grid={"learning_rate": RATES, "momentum": MOMENTA},
    starts=np.ones(2),
    num_steps=STEPS,
    record_every=EVERY,
  )
  return envelope_rate(result.trajectory_loss), result.diverged


def envelope_rate(loss: np.ndarray) -> np.ndarray:
  """The per-step rate of |x| from the loss (quadratic in x) recorded every
  `EVERY` steps: the largest loss over steps 300..400 against that over
  100..200, so that an oscillating (complex-root) iteration is measured by
  its envelope."""
  late = loss[..., 300 // EVERY :].max(-1)
  early = loss[..., 100 // EVERY : 200 // EVERY + 1].max(-1)
  with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
    return (late / early) ** (1.0 / (2 * 200))


@pytest.mark.parametrize("nesterov", [False, True])
def test_measured_rates_equal_the_spectral_radius(nesterov):
  rate, diverged = measured_rates(nesterov)
  theory = np.array(
    [
      [
        references.momentum_rate(a, b, (1.0, KAPPA), nesterov=nesterov)
        for b in MOMENTA
      ]
      for a in RATES
    ]
  )
  stable, unstable = theory < 0.999, theory > 1.001
  assert 50 < stable.sum() and 20 < unstable.sum()  # Both sides sampled.
  # The stability boundary: every stable setting converges, none diverges;
  # every unstable one diverges or grows.
  assert not diverged[stable].any()
  assert np.all(diverged[unstable] | (rate[unstable] > 1.0))
  # The rate, where the loss stays representable (rate > 0.7: no underflow).
  measurable = stable & (theory > 0.7)
  np.testing.assert_allclose(rate[measurable], theory[measurable], atol=0.01)


def test_the_optimal_heavy_ball_settings_reach_the_optimal_rate():
  """Polyak's optimum: a* = (2 / (sqrt(l_min) + sqrt(l_max)))^2,
  b* = ((sqrt(k) - 1) / (sqrt(k) + 1))^2, rate (sqrt(k) - 1) / (sqrt(k) + 1)."""
  root = np.sqrt(KAPPA)
  a_star = (2 / (1 + root)) ** 2
  b_star = ((root - 1) / (root + 1)) ** 2
  best = (root - 1) / (root + 1)
  theory = references.momentum_rate(a_star, b_star, (1, KAPPA), nesterov=False)
  np.testing.assert_allclose(theory, best, rtol=1e-6)
  result = sweep(
    optax.sgd,
    QUADRATIC,
    grid={"learning_rate": np.array([a_star]), "momentum": np.array([b_star])},
    starts=np.ones(2),
    num_steps=STEPS,
    record_every=EVERY,
  )
  # A double root: the loss carries a factor t^2, (2^2)^(1/400) ~ 1.0035.
  np.testing.assert_allclose(
    envelope_rate(result.trajectory_loss[0, 0]), best, atol=0.01
  )
  # Nowhere on the grid is the theory faster than the optimum.
  grid_best = min(
    references.momentum_rate(a, b, (1, KAPPA), nesterov=False)
    for a in RATES
    for b in MOMENTA
  )
  assert grid_best >= best - 1e-9
