"""The explorer's HTTP server: one page, its two static files, a JSON API.

The server is the standard library's `http.server.ThreadingHTTPServer`, on
purpose: it adds no dependency (the explorer runs wherever the experiments
do), a thread per connection is enough for one person's browser and a few
scripts, and the work of a request is JAX's compiled code, which releases
the GIL, so threads compute in parallel. An ASGI stack would add a server
and a framework to install for no gain here.

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
import pathlib
import re
import sys
import threading
import traceback
import urllib.parse
from typing import Any

from experiments.explore import api
from optax_extras import landscapes

MAX_BODY = 1_000_000  # Bytes of a request body.
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

  def __init__(
    self,
    address: tuple[str, int],
    registered: dict[str, str] | None = None,
    *,
    quiet: bool = False,
  ):
    super().__init__(address, Handler)
    self.registered = dict(registered or {})
    self.quiet = quiet
    self.loopback = _is_loopback(address[0])

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

  def _json(self, status: int, payload: Any) -> None:
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    self._send(status, body.encode(), "application/json; charset=utf-8")

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
      return self._answer(lambda: api.options(self.server.registered))
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
    if length is None or not length.isdigit():
      self.close_connection = True
      self._error(400, "body", "a Content-Length is required")
      return None
    length = int(length)
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
        400, "body", f"{self.headers['Content-Length']} bytes exceed {MAX_BODY}"
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

  def _answer(self, compute) -> None:
    try:
      payload = compute()
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
) -> tuple[Server, threading.Thread]:
  """A server answering in a background thread (tests, benchmarks); stop it
  with ``server.shutdown(); server.server_close()``."""
  server = Server((host, port), registered, quiet=quiet)
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
