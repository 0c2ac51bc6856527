"""Target 5: scraping ``/metrics`` with many live series, and how it grows.

The registry is filled through the real pipeline: each distinct model is one tracked
generation with a provider-reported cost, so it adds two label sets (a duration histogram
of 25 samples and a cost counter) = 26 Prometheus time series. "Series" below means
Prometheus time series, i.e. sample lines in the exposition; label sets are given too.

A scrape is an HTTP GET of the embedded server, as Prometheus sends it (OpenMetrics
preferred, gzip), and as a plain-text GET without compression. For comparison,
``prometheus_client``'s own OpenMetrics encoder renders the same registry (what the
server did before otel-perf rendered its own families).
"""

from __future__ import annotations

import statistics
import time
import urllib.request
from typing import Any

from prometheus_client.openmetrics.exposition import generate_latest as prometheus_client_om

import otel_perf
from benchmarks import pipelines
from benchmarks.report import Row

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
SERIES_PER_MODEL = 26


def _get_ms(url: str, headers: dict[str, str], repeat: int) -> tuple[float, int]:
    request = urllib.request.Request(url, headers=headers)
    times, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            size = len(response.read())
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), size


def measure(models: int, repeat: int, compare: bool) -> dict[str, Any]:
    ours = pipelines.Ours(prometheus_port=0, cardinality_limit=max(2000, models + 10))
    try:
        for i in range(models):
            with otel_perf.track_generation(
                "generate_image", model=f"model-{i:05d}", provider="bfl"
            ) as op:
                op.set_cost(0.01)
        url = ours.handle.metrics_url
        assert url is not None
        with urllib.request.urlopen(url, timeout=60) as response:
            text = response.read().decode()
        series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
        prometheus_ms, plain_bytes = _get_ms(
            url, {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}, repeat
        )
        text_ms, text_bytes = _get_ms(url, {}, repeat)
        before_ms = None
        if compare:
            start = time.perf_counter()
            prometheus_client_om(ours.registry)
            before_ms = (time.perf_counter() - start) * 1000
    finally:
        ours.shutdown()
    return {
        "models": models,
        "label_sets": 2 * models,
        "series": series,
        "openmetrics_gzip_ms": prometheus_ms,
        "gzip_bytes": plain_bytes,
        "text_ms": text_ms,
        "text_bytes": text_bytes,
        "prometheus_client_ms": before_ms,
    }


def rows(
    sizes: list[int], repeat: int, compare_up_to: int
) -> tuple[list[Row], list[dict[str, Any]]]:
    results = [measure(m, repeat, compare=m <= compare_up_to) for m in sizes]
    near = min(results, key=lambda r: abs(r["series"] - 10_000))
    growth = "; ".join(
        f"{r['series']:,} series ({r['label_sets']:,} label sets): {r['openmetrics_gzip_ms']:.0f} ms"
        for r in results
    )
    out = [
        Row(
            "5",
            f"scrape /metrics, {near['series']:,} live series ({near['label_sets']:,} label "
            "sets), OpenMetrics + gzip over HTTP",
            "-"
            if near["prometheus_client_ms"] is None
            else f"prometheus_client encoder {near['prometheus_client_ms']:.0f} ms",
            f"{near['openmetrics_gzip_ms']:.1f} ms",
            None
            if near["prometheus_client_ms"] is None
            else near["openmetrics_gzip_ms"] / near["prometheus_client_ms"],
            "≤ 100 ms",
            near["openmetrics_gzip_ms"] <= 100,
            f"plain text, no gzip: {near['text_ms']:.1f} ms",
        )
    ]
    largest = results[-1]
    if largest is not near:
        per_k = largest["openmetrics_gzip_ms"] / largest["series"] * 1000
        out.append(
            Row(
                "5",
                f"growth with series count, up to {largest['series']:,} series "
                f"({largest['label_sets']:,} label sets)",
                "-"
                if largest["prometheus_client_ms"] is None
                else f"prometheus_client encoder {largest['prometheus_client_ms']:.0f} ms",
                f"{largest['openmetrics_gzip_ms']:.0f} ms",
                None,
                "(report)",
                None,
                f"linear, ~{per_k:.1f} ms per 1,000 series: {growth}",
            )
        )
    return out, results
