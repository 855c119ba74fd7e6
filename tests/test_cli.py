"""`python -m experiments`: a bad `--out` is refused before any work."""

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
  "command", ["gallery", "signals", "paths", "training", "atlas"]
)
def test_out_naming_a_file_is_refused(tmp_path, capsys, command):
  file = tmp_path / "taken"
  file.write_text("")
  _refused(capsys, [command, "--out", str(file)], str(file), "is a file")


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
    capsys, ["benchmark", "--quick", "--out", str(tmp_path)], "is a folder"
  )


def test_benchmark_out_inside_a_file_is_refused(tmp_path, capsys):
  file = tmp_path / "taken"
  file.write_text("")
  _refused(capsys, ["benchmark", "--out", str(file / "BENCHMARKS.md")])


def test_good_out_gets_past_the_checks(tmp_path):
  with pytest.raises(AssertionError, match="the command ran"):
    cli.main(["gallery", "--out", str(tmp_path / "new" / "gallery")])
  assert (tmp_path / "new" / "gallery").is_dir()
  with pytest.raises(AssertionError, match="the command ran"):
    cli.main(["benchmark", "--out", str(tmp_path / "B.md")])


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
