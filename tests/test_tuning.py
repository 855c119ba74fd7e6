import numpy as np
import pytest

from experiments import tuning


def test_the_best_raw_rate_beside_divergence_is_passed_over():
  # rates in grid order; the last one diverges on one seed, so the best raw
  # rate (index 3) borders divergence and index 2 wins.
  loss = np.array(
    [
      [5.0, 5.2, 5.1],
      [2.0, 2.1, 2.2],
      [1.0, 1.1, 0.9],
      [0.1, 0.2, 0.1],
      [0.05, np.nan, 0.05],
    ]
  )
  assert int(np.argmin(np.median(loss, axis=1))) != 2
  assert tuning.robust_rate(loss) == 2


def test_a_diverged_mask_counts_as_not_converging():
  loss = np.array([[3.0], [2.0], [1.0], [0.5]])
  assert tuning.robust_rate(loss) == 3
  assert tuning.robust_rate(loss, diverged=np.array([0, 0, 0, 1])) == 1


def test_fallbacks_and_ties():
  # every stable rate borders an unstable one: the best stable median wins
  assert tuning.robust_rate(np.array([np.inf, 2.0, np.inf, 1.0, np.inf])) == 3
  # equal medians: the smaller rate
  assert tuning.robust_rate(np.ones((4, 2))) == 0
  # no rate stable on every seed: the best finite median
  loss = np.array([[1.0, np.nan, 1.0], [np.nan, 2.0, 2.0]])
  assert tuning.robust_rate(loss) == 0
  with pytest.raises(tuning.NoRateConverges, match="converges"):
    tuning.robust_rate(np.full((3, 2), np.nan))
  # Every rate diverges on over half the seeds: every median diverged.
  with pytest.raises(tuning.NoRateConverges):
    tuning.robust_rate(np.ones((3, 3)), np.array([[1, 1, 0]] * 3))
  with pytest.raises(ValueError, match="rate, seed"):
    tuning.robust_rate(np.ones((2, 2, 2)))


def test_tunability_is_the_share_reaching_half_the_best():
  assert tuning.tunability(np.array([0.0, 0.5, 1.0, 0.4])) == 0.5
  assert tuning.tunability(np.zeros(4)) == 0.0
