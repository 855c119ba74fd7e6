"""Command line: `python -m experiments {gallery,signals,paths,figure,training,atlas,benchmark,explore,list}`; `--help` on each."""

import argparse
import os
import pathlib
import sys
import tempfile
import time
from typing import NoReturn

import jax

from experiments import benchmarks, catalogue, gallery
from experiments.catalogue import BEYOND_FIGURES, PATH_FIGURES, SIGNAL_METHODS


def _refuse(message: str) -> NoReturn:
  """One line on stderr and exit status 2, as argparse does for bad usage."""
  print(f"python -m experiments: error: {message}", file=sys.stderr)
  raise SystemExit(2)


def _check_writable_folder(folder: pathlib.Path, what: str) -> None:
  """Creates `folder` if needed; refuses it if it cannot hold new files."""
  if folder.exists() and not folder.is_dir():
    _refuse(f"{what} {folder} is a file, not a folder")
  try:
    folder.mkdir(parents=True, exist_ok=True)
    tempfile.TemporaryFile(dir=folder).close()
  except OSError as error:
    _refuse(f"{what} {folder}: cannot write there ({error.strerror or error})")


def _check_out(command: str, out: pathlib.Path) -> None:
  """Refuses an output path that would fail after the work, before it."""
  if command != "benchmark":
    _check_writable_folder(out, "--out")
  elif out.is_dir():
    _refuse(
      f"benchmark --file {out} is a folder; name the Markdown file to write "
      f"(e.g. {out / 'BENCHMARKS.md'})"
    )
  else:
    _check_writable_folder(out.parent, "the folder of benchmark --file")


def families() -> list[tuple[str, str, list[tuple[str, str]]]]:
  """Every family of figures: (family, the command that makes it all,
  [(name, title)]), each name one that `figure NAME` draws."""
  beyond: dict[str, list[tuple[str, str]]] = {}
  for figure in BEYOND_FIGURES:
    beyond.setdefault(figure.name.partition("/")[0], []).append(
      (figure.name, figure.title)
    )
  label = {"tuned": "tuned comparisons"}
  return [
    (
      "signals",
      "python -m experiments signals",
      [(f"signals/{m.name}", m.title) for m in SIGNAL_METHODS],
    ),
    (
      "paths",
      "python -m experiments paths",
      [(f"paths/{f.name}", f.title) for f in PATH_FIGURES],
    ),
    *(
      (label.get(kind, kind), f"python -m experiments figure {kind}", members)
      for kind, members in beyond.items()
    ),
    (
      "training",
      "python -m experiments figure training",
      [("training", "a Flax MLP on the digits, with every optimizer")],
    ),
    ("atlas", "python -m experiments atlas", []),
    ("models", "python -m experiments models", []),
  ]


# What `list` names besides the families: the commands that make no single
# figure, each with its one-line call.
OTHER_COMMANDS = [
  ("every figure, with index.html", "python -m experiments gallery"),
  ("the training figures and tables", "python -m experiments training"),
  ("the benchmarks", "python -m experiments benchmark"),
  ("the explorer", "python -m experiments explore"),
  ("one figure", "python -m experiments figure NAME"),
  ("this list", "python -m experiments list"),
]


def figure_keys(name: str) -> list[str] | None:
  """The gallery's job keys that `figure NAME` draws: a figure as `list`
  names it, or a whole family (signals, paths, basins, ...); None if none."""
  keys = gallery.job_keys()
  if name in ("signals", "paths", "training"):
    return [k for k in keys if k.partition("/")[0] == name]
  beyond = [k for k in keys if k.startswith(f"beyond/{name}/")]
  if beyond:
    return beyond
  for key in (name, f"beyond/{name}"):
    if key in keys:
      return [key]
  return None


def _renamed(name: str) -> str:
  """A figure name given on the command line, old names accepted (with a
  note)."""
  current = catalogue.current_name(name)
  if current != name:
    print(
      f"python -m experiments: {name!r} is now called {current!r}",
      file=sys.stderr,
    )
  return current


class _Formatter(argparse.HelpFormatter):
  """Adds "(default: ...)" to an argument's help where it has one to say
  (not None, False or [])."""

  def _get_help_string(self, action: argparse.Action) -> str:
    default = action.default
    if (
      default is None
      or default is False
      or default == []
      or (default is argparse.SUPPRESS)
    ):
      return action.help or ""
    return f"{action.help} (default: %(default)s)"


def _parser() -> argparse.ArgumentParser:
  """The command line; every argument has its help, defaults shown."""
  formatter = _Formatter
  parser = argparse.ArgumentParser(
    prog="python -m experiments",
    description="Redraw the figures of three documents on optimizers (the "
    "README's Sources) and go beyond them.",
    formatter_class=formatter,
  )
  commands = parser.add_subparsers(dest="command", required=True)

  def command(name: str, help: str) -> argparse.ArgumentParser:
    return commands.add_parser(
      name, help=help, description=help, formatter_class=formatter
    )

  def out(sub: argparse.ArgumentParser, default: str) -> None:
    sub.add_argument(
      "--out",
      type=pathlib.Path,
      default=pathlib.Path(default),
      help="output folder (created if missing)",
    )

  build = command("gallery", "draw every figure into a folder with index.html")
  build.add_argument(
    "--quick", action="store_true", help="low-resolution pictures, fast"
  )
  out(build, "gallery")

  one = command(
    "signals", "draw the 1-D signal responses of one method (or all)"
  )
  one.add_argument(
    "method",
    nargs="?",
    choices=[m.name for m in SIGNAL_METHODS],
    metavar="METHOD",
    help="one method, as `list` names it (default: all)",
  )
  out(one, "gallery")

  path = command("paths", "draw one 2-D path figure and its animation (or all)")
  path.add_argument(
    "figure",
    nargs="?",
    type=_renamed,
    choices=[f.name for f in PATH_FIGURES],
    metavar="FIGURE",
    help="one figure, as `list` names it without paths/ (default: all)",
  )
  out(path, "gallery")

  figure = command(
    "figure", "draw any figure, or a whole family, of the gallery"
  )
  figure.add_argument(
    "name",
    metavar="NAME",
    type=_renamed,
    help="a figure or a family as `list` names them (e.g. basins, "
    "basins/himmelblau, tuned, training)",
  )
  figure.add_argument(
    "--quick", action="store_true", help="low resolution, fewer lanes"
  )
  out(figure, "gallery")

  train = command(
    "training", "train a Flax MLP on the digits with every optimizer"
  )
  train.add_argument(
    "--quick", action="store_true", help="few epochs, small sweep"
  )
  out(train, "gallery")

  atlas = command("atlas", "tune every optax optimizer on every surface")
  atlas.add_argument(
    "--quick", action="store_true", help="10 optimizers x 6 surfaces, small"
  )
  out(atlas, "atlas")
  atlas.add_argument(
    "--cache",
    type=pathlib.Path,
    default=None,
    help="checkpoints, to resume an interrupted atlas (default: "
    "~/.cache/optax_extras/atlas)",
  )

  models = command(
    "models", "tune optimizers on real models; rank against the atlas"
  )
  models.add_argument(
    "--quick", action="store_true", help="5 optimizers on the digits MLP"
  )
  out(models, "models")
  models.add_argument(
    "--atlas",
    type=pathlib.Path,
    help="an atlas.json to rank against (default: atlas/atlas.json if any)",
  )

  bench = command("benchmark", "run the benchmarks; print tables, write a file")
  bench.add_argument(
    "sections",
    nargs="*",
    metavar="SECTION",
    help="a subset of the benchmarks (default: all), among "
    + ", ".join(benchmarks.SECTIONS),
  )
  bench.add_argument(
    "--quick", action="store_true", help="small sizes, a smoke test"
  )
  bench.add_argument(
    "--file",
    type=pathlib.Path,
    default=pathlib.Path("BENCHMARKS.md"),
    help="the Markdown file to write",
  )
  bench.add_argument(
    "--out",
    type=pathlib.Path,
    dest="old_out",
    metavar="FILE",
    help="deprecated spelling of --file (here a file, not a folder)",
  )
  bench.add_argument(
    "--check",
    action="store_true",
    help="exit with status 1 and a table of the targets missed, if any "
    "(for runs by hand before a release)",
  )

  explore = command(
    "explore", "serve the explorer: steer optimizers on any surface"
  )
  explore.add_argument("--host", default="127.0.0.1", help="address")
  explore.add_argument("--port", type=int, default=8765, help="port (0: any)")
  explore.add_argument(
    "--register",
    action="append",
    default=[],
    metavar="MODULE:FUNCTION",
    help="call FUNCTION of MODULE, which registers or returns landscapes "
    "(repeatable)",
  )

  command("list", "list every family of figures and the command that makes it")
  return parser


def main(argv: list[str] | None = None) -> int:
  parser = _parser()
  args = parser.parse_args(argv)
  if args.command == "list":
    for family, make, members in families():
      print(f"{family}: {make}")
      for name, title in members:
        print(f"  {name:40s} {title}")
    for what, call in OTHER_COMMANDS:
      print(f"{what}: {call}")
    return 0
  if args.command == "explore":
    from experiments.explore import server

    try:
      server.serve(args.host, args.port, args.register)
    except (ValueError, OSError) as error:
      _refuse(f"explore: {error}")
    return 0
  if args.command == "benchmark":
    if args.old_out is not None:
      print(
        "python -m experiments: benchmark --out is deprecated; use --file",
        file=sys.stderr,
      )
      args.file = args.old_out
    args.out = args.file
  keys = None
  if args.command == "figure":
    keys = figure_keys(args.name)
    if keys is None:
      _refuse(
        f"figure: no figure or family {args.name!r}; "
        "`python -m experiments list` names them"
      )
  _check_out(args.command, args.out)
  start = time.perf_counter()
  if args.command == "gallery":
    entries = gallery.build(args.out, quick=args.quick)
    print(
      f"{len(entries)} figures in {time.perf_counter() - start:.1f} s: "
      f"{(args.out / 'index.html').resolve()}"
    )
  elif args.command == "benchmark":
    unknown = set(args.sections) - set(benchmarks.SECTIONS)
    if unknown:
      parser.error(
        f"unknown benchmark(s) {sorted(unknown)}; "
        f"choose from {sorted(benchmarks.SECTIONS)}"
      )
    tables = benchmarks.run(
      args.sections or list(benchmarks.SECTIONS),
      quick=args.quick,
      path=args.file,
    )
    missed = benchmarks.missed(tables)
    if args.check:
      for row in benchmarks.not_run(tables):
        print(f"not checked (--quick): {row}", file=sys.stderr)
      if missed is not None:
        print(missed.markdown(), file=sys.stderr)
        return 1
  elif args.command == "atlas":
    from experiments import atlas

    atlas.build(args.out, quick=args.quick, cache=args.cache or True)
    print(f"{(args.out / 'atlas.html').resolve()}")
  elif args.command == "models":
    from experiments import models

    models.build(args.out, quick=args.quick, atlas=args.atlas)
  elif args.command == "training":
    from experiments import training  # Flax and scikit-learn load only here.

    training.run(args.out / "training", quick=args.quick)
  else:
    if args.command == "signals":
      chosen = [m.name for m in SIGNAL_METHODS if args.method in (None, m.name)]
      keys = [f"signals/{name}" for name in chosen]
    elif args.command == "paths":
      chosen = [f.name for f in PATH_FIGURES if args.figure in (None, f.name)]
      keys = [f"paths/{name}" for name in chosen]
    quick = getattr(args, "quick", False)
    entries = gallery.build(args.out, quick=quick, only=keys)
    print(f"{len(entries)} figures in {args.out}")
  return 0


if __name__ == "__main__":
  # One CPU device per core, so that sweeps use them all; this must happen
  # before JAX starts a backend, so here and not on import.
  jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)
  sys.exit(main())
