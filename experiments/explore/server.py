"""The explorer's HTTP server: one page, its two static files, a JSON API.

The server is the standard library's `http.server.ThreadingHTTPServer`, on
purpose: it adds no dependency (the explorer runs wherever the experiments
do), and the work of a request is JAX's compiled code, which releases the
GIL, so threads compute in parallel. An ASGI stack would add a server and a
framework to install for no gain here: what a burst needs is bounds, which
it has. Load: a listen backlog of `BACKLOG` connections; at most
`MAX_CONNECTIONS` connections served at once (a thread each), more answered
503 with ``Retry-After``; at most `WORKERS` computations at once, with up to
`MAX_WAITING` more waiting their turn, more answered 503 with
``Retry-After``. Every request is answered: 200, 4xx naming the field, or
503.

Safety: it binds the loopback address unless told otherwise; every POST must
be ``application/json`` of at most `MAX_BODY` bytes with a Content-Length
(so a page of another site cannot post to it without a CORS preflight,
which is never granted); on the loopback address, the Host header must name
a loopback host (no DNS rebinding); anything malformed is answered 400 with
``{"error", "field"}`` and the server serves on; nothing received is
evaluated as code; static files come from a fixed list.
"""

import http.server
import importlib
import ipaddress
import json
import os
import pathlib
import re
import socket
import sys
import threading
import traceback
import urllib.parse
from typing import Any

from experiments.explore import api
from optax_extras import landscapes

MAX_BODY = api.MAX_BODY  # Bytes of a request body.
BACKLOG = 1024  # Connections the kernel queues before accept.
MAX_CONNECTIONS = 256  # Connections served at once, a thread each.
WORKERS = max(2, os.cpu_count() or 2)  # Computations at once.
MAX_WAITING = 64  # Computations waiting for a worker; more: 503.
RETRY_AFTER = 1  # Seconds, in a 503's Retry-After.
_DRAIN = 16 * MAX_BODY  # A larger body is refused without being read.
STATIC = pathlib.Path(__file__).parent / "static"
_FILES = {  # URL path -> (file in STATIC, content type)
  "/": ("index.html", "text/html; charset=utf-8"),
  "/index.html": ("index.html", "text/html; charset=utf-8"),
  "/static/explorer.js": ("explorer.js", "text/javascript; charset=utf-8"),
  "/static/explorer.css": ("explorer.css", "text/css; charset=utf-8"),
}
_POLICY = (
  "default-src 'self'; script-src 'self'; style-src 'self'; "
  "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'"
)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_SPEC = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def register_landscapes(spec: str) -> list[str]:
  """Runs ``module:function`` (``--register``): the function registers
  landscapes with `optax_extras.landscapes.register`, or returns a
  `Landscape` or a list of them, registered here. Returns their names;
  raises ValueError with a message for the command line."""
  if not _SPEC.match(spec):
    raise ValueError(f"--register {spec!r}: expected module.path:function")
  module_name, function_name = spec.split(":")
  before = set(landscapes.names())
  try:
    module = importlib.import_module(module_name)
  except ImportError as error:
    raise ValueError(
      f"--register {spec}: cannot import {module_name}: {error}"
    ) from error
  function = getattr(module, function_name, None)
  if not callable(function):
    raise ValueError(f"--register {spec}: {module_name} has no {function_name}")
  made = function()
  made = [made] if isinstance(made, landscapes.Landscape) else list(made or ())
  for surface in made:
    if not isinstance(surface, landscapes.Landscape):
      raise ValueError(
        f"--register {spec}: returned {type(surface).__name__}, not a Landscape"
      )
    known = surface.name in landscapes.names()
    if not known or landscapes.get(surface.name) is not surface:
      landscapes.register(surface, overwrite=True)
  added = sorted((set(landscapes.names()) - before) | {s.name for s in made})
  if not added:
    raise ValueError(f"--register {spec}: registered no landscape")
  return added


def _is_loopback(host: str) -> bool:
  try:
    return ipaddress.ip_address(host.strip("[]")).is_loopback
  except ValueError:
    return host == "localhost"


class Server(http.server.ThreadingHTTPServer):
  """The explorer's server; `registered` maps a landscape name to the
  ``--register`` spec that made it (for "copy as Python")."""

  daemon_threads = True
  allow_reuse_address = True
  request_queue_size = BACKLOG

  def __init__(
    self,
    address: tuple[str, int],
    registered: dict[str, str] | None = None,
    *,
    quiet: bool = False,
    max_connections: int = MAX_CONNECTIONS,
    workers: int = WORKERS,
    max_waiting: int = MAX_WAITING,
  ):
    super().__init__(address, Handler)
    self.registered = dict(registered or {})
    self.quiet = quiet
    self.loopback = _is_loopback(address[0])
    self.max_connections = max_connections
    self.workers = workers
    self.max_waiting = max_waiting
    self._connections = threading.BoundedSemaphore(max_connections)
    self._workers = threading.Semaphore(workers)
    self._admitted = 0  # Computations running or waiting for a worker.
    self._lock = threading.Lock()

  def limits(self) -> dict[str, float]:
    """Every limit a request meets: the API's and the server's."""
    return {
      **api.limits(),
      "connections": self.max_connections,
      "workers": self.workers,
      "waiting": self.max_waiting,
      "retry_after_s": RETRY_AFTER,
    }

  def process_request(self, request, client_address) -> None:
    """A thread for the connection, or 503 if `max_connections` are open."""
    if not self._connections.acquire(blocking=False):
      return self._refuse(request)
    try:
      super().process_request(request, client_address)
    except Exception:
      self._connections.release()
      raise

  def process_request_thread(self, request, client_address) -> None:
    try:
      super().process_request_thread(request, client_address)
    finally:
      self._connections.release()

  def _refuse(self, request: socket.socket) -> None:
    """503 on a connection over the cap: its request is read (a short
    wait at most), so that closing does not reset the answer away."""
    body = json.dumps(
      {"error": "server busy: too many connections", "field": "server"}
    ).encode()
    try:
      request.settimeout(0.2)
      received = b""
      while b"\r\n\r\n" not in received and len(received) < 65536:
        chunk = request.recv(65536)
        if not chunk:
          break
        received += chunk
      request.sendall(
        b"HTTP/1.1 503 Service Unavailable\r\n"
        + f"Retry-After: {RETRY_AFTER}\r\n".encode()
        + b"Content-Type: application/json; charset=utf-8\r\n"
        + f"Content-Length: {len(body)}\r\n".encode()
        + b"Connection: close\r\n\r\n"
        + body
      )
    except OSError:
      pass
    self.shutdown_request(request)

  def compute(self, work):
    """`work()` on one of `workers`, waiting if all are busy; None (answer
    503) if `max_waiting` computations already wait."""
    with self._lock:
      if self._admitted >= self.workers + self.max_waiting:
        return None
      self._admitted += 1
    try:
      with self._workers:
        return (work(),)
    finally:
      with self._lock:
        self._admitted -= 1

  @property
  def url(self) -> str:
    host, port = self.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


class Handler(http.server.BaseHTTPRequestHandler):
  """Routes GET and POST; every answer has a Content-Length (keep-alive)."""

  protocol_version = "HTTP/1.1"
  server_version = "optax-extras-explorer"
  timeout = 60  # Seconds a connection may idle or trickle its request.
  # Headers and body are two writes: with Nagle's algorithm the second
  # waits for the client's delayed ACK of the first, 40 ms on Linux.
  disable_nagle_algorithm = True
  server: Server

  def log_message(self, format: str, *args: Any) -> None:
    if not self.server.quiet:
      super().log_message(format, *args)

  def _send(
    self,
    status: int,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
  ) -> None:
    self.send_response(status)
    self.send_header("Content-Type", content_type)
    self.send_header("Content-Length", str(len(body)))
    self.send_header("Cache-Control", "no-store")
    self.send_header("X-Content-Type-Options", "nosniff")
    for name, value in (headers or {}).items():
      self.send_header(name, value)
    if self.close_connection:
      self.send_header("Connection", "close")
    self.end_headers()
    if self.command != "HEAD":
      try:
        self.wfile.write(body)
      except (BrokenPipeError, ConnectionResetError):
        self.close_connection = True

  def _json(
    self, status: int, payload: Any, headers: dict[str, str] | None = None
  ) -> None:
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    self._send(
      status, body.encode(), "application/json; charset=utf-8", headers
    )

  def _error(self, status: int, field: str, message: str) -> None:
    self._json(status, {"error": message, "field": field})

  def _host_allowed(self) -> bool:
    if not self.server.loopback:
      return True
    host = self.headers.get("Host", "")
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return _is_loopback(host)

  def do_GET(self) -> None:  # noqa: N802 (http.server's name)
    url = urllib.parse.urlsplit(self.path)
    if not self._host_allowed():
      return self._error(400, "Host", "the Host header must be loopback")
    if url.path in _FILES:
      name, content_type = _FILES[url.path]
      headers = {"Content-Security-Policy": _POLICY}
      return self._send(
        200, (STATIC / name).read_bytes(), content_type, headers
      )
    if url.path == "/api/options":
      return self._answer(
        lambda: api.options(self.server.registered, self.server.limits()),
        cheap=True,
      )
    if url.path == "/api/surface":
      query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
      return self._answer(lambda: api.surface(query))
    self._error(404, "path", f"no such page: {url.path}")

  do_HEAD = do_GET

  def do_POST(self) -> None:  # noqa: N802
    url = urllib.parse.urlsplit(self.path)
    handlers = {"/api/paths": api.paths, "/api/basins": api.basins}
    body = self._read_body()
    if body is None:
      return
    if not self._host_allowed():
      return self._error(400, "Host", "the Host header must be loopback")
    if url.path not in handlers:
      return self._error(404, "path", f"no such endpoint: {url.path}")
    handler = handlers[url.path]
    self._answer(lambda: handler(body, self.server.registered))

  def _refuse_method(self) -> None:
    self.close_connection = True
    self._error(405, "method", f"{self.command} is not supported")

  do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

  def _read_body(self) -> Any:
    """The decoded JSON body, or None after answering 400."""
    if self.headers.get("Transfer-Encoding"):
      self.close_connection = True
      self._error(400, "body", "chunked bodies are not accepted")
      return None
    length = self.headers.get("Content-Length")
    if length is None or not _DIGITS.fullmatch(length):
      self.close_connection = True
      self._error(400, "body", "a Content-Length is required")
      return None
    length = size = int(length.lstrip("0")[:20] or "0")
    if length > MAX_BODY:
      # Read and dropped, so that the client is not cut off mid-send and
      # gets the answer; past `_DRAIN`, closed unread.
      self.close_connection = True
      if length <= _DRAIN:
        while length > 0:
          chunk = self.rfile.read(min(length, 2**16))
          if not chunk:
            break
          length -= len(chunk)
      self._error(
        400,
        "body",
        f"{size} bytes exceed the limit of {MAX_BODY} bytes",
      )
      return None
    data = self.rfile.read(length)
    content_type = self.headers.get("Content-Type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
      self._error(400, "Content-Type", "must be application/json")
      return None
    try:
      return json.loads(data.decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, RecursionError) as error:
      self._error(400, "body", f"not valid JSON: {str(error)[:200]}")
      return None

  def _answer(self, compute, *, cheap: bool = False) -> None:
    """200 with `compute()`'s JSON, 400 naming the field, 503 with
    Retry-After if the workers are taken and too many wait (unless
    `cheap`: no computation), 500 for a bug."""
    try:
      if cheap:
        payload = compute()
      else:
        done = self.server.compute(compute)
        if done is None:
          return self._json(
            503,
            {"error": "server busy: try again shortly", "field": "server"},
            {"Retry-After": str(RETRY_AFTER)},
          )
        (payload,) = done
    except api.BadRequest as error:
      return self._error(400, error.field, str(error))
    except Exception as error:  # Answered, logged; the server serves on.
      traceback.print_exc(file=sys.stderr)
      return self._error(500, "server", f"internal error: {error!r}"[:500])
    self._json(200, payload)


def _no_constants(name: str) -> None:
  raise ValueError(f"{name} is not a JSON number")


def start(
  host: str = "127.0.0.1",
  port: int = 0,
  registered: dict[str, str] | None = None,
  *,
  quiet: bool = True,
  **bounds: int,
) -> tuple[Server, threading.Thread]:
  """A server answering in a background thread (tests, benchmarks); stop it
  with ``server.shutdown(); server.server_close()``. `bounds`: `Server`'s
  ``max_connections``, ``workers``, ``max_waiting``."""
  server = Server((host, port), registered, quiet=quiet, **bounds)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  return server, thread


def serve(host: str, port: int, register: list[str]) -> None:
  """``python -m experiments explore``: registers, prints the URL, serves
  until interrupted."""
  registered = {}
  for spec in register:
    for name in register_landscapes(spec):
      registered[name] = spec
  server = Server((host, port), registered)
  if not server.loopback:
    print(
      f"warning: serving on {host}, not the loopback address: anyone who "
      "can reach this machine can use the explorer",
      file=sys.stderr,
    )
  print(f"optax_extras explorer: {server.url}  (Ctrl-C stops it)", flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()
