"""Time ranges, PromQL building, project sorting and number formatting."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from otel_perf.monitoring import durations
from otel_perf.report import promql
from otel_perf.report.formatting import saving, seconds, text_table, usd
from otel_perf.report.model import ProjectRow
from otel_perf.report.projects import parse_sort, sort_rows
from otel_perf.report.timerange import (
    duration_seconds,
    parse_time,
    resolve_range,
    retention_seconds,
)

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds_"), [("7d", 604800), ("30d", 2592000), ("1h30m", 5400), ("90s", 90)]
)
def test_duration_seconds(text, seconds_):
    """Prometheus durations, compound ones included, read by the one parser (monitoring's)."""
    assert duration_seconds(text) == seconds_ == durations.seconds(text)
    assert resolve_range(text, now=NOW).seconds == seconds_


@pytest.mark.parametrize("bad", ["", "7", "7days", "d7", "1h 30m", "1.5h"])
def test_duration_seconds_rejects_garbage(bad):
    """Anything else is a ValueError naming the value."""
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        duration_seconds(bad)


def test_parse_time_forms():
    """ISO 8601 (UTC when no zone), unix seconds, now and now-DURATION."""
    utc = datetime(2027, 1, 15, tzinfo=timezone.utc).timestamp()
    assert parse_time("2027-01-15T00:00:00Z", now=NOW, what="--start") == utc
    assert parse_time("2027-01-15T00:00:00", now=NOW, what="--start") == utc
    assert parse_time("2027-01-15T01:00:00+01:00", now=NOW, what="--start") == utc
    assert parse_time("1700000000", now=NOW, what="--start") == 1_700_000_000
    assert parse_time("now-1h", now=NOW, what="--start") == NOW - 3600
    with pytest.raises(ValueError, match="--end: expected an ISO 8601 time"):
        parse_time("yesterday", now=NOW, what="--end")


def test_resolve_range_choices_and_custom():
    """7d/30d end now; all spans the retention plus a day; --start/--end are 'custom'."""
    assert resolve_range("7d", now=NOW).start == NOW - 7 * 86400
    assert resolve_range("30d", now=NOW).seconds == 30 * 86400
    assert resolve_range("all", now=NOW, retention=90 * 86400).seconds == 91 * 86400
    custom = resolve_range("7d", start="now-2h", end="now-1h", now=NOW)
    assert (custom.label, custom.start, custom.end) == ("custom", NOW - 7200, NOW - 3600)
    with pytest.raises(ValueError, match="must be before"):
        resolve_range(None, start="now-1h", end="now-2h", now=NOW)


def test_retention_from_flags():
    """The server's retention; 0s means the 15-day default."""
    assert retention_seconds({"storage.tsdb.retention.time": "90d"}) == 90 * 86400
    assert retention_seconds({"storage.tsdb.retention.time": "0s"}) == 15 * 86400
    assert retention_seconds({}) == 15 * 86400


def test_selector_applies_project_only_where_the_metric_has_it():
    """project= is matched on cost and duration series, never on route-level metrics."""
    assert promql.selector("otel_perf_cost_usd_total", project="a") == (
        'otel_perf_cost_usd_total{project="a"}'
    )
    assert promql.selector("otel_perf_operation_duration_seconds_count", project="a").endswith(
        '{project="a"}'
    )
    assert promql.selector("otel_perf_api_errors_total", project="a") == (
        "otel_perf_api_errors_total"
    )


def test_selector_quotes_label_values():
    """Quotes and backslashes in a project name cannot break out of the matcher."""
    sel = promql.selector("otel_perf_cost_usd_total", project='x"} or vector(1) #\\')
    assert sel == 'otel_perf_cost_usd_total{project="x\\"} or vector(1) #\\\\"}'


def _row(name: str, cost: float, rate: float | None) -> ProjectRow:
    return ProjectRow(name, cost, 1.0, 10, 1, rate, None if rate is None else 100 - rate)


def test_sort_rows_numbers_largest_first_missing_last():
    """Numeric columns sort descending by default; rows without a value go last."""
    rows = [_row("b", 1.0, 5.0), _row("a", 3.0, None), _row("c", 2.0, 50.0)]
    assert [r.project for r in sort_rows(rows, "cost")] == ["a", "c", "b"]
    assert [r.project for r in sort_rows(rows, "cost:asc")] == ["b", "c", "a"]
    assert [r.project for r in sort_rows(rows, "error_rate")] == ["c", "b", "a"]
    assert [r.project for r in sort_rows(rows, "project")] == ["a", "b", "c"]
    assert parse_sort("time:asc") == ("time_seconds", False)
    with pytest.raises(ValueError, match="order must be"):
        parse_sort("cost:up")


def test_formatting():
    """Money, durations and savings read naturally; tables align."""
    assert usd(0.0042) == "$0.0042"
    assert seconds(7200) == "2.0 h"
    assert saving(3, "errors") == "3 errors"
    table = text_table(["name", "n"], [["a", "1"], ["bbb", "22"]])
    assert table.splitlines()[2] == "  a      1"


def test_projection_continues_the_observed_rate_to_the_window_end():
    """$10 over the first day of a 30-day window projects to $300, over a $100 budget."""
    from otel_perf.report.rawdata import Extent
    from otel_perf.report.sections import projection

    start = NOW - 86400
    p = projection(10.0, Extent(start, NOW), NOW, 30 * 86400.0, 100.0)
    assert p.rate_usd_per_hour == pytest.approx(10 / 24)
    assert p.projected_usd == pytest.approx(300.0)
    assert p.over_budget is True
    idle = projection(10.0, Extent(NOW, NOW), NOW, 30 * 86400.0, None)
    assert (idle.projected_usd, idle.over_budget) == (None, None)  # no period to take a rate from
