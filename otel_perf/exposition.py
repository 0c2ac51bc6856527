"""Serving ``/metrics``: the embedded server and apps for the user's own web server.

``configure()`` starts an embedded server by default; with ``prometheus_port=None`` mount
one of the apps instead. All of them negotiate OpenMetrics from the ``Accept`` header, so
exemplars (trace ids on the duration histogram) reach Prometheus, and render through
:func:`otel_perf.textformat.generate` (fast for otel-perf's own metrics, ``prometheus_client``
for everything else in the registry). They behave like ``prometheus_client``'s own apps:
gzip when asked, ``name[]`` filtering, ``OPTIONS``, 405 for other methods.

Renders are one at a time per app: requests that arrive while one runs wait for it and
share the next one (never a body rendered before they arrived), so 50 scrapers at once cost
about two renders, not fifty. The embedded server has a 128-connection accept backlog, a
per-connection timeout, and at most ``MAX_CONNECTIONS`` connections handled at once: its
memory stays flat however many scrapers come. In multiprocess mode every process binds the
port with ``SO_REUSEPORT`` (so any live one answers, each with the sum over all), and one
that cannot bind retries in the background.

>>> app = make_wsgi_app()  # e.g. Flask: DispatcherMiddleware(app, {"/metrics": make_wsgi_app()})
"""

from __future__ import annotations

import gzip
import logging
import os
import socket
import threading
import weakref
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import ThreadingWSGIServer, choose_encoder, gzip_accepted

from otel_perf.textformat import generate

logger = logging.getLogger("otel_perf")

#: gzip level for responses. zlib's fastest level costs about a third of the default (6)
#: and a tenth of prometheus_client's (9) on a large exposition, for about 10% more bytes:
#: label text repeats so much that even level 1 shrinks it 25-fold.
GZIP_LEVEL = 1
#: Pending connections the kernel queues for the embedded server (Python's default is 5).
BACKLOG: Final = 128
#: Seconds a connection may take to send its request and receive the body.
CONNECTION_TIMEOUT: Final = 10.0
#: Connections the embedded server handles at once; more wait in the backlog.
MAX_CONNECTIONS: Final = 16
#: Seconds between attempts to bind the port when a sibling process holds it.
RETRY_INTERVAL: Final = 2.0


def _target(registry: CollectorRegistry | None) -> Callable[[], CollectorRegistry]:
    """The registry to serve: the one given, else the configured one at request time."""
    if registry is not None:
        return lambda: registry

    def configured() -> CollectorRegistry:
        from otel_perf import configuration  # it imports this module

        handle = configuration.active()
        served = None if handle is None else handle.exposition_registry
        return served if served is not None else REGISTRY

    return configured


class _Renders:
    """One render at a time; a request reuses a render that started after it arrived."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = 0
        self._last: dict[Any, tuple[int, Any]] = {}
        _all_renders.add(self)

    def get(self, key: Any, render: Callable[[], Any]) -> Any:
        arrived = self._started
        with self._lock:
            last = self._last.get(key)
            if last is not None and last[0] > arrived:
                return last[1]
            self._started += 1
            started = self._started
            result = render()
            if len(self._last) >= 8:
                self._last.clear()
            self._last[key] = (started, result)
            return result

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._last = {}


_all_renders: weakref.WeakSet[_Renders] = weakref.WeakSet()


def render_response(
    registry: CollectorRegistry,
    accept: str | None,
    accept_encoding: str | None,
    params: dict[str, list[str]],
    disable_compression: bool = False,
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status, headers and body for a ``GET /metrics``."""
    output, content_type = generate(registry, accept, params)
    headers = [("Content-Type", content_type)]
    if not disable_compression and gzip_accepted(accept_encoding or ""):
        output = gzip.compress(output, compresslevel=GZIP_LEVEL)
        headers.append(("Content-Encoding", "gzip"))
    return "200 OK", headers, output


def _respond(
    renders: _Renders,
    registry: CollectorRegistry,
    accept: str | None,
    accept_encoding: str | None,
    params: dict[str, list[str]],
    disable_compression: bool,
) -> tuple[str, list[tuple[str, str]], bytes]:
    gzipped = not disable_compression and gzip_accepted(accept_encoding or "")
    key = (id(registry), choose_encoder(accept or "")[1], gzipped, repr(sorted(params.items())))
    response: tuple[str, list[tuple[str, str]], bytes] = renders.get(
        key,
        lambda: render_response(registry, accept, accept_encoding, params, disable_compression),
    )
    return response


def make_wsgi_app(
    registry: CollectorRegistry | None = None, disable_compression: bool = False
) -> Callable[..., Any]:
    """A WSGI app serving the metrics of ``registry`` (default: the configured one, which in
    multiprocess mode is the sum over every process)."""
    target = _target(registry)
    renders = _Renders()

    def metrics_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "OPTIONS":
            status, headers, output = "200 OK", [("Allow", "OPTIONS,GET")], b""
        elif method != "GET":
            status, headers = "405 Method Not Allowed", [("Allow", "OPTIONS,GET")]
            output = f"# HTTP {status}: {method}; use OPTIONS or GET\n".encode()
        elif environ.get("PATH_INFO") == "/favicon.ico":
            status, headers, output = "200 OK", [], b""
        else:
            status, headers, output = _respond(
                renders,
                target(),
                environ.get("HTTP_ACCEPT"),
                environ.get("HTTP_ACCEPT_ENCODING"),
                parse_qs(environ.get("QUERY_STRING", "")),
                disable_compression,
            )
        start_response(status, headers)
        return [output]

    return metrics_app


def make_asgi_app(
    registry: CollectorRegistry | None = None, disable_compression: bool = False
) -> Callable[..., Any]:
    """An ASGI app serving the metrics of ``registry`` (default: the configured one, which in
    multiprocess mode is the sum over every process)."""
    target = _target(registry)
    renders = _Renders()

    async def metrics_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope.get("type") == "http"
        headers = scope.get("headers") or []

        def header(name: bytes) -> str:
            return ",".join(v.decode("latin-1") for k, v in headers if k.lower() == name)

        status, out_headers, output = _respond(
            renders,
            target(),
            header(b"accept"),
            header(b"accept-encoding"),
            parse_qs(scope.get("query_string", b"").decode("utf-8")),
            disable_compression,
        )
        message = await receive()
        if message.get("type") == "http.request":
            await send(
                {
                    "type": "http.response.start",
                    "status": int(status.split(" ")[0]),
                    "headers": [(k.encode(), v.encode()) for k, v in out_headers],
                }
            )
            await send({"type": "http.response.body", "body": output})

    return metrics_app


class _Handler(WSGIRequestHandler):
    timeout = CONNECTION_TIMEOUT  # socket timeout of each connection (StreamRequestHandler)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""


class _Server(ThreadingWSGIServer):
    """prometheus_client's threading WSGI server, bounded (see the module docstring)."""

    request_queue_size = BACKLOG
    reuse_port = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        if self.reuse_port and hasattr(socket, "SO_REUSEPORT"):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(timeout=CONNECTION_TIMEOUT):
            self.shutdown_request(request)  # all busy for that long: let the scraper retry
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A scraper that timed out or went away is not worth a traceback on stderr."""
        import sys

        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):  # TimeoutError, ConnectionResetError, ...
            from otel_perf.selfmonitor import report_internal_error

            report_internal_error("scrape", exc)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def start_http_server(
    port: int,
    addr: str = "127.0.0.1",
    registry: CollectorRegistry | None = None,
    reuse_port: bool = False,
) -> tuple[Any, threading.Thread]:
    """Serve ``/metrics`` on ``addr:port`` from a daemon thread; returns (server, thread).

    The threading WSGI server ``prometheus_client.start_http_server`` runs, bounded, with
    otel-perf's app. ``reuse_port`` lets several processes bind the same port (Linux and
    BSD ``SO_REUSEPORT``). Raises ``OSError`` when the port is taken.
    """
    family, _, _, _, sockaddr = socket.getaddrinfo(addr, port)[0]

    class Server(_Server):
        address_family = family

    Server.reuse_port = reuse_port
    server = make_server(
        str(sockaddr[0]), port, make_wsgi_app(registry), Server, handler_class=_Handler
    )
    thread = threading.Thread(target=server.serve_forever, name="otel-perf-metrics", daemon=True)
    thread.start()
    return server, thread


class Endpoint:
    """The embedded ``/metrics`` server of one configuration.

    ``start()`` binds now; in multiprocess mode (``shared=True``) the port is shared with
    sibling processes, and if it cannot be bound (held by a process without
    ``SO_REUSEPORT``, or a platform without it) a background thread retries every
    ``RETRY_INTERVAL`` seconds, so the endpoint comes back when the holder exits.
    """

    def __init__(self, host: str, port: int, registry: CollectorRegistry, shared: bool) -> None:
        self.host = host
        self.port = port
        self.registry = registry
        self.shared = shared
        self.server: Any = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._retry: threading.Thread | None = None

    def start(self) -> OSError | None:
        """Bind and serve; the error if the port could not be bound (retrying if shared)."""
        try:
            self._bind()
        except OSError as exc:
            if self.shared:
                self._retry = threading.Thread(
                    target=self._retry_loop, name="otel-perf-metrics-bind", daemon=True
                )
                self._retry.start()
            return exc
        return None

    def _bind(self) -> None:
        server, _thread = start_http_server(
            self.port, addr=self.host, registry=self.registry, reuse_port=self.shared
        )
        with self._lock:
            if self._stop.is_set():
                server.shutdown()
                server.server_close()
                return
            self.server = server

    def _retry_loop(self) -> None:
        while not self._stop.wait(RETRY_INTERVAL):
            try:
                self._bind()
            except OSError:
                continue
            if self.server is not None:
                logger.info(
                    "otel-perf: now serving /metrics on %s:%s (pid %d)",
                    self.host,
                    self.port,
                    os.getpid(),
                )
            return

    @property
    def server_address(self) -> Any:
        server = self.server
        return None if server is None else server.server_address

    def shutdown(self) -> None:
        """Stop serving and retrying (bounded: the serve loop polls every 0.5 s)."""
        self._stop.set()
        with self._lock:
            server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def drop_after_fork(self) -> None:
        """In a forked child: close the inherited socket (the parent keeps serving on it);
        the serving threads do not exist here."""
        server, self.server = self.server, None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._retry = None
        if server is not None:
            try:
                server.socket.close()
            except OSError:
                pass


def _after_fork_in_child() -> None:
    for renders in list(_all_renders):
        renders.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
