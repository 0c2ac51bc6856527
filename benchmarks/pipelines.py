"""The two pipelines every comparison uses: a bare SDK one and one with otel-perf.

Both are an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` exporting to an exporter
that drops everything, so what differs is otel-perf alone: ``configure()`` (our processor,
the sampler wrapper, the tracker bound to the provider) and ``track_generation``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

import otel_perf
from otel_perf import configuration

OPERATION = "generate_image"
MODEL = "flux"
PROVIDER = "black-forest-labs"


class NullExporter(SpanExporter):
    """Accepts every batch and keeps nothing."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class Bare:
    """A provider with only the batch processor: the baseline."""

    def __init__(self) -> None:
        self.provider = TracerProvider()
        self.provider.add_span_processor(BatchSpanProcessor(NullExporter()))
        self.tracer = self.provider.get_tracer("bench")

    def shutdown(self) -> None:
        self.provider.shutdown()


class Ours:
    """``configure()`` on its own provider, then the same batch processor."""

    def __init__(self, *, prometheus_port: int | None = None, **settings: Any) -> None:
        active = configuration.active()
        if active is not None:
            active.shutdown()
        self.registry = CollectorRegistry()
        self.provider = TracerProvider()
        self.handle = otel_perf.configure(
            tracer_provider=self.provider,
            registry=self.registry,
            prometheus_port=prometheus_port,
            **settings,
        )
        self.provider.add_span_processor(BatchSpanProcessor(NullExporter()))
        assert self.handle.processor is not None
        self.processor = self.handle.processor

    def value(self, name: str, **labels: str) -> float:
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found

    def shutdown(self) -> None:
        self.handle.shutdown()
        self.provider.shutdown()


def tracked_generation() -> None:
    """Target 1's operation: a generation with model, provider and cost from the price table."""
    with otel_perf.track_generation(OPERATION, model=MODEL, provider=PROVIDER):
        pass


def final_attributes() -> dict[str, Any]:
    """The attributes a tracked generation's span ends with (the bare span gets the same)."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    active = configuration.active()
    if active is not None:
        active.shutdown()
    handle = otel_perf.configure(
        tracer_provider=provider, registry=CollectorRegistry(), prometheus_port=None
    )
    try:
        tracked_generation()
    finally:
        handle.shutdown()
    (span,) = exporter.get_finished_spans()
    return dict(span.attributes or {})


def bare_span(tracer: trace.Tracer, attributes: dict[str, Any]) -> Callable[[], None]:
    """The idiomatic bare span: ``start_as_current_span`` with the same attributes."""
    name = f"{OPERATION} {MODEL}"

    def run() -> None:
        with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
            pass

    return run


def bare_span_minimal(tracer: trace.Tracer, attributes: dict[str, Any]) -> Callable[[], None]:
    """The cheapest correct bare span: ``start_span``, attach, detach, ``end`` by hand."""
    name = f"{OPERATION} {MODEL}"
    start_span, set_in_context = tracer.start_span, trace.set_span_in_context
    attach, detach = otel_context.attach, otel_context.detach

    def run() -> None:
        span = start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        token = attach(set_in_context(span))
        detach(token)
        span.end()

    return run


def finished_spans(count: int) -> list[ReadableSpan]:
    """``count`` finished tracked-generation spans, made without our processor attached."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    from otel_perf import tracking

    tracking.bind(provider.get_tracer("otel_perf"))
    try:
        for _ in range(count):
            tracked_generation()
    finally:
        tracking.unbind()
    return list(exporter.get_finished_spans())
