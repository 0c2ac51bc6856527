"""Serving ``/metrics``: the embedded server and apps for the user's own web server.

``configure()`` starts an embedded server by default; with ``prometheus_port=None`` mount
one of the apps instead. All of them negotiate OpenMetrics from the ``Accept`` header, so
exemplars (trace ids on the duration histogram) reach Prometheus, and render through
:func:`otel_perf.textformat.generate` (fast for otel-perf's own metrics, ``prometheus_client``
for everything else in the registry). They behave like ``prometheus_client``'s own apps:
gzip when asked, ``name[]`` filtering, ``OPTIONS``, 405 for other methods.

>>> app = make_wsgi_app()  # e.g. Flask: DispatcherMiddleware(app, {"/metrics": make_wsgi_app()})
"""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import ThreadingWSGIServer, gzip_accepted

from otel_perf.textformat import generate

#: gzip level for responses. zlib's fastest level costs about a third of the default (6)
#: and a tenth of prometheus_client's (9) on a large exposition, for about 10% more bytes:
#: label text repeats so much that even level 1 shrinks it 25-fold.
GZIP_LEVEL = 1


def _registry(registry: CollectorRegistry | None) -> CollectorRegistry:
    if registry is not None:
        return registry
    from otel_perf import setup  # setup imports this module

    handle = setup.active()
    return handle.registry if handle is not None and handle.registry is not None else REGISTRY


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


def make_wsgi_app(
    registry: CollectorRegistry | None = None, disable_compression: bool = False
) -> Callable[..., Any]:
    """A WSGI app serving the metrics of ``registry`` (default: the configured one)."""
    target = _registry(registry)

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
            status, headers, output = render_response(
                target,
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
    """An ASGI app serving the metrics of ``registry`` (default: the configured one)."""
    target = _registry(registry)

    async def metrics_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope.get("type") == "http"
        headers = scope.get("headers") or []

        def header(name: bytes) -> str:
            return ",".join(v.decode("latin-1") for k, v in headers if k.lower() == name)

        status, out_headers, output = render_response(
            target,
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


class _SilentHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""


def start_http_server(
    port: int, addr: str = "127.0.0.1", registry: CollectorRegistry | None = None
) -> tuple[Any, threading.Thread]:
    """Serve ``/metrics`` on ``addr:port`` from a daemon thread; returns (server, thread).

    The same threading WSGI server ``prometheus_client.start_http_server`` runs, with
    otel-perf's app. Raises ``OSError`` when the port is taken.
    """
    family, _, _, _, sockaddr = socket.getaddrinfo(addr, port)[0]

    class Server(ThreadingWSGIServer):
        address_family = family

    server = make_server(
        str(sockaddr[0]), port, make_wsgi_app(registry), Server, handler_class=_SilentHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="otel-perf-metrics", daemon=True)
    thread.start()
    return server, thread
