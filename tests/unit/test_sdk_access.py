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
from otel_perf.processor import PerformanceSpanProcessor

D = "otel_perf_operation_duration_seconds"


@pytest.fixture
def public_api() -> Iterator[None]:
    """Every probe forced off: the adapter takes its fallback everywhere."""
    sdk_access.use_public_api(True)
    sdk_access.force_annotate(False)
    yield
    sdk_access.use_public_api(False)
    sdk_access.force_annotate(True)


def _pipeline(registry: CollectorRegistry) -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    settings = Settings.resolve(env={})
    provider.add_span_processor(PerformanceSpanProcessor(registry=registry, settings=settings))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracking.bind(provider.get_tracer("otel_perf"), settings)
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
    assert sdk_access.CAN_ANNOTATE is True


_COST_KEYS = (A.COST_USD, A.COST_SOURCE, A.COST_TABLE_VERSION)


def test_fallback_gives_the_same_metrics_and_spans_without_the_estimate(public_api):
    """With every probe off the metrics are the same; spans lack only what on_end cannot write."""
    fallback_registry = CollectorRegistry()
    _, fallback_exporter = _pipeline(fallback_registry)
    _run_operations()
    sdk_access.use_public_api(False)
    sdk_access.force_annotate(True)
    fast_registry = CollectorRegistry()
    _, fast_exporter = _pipeline(fast_registry)
    _run_operations()
    assert len(_samples(fast_registry)) > 20
    assert _samples(fast_registry) == _samples(fallback_registry)
    fast = _span_attributes(fast_exporter)
    assert [{k: v for k, v in a.items() if k not in _COST_KEYS} for a in fast] == (
        _span_attributes(fallback_exporter)
    )
    assert fast[0][A.COST_SOURCE] == "estimated" and fast[0][A.COST_USD] > 0
    assert fast[1][A.ERROR_TYPE] == "rate_limit" and A.COST_USD not in fast[1]


def test_ending_writes_only_on_an_ending_sdk_span():
    """A non-recording, live or already-read span is never written on."""
    assert sdk_access.ending_fields(trace.INVALID_SPAN) is None
    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("s", attributes={"k": "v"})
    assert sdk_access.ending_fields(span) is None  # live: no end time yet
    span.end()
    assert sdk_access.ending_fields(span._readable_span()) is None
    assert dict(span.attributes or {}) == {"k": "v"}


def test_ending_spans_near_their_attribute_limit_are_not_written_on():
    """Within ENDING_ROOM of the SDK's attribute limit, nothing is written; a span with room is."""
    from opentelemetry.sdk.trace import SpanLimits, SpanProcessor

    class Ending(SpanProcessor):
        def __init__(self) -> None:
            self.seen: list[object] = []

        def _on_ending(self, span):  # type: ignore[no-untyped-def]
            self.seen.append(sdk_access.ending_fields(span))

    for limit, writable in (
        (sdk_access.ENDING_ROOM + 1, False),
        (sdk_access.ENDING_ROOM + 2, True),
    ):
        provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=limit))
        ending = Ending()
        provider.add_span_processor(ending)
        provider.get_tracer("t").start_span("s", attributes={"a": 1, "b": 2}).end()
        (fields,) = ending.seen
        assert (fields is not None) is writable


def test_failed_generation_without_an_sdk_provider_is_quiet(caplog):
    """API only (a no-op tracer): a failed generation logs nothing, counts no internal error."""
    tracking.bind(trace.NoOpTracer())
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
