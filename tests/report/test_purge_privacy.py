"""Purging a project, the admin API switched off, empty and unreachable servers, and
labels that must never reach the report unscrubbed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.report_stack import run_cli, run_phase, scrape_config
from tests.support.servers import Prometheus, free_port
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e  # Prometheus and demo processes

SECRET_PROJECT = "owner@example.com"


@dataclass
class SmallStack:
    prometheus: Prometheus
    ledger: dict


@pytest.fixture(scope="module")
def small_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallStack]:
    """A demo run for projects 'keep', 'drop' and one named like an e-mail address."""
    require_tool("prometheus")
    workdir = tmp_path_factory.mktemp("purge-stack")
    port = free_port()
    prometheus = Prometheus(scrape_config(workdir / "prometheus.yml", [port]), workdir)
    try:
        projects = f"keep,drop,{SECRET_PROJECT}"
        args = ("--profile", "mixed", "--seed", "3", "--count", "40", "--projects", projects)
        ledger, _, _ = run_phase(prometheus, workdir, port, "small", *args)
        yield SmallStack(prometheus, ledger)
    finally:
        prometheus.stop()


@pytest.fixture(scope="module")
def bare_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A Prometheus with no targets and the admin API off."""
    require_tool("prometheus")
    workdir = tmp_path_factory.mktemp("bare-prometheus")
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\nscrape_configs: []\n")
    prometheus = Prometheus(config, workdir, admin_api=False)
    try:
        yield prometheus
    finally:
        prometheus.stop()


def _series(prometheus: Prometheus, project: str) -> int:
    """Series of the project holding samples in the last hour (read as raw samples)."""
    matcher = f'{{__name__=~"otel_perf_.+",project="{project}"}}[1h]'
    return len([r for r in prometheus.api("query", query=matcher)["result"] if r["values"]])


@pytest.mark.e2e
def test_report_never_prints_unscrubbed_labels(small_stack: SmallStack, tmp_path: Path):
    """A project named like an e-mail address appears as [EMAIL] in every format."""
    url = small_stack.prometheus.url
    for fmt in ("text", "csv", "json", "html"):
        result = run_cli("report", "--prometheus", url, "--format", fmt)
        assert result.code == 0, result.err
        assert SECRET_PROJECT not in result.out, fmt
        assert "[EMAIL]" in result.out, fmt
    rows = json.loads(run_cli("report", "--prometheus", url, "--format", "json").out)["projects"]
    assert {r["project"] for r in rows} == {"keep", "drop", "[EMAIL]"}


def test_purge_deletes_only_that_project(small_stack: SmallStack):
    """purge removes every series of 'drop'; 'keep' and the fleet-wide series stay."""
    prometheus = small_stack.prometheus
    assert _series(prometheus, "drop") > 0
    keep_before = _series(prometheus, "keep")
    result = run_cli("purge", "--prometheus", prometheus.url, "--project", "drop", "--yes")
    assert result.code == 0, result.err
    assert "deleted" in result.out and "'drop'" in result.out
    assert _series(prometheus, "drop") == 0
    assert _series(prometheus, "keep") == keep_before
    gone = run_cli("report", "--prometheus", prometheus.url, "--project", "drop")
    assert gone.code == 1
    assert "holds no otel-perf data for project 'drop'" in gone.err
    kept = run_cli("report", "--prometheus", prometheus.url, "--format", "json").json()
    assert "drop" not in {r["project"] for r in kept["projects"]}


def test_purge_without_confirmation_deletes_nothing(small_stack: SmallStack):
    """Without a terminal to ask and without --yes, purge refuses."""
    prometheus = small_stack.prometheus
    before = _series(prometheus, "keep")
    result = run_cli("purge", "--prometheus", prometheus.url, "--project", "keep")
    assert result.code == 2
    assert "without --yes" in result.err
    assert _series(prometheus, "keep") == before


@pytest.mark.e2e
def test_purge_says_when_the_admin_api_is_disabled(tmp_path: Path):
    """Deleting needs --web.enable-admin-api: the message says so (exit 3, no traceback)."""
    require_tool("prometheus")
    target = _StaticTarget(
        "# TYPE otel_perf_cost_usd counter\n"
        'otel_perf_cost_usd_total{operation="generate_image",model="flux",provider="",'
        'project="keep"} 0.02\n'
    )
    prometheus = Prometheus(
        scrape_config(tmp_path / "prometheus.yml", [target.port]), tmp_path, admin_api=False
    )
    try:
        prometheus.wait_for_scrape_after(time.time())
        result = run_cli("purge", "--prometheus", prometheus.url, "--project", "keep", "--yes")
        still_there = _series(prometheus, "keep")
    finally:
        prometheus.stop()
        target.stop()
    assert result.code == 3
    assert "admin API" in result.err and "--web.enable-admin-api" in result.err
    assert "Traceback" not in result.err
    assert still_there == 1


class _StaticTarget:
    """A scrape target serving a fixed exposition."""

    def __init__(self, body: str) -> None:
        payload = body.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.mark.e2e
def test_purge_of_an_unknown_project_changes_nothing(bare_prometheus: Prometheus):
    """No series of the project: a plain message, exit 0."""
    result = run_cli("purge", "--prometheus", bare_prometheus.url, "--project", "ghost", "--yes")
    assert result.code == 0
    assert "no series of project 'ghost'" in result.out


def test_empty_prometheus_is_a_clear_error(bare_prometheus: Prometheus):
    """A server with no otel-perf data: exit 1 and a sentence, not a traceback."""
    result = run_cli("report", "--prometheus", bare_prometheus.url)
    assert result.code == 1
    assert result.err.startswith("otel-perf report: error: Prometheus at ")
    assert "holds no otel-perf data" in result.err and "scrapes" in result.err
    assert "Traceback" not in result.err and result.out == ""


def test_unreachable_prometheus_is_a_clear_error():
    """Nothing listening: exit 3 naming the URL and how to point at the right one."""
    url = f"http://127.0.0.1:{free_port()}"
    for command in (["report"], ["purge", "--project", "p", "--yes"]):
        result = run_cli(*command, "--prometheus", url)
        assert result.code == 3
        assert f"cannot reach Prometheus at {url}" in result.err
        assert "--prometheus URL" in result.err
        assert "Traceback" not in result.err


def test_not_a_prometheus_url_is_a_clear_error(bare_prometheus: Prometheus):
    """A server that answers but is not the Prometheus API (wrong path) is named as such."""
    result = run_cli("report", "--prometheus", bare_prometheus.url + "/graph")
    assert result.code == 5  # a malformed answer
    assert "Traceback" not in result.err
    assert bare_prometheus.url in result.err


def test_purge_deletes_exactly_the_series_it_counts(tmp_path: Path):
    """A user's own otel_perf_* series with a project label is neither counted nor deleted;
    the jobs and instances are shown before anything is deleted."""
    require_tool("prometheus")
    from tests.report.fakes import ScriptedExporter, exposition
    from tests.support.servers import wait_until

    own = '# TYPE otel_perf_user_exports_total counter\notel_perf_user_exports_total{project="drop"} 4\n'
    exporter = ScriptedExporter(lambda n: exposition(1000.0, 3, project="drop") + own)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n"
        f"  - job_name: media\n    static_configs:\n      - targets: ['127.0.0.1:{exporter.port}']\n"
    )
    prometheus = Prometheus(config, tmp_path)
    try:
        wait_until(lambda: exporter.scrapes >= 2, 30, what="scrapes")
        time.sleep(1.2)
        exporter.stop()  # no new samples after the purge
        result = run_cli("purge", "--prometheus", prometheus.url, "--project", "drop", "--yes")
        assert result.code == 0, result.err
        # bucket, count and sum of the duration histogram: 3 series
        assert f"3 series of project 'drop' in {prometheus.url}" in result.err
        assert f"job 'media' instance '127.0.0.1:{exporter.port}'" in result.err
        assert "deleted 3 series" in result.out
        left = prometheus.query('count(last_over_time({project="drop"}[1h]))')
        assert float(left[0]["value"][1]) == 1  # the user's own series stays
    finally:
        prometheus.stop()
