"""The explorer's benchmark: request latency with 1, 8 and 50 clients.

``python -m experiments benchmark explorer`` (a section of
`experiments.benchmarks`): a server in this process on the loopback address,
client threads (1, 8, 50) with a keep-alive connection each, as browser tabs
dragging sliders. Each request changes the learning rate, so each computes
anew, with the program jit compiled for the first.
"""

import concurrent.futures
import http.client
import json
import statistics
import time

import numpy as np

from experiments.explore import api, server
from experiments.explore import optimizers as registry
from optax_extras import landscapes, sweep

_SURFACE = "hills_and_canyon"
_OPTIMIZER = "nesterov_lookahead"
_STARTS = [[-2.8, -2.5], [1.0, 1.5]]
_CLIENTS = 8
_MANY = 50  # A burst: clients at once.


def _paths_body(rate: float, num_steps: int = 50) -> dict:
  return {
    "landscape": _SURFACE,
    "optimizer": _OPTIMIZER,
    "hyperparams": {"learning_rate": rate},
    "starts": _STARTS,
    "num_steps": num_steps,
  }


def _basin_body(rate: float) -> dict:
  return {
    "landscape": _SURFACE,
    "optimizer": _OPTIMIZER,
    "hyperparams": {"learning_rate": rate},
    "num_steps": 125,
    "resolution": 128,
  }


def _load(address, path: str, bodies: list[dict], clients: int) -> list[float]:
  """Seconds of each request, `clients` at once, each on its connection."""

  def client(mine):
    connection = http.client.HTTPConnection(*address, timeout=300)
    seconds = []
    for body in mine:
      data = json.dumps(body)
      start = time.perf_counter()
      connection.request(
        "POST", path, data, {"Content-Type": "application/json"}
      )
      response = connection.getresponse()
      response.read()
      seconds.append(time.perf_counter() - start)
      if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}")
    connection.close()
    return seconds

  shares = [bodies[k::clients] for k in range(clients)]
  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    return [s for part in pool.map(client, shares) for s in part]


def _sweep_per_request(rates, clients: int) -> list[float]:
  """The same 2-path request as the server's `optax_extras.sweep` call,
  without HTTP: what the server adds to it."""
  optimizer = registry.get(_OPTIMIZER)
  surface = landscapes.get(_SURFACE)
  starts = np.asarray(_STARTS, np.float32)

  def one(rate):
    start = time.perf_counter()
    sweep(
      optimizer.make,
      surface,
      grid={
        "learning_rate": np.array([rate], np.float32),
        "decay": np.array([0.9], np.float32),
      },
      starts=starts,
      num_steps=50,
      record_every=1,
      max_steps=api.MAX_STEPS,
      progress=False,
    )
    return time.perf_counter() - start

  one(float(rates[0]))  # Compile.
  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    return list(pool.map(one, [float(r) for r in rates]))


def _row(what, clients, seconds, target, met=None) -> tuple[str, ...]:
  """A table row; `met(p50, p95)` in ms says whether the target holds."""
  ms = sorted(1e3 * s for s in seconds)
  p50 = statistics.median(ms)
  p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
  return (
    what,
    str(clients),
    str(len(ms)),
    f"{p50:.1f}",
    f"{p95:.1f}",
    f"{ms[-1]:.1f}",
    target,
    "" if met is None else ("yes" if met(p50, p95) else "no"),
  )


def explorer(*, quick: bool):
  """Latency of the explorer's requests, 1, 8 and 50 clients at once, and
  of a new step count per request."""
  from experiments.benchmarks import Table

  running, thread = server.start()
  address = running.server_address[:2]
  per_client = 10 if quick else 50
  rates = np.geomspace(1e-3, 0.3, _CLIENTS * per_client).tolist()
  try:
    _load(address, "/api/paths", [_paths_body(0.01)], 1)  # Compile.
    _load(address, "/api/basins", [_basin_body(0.01)], 1)
    warm = _row(
      "2 paths × 50 steps",
      1,
      _load(address, "/api/paths", [_paths_body(r) for r in rates[:50]], 1),
      "",
    )
    warm_p50 = float(warm[3])
    rows = [
      warm,
      _row(
        "2 paths × 50 steps",
        _CLIENTS,
        _load(address, "/api/paths", [_paths_body(r) for r in rates], _CLIENTS),
        "p95 ≤ 100 ms",
        lambda p50, p95: p95 <= 100,
      ),
      _row(
        "2 paths × 50 steps",
        _MANY,
        _load(
          address,
          "/api/paths",
          [_paths_body(r) for r in rates[: _MANY * per_client // 5]],
          _MANY,
        ),
        "",
      ),
      _row(
        "2 paths, a new step count each (40-89)",
        1,
        _load(
          address,
          "/api/paths",
          [_paths_body(0.01, 40 + k) for k in range(per_client * 5)],
          1,
        ),
        "p50 ≤ 2 × the warm p50 (no compilation)",
        lambda p50, p95: p50 <= 2 * warm_p50,
      ),
      _row(
        "2 paths × 50 steps by `sweep` per request (no HTTP)",
        1,
        _sweep_per_request(rates[:20], 1),
        "",
      ),
      _row(
        "2 paths × 50 steps by `sweep` per request (no HTTP)",
        _CLIENTS,
        _sweep_per_request(rates[: 4 * _CLIENTS], _CLIENTS),
        "",
      ),
    ]
    maps = 3 if quick else 5
    basin_rates = np.geomspace(3e-3, 0.03, maps + _CLIENTS).tolist()
    rows.append(
      _row(
        "128² basin map × 125 steps",
        1,
        _load(
          address,
          "/api/basins",
          [_basin_body(r) for r in basin_rates[:maps]],
          1,
        ),
        "p95 ≤ 2 s",
        lambda p50, p95: p95 <= 2000,
      )
    )
    rows.append(
      _row(
        "128² basin map × 125 steps",
        _CLIENTS,
        _load(
          address,
          "/api/basins",
          [_basin_body(r) for r in basin_rates[maps:]],
          _CLIENTS,
        ),
        "p95 ≤ 2 s",
        lambda p50, p95: p95 <= 2000,
      )
    )
  finally:
    running.shutdown()
    running.server_close()
    thread.join(10)
  return Table(
    "Explorer: request latency",
    (
      "request",
      "clients",
      "requests",
      "p50 ms",
      "p95 ms",
      "max ms",
      "target",
      "met",
    ),
    rows,
    f"`python -m experiments explore`'s server in the benchmark's process, "
    f"clients on the loopback address, each with a keep-alive connection; "
    f"{_OPTIMIZER} on {_SURFACE}, a new learning rate per request (as a "
    "dragged slider), after one warm-up request (compilation). Every "
    "request is one `optax_extras.sweep` call with the registry's function "
    "objects (jit's cache: no compilation after the first); the rows "
    "`sweep` per request are the same call without HTTP. Basin maps are one "
    "`sweep` call each. A new step count per request is a runtime value of "
    "the same program: as fast as a repeated one.",
  )
