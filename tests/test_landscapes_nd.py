"""N-D test functions: their published minima, for several dimensions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optax_extras import landscapes

pytestmark = pytest.mark.float64

DIMS = (2, 3, 5, 10)
# name -> (published minimiser coordinate, published minimum per dimension),
# as printed by the sources (https://www.sfu.ca/~ssurjano/).
PUBLISHED = {
  "rosenbrock": (1.0, 0.0),
  "rastrigin": (0.0, 0.0),
  "ackley": (0.0, 0.0),
  "styblinski_tang": (-2.903534, -39.16599),
}


def test_every_registered_function_has_a_published_minimum():
  assert set(landscapes.names_nd()) == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
@pytest.mark.parametrize("dim", DIMS)
def test_the_published_minimum_holds(name, dim):
  f = landscapes.get_nd(name)
  coordinate, per_dimension = PUBLISHED[name]
  argmin = f.argmin(dim)
  np.testing.assert_allclose(argmin, coordinate, atol=1e-6)
  np.testing.assert_allclose(f.minimum(dim), per_dimension * dim, rtol=1e-5)
  value = float(f(argmin))
  np.testing.assert_allclose(value, f.minimum(dim), atol=1e-12)
  # A stationary point, and no lower point nearby or in the box.
  np.testing.assert_allclose(jax.grad(f)(jnp.asarray(argmin)), 0, atol=1e-9)
  rng = np.random.default_rng(dim)
  near = argmin + rng.normal(scale=1e-3, size=(2000, dim))
  low, high = f.bounds
  box = rng.uniform(low, high, size=(20000, dim))
  assert np.all(np.asarray(f(np.concatenate([near, box]))) >= value - 1e-12)


@pytest.mark.parametrize(
  "name", ["rosenbrock", "rastrigin", "ackley", "styblinski_tang"]
)
def test_in_2d_they_equal_the_registry_surfaces(name):
  points = np.random.default_rng(0).uniform(-3, 3, (100, 2))
  np.testing.assert_allclose(
    landscapes.get_nd(name)(points), landscapes.get(name)(points), rtol=1e-12
  )


def test_the_conditioned_quadratic_has_its_condition_number():
  f = landscapes.conditioned_quadratic(100.0, 4)
  hessian = jax.hessian(f)(jnp.ones(4))
  eigenvalues = np.linalg.eigvalsh(hessian)
  np.testing.assert_allclose(eigenvalues.max() / eigenvalues.min(), 100.0)
  assert float(f(f.argmin(4))) == f.minimum(4) == 0.0
  with pytest.raises(ValueError, match="`condition_number`"):
    landscapes.conditioned_quadratic(0.5, 4)
  with pytest.raises(ValueError, match="4 coordinates"):
    f(jnp.ones(3))


def test_a_bad_dimension_is_refused():
  with pytest.raises(ValueError, match="`dim` must be an int >= 2"):
    landscapes.get_nd("rosenbrock").argmin(1)
  with pytest.raises(KeyError, match="known: ackley"):
    landscapes.get_nd("nope")
