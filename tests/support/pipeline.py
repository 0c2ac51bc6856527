"""A tracer provider wired to our processor and an in-memory exporter, for unit tests."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from otel_perf import tracking
from otel_perf.config import Settings
from otel_perf.processor import PerformanceSpanProcessor


class Pipeline:
    """A tracer provider wired to our processor and an in-memory exporter."""

    def __init__(self, registry: CollectorRegistry, settings: Settings) -> None:
        self.registry = registry
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.processor = PerformanceSpanProcessor(registry=registry, settings=settings)
        self.provider.add_span_processor(self.processor)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("tests")
        tracking.bind(self.provider.get_tracer("otel_perf"), settings)

    def value(self, name: str, **labels: str) -> float:
        """A sample value from the registry (0.0 when absent)."""
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    def spans(self):  # type: ignore[no-untyped-def]
        return self.exporter.get_finished_spans()
