import html
import json

import numpy as np
import pytest
import scipy.stats

from experiments import tuning
from experiments.models import page, protocol, workloads

DIGITS = workloads.WORKLOADS["digits_mlp"]


def _nan(values):
  return np.array(values, dtype=np.float64)  # None -> nan


def test_steps_to_target_censors_runs_that_miss_it_or_diverge():
  curve = np.array([[0.1, 0.5, 0.9, 0.95], [0.1, 0.2, 0.3, 0.4], [0, 1, 1, 1]])
  diverged = np.array([False, False, True])
  steps = protocol.steps_to_target(curve, diverged, 0.9, every=10)
  np.testing.assert_array_equal(steps, [20.0, np.nan, np.nan])


def test_steps_to_target_where_lower_is_better():
  curve = np.array([[2.0, 1.0, 0.5, 0.4], [2.0, 1.5, 1.2, np.nan]])
  steps = protocol.steps_to_target(
    curve, np.array([False, False]), 0.5, every=10, higher_is_better=False
  )
  np.testing.assert_array_equal(steps, [20.0, np.nan])


DIABETES = workloads.WORKLOADS["diabetes_mlp"]


def test_a_regression_is_scored_lower_is_better():
  w = DIABETES
  assert w.metric == "val_mse" and not w.higher_is_better
  # the trivial predictor: the training mean, MSE ~1 on a standardised
  # target
  assert 0.7 < w.baseline < 1.5
  settings = protocol.Settings(num_rates=3, num_seeds=2)
  loss = np.array([[0.9, 0.9], [0.5, 0.6], [0.45, 0.55]])
  curve = np.stack([loss + 0.3, loss], -1)  # reaches 0.6 at the end or not
  record = protocol.summarize(
    "sgd", w, settings, val_loss=loss, values=loss, curve=curve,
    diverged=np.zeros((3, 2), bool), every=7, budget=14,
  )  # fmt: skip
  assert record["metric"] == "val_mse" and not record["higher_is_better"]
  assert record["chosen_index"] == 2  # the lowest median loss
  np.testing.assert_array_equal(record["steps_to_target_by_seed"], [7, 7])
  assert record["censored"] == 0 and record["median_steps_to_target"] == 7
  # improvement over the baseline: rate 0 improves by <= 0.1 at most, the
  # others by >= 0.3: tunability 2/3 (with the baseline near 1)
  assert record["tunability"] == pytest.approx(2 / 3)
  # lower is better, so the ranking score is the negated MSE
  other = {**record, "optimizer": "adam", "val_metric": 0.3}
  got = page.scores([record, other], "diabetes_mlp")
  assert got == {"sgd": -record["val_metric"], "adam": -0.3}
  assert "adam" in page._winner([other, record], ".3f")


def test_summary_uses_the_shared_rule_and_counts_censored_runs(monkeypatch):
  calls = []
  rule = tuning.robust_rate
  monkeypatch.setattr(
    tuning, "robust_rate", lambda *a: calls.append(a) or rule(*a)
  )
  settings = protocol.Settings(num_rates=5, num_seeds=3)
  loss = np.array(
    [[2.0] * 3, [1.0] * 3, [0.5] * 3, [0.2, 0.2, np.nan], [0.1] * 3]
  )
  accuracy = np.tile([[0.3], [0.8], [0.9], [0.95], [0.97]], 3)
  diverged = np.isnan(loss)
  curve = np.repeat(accuracy[..., None], 2, -1)  # reached at step 0
  curve[1, 0] = 0.5  # rate 1, seed 0: never reaches 0.95 (none do there)
  record = protocol.summarize(
    "sgd", DIGITS, settings, val_loss=loss, values=accuracy, curve=curve,
    diverged=diverged, every=5, budget=10,
  )  # fmt: skip
  assert len(calls) == 1
  # rates 2 and 4 border rate 3, which diverges on a seed: rate 1 wins
  assert record["chosen_index"] == 1 == rule(loss, diverged)
  assert record["censored"] == 3 and record["median_steps_to_target"] is None
  # the seeds agree at the chosen rate: an interval of zero width
  assert record["val_metric"] == pytest.approx(0.8)
  assert record["ci_low"] == pytest.approx(0.8) == record["ci_high"]
  # tunability: the share of rates whose median accuracy above chance is at
  # least half the best's (0.87): rates 1 to 4
  assert record["tunability"] == 0.8


def test_t_interval_is_students():
  values = np.array([0.9, 0.92, 0.95, 0.91, 0.97])
  mean, low, high = protocol.t_interval(values)
  want = scipy.stats.t.interval(
    0.95, 4, loc=values.mean(), scale=scipy.stats.sem(values)
  )
  assert mean == pytest.approx(values.mean())
  assert (low, high) == pytest.approx(want)
  # An accuracy's interval stays within [0, 1] (this one would reach 1.08).
  near_one = np.array([0.8, 1.0, 1.0, 0.85, 1.0])
  assert protocol.t_interval(near_one)[2] > 1
  mean, low, high = protocol.t_interval(near_one, (0.0, 1.0))
  assert high == 1.0 and low == pytest.approx(
    scipy.stats.t.interval(
      0.95, 4, loc=near_one.mean(), scale=scipy.stats.sem(near_one)
    )[0]
  )


def test_spearman_interval_is_the_named_bootstrap(monkeypatch):
  assert f"{protocol.NUM_RESAMPLES} resamples" in protocol.BOOTSTRAP
  monkeypatch.setattr(protocol, "NUM_RESAMPLES", 300)  # A faster check.
  rng = np.random.default_rng(1)
  x = rng.normal(size=8)
  y = x + rng.normal(size=8)
  got = protocol.spearman(x, y)
  assert got["rho"] == pytest.approx(scipy.stats.spearmanr(x, y).statistic)
  boot = np.random.default_rng(protocol.BOOTSTRAP_SEED)
  samples = []
  for pick in boot.integers(0, 8, (protocol.NUM_RESAMPLES, 8)):
    if np.ptp(x[pick]) and np.ptp(y[pick]):
      samples.append(scipy.stats.spearmanr(x[pick], y[pick]).statistic)
  assert got["resamples_used"] == len(samples)
  assert [got["ci_low"], got["ci_high"]] == pytest.approx(
    np.percentile(samples, [2.5, 97.5])
  )
  with pytest.raises(ValueError, match="x and y"):
    protocol.spearman([1, 2], [1, 2, 3])


def test_bad_input_is_named():
  with pytest.raises(ValueError, match="num_seeds"):
    protocol.Settings(num_seeds=0)
  with pytest.raises(ValueError, match="workload"):
    workloads.get("nope")
  with pytest.raises(ValueError, match="optimizer"):
    protocol.run("nope", DIGITS, protocol.Settings())


@pytest.mark.slow
def test_mnist1d_is_generated_locally_with_its_default_split():
  state = np.random.get_state()[1].copy()
  data = workloads.load_mnist1d()
  assert data.x_train.shape == (4000, 40) and data.x_val.shape == (1000, 40)
  assert set(np.unique(data.y_train)) == set(range(10))
  np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_each_run_frees_its_program():
  """A full mode runs ~120 sweeps of distinct programs in one process, so
  each frees its program (test_sweep checks that this bounds memory)."""
  from optax_extras._src.sweep import program

  settings = protocol.Settings(num_rates=2, num_seeds=1, budget=2)
  protocol.run("sgd", DIGITS, settings)
  assert program.program._cache_size() == 0


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  out = tmp_path_factory.mktemp("models")
  atlas = out / "atlas.json"
  atlas.write_text(
    json.dumps(
      {
        "records": [
          {"optimizer": "sgd", "surface": "booth", "success_rate": 0.2},
          {"optimizer": "adam", "surface": "booth", "success_rate": 0.9},
        ]
      }
    )
  )
  settings = protocol.Settings(
    num_rates=3, min_rate=1e-2, max_rate=1.0, num_seeds=2, num_records=2,
    budget=4,
  )  # fmt: skip
  document = page.build(
    out, optimizers=("sgd", "adam"),
    workload_names=("digits_mlp", "diabetes_mlp"),
    settings=settings, atlas=atlas, show_progress=False,
  )  # fmt: skip
  return out, document, settings


@pytest.mark.slow
def test_the_page_states_the_protocol_it_ran(built):
  out, document, settings = built
  assert page.load(out) == json.loads((out / "models.json").read_text())
  assert document["settings"]["rates"] == pytest.approx(
    np.geomspace(1e-2, 1.0, 3)
  )
  assert document["settings"]["seeds"] == [0, 1]
  assert document["rule"] == tuning.RULE
  text = (out / "models.html").read_text()
  assert "3 learning rates" in text and "× 2 seeds" in text
  for record in document["records"]:
    loss = _nan(record["val_loss_by_rate_seed"])
    assert loss.shape == (3, 2)
    assert record["chosen_index"] == tuning.robust_rate(loss)
    # censored runs counted: those with no step to target
    steps = record["steps_to_target_by_seed"]
    assert record["censored"] == sum(x is None for x in steps)
    if record["workload"] == "digits_mlp":
      # 4 steps cannot reach 95%: every run is censored, and said so
      assert record["censored"] == 2
      assert record["median_steps_to_target"] is None
  assert "&gt; 4" in text and "2/2" in text
  # the regression is stated lower is better, its target with ≤
  assert "validation MSE (standardised target) ≤ 0.600" in text
  assert "lower is better" in text
  # atlas vs each workload, then the two workloads
  pairs = [(c["a"], c["b"]) for c in document["correlations"]]
  assert pairs == [
    ("atlas", "digits_mlp"),
    ("atlas", "diabetes_mlp"),
    ("digits_mlp", "diabetes_mlp"),
  ]
  correlation = document["correlations"][0]
  assert correlation["n"] == 2
  assert document["atlas"]["sha256"]
  # the correlation is the named bootstrap's, over the scores the page shows
  atlas = protocol.atlas_scores(json.loads((out / "atlas.json").read_text()))
  want = protocol.correlate(
    atlas, page.scores(document["records"], "digits_mlp")
  )
  assert {k: correlation[k] for k in want} == want
  assert document["bootstrap"] == protocol.BOOTSTRAP
  assert html.escape(protocol.BOOTSTRAP) in text
  # per workload: the winner, the spread, what was not measured
  assert "Winner:" in text and "spread of the tuned scores" in text
  assert "What was not measured" in text
  assert "Workloads not run: mnist1d_cnn." in text
  assert "Optimizers not run" in text and "rmsprop" in text


@pytest.mark.slow
def test_quick_mode_runs_end_to_end(tmp_path):
  """`python -m experiments models --quick`, as a user runs it, without an
  atlas: the named subset, the quick grid, and a tuned Adam at target."""
  from experiments import __main__ as cli

  out = tmp_path / "models"
  argv = ["models", "--quick", "--out", str(out)]
  assert cli.main([*argv, "--atlas", str(tmp_path / "none.json")]) == 0
  document = page.load(out)
  assert list(document["workloads"]) == list(page.QUICK_WORKLOADS)
  ran = [r["optimizer"] for r in document["records"]]
  assert ran == list(page.QUICK_OPTIMIZERS)
  assert document["settings"]["rates"] == pytest.approx(page.QUICK.rates)
  assert document["settings"]["seeds"] == list(page.QUICK.seeds)
  adam = document["records"][ran.index("adam")]
  assert adam["val_metric"] >= DIGITS.target, adam
  assert adam["censored"] < adam["num_seeds"] / 2
  text = (out / "models.html").read_text()
  assert "No atlas results were given" in text
  assert "Workloads not run: mnist1d_cnn, diabetes_mlp." in text


@pytest.mark.slow
def test_the_figures_are_readable(built):
  from experiments.draw import plt
  from tests.figure_rules import assert_readable

  _, document, _ = built
  for draw in (page.tuned_figure, page.rank_figure):
    fig = draw(document, plt)
    assert_readable(fig, min_width_px=800, dpi=page.DPI)
    plt.close(fig)


@pytest.mark.slow
def test_a_changed_file_is_refused_when_read(built):
  out, _, _ = built
  path = out / "models_rank.png"
  original = path.read_bytes()
  try:
    path.write_bytes(original + b"x")
    with pytest.raises(ValueError, match="models_rank.png"):
      page.load(out)
  finally:
    path.write_bytes(original)


def test_the_command_passes_its_arguments(tmp_path, monkeypatch):
  import experiments.models
  from experiments import __main__ as cli

  calls = []
  monkeypatch.setattr(
    experiments.models, "build", lambda out, **kw: calls.append((out, kw))
  )
  atlas = tmp_path / "atlas.json"
  argv = [
    "models",
    "--quick",
    "--out",
    str(tmp_path / "m"),
    "--atlas",
    str(atlas),
  ]
  assert cli.main(argv) == 0
  assert calls == [(tmp_path / "m", {"quick": True, "atlas": atlas})]
  # The grid, at least 12 rates x 5 seeds, in both modes.
  for settings in (page.QUICK, protocol.Settings()):
    assert settings.num_rates >= 12 and settings.num_seeds >= 5
  assert len(page.QUICK_OPTIMIZERS) == 5


def test_the_page_reads_an_interval_through_zero_as_no_evidence():
  c = {"a": "atlas", "b": "digits_mlp", "n": 5, "rho": 0.6}
  assert "includes 0" in page._reading({**c, "ci_low": -0.3, "ci_high": 1.0})
  assert "agree" in page._reading({**c, "ci_low": 0.1, "ci_high": 1.0})
  assert "too few" in page._reading({**c, "rho": None, "ci_low": None})


@pytest.mark.float64
@pytest.mark.parametrize(
  "in_features,out_features,width,stride,length",
  [(1, 4, 5, 1, 40), (3, 4, 5, 2, 40), (3, 2, 5, 2, 20), (2, 3, 4, 3, 11)],
)
def test_the_patch_convolution_equals_nnx_conv(
  in_features, out_features, width, stride, length
):
  from flax import nnx

  f64 = np.float64
  ref = nnx.Conv(
    in_features, out_features, (width,), strides=(stride,),
    param_dtype=f64, rngs=nnx.Rngs(0),
  )  # fmt: skip
  mine = workloads.PatchConv1D(
    in_features, out_features, width, stride, param_dtype=f64,
    rngs=nnx.Rngs(0),
  )  # fmt: skip
  # The same initial values for the same rngs...
  np.testing.assert_array_equal(mine.kernel[...], ref.kernel[...])
  np.testing.assert_array_equal(mine.bias[...], ref.bias[...])
  rng = np.random.default_rng(0)
  bias = rng.normal(size=out_features)
  ref.bias[...] = bias
  mine.bias[...] = bias
  x = rng.normal(size=(3, length, in_features))
  # ...and the same outputs, in float64.
  assert mine(x).dtype == f64
  np.testing.assert_allclose(mine(x), ref(x), rtol=1e-12, atol=1e-12)
  assert mine(x).shape == (3, -(-length // stride), out_features)


def test_a_missed_many_models_target_names_its_speed_up():
  from experiments import benchmarks

  table = benchmarks.Table(
    "Many models at once",
    ("optimizer", "loop s", "speed-up (1st)", "speed-up (again)", "met"),
    [("adam", "30", "4.2×", "100×", "no"), ("sgd", "30", "7×", "99×", "yes")],
  )
  (row,) = benchmarks.missed([table]).rows
  assert row[1] == "adam" and "speed-up (1st) 4.2×" in row[2]


def test_a_rate_where_every_seed_diverged_has_no_median_and_no_warning():
  import warnings

  values = np.array([[0.5, np.nan], [np.nan, np.nan]])
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    np.testing.assert_array_equal(protocol.nanmedian(values), [0.5, np.nan])
