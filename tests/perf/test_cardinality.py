"""A flood of distinct label values: series stay at the limit, folds are counted, memory and
caches stay bounded."""

from __future__ import annotations

import gc
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import otel_perf
from otel_perf import attributes as A
from otel_perf import pricing
from otel_perf.config import Settings
from otel_perf.processor import MAX_ROUTES, PerformanceSpanProcessor
from otel_perf.textformat import generate
from otel_perf.tracking import track

LIMIT = 50
ATTACK = 2000


def _attack(start: int, count: int) -> None:
    for i in range(start, start + count):
        with otel_perf.track_generation("generate_image", model=f"attack-model-{i}"):
            pass
        with otel_perf.track_render("still", template_id=f"attack-tpl-{i}") as render:
            render.fail("missing_asset")


def test_attack_keeps_every_metric_at_the_limit(make_pipeline):
    """Exposed label sets never exceed the limit, in the registry or the exposition."""
    pipeline = make_pipeline(cardinality_limit=LIMIT)
    _attack(0, ATTACK)
    for name, metric in pipeline.processor.metrics.all.items():
        assert metric.series_count <= LIMIT, name
    body, _ = generate(pipeline.registry)
    for family in text_string_to_metric_families(body.decode()):
        label_sets = {
            tuple(sorted((k, v) for k, v in s.labels.items() if k != "le")) for s in family.samples
        }
        assert len(label_sets) <= LIMIT, family.name


def test_every_folded_update_is_counted(make_pipeline):
    """Overflow counts equal the updates that landed past the limit, metric by metric."""
    pipeline = make_pipeline(cardinality_limit=LIMIT)
    _attack(0, ATTACK)
    assert pipeline.spans()[0].attributes[A.COST_SOURCE] == "unpriced"
    regular = LIMIT - 1
    # Duration: the generations' label sets plus one for the failed renders.
    expected = {
        "otel_perf_operation_duration_seconds": ATTACK + 1 - regular,
        "otel_perf_unpriced_operations_total": ATTACK - regular,
        "otel_perf_render_failures_total": ATTACK - regular,
    }
    for metric, folds in expected.items():
        assert pipeline.value("otel_perf_series_overflow_total", metric=metric) == folds, metric
    overflow = {"operation": "__overflow__", "model": "__overflow__"}
    assert pipeline.value("otel_perf_unpriced_operations_total", **overflow) == ATTACK - regular
    assert (
        pipeline.value(
            "otel_perf_operation_duration_seconds_count",
            **overflow,
            provider="__overflow__",
            status="__overflow__",
            project="__overflow__",
        )
        == ATTACK + 1 - regular
    )
    # Nothing is lost: folded or not, every operation is counted once.
    total = sum(
        s.value
        for f in pipeline.registry.collect()
        for s in f.samples
        if s.name == "otel_perf_operation_duration_seconds_count"
    )
    assert total == 2 * ATTACK


def test_caches_stay_bounded_under_a_flood(make_pipeline):
    """Route, template, estimate and model-name caches never pass their bounds."""
    pipeline = make_pipeline(cardinality_limit=LIMIT)
    _attack(0, 5000)
    assert 0 < len(pipeline.processor._routes) <= MAX_ROUTES
    assert len(track._generation_templates) <= track.TEMPLATE_CACHE_SIZE
    assert len(pipeline.processor.settings.pricing._no_usage) <= pricing._ESTIMATE_CACHE_SIZE
    cache = pricing._normalize.cache_info()
    assert cache.maxsize is not None and cache.currsize <= cache.maxsize
    assert len(pipeline.processor._in_flight) == 0


def _span(i: int) -> ReadableSpan:
    context = SpanContext(i + 1, i + 1, is_remote=False, trace_flags=TraceFlags(1))
    attributes = {
        A.OPERATION: "generate_image",
        A.GEN_AI_REQUEST_MODEL: f"model-{i}",
        A.GEN_AI_PROVIDER_NAME: f"provider-{i}",
        A.PROJECT: f"project-{i}",
        A.COST_USD: 0.01,
        A.COST_SOURCE: "provider",
        A.RENDER_TEMPLATE_ID: f"tpl-{i}",
    }
    return ReadableSpan(
        name="x",
        context=context,
        attributes=attributes,
        start_time=0,
        end_time=1_000_000,
        resource=_RESOURCE,  # without one, each span would run resource detection
    )


_RESOURCE = Resource.get_empty()


def test_memory_stays_flat_once_the_limit_is_reached():
    """Past the limit, 50,000 more distinct label sets leave allocated memory flat."""
    processor = PerformanceSpanProcessor(
        registry=CollectorRegistry(), settings=Settings.resolve(env={}, cardinality_limit=LIMIT)
    )
    spans = (_span(i) for i in range(60_000))
    for _ in range(10_000):  # fill every cache past its bound first
        processor.on_end(next(spans))
    gc.collect()
    before = sys.getallocatedblocks()
    for span in spans:
        processor.on_end(span)
    gc.collect()
    growth = sys.getallocatedblocks() - before
    # Kept per label set, 50,000 new ones in four metrics would hold several hundred
    # thousand objects; only the bounded route and model-name caches may refill between
    # the two readings (a few objects per entry, MAX_ROUTES entries).
    assert growth < 10 * MAX_ROUTES
    assert max(m.series_count for m in processor.metrics.all.values()) <= LIMIT
