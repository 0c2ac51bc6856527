"""Shared fixtures: a fresh registry, a tracer provider with our processor, tool lookup."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from otel_perf import configuration, selfmonitor, tracking
from otel_perf.config import Settings
from otel_perf.processor import PerformanceSpanProcessor


def require_tool(name: str) -> str:
    """Path of an executable; under CI=true a missing tool fails instead of skipping."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (scripts/test installs it with apt-get)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def _reset_global_state() -> Iterator[None]:
    """Each test starts unconfigured, with no internal errors counted."""
    selfmonitor.reset()
    yield
    handle = configuration.active()
    if handle is not None:
        handle.shutdown()
    tracking.unbind()
    selfmonitor.reset()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


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
        tracking.bind(
            self.provider.get_tracer("otel_perf"),
            settings.pricing,
            settings.extra_operations,
            thresholds=settings.thresholds,
            template_thresholds=settings.template_thresholds,
        )

    def value(self, name: str, **labels: str) -> float:
        """A sample value from the registry (0.0 when absent)."""
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    def spans(self):  # type: ignore[no-untyped-def]
        return self.exporter.get_finished_spans()


@pytest.fixture
def make_pipeline(registry: CollectorRegistry):  # type: ignore[no-untyped-def]
    def make(**settings: object) -> Pipeline:
        return Pipeline(registry, Settings.resolve(env={}, **settings))

    return make


@pytest.fixture
def pipeline(make_pipeline) -> Pipeline:  # type: ignore[no-untyped-def]
    return make_pipeline()
