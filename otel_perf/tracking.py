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
import time
import traceback
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final, Literal, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_perf import attributes as A
from otel_perf.classify import classify_error, classify_status
from otel_perf.pricing import NO_USAGE, Estimate, PriceTable, Usage, normalize_model
from otel_perf.redact import scrub
from otel_perf.selfmonitor import count_invalid, report_internal_error, warn_once
from otel_perf.thresholds import DEFAULT_THRESHOLDS, slow_threshold

F = TypeVar("F", bound=Callable[..., Any])

_GENERATION: Final = "generation"
_RENDER: Final = "render"
_API: Final = "api"
_MAX_ATTRIBUTE_STRING: Final = 1024
_FEW_ATTRIBUTES: Final = 3
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
    "video_resolution": (A.USAGE_VIDEO_RESOLUTION, str),
    "video_audio": (A.USAGE_VIDEO_AUDIO, bool),
}
_NOT_ERRORS: Final = (KeyboardInterrupt, SystemExit, GeneratorExit)  # CancelledError too (below)


class _Runtime:
    """What ``configure()`` binds: the tracer, the price table, the accepted operations and
    the slow thresholds (a slow operation's span carries its threshold and factor)."""

    __slots__ = (
        "generation_operations",
        "pricing",
        "template_thresholds",
        "thresholds",
        "tracer",
    )

    def __init__(self) -> None:
        self.tracer: trace.Tracer = trace.get_tracer("otel_perf")
        self.pricing: PriceTable = PriceTable.bundled()
        self.generation_operations: frozenset[str] = frozenset(A.GENERATION_OPERATIONS)
        self.thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS
        self.template_thresholds: Mapping[str, float] = {}


_runtime = _Runtime()
_current: contextvars.ContextVar[OperationHandle | None] = contextvars.ContextVar(
    "otel_perf_current_operation", default=None
)


def bind(
    tracer: trace.Tracer,
    pricing: PriceTable,
    extra_operations: tuple[str, ...],
    *,
    thresholds: Mapping[str, float] | None = None,
    template_thresholds: Mapping[str, float] | None = None,
) -> None:
    """Use ``tracer``, ``pricing`` and the thresholds for tracked operations (called by
    ``configure()``; the thresholds default to the seed's)."""
    _runtime.tracer = tracer
    _runtime.pricing = pricing
    _runtime.thresholds = DEFAULT_THRESHOLDS if thresholds is None else dict(thresholds)
    _runtime.template_thresholds = dict(template_thresholds or {})
    _generation_templates.clear()  # their estimates came from the previous price table
    _runtime.generation_operations = frozenset((*A.GENERATION_OPERATIONS, *extra_operations))


def unbind() -> None:
    """Back to the global tracer provider and the bundled price table."""
    bind(trace.get_tracer("otel_perf"), PriceTable.bundled(), ())


def active_pricing() -> PriceTable:
    """The price table tracked operations are priced with now (``configure(pricing=...)``)."""
    return _runtime.pricing


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
        "_preset",
        "_status_code",
        "_tokens",
        "_usage",
        "span",
    )

    def __init__(
        self,
        span: trace.Span,
        kind: str,
        operation: str,
        model: str,
        preset: tuple[PriceTable, Estimate] | None = None,
    ) -> None:
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
        self._preset = preset  # the estimate the span started with (see _generation_template)

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
        """Record what the operation consumed; it drives the estimated cost.

        ``image_size`` is ``"WIDTHxHEIGHT"``; ``image_quality`` as the provider names it
        (``standard``, ``hd``, ``low``, ``medium``, ``high``). ``video_resolution`` is the
        provider's name (``720p``, ``1080p``, ``4k``) or ``"WIDTHxHEIGHT"``; ``video_audio``
        whether the clip has sound (prices differ with and without).
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
            "video_resolution": video_resolution,
            "video_audio": video_audio,
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
            tokens = self._tokens  # restore the context the tracker attached, if any
            if tokens is not None:
                self._tokens = None
                try:
                    otel_context.detach(tokens[0])
                    _current.reset(tokens[1])
                except Exception as internal:  # a context switched mid-operation (rare)
                    report_internal_error("tracking.context", internal)

    def _end(self, exc: BaseException | None) -> None:
        pending = self._pending
        span = self.span
        end_time = time.time_ns()  # the span's end: the duration the processor will see
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
        preset = self._preset
        if self._cost is not None:
            pending[A.COST_USD] = self._cost
            pending[A.COST_SOURCE] = self._cost_source
        elif self._kind is _GENERATION and error_type is None and A.OUTCOME not in pending:
            if preset is not None and not self._usage and preset[0] is _runtime.pricing:
                # The span started with this very estimate: nothing to set at the end.
                if pending:
                    _drop_cost(pending, preset[1])
                preset = None
            else:
                pricing = _runtime.pricing
                estimate = pricing.estimate(
                    self._operation, self._model, Usage(**self._usage) if self._usage else NO_USAGE
                )
                pending[A.COST_SOURCE] = estimate.source
                if estimate.usd is not None:
                    pending[A.COST_USD] = estimate.usd
                    pending[A.COST_TABLE_VERSION] = pricing.version
        if A.OUTCOME not in pending:
            _seed_003(self._kind, self._operation, span, pending, error_type, message, end_time)
        if preset is not None:
            _retract(span, pending, preset[1])
        if pending:
            if len(pending) <= _FEW_ATTRIBUTES:
                # The SDK's set_attributes() cleans the mapping through ABC isinstance checks
                # that cost more than the lock and value check of a set_attribute() per key.
                for key, value in pending.items():
                    span.set_attribute(key, value)
            else:
                span.set_attributes(pending)
        span.end(end_time=end_time)


class _Tracker:
    """A context manager and decorator for one kind of tracked operation."""

    __slots__ = (
        "_attributes",
        "_handle",
        "_kind",
        "_model",
        "_name",
        "_operation",
        "_preset",
        "_span_kind",
    )

    def __init__(
        self,
        kind: str,
        operation: str,
        model: str,
        name: str,
        span_kind: SpanKind,
        attributes: dict[str, Any],
        preset: tuple[PriceTable, Estimate] | None = None,
    ) -> None:
        self._kind = kind
        self._operation = operation
        self._model = model
        self._name = name
        self._span_kind = span_kind
        self._attributes = attributes
        self._preset = preset
        self._handle: OperationHandle | None = None

    def _fresh(self) -> _Tracker:
        """A new tracker with the same arguments: each decorated call gets its own."""
        return _Tracker(
            self._kind,
            self._operation,
            self._model,
            self._name,
            self._span_kind,
            self._attributes,
            self._preset,
        )

    def __enter__(self) -> OperationHandle:
        span = _runtime.tracer.start_span(
            self._name, kind=self._span_kind, attributes=self._attributes
        )
        handle = OperationHandle(span, self._kind, self._operation, self._model, self._preset)
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
        return OperationHandle(span, self._kind, self._operation, self._model, self._preset)

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
    if attributes is None and request_id is None:
        try:
            template = _generation_templates.get((operation, model, provider, project))
        except TypeError:  # an unhashable model or provider: nothing to cache
            template = None
        if template is None:
            template = _cached_generation_template(operation, model, provider, project)
    else:
        template = _generation_template(operation, model, provider, project, request_id, attributes)
    attrs, name, label_model, preset = template
    return _Tracker(_GENERATION, operation, label_model, name, SpanKind.CLIENT, attrs, preset)


#: A generation's start attributes, span name, label model and the estimate they include.
_Template = tuple[dict[str, Any], str, str, "tuple[PriceTable, Estimate] | None"]
_generation_templates: dict[tuple[Any, ...], _Template] = {}
_TEMPLATE_CACHE_SIZE: Final = 1024


def _cached_generation_template(
    operation: str, model: Any, provider: str | None, project: str | None
) -> _Template:
    """The usual call repeats a few (operation, model, provider, project) combinations:
    their span attributes, name and label model are built once (``track_generation``
    looks them up). The cached attribute dict is only ever read (``start_span`` copies it
    into the span)."""
    template = _generation_template(operation, model, provider, project, None, None)
    try:
        key = (operation, model, provider, project)
        hash(key)
    except TypeError:  # an unhashable model or provider: nothing to cache
        return template
    if len(_generation_templates) >= _TEMPLATE_CACHE_SIZE:
        _generation_templates.clear()  # bounded under a flood of distinct models
    _generation_templates[key] = template
    return template


def _generation_template(
    operation: str,
    model: Any,
    provider: str | None,
    project: str | None,
    request_id: str | None,
    attributes: Mapping[str, Any] | None,
) -> _Template:
    """A generation span's start attributes, its name and the model as a metric label.

    The price-table estimate for no recorded usage goes on the span at start: set at the
    end instead, its two attributes would cost the SDK about a tenth of the whole span
    (each ``set_attribute`` on a live span is a lock and several Python-level calls).
    ``_end`` keeps it when it still holds, replaces it when usage or a provider cost
    changes it, and retracts it when the operation fails or is cancelled (which carry
    no estimate), so the finished span has exactly the attributes it always had.
    """
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
    label_model = normalize_model(model)
    preset = None
    if _CAN_RETRACT:
        pricing = _runtime.pricing
        estimate = pricing.estimate(operation, label_model)
        attrs[A.COST_SOURCE] = estimate.source
        if estimate.usd is not None:
            attrs[A.COST_USD] = estimate.usd
            attrs[A.COST_TABLE_VERSION] = pricing.version
        preset = (pricing, estimate)
    return attrs, name, label_model, preset


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


_PRICED_KEYS: Final = (A.COST_SOURCE, A.COST_USD, A.COST_TABLE_VERSION)


def _drop_cost(pending: dict[str, Any], estimate: Estimate) -> None:
    """Forget cost attributes set by hand: the estimate the span started with wins."""
    pending.pop(A.COST_SOURCE, None)
    if estimate.usd is not None:
        pending.pop(A.COST_USD, None)
        pending.pop(A.COST_TABLE_VERSION, None)


def _retract(span: trace.Span, pending: dict[str, Any], estimate: Estimate) -> None:
    """Remove the start-time estimate's attributes the outcome does not set again."""
    keys = (A.COST_SOURCE,) if estimate.usd is None else _PRICED_KEYS
    for key in keys:
        if key not in pending:
            del span._attributes[key]  # type: ignore[attr-defined]  # see _can_retract()


def _can_retract() -> bool:
    """Whether this SDK lets ``_retract`` remove an attribute from a live span.

    The API has no call for it; the SDK span keeps its attributes in a ``BoundedAttributes``
    (``span._attributes``), mutable until the span ends. Checked once on a probe span with
    no processor; if it does not hold, estimates are set at the end as before.
    """
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import _Span

        probe = _Span(
            "probe",
            trace.SpanContext(1, 1, is_remote=False),
            attributes={"k": "v", "j": 1},
            resource=Resource.get_empty(),
        )
        probe.start()
        bounded: Any = probe._attributes
        del bounded["k"]
        probe.end()
        return type(bounded) is BoundedAttributes and dict(probe.attributes or {}) == {"j": 1}
    except Exception:  # pragma: no cover - only on an SDK with another layout
        return False


_CAN_RETRACT: Final = _can_retract()


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
    if kind is bool:
        return value if isinstance(value, bool) else None
    if kind is str:
        return value if isinstance(value, str) and len(value) <= 64 else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    if kind is int:
        return int(value) if float(value).is_integer() else None
    return float(value)


def _seed_003(
    kind: str,
    operation: str,
    span: trace.Span,
    pending: dict[str, Any],
    error_type: str | None,
    message: str | None,
    end_time: int,
) -> None:
    """Seed 003's events on the span: ``render_failed`` and ``api_error`` for failures, the
    threshold and slowness factor (and a ``slow_render`` event) for slow operations.

    Runs only for failed or slow operations past one time comparison; the fields the span
    already has (render id, template, route, request id) are copied from its attributes so
    each event is complete on its own.
    """
    start = getattr(span, "start_time", None)
    if not isinstance(start, int) or end_time < start:
        return
    seconds = (end_time - start) / 1e9
    if error_type is None:
        attrs: Any = None
        template = None
        if kind is _RENDER and _runtime.template_thresholds:
            attrs = getattr(span, "attributes", None) or {}
            template = attrs.get(A.RENDER_TEMPLATE_ID)
        threshold = slow_threshold(
            operation, template, _runtime.thresholds, _runtime.template_thresholds
        )
        if seconds <= threshold:
            return
        if attrs is None:
            attrs = getattr(span, "attributes", None) or {}
        factor = seconds / threshold
        pending[A.SLOW_THRESHOLD_S] = threshold
        pending[A.SLOWNESS_FACTOR] = factor
        if kind is _RENDER:
            event = _copied(attrs, pending, _SLOW_RENDER_FIELDS)
            event[A.DURATION_S] = seconds
            event[A.SLOW_THRESHOLD_S] = threshold
            event[A.SLOWNESS_FACTOR] = factor
            span.add_event(A.EVENT_SLOW_RENDER, event, timestamp=end_time)
        return
    if kind is _GENERATION:
        return
    attrs = getattr(span, "attributes", None) or {}
    fields = _RENDER_FAILED_FIELDS if kind is _RENDER else _API_ERROR_FIELDS
    event = _copied(attrs, pending, fields)
    event[A.ERROR_TYPE] = error_type
    status = pending.get(A.HTTP_RESPONSE_STATUS_CODE)
    event[A.ERROR_MESSAGE] = message or (f"HTTP {status}" if status else error_type)
    event[A.DURATION_S] = seconds
    event.setdefault(A.RETRY_ATTEMPT, 0)
    span.add_event(A.EVENT_RENDER_FAILED if kind is _RENDER else A.EVENT_API_ERROR, event,
                   timestamp=end_time)  # fmt: skip


#: The span attributes each seed-003 event repeats (when the span has them).
_RENDER_FAILED_FIELDS: Final = (A.RENDER_ID, A.RENDER_TEMPLATE_ID, A.RENDER_TYPE, A.RETRY_ATTEMPT)
_API_ERROR_FIELDS: Final = (
    A.HTTP_ROUTE,
    A.HTTP_REQUEST_METHOD,
    A.HTTP_RESPONSE_STATUS_CODE,
    A.REQUEST_ID,
    A.RETRY_ATTEMPT,
)
_SLOW_RENDER_FIELDS: Final = (
    A.RENDER_ID,
    A.RENDER_TEMPLATE_ID,
    A.RENDER_TYPE,
    A.RENDER_WIDTH,
    A.RENDER_HEIGHT,
)


def _copied(
    attrs: Mapping[str, Any], pending: Mapping[str, Any], keys: tuple[str, ...]
) -> dict[str, Any]:
    event = {}
    for key in keys:
        value = pending.get(key, attrs.get(key))
        if value is not None:
            event[key] = value
    return event


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
    "active_pricing",
    "bind",
    "current_operation",
    "route_template",
    "track_api_call",
    "track_generation",
    "track_render",
    "unbind",
]
