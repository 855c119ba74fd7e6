"""The explorer's API, in process: every endpoint, limit and bad input, the
numbers against `optax_extras.sweep`, "copy as Python" run, and a load."""

import concurrent.futures
import http.client
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.request

import jax
import numpy as np
import optax
import pytest

import optax_extras
from experiments import __main__ as cli
from experiments.explore import api, bench, server, snippets
from experiments.explore import optimizers as registry
from optax_extras import landscapes

pytestmark = pytest.mark.float32  # The users' default, as the server runs.


@pytest.fixture(scope="module")
def explorer():
  running, thread = server.start()
  yield running
  running.shutdown()
  running.server_close()
  thread.join(10)


def _request(
  explorer, method, path, body=None, *, headers=None, raw: bytes | None = None
):
  """(status, decoded JSON or bytes) of one request on a new connection."""
  host, port = explorer.server_address[:2]
  connection = http.client.HTTPConnection(host, port, timeout=60)
  data = raw if raw is not None else None
  if body is not None:
    data = json.dumps(body).encode()
  sent = {"Content-Type": "application/json"} if data is not None else {}
  sent.update(headers or {})
  connection.request(method, path, body=data, headers=sent)
  response = connection.getresponse()
  payload = response.read()
  connection.close()
  if response.getheader("Content-Type", "").startswith("application/json"):
    payload = json.loads(payload)
  return response.status, payload


def post(explorer, path, body, **kwargs):
  return _request(explorer, "POST", path, body, **kwargs)


def _sweep(name, landscape, grid, starts, num_steps, record_every):
  return optax_extras.sweep(
    registry.get(name).make,
    landscapes.get(landscape),
    grid={k: np.asarray(v, np.float64).astype(np.float32) for k, v in grid},
    starts=np.asarray(starts, np.float64).astype(np.float32),
    num_steps=num_steps,
    record_every=record_every,
    progress=False,
  )


def _run(code: str) -> dict:
  """Runs "copy as Python" text (tests only: the server never runs code)."""
  namespace = {}
  exec(compile(code, "<copy as Python>", "exec"), namespace)
  return namespace


# --- Options and surfaces ------------------------------------------------------


def test_options_list_every_landscape_and_optimizer(explorer):
  status, options = _request(explorer, "GET", "/api/options")
  assert status == 200
  assert options["landscapes"] == list(landscapes.names())
  assert options["surfaces"]["himmelblau"]["minima"][0] == [3.0, 2.0]
  names = [o["name"] for o in options["optimizers"]]
  assert names == list(registry.names())
  assert {"optax.adam", "adam_calibrated", "nesterov_lookahead"} <= set(names)
  for optimizer in options["optimizers"]:
    for h in optimizer["hyperparameters"]:
      assert set(h) == {"name", "default", "low", "high", "log"}
      assert h["low"] <= h["default"] <= h["high"]
  rate = options["optimizers"][names.index("optax.adam")]["hyperparameters"][0]
  assert rate["name"] == "learning_rate" and rate["log"]
  assert options["limits"] == explorer.limits()
  assert options["limits"]["num_steps"] == api.MAX_STEPS == 10_000
  assert options["limits"]["lanes"] == 100_000
  assert options["limits"]["surface_resolution"] == api.MAX_SURFACE == 512
  assert options["limits"]["body_bytes"] == server.MAX_BODY
  assert options["limits"]["connections"] == server.MAX_CONNECTIONS


@pytest.mark.slow
def test_the_reported_limits_are_the_applied_ones(explorer):
  limits = _request(explorer, "GET", "/api/options")[1]["limits"]
  top = limits["surface_resolution"]
  for resolution, status in ((top, 200), (top + 1, 400)):
    query = f"/api/surface?landscape=booth&resolution={resolution}"
    assert _request(explorer, "GET", query)[0] == status
  top = limits["resolution"]
  body = {**_BASIN, "resolution": top + 1}
  status, answer = post(explorer, "/api/basins", body)
  assert status == 400 and f"[2, {top}]" in answer["error"]


def test_surface_grid(explorer):
  status, surface = _request(
    explorer, "GET", "/api/surface?landscape=booth&resolution=5"
  )
  assert status == 200 and surface["resolution"] == 5
  xs = np.linspace(-3.0, 6.0, 5, dtype=np.float32)
  x, y = np.meshgrid(xs, xs)
  expected = landscapes.get("booth").fn(x, y)
  np.testing.assert_allclose(
    np.reshape(surface["values"], (5, 5)), expected, rtol=1e-6
  )
  assert surface["min"] == pytest.approx(float(np.min(expected)), rel=1e-6)


def test_page_and_static_files(explorer):
  status, page = _request(explorer, "GET", "/")
  assert status == 200 and b"/static/explorer.js" in page
  assert b"https://" not in page  # Works offline: nothing from elsewhere.
  for name in ("explorer.js", "explorer.css"):
    status, text = _request(explorer, "GET", f"/static/{name}")
    assert status == 200 and len(text) > 500
    assert b"http://" not in text.replace(b"http://www.w3.org", b"")
  assert _request(explorer, "GET", "/static/../server.py")[0] == 404
  assert _request(explorer, "GET", "/static/api.py")[0] == 404


# --- Paths: the sweep's numbers ------------------------------------------------


@pytest.mark.parametrize(
  "optimizer, landscape",
  [("optax.adam", "himmelblau"), ("smoothed_nesterov", "wobbly")],
)
def test_paths_equal_sweep_bit_for_bit(explorer, optimizer, landscape):
  starts = [[0.5, 0.25], [-1.0, 2.0]]
  rate = registry.get(optimizer).hyperparameters[0].default
  status, answer = post(
    explorer,
    "/api/paths",
    {
      "landscape": landscape,
      "optimizer": optimizer,
      "hyperparams": {"learning_rate": rate},
      "starts": starts,
      "num_steps": 37,
      "record_every": 5,
    },
  )
  assert status == 200, answer
  grid = [
    (h.name, [rate if h.name == "learning_rate" else h.default])
    for h in registry.get(optimizer).hyperparameters
  ]
  result = _sweep(optimizer, landscape, grid, starts, 37, 5)
  paths = np.asarray(answer["paths"], np.float32)
  assert paths.shape == (2, 37 // 5 + 1, 2)
  np.testing.assert_array_equal(paths, result.trajectories.reshape(2, -1, 2))
  np.testing.assert_array_equal(
    np.asarray(answer["losses"], np.float32),
    result.trajectory_loss.reshape(2, -1),
  )
  np.testing.assert_array_equal(
    answer["divergence_step"], result.divergence_step.reshape(2)
  )


def test_fan_of_a_range_and_a_list_in_grid_order(explorer):
  body = {
    "landscape": "booth",
    "optimizer": "optax.sgd_momentum",
    "hyperparams": {
      "learning_rate": {"from": 0.001, "to": 0.05, "count": 5, "log": True},
      "momentum": [0.0, 0.5, 0.9],
    },
    "starts": [[0.0, 0.0], [4.0, -2.0]],
    "num_steps": 20,
  }
  status, answer = post(explorer, "/api/paths", body)
  assert status == 200, answer
  assert answer["grid_shape"] == [5, 3] and len(answer["paths"]) == 30
  assert answer["record_every"] == 1
  rates = np.geomspace(0.001, 0.05, 5).astype(np.float32)
  np.testing.assert_array_equal(answer["grid"]["learning_rate"], rates)
  result = _sweep(
    "optax.sgd_momentum",
    "booth",
    [("learning_rate", rates), ("momentum", [0.0, 0.5, 0.9])],
    body["starts"],
    20,
    1,
  )
  np.testing.assert_array_equal(
    np.asarray(answer["paths"], np.float32),
    result.trajectories.reshape(30, 21, 2),
  )
  # "Copy as Python" gives the same paths.
  namespace = _run(answer["python"])
  np.testing.assert_array_equal(namespace["paths"], result.trajectories)


def test_thousands_of_lanes_in_one_request(explorer):
  count = 4097  # More than a block of lanes on a CPU.
  status, answer = post(
    explorer,
    "/api/paths",
    {
      "landscape": "quad",
      "optimizer": "optax.sgd",
      "hyperparams": {
        "learning_rate": {"from": 0.01, "to": 0.1, "count": count}
      },
      "starts": [[1.0, 1.0]],
      "num_steps": 3,
    },
  )
  assert status == 200, answer
  paths = np.asarray(answer["paths"])
  assert paths.shape == (count, 4, 2)
  rates = np.linspace(0.01, 0.1, count).astype(np.float32)
  # sgd on x² + 4y² from (1, 1): x_t = (1 - 2 lr)^t.
  np.testing.assert_allclose(paths[:, 3, 0], (1 - 2 * rates) ** 3, rtol=1e-5)


_COMPILATIONS = []


@pytest.fixture(scope="module")
def compilations():
  """A function counting XLA compilations in this process so far."""
  if not _COMPILATIONS:  # One listener for the process (none can be removed).
    _COMPILATIONS.append(0)

    def listener(event, duration, **kwargs):
      if event == "/jax/core/compile/backend_compile_duration":
        _COMPILATIONS[0] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
  return lambda: _COMPILATIONS[0]


def test_a_new_rate_or_step_count_compiles_nothing(explorer, compilations):
  # The sweep's functions are the registries' objects, the rate a grid value
  # and the step count a runtime value (records sized for MAX_STEPS): after
  # one request, dragging either slider finds jit's program.
  def drag(rate, num_steps):
    status, answer = post(
      explorer,
      "/api/paths",
      {
        "landscape": "rosenbrock",
        "optimizer": "adam_calibrated",
        "hyperparams": {"learning_rate": rate, "b1": 0.8},
        "starts": [[-1.2, 1.0], [0.5, 0.5], [1.5, 2.0]],
        "num_steps": num_steps,
      },
    )
    assert status == 200, answer
    assert len(answer["paths"][0]) == num_steps + 1
    return answer["paths"]

  first = drag(0.01, 50)
  compiled = compilations()
  for rate, num_steps in ((0.02, 50), (0.05, 80), (0.1, 7), (0.3, 2000)):
    assert drag(rate, num_steps) != first
  assert compilations() == compiled
  # As a fresh sweep of the same request gives (another program).
  np.testing.assert_array_equal(
    np.asarray(drag(0.05, 80), np.float32),
    _sweep(
      "adam_calibrated",
      "rosenbrock",
      [("learning_rate", [0.05]), ("b1", [0.8]), ("b2", [0.999])]
      + [("eps", [1e-8])],
      [[-1.2, 1.0], [0.5, 0.5], [1.5, 2.0]],
      80,
      1,
    ).trajectories.reshape(3, 81, 2),
  )


def test_a_basin_map_with_a_new_rate_or_step_count_compiles_nothing(
  explorer, compilations
):
  def basin(rate, num_steps):
    body = {
      "landscape": "himmelblau",
      "optimizer": "optax.sgd",
      "hyperparams": {"learning_rate": rate},
      "num_steps": num_steps,
      "resolution": 16,
    }
    status, answer = post(explorer, "/api/basins", body)
    assert status == 200, answer
    return answer["final_loss"]

  first = basin(0.01, 30)
  compiled = compilations()
  assert basin(0.02, 30) != first and basin(0.01, 45) != first
  assert compilations() == compiled


def test_hundreds_of_paths_size_their_records_for_fewer_steps():
  assert api._max_steps(3, 50, 1) == api.MAX_STEPS
  assert api._max_steps(100, 125, 1) == api.MAX_STEPS
  assert api._max_steps(300, 125, 1) == 128
  assert api._max_steps(300, 128, 1) == 128
  assert api._max_steps(100_000, 10, 2) == 16
  for lanes, steps, every in ((4096, 300, 1), (100_000, 9_000, 9_000)):
    chosen = api._max_steps(lanes, steps, every)
    assert chosen >= steps
    assert lanes * (chosen // every + 2) <= max(
      api.MAX_RECORDS, lanes * (steps // every + 2)
    )


def test_paths_record_fewer_points_when_many(explorer, monkeypatch):
  monkeypatch.setattr(api, "MAX_POINTS", 1000)
  status, answer = post(
    explorer,
    "/api/paths",
    {
      "landscape": "quad",
      "optimizer": "optax.sgd",
      "starts": [[1.0, 1.0]] * 10,
      "num_steps": 500,
    },
  )
  assert status == 200, answer
  records = len(answer["paths"][0])
  assert records == 500 // answer["record_every"] + 1
  assert 10 * records <= 1000 < 10 * (500 // (answer["record_every"] - 1) + 1)


def test_settings_state_the_view(explorer):
  status, answer = post(
    explorer,
    "/api/paths",
    {
      "landscape": "booth",
      "optimizer": "heavy_ball",
      "hyperparams": {"decay": 0.5},
      "starts": [[1.0, -2.0]],
      "num_steps": 4,
    },
  )
  assert status == 200
  assert answer["settings"] == {
    "landscape": "booth",
    "optimizer": "heavy_ball",
    "hyperparams": {"learning_rate": [0.01], "decay": [0.5]},
    "starts": [[1.0, -2.0]],
    "num_steps": 4,
    "record_every": 1,
  }
  assert "(0.0,)" in answer["python"]  # The look-ahead of heavy ball.


# --- Basins ---------------------------------------------------------------------


def test_basin_map_and_its_python(explorer):
  body = {
    "landscape": "himmelblau",
    "optimizer": "optax.adam",
    "hyperparams": {"learning_rate": 0.1},
    "num_steps": 100,
    "resolution": 12,
  }
  status, answer = post(explorer, "/api/basins", body)
  assert status == 200, answer
  labels = np.asarray(answer["labels"]).reshape(12, 12)
  assert set(np.unique(labels)) <= {-2, -1, 0, 1, 2, 3}
  assert len(set(labels.ravel()) & {0, 1, 2, 3}) == 4  # Four basins.
  assert answer["bounds"] == [[-5.0, 5.0], [-5.0, 5.0]]
  namespace = _run(answer["python"])
  np.testing.assert_array_equal(namespace["labels"], labels)
  np.testing.assert_array_equal(
    np.asarray(answer["final_loss"], np.float32),
    namespace["result"].final_loss.reshape(-1),
  )
  # A start of the map, as paths: its final point is where the map says.
  starts = api.basin_starts(((-5.0, 5.0), (-5.0, 5.0)), 12)
  status, path = post(
    explorer,
    "/api/paths",
    {
      **{k: body[k] for k in ("landscape", "optimizer", "hyperparams")},
      "num_steps": 100,
      "starts": [starts[3, 7].tolist()],
    },
  )
  np.testing.assert_array_equal(
    np.asarray(path["paths"][0][-1], np.float32),
    namespace["result"].final_params.reshape(12, 12, 2)[3, 7],
  )


def test_basins_of_a_surface_without_minima_and_custom_bounds(explorer):
  status, answer = post(
    explorer,
    "/api/basins",
    {
      "landscape": "saddle",
      "optimizer": "optax.sgd",
      "hyperparams": {"learning_rate": 0.5},
      "num_steps": 200,
      "resolution": 4,
      "bounds": [[-1, 1], [-0.5, 0.5]],
    },
  )
  assert status == 200, answer
  assert answer["minima"] == [] and answer["bounds"] == [[-1, 1], [-0.5, 0.5]]
  # Off the x axis, y runs away (diverges); nothing reaches a minimum.
  assert set(answer["labels"]) <= {-1, -2} and -2 in answer["labels"]


# --- Bad input: 400 naming the field, and the server serves on ----------------

_GOOD = {
  "landscape": "booth",
  "optimizer": "optax.sgd",
  "starts": [[0.0, 0.0]],
  "num_steps": 5,
}
_BASIN = {"landscape": "booth", "optimizer": "optax.sgd", "num_steps": 5}


def _with(base, **changes):
  body = {**base, **changes}
  return {k: v for k, v in body.items() if v is not _DROP}


_DROP = object()

BAD = [
  ("/api/paths", [1, 2], "body"),
  ("/api/paths", _with(_GOOD, extra=1), "extra"),
  ("/api/paths", _with(_GOOD, landscape=_DROP), "landscape"),
  ("/api/paths", _with(_GOOD, landscape="nowhere"), "landscape"),
  ("/api/paths", _with(_GOOD, landscape=3), "landscape"),
  ("/api/paths", _with(_GOOD, optimizer="__import__('os')"), "optimizer"),
  ("/api/paths", _with(_GOOD, optimizer=_DROP), "optimizer"),
  ("/api/paths", _with(_GOOD, hyperparams=[0.1]), "hyperparams"),
  ("/api/paths", _with(_GOOD, hyperparams={"b1": 0.9}), "hyperparams.b1"),
  (
    "/api/paths",
    _with(_GOOD, hyperparams={"learning_rate": "0.1"}),
    "hyperparams.learning_rate",
  ),
  (
    "/api/paths",
    _with(_GOOD, hyperparams={"learning_rate": True}),
    "hyperparams.learning_rate",
  ),
  (
    "/api/paths",
    _with(_GOOD, hyperparams={"learning_rate": 100.0}),
    "hyperparams.learning_rate",
  ),
  (
    "/api/paths",
    _with(_GOOD, hyperparams={"learning_rate": -0.1}),
    "hyperparams.learning_rate",
  ),
  (
    "/api/paths",
    _with(_GOOD, hyperparams={"learning_rate": []}),
    "hyperparams.learning_rate",
  ),
  (
    "/api/paths",
    _with(_GOOD, hyperparams={"learning_rate": [0.1, "x"]}),
    "hyperparams.learning_rate[1]",
  ),
  (
    "/api/paths",
    _with(_GOOD, hyperparams={"learning_rate": {"from": 0.1, "count": 3}}),
    "hyperparams.learning_rate.to",
  ),
  (
    "/api/paths",
    _with(
      _GOOD,
      hyperparams={"learning_rate": {"from": 0.1, "to": 1, "count": 0}},
    ),
    "hyperparams.learning_rate.count",
  ),
  (
    "/api/paths",
    _with(
      _GOOD,
      hyperparams={
        "learning_rate": {"from": 0.1, "to": 1, "count": 2, "log": "yes"}
      },
    ),
    "hyperparams.learning_rate.log",
  ),
  (
    "/api/paths",
    _with(
      _GOOD,
      hyperparams={
        "learning_rate": {"from": 0.1, "to": 1, "count": 2, "step": 1}
      },
    ),
    "hyperparams.learning_rate.step",
  ),
  (
    "/api/paths",
    _with(
      _GOOD,
      optimizer="optax.sgd_momentum",
      hyperparams={"momentum": {"from": 0, "to": 0.5, "count": 3, "log": True}},
    ),
    "hyperparams.momentum.from",
  ),
  ("/api/paths", _with(_GOOD, starts=[]), "starts"),
  ("/api/paths", _with(_GOOD, starts=[[0.0]]), "starts[0]"),
  ("/api/paths", _with(_GOOD, starts=[[0, 0], [1, "2"]]), "starts[1].y"),
  ("/api/paths", _with(_GOOD, starts=[[1e40, 0]]), "starts[0].x"),
  ("/api/paths", _with(_GOOD, starts="0,0"), "starts"),
  ("/api/paths", _with(_GOOD, num_steps=0), "num_steps"),
  ("/api/paths", _with(_GOOD, num_steps=10_001), "num_steps"),
  ("/api/paths", _with(_GOOD, num_steps=5.0), "num_steps"),
  ("/api/paths", _with(_GOOD, num_steps=True), "num_steps"),
  ("/api/paths", _with(_GOOD, num_steps=_DROP), "num_steps"),
  ("/api/paths", _with(_GOOD, record_every=0), "record_every"),
  ("/api/paths", _with(_GOOD, record_every=6), "record_every"),
  (
    "/api/paths",
    _with(
      _GOOD,
      hyperparams={"learning_rate": {"from": 0.01, "to": 0.1, "count": 50_001}},
      starts=[[0, 0], [1, 1]],
    ),
    "starts",
  ),
  (
    "/api/paths",
    _with(_GOOD, starts=[[0, 0]] * 200, num_steps=10_000, record_every=1),
    "record_every",
  ),
  ("/api/basins", _with(_BASIN, starts=[[0, 0]]), "starts"),
  ("/api/basins", _with(_BASIN, resolution=1), "resolution"),
  ("/api/basins", _with(_BASIN, resolution=257), "resolution"),
  ("/api/basins", _with(_BASIN, num_steps=10_001), "num_steps"),
  (
    "/api/basins",
    _with(_BASIN, hyperparams={"learning_rate": [0.1, 0.2]}),
    "hyperparams.learning_rate",
  ),
  ("/api/basins", _with(_BASIN, bounds=[[0, 1]]), "bounds"),
  ("/api/basins", _with(_BASIN, bounds=[[0, 1], [2, 1]]), "bounds.y"),
  ("/api/basins", _with(_BASIN, bounds=[[0, 1], [0, None]]), "bounds.y"),
  ("/api/basins", _with(_BASIN, landscape=["booth"]), "landscape"),
]


@pytest.mark.parametrize("path, body, field", BAD)
def test_bad_input_is_refused_naming_the_field(explorer, path, body, field):
  status, answer = post(explorer, path, body)
  assert status == 400, answer
  assert answer["field"] == field
  assert answer["error"].startswith(field + ":")


def test_a_value_the_optimizer_refuses_is_named(monkeypatch, explorer):
  picky = registry.Optimizer(
    "test.picky",
    "test",
    lambda learning_rate: (
      optax.sgd(learning_rate)
      if np.all(np.asarray(learning_rate) != 0.5)
      else (_ for _ in ()).throw(ValueError("not 0.5"))
    ),
    (registry.RATE,),
    "optax.sgd",
  )
  monkeypatch.setitem(registry._REGISTRY, picky.name, picky)
  status, answer = post(
    explorer,
    "/api/paths",
    _with(_GOOD, optimizer="test.picky", hyperparams={"learning_rate": 0.5}),
  )
  assert status == 400 and answer["field"] == "hyperparams"
  assert "not 0.5" in answer["error"]
  status, answer = post(
    explorer,
    "/api/paths",
    _with(
      _GOOD, optimizer="test.picky", hyperparams={"learning_rate": [0.1, 0.5]}
    ),
  )
  assert status == 400 and answer["field"] == "hyperparams.learning_rate"


# Every field, each malformed way: huge, negative, NaN, not a number, of the
# wrong type: 400 naming the field (and, for a number, its limit).
_MALFORMED = {
  "huge": 10**400,
  "-huge": -(10**400),
  "negative": -1,
  "NaN": "NaN",
  "non-numeric": "²",
  "wrong type": {"a": [1]},
}
_FIELDS = {  # field -> (endpoint, its limit as the message states it)
  "landscape": ("/api/paths", None),
  "optimizer": ("/api/paths", None),
  "num_steps": ("/api/paths", "[1, 10000]"),
  "record_every": ("/api/paths", "[1, 5]"),
  "hyperparams": ("/api/paths", None),
  "hyperparams.learning_rate": ("/api/paths", "[1e-05, 10.0]"),
  "hyperparams.learning_rate.count": ("/api/paths", "[1, 100000]"),
  "starts": ("/api/paths", None),
  "starts[0].x": ("/api/paths", "[-1e+30, 1e+30]"),
  "resolution": ("/api/basins", "[2, 256]"),
  "bounds.x": ("/api/basins", "[-1e+30, 1e+30]"),
}
_ACCEPTED = {("starts[0].x", "negative"), ("bounds.x", "negative")}  # Valid.


def _malformed(field: str, value):
  path, _ = _FIELDS[field]
  body = dict(_GOOD if path == "/api/paths" else _BASIN)
  if field == "hyperparams.learning_rate":
    body["hyperparams"] = {"learning_rate": value}
  elif field == "hyperparams.learning_rate.count":
    body["hyperparams"] = {
      "learning_rate": {"from": 0.01, "to": 0.1, "count": value}
    }
  elif field == "starts[0].x":
    body["starts"] = [[value, 0.0]]
  elif field == "bounds.x":
    body["bounds"] = [[value, 1.0], [0.0, 1.0]]
  else:
    body[field] = value
  return path, body


@pytest.mark.parametrize(
  "field, kind",
  [(f, k) for f in _FIELDS for k in _MALFORMED if (f, k) not in _ACCEPTED],
)
def test_malformed_input_is_refused_naming_the_field_and_limit(
  explorer, field, kind
):
  path, body = _malformed(field, _MALFORMED[kind])
  status, answer = post(explorer, path, body)
  assert status == 400, answer
  assert answer["field"].startswith(field), answer
  assert answer["error"].startswith(answer["field"] + ":")
  limit = _FIELDS[field][1]
  if limit and answer["field"] == field:
    assert limit in answer["error"], answer
  assert len(answer["error"]) < 200  # 10**400 is not printed.


@pytest.mark.parametrize(
  "resolution",
  ["1" + "0" * 400, "100000", "-1", "NaN", "%C2%B2", "1.5", "", "abc"],
)
def test_a_malformed_surface_resolution_states_the_limit(explorer, resolution):
  query = f"/api/surface?landscape=booth&resolution={resolution}"
  status, answer = _request(explorer, "GET", query)
  assert (status, answer["field"]) == (400, "resolution"), answer
  assert "[2, 512]" in answer["error"] and len(answer["error"]) < 200


def test_a_huge_content_length_is_refused(explorer):
  answer = _raw_exchange(
    explorer,
    b"POST /api/paths HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: "
    + b"9" * 5000
    + b"\r\n\r\n{}",
  )
  assert answer.startswith(b"HTTP/1.1 400") and b"exceed the limit" in answer


@pytest.mark.parametrize(
  "query, field",
  [
    ("", "landscape"),
    ("?landscape=nowhere", "landscape"),
    ("?landscape=booth&landscape=quad", "landscape"),
    ("?landscape=booth&resolution=abc", "resolution"),
    ("?landscape=booth&resolution=1", "resolution"),
    ("?landscape=booth&resolution=513", "resolution"),
    ("?landscape=booth&colour=red", "colour"),
  ],
)
def test_bad_surface_query(explorer, query, field):
  status, answer = _request(explorer, "GET", "/api/surface" + query)
  assert (status, answer["field"]) == (400, field)


@pytest.mark.parametrize(
  "raw, headers, field",
  [
    (b"{not json", {}, "body"),
    (b'{"num_steps": NaN}', {}, "body"),
    (b'{"num_steps": Infinity}', {}, "body"),
    (b'{"num_steps": ' + b"9" * 5000 + b"}", {}, "body"),  # Past int parsing.
    (b"\xff\xfe", {}, "body"),
    (b"[" * 100_000 + b"]" * 100_000, {}, "body"),
    (
      json.dumps(_GOOD).encode(),
      {"Content-Type": "text/plain"},
      "Content-Type",
    ),
    (b" " * (server.MAX_BODY + 1), {}, "body"),
    (json.dumps(_GOOD).encode(), {"Host": "evil.example:8765"}, "Host"),
  ],
)
def test_bad_bodies_and_headers(explorer, raw, headers, field):
  status, answer = _request(
    explorer, "POST", "/api/paths", raw=raw, headers=headers
  )
  assert (status, answer["field"]) == (400, field), answer
  assert _request(explorer, "GET", "/api/options")[0] == 200  # Serves on.


def _raw_exchange(explorer, request: bytes) -> bytes:
  with socket.create_connection(explorer.server_address[:2], 30) as sock:
    sock.sendall(request)
    chunks = []
    while chunk := sock.recv(65536):
      chunks.append(chunk)
  return b"".join(chunks)


def test_a_body_needs_a_length_and_is_not_chunked(explorer):
  answer = _raw_exchange(
    explorer,
    b"POST /api/paths HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nConnection: close\r\n\r\n{}",
  )
  assert answer.startswith(b"HTTP/1.1 400") and b"Content-Length" in answer
  answer = _raw_exchange(
    explorer,
    b"POST /api/paths HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"2\r\n{}\r\n0\r\n\r\n",
  )
  assert answer.startswith(b"HTTP/1.1 400") and b"chunked" in answer


def test_unknown_paths_and_methods(explorer):
  assert _request(explorer, "GET", "/api/nothing")[0] == 404
  assert post(explorer, "/api/nothing", {})[0] == 404
  assert _request(explorer, "PUT", "/api/paths", {})[0] == 405
  assert _request(explorer, "DELETE", "/")[0] == 405


def test_an_internal_error_is_answered_500_and_the_server_serves_on(
  monkeypatch, explorer, capsys
):
  def broken(*args, **kwargs):
    raise RuntimeError("boom")

  monkeypatch.setattr(api, "sweep", broken)
  status, answer = post(explorer, "/api/paths", _GOOD)
  assert status == 500 and "boom" in answer["error"]
  monkeypatch.undo()
  assert post(explorer, "/api/paths", _GOOD)[0] == 200


# --- Load: hundreds of requests, 8 in flight, every one answered -------------


def test_load_eight_clients_none_lost(explorer):
  rates = np.geomspace(1e-3, 0.3, 240)

  def client(indices):
    host, port = explorer.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=120)
    answers = {}
    for i in indices:  # One keep-alive connection per client.
      body = json.dumps(
        {
          "landscape": "wobbly",
          "optimizer": "nesterov_lookahead",
          "hyperparams": {"learning_rate": float(rates[i])},
          "starts": [[-2.8, -2.5], [1.0, 1.5]],
          "num_steps": 50,
        }
      )
      connection.request(
        "POST", "/api/paths", body, {"Content-Type": "application/json"}
      )
      response = connection.getresponse()
      answers[i] = (response.status, json.loads(response.read()))
    connection.close()
    return answers

  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    parts = pool.map(client, [range(k, len(rates), 8) for k in range(8)])
  answers = {i: a for part in parts for i, a in part.items()}
  assert sorted(answers) == list(range(len(rates)))
  for i, (status, answer) in answers.items():
    assert status == 200, answer
    assert answer["settings"]["hyperparams"]["learning_rate"] == [rates[i]]
    assert len(answer["paths"]) == 2 and len(answer["paths"][0]) == 51
  # Every request computed its own rate: the second points all differ.
  seconds = {tuple(a["paths"][1][1]) for _, a in answers.values()}
  assert len(seconds) == len(rates)


@pytest.mark.slow
def test_load_two_hundred_at_once_none_dropped(explorer):
  # 200 connections at once, each one cheap request: every one is answered,
  # 200 or (past the workers and their queue) 503 with Retry-After.
  barrier = threading.Barrier(200)
  body = json.dumps(_GOOD)

  def client(i):
    host, port = explorer.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    barrier.wait()
    connection.request(
      "POST", "/api/paths", body, {"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    answer = (response.status, response.getheader("Retry-After"))
    response.read()
    connection.close()
    return answer

  with concurrent.futures.ThreadPoolExecutor(200) as pool:
    answers = list(pool.map(client, range(200)))
  assert len(answers) == 200
  assert {status for status, _ in answers} <= {200, 503}
  assert all(after == "1" for status, after in answers if status == 503)
  assert sum(status == 200 for status, _ in answers) >= explorer.workers


def test_beyond_its_bounds_the_server_answers_503_with_retry_after(
  monkeypatch,
):
  running, thread = server.start(max_connections=2, workers=1, max_waiting=0)
  entered, release = threading.Event(), threading.Event()
  real_sweep = api.sweep

  def slow_sweep(*args, **kwargs):
    entered.set()
    release.wait(30)
    return real_sweep(*args, **kwargs)

  monkeypatch.setattr(api, "sweep", slow_sweep)
  try:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
      first = pool.submit(post, running, "/api/paths", _GOOD)
      assert entered.wait(30)
      # The one worker is busy and none may wait: 503, Retry-After.
      host, port = running.server_address[:2]
      connection = http.client.HTTPConnection(host, port, timeout=30)
      connection.request(
        "POST",
        "/api/paths",
        json.dumps(_GOOD),
        {"Content-Type": "application/json"},
      )
      response = connection.getresponse()
      answer = json.loads(response.read())
      assert response.status == 503 and answer["field"] == "server"
      assert response.getheader("Retry-After") == "1"
      # Both connections are open: a third is answered 503 and closed.
      reply = _raw_exchange(
        running, b"GET /api/options HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
      )
      assert reply.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in reply
      connection.close()
      release.set()
      assert first.result(60)[0] == 200
  finally:
    release.set()
    running.shutdown()
    running.server_close()
    thread.join(10)


# --- The registries and --register -------------------------------------------


def test_every_optimizer_runs_and_its_code_is_its_factory(explorer):
  namespace = {"optax": optax, "optax_extras": optax_extras}
  params = np.array([0.3, -0.7], np.float32)
  grads = np.array([1.0, 2.0], np.float32)
  grad_fn = lambda p: 2 * p
  for name in registry.names():
    optimizer = registry.get(name)
    values = {h.name: h.default for h in optimizer.hyperparameters}
    from_code = eval(optimizer.code, namespace)  # Our registry's text.
    updates = []
    for make in (optimizer.make, from_code):
      transform = optax.with_extra_args_support(make(**values))
      state = transform.init(params)
      update, _ = transform.update(grads, state, params, grad_fn=grad_fn)
      updates.append(np.asarray(update))
    np.testing.assert_array_equal(*updates, err_msg=name)
  status, answer = post(
    explorer, "/api/paths", _with(_GOOD, optimizer="optax.lion")
  )
  assert status == 200 and np.isfinite(answer["final_loss"]).all()


def test_parity_presets_are_offered_when_compat_exists(explorer):
  compat = pytest.importorskip("optax_extras.compat")
  assert "compat.torch_adam" in registry.names()
  torch_adam = registry.get("compat.torch_adam")
  # optax's names on the sliders; torch's in "copy as Python".
  assert [h.name for h in torch_adam.hyperparameters][:3] == [
    "learning_rate",
    "b1",
    "b2",
  ]
  body = _with(
    _GOOD,
    optimizer="compat.torch_adam",
    hyperparams={"learning_rate": 0.1, "b1": 0.5},
    num_steps=10,
  )
  status, answer = post(explorer, "/api/paths", body)
  assert status == 200, answer
  assert "import optax_extras.compat\n" in answer["python"]
  assert "torch_adam(lr=learning_rate, betas=(b1, b2)," in answer["python"]
  # The old names (torch's) are still accepted, as the same sliders.
  old = {**body, "hyperparams": {"lr": 0.1, "betas_0": 0.5}}
  assert post(explorer, "/api/paths", old) == (200, answer)
  twice = {**body, "hyperparams": {"lr": 0.1, "learning_rate": 0.1}}
  status, refused = post(explorer, "/api/paths", twice)
  assert status == 400 and "given twice" in refused["error"]
  namespace = _run(answer["python"])
  np.testing.assert_array_equal(
    namespace["paths"].reshape(1, -1, 2),
    np.asarray(answer["paths"], np.float32),
  )
  # The preset called with its own tuple of constants: the same rule (to
  # float32 rounding: constants fold at compile time, traced values do not).
  result = optax_extras.sweep(
    lambda lr, eps, weight_decay: compat.torch_adam(
      lr=lr, betas=(0.5, 0.999), eps=eps, weight_decay=weight_decay
    ),
    landscapes.get("booth"),
    grid={
      "lr": np.array([0.1], np.float32),
      "eps": np.array([1e-8], np.float32),
      "weight_decay": np.array([0.0], np.float32),
    },
    starts=np.zeros((1, 2), np.float32),
    num_steps=10,
    record_every=1,
  )
  np.testing.assert_allclose(
    result.trajectories.reshape(1, -1, 2),
    np.asarray(answer["paths"], np.float32),
    rtol=1e-4,
    atol=1e-6,
  )


_NOT_OPTAX = {"lr", "beta_1", "beta1", "betas_0", "beta_2", "beta2"}
_NOT_OPTAX |= {"betas_1", "epsilon", "alpha"}


def test_every_slider_has_optax_names():
  pytest.importorskip("optax_extras.compat")
  for name in registry.names():
    optimizer = registry.get(name)
    sliders = {h.name for h in optimizer.hyperparameters}
    assert not sliders & _NOT_OPTAX, name
    if "rmsprop" in name:  # One smoothing constant, optax's `decay`.
      assert "decay" in sliders and "rho" not in sliders, name
  keras = registry.get("compat.keras_rmsprop")
  assert keras.hyperparameter("rho") is keras.hyperparameter("decay")
  assert "rho=decay" in keras.code and "epsilon=eps" in keras.code


def test_presets_register_from_their_signatures():
  from experiments import presets

  made = registry.from_signature(
    "test.tf1_adam", "compat", presets.tf1_adam, "presets.tf1_adam"
  )
  sliders = {h.name: h for h in made.hyperparameters}
  assert sliders["learning_rate"].log
  assert 0 < sliders["learning_rate"].default
  assert registry.register_presets("no_such_module_here") == []


def test_register_a_module_of_landscapes(tmp_path, monkeypatch, explorer):
  (tmp_path / "my_surfaces.py").write_text(
    textwrap.dedent(
      """
      from optax_extras import landscapes

      def bowl():
        return landscapes.Landscape(
          "test_bowl", lambda x, y: x**2 + 3 * y**2, (1.0, 1.0),
          ((-2.0, 2.0), (-2.0, 2.0)), (landscapes.Minimum((0.0, 0.0), 0.0),),
        )
      """
    )
  )
  monkeypatch.syspath_prepend(str(tmp_path))
  monkeypatch.delitem(sys.modules, "my_surfaces", raising=False)
  try:
    assert server.register_landscapes("my_surfaces:bowl") == ["test_bowl"]
    monkeypatch.setitem(explorer.registered, "test_bowl", "my_surfaces:bowl")
    status, options = _request(explorer, "GET", "/api/options")
    assert "test_bowl" in options["landscapes"]
    status, answer = post(
      explorer, "/api/paths", _with(_GOOD, landscape="test_bowl")
    )
    assert status == 200, answer
    assert "import my_surfaces" in answer["python"]
    namespace = _run(answer["python"])
    np.testing.assert_array_equal(
      namespace["paths"].reshape(1, -1, 2),
      np.asarray(answer["paths"], np.float32),
    )
  finally:
    from optax_extras._src import landscapes as source

    source._REGISTRY.pop("test_bowl", None)


@pytest.mark.parametrize(
  "spec, message",
  [
    ("no_colon", "module.path:function"),
    ("os.path:join; rm", "module.path:function"),
    ("no_such_module_xyz:f", "cannot import"),
    ("os:no_such_function", "has no"),
    ("os:getcwd", "returned str"),
  ],
)
def test_bad_register_specs_are_refused(spec, message, capsys):
  with pytest.raises(ValueError, match=message):
    server.register_landscapes(spec)
  with pytest.raises(SystemExit) as exit:
    cli.main(["explore", "--register", spec, "--port", "0"])
  assert exit.value.code == 2
  assert "explore" in capsys.readouterr().err


@pytest.mark.slow
def test_the_command_prints_the_url_and_serves_until_interrupted():
  # As from a terminal: Ctrl-C raises KeyboardInterrupt, even when the tests
  # run as a background job, whose children inherit SIGINT ignored.
  command = (
    "import runpy, signal\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "runpy.run_module('experiments', run_name='__main__', alter_sys=True)\n"
  )
  process = subprocess.Popen(
    [sys.executable, "-c", command, "explore", "--port", "0"],
    cwd=pathlib.Path(__file__).parent.parent,
    stdout=subprocess.PIPE,
    text=True,
    # A hang prints every thread's stack on SIGABRT (into stderr, shown).
    env={**os.environ, "PYTHONFAULTHANDLER": "1"},
  )
  try:
    line = process.stdout.readline()  # Printed once it listens.
    url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
    with urllib.request.urlopen(url + "api/options", timeout=60) as answer:
      assert "himmelblau" in json.load(answer)["landscapes"]
    with urllib.request.urlopen(url, timeout=60) as answer:
      assert b"optax_extras explorer" in answer.read()
    process.send_signal(signal.SIGINT)
    try:
      assert process.wait(60) == 0
    except subprocess.TimeoutExpired:
      process.send_signal(signal.SIGABRT)
      process.wait(10)
      pytest.fail("no exit 60 s after Ctrl-C: the stacks are in stderr")
  finally:
    process.kill()
    process.wait()


def test_snippets_write_numbers_exactly():
  optimizer = registry.get("optax.sgd")
  code = snippets.paths_code(
    "booth", optimizer, {"learning_rate": [0.1]}, [[0.1, -2.0]], 3, 1, None
  )
  assert "np.array([0.1], np.float32)" in code
  assert "np.array([[0.1, -2.0]], np.float32)" in code
  assert "landscapes.get('booth')" in code


def test_host_check_only_on_loopback():
  assert server._is_loopback("127.0.0.1") and server._is_loopback("::1")
  assert server._is_loopback("localhost")
  assert not server._is_loopback("0.0.0.0")
  assert not server._is_loopback("evil.example")


def test_the_benchmark_rows_say_whether_their_target_is_met():
  seconds = [0.001 * k for k in range(1, 101)]  # 1 ms to 100 ms.
  row = bench._row(
    "paths", 8, seconds, "p95 ≤ 90 ms", lambda p50, p95: p95 <= 90
  )
  assert row[3:6] == ("50.5", "95.0", "100.0") and row[-1] == "no"
  row = bench._row(
    "paths", 8, seconds, "p50 ≤ 60 ms", lambda p50, p95: p50 <= 60
  )
  assert row[-1] == "yes"
  assert bench._row("paths", 1, seconds, "")[-1] == ""
