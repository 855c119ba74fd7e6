"""`SweepResult`: a sweep's arrays and settings; saving and loading them."""

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from optax_extras._src.io import atomic_write

# Per-lane arrays of every result; a field holding parameters is stored as
# one array per leaf, named field + the leaf's path ("" for array starts).
FIELDS = (
  "final_params",
  "final_loss",
  "best_loss",
  "tol_step",
  "divergence_step",
  "trajectories",
  "trajectory_loss",
)
PARAM_FIELDS = ("final_params", "trajectories", "starts")
# Always present in a result; the other fields may be None.
_REQUIRED = ("final_params", "final_loss", "best_loss", "divergence_step")
_CHECKSUM = "checksum"  # The .npz member that vouches for the rest.
METRIC = "metrics/"  # Prefix of a metric's array...
TRAJECTORY_METRIC = "trajectory_metrics/"  # ...and of its recorded values.


@dataclasses.dataclass(frozen=True)
class SweepResult:
  """The outcome of `sweep`, as NumPy arrays shaped ``[*grid, *starts, ...]``.

  Steps count updates: step 0 is the start, step t the point after t updates.
  Parameters keep the structure of `starts`: an array ``[..., d]`` for
  array starts, else the same pytree with leaves ``[*grid, *starts, ...]``
  (after `load`, a dict from each leaf's path to its array).

  Attributes:
    final_params: the last point, or for a diverged lane the last point
      whose loss and parameters were finite (the start if none).
    final_loss: the loss at ``final_params``.
    best_loss: the smallest loss over steps 0..num_steps (finite points).
    tol_step: first step whose loss was ``<= tol``, -1 if never; None
      without ``tol``.
    divergence_step: first step whose loss or parameters were not finite,
      -1 if none. `diverged` is ``divergence_step >= 0``.
    trajectories: the parameters at steps 0, k, 2k, … (k = ``record_every``,
      ``num_records = num_steps // k + 1``) as ``[..., num_records, ...]``;
      a diverged lane stays at its last finite point. None unless recorded.
    trajectory_loss: ``[..., num_records]``, the loss at those points.
    starts: the start points as given (leaves as NumPy arrays).
    settings: what was swept (grid values as NumPy arrays, starts' hash,
      steps, the program's fingerprint when one was taken; the functions'
      names for information); JSON-serialisable but for the arrays, which
      are saved as lists (`to_json`).
    metrics: name -> ``[*grid, *starts]``, ``metrics_fn`` of the final
      parameters; empty without ``metrics_fn``.
    trajectory_metrics: name -> ``[..., num_records]``, ``metrics_fn`` at
      the points of `trajectory_loss`; empty unless both were asked.
  """

  final_params: Any
  final_loss: np.ndarray
  best_loss: np.ndarray
  tol_step: np.ndarray | None
  divergence_step: np.ndarray
  trajectories: Any | None
  trajectory_loss: np.ndarray | None
  starts: Any
  settings: dict[str, Any]
  metrics: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  trajectory_metrics: dict[str, np.ndarray] = dataclasses.field(
    default_factory=dict
  )

  @property
  def diverged(self) -> np.ndarray:
    """True where the loss or the parameters became non-finite."""
    return self.divergence_step >= 0

  def save(self, path: str | os.PathLike) -> None:
    """Writes ``path.npz`` (the arrays) and ``path.json`` (the settings).

    The .npz also holds a SHA-256 of its arrays and of the settings, which
    `load` checks.
    """
    base = _strip_suffix(path)
    arrays = {}
    for name in (*FIELDS, "starts"):
      value = getattr(self, name)
      if value is None:
        continue
      if name in PARAM_FIELDS:
        flat = jax.tree_util.tree_flatten_with_path(value)[0]
        for leaf_path, leaf in flat:
          arrays[name + _path(leaf_path)] = np.asarray(leaf)
      else:
        arrays[name] = value
    arrays.update({METRIC + k: v for k, v in self.metrics.items()})
    arrays.update(
      {TRAJECTORY_METRIC + k: v for k, v in self.trajectory_metrics.items()}
    )
    settings = to_json(self.settings)
    stamp = {"arrays": checksum(arrays), "settings": _sha256(settings)}
    atomic_write(
      base + ".npz",
      lambda file: np.savez(
        file, **arrays, **{_CHECKSUM: np.array(json.dumps(stamp))}
      ),
    )
    atomic_write(base + ".json", lambda file: file.write(settings))


def load(path: str | os.PathLike) -> SweepResult:
  """Reads a result written by `SweepResult.save` (``path`` with or without
  .npz); raises ValueError naming the file if it is not one, or damaged.
  Pytree parameters come back as a dict from each leaf's path to its array."""
  base = _strip_suffix(path)
  npz, json_path = base + ".npz", base + ".json"
  with open(json_path, "rb") as file:
    text = file.read()
  try:
    settings = json.loads(text)
  except ValueError as error:
    raise ValueError(
      f"load_sweep: {json_path!r} is not valid JSON ({error})."
    ) from error
  try:
    paths = [str(p) for p in settings.get("params_paths", [""])]
    metrics = [str(m) for m in settings.get("metrics", [])]
  except (AttributeError, TypeError) as error:
    raise ValueError(
      f"load_sweep: {json_path!r} is not a sweep's settings ({error})."
    ) from error
  try:
    with np.load(npz, allow_pickle=False) as data:
      arrays = {name: data[name] for name in data.files}
  except FileNotFoundError:
    raise
  except Exception as error:  # Whatever a damaged or foreign file raises.
    raise ValueError(
      f"load_sweep: {npz!r} is not a readable .npz file ({error!r})."
    ) from error
  stamp = arrays.pop(_CHECKSUM, None)
  names = {
    *(f for f in FIELDS if f not in PARAM_FIELDS),
    *(f + p for f in PARAM_FIELDS for p in paths),
    *(METRIC + m for m in metrics),
    *(TRAJECTORY_METRIC + m for m in metrics),
  }
  required = {
    *(f for f in _REQUIRED if f not in PARAM_FIELDS),
    *(f + p for f in ("final_params", "starts") for p in paths),
    *(METRIC + m for m in metrics),
  }
  unknown = sorted(set(arrays) - names)
  missing = sorted(required - set(arrays))
  if stamp is None or stamp.dtype.kind != "U" or unknown or missing:
    raise ValueError(
      f"load_sweep: {npz!r} was not written by SweepResult.save (fields "
      f"{sorted(arrays)}; missing {missing}, unknown {unknown})."
    )
  expected = {"arrays": checksum(arrays), "settings": _sha256(text)}
  if str(stamp) != json.dumps(expected):
    raise ValueError(
      f"load_sweep: {npz!r} does not match its checksum or its settings "
      f"{json_path!r}: damaged, or the two files come from different saves."
    )

  def params(field):
    if field + paths[0] not in arrays:
      return None
    if paths == [""]:
      return arrays[field]
    return {p: arrays[field + p] for p in paths}

  fields = {
    name: params(name) if name in PARAM_FIELDS else arrays.get(name)
    for name in (*FIELDS, "starts")
  }
  grid, dtypes = settings.get("grid"), settings.get("grid_dtypes")
  if isinstance(grid, dict) and isinstance(dtypes, dict):  # As sweep gives.
    settings["grid"] = {
      name: np.asarray(values, dtypes.get(name))
      for name, values in grid.items()
    }
  return SweepResult(
    **fields, settings=settings, **metric_fields(arrays, metrics)
  )


def metric_fields(
  arrays: Mapping[str, np.ndarray], names: Sequence[str]
) -> dict[str, dict[str, np.ndarray]]:
  """`SweepResult`'s ``metrics`` and ``trajectory_metrics`` from flat
  arrays named ``metrics/<name>`` and ``trajectory_metrics/<name>``."""
  return {
    "metrics": {m: arrays[METRIC + m] for m in names},
    "trajectory_metrics": {
      m: arrays[TRAJECTORY_METRIC + m]
      for m in names
      if TRAJECTORY_METRIC + m in arrays
    },
  }


def checksum(arrays: Mapping[str, np.ndarray]) -> str:
  """SHA-256 of arrays: their names, dtypes, shapes and bytes."""
  digest = hashlib.sha256()
  for name in sorted(arrays):
    array = np.ascontiguousarray(arrays[name])
    digest.update(json.dumps([name, array.dtype.str, array.shape]).encode())
    digest.update(array.tobytes())
  return digest.hexdigest()


def to_json(settings: Mapping[str, Any]) -> bytes:
  """Settings as JSON; NumPy arrays (the grid's values) as lists."""
  return json.dumps(
    settings, indent=1, sort_keys=True, default=lambda a: a.tolist()
  ).encode()


def _sha256(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


def _strip_suffix(path: str | os.PathLike) -> str:
  path = os.fspath(path)
  return path[:-4] if path.endswith(".npz") else path


def _path(leaf_path: tuple[Any, ...]) -> str:
  return jax.tree_util.keystr(leaf_path)
