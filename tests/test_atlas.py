"""The optimizer atlas: its statistics, its robust rule, and a small atlas
built twice to the same bytes."""

import json

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import atlas

pytestmark = pytest.mark.float32


def test_the_wilson_interval_matches_published_values():
  # Wilson (1927); e.g. Newcombe (1998), Table I: 81/263 -> 0.2553, 0.3662.
  low, high = atlas.wilson_interval(81, 263)
  assert round(low, 4) == 0.2553 and round(high, 4) == 0.3662
  assert atlas.wilson_interval(0, 10)[0] == 0.0
  assert atlas.wilson_interval(10, 10)[1] == 1.0
  low, high = atlas.wilson_interval(10, 10)
  assert 0.69 < low < 0.73  # Not the degenerate [1, 1] of the Wald interval.


def test_a_lone_spike_is_not_a_tuned_rate():
  success = np.array([0.0, 0.0, 1.0, 0.0, 0.8, 0.8, 0.8, 0.0])
  steps = np.full(8, 10.0)
  assert atlas.choose_rate(success, steps) == 5
  # Ties go to fewer median steps, then to the smaller rate.
  flat = np.array([0.9, 0.9, 0.9, 0.9])
  assert atlas.choose_rate(flat, np.array([30.0, 20.0, 10.0, 40.0])) == 2
  assert atlas.choose_rate(flat, np.array([10.0, 10.0, 10.0, 10.0])) == 0
  # No success anywhere: the smallest rate, not a NaN index.
  assert atlas.choose_rate(np.zeros(3), np.full(3, np.nan)) == 0


def test_tunability_is_the_share_reaching_half_the_best():
  assert atlas.tunability(np.array([0.0, 0.5, 1.0, 0.4])) == 0.5
  assert atlas.tunability(np.zeros(4)) == 0.0


def test_every_optimizer_takes_a_step_on_a_2d_point():
  # A point as the sweep holds it for a rule that could tell: one vector.
  params = jnp.array([1.0, -2.0], jnp.float32)
  grads = jnp.array([0.5, -0.25], jnp.float32)
  for name, make in atlas.OPTIMIZERS.items():
    optimizer = optax.with_extra_args_support(make(learning_rate=0.1))
    updates, _ = optimizer.update(
      grads, optimizer.init(params), params, grad_fn=lambda p: grads
    )
    assert updates.shape == (2,) and np.isfinite(updates).all(), name


def test_surfaces_are_those_with_a_known_global_minimum():
  names = atlas.surfaces()
  assert "booth" in names and "himmelblau" in names
  assert "saddle" not in names  # No minimum.
  assert set(atlas.QUICK_SURFACES) <= set(names)
  assert set(atlas.QUICK_OPTIMIZERS) <= set(atlas.OPTIMIZERS)
  assert len(atlas.QUICK_OPTIMIZERS) >= 8 and len(atlas.QUICK_SURFACES) >= 6


def test_a_small_atlas_is_written_and_reproducible(tmp_path):
  settings = atlas.Settings(num_rates=6, num_starts=16, num_steps=300)
  kwargs = dict(
    optimizers=["sgd", "adam"],
    surface_names=["booth", "matyas"],
    settings=settings,
    show_progress=False,
  )
  records = atlas.build(tmp_path / "a", workers=1, **kwargs)
  assert len(records) == 4
  for record in records:
    for key in (
      "optimizer",
      "surface",
      "learning_rate",
      "success_rate",
      "ci_low",
      "ci_high",
      "median_steps",
      "num_starts",
      "tunability",
    ):
      assert key in record
    assert record["ci_low"] <= record["success_rate"] <= record["ci_high"]
    assert record["learning_rate"] in settings.rates
  # Adam from anywhere in Booth's window reaches its minimum at some rate.
  by_pair = {(r["optimizer"], r["surface"]): r for r in records}
  assert by_pair["adam", "booth"]["success_rate"] > 0.5
  page = (tmp_path / "a" / "atlas.html").read_text()
  assert page.count("<tr>") >= 4 + 3 and "sortBy" in page
  assert (tmp_path / "a" / "atlas.png").stat().st_size > 5000
  first = (tmp_path / "a" / "atlas.json").read_bytes()
  # A re-run elsewhere by 2 worker processes (one device each), and a
  # resume from the checkpoints: the same bytes.
  atlas.build(tmp_path / "b", workers=2, **kwargs)
  atlas.build(tmp_path / "a", workers=1, **kwargs)
  assert (tmp_path / "b" / "atlas.json").read_bytes() == first
  assert (tmp_path / "a" / "atlas.json").read_bytes() == first
  assert len(json.loads(first)["records"]) == 4


def test_n_dimensional_surfaces_are_in_the_atlas():
  names = atlas.surfaces()
  d = atlas.ND_DIMENSION
  assert f"rosenbrock_d{d}" in names and f"quadratic_kappa100_d{d}" in names
  settings = atlas.Settings(num_rates=8, num_starts=8, num_steps=300)
  assert atlas.starts(f"rastrigin_d{d}", settings).shape == (8, d)
  record = atlas.pair("adam", f"quadratic_kappa100_d{d}", settings)
  assert record["success_rate"] == 1.0  # Adam solves a quadratic.
  record = atlas.pair("sgd", f"styblinski_tang_d{d}", settings)
  assert record["num_starts"] == 8 and 0 <= record["success_rate"] <= 1
