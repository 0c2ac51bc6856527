"""A real Prometheus scrapes a gunicorn service through worker recycling; the report agrees."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.e2e.prefork import COST_USD, Service, free_ports, load, scrape, service_env, tool
from tests.e2e.test_gunicorn import APP, RECIPES
from tests.support.servers import Prometheus, wait_until
from tests.support.tools import require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus]

WAVES = (60, 90, 50)


def test_report_totals_equal_the_ground_truth_through_recycling(tmp_path):
    """gunicorn -w 4 --max-requests 15 scraped every second by Prometheus while N requests
    (each a $0.02 generation) recycle every worker several times: Prometheus's increase
    and ``otel-perf report``'s totals are exactly N and N x $0.02."""
    require_tool("prometheus")
    app_port, metrics_port = free_ports(2)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: media-api\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    argv = [tool("gunicorn"), *RECIPES["max_requests"], "-b", f"127.0.0.1:{app_port}", APP]
    service = Service(argv, service_env(tmp_path, metrics_port), tmp_path / "gunicorn.log",
                      f"http://127.0.0.1:{app_port}/metrics")  # fmt: skip
    prometheus = Prometheus(config, tmp_path)
    try:
        embedded = f"http://127.0.0.1:{metrics_port}/metrics"
        wait_until(lambda: scrape(embedded, attempts=3), 20, what="the embedded server")
        prometheus.wait_for_scrape_after(time.time())  # the zero before any work
        pids: set[str] = set()
        for wave in WAVES:
            pids |= load(f"http://127.0.0.1:{app_port}/work", wave)
            prometheus.wait_for_scrape_after(time.time())
        n = sum(WAVES)
        assert len(pids) > 8, pids  # every worker was recycled at least once
        labels = 'operation="generate_image",model="flux-pro"'
        count = prometheus.value(f"sum(otel_perf_operation_duration_seconds_count{{{labels}}})")
        cost = prometheus.value(f"sum(otel_perf_cost_usd_total{{{labels}}})")
        assert count == n and cost == pytest.approx(n * COST_USD, abs=1e-9)
        report = subprocess.run(
            [tool("otel-perf"), "report", "--prometheus", prometheus.url,
             "--range", "1h", "--format", "json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert report.returncode == 0, report.stderr
        data = json.loads(report.stdout)
        print(
            f"truth {n} ops / ${n * COST_USD:.2f}; Prometheus {count:g} / ${cost:.2f}; "
            f"report {data['time']['operations']} / ${data['cost']['total_usd']:.2f}"
        )
        assert data["time"]["operations"] == n
        assert data["efficiency"]["generation_attempts"] == n  # report schema 2
        assert data["cost"]["total_usd"] == pytest.approx(n * COST_USD, abs=1e-6)
    finally:
        prometheus.stop()
        service.stop()
