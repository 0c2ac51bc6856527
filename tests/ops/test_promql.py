"""PromQL building blocks: selectors refuse labels a metric lacks; durations parse."""

from __future__ import annotations

import pytest

from otel_perf import metrics as M
from otel_perf.monitoring.dashboards.common import scoped
from otel_perf.monitoring.durations import is_duration, seconds
from otel_perf.monitoring.promql import Eq, Ne, Re, number, selector


def test_selector_refuses_a_label_the_metric_does_not_have():
    """API errors carry no `project`; matching it there is an error, not a silent no-op."""
    assert selector(M.COST_USD, project=Re("$project")) == (
        'otel_perf_cost_usd_total{project=~"$project"}'
    )
    with pytest.raises(ValueError, match="has no label 'project'"):
        selector(M.API_ERRORS, project=Eq("a"))
    with pytest.raises(ValueError, match="not a series of the otel-perf metric contract"):
        selector("otel_perf_made_up_total", job=Eq("x"))


def test_selector_knows_histogram_suffixes_and_escapes_values():
    """_bucket gains `le`; quotes and backslashes in values are escaped."""
    bucket = selector(M.OPERATION_DURATION + "_bucket", le=Eq("+Inf"), model=Eq('a"b\\c'))
    assert bucket == 'otel_perf_operation_duration_seconds_bucket{le="+Inf", model="a\\"b\\\\c"}'
    with pytest.raises(ValueError):
        selector(M.OPERATION_DURATION + "_sum", le=Eq("1"))


def test_scoped_applies_only_the_variables_a_metric_carries():
    """Dashboard variables become matchers on existing labels only; fixed ones are added."""
    assert scoped(M.API_CONSECUTIVE_ERRORS) == 'otel_perf_api_consecutive_errors{job=~"$service"}'
    assert scoped(M.QUEUE_WAIT + "_sum") == (
        'otel_perf_queue_wait_seconds_sum{job=~"$service", operation=~"$operation"}'
    )
    assert scoped(M.COST_USD, project=Ne("")) == (
        'otel_perf_cost_usd_total{job=~"$service", project=~"$project", project!="", '
        'operation=~"$operation", model=~"$model"}'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", 30), ("15m", 900), ("1h30m", 5400), ("30d", 2592000), ("1w", 604800)],
)
def test_durations(text: str, expected: float):
    """Prometheus durations convert to seconds."""
    assert is_duration(text) and seconds(text) == expected


@pytest.mark.parametrize("text", ["", "15", "15 m", "1.5h", "m15"])
def test_bad_durations(text: str):
    """Malformed durations are refused."""
    assert not is_duration(text)
    with pytest.raises(ValueError):
        seconds(text)


def test_number_has_no_float_noise():
    """14.4 x 1% renders as 0.144, not 0.14400000000000002."""
    assert number(14.4 * (1 - 0.99)) == "0.144"
    assert number(10.0) == "10"
