"""A small client for the Prometheus HTTP API: queries, flags and the admin API.

Every failure becomes a ``PrometheusError`` with a message a person can act on (which
URL, what went wrong), so the CLI prints it instead of a traceback.

>>> client = PrometheusClient("http://127.0.0.1:9090")
>>> client.query("sum(otel_perf_cost_usd_total)")  # doctest: +SKIP
[Sample(labels={}, value=1.25)]
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Final

DEFAULT_URL: Final = "http://127.0.0.1:9090"
DEFAULT_TIMEOUT: Final = 30.0


class PrometheusError(Exception):
    """Prometheus could not answer: unreachable, refused the query, or answered nonsense."""


class PrometheusUnreachable(PrometheusError):
    """Nothing answered at the URL (connection refused, DNS failure, timeout)."""


class AdminApiDisabled(PrometheusError):
    """Prometheus runs without ``--web.enable-admin-api``."""


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


class PrometheusClient:
    """Talks to one Prometheus server over its HTTP API (``/api/v1``)."""

    def __init__(self, url: str = DEFAULT_URL, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"--prometheus: expected an http(s) URL, got {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout

    # --- queries ----------------------------------------------------------------------------

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Evaluate ``expr`` at unix time ``at`` (now when ``None``); an instant vector."""
        params = {"query": expr}
        if at is not None:
            params["time"] = _fmt_time(at)
        data = self._call("POST", "query", params)
        if data.get("resultType") == "scalar":
            return [Sample({}, _number(data["result"][1]))]
        if data.get("resultType") != "vector":
            raise PrometheusError(f"expected an instant vector from {expr!r}, got {data!r:.200}")
        return [Sample(dict(r["metric"]), _number(r["value"][1])) for r in data["result"]]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """Evaluate ``expr`` at ``start``, ``start + step``, ... up to ``end``."""
        params = {
            "query": expr,
            "start": _fmt_time(start),
            "end": _fmt_time(end),
            "step": f"{step:g}",
        }
        data = self._call("POST", "query_range", params)
        if data.get("resultType") != "matrix":
            raise PrometheusError(f"expected a range vector from {expr!r}, got {data!r:.200}")
        return [
            Series(dict(r["metric"]), [(float(t), _number(v)) for t, v in r["values"]])
            for r in data["result"]
        ]

    def flags(self) -> dict[str, str]:
        """The server's command-line flags (retention, admin API, ...)."""
        return {str(k): str(v) for k, v in self._call("GET", "status/flags", {}).items()}

    # --- admin API --------------------------------------------------------------------------

    def delete_series(self, matchers: list[str], start: float | None = None) -> None:
        """Delete every sample of the series matching any of ``matchers``."""
        params: list[tuple[str, str]] = [("match[]", m) for m in matchers]
        if start is not None:
            params.append(("start", _fmt_time(start)))
        self._call("POST", "admin/tsdb/delete_series", params, admin=True)

    def clean_tombstones(self) -> None:
        """Remove deleted data from disk now instead of at the next compaction."""
        self._call("POST", "admin/tsdb/clean_tombstones", {}, admin=True)

    # --- transport --------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        params: dict[str, str] | list[tuple[str, str]],
        *,
        admin: bool = False,
    ) -> Any:
        url = f"{self.url}/api/v1/{path}"
        body = urllib.parse.urlencode(params).encode()
        if method == "GET":
            request = urllib.request.Request(f"{url}?{body.decode()}" if body else url)
        else:
            request = urllib.request.Request(
                url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PrometheusUnreachable(
                f"cannot reach Prometheus at {self.url}: {reason} "
                "(is it running? pass its address with --prometheus URL)"
            ) from None
        return self._payload(path, status, raw, admin)

    def _payload(self, path: str, status: int, raw: bytes, admin: bool) -> Any:
        if status == 204:  # admin endpoints answer "No Content" on success
            return {}
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise PrometheusError(
                f"{self.url} answered HTTP {status} with something that is not the Prometheus "
                "API (is this the Prometheus server URL?)"
            ) from None
        if not isinstance(body, dict) or "status" not in body:
            raise PrometheusError(f"{self.url}/api/v1/{path}: unexpected answer {body!r:.200}")
        if body["status"] == "success":
            return body.get("data", {})
        error = str(body.get("error", "unknown error"))
        if admin and (body.get("errorType") == "unavailable" or "admin APIs disabled" in error):
            raise AdminApiDisabled(
                f"the admin API of Prometheus at {self.url} is disabled: restart Prometheus "
                "with --web.enable-admin-api to delete series (the compose stack enables it)"
            )
        raise PrometheusError(f"Prometheus at {self.url} refused /api/v1/{path}: {error}")


def _fmt_time(unix: float) -> str:
    return f"{unix:.3f}"


def _number(text: Any) -> float:
    value = float(text)
    return value if math.isfinite(value) else math.nan
