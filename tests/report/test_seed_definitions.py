"""Seed 000's figures by its definitions, against a real Prometheus scraping two jobs.

Job ``media-api`` runs Story 6.2's verification workload (``seed_workload.py``): 33
generation attempts, 28 successful, 5 retries. Job ``batch`` runs ``otel-perf demo``.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.report_stack import run_cli
from tests.support.servers import ROOT, DemoProcess, Prometheus, _Process, free_port, wait_until
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e
MEDIA = 'job="media-api"'


@dataclass
class TwoJobs:
    prometheus: Prometheus
    ledger: dict[str, Any]

    @property
    def url(self) -> str:
        return self.prometheus.url


def _config(path: Path, media: int, batch: int) -> Path:
    path.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: media-api\n    static_configs:\n      - targets: ['127.0.0.1:{media}']\n"
        f"  - job_name: batch\n    static_configs:\n      - targets: ['127.0.0.1:{batch}']\n"
    )
    return path


@pytest.fixture(scope="module")
def two_jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoJobs]:
    require_tool("prometheus")
    work = tmp_path_factory.mktemp("two-jobs")
    media, batch = free_port(), free_port()
    prometheus = Prometheus(_config(work / "prometheus.yml", media, batch), work)
    ledger_path = work / "seed-ledger.json"
    workload = _Process(
        [sys.executable, "-m", "tests.report.seed_workload", str(media), str(ledger_path)],
        work / "seed.log",
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    demo = DemoProcess(work, "--profile", "healthy", "--count", "20", "--hold", "600",
                       name="batch", port=batch)  # fmt: skip
    try:
        wait_until(ledger_path.exists, 60, what="the seed workload ledger")
        demo.wait_ledger()
        prometheus.wait_for_scrape_after(time.time())
        yield TwoJobs(prometheus, json.loads(ledger_path.read_text()))
    finally:
        workload.stop()
        demo.stop()
        prometheus.stop()


def _report(stack: TwoJobs, *args: str) -> dict[str, Any]:
    return run_cli("report", "--prometheus", stack.url, "--format", "json", *args).json()


def test_seed_success_rate_and_retries(two_jobs: TwoJobs):
    """84.85% = 28 successful / 33 generation attempts; 0.18 = 5 retries / 28 successes."""
    eff = _report(two_jobs, "--selector", MEDIA)["efficiency"]
    assert eff["generation_attempts"] == 33
    assert eff["successful_generations"] == 28
    assert round(eff["success_rate_pct"], 2) == 84.85
    assert eff["retries"] == 5
    assert round(eff["retries_per_success"], 2) == 0.18
    # the all-operations rate is a different figure, reported apart: 32 of 39 operations
    assert eff["operations"] == 39
    assert eff["all_operations_success_rate_pct"] == pytest.approx(100 * 32 / 39)


def test_seed_per_model_times_and_failures(two_jobs: TwoJobs):
    """Per generation type and model: count and mean time of successes; failures by reason."""
    data = _report(two_jobs, "--selector", MEDIA)
    models = {f"{m['operation']} {m['model']}": m for m in data["time"]["generation_models"]}
    ledger = two_jobs.ledger
    assert set(models) == set(ledger["counts"])
    for key, row in models.items():
        assert row["count"] == ledger["counts"][key], key
        assert row["average_seconds"] == pytest.approx(ledger["average_seconds"][key], rel=1e-6)
    assert models["generate_image flux"]["attempts"] == 10
    failed = {f["operation"]: f["reasons"] for f in data["errors"]["failed_generations"]}
    assert failed == {
        "generate_image": {"safety_block": 2, "rate_limit": 1, "timeout": 1},
        "generate_video": {"timeout": 1},
    }
    assert data["errors"]["classes"]["safety_blocks"] == 2
    assert data["errors"]["api_error_types"] == {"rate_limit": 1}
    queue = data["efficiency"]["queue_wait"]
    assert queue["count"] == 29
    assert queue["average_seconds"] == pytest.approx((20 * 0.4 + 4 * 2.5 + 4 * 3.0 + 7.0) / 29)
    assert 0.1 <= queue["p50_seconds"] <= 0.5 and queue["p90_seconds"] >= 1.0
    history = data["time"]["timeline_exports"]["history"]
    assert sum(p["count"] for p in history) == 1


def test_generations_per_hour_ignores_idle_scrapes(two_jobs: TwoJobs):
    """The service keeps being scraped but does nothing: the figure stays the same."""
    first = _report(two_jobs, "--selector", MEDIA)["efficiency"]
    time.sleep(20)
    second = _report(two_jobs, "--selector", MEDIA)["efficiency"]
    assert first["generations_per_hour"] is not None
    assert second["generations_per_hour"] == first["generations_per_hour"]
    for edge in ("active_start", "active_end"):  # printed to the second: within one
        a, b = (datetime.fromisoformat(r[edge].replace("Z", "+00:00")) for r in (first, second))
        assert abs((a - b).total_seconds()) <= 1.0, (edge, first[edge], second[edge])
    hours = first["active_seconds"] / 3600
    assert first["generations_per_hour"] == pytest.approx(33 / hours)


def test_no_projection_from_seconds_of_data(two_jobs: TwoJobs):
    """Seconds of activity: the projection says "not enough data" and why, in every format."""
    data = _report(two_jobs, "--selector", MEDIA)
    p = data["cost"]["projection"]
    assert p["status"] == "not enough data"
    assert p["projected_usd"] is None and p["rate_usd_per_hour"] is None
    assert "24 h" in p["basis"] and "daily cycle" in p["basis"]
    text = run_cli("report", "--prometheus", two_jobs.url, "--selector", MEDIA).out
    assert "Projected cost: not enough data" in text
    csv = run_cli(
        "report", "--prometheus", two_jobs.url, "--selector", MEDIA, "--format", "csv"
    ).out
    assert "projection_status,not enough data" in csv


def test_selector_scopes_every_figure_and_services_split(two_jobs: TwoJobs):
    """--selector job="media-api" leaves the batch job out; without it both jobs show."""
    scoped = _report(two_jobs, "--selector", MEDIA)
    everything = _report(two_jobs)
    assert scoped["selector"] == MEDIA
    assert scoped["services"] == []  # one job: no breakdown
    assert everything["efficiency"]["generation_attempts"] > 33
    services = {s["service"]: s for s in everything["services"]}
    assert set(services) == {"media-api", "batch"}
    assert services["media-api"]["generation_attempts"] == 33
    assert services["media-api"]["success_rate_pct"] == pytest.approx(100 * 28 / 33)
    assert services["batch"]["generation_attempts"] == (
        everything["efficiency"]["generation_attempts"] - 33
    )
    assert scoped["cost"]["total_usd"] == pytest.approx(services["media-api"]["cost_usd"])
    bad = run_cli("report", "--prometheus", two_jobs.url, "--selector", "job=media")
    assert bad.code == 2 and "--selector" in bad.err


def test_recent_errors_carry_trace_ids(two_jobs: TwoJobs):
    """Failed operations from exemplars: time, operation, model, error type, trace id."""
    recent = _report(two_jobs, "--selector", MEDIA, "--tempo-url", "http://tempo:3200")
    recent = recent["errors"]["recent"]
    assert recent["available"] is True
    errors = recent["errors"]
    assert 1 <= len(errors) <= 10
    for e in errors:
        assert re.fullmatch(r"[0-9a-f]{32}", e["trace_id"])
        assert e["trace_url"] == f"http://tempo:3200/api/traces/{e['trace_id']}"
        assert e["operation"] in {"generate_image", "generate_video", "render_video", "api_call"}
        assert e["error_type"] != "unknown"
    assert [e["time"] for e in errors] == sorted((e["time"] for e in errors), reverse=True)
    video = [e for e in errors if e["operation"] == "generate_video"]
    assert video and video[0]["error_type"] == "timeout" and video[0]["model"] == "veo"


def test_pricing_file_prices_the_suggestions(two_jobs: TwoJobs, tmp_path: Path):
    """--pricing-file: the service's own price list (here a cheap in-house image model of the
    same provider, priced per image like nano-banana's $0.039 list price) decides the cost
    suggestion; the bundled table has no such model."""
    bundled = _report(two_jobs, "--selector", MEDIA)["suggestions"]
    own = tmp_path / "prices.toml"
    own.write_text(
        'version = "ours"\n[models."image-lite-inhouse"]\nprovider = "gcp.gemini"\n'
        'operation = "generate_image"\nper_image = 0.0039\n'
    )
    ours = _report(two_jobs, "--selector", MEDIA, "--pricing-file", str(own))["suggestions"]
    assert not [s for s in bundled if s["evidence"].get("alternative") == "image-lite-inhouse"]
    (switch,) = [
        s for s in ours if s["rule"] == "cheaper_model" and s["evidence"]["model"] == "nano-banana"
    ]
    assert switch["evidence"]["alternative"] == "image-lite-inhouse"
    assert switch["evidence"]["alternative_price_usd"] == 0.0039
    assert switch["saving"]["amount"] == pytest.approx(switch["evidence"]["spent_usd"] * 0.9)
    bad = run_cli("report", "--prometheus", two_jobs.url, "--pricing-file", str(tmp_path / "no"))
    assert bad.code == 2 and "pricing file" in bad.err
