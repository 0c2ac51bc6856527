"""Real Prometheus and Alertmanager (Debian packages) on 127.0.0.1 for tests.

Every wait is bounded; every process is killed on exit. Under ``CI=true`` a missing binary
fails the test instead of skipping it (see ``tests.conftest.require_tool``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return bytes(response.read())


def wait_until(
    check: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = ""
) -> Any:
    """Call ``check`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # not ready yet
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or check}: {last_error}")


class _Process:
    """A server process with a bounded start and a guaranteed stop."""

    def __init__(self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


class Prometheus(_Process):
    """``prometheus`` serving on a free port with the given config file."""

    def __init__(self, config: Path, workdir: Path, *, binary: str = "prometheus",
                 extra: Sequence[str] = (), admin_api: bool = True,
                 exemplars: bool = True) -> None:  # fmt: skip
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data = workdir / "prometheus-data"
        data.mkdir(parents=True, exist_ok=True)
        super().__init__(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={data}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             *(["--web.enable-admin-api"] if admin_api else []),
             "--web.enable-lifecycle",
             *(["--enable-feature=exemplar-storage"] if exemplars else []), *extra],
            workdir / "prometheus.log",
        )  # fmt: skip
        try:
            wait_until(self._ready, 30, what="prometheus /-/ready")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"prometheus did not start:\n{self.log()}") from None

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited:\n{self.log()}")
        return http_get(self.url + "/-/ready", timeout=1).startswith(b"Prometheus")

    def api(self, path: str, **params: Any) -> Any:
        """GET ``/api/v1/<path>`` and return ``data``; raises on an error status."""
        query = urllib.parse.urlencode(params)
        body = json.loads(http_get(f"{self.url}/api/v1/{path}?{query}", timeout=10))
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus API error: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result vector."""
        return list(self.api("query", query=expr)["result"])

    def value(self, expr: str) -> float | None:
        """Single value of an instant query, ``None`` when empty."""
        result = self.query(expr)
        if not result:
            return None
        if len(result) > 1:
            raise AssertionError(f"{expr} returned {len(result)} series")
        return float(result[0]["value"][1])

    def targets_up(self) -> bool:
        active = self.api("targets")["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    def wait_for_scrape_after(
        self, since: float, timeout: float = 30, instance: str | None = None
    ) -> None:
        """Wait until every target (or only ``instance``, ``host:port``) has been scraped
        after wall-clock time ``since``."""

        def scraped() -> bool:
            active = self.api("targets")["activeTargets"]
            if instance is not None:
                active = [t for t in active if t["labels"].get("instance") == instance]
            return bool(active) and all(
                t["health"] == "up" and rfc3339(t["lastScrape"]) > since for t in active
            )

        wait_until(scraped, timeout, what="a fresh scrape of every target")

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.api("alerts")["alerts"])

    def wait_alert_series_recorded(self, timeout: float = 60) -> None:
        """Wait until every rule group holding alerting rules has begun its second
        evaluation, so that every later evaluation writes the ``ALERTS`` series.

        Prometheus writes no ``ALERTS`` (nor ``ALERTS_FOR_STATE``) samples in a group's
        first two evaluations after it starts: it restores ``for`` state after the second
        one (``Group.run``, ``AlertingRule.restored``). The alerts are evaluated and sent to
        Alertmanager then, only their series starts late. A sample scraped after this
        returns is first evaluated in the third evaluation or later."""
        groups = {
            f"{group['file']};{group['name']}"
            for group in self.api("rules")["groups"]
            if any(rule["type"] == "alerting" for rule in group["rules"])
        }

        def second_begun() -> bool:
            begun = {
                match.group(1): float(match.group(2))
                for match in _ITERATIONS.finditer(http_get(self.url + "/metrics").decode())
            }
            return bool(groups) and all(begun.get(group, 0) >= 2 for group in groups)

        wait_until(second_begun, timeout, what="two evaluations of every alerting rule group")


_ITERATIONS = re.compile(
    r'^prometheus_rule_group_iterations_total\{rule_group="(.+)"\} (\S+)$', re.MULTILINE
)


class Alertmanager(_Process):
    """``prometheus-alertmanager`` on a free port, clustering off."""

    def __init__(
        self, config: Path, workdir: Path, *, binary: str = "prometheus-alertmanager"
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data = workdir / "alertmanager-data"
        data.mkdir(parents=True, exist_ok=True)
        super().__init__(
            [binary, f"--config.file={config}", f"--storage.path={data}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            workdir / "alertmanager.log",
        )  # fmt: skip
        try:
            wait_until(self._ready, 30, what="alertmanager /-/ready")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"alertmanager did not start:\n{self.log()}") from None

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"alertmanager exited:\n{self.log()}")
        http_get(self.url + "/-/ready", timeout=1)
        return True


class WebhookReceiver:
    """An HTTP server collecting Alertmanager webhook notifications."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        received = self.notifications
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                with lock:
                    received.append(payload)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def alert_names(self) -> set[str]:
        return {
            alert["labels"]["alertname"]
            for note in list(self.notifications)
            for alert in note.get("alerts", [])
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class DemoProcess(_Process):
    """``python -m otel_perf demo`` serving /metrics on a free port."""

    def __init__(
        self, workdir: Path, *args: str, name: str = "demo", port: int | None = None
    ) -> None:
        self.port = free_port() if port is None else port
        self.metrics_url = f"http://127.0.0.1:{self.port}/metrics"
        self.ledger_path = workdir / f"{name}-ledger.json"
        super().__init__(
            [sys.executable, "-m", "otel_perf", "demo", "--port", str(self.port), "--quiet",
             "--ledger", str(self.ledger_path), *args],
            workdir / f"{name}.log",
            # Import this checkout's otel_perf, whatever is installed.
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip

    def wait_serving(self, timeout: float = 30) -> None:
        wait_until(lambda: http_get(self.metrics_url, timeout=1), timeout, what="demo /metrics")

    def wait_ledger(self, timeout: float = 120) -> dict[str, Any]:
        """Wait until the ledger is written (the workload finished) and return it."""

        def ready() -> dict[str, Any] | None:
            if self.proc.poll() not in (None, 0):
                raise RuntimeError(f"demo failed:\n{self.log()}")
            if not self.ledger_path.exists():
                return None
            return dict(json.loads(self.ledger_path.read_text()))

        return dict(wait_until(ready, timeout, what="the demo ledger"))


def rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time with up to nanosecond precision."""
    match = re.match(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    base, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    return datetime.fromisoformat(base + zone).timestamp() + float("0." + (fraction or "0"))
