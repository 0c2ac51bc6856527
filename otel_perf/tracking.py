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

import asyncio
import contextvars
import functools
import inspect
import linecache
import math
import re
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final, Literal, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_perf import attributes as A
from otel_perf import sdk_access
from otel_perf.classify import classify_error, classify_status
from otel_perf.config import Settings
from otel_perf.pricing import NO_USAGE, Estimate, PriceTable, Usage, normalize_model
from otel_perf.redact import scrub, scrub_label
from otel_perf.selfmonitor import count_invalid, report_internal_error, warn_once
from otel_perf.thresholds import DEFAULT_THRESHOLDS, slow_threshold

F = TypeVar("F", bound=Callable[..., Any])

_GENERATION: Final = "generation"
_RENDER: Final = "render"
_API: Final = "api"
_MAX_ATTRIBUTE_STRING: Final = 1024
_FEW_ATTRIBUTES: Final = 3
_USAGE_FIELDS: Final = A.USAGE_FIELDS
#: Tracked operations nested in one context at most; deeper ones are still recorded but not
#: made current, so operations entered and never exited cannot chain memory without bound.
MAX_NESTING: Final = 64
#: What of an exception's traceback goes on the span: its last frames, at most this long.
_STACK_FRAMES: Final = 16
_MAX_STACK: Final = 2048


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


def bind_settings(settings: Settings) -> None:
    """Price, accept operations and apply thresholds from ``settings``, keeping the tracer:
    a ``PerformanceSpanProcessor`` calls this when it is created, so one wired by hand
    gives tracked operations the same settings as one ``configure()`` made."""
    bind(
        _runtime.tracer,
        settings.pricing,
        settings.extra_operations,
        thresholds=settings.thresholds,
        template_thresholds=settings.template_thresholds,
    )


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
        "_attached",
        "_cost",
        "_cost_source",
        "_depth",
        "_ended",
        "_failure",
        "_kind",
        "_model",
        "_operation",
        "_parent",
        "_pending",
        "_preset",
        "_prev_context",
        "_status_code",
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
        self._preset = preset  # the estimate the span started with (see _generation_template)
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
        """Record what the operation consumed; it drives the estimated cost.

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
            _misused("set_usage", exc)

    def _set_usage(self, **given: Any) -> None:
        images = given["images"]
        for name, value in given.items():
            if value is None:
                continue
            attribute, kind = _USAGE_FIELDS[name]
            checked = _checked(value, kind)
            if checked is None:
                _ignored(f"usage.{name}", value)
                continue
            self._usage[name] = checked
            self._pending[attribute] = checked
        if images is not None and A.USAGE_IMAGES in self._pending:
            self._pending[A.GEN_AI_REQUEST_CHOICE_COUNT] = self._pending[A.USAGE_IMAGES]

    def set_cost(self, usd: float, source: str = A.COST_SOURCE_PROVIDER) -> None:
        """Record the operation's cost in US dollars; a provider-reported cost wins over
        the estimate. ``source`` is ``provider`` or ``estimated``."""
        if type(source) is not str or source not in _COST_SOURCES:
            _ignored("cost.source", source)
            source = A.COST_SOURCE_PROVIDER
        if isinstance(usd, bool) or not isinstance(usd, (int, float)):
            _ignored("cost", usd)
            return
        try:
            cost = float(usd)
        except (OverflowError, ValueError):  # an int too large for a float
            cost = math.inf
        if not math.isfinite(cost) or cost < 0:
            _ignored("cost", usd)
            return
        self._cost = cost
        self._cost_source = source

    def set_retry_attempt(self, attempt: int) -> None:
        """Record the retry attempt number (0 = first try, 1 = first retry, ...)."""
        if isinstance(attempt, bool) or not isinstance(attempt, int) or not 0 <= attempt < 1 << 31:
            _ignored("retry_attempt", attempt)
            return
        self._pending[A.RETRY_ATTEMPT] = int(attempt)

    def set_queue_wait(self, seconds: float) -> None:
        """Record how long the operation waited in a queue before it started."""
        checked = _checked(seconds, float)
        if checked is None:
            _ignored("queue_wait", seconds)
            return
        self._pending[A.QUEUE_WAIT_S] = checked

    def set_status_code(self, code: int) -> None:
        """Record the HTTP status; ``>= 400`` fails an API call with the implied error type."""
        if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
            self._status_code = int(code)
            self._pending[A.HTTP_RESPONSE_STATUS_CODE] = int(code)
        else:
            _ignored("status_code", code)

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
                classified = classify_error(reason, render=self._kind is _RENDER)
                text = scrub(reason) if message is None else scrub(message)
            except Exception as exc:  # pragma: no cover - classify and scrub never raise
                _misused("fail", exc)
                classified, text = "unknown", None
            self._failure = (classified, text)
            return
        accepted = A.RENDER_FAILURE_REASONS if self._kind is _RENDER else A.API_ERROR_TYPES
        if type(reason) is not str or reason not in accepted:
            count_invalid("fail.reason")
            warn_once(
                f"reason.{self._kind}",
                "otel-perf: unknown failure reason %s; accepted: %s. Recorded as 'unknown'.",
                _safe_repr(reason),
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
            accepted = _accepted_attribute(key, value)
            if accepted is not None:
                self._pending[accepted[0]] = accepted[1]
        except Exception as exc:
            _misused("set_attribute", exc)

    def end(self, exc: BaseException | None = None) -> None:
        """End an operation begun with ``start()``; ``exc`` is the failure, if any.

        For operations that outlive one call (a submitted video job ended by a later
        poll). Calling it twice is harmless; it never raises.
        """
        if exc is not None and not issubclass(type(exc), BaseException):
            _ignored("end", exc)
            exc = None
        if self.span.is_recording():
            self._finish(exc)

    # --- lifecycle (used by the tracker) --------------------------------------------------

    def _finish(self, exc: BaseException | None) -> None:
        """End the span, then, if this operation is current here, make current the nearest
        open operation above it (or the context before it). An exit out of order, or in
        another thread or task, changes no context now: a later exit or entry skips the
        ended handle (see ``_live``)."""
        self._ended = True
        try:
            self._end(exc)
        except Exception as internal:
            report_internal_error("tracking.end", internal)
            self._end_failed(exc)
        finally:
            if self._attached:
                self._attached = False
                try:
                    # _restore_context, inlined: this runs once per tracked operation.
                    if _current.get() is self:
                        parent, context = self._parent, self._prev_context
                        if parent is not None and parent._ended:
                            parent, context = _live(parent)
                        otel_context.attach(context)
                        _current.set(parent)
                except Exception as internal:  # pragma: no cover - a broken context runtime
                    report_internal_error("tracking.context", internal)

    def _end_failed(self, exc: BaseException | None) -> None:
        """End the span after ``_end`` failed: a failure stays a failure, never charged."""
        span = self.span
        try:
            failed = (exc is not None and not _is_cancellation(exc)) or self._failure is not None
            if failed:
                span.set_attribute(A.ERROR_TYPE, "unknown")
                span.set_status(Status(StatusCode.ERROR, "unknown"))
                sdk_access.retract_attributes(span, (A.COST_USD, A.COST_SOURCE))
        except Exception:  # pragma: no cover - the SDK span itself is broken
            pass
        try:
            span.end()
        except Exception:  # pragma: no cover
            pass

    def _end(self, exc: BaseException | None) -> None:
        pending = self._pending
        span = self.span
        end_time = time.time_ns()  # the span's end: the duration the processor will see
        error_type: str | None = None
        message: str | None = None
        if exc is not None and _is_cancellation(exc):
            if _deadline_expired():
                error_type = "timeout"  # cancelled by otel_perf.deadline(): a timeout
            else:
                pending[A.OUTCOME] = "cancelled"
        elif self._failure is not None:
            error_type, message = self._failure
        elif self._kind is _API and self._status_code is not None and self._status_code >= 400:
            error_type = classify_status(self._status_code)
        if exc is not None and A.OUTCOME not in pending:
            if error_type is None:
                error_type = classify_error(exc, render=self._kind is _RENDER)
            message = scrub(exc)
        if error_type is not None:
            # The failure first: nothing after this can turn it into a success.
            span.set_status(Status(StatusCode.ERROR, message or error_type))
            pending[A.ERROR_TYPE] = error_type
            if exc is not None and message is not None:
                span.add_event("exception", _exception_attributes(exc, message))
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
    """A context manager and decorator for one kind of tracked operation.

    One tracker may be entered several times at once (nested, or shared by threads and
    tasks): each ``__exit__`` ends the operation that is current in the exiting context.
    """

    __slots__ = (
        "_attributes",
        "_kind",
        "_model",
        "_name",
        "_open",
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
        # Entries not yet exited. A list, not one attribute: append and remove are atomic,
        # so threads sharing the tracker cannot lose an entry between a check and a store.
        self._open: list[OperationHandle] = []

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
        try:
            current = _current.get()
            base = None
            if current is not None and current._ended:
                # Left current by an exit out of order or in another context: skip it.
                current, base = _live(current)
            if base is None:
                base = otel_context.get_current()
            span = _runtime.tracer.start_span(
                self._name, context=base, kind=self._span_kind, attributes=self._attributes
            )
            handle = OperationHandle(span, self._kind, self._operation, self._model, self._preset)
            depth = 0 if current is None else current._depth + 1
            if depth < MAX_NESTING:
                handle._parent = current
                handle._prev_context = base
                handle._depth = depth
                otel_context.attach(trace.set_span_in_context(span, base))
                _current.set(handle)
                handle._attached = True
            else:
                count_invalid("nesting")
                warn_once(
                    "nesting",
                    "otel-perf: more than %d tracked operations open in one context (entered "
                    "and never exited?); deeper ones are recorded but not made current",
                    MAX_NESTING,
                )
        except Exception as internal:
            report_internal_error("tracking.start", internal)
            handle = OperationHandle(
                trace.INVALID_SPAN, self._kind, self._operation, self._model, None
            )
        self._open.append(handle)
        return handle

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        # The entry to end is the one current in the exiting context; one that was never
        # made current (past MAX_NESTING) is the latest open one.
        handle = _current.get()
        try:
            self._open.remove(handle)  # type: ignore[arg-type]
        except ValueError:
            try:
                handle = self._open.pop()
            except IndexError:  # exited more often than entered
                handle = None
        if handle is not None:
            handle._finish(exc)
        return False  # never swallow: the user's exception propagates as the same object

    def start(self, start_time: int | None = None) -> OperationHandle:
        """Begin the operation without making its span current; end it with ``handle.end()``.

        For work that spans several calls, such as a long-running job submitted in one call
        and finished in a poll. ``start_time`` is in nanoseconds since the epoch (default now).
        """
        if start_time is not None and (
            isinstance(start_time, bool) or not isinstance(start_time, int) or start_time < 0
        ):
            _ignored("start_time", start_time)
            start_time = None
        try:
            span = _runtime.tracer.start_span(
                self._name,
                kind=self._span_kind,
                attributes=self._attributes,
                start_time=start_time,
            )
        except Exception as internal:
            report_internal_error("tracking.start", internal)
            span = trace.INVALID_SPAN
        return OperationHandle(span, self._kind, self._operation, self._model, self._preset)

    async def __aenter__(self) -> OperationHandle:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        """Decorate ``func``: a ``def``, an ``async def``, a generator or an async generator
        (timed over its whole iteration). Anything not callable is returned unchanged."""
        if not callable(func):
            _ignored("decorated", func)
            return func
        if inspect.isasyncgenfunction(func):
            return cast(F, _async_generator_wrapper(self, func))
        if inspect.isgeneratorfunction(func):
            return cast(F, _generator_wrapper(self, func))
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


def _live(handle: OperationHandle | None) -> tuple[OperationHandle | None, Any]:
    """The nearest open handle from ``handle`` up, and the context it had made current
    (the context of the ended handles' outermost entry), skipping ended ones."""
    context = None
    while handle is not None and handle._ended:
        context = handle._prev_context
        handle = handle._parent
    return handle, context


def _generator_wrapper(tracker: _Tracker, func: Callable[..., Any]) -> Callable[..., Any]:
    """A generator timed from its first ``next()`` to its end. The span is current only
    while the generator runs, never in the consumer between items."""

    @functools.wraps(func)
    def generator(*args: Any, **kwargs: Any) -> Any:
        handle = tracker._fresh().start()
        step = _Steps(handle)
        try:
            inner = step.run(func, args, kwargs)
            send: Any = inner.send
            value: Any = None
            while True:
                try:
                    item = step.run(send, (value,), {})
                except StopIteration as stop:
                    handle._finish(None)
                    return stop.value
                try:
                    value = yield item
                    send = inner.send
                except GeneratorExit:
                    step.run(inner.close, (), {})
                    raise
                except BaseException as thrown:
                    value, send = thrown, inner.throw
        except BaseException as exc:
            handle._finish(exc)
            raise

    return generator


def _async_generator_wrapper(tracker: _Tracker, func: Callable[..., Any]) -> Callable[..., Any]:
    """An async generator timed over its iteration (see ``_generator_wrapper``)."""

    @functools.wraps(func)
    async def generator(*args: Any, **kwargs: Any) -> Any:
        handle = tracker._fresh().start()
        step = _Steps(handle)
        try:
            inner = step.run(func, args, kwargs)
            send: Any = inner.asend
            value: Any = None
            while True:
                try:
                    item = await step.run_async(send, value)
                except StopAsyncIteration:
                    handle._finish(None)
                    return
                try:
                    value = yield item
                    send = inner.asend
                except GeneratorExit:
                    await step.run_async(lambda _: inner.aclose(), None)
                    raise
                except BaseException as thrown:
                    value, send = thrown, inner.athrow
        except BaseException as exc:
            handle._finish(exc)
            raise

    return generator


class _Steps:
    """Runs one step of a wrapped generator with its operation current."""

    __slots__ = ("context", "handle")

    def __init__(self, handle: OperationHandle) -> None:
        self.handle = handle
        self.context = trace.set_span_in_context(handle.span)

    def run(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        token = otel_context.attach(self.context)
        current = _current.set(self.handle)
        try:
            return func(*args, **kwargs)
        finally:
            _current.reset(current)
            otel_context.detach(token)

    async def run_async(self, func: Callable[[Any], Any], value: Any) -> Any:
        token = otel_context.attach(self.context)
        current = _current.set(self.handle)
        try:
            return await func(value)
        finally:
            _current.reset(current)
            otel_context.detach(token)


# --- deadlines ----------------------------------------------------------------------------

_deadline: contextvars.ContextVar[Any] = contextvars.ContextVar("otel_perf_deadline", default=None)


class deadline:
    """``asyncio.timeout()`` whose expiry tracked operations inside record as timeouts.

    A plain ``asyncio.wait_for``/``asyncio.timeout`` deadline reaches a tracked operation as
    a cancellation (``otel_perf_operations_cancelled_total``), indistinguishable from any
    other; under ``deadline`` it is a failure with ``error_type="timeout"``, its duration in
    the error histogram, counted in the error rate and the timeout advice.

    >>> async def main():                                   # doctest: +SKIP
    ...     async with otel_perf.deadline(30):
    ...         await generate()                            # a tracked coroutine
    """

    __slots__ = ("_expired", "_seconds", "_timer", "_token")

    def __init__(self, seconds: float | None) -> None:
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, (int, float))
        ):
            _ignored("deadline", seconds)
            seconds = None
        self._seconds = seconds
        self._expired = False
        self._timer: Any = None
        self._token: Any = None

    async def __aenter__(self) -> deadline:
        if self._seconds is not None:
            task = asyncio.current_task()
            if task is not None:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(max(0.0, self._seconds), self._expire, task)
        self._token = _deadline.set(self)
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        _deadline.reset(self._token)
        if self._timer is not None:
            self._timer.cancel()
        if self._expired and exc_type is asyncio.CancelledError:
            task = asyncio.current_task()
            uncancel = getattr(task, "uncancel", None)
            if uncancel is not None:  # Python 3.11+: this cancellation is handled here
                uncancel()
            raise TimeoutError(f"deadline of {self._seconds} s exceeded") from exc

    def _expire(self, task: asyncio.Task[Any]) -> None:
        self._expired = True
        task.cancel()

    def expired(self) -> bool:
        """Whether the deadline passed."""
        return self._expired


def _deadline_expired() -> bool:
    current = _deadline.get()
    return current is not None and current._expired


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
    if type(operation) is not str or operation not in _runtime.generation_operations:
        raise ValueError(
            f"track_generation: unknown operation {_safe_repr(operation)}; accepted values: "
            f"{', '.join(sorted(_runtime.generation_operations))} "
            "(add more with configure(extra_operations=...))"
        )
    if attributes is None and request_id is None:
        try:
            template = _generation_templates.get((operation, model, provider, project))
        except Exception:  # an unhashable model or provider: nothing to cache
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
    except Exception:  # an unhashable model or provider: nothing to cache
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
    model = "" if model is None else (_text("model", model) or "")
    attrs[A.GEN_AI_REQUEST_MODEL] = model
    output_type = A.OUTPUT_TYPES.get(operation)
    if output_type is not None:
        attrs[A.GEN_AI_OUTPUT_TYPE] = output_type
    _put_text(attrs, A.GEN_AI_PROVIDER_NAME, provider)
    _put_text(attrs, A.PROJECT, project, scrub_label)
    _put_text(attrs, A.REQUEST_ID, request_id, _scrub_id)
    name = f"{operation} {model}" if model else operation
    label_model = normalize_model(model)
    preset = None
    if sdk_access.can_retract():
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
    operation = A.RENDER_OPERATIONS.get(render_type) if type(render_type) is str else None
    if operation is None:
        raise ValueError(
            f"track_render: unknown render_type {_safe_repr(render_type)}; accepted values: "
            f"{', '.join(A.RENDER_TYPES)}"
        )
    attrs = _user_attributes(attributes)
    attrs[A.OPERATION] = operation
    attrs[A.RENDER_TYPE] = render_type
    _put_text(attrs, A.RENDER_ID, render_id, _scrub_id)
    _put_text(attrs, A.RENDER_TEMPLATE_ID, template_id, scrub_label)
    _put_int(attrs, A.RENDER_WIDTH, width)
    _put_int(attrs, A.RENDER_HEIGHT, height)
    _put_text(attrs, A.PROJECT, project, scrub_label)
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
    method_upper = method.upper() if type(method) is str else None
    if method_upper not in A.HTTP_METHODS:
        raise ValueError(
            f"track_api_call: unknown method {_safe_repr(method)}; accepted values: "
            f"{', '.join(sorted(A.HTTP_METHODS))}"
        )
    route = route_template(_text("endpoint", endpoint) or "")
    if not isinstance(span_kind, SpanKind):
        _ignored("span_kind", span_kind)
        span_kind = SpanKind.CLIENT
    attrs = _user_attributes(attributes)
    attrs[A.OPERATION] = A.API_OPERATION
    attrs[A.HTTP_ROUTE] = route
    attrs[A.HTTP_REQUEST_METHOD] = method_upper
    _put_text(attrs, A.REQUEST_ID, request_id, _scrub_id)
    _put_text(attrs, A.PROJECT, project, scrub_label)
    return _Tracker(_API, A.API_OPERATION, "", f"{method_upper} {route}", span_kind, attrs)


# --- small pieces -------------------------------------------------------------------------

_ID_SEGMENT: Final = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}|[A-Za-z0-9_-]{24,})$"
)


def route_template(endpoint: str) -> str:
    """``/api/render/42?x=1`` -> ``/api/render/{id}``; already-templated routes unchanged.

    >>> route_template("https://api.example.com/v1/jobs/123e4567-e89b-12d3-a456-426614174000")
    '/v1/jobs/{id}'
    """
    return _route_template(endpoint if type(endpoint) is str else "")


@lru_cache(maxsize=1024)  # bounded: many distinct URLs cannot grow memory
def _route_template(endpoint: str) -> str:
    # Scrubbed first: a secret cut into segments would no longer look like one.
    path = scrub_label(endpoint.split("?", 1)[0].split("#", 1)[0])
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
    sdk_access.retract_attributes(span, [key for key in keys if key not in pending])


_COST_SOURCES: Final = (A.COST_SOURCE_PROVIDER, A.COST_SOURCE_ESTIMATED)
_MAX_SEQUENCE: Final = 128


def _put(attrs: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        attrs[key] = value


def _put_text(attrs: dict[str, Any], key: str, value: Any, scrubbed: Any = None) -> None:
    """A string argument (project, template, request id...): other types become their
    ``str()``; a payload-like or unprintable value is refused; free text is scrubbed
    (``scrub_label``, cached, for values that repeat: project, template)."""
    if value is None:
        return
    text = _text(key, value)
    if text is not None:
        attrs[key] = text if scrubbed is None else scrubbed(text)


def _scrub_id(text: str) -> str:
    return scrub(text, max_length=_MAX_ATTRIBUTE_STRING)


def _text(field: str, value: Any) -> str | None:
    if type(value) is not str:
        try:
            value = str(value)
        except Exception:
            _ignored(field, value)
            return None
        if type(value) is not str:
            _ignored(field, value)
            return None
    if _is_payload(value):
        count_invalid("payload_attribute")
        warn_once("payload", "otel-perf: refusing payload-like value for %s", field)
        return None
    return value


def _put_int(attrs: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 31:
        _ignored(key, value)
        return
    attrs[key] = int(value)


def _user_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    if attributes is None:
        return {}
    accepted = {}
    try:
        for key, value in attributes.items():
            checked = _accepted_attribute(key, value)
            if checked is not None:
                accepted[checked[0]] = checked[1]
    except Exception as exc:  # not a mapping, or one whose items() raises
        _misused("attributes", exc)
    return accepted


def _accepted_attribute(key: Any, value: Any) -> tuple[str, Any] | None:
    """``(key, value)`` for a span-only attribute, or ``None`` when it is refused."""
    if type(key) is not str:
        _ignored("attribute_key", key)
        return None
    if key in A.RESERVED_ATTRIBUTES:
        count_invalid("reserved_attribute")
        warn_once(
            f"reserved.{key}",
            "otel-perf: attribute %s drives metric labels and cannot be set as a span-only "
            "attribute; pass it as an argument of track_*() or a handle method",
            key,
        )
        return None
    if _is_payload(value):
        count_invalid("payload_attribute")
        warn_once("payload", "otel-perf: refusing payload-like value for attribute %s", key)
        return None
    if isinstance(value, (str, bool, int, float)):
        return key, value
    if isinstance(value, (list, tuple)):
        return key, tuple(value)
    _ignored(f"attribute.{key}", value)  # not an OpenTelemetry attribute type
    return None


def _is_payload(value: Any, depth: int = 0) -> bool:
    """Bytes, ``data:`` URIs and strings over 1 KiB, also inside sequences (whose length
    is bounded too); objects of other types count by the length of their ``str()``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return True
    if isinstance(value, str):
        return len(value) > _MAX_ATTRIBUTE_STRING or value.startswith("data:")
    if isinstance(value, (bool, int, float)) or value is None:
        return False
    if isinstance(value, (list, tuple)):
        if depth > 0 or len(value) > _MAX_SEQUENCE:
            return True  # attributes are flat: a nested or huge sequence is not metadata
        return any(_is_payload(item, 1) for item in value)
    try:
        return len(str(value)) > _MAX_ATTRIBUTE_STRING
    except Exception:
        return True


def _misused(stage: str, exc: BaseException) -> None:
    """A public call given something that made it fail: counted, logged once, ignored."""
    count_invalid(stage)
    warn_once(f"misuse.{stage}", "otel-perf: ignoring an invalid argument to %s (%s)", stage,
              _safe_repr(exc))  # fmt: skip


def _ignored(field: str, value: Any) -> None:
    """A value of the wrong type or range: counted by field, logged once, ignored."""
    count_invalid(field)
    warn_once(f"invalid.{field}", "otel-perf: ignoring invalid %s=%s", field, _safe_repr(value))


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
        return text if type(text) is str else f"<{type(value).__name__}>"
    except Exception:
        return f"<unprintable {type(value).__name__}>"


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


def _exception_attributes(exc: BaseException, message: str) -> dict[str, Any]:
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


__all__ = [
    "OperationHandle",
    "active_pricing",
    "bind",
    "current_operation",
    "deadline",
    "route_template",
    "track_api_call",
    "track_generation",
    "track_render",
    "unbind",
]
