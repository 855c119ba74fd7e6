"""Live comparison with PyTorch and Keras 3 (``pytest -m parity``).

Runs only where the frameworks are installed (``pip install -e
".[parity]"``, which .ci/run does); elsewhere it is skipped, and
tests/test_compat_goldens.py checks the recorded trajectories instead.
Keras runs on its JAX backend.
"""

import os

import jax
import pytest

from optax_extras import compat
from tests.helpers import assert_close
from tests.parity import cases, frameworks

pytestmark = [pytest.mark.parity, pytest.mark.float32]

TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
PROBLEMS = cases.make_problems()


def _params(framework, table):
  for case_id, name, kwargs in cases.case_ids(table):
    for problem in cases.PROBLEMS:
      for dtype in cases.DTYPES:
        yield pytest.param(
          framework,
          name,
          kwargs,
          problem,
          dtype,
          marks=getattr(pytest.mark, dtype),
          id=f"{case_id}-{problem}-{dtype}",
        )


@pytest.fixture(scope="module")
def torch():
  return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def keras():
  os.environ.setdefault("KERAS_BACKEND", "jax")
  return pytest.importorskip("keras")


@pytest.mark.parametrize(
  "framework, name, kwargs, problem, dtype",
  [
    *_params("torch", cases.TORCH_CASES),
    *_params("keras", cases.KERAS_CASES),
  ],
)
def test_compat_matches_the_framework(
  framework, name, kwargs, problem, dtype, request
):
  request.getfixturevalue(framework)
  run = frameworks.run_torch if framework == "torch" else frameworks.run_keras
  theirs = run(name, kwargs, problem, PROBLEMS[problem], dtype)
  with jax.enable_x64(dtype == "float64"):
    ours = frameworks.run_compat(
      getattr(compat, name)(**kwargs), problem, PROBLEMS[problem], dtype
    )
  assert_close(ours, theirs, TOLERANCE[dtype])
