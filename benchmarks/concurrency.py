"""Target 3: exact counts with 8 threads, throughput with 1, 2, 4 and 8.

Every thread runs the same mix of tracked generations (one in ten fails with
``rate_limit``, one in five is a retry that waited 0.5 s in a queue) through the full
pipeline; in the 8-thread run a ninth thread scrapes ``/metrics`` all along and parses
every scrape. The totals read back must equal what was run, exactly: counts, errors,
retries, queue-wait sum, cost (every addend is the same price, so the float sum does not
depend on the order threads add in), and the in-progress gauge back at zero.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any

from prometheus_client.openmetrics.parser import text_string_to_metric_families

import otel_perf
from benchmarks import pipelines
from benchmarks.report import Row
from otel_perf.pricing import PriceTable

MODEL, PROVIDER = pipelines.MODEL, pipelines.PROVIDER
PRICE = PriceTable.bundled().estimate("generate_image", MODEL).usd  # per image, bundled table
WAIT = 0.5  # a binary fraction: its sums are exact in any order
SCRAPE_EVERY_S = 0.1  # far more often than Prometheus would (15 s is usual)


def _work(per_thread: int) -> None:
    for i in range(per_thread):
        with otel_perf.track_generation("generate_image", model=MODEL, provider=PROVIDER) as op:
            if i % 10 == 0:
                op.fail("rate_limit")
            elif i % 5 == 1:
                op.set_retry_attempt(1)
                op.set_queue_wait(WAIT)


def expected(threads: int, per_thread: int) -> dict[str, float]:
    """What ``threads`` runs of ``_work(per_thread)`` must add up to."""
    failed = sum(1 for i in range(per_thread) if i % 10 == 0) * threads
    retries = sum(1 for i in range(per_thread) if i % 10 != 0 and i % 5 == 1) * threads
    ok = threads * per_thread - failed
    cost = 0.0
    for _ in range(ok):
        cost += PRICE
    return {
        "ok": float(ok),
        "failed": float(failed),
        "retries": float(retries),
        "queue_wait_sum": retries * WAIT,
        "cost": cost,
    }


def run(threads: int, per_thread: int, scrape: bool = False) -> dict[str, Any]:
    ours = pipelines.Ours(prometheus_port=0 if scrape else None)
    stop = threading.Event()
    scrapes: list[int] = []
    problems: list[str] = []

    def scraper() -> None:
        url = ours.handle.metrics_url
        assert url is not None
        request = urllib.request.Request(url, headers={"Accept": "application/openmetrics-text"})
        last = 0.0
        while not stop.is_set():
            body = urllib.request.urlopen(request, timeout=10).read().decode()
            count = 0.0
            for family in text_string_to_metric_families(body):
                for sample in family.samples:
                    if sample.name == "otel_perf_operation_duration_seconds_count":
                        count += sample.value
            if count < last:
                problems.append(f"count went backwards: {last} -> {count}")
            last = count
            scrapes.append(1)
            stop.wait(SCRAPE_EVERY_S)

    barrier = threading.Barrier(threads + 1)

    def worker() -> None:
        barrier.wait()
        _work(per_thread)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    watcher = threading.Thread(target=scraper) if scrape else None
    try:
        for t in workers:
            t.start()
        if watcher is not None:
            watcher.start()
        barrier.wait()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for t in workers:
            t.join()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        stop.set()
        if watcher is not None:
            watcher.join()
        labels = {
            "operation": "generate_image",
            "model": MODEL,
            "provider": PROVIDER,
            "project": "",
        }
        got = {
            "ok": ours.value(
                "otel_perf_operation_duration_seconds_count", **labels, status="success"
            ),
            "failed": ours.value(
                "otel_perf_operation_errors_total", **labels, error_type="rate_limit"
            ),
            "retries": ours.value(
                "otel_perf_retries_total", operation="generate_image", project=""
            ),
            "queue_wait_sum": ours.value(
                "otel_perf_queue_wait_seconds_sum", operation="generate_image"
            ),
            "cost": ours.value("otel_perf_cost_usd_total", **labels),
        }
        in_progress = ours.value("otel_perf_operations_in_progress", operation="generate_image")
    finally:
        stop.set()
        ours.shutdown()
    want = expected(threads, per_thread)
    return {
        "threads": threads,
        "ops": threads * per_thread,
        "wall_s": wall,
        "cpu_s": cpu,
        "ops_per_s": threads * per_thread / wall,
        "exact": got == want and in_progress == 0 and not problems,
        "got": got,
        "want": want,
        "in_progress": in_progress,
        "scrapes": len(scrapes),
        "problems": problems,
    }


def bare_throughput(threads: int, per_thread: int) -> float:
    """Bare SDK spans per second (same attributes, same batch processor) with ``threads``."""
    bare = pipelines.Bare()
    run_span = pipelines.bare_span(bare.tracer, pipelines.final_attributes())
    barrier = threading.Barrier(threads + 1)

    def worker() -> None:
        barrier.wait()
        for _ in range(per_thread):
            run_span()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    try:
        for t in workers:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in workers:
            t.join()
        return threads * per_thread / (time.perf_counter() - start)
    finally:
        bare.shutdown()


def rows(per_thread: int) -> tuple[list[Row], list[dict[str, Any]]]:
    results = [run(t, per_thread, scrape=(t == 8)) for t in (1, 2, 4, 8)]
    for r in results:
        r["bare_ops_per_s"] = bare_throughput(r["threads"], per_thread)
    base = results[0]["ops_per_s"]
    eight = results[-1]
    throughput = "; ".join(
        f"{r['threads']}T {r['ops_per_s']:,.0f}/s (bare {r['bare_ops_per_s']:,.0f}/s)"
        for r in results
    )
    out = [
        Row(
            "3",
            f"8 threads × {per_thread:,} tracked ops, scraped meanwhile: totals exact",
            f"want {eight['want']['ok']:.0f} ok / {eight['want']['failed']:.0f} failed",
            f"got {eight['got']['ok']:.0f} / {eight['got']['failed']:.0f}, "
            f"${eight['got']['cost']:.2f}",
            None,
            "exact",
            all(r["exact"] for r in results),
            f"{eight['scrapes']} scrapes parsed during the run; in-progress back to "
            f"{eight['in_progress']:g}",
        ),
        Row(
            "3",
            "throughput with 8 threads, tracked ops/s vs bare spans/s (GIL: one core at a time)",
            f"bare {eight['bare_ops_per_s']:,.0f}/s",
            f"{eight['ops_per_s']:,.0f}/s",
            eight["ops_per_s"] / eight["bare_ops_per_s"],
            "(report)",
            None,
            f"8T/1T {eight['ops_per_s'] / base:.2f}; " + throughput,
        ),
    ]
    return out, results
