"""Live comparison with PyTorch and Keras 3 (``pytest -m parity``).

Runs only where the frameworks are installed (``pip install -e
".[parity]"``, which .ci/run does); elsewhere it is skipped, and
tests/test_compat_goldens.py checks the recorded trajectories instead.
Keras runs on its JAX backend.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
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


# A traced 0 (a sweep's grid axis, under jax.vmap) against the framework's
# 0: PyTorch ignores the dampening at momentum 0 (it keeps no buffer), and
# runs Nesterov at dampening 0.
TRACED_ZERO_CASES = {
  "torch_sgd-momentum-damped": (
    "torch_sgd",
    dict(lr=0.05, dampening=0.5),
    "momentum",
  ),
  "torch_sgd-dampening-nesterov": (
    "torch_sgd",
    dict(lr=0.05, momentum=0.9, nesterov=True),
    "dampening",
  ),
}


def _run_traced_zero(name, kwargs, swept, problem, data, dtype):
  """`frameworks.run_compat`, with `swept` a vmapped axis holding 0."""
  arrays = {k: jnp.asarray(v, dtype) for k, v in data.items()}
  params = {k: arrays[k] for k in cases.PARAM_KEYS[problem]}
  grad = jax.grad(lambda p: cases.loss(problem, arrays, p, jnp))

  def trajectory(value):
    transform = getattr(compat, name)(**{**kwargs, swept: value})

    def step(carry, _):
      params, state = carry
      updates, state = transform.update(grad(params), state, params)
      params = optax.apply_updates(params, updates)
      return (params, state), params

    init = (params, transform.init(params))
    return jax.lax.scan(step, init, length=cases.NUM_STEPS)[1]

  runs = jax.jit(jax.vmap(trajectory))(jnp.zeros(1, dtype))
  return np.stack(
    [
      cases.flatten({k: np.asarray(v[0, i]) for k, v in runs.items()}, problem)
      for i in np.asarray(cases.SNAPSHOTS) - 1
    ]
  )


@pytest.mark.parametrize(
  "case, problem, dtype",
  [
    pytest.param(
      case,
      problem,
      dtype,
      marks=getattr(pytest.mark, dtype),
      id=f"{case}-{problem}-{dtype}",
    )
    for case in TRACED_ZERO_CASES
    for problem in cases.PROBLEMS
    for dtype in cases.DTYPES
  ],
)
def test_a_traced_zero_matches_the_frameworks_zero(case, problem, dtype, torch):
  name, kwargs, swept = TRACED_ZERO_CASES[case]
  theirs = frameworks.run_torch(
    name, {**kwargs, swept: 0.0}, problem, PROBLEMS[problem], dtype
  )
  ours = _run_traced_zero(
    name, kwargs, swept, problem, PROBLEMS[problem], dtype
  )
  assert_close(ours, theirs, TOLERANCE[dtype])
