"""The report-speed benchmark end to end on a tiny fleet: promtool blocks, restarts on
two targets, and every checked figure exact (the timings are not checked here)."""

from __future__ import annotations

import pytest

from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e


def test_report_benchmark_smoke():
    require_tool("promtool")
    require_tool("prometheus")
    from benchmarks import report_speed

    result = report_speed.smoke()
    assert result["series"] > 500
    # with the backfilled otel-perf-report.rules records, and with raw series only
    assert result["records"]["mismatches"] == {} and result["raw"]["mismatches"] == {}
    assert result["records"]["recorded_instants"] == result["instants_in_data"] > 10
    assert result["raw"]["recorded_instants"] == 0
