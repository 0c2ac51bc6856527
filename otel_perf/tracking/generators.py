"""Decorated generators and async generators, timed from their first step to their end.

The span is current only while the generator runs, never in the consumer between items.
Both wrappers share :class:`Step`, which makes the operation current around one step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_perf.tracking.handle import OperationHandle
from otel_perf.tracking.runtime import current

if TYPE_CHECKING:
    from otel_perf.tracking.tracker import Tracker


class Step:
    """``with step:`` runs one step of a wrapped generator with its operation current.

    Steps of one generator never nest (Python refuses to re-enter a running generator), so
    one pair of tokens is enough.
    """

    __slots__ = ("_context", "_handle", "_previous", "_token")

    def __init__(self, handle: OperationHandle) -> None:
        self._handle = handle
        self._context = trace.set_span_in_context(handle.span)
        self._token: Any = None
        self._previous: Any = None

    def __enter__(self) -> None:
        self._token = otel_context.attach(self._context)
        self._previous = current.set(self._handle)

    def __exit__(self, *exc_info: object) -> None:
        current.reset(self._previous)
        otel_context.detach(self._token)


def generator_wrapper(fresh: Callable[[], Tracker], func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (a generator function) with each iteration tracked by ``fresh()``."""

    @functools.wraps(func)
    def generator(*args: Any, **kwargs: Any) -> Any:
        handle = fresh().start()
        step = Step(handle)
        try:
            with step:
                inner = func(*args, **kwargs)
            send: Any = inner.send
            value: Any = None
            while True:
                try:
                    with step:
                        item = send(value)
                except StopIteration as stop:
                    handle._finish(None)
                    return stop.value
                try:
                    value = yield item
                    send = inner.send
                except GeneratorExit:
                    with step:
                        inner.close()
                    raise
                except BaseException as thrown:
                    value, send = thrown, inner.throw
        except BaseException as exc:
            handle._finish(exc)
            raise

    return generator


def async_generator_wrapper(
    fresh: Callable[[], Tracker], func: Callable[..., Any]
) -> Callable[..., Any]:
    """``func`` (an async generator function) tracked like :func:`generator_wrapper`."""

    @functools.wraps(func)
    async def generator(*args: Any, **kwargs: Any) -> Any:
        handle = fresh().start()
        step = Step(handle)
        try:
            with step:
                inner = func(*args, **kwargs)
            send: Any = inner.asend
            value: Any = None
            while True:
                try:
                    with step:
                        item = await send(value)
                except StopAsyncIteration:
                    handle._finish(None)
                    return
                try:
                    value = yield item
                    send = inner.asend
                except GeneratorExit:
                    with step:
                        await inner.aclose()
                    raise
                except BaseException as thrown:
                    value, send = thrown, inner.athrow
        except BaseException as exc:
            handle._finish(exc)
            raise

    return generator
