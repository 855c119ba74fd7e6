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
Temporary files of writes killed midway (``.*.tmp``) are ignored, and removed
on the next run once `STALE_SECONDS` old (a younger one may be another
process's write in progress). A folder that cannot be used (a file, a
dangling link, read-only, a full disk, a folder where a file of lanes
belongs) is refused with an error naming the path and what to do.
"""

import errno
import functools
import hashlib
import json
import os
import re
import time
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
_TEMPORARY = re.compile(r"\.(lanes_\d{10}_\d{10}\.npz|settings\.json)\..*\.tmp")
STALE_SECONDS = 3600  # A write of one chunk (at most 256 MB) takes seconds.


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
  if os.path.islink(directory) and not os.path.exists(directory):
    raise ValueError(
      f"sweep: `checkpoint_dir` {directory!r} is a symbolic link to "
      f"{os.readlink(directory)!r}, which does not exist; create that "
      "folder, or remove the link."
    )
  if os.path.exists(directory) and not os.path.isdir(directory):
    raise ValueError(
      f"sweep: `checkpoint_dir` {directory!r} is a file, not a folder; give "
      "a folder (it is created if missing)."
    )
  path = os.path.join(directory, "settings.json")
  try:
    os.makedirs(directory, exist_ok=True)
    _remove_stale(directory)
    atomic_write(
      path, lambda file: file.write(to_json(settings)), exclusive=True
    )
    return key
  except FileExistsError:
    pass
  except OSError as error:
    raise cannot_write(directory, path, error) from error
  try:
    with open(path, "rb") as file:
      saved = json.load(file)
  except OSError as error:
    raise ValueError(
      f"sweep: cannot read {path!r} in `checkpoint_dir` {directory!r} "
      f"({error.strerror or error}); make it readable, or use a new folder."
    ) from error
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
  path = os.path.join(directory, f"lanes_{start:010d}_{stop:010d}.npz")
  try:
    atomic_write(
      path, lambda file: np.savez(file, **arrays, **{_STAMP: np.array(stamp)})
    )
  except OSError as error:
    raise cannot_write(directory, path, error) from error


def cannot_write(directory: str, path: str, error: OSError) -> OSError:
  """An OSError of the same errno whose message names `path` and what to
  do; the chunks already saved stay, so a rerun resumes after them."""
  code = error.errno
  if code in (errno.ENOSPC, errno.EDQUOT):
    advice = (
      "the disk is full (or over quota); free space there or give another "
      "`checkpoint_dir`, and run again: the chunks saved so far are kept"
    )
  elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
    advice = "it is not writable; give a folder you can write to"
  elif code == errno.EISDIR:
    advice = "a folder is in the way of that file; remove it"
  else:
    advice = "give another folder"
  reason = error.strerror or str(error)
  return OSError(
    code,
    f"sweep: cannot write {path!r} in `checkpoint_dir` {directory!r} "
    f"({reason}): {advice}.",
  )


def _remove_stale(directory: str) -> None:
  """Removes temporary files that writes killed midway left behind."""
  now = time.time()
  for name in os.listdir(directory):
    if _TEMPORARY.fullmatch(name) is None:
      continue
    path = os.path.join(directory, name)
    try:
      if now - os.stat(path).st_mtime > STALE_SECONDS:
        os.unlink(path)
    except FileNotFoundError:  # Renamed or removed by its writer meanwhile.
      pass


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
    if os.path.isdir(path):
      raise ValueError(
        f"sweep: {path!r} in `checkpoint_dir` is a folder, where the file of "
        f"lanes [{start}, {stop}) belongs; remove it (its lanes are then "
        "recomputed)."
      )
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
