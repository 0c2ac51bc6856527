"""How a tracked operation's span ends: its outcome, written once as attributes and events.

The outcome is a success, a failure (an error type from the exception, the handle's
``fail()`` or an HTTP status >= 400, with the status, the ``exception`` event and seed 003's
``render_failed`` / ``api_error`` events) or a cancellation. What the handle recorded
(usage, a provider cost, retries, queue wait) goes on the span in one call before it ends.
Tracking never prices nor applies thresholds: the processor does, from the span
(``otel_perf.processor``).
"""

from __future__ import annotations

import linecache
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from otel_perf import attributes as A
from otel_perf.classify import classify_error, classify_status
from otel_perf.redact import scrub
from otel_perf.tracking.timeouts import deadline_expired

if TYPE_CHECKING:
    from otel_perf.tracking.handle import OperationHandle

_GENERATION: Final = A.KIND_GENERATION
_RENDER: Final = A.KIND_RENDER
_API: Final = A.KIND_API
#: Up to this many attributes are set one by one (see ``end_operation``).
_FEW_ATTRIBUTES: Final = 3
#: What of an exception's traceback goes on the span: its last frames, at most this long.
_STACK_FRAMES: Final = 16
_MAX_STACK: Final = 2048


def end_operation(handle: OperationHandle, exc: BaseException | None) -> None:
    """Write the outcome and what ``handle`` recorded on its span, then end the span."""
    pending = handle._pending
    span = handle.span
    end_time = time.time_ns()  # the span's end: the duration the processor will see
    error_type: str | None = None
    message: str | None = None
    kind = handle._kind
    if exc is not None and is_cancellation(exc):
        if deadline_expired():
            error_type = "timeout"  # cancelled by otel_perf.deadline(): a timeout
        else:
            pending[A.OUTCOME] = "cancelled"
    elif handle._failure is not None:
        error_type, message = handle._failure
    elif kind is _API and handle._status_code is not None and handle._status_code >= 400:
        error_type = classify_status(handle._status_code)
    if exc is not None and A.OUTCOME not in pending:
        if error_type is None:
            error_type = classify_error(exc, render=kind is _RENDER)
        message = scrub(exc)
    if error_type is not None:
        # The failure first: nothing after this can turn it into a success.
        span.set_status(Status(StatusCode.ERROR, message or error_type))
        pending[A.ERROR_TYPE] = error_type
        if exc is not None and message is not None:
            span.add_event("exception", exception_attributes(exc, message))
        if kind is not _GENERATION:
            _failure_event(kind, span, pending, error_type, message, end_time)
    if handle._cost is not None:
        pending[A.COST_USD] = handle._cost
        pending[A.COST_SOURCE] = handle._cost_source
    if pending:
        if len(pending) <= _FEW_ATTRIBUTES:
            # The SDK's set_attributes() cleans the mapping through ABC isinstance checks
            # that cost more than the lock and value check of a set_attribute() per key.
            for key, value in pending.items():
                span.set_attribute(key, value)
        else:
            span.set_attributes(pending)
    span.end(end_time=end_time)


def end_after_internal_error(handle: OperationHandle, exc: BaseException | None) -> None:
    """End the span after ``end_operation`` failed: a failure stays a failure."""
    span = handle.span
    try:
        if (exc is not None and not is_cancellation(exc)) or handle._failure is not None:
            span.set_attribute(A.ERROR_TYPE, "unknown")
            span.set_status(Status(StatusCode.ERROR, "unknown"))
    except Exception:  # pragma: no cover - the SDK span itself is broken
        pass
    try:
        span.end()
    except Exception:  # pragma: no cover
        pass


def _failure_event(
    kind: str,
    span: trace.Span,
    pending: Mapping[str, Any],
    error_type: str,
    message: str | None,
    end_time: int,
) -> None:
    """Seed 003's ``render_failed`` / ``api_error`` event. The fields the span already has
    (render id, template, route, request id) are copied from its attributes so each event
    is complete on its own."""
    start = getattr(span, "start_time", None)
    if not isinstance(start, int) or end_time < start:
        return
    attrs = getattr(span, "attributes", None) or {}
    event = copied_fields(
        attrs, pending, _RENDER_FAILED_FIELDS if kind is _RENDER else _API_ERROR_FIELDS
    )
    event[A.ERROR_TYPE] = error_type
    status = pending.get(A.HTTP_RESPONSE_STATUS_CODE)
    event[A.ERROR_MESSAGE] = message or (f"HTTP {status}" if status else error_type)
    event[A.DURATION_S] = (end_time - start) / 1e9
    event.setdefault(A.RETRY_ATTEMPT, 0)
    span.add_event(A.EVENT_RENDER_FAILED if kind is _RENDER else A.EVENT_API_ERROR, event,
                   timestamp=end_time)  # fmt: skip


#: The span attributes each seed-003 failure event repeats (when the span has them).
_RENDER_FAILED_FIELDS: Final = (A.RENDER_ID, A.RENDER_TEMPLATE_ID, A.RENDER_TYPE, A.RETRY_ATTEMPT)
_API_ERROR_FIELDS: Final = (
    A.HTTP_ROUTE,
    A.HTTP_REQUEST_METHOD,
    A.HTTP_RESPONSE_STATUS_CODE,
    A.REQUEST_ID,
    A.RETRY_ATTEMPT,
)


def copied_fields(
    attrs: Mapping[str, Any], pending: Mapping[str, Any], keys: tuple[str, ...]
) -> dict[str, Any]:
    """The values of ``keys`` from ``pending``, else from ``attrs``, skipping missing ones."""
    event = {}
    for key in keys:
        value = pending.get(key, attrs.get(key))
        if value is not None:
            event[key] = value
    return event


def is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` cancels rather than fails (``CancelledError``, ``KeyboardInterrupt``...)."""
    # asyncio.CancelledError and trio/anyio cancellations derive from BaseException only;
    # KeyboardInterrupt, SystemExit and GeneratorExit too. type() cannot be faked, isinstance
    # can (a raising __class__), so only type() is asked.
    try:
        return not issubclass(type(exc), Exception) or type(exc).__name__ == "CancelledError"
    except Exception:  # pragma: no cover - a metaclass whose __name__ raises
        return False


def _frames(tb: Any) -> str:
    """The last ``_STACK_FRAMES`` frames as ``traceback`` prints them, without the column
    carets Python 3.11+ computes (most of ``format_tb``'s cost)."""
    entries = []
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    lines = []
    for entry in entries[-_STACK_FRAMES:]:
        code = entry.tb_frame.f_code
        lines.append(f'  File "{code.co_filename}", line {entry.tb_lineno}, in {code.co_name}\n')
        source = linecache.getline(code.co_filename, entry.tb_lineno).strip()
        if source:
            lines.append(f"    {source}\n")
    return "".join(lines)


def exception_attributes(exc: BaseException, message: str) -> dict[str, Any]:
    """The span event of a failure: the scrubbed message and the last frames of the stack.

    Only the frames are formatted (at most ``_STACK_FRAMES``, the last ``_MAX_STACK``
    characters scrubbed) and the scrubbed message closes the trace: scrubbing the whole
    formatted exception cost more than the rest of a failed operation together.
    """
    try:
        exc_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
    except Exception:  # pragma: no cover - a metaclass whose names raise
        exc_type = "unknown"
    try:
        frames = scrub(_frames(exc.__traceback__)[-_MAX_STACK:], max_length=_MAX_STACK)
    except Exception:
        frames = ""
    return {
        "exception.type": exc_type,
        "exception.message": message,
        "exception.stacktrace": f"Traceback (most recent call last):\n{frames}{exc_type}: {message}",
        "exception.escaped": True,
    }
