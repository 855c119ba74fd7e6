"""The wheel ships the library only, and depends on what the library imports."""

import ast
import pathlib
import re
import subprocess
import sys
import tomllib
import zipfile

import pytest

import optax_extras

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
  """The distribution name of a requirement such as ``jax>=0.7``."""
  return re.match(r"[A-Za-z0-9_.-]+", requirement).group().lower()


def _third_party_imports(package: pathlib.Path, *, lazy: bool) -> set[str]:
  """Third-party modules imported at module level (`lazy=False`), or
  inside functions (`lazy=True`: an optional extra, loaded when called)."""
  names = set()
  for path in package.rglob("*.py"):
    tree = ast.parse(path.read_text(), str(path))
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
      if (id(node) in top) == lazy:
        continue
      if isinstance(node, ast.Import):
        names.update(alias.name.split(".")[0] for alias in node.names)
      elif isinstance(node, ast.ImportFrom) and node.level == 0:
        names.add(node.module.split(".")[0])
  return names - set(sys.stdlib_module_names) - {"optax_extras"}


@pytest.mark.float32
def test_runtime_dependencies_are_what_the_library_imports():
  declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
  assert _third_party_imports(ROOT / "optax_extras", lazy=False) == declared


@pytest.mark.float32
def test_lazy_imports_are_declared_in_the_parity_extra():
  """`compat.from_torch` imports torch when called; torch stays optional."""
  extras = PYPROJECT["project"]["optional-dependencies"]
  declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
  optional = {_name(r) for r in extras["parity"]}
  lazy = _third_party_imports(ROOT / "optax_extras", lazy=True) - declared
  assert "torch" in lazy
  assert lazy <= optional


@pytest.mark.slow
@pytest.mark.float32
def test_the_wheel_holds_the_library_only(tmp_path):
  subprocess.run(
    [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path]
    + [str(ROOT)],
    check=True,
    capture_output=True,
  )
  (wheel,) = tmp_path.glob("*.whl")
  with zipfile.ZipFile(wheel) as archive:
    files = archive.namelist()
    info = next(f for f in files if f.endswith(".dist-info/METADATA"))
    metadata = archive.read(info).decode()
  tops = {f.split("/")[0] for f in files}
  assert tops == {"optax_extras", info.split("/")[0]}, tops
  assert "optax_extras/py.typed" in files
  assert "optax_extras/_src/sweep/sweep.py" in files
  version = re.search(r"^Version: (.+)$", metadata, re.M).group(1)
  assert version == optax_extras.__version__
  required = {
    _name(line.split(":", 1)[1].strip())
    for line in metadata.splitlines()
    if line.startswith("Requires-Dist:") and "extra ==" not in line
  }
  assert required == {_name(r) for r in PYPROJECT["project"]["dependencies"]}


@pytest.mark.float32
def test_public_names_are_not_shadowed_by_modules():
  """``optax_extras.sweep`` is the function, and no module hides behind a
  public name: the implementation lives in ``optax_extras._src``."""
  import importlib
  import types

  assert callable(optax_extras.sweep)
  assert not isinstance(optax_extras.sweep, types.ModuleType)
  with pytest.raises(ModuleNotFoundError):
    importlib.import_module("optax_extras.sweep")
  modules = {
    name
    for name in optax_extras.__all__
    if isinstance(getattr(optax_extras, name), types.ModuleType)
  }
  assert modules == {"compat", "io", "landscapes", "signals"}  # Namespaces.
  public = {p.stem for p in (ROOT / "optax_extras").glob("*.py")}
  assert public == {"__init__", "compat", "io", "landscapes", "signals"}


@pytest.mark.float32
def test_the_experiments_use_the_public_api_only():
  """The lab is written as a user would write it: no module under
  experiments/ reaches into ``optax_extras._src``."""
  found = [
    f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
    for path in sorted((ROOT / "experiments").rglob("*.py"))
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
    if "optax_extras._src" in line
  ]
  assert not found, "experiments/ imports optax_extras._src:\n" + "\n".join(
    found
  )
