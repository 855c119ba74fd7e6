"""The documentation site's promises: its examples run, its API is complete.

Every ```python block of docs/**/*.md runs as written, in a fresh process
with JAX's defaults (float32, one CPU device unless the block asks for more),
as a reader would run it; a block fenced ```py instead is shown, not run
(code that needs several processes). `mkdocs build --strict` (in .ci/run)
checks the rest: links, images, and the docstrings the API pages pull in.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

import optax_extras
from optax_extras import landscapes, signals

pytestmark = pytest.mark.float32  # The examples run in subprocesses anyway.

REPO = pathlib.Path(__file__).parent.parent
DOCS = REPO / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
BLOCKS = [
  (page.relative_to(DOCS).as_posix(), index, code)
  for page in PAGES
  for index, code in enumerate(
    re.findall(
      r"^```python\n(.*?)^```", page.read_text("utf-8"), re.DOTALL | re.M
    )
  )
]


def test_the_guide_has_examples():
  pages = {page for page, _, _ in BLOCKS}
  for page in (
    "getting-started.md",
    "guide/transforms.md",
    "guide/sweeps.md",
    "guide/landscapes-signals.md",
    "guide/flax.md",
  ):
    assert page in pages


@pytest.mark.parametrize(
  "page, index, code",
  BLOCKS,
  ids=[f"{page}:{index}" for page, index, _ in BLOCKS],
)
def test_example_runs(page, index, code):
  env = {
    k: v
    for k, v in os.environ.items()
    if k not in ("XLA_FLAGS", "JAX_ENABLE_X64")
  }
  env["PYTHONPATH"] = str(REPO)
  process = subprocess.run(
    [sys.executable, "-c", code],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert process.returncode == 0, (
    f"docs/{page} block {index} failed:\n{process.stderr}"
  )


def documented_names() -> set[str]:
  names = set()
  for page in (DOCS / "api").glob("*.md"):
    names |= set(
      re.findall(r"^::: optax_extras\.([\w.]+)$", page.read_text("utf-8"), re.M)
    )
  return names


@pytest.mark.parametrize(
  "prefix, module",
  [
    ("", optax_extras),
    ("landscapes.", landscapes),
    ("signals.", signals),
    ("io.", optax_extras.io),
  ],
)
def test_api_reference_lists_every_public_name(prefix, module):
  documented = documented_names()
  public = {prefix + name for name in module.__all__}
  missing = sorted(public - documented)
  assert not missing, f"docs/api/*.md lack ::: entries for {missing}"


def test_api_reference_lists_only_public_names():
  public = set(optax_extras.__all__)
  public |= {f"landscapes.{name}" for name in landscapes.__all__}
  public |= {f"signals.{name}" for name in signals.__all__}
  public |= {f"io.{name}" for name in optax_extras.io.__all__}
  assert documented_names() <= public
