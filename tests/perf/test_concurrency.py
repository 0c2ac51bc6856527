"""Exact totals when many threads record at once, with scrapes running meanwhile."""

from __future__ import annotations

import threading

from prometheus_client.openmetrics.parser import text_string_to_metric_families

import otel_perf
from otel_perf.pricing import PriceTable
from otel_perf.textformat import generate

THREADS = 8
PER_THREAD = 500
LABELS = {"operation": "generate_image", "model": "flux", "provider": "bfl", "project": ""}


def _work() -> None:
    for i in range(PER_THREAD):
        with otel_perf.track_generation("generate_image", model="flux", provider="bfl") as op:
            if i % 10 == 0:
                op.fail("rate_limit")
            elif i % 5 == 1:
                op.set_retry_attempt(1)
                op.set_queue_wait(0.5)


def _run_threads(target, count: int) -> None:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(count)

    def run() -> None:
        barrier.wait()
        target()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


FLUX = PriceTable.bundled().estimate("generate_image", "flux").usd  # one image, list price


def test_eight_threads_lose_no_update(pipeline):
    """Counts, errors, retries, queue-wait sum and cost add up exactly across 8 threads."""
    _run_threads(_work, THREADS)
    total = THREADS * PER_THREAD
    failed = THREADS * len(range(0, PER_THREAD, 10))
    retries = THREADS * sum(1 for i in range(PER_THREAD) if i % 10 != 0 and i % 5 == 1)
    cost = 0.0
    for _ in range(total - failed):
        cost += FLUX  # the same addend every time: the sum does not depend on thread order
    d = "otel_perf_operation_duration_seconds"
    assert pipeline.value(d + "_count", **LABELS, status="success") == total - failed
    assert pipeline.value(d + "_count", **LABELS, status="error") == failed
    assert pipeline.value(d + "_bucket", **LABELS, status="success", le="+Inf") == total - failed
    assert (
        pipeline.value("otel_perf_operation_errors_total", **LABELS, error_type="rate_limit")
        == failed
    )
    assert (
        pipeline.value("otel_perf_retries_total", operation="generate_image", project="") == retries
    )
    assert pipeline.value("otel_perf_queue_wait_seconds_sum", operation="generate_image") == (
        retries * 0.5
    )
    assert pipeline.value("otel_perf_cost_usd_total", **LABELS) == cost
    assert pipeline.value("otel_perf_operations_in_progress", operation="generate_image") == 0


def test_scrapes_during_writes_parse_and_never_go_backwards(pipeline):
    """A scrape taken while 8 threads write parses, and counts only ever grow."""
    done = threading.Event()
    seen: list[float] = []
    errors: list[BaseException] = []

    def scrape() -> None:
        try:
            while not done.is_set():
                body, _ = generate(pipeline.registry, "application/openmetrics-text")
                count = 0.0
                for family in text_string_to_metric_families(body.decode()):
                    for sample in family.samples:
                        if sample.name == "otel_perf_operation_duration_seconds_count":
                            count += sample.value
                seen.append(count)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        _run_threads(_work, THREADS)
    finally:
        done.set()
        scraper.join()
    assert not errors
    assert len(seen) >= 1
    assert seen == sorted(seen)
    assert seen[-1] <= THREADS * PER_THREAD


def test_histogram_buckets_stay_consistent_under_concurrent_observes(pipeline):
    """Cumulative buckets end at _count, and _sum matches, after concurrent writes."""
    _run_threads(_work, THREADS)
    family = next(
        f for f in pipeline.registry.collect() if f.name == "otel_perf_operation_duration_seconds"
    )
    for labels in ({**LABELS, "status": "success"}, {**LABELS, "status": "error"}):
        samples = [
            s for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())
        ]
        buckets = [s.value for s in samples if s.name.endswith("_bucket")]
        count = next(s.value for s in samples if s.name.endswith("_count"))
        assert buckets == sorted(buckets)
        assert buckets[-1] == count
