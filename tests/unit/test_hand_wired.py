"""One owner for pricing and thresholds: a processor wired by hand behaves like configure()'s."""

from __future__ import annotations

import time

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

import otel_perf
from otel_perf import attributes as A
from otel_perf import tracking
from otel_perf.config import Settings
from otel_perf.processor import PerformanceSpanProcessor

COST = "otel_perf_cost_usd_total"
UNPRICED = "otel_perf_unpriced_operations_total"
PRICES = {"models": {"house-model": {"per_image": 0.25}, "flux-pro": {"per_image": 1.5}}}


class HandWired:
    """A provider with a PerformanceSpanProcessor added the way its docstring shows."""

    def __init__(self, **settings: object) -> None:
        self.registry = CollectorRegistry()
        self.provider = TracerProvider()
        self.exporter = InMemorySpanExporter()
        # Unconfigured: tracked operations use this provider with the bundled defaults ...
        tracking.bind(self.provider.get_tracer("otel_perf"))
        # ... until a processor is created by hand, as its docstring shows.
        self.provider.add_span_processor(
            PerformanceSpanProcessor(
                registry=self.registry, settings=Settings.resolve(env={}, **settings)
            )
        )
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("tests")

    def total(self, name: str, **labels: str) -> float:
        return sum(
            s.value
            for metric in self.registry.collect()
            for s in metric.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )


def test_extra_operations_of_a_hand_wired_processor_are_accepted():
    """track_generation accepts the operations the processor was given."""
    wired = HandWired(extra_operations=("upscale_image",), pricing=PRICES)
    with otel_perf.track_generation("upscale_image", model="house-model") as op:
        op.set_usage(images=2)
    assert wired.total(COST, operation="upscale_image") == pytest.approx(0.5)


def test_custom_prices_of_a_hand_wired_processor_price_our_spans():
    """The processor's prices, not the bundled table, price tracked generations: metric and span."""
    wired = HandWired(pricing=PRICES)
    with otel_perf.track_generation("generate_image", model="flux-pro"):
        pass
    with otel_perf.track_generation("generate_image", model="flux-pro") as op:
        op.set_usage(images=2)
    assert wired.total(COST, operation="generate_image") == pytest.approx(1.5 + 3.0)
    costs = [span.attributes[A.COST_USD] for span in wired.exporter.get_finished_spans()]
    assert costs == [pytest.approx(1.5), pytest.approx(3.0)]


def test_hand_wired_equals_configure(registry):
    """The same operations through configure() and a hand-wired processor give the same totals."""
    wired = HandWired(extra_operations=("upscale_image",), pricing=PRICES)
    _operations()
    hand = wired.total(COST), wired.total(UNPRICED)
    otel_perf.configure(
        tracer_provider=TracerProvider(),
        registry=registry,
        prometheus_port=None,
        extra_operations=("upscale_image",),
        pricing=PRICES,
    )
    _operations()
    configured = [
        sum(s.value for m in registry.collect() for s in m.samples if s.name == name)
        for name in (COST, UNPRICED)
    ]
    assert hand == tuple(configured)
    assert hand[0] == pytest.approx(0.25 * 3 + 1.5) and hand[1] == 1


def _operations() -> None:
    with otel_perf.track_generation("upscale_image", model="house-model") as op:
        op.set_usage(images=3)
    with otel_perf.track_generation("generate_image", model="flux-pro"):
        pass
    with otel_perf.track_generation("generate_image", model="no-such-model"):
        pass


def test_span_marked_as_ours_but_made_by_hand_is_priced():
    """A span with otel_perf.operation not made by tracking is priced from its usage."""
    wired = HandWired(pricing=PRICES)
    span = wired.tracer.start_span(
        "by hand",
        attributes={
            A.OPERATION: "generate_image",
            A.GEN_AI_REQUEST_MODEL: "house-model",
            A.USAGE_IMAGES: 4,
        },
    )
    span.end()
    assert wired.total(COST, operation="generate_image", model="house-model") == pytest.approx(1.0)
    assert wired.total(UNPRICED) == 0


def test_span_marked_as_ours_with_an_unknown_model_is_counted_unpriced():
    """Never silently $0: a hand-made span of a model with no price counts as unpriced."""
    wired = HandWired()
    for _ in range(2):
        wired.tracer.start_span(
            "by hand",
            attributes={A.OPERATION: "generate_image", A.GEN_AI_REQUEST_MODEL: "mystery-9"},
        ).end()
    assert wired.total(UNPRICED, operation="generate_image") == 2
    assert wired.total(COST) == 0


def test_hand_made_span_prices_are_cached_per_usage():
    """The estimate is computed once per route and usage, then reused."""
    wired = HandWired(pricing=PRICES)
    processor = wired.provider._active_span_processor._span_processors[0]
    for images in (1, 1, 2):
        wired.tracer.start_span(
            "by hand",
            attributes={
                A.OPERATION: "generate_image",
                A.GEN_AI_REQUEST_MODEL: "house-model",
                A.USAGE_IMAGES: images,
            },
        ).end()
    assert len(processor._estimates) == 2
    assert wired.total(COST) == pytest.approx(0.25 * 4)


def test_span_marked_as_ours_carries_the_processor_estimate():
    """The exported span of a hand-made span shows the price the metric counted, or unpriced."""
    wired = HandWired(pricing=PRICES)
    for model in ("house-model", "mystery-9"):
        wired.tracer.start_span(
            "by hand",
            attributes={A.OPERATION: "generate_image", A.GEN_AI_REQUEST_MODEL: model,
                        A.USAGE_IMAGES: 2},
        ).end()  # fmt: skip
    priced, unpriced = (dict(s.attributes) for s in wired.exporter.get_finished_spans())
    assert priced[A.COST_USD] == pytest.approx(0.5) and priced[A.COST_SOURCE] == "estimated"
    assert priced[A.COST_TABLE_VERSION].endswith("+custom")
    assert unpriced[A.COST_SOURCE] == "unpriced" and A.COST_USD not in unpriced


def test_exporter_added_before_the_processor_still_sees_the_cost():
    """The estimate is written in the OnEnding hook: the order processors were added in does not matter."""
    registry = CollectorRegistry()
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # the exporter first
    provider.add_span_processor(
        PerformanceSpanProcessor(
            registry=registry, settings=Settings.resolve(env={}, pricing=PRICES)
        )
    )
    tracking.bind(provider.get_tracer("otel_perf"))
    with otel_perf.track_generation("generate_image", model="flux-pro") as op:
        op.set_usage(images=2)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[A.COST_USD] == pytest.approx(3.0)


def test_two_hand_wired_processors_each_price_with_their_own_table():
    """Prices live in each processor's settings, not in a global: two pipelines never mix."""
    cheap = HandWired(pricing={"models": {"house-model": {"per_image": 0.25}}})
    dear = HandWired(pricing={"models": {"house-model": {"per_image": 4.0}}})
    for wired in (cheap, dear):
        wired.tracer.start_span(
            "by hand",
            attributes={A.OPERATION: "generate_image", A.GEN_AI_REQUEST_MODEL: "house-model",
                        A.USAGE_IMAGES: 2},
        ).end()  # fmt: skip
    assert cheap.total(COST) == pytest.approx(0.5) and dear.total(COST) == pytest.approx(8.0)
    assert [s.attributes[A.COST_USD] for s in dear.exporter.get_finished_spans()] == [8.0]


def test_thresholds_of_a_hand_wired_processor_mark_slow_spans():
    """The processor's thresholds decide slowness: the metric, the span attributes and the event."""
    wired = HandWired(thresholds={"render_still": 0.5})
    handle = otel_perf.track_render("still", render_id="r1").start(
        start_time=time.time_ns() - 2_000_000_000
    )
    handle.end()
    (span,) = wired.exporter.get_finished_spans()
    assert span.attributes[A.SLOW_THRESHOLD_S] == 0.5
    assert span.attributes[A.SLOWNESS_FACTOR] > 3.9
    (event,) = span.events
    assert event.name == A.EVENT_SLOW_RENDER and event.attributes[A.RENDER_ID] == "r1"
    assert wired.total("otel_perf_slow_operations_total", operation="render_still") == 1


def test_fail_with_an_exception_classifies_it(pipeline):
    """fail(exc) records the exception's class of failure, not 'unknown'; the span ends later."""
    with otel_perf.track_generation("generate_image", model="flux-pro") as op:
        op.fail(TimeoutError("provider took too long"))
        assert op.span.is_recording()  # unlike util-genai's fail(): ended by the with block
    with otel_perf.track_render("video") as render:
        render.fail(MemoryError())
    generated, rendered = pipeline.spans()
    assert generated.attributes[A.ERROR_TYPE] == "timeout"
    assert generated.status.description == "provider took too long"
    assert rendered.attributes[A.ERROR_TYPE] == "memory_exceeded"
    errors = [
        s.value
        for m in pipeline.registry.collect()
        for s in m.samples
        if s.name == "otel_perf_operation_errors_total"
        and s.labels.get("operation") == "generate_image"
        and s.labels.get("error_type") == "timeout"
    ]
    assert errors == [1.0]


def test_public_names():
    """Settings is exported; the seed's names live in otel_perf.compat, still importable."""
    import otel_perf.compat

    assert otel_perf.Settings is Settings and "Settings" in otel_perf.__all__
    for name in otel_perf.compat.__all__:
        assert name not in otel_perf.__all__
        assert getattr(otel_perf, name) is getattr(otel_perf.compat, name)
