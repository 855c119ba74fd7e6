"""The optimizer atlas: its statistics, its robust rule, and a small atlas
built twice to the same bytes."""

import json

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import atlas, tuning

pytestmark = pytest.mark.float32


def test_the_wilson_interval_matches_published_values():
  # Wilson (1927); e.g. Newcombe (1998), Table I: 81/263 -> 0.2553, 0.3662.
  low, high = atlas.wilson_interval(81, 263)
  assert round(low, 4) == 0.2553 and round(high, 4) == 0.3662
  assert atlas.wilson_interval(0, 10)[0] == 0.0
  assert atlas.wilson_interval(10, 10)[1] == 1.0
  low, high = atlas.wilson_interval(10, 10)
  assert 0.69 < low < 0.73  # Not the degenerate [1, 1] of the Wald interval.


def test_the_rule_passes_over_a_rate_that_borders_divergence():
  # SGD on Booth (a quadratic): the larger the rate the fewer the steps,
  # up to the largest eigenvalue's limit, so the fewest raw median steps sit
  # just below a rate that diverges.
  settings = atlas.Settings(
    num_rates=8, min_rate=0.01, max_rate=0.2, num_starts=16, num_steps=300
  )
  record = atlas.pair("sgd", "booth", settings)
  diverged = np.array(record["diverged_by_rate"])
  raw = int(np.argmin(record["censored_median_steps_by_rate"]))
  assert diverged[raw + 1] > 0 and not diverged[: raw + 1].any()
  chosen = list(settings.rates).index(np.float32(record["learning_rate"]))
  assert chosen < raw and not diverged[chosen - 1 : chosen + 2].any()
  assert record["success_rate"] == 1.0 and record["median_steps"] > 0


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


@pytest.mark.slow
def test_a_small_atlas_is_written_and_reproducible(tmp_path):
  settings = atlas.Settings(num_rates=6, num_starts=16, num_steps=300)
  kwargs = dict(
    optimizers=["sgd", "adam"],
    surface_names=["booth", "matyas"],
    settings=settings,
    show_progress=False,
  )
  cache = tmp_path / "cache"
  records = atlas.build(tmp_path / "a", workers=1, cache=cache, **kwargs)
  assert len(records) == 4
  for record in records:
    assert record["ci_low"] <= record["success_rate"] <= record["ci_high"]
    assert record["learning_rate"] in settings.rates
  # Adam from anywhere in Booth's window reaches its minimum at some rate.
  by_pair = {(r["optimizer"], r["surface"]): r for r in records}
  assert by_pair["adam", "booth"]["success_rate"] > 0.5
  # The output holds the manifest's files and nothing else: the checkpoints
  # are in the cache, one folder per settings and pair.
  document = json.loads((tmp_path / "a" / "atlas.json").read_text())
  written = {p.name for p in (tmp_path / "a").iterdir()}
  assert {f["file"] for f in document["files"]} == written
  assert written == {
    "atlas.json",
    "atlas.html",
    "atlas.png",
    "momentum_theory.png",
  }
  for entry in document["files"]:
    assert entry["title"] and entry["caption"] and entry["settings"]["version"]
  assert document["files"][2]["settings"]["optimizers"] == ["sgd", "adam"]
  assert len(list((cache / settings.digest()).glob("*.npz"))) == 4
  # The page: its figures embedded, the run's names only, its terms.
  page = (tmp_path / "a" / "atlas.html").read_text()
  assert '<img src="atlas.png"' in page and '<img src="momentum_theory' in page
  assert "rmsprop" not in page and "lamb" not in page  # Not in this run.
  assert "sgd" in page and "matyas" in page
  for term in ("Success rate", "Wilson", "Tunability", "Median steps"):
    assert f"<dt>{term}" in page
  assert tuning.RULE in page and page.count("<tr>") == 1 + 4
  assert 'href="atlas.html"' not in page
  # A re-run elsewhere by 2 worker processes, without a cache, and a resume
  # from the cache (which reads its checkpoints, rewriting none, and
  # computes a deleted one again): the same bytes.
  first = (tmp_path / "a" / "atlas.json").read_bytes()
  atlas.build(tmp_path / "b", workers=2, cache=False, **kwargs)
  assert (tmp_path / "b" / "atlas.json").read_bytes() == first
  lanes = sorted(cache.rglob("*.npz"))
  inodes = [p.stat().st_ino for p in lanes]
  lanes[0].unlink()
  atlas.build(tmp_path / "a", workers=1, cache=cache, **kwargs)
  assert (tmp_path / "a" / "atlas.json").read_bytes() == first
  assert lanes[0].exists()
  assert [p.stat().st_ino for p in lanes[1:]] == inodes[1:]


def test_build_names_a_bad_optimizer_or_surface(tmp_path):
  with pytest.raises(ValueError, match="optimizers.*nope"):
    atlas.build(tmp_path, optimizers=["nope"], cache=False)
  with pytest.raises(ValueError, match="surface_names.*nope"):
    atlas.build(tmp_path, surface_names=["nope"], cache=False)


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


def test_a_pair_where_no_rate_converges_is_reported_not_converging(tmp_path):
  # SGD on Goldstein-Price diverges from most starts at every rate of this
  # grid (as in the full atlas): no rate to choose, no crash.
  settings = atlas.Settings(num_rates=8, num_starts=16, num_steps=100)
  record = atlas.pair("sgd", "goldstein_price", settings)
  assert min(record["diverged_by_rate"]) > 0.5
  assert record["converges"] is False and record["learning_rate"] is None
  assert record["success_rate"] == 0.0 and record["median_steps"] is None
  assert record["ci_low"] == 0.0 < record["ci_high"] < 1.0
  converging = atlas.pair("adam", "booth", settings)
  assert converging["converges"] is True
  # The figure and the page take it.
  from experiments import draw

  draw.atlas_heatmap([record, converging], tmp_path / "atlas.png")
  page = atlas.to_html([record, converging], settings, [])
  assert "<td>—</td>" in page


def test_a_group_shares_one_program_and_matches_per_surface_sweeps():
  # One compiled program for an optimizer on every surface of a dimension,
  # with the records of one `sweep` per surface (`pair`).
  settings = atlas.Settings(num_rates=6, num_starts=16, num_steps=200)
  names = ("booth", "matyas", "himmelblau")
  records = atlas.optimizer_group("adam", names, settings)
  assert atlas._shared_program("adam", names)._cache_size() == 1
  for name, record in zip(names, records):
    reference = atlas.pair("adam", name, settings)
    assert record == reference, name
