"""Momentum against theory: the convergence rate that a sweep measures on a
2-D quadratic equals the closed-form spectral radius of the iteration, over
a learning-rate x momentum grid, including the optimum and the stability
boundary."""

import numpy as np
import optax
import pytest

from experiments import atlas
from optax_extras import landscapes, sweep
from tests import references

pytestmark = pytest.mark.float64

KAPPA = atlas.KAPPA
RATES, MOMENTA = atlas.THEORY_RATES, atlas.THEORY_MOMENTA


@pytest.mark.parametrize("nesterov", [False, True])
def test_measured_rates_equal_the_spectral_radius(nesterov):
  rate, diverged = atlas.momentum_rates(nesterov)
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
    landscapes.conditioned_quadratic(KAPPA, 2),
    grid={"learning_rate": np.array([a_star]), "momentum": np.array([b_star])},
    starts=np.ones(2),
    num_steps=400,
    record_every=5,
  )
  # A double root: the loss carries a factor t^2, (2^2)^(1/400) ~ 1.0035.
  np.testing.assert_allclose(
    atlas.envelope_rate(result.trajectory_loss[0, 0]), best, atol=0.01
  )
  # Nowhere on the grid is the theory faster than the optimum.
  grid_best = min(
    references.momentum_rate(a, b, (1, KAPPA), nesterov=False)
    for a in RATES
    for b in MOMENTA
  )
  assert grid_best >= best - 1e-9


@pytest.mark.parametrize("nesterov", [False, True])
def test_the_atlas_closed_form_is_the_reference(nesterov):
  for a in RATES[::5]:
    for b in MOMENTA[::4]:
      assert atlas.spectral_radius(a, b, nesterov) == pytest.approx(
        references.momentum_rate(a, b, (1.0, KAPPA), nesterov=nesterov)
      )


def test_the_figure_draws_the_closed_form_itself(monkeypatch, tmp_path):
  # The theory goes to the figure as a function (drawn on a finer grid:
  # smooth contours), not as an array on the measured grid.
  from experiments import draw

  seen = {}
  monkeypatch.setattr(
    draw, "momentum_theory", lambda panels, *rest: seen.update(panels)
  )
  atlas.momentum_theory_figure(tmp_path / "unused.png")
  assert set(seen) == {"heavy ball", "Nesterov"}
  for name, (_, theory) in seen.items():
    assert callable(theory)
    assert theory(0.1, 0.5) == atlas.spectral_radius(
      0.1, 0.5, name == "Nesterov"
    )
