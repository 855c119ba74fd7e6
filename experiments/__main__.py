"""Command line: `python -m experiments {gallery,signals,list} ...`."""

import argparse
import pathlib
import sys
import time

from experiments import gallery
from experiments.catalogue import SIGNAL_METHODS


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      prog="python -m experiments",
      description="Reproduce the seeds' figures and go beyond them.")
  commands = parser.add_subparsers(dest="command", required=True)

  build = commands.add_parser(
      "gallery", help="draw every figure into a folder with an index.html")
  build.add_argument("--quick", action="store_true",
                     help="low-resolution pictures, for a fast check")
  build.add_argument("--out", type=pathlib.Path, default=pathlib.Path("gallery"),
                     help="output folder (default: ./gallery)")

  one = commands.add_parser(
      "signals", help="draw the 1-D signal responses of one method (or all)")
  one.add_argument("method", nargs="?", choices=[m.name for m in SIGNAL_METHODS])
  one.add_argument("--out", type=pathlib.Path, default=pathlib.Path("gallery"))

  commands.add_parser("list", help="list the figure families of the catalogue")

  args = parser.parse_args(argv)
  if args.command == "list":
    for method in SIGNAL_METHODS:
      print(f"signals {method.name:24s} {method.title}")
    return 0
  start = time.perf_counter()
  if args.command == "gallery":
    entries = gallery.build(args.out, quick=args.quick)
    print(f"{len(entries)} figures in {time.perf_counter() - start:.1f} s: "
          f"{(args.out / 'index.html').resolve()}")
  else:
    chosen = [m for m in SIGNAL_METHODS if args.method in (None, m.name)]
    for method in chosen:
      gallery.signal_family(method, args.out, dpi=100)
    print(f"{6 * len(chosen)} figures in {args.out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
