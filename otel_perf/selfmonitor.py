"""Counting and logging otel-perf's own failures, so none of them reaches user code.

Every ``except`` in the hot path ends here: the failure is counted by stage (exposed as
``otel_perf_internal_errors_total{stage}``) and logged once per stage, never per span.
"""

from __future__ import annotations

import logging
import threading

from otel_perf.redact import install_log_filter

logger = logging.getLogger("otel_perf")
install_log_filter(logger)  # every line otel-perf logs is scrubbed of secrets (redact.py)

_lock = threading.Lock()
_counts: dict[str, int] = {}
_invalid: dict[str, int] = {}
_logged: set[str] = set()
_changes = 0  # counts of either kind changed this often (a file backend syncs on change)


def report_internal_error(stage: str, exc: BaseException | None = None) -> None:
    """Count an internal error at ``stage``; log it the first time that stage fails."""
    global _changes
    try:
        with _lock:
            _counts[stage] = _counts.get(stage, 0) + 1
            _changes += 1
            first = stage not in _logged
            _logged.add(stage)
        if first:
            logger.warning(
                "otel-perf internal error in %s (further ones are only counted in "
                "otel_perf_internal_errors_total)",
                stage,
                exc_info=exc,
            )
    except Exception:  # pragma: no cover - logging itself failed; nothing left to do
        pass


def warn_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` at WARNING the first time ``key`` is seen."""
    with _lock:
        if key in _logged:
            return
        _logged.add(key)
    try:
        logger.warning(message, *args)
    except Exception:  # pragma: no cover - a handler that raises; never into user code
        pass


def count_invalid(field: str) -> None:
    """Count a value ignored for being NaN, negative or of the wrong type (by field name)."""
    global _changes
    with _lock:
        _invalid[field] = _invalid.get(field, 0) + 1
        _changes += 1


def changes() -> int:
    """How often a count changed (cheap to compare; no lock)."""
    return _changes


def invalid_value_counts() -> dict[str, int]:
    """A snapshot of ignored values by field."""
    with _lock:
        return dict(_invalid)


def internal_error_counts() -> dict[str, int]:
    """A snapshot of internal errors by stage."""
    with _lock:
        return dict(_counts)


def reset() -> None:
    """Forget counts and which warnings were logged (for tests)."""
    global _changes
    with _lock:
        _counts.clear()
        _invalid.clear()
        _logged.clear()
        _changes += 1


def reset_after_fork() -> None:
    """In a forked child: a new lock (the parent's may have been held) and no counts (they
    are the parent's; in multiprocess mode the parent's file has them)."""
    global _lock
    _lock = threading.Lock()
    reset()
