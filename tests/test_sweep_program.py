"""Tests of the sweep's compiled program: same bits on any device count and
chunk size, and a compile cache keyed by content."""

import os
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest

import optax_extras
from optax_extras import landscapes
from optax_extras._src.sweep import program as programs

pytestmark = pytest.mark.float64  # In-process tests: float64 inputs.

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HILLS = landscapes.get("hills_and_canyon")
# name -> (make_optimizer, its second grid axis); the first is learning_rate.
OPTIMIZERS = {
  "adam": (optax.adam, ("b1", [0.8, 0.9])),
  "sgd": (optax.sgd, ("momentum", [0.0, 0.9])),
  "nesterov_lookahead": (
    optax_extras.nesterov_lookahead,
    ("decay", [0.5, 0.9]),
  ),
  "adadelta_bigstart": (optax_extras.adadelta_bigstart, ("rho", [0.8, 0.9])),
  "adam_calibrated": (
    lambda **kw: optax_extras.adam_calibrated(
      bias_correction="first_gradient", **kw
    ),
    ("b2", [0.99, 0.999]),
  ),
  "adagrad_family": (optax_extras.adagrad_family, ("power", [0.5, 0.25])),
}
RATES = [0.01, 0.1, 1.0, 1e15]  # The largest makes SGD diverge.
# 98,400 lanes: 4 calls of the program (25 when recording), so 4 devices
# all get some.
NUM_STARTS = 12300
# Chunk sizes each device count runs (None: one chunk); 1 device is the
# reference, the others differ from it in devices and where calls begin.
CHUNKS = {1: (None, 40000), 2: (30001,), 3: (None,), 4: (None, 7777)}


def compute(num_devices: int, path: str) -> None:
  """Every optimizer × dtype × chunk size of `num_devices`, saved to `path`:
  float32 as users get it (x64 off), float64 with x64 on."""
  assert jax.device_count() == num_devices, jax.devices()
  results = {}
  for dtype in ("float32", "float64"):
    with jax.enable_x64(dtype == "float64"):
      results.update(_compute(num_devices, dtype))
  np.savez(path, **results)


def _compute(num_devices: int, dtype: str) -> dict[str, np.ndarray]:
  results = {}
  starts = np.random.default_rng(0).uniform(-3, 3, (NUM_STARTS, 2))
  for name, (make, (axis, values)) in OPTIMIZERS.items():
    grid = {
      "learning_rate": np.array(RATES, dtype),
      axis: np.array(values, dtype),
    }
    for chunk_size in CHUNKS[num_devices]:
      chunks = programs.Chunks(
        make,
        HILLS,
        grid,
        starts.astype(dtype),
        num_steps=25,
        tol=0.5,
        record_every=10 if name == "adam" else None,
        chunk_size=chunk_size or 2**20,
      )
      parts = [
        chunks(first) for first in range(0, chunks.num_lanes, chunks.chunk_size)
      ]
      for field in parts[0]:
        results[f"{name}/{dtype}/{chunk_size}/{field}"] = np.concatenate(
          [part[field] for part in parts]
        )
  # A keyed minibatch loss on a model's pytree, 80 lanes in calls of 32.
  from tests.test_sweep_pytrees import KEY, keyed_model_loss, model_starts

  for chunk_size in CHUNKS[num_devices]:
    result = optax_extras.sweep(
      optax.adam,
      keyed_model_loss,
      grid={"learning_rate": np.array([0.01, 0.1], dtype)},
      starts=model_starts(40),
      num_steps=5,
      key=KEY,
      chunk_size=None if chunk_size is None else chunk_size % 13 + 3,
    )
    prefix = f"keyed_model/{dtype}/{chunk_size}"
    results[f"{prefix}/final_loss"] = result.final_loss
    results[f"{prefix}/final_params"] = result.final_params["hidden"]["w"]
  return results


def run_on_devices(num_devices: int, path: str) -> subprocess.Popen:
  code = (
    "import jax\n"
    f"jax.config.update('jax_num_cpu_devices', {num_devices})\n"
    "from optax_extras._src.sweep import program\n"
    "program.WORK_PER_DEVICE = 1  # Small chunks too use every device.\n"
    "from tests.test_sweep_program import compute\n"
    f"compute({num_devices}, {path!r})\n"
  )
  return subprocess.Popen(
    [sys.executable, "-c", code],
    cwd=REPO,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
  )


def test_same_bits_on_any_device_count_and_chunk_size(tmp_path):
  paths = {n: str(tmp_path / f"devices_{n}.npz") for n in CHUNKS}
  processes = {n: run_on_devices(n, path) for n, path in paths.items()}
  for n, process in processes.items():
    output = process.communicate(timeout=600)[0]
    assert process.returncode == 0, f"{n} devices:\n{output}"
  reference = dict(np.load(paths[1]))
  fields = {key.rsplit("/", 1)[1] for key in reference}
  assert {"final_params", "trajectories", "tol_step"} <= fields
  assert "keyed_model/float32/None/final_loss" in reference
  for dtype in ("float32", "float64"):  # Some lanes diverge, not all.
    diverged = reference[f"sgd/{dtype}/None/divergence_step"] > 0
    assert 0 < diverged.mean() < 1
  for n, path in paths.items():
    with np.load(path) as results:
      for key in results:
        name, dtype, _, field = key.split("/")
        expected = reference[f"{name}/{dtype}/None/{field}"]
        actual = results[key]
        assert actual.dtype == expected.dtype, key
        # Bit for bit, NaN and the sign of zero included.
        assert actual.tobytes() == expected.tobytes(), (
          f"{n} devices, {key}: "
          f"{np.mean(actual != expected):.1%} of the values differ"
        )


def test_a_small_sweep_compiles_on_one_device_only_and_lowers_alike():
  # Each device compiles for itself: little work stays on one, more work
  # spreads (WORK_PER_DEVICE), which never changes a lane's bits (above).
  code = (
    "import jax\n"
    "jax.config.update('jax_num_cpu_devices', 2)\n"
    "import numpy as np, optax\n"
    "from optax_extras import landscapes, sweep\n"
    "from optax_extras._src.sweep import program\n"
    "def compilations(num_starts, num_steps):\n"
    "  before = program.cache_info().compilations\n"
    "  sweep(optax.sgd, landscapes.get('booth'),\n"
    "        grid={'learning_rate': np.array([0.01, 0.02])},\n"
    "        starts=np.zeros((num_starts, 2)), num_steps=num_steps,\n"
    "        progress=False)\n"
    "  return program.cache_info().compilations - before\n"
    "print(compilations(64, 10), compilations(2**17, 200))\n"
    # The fingerprint does not depend on the device (the default one here).
    "def fingerprint():\n"
    "  return program.Chunks(optax.sgd, landscapes.get('booth'),\n"
    "    {'learning_rate': np.array([0.1])}, np.zeros((4, 2)), num_steps=3,\n"
    "    tol=None, record_every=None, chunk_size=4).fingerprint\n"
    "first = fingerprint()\n"
    "with jax.default_device(jax.devices()[1]):\n"
    "  print(fingerprint() == first)\n"
  )
  output = subprocess.run(
    [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True
  )
  assert output.returncode == 0, output.stderr
  assert output.stdout.split() == ["1", "2", "True"]


# --- The compile cache -------------------------------------------------------


def compilations() -> int:
  return programs.cache_info().compilations


def chunks(make, loss, rates, starts):
  return programs.Chunks(
    make,
    loss,
    {"learning_rate": np.asarray(rates)},
    np.asarray(starts),
    num_steps=5,
    tol=None,
    record_every=None,
    chunk_size=64,
  )


class CountBackendCompiles:
  """Counts XLA compilations, as JAX reports them (an independent count)."""

  def __init__(self):
    self.count = 0
    jax.monitoring.register_event_duration_secs_listener(self)

  def __call__(self, event, duration, **kwargs):
    del duration, kwargs
    if event == "/jax/core/compile/backend_compile_duration":
      self.count += 1


def test_the_compile_cache_is_keyed_by_content():
  counter = CountBackendCompiles()
  starts = np.zeros((3, 2))
  program = chunks(
    lambda learning_rate: optax.adam(learning_rate), HILLS, [0.1, 0.2], starts
  )
  first = program(0)
  built, compiled = compilations(), counter.count
  assert compiled >= 1
  # Re-created identical function, other grid values and starts, a few more
  # of them (grid values and starts are arguments): nothing compiles.
  again = chunks(
    lambda learning_rate: optax.adam(learning_rate), HILLS, [0.1, 0.2], starts
  )
  assert again.fingerprint == program.fingerprint
  for name, array in again(0).items():
    np.testing.assert_array_equal(array, first[name])
  other = chunks(
    lambda learning_rate: optax.adam(learning_rate),
    HILLS,
    [0.3, 0.01, 0.5],
    np.ones((4, 2)),
  )(0)
  assert other["final_loss"].shape == (12,)
  assert (compilations(), counter.count) == (built, compiled)
  # Another computation compiles, once; a captured number is content.
  for momentum in (0.5, 0.5, 0.9):
    chunks(
      lambda learning_rate, momentum=momentum: optax.sgd(
        learning_rate, momentum
      ),
      HILLS,
      [0.1],
      starts,
    )(0)
  assert compilations() == built + 2
  assert counter.count == compiled + 2


def test_a_cached_program_computes_the_new_values():
  """Reusing a compilation must not reuse the old grid or starts."""
  make = lambda learning_rate: optax.sgd(learning_rate)
  a = chunks(make, HILLS, [0.1, 0.2], np.zeros((3, 2)))(0)
  b = chunks(make, HILLS, [0.2, 0.1], np.full((3, 2), 0.5))(0)
  c = chunks(make, HILLS, [0.2, 0.1], np.zeros((3, 2)))(0)
  np.testing.assert_array_equal(c["final_params"][:3], a["final_params"][3:])
  assert not np.array_equal(b["final_params"], c["final_params"])


@pytest.mark.parametrize("rows", [1, 5, programs.BLOCK + 3])
def test_a_chunk_has_its_rows_and_the_last_lane_repeats_nowhere(rows):
  """A short last chunk returns its own rows only, in lane order."""
  starts = np.stack([np.arange(rows), np.zeros(rows)], axis=1) * 1e-3
  run = programs.Chunks(
    lambda learning_rate: optax.sgd(learning_rate),
    HILLS,
    {"learning_rate": np.array([0.0])},
    starts,
    num_steps=1,
    tol=None,
    record_every=None,
    chunk_size=programs.BLOCK * 2,
  )
  outputs = run(0)
  assert outputs["final_params"].shape == (rows, 2)
  np.testing.assert_array_equal(outputs["final_params"], starts)
