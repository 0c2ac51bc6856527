"""Spans other instrumentations make become our metrics, and a call is counted once."""

from __future__ import annotations

import httpx
import httpx2
import openai
import pytest
import requests
from google import genai
from google.genai import models, types
from opentelemetry import trace
from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as ContribOpenAI
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from otel_perf import track_api_call, track_generation
from otel_perf.instrumentors.google_genai import GoogleGenAIInstrumentor
from otel_perf.instrumentors.openai import OpenAIInstrumentor
from tests.support.fake_http import ok

D = "otel_perf_operation_duration_seconds"
T0 = 1_700_000_000_000_000_000
CHAT = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1760000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "Hello"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}  # fmt: skip


def emit(pipeline, name, attrs, *, parent=None, seconds=1.0, error=None, kind=SpanKind.CLIENT):  # type: ignore[no-untyped-def]
    """End a span built to another library's documented attribute set."""
    context = trace.set_span_in_context(parent) if parent is not None else None
    span = pipeline.tracer.start_span(name, context=context, kind=kind, attributes=attrs,
                                      start_time=T0)  # fmt: skip
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, str(error)))
    span.end(end_time=T0 + int(seconds * 1e9))
    return span


def count(pipeline, operation, model, provider="", status="success", project=""):  # type: ignore[no-untyped-def]
    return pipeline.value(D + "_count", project=project, operation=operation, model=model, provider=provider,
                          status=status)  # fmt: skip


# --- the contrib openai-v2 instrumentation, running for real ---------------------------------


def test_contrib_openai_v2_spans_produce_our_metrics(pipeline, transport):
    """Chat calls traced by opentelemetry-instrumentation-openai-v2 are timed and classified."""
    contrib = ContribOpenAI()
    contrib.instrument(tracer_provider=pipeline.provider)
    try:
        transport.on("/chat/completions", ok(CHAT))
        sdk = openai.OpenAI(api_key="sk-test", base_url="https://api.openai.test/v1",
                            http_client=transport.sync_client(), max_retries=0)  # fmt: skip
        sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        transport.on("/chat/completions", ok({"error": {"message": "Rate limit reached"}}, 429))
        with pytest.raises(openai.RateLimitError):
            sdk.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
            )
    finally:
        contrib.uninstrument()
    spans = pipeline.spans()
    assert len(spans) == 2
    assert all("otel_perf.operation" not in (s.attributes or {}) for s in spans)
    assert count(pipeline, "chat", "gpt-4o-mini", "openai") == 1
    assert count(pipeline, "chat", "gpt-4o-mini", "openai", status="error") == 1
    assert pipeline.value("otel_perf_operation_errors_total", project="", operation="chat", model="gpt-4o-mini",
                          provider="openai", error_type="rate_limit") == 1  # fmt: skip
    # gpt-4o-mini has no price in the media table: counted as unpriced, never $0.
    assert pipeline.value("otel_perf_unpriced_operations_total", operation="chat",
                          model="gpt-4o-mini") == 1  # fmt: skip


# --- other libraries' documented attribute sets ----------------------------------------------


def test_openinference_llm_span_with_its_cost(pipeline):
    """OpenInference: span kind LLM, llm.model_name, llm.provider, llm.cost.total."""
    emit(pipeline, "ChatOpenAI", {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o",
                                  "llm.provider": "openai", "llm.system": "openai",
                                  "llm.token_count.prompt": 120, "llm.token_count.completion": 30,
                                  "llm.token_count.total": 150, "llm.cost.total": 0.0006},
         kind=SpanKind.INTERNAL)  # fmt: skip
    assert count(pipeline, "chat", "gpt-4o", "openai") == 1
    assert pipeline.value("otel_perf_cost_usd_total", operation="chat", model="gpt-4o",
                          provider="openai", project="") == pytest.approx(0.0006)  # fmt: skip


def test_openinference_failure_is_classified_from_its_exception_event(pipeline):
    """OpenInference sets no error.type: the recorded exception's type classifies it."""
    error = openai.RateLimitError("rate limited", response=httpx2.Response(
        429, request=httpx2.Request("POST", "https://api.openai.test")), body=None)  # fmt: skip
    emit(pipeline, "llm", {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o",
                           "llm.provider": "google"}, error=error)  # fmt: skip
    assert pipeline.value("otel_perf_operation_errors_total", project="", operation="chat", model="gpt-4o",
                          provider="gcp.gemini", error_type="rate_limit") == 1  # fmt: skip


@pytest.mark.parametrize("kind", ["CHAIN", "RETRIEVER", "RERANKER", "GUARDRAIL", "EVALUATOR"])
def test_openinference_application_spans_are_not_operations(pipeline, registry, kind):
    """Chains, retrievers and the like are the application's, not model calls."""
    emit(pipeline, "chain", {"openinference.span.kind": kind, "llm.model_name": "gpt-4o"})
    assert not [s for f in registry.collect() if f.name == D for s in f.samples]


@pytest.mark.parametrize(
    ("attrs", "operation"),
    [
        ({"llm.request.type": "chat", "gen_ai.system": "OpenAI", "gen_ai.request.model": "gpt-4o",
          "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.prompt_tokens": 10,
          "gen_ai.usage.completion_tokens": 4, "llm.usage.total_tokens": 14}, "chat"),
        ({"llm.request.type": "embedding", "gen_ai.system": "OpenAI",
          "gen_ai.request.model": "gpt-4o"}, "embeddings"),
        ({"llm.request.type": "completion", "llm.vendor": "OpenAI",
          "llm.request.model": "gpt-4o"}, "text_completion"),
    ],
)  # fmt: skip
def test_openllmetry_spans(pipeline, attrs, operation):
    """OpenLLMetry: llm.request.type names the operation, gen_ai.system the provider."""
    emit(pipeline, "openai.chat", attrs)
    assert count(pipeline, operation, "gpt-4o", "openai") == 1
    assert pipeline.value("otel_perf_unpriced_operations_total", operation=operation,
                          model="gpt-4o") == 1  # fmt: skip


@pytest.mark.parametrize(("extra", "cost"), [({"gen_ai.usage.cost": 0.2}, 0.2), ({}, 0.12)])
def test_openlit_image_span(pipeline, extra, cost):
    """OpenLIT: operation 'image' is generate_image; its cost wins, else size x quality."""
    emit(pipeline, "image dall-e-3", {"gen_ai.operation.name": "image", "gen_ai.system": "openai",
                                      "gen_ai.request.model": "dall-e-3",
                                      "gen_ai.request.image_size": "1024x1792",
                                      "gen_ai.request.image_quality": "hd", **extra})  # fmt: skip
    assert pipeline.value("otel_perf_cost_usd_total", operation="generate_image", model="dall-e-3",
                          provider="openai", project="") == pytest.approx(cost)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "operation"),
    [("audio", "generate_speech"), ("speech_to_text", "transcribe_audio"), ("vectordb", None)],
)
def test_openlit_operation_names(pipeline, registry, name, operation):
    """OpenLIT's audio operations map onto ours; vector DB spans are not GenAI operations."""
    emit(pipeline, name, {"gen_ai.operation.name": name, "gen_ai.request.model": "m"})
    samples = [s for f in registry.collect() if f.name == D for s in f.samples]
    if operation is None:
        assert not samples
    else:
        assert count(pipeline, operation, "m") == 1


# --- HTTP client spans of configured API routes ----------------------------------------------

ROUTES = {"api_routes": ["api.render.test/v1/renders/{id}", "*.fal.test/queue/*"]}


def test_contrib_httpx_spans_of_configured_routes(make_pipeline):
    """Failed calls to configured routes become API-error metrics; other URLs are ignored."""
    pipeline = make_pipeline(**ROUTES)
    answers = iter([503, 503, 200, 500])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "timeout.render.test":
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(next(answers) if "renders" in request.url.path else 500)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    HTTPXClientInstrumentor().instrument_client(client, tracer_provider=pipeline.provider)
    for render in ("r-1", "r-2", "r-3"):
        client.get(f"https://api.render.test/v1/renders/{render}?token=secret")
    client.get("https://other.test/v1/renders/r-9")  # not a configured route
    with pytest.raises(httpx.ReadTimeout):
        client.get("https://timeout.render.test/v1/renders/r-4")  # host differs: not ours
    assert len(pipeline.spans()) == 5
    endpoint = "/v1/renders/{id}"
    assert pipeline.value("otel_perf_api_errors_total", endpoint=endpoint, status_code="503",
                          error_type="server_error") == 2  # fmt: skip
    assert pipeline.value("otel_perf_api_consecutive_errors", endpoint=endpoint) == 0
    assert count(pipeline, "api_call", "", status="success") == 1
    assert count(pipeline, "api_call", "", status="error") == 2


def test_contrib_requests_spans_of_configured_routes(make_pipeline):
    """The contrib requests instrumentation's spans: 429 and timeouts are classified."""
    pipeline = make_pipeline(**ROUTES)

    class Adapter(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
            if "slow" in request.url:
                raise requests.exceptions.ReadTimeout("read timed out")
            response = requests.Response()
            response.status_code, response.url, response.request = 429, request.url, request
            return response

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("https://", Adapter())
    RequestsInstrumentor().instrument(tracer_provider=pipeline.provider)
    try:
        session.post("https://queue.fal.test/queue/fal-ai/flux/requests")
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get("https://queue.fal.test/queue/slow")
    finally:
        RequestsInstrumentor().uninstrument()
    assert pipeline.value("otel_perf_api_errors_total", endpoint="/queue", status_code="429",
                          error_type="rate_limit") == 1  # fmt: skip
    assert pipeline.value("otel_perf_api_errors_total", endpoint="/queue", status_code="",
                          error_type="timeout") == 1  # fmt: skip


# --- the count-once rule -----------------------------------------------------------------------


@pytest.mark.parametrize("outer", ["otel-perf", "contrib"])
def test_our_span_wins_over_the_contrib_google_genai_span(pipeline, transport, outer):
    """Both instrument generate_content: two spans, one count, otel-perf's, either nesting."""
    original = vars(models.Models)["generate_content"]
    ours, contrib = GoogleGenAIInstrumentor(), GoogleGenAiSdkInstrumentor()
    first, second = (contrib, ours) if outer == "otel-perf" else (ours, contrib)
    first.instrument(tracer_provider=pipeline.provider, skip_dep_check=True)
    second.instrument(tracer_provider=pipeline.provider, skip_dep_check=True)
    try:
        transport.on(":generateContent", ok({
            "candidates": [{"content": {"role": "model", "parts": [
                {"inlineData": {"mimeType": "image/png", "data": "aGVsbG8="}}]},
                "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 1290}}))  # fmt: skip
        client = genai.Client(api_key="AIzaSyTEST-0000000000000000000000000000",
                              http_options=types.HttpOptions(httpx_client=transport.sync_client()))  # fmt: skip
        client.models.generate_content(model="gemini-2.5-flash-image", contents="a fox")
    finally:
        second.uninstrument()
        first.uninstrument()
    assert vars(models.Models)["generate_content"] is original  # both undone, in either order
    inner, outer_span = pipeline.spans()
    assert {inner.name.split()[0], outer_span.name.split()[0]} == {
        "generate_image",
        "generate_content",
    }
    assert inner.parent.span_id == outer_span.context.span_id
    assert count(pipeline, "generate_image", "gemini-2.5-flash-image", "gcp.gemini") == 1
    assert count(pipeline, "generate_content", "gemini-2.5-flash-image", "gcp.gemini") == 0
    assert pipeline.value("otel_perf_cost_usd_total", operation="generate_image",
                          model="gemini-2.5-flash-image", provider="gcp.gemini",
                          project="") == pytest.approx(0.039 + 9 * 0.30e-6)  # fmt: skip


@pytest.mark.parametrize(("inner_model", "counted"), [("gpt-4o", 1), ("gpt-4o-mini", 2)])
def test_two_foreign_spans_of_one_call_count_once(pipeline, inner_model, counted):
    """OpenInference LLM span around a semconv chat span of the same model: the inner counts;
    a different model is a different call and both count."""
    outer = pipeline.tracer.start_span("ChatOpenAI", start_time=T0, attributes={
        "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", "llm.provider": "openai"})  # fmt: skip
    emit(pipeline, "chat", {"gen_ai.operation.name": "chat", "gen_ai.request.model": inner_model,
                            "gen_ai.provider.name": "openai"}, parent=outer)  # fmt: skip
    outer.end(end_time=T0 + 2_000_000_000)
    total = count(pipeline, "chat", "gpt-4o", "openai") + count(
        pipeline, "chat", "gpt-4o-mini", "openai"
    )
    assert total == counted
    # The inner span (1 s; the outer one lasted 2 s) is the one counted.
    assert pipeline.value(D + "_sum", project="", operation="chat", model=inner_model, provider="openai",
                          status="success") == 1.0  # fmt: skip


def test_a_remote_parent_is_never_a_duplicate(pipeline):
    """A parent in another process is another call site: the span counts."""
    remote = trace.NonRecordingSpan(SpanContext(0xABC, 0xDEF, is_remote=True,
                                                trace_flags=TraceFlags(1)))  # fmt: skip
    emit(pipeline, "chat", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
         parent=remote)  # fmt: skip
    assert count(pipeline, "chat", "gpt-4o") == 1


def test_hand_written_block_wins_over_the_sdk_instrumentor_inside_it(pipeline, transport):
    """track_generation around an instrumented SDK call of the same model counts once, with
    the block's labels (project); a call to another model inside it counts on its own."""
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    transport.on("/images/generations", ok({"created": 1, "data": [{"url": "https://x/1.png"}]}))
    sdk = openai.OpenAI(api_key="sk-test", base_url="https://api.openai.test/v1",
                        http_client=transport.sync_client(), max_retries=0)  # fmt: skip
    try:
        with track_generation("generate_image", model="dall-e-3", project="storyboards") as op:
            sdk.images.generate(model="dall-e-3", prompt="x")
            sdk.images.generate(model="dall-e-2", prompt="thumbnail")
            op.set_usage(images=1)
    finally:
        instrumentor.uninstrument()
    assert len(pipeline.spans()) == 3
    assert (
        count(pipeline, "generate_image", "dall-e-3", "", project="storyboards") == 1
    )  # the block
    assert count(pipeline, "generate_image", "dall-e-3", "openai") == 0
    assert count(pipeline, "generate_image", "dall-e-2", "openai") == 1
    assert pipeline.value("otel_perf_cost_usd_total", operation="generate_image", model="dall-e-3",
                          provider="", project="storyboards") == pytest.approx(0.04)  # fmt: skip


def test_http_span_inside_our_api_call_is_not_counted_again(make_pipeline):
    """track_api_call around an instrumented HTTP call of a configured route: one api_call."""
    pipeline = make_pipeline(**ROUTES)
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(502)))
    HTTPXClientInstrumentor().instrument_client(client, tracer_provider=pipeline.provider)
    with track_api_call("/v1/renders/{id}", method="GET") as call:
        call.set_status_code(client.get("https://api.render.test/v1/renders/r-1").status_code)
    assert len(pipeline.spans()) == 2
    assert pipeline.value("otel_perf_api_errors_total", endpoint="/v1/renders/{id}",
                          status_code="502", error_type="server_error") == 1  # fmt: skip
