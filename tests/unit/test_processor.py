"""PerformanceSpanProcessor: spans in, exact metric values out; never raises."""

from __future__ import annotations

import threading

import pytest
from opentelemetry.trace import Status, StatusCode
from prometheus_client import CollectorRegistry

import otel_perf
from otel_perf import attributes as A
from otel_perf.config import Settings
from otel_perf.metrics import OVERFLOW
from otel_perf.processor import PerformanceSpanProcessor

D = "otel_perf_operation_duration_seconds"
SEC = 1_000_000_000


def _span(pipeline, name: str, attrs: dict, seconds: float, *, error: bool = False):
    """A span with explicit start/end times (no sleeping)."""
    span = pipeline.tracer.start_span(name, attributes=attrs, start_time=1_000 * SEC)
    if error:
        span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end(end_time=1_000 * SEC + int(seconds * SEC))
    return span


def _gen(model: str = "flux", **extra) -> dict:
    return {A.OPERATION: "generate_image", A.GEN_AI_REQUEST_MODEL: model,
            A.GEN_AI_PROVIDER_NAME: "bfl", **extra}  # fmt: skip


def test_duration_histogram_uses_span_times_and_threshold_buckets(pipeline):
    """Duration is end - start; every threshold is a bucket boundary."""
    _span(pipeline, "g", _gen(), 9.5)
    labels = dict(
        operation="generate_image", model="flux", provider="bfl", status="success", project=""
    )
    assert pipeline.value(D + "_sum", **labels) == pytest.approx(9.5)
    assert pipeline.value(D + "_bucket", le="10.0", **labels) == 1
    assert pipeline.value(D + "_bucket", le="5.0", **labels) == 0
    assert pipeline.value(D + "_bucket", le="3600.0", **labels) == 1


def test_slow_means_above_the_operation_threshold(pipeline):
    """10.0 s is not slow for images (threshold 10 s); 25 s is, with ratio 2.5."""
    _span(pipeline, "g", _gen(), 10.0)
    _span(pipeline, "g", _gen(), 25.0)
    assert (
        pipeline.value("otel_perf_slow_operations_total", operation="generate_image", model="flux")
        == 1
    )
    assert pipeline.value(
        "otel_perf_slowness_ratio_sum", operation="generate_image"
    ) == pytest.approx(2.5)


def test_failed_operations_are_errors_not_slow(pipeline):
    """A failure that took long counts as an error, not as a slow operation."""
    _span(pipeline, "g", _gen(**{A.ERROR_TYPE: "timeout"}), 60.0, error=True)
    assert (
        pipeline.value("otel_perf_slow_operations_total", operation="generate_image", model="flux")
        == 0
    )
    assert pipeline.value("otel_perf_operation_errors_total", operation="generate_image", model="flux",
                          provider="bfl", error_type="timeout", project="") == 1  # fmt: skip


def test_configured_and_template_thresholds(make_pipeline):
    """Per-operation and per-template thresholds replace the defaults."""
    p = make_pipeline(thresholds={"render_still": 2.0}, template_thresholds={"tpl_slow": 8.0})
    still = {A.OPERATION: "render_still", A.RENDER_TYPE: "still"}
    _span(p, "r", {**still, A.RENDER_TEMPLATE_ID: "tpl_a"}, 3.0)  # slow: > 2 s
    _span(p, "r", {**still, A.RENDER_TEMPLATE_ID: "tpl_slow"}, 3.0)  # not slow: < 8 s
    assert p.value("otel_perf_slow_operations_total", operation="render_still", model="") == 1
    assert p.value(D + "_bucket", le="2.0", operation="render_still", model="", provider="",
                   status="success", project="") == 0  # fmt: skip


def test_exemplar_carries_the_trace_id(pipeline, registry):
    """The duration observation carries the sampled span's trace id as an exemplar."""
    span = _span(pipeline, "g", _gen(), 0.2)
    trace_id = format(span.get_span_context().trace_id, "032x")
    exemplars = [
        s.exemplar
        for family in registry.collect()
        if family.name == D
        for s in family.samples
        if s.exemplar is not None
    ]
    assert exemplars and exemplars[0].labels == {"trace_id": trace_id}


def test_foreign_genai_span_is_counted(pipeline):
    """A gen_ai.* span from another instrumentation becomes our metrics, costed."""
    attrs = {A.GEN_AI_OPERATION_NAME: "generate_image", A.GEN_AI_REQUEST_MODEL: "dall-e-3",
             A.GEN_AI_PROVIDER_NAME: "openai", A.GEN_AI_REQUEST_CHOICE_COUNT: 2}  # fmt: skip
    _span(pipeline, "generate_image dall-e-3", attrs, 4.0)
    assert pipeline.value(D + "_count", operation="generate_image", model="dall-e-3",
                          provider="openai", status="success", project="") == 1  # fmt: skip
    assert pipeline.value("otel_perf_cost_usd_total", operation="generate_image", model="dall-e-3",
                          provider="openai", project="") == pytest.approx(0.08)  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value"),
    [("gen_ai.usage.cost", 0.0123), ("llm.cost.total", 0.0123)],
)
def test_foreign_reported_cost_is_used(pipeline, key, value):
    """OpenLIT's gen_ai.usage.cost and OpenInference's llm.cost.total are taken as given."""
    attrs = {A.GEN_AI_OPERATION_NAME: "chat", A.GEN_AI_REQUEST_MODEL: "gpt-4o", key: value}
    _span(pipeline, "chat gpt-4o", attrs, 1.0)
    assert pipeline.value("otel_perf_cost_usd_total", operation="chat", model="gpt-4o",
                          provider="", project="") == pytest.approx(value)  # fmt: skip


def test_free_text_operation_never_becomes_a_label(pipeline):
    """Unknown operation names fold into 'other'."""
    _span(pipeline, "x", {A.GEN_AI_OPERATION_NAME: "summarise user 12345's mail"}, 1.0)
    _span(pipeline, "y", {A.OPERATION: "hand-written"}, 1.0)
    assert (
        pipeline.value(
            D + "_count", operation="other", model="", provider="", status="success", project=""
        )
        == 2
    )


def test_spans_without_our_attributes_are_ignored(pipeline, registry):
    """Plain spans (HTTP server, DB) produce no otel-perf samples."""
    _span(pipeline, "GET /health", {"http.route": "/health"}, 0.01)
    assert not [s for f in registry.collect() if f.name == D for s in f.samples]


def test_model_names_are_normalised(pipeline):
    """Case and date snapshot suffixes are removed from the model label."""
    _span(pipeline, "g", _gen(model="DALL-E-3-2024-06-01"), 1.0)
    assert pipeline.value(D + "_count", operation="generate_image", model="dall-e-3",
                          provider="bfl", status="success", project="") == 1  # fmt: skip


def test_cardinality_limit_folds_into_overflow(make_pipeline):
    """Past the limit, label sets fold into __overflow__ and each fold is counted."""
    p = make_pipeline(cardinality_limit=5)
    for i in range(20):
        _span(p, "g", _gen(model=f"model-{i}"), 1.0)
    counts = [
        s for f in p.registry.collect() if f.name == D for s in f.samples if s.name == D + "_count"
    ]
    assert len(counts) == 5  # 4 real label sets + the overflow set
    overflow = [s for s in counts if s.labels["model"] == OVERFLOW]
    assert overflow[0].value == 16
    assert p.value("otel_perf_series_overflow_total", metric=D) == 16


def test_in_progress_gauge_counts_open_operations(pipeline):
    """operations_in_progress goes up at start and down at end."""
    g = "otel_perf_operations_in_progress"
    with otel_perf.track_render("batch"):
        with otel_perf.track_render("batch"):
            assert pipeline.value(g, operation="render_batch") == 2
        assert pipeline.value(g, operation="render_batch") == 1
    assert pipeline.value(g, operation="render_batch") == 0


@pytest.mark.parametrize(
    "attrs",
    [
        {A.COST_USD: float("nan"), A.COST_SOURCE: "provider"},
        {A.COST_USD: -1.0, A.COST_SOURCE: "provider"},
        {A.RETRY_ATTEMPT: "three"},
        {A.QUEUE_WAIT_S: float("-inf")},
        {A.GEN_AI_REQUEST_MODEL: ["not", "a", "string"]},
        {A.GEN_AI_PROVIDER_NAME: "x" * 100_000},
        {A.HTTP_RESPONSE_STATUS_CODE: "five hundred"},
    ],
)
def test_bad_attribute_values_never_raise(pipeline, attrs):
    """Wrong types, NaN, negatives and huge strings are ignored or capped, never raised."""
    _span(pipeline, "g", {**_gen(), **attrs}, 1.0)
    assert pipeline.value("otel_perf_internal_errors_total", stage="on_end") == 0
    total = sum(
        s.value
        for f in pipeline.registry.collect()
        if f.name == D
        for s in f.samples
        if s.name == D + "_count"
    )
    assert total == 1


def test_negative_duration_is_counted_as_invalid(pipeline):
    """An end before the start is not observed, and is counted."""
    span = pipeline.tracer.start_span("g", attributes=_gen(), start_time=2_000 * SEC)
    span.end(end_time=1_000 * SEC)
    assert pipeline.value("otel_perf_invalid_values_total", field="duration") == 1
    assert pipeline.value(D + "_count", operation="generate_image", model="flux", provider="bfl",
                          status="success", project="") == 0  # fmt: skip


def test_broken_registry_never_reaches_user_code(pipeline):
    """If a metric child raises, on_end swallows it and counts an internal error."""

    class Broken:
        def child(self, labels):
            raise RuntimeError("registry exploded")

    pipeline.processor.metrics.duration = Broken()  # type: ignore[assignment]
    with otel_perf.track_generation("generate_image", model="flux") as op:
        op.set_usage(images=1)
    assert pipeline.value("otel_perf_internal_errors_total", stage="on_end") == 1
    assert len(pipeline.spans()) == 1  # the span was still exported


def test_eight_threads_give_exact_totals(pipeline):
    """Concurrent tracking loses no update."""
    per_thread = 2_000

    def work() -> None:
        for i in range(per_thread):
            with otel_perf.track_generation("generate_image", model="flux", project="p") as op:
                op.set_retry_attempt(i % 2)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = 8 * per_thread
    assert pipeline.value(D + "_count", operation="generate_image", model="flux", provider="",
                          status="success", project="p") == total  # fmt: skip
    assert pipeline.value("otel_perf_retries_total", operation="generate_image", project="p") == (
        total / 2
    )
    assert pipeline.value("otel_perf_cost_usd_total", operation="generate_image", model="flux",
                          provider="", project="p") == pytest.approx(total * 0.025)  # fmt: skip
    assert pipeline.value("otel_perf_operations_in_progress", operation="generate_image") == 0


def test_disabled_processor_records_nothing(pipeline):
    """After shutdown the processor stops recording (providers cannot remove it)."""
    pipeline.processor.shutdown()
    _span(pipeline, "g", _gen(), 1.0)
    assert pipeline.value(D + "_count", operation="generate_image", model="flux", provider="bfl",
                          status="success", project="") == 0  # fmt: skip


def test_two_processors_need_two_registries():
    """Registering the metrics twice in one registry fails loudly at construction."""
    registry = CollectorRegistry()
    settings = Settings.resolve(env={})
    PerformanceSpanProcessor(registry=registry, settings=settings)
    with pytest.raises(ValueError):
        PerformanceSpanProcessor(registry=registry, settings=settings)
