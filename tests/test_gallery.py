"""The quick gallery runs end to end; every promised picture is real."""

import html
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from experiments import __main__ as cli
from experiments import catalogue, compute, gallery
from experiments.catalogue import BEYOND_FIGURES, PATH_FIGURES, SIGNAL_METHODS

# The users' default: the gallery asks for float64 where it needs it.
pytestmark = pytest.mark.float32

ROOT = pathlib.Path(__file__).parent.parent
PATHS_BY_KEY = {f"paths/{f.name}": f for f in PATH_FIGURES}
BEYOND_BY_KEY = {f"beyond/{f.name}": f for f in BEYOND_FIGURES}


def _frames_of_mp4(path: pathlib.Path) -> int:
  counted = subprocess.run(
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
      str(path),
    ],
    capture_output=True,
    text=True,
    check=True,
  )
  return int(counted.stdout)


# One family of each kind of figure (signal plots, an animated path, a
# coordinates path, each figure beyond the sources, the training example):
# the whole quick gallery draws the same kinds ~5 times as long.
QUICK_FAMILIES = [
  "signals/smoothed_nesterov",
  "paths/tf1_notebook/quad",
  "paths/dl_notes/coordinates_lr_0.1",
  "beyond/basins/himmelblau",
  "beyond/heatmaps/adam_lr_b1",
  "beyond/tuned/hills_and_canyon",
  "beyond/fans/adam_learning_rate",
  "training",
]


def test_quick_gallery_pictures_are_real_and_indexed(tmp_path):
  kinds = {key.split("/")[0] for key in gallery.job_keys()}
  assert {key.split("/")[0] for key in QUICK_FAMILIES} == kinds
  beyond = {type(f) for f in BEYOND_FIGURES}
  assert {
    type(BEYOND_BY_KEY[k]) for k in QUICK_FAMILIES if k in BEYOND_BY_KEY
  } == beyond
  paths = [PATHS_BY_KEY[k] for k in QUICK_FAMILIES if k in PATHS_BY_KEY]
  assert {f.view.coordinates for f in paths} == {True, False}
  entries = gallery.build(tmp_path, quick=True, only=QUICK_FAMILIES, workers=2)
  assert {entry.key for entry in entries} == set(QUICK_FAMILIES)
  signal_methods = sum(key.startswith("signals/") for key in QUICK_FAMILIES)
  pictures = signal_methods * 6 + len(paths) + len(beyond) + 2
  animations = sum(not f.view.coordinates for f in paths)
  assert len(entries) >= pictures + animations
  for entry in entries:
    if entry.path.endswith(".mp4"):  # Written only when ffmpeg exists.
      assert _frames_of_mp4(tmp_path / entry.path) >= 10, entry.path
      continue
    with Image.open(tmp_path / entry.path) as image:
      pixels = np.asarray(image.convert("L"))
      frames = getattr(image, "n_frames", 1)
      width, height = image.size
    assert pixels.std() > 5, f"{entry.path} looks blank"
    if entry.path.endswith(".gif"):
      assert frames >= 10, f"{entry.path} has {frames} frames"
      assert width > 240 and height > 160, (entry.path, width, height)
    else:
      assert width >= 600, f"{entry.path}: {width} px wide"
  gallery.write_index(entries, tmp_path, quick=True)
  _assert_manifest_lists_every_file(tmp_path, quick=True)

  index = (tmp_path / "index.html").read_text(encoding="utf-8")
  for entry in entries:
    assert f"src='{entry.path}'" in index
  assert "Smoothed Nesterov on noisy sin" in index


def test_redraw_uses_saved_results(tmp_path, monkeypatch):
  gallery.build(tmp_path, only=["signals/adam"])
  _assert_manifest_lists_every_file(tmp_path)

  def recompute(*args, **kwargs):
    raise AssertionError("saved results were recomputed")

  monkeypatch.setattr(gallery.compute, "signal_responses", recompute)
  assert cli.main(["signals", "adam", "--out", str(tmp_path)]) == 0


@pytest.mark.both_precisions
def test_figures_are_computed_in_float64_in_either_mode(precision):
  arrays = compute.signal_responses(SIGNAL_METHODS[0])
  assert arrays["responses"].dtype == np.float64
  assert arrays["signals"].dtype == np.float64
  # And the caller's precision is left as it was.
  assert jnp.zeros(1).dtype == precision


# --- Saved arrays -----------------------------------------------------------


def test_two_runs_saving_the_same_arrays_at_once(tmp_path, monkeypatch):
  path = tmp_path / "data" / "job.npz"
  both_written = threading.Barrier(2, timeout=60)
  savez = np.savez

  def savez_then_wait(file, **arrays):
    savez(file, **arrays)
    both_written.wait()  # Neither run renames before both have written.

  monkeypatch.setattr(np, "savez", savez_then_wait)
  errors = []

  def run(value):
    try:
      compute.cached(path, lambda: {"x": np.full(3, value)})
    except BaseException as error:
      errors.append(error)
      both_written.abort()

  runs = [threading.Thread(target=run, args=(v,)) for v in (1.0, 2.0)]
  for thread in runs:
    thread.start()
  for thread in runs:
    thread.join()
  assert not errors, errors
  assert [p.name for p in path.parent.iterdir()] == ["job.npz"]
  saved = compute.cached(path, lambda: pytest.fail("recomputed"))
  assert saved["x"].tolist() in ([1.0] * 3, [2.0] * 3)


def _write_bad_file(path: pathlib.Path, kind: str) -> None:
  if kind == "garbage":
    path.write_bytes(b"not arrays at all")
  elif kind == "truncated":
    np.savez(path, x=np.arange(1000.0))
    path.write_bytes(path.read_bytes()[:3000])
  else:  # One array (.npy), not an archive of named arrays.
    with path.open("wb") as file:
      np.save(file, np.arange(3.0))


@pytest.mark.parametrize("kind", ["garbage", "truncated", "npy"])
def test_unreadable_saved_arrays_are_computed_again_with_a_warning(
  tmp_path, kind
):
  path = tmp_path / "job.npz"
  _write_bad_file(path, kind)
  with pytest.warns(UserWarning, match=re.escape(str(path))):
    arrays = compute.cached(path, lambda: {"x": np.arange(2.0)})
  assert arrays["x"].tolist() == [0.0, 1.0]
  again = compute.cached(path, lambda: pytest.fail("recomputed"))
  assert again["x"].tolist() == [0.0, 1.0]


# --- Worker processes -------------------------------------------------------


def _stat(pid: int) -> list[str]:
  """Fields of /proc/PID/stat after the command name: state, ppid, ..."""
  text = pathlib.Path(f"/proc/{pid}/stat").read_text()
  return text.rsplit(")", 1)[1].split()


def _workers(parent: int) -> list[int]:
  """The multiprocessing children of `parent`."""
  found = []
  for entry in pathlib.Path("/proc").iterdir():
    try:
      if (
        entry.name.isdigit()
        and int(_stat(int(entry.name))[1]) == parent
        and b"spawn_main" in (entry / "cmdline").read_bytes()
      ):
        found.append(int(entry.name))
    except OSError:  # Gone meanwhile.
      pass
  return found


def _running(pid: int) -> bool:
  try:
    return _stat(pid)[0] not in ("Z", "X")  # Zombies have exited.
  except OSError:
    return False


def _cpu_seconds(pid: int) -> float:
  try:
    fields = _stat(pid)
  except OSError:
    return 0.0
  return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(
  not pathlib.Path("/proc/self/stat").exists() or (os.cpu_count() or 1) < 2,
  reason="reads Linux's /proc; the gallery has workers on 2 cores or more",
)
def test_workers_exit_when_the_gallery_is_killed(tmp_path):
  process = subprocess.Popen(
    [sys.executable, "-m", "experiments", "gallery", "--out", str(tmp_path)],
    cwd=ROOT,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
  )
  workers = []
  try:
    # Wait until both workers are at work (past their imports).
    deadline = time.monotonic() + 180
    while len(workers) < 2 or min(map(_cpu_seconds, workers)) < 4:
      assert process.poll() is None and time.monotonic() < deadline
      time.sleep(0.2)
      workers = _workers(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = time.monotonic()
    while any(map(_running, workers)):
      assert time.monotonic() < killed + 5, "workers outlived the gallery"
      time.sleep(0.1)
  finally:
    process.kill()
    for pid in filter(_running, workers):
      os.kill(pid, signal.SIGKILL)


# --- The front page -----------------------------------------------------------


def _front_page_entries(out: pathlib.Path) -> list[gallery.Entry]:
  """A small gallery of real jobs with stand-in pictures (no computing)."""
  rng = np.random.default_rng(0)

  def picture(path: str, size=(600, 400)) -> str:
    (out / path).parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 255, (size[1] // 20, size[0] // 20, 3), np.uint8)
    image = Image.fromarray(pixels).resize(size, Image.NEAREST)
    if path.endswith(".gif"):
      frames = [image, image.rotate(90), image.rotate(180)]
      frames[0].save(out / path, save_all=True, append_images=frames[1:])
    else:
      image.save(out / path)
    return path

  beyond = "F. Beyond the sources (computed by the sweep engine)"
  entries = [
    gallery.Entry(
      "A. Gradient-signal responses",
      picture(f"signals/adam/{name}.png", (300, 200)),
      f"Adam on {name.replace('_', ' ')} (the Habr article). β1 ∈ {{0.25}}.",
      "signals/adam",
    )
    for name in gallery.signals.SIGNAL_NAMES
  ]
  entries += [
    gallery.Entry(
      "D. The TF1 notebook: TF1 rules",
      picture("paths/tf1_notebook/beale.png"),
      "beale. GD 1e-3; start (1.5, 2), 200 steps.",
      "paths/tf1_notebook/beale",
    ),
    gallery.Entry(
      "D. The TF1 notebook: TF1 rules",
      picture("paths/tf1_notebook/beale.gif"),
      "beale: animation (gif).",
      "paths/tf1_notebook/beale",
    ),
  ]
  for key, caption in (
    (
      "beyond/basins/himmelblau",
      "Himmelblau: which minimum each start reaches. 256 × 256 starts.",
    ),
    (
      "beyond/heatmaps/adam_lr_b1",
      "Adam: learning rate × β1. 96 × 96 settings.",
    ),
    (
      "beyond/fans/nesterov_momentum",
      "Nesterov look-ahead: a fan of momenta. 300 paths.",
    ),
    (
      "beyond/tuned/hills_and_canyon",
      "Hills and canyon: each optimizer tuned. 1024 rates.",
    ),
  ):
    name = key.partition("/")[2]
    entries.append(
      gallery.Entry(beyond, picture(f"{name}.png", (1000, 600)), caption, key)
    )
  entries.append(
    gallery.Entry(
      "E. Learning histories",
      picture("training/histories.png"),
      "Training and validation loss per epoch.",
      "training",
    )
  )
  return entries


def test_front_page_leads_with_what_only_the_engine_shows(tmp_path):
  entries = _front_page_entries(tmp_path)
  page = gallery.write_index(entries, tmp_path, quick=True).read_text()
  order = [
    page.index(f"id='{anchor}'")
    for anchor in (
      "basin-maps",
      "heat-maps",
      "fans",
      "tuned-comparisons",
      "training",
      "paths",
      "signals",
    )
  ]
  assert order == sorted(order)
  # The table of contents: every link lands on a figure, by family and by
  # surface (the basin map under himmelblau, the beale paths under beale).
  links = re.findall(r"href='#([^']+)'", page)
  ids = set(re.findall(r"id='([^']+)'", page))
  assert links and set(links) <= ids
  surfaces = page[page.index("By surface") : page.index("id='basin-maps'")]
  assert "himmelblau" in surfaces and "beale" in surfaces
  for entry in entries:
    assert f"src='{entry.path}'" in page
  # The six signal plots of a method together, as small multiples.
  method = page[page.index("id='f-signals-adam'") :]
  multiples = method[: method.index("</div>")]
  assert multiples.count("<img") == 6
  # Each figure: its saved data and the command that redraws it.
  assert "python -m experiments signals adam" in page
  assert "python -m experiments paths tf1_notebook/beale" in page
  assert "data/beyond/basins/himmelblau_quick.npz" in page
  assert "python -m experiments figure basins/himmelblau --quick" in page
  # The animation plays inline, and the page points to the explorer.
  assert "src='paths/tf1_notebook/beale.gif'" in page
  assert "python -m experiments explore" in page
  # The sources that the captions name, cited in full.
  for name, citation in catalogue.SOURCES:
    assert f"<i>{name}</i>: {html.escape(citation)}" in page


def test_captions_name_their_sources_not_seed_numbers():
  texts = [m.origin for m in catalogue.SIGNAL_METHODS]
  texts += [f.caption for f in catalogue.PATH_FIGURES]
  texts += [f.section for f in catalogue.PATH_FIGURES]
  texts += [f.caption for f in catalogue.BEYOND_FIGURES]
  assert not [text for text in texts if re.search(r"(?i)seed \d", text)]
  names = {name for name, _ in catalogue.SOURCES}
  assert {m.origin for m in catalogue.SIGNAL_METHODS} <= names | {
    f"described in {catalogue.HABR}'s text",
    "beyond the sources",
  }


@pytest.mark.browser
@pytest.mark.slow
def test_front_page_at_phone_and_desktop_widths(tmp_path):
  from tests.test_explore_browser import launched_chromium

  gallery.write_index(_front_page_entries(tmp_path), tmp_path)
  shots = pathlib.Path(os.environ.get("OPTAX_EXTRAS_SCREENSHOTS", tmp_path))
  shots.mkdir(parents=True, exist_ok=True)
  with launched_chromium() as browser:
    for name, width in (("phone", 390), ("desktop", 1280)):
      page = browser.new_page(viewport={"width": width, "height": 900})
      page.goto((tmp_path / "index.html").as_uri())
      height = page.evaluate("() => document.body.scrollHeight")
      for _ in range(0, height + 900, 600):  # Lazy pictures load on sight.
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(20)
      page.wait_for_function(
        "() => [...document.images].every(i => i.complete)", timeout=30_000
      )
      broken = page.evaluate(
        "() => [...document.images].filter(i => !i.naturalWidth)"
        ".map(i => i.getAttribute('src'))"
      )
      assert not broken, broken
      small = page.evaluate(  # Thumbnails readable: at least 240 px wide.
        "() => [...document.images].filter(i => "
        "i.getBoundingClientRect().width < 240).map(i => i.getAttribute('src'))"
      )
      assert not small, f"{name}: thumbnails under 240 px: {small}"
      scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
      assert scroll_width <= width, f"{name}: scrolls sideways"
      page.screenshot(path=str(shots / f"gallery-{name}.png"), full_page=True)
      page.close()


# --- Computing ---------------------------------------------------------------


def test_one_program_runs_each_optimizer_of_a_path_figure_as_alone():
  """`compute.paths` runs a figure's optimizers as lanes of one sweep
  (`compute.one_of`): each path is its optimizer's own, to rounding."""
  import dataclasses

  import jax
  import optax

  import optax_extras
  from experiments.catalogue import PathOptimizer
  from optax_extras import landscapes, sweep

  makers = {
    "momentum": lambda: optax.sgd(0.02, momentum=0.9),
    "look-ahead": lambda: optax_extras.nesterov_lookahead(0.02, 0.9),
    "adam": lambda: optax.adam(0.3),
    "adadelta": lambda: optax_extras.adadelta_bigstart(),
  }
  figure = dataclasses.replace(
    PATH_FIGURES[0],
    landscape="booth",
    num_steps=30,
    optimizers=tuple(PathOptimizer(n, m) for n, m in makers.items()),
  )
  paths = compute.paths(figure)["paths"]
  assert paths.shape == (4, 31, 2)
  with jax.enable_x64(True):
    for path, make in zip(paths, makers.values()):
      alone = sweep(
        make,
        landscapes.get("booth"),
        starts=np.asarray([figure.start]),
        num_steps=30,
        record_every=1,
      ).trajectories[0]
      np.testing.assert_allclose(path, alone, rtol=1e-12, atol=1e-14)
  assert len({path.tobytes() for path in paths}) == 4


def test_signal_responses_for_numeric_values_are_one_program():
  """Swept numbers are traced (one compilation); each value's response is
  the one of its own transform, as `signals.response` gives it."""
  import jax

  from optax_extras import signals

  method = next(m for m in SIGNAL_METHODS if m.name == "nesterov")
  arrays = compute.signal_responses(method)
  with jax.enable_x64(True):
    for value, responses in zip(method.values, arrays["responses"]):
      for signal, response in zip(arrays["signals"], responses):
        alone = -signals.response(method.make(value), jnp.asarray(signal))
        np.testing.assert_allclose(response, alone, rtol=1e-12, atol=1e-15)


# --- Provenance ----------------------------------------------------------------


def _assert_manifest_lists_every_file(out: pathlib.Path, quick=False) -> None:
  """Every file the gallery wrote is in its manifest, with settings."""
  records = json.loads((out / "manifest.json").read_text("utf-8"))
  listed = {f["path"] for r in records.values() for f in r["files"]}
  listed |= {r["data"] for r in records.values()}
  written = {
    p.relative_to(out).as_posix()
    for p in out.rglob("*")
    if p.is_file() and p.name not in ("manifest.json", "index.html")
  }
  assert written == listed
  for key, record in records.items():
    assert record["settings"]["versions"]["optax_extras"], key
    assert record["redraw"] == gallery.redraw_command(key, quick)
    assert all(f["caption"] and f["section"] for f in record["files"])
  entries = gallery.read_manifest(out)
  assert {e.path for e in entries} == {
    f["path"] for r in records.values() for f in r["files"]
  }


def test_manifest_keeps_other_jobs_records(tmp_path):
  one = gallery.Entry("S", "signals/adam/a.png", "caption", "signals/adam")
  other = gallery.Entry("S", "signals/nesterov/a.png", "c", "signals/nesterov")
  gallery.write_manifest([one], tmp_path, quick=False)
  gallery.write_manifest([other], tmp_path, quick=False)
  records = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
  assert set(records) == {"signals/adam", "signals/nesterov"}
  assert records["signals/adam"]["settings"]["method"] == "Adam"


def test_settings_of_every_job_are_json_and_name_surface_and_steps():
  for key in gallery.job_keys():
    found = json.loads(json.dumps(gallery.settings(key, quick=True)))
    assert found["versions"]["jax"], key
    if key.startswith(("paths/", "beyond/")):
      assert found["landscape"] and found["num_steps"] > 0, key
      assert "optimizers" in found or "swept" in found or "x_axis" in found
