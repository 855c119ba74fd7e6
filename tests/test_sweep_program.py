"""Tests of the sweep's compiled program: same bits on any device count and
chunk size, blocks by backend, jit's cache reused with new values."""

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
  "adagrad_family": (optax_extras.adagrad_family, ("power", [0.5, 0.25])),
}
RATES = [0.01, 0.1, 1.0, 1e15]  # The largest makes SGD diverge.
# 16,800 lanes: 5 blocks of 4096 (the CPU's block, made smaller for this
# test in its subprocesses), so 4 devices all get some.
NUM_STARTS = 2100
# Chunk sizes each device count runs (None: one chunk); 1 device is the
# reference, the others differ from it in devices and where blocks begin:
# one chunk on 3 devices, chunks that split blocks unevenly on 2 and 4 (one
# configuration each: every extra one compiles every optimizer again).
CHUNKS = {1: (None,), 2: (5001,), 3: (None,), 4: (1777,)}


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
      result = optax_extras.sweep(
        make,
        HILLS,
        grid=grid,
        starts=starts.astype(dtype),
        num_steps=25,
        tol=0.5,
        record_every=10 if name == "adam" else None,
        chunk_size=chunk_size,
        progress=False,
      )
      for field in ("final_params", "final_loss", "best_loss"):
        results[f"{name}/{dtype}/{chunk_size}/{field}"] = getattr(result, field)
      for field in ("tol_step", "divergence_step", "trajectories"):
        if getattr(result, field) is not None:
          results[f"{name}/{dtype}/{chunk_size}/{field}"] = getattr(
            result, field
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
    "from optax_extras._src.sweep import sweep\n"
    "sweep.WORK_PER_DEVICE = 1  # Small chunks too use every device.\n"
    "from optax_extras._src.sweep import program\n"
    "program.BLOCK['cpu'] = 4096  # Several blocks for the devices.\n"
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


def test_a_small_sweep_compiles_on_one_device_only():
  # Each device compiles for itself: little work stays on one, more work
  # spreads (WORK_PER_DEVICE), which never changes a lane's bits (above).
  code = (
    "import jax\n"
    "jax.config.update('jax_num_cpu_devices', 2)\n"
    "import numpy as np, optax\n"
    "from optax_extras import landscapes, sweep\n"
    "from tests.test_sweep_checkpoint import count_compilations\n"
    "compiles, _ = count_compilations()\n"
    "def compilations(num_starts, num_steps):\n"
    "  before = len(compiles)\n"
    "  sweep(optax.sgd, landscapes.get('booth'),\n"
    "        grid={'learning_rate': np.array([0.01, 0.02])},\n"
    "        starts=np.zeros((num_starts, 2)), num_steps=num_steps,\n"
    "        progress=False)\n"
    "  return len(compiles) - before\n"
    "print(compilations(64, 10), compilations(2**17, 200))\n"
  )
  output = subprocess.run(
    [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True
  )
  assert output.returncode == 0, output.stderr
  assert output.stdout.split() == ["1", "2"]


def test_blocks_are_large_on_an_accelerator_and_cache_sized_on_a_cpu():
  for backend in ("gpu", "tpu", "cuda", "rocm"):
    assert programs.block_size(backend, 10**8, 2) >= 2**18
    assert programs.block_size(backend, 10**8, 10**4) >= 2**10  # A model.
    assert programs.block_size(backend, 1000, 2) == 1024  # The whole sweep.
  assert programs.block_size("cpu", 10**8, 2) == 2**16
  assert programs.block_size("cpu", 10, 2) == programs.MIN_BLOCK


def test_the_same_function_with_new_values_computes_them():
  """Reusing a compilation must not reuse the old grid or starts."""
  make = lambda learning_rate: optax.sgd(learning_rate)

  def run(rates, starts):
    return optax_extras.sweep(
      make,
      HILLS,
      grid={"learning_rate": np.array(rates)},
      starts=starts,
      num_steps=5,
    ).final_params

  a = run([0.1, 0.2], np.zeros((3, 2)))
  b = run([0.2, 0.1], np.full((3, 2), 0.5))
  c = run([0.2, 0.1], np.zeros((3, 2)))
  np.testing.assert_array_equal(c[0], a[1])
  assert not np.array_equal(b, c)
  fresh = optax_extras.sweep(
    lambda learning_rate: optax.sgd(learning_rate),
    HILLS,
    grid={"learning_rate": np.array([0.2, 0.1])},
    starts=np.full((3, 2), 0.5),
    num_steps=5,
  )
  np.testing.assert_array_equal(b, fresh.final_params)


@pytest.mark.parametrize("rows", [1, 5, 4096 + 3])
def test_a_chunk_has_its_rows_and_the_last_lane_repeats_nowhere(rows):
  """A short last block returns its own rows only, in lane order."""
  starts = np.stack([np.arange(rows), np.zeros(rows)], axis=1) * 1e-3
  result = optax_extras.sweep(
    lambda learning_rate: optax.sgd(learning_rate),
    HILLS,
    grid={"learning_rate": np.array([0.0])},
    starts=starts,
    num_steps=1,
    chunk_size=4096 * 2,
  )
  assert result.final_params.shape == (1, rows, 2)
  np.testing.assert_array_equal(result.final_params[0], starts)
