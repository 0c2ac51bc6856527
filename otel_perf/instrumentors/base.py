"""What every SDK instrumentor shares: one patcher and one job tracker, kept across
constructor calls, and an ``uninstrument()`` that restores methods and closes open jobs."""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_perf.instrumentors.jobs import JobTracker
from otel_perf.instrumentors.wrapping import Patcher


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

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patcher.unpatch_all()
        self.jobs.abandon_all()
