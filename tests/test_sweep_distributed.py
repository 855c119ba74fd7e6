"""A sweep across processes with jax.distributed: same bits as one process."""

import os
import socket
import subprocess
import sys

import numpy as np
import optax
import pytest

from optax_extras import landscapes, load_sweep, sweep

pytestmark = pytest.mark.float64  # As the subprocesses.

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KWARGS = dict(
  grid={"learning_rate": np.array([0.01, 0.1, 1.0, 30.0])},
  starts=np.random.default_rng(1).uniform(-3, 3, (41, 150, 2)),
  num_steps=20,
  tol=0.5,
  record_every=7,
  # 24,600 lanes: a chunk of 5 blocks (2 rounds over the 4 devices), then
  # one of 2 blocks (the last short).
  chunk_size=20000,
  progress=False,
)
PROCESS = """
import sys
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.config.update("jax_num_cpu_devices", 2)
jax.config.update("jax_enable_x64", True)
jax.distributed.initialize(
  "127.0.0.1:{port}", num_processes=2, process_id={process_id}
)
assert jax.device_count() == 4 and jax.local_device_count() == 2
import numpy as np, optax
from optax_extras import landscapes, sweep
from tests.test_sweep_distributed import KWARGS
result = sweep(optax.adam, landscapes.get("hills_and_canyon"), **KWARGS)
result.save({path!r})
# Checkpoints: process 0 writes them; a second run reads them all back.
folder = {folder!r}  # The same folder for both, as on a shared disk.
first = sweep(optax.adam, landscapes.get("hills_and_canyon"),
              checkpoint_dir=folder, **KWARGS)
assert first.final_params.tobytes() == result.final_params.tobytes()
import os, glob
chunks = sorted(glob.glob(folder + "/lanes_*.npz"))
times = [os.stat(c).st_mtime_ns for c in chunks]
again = sweep(optax.adam, landscapes.get("hills_and_canyon"),
              checkpoint_dir=folder, **KWARGS)
assert again.trajectories.tobytes() == result.trajectories.tobytes()
assert [os.stat(c).st_mtime_ns for c in chunks] == times  # None rewritten.
print("process", jax.process_index(), "chunks", len(chunks))
jax.distributed.shutdown()
"""


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_give_the_one_process_result(tmp_path):
  port = free_port()
  paths = [str(tmp_path / f"process_{i}") for i in range(2)]
  processes = [
    subprocess.Popen(
      [
        sys.executable,
        "-c",
        PROCESS.format(
          port=port,
          process_id=i,
          path=paths[i],
          folder=str(tmp_path / "checkpoints"),
        ),
      ],
      cwd=REPO,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
    )
    for i in range(2)
  ]
  outputs = []
  try:
    for process in processes:
      outputs.append(process.communicate(timeout=300)[0])
  finally:
    for process in processes:
      process.kill()
  for process, output in zip(processes, outputs):
    assert process.returncode == 0, output
  assert "process 0 chunks 2" in outputs[0], outputs[0]
  expected = sweep(optax.adam, landscapes.get("hills_and_canyon"), **KWARGS)
  assert 0 < (expected.tol_step > 0).mean() < 1
  for path in paths:  # Every process has the whole result.
    result = load_sweep(path)
    for name in (
      "final_params",
      "final_loss",
      "best_loss",
      "tol_step",
      "divergence_step",
      "trajectories",
      "trajectory_loss",
    ):
      actual, wanted = getattr(result, name), getattr(expected, name)
      assert actual.dtype == wanted.dtype, name
      assert actual.tobytes() == wanted.tobytes(), name
