"""The seed products' names (TRACK-008), for code ported from them.

``PERFORMANCE_THRESHOLDS`` is :data:`~otel_perf.thresholds.DEFAULT_THRESHOLDS`, ``isSlow`` is :func:`is_slow`,
``calculateErrorRate`` is :func:`error_rate` and ``getErrorPerformanceStats`` is
:func:`stats` (with :func:`reset_stats` and its :class:`ErrorPerformanceStats` result).
They stay importable from ``otel_perf`` too, but are not part of its ``__all__``: new code
reads the metrics, or :mod:`otel_perf.testing` in tests.

>>> from otel_perf.compat import PERFORMANCE_THRESHOLDS, error_rate, is_slow
>>> PERFORMANCE_THRESHOLDS["generate_image"], is_slow("generate_image", 31.0), error_rate(8, 2)
(10.0, True, 25.0)
"""

from otel_perf.stats import ErrorPerformanceStats, reset_stats, stats
from otel_perf.thresholds import DEFAULT_THRESHOLDS, error_rate, is_slow

PERFORMANCE_THRESHOLDS = DEFAULT_THRESHOLDS  # the TRACK-008 name

__all__ = [
    "PERFORMANCE_THRESHOLDS",
    "ErrorPerformanceStats",
    "error_rate",
    "is_slow",
    "reset_stats",
    "stats",
]
