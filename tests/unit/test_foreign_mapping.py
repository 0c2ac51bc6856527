"""Foreign-span mappings cached per instrumentation scope and attribute keys (otel_perf.foreign)."""

from __future__ import annotations

import pytest
from opentelemetry.trace import Status, StatusCode
from prometheus_client import CollectorRegistry

from otel_perf import foreign
from otel_perf.config import Settings
from otel_perf.foreign import ForeignSpans
from tests.support.pipeline import Pipeline

T0 = 1_700_000_000_000_000_000
PRICES = {"models": {"dall-e-3": {"per_image": 0.5}}}
#: Shapes of the libraries the mapping knows, each with a model and usage that price.
SHAPES = [
    ("openai", {"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 3}),
    ("openlit", {"gen_ai.operation.name": "image", "gen_ai.system": "openai",
                 "gen_ai.request.model": "dall-e-3", "gen_ai.request.choice.count": 2}),
    ("openlit", {"gen_ai.operation.name": "image", "gen_ai.system": "openai",
                 "gen_ai.request.model": "dall-e-3", "gen_ai.usage.cost": 0.7}),
    ("openinference", {"openinference.span.kind": "LLM", "llm.model_name": "claude-3",
                       "llm.provider": "anthropic", "llm.token_count.prompt": 5}),
    ("traceloop", {"llm.request.type": "completion", "llm.vendor": "OpenAI",
                   "llm.request.model": "", "llm.response.model": "gpt-4o"}),
]  # fmt: skip


def _emit_all(pipeline: Pipeline, rounds: int = 3) -> None:
    for round_ in range(rounds):
        for scope, attrs in SHAPES:
            tracer = pipeline.provider.get_tracer(scope)
            span = tracer.start_span("call", attributes=attrs, start_time=T0)
            if round_ == 1 and scope == "openai":
                span.set_status(Status(StatusCode.ERROR, "boom"))
            span.end(end_time=T0 + 2_000_000_000 * (round_ + 1))


def _samples(registry: CollectorRegistry) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    return sorted(
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    )


def test_cached_mapping_gives_the_same_metrics_as_building_it_every_time():
    """The mapping cached per scope and key set records exactly what a fresh one would."""
    settings = Settings.resolve(env={}, pricing=PRICES)
    cached = Pipeline(CollectorRegistry(), settings)
    uncached = Pipeline(CollectorRegistry(), settings)
    uncached.processor._foreign = ForeignSpans(settings.api_routes, max_mappings=0)
    _emit_all(cached)
    _emit_all(uncached)
    assert len(cached.processor._foreign._mappings) == len(SHAPES)
    assert uncached.processor._foreign._mappings == {}
    assert _samples(cached.registry) == _samples(uncached.registry)
    cost = cached.value(
        "otel_perf_cost_usd_total",
        operation="generate_image", model="dall-e-3", provider="openai", project="",
    )  # fmt: skip
    assert cost == pytest.approx(
        3 * (2 * 0.5 + 0.7)
    )  # usage priced by the processor, the reported cost kept
    assert (
        cached.value("otel_perf_unpriced_operations_total", operation="chat", model="gpt-4o") == 2
    )


def test_mapping_cache_is_bounded_under_a_flood_of_key_sets(monkeypatch):
    """Distinct attribute-key sets cannot grow the cache past its bound."""
    monkeypatch.setattr(foreign, "MAX_MAPPINGS", 8)
    pipeline = Pipeline(CollectorRegistry(), Settings.resolve(env={}))
    tracer = pipeline.provider.get_tracer("flood")
    sizes = []
    for i in range(50):
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", f"extra.{i}": i}
        tracer.start_span("call", attributes=attrs).end()
        sizes.append(len(pipeline.processor._foreign._mappings))
    assert max(sizes) == 8 and sizes[-1] <= 8
    assert pipeline.value(
        "otel_perf_operation_duration_seconds_count",
        operation="chat", model="m", provider="", status="success", project="",
    ) == 50  # fmt: skip


def test_scopes_do_not_share_a_mapping():
    """The same keys from two instrumentation scopes are two cache entries."""
    pipeline = Pipeline(CollectorRegistry(), Settings.resolve(env={}))
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
    for scope in ("one", "two", "one"):
        pipeline.provider.get_tracer(scope).start_span("call", attributes=attrs).end()
    assert len(pipeline.processor._foreign._mappings) == 2
