"""`SweepResult`: a sweep's arrays and settings; saving and loading them."""

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from optax_extras._src.io import atomic_write

FIELDS = (
  "final_params",
  "final_loss",
  "best_loss",
  "tol_step",
  "divergence_step",
  "trajectories",
  "trajectory_loss",
)


@dataclasses.dataclass(frozen=True)
class SweepResult:
  """The outcome of `sweep`, as NumPy arrays shaped ``[*grid, *starts, ...]``.

  Steps count updates: step 0 is the start, step t the point after t updates.

  Attributes:
    final_params: ``[..., 2]``, the last point, or for a diverged lane the
      last point whose loss and coordinates were finite (the start if none).
    final_loss: the loss at ``final_params``.
    best_loss: the smallest loss over steps 0..num_steps (finite points).
    tol_step: first step whose loss was ``<= tol``, -1 if never; None
      without ``tol``.
    divergence_step: first step whose loss or coordinates were not finite,
      -1 if none. `diverged` is ``divergence_step >= 0``.
    trajectories: ``[..., num_records, 2]``, the points at steps 0, k, 2k, …
      (k = ``record_every``, ``num_records = num_steps // k + 1``); a
      diverged lane stays at its last finite point. None unless recorded.
    trajectory_loss: ``[..., num_records]``, the loss at those points.
    starts: the start points, ``[*starts, 2]``.
    settings: what was swept (grid values, steps, names); JSON-serialisable.
  """

  final_params: np.ndarray
  final_loss: np.ndarray
  best_loss: np.ndarray
  tol_step: np.ndarray | None
  divergence_step: np.ndarray
  trajectories: np.ndarray | None
  trajectory_loss: np.ndarray | None
  starts: np.ndarray
  settings: dict[str, Any]

  @property
  def diverged(self) -> np.ndarray:
    """True where the loss or the coordinates became non-finite."""
    return self.divergence_step >= 0

  def save(self, path: str | os.PathLike) -> None:
    """Writes ``path.npz`` (the arrays) and ``path.json`` (the settings)."""
    base = _strip_suffix(path)
    arrays = {
      name: getattr(self, name)
      for name in (*FIELDS, "starts")
      if getattr(self, name) is not None
    }
    atomic_write(base + ".npz", lambda file: np.savez(file, **arrays))
    atomic_write(
      base + ".json", lambda file: file.write(to_json(self.settings))
    )


def load(path: str | os.PathLike) -> SweepResult:
  """Reads a result written by `SweepResult.save` (``path`` with or without .npz)."""
  base = _strip_suffix(path)
  with open(base + ".json", "rb") as file:
    settings = json.load(file)
  with np.load(base + ".npz") as data:
    arrays = {
      name: data[name] if name in data else None for name in (*FIELDS, "starts")
    }
  return SweepResult(**arrays, settings=settings)


def to_json(settings: Mapping[str, Any]) -> bytes:
  return json.dumps(settings, indent=1, sort_keys=True).encode()


def _strip_suffix(path: str | os.PathLike) -> str:
  path = os.fspath(path)
  return path[:-4] if path.endswith(".npz") else path
