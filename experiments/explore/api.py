"""The explorer's JSON API: requests checked field by field, then computed.

Each handler takes the decoded JSON body (or the query) and returns a
JSON-ready dict, or raises `BadRequest` naming the field at fault. Nothing a
client sends is evaluated: names are looked up in the registries, numbers
are checked to be finite numbers in their range, and the Python that "copy
as Python" shows is written from registry text and checked numbers.

Paths, fans and basin maps are `optax_extras.sweep` calls, as "copy as
Python" shows them. Their functions are the registries' own objects (an
optimizer's ``make``, a landscape), never made per request, so jit's cache
serves every request of the same shape from one compiled program: a new
slider value is a new grid value, and a new step count a runtime value (the
records of up to about 100 paths are sized for `MAX_STEPS`: `_max_steps`).
Another shape (another number of lanes, as a power of two) compiles once.
"""

import functools
import math
import re
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from experiments.explore import optimizers as registry
from experiments.explore import snippets
from optax_extras import landscapes, sweep

MAX_STEPS = 10_000
MAX_LANES = 100_000
MAX_POINTS = 2**20  # Points of paths in one answer (lanes × records).
MAX_RESOLUTION = 256  # Basin maps: starts per axis.
MAX_SURFACE = 512  # Surface grids: points per axis.
MAX_COORDINATE = 1e30  # Starts and bounds: finite in float32.
MAX_BODY = 1_000_000  # Bytes of a request body.
DEFAULT_RESOLUTION = 128
# Recorded rows (lanes × rows) a sweep's records may hold when sized for
# MAX_STEPS: 12 MB of 2-D points and losses in float32, about 100 paths,
# which cost a few ms more than records sized for their steps (300 paths
# sized for MAX_STEPS took 72 ms instead of 9). Larger requests size them
# for fewer steps (`_max_steps`).
MAX_RECORDS = 2**20


class BadRequest(ValueError):
  """A request the API refuses: HTTP 400 with ``{"error", "field"}``."""

  def __init__(self, field: str, problem: str):
    super().__init__(f"{field}: {problem}")
    self.field = field


def limits() -> dict[str, float]:
  """Every limit the API applies to a request (the server adds its own)."""
  return {
    "num_steps": MAX_STEPS,
    "lanes": MAX_LANES,
    "points": MAX_POINTS,
    "resolution": MAX_RESOLUTION,
    "surface_resolution": MAX_SURFACE,
    "coordinate": MAX_COORDINATE,
    "body_bytes": MAX_BODY,
  }


_DIGITS = re.compile(r"[0-9]+", re.ASCII)  # Not "²": str.isdigit takes it.

# --- Fields ---------------------------------------------------------------


def _is_number(value: Any) -> bool:
  return isinstance(value, int | float) and not isinstance(value, bool)


def _number(field: str, value: Any, low=-math.inf, high=math.inf) -> float:
  """A finite float in [low, high]; the message states the range."""
  limit = f"a number in [{low}, {high}]"
  if not _is_number(value):
    raise BadRequest(field, f"must be {limit}, got {_shown(value)}")
  try:
    number = float(value)
  except OverflowError:  # An int beyond a float's range (10**400).
    number = math.inf if value > 0 else -math.inf
  if not math.isfinite(number) or not low <= number <= high:
    raise BadRequest(field, f"must be {limit}, got {_shown(value)}")
  return number


def _integer(field: str, value: Any, low: int, high: int) -> int:
  """An int in [low, high] (not a bool); the message states the range."""
  limit = f"an integer in [{low}, {high}]"
  if isinstance(value, bool) or not isinstance(value, int):
    raise BadRequest(field, f"must be {limit}, got {_shown(value)}")
  if not low <= value <= high:
    bound = f"at most {high}" if value > high else f"at least {low}"
    raise BadRequest(field, f"must be {bound} ({limit}), got {_shown(value)}")
  return value


def _shown(value: Any) -> str:
  if isinstance(value, int) and abs(value) >= 10**30:
    return f"an integer of {len(str(abs(value)))} digits"
  text = repr(value)
  return text if len(text) <= 40 else text[:37] + "..."


def _object(body: Any) -> Mapping[str, Any]:
  if not isinstance(body, dict):
    raise BadRequest("body", "must be a JSON object")
  return body


def _fields(
  body: Mapping[str, Any], required: set[str], optional: set[str]
) -> None:
  unknown = sorted(set(body) - required - optional)
  if unknown:
    raise BadRequest(unknown[0], "unknown field")
  missing = sorted(required - set(body))
  if missing:
    raise BadRequest(missing[0], "missing")


def _landscape(value: Any) -> landscapes.Landscape:
  if not isinstance(value, str) or value not in landscapes.names():
    raise BadRequest("landscape", f"unknown landscape {_shown(value)}")
  return landscapes.get(value)


def _optimizer(value: Any) -> registry.Optimizer:
  if not isinstance(value, str) or value not in registry.names():
    raise BadRequest("optimizer", f"unknown optimizer {_shown(value)}")
  return registry.get(value)


def _values(field: str, spec: registry.Hyperparameter, value: Any):
  """A hyperparameter's values: a number, a list of numbers, or a range
  ``{"from", "to", "count", "log"}`` (evenly spaced, geometric if log)."""
  low, high = spec.low, spec.high
  if _is_number(value):
    return [_number(field, value, low, high)], None
  if isinstance(value, list):
    if not 1 <= len(value) <= MAX_LANES:
      raise BadRequest(field, f"must hold 1 to {MAX_LANES} numbers")
    return [
      _number(f"{field}[{i}]", v, low, high) for i, v in enumerate(value)
    ], None
  if isinstance(value, dict):
    unknown = sorted(set(value) - {"from", "to", "count", "log"})
    if unknown:
      raise BadRequest(f"{field}.{unknown[0]}", "unknown field")
    for key in ("from", "to", "count"):
      if key not in value:
        raise BadRequest(f"{field}.{key}", "missing")
    first = _number(f"{field}.from", value["from"], low, high)
    last = _number(f"{field}.to", value["to"], low, high)
    count = _integer(f"{field}.count", value["count"], 1, MAX_LANES)
    log = value.get("log", False)
    if not isinstance(log, bool):
      raise BadRequest(f"{field}.log", "must be true or false")
    if log and (first <= 0 or last <= 0):
      raise BadRequest(f"{field}.from", "a log range needs from, to > 0")
    spread = np.geomspace if log else np.linspace
    values = spread(first, last, count).tolist()
    return values, {"from": first, "to": last, "count": count, "log": log}
  raise BadRequest(
    field,
    f"must be a number in [{low}, {high}], a list or a range of them, "
    f"got {_shown(value)}",
  )


def _grid(
  optimizer: registry.Optimizer, value: Any, *, lists: bool
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
  """Every hyperparameter of `optimizer` as a float32 axis (defaults for the
  missing ones), in the optimizer's order, and how each was given."""
  if value is None:
    value = {}
  if not isinstance(value, dict):
    raise BadRequest("hyperparams", "must be an object name -> value")
  named = {}  # Old names (a preset's own: torch's `lr`) as optax's.
  for name in value:
    spec = optimizer.hyperparameter(name)
    if spec is None:
      known = ", ".join(h.name for h in optimizer.hyperparameters)
      raise BadRequest(
        f"hyperparams.{name}",
        f"not a hyperparameter of {optimizer.name} (it has {known or 'none'})",
      )
    if spec.name in named:
      raise BadRequest(
        f"hyperparams.{name}", f"given twice, also as {named[spec.name]}"
      )
    named[spec.name] = name
  value = {spec: value[name] for spec, name in named.items()}
  grid, given = {}, {}
  for spec in optimizer.hyperparameters:
    field = f"hyperparams.{spec.name}"
    chosen = value.get(spec.name, spec.default)
    if not lists and not _is_number(chosen):
      raise BadRequest(field, "a basin map takes one number per hyperparameter")
    values, spread = _values(field, spec, chosen)
    grid[spec.name] = np.asarray(values, np.float64).astype(np.float32)
    given[spec.name] = spread if spread is not None else values
  return grid, given


def _check_builds(
  optimizer: registry.Optimizer, grid: Mapping[str, np.ndarray]
) -> None:
  """`optimizer.make` accepts every value (each axis with the others at
  their first value), as `sweep` checks, named if refused."""
  first = {name: float(values[0]) for name, values in grid.items()}
  try:
    optimizer.make(**first)
  except Exception as error:
    raise BadRequest(
      "hyperparams", f"{optimizer.name} refused: {error}"
    ) from error
  for name, values in grid.items():
    if len(values) == 1:
      continue
    try:
      optimizer.make(**{**first, name: values})
      continue
    except Exception:
      pass
    for value in np.unique(values):
      try:
        optimizer.make(**{**first, name: float(value)})
      except Exception as error:
        raise BadRequest(
          f"hyperparams.{name}", f"{optimizer.name} refused {value}: {error}"
        ) from error


def _starts(value: Any) -> tuple[np.ndarray, list[list[float]]]:
  """The starts in float32, and as given (for the settings and snippet)."""
  if not isinstance(value, list) or not 1 <= len(value) <= MAX_LANES:
    raise BadRequest("starts", f"must be a list of 1 to {MAX_LANES} [x, y]")
  for i, point in enumerate(value):
    if not isinstance(point, list) or len(point) != 2:
      raise BadRequest(f"starts[{i}]", f"must be [x, y], got {_shown(point)}")
    for axis, coordinate in zip("xy", point):
      _number(
        f"starts[{i}].{axis}", coordinate, -MAX_COORDINATE, MAX_COORDINATE
      )
  return np.asarray(value, np.float64).astype(np.float32), [
    [float(x), float(y)] for x, y in value
  ]


def _bounds(value: Any, landscape: landscapes.Landscape):
  if value is None:
    return tuple(tuple(float(v) for v in axis) for axis in landscape.bounds)
  if not isinstance(value, list) or len(value) != 2:
    raise BadRequest("bounds", "must be [[xmin, xmax], [ymin, ymax]]")
  bounds = []
  for axis, pair in zip("xy", value):
    field = f"bounds.{axis}"
    if not isinstance(pair, list) or len(pair) != 2:
      raise BadRequest(field, "must be [min, max]")
    low, high = (
      _number(field, v, -MAX_COORDINATE, MAX_COORDINATE) for v in pair
    )
    if not low < high:
      raise BadRequest(field, f"must have min < max, got {[low, high]}")
    bounds.append((low, high))
  return tuple(bounds)


def _json_floats(array: np.ndarray) -> list:
  """Nested lists of floats, non-finite values as null (JSON has no NaN)."""
  array = np.asarray(array, np.float64)
  if np.isfinite(array).all():
    return array.tolist()
  return np.where(np.isfinite(array), array, None).tolist()


# --- Computing -----------------------------------------------------------


def _max_steps(num_lanes: int, num_steps: int, record_every: int) -> int:
  """The steps a sweep's records are sized for: `MAX_STEPS`, so that every
  step count shares one compiled program, unless so many records would pass
  `MAX_RECORDS` (more than about 100 paths); then the power of two at or
  above `num_steps` (a program per power of two), or `num_steps` itself."""
  for steps in (MAX_STEPS, min(MAX_STEPS, 1 << (num_steps - 1).bit_length())):
    if num_lanes * (steps // record_every + 2) <= MAX_RECORDS:
      return steps
  return num_steps


def basin_starts(
  bounds: tuple[tuple[float, float], tuple[float, float]], resolution: int
) -> np.ndarray:
  """``[resolution, resolution, 2]`` float32 starts: row i is y = ys[i]."""
  (x0, x1), (y0, y1) = bounds
  xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
  return np.stack(np.meshgrid(xs, ys), axis=-1).astype(np.float32)


def _basins(
  landscape: landscapes.Landscape,
  optimizer: registry.Optimizer,
  grid: Mapping[str, np.ndarray],
  bounds: tuple[tuple[float, float], tuple[float, float]],
  resolution: int,
  num_steps: int,
) -> dict[str, np.ndarray]:
  """Where each start of a grid ends, by one sweep of the setting `grid`
  (one value per hyperparameter): ``labels`` ``[resolution, resolution]``,
  the index of the known minimum the run ends within 0.1 of, -1 none, -2
  diverged (as the gallery's basin maps); and each start's final loss."""
  result = sweep(
    optimizer.make,
    landscape,
    grid=grid,
    starts=basin_starts(bounds, resolution),
    num_steps=num_steps,
    progress=False,
  )
  lead = (resolution, resolution)
  final_params = result.final_params.reshape(lead + (2,))
  labels = np.full(lead, -1, np.int32)
  if landscape.minima:
    minima = np.array([m.location for m in landscape.minima])
    distance = np.linalg.norm(final_params[..., None, :] - minima, axis=-1)
    labels = np.where(distance.min(-1) < 0.1, distance.argmin(-1), -1)
  labels = np.where(result.diverged.reshape(lead), -2, labels)
  return {
    "labels": labels.astype(np.int32),
    "final_loss": result.final_loss.reshape(lead),
  }


@functools.partial(jax.jit, static_argnums=0)
def _surface_values(landscape: landscapes.Landscape, x, y) -> jax.Array:
  """The losses on a grid of points (a landscape is hashed by value)."""
  return landscape.fn(x, y)


# --- Endpoints ------------------------------------------------------------


def options(
  registered: Mapping[str, str], applied: Mapping[str, float] | None = None
) -> dict[str, Any]:
  """GET /api/options: every landscape and optimizer, and the limits
  `applied` (by default the API's own, `limits`)."""
  surfaces = {}
  for name in landscapes.names():
    surface = landscapes.get(name)
    surfaces[name] = {
      "bounds": [list(axis) for axis in surface.bounds],
      "start": list(surface.start),
      "minima": [list(m.location) for m in surface.minima],
      "source": surface.source or registered.get(name, ""),
    }
  return {
    "landscapes": list(landscapes.names()),
    "surfaces": surfaces,
    "optimizers": [registry.get(n).to_json() for n in registry.names()],
    "limits": dict(applied if applied is not None else limits()),
  }


def paths(body: Any, registered: Mapping[str, str]) -> dict[str, Any]:
  """POST /api/paths: the trajectory of every setting × start."""
  body = _object(body)
  _fields(
    body,
    {"landscape", "optimizer", "starts", "num_steps"},
    {"hyperparams", "record_every"},
  )
  landscape = _landscape(body["landscape"])
  optimizer = _optimizer(body["optimizer"])
  grid, given = _grid(optimizer, body.get("hyperparams"), lists=True)
  num_steps = _integer("num_steps", body["num_steps"], 1, MAX_STEPS)
  starts, starts_given = _starts(body["starts"])
  grid_shape = [len(v) for v in grid.values()]
  num_lanes = math.prod(grid_shape) * len(starts)
  if num_lanes > MAX_LANES:
    raise BadRequest(
      "starts",
      f"{num_lanes} paths (settings × starts) exceed the limit {MAX_LANES}",
    )
  record_every = body.get("record_every")
  if record_every is None:  # Every step, or as few as fit in MAX_POINTS.
    record_every = 1
    while num_lanes * (num_steps // record_every + 1) > MAX_POINTS:
      record_every += max(1, record_every // 4)
  else:
    record_every = _integer("record_every", record_every, 1, num_steps)
    points = num_lanes * (num_steps // record_every + 1)
    if points > MAX_POINTS:
      raise BadRequest(
        "record_every",
        f"{points} points exceed the limit {MAX_POINTS}; record less often",
      )
  _check_builds(optimizer, grid)
  result = sweep(
    optimizer.make,
    landscape,
    grid=grid,
    starts=starts,
    num_steps=num_steps,
    record_every=record_every,
    max_steps=_max_steps(num_lanes, num_steps, record_every),
    progress=False,
  )
  lanes = num_lanes
  settings = {
    "landscape": landscape.name,
    "optimizer": optimizer.name,
    "hyperparams": given,
    "starts": starts_given,
    "num_steps": num_steps,
    "record_every": record_every,
  }
  return {
    "paths": _json_floats(result.trajectories.reshape(lanes, -1, 2)),
    "losses": _json_floats(result.trajectory_loss.reshape(lanes, -1)),
    "final_loss": _json_floats(result.final_loss.reshape(lanes)),
    "divergence_step": result.divergence_step.reshape(lanes).tolist(),
    "grid": {name: _json_floats(v) for name, v in grid.items()},
    "grid_shape": grid_shape,
    "record_every": record_every,
    "settings": settings,
    "python": snippets.paths_code(
      landscape.name,
      optimizer,
      given,
      starts_given,
      num_steps,
      record_every,
      registered.get(landscape.name),
    ),
  }


def basins(body: Any, registered: Mapping[str, str]) -> dict[str, Any]:
  """POST /api/basins: which minimum each start of a grid reaches."""
  body = _object(body)
  _fields(
    body,
    {"landscape", "optimizer", "num_steps"},
    {"hyperparams", "resolution", "bounds"},
  )
  landscape = _landscape(body["landscape"])
  optimizer = _optimizer(body["optimizer"])
  grid, given = _grid(optimizer, body.get("hyperparams"), lists=False)
  num_steps = _integer("num_steps", body["num_steps"], 1, MAX_STEPS)
  resolution = _integer(
    "resolution",
    body.get("resolution", DEFAULT_RESOLUTION),
    2,
    MAX_RESOLUTION,
  )
  bounds = _bounds(body.get("bounds"), landscape)
  _check_builds(optimizer, grid)
  result = _basins(landscape, optimizer, grid, bounds, resolution, num_steps)
  settings = {
    "landscape": landscape.name,
    "optimizer": optimizer.name,
    "hyperparams": {name: v[0] for name, v in given.items()},
    "num_steps": num_steps,
    "resolution": resolution,
    "bounds": [list(axis) for axis in bounds],
  }
  return {
    "labels": result["labels"].reshape(-1).tolist(),
    "final_loss": _json_floats(result["final_loss"].reshape(-1)),
    "resolution": resolution,
    "bounds": [list(axis) for axis in bounds],
    "minima": [list(m.location) for m in landscape.minima],
    "settings": settings,
    "python": snippets.basins_code(
      landscape.name,
      optimizer,
      settings["hyperparams"],
      bounds,
      resolution,
      num_steps,
      registered.get(landscape.name),
    ),
  }


def surface(query: Mapping[str, list[str]]) -> dict[str, Any]:
  """GET /api/surface?landscape=NAME&resolution=N: losses on a grid."""
  unknown = sorted(set(query) - {"landscape", "resolution"})
  if unknown:
    raise BadRequest(unknown[0], "unknown field")
  if len(query.get("landscape", [])) != 1:
    raise BadRequest("landscape", "give one landscape name")
  landscape = _landscape(query["landscape"][0])
  resolution = 160
  if "resolution" in query:
    texts = query["resolution"]
    text = texts[0] if len(texts) == 1 else texts
    if isinstance(text, str) and _DIGITS.fullmatch(text):
      text = int(text.lstrip("0")[:20] or "0")  # Huge stays huge, cheaply.
    resolution = _integer("resolution", text, 2, MAX_SURFACE)
  bounds = _bounds(None, landscape)
  starts = basin_starts(bounds, resolution)
  values = np.asarray(
    _surface_values(landscape, starts[..., 0], starts[..., 1]), np.float32
  )
  finite = values[np.isfinite(values)]
  return {
    "landscape": landscape.name,
    "bounds": [list(axis) for axis in bounds],
    "resolution": resolution,
    "values": _json_floats(values.reshape(-1)),
    "min": float(finite.min()) if finite.size else None,
    "max": float(finite.max()) if finite.size else None,
  }
