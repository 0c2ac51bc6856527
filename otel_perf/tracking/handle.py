"""``OperationHandle``: what the tracked code records while an operation runs.

Every method checks its arguments (``otel_perf.tracking.arguments``) and never raises; what
is recorded waits in the handle and goes on the span in one call when the operation ends
(``otel_perf.tracking.outcome``).
"""

from __future__ import annotations

import math
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_perf import attributes as A
from otel_perf.classify import classify_error
from otel_perf.redact import scrub
from otel_perf.selfmonitor import count_invalid, report_internal_error, warn_once
from otel_perf.tracking.arguments import (
    accepted_attribute,
    checked_amount,
    ignored,
    misused,
    safe_repr,
)
from otel_perf.tracking.outcome import end_after_internal_error, end_operation
from otel_perf.tracking.runtime import current, live

COST_SOURCES: Final = (A.COST_SOURCE_PROVIDER, A.COST_SOURCE_ESTIMATED)


class OperationHandle:
    """What the tracked code records while it runs. Methods never raise."""

    __slots__ = (
        "_attached",
        "_cost",
        "_cost_source",
        "_depth",
        "_ended",
        "_failure",
        "_kind",
        "_operation",
        "_parent",
        "_pending",
        "_prev_context",
        "_status_code",
        "span",
    )

    def __init__(
        self,
        span: trace.Span,
        kind: str,
        operation: str,
    ) -> None:
        self.span = span
        self._kind = kind
        self._operation = operation
        self._pending: dict[str, Any] = {}
        self._cost: float | None = None
        self._cost_source = A.COST_SOURCE_PROVIDER
        self._status_code: int | None = None
        self._failure: tuple[str, str | None] | None = None
        # Context bookkeeping (see _Tracker.__enter__ and _finish): the handle that
        # was current when this one was entered, the context to go back to, the depth.
        self._attached = False
        self._ended = False
        self._parent: OperationHandle | None = None
        self._prev_context: Any = None
        self._depth = 0

    @property
    def operation(self) -> str:
        """The operation label (``generate_image``, ``render_still``, ``api_call``, ...)."""
        return self._operation

    def set_usage(
        self,
        *,
        images: int | None = None,
        image_size: str | None = None,
        image_quality: str | None = None,
        videos: int | None = None,
        video_seconds: float | None = None,
        audio_seconds: float | None = None,
        characters: int | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        video_resolution: str | None = None,
        video_audio: bool | None = None,
    ) -> None:
        """Record what the operation consumed; the processor estimates the cost from it.

        ``image_size`` is ``"WIDTHxHEIGHT"``; ``image_quality`` as the provider names it
        (``standard``, ``hd``, ``low``, ``medium``, ``high``). ``video_resolution`` is the
        provider's name (``720p``, ``1080p``, ``4k``) or ``"WIDTHxHEIGHT"``; ``video_audio``
        whether the clip has sound (prices differ with and without).
        """
        try:
            self._set_usage(
                images=images,
                image_size=image_size,
                image_quality=image_quality,
                videos=videos,
                video_seconds=video_seconds,
                audio_seconds=audio_seconds,
                characters=characters,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                video_resolution=video_resolution,
                video_audio=video_audio,
            )
        except Exception as exc:
            misused("set_usage", exc)

    def _set_usage(self, **given: Any) -> None:
        images = given["images"]
        for name, value in given.items():
            if value is None:
                continue
            attribute, kind = A.USAGE_FIELDS[name]
            checked = checked_amount(value, kind)
            if checked is None:
                ignored(f"usage.{name}", value)
                continue
            self._pending[attribute] = checked
        if images is not None and A.USAGE_IMAGES in self._pending:
            self._pending[A.GEN_AI_REQUEST_CHOICE_COUNT] = self._pending[A.USAGE_IMAGES]

    def set_cost(self, usd: float, source: str = A.COST_SOURCE_PROVIDER) -> None:
        """Record the operation's cost in US dollars; a recorded cost wins over the
        processor's estimate. ``source`` is ``provider`` or ``estimated``."""
        if type(source) is not str or source not in COST_SOURCES:
            ignored("cost.source", source)
            source = A.COST_SOURCE_PROVIDER
        if isinstance(usd, bool) or not isinstance(usd, (int, float)):
            ignored("cost", usd)
            return
        try:
            cost = float(usd)
        except (OverflowError, ValueError):  # an int too large for a float
            cost = math.inf
        if not math.isfinite(cost) or cost < 0:
            ignored("cost", usd)
            return
        self._cost = cost
        self._cost_source = source

    def set_retry_attempt(self, attempt: int) -> None:
        """Record the retry attempt number (0 = first try, 1 = first retry, ...)."""
        if isinstance(attempt, bool) or not isinstance(attempt, int) or not 0 <= attempt < 1 << 31:
            ignored("retry_attempt", attempt)
            return
        self._pending[A.RETRY_ATTEMPT] = int(attempt)

    def set_queue_wait(self, seconds: float) -> None:
        """Record how long the operation waited in a queue before it started."""
        checked = checked_amount(seconds, float)
        if checked is None:
            ignored("queue_wait", seconds)
            return
        self._pending[A.QUEUE_WAIT_S] = checked

    def set_status_code(self, code: int) -> None:
        """Record the HTTP status; ``>= 400`` fails an API call with the implied error type."""
        if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
            self._status_code = int(code)
            self._pending[A.HTTP_RESPONSE_STATUS_CODE] = int(code)
        else:
            ignored("status_code", code)

    def fail(self, reason: str | BaseException, message: str | None = None) -> None:
        """Mark the operation failed, without raising; the span ends when the operation does
        (the ``with`` block, the decorated call, or :meth:`end`).

        Unlike ``opentelemetry-util-genai``'s ``fail(error)``, this does not end the span:
        the equivalent of that call here is :meth:`end` with the exception.

        ``reason`` is an exception (classified like one raised out of the operation) or a
        reason name: a render failure reason for renders (``timeout``, ``memory_exceeded``,
        ``invalid_composition``, ``missing_asset``, ``codec_error``, ``unknown``) and an
        API error type otherwise (``rate_limit``, ``authentication``, ``timeout``,
        ``safety_block``, ``server_error``, ``client_error``, ``network``, ``unknown``).
        An unknown reason is recorded as ``unknown`` and logged once.
        """
        if isinstance(reason, BaseException):
            try:
                classified = classify_error(reason, render=self._kind is A.KIND_RENDER)
                text = scrub(reason) if message is None else scrub(message)
            except Exception as exc:  # pragma: no cover - classify and scrub never raise
                misused("fail", exc)
                classified, text = "unknown", None
            self._failure = (classified, text)
            return
        accepted = A.RENDER_FAILURE_REASONS if self._kind is A.KIND_RENDER else A.API_ERROR_TYPES
        if type(reason) is not str or reason not in accepted:
            count_invalid("fail.reason")
            warn_once(
                f"reason.{self._kind}",
                "otel-perf: unknown failure reason %s; accepted: %s. Recorded as 'unknown'.",
                safe_repr(reason),
                ", ".join(accepted),
            )
            reason = "unknown"
        self._failure = (reason, None if message is None else scrub(message))

    def set_attribute(self, key: str, value: Any) -> None:
        """Add a span-only attribute (never a metric label). Payload-like values (bytes,
        ``data:`` URIs, strings over 1 KiB, also inside lists and tuples) are refused so
        media never lands on a span; the keys that drive metric labels
        (:data:`~otel_perf.attributes.RESERVED_ATTRIBUTES`) are refused too: set them through
        the ``track_*`` arguments and the handle's methods."""
        try:
            accepted = accepted_attribute(key, value)
            if accepted is not None:
                self._pending[accepted[0]] = accepted[1]
        except Exception as exc:
            misused("set_attribute", exc)

    def end(self, exc: BaseException | None = None) -> None:
        """End an operation begun with ``start()``; ``exc`` is the failure, if any.

        For operations that outlive one call (a submitted video job ended by a later
        poll). Calling it twice is harmless; it never raises.
        """
        if exc is not None and not issubclass(type(exc), BaseException):
            ignored("end", exc)
            exc = None
        if self.span.is_recording():
            self._finish(exc)

    # --- lifecycle (used by the tracker) --------------------------------------------------

    def _finish(self, exc: BaseException | None) -> None:
        """End the span, then, if this operation is current here, make current the nearest
        open operation above it (or the context before it). An exit out of order, or in
        another thread or task, changes no context now: a later exit or entry skips the
        ended handle (see ``runtime.live``)."""
        self._ended = True
        try:
            end_operation(self, exc)
        except Exception as internal:
            report_internal_error("tracking.end", internal)
            end_after_internal_error(self, exc)
        finally:
            if self._attached:
                self._attached = False
                try:
                    # Restoring the context, inlined: this runs once per tracked operation.
                    if current.get() is self:
                        parent, context = self._parent, self._prev_context
                        if parent is not None and parent._ended:
                            parent, context = live(parent)
                        otel_context.attach(context)
                        current.set(parent)
                except Exception as internal:  # pragma: no cover - a broken context runtime
                    report_internal_error("tracking.context", internal)
