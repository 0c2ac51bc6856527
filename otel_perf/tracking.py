"""``track_generation``, ``track_render`` and ``track_api_call``.

Each returns a tracker that is a context manager (``with`` and ``async with``) yielding an
:class:`OperationHandle`, and a decorator for ``def`` and ``async def`` functions. One
implementation serves all four uses; for ``async def`` the span covers the awaited call, so
durations are real. Inside a decorated function, :func:`current_operation` returns the
handle.

>>> with track_generation("generate_image", model="flux", provider="black-forest-labs") as op:
...     op.set_usage(images=2)

The user's exception always propagates unchanged (the same object); nothing otel-perf does
while recording can raise into the tracked code.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import math
import re
import traceback
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final, Literal, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_perf import attributes as A
from otel_perf.classify import classify_error, classify_status
from otel_perf.pricing import PriceTable, Usage, normalize_model
from otel_perf.redact import scrub
from otel_perf.selfmonitor import count_invalid, report_internal_error, warn_once

F = TypeVar("F", bound=Callable[..., Any])

_GENERATION: Final = "generation"
_RENDER: Final = "render"
_API: Final = "api"
_MAX_ATTRIBUTE_STRING: Final = 1024
_USAGE_FIELDS: Final = {
    "images": (A.USAGE_IMAGES, int),
    "image_size": (A.USAGE_IMAGE_SIZE, str),
    "image_quality": (A.USAGE_IMAGE_QUALITY, str),
    "videos": (A.USAGE_VIDEOS, int),
    "video_seconds": (A.USAGE_VIDEO_SECONDS, float),
    "audio_seconds": (A.USAGE_AUDIO_SECONDS, float),
    "characters": (A.USAGE_CHARACTERS, int),
    "input_tokens": (A.GEN_AI_USAGE_INPUT_TOKENS, int),
    "output_tokens": (A.GEN_AI_USAGE_OUTPUT_TOKENS, int),
}
_NOT_ERRORS: Final = (KeyboardInterrupt, SystemExit, GeneratorExit)  # CancelledError too (below)


class _Runtime:
    """What ``configure()`` binds: the tracer, the price table, the accepted operations."""

    __slots__ = ("generation_operations", "pricing", "tracer")

    def __init__(self) -> None:
        self.tracer: trace.Tracer = trace.get_tracer("otel_perf")
        self.pricing: PriceTable = PriceTable.bundled()
        self.generation_operations: frozenset[str] = frozenset(A.GENERATION_OPERATIONS)


_runtime = _Runtime()
_current: contextvars.ContextVar[OperationHandle | None] = contextvars.ContextVar(
    "otel_perf_current_operation", default=None
)


def bind(tracer: trace.Tracer, pricing: PriceTable, extra_operations: tuple[str, ...]) -> None:
    """Use ``tracer`` and ``pricing`` for tracked operations (called by ``configure()``)."""
    _runtime.tracer = tracer
    _runtime.pricing = pricing
    _runtime.generation_operations = frozenset((*A.GENERATION_OPERATIONS, *extra_operations))


def unbind() -> None:
    """Back to the global tracer provider and the bundled price table."""
    bind(trace.get_tracer("otel_perf"), PriceTable.bundled(), ())


def current_operation() -> OperationHandle | None:
    """The handle of the innermost tracked operation running in this context, if any."""
    return _current.get()


class OperationHandle:
    """What the tracked code records while it runs. Methods never raise."""

    __slots__ = (
        "_cost",
        "_cost_source",
        "_failure",
        "_kind",
        "_model",
        "_operation",
        "_pending",
        "_status_code",
        "_tokens",
        "_usage",
        "span",
    )

    def __init__(self, span: trace.Span, kind: str, operation: str, model: str) -> None:
        self.span = span
        self._kind = kind
        self._operation = operation
        self._model = model
        self._pending: dict[str, Any] = {}
        self._usage: dict[str, Any] = {}
        self._cost: float | None = None
        self._cost_source = A.COST_SOURCE_PROVIDER
        self._status_code: int | None = None
        self._failure: tuple[str, str | None] | None = None
        self._tokens: tuple[Any, Any] | None = None

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
    ) -> None:
        """Record what the operation consumed; it drives the estimated cost.

        ``image_size`` is ``"WIDTHxHEIGHT"``; ``image_quality`` as the provider names it
        (``standard``, ``hd``, ``low``, ``medium``, ``high``).
        """
        given = {
            "images": images,
            "image_size": image_size,
            "image_quality": image_quality,
            "videos": videos,
            "video_seconds": video_seconds,
            "audio_seconds": audio_seconds,
            "characters": characters,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
        }
        for name, value in given.items():
            if value is None:
                continue
            attribute, kind = _USAGE_FIELDS[name]
            checked = _checked(value, kind)
            if checked is None:
                count_invalid(f"usage.{name}")
                warn_once(f"usage.{name}", "otel-perf: ignoring invalid usage %s=%r", name, value)
                continue
            self._usage[name] = checked
            self._pending[attribute] = checked
        if images is not None and A.USAGE_IMAGES in self._pending:
            self._pending[A.GEN_AI_REQUEST_CHOICE_COUNT] = self._pending[A.USAGE_IMAGES]

    def set_cost(self, usd: float, source: str = A.COST_SOURCE_PROVIDER) -> None:
        """Record the operation's cost in US dollars; a provider-reported cost wins over
        the estimate. ``source`` is ``provider`` or ``estimated``."""
        if source not in (A.COST_SOURCE_PROVIDER, A.COST_SOURCE_ESTIMATED):
            warn_once("cost.source", "otel-perf: unknown cost source %r, using 'provider'", source)
            source = A.COST_SOURCE_PROVIDER
        try:
            self._cost = float(usd)
        except (TypeError, ValueError):
            count_invalid("cost")
            warn_once("cost.type", "otel-perf: ignoring non-numeric cost %r", usd)
            return
        self._cost_source = source

    def set_retry_attempt(self, attempt: int) -> None:
        """Record the retry attempt number (0 = first try, 1 = first retry, ...)."""
        self._pending[A.RETRY_ATTEMPT] = attempt

    def set_queue_wait(self, seconds: float) -> None:
        """Record how long the operation waited in a queue before it started."""
        self._pending[A.QUEUE_WAIT_S] = seconds

    def set_status_code(self, code: int) -> None:
        """Record the HTTP status; ``>= 400`` fails an API call with the implied error type."""
        if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
            self._status_code = code
            self._pending[A.HTTP_RESPONSE_STATUS_CODE] = code
        else:
            count_invalid("status_code")
            warn_once("status_code", "otel-perf: ignoring invalid HTTP status %r", code)

    def fail(self, reason: str, message: str | None = None) -> None:
        """Mark the operation failed with an explicit reason, without raising.

        ``reason`` is a render failure reason for renders (``timeout``, ``memory_exceeded``,
        ``invalid_composition``, ``missing_asset``, ``codec_error``, ``unknown``) and an
        API error type otherwise (``rate_limit``, ``authentication``, ``timeout``,
        ``safety_block``, ``server_error``, ``client_error``, ``network``, ``unknown``).
        An unknown reason is recorded as ``unknown`` and logged once.
        """
        accepted = A.RENDER_FAILURE_REASONS if self._kind is _RENDER else A.API_ERROR_TYPES
        if reason not in accepted:
            warn_once(
                f"reason.{self._kind}",
                "otel-perf: unknown failure reason %r; accepted: %s. Recorded as 'unknown'.",
                reason,
                ", ".join(accepted),
            )
            reason = "unknown"
        self._failure = (reason, None if message is None else scrub(message))

    def set_attribute(self, key: str, value: Any) -> None:
        """Add a span-only attribute (never a metric label). Payload-like values (bytes,
        ``data:`` URIs, strings over 1 KiB) are refused so media never lands on a span."""
        if _is_payload(value):
            count_invalid("payload_attribute")
            warn_once("payload", "otel-perf: refusing payload-like value for attribute %r", key)
            return
        self._pending[key] = value

    def end(self, exc: BaseException | None = None) -> None:
        """End an operation begun with ``start()``; ``exc`` is the failure, if any.

        For operations that outlive one call (a submitted video job ended by a later
        poll). Calling it twice is harmless; it never raises.
        """
        if self.span.is_recording():
            self._finish(exc)

    # --- lifecycle (used by the tracker) --------------------------------------------------

    def _finish(self, exc: BaseException | None) -> None:
        try:
            self._end(exc)
        except Exception as internal:
            report_internal_error("tracking.end", internal)
            try:
                self.span.end()
            except Exception:
                pass
        finally:
            self._restore_context()

    def _restore_context(self) -> None:
        tokens = self._tokens
        if tokens is None:
            return
        self._tokens = None
        try:
            otel_context.detach(tokens[0])
            _current.reset(tokens[1])
        except Exception as internal:  # a context switched mid-operation (rare in async)
            report_internal_error("tracking.context", internal)

    def _end(self, exc: BaseException | None) -> None:
        pending = self._pending
        span = self.span
        error_type: str | None = None
        message: str | None = None
        if exc is not None and (isinstance(exc, _NOT_ERRORS) or _is_cancellation(exc)):
            pending[A.OUTCOME] = "cancelled"
        elif self._failure is not None:
            error_type, message = self._failure
        elif self._kind is _API and self._status_code is not None and self._status_code >= 400:
            error_type = classify_status(self._status_code)
        if exc is not None and A.OUTCOME not in pending:
            if error_type is None:
                error_type = classify_error(exc, render=self._kind is _RENDER)
            message = scrub(exc)
            span.add_event("exception", _exception_attributes(exc, message))
        if error_type is not None:
            pending[A.ERROR_TYPE] = error_type
            span.set_status(Status(StatusCode.ERROR, message or error_type))
        if self._cost is not None:
            pending[A.COST_USD] = self._cost
            pending[A.COST_SOURCE] = self._cost_source
        elif self._kind is _GENERATION and error_type is None and A.OUTCOME not in pending:
            estimate = _runtime.pricing.estimate(
                self._operation, self._model, Usage(**self._usage) if self._usage else Usage()
            )
            pending[A.COST_SOURCE] = estimate.source
            if estimate.usd is not None:
                pending[A.COST_USD] = estimate.usd
        if pending:
            span.set_attributes(pending)
        span.end()


class _Tracker:
    """A context manager and decorator for one kind of tracked operation."""

    __slots__ = ("_attributes", "_handle", "_kind", "_model", "_name", "_operation", "_span_kind")

    def __init__(
        self,
        kind: str,
        operation: str,
        model: str,
        name: str,
        span_kind: SpanKind,
        attributes: dict[str, Any],
    ) -> None:
        self._kind = kind
        self._operation = operation
        self._model = model
        self._name = name
        self._span_kind = span_kind
        self._attributes = attributes
        self._handle: OperationHandle | None = None

    def _fresh(self) -> _Tracker:
        """A new tracker with the same arguments: each decorated call gets its own."""
        return _Tracker(
            self._kind, self._operation, self._model, self._name, self._span_kind, self._attributes
        )

    def __enter__(self) -> OperationHandle:
        span = _runtime.tracer.start_span(
            self._name, kind=self._span_kind, attributes=self._attributes
        )
        handle = OperationHandle(span, self._kind, self._operation, self._model)
        try:
            handle._tokens = (
                otel_context.attach(trace.set_span_in_context(span)),
                _current.set(handle),
            )
        except Exception as internal:
            report_internal_error("tracking.start", internal)
        self._handle = handle
        return handle

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        handle = self._handle
        if handle is not None:
            self._handle = None
            handle._finish(exc)
        return False  # never swallow: the user's exception propagates as the same object

    def start(self, start_time: int | None = None) -> OperationHandle:
        """Begin the operation without making its span current; end it with ``handle.end()``.

        For work that spans several calls, such as a long-running job submitted in one call
        and finished in a poll. ``start_time`` is in nanoseconds since the epoch (default now).
        """
        span = _runtime.tracer.start_span(
            self._name, kind=self._span_kind, attributes=self._attributes, start_time=start_time
        )
        return OperationHandle(span, self._kind, self._operation, self._model)

    async def __aenter__(self) -> OperationHandle:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await func(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return cast(F, wrapper)


# --- public entry points ------------------------------------------------------------------


def track_generation(
    operation: str,
    *,
    model: str,
    provider: str | None = None,
    project: str | None = None,
    request_id: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> _Tracker:
    """Track one media generation (image, video, speech, music, sound effect).

    Args:
        operation: ``generate_image``, ``generate_video``, ``generate_speech``,
            ``generate_music``, ``generate_sound_effect``, ``transcribe_audio`` or an operation added with
            ``configure(extra_operations=...)``. Anything else raises ``ValueError``.
        model: the model id or a price-table alias (``flux``, ``imagen``, ``veo``, ...).
        provider: ``gen_ai.provider.name`` (``openai``, ``gcp.gemini``, ...).
        project: the project the cost is attributed to (a metric label: no user ids).
        request_id: span-only correlation id.
        attributes: extra span-only attributes (never payloads).

    >>> @track_generation("generate_video", model="veo")
    ... async def animate(frame): ...
    """
    if operation not in _runtime.generation_operations:
        raise ValueError(
            f"track_generation: unknown operation {operation!r}; accepted values: "
            f"{', '.join(sorted(_runtime.generation_operations))} "
            "(add more with configure(extra_operations=...))"
        )
    attrs = _user_attributes(attributes)
    attrs[A.OPERATION] = operation
    attrs[A.GEN_AI_OPERATION_NAME] = operation
    attrs[A.GEN_AI_REQUEST_MODEL] = "" if model is None else str(model)
    output_type = A.OUTPUT_TYPES.get(operation)
    if output_type is not None:
        attrs[A.GEN_AI_OUTPUT_TYPE] = output_type
    _put(attrs, A.GEN_AI_PROVIDER_NAME, provider)
    _put(attrs, A.PROJECT, project)
    _put(attrs, A.REQUEST_ID, request_id)
    name = f"{operation} {model}" if model else operation
    return _Tracker(_GENERATION, operation, normalize_model(model), name, SpanKind.CLIENT, attrs)


def track_render(
    render_type: str,
    *,
    render_id: str | None = None,
    template_id: str | None = None,
    width: int | None = None,
    height: int | None = None,
    project: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> _Tracker:
    """Track one render: ``still``, ``video``, ``batch`` or ``timeline_export``.

    Failures classify into ``timeout``, ``memory_exceeded``, ``invalid_composition``,
    ``missing_asset``, ``codec_error`` or ``unknown``; per-template thresholds apply.

    >>> with track_render("still", template_id="tpl_hero", width=1920, height=1080) as r:
    ...     pass
    """
    operation = A.RENDER_OPERATIONS.get(render_type)
    if operation is None:
        raise ValueError(
            f"track_render: unknown render_type {render_type!r}; accepted values: "
            f"{', '.join(A.RENDER_TYPES)}"
        )
    attrs = _user_attributes(attributes)
    attrs[A.OPERATION] = operation
    attrs[A.RENDER_TYPE] = render_type
    _put(attrs, A.RENDER_ID, render_id)
    _put(attrs, A.RENDER_TEMPLATE_ID, template_id)
    _put(attrs, A.RENDER_WIDTH, width)
    _put(attrs, A.RENDER_HEIGHT, height)
    _put(attrs, A.PROJECT, project)
    return _Tracker(_RENDER, operation, "", operation, SpanKind.INTERNAL, attrs)


def track_api_call(
    endpoint: str,
    *,
    method: str = "GET",
    request_id: str | None = None,
    project: str | None = None,
    span_kind: SpanKind = SpanKind.CLIENT,
    attributes: Mapping[str, Any] | None = None,
) -> _Tracker:
    """Track one API call. ``endpoint`` is the route template (``/api/render``).

    Query strings are dropped and id-like path segments (numbers, UUIDs, long hex) become
    ``{id}`` so a URL cannot explode the ``endpoint`` label. A recorded status >= 400 fails
    the call with the error type the status implies, even without an exception.
    """
    method_upper = str(method).upper()
    if method_upper not in A.HTTP_METHODS:
        raise ValueError(
            f"track_api_call: unknown method {method!r}; accepted values: "
            f"{', '.join(sorted(A.HTTP_METHODS))}"
        )
    route = route_template(endpoint)
    attrs = _user_attributes(attributes)
    attrs[A.OPERATION] = A.API_OPERATION
    attrs[A.HTTP_ROUTE] = route
    attrs[A.HTTP_REQUEST_METHOD] = method_upper
    _put(attrs, A.REQUEST_ID, request_id)
    _put(attrs, A.PROJECT, project)
    return _Tracker(_API, A.API_OPERATION, "", f"{method_upper} {route}", span_kind, attrs)


# --- small pieces -------------------------------------------------------------------------

_ID_SEGMENT: Final = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}|[A-Za-z0-9_-]{24,})$"
)


@lru_cache(maxsize=1024)  # bounded: many distinct URLs cannot grow memory
def route_template(endpoint: str) -> str:
    """``/api/render/42?x=1`` -> ``/api/render/{id}``; already-templated routes unchanged.

    >>> route_template("https://api.example.com/v1/jobs/123e4567-e89b-12d3-a456-426614174000")
    '/v1/jobs/{id}'
    """
    path = str(endpoint).split("?", 1)[0].split("#", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    return "/".join("{id}" if _ID_SEGMENT.match(seg) else seg for seg in path.split("/"))


def _put(attrs: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        attrs[key] = value


def _user_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    if not attributes:
        return {}
    accepted = {}
    for key, value in attributes.items():
        if _is_payload(value):
            count_invalid("payload_attribute")
            warn_once("payload", "otel-perf: refusing payload-like value for attribute %r", key)
        else:
            accepted[str(key)] = value
    return accepted


def _is_payload(value: Any) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return True
    if isinstance(value, str):
        return len(value) > _MAX_ATTRIBUTE_STRING or value.startswith("data:")
    return False


def _checked(value: Any, kind: type) -> Any:
    if kind is str:
        return value if isinstance(value, str) and len(value) <= 64 else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    if kind is int:
        return int(value) if float(value).is_integer() else None
    return float(value)


def _is_cancellation(exc: BaseException) -> bool:
    # asyncio.CancelledError and trio/anyio cancellations derive from BaseException only.
    return not isinstance(exc, Exception) or type(exc).__name__ == "CancelledError"


def _exception_attributes(exc: BaseException, message: str) -> dict[str, Any]:
    try:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        stack = ""
    return {
        "exception.type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "exception.message": message,
        "exception.stacktrace": scrub(stack[-8192:], max_length=8192),
        "exception.escaped": True,
    }


__all__ = [
    "OperationHandle",
    "bind",
    "current_operation",
    "route_template",
    "track_api_call",
    "track_generation",
    "track_render",
    "unbind",
]
