"""What every SDK instrumentor shares: one patcher and one job tracker, kept across
constructor calls, the ``tracer_provider`` of ``instrument()``, and an ``uninstrument()``
that restores methods and closes open jobs."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_perf.instrumentors.jobs import JobTracker
from otel_perf.instrumentors.wrapping import Patcher
from otel_perf.version import __version__


class MediaInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Base of the SDK instrumentors (``BaseInstrumentor`` subclasses are singletons)."""

    _patcher: Patcher
    jobs: JobTracker

    def __init__(self) -> None:
        super().__init__()
        # Every OpenAIInstrumentor() is the same object: create the state once, so a later
        # constructor call cannot orphan the patches of an earlier instrument().
        if not hasattr(self, "_patcher"):
            self._patcher = Patcher()
            self.jobs = JobTracker()

    def _tracer(self, kwargs: dict[str, Any]) -> trace.Tracer | None:
        """The tracer of ``instrument(tracer_provider=...)``, as contrib instrumentations
        take it (scope: the instrumentor's module); ``None`` without one: spans then start
        from the tracer ``configure()`` bound, read at each call.

        Only that provider's processors see these spans: wire otel-perf's processor into it
        (``configure(tracer_provider=...)`` does) or they yield no metrics.
        """
        provider = kwargs.get("tracer_provider")
        if provider is None:
            return None
        if not isinstance(provider, trace.TracerProvider):
            raise TypeError(
                f"{type(self).__name__}.instrument(): tracer_provider must be an "
                f"opentelemetry.trace.TracerProvider, got {type(provider).__name__}"
            )
        return trace.get_tracer(type(self).__module__, __version__, tracer_provider=provider)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patcher.unpatch_all()
        self.jobs.abandon_all()
