"""The report's grid reads only 15 minutes before each of its 61 instants. Against a real
Prometheus serving promtool-built blocks (7 days at 5-minute resolution): a worker that
lived two hours between two instants is still counted, and the trend bins still add up to
the totals."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.support.report_stack import run_cli
from tests.support.servers import Prometheus
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e
DAY = 86400
STEP = 300
COUNT = "otel_perf_operation_duration_seconds_count"
LABELS = 'operation="generate_image",model="flux",provider="bfl",project="film",status="success"'


def _openmetrics(end: int) -> tuple[str, int, int]:
    """Worker a: all week, one generation an hour. Worker b: 1 to 3 generations in two
    hours in the middle of a grid bin, more than 15 minutes from any grid instant."""
    start = end - 7 * DAY
    bin_ = 7 * DAY // 60
    b_first = start + 30 * bin_ + 1800
    b_last = b_first + 7200
    assert b_last + 900 < start + 31 * bin_  # the next instant's 15 minutes miss it
    times = range(start - DAY, end + 1, STEP)
    lines = ["# TYPE otel_perf_operation_duration_seconds histogram"]
    target = {"a": 'job="svc",instance="a"', "b": 'job="svc",instance="b"'}
    for t in times:
        lines.append(f"{COUNT}{{{LABELS},{target['a']}}} {1 + (t - times[0]) // 3600} {t}")
    for t in range(b_first, b_last + 1, STEP):
        lines.append(f"{COUNT}{{{LABELS},{target['b']}}} {1 + (t - b_first) // 3600} {t}")
    for name, value in (("process_start_time_seconds", None), ("up", 1)):
        lines.append(f"# TYPE {name} gauge")
        for t in times:
            lines.append(f"{name}{{{target['a']}}} {value or times[0] - 60} {t}")
        for t in range(b_first, b_last + 1, STEP):
            lines.append(f"{name}{{{target['b']}}} {value or b_first - 60} {t}")
    return "\n".join(lines) + "\n# EOF\n", times[0], 3


def _a_value(t: int, first: int) -> int:
    return 1 + (t - first) // 3600


def test_a_worker_between_two_instants_is_counted(tmp_path: Path):
    """Totals = a's growth + b's 3; the 60 bins add up to them; b's 3 are in its bin."""
    require_tool("promtool")
    require_tool("prometheus")
    end = int(time.time()) // 3600 * 3600 - 3600
    text, first, b_growth = _openmetrics(end)
    start, bin_ = end - 7 * DAY, 7 * DAY // 60
    a_growth = _a_value(end, first) - _a_value(start, first)
    source = tmp_path / "fleet.om"
    source.write_text(text)
    data = tmp_path / "prometheus-data"
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(data)],
        check=True, capture_output=True,
    )  # fmt: skip
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    prometheus = Prometheus(config, tmp_path)
    try:
        result = run_cli(
            "report", "--prometheus", prometheus.url, "--range", "7d", "--end", str(end),
            "--format", "json",
        )  # fmt: skip
    finally:
        prometheus.stop()
    assert result.code == 0, result.err
    report = result.json()
    assert report["errors"]["operations"] == a_growth + b_growth
    trend = report["errors"]["trend"]
    assert len(trend) == 60
    assert sum(p["operations"] for p in trend) == a_growth + b_growth
    expected = [
        _a_value(start + (i + 1) * bin_, first) - _a_value(start + i * bin_, first)
        + (b_growth if i == 30 else 0)
        for i in range(60)
    ]  # fmt: skip
    assert [p["operations"] for p in trend] == expected
