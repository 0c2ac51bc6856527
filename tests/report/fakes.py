"""Small HTTP servers for the report tests: an exporter whose answers the test scripts,
and a fake Prometheus that drips, lies or floods.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DUR = "otel_perf_operation_duration_seconds"


def exposition(
    start_time: float, generations: int, failures: int = 0, project: str = "film", **extra: str
) -> str:
    """Prometheus text format of one process: its start time and generate_image counts."""
    pairs = {"model": "flux", "operation": "generate_image", "project": project,
             "provider": "bfl", **extra}  # fmt: skip
    labels = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items())
    lines = [
        "# TYPE process_start_time_seconds gauge",
        f"process_start_time_seconds {start_time}",
        f"# TYPE {DUR} histogram",
        f'{DUR}_bucket{{{labels},status="success",le="+Inf"}} {generations}',
        f'{DUR}_count{{{labels},status="success"}} {generations}',
        f'{DUR}_sum{{{labels},status="success"}} {generations * 2.0}',
    ]
    if failures:
        lines += [
            f'{DUR}_bucket{{{labels},status="error",le="+Inf"}} {failures}',
            f'{DUR}_count{{{labels},status="error"}} {failures}',
            f'{DUR}_sum{{{labels},status="error"}} {failures * 1.0}',
            "# TYPE otel_perf_operation_errors_total counter",
            f'otel_perf_operation_errors_total{{{labels},error_type="safety_block"}} {failures}',
        ]
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """The report hangs up on a dripping or flooding answer: expected here."""


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = _Quiet(("127.0.0.1", 0), handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class ScriptedExporter(_Server):
    """``/metrics`` answers ``body(n)`` for the n-th scrape (0, 1, ...); ``None`` is a 503
    (the process is down)."""

    def __init__(self, body: Callable[[int], str | None]) -> None:
        self.scrapes = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    n = outer.scrapes
                    outer.scrapes += 1
                text = body(n)
                if text is None:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


class FakePrometheus(_Server):
    """Answers every API call the way ``mode`` says:

    * ``drip``: a valid-looking answer, one byte every half second;
    * ``lie``: HTTP 200 with JSON of the wrong shape;
    * ``html``: an HTML page (not the API);
    * ``flood``: an endless body;
    * ``refuse``: a Prometheus API error.
    """

    def __init__(self, mode: str) -> None:
        outer = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                outer.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if mode == "drip":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    for ch in json.dumps({"status": "success", "data": {}}) + " " * 1000:
                        self.wfile.write(ch.encode())
                        self.wfile.flush()
                        time.sleep(0.5)
                    return
                if mode == "flood":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    chunk = b"[" * 65536
                    for _ in range(4096):  # 256 MiB at most, then give up
                        self.wfile.write(chunk)
                    return
                status, body = {
                    "lie": (200, json.dumps({"status": "success", "data": {
                        "resultType": "vector", "result": [{"metric": 7, "value": "x"}],
                        "storage.tsdb.retention.time": "15d"}})),
                    "html": (200, "<html><body>Grafana login</body></html>"),
                    "refuse": (422, json.dumps({"status": "error", "errorType": "bad_data",
                                                "error": "parse error \x1b[31m at char 3"})),
                }[mode]  # fmt: skip
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)
