"""Hook for ``opentelemetry-instrument``: ``OTEL_PERF_ENABLED=true`` turns otel-perf on.

Registered under the ``opentelemetry_instrumentor`` entry point, so a service started with
``opentelemetry-instrument python app.py`` gets the span processor and ``/metrics`` with no
code change. Without ``OTEL_PERF_ENABLED=true`` it does nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_perf.config import parse_bool
from otel_perf.environment import ENABLED

logger = logging.getLogger("otel_perf")


class OtelPerfInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Calls ``otel_perf.configure()`` (settings from the environment) when enabled."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        raw = os.environ.get(ENABLED.name, "")
        try:
            enabled = parse_bool(raw) if raw.strip() else False
        except ValueError:
            logger.warning("ignoring %s=%r: expected true or false", ENABLED.name, raw)
            enabled = False
        if not enabled:
            return
        from otel_perf.configuration import configure

        try:
            configure(tracer_provider=kwargs.get("tracer_provider"))
        except Exception:  # never break the application's start-up
            logger.exception("otel-perf: configure() failed under opentelemetry-instrument")

    def _uninstrument(self, **kwargs: Any) -> None:
        from otel_perf.configuration import active

        handle = active()
        if handle is not None:
            handle.shutdown()
