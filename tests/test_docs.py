"""The documentation site's promises: its examples run, its API is complete.

Every ```python block of docs/**/*.md runs as written, in a fresh process
with JAX's defaults (float32, one CPU device unless the block asks for more),
as a reader would run it; a block fenced ```py instead is shown, not run
(code that needs several processes). `mkdocs build --strict` (in .ci/run)
checks the rest: links, images, and the docstrings the API pages pull in;
and every local link of the built site names a file, so that the site works
opened from disk (skipped without the docs extra; .ci/run runs it).
"""

import html.parser
import os
import pathlib
import re
import subprocess
import sys
import urllib.parse

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


def _texts_users_read():
  """(where, text): the README and docs, the landscapes' sources, every
  figure's title and caption, the command line's help, the public API's
  docstrings."""
  import dataclasses
  import inspect

  from experiments import __main__ as cli
  from experiments import catalogue

  for path in [REPO / "README.md", *PAGES]:
    yield path.name, path.read_text("utf-8")
  for name in landscapes.names():
    yield f"landscape {name}", landscapes.get(name).source
  figures = (
    catalogue.SIGNAL_METHODS + catalogue.PATH_FIGURES + catalogue.BEYOND_FIGURES
  )
  for figure in figures:
    for field in dataclasses.fields(figure):
      value = getattr(figure, field.name)
      if isinstance(value, str):
        yield f"figure {figure.name}.{field.name}", value
  parser = cli._parser()
  yield "--help", parser.format_help()
  for name, sub in parser._subparsers._group_actions[0].choices.items():
    yield f"{name} --help", sub.format_help()
  modules = [(optax_extras, ""), (landscapes, "landscapes."), (signals, "")]
  for module, prefix in modules:
    yield module.__name__, inspect.getdoc(module) or ""
    for name in module.__all__:
      yield prefix + name, inspect.getdoc(getattr(module, name)) or ""


def test_what_users_read_names_the_sources_not_seeds():
  """The documents this project started from are named by what they are
  (the README's Sources), never by the project's internal seed numbers."""
  texts = list(_texts_users_read())
  assert len(texts) > 200
  found = [
    (where, match.group())
    for where, text in texts
    for match in re.finditer(r"\bseeds? ?\d{3}\b", text, re.I)
  ]
  assert not found


def test_api_reference_lists_only_public_names():
  public = set(optax_extras.__all__)
  public |= {f"landscapes.{name}" for name in landscapes.__all__}
  public |= {f"signals.{name}" for name in signals.__all__}
  public |= {f"io.{name}" for name in optax_extras.io.__all__}
  assert documented_names() <= public


class _Links(html.parser.HTMLParser):
  """Every href and src of a page."""

  def __init__(self):
    super().__init__()
    self.targets = []

  def handle_starttag(self, tag, attrs):
    self.targets += [value for name, value in attrs if name in ("href", "src")]


def broken_links(site: pathlib.Path) -> list[str]:
  """Local links (no scheme) of every page whose target file is missing;
  a link to a folder counts as missing, as it is on disk (file://). The 404
  page, which only a server shows, links from the site's root: skipped."""
  broken = []
  for page in sorted(site.rglob("*.html")):
    if page.relative_to(site).as_posix() == "404.html":
      continue
    parser = _Links()
    parser.feed(page.read_text("utf-8"))
    for target in parser.targets:
      parts = urllib.parse.urlsplit(target)
      if parts.scheme or parts.netloc or not parts.path:
        continue  # Another site, or an anchor of this page.
      path = (page.parent / urllib.parse.unquote(parts.path)).resolve()
      if not path.is_file():
        broken.append(f"{page.relative_to(site)}: {target}")
  return broken


@pytest.fixture(scope="module")
def site(tmp_path_factory):
  """The built site: $OPTAX_EXTRAS_SITE (.ci/run builds it with the docs
  extra), else built here if mkdocs is installed."""
  if os.environ.get("OPTAX_EXTRAS_SITE"):
    return pathlib.Path(os.environ["OPTAX_EXTRAS_SITE"])
  pytest.importorskip("mkdocs", reason="the docs extra is not installed")
  out = tmp_path_factory.mktemp("site")
  process = subprocess.run(
    [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", out],
    cwd=REPO,
    env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert process.returncode == 0, process.stderr
  return out


@pytest.mark.slow
def test_every_local_link_of_the_built_site_names_a_file(site):
  pages = list(site.rglob("*.html"))
  assert len(pages) >= 15
  assert not broken_links(site)


def test_a_link_to_a_folder_or_a_missing_file_is_caught(tmp_path):
  (tmp_path / "guide").mkdir()
  (tmp_path / "guide" / "a.html").write_text("")
  (tmp_path / "index.html").write_text(
    "<a href='guide/a.html#x'>ok</a><a href='guide/'>folder</a>"
    "<img src='missing.png'><a href='https://example.org/'>away</a>"
    "<a href='#top'>here</a>"
  )
  assert broken_links(tmp_path) == [
    "index.html: guide/",
    "index.html: missing.png",
  ]
