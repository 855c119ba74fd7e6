"""A sweep's checkpoint folder: its settings and one verified file per chunk.

A checkpoint is identified by what it computes, not by names: its settings
hold the fingerprint of the lowered single-lane program
(`program.fingerprint`: its StableHLO, constants included) with the grid
values, a hash of the starts, the chunk size and the dtype. A folder that
holds other settings is refused. The settings file is created exclusively,
so of two sweeps started together in a new folder only one claims it. Each
chunk file carries the hash of the settings, its index and a SHA-256 of its
arrays; a chunk that fails any check is recomputed with a warning that
names it, never read as data.
"""

import functools
import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from optax_extras._src.io import atomic_write
from optax_extras._src.landscapes import Landscape
from optax_extras._src.sweep.result import checksum, to_json

# Settings kept for people to read; they do not identify the computation.
INFORMATION = ("optimizer", "loss")
_STAMP = "checksum"  # The chunk file member that vouches for the rest.


def describe(function: Any) -> str:
  """A name for people to read (information only, not identity)."""
  if isinstance(function, Landscape):
    return f"landscape {function.name}"
  if isinstance(function, functools.partial):
    return f"partial of {describe(function.func)}"
  named = function if hasattr(function, "__qualname__") else type(function)
  return f"{named.__module__}.{named.__qualname__}"


def chunk_path(directory: str, chunk: int) -> str:
  return os.path.join(directory, f"chunk_{chunk:06d}.npz")


def open_checkpoint(directory: str, settings: dict[str, Any]) -> str:
  """Claims `directory` with the settings, or checks that they match.

  Returns the key (hash of the identifying settings) that its chunks carry.
  """
  identity = {k: v for k, v in settings.items() if k not in INFORMATION}
  key = hashlib.sha256(to_json(identity)).hexdigest()
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
  differing = sorted(
    key
    for key in saved.keys() | identity.keys()
    if key not in INFORMATION and saved.get(key) != identity.get(key)
  )
  if differing:
    raise ValueError(
      f"sweep: `checkpoint_dir` {directory!r} holds a sweep of another "
      f"computation (differing: {', '.join(differing)}); use a new folder "
      "or the same settings."
    )
  return key


def write_chunk(
  directory: str, chunk: int, key: str, arrays: Mapping[str, np.ndarray]
) -> None:
  stamp = _stamp(key, chunk, arrays)
  atomic_write(
    chunk_path(directory, chunk),
    lambda file: np.savez(file, **arrays, **{_STAMP: np.array(stamp)}),
  )


def read_chunk(
  directory: str,
  chunk: int,
  key: str,
  shapes: Mapping[str, jax.ShapeDtypeStruct],
  rows: int,
) -> dict[str, np.ndarray] | None:
  """A saved chunk's arrays after every check, or None if it must be
  computed: absent, or damaged (then with a warning naming the file)."""
  path = chunk_path(directory, chunk)
  if not os.path.exists(path):
    return None
  try:
    with np.load(path, allow_pickle=False) as data:
      arrays = {name: data[name] for name in data.files}
    problem = None
  except Exception as error:  # Whatever a damaged file raises.
    problem = f"unreadable: {error!r}"
  if problem is None:
    stamp = arrays.pop(_STAMP, None)
    wanted = {
      name: ((rows, *shape.shape), np.dtype(shape.dtype))
      for name, shape in shapes.items()
    }
    found = {name: (array.shape, array.dtype) for name, array in arrays.items()}
    if found != wanted:
      problem = f"fields {found}, expected {wanted}"
    elif stamp is None or str(stamp) != _stamp(key, chunk, arrays):
      problem = "its checksum, settings or index do not match"
  if problem is None:
    return arrays
  warnings.warn(
    f"sweep: checkpoint chunk {path!r} is damaged ({problem}); recomputing it.",
    stacklevel=3,
  )
  return None


def _stamp(key: str, chunk: int, arrays: Mapping[str, np.ndarray]) -> str:
  return json.dumps(
    {"settings": key, "chunk": chunk, "arrays": checksum(arrays)}
  )
