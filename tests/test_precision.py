"""The precision markers of conftest.py put each test in its precision."""

import jax.numpy as jnp
import pytest

AT_IMPORT = jnp.zeros(1).dtype


def _in_force() -> str:
  return str(jnp.zeros(1).dtype)


def test_unmarked_tests_and_modules_run_in_the_unmarked_precision(
  precision, request
):
  assert precision == request.config.getoption("--unmarked-precision")
  assert _in_force() == precision and AT_IMPORT == precision


@pytest.mark.float32
def test_float32_marker(precision):
  assert precision == _in_force() == "float32"


@pytest.mark.float64
def test_float64_marker(precision):
  assert precision == _in_force() == "float64"


@pytest.mark.float64
class TestMarkedClass:
  @pytest.mark.float32
  def test_the_closest_marker_wins(self, precision):
    assert precision == _in_force() == "float32"

  def test_the_class_marker_applies(self, precision):
    assert precision == _in_force() == "float64"


@pytest.mark.both_precisions
def test_both_precisions(precision, request):
  assert _in_force() == precision == request.node.callspec.params["precision"]
  names = {item.name for item in request.session.items}
  assert {
    f"test_both_precisions[{mode}]" for mode in ("float32", "float64")
  } <= names
