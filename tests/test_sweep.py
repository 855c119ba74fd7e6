"""Tests of `optax_extras.sweep`: lanes against per-trajectory loops, files, errors."""

import gc
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_extras
from optax_extras import SweepResult, landscapes, sweep
from optax_extras import load_sweep as load
from optax_extras._src.sweep.result import to_json

# Lanes are compared with float64 loops; test_sweep_checks.py and
# test_sweep_program.py cover float32.
pytestmark = pytest.mark.float64

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HILLS = landscapes.get("hills_and_canyon")
STARTS = np.array([[-2.8, -2.5], [1.5, 2.0], [0.3, -1.7], [2.5, 0.5]])
RATES = np.array([0.01, 0.1, 0.3])
FIELDS = (
  "final_params",
  "final_loss",
  "best_loss",
  "tol_step",
  "divergence_step",
  "trajectories",
  "trajectory_loss",
  "starts",
)


def sum_of_squares(params):
  return jnp.sum(params**2)


def rosenbrock(params):
  """A plain callable of an array [x, y], not a Landscape."""
  return (1 - params[0]) ** 2 + 100 * (params[1] - params[0] ** 2) ** 2


def assert_same(result, expected, configs=slice(None)):
  """Bit-for-bit equality of every array field; `configs` picks `result`'s."""
  for name in FIELDS:
    actual, wanted = getattr(result, name), getattr(expected, name)
    assert (actual is None) == (wanted is None), name
    if actual is not None:
      actual = actual if name == "starts" else actual[configs]
      np.testing.assert_array_equal(actual, wanted, err_msg=name)


def reference_paths(make_optimizer, loss, num_steps):
  """``run(learning_rate, start) -> (points, losses)`` of one trajectory: a
  jitted scan of the optax update on a (2,) array, steps 0..num_steps."""

  @jax.jit
  def run(learning_rate, start):
    optimizer = make_optimizer(learning_rate)

    def step(carry, _):
      params, state = carry
      updates, state = optimizer.update(
        jax.grad(loss)(params), state, params, grad_fn=jax.grad(loss)
      )
      params = optax.apply_updates(params, updates)
      return (params, state), params

    _, path = jax.lax.scan(
      step, (start, optimizer.init(start)), None, length=num_steps
    )
    path = jnp.concatenate([start[None], path])
    return path, jax.lax.map(loss, path)

  return run


def test_shapes_of_grid_by_multidimensional_starts():
  starts = np.linspace(-2.0, 2.0, 12).reshape(2, 3, 2)
  result = sweep(
    optax_extras.nesterov_lookahead,
    HILLS,
    starts=starts,
    num_steps=7,
    grid={"learning_rate": RATES, "decay": np.array([0.5, 0.9])},
    tol=0.5,
    record_every=3,
  )
  lead = (3, 2, 2, 3)
  assert result.final_params.shape == lead + (2,)
  for name in (
    "final_loss",
    "best_loss",
    "tol_step",
    "divergence_step",
    "diverged",
  ):
    assert getattr(result, name).shape == lead, name
  assert result.trajectories.shape == lead + (3, 2)  # Steps 0, 3, 6.
  assert result.trajectory_loss.shape == lead + (3,)
  assert result.final_params.dtype == np.float64
  np.testing.assert_array_equal(
    result.trajectories[..., 0, :], np.broadcast_to(starts, lead + (2,))
  )
  # Axes follow the grid's order: swapping its keys transposes the result.
  swapped = sweep(
    optax_extras.nesterov_lookahead,
    HILLS,
    starts=starts,
    num_steps=7,
    grid={"decay": np.array([0.5, 0.9]), "learning_rate": RATES},
    tol=0.5,
    record_every=3,
  )
  np.testing.assert_array_equal(
    swapped.trajectories, result.trajectories.swapaxes(0, 1)
  )
  assert to_json(result.settings["grid"]) == to_json(
    {"learning_rate": RATES.tolist(), "decay": [0.5, 0.9]}
  )

  alone = sweep(lambda: optax.sgd(0.1), HILLS, starts=starts, num_steps=3)
  assert alone.final_loss.shape == (2, 3)
  assert alone.tol_step is None and alone.trajectories is None


@pytest.mark.parametrize(
  "make_optimizer, loss",
  [
    (optax.adam, HILLS),
    (optax_extras.nesterov_lookahead, HILLS),
    (
      lambda learning_rate: optax_extras.nesterov_lookahead(
        learning_rate, 0.8, (0.25, 0.5, 0.75, 1.0)
      ),
      rosenbrock,
    ),
  ],
  ids=["adam", "nesterov_lookahead", "smoothed_nesterov_plain_loss"],
)
def test_every_lane_matches_a_per_trajectory_loop(make_optimizer, loss):
  num_steps, tol = 30, 1.0
  rates = np.array([2e-5, 1e-4, 2e-4]) if loss is rosenbrock else RATES
  result = sweep(
    make_optimizer,
    loss,
    grid={"learning_rate": rates},
    starts=STARTS,
    num_steps=num_steps,
    tol=tol,
    record_every=1,
  )
  reference = reference_paths(make_optimizer, loss, num_steps)
  for i, learning_rate in enumerate(rates):
    for j, start in enumerate(STARTS):
      path, losses = map(np.asarray, reference(learning_rate, start))
      # Same operations, in another order (SoA, vectorised): steps agree to
      # ~1e-16, which the most chaotic lane (lr 0.3) amplifies to 1e-9 by step 30.
      close = dict(rtol=1e-8, atol=1e-8)
      np.testing.assert_allclose(result.trajectories[i, j], path, **close)
      np.testing.assert_allclose(result.trajectory_loss[i, j], losses, **close)
      np.testing.assert_allclose(result.final_params[i, j], path[-1], **close)
      np.testing.assert_allclose(result.best_loss[i, j], losses.min(), **close)
      reached = np.flatnonzero(losses <= tol)
      assert result.tol_step[i, j] == (reached[0] if reached.size else -1)
  assert not result.diverged.any()


def test_chunking_changes_nothing_and_record_every_subsamples():
  kwargs = dict(
    grid={"learning_rate": RATES}, starts=STARTS, num_steps=10, tol=0.5
  )
  every_step = sweep(optax.adam, HILLS, record_every=1, **kwargs)
  chunked = sweep(
    optax.adam, HILLS, record_every=1, chunk_size=5, progress=False, **kwargs
  )
  assert_same(chunked, every_step)
  every_third = sweep(optax.adam, HILLS, record_every=3, **kwargs)
  assert every_third.trajectories.shape[-2] == 4  # Steps 0, 3, 6, 9.
  np.testing.assert_array_equal(
    every_third.trajectories, every_step.trajectories[..., ::3, :]
  )
  # Another program: XLA may fuse (round) the loss differently, by an ulp.
  np.testing.assert_allclose(
    every_third.trajectory_loss,
    every_step.trajectory_loss[..., ::3],
    rtol=1e-15,
  )
  for name in ("final_params", "final_loss", "best_loss"):
    np.testing.assert_allclose(
      getattr(every_third, name), getattr(every_step, name), rtol=1e-15
    )
  np.testing.assert_array_equal(every_third.tol_step, every_step.tol_step)


def test_tolerance_and_divergence_steps_by_hand():
  # Gradient descent on x² + y²: p_t = (1 - 2 lr)^t p_0.
  rates = np.array([0.5, 0.25, 1.0, 1e100])
  starts = np.array([[1.0, 1.0], [np.inf, 0.0]])
  result = sweep(
    optax.sgd,
    sum_of_squares,
    grid={"learning_rate": rates},
    starts=starts,
    num_steps=20,
    tol=1e-6,
  )
  finite, infinite = (slice(None), 0), (slice(None), 1)
  # lr 0.5 lands on 0 at step 1; lr 0.25 halves p, 2 / 4^t <= 1e-6 from t = 11;
  # lr 1 oscillates; lr 1e100 overflows the loss at step 2.
  np.testing.assert_array_equal(result.tol_step[finite], [1, 11, -1, -1])
  np.testing.assert_array_equal(result.divergence_step[finite], [-1, -1, -1, 2])
  np.testing.assert_array_equal(
    result.diverged[finite], [False, False, False, True]
  )
  np.testing.assert_array_equal(result.final_params[0, 0], [0.0, 0.0])
  np.testing.assert_array_equal(result.final_params[2, 0], [1.0, 1.0])
  # The diverged lane stops at its last finite point, step 1.
  np.testing.assert_array_equal(
    result.final_params[3, 0], [1 - 2e100, 1 - 2e100]
  )
  assert result.final_loss[3, 0] == 2 * (1 - 2e100) ** 2
  assert result.best_loss[3, 0] == 2.0
  # A start that is not finite diverges at step 0 and stays there.
  np.testing.assert_array_equal(result.divergence_step[infinite], [0, 0, 0, 0])
  np.testing.assert_array_equal(
    result.final_params[infinite], [[np.inf, 0.0]] * 4
  )


def test_a_diverging_lane_changes_no_other_lane():
  starts = np.random.default_rng(0).uniform(-3.0, 3.0, (37, 2))
  kwargs = dict(starts=starts, num_steps=25, tol=0.5, record_every=4)
  with_blowup = sweep(
    optax.adam, HILLS, grid={"learning_rate": [0.01, 1e300, 0.1]}, **kwargs
  )
  without = sweep(
    optax.adam, HILLS, grid={"learning_rate": [0.01, 0.1]}, **kwargs
  )
  assert (
    with_blowup.diverged[1].all() and not with_blowup.diverged[[0, 2]].any()
  )
  assert_same(with_blowup, without, configs=[0, 2])


def test_save_and_load_round_trip(tmp_path):
  result = sweep(
    optax.adam,
    HILLS,
    grid={"learning_rate": RATES},
    starts=STARTS,
    num_steps=5,
    tol=0.5,
    record_every=2,
  )
  result.save(tmp_path / "adam")
  assert sorted(os.listdir(tmp_path)) == ["adam.json", "adam.npz"]
  for path in (tmp_path / "adam", tmp_path / "adam.npz"):
    loaded = load(path)
    assert isinstance(loaded, SweepResult)
    assert_same(loaded, result)
    np.testing.assert_array_equal(loaded.starts, result.starts)
    assert to_json(loaded.settings) == to_json(result.settings)
    assert loaded.settings["optimizer"] == "optax._src.alias.adam"
    assert loaded.settings["loss"] == "landscape hills_and_canyon"
  summary = sweep(
    optax.adam, HILLS, starts=STARTS, grid={"learning_rate": RATES}, num_steps=5
  )
  summary.save(tmp_path / "summary.npz")
  assert load(tmp_path / "summary").trajectories is None


def test_load_refuses_a_file_save_did_not_write_naming_it(tmp_path):
  kwargs = dict(grid={"learning_rate": RATES}, starts=STARTS, num_steps=3)
  sweep(optax.adam, HILLS, **kwargs).save(tmp_path / "adam")
  sweep(optax.sgd, HILLS, **kwargs).save(tmp_path / "sgd")
  good = (tmp_path / "adam.npz").read_bytes()
  settings = (tmp_path / "adam.json").read_bytes()

  def refused(npz, json, message):
    (tmp_path / "bad.npz").write_bytes(npz)
    (tmp_path / "bad.json").write_bytes(json)
    name = str(tmp_path / ("bad.json" if "JSON" in message else "bad.npz"))
    with pytest.raises(ValueError, match=f"{re.escape(repr(name))}.*{message}"):
      load(tmp_path / "bad")

  foreign = tmp_path / "foreign.npz"
  np.savez(foreign, final_loss=np.zeros(3), weights=np.ones(3))
  refused(foreign.read_bytes(), settings, "not written by SweepResult.save")
  refused(good[: len(good) // 2], settings, "not a readable .npz")
  refused(b"garbage", settings, "not a readable .npz")
  with np.load(tmp_path / "adam.npz") as data:
    arrays = dict(data)
  arrays["final_loss"] = arrays["final_loss"] + 1.0
  np.savez(tmp_path / "changed.npz", **arrays)
  changed = (tmp_path / "changed.npz").read_bytes()
  refused(changed, settings, "does not match its checksum")
  other = (tmp_path / "sgd.json").read_bytes()
  refused(good, other, "does not match its checksum or its settings")
  refused(good, settings[:-5], "not valid JSON")


def run_script(code: str, **popen) -> subprocess.Popen:
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  env["PYTHONPATH"] = REPO
  return subprocess.Popen(
    [sys.executable, "-c", textwrap.dedent(code)],
    cwd=REPO,
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
    **popen,
  )


RESUMED = dict(
  grid={"learning_rate": RATES},
  starts=np.linspace(-2, 2, 16).reshape(8, 2),
  num_steps=40,
  tol=0.3,
  chunk_size=4,
)  # 24 lanes, 6 chunks.


def test_resumes_after_a_kill(tmp_path, monkeypatch):
  checkpoints = tmp_path / "checkpoints"
  process = run_script(f"""
      import os, time, jax
      jax.config.update("jax_enable_x64", True)
      import numpy as np, optax
      from optax_extras import landscapes
      from optax_extras import sweep
      replace = os.replace
      def slow_replace(source, target):  # Time for the test to kill us.
        replace(source, target)
        time.sleep(3 if "lanes_" in str(target) else 0)
      os.replace = slow_replace
      sweep(optax.adam, landscapes.get("hills_and_canyon"), checkpoint_dir={str(checkpoints)!r},
            grid={{"learning_rate": np.array({RATES.tolist()})}}, progress=False,
            starts=np.linspace(-2, 2, 16).reshape(8, 2), num_steps=40, tol=0.3, chunk_size=4)
  """)
  deadline = time.monotonic() + 60
  while not list(checkpoints.glob("lanes_*.npz")) and process.poll() is None:
    assert time.monotonic() < deadline, "no chunk written within 60 s"
    time.sleep(0.05)
  process.send_signal(signal.SIGKILL)
  output = process.communicate()[0]
  assert process.returncode == -signal.SIGKILL, output
  finished = len(list(checkpoints.glob("lanes_*.npz")))
  assert 1 <= finished < 6

  written = []
  replace = os.replace
  monkeypatch.setattr(
    os, "replace", lambda a, b: (written.append(b), replace(a, b))[1]
  )
  resumed = sweep(optax.adam, HILLS, checkpoint_dir=checkpoints, **RESUMED)
  assert (
    len([path for path in written if "lanes_" in str(path)]) == 6 - finished
  )
  assert_same(resumed, sweep(optax.adam, HILLS, **RESUMED))
  again = sweep(optax.adam, HILLS, checkpoint_dir=checkpoints, **RESUMED)
  assert_same(again, resumed)
  assert len(written) == 6 - finished  # Nothing recomputed.

  with pytest.raises(ValueError, match="checkpoint_dir.*num_steps"):
    sweep(
      optax.adam,
      HILLS,
      checkpoint_dir=checkpoints,
      **{**RESUMED, "num_steps": 41},
    )


def test_two_devices_give_the_one_device_result(tmp_path):
  kwargs = dict(
    grid={"learning_rate": RATES, "decay": np.array([0.5, 0.9])},
    starts=STARTS,
    num_steps=20,
    tol=0.5,
    record_every=5,
    chunk_size=9,
  )  # 24 lanes.
  process = run_script(f"""
      import jax
      jax.config.update("jax_num_cpu_devices", 2)
      jax.config.update("jax_enable_x64", True)
      import numpy as np, optax_extras
      from optax_extras import landscapes
      from optax_extras import sweep
      from optax_extras._src.sweep import program
      program.WORK_PER_DEVICE = 1  # These 24 lanes too use both devices.
      assert jax.device_count() == 2, jax.devices()
      sweep(optax_extras.nesterov_lookahead, landscapes.get("hills_and_canyon"),
            grid={{"learning_rate": np.array({RATES.tolist()}), "decay": np.array([0.5, 0.9])}},
            starts=np.array({STARTS.tolist()}), num_steps=20, tol=0.5, record_every=5,
            chunk_size=9, progress=False).save({str(tmp_path / "sharded")!r})
  """)
  output = process.communicate(timeout=120)[0]
  assert process.returncode == 0, output
  assert jax.device_count() == 1
  unsharded = sweep(
    optax_extras.nesterov_lookahead, HILLS, progress=False, **kwargs
  )
  sharded = load(tmp_path / "sharded")
  assert to_json(sharded.settings) == to_json(unsharded.settings)
  assert_same(sharded, unsharded)


def not_a_transformation(learning_rate):
  return learning_rate


@pytest.mark.parametrize(
  "change, error, message",
  [
    (
      dict(grid={"learning_rate": [[0.1, 0.2]]}),
      ValueError,
      r"grid\['learning_rate'\].*1-D",
    ),
    (
      dict(grid={"learning_rate": []}),
      ValueError,
      r"grid\['learning_rate'\].*non-empty",
    ),
    (
      dict(grid={"learning_rate": ["fast"]}),
      TypeError,
      r"grid\['learning_rate'\].*numbers",
    ),
    (dict(grid=[0.1, 0.2]), TypeError, "`grid` must be a dict"),
    (dict(grid={"lr": [0.1]}), TypeError, r"grid keys \['lr'\]"),
    (
      dict(starts=np.zeros((4, 3))),
      ValueError,
      r"`starts` must have shape \(..., 2\)",
    ),
    (dict(starts=np.zeros((0, 2))), ValueError, "`starts`"),
    (dict(num_steps=0), ValueError, "`num_steps` must be >= 1"),
    (dict(num_steps=2.5), TypeError, "`num_steps` must be an int"),
    (dict(tol=float("nan")), ValueError, "`tol`"),
    (dict(tol="small"), TypeError, "`tol`"),
    (dict(record_every=0), ValueError, "`record_every`"),
    (dict(chunk_size=-1), ValueError, "`chunk_size`"),
    (
      dict(loss_fn=lambda params: params),
      ValueError,
      "`loss_fn` must return a float scalar",
    ),
    (dict(loss_fn="booth"), TypeError, "`loss_fn`"),
    (
      dict(make_optimizer=not_a_transformation),
      TypeError,
      "GradientTransformation",
    ),
    (dict(make_optimizer=None), TypeError, "`make_optimizer`"),
  ],
)
def test_bad_input_is_rejected_with_a_clear_error(change, error, message):
  kwargs = dict(
    make_optimizer=optax.adam,
    loss_fn=HILLS,
    grid={"learning_rate": RATES},
    starts=STARTS,
    num_steps=5,
  )
  with pytest.raises(error, match=message):
    sweep(**{**kwargs, **change})


def test_metrics_run_on_recorded_points_only():
  """With ``record_every=k`` the metrics run on every k-th point (and the
  last), not on every step: counted by a callback in ``metrics_fn``."""
  calls = []

  def metrics(params):
    jax.debug.callback(lambda _: calls.append(1), params[0])
    return {"norm": jnp.sum(params**2)}

  def count(record_every):
    calls.clear()
    sweep(
      optax.sgd,
      lambda params: jnp.sum(params**2),
      grid={"learning_rate": np.array([0.1])},
      starts=np.ones((1, 3)),
      num_steps=20,
      record_every=record_every,
      metrics_fn=metrics,
    )
    return len(calls)

  per_point = count(None)  # The final point alone, once per lane.
  assert per_point > 0
  assert count(5) == 6 * per_point  # Steps 0, 5, 10, 15, 20 and the last.
  assert count(1) == 22 * per_point


def _memory_maps() -> int:
  with open("/proc/self/maps") as maps:
    return len(maps.readlines())


@pytest.mark.skipif(
  not os.path.exists("/proc/self/maps"), reason="Linux's /proc"
)
def test_clear_cache_frees_the_programs_of_earlier_sweeps():
  """Each new optimizer's program holds memory maps (a process may have
  65,530) until `sweep.clear_cache()`; after it, a loop of sweeps stays
  flat and results are unchanged."""

  def run(scale):
    make = lambda learning_rate: optax.chain(  # noqa: E731
      optax.scale(scale), optax.sgd(learning_rate)
    )
    result = sweep(
      make,
      sum_of_squares,
      grid={"learning_rate": RATES},
      starts=STARTS,
      num_steps=5,
      progress=False,
    )
    return result

  def counts(clear):
    found = []
    for scale in (1.0, 2.0, 3.0, 4.0):
      result = run(scale)
      if clear:
        sweep.clear_cache()
      gc.collect()
      found.append(_memory_maps())
    return found, result

  kept, last = counts(clear=False)
  assert kept[-1] - kept[0] >= 30, kept  # Without clearing, maps grow.
  cleared, _ = counts(clear=True)
  assert max(cleared) - min(cleared) < 10, cleared
  assert_same(run(4.0), last)
