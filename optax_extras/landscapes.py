"""2-D test surfaces for optimizers: `get`, `names`, `register`.

Each `Landscape` is a loss ``fn(x, y)`` on the plane, written with
``jax.numpy`` (elementwise, broadcasting, differentiable with ``jax.grad``),
with a default start point, a plotting window, its known minima (global ones
first) and its source. Called on an array whose last axis holds ``(x, y)``,
it returns the loss, so it serves directly as an optimizer's objective.

  >>> import jax.numpy as jnp
  >>> from optax_extras import landscapes
  >>> surface = landscapes.get("himmelblau")
  >>> len(surface.global_minima)
  4
  >>> float(surface(jnp.array([3.0, 2.0])))
  0.0

The classic surfaces (Rosenbrock, Himmelblau, Rastrigin, Ackley, ...) follow
S. Surjanovic and D. Bingham, *Virtual Library of Simulation Experiments:
Test Functions and Datasets* (https://www.sfu.ca/~ssurjano/), and M. Jamil
and X.-S. Yang, "A literature survey of benchmark functions for global
optimization problems", Int. J. Mathematical Modelling and Numerical
Optimisation 4(2), 2013.

Beside them, N-dimensional test functions with published minima for any
dimension d (`get_nd`, `names_nd`, `conditioned_quadratic`): each is a loss
of a vector ``(d,)``, for sweeps with starts ``(..., d)``.
"""

from optax_extras._src.landscapes import (
  Landscape,
  Minimum,
  get,
  names,
  register,
)
from optax_extras._src.landscapes_nd import (
  NDLandscape,
  conditioned_quadratic,
  get_nd,
  names_nd,
)

__all__ = (
  "Landscape",
  "Minimum",
  "NDLandscape",
  "conditioned_quadratic",
  "get",
  "get_nd",
  "names",
  "names_nd",
  "register",
)
