"""The Google Gen AI instrumentor, driven through the real SDK client over a mocked transport."""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Iterator

import httpx2
import pytest
from google import genai
from google.genai import errors, models, operations, types
from google.oauth2.credentials import Credentials

from otel_perf import attributes as A
from otel_perf.instrumentors.google_genai import GoogleGenAIInstrumentor
from tests.support.fake_http import Transport, attrs_of, no_payload, ok

D = "otel_perf_operation_duration_seconds"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
OP = "projects/proj/locations/us-central1/publishers/google/models/veo-3.0-generate-001/operations/op-1"
PATCHED = [
    (cls, name)
    for cls in (models.Models, models.AsyncModels)
    for name in ("generate_images", "edit_image", "generate_content", "generate_videos")
] + [(operations.Operations, "get"), (operations.AsyncOperations, "get")]


@pytest.fixture
def instrumented(pipeline) -> Iterator[GoogleGenAIInstrumentor]:  # type: ignore[no-untyped-def]
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK flags Imagen and prompt= as deprecated
        yield instrumentor
    instrumentor.uninstrument()


def vertex(transport: Transport, aio: bool = False) -> genai.Client:
    """A Vertex AI client (Imagen's generate_images is Vertex-only) with a fixed token."""
    http = types.HttpOptions(
        retry_options=types.HttpRetryOptions(attempts=1),
        **({"httpx_async_client": transport.async_client()} if aio
           else {"httpx_client": transport.sync_client()}),
    )  # fmt: skip
    return genai.Client(vertexai=True, project="proj", location="us-central1",
                        credentials=Credentials(token="ya29.test-token"), http_options=http)  # fmt: skip


def gemini(transport: Transport) -> genai.Client:
    http = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1),
                             httpx_client=transport.sync_client())  # fmt: skip
    return genai.Client(api_key="AIzaSyTEST-0000000000000000000000000000", http_options=http)


def rpc_error(status: int, grpc_status: str, message: str) -> httpx2.Response:
    return ok({"error": {"code": status, "message": message, "status": grpc_status}}, status)


def image_prediction() -> dict[str, str]:
    return {"bytesBase64Encoded": PNG, "mimeType": "image/png"}


def test_imagen_generation_is_costed_per_image(pipeline, instrumented, transport):
    """generate_images: images returned drive the cost; filtered ones are counted apart."""
    transport.on(":predict", ok({"predictions": [image_prediction(), image_prediction(),
                                                 {"raiFilteredReason": "Filtered: violence"}]}))  # fmt: skip
    result = vertex(transport).models.generate_images(
        model="imagen-4.0-generate-001", prompt="a fox",
        config=types.GenerateImagesConfig(number_of_images=3))  # fmt: skip
    assert len(result.generated_images or []) == 3
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert span.name == "generate_image imagen-4.0-generate-001"
    assert attrs[A.GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"
    assert attrs[A.USAGE_IMAGES] == 2
    assert attrs[A.USAGE_IMAGES_FILTERED] == 1
    assert attrs[A.COST_USD] == pytest.approx(0.08)
    assert no_payload(span, PNG)
    assert pipeline.value("otel_perf_cost_usd_total", operation="generate_image",
                          model="imagen-4.0-generate-001", provider="gcp.vertex_ai",
                          project="") == pytest.approx(0.08)  # fmt: skip


def test_imagen_with_every_image_filtered_is_a_safety_block(pipeline, instrumented, transport):
    """No image back: the caller gets the response, the span says safety_block, no cost."""
    transport.on(":predict", ok({"predictions": [{"raiFilteredReason": "Filtered: sexual"}]}))
    result = vertex(transport).models.generate_images(model="imagen-3.0-generate-002", prompt="x")
    assert result.generated_images and result.generated_images[0].rai_filtered_reason
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert attrs[A.ERROR_TYPE] == "safety_block"
    assert A.COST_USD not in attrs
    assert pipeline.value("otel_perf_operation_errors_total", project="", operation="generate_image",
                          model="imagen-3.0-generate-002", provider="gcp.vertex_ai",
                          error_type="safety_block") == 1  # fmt: skip


def content(
    parts: list[dict[str, object]], finish: str = "STOP", **extra: object
) -> httpx2.Response:
    return ok({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish}],
               "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 1290,
                                 "totalTokenCount": 1299},
               "modelVersion": "gemini-2.5-flash-image", **extra})  # fmt: skip


def test_gemini_image_output_is_an_image_generation(pipeline, instrumented, transport):
    """generate_content with an image model: one generate_image span priced per image."""
    transport.on(":generateContent", content([{"text": "Here it is"},
                                              {"inlineData": {"mimeType": "image/png", "data": PNG}}]))  # fmt: skip
    gemini(transport).models.generate_content(model="gemini-2.5-flash-image", contents="a fox")
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert span.name == "generate_image gemini-2.5-flash-image"
    assert attrs[A.GEN_AI_PROVIDER_NAME] == "gcp.gemini"
    assert attrs[A.USAGE_IMAGES] == 1
    assert attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 1290
    assert attrs[A.COST_USD] == pytest.approx(0.039 + 9 * 0.30e-6)  # list: per image + input
    assert no_payload(span, PNG)


def test_text_generation_is_left_alone(pipeline, instrumented, transport):
    """generate_content without image output makes no otel-perf span (contrib's domain)."""
    transport.on(":generateContent", content([{"text": "hello"}]))
    gemini(transport).models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert pipeline.spans() == ()


@pytest.mark.parametrize(
    "answer",
    [
        ok(
            {
                "promptFeedback": {"blockReason": "IMAGE_SAFETY"},
                "usageMetadata": {"promptTokenCount": 9},
            }
        ),
        content([], finish="IMAGE_SAFETY"),
    ],
    ids=["blocked-prompt", "filtered-output"],
)
def test_gemini_safety_blocks(pipeline, instrumented, transport, answer):
    """A blocked prompt or a safety-stopped candidate is safety_block, not a success."""
    transport.on(":generateContent", answer)
    config = types.GenerateContentConfig(response_modalities=["IMAGE"])
    gemini(transport).models.generate_content(model="gemini-2.5-flash", contents="x", config=config)
    (span,) = pipeline.spans()
    assert attrs_of(span)[A.ERROR_TYPE] == "safety_block"
    assert pipeline.value("otel_perf_operation_errors_total", project="", operation="generate_image",
                          model="gemini-2.5-flash", provider="gcp.gemini",
                          error_type="safety_block") == 1  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "exc_type", "error_type"),
    [
        (rpc_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), errors.ClientError, "rate_limit"),
        (rpc_error(401, "UNAUTHENTICATED", "Request had invalid credentials"), errors.ClientError,
         "authentication"),
        (rpc_error(503, "UNAVAILABLE", "The service is currently unavailable"), errors.ServerError,
         "server_error"),
        (httpx2.ReadTimeout("timed out"), httpx2.ReadTimeout, "timeout"),
    ],
)  # fmt: skip
def test_failures_are_classified(pipeline, instrumented, transport, answer, exc_type, error_type):
    """429, 401, 5xx and timeouts map onto our error types; the SDK's exception propagates."""
    transport.on(":predict", answer)
    with pytest.raises(exc_type):
        vertex(transport).models.generate_images(model="imagen-4.0-fast-generate-001", prompt="x")
    (span,) = pipeline.spans()
    assert attrs_of(span)[A.ERROR_TYPE] == error_type
    assert pipeline.value(D + "_count", project="", operation="generate_image",
                          model="imagen-4.0-fast-generate-001", provider="gcp.vertex_ai",
                          status="error") == 1  # fmt: skip


def operation(done: bool = False, **fields: object) -> httpx2.Response:
    return ok({"name": OP, **({"done": True} if done else {}), **fields})


VIDEOS = {"videos": [{"gcsUri": "gs://bucket/fox.mp4", "mimeType": "video/mp4"}],
          "raiMediaFilteredCount": 0}  # fmt: skip


def poll_until_done(
    client: genai.Client, op: types.GenerateVideosOperation
) -> types.GenerateVideosOperation:
    while not op.done:
        time.sleep(0.03)
        op = client.operations.get(op)
    return op


def test_veo_job_is_one_span_with_queue_and_generation_time(pipeline, instrumented, transport):
    """generate_videos + operations.get polls: one span, queue then generation, cost once."""
    transport.on(":predictLongRunning", operation())
    transport.on(":fetchPredictOperation",
                 operation(metadata={"progressPercent": 0}),
                 operation(metadata={"progressPercent": 40}),
                 operation(done=True, response=VIDEOS))  # fmt: skip
    client = vertex(transport)
    op = client.models.generate_videos(
        model="veo-3.0-generate-001", source=types.GenerateVideosSource(prompt="a fox"),
        config=types.GenerateVideosConfig(duration_seconds=8))  # fmt: skip
    assert pipeline.spans() == ()
    op = poll_until_done(client, op)
    client.operations.get(op)  # one more poll of a finished job changes nothing
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert span.name == "generate_video veo-3.0-generate-001"
    assert attrs[A.REQUEST_ID] == OP
    assert attrs[A.JOB_POLLS] == 3
    assert attrs[A.QUEUE_WAIT_S] >= 0.05  # submission and the first queued poll
    assert attrs[A.JOB_GENERATION_S] >= 0.025
    assert attrs[A.COST_USD] == pytest.approx(3.2)  # 8 s x $0.40
    labels = {"operation": "generate_video", "model": "veo-3.0-generate-001",
              "provider": "gcp.vertex_ai"}  # fmt: skip
    assert pipeline.value("otel_perf_cost_usd_total", project="", **labels) == pytest.approx(3.2)
    assert pipeline.value(D + "_count", project="", status="success", **labels) == 1
    assert pipeline.value("otel_perf_queue_wait_seconds_count", operation="generate_video") == 1
    assert pipeline.value("otel_perf_operations_in_progress", operation="generate_video") == 0
    assert len(instrumented.jobs) == 0


def test_veo_resolution_and_audio_choose_the_list_price(pipeline, instrumented, transport):
    """Veo 3.1 at 4K: 8 s x $0.60; the resolution and audio choice are on the span."""
    transport.on(":predictLongRunning", operation())
    transport.on(":fetchPredictOperation", operation(done=True, response=VIDEOS))
    client = vertex(transport)
    op = client.models.generate_videos(
        model="veo-3.1-generate-preview", source=types.GenerateVideosSource(prompt="a fox"),
        config=types.GenerateVideosConfig(duration_seconds=8, resolution="4k", generate_audio=True))  # fmt: skip
    poll_until_done(client, op)
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert attrs[A.USAGE_VIDEO_RESOLUTION] == "4k" and attrs[A.USAGE_VIDEO_AUDIO] is True
    assert attrs[A.COST_USD] == pytest.approx(4.8)


def test_veo_reported_start_time_is_used(pipeline, instrumented, transport):
    """A startTime in the operation metadata sets the end of the queue exactly."""
    transport.on(":predictLongRunning", operation())
    client = vertex(transport)
    op = client.models.generate_videos(model="veo-3.0-fast-generate-001", source={"prompt": "x"})
    started = time.time_ns() + 2_000_000
    stamp = dt.datetime.fromtimestamp(started / 1e9, dt.timezone.utc).isoformat()
    transport.on(":fetchPredictOperation", operation(done=True, response=VIDEOS,
                                                     metadata={"startTime": stamp.replace("+00:00", "Z")}))  # fmt: skip
    time.sleep(0.01)
    client.operations.get(op)
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert attrs[A.QUEUE_WAIT_S] == pytest.approx((started - span.start_time) / 1e9, abs=1e-5)
    assert attrs[A.COST_USD] == pytest.approx(1.2)  # default 8 s x $0.15


@pytest.mark.parametrize(
    ("final", "error_type"),
    [
        (operation(done=True, response={"raiMediaFilteredCount": 1,
                                        "raiMediaFilteredReasons": ["celebrity likeness"]}),
         "safety_block"),
        (operation(done=True, error={"code": 8, "message": "Resource exhausted"}), "rate_limit"),
        (operation(done=True, error={"code": 3, "message": "Prompt violates our usage guidelines "
                                                           "(responsible AI)"}), "safety_block"),
    ],
    ids=["filtered", "resource-exhausted", "policy"],
)  # fmt: skip
def test_failed_veo_jobs(pipeline, instrumented, transport, final, error_type):
    """A job that ends filtered or in error is one failed span with no cost."""
    transport.on(":predictLongRunning", operation())
    transport.on(":fetchPredictOperation", final)
    client = vertex(transport)
    op = client.models.generate_videos(model="veo-2.0-generate-001", source={"prompt": "x"})
    client.operations.get(op)
    (span,) = pipeline.spans()
    attrs = attrs_of(span)
    assert attrs[A.ERROR_TYPE] == error_type
    assert A.COST_USD not in attrs
    assert pipeline.value("otel_perf_operation_errors_total", project="", operation="generate_video",
                          model="veo-2.0-generate-001", provider="gcp.vertex_ai",
                          error_type=error_type) == 1  # fmt: skip


def test_failed_poll_keeps_the_job_open(pipeline, instrumented, transport):
    """A poll that fails (429) is not the job failing: the job span stays open."""
    transport.on(":predictLongRunning", operation())
    transport.on(":fetchPredictOperation", rpc_error(429, "RESOURCE_EXHAUSTED", "slow down"),
                 operation(done=True, response=VIDEOS))  # fmt: skip
    client = vertex(transport)
    op = client.models.generate_videos(model="veo-3.0-generate-001", source={"prompt": "x"})
    with pytest.raises(errors.ClientError):
        client.operations.get(op)
    assert pipeline.spans() == ()
    client.operations.get(op)
    (span,) = pipeline.spans()
    assert A.ERROR_TYPE not in attrs_of(span)


async def test_async_client(pipeline, instrumented, transport):
    """client.aio: Imagen and a Veo job polled with the async operations API."""
    transport.on(":predict", ok({"predictions": [image_prediction()]}))
    transport.on(":predictLongRunning", operation())
    transport.on(":fetchPredictOperation", operation(metadata={"state": "RUNNING"}),
                 operation(done=True, response=VIDEOS))  # fmt: skip
    aio = vertex(transport, aio=True).aio
    await aio.models.generate_images(model="imagen-4.0-ultra-generate-001", prompt="x")
    op = await aio.models.generate_videos(model="veo-3.0-generate-001", source={"prompt": "x"})
    while not op.done:
        op = await aio.operations.get(op)
    image_span, video_span = pipeline.spans()
    assert attrs_of(image_span)[A.COST_USD] == pytest.approx(0.06)
    assert attrs_of(video_span)[A.COST_USD] == pytest.approx(3.2)
    assert A.QUEUE_WAIT_S in attrs_of(video_span)


def test_uninstrument_restores_the_originals_and_ends_open_jobs(pipeline, transport):
    """uninstrument() puts every original back; a job still open is ended as cancelled."""
    originals = {(cls, name): vars(cls)[name] for cls, name in PATCHED}
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument()
    instrumentor.instrument()
    for (cls, name), original in originals.items():
        assert vars(cls)[name].__wrapped__ is original
    transport.on(":predictLongRunning", operation())
    vertex(transport).models.generate_videos(model="veo-3.0-generate-001", source={"prompt": "x"})
    assert pipeline.value("otel_perf_operations_in_progress", operation="generate_video") == 1
    instrumentor.uninstrument()
    for (cls, name), original in originals.items():
        assert vars(cls)[name] is original
    assert pipeline.value("otel_perf_cancelled_operations_total", operation="generate_video") == 1
    assert pipeline.value("otel_perf_operations_in_progress", operation="generate_video") == 0


def test_veo_job_with_a_tracer_provider_starts_its_span_there(pipeline, transport):
    """A job span (started at submission, ended by a poll) comes from the instrumentor's
    tracer_provider too; the configured provider sees nothing."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter, other = InMemorySpanExporter(), TracerProvider()
    other.add_span_processor(SimpleSpanProcessor(exporter))
    transport.on(":predictLongRunning", operation())
    transport.on(":fetchPredictOperation", operation(done=True, response=VIDEOS))
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=other)
    try:
        client = vertex(transport)
        op = client.models.generate_videos(
            model="veo-3.0-generate-001", source=types.GenerateVideosSource(prompt="a fox"),
            config=types.GenerateVideosConfig(duration_seconds=8))  # fmt: skip
        poll_until_done(client, op)
    finally:
        instrumentor.uninstrument()
    (span,) = exporter.get_finished_spans()
    assert span.name == "generate_video veo-3.0-generate-001"
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "otel_perf.instrumentors.google_genai"
    assert attrs_of(span)[A.JOB_POLLS] == 1
    assert pipeline.spans() == ()
