"""Command line: `python -m experiments {gallery,signals,paths,training,atlas,benchmark,explore,list}`."""

import argparse
import os
import pathlib
import sys
import tempfile
import time
from typing import NoReturn

import jax

from experiments import gallery
from experiments.catalogue import PATH_FIGURES, SIGNAL_METHODS


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
      f"benchmark --out {out} is a folder; name the Markdown file to write "
      f"(e.g. {out / 'BENCHMARKS.md'})"
    )
  else:
    _check_writable_folder(out.parent, "the folder of benchmark --out")


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
    prog="python -m experiments",
    description="Reproduce the seeds' figures and go beyond them.",
  )
  commands = parser.add_subparsers(dest="command", required=True)

  build = commands.add_parser(
    "gallery", help="draw every figure into a folder with an index.html"
  )
  build.add_argument(
    "--quick",
    action="store_true",
    help="low-resolution pictures, for a fast check",
  )
  build.add_argument(
    "--out",
    type=pathlib.Path,
    default=pathlib.Path("gallery"),
    help="output folder (default: ./gallery)",
  )

  one = commands.add_parser(
    "signals", help="draw the 1-D signal responses of one method (or all)"
  )
  one.add_argument(
    "method", nargs="?", choices=[m.name for m in SIGNAL_METHODS]
  )
  one.add_argument("--out", type=pathlib.Path, default=pathlib.Path("gallery"))

  path = commands.add_parser(
    "paths", help="draw one 2-D path figure and its animation (or all)"
  )
  path.add_argument("figure", nargs="?", choices=[f.name for f in PATH_FIGURES])
  path.add_argument("--out", type=pathlib.Path, default=pathlib.Path("gallery"))

  train = commands.add_parser(
    "training", help="train a Flax MLP on the digits with every optimizer"
  )
  train.add_argument(
    "--quick", action="store_true", help="few epochs, small sweep"
  )
  train.add_argument(
    "--out", type=pathlib.Path, default=pathlib.Path("gallery")
  )

  atlas = commands.add_parser(
    "atlas", help="tune every optax optimizer on every surface (atlas.html)"
  )
  atlas.add_argument(
    "--quick", action="store_true", help="10 optimizers x 6 surfaces, small"
  )
  atlas.add_argument("--out", type=pathlib.Path, default=pathlib.Path("atlas"))

  models = commands.add_parser(
    "models", help="tune optimizers on real models; rank against the atlas"
  )
  models.add_argument("--quick", action="store_true", help="5 x digits MLP")
  models.add_argument(
    "--out", type=pathlib.Path, default=pathlib.Path("models")
  )
  models.add_argument("--atlas", type=pathlib.Path, help="an atlas.json")

  bench = commands.add_parser(
    "benchmark", help="run the benchmarks; print tables, write BENCHMARKS.md"
  )
  bench.add_argument("sections", nargs="*", help="a subset of the benchmarks")
  bench.add_argument(
    "--quick", action="store_true", help="small sizes, a smoke test"
  )
  bench.add_argument(
    "--out", type=pathlib.Path, default=pathlib.Path("BENCHMARKS.md")
  )

  explore = commands.add_parser(
    "explore",
    help="serve the explorer: steer optimizers on any surface in a browser",
  )
  explore.add_argument(
    "--host", default="127.0.0.1", help="address (default: 127.0.0.1)"
  )
  explore.add_argument(
    "--port", type=int, default=8765, help="port (default: 8765; 0: any)"
  )
  explore.add_argument(
    "--register",
    action="append",
    default=[],
    metavar="MODULE:FUNCTION",
    help="call FUNCTION of MODULE, which registers or returns landscapes "
    "(repeatable)",
  )

  commands.add_parser("list", help="list the figures of the catalogue")

  args = parser.parse_args(argv)
  if args.command == "list":
    for method in SIGNAL_METHODS:
      print(f"signals {method.name:32s} {method.title}")
    for figure in PATH_FIGURES:
      print(f"paths   {figure.name:32s} {figure.title}")
    return 0
  if args.command == "explore":
    from experiments.explore import server

    try:
      server.serve(args.host, args.port, args.register)
    except (ValueError, OSError) as error:
      _refuse(f"explore: {error}")
    return 0
  _check_out(args.command, args.out)
  start = time.perf_counter()
  if args.command == "gallery":
    entries = gallery.build(args.out, quick=args.quick)
    print(
      f"{len(entries)} figures in {time.perf_counter() - start:.1f} s: "
      f"{(args.out / 'index.html').resolve()}"
    )
  elif args.command == "benchmark":
    from experiments import benchmarks

    unknown = set(args.sections) - set(benchmarks.SECTIONS)
    if unknown:
      parser.error(
        f"unknown benchmark(s) {sorted(unknown)}; "
        f"choose from {sorted(benchmarks.SECTIONS)}"
      )
    benchmarks.run(
      args.sections or list(benchmarks.SECTIONS),
      quick=args.quick,
      path=args.out,
    )
  elif args.command == "atlas":
    from experiments import atlas

    atlas.build(args.out, quick=args.quick)
    print(f"{(args.out / 'atlas.html').resolve()}")
  elif args.command == "models":
    from experiments import models

    models.build(args.out, quick=args.quick, atlas=args.atlas)
  elif args.command == "training":
    from experiments import training  # Flax and scikit-learn load only here.

    training.run(args.out / "training", quick=args.quick)
  elif args.command == "signals":
    chosen = [m.name for m in SIGNAL_METHODS if args.method in (None, m.name)]
    entries = gallery.build(
      args.out, only=[f"signals/{name}" for name in chosen]
    )
    print(f"{len(entries)} figures in {args.out}")
  else:
    chosen = [f.name for f in PATH_FIGURES if args.figure in (None, f.name)]
    entries = gallery.build(args.out, only=[f"paths/{name}" for name in chosen])
    print(f"{len(entries)} figures in {args.out}")
  return 0


if __name__ == "__main__":
  # One CPU device per core, so that sweeps use them all; this must happen
  # before JAX starts a backend, so here and not on import.
  jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)
  sys.exit(main())
