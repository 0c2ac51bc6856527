"""``otel_perf.deadline``: an ``asyncio`` timeout that tracked operations record as one."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from otel_perf.tracking.arguments import ignored

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
            ignored("deadline", seconds)
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


def deadline_expired() -> bool:
    """Whether the innermost ``deadline`` around this context has passed."""
    current = _deadline.get()
    return current is not None and current._expired
