"""Local statistics with the TRACK-008 shape (``getErrorPerformanceStats``).

The figures are read from the processor's metrics, so keeping them costs nothing per span.
``reset_stats()`` moves a baseline; the Prometheus counters themselves never go backwards.

>>> stats().total_errors
0
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields

from otel_perf import metrics as M
from otel_perf.attributes import API_OPERATION, RENDER_OPERATIONS
from otel_perf.metrics import MetricSet

_RENDER_OPS = frozenset(RENDER_OPERATIONS.values())


@dataclass(frozen=True)
class ErrorPerformanceStats:
    """Counts since start (or the last ``reset_stats()``)."""

    renders_failed: int = 0
    api_errors: int = 0
    generations_failed: int = 0
    slow_renders: int = 0
    slow_operations: int = 0

    @property
    def total_errors(self) -> int:
        """Failed renders + failed API calls + failed generations."""
        return self.renders_failed + self.api_errors + self.generations_failed

    @property
    def total_performance_issues(self) -> int:
        """Slow operations of every kind (slow renders included)."""
        return self.slow_operations


_lock = threading.Lock()
_metrics: MetricSet | None = None
_baseline = ErrorPerformanceStats()


def attach(metrics: MetricSet | None) -> None:
    """Read statistics from ``metrics`` (called by ``configure()``; ``None`` detaches)."""
    global _metrics, _baseline
    with _lock:
        _metrics = metrics
        _baseline = ErrorPerformanceStats()


def _after_fork_in_child() -> None:
    # The parent's lock may have been held at fork time; its counts are not the child's
    # (the child's metric set starts from zero, see MetricSet.reset_after_fork).
    global _lock, _baseline
    _lock = threading.Lock()
    _baseline = ErrorPerformanceStats()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _sum(metrics: MetricSet, name: str, keep: Callable[[str], bool] = lambda op: True) -> int:
    """Sum of a counter's samples whose ``operation`` label (if any) passes ``keep``."""
    total = 0.0
    for family in metrics.all[name].metric.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and keep(sample.labels.get("operation", "")):
                total += sample.value
    return int(total)


def _is_generation(op: str) -> bool:
    return op not in _RENDER_OPS and op != API_OPERATION


def _current() -> ErrorPerformanceStats:
    metrics = _metrics
    if metrics is None:
        return ErrorPerformanceStats()
    return ErrorPerformanceStats(
        renders_failed=_sum(metrics, M.RENDER_FAILURES),
        api_errors=_sum(metrics, M.API_ERRORS),
        generations_failed=_sum(metrics, M.OPERATION_ERRORS, _is_generation),
        slow_renders=_sum(metrics, M.SLOW_OPERATIONS, _RENDER_OPS.__contains__),
        slow_operations=_sum(metrics, M.SLOW_OPERATIONS),
    )


def stats() -> ErrorPerformanceStats:
    """Failed renders, API errors, slow renders, totals: since start or ``reset_stats()``."""
    current = _current()
    with _lock:
        base = _baseline
    return ErrorPerformanceStats(
        **{f.name: getattr(current, f.name) - getattr(base, f.name) for f in fields(current)}
    )


def reset_stats() -> None:
    """Start counting local statistics from zero again."""
    global _baseline
    current = _current()
    with _lock:
        _baseline = current
