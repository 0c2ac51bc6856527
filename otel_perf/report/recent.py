"""Recent errors: the last failed operations, from exemplars of the duration histogram,
with the error types whose counters grew with them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Final

from otel_perf import metrics as M
from otel_perf.redact import scrub
from otel_perf.report import promql
from otel_perf.report.grid import Grid
from otel_perf.report.prometheus import Exemplar, PrometheusError
from otel_perf.report.rawdata import DUR_BUCKET, RecentError, TargetInfo

RECENT_ERRORS: Final = 10


def fetch_exemplars(g: Grid, stored: bool) -> list[Exemplar] | str:
    """Exemplars of failed operations in the range, or why there are none to read:
    ``stored`` is false when Prometheus runs without exemplar storage."""
    if not stored:
        return "Prometheus runs without --enable-feature=exemplar-storage"
    expr = g.sel(DUR_BUCKET, {"status": "error"})
    try:
        found = g.client.query_exemplars(expr, g.window.start, g.window.end)
    except PrometheusError as exc:
        if "exemplar" in str(exc).lower() or "404" in str(exc):
            return f"Prometheus did not serve exemplars ({exc})"
        raise
    return found


def recent_errors(
    g: Grid, exemplars: list[Exemplar], targets: list[TargetInfo]
) -> list[RecentError]:
    """The last ``RECENT_ERRORS`` failed operations (one per trace), newest first."""
    seen: dict[str, Exemplar] = {}
    for e in exemplars:
        trace = e.labels.get("trace_id") or e.labels.get("traceID") or ""
        if trace and (trace not in seen or seen[trace].time < e.time):
            seen[trace] = e
    latest = sorted(seen.values(), key=lambda e: -e.time)[:RECENT_ERRORS]
    types = g.client.run_all([partial(_error_types, g, e) for e in latest])
    out = []
    for e, kinds in zip(latest, types, strict=True):
        s = {k: scrub(v) for k, v in e.series.items()}
        out.append(
            RecentError(
                e.time, s.get("operation", ""), s.get("model", ""), s.get("project", ""),
                s.get("job", ""), s.get("instance", ""), kinds,
                _trace_id(e.labels), e.value,
            )
        )  # fmt: skip
    return out


def _error_types(g: Grid, e: Exemplar) -> tuple[str, ...]:
    """Error types whose counter grew for this operation, model, project and target
    in the first scrape after the failure (several when they grew together)."""
    keep = ("operation", "model", "project", "job", "instance")
    labels: dict[str, str] = {k: e.series[k] for k in keep if k in e.series}
    sel = promql.selector(M.OPERATION_ERRORS, labels)
    before = f"last_over_time({sel}[1d] @ {e.time:.3f})"
    after = f"min_over_time({sel}[1h] @ {e.time + 3600:.3f})"  # counters only grow
    expr = f"sum by (error_type) (({after} - {before}) or {after})"
    rows = g.client.query(expr, at=g.window.end)
    return tuple(sorted(scrub(r.labels.get("error_type", "")) for r in rows if r.value > 0))


def _trace_id(labels: Mapping[str, str]) -> str:
    """The exemplar's trace id when it is one (32 or 16 hex digits), else empty: a trace id
    is no secret and must stay readable (the scrubber would redact it as a hex token), and
    anything else in that label is not shown."""
    value = labels.get("trace_id") or labels.get("traceID") or ""
    return value.lower() if _TRACE_ID.fullmatch(value) else ""


_TRACE_ID: Final = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{16}")
