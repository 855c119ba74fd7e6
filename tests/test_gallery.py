"""The quick gallery runs end to end; every promised picture is real."""

import subprocess

import numpy as np
import pytest
from PIL import Image

from experiments import __main__ as cli
from experiments import gallery
from experiments.catalogue import PATH_FIGURES, SIGNAL_METHODS


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  out = tmp_path_factory.mktemp("gallery")
  return out, gallery.build(out, quick=True)


def test_every_entry_is_a_non_blank_image(built):
  out, entries = built
  pictures = len(SIGNAL_METHODS) * 6 + len(PATH_FIGURES)
  animations = sum(not f.view.coordinates for f in PATH_FIGURES)
  assert len(entries) >= pictures + animations
  for entry in entries:
    if entry.path.endswith(
      ".mp4"
    ):  # Written only when ffmpeg (and ffprobe) exist.
      frames = subprocess.run(
        [
          "ffprobe",
          "-v",
          "error",
          "-count_frames",
          "-select_streams",
          "v:0",
          "-show_entries",
          "stream=nb_read_frames",
          "-of",
          "csv=p=0",
          str(out / entry.path),
        ],
        capture_output=True,
        text=True,
        check=True,
      )
      assert int(frames.stdout) >= 10, entry.path
      continue
    with Image.open(out / entry.path) as image:
      pixels = np.asarray(image.convert("L"))
      frames = getattr(image, "n_frames", 1)
    assert pixels.std() > 5, f"{entry.path} looks blank"
    if entry.path.endswith(".gif"):
      assert frames >= 10, f"{entry.path} has {frames} frames"


def test_index_shows_every_entry_with_its_caption(built):
  out, entries = built
  index = (out / "index.html").read_text(encoding="utf-8")
  for entry in entries:
    assert f"src='{entry.path}'" in index
  assert "Smoothed Nesterov on noisy sin" in index


def test_redraw_uses_saved_results(built, monkeypatch):
  out, _ = built

  def recompute(*args, **kwargs):
    raise AssertionError("saved results were recomputed")

  monkeypatch.setattr(gallery.compute, "signal_responses", recompute)
  assert cli.main(["signals", "adam", "--out", str(out)]) == 0
