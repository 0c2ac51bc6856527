"""What ``configure()`` (or a hand-wired processor) binds for tracked operations.

Tracking needs two things from outside: the tracer its spans start from and the settings
whose ``extra_operations`` ``track_generation`` accepts. Prices and thresholds are in the
same :class:`~otel_perf.config.Settings`, but tracking never applies them: the processor
does, at the span's end (see ``otel_perf.processor``).
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from otel_perf import attributes as A
from otel_perf.config import Settings
from otel_perf.pricing import PriceTable

if TYPE_CHECKING:
    from otel_perf.tracking.handle import OperationHandle


class Runtime:
    """The tracer, the settings last bound and the generation operations they accept."""

    __slots__ = ("generation_operations", "settings", "tracer")

    def __init__(self) -> None:
        self.tracer: trace.Tracer = trace.get_tracer("otel_perf")
        self.settings: Settings | None = None
        self.generation_operations: frozenset[str] = frozenset(A.GENERATION_OPERATIONS)


runtime = Runtime()
#: The innermost tracked operation entered in this context (see ``OperationHandle``).
current: contextvars.ContextVar[OperationHandle | None] = contextvars.ContextVar(
    "otel_perf_current_operation", default=None
)


def bind(tracer: trace.Tracer, settings: Settings | None = None) -> None:
    """Start tracked operations from ``tracer`` and accept the operations of ``settings``
    (called by ``configure()``; ``None``: the default operations only)."""
    runtime.tracer = tracer
    bind_settings(settings)


def bind_settings(settings: Settings | None) -> None:
    """Accept the operations of ``settings``, keeping the tracer: a
    ``PerformanceSpanProcessor`` calls this when it is created, so with one wired by hand
    ``track_generation`` accepts its ``extra_operations`` as with ``configure()``."""
    runtime.settings = settings
    extra = () if settings is None else settings.extra_operations
    runtime.generation_operations = frozenset((*A.GENERATION_OPERATIONS, *extra))


def unbind() -> None:
    """Back to the global tracer provider and the default settings."""
    bind(trace.get_tracer("otel_perf"), None)


def active_pricing() -> PriceTable:
    """The price table of the settings last bound (``configure(pricing=...)`` or a
    hand-wired processor's), else the bundled one: what ``estimate_cost`` quotes from."""
    settings = runtime.settings
    return PriceTable.bundled() if settings is None else settings.pricing


def current_operation() -> OperationHandle | None:
    """The handle of the innermost tracked operation running in this context, if any."""
    return current.get()


def live(handle: OperationHandle | None) -> tuple[OperationHandle | None, Any]:
    """The nearest open handle from ``handle`` up, and the context it had made current
    (the context of the ended handles' outermost entry), skipping ended ones."""
    context = None
    while handle is not None and handle._ended:
        context = handle._prev_context
        handle = handle._parent
    return handle, context
