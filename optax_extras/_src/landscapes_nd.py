"""N-dimensional test functions with published minima, for any dimension d.

Each is an `NDLandscape`: ``fn(params)`` of a vector ``(d,)`` (or a batch
``(..., d)``), usable directly as a sweep loss with starts ``(..., d)``, a
box `bounds` per coordinate and its global minimum for every d. Definitions
and minima after S. Surjanovic and D. Bingham, *Virtual Library of
Simulation Experiments* (https://www.sfu.ca/~ssurjano/), and M. Jamil and
X.-S. Yang, "A literature survey of benchmark functions for global
optimization problems", 2013:

- Rosenbrock: ``sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2``, 0 at (1, …, 1);
- Rastrigin: ``10 d + sum x^2 - 10 cos(2 pi x)``, 0 at 0;
- Ackley (a=20, b=0.2, c=2 pi): 0 at 0;
- Styblinski–Tang: ``sum (x^4 - 16 x^2 + 5 x) / 2``, -39.16617 d at
  x_i = -2.903534;
- `conditioned_quadratic`: ``sum lambda_i x_i^2 / 2`` with eigenvalues
  log-spaced from 1 to a chosen condition number, 0 at 0.

  >>> import jax.numpy as jnp
  >>> from optax_extras import landscapes
  >>> rosenbrock = landscapes.get_nd("rosenbrock")
  >>> float(rosenbrock(jnp.ones(5))), rosenbrock.argmin(3).tolist()
  (0.0, [1.0, 1.0, 1.0])
"""

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class NDLandscape:
  """A test function of any dimension with its global minimum.

  Attributes:
    name: registry key.
    fn: ``f(params)``, reducing the last axis of ``params`` (shape (..., d)).
    bounds: ``(low, high)``, the search box of every coordinate.
    argmin_coordinate: every coordinate of the global minimiser.
    min_per_dimension: the minimum value is ``min_per_dimension * d``.
    min_dimension: the smallest d it is defined for.
    source: where its definition and minimum come from.
  """

  name: str
  fn: Callable[[Array], Array]
  bounds: tuple[float, float]
  argmin_coordinate: float
  min_per_dimension: float
  min_dimension: int = 1
  source: str = ""

  def __call__(self, params: jax.typing.ArrayLike) -> Array:
    return self.fn(jnp.asarray(params))

  def argmin(self, dim: int) -> np.ndarray:
    """The global minimiser in dimension `dim`."""
    return np.full(self._dim(dim), self.argmin_coordinate)

  def minimum(self, dim: int) -> float:
    """The global minimum's value in dimension `dim`."""
    return self.min_per_dimension * self._dim(dim)

  def _dim(self, dim: int) -> int:
    if not isinstance(dim, int) or dim < self.min_dimension:
      raise ValueError(
        f"{self.name}: `dim` must be an int >= {self.min_dimension}, got "
        f"{dim!r}."
      )
    return dim


def _rosenbrock(x):
  head, tail = x[..., :-1], x[..., 1:]
  return jnp.sum(100.0 * (tail - head**2) ** 2 + (1.0 - head) ** 2, axis=-1)


def _rastrigin(x):
  terms = x**2 - 10.0 * jnp.cos(2.0 * jnp.pi * x)
  return 10.0 * x.shape[-1] + jnp.sum(terms, axis=-1)


def _ackley(x):
  mean_square = jnp.mean(x**2, axis=-1)
  mean_cos = jnp.mean(jnp.cos(2.0 * jnp.pi * x), axis=-1)
  # sqrt has an infinite derivative at 0: take it of a safe argument there.
  safe = jnp.where(mean_square > 0, mean_square, 1.0)
  root = jnp.where(mean_square > 0, jnp.sqrt(safe), 0.0)
  return -20.0 * jnp.exp(-0.2 * root) - jnp.exp(mean_cos) + 20.0 + jnp.e


def _styblinski_tang(x):
  return 0.5 * jnp.sum(x**4 - 16.0 * x**2 + 5.0 * x, axis=-1)


_SFU = "Surjanovic and Bingham, https://www.sfu.ca/~ssurjano/"
# Styblinski–Tang: the root of 4x^3 - 32x + 5 = 0 near -2.9035 (its value
# per coordinate, -39.16616570377142, is the published -39.16599 d refined).
_ST_ARGMIN = -2.903534027771177
_ST_MIN = 0.5 * (_ST_ARGMIN**4 - 16.0 * _ST_ARGMIN**2 + 5.0 * _ST_ARGMIN)

_REGISTRY = {
  f.name: f
  for f in (
    NDLandscape(
      "rosenbrock",
      _rosenbrock,
      (-5.0, 10.0),
      1.0,
      0.0,
      2,
      f"{_SFU}rosen.html",
    ),
    NDLandscape(
      "rastrigin",
      _rastrigin,
      (-5.12, 5.12),
      0.0,
      0.0,
      1,
      f"{_SFU}rastr.html",
    ),
    NDLandscape(
      "ackley", _ackley, (-32.768, 32.768), 0.0, 0.0, 1, f"{_SFU}ackley.html"
    ),
    NDLandscape(
      "styblinski_tang",
      _styblinski_tang,
      (-5.0, 5.0),
      _ST_ARGMIN,
      _ST_MIN,
      1,
      f"{_SFU}stybtang.html",
    ),
  )
}


def conditioned_quadratic(condition_number: float, dim: int) -> NDLandscape:
  """``f(x) = sum_i lambda_i x_i^2 / 2``, eigenvalues ``lambda_i`` log-spaced
  from 1 to `condition_number` over `dim` coordinates; minimum 0 at 0."""
  if not (isinstance(dim, int) and dim >= 2):
    raise ValueError(
      f"conditioned_quadratic: `dim` must be an int >= 2, got {dim!r}."
    )
  if not (math.isfinite(condition_number) and condition_number >= 1):
    raise ValueError(
      "conditioned_quadratic: `condition_number` must be finite and >= 1, "
      f"got {condition_number!r}."
    )
  eigenvalues = np.geomspace(1.0, condition_number, dim)

  def fn(x):
    if x.shape[-1] != dim:
      raise ValueError(
        f"conditioned_quadratic: params must have {dim} coordinates, got "
        f"shape {x.shape}."
      )
    return 0.5 * jnp.sum(jnp.asarray(eigenvalues, x.dtype) * x**2, axis=-1)

  return NDLandscape(
    f"quadratic_kappa{condition_number:g}_d{dim}",
    fn,
    (-1.0, 1.0),
    0.0,
    0.0,
    dim,
    "a diagonal quadratic; its condition number is the largest eigenvalue",
  )


def get_nd(name: str) -> NDLandscape:
  """The N-D test function `name` (see `names_nd`)."""
  try:
    return _REGISTRY[name]
  except KeyError:
    raise KeyError(
      f"no N-D landscape {name!r}; known: {', '.join(names_nd())}."
    ) from None


def names_nd() -> tuple[str, ...]:
  """Names of the N-D test functions, sorted."""
  return tuple(sorted(_REGISTRY))
