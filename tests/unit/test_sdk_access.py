"""The SDK adapter (otel_perf.sdk_access): each private access has a probe and a fallback."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

import otel_perf
from otel_perf import attributes as A
from otel_perf import sdk_access, selfmonitor, tracking
from otel_perf.config import Settings
from otel_perf.pricing import PriceTable
from otel_perf.processor import PerformanceSpanProcessor

D = "otel_perf_operation_duration_seconds"


@pytest.fixture
def public_api() -> Iterator[None]:
    """Every probe forced off: the adapter takes its fallback everywhere."""
    sdk_access.use_public_api(True)
    sdk_access.force_retract(False)
    yield
    sdk_access.use_public_api(False)
    sdk_access.force_retract(True)


def _pipeline(registry: CollectorRegistry) -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    settings = Settings.resolve(env={})
    provider.add_span_processor(PerformanceSpanProcessor(registry=registry, settings=settings))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracking.bind(provider.get_tracer("otel_perf"), settings.pricing, ())
    return provider, exporter


def _run_operations() -> None:
    with otel_perf.track_generation("generate_image", model="flux-pro"):
        pass
    with otel_perf.track_generation("generate_image", model="flux-pro") as op:
        op.fail("rate_limit")
    with otel_perf.track_generation("generate_image", model="flux-pro") as op:
        op.set_usage(images=3)
    with otel_perf.track_api_call("/api/render") as call:
        call.set_status_code(503)


def _samples(registry: CollectorRegistry) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    return sorted(
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith(("_created", "_sum"))  # not the durations: timing differs
    )


def _span_attributes(exporter: InMemorySpanExporter) -> list[dict[str, object]]:
    return [dict(span.attributes or {}) for span in exporter.get_finished_spans()]


def test_probes_hold_on_the_supported_sdk():
    """On the SDK this package is tested with, every fast path is taken."""
    assert sdk_access.FIELDS_READABLE is True
    assert sdk_access.CAN_RETRACT is True
    assert sdk_access.can_retract() is True


def test_fallback_gives_the_same_metrics_and_spans(public_api):
    """With every probe off, the same operations give the same metrics and span attributes."""
    fallback_registry = CollectorRegistry()
    _, fallback_exporter = _pipeline(fallback_registry)
    assert not sdk_access.can_retract()
    _run_operations()
    sdk_access.use_public_api(False)
    sdk_access.force_retract(True)
    tracking._generation_templates.clear()  # templates were made without a start estimate
    fast_registry = CollectorRegistry()
    _, fast_exporter = _pipeline(fast_registry)
    _run_operations()
    assert len(_samples(fast_registry)) > 20
    assert _samples(fast_registry) == _samples(fallback_registry)
    assert _span_attributes(fast_exporter) == _span_attributes(fallback_exporter)
    failed = _span_attributes(fast_exporter)[1]
    assert failed[A.ERROR_TYPE] == "rate_limit" and A.COST_USD not in failed


def test_retract_is_a_no_op_on_spans_it_cannot_change():
    """A non-recording or ended span is left alone, without an error."""
    assert sdk_access.retract_attributes(trace.INVALID_SPAN, [A.COST_USD]) is False
    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("s", attributes={"k": "v", "j": 1})
    assert sdk_access.retract_attributes(span, ["k"]) is True
    span.end()
    assert sdk_access.retract_attributes(span, ["j"]) is False
    assert dict(span.attributes or {}) == {"j": 1}


def test_failed_generation_without_an_sdk_provider_is_quiet(caplog):
    """API only (a no-op tracer): a failed generation logs nothing, counts no internal error."""
    tracking.bind(trace.NoOpTracer(), PriceTable.bundled(), ())
    with caplog.at_level(logging.DEBUG, logger="otel_perf"):
        with otel_perf.track_generation("generate_image", model="flux-pro") as op:
            op.fail("rate_limit")
        with pytest.raises(ValueError):
            with otel_perf.track_generation("generate_image", model="flux-pro"):
                raise ValueError("boom")
    assert selfmonitor.internal_error_counts() == {}
    assert not [r for r in caplog.records if r.exc_info]
    assert caplog.records == []


def test_record_unsampled_keeps_the_span_attributes():
    """The SDK's AlwaysRecordSampler would record a dropped span with no attributes; ours keeps them."""
    for sdk_sampler in (True, False):
        sampler = sdk_access.record_unsampled(sampling.ALWAYS_OFF, sdk_sampler=sdk_sampler)
        assert sdk_access.records_unsampled(sampler)
        provider = TracerProvider(sampler=sampler)
        span = provider.get_tracer("t").start_span("s", attributes={A.OPERATION: "api_call"})
        assert span.is_recording()
        assert not span.get_span_context().trace_flags.sampled
        assert dict(span.attributes or {}) == {A.OPERATION: "api_call"}
        assert sampler.get_description() == "AlwaysRecordSampler{AlwaysOffSampler}"
    assert isinstance(sdk_access.record_unsampled(sampling.ALWAYS_ON), sampling.AlwaysRecordSampler)


def test_set_sampler_reaches_tracers_made_before():
    """A tracer created before configure() records unsampled spans too."""
    provider = TracerProvider(sampler=sampling.ALWAYS_OFF)
    early = provider.get_tracer("early")
    sdk_access.set_sampler(provider, sdk_access.record_unsampled(provider.sampler))
    assert early.start_span("s").is_recording()


def test_remove_span_processors():
    """A removed processor no longer sees spans; the others still do."""
    provider = TracerProvider()
    kept, removed = InMemorySpanExporter(), InMemorySpanExporter()
    removed_processor = SimpleSpanProcessor(removed)
    provider.add_span_processor(SimpleSpanProcessor(kept))
    provider.add_span_processor(removed_processor)
    assert sdk_access.remove_span_processors(provider, [removed_processor, None]) is True
    provider.get_tracer("t").start_span("s").end()
    assert len(kept.get_finished_spans()) == 1
    assert removed.get_finished_spans() == ()


def test_remove_span_processors_on_another_layout_does_nothing():
    """A provider without the SDK's processor list: nothing removed, no error."""

    class Other(TracerProvider):
        pass

    provider = Other(shutdown_on_exit=False)
    provider._active_span_processor = object()  # type: ignore[assignment]
    assert sdk_access.remove_span_processors(provider, [object()]) is False
