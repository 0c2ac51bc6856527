"""Selector parsing, projection rule, quantiles, text safety and restart-aware bins."""

from __future__ import annotations

import pytest

from otel_perf.report import promql
from otel_perf.report.rawdata import Extent, Row, TargetInfo
from otel_perf.report.safetext import csv_cell, printable
from otel_perf.report.sections import projection, quantile
from otel_perf.report.totals import window_totals
from otel_perf.report.trends import bin_increases

DAY = 86400.0


def test_selector_accepts_promql_matchers():
    """Equality, negation and regex matchers, with or without braces."""
    assert promql.parse_selector('job="media-api",env="prod"') == ('job="media-api"', 'env="prod"')
    assert promql.parse_selector('{ env=~"prod|stage" , team!="x" }') == (
        'env=~"prod|stage"',
        'team!="x"',
    )
    assert promql.parse_selector(None) == ()
    sel = promql.selector("otel_perf_retries_total", {"operation": "x"}, scope=('job="a"',))
    assert sel == 'otel_perf_retries_total{operation="x", job="a"}'


@pytest.mark.parametrize("bad", ["job=media", 'job="a" env="b"', '__name__="x"', 'job="a",,'])
def test_selector_rejects_what_is_not_a_matcher(bad: str):
    with pytest.raises(ValueError, match="--selector"):
        promql.parse_selector(bad)


def test_projection_needs_a_day_of_activity():
    """Under 24 h of activity: no rate and no projection, and the basis says why."""
    p = projection(5.0, Extent(0.0, 3 * 3600.0), 3 * 3600.0, 30 * DAY, None)
    assert (p.status, p.projected_usd, p.rate_usd_per_hour) == ("not enough data", None, None)
    assert "3.0 h of activity" in p.basis and "24 h" in p.basis


def test_projection_continues_the_active_rate():
    """$20 over 2 days, report at day 2 of a 30-day window: $20 + $10/day x 28 days."""
    p = projection(20.0, Extent(0.0, 2 * DAY), 2 * DAY, 30 * DAY, 200.0)
    assert p.status == "projected"
    assert p.rate_usd_per_hour == pytest.approx(10.0 / 24)
    assert p.projected_usd == pytest.approx(20.0 + 10.0 * 28)
    assert p.over_budget is True
    assert "$20.00 spent over 2.0 d of activity" in p.basis


def test_quantile_interpolates_like_histogram_quantile():
    buckets = [(0.5, 20.0), (5.0, 28.0), (10.0, 29.0), (float("inf"), 29.0)]
    assert quantile(0.5, buckets) == pytest.approx(0.5 * 14.5 / 20)
    assert quantile(0.9, buckets) == pytest.approx(0.5 + 4.5 * (26.1 - 20) / 8)
    assert quantile(0.99, [(1.0, 1.0), (float("inf"), 10.0)]) == 1.0
    assert quantile(0.5, []) is None


@pytest.mark.parametrize(
    ("cell", "guarded"),
    [("=1+1", True), (" =1", True), ("\r=HYPERLINK()", True), ("\n+2", True), ("@SUM(A)", True),
     ("-3", True), ("\t=x", True), ("a=b", False), ("flux", False), ("", False)],
)  # fmt: skip
def test_csv_cells_that_would_run_as_formulas_are_quoted(cell: str, guarded: bool):
    assert csv_cell(cell) == ("'" + cell if guarded else cell)


def test_printable_escapes_controls_and_bidi():
    assert printable("a\x1b[31mb\x07c\u202ed\u2066e\x9bf") == (
        "a\\x1b[31mb\\x07c\\u202ed\\u2066e\\x9bf"
    )
    assert printable("ünïcode ok") == "ünïcode ok"


def test_bins_count_across_a_restart():
    """8 before the restart, then the new process counts 2 and 3: bins add up to 11."""
    times = [0.0, 10.0, 20.0, 30.0]
    target = TargetInfo("job", "i", restarts=[15.0])
    points = [(0.0, 5.0), (10.0, 8.0), (20.0, 2.0), (30.0, 3.0)]
    inc = bin_increases(points, times, target, {15.0: 8.0})
    assert inc == [3.0, 2.0, 1.0]


def test_bin_increases_use_the_start_and_end_reads_where_the_short_reads_miss():
    """The grid's 15-minute reads miss the start (no scrape just before it) and everything
    after the target stopped at 22: the start read is the baseline and the growth up to the
    end read lands in the bin of the last scrape, so the bins add up to end - start."""
    times = [0.0, 10.0, 20.0, 30.0, 40.0]
    target = TargetInfo("job", "i", last_seen=30.0)
    points = [(10.0, 7.0), (20.0, 9.0)]  # nothing at 0, 30 or 40
    inc = bin_increases(points, times, target, {}, baseline=5.0, final=12.0)
    assert inc == [2.0, 2.0, 3.0, 0.0]
    assert sum(inc) == 12.0 - 5.0
    # without them the first read counts from zero and the last growth is lost
    assert bin_increases(points, times, target, {}) == [7.0, 2.0, 0.0, 0.0]


def test_bin_increases_after_a_restart_use_the_end_read_of_the_new_process():
    """Restart at 15, the new process not read again by the grid: its growth is the end read."""
    times = [0.0, 10.0, 20.0, 30.0]
    target = TargetInfo("job", "i", restarts=[15.0], last_seen=30.0)
    inc = bin_increases([(0.0, 5.0), (10.0, 8.0)], times, target, {15.0: 9.0}, final=4.0)
    assert inc == [3.0, 1.0, 4.0]


def test_window_totals_sum_lifetimes():
    """end - start + the last value of each earlier lifetime, per label set."""
    labels = {"operation": "generate_image", "job": "j", "instance": "i"}
    key = tuple(labels.items())
    video = {**labels, "operation": "generate_video"}
    rows = [
        Row("end0", labels, key, 3.0),
        Row("start0", labels, key, 5.0),
        Row("r0_0", labels, key, 8.0),
        Row("end0", video, tuple(video.items()), 2.0),
    ]
    totals = {tuple(t.labels.items()): t.value for t in window_totals(rows, [])}
    assert totals == {key: 6.0, tuple(video.items()): 2.0}
