"""`python -m experiments`: every argument explained, every family reached,
a bad `--out` refused before any work, `benchmark --check`."""

import argparse
import os
import pathlib
import subprocess
import sys

import pytest

from experiments import __main__ as cli
from experiments import atlas, benchmarks, gallery, training

pytestmark = pytest.mark.float32  # The users' default.


@pytest.fixture(autouse=True)
def no_work(monkeypatch):
  """Any command that gets past its checks fails the test."""

  def work(*args, **kwargs):
    raise AssertionError("the command ran")

  monkeypatch.setattr(gallery, "build", work)
  monkeypatch.setattr(benchmarks, "run", work)
  monkeypatch.setattr(training, "run", work)
  monkeypatch.setattr(atlas, "build", work)


def _refused(capsys, argv, *words):
  with pytest.raises(SystemExit) as exit_:
    cli.main(argv)
  assert exit_.value.code == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and err.startswith("python -m experiments: ")
  for word in words:
    assert word in err, err


@pytest.mark.parametrize(
  "command", ["gallery", "signals", "paths", "figure", "training", "atlas"]
)
def test_out_naming_a_file_is_refused(tmp_path, capsys, command):
  file = tmp_path / "taken"
  file.write_text("")
  name = ["basins"] if command == "figure" else []
  _refused(capsys, [command, *name, "--out", str(file)], str(file), "is a file")


def test_out_inside_a_file_is_refused(tmp_path, capsys):
  file = tmp_path / "taken"
  file.write_text("")
  folder = file / "gallery"
  _refused(capsys, ["gallery", "--out", str(folder)], str(folder))


@pytest.mark.skipif(
  os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere"
)
def test_out_in_a_read_only_folder_is_refused(tmp_path, capsys):
  tmp_path.chmod(0o500)
  try:
    _refused(capsys, ["training", "--out", str(tmp_path)], str(tmp_path))
    _refused(capsys, ["gallery", "--out", str(tmp_path / "new")])
  finally:
    tmp_path.chmod(0o700)


@pytest.mark.skipif(
  not pathlib.Path("/proc/self").is_dir(), reason="needs Linux's /proc"
)
def test_out_in_a_folder_that_takes_no_files_is_refused(capsys):
  # Not even root can create a file in /proc.
  _refused(capsys, ["training", "--out", "/proc/self"], "/proc/self")


def test_benchmark_out_naming_a_folder_is_refused(tmp_path, capsys):
  _refused(
    capsys, ["benchmark", "--quick", "--file", str(tmp_path)], "is a folder"
  )


def test_benchmark_out_inside_a_file_is_refused(tmp_path, capsys):
  file = tmp_path / "taken"
  file.write_text("")
  _refused(capsys, ["benchmark", "--file", str(file / "BENCHMARKS.md")])


def test_good_out_gets_past_the_checks(tmp_path):
  with pytest.raises(AssertionError, match="the command ran"):
    cli.main(["gallery", "--out", str(tmp_path / "new" / "gallery")])
  assert (tmp_path / "new" / "gallery").is_dir()
  with pytest.raises(AssertionError, match="the command ran"):
    cli.main(["benchmark", "--file", str(tmp_path / "B.md")])


def test_command_line_prints_one_line_and_exits_2(tmp_path):
  file = tmp_path / "taken"
  file.write_text("")
  process = subprocess.run(
    [sys.executable, "-m", "experiments", "gallery", "--out", str(file)],
    capture_output=True,
    text=True,
    timeout=120,
    cwd=pathlib.Path(__file__).parent.parent,
  )
  assert process.returncode == 2
  assert process.stderr.count("\n") == 1, process.stderr
  assert str(file) in process.stderr and "Traceback" not in process.stderr


def test_atlas_builds_into_its_out_folder(tmp_path, monkeypatch):
  calls = []
  monkeypatch.setattr(
    atlas,
    "build",
    lambda out, quick, cache: calls.append((out, quick, cache)) or [],
  )
  assert cli.main(["atlas", "--quick", "--out", str(tmp_path / "a")]) in (
    0,
    None,
  )
  cli.main(["atlas", "--out", str(tmp_path / "b"), "--cache", str(tmp_path)])
  assert calls == [
    (tmp_path / "a", True, True),
    (tmp_path / "b", False, tmp_path),
  ]


def _actions(parser):
  """(command, action) for every argument of every subcommand."""
  for action in parser._actions:
    if isinstance(action, argparse._SubParsersAction):
      for name, sub in action.choices.items():
        for _, inner in _actions(sub):
          yield name, inner
    else:
      yield "", action


def test_every_argument_has_help_and_shows_its_default():
  parser = cli._parser()
  actions = list(_actions(parser))
  assert len({command for command, _ in actions}) == 11  # 10 and the top.
  for command, action in actions:
    assert action.help, (command, action.dest)
  text = parser._subparsers._group_actions[0].choices["gallery"].format_help()
  assert "output folder (created if missing) (default: gallery)" in text


def test_list_names_every_family_with_its_command(capsys):
  assert cli.main(["list"]) == 0
  lines = capsys.readouterr().out.splitlines()
  heads = [line for line in lines if not line.startswith(" ")]
  wanted = [
    "signals: python -m experiments signals",
    "paths: python -m experiments paths",
    "basins: python -m experiments figure basins",
    "heatmaps: python -m experiments figure heatmaps",
    "tuned comparisons: python -m experiments figure tuned",
    "fans: python -m experiments figure fans",
    "training: python -m experiments figure training",
    "atlas: python -m experiments atlas",
    "models: python -m experiments models",
  ]
  assert heads[: len(wanted)] == wanted
  # Every command of the parser is named with its call.
  calls = {line.split(": ")[1].split()[3] for line in heads}
  subparsers = cli._parser()._subparsers._group_actions[0]
  assert calls == set(subparsers.choices)
  # Every figure listed is one that `figure` draws, and every job is listed.
  names = [line.split()[0] for line in lines if line.startswith("  ")]
  keys = [key for name in names for key in cli.figure_keys(name)]
  assert sorted(keys) == sorted(gallery.job_keys())


def test_figure_draws_a_family_or_one_figure(tmp_path, monkeypatch):
  calls = []
  monkeypatch.setattr(
    gallery,
    "build",
    lambda out, quick, only: calls.append((quick, only)) or [],
  )
  cli.main(["figure", "basins", "--quick", "--out", str(tmp_path)])
  cli.main(["figure", "tuned/hills_and_canyon", "--out", str(tmp_path)])
  cli.main(["figure", "training", "--out", str(tmp_path)])
  assert calls == [
    (True, ["beyond/basins/himmelblau", "beyond/basins/hills_and_canyon"]),
    (False, ["beyond/tuned/hills_and_canyon"]),
    (False, ["training"]),
  ]


def test_figure_refuses_an_unknown_name(tmp_path, capsys):
  _refused(capsys, ["figure", "nope", "--out", str(tmp_path)], "'nope'", "list")


def _tables(met):
  return [
    benchmarks.Table(
      "Speed",
      ("what", "measured", "target", "met"),
      [("small sweep", "7.0 ms", "≤ 5 ms", met), ("no target", "1 s", "", "")],
    ),
    benchmarks.Table(
      "Gallery",
      ("command", "files", "seconds", "target s"),
      [
        ("gallery --quick", "80", "61" if met == "no" else "59", "60"),
        ("gallery", "", "not run (--quick)", "300"),
      ],
    ),
    benchmarks.Table(
      "Explorer",
      ("request", "p50 ms", "p95 ms", "target", "met"),
      [("2 paths", "41.2", "163.5", "p95 ≤ 100 ms", met)],
    ),
  ]


@pytest.mark.parametrize("met", ["yes", "no"])
def test_benchmark_check_fails_with_a_table_of_missed_targets(
  tmp_path, monkeypatch, capsys, met
):
  monkeypatch.setattr(benchmarks, "run", lambda *a, **k: _tables(met))
  argv = ["benchmark", "gallery", "--check", "--file", str(tmp_path / "B.md")]
  code = cli.main(argv)
  err = capsys.readouterr().err
  # What a quick run leaves out is named, never counted as met.
  unchecked = "not checked (--quick): Gallery: gallery\n"
  if met == "yes":
    assert code == 0 and err == unchecked
    return
  assert code == 1
  assert err.startswith(unchecked)
  assert "| Speed | small sweep | 7.0 ms | ≤ 5 ms |" in err
  assert "| Gallery | gallery --quick | 61 s | ≤ 60 s |" in err
  assert (
    "| Explorer | 2 paths | p50 ms 41.2, p95 ms 163.5 | p95 ≤ 100 ms |" in err
  )
  assert "no target" not in err
  # Without --check, the same run succeeds.
  assert cli.main(argv[:2] + argv[3:]) == 0


def test_benchmark_out_is_a_deprecated_spelling_of_file(
  tmp_path, monkeypatch, capsys
):
  paths = []
  monkeypatch.setattr(
    benchmarks, "run", lambda names, quick, path: paths.append(path) or []
  )
  assert cli.main(["benchmark", "--out", str(tmp_path / "B.md")]) == 0
  assert paths == [tmp_path / "B.md"]
  assert "--out is deprecated; use --file" in capsys.readouterr().err


def test_old_figure_names_are_still_accepted(tmp_path, monkeypatch, capsys):
  calls = []
  monkeypatch.setattr(
    gallery,
    "build",
    lambda out, quick, only: calls.append(only) or [],
  )
  cli.main(["paths", "seed003/beale", "--out", str(tmp_path)])
  cli.main(["figure", "paths/seed002/saddle", "--out", str(tmp_path)])
  assert calls == [["paths/tf1_notebook/beale"], ["paths/dl_notes/saddle"]]
  err = capsys.readouterr().err
  assert "'seed003/beale' is now called 'tf1_notebook/beale'" in err
