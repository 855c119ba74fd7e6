"""Files written whole or not at all."""

import os
import tempfile
from collections.abc import Callable
from typing import Any


def atomic_write(
  path: str | os.PathLike,
  write: Callable[[Any], object],
  *,
  exclusive: bool = False,
) -> None:
  """Writes through a temporary file in the same folder, then renames it.

  The file gets the permissions of a plain ``open(path, "w")`` (0644 under
  umask 022), not the 0600 of `tempfile.mkstemp`. With ``exclusive``, the
  whole file appears under `path` only if nothing was there (a hard link,
  which fails atomically with FileExistsError otherwise), so of several
  processes creating one file, exactly one succeeds. The temporary file is
  hidden and named after `path` (``.NAME.XXXXXXXX.tmp``), so that one left
  by a killed writer says whose it was.
  """
  path = os.fspath(path)
  folder, name = os.path.split(path)
  handle, temporary = tempfile.mkstemp(
    dir=folder or ".", prefix=f".{name[:200]}.", suffix=".tmp"
  )
  try:
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)
    with os.fdopen(handle, "wb") as file:
      write(file)
      file.flush()
      os.fsync(file.fileno())
    if exclusive:
      os.link(temporary, path)
      os.unlink(temporary)
    else:
      os.replace(temporary, path)
  except BaseException:
    os.unlink(temporary)
    raise
