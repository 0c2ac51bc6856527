"""Assert on what your code emits: spans and metric samples, on a fresh registry.

:func:`capture` configures otel-perf for the ``with`` block on a new tracer provider with an
in-memory span exporter and a new ``CollectorRegistry`` (no ``/metrics`` server, no OTLP),
and undoes it all afterwards (the handle shut down, tracking back to the global provider and
bundled prices, otel-perf's own error counts reset), so one test cannot leak into the next.
Metric samples are read back (inside the block, or as it ended, after it) through Prometheus' text format parser, as a scrape would.

>>> import otel_perf
>>> from otel_perf.testing import capture
>>> with capture() as emitted:
...     with otel_perf.track_generation("generate_image", model="flux-pro") as op:
...         op.set_usage(images=2)
>>> [span.name for span in emitted.spans]
['generate_image flux-pro']
>>> emitted.value("otel_perf_cost_usd_total", operation="generate_image")
0.08
>>> emitted.value("otel_perf_operation_duration_seconds_count", status="success")
1.0

With pytest, a fixture is two lines::

    @pytest.fixture
    def emitted():
        with capture() as captured:
            yield captured
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from otel_perf import configuration, selfmonitor, tracking


class Captured:
    """What the operations inside :func:`capture` emitted."""

    def __init__(self, registry: CollectorRegistry, exporter: InMemorySpanExporter) -> None:
        self.registry = registry
        self._exporter = exporter
        self._final: list[Sample] | None = None  # read as the block ended

    @property
    def spans(self) -> Sequence[ReadableSpan]:
        """The finished spans, in the order they ended."""
        return self._exporter.get_finished_spans()

    def samples(self) -> list[Sample]:
        """Every metric sample now (after the block: as it ended), parsed from the
        Prometheus text exposition."""
        if self._final is not None:
            return list(self._final)
        text = generate_latest(self.registry).decode()
        return [s for family in text_string_to_metric_families(text) for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels`` (0.0 when
        none match)."""
        total = 0.0
        for sample in self.samples():
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
        return total


@contextmanager
def capture(**settings: Any) -> Iterator[Captured]:
    """``configure(**settings)`` on a fresh provider and registry for the block, then reset.

    Raises ``RuntimeError`` if otel-perf is already configured (a ``configure()`` call
    would return that handle, and its metrics would go elsewhere).
    """
    if configuration.active() is not None:
        raise RuntimeError(
            "otel_perf.testing.capture(): otel-perf is already configured; "
            "shut that handle down first"
        )
    for name in ("tracer_provider", "registry", "prometheus_port"):
        if name in settings:
            raise TypeError(f"capture() sets {name} itself")
    registry = CollectorRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handle = configuration.configure(
        tracer_provider=provider,
        registry=registry,
        prometheus_port=None,
        metrics_exporter="prometheus",
        **settings,
    )
    captured = Captured(registry, exporter)
    try:
        yield captured
    finally:
        try:
            captured._final = captured.samples()
        finally:
            handle.shutdown()
        provider.shutdown()
        tracking.unbind()
        selfmonitor.reset()


__all__ = ["Captured", "capture"]
