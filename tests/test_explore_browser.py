"""The explorer in a real browser: Playwright driving the system Chromium.

Skipped, with the reason, where Playwright or Chromium is missing (Debian:
``apt-get install chromium``), except under ``OPTAX_EXTRAS_REQUIRE_BROWSER=1``
(.ci/run installs Chromium and sets it), where that fails. Screenshots go to
``$OPTAX_EXTRAS_SCREENSHOTS`` if set, else to the test's temporary folder.
"""

import contextlib
import json
import os
import pathlib
import shutil

import pytest

from experiments.explore import server
from optax_extras import landscapes

pytestmark = [pytest.mark.float32, pytest.mark.browser, pytest.mark.slow]


def chromium() -> str | None:
  """The system Chromium: $CHROMIUM, else chromium or chromium-browser."""
  for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
    if name and (found := shutil.which(name)):
      return found
  return None


@contextlib.contextmanager
def launched_chromium():
  """The system Chromium under Playwright; skips the test where either is
  missing (fails instead under ``OPTAX_EXTRAS_REQUIRE_BROWSER=1``, as in CI).
  """
  require = os.environ.get("OPTAX_EXTRAS_REQUIRE_BROWSER")
  missing = pytest.fail if require else pytest.skip
  try:
    from playwright import sync_api
  except ImportError:
    missing("Playwright for Python is not installed (pip install -e '.[test]')")
  executable = chromium()
  if executable is None:
    missing(
      "no Chromium on this machine: apt-get install chromium (Debian) to "
      "run the browser tests"
    )
  with sync_api.sync_playwright() as playwright:
    browser = playwright.chromium.launch(
      executable_path=executable, args=["--no-sandbox"]
    )
    try:
      yield browser
    finally:
      browser.close()


@pytest.fixture(scope="module")
def browser():
  with launched_chromium() as launched:
    yield launched


@pytest.fixture(scope="module")
def explorer():
  running, thread = server.start()
  yield running
  running.shutdown()
  running.server_close()
  thread.join(10)


@pytest.fixture
def screenshots(tmp_path) -> pathlib.Path:
  folder = pathlib.Path(os.environ.get("OPTAX_EXTRAS_SCREENSHOTS", tmp_path))
  folder.mkdir(parents=True, exist_ok=True)
  return folder


def _points(page, lane: int) -> str:
  return page.get_attribute(f"polyline.path[data-lane='{lane}']", "points")


def test_steer_an_optimizer(browser, explorer, screenshots):
  # bypass_csp: Playwright's waits evaluate script text, which the page's
  # Content-Security-Policy (script-src 'self') refuses, rightly.
  page = browser.new_page(
    viewport={"width": 1200, "height": 1000}, bypass_csp=True
  )
  errors = []
  page.on("pageerror", lambda error: errors.append(str(error)))
  page.goto(explorer.url)
  page.wait_for_selector("body[data-ready=true]", timeout=60_000)

  page.select_option("#landscape", "himmelblau")
  page.select_option(".card select.optimizer", "optax.adam")
  page.wait_for_function(
    "() => document.querySelector('#settings').textContent"
    ".includes('himmelblau · optax.adam(')",
    timeout=60_000,
  )
  assert page.locator("polyline.path").count() == 1  # The default start.
  # The map's axes, labelled, ticked over himmelblau's bounds [-5, 5]².
  assert landscapes.get("himmelblau").bounds == ((-5.0, 5.0), (-5.0, 5.0))
  assert page.text_content("#x-label") == "x"
  assert page.text_content("#y-label") == "y"
  for axis in ("#x-ticks", "#y-ticks"):
    ticks = page.locator(f"{axis} span").all_text_contents()
    assert ticks == ["-5", "-2.5", "0", "2.5", "5"], ticks
  assert page.text_content("#colourbar-label") == "loss (log scale)"
  assert len(page.locator("#colourbar-ticks span").all_text_contents()) == 5

  # Typing a step count is debounced: "400" asks for 400, not 4 and 40.
  asked = []
  page.on(
    "request",
    lambda r: (
      r.url.endswith("/api/paths")
      and asked.append(json.loads(r.post_data)["num_steps"])
    ),
  )
  page.fill("#steps", "")
  page.type("#steps", "400", delay=60)
  page.wait_for_function(
    "() => document.querySelector('#settings').textContent.includes('400')",
    timeout=60_000,
  )
  assert asked and set(asked) == {400}, asked

  # Click a start point: a second path is drawn from it.
  page.click("#overlay", position={"x": 150, "y": 420})
  page.wait_for_function(
    "() => document.querySelectorAll('polyline.path').length === 2",
    timeout=60_000,
  )
  assert page.locator("circle.start").count() == 2
  before = _points(page, 1)
  assert len(before.split()) > 10

  # Drag the learning-rate slider: the path changes.
  slider = page.locator("input[data-name=learning_rate]").bounding_box()
  y = slider["y"] + slider["height"] / 2
  page.mouse.move(slider["x"] + 0.5 * slider["width"], y)
  page.mouse.down()
  page.mouse.move(slider["x"] + 0.85 * slider["width"], y, steps=8)
  page.mouse.up()
  page.wait_for_function(
    "(before) => { const p = document.querySelector("
    "\"polyline.path[data-lane='1']\"); return p && "
    "p.getAttribute('points') !== before; }",
    arg=before,
    timeout=60_000,
  )
  rate = float(page.text_content(".card .slider output"))
  assert rate > 0.1  # The default; the slider moved right (log scale).
  # The view and its Python settle on the slider's last value.
  page.wait_for_function(
    "(text) => document.querySelector('#python').textContent.includes(text)",
    arg=f"'learning_rate': np.array([{rate}], np.float32)",
    timeout=60_000,
  )
  python = page.text_content("#python")
  assert "optax_extras.sweep(" in python and "optax.adam" in python
  page.screenshot(path=str(screenshots / "explorer-paths.png"), full_page=True)

  # Fan mode: one hyperparameter as a range, many paths.
  page.check("input[value=fan]")
  page.wait_for_function(
    "() => document.querySelectorAll('polyline.path').length === 96",
    timeout=60_000,
  )
  assert "geomspace(" in page.text_content("#python")
  page.screenshot(path=str(screenshots / "explorer-fan.png"), full_page=True)

  # Basin mode: the map, then a click draws that start's path.
  page.check("input[value=basins]")
  page.wait_for_function(
    "() => document.querySelector('#status').textContent"
    ".startsWith('basin map: 128')",
    timeout=60_000,
  )
  # Its colour bar names each class: the minima, none, diverged.
  classes = page.locator("#colourbar-ticks span").all_text_contents()
  assert classes[0] == "(3,2)" and classes[-2:] == ["none", "diverged"]
  assert page.text_content("#colourbar-label") == "ends at"
  page.click("#overlay", position={"x": 300, "y": 300})
  page.wait_for_selector("polyline.path", timeout=60_000)
  page.screenshot(path=str(screenshots / "explorer-basins.png"), full_page=True)
  assert not errors, errors
  page.close()


def test_phone_width(browser, explorer, screenshots):
  page = browser.new_page(
    viewport={"width": 390, "height": 844}, bypass_csp=True
  )
  page.goto(explorer.url)
  page.wait_for_selector("polyline.path", timeout=60_000)
  page.wait_for_function(
    "() => document.querySelector('#python').textContent.length > 100",
    timeout=60_000,
  )
  width = page.evaluate("() => document.documentElement.scrollWidth")
  assert width <= 390, f"the page scrolls sideways ({width} px)"
  # The code block, the map, its axes and colour bar fit the screen (the
  # code scrolls inside its block).
  for selector in ("#python", "#figure", "#plot", "#colourbar", "#x-ticks"):
    box = page.locator(selector).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (selector, box)
  assert page.locator("#plot").bounding_box()["width"] >= 250
  assert len(page.locator("#x-ticks span").all_text_contents()) >= 3
  page.screenshot(path=str(screenshots / "explorer-phone.png"), full_page=True)
  page.close()
