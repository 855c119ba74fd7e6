"""Test configuration: every test runs in a precision it states.

JAX computes in float32 unless x64 is enabled; users get float32 by default.
Each test runs inside ``jax.enable_x64(...)`` chosen by a marker:

- ``@pytest.mark.float32``: the users' default, x64 off;
- ``@pytest.mark.float64``: x64 on, to match float64 references to 1e-10;
- ``@pytest.mark.both_precisions``: the test runs twice, ``[float32]`` and
  ``[float64]``.

A module states its precision once, ``pytestmark = pytest.mark.float32``; a
test's own marker wins over its module's. A test that requests the
`precision` fixture gets ``"float32"`` or ``"float64"`` (to pick a tolerance).

Tests that state no precision (the doctests) run in float32, the users'
default; ``pytest --unmarked-precision=float64`` runs them in float64.

Fixtures wider than one test (``scope="module"``) are set up outside the
test's precision, in float32: they enter ``jax.enable_x64`` themselves.
"""

import jax
import pytest

PRECISIONS = ("float32", "float64")


def pytest_addoption(parser):
  parser.addoption(
    "--unmarked-precision",
    choices=PRECISIONS,
    default="float32",
    help="precision of tests with no precision marker (default: float32)",
  )


def pytest_configure(config):
  for line in (
    "float32: run the test with x64 off (the users' default)",
    "float64: run the test with x64 on (jax.enable_x64)",
    "both_precisions: run the test twice, in float32 and in float64",
  ):
    config.addinivalue_line("markers", line)


def _unmarked(config) -> str:
  return config.getoption("--unmarked-precision", "float32")


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
  """Test modules are imported in the unmarked tests' precision."""
  if not isinstance(collector, pytest.Module):
    return (yield)
  with jax.enable_x64(_unmarked(collector.config) == "float64"):
    return (yield)


def pytest_generate_tests(metafunc):
  if metafunc.definition.get_closest_marker("both_precisions"):
    metafunc.parametrize("precision", PRECISIONS, indirect=True)


@pytest.fixture(autouse=True)
def precision(request):
  """The test's precision, in force while it runs: "float32" or "float64"."""
  chosen = getattr(request, "param", None)
  if chosen is None:
    marked = (
      m.name for m in request.node.iter_markers() if m.name in PRECISIONS
    )
    chosen = next(marked, _unmarked(request.config))
  with jax.enable_x64(chosen == "float64"):
    yield chosen
