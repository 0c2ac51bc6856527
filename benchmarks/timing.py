"""Interleaved timing: variants run in alternating blocks so machine noise hits them alike.

Each round times one block of ``n`` calls per variant, in an order that rotates every
round (A B C, B C A, ...). A variant's figure is the median of its per-call block times;
a ratio is the median of the per-round ratios, so a noisy round moves both sides of its
own ratio and barely moves the result. The spread (min-max of the per-round ratios) is
reported next to it, because this machine is shared.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timed:
    """Per-call microseconds of one variant over all rounds."""

    name: str
    rounds_us: tuple[float, ...]

    @property
    def median_us(self) -> float:
        return statistics.median(self.rounds_us)


@dataclass(frozen=True)
class Ratio:
    """Per-round ratios of one variant over a baseline."""

    rounds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    @property
    def spread(self) -> str:
        return f"{min(self.rounds):.2f}-{max(self.rounds):.2f}"


#: The clock blocks are timed with: CPU time of the whole process (every thread, so the
#: batch processor's worker counts), which time spent descheduled for other processes
#: on this shared machine does not inflate. ``wall_us`` is kept alongside.
clock = time.process_time_ns


def block_us(run: Callable[[], None], n: int) -> float:
    """Per-call CPU microseconds of ``n`` calls of ``run``."""
    start = clock()
    for _ in range(n):
        run()
    return (clock() - start) / n / 1000.0


def interleaved(
    variants: dict[str, Callable[[], None]], *, n: int, rounds: int, warmup: int = 500
) -> dict[str, Timed]:
    """Time every variant in rotating order, ``rounds`` blocks of ``n`` calls each."""
    names = list(variants)
    for name in names:
        block_us(variants[name], warmup)
    results: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            gc.collect()
            results[name].append(block_us(variants[name], n))
    return {name: Timed(name, tuple(times)) for name, times in results.items()}


def ratio(timed: dict[str, Timed], variant: str, baseline: str) -> Ratio:
    pairs = zip(timed[variant].rounds_us, timed[baseline].rounds_us, strict=True)
    return Ratio(tuple(v / b for v, b in pairs))


def paired_calls(
    variants: dict[str, Callable[[], None]], *, n: int, warmup: int = 1000
) -> dict[str, list[float]]:
    """Per-call wall-clock microseconds, the variants alternating call by call.

    The finest side-by-side method: each call of one variant sits between calls of the
    others, so a disturbance (another process, a garbage collection, the batch processor
    exporting) hits single calls, which the median then ignores. The timer's own cost,
    measured the same way, is subtracted.
    """
    clock = time.perf_counter_ns
    names = list(variants)
    for name in names:
        for _ in range(warmup):
            variants[name]()
    samples: dict[str, list[int]] = {name: [] for name in names}
    empty: list[int] = []
    for i in range(n):
        for name in names if i % 2 else names[::-1]:
            run = variants[name]
            start = clock()
            run()
            samples[name].append(clock() - start)
        start = clock()
        empty.append(clock() - start)
    timer = statistics.median(empty)
    return {name: sorted((t - timer) / 1000.0 for t in times) for name, times in samples.items()}


def quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def per_call_percentiles(run: Callable[[], None], n: int) -> dict[str, float]:
    """p50/p99/max in microseconds, timing each call on its own (adds ~0.1 µs of timer)."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        start = clock()
        run()
        samples.append(clock() - start)
    samples.sort()
    return {
        "p50": samples[len(samples) // 2] / 1000.0,
        "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000.0,
        "max": samples[-1] / 1000.0,
    }
