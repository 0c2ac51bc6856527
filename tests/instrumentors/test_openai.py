"""The OpenAI instrumentor, driven through the real SDK clients over a mocked transport."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator

import httpx2
import openai
import pytest
from openai.resources import images, videos
from openai.resources.audio import speech, transcriptions

from otel_perf import attributes as A
from otel_perf.instrumentors.openai import OpenAIInstrumentor
from otel_perf.tracking import OperationHandle
from tests.support.fake_http import Transport, attrs_of, no_payload, ok

D = "otel_perf_operation_duration_seconds"
B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
IMAGES = {
    "created": 1760000000,
    "data": [{"b64_json": B64}, {"b64_json": B64}],
    "size": "1024x1536",
    "quality": "high",
    "output_format": "png",
    "usage": {"input_tokens": 12, "output_tokens": 6240, "total_tokens": 6252,
              "input_tokens_details": {"image_tokens": 0, "text_tokens": 12}},
}  # fmt: skip
PATCHED = [
    (images.Images, "generate"), (images.Images, "edit"),
    (images.AsyncImages, "generate"), (images.AsyncImages, "edit"),
    (speech.Speech, "create"), (speech.AsyncSpeech, "create"),
    (transcriptions.Transcriptions, "create"), (transcriptions.AsyncTranscriptions, "create"),
    (videos.Videos, "create"), (videos.Videos, "retrieve"), (videos.Videos, "poll"),
    (videos.AsyncVideos, "create"), (videos.AsyncVideos, "retrieve"), (videos.AsyncVideos, "poll"),
]  # fmt: skip


@pytest.fixture
def instrumented(pipeline) -> Iterator[OpenAIInstrumentor]:  # type: ignore[no-untyped-def]
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()


def client(transport: Transport) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test-0000000000000000", base_url="https://api.openai.test/v1",
                         http_client=transport.sync_client(), max_retries=0)  # fmt: skip


def async_client(transport: Transport) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test-0000000000000000",
                              base_url="https://api.openai.test/v1",
                              http_client=transport.async_client(), max_retries=0)  # fmt: skip


def error(status: int, message: str, code: str | None = None) -> httpx2.Response:
    return ok(
        {"error": {"message": message, "type": "invalid_request_error", "code": code}}, status
    )


def test_image_generation_is_one_costed_span(pipeline, instrumented, transport):
    """images.generate: one span with model, count, size, quality and the per-image price."""
    transport.on("/images/generations", ok(IMAGES))
    result = client(transport).images.generate(
        model="gpt-image-1", prompt="a red fox", n=2, size="1024x1536", quality="high"
    )
    assert len(result.data or []) == 2
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert span.name == "generate_image gpt-image-1"
    assert attrs[A.GEN_AI_OPERATION_NAME] == "generate_image"
    assert attrs[A.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[A.SDK_METHOD] == "images.generate"
    assert attrs[A.USAGE_IMAGES] == 2
    assert attrs[A.USAGE_IMAGE_SIZE] == "1024x1536"
    assert attrs[A.USAGE_IMAGE_QUALITY] == "high"
    assert attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 6240
    assert attrs[A.COST_USD] == pytest.approx(0.50)  # 2 x $0.25 (high, 1024x1536)
    assert no_payload(span, B64)
    labels = {"operation": "generate_image", "model": "gpt-image-1", "provider": "openai"}
    assert pipeline.value(D + "_count", project="", status="success", **labels) == 1
    assert pipeline.value("otel_perf_cost_usd_total", project="", **labels) == pytest.approx(0.5)


def test_raw_response_calls_are_counted_from_the_request(pipeline, instrumented, transport):
    """with_raw_response returns no parsed model: usage falls back to the request."""
    transport.on("/images/generations", ok(IMAGES))
    raw = client(transport).images.with_raw_response.generate(
        model="dall-e-3", prompt="x", n=1, size="1792x1024", quality="hd"
    )
    assert raw.http_response.status_code == 200
    (span,) = pipeline.spans()
    assert attrs_of(span)[A.COST_USD] == pytest.approx(0.12)


def test_image_edit_refused_by_the_safety_system(pipeline, instrumented, transport):
    """A content-policy refusal is safety_block; the message on the span is scrubbed."""
    transport.on("/images/edits", error(400, "Your request was rejected by the safety system. "
                                            "key sk-proj-abcdefghijklmnopqrstuv", "moderation_blocked"))  # fmt: skip
    with pytest.raises(openai.BadRequestError):
        client(transport).images.edit(model="gpt-image-1", image=("a.png", b"\x89PNG-bytes"),
                                      prompt="x")  # fmt: skip
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert attrs[A.ERROR_TYPE] == "safety_block"
    assert attrs[A.SDK_METHOD] == "images.edit"
    assert A.COST_USD not in attrs
    assert "sk-proj-abcdefghijklmnopqrstuv" not in (span.status.description or "")
    assert no_payload(span, "sk-proj-abcdefghijklmnopqrstuv", "PNG-bytes")
    assert pipeline.value("otel_perf_operation_errors_total", project="", operation="generate_image",
                          model="gpt-image-1", provider="openai", error_type="safety_block") == 1  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "exc_type", "error_type"),
    [
        (error(429, "Rate limit reached for images"), openai.RateLimitError, "rate_limit"),
        (error(401, "Incorrect API key provided"), openai.AuthenticationError, "authentication"),
        (error(500, "The server had an error"), openai.InternalServerError, "server_error"),
        (error(503, "Service unavailable"), openai.InternalServerError, "server_error"),
        (httpx2.ReadTimeout("read timed out"), openai.APITimeoutError, "timeout"),
        (httpx2.ConnectError("connection refused"), openai.APIConnectionError, "network"),
    ],
)
def test_failures_are_classified(pipeline, instrumented, transport, answer, exc_type, error_type):
    """429, 401, 5xx, timeouts and connection errors map onto our error types."""
    transport.on("/images/generations", answer)
    with pytest.raises(exc_type):
        client(transport).images.generate(model="dall-e-3", prompt="x")
    (span,) = pipeline.spans()
    assert attrs_of(span)[A.ERROR_TYPE] == error_type
    assert pipeline.value("otel_perf_operation_errors_total", project="", operation="generate_image",
                          model="dall-e-3", provider="openai", error_type=error_type) == 1  # fmt: skip
    assert pipeline.value(D + "_count", project="", operation="generate_image", model="dall-e-3",
                          provider="openai", status="error") == 1  # fmt: skip


def test_the_sdk_exception_reaches_the_caller_unchanged(pipeline, transport):
    """The exception object the SDK raised is the one the caller catches (identity)."""
    seen: list[BaseException] = []
    original = images.Images.generate

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return original(self, *args, **kwargs)
        except Exception as exc:
            seen.append(exc)
            raise

    images.Images.generate = spy  # type: ignore[method-assign]
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        transport.on("/images/generations", error(429, "slow down"))
        with pytest.raises(openai.RateLimitError) as caught:
            client(transport).images.generate(model="dall-e-3", prompt="x")
    finally:
        instrumentor.uninstrument()
        images.Images.generate = original  # type: ignore[method-assign]
    assert seen and caught.value is seen[0]
    assert attrs_of(pipeline.spans()[0])[A.ERROR_TYPE] == "rate_limit"


def test_speech_is_priced_per_character_without_audio_on_the_span(
    pipeline, instrumented, transport
):
    """audio.speech.create: characters of input drive the cost; the audio never lands on the span."""
    audio = b"ID3\x04\x00fake-mp3-frames"
    transport.on("/audio/speech", httpx2.Response(200, content=audio,
                                                  headers={"content-type": "audio/mpeg"}))  # fmt: skip
    response = client(transport).audio.speech.create(model="tts-1", voice="alloy", input="a" * 1000)
    assert response.content == audio
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert span.name == "generate_speech tts-1"
    assert attrs[A.USAGE_CHARACTERS] == 1000
    assert attrs[A.COST_USD] == pytest.approx(0.015)
    assert no_payload(span, "fake-mp3-frames")


@pytest.mark.parametrize(
    ("model", "payload", "usage_attr", "cost"),
    [
        ("whisper-1", {"text": "hi", "usage": {"type": "duration", "seconds": 90.0}},
         A.USAGE_AUDIO_SECONDS, 0.009),
        ("gpt-4o-transcribe", {"text": "hi", "usage": {"type": "tokens", "input_tokens": 1000,
                                                       "output_tokens": 100, "total_tokens": 1100}},
         A.GEN_AI_USAGE_INPUT_TOKENS, 0.007),
    ],
)  # fmt: skip
def test_transcription_uses_audio_seconds_when_known(
    pipeline, instrumented, transport, model, payload, usage_attr, cost
):
    """audio.transcriptions.create is transcribe_audio: seconds of audio, else tokens."""
    transport.on("/audio/transcriptions", ok(payload))
    client(transport).audio.transcriptions.create(model=model, file=("a.mp3", b"ID3audio"))
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert attrs[A.GEN_AI_OPERATION_NAME] == "transcribe_audio"
    assert usage_attr in attrs
    assert attrs[A.COST_USD] == pytest.approx(cost)
    assert pipeline.value(D + "_count", project="", operation="transcribe_audio", model=model,
                          provider="openai", status="success") == 1  # fmt: skip


def video(status: str, progress: int = 0, **extra: object) -> httpx2.Response:
    body = {"id": "video_123", "object": "video", "model": "sora-2", "status": status,
            "progress": progress, "created_at": 1760000000, "seconds": "8", "size": "720x1280"}  # fmt: skip
    return ok({**body, **extra})


def test_video_job_is_one_span_from_submission_to_completion(pipeline, instrumented, transport):
    """videos.create + retrieve polls: one span, queue and generation time, cost once."""
    transport.on("/videos", video("queued"))
    transport.on("/videos/video_123", video("queued"), video("in_progress", 10),
                 video("completed", 100), video("completed", 100))  # fmt: skip
    sdk = client(transport)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK deprecates Sora
        job = sdk.videos.create(model="sora-2", prompt="a fox", seconds="8")
        time.sleep(0.05)
        sdk.videos.retrieve(job.id)  # still queued
        assert pipeline.spans() == ()
        sdk.videos.retrieve(job.id)  # running: the queue ends here
        time.sleep(0.05)
        sdk.videos.retrieve(job.id)  # completed: the span ends here
        sdk.videos.retrieve(job.id)  # polled again: nothing more is counted
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert span.name == "generate_video sora-2"
    assert attrs[A.REQUEST_ID] == "video_123"
    assert attrs[A.JOB_POLLS] == 3
    assert attrs[A.QUEUE_WAIT_S] >= 0.05
    assert attrs[A.JOB_GENERATION_S] >= 0.05
    assert (
        attrs[A.QUEUE_WAIT_S] + attrs[A.JOB_GENERATION_S] <= (span.end_time - span.start_time) / 1e9
    )
    assert attrs[A.COST_USD] == pytest.approx(0.80)  # 8 s x $0.10
    assert pipeline.value("otel_perf_cost_usd_total", operation="generate_video", model="sora-2",
                          provider="openai", project="") == pytest.approx(0.8)  # fmt: skip
    assert pipeline.value("otel_perf_queue_wait_seconds_count", operation="generate_video") == 1
    assert pipeline.value("otel_perf_operations_in_progress", operation="generate_video") == 0


def test_sora_2_pro_hd_size_costs_the_hd_list_price(pipeline, instrumented, transport):
    """sora-2-pro at 1792x1024: 8 s x $0.50, not the 720p $0.30."""
    hd = {"model": "sora-2-pro", "size": "1792x1024"}
    transport.on("/videos", video("queued", **hd))
    transport.on("/videos/video_123", video("completed", 100, **hd))
    sdk = client(transport)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK deprecates Sora
        job = sdk.videos.create(model="sora-2-pro", prompt="a fox", seconds="8", size="1792x1024")
        sdk.videos.retrieve(job.id)
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert attrs[A.USAGE_VIDEO_RESOLUTION] == "1792x1024"
    assert attrs[A.COST_USD] == pytest.approx(4.0)


def test_create_and_poll_and_a_failed_job(pipeline, instrumented, transport):
    """create_and_poll (polls through with_raw_response) ends the job; a moderation failure
    is safety_block and costs nothing."""
    transport.on("/videos", video("queued"))
    transport.on("/videos/video_123", video("in_progress", 50),
                 video("failed", 50, error={"code": "moderation_blocked",
                                            "message": "Blocked by our moderation system"}))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        final = client(transport).videos.create_and_poll(prompt="x", poll_interval_ms=1)
    assert final.status == "failed"
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert attrs[A.ERROR_TYPE] == "safety_block"
    assert A.COST_USD not in attrs
    assert attrs[A.JOB_POLLS] == 2
    assert pipeline.value("otel_perf_operation_errors_total", project="", operation="generate_video",
                          model="sora-2", provider="openai", error_type="safety_block") == 1  # fmt: skip


def test_failed_submission_ends_the_job_span(pipeline, instrumented, transport):
    """A 429 on videos.create is a failed generate_video, re-raised unchanged."""
    transport.on("/videos", error(429, "Too many requests"))
    with warnings.catch_warnings(), pytest.raises(openai.RateLimitError):
        warnings.simplefilter("ignore", DeprecationWarning)
        client(transport).videos.create(model="sora-2-pro", prompt="x")
    (span,) = pipeline.spans()
    assert attrs_of(span)[A.ERROR_TYPE] == "rate_limit"
    assert len(instrumented.jobs) == 0


async def test_async_client(pipeline, instrumented, transport):
    """AsyncOpenAI: the span covers the awaited call; jobs work the same."""
    transport.on("/images/generations", ok(IMAGES))
    transport.on("/videos", video("queued"))
    transport.on("/videos/video_123", video("completed", 100))
    sdk = async_client(transport)
    await sdk.images.generate(model="gpt-image-1", prompt="x", n=2, size="1024x1536",
                              quality="high")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        job = await sdk.videos.create(model="sora-2", prompt="x", seconds="4")
        await sdk.videos.retrieve(job.id)
    image_span, video_span = pipeline.spans()
    assert attrs_of(image_span)[A.COST_USD] == pytest.approx(0.5)
    assert attrs_of(video_span)[A.COST_USD] == pytest.approx(0.8)  # the response says 8 s
    assert A.QUEUE_WAIT_S not in attrs_of(video_span)  # never seen running: unknown


def test_uninstrument_restores_the_original_methods(pipeline, transport):
    """instrument() twice wraps once; uninstrument() puts every original back."""
    originals = {(cls, name): vars(cls)[name] for cls, name in PATCHED}
    OpenAIInstrumentor().instrument()
    OpenAIInstrumentor().instrument()  # the same (singleton) instrumentor: a no-op
    for (cls, name), original in originals.items():
        assert vars(cls)[name] is not original
        assert vars(cls)[name].__wrapped__ is original
    OpenAIInstrumentor().uninstrument()
    for (cls, name), original in originals.items():
        assert vars(cls)[name] is original
    transport.on("/images/generations", ok(IMAGES))
    client(transport).images.generate(model="gpt-image-1", prompt="x")
    assert pipeline.spans() == ()


def test_streamed_calls_pass_through(pipeline, instrumented, transport):
    """stream=True is not timed: the call's duration would not be the generation's."""
    transport.on("/images/generations", httpx2.Response(200, content=b"data: [DONE]\n\n",
                                                        headers={"content-type": "text/event-stream"}))  # fmt: skip
    stream = client(transport).images.generate(model="gpt-image-1", prompt="x", stream=True)
    list(stream)
    assert pipeline.spans() == ()


def test_a_failing_instrumentor_never_reaches_the_caller(pipeline, instrumented, transport,
                                                         monkeypatch):  # fmt: skip
    """A plan or recorder that breaks is counted as an internal error; the call proceeds."""
    from otel_perf import selfmonitor
    from otel_perf.instrumentors import openai as instrumentor_module

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("bug in otel-perf")

    transport.on("/images/generations", ok(IMAGES))
    transport.on("/audio/speech", httpx2.Response(200, content=b"ID3"))
    monkeypatch.setattr(instrumentor_module, "track_generation", broken)
    result = client(transport).images.generate(model="gpt-image-1", prompt="x")
    assert len(result.data or []) == 2
    monkeypatch.undo()
    monkeypatch.setattr(OperationHandle, "set_usage", broken)
    client(transport).audio.speech.create(model="tts-1", voice="alloy", input="hi")
    assert selfmonitor.internal_error_counts() == {"instrumentor.plan": 1, "instrumentor.result": 1}
    (span,) = pipeline.spans()  # the speech call still has its span
    assert span.name == "generate_speech tts-1"


def test_instrument_with_a_tracer_provider_starts_spans_there(pipeline, transport):
    """instrument(tracer_provider=tp), as contrib instrumentations take it: the spans start
    from tp (scope: the instrumentor's module) and reach tp's processors, priced by an
    otel-perf processor wired into tp; the configured provider sees none of them."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from prometheus_client import CollectorRegistry

    from otel_perf.config import Settings
    from otel_perf.processor import PerformanceSpanProcessor

    registry, exporter, other = CollectorRegistry(), InMemorySpanExporter(), TracerProvider()
    other.add_span_processor(
        PerformanceSpanProcessor(registry=registry, settings=Settings.resolve(env={}))
    )
    other.add_span_processor(SimpleSpanProcessor(exporter))
    transport.on("/images/generations", ok(IMAGES))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=other)
    try:
        client(transport).images.generate(model="gpt-image-1", prompt="x", n=2,
                                          size="1024x1536", quality="high")  # fmt: skip
    finally:
        instrumentor.uninstrument()
    (span,) = exporter.get_finished_spans()
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "otel_perf.instrumentors.openai"
    assert attrs_of(span)[A.COST_USD] == pytest.approx(0.50)
    assert pipeline.spans() == ()
    cost = registry.get_sample_value(
        "otel_perf_cost_usd_total",
        {"operation": "generate_image", "model": "gpt-image-1", "provider": "openai",
         "project": ""},
    )  # fmt: skip
    assert cost == pytest.approx(0.50)


def test_instrument_rejects_a_tracer_provider_of_the_wrong_type(pipeline):
    """A wrong tracer_provider fails at instrument(), naming the argument, and patches nothing."""
    originals = {(cls, name): vars(cls)[name] for cls, name in PATCHED}
    with pytest.raises(TypeError, match=r"tracer_provider must be an opentelemetry\.trace\."):
        OpenAIInstrumentor().instrument(tracer_provider="not a provider")
    assert all(vars(cls)[name] is original for (cls, name), original in originals.items())
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry
