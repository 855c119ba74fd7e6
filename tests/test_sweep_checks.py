"""Tests of the sweep's input checks: every grid value, every integer."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optax_extras
from optax_extras import landscapes, sweep
from optax_extras._src.sweep.result import to_json
from tests.test_sweep import assert_same

pytestmark = pytest.mark.float32  # The users' default.

HILLS = landscapes.get("hills_and_canyon")
STARTS = np.array([[-2.8, -2.5], [1.5, 2.0]])


def run(make_optimizer, grid, **kwargs):
  return sweep(
    make_optimizer,
    HILLS,
    grid=grid,
    **{"starts": STARTS, "num_steps": 3, "progress": False, **kwargs},
  )


def nesterov(decay):
  return optax_extras.nesterov_lookahead(0.01, decay)


def scalar_only_nesterov(decay):
  """Takes a scalar (or a tracer) only: an array of several values fails."""
  return optax_extras.nesterov_lookahead(0.01, jnp.reshape(decay, ()))


def adam_b1(b1):
  return optax_extras.adam_calibrated(0.01, b1=b1)


@pytest.mark.parametrize(
  "make_optimizer, grid, message",
  [
    (nesterov, {"decay": np.linspace(0.0, 1.0, 11)}, r"grid\['decay'\] = 1.0"),
    (
      nesterov,
      {"decay": np.linspace(1.0, 0.0, 11)},
      r"grid\['decay'\] = 1.0",
    ),
    (adam_b1, {"b1": [0.9, 1.5]}, r"grid\['b1'\] = 1.5"),
    (
      scalar_only_nesterov,
      {"decay": [0.5, 1.0, 0.9]},
      r"grid\['decay'\] = 1.0",
    ),
  ],
  ids=["last_decay", "first_decay", "b1", "scalar_only"],
)
def test_every_grid_value_is_checked_with_its_name(
  make_optimizer, grid, message
):
  with pytest.raises(ValueError, match=message):
    run(make_optimizer, grid)


def test_an_optimizer_that_takes_only_scalars_still_sweeps():
  grid = {"decay": np.array([0.5, 0.9])}
  assert_same(run(scalar_only_nesterov, grid), run(nesterov, grid))


@pytest.mark.parametrize(
  "grid, message",
  [
    ({"learning_rate": [0.1, np.nan]}, r"grid\['learning_rate'\].*finite"),
    ({"learning_rate": [np.inf, 0.1]}, r"grid\['learning_rate'\].*finite"),
    ({"nesterov": [True, False]}, r"grid\['nesterov'\] holds booleans"),
  ],
)
def test_values_no_computation_can_use_are_refused(grid, message):
  def make(learning_rate=0.1, nesterov=False):
    return optax.sgd(learning_rate, nesterov=nesterov)

  with pytest.raises((ValueError, TypeError), match=message):
    run(make, grid)


@pytest.mark.parametrize(
  "rates, message",
  [([0.1, 1e-8], "1e-08 at index 1"), ([1e5, 0.1], "100000.0 at index 0")],
  ids=["underflow", "overflow"],
)
def test_grid_values_float16_starts_cannot_hold_are_refused(rates, message):
  pattern = r"grid\['learning_rate'\].*float16.*" + message
  with pytest.raises(ValueError, match=pattern):
    run(optax.sgd, {"learning_rate": rates}, starts=STARTS.astype(np.float16))


def scaled_sgd(scale):
  return optax.sgd(0.001 * scale)


def test_integer_axes_sweep_and_values_beyond_int32_are_refused():
  integers = run(scaled_sgd, {"scale": np.array([1, 7])})
  floats = run(scaled_sgd, {"scale": np.array([1.0, 7.0])})
  np.testing.assert_array_equal(integers.final_params, floats.final_params)
  with jax.enable_x64(False):
    with pytest.raises(ValueError, match=r"grid\['scale'\].*int32.*2147483648"):
      run(scaled_sgd, {"scale": [1, 2**31]})


def test_numpy_integers_are_accepted_wherever_ints_are(tmp_path):
  kwargs = dict(grid={"learning_rate": [0.1, 0.3]}, tol=0.5)
  plain = run(
    optax.adam,
    **kwargs,
    num_steps=5,
    chunk_size=3,
    record_every=2,
    checkpoint_dir=tmp_path,
  )
  numpy = run(
    optax.adam,
    **kwargs,
    num_steps=np.int64(5),
    chunk_size=np.int32(3),
    record_every=np.uint8(2),
    checkpoint_dir=tmp_path,  # The same settings: it resumes.
  )
  assert to_json(numpy.settings) == to_json(plain.settings)
  assert_same(numpy, plain)
  with pytest.raises(TypeError, match="`num_steps` must be an int"):
    run(optax.adam, **kwargs, num_steps=np.bool_(True))
  with pytest.raises(ValueError, match="`num_steps` must be >= 1 and < 2"):
    run(optax.adam, **kwargs, num_steps=2**31)


def test_bfloat16_starts_are_refused_with_the_supported_dtypes():
  with pytest.raises(TypeError, match="bfloat16.*supported: float16, float32"):
    run(optax.sgd, {"learning_rate": [0.1]}, starts=STARTS.astype(jnp.bfloat16))
  with pytest.raises(TypeError, match=r"leaf \['w'\] has dtype bfloat16"):
    run(
      optax.sgd,
      {"learning_rate": [0.1]},
      starts={"w": STARTS.astype(jnp.bfloat16)},
    )


def test_complex_hyperparameters_are_refused():
  with pytest.raises(TypeError, match=r"grid\['learning_rate'\].*complex"):
    run(optax.sgd, {"learning_rate": [0.1, 0.1 + 1j]})
  with pytest.raises(TypeError, match=r"updates are complex.*learning rate"):
    run(lambda: optax.sgd(0.1 + 1j), None)


@pytest.mark.parametrize("folder", [3, b"folder", ""])
def test_a_checkpoint_dir_that_is_not_a_path_is_refused(folder):
  with pytest.raises((TypeError, ValueError), match="`checkpoint_dir`"):
    run(optax.sgd, {"learning_rate": [0.1]}, checkpoint_dir=folder)
