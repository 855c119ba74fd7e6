""" "Copy as Python": the `optax_extras.sweep` call that reproduces a view.

Written from registry text (an optimizer's `code`, a landscape's name as a
Python literal, a ``--register`` spec already checked to be
``module.path:function``) and checked numbers (``repr`` of a float is exact),
so running it gives the numbers the explorer drew (tests/test_explore.py
runs them).
"""

from collections.abc import Mapping
from typing import Any

from experiments.explore.optimizers import Optimizer

_IMPORTS = (
  "import numpy as np\n"
  "import optax\n"
  "import optax_extras\n"
  "from optax_extras import landscapes\n"
)


def _imports(optimizer: Optimizer) -> str:
  """The imports, with the module of the optimizer's code if it has one."""
  module = f"import {optimizer.module}\n" if optimizer.module else ""
  return _IMPORTS.replace("from optax_extras", module + "from optax_extras")


def _registration(spec: str | None) -> str:
  """The lines that register a landscape given with ``--register``."""
  if spec is None:
    return ""
  module, function = spec.split(":")
  return (
    f"import {module}\n\n"
    f"made = {module}.{function}()  # As `--register {spec}` did.\n"
    "for surface in [made] if isinstance(made, landscapes.Landscape) else "
    "made or ():\n"
    "  landscapes.register(surface, overwrite=True)\n"
  )


def _axis(values: Any) -> str:
  """A grid axis: the values as given (a list, or a range), in float32."""
  if isinstance(values, Mapping):
    spread = "geomspace" if values["log"] else "linspace"
    return (
      f"np.{spread}({values['from']!r}, {values['to']!r}, "
      f"{values['count']!r}).astype(np.float32)"
    )
  return f"np.array({[float(v) for v in values]!r}, np.float32)"


def _grid(given: Mapping[str, Any]) -> str:
  lines = "".join(
    f"    {name!r}: {_axis(values)},\n" for name, values in given.items()
  )
  return "  grid={\n" + lines + "  },\n" if lines else ""


def paths_code(
  landscape: str,
  optimizer: Optimizer,
  given: Mapping[str, Any],
  starts: list[list[float]],
  num_steps: int,
  record_every: int,
  register: str | None,
) -> str:
  """The sweep that gives a paths view's trajectories."""
  axes = ", ".join([*given, "start", "point", "(x, y)"])
  return (
    _imports(optimizer)
    + "\n"
    + _registration(register)
    + ("\n" if register else "")
    + "result = optax_extras.sweep(\n"
    + f"  {optimizer.code},\n"
    + f"  landscapes.get({landscape!r}),\n"
    + _grid(given)
    + f"  starts=np.array({starts!r}, np.float32),\n"
    + f"  num_steps={num_steps},\n"
    + f"  record_every={record_every},\n"
    + ")\n"
    + f"paths = result.trajectories  # [{axes}]\n"
  )


def basins_code(
  landscape: str,
  optimizer: Optimizer,
  hyperparams: Mapping[str, float],
  bounds: tuple[tuple[float, float], tuple[float, float]],
  resolution: int,
  num_steps: int,
  register: str | None,
) -> str:
  """The sweep that gives a basin map, and its labels."""
  (x0, x1), (y0, y1) = bounds
  n = resolution
  given = {name: [value] for name, value in hyperparams.items()}
  return (
    _imports(optimizer)
    + "\n"
    + _registration(register)
    + ("\n" if register else "")
    + f"surface = landscapes.get({landscape!r})\n"
    + f"xs = np.linspace({x0!r}, {x1!r}, {n})\n"
    + f"ys = np.linspace({y0!r}, {y1!r}, {n})\n"
    + "starts = np.stack(np.meshgrid(xs, ys), axis=-1).astype(np.float32)\n"
    + "result = optax_extras.sweep(\n"
    + f"  {optimizer.code},\n"
    + "  surface,\n"
    + _grid(given)
    + "  starts=starts,\n"
    + f"  num_steps={num_steps},\n"
    + ")\n"
    + "# Which known minimum each start ends within 0.1 of; -1 none, "
    + "-2 diverged.\n"
    + f"final = result.final_params.reshape({n}, {n}, 2)\n"
    + f"labels = np.full(({n}, {n}), -1)\n"
    + "if surface.minima:\n"
    + "  minima = np.array([m.location for m in surface.minima])\n"
    + "  distance = np.linalg.norm(final[..., None, :] - minima, axis=-1)\n"
    + "  labels = np.where(distance.min(-1) < 0.1, distance.argmin(-1), -1)\n"
    + f"labels = np.where(result.diverged.reshape({n}, {n}), -2, labels)\n"
  )
