"""Test surfaces for optimizers: ``get(name)``, ``names()``, ``register(...)``.

Each `Landscape` is a loss ``fn(x, y)`` on the plane, with plot bounds, start
points, its known minima and their sources.
"""

from optax_extras._src.landscapes import (
  Landscape,
  Minimum,
  get,
  names,
  register,
)

__all__ = ("Landscape", "Minimum", "get", "names", "register")
