"""A sweep's checkpoint folder: its settings and one verified file per run of
lanes.

A folder is identified by what it computes: its settings hold the
fingerprint of the lowered program (StableHLO, constants included), the grid
values, a hash of the starts, the key, the steps, the backend and the block
size (a lane's bits depend on them), not the chunk size. The settings file
is created exclusively, so of two sweeps started together in a new folder
only one claims it; a folder of other settings, or of an earlier version of
this library, is refused. Each file holds the lanes ``[start, stop)`` with
the hash of the settings, its range and a SHA-256 of its arrays; a file that
fails any check is recomputed with a warning naming it, never read as data.
"""

import functools
import hashlib
import json
import os
import re
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from optax_extras._src.io import atomic_write
from optax_extras._src.landscapes import Landscape
from optax_extras._src.sweep.result import checksum, to_json

FORMAT = 2  # Version 0.1.0 wrote chunk files named by index, no format.
INFORMATION = ("optimizer", "loss")  # For people; not identity.
_STAMP = "checksum"  # The file member that vouches for the rest.
_NAME = re.compile(r"lanes_(\d{10})_(\d{10})\.npz")


def describe(function: Any) -> str:
  """A name for people to read (information only, not identity)."""
  if isinstance(function, Landscape):
    return f"landscape {function.name}"
  if isinstance(function, functools.partial):
    return f"partial of {describe(function.func)}"
  named = function if hasattr(function, "__qualname__") else type(function)
  return f"{named.__module__}.{named.__qualname__}"


def open_checkpoint(directory: str, settings: dict[str, Any]) -> str:
  """Claims `directory` with the settings, or checks that they match.

  Returns the key (hash of the identifying settings) that its files carry.
  """
  identity = {k: v for k, v in settings.items() if k not in INFORMATION}
  identity = json.loads(to_json(identity))  # As it is saved.
  key = hashlib.sha256(to_json(identity)).hexdigest()
  if os.path.exists(directory) and not os.path.isdir(directory):
    raise ValueError(
      f"sweep: `checkpoint_dir` {directory!r} is a file, not a folder."
    )
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, "settings.json")
  try:
    atomic_write(
      path, lambda file: file.write(to_json(settings)), exclusive=True
    )
    return key
  except FileExistsError:
    pass
  try:
    with open(path, "rb") as file:
      saved = json.load(file)
  except ValueError as error:
    raise ValueError(
      f"sweep: `checkpoint_dir` {directory!r} holds an unreadable "
      f"settings.json ({error}); use a new folder."
    ) from error
  if not isinstance(saved, dict) or saved.get("format") != FORMAT:
    raise ValueError(
      f"sweep: `checkpoint_dir` {directory!r} was written by an earlier "
      "version of optax_extras (another checkpoint format); use a new "
      "folder, or that version to resume it."
    )
  differing = sorted(
    name
    for name in saved.keys() | identity.keys()
    if name not in INFORMATION and saved.get(name) != identity.get(name)
  )
  if differing:
    raise ValueError(
      f"sweep: `checkpoint_dir` {directory!r} holds a sweep of another "
      f"computation (differing: {', '.join(differing)}); use a new folder "
      "or the same settings."
    )
  return key


def write(
  directory: str, key: str, start: int, arrays: Mapping[str, np.ndarray]
) -> None:
  """Saves the lanes ``[start, start + rows)``."""
  stop = start + len(next(iter(arrays.values())))
  stamp = _stamp(key, start, stop, arrays)
  atomic_write(
    os.path.join(directory, f"lanes_{start:010d}_{stop:010d}.npz"),
    lambda file: np.savez(file, **arrays, **{_STAMP: np.array(stamp)}),
  )


def read_all(
  directory: str, key: str, shapes: Mapping[str, jax.ShapeDtypeStruct]
) -> list[tuple[int, dict[str, np.ndarray]]]:
  """Every saved run of lanes that passes every check, as (start, arrays);
  a damaged file gets a warning naming it and is left out."""
  found = []
  for name in sorted(os.listdir(directory)):
    match = _NAME.fullmatch(name)
    if match is None:
      continue
    start, stop = int(match[1]), int(match[2])
    path = os.path.join(directory, name)
    try:
      with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
      problem = None
    except Exception as error:  # Whatever a damaged file raises.
      problem = f"unreadable: {error!r}"
    if problem is None:
      stamp = arrays.pop(_STAMP, None)
      wanted = {
        name: ((stop - start, *shape.shape), np.dtype(shape.dtype))
        for name, shape in shapes.items()
      }
      got = {name: (array.shape, array.dtype) for name, array in arrays.items()}
      if got != wanted:
        problem = f"fields {got}, expected {wanted}"
      elif stamp is None or str(stamp) != _stamp(key, start, stop, arrays):
        problem = "its checksum, settings or lanes do not match"
    if problem is None:
      found.append((start, arrays))
    else:
      warnings.warn(
        f"sweep: checkpoint file {path!r} is damaged ({problem}); "
        "recomputing its lanes.",
        stacklevel=3,
      )
  return found


def _stamp(
  key: str, start: int, stop: int, arrays: Mapping[str, np.ndarray]
) -> str:
  return json.dumps(
    {"settings": key, "lanes": [start, stop], "arrays": checksum(arrays)}
  )
