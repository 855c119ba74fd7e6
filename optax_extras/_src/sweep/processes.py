"""A sweep under ``jax.distributed``: every process checks its arguments,
then all agree before anything runs, so that a process given other
arguments, or whose arguments were refused, stops every process at once
with an error that names it (never a collective waiting for a timeout)."""

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

from optax_extras._src.sweep.result import to_json

_MESSAGE = 2048  # Bytes of an error message shared with the others.


def agree(
  error: BaseException | None,
  settings: Mapping[str, Any] | None = None,
  names: Sequence[str] = (),
) -> None:
  """Raises on every process if any process had an error, or (given the
  settings that identify the computation, by `names`) if their settings
  differ; a no-op in one process but for re-raising `error`."""
  if jax.process_count() == 1:
    if error is not None:
      raise error
    return
  text = "" if error is None else f"{type(error).__name__}: {error}"
  message = np.zeros(_MESSAGE, np.uint8)
  data = np.frombuffer(text.encode()[:_MESSAGE], np.uint8)
  message[: len(data)] = data
  messages = np.asarray(multihost_utils.process_allgather(message))
  for process, other in enumerate(messages):
    text = bytes(other).rstrip(b"\0").decode(errors="replace")
    if text and error is None:
      raise RuntimeError(
        f"sweep: process {process} of {len(messages)} failed, so every "
        f"process stops: {text}"
      )
  if error is not None:
    raise error
  if settings is None:
    return
  digests = np.stack(
    [
      np.frombuffer(
        hashlib.sha256(to_json({name: settings.get(name)})).digest(), np.uint8
      )
      for name in names
    ]
  )
  digests = np.asarray(multihost_utils.process_allgather(digests))
  differing = [
    name
    for i, name in enumerate(names)
    if (digests[:, i] != digests[0, i]).any()
  ]
  if differing:
    raise ValueError(
      "sweep: under jax.distributed every process must call sweep with the "
      f"same computation, but theirs differ in: {', '.join(differing)}."
    )


def on_process_0(action) -> Any:
  """``action()`` on process 0 (None elsewhere); if it raises, every
  process raises."""
  if jax.process_count() == 1:
    return action()
  result, error = None, None
  if jax.process_index() == 0:
    try:
      result = action()
    except Exception as failed:  # Shared with the others, then raised.
      error = failed
  agree(error)
  return result


def broadcast_saved(
  saved: list[tuple[int, list[np.ndarray]]] | None,
  shapes: Sequence[jax.ShapeDtypeStruct],
) -> list[tuple[int, list[np.ndarray]]]:
  """Process 0's saved runs of lanes (start, leaves) on every process."""
  if jax.process_count() == 1:
    return saved
  first = jax.process_index() == 0
  ranges = np.array(
    [[s, len(leaves[0])] for s, leaves in saved] if first else [], np.int64
  ).reshape(-1, 2)
  count = int(multihost_utils.broadcast_one_to_all(np.int64(len(ranges))))
  if not first:
    ranges = np.zeros((count, 2), np.int64)
  ranges = np.asarray(multihost_utils.broadcast_one_to_all(ranges))
  shared = []
  for i, (start, rows) in enumerate(ranges):
    leaves = (
      saved[i][1]
      if first
      else [np.zeros((rows, *s.shape), s.dtype) for s in shapes]
    )
    leaves = multihost_utils.broadcast_one_to_all(leaves)
    shared.append((int(start), [np.asarray(leaf) for leaf in leaves]))
  return shared


def gather(local: list[np.ndarray]) -> list[np.ndarray]:
  """Every process's outputs, process-major."""
  gathered = multihost_utils.process_allgather(local, tiled=False)
  return [np.asarray(leaf) for leaf in gathered]
