"""A small client for the Prometheus HTTP API: queries, exemplars, flags and the admin API.

One deadline covers every request a client makes (``deadline_seconds``): a server that
drips its answer a byte at a time is cut off when the deadline passes, not after each
read times out. Answers are capped in size (``max_bytes``). Every failure is a
``PrometheusError`` subclass with one line a person can act on:

* ``PrometheusUnreachable``: nothing answered, or not before the deadline;
* ``PrometheusRefused``: the server answered with an API error (bad query, admin API off);
* ``MalformedAnswer``: the answer is not the Prometheus API, not JSON, the wrong shape, or
  larger than the cap.

>>> client = PrometheusClient("http://127.0.0.1:9090")
>>> client.query("sum(otel_perf_cost_usd_total)")  # doctest: +SKIP
[Sample(labels={}, value=1.25)]
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from otel_perf.report.safetext import printable

DEFAULT_URL: Final = "http://127.0.0.1:9090"
#: Seconds for the whole report (every request together).
DEFAULT_TIMEOUT: Final = 30.0
#: Largest answer accepted from Prometheus, in bytes.
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
#: Requests in flight at once: Prometheus evaluates each query on one core, so a few in
#: parallel use a multi-core server without queueing behind its own concurrency limit (20).
POOL_SIZE: Final = 4
_CHUNK: Final = 64 * 1024
_MEMO_LIMIT: Final = 256


class PrometheusError(Exception):
    """Prometheus could not answer: unreachable, refused the query, or answered nonsense."""


class PrometheusUnreachable(PrometheusError):
    """Nothing answered at the URL (connection refused, DNS failure, deadline passed)."""


class PrometheusRefused(PrometheusError):
    """The server answered with an API error status (a bad query, a disabled API)."""


class AdminApiDisabled(PrometheusRefused):
    """Prometheus runs without ``--web.enable-admin-api``."""


class MalformedAnswer(PrometheusError):
    """The answer is not a Prometheus API answer of the expected shape, or is too large."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant-query result."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One series of a range-query result: ``(unix seconds, value)`` points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class Exemplar:
    """One exemplar: the series it belongs to, its own labels (``trace_id``), value, time."""

    series: dict[str, str]
    labels: dict[str, str]
    value: float
    time: float


class PrometheusClient:
    """Talks to one Prometheus server over its HTTP API (``/api/v1``).

    ``timeout`` is the deadline for everything this client does from its creation on.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"--prometheus: expected an http(s) URL, got {printable(url)}")
        if not timeout > 0:
            raise ValueError(f"--timeout must be > 0 seconds, got {timeout!r}")
        self.url = url.rstrip("/")
        self._parsed = parsed
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.deadline = time.monotonic() + timeout
        self.queries = 0  # requests sent, for the benchmark
        self.samples = 0  # samples Prometheus read for our queries (its query stats)
        self._lock = threading.Lock()
        # range queries asked twice (the two activity searches share their first steps)
        # are sent once; a report asks a few dozen
        self._ranges: dict[tuple[str, str, str, str], Future[list[Series]]] = {}

    # --- queries ----------------------------------------------------------------------------

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Evaluate ``expr`` at unix time ``at`` (now when ``None``); an instant vector."""
        params = {"query": expr, "stats": "1"}
        if at is not None:
            params["time"] = _fmt_time(at)
        data = self._call("POST", "query", params)
        self._count_samples(data)
        kind = _field(data, "resultType", str)
        result = _field(data, "result", (list, tuple))
        try:
            if kind == "scalar":
                return [Sample({}, _number(result[1]))]
            if kind != "vector":
                raise TypeError(kind)
            return [Sample(_labels(r["metric"]), _number(r["value"][1])) for r in result]
        except (KeyError, IndexError, TypeError, ValueError):
            raise self._malformed("query", "an instant vector") from None

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """Evaluate ``expr`` at ``start``, ``start + step``, ... up to ``end``. The same
        query asked again (or while in flight) is answered once; the answer is shared, so
        callers do not change it."""
        key = (expr, _fmt_time(start), _fmt_time(end), f"{step:g}")
        with self._lock:
            if len(self._ranges) >= _MEMO_LIMIT:
                self._ranges.clear()
            known = self._ranges.get(key)
            if known is None:
                pending: Future[list[Series]] = Future()
                self._ranges[key] = pending
        if known is not None:
            return known.result()
        try:
            answer = self._query_range(expr, start, end, step)
        except BaseException as exc:
            pending.set_exception(exc)
            raise
        pending.set_result(answer)
        return answer

    def _query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        params = {
            "query": expr,
            "start": _fmt_time(start),
            "end": _fmt_time(end),
            "step": f"{step:g}",
            "stats": "1",
        }
        data = self._call("POST", "query_range", params)
        self._count_samples(data)
        try:
            if _field(data, "resultType", str) != "matrix":
                raise TypeError("resultType")
            return [
                Series(_labels(r["metric"]), [(float(t), _number(v)) for t, v in r["values"]])
                for r in _field(data, "result", (list, tuple))
            ]
        except (KeyError, IndexError, TypeError, ValueError):
            raise self._malformed("query_range", "a range vector") from None

    def query_exemplars(self, expr: str, start: float, end: float) -> list[Exemplar]:
        """Exemplars of the series selected by ``expr`` between ``start`` and ``end``."""
        params = {"query": expr, "start": _fmt_time(start), "end": _fmt_time(end)}
        data = self._call("POST", "query_exemplars", params)
        try:
            return [
                Exemplar(
                    _labels(group["seriesLabels"]),
                    _labels(e.get("labels", {})),
                    _number(e["value"]),
                    float(e["timestamp"]),
                )
                for group in (data if data is not None else [])
                for e in group.get("exemplars") or []
            ]
        except (AttributeError, KeyError, TypeError, ValueError):
            raise self._malformed("query_exemplars", "a list of exemplar groups") from None

    def flags(self) -> dict[str, str]:
        """The server's command-line flags (retention, admin API, ...)."""
        data = self._call("GET", "status/flags", {})
        if not isinstance(data, dict):
            raise self._malformed("status/flags", "an object of flags")
        return {str(k): str(v) for k, v in data.items()}

    def scrape_intervals(self) -> dict[tuple[str, str], str]:
        """``(job, instance)`` -> configured scrape interval (``"15s"``) of active targets."""
        data = self._call("GET", "targets", {"state": "active"})
        out: dict[tuple[str, str], str] = {}
        if not isinstance(data, dict) or not isinstance(data.get("activeTargets"), list):
            raise self._malformed("targets", "a list of targets")
        for t in data["activeTargets"]:
            if isinstance(t, dict) and isinstance(t.get("labels"), dict):
                labels = t["labels"]
                out[(str(labels.get("job", "")), str(labels.get("instance", "")))] = str(
                    t.get("scrapeInterval", "")
                )
        return out

    def series(self, matchers: Sequence[str], start: float, end: float) -> list[dict[str, str]]:
        """Label sets of the series matching any of ``matchers`` with samples in the range."""
        params: list[tuple[str, str]] = [("match[]", m) for m in matchers]
        params += [("start", _fmt_time(start)), ("end", _fmt_time(end))]
        data = self._call("POST", "series", params)
        if not isinstance(data, list):
            raise self._malformed("series", "a list of label sets")
        try:
            return [_labels(item) for item in data]
        except (AttributeError, TypeError, ValueError):
            raise self._malformed("series", "a list of label sets") from None

    def run_all(self, calls: Iterable[Callable[[], Any]]) -> list[Any]:
        """Run ``calls`` on a bounded pool; results in order; the first failure raises."""
        pending = list(calls)
        if len(pending) <= 1:
            return [call() for call in pending]
        with ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="otel-perf-q") as pool:
            futures = [pool.submit(call) for call in pending]
            return [f.result() for f in futures]

    # --- admin API --------------------------------------------------------------------------

    def delete_series(
        self, matchers: list[str], start: float | None = None, end: float | None = None
    ) -> None:
        """Delete the samples of the series matching any of ``matchers``."""
        params: list[tuple[str, str]] = [("match[]", m) for m in matchers]
        if start is not None:
            params.append(("start", _fmt_time(start)))
        if end is not None:
            params.append(("end", _fmt_time(end)))
        self._call("POST", "admin/tsdb/delete_series", params, admin=True)

    def clean_tombstones(self) -> None:
        """Remove deleted data from disk now instead of at the next compaction."""
        self._call("POST", "admin/tsdb/clean_tombstones", {}, admin=True)

    # --- transport --------------------------------------------------------------------------

    def _count_samples(self, data: Any) -> None:
        """Add the query's ``totalQueryableSamples`` (Prometheus 2.35+ with ``stats``)."""
        stats = data.get("stats") if isinstance(data, dict) else None
        samples = stats.get("samples") if isinstance(stats, dict) else None
        total = samples.get("totalQueryableSamples") if isinstance(samples, dict) else None
        if isinstance(total, int):
            with self._lock:
                self.samples += total

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _call(
        self,
        method: str,
        path: str,
        params: dict[str, str] | list[tuple[str, str]],
        *,
        admin: bool = False,
    ) -> Any:
        with self._lock:
            self.queries += 1
        body = urllib.parse.urlencode(params)
        target = f"{self._parsed.path.rstrip('/')}/api/v1/{path}"
        if method == "GET" and body:
            target, body = f"{target}?{body}", ""
        status, raw = self._http(method, target, body.encode())
        return self._payload(path, status, raw, admin)

    def _http(self, method: str, target: str, body: bytes) -> tuple[int, bytes]:
        remaining = self.remaining()
        if remaining <= 0:
            raise self._late()
        host, port = self._parsed.hostname or "", self._parsed.port
        factory = (
            http.client.HTTPSConnection
            if self._parsed.scheme == "https"
            else http.client.HTTPConnection
        )
        conn = factory(host, port, timeout=remaining)
        expired = threading.Event()
        opened: list[socket.socket] = []

        def cut() -> None:  # the deadline passed: unblock whatever read is waiting
            expired.set()
            for sock in opened:  # the connection may have handed its socket to the response
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(remaining, cut)
        timer.daemon = True
        timer.start()
        try:
            conn.connect()
            if conn.sock is not None:
                opened.append(conn.sock)
            if expired.is_set():
                raise self._late()
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
            conn.request(method, target, body=body or None, headers=headers)
            response = conn.getresponse()
            chunks, size = [], 0
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_bytes:
                    raise MalformedAnswer(
                        f"Prometheus at {self.url} sent an answer larger than "
                        f"{self.max_bytes // (1024 * 1024)} MiB; stopped reading (narrow the "
                        "range or --selector)"
                    )
                chunks.append(chunk)
                if expired.is_set():
                    raise self._late()
            if expired.is_set():  # the cut ends the read like an end of file would
                raise self._late()
            return response.status, b"".join(chunks)
        except MalformedAnswer:
            raise
        except (OSError, http.client.HTTPException) as exc:
            if expired.is_set() or self.remaining() <= 0:
                raise self._late() from None
            reason = printable(str(getattr(exc, "reason", exc)) or type(exc).__name__)
            raise PrometheusUnreachable(
                f"cannot reach Prometheus at {printable(self.url)}: {reason} "
                "(is it running? pass its address with --prometheus URL)"
            ) from None
        finally:
            timer.cancel()
            conn.close()

    def _late(self) -> PrometheusUnreachable:
        return PrometheusUnreachable(
            f"Prometheus at {printable(self.url)} did not answer within the {self.timeout:g} s "
            "deadline (--timeout covers the whole report)"
        )

    def _malformed(self, path: str, expected: str) -> MalformedAnswer:
        return MalformedAnswer(
            f"Prometheus at {printable(self.url)} answered /api/v1/{path} with something that is "
            f"not {expected} (is this the Prometheus server URL?)"
        )

    def _payload(self, path: str, status: int, raw: bytes, admin: bool) -> Any:
        if status == 204:  # admin endpoints answer "No Content" on success
            return {}
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise MalformedAnswer(
                f"{printable(self.url)} answered HTTP {status} with something that is not the "
                "Prometheus API (is this the Prometheus server URL?)"
            ) from None
        if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
            raise self._malformed(path, "a Prometheus API answer")
        if body["status"] == "success":
            return body.get("data")
        error = printable(str(body.get("error", "unknown error")))[:300]
        if admin and (body.get("errorType") == "unavailable" or "admin APIs disabled" in error):
            raise AdminApiDisabled(
                f"the admin API of Prometheus at {printable(self.url)} is disabled: restart "
                "Prometheus with --web.enable-admin-api to delete series (the compose stack "
                "enables it)"
            )
        raise PrometheusRefused(
            f"Prometheus at {printable(self.url)} refused /api/v1/{path}: {error}"
        )


def _field(data: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(data, dict) or not isinstance(data.get(key), kind):
        raise TypeError(key)
    return data[key]


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TypeError("labels")
    if set(map(type, value.values())) <= _STR:  # JSON's own fresh dict: keys are strings
        return value
    return {str(k): str(v) for k, v in value.items()}


_STR: Final = {str}


def _fmt_time(unix: float) -> str:
    return f"{unix:.3f}"


def _number(text: Any) -> float:
    if not isinstance(text, (str, int, float)):
        raise TypeError("number")
    value = float(text)
    return value if math.isfinite(value) else math.nan
