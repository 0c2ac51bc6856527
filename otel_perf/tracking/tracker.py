"""``Tracker``: the context manager and decorator every ``track_*`` call returns.

One implementation serves ``with``, ``async with``, ``def`` and ``async def``; generators
and async generators are timed over their iteration (``otel_perf.tracking.generators``).
Entering makes the operation's span current; the user's exception always propagates
unchanged (the same object).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from otel_perf.selfmonitor import count_invalid, report_internal_error, warn_once
from otel_perf.tracking.arguments import ignored
from otel_perf.tracking.generators import async_generator_wrapper, generator_wrapper
from otel_perf.tracking.handle import OperationHandle
from otel_perf.tracking.runtime import current, live, runtime

F = TypeVar("F", bound=Callable[..., Any])

#: Tracked operations nested in one context at most; deeper ones are still recorded but not
#: made current, so operations entered and never exited cannot chain memory without bound.
MAX_NESTING: Final = 64


class Tracker:
    """A context manager and decorator for one kind of tracked operation.

    One tracker may be entered several times at once (nested, or shared by threads and
    tasks): each ``__exit__`` ends the operation that is current in the exiting context.
    """

    __slots__ = ("_attributes", "_kind", "_name", "_open", "_operation", "_span_kind", "_tracer")

    def __init__(
        self,
        kind: str,
        operation: str,
        name: str,
        span_kind: SpanKind,
        attributes: dict[str, Any],
    ) -> None:
        self._kind = kind
        self._operation = operation
        self._name = name
        self._span_kind = span_kind
        self._attributes = attributes
        # Set by an instrumentor given a tracer_provider; None: the configured tracer, read
        # at each entry (configure() may run after a decorator was applied).
        self._tracer: trace.Tracer | None = None
        # Entries not yet exited. A list, not one attribute: append and remove are atomic,
        # so threads sharing the tracker cannot lose an entry between a check and a store.
        self._open: list[OperationHandle] = []

    def _fresh(self) -> Tracker:
        """A new tracker with the same arguments: each decorated call gets its own."""
        fresh = Tracker(self._kind, self._operation, self._name, self._span_kind, self._attributes)
        fresh._tracer = self._tracer
        return fresh

    def using(self, tracer: trace.Tracer) -> Tracker:
        """Start this tracker's spans from ``tracer`` instead of the configured one (what an
        instrumentor given ``tracer_provider=`` does); returns the tracker."""
        self._tracer = tracer
        return self

    def __enter__(self) -> OperationHandle:
        try:
            handle_above = current.get()
            base = None
            if handle_above is not None and handle_above._ended:
                # Left current by an exit out of order or in another context: skip it.
                handle_above, base = live(handle_above)
            if base is None:
                base = otel_context.get_current()
            span = (self._tracer or runtime.tracer).start_span(
                self._name, context=base, kind=self._span_kind, attributes=self._attributes
            )
            handle = OperationHandle(span, self._kind, self._operation)
            depth = 0 if handle_above is None else handle_above._depth + 1
            if depth < MAX_NESTING:
                handle._parent = handle_above
                handle._prev_context = base
                handle._depth = depth
                otel_context.attach(trace.set_span_in_context(span, base))
                current.set(handle)
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
            handle = OperationHandle(trace.INVALID_SPAN, self._kind, self._operation)
        self._open.append(handle)
        return handle

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        # The entry to end is the one current in the exiting context; one that was never
        # made current (past MAX_NESTING) is the latest open one.
        handle = current.get()
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
            ignored("start_time", start_time)
            start_time = None
        try:
            span = (self._tracer or runtime.tracer).start_span(
                self._name,
                kind=self._span_kind,
                attributes=self._attributes,
                start_time=start_time,
            )
        except Exception as internal:
            report_internal_error("tracking.start", internal)
            span = trace.INVALID_SPAN
        return OperationHandle(span, self._kind, self._operation)

    async def __aenter__(self) -> OperationHandle:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        """Decorate ``func``: a ``def``, an ``async def``, a generator or an async generator
        (timed over its whole iteration). Anything not callable is returned unchanged."""
        if not callable(func):
            ignored("decorated", func)
            return func
        if inspect.isasyncgenfunction(func):
            return cast(F, async_generator_wrapper(self._fresh, func))
        if inspect.isgeneratorfunction(func):
            return cast(F, generator_wrapper(self._fresh, func))
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
