"""A real TracerProvider + our processor + an HTTP scrape: values equal the demo ledger."""

from __future__ import annotations

import math
import subprocess
import urllib.request
from collections import Counter

import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import otel_perf
from otel_perf import demo
from otel_perf.thresholds import DEFAULT_THRESHOLDS
from tests.support.tools import require_tool

SPEED = 200.0
THRESHOLDS = {op: s / SPEED for op, s in DEFAULT_THRESHOLDS.items()}


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _run(
    profile: str, count: int = 120, projects: tuple[str, ...] = ("demo",)
) -> tuple[dict, dict, str]:
    handle = otel_perf.configure(
        registry=CollectorRegistry(), tracer_provider=TracerProvider(), prometheus_port=0,
        thresholds=THRESHOLDS,
    )  # fmt: skip
    workload = demo.plan(profile, seed=7, count=count, projects=projects)
    ops = demo.run(workload, speed=SPEED, workers=4)
    ledger = demo.ledger(ops, thresholds=THRESHOLDS)
    assert handle.metrics_url is not None
    return ledger, _scrape(handle.metrics_url), handle.metrics_url


def _assert_matches(ledger: dict, scraped: dict) -> None:
    """Every expected sample is scraped with the same value, and nothing unexpected is."""
    for name, samples in ledger["expected"].items():
        expected = {tuple(sorted(s["labels"].items())): s["value"] for s in samples}
        got = {labels: v for (n, labels), v in scraped.items() if n == name and v != 0}
        assert set(got) == set(expected), name
        for labels, value in expected.items():
            if name.endswith("_sum") or name.startswith("otel_perf_cost"):
                assert math.isclose(got[labels], value, rel_tol=1e-9, abs_tol=1e-12), (name, labels)
            else:
                assert got[labels] == value, (name, labels)


def test_mixed_workload_scrape_equals_ledger():
    """Counts, durations, costs, error classes, retries and queue waits match exactly."""
    ledger, scraped, _ = _run("mixed", count=150, projects=("alpha", "beta"))
    _assert_matches(ledger, scraped)
    # The workload exercised every kind of sample.
    for name in ("otel_perf_operation_errors_total", "otel_perf_render_failures_total",
                 "otel_perf_api_errors_total", "otel_perf_cost_usd_total",
                 "otel_perf_slow_operations_total", "otel_perf_unpriced_operations_total",
                 "otel_perf_retries_total", "otel_perf_queue_wait_seconds_sum"):  # fmt: skip
        assert ledger["expected"].get(name), name
    # Nothing was lost or broken along the way.
    assert not any(n == "otel_perf_internal_errors_total" and v for (n, _), v in scraped.items())


def test_seed_verification_20_images_5_videos_3_audio():
    """Story 6.2's verification: exact counts, durations, costs and error classes."""
    ledger, scraped, _ = _run("seed")
    _assert_matches(ledger, scraped)
    ops = Counter()
    for (name, labels), value in scraped.items():
        if name == "otel_perf_operation_duration_seconds_count":
            ops[dict(labels)["operation"]] += value
    assert ops["generate_image"] == 20
    assert ops["generate_video"] == 5
    assert ops["generate_speech"] + ops["generate_music"] + ops["generate_sound_effect"] == 3
    failures = [op for op in ledger["operations"] if op["failure"]]
    assert failures, "the seed workload includes failures"
    errors = sum(v for (n, _), v in scraped.items() if n == "otel_perf_operation_errors_total")
    assert errors == len(failures)
    cost = sum(v for (n, _), v in scraped.items() if n == "otel_perf_cost_usd_total")
    assert cost == pytest.approx(ledger["summary"]["total_cost_usd"], rel=1e-9)


@pytest.mark.e2e
def test_exposition_passes_promtool_check_metrics():
    """promtool check metrics: naming conventions, units, no lint problems."""
    promtool = require_tool("promtool")
    _, _, url = _run("failing", count=60)
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read()
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert b"otel_perf_operation_duration_seconds_bucket" in text
    assert b'target_info{service_instance_id="' in text  # the resource, OTel's convention
