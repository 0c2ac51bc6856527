"""``track_generation``, ``track_render`` and ``track_api_call``.

Each returns a tracker that is a context manager (``with`` and ``async with``) yielding an
:class:`OperationHandle`, and a decorator for ``def`` and ``async def`` functions. One
implementation serves all four uses; for ``async def`` the span covers the awaited call, so
durations are real. Inside a decorated function, :func:`current_operation` returns the
handle.

>>> with track_generation("generate_image", model="flux", provider="black-forest-labs") as op:
...     op.set_usage(images=2)

The user's exception always propagates unchanged (the same object); nothing otel-perf does
while recording can raise into the tracked code. Tracking records what happened (usage, a
provider-reported cost, the outcome); the processor prices it and applies the thresholds.

The modules, in the order a call meets them:

- ``track``: the three entry points, their start attributes and span names;
- ``tracker``: the context manager and decorator they return;
- ``generators``: decorated generators and async generators;
- ``handle``: ``OperationHandle``, what the tracked code records;
- ``outcome``: how the span ends (error type, status, failure events);
- ``arguments``: checking what users pass; ``routes``: ``route_template``;
- ``timeouts``: ``otel_perf.deadline``; ``runtime``: the tracer and settings bound.
"""

from otel_perf.tracking.handle import OperationHandle
from otel_perf.tracking.routes import route_template
from otel_perf.tracking.runtime import (
    active_pricing,
    bind,
    bind_settings,
    current_operation,
    unbind,
)
from otel_perf.tracking.timeouts import deadline
from otel_perf.tracking.track import track_api_call, track_generation, track_render
from otel_perf.tracking.tracker import MAX_NESTING, Tracker

__all__ = [
    "MAX_NESTING",
    "OperationHandle",
    "Tracker",
    "active_pricing",
    "bind",
    "bind_settings",
    "current_operation",
    "deadline",
    "route_template",
    "track_api_call",
    "track_generation",
    "track_render",
    "unbind",
]
