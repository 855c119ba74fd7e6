"""Tests of `optax_extras.landscapes`: formulas, minima and the registry."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optax_extras import landscapes
from optax_extras._src import landscapes as _landscapes

# The surfaces are matched to float64 NumPy references to 1e-12.
pytestmark = pytest.mark.float64

BUILTIN_NAMES = (
  "ackley",
  "basins_and_walls",
  "beale",
  "booth",
  "giant_plateau",
  "goldstein_price",
  "hills_and_canyon",
  "himmelblau",
  "hyperbolic_saddle",
  "levi_n13",
  "matyas",
  "quad",
  "rastrigin",
  "ripple",
  "rosenbrock",
  "saddle",
  "six_hump_camel",
  "styblinski_tang",
  "three_hump_camel",
  "two_minimums",
  "wobbly",
)
WITH_MINIMA = tuple(
  n for n in BUILTIN_NAMES if n not in ("saddle", "hyperbolic_saddle")
)


# --- Float64 NumPy references, written from the formulas (the seeds, VLSE). ---


def _ackley(x, y):
  r = np.sqrt(0.5 * (x * x + y * y))
  return (
    -20.0 * np.exp(-0.2 * r)
    - np.exp(0.5 * (np.cos(2 * np.pi * x) + np.cos(2 * np.pi * y)))
    + 20.0
    + np.e
  )


def _goldstein_price(x, y):
  a = 1 + (x + y + 1) ** 2 * (
    19 - 14 * x + 3 * x * x - 14 * y + 6 * x * y + 3 * y * y
  )
  b = 30 + (2 * x - 3 * y) ** 2 * (
    18 - 32 * x + 12 * x * x + 48 * y - 36 * x * y + 27 * y * y
  )
  return a * b


REFERENCES = {
  "wobbly": lambda x, y: (
    (x * x + y * y) / 3
    + np.abs(x) * np.sqrt(np.abs(x) + 0.1)
    + 3 * np.sin(x + y)
    + 3
    + 8 * np.exp(-2 * ((x + 1) ** 2 + (y + 2) ** 2))
  ),
  "basins_and_walls": lambda x, y: (x * x + y * y) / 2 + np.sin(4 * x) ** 2,
  "ripple": lambda x, y: (
    (x * x + y * y) / 3 + (np.sin(20 * x) ** 2 + np.sin(20 * y) ** 2) / 15
  ),
  "giant_plateau": lambda x, y: 4 * (1 - np.exp(-(x * x + y * y))),
  "hills_and_canyon": lambda x, y: (
    (x * x + y * y) / 3
    + 3 * np.exp(-((x + 1) ** 2 + (y + 2) ** 2))
    + np.exp(-1.5 * (2 * (x + 2) ** 2 + (y - 0.5) ** 2))
    + 3 * np.exp(-1.5 * ((x - 1) ** 2 + 2 * (y + 1.5) ** 2))
    + 1.5 * np.exp(-((x + 1.5) ** 2 + 3 * (y + 0.5) ** 2))
    + 4 * (1 - np.exp(-((x + y) ** 2)))
  ),
  "two_minimums": lambda x, y: (
    4
    - 0.5 * np.exp(-((x + 2.5) ** 2 + (y + 2.5) ** 2))
    - 3 * np.exp(-(x * x + y * y))
  ),
  "saddle": lambda x, y: x * x - y * y,
  "quad": lambda x, y: x * x + 4 * y * y,
  "booth": lambda x, y: (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2,
  "hyperbolic_saddle": lambda x, y: y * y - x * x,
  "beale": lambda x, y: (
    (1.5 - x + x * y) ** 2
    + (2.25 - x + x * y**2) ** 2
    + (2.625 - x + x * y**3) ** 2
  ),
  "rosenbrock": lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2,
  "himmelblau": lambda x, y: (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2,
  "rastrigin": lambda x, y: (
    20 + x * x - 10 * np.cos(2 * np.pi * x) + y * y - 10 * np.cos(2 * np.pi * y)
  ),
  "ackley": _ackley,
  "matyas": lambda x, y: 0.26 * (x * x + y * y) - 0.48 * x * y,
  "three_hump_camel": lambda x, y: (
    2 * x * x - 1.05 * x**4 + x**6 / 6 + x * y + y * y
  ),
  "six_hump_camel": lambda x, y: (
    (4 - 2.1 * x * x + x**4 / 3) * x * x + x * y + (-4 + 4 * y * y) * y * y
  ),
  "styblinski_tang": lambda x, y: (
    0.5 * (x**4 - 16 * x * x + 5 * x + y**4 - 16 * y * y + 5 * y)
  ),
  "goldstein_price": _goldstein_price,
  "levi_n13": lambda x, y: (
    np.sin(3 * np.pi * x) ** 2
    + (x - 1) ** 2 * (1 + np.sin(3 * np.pi * y) ** 2)
    + (y - 1) ** 2 * (1 + np.sin(2 * np.pi * y) ** 2)
  ),
}


def _uniform_in_bounds(surface, count, seed=0):
  rng = np.random.default_rng(seed)
  (x_low, x_high), (y_low, y_high) = surface.bounds
  return rng.uniform(x_low, x_high, count), rng.uniform(y_low, y_high, count)


def _grid(surface, points):
  (x_low, x_high), (y_low, y_high) = surface.bounds
  return np.meshgrid(
    np.linspace(x_low, x_high, points), np.linspace(y_low, y_high, points)
  )


def _use_a_scratch_registry(monkeypatch):
  monkeypatch.setattr(_landscapes, "_REGISTRY", dict(_landscapes._REGISTRY))


@pytest.fixture
def scratch_registry(monkeypatch):
  """A copy of the registry for one test; the module's own is restored after."""
  _use_a_scratch_registry(monkeypatch)


# --- Formulas ---------------------------------------------------------------------


def test_every_builtin_has_a_reference():
  assert set(REFERENCES) == set(BUILTIN_NAMES)


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_matches_numpy_reference(name):
  surface = landscapes.get(name)
  x, y = _uniform_in_bounds(surface, 50)
  got = surface.fn(jnp.asarray(x), jnp.asarray(y))
  assert got.dtype == jnp.float64
  np.testing.assert_allclose(
    np.asarray(got), REFERENCES[name](x, y), rtol=1e-12, atol=1e-12
  )


@pytest.mark.both_precisions
@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_float32_in_float32_out(name):
  surface = landscapes.get(name)
  x, y = _uniform_in_bounds(surface, 8)
  got = surface.fn(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32))
  assert got.dtype == jnp.float32
  np.testing.assert_allclose(
    np.asarray(got), REFERENCES[name](x, y), rtol=1e-4, atol=1e-4
  )


# --- Minima -----------------------------------------------------------------------


@pytest.mark.parametrize("name", WITH_MINIMA)
def test_minima_values_and_stationarity(name):
  surface = landscapes.get(name)
  locations = jnp.asarray([m.location for m in surface.minima])
  expected = np.array([m.value for m in surface.minima])

  @jax.jit  # One compilation per landscape, on a (K, 2) batch of minima.
  @jax.vmap
  def value_grad_hessian(point):
    value, grad = jax.value_and_grad(surface)(point)
    return value, grad, jax.hessian(surface)(point)

  values, grads, hessians = map(np.asarray, value_grad_hessian(locations))
  np.testing.assert_allclose(values, expected, rtol=0, atol=1e-9)
  assert np.all(np.linalg.norm(grads, axis=-1) <= 1e-6), grads
  # A minimum, not a saddle or a maximum.
  assert np.all(np.linalg.eigvalsh(hessians) > 0), hessians


@pytest.mark.parametrize("name", WITH_MINIMA)
def test_global_minima_are_lowest_on_a_fine_grid(name):
  surface = landscapes.get(name)
  global_minima = surface.global_minima
  assert global_minima and global_minima == surface.minima[: len(global_minima)]
  best = global_minima[0].value
  assert all(m.value == pytest.approx(best, abs=1e-12) for m in global_minima)
  assert all(
    m.value > best + 1e-9 for m in surface.minima[len(global_minima) :]
  )
  x, y = _grid(surface, 401)
  lowest = float(jnp.min(surface.fn(jnp.asarray(x), jnp.asarray(y))))
  assert lowest >= best - 1e-9 * max(1.0, abs(best))


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_start_and_minima_lie_in_bounds(name):
  surface = landscapes.get(name)
  (x_low, x_high), (y_low, y_high) = surface.bounds
  for x, y in [surface.start] + [m.location for m in surface.minima]:
    assert x_low <= x <= x_high and y_low <= y <= y_high


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_gradient_finite_on_grid_through_the_axes(name):
  surface = landscapes.get(name)
  x, y = _grid(surface, 41)
  points = np.concatenate(
    [
      np.stack([x.ravel(), y.ravel()], axis=-1),
      [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], list(surface.start)],
    ]
  )
  grads = jax.vmap(jax.grad(surface))(jnp.asarray(points))
  assert np.all(np.isfinite(np.asarray(grads)))


def test_ackley_gradient_at_and_near_its_cone_tip():
  surface = landscapes.get("ackley")
  grad = jax.grad(surface)
  np.testing.assert_array_equal(np.asarray(grad(jnp.zeros(2))), [0.0, 0.0])
  # Just off the tip the cone's slope is a*b/sqrt(2) = 2 sqrt(2), toward +x.
  np.testing.assert_allclose(
    np.asarray(grad(jnp.array([1e-12, 0.0]))),
    [2 * math.sqrt(2), 0.0],
    rtol=1e-9,
    atol=1e-9,
  )


def test_wobbly_gradient_at_the_kink_is_finite():
  surface = landscapes.get("wobbly")
  grad = np.asarray(jax.grad(surface)(jnp.array([0.0, -1.0])))
  assert np.all(np.isfinite(grad))


# --- Evaluation forms ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["wobbly", "ackley", "beale"])
def test_call_on_params_matches_fn(name):
  surface = landscapes.get(name)
  params = np.random.default_rng(1).uniform(-2, 2, size=(3, 4, 2))
  got = surface(params)
  assert got.shape == (3, 4)
  expected = surface.fn(
    jnp.asarray(params[..., 0]), jnp.asarray(params[..., 1])
  )
  np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
  assert surface(jnp.array(surface.start)).shape == ()


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_call_rejects_a_last_axis_other_than_two(shape):
  with pytest.raises(ValueError, match="last axis of size 2"):
    landscapes.get("quad")(jnp.zeros(shape))


@pytest.mark.parametrize(
  "name", ["hills_and_canyon", "goldstein_price", "levi_n13"]
)
def test_broadcasting_matches_meshgrid(name):
  surface = landscapes.get(name)
  xs, ys = np.linspace(-1, 1, 7), np.linspace(-2, 2, 5)
  broadcast = surface.fn(jnp.asarray(xs)[None, :], jnp.asarray(ys)[:, None])
  x, y = np.meshgrid(xs, ys)
  assert broadcast.shape == (5, 7)
  on_meshgrid = surface.fn(jnp.asarray(x), jnp.asarray(y))
  np.testing.assert_array_equal(np.asarray(broadcast), np.asarray(on_meshgrid))


# --- Registry -----------------------------------------------------------------------


def _custom(name="custom_bowl"):
  return landscapes.Landscape(
    name,
    lambda x, y: (x - 1) ** 2 + y**2,
    start=(2.0, 2.0),
    bounds=((-3.0, 3.0), (-3.0, 3.0)),
    minima=(landscapes.Minimum((1.0, 0.0), 0.0),),
  )


def test_names_are_sorted_and_complete():
  names = landscapes.names()
  assert isinstance(names, tuple)
  assert list(names) == sorted(names)
  assert set(BUILTIN_NAMES) <= set(names)


def test_get_returns_a_landscape_with_that_name():
  for name in BUILTIN_NAMES:
    surface = landscapes.get(name)
    assert isinstance(surface, landscapes.Landscape) and surface.name == name


def test_get_unknown_name_lists_known_names():
  with pytest.raises(KeyError) as error:
    landscapes.get("no_such_surface")
  message = str(error.value)
  assert "no_such_surface" in message
  assert ", ".join(landscapes.names()) in message


def test_register_then_get(scratch_registry):
  custom = _custom()
  assert landscapes.register(custom) is custom
  assert landscapes.get("custom_bowl") is custom
  assert "custom_bowl" in landscapes.names()
  assert float(custom(jnp.array([1.0, 0.0]))) == 0.0


def test_register_duplicate_raises_unless_overwrite(scratch_registry):
  landscapes.register(_custom())
  with pytest.raises(ValueError, match="'custom_bowl'"):
    landscapes.register(_custom())
  with pytest.raises(ValueError, match="'quad'"):
    landscapes.register(_custom("quad"))
  replacement = _custom()
  landscapes.register(replacement, overwrite=True)
  assert landscapes.get("custom_bowl") is replacement


def test_scratch_registry_leaves_the_module_registry_alone():
  # In one test, so that it holds in any order (xdist runs tests in any).
  before = {name: landscapes.get(name) for name in landscapes.names()}
  with pytest.MonkeyPatch.context() as monkeypatch:
    _use_a_scratch_registry(monkeypatch)
    landscapes.register(_custom())
    landscapes.register(_custom("quad"), overwrite=True)
    assert "custom_bowl" in landscapes.names()
    assert landscapes.get("quad").source == ""  # The custom one.
  assert {name: landscapes.get(name) for name in landscapes.names()} == before
  assert landscapes.get("quad").source.startswith("the TF1 notebook")


def test_register_rejects_non_landscapes(scratch_registry):
  with pytest.raises(TypeError, match="Landscape"):
    landscapes.register(lambda x, y: x + y)


def test_landscape_validates_its_fields():
  with pytest.raises(ValueError, match="low < high"):
    landscapes.Landscape(
      "bad", lambda x, y: x, (0.0, 0.0), ((1.0, -1.0), (-1.0, 1.0))
    )
  with pytest.raises(ValueError, match="global minima must come first"):
    landscapes.Landscape(
      "bad",
      lambda x, y: x,
      (0.0, 0.0),
      ((-1.0, 1.0), (-1.0, 1.0)),
      (
        landscapes.Minimum((0.0, 0.0), 1.0, is_global=False),
        landscapes.Minimum((0.0, 0.0), 0.0),
      ),
    )
