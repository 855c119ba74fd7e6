"""Files written whole or not at all.

`atomic_write` writes a file through a temporary one in the same folder and
renames it into place, so that a reader never sees half a file, even when
the writer is killed: the sweep's checkpoints, the gallery's saved arrays
and the atlas's records are written with it.

  >>> import pathlib, tempfile
  >>> from optax_extras import io
  >>> path = pathlib.Path(tempfile.mkdtemp()) / "numbers.txt"
  >>> io.atomic_write(path, lambda file: file.write(b"1 2 3"))
  >>> path.read_text()
  '1 2 3'
"""

from optax_extras._src.io import atomic_write

__all__ = ("atomic_write",)
