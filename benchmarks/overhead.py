"""Targets 1, 2 and 6: cost of a tracked generation, of ``on_end`` alone, against budgets."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from typing import Any

from benchmarks import pipelines
from benchmarks.report import Row
from benchmarks.timing import interleaved, paired_calls, per_call_percentiles, quantile, ratio

SEED_BUDGETS_US = {"TRACK-008 (2 ms)": 2000.0, "Story 6.2 (5 ms)": 5000.0}


def tracked_vs_bare(n: int, rounds: int) -> tuple[list[Row], dict[str, Any]]:
    """Target 1 (and the figures target 6 reuses), by two side-by-side methods."""
    attributes = pipelines.final_attributes()
    bare = pipelines.Bare()
    ours = pipelines.Ours()
    variants = {
        "bare": pipelines.bare_span(bare.tracer, attributes),
        "bare_minimal": pipelines.bare_span_minimal(bare.tracer, attributes),
        "tracked": pipelines.tracked_generation,
    }
    try:
        paired = paired_calls(variants, n=n * rounds // 4)
        timed = interleaved(variants, n=n, rounds=rounds)
        percentiles = per_call_percentiles(pipelines.tracked_generation, max(10 * n, 1000))
        count = ours.value(
            "otel_perf_operation_duration_seconds_count",
            operation=pipelines.OPERATION,
            model=pipelines.MODEL,
            provider=pipelines.PROVIDER,
            status="success",
            project="",
        )
    finally:
        ours.shutdown()
        bare.shutdown()
    median = {name: quantile(values, 0.5) for name, values in paired.items()}
    quartiles = {
        name: (quantile(values, 0.25), quantile(values, 0.75)) for name, values in paired.items()
    }
    vs_bare = median["tracked"] / median["bare"]
    block = ratio(timed, "tracked", "bare")
    vs_minimal = median["tracked"] / median["bare_minimal"]
    rows = [
        Row(
            "1",
            f"tracked generation vs bare SDK span ({len(attributes)} attributes, batch → null): "
            "median of calls alternating one by one",
            f"{median['bare']:.1f} µs",
            f"{median['tracked']:.1f} µs",
            vs_bare,
            "≤ 1.10×",
            vs_bare <= 1.10,
            f"quartile ratios {quartiles['tracked'][0] / quartiles['bare'][0]:.2f} / "
            f"{quartiles['tracked'][1] / quartiles['bare'][1]:.2f}; "
            f"{len(paired['bare']):,} calls each",
        ),
        Row(
            "1",
            "same, blocks of calls in rotating order, process CPU time (median of per-round "
            "ratios)",
            f"{timed['bare'].median_us:.1f} µs",
            f"{timed['tracked'].median_us:.1f} µs",
            block.median,
            "≤ 1.10×",
            block.median <= 1.10,
            f"{rounds} rounds × {n} calls; per-round ratios {block.spread}",
        ),
        Row(
            "1b",
            "tracked vs a hand-rolled minimal bare span (start_span/attach/detach/end)",
            f"{median['bare_minimal']:.1f} µs",
            f"{median['tracked']:.1f} µs",
            vs_minimal,
            "(info)",
            None,
            "median of alternating calls",
        ),
    ]
    facts = {
        "bare_us": median["bare"],
        "tracked_us": median["tracked"],
        "paired_median_us": median,
        "paired_quartiles_us": quartiles,
        "block_cpu_us": {name: t.median_us for name, t in timed.items()},
        "block_ratio_rounds": block.rounds,
        "percentiles": percentiles,
        "recorded": count,
        "attributes": sorted(attributes),
    }
    return rows, facts


def on_end_alone(n: int, rounds: int, bare_us: float, **settings: Any) -> list[Row]:
    """Target 2: the processor's ``on_end`` (and ``on_start``) per span, spans prepared."""
    spans = pipelines.finished_spans(1000)
    ours = pipelines.Ours(**settings)
    processor = ours.processor
    on_start, on_end = processor.on_start, processor.on_end
    try:
        for span in spans:  # warm the route cache, as any running service has
            on_start(span)  # type: ignore[arg-type]
            on_end(span)
        starts, ends = [], []
        blocks = max(1, n // len(spans))
        clock = time.perf_counter_ns
        for _ in range(rounds):
            start_ns = end_ns = 0
            for _ in range(blocks):
                t0 = clock()
                for span in spans:
                    on_start(span)  # type: ignore[arg-type]
                t1 = clock()
                for span in spans:
                    on_end(span)
                t2 = clock()
                start_ns += t1 - t0
                end_ns += t2 - t1
            starts.append(start_ns / (blocks * len(spans)) / 1000.0)
            ends.append(end_ns / (blocks * len(spans)) / 1000.0)
        in_progress = ours.value("otel_perf_operations_in_progress", operation="generate_image")
    finally:
        ours.shutdown()
    starts.sort()
    ends.sort()
    start_us, end_us = starts[len(starts) // 2], ends[len(ends) // 2]
    return [
        Row(
            "2",
            "processor on_end alone (tracked generation span, warm)",
            f"bare span {bare_us:.1f} µs",
            f"{end_us:.2f} µs",
            end_us / bare_us,
            "≤ 3 µs",
            end_us <= 3.0,
            f"on_start {start_us:.2f} µs; in-progress gauge back to {in_progress:g}",
        )
    ]


def budgets(facts: dict[str, Any]) -> list[Row]:
    """Target 6: the full tracked operation against the seed's per-operation budgets."""
    rows = []
    p99 = facts["percentiles"]["p99"]
    for name, budget_us in SEED_BUDGETS_US.items():
        share = facts["tracked_us"] / budget_us
        rows.append(
            Row(
                "6",
                f"full tracked operation vs {name} budget",
                f"{budget_us:.0f} µs",
                f"{facts['tracked_us']:.1f} µs",
                share,
                "≤ 1 (aim ≤ 0.01)",
                share <= 1.0,
                f"p99 {p99:.1f} µs = {p99 / budget_us:.4f} of budget",
            )
        )
    return rows


def multiprocess(n: int, rounds: int) -> list[Row]:
    """Targets 1m and 2m: the same as 1 and 2 with ``PROMETHEUS_MULTIPROC_DIR`` set, where
    every update is also written through to this process's memory-mapped file."""
    with tempfile.TemporaryDirectory(prefix="otel-perf-bench-") as directory:
        attributes = pipelines.final_attributes()
        bare = pipelines.Bare()
        ours = pipelines.Ours(multiprocess_dir=directory)
        variants = {
            "bare": pipelines.bare_span(bare.tracer, attributes),
            "tracked": pipelines.tracked_generation,
        }
        try:
            paired = paired_calls(variants, n=n * rounds // 4)
            timed = interleaved(variants, n=n, rounds=rounds)
        finally:
            ours.shutdown()
            bare.shutdown()
        median = {name: quantile(values, 0.5) for name, values in paired.items()}
        vs_bare = median["tracked"] / median["bare"]
        block = ratio(timed, "tracked", "bare")
        rows = [
            Row(
                "1m",
                "multiprocess mode: tracked generation vs bare SDK span, median of alternating "
                "calls",
                f"{median['bare']:.1f} µs",
                f"{median['tracked']:.1f} µs",
                vs_bare,
                "≤ 1.5×",
                vs_bare <= 1.5,
                f"{len(paired['bare']):,} calls each",
            ),
            Row(
                "1m",
                "multiprocess mode: blocks of calls, process CPU time (median of per-round ratios)",
                f"{timed['bare'].median_us:.1f} µs",
                f"{timed['tracked'].median_us:.1f} µs",
                block.median,
                "≤ 1.5×",
                block.median <= 1.5,
                f"{rounds} rounds × {n} calls; per-round ratios {block.spread}",
            ),
        ]
        rows += [
            dataclasses.replace(row, target="2m", measure="multiprocess mode: " + row.measure)
            for row in on_end_alone(n, rounds, median["bare"], multiprocess_dir=directory)
        ]
    return rows
