"""A sweep's checkpoint folder: its settings and one file per finished chunk."""

import functools
import json
import os
from typing import Any

from optax_extras._src.io import atomic_write
from optax_extras._src.landscapes import Landscape
from optax_extras._src.sweep.result import to_json


def describe(function: Any) -> str:
  """A name that is the same in every run (no memory address)."""
  if isinstance(function, Landscape):
    return f"landscape {function.name}"
  if isinstance(function, functools.partial):
    return f"partial({describe(function.func)}, *{function.args!r}, **{function.keywords!r})"
  named = function if hasattr(function, "__qualname__") else type(function)
  return f"{named.__module__}.{named.__qualname__}"


def chunk_path(directory: str, chunk: int) -> str:
  return os.path.join(directory, f"chunk_{chunk:06d}.npz")


def open_checkpoint(directory: str, settings: dict[str, Any]) -> None:
  """Creates `directory` with the settings, or checks that they match."""
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, "settings.json")
  if not os.path.exists(path):
    atomic_write(path, lambda file: file.write(to_json(settings)))
    return
  with open(path, "rb") as file:
    saved = json.load(file)
  differing = sorted(
    key
    for key in saved.keys() | settings.keys()
    if saved.get(key) != settings.get(key)
  )
  if differing:
    raise ValueError(
      f"sweep: `checkpoint_dir` {directory!r} holds a sweep with other settings "
      f"(differing: {', '.join(differing)}); use a new folder or the same settings."
    )
