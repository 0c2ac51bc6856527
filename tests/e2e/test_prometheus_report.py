"""A real Prometheus scrapes a gunicorn service through worker recycling; the report agrees."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml

from otel_perf.monitoring.prometheus_files import rule_file
from otel_perf.monitoring.rules import report_rules
from tests.e2e.prefork import COST_USD, Service, free_ports, load, scrape, service_env, tool
from tests.e2e.test_gunicorn import APP, RECIPES
from tests.support.servers import Prometheus, wait_until
from tests.support.tools import require_tool

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus]

WAVES = (60, 90, 50)


def test_report_totals_equal_the_ground_truth_through_recycling(tmp_path):
    """gunicorn -w 4 --max-requests 15 scraped every second by Prometheus while N requests
    (each a $0.02 generation) recycle every worker several times: Prometheus's increase
    and ``otel-perf report``'s totals are exactly N and N x $0.02. Prometheus evaluates
    the generated ``otel-perf-report.rules`` every second; the report over the load reads
    its trend grid from those records and gives the same figures as without them."""
    require_tool("prometheus")
    app_port, metrics_port = free_ports(2)
    rules = tmp_path / "report.rules.yml"
    rules.write_text(yaml.safe_dump(rule_file([report_rules()]), sort_keys=False))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: ['{rules}']\n"
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
        started = time.time()
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
        # the load alone, the grid's inner instants from the live records
        time.sleep(2.5)  # evaluations after the last scrape
        ended = time.time() - 0.5
        window = ["--start", f"{started:.3f}", "--end", f"{ended:.3f}"]
        both = {}
        for path, extra in (("records", []), ("raw", ["--no-records"])):
            out = subprocess.run(
                [tool("otel-perf"), "report", "--prometheus", prometheus.url, *window,
                 "--format", "json", *extra],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert out.returncode == 0, out.stderr
            both[path] = json.loads(out.stdout)
        print({p: d["recorded_instants"] for p, d in both.items()})
        # an inner instant takes the evaluation before it when that is after the previous
        # cut: one per evaluation (every second) when the instants are closer than that
        evaluations = int(ended - started) - 2
        assert both["records"]["recorded_instants"] >= min(59, evaluations) > 3
        assert both["raw"]["recorded_instants"] == 0
        for d in both.values():
            assert d["time"]["operations"] == n == d["errors"]["operations"]
            assert sum(b["operations"] for b in d["errors"]["trend"]) == n
            assert d["cost"]["total_usd"] == pytest.approx(n * COST_USD, abs=1e-6)
        # the active period is found to a second either way (the searches' last steps
        # are one second wide, at whole seconds or at the grid's own offsets)
        spans = [d["observed"]["seconds"] for d in both.values()]
        assert abs(spans[0] - spans[1]) <= 1.0 and min(spans) > 1.0
    finally:
        prometheus.stop()
        service.stop()
