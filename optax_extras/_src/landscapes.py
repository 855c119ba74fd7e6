"""A registry of 2-D test surfaces for the optimizer lab.

Each surface is a `Landscape`: a function ``f(x, y)`` written with `jax.numpy`
only (elementwise, broadcasting, differentiable with `jax.grad`), a default
start point, a plotting window and the known minima. The sweep engine calls
``fn`` on struct-of-arrays ``(x, y)``; plots call it on meshgrids; optimizers
call the landscape itself on a parameter array whose last axis holds (x, y).

  >>> from optax_extras import landscapes
  >>> surface = landscapes.get("booth")
  >>> surface.minima[0]
  Minimum(location=(1.0, 3.0), value=0.0, is_global=True)
  >>> float(surface([1.0, 3.0]))
  0.0

Eleven surfaces come from the optimizer tutorials whose figures the
project's gallery reproduces (wobbly, basins and walls, ripple, giant
plateau, hills and canyon, two minimums, the two saddles, quad, booth,
beale); the others are the classic benchmark set, after S. Surjanovic and
D. Bingham, *Virtual Library of Simulation Experiments: Test Functions and
Datasets* (https://www.sfu.ca/~ssurjano/), and M. Jamil and X.-S. Yang, "A
literature survey of benchmark functions for global optimization problems",
Int. J. Mathematical Modelling and Numerical Optimisation 4(2), 2013.
"""

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array
SurfaceFn = Callable[[jax.typing.ArrayLike, jax.typing.ArrayLike], Array]
Interval = tuple[float, float]


@dataclasses.dataclass(frozen=True)
class Minimum:
  """A known local or global minimum ``f(location) == value``."""

  location: tuple[float, float]
  value: float
  is_global: bool = True


@dataclasses.dataclass(frozen=True)
class Landscape:
  """A 2-D surface ``f(x, y)`` with a default start, a window and its minima.

  Attributes:
    name: registry key, snake_case.
    fn: ``f(x, y)``, elementwise and broadcasting, traceable by JAX.
    start: default start point of an optimizer path.
    bounds: ``((xmin, xmax), (ymin, ymax))``, the window drawn in plots.
    minima: known minima, global ones first; empty when there is none (saddles).
    source: where the surface comes from (a tutorial or a reference).
  """

  name: str
  fn: SurfaceFn
  start: tuple[float, float]
  bounds: tuple[Interval, Interval]
  minima: tuple[Minimum, ...] = ()
  source: str = ""

  def __post_init__(self):
    if not isinstance(self.name, str) or not self.name:
      raise ValueError(
        f"Landscape: `name` must be a non-empty string, got {self.name!r}."
      )
    if not callable(self.fn):
      raise TypeError(
        f"Landscape {self.name!r}: `fn` must be callable, got {self.fn!r}."
      )
    for axis, (low, high) in zip("xy", self.bounds):
      if not low < high:
        raise ValueError(
          f"Landscape {self.name!r}: {axis} bounds must satisfy low < high, "
          f"got {(low, high)}."
        )
    flags = [minimum.is_global for minimum in self.minima]
    if flags != sorted(flags, reverse=True):
      raise ValueError(
        f"Landscape {self.name!r}: global minima must come first in `minima`."
      )

  def __call__(self, params: jax.typing.ArrayLike) -> Array:
    """``fn(params[..., 0], params[..., 1])`` for params whose last axis has size 2."""
    params = jnp.asarray(params)
    if params.ndim == 0 or params.shape[-1] != 2:
      raise ValueError(
        f"Landscape {self.name!r}: params must have a last axis of size 2 "
        f"(x, y), got shape {params.shape}."
      )
    return self.fn(params[..., 0], params[..., 1])

  @property
  def global_minima(self) -> tuple[Minimum, ...]:
    """The minima flagged global (several for e.g. Himmelblau)."""
    return tuple(minimum for minimum in self.minima if minimum.is_global)


# --- The Habr article "Neural network optimization methods" ---------------


def _wobbly(x, y):
  """(x²+y²)/3 + |x| sqrt(|x|+0.1) + 3 sin(x+y) + 3 + 8 exp(-2((x+1)²+(y+2)²)).

  The |x| term has a kink on x = 0 (one-sided slopes ±sqrt(0.1)); JAX's
  derivative of `abs` there is 0, so gradients stay finite.
  """
  ax = jnp.abs(x)
  return (
    (x**2 + y**2) / 3
    + ax * jnp.sqrt(ax + 0.1)
    + 3 * jnp.sin(x + y)
    + 3
    + 8 * jnp.exp(-2 * ((x + 1) ** 2 + (y + 2) ** 2))
  )


def _basins_and_walls(x, y):
  """(x²+y²)/2 + sin(4x)²."""
  return (x**2 + y**2) / 2 + jnp.sin(4 * x) ** 2


def _ripple(x, y):
  """(x²+y²)/3 + (sin(20x)² + sin(20y)²)/15."""
  return (x**2 + y**2) / 3 + (jnp.sin(20 * x) ** 2 + jnp.sin(20 * y) ** 2) / 15


def _giant_plateau(x, y):
  """4 (1 - exp(-(x²+y²)))."""
  return 4 * (1 - jnp.exp(-(x**2 + y**2)))


def _hills_and_canyon(x, y):
  """(x²+y²)/3 + 3 exp(-((x+1)²+(y+2)²)) + exp(-1.5(2(x+2)²+(y-0.5)²))
  + 3 exp(-1.5((x-1)²+2(y+1.5)²)) + 1.5 exp(-((x+1.5)²+3(y+0.5)²))
  + 4 (1 - exp(-(x+y)²))."""
  return (
    (x**2 + y**2) / 3
    + 3 * jnp.exp(-((x + 1) ** 2 + (y + 2) ** 2))
    + jnp.exp(-1.5 * (2 * (x + 2) ** 2 + (y - 0.5) ** 2))
    + 3 * jnp.exp(-1.5 * ((x - 1) ** 2 + 2 * (y + 1.5) ** 2))
    + 1.5 * jnp.exp(-((x + 1.5) ** 2 + 3 * (y + 0.5) ** 2))
    + 4 * (1 - jnp.exp(-((x + y) ** 2)))
  )


def _two_minimums(x, y):
  """4 - 0.5 exp(-((x+2.5)²+(y+2.5)²)) - 3 exp(-(x²+y²)) (the seed's "Bad_init")."""
  return (
    4
    - 0.5 * jnp.exp(-((x + 2.5) ** 2 + (y + 2.5) ** 2))
    - 3 * jnp.exp(-(x**2 + y**2))
  )


# --- The DL Notes post and the TF1 notebook (README: Sources) ---------------


def _saddle(x, y):
  """x² - y²."""
  return x**2 - y**2


def _quad(x, y):
  """x² + 4y²."""
  return x**2 + 4 * y**2


def _booth(x, y):
  """(x + 2y - 7)² + (2x + y - 5)²."""
  return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def _hyperbolic_saddle(x, y):
  """y² - x²."""
  return y**2 - x**2


def _beale(x, y):
  """(1.5 - x + xy)² + (2.25 - x + xy²)² + (2.625 - x + xy³)²."""
  return (
    (1.5 - x + x * y) ** 2
    + (2.25 - x + x * y**2) ** 2
    + (2.625 - x + x * y**3) ** 2
  )


# --- Classic benchmarks ---------------------------------------------------------


def _rosenbrock(x, y):
  """(1 - x)² + 100 (y - x²)²."""
  return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _himmelblau(x, y):
  """(x² + y - 11)² + (x + y² - 7)²."""
  return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def _rastrigin(x, y):
  """20 + x² - 10 cos(2πx) + y² - 10 cos(2πy)."""
  return (
    20
    + x**2
    - 10 * jnp.cos(2 * math.pi * x)
    + y**2
    - 10 * jnp.cos(2 * math.pi * y)
  )


def _ackley(x, y):
  """-20 exp(-0.2 sqrt((x²+y²)/2)) - exp((cos 2πx + cos 2πy)/2) + 20 + e."""
  # The surface is a cone at its minimum (0, 0): sqrt'(0) is infinite, and
  # jax.grad of a plain sqrt gives NaN there (inf * 0). A "double where" takes
  # the root only of positive arguments, so the value is unchanged, the
  # gradient away from 0 is exact, and at exactly 0 the gradient is 0 (a
  # subgradient of the cone, which lets optimizers rest at the minimum).
  squared_radius = (x**2 + y**2) / 2
  positive = squared_radius > 0
  radius = jnp.where(
    positive, jnp.sqrt(jnp.where(positive, squared_radius, 1.0)), 0.0
  )
  return (
    -20 * jnp.exp(-0.2 * radius)
    - jnp.exp((jnp.cos(2 * math.pi * x) + jnp.cos(2 * math.pi * y)) / 2)
    + 20
    + math.e
  )


def _matyas(x, y):
  """0.26 (x² + y²) - 0.48 xy."""
  return 0.26 * (x**2 + y**2) - 0.48 * x * y


def _three_hump_camel(x, y):
  """2x² - 1.05x⁴ + x⁶/6 + xy + y²."""
  return 2 * x**2 - 1.05 * x**4 + x**6 / 6 + x * y + y**2


def _six_hump_camel(x, y):
  """(4 - 2.1x² + x⁴/3) x² + xy + (-4 + 4y²) y²."""
  return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2


def _styblinski_tang(x, y):
  """(x⁴ - 16x² + 5x + y⁴ - 16y² + 5y) / 2."""
  return (x**4 - 16 * x**2 + 5 * x + y**4 - 16 * y**2 + 5 * y) / 2


def _goldstein_price(x, y):
  """[1 + (x+y+1)² (19 - 14x + 3x² - 14y + 6xy + 3y²)]
  × [30 + (2x-3y)² (18 - 32x + 12x² + 48y - 36xy + 27y²)]."""
  return (
    1
    + (x + y + 1) ** 2
    * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
  ) * (
    30
    + (2 * x - 3 * y) ** 2
    * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
  )


def _levi_n13(x, y):
  """sin²(3πx) + (x-1)² (1 + sin²(3πy)) + (y-1)² (1 + sin²(2πy))."""
  return (
    jnp.sin(3 * math.pi * x) ** 2
    + (x - 1) ** 2 * (1 + jnp.sin(3 * math.pi * y) ** 2)
    + (y - 1) ** 2 * (1 + jnp.sin(2 * math.pi * y) ** 2)
  )


# --- The table ----------------------------------------------------------------
#
# Minima written with many digits were found numerically in float64: a scan of
# a 601x601 grid over the bounds for discrete local minima, scipy BFGS from each
# (gtol 1e-13), then Newton steps with the exact JAX Hessian until the gradient
# was below 1e-15 (scratch script, not part of the library). Himmelblau's,
# the six-hump camel's and Styblinski-Tang's were checked against Newton's
# method in 50-digit decimal arithmetic and are the correctly rounded floats.

_HABR = (
  "the Habr article 'Neural network optimization methods' (Theano and "
  "Lasagne code)"
)
_HABR_START = (-2.8, -2.5)
_HABR_BOUNDS = ((-3.0, 3.0), (-3.0, 3.0))
_TF1 = "the TF1 notebook: a Jupyter notebook of TensorFlow 1 optimizer paths"
_VLSE = "Surjanovic & Bingham, Virtual Library of Simulation Experiments"


def _local(location: tuple[float, float], value: float) -> Minimum:
  return Minimum(location, value, is_global=False)


_BUILTIN: tuple[Landscape, ...] = (
  # The Habr article.
  Landscape(
    "wobbly",
    _wobbly,
    _HABR_START,
    _HABR_BOUNDS,
    (Minimum((-0.17242094376299916, -0.9063018409018629), 0.9155064452470827),),
    _HABR,
  ),
  Landscape(
    "basins_and_walls",
    _basins_and_walls,
    _HABR_START,
    _HABR_BOUNDS,
    (
      Minimum((0.0, 0.0), 0.0),
      _local((-0.76145653227215, 0.0), 0.2990512496110009),
      _local((0.76145653227215, 0.0), 0.2990512496110009),
      _local((-1.5220040759402682, 0.0), 1.195857953218746),
      _local((1.5220040759402682, 0.0), 1.195857953218746),
      _local((-2.28036728849271, 0.0), 2.6892469928858116),
      _local((2.28036728849271, 0.0), 2.6892469928858116),
    ),
    _HABR,
  ),
  Landscape(
    "ripple",
    _ripple,
    _HABR_START,
    _HABR_BOUNDS,
    (Minimum((0.0, 0.0), 0.0),),
    _HABR + " (defined there, not drawn)",
  ),
  Landscape(
    "giant_plateau",
    _giant_plateau,
    _HABR_START,
    _HABR_BOUNDS,
    (Minimum((0.0, 0.0), 0.0),),
    _HABR,
  ),
  Landscape(
    "hills_and_canyon",
    _hills_and_canyon,
    _HABR_START,
    _HABR_BOUNDS,
    (
      Minimum(
        (-0.040419446910662384, 0.07197372849804833), 0.08971671292158583
      ),
      _local((1.9291459356955831, -1.9214576920479252), 2.9542752011752342),
      _local((-2.0341939933736306, -1.0818787630063285), 6.644054939208323),
    ),
    _HABR,
  ),
  Landscape(
    "two_minimums",
    _two_minimums,
    _HABR_START,
    _HABR_BOUNDS,
    # The far Gaussian pulls each minimum slightly off its centre.
    (
      Minimum(
        (-1.5527953021231566e-06, -1.5527953021231566e-06), 0.999998136658947
      ),
      _local((-2.499944070180304, -2.499944070180304), 3.4999888169140183),
    ),
    _HABR + ' ("Bad_init")',
  ),
  # The DL Notes post: its start and window are not in the text; our choice.
  # (Its "local and global minimum" surface has no formula there.)
  Landscape(
    "saddle",
    _saddle,
    (-1.5, 1e-3),
    ((-2.0, 2.0), (-2.0, 2.0)),
    (),
    "the DL Notes post 'DL Notes: Advanced Gradient Descent' (makerluis.com, "
    "2023; NumPy code)",
  ),
  # The TF1 notebook; the window is its default (-4.5, 4.5) unless it set one.
  Landscape(
    "quad",
    _quad,
    (-4.0, 4.0),
    ((-4.5, 4.5), (-4.5, 4.5)),
    (Minimum((0.0, 0.0), 0.0),),
    _TF1,
  ),
  Landscape(
    "booth",
    _booth,
    (1.0, -2.0),
    ((-3.0, 6.0), (-3.0, 6.0)),
    (Minimum((1.0, 3.0), 0.0),),
    _TF1 + "; " + _VLSE,
  ),
  Landscape(
    "hyperbolic_saddle",
    _hyperbolic_saddle,
    (0.0001, 3.0),
    ((-4.0, 4.0), (-4.0, 4.0)),
    (),
    _TF1,
  ),
  Landscape(
    "beale",
    _beale,
    (1.5, 2.0),
    ((-4.5, 4.5), (-4.5, 4.5)),
    (Minimum((3.0, 0.5), 0.0),),
    _TF1 + "; " + _VLSE,
  ),
  # Classic benchmarks: bounds are the usual domain, or a plotting window
  # where the usual domain is too large to see anything (noted).
  Landscape(
    "rosenbrock",
    _rosenbrock,
    (-1.2, 1.0),
    ((-2.0, 2.0), (-1.0, 3.0)),
    (Minimum((1.0, 1.0), 0.0),),
    "Rosenbrock (1960), a=1, b=100, classic start (-1.2, 1); " + _VLSE,
  ),
  Landscape(
    "himmelblau",
    _himmelblau,
    (0.0, 0.0),
    ((-5.0, 5.0), (-5.0, 5.0)),
    (
      Minimum((3.0, 2.0), 0.0),
      Minimum((-2.805118086952745, 3.131312518250573), 0.0),
      Minimum((-3.779310253377747, -3.2831859912861696), 0.0),
      Minimum((3.5844283403304917, -1.8481265269644036), 0.0),
    ),
    "Himmelblau, Applied Nonlinear Programming (1972); Jamil & Yang (2013)",
  ),
  Landscape(
    "rastrigin",
    _rastrigin,
    (-4.3, 3.7),
    ((-5.12, 5.12), (-5.12, 5.12)),
    (Minimum((0.0, 0.0), 0.0),),
    "Rastrigin (1974), A=10; " + _VLSE,
  ),
  Landscape(
    "ackley",
    _ackley,
    (-4.2, 3.3),
    ((-5.0, 5.0), (-5.0, 5.0)),
    (Minimum((0.0, 0.0), 0.0),),
    "Ackley (1987), a=20, b=0.2, c=2π; "
    + _VLSE
    + " (usual domain ±32.768; window ±5)",
  ),
  Landscape(
    "matyas",
    _matyas,
    (-8.0, 6.0),
    ((-10.0, 10.0), (-10.0, 10.0)),
    (Minimum((0.0, 0.0), 0.0),),
    _VLSE,
  ),
  Landscape(
    "three_hump_camel",
    _three_hump_camel,
    (-1.5, 1.5),
    ((-2.0, 2.0), (-2.0, 2.0)),
    (Minimum((0.0, 0.0), 0.0),),
    _VLSE + " (usual domain ±5; window ±2)",
  ),
  Landscape(
    "six_hump_camel",
    _six_hump_camel,
    (-1.5, -0.8),
    ((-2.0, 2.0), (-1.0, 1.0)),
    (
      Minimum((0.08984201310031806, -0.7126564030207396), -1.0316284534898774),
      Minimum((-0.08984201310031806, 0.7126564030207396), -1.0316284534898774),
    ),
    _VLSE + " (usual domain x ±3, y ±2; window x ±2, y ±1)",
  ),
  Landscape(
    "styblinski_tang",
    _styblinski_tang,
    (4.5, 4.0),
    ((-5.0, 5.0), (-5.0, 5.0)),
    (Minimum((-2.903534027771177, -2.903534027771177), -78.33233140754282),),
    "Styblinski & Tang (1990); " + _VLSE,
  ),
  Landscape(
    "goldstein_price",
    _goldstein_price,
    (-1.5, 1.5),
    ((-2.0, 2.0), (-2.0, 2.0)),
    (Minimum((0.0, -1.0), 3.0),),
    "Goldstein & Price (1971); " + _VLSE,
  ),
  Landscape(
    "levi_n13",
    _levi_n13,
    (-7.5, 8.2),
    ((-10.0, 10.0), (-10.0, 10.0)),
    (Minimum((1.0, 1.0), 0.0),),
    _VLSE + ' ("Levy function N. 13"); Jamil & Yang (2013)',
  ),
)

_REGISTRY: dict[str, Landscape] = {}


def register(landscape: Landscape, *, overwrite: bool = False) -> Landscape:
  """Adds `landscape` under its name and returns it.

  Raises:
    TypeError: if `landscape` is not a `Landscape`.
    ValueError: if the name is taken and `overwrite` is False.
  """
  if not isinstance(landscape, Landscape):
    raise TypeError(
      f"register: expected a Landscape, got {type(landscape).__name__}."
    )
  if landscape.name in _REGISTRY and not overwrite:
    raise ValueError(
      f"register: a landscape named {landscape.name!r} already exists; "
      "pass overwrite=True to replace it."
    )
  _REGISTRY[landscape.name] = landscape
  return landscape


def get(name: str) -> Landscape:
  """The landscape registered as `name`; a KeyError lists the known names."""
  try:
    return _REGISTRY[name]
  except KeyError:
    raise KeyError(
      f"unknown landscape {name!r}; known: {', '.join(names())}."
    ) from None


def names() -> tuple[str, ...]:
  """The registered names, sorted."""
  return tuple(sorted(_REGISTRY))


for _landscape in _BUILTIN:
  register(_landscape)
del _landscape
