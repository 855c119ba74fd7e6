"""optax_extras.compat against trajectories recorded from PyTorch and Keras 3.

The golden files (tests/parity/goldens_*.npz, written by
``python -m tests.parity.record_goldens``) hold each case's parameters at
several steps of 100, on a quadratic and a small MLP, in float64 and
float32, with the frameworks' versions. Neither framework is needed here.
"""

import json
import pathlib

import numpy as np
import pytest

from optax_extras import compat
from tests.helpers import assert_close
from tests.parity import cases, frameworks
from tests.parity.record_goldens import FILES

pytestmark = pytest.mark.float32  # float64 where marked.

TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
# Float32 on the MLP: 100 steps through matrix products whose summation order
# is the framework's and the CPU's (XLA's blocking follows the instruction
# set and the thread count), so the last bits differ and grow; torch_nadam
# reached 1.6e-5 of the largest value on this project's AMD EPYC machines.
MLP_FLOAT32 = 1e-4
GOLDENS = {name: dict(np.load(path)) for name, path in FILES.items()}


def _params():
  for framework, golden in GOLDENS.items():
    for case_id, name, kwargs in json.loads(str(golden["cases"])):
      for problem in cases.PROBLEMS:
        for dtype in cases.DTYPES:
          yield pytest.param(
            framework,
            case_id,
            name,
            kwargs,
            problem,
            dtype,
            marks=getattr(pytest.mark, dtype),
            id=f"{case_id}-{problem}-{dtype}",
          )


@pytest.mark.parametrize(
  "framework, case_id, name, kwargs, problem, dtype", list(_params())
)
def test_compat_follows_the_golden_trajectory(
  framework, case_id, name, kwargs, problem, dtype
):
  golden = GOLDENS[framework]
  data = {
    key.split("/")[2]: golden[key]
    for key in golden
    if key.startswith(f"data/{problem}/")
  }
  ours = frameworks.run_compat(
    getattr(compat, name)(**kwargs), problem, data, dtype
  )
  expected = golden[f"{case_id}/{problem}/{dtype}"]
  assert ours.dtype == np.dtype(dtype)
  tolerance = TOLERANCE[dtype]
  if (problem, dtype) == ("mlp", "float32"):
    tolerance = MLP_FLOAT32
  assert_close(ours, expected, tolerance)


@pytest.mark.parametrize("framework", list(FILES))
def test_goldens_cover_every_function_and_say_where_they_come_from(framework):
  golden = GOLDENS[framework]
  versions = json.loads(str(golden["versions"]))
  assert versions[framework]
  if framework == "keras":
    assert versions["keras_backend"] == "jax"
  recorded = {name for _, name, _ in json.loads(str(golden["cases"]))}
  prefix = f"{framework}_"
  assert recorded == {n for n in compat.__all__ if n.startswith(prefix)}
  for name in recorded:  # Several settings of each.
    settings = [c for c in json.loads(str(golden["cases"])) if c[1] == name]
    assert len(settings) >= 2, name


def test_goldens_are_small():
  total = sum(pathlib.Path(path).stat().st_size for path in FILES.values())
  assert total < 400_000, total
