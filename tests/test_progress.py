"""The progress bar moves as the workers finish units, not when jobs end."""

import concurrent.futures
import multiprocessing
import pathlib
import time

from experiments import gallery, progress


def _three_units(gate: str) -> int:
  """A worker's job of 3 units: one reported, then waits for `gate`."""
  with progress.job(3):
    progress.report()
    deadline = time.monotonic() + 60
    while not pathlib.Path(gate).exists() and time.monotonic() < deadline:
      time.sleep(0.01)
    progress.report()
  return 1  # The third unit: reported by `job` at its end.


def test_the_bar_moves_before_a_workers_job_ends(tmp_path):
  gate = tmp_path / "gate"
  with progress.Progress(3, "test", "unit", disable=True) as bar:
    with concurrent.futures.ProcessPoolExecutor(
      1,
      mp_context=multiprocessing.get_context("spawn"),
      initializer=bar.initializer,
      initargs=bar.initargs,
    ) as pool:
      future = pool.submit(_three_units, str(gate))
      # The first unit arrives while the job is still running.
      assert bar.wait_for(1, timeout=60)
      assert not future.done() and bar.n == 1
      gate.touch()
      future.result()
  assert bar.n == bar.total == 3


def test_a_job_reports_its_units_exactly_once_in_all():
  with progress.Progress(5, "test", "unit", disable=True) as bar:
    with progress.job(2):  # Reports nothing itself: 2 at its end.
      pass
    with progress.job(3):  # Reports more than its units: clipped to 3.
      progress.report(2)
      progress.report(4)
  assert bar.n == bar.total == 5
  progress.report()  # Outside a Progress: nothing, no error.


def test_the_gallery_counts_sweeps():
  keys = gallery.job_keys()
  total = sum(gallery.units(key) for key in keys)
  # A basin map and a tuned comparison count a sweep per optimizer.
  assert total > len(keys)
  counted = 0
  for key in keys:
    figure = gallery._BEYOND_FIGURES.get(key.partition("/")[2])
    if isinstance(figure, (gallery.BasinFigure, gallery.TunedFigure)):
      assert gallery.units(key) == len(figure.optimizers)
      counted += 1
  assert counted
