"""track_generation / track_render / track_api_call: spans, attributes, errors, async."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import StatusCode

import otel_perf
from otel_perf import attributes as A
from otel_perf.tracking import route_template

D = "otel_perf_operation_duration_seconds_count"


def test_generation_span_has_semconv_name_and_attributes(pipeline):
    """The span is named '{operation} {model}' and carries GenAI attributes and cost."""
    with otel_perf.track_generation(
        "generate_image", model="flux", provider="black-forest-labs", project="p1"
    ) as op:
        op.set_usage(images=3)
    (span,) = pipeline.spans()
    assert span.name == "generate_image flux"
    attrs = span.attributes
    assert attrs[A.GEN_AI_OPERATION_NAME] == "generate_image"
    assert attrs[A.GEN_AI_REQUEST_MODEL] == "flux"
    assert attrs[A.GEN_AI_PROVIDER_NAME] == "black-forest-labs"
    assert attrs[A.GEN_AI_OUTPUT_TYPE] == "image"
    assert attrs[A.GEN_AI_REQUEST_CHOICE_COUNT] == 3
    assert attrs[A.COST_USD] == pytest.approx(0.075)  # 3 x Flux Dev $0.025
    assert attrs[A.COST_SOURCE] == "estimated"
    assert attrs[A.PROJECT] == "p1"
    assert A.ERROR_TYPE not in attrs


def test_provider_cost_wins_over_estimate(pipeline):
    """set_cost() replaces the price-table estimate and is marked 'provider'."""
    with otel_perf.track_generation("generate_image", model="flux") as op:
        op.set_cost(0.5)
    attrs = pipeline.spans()[0].attributes
    assert attrs[A.COST_USD] == 0.5
    assert attrs[A.COST_SOURCE] == "provider"
    labels = dict(operation="generate_image", model="flux", provider="", project="")
    assert pipeline.value("otel_perf_cost_usd_total", **labels) == 0.5


def test_unknown_model_is_unpriced_not_zero(pipeline):
    """A model with no price is marked unpriced and counted, never costed at $0."""
    with otel_perf.track_generation("generate_image", model="brand-new-model"):
        pass
    attrs = pipeline.spans()[0].attributes
    assert attrs[A.COST_SOURCE] == "unpriced"
    assert A.COST_USD not in attrs
    assert (
        pipeline.value(
            "otel_perf_unpriced_operations_total",
            operation="generate_image",
            model="brand-new-model",
        )
        == 1
    )
    assert (
        pipeline.registry.get_sample_value(
            "otel_perf_cost_usd_total",
            dict(operation="generate_image", model="brand-new-model", provider="", project=""),
        )
        is None
    )


def test_exception_is_reraised_as_the_same_object(pipeline):
    """The user's exception propagates unchanged; the span records ERROR and error.type."""
    error = ValueError("Your request was rejected as a result of our safety system")
    with pytest.raises(ValueError) as caught:
        with otel_perf.track_generation("generate_image", model="imagen"):
            raise error
    assert caught.value is error
    span = pipeline.spans()[0]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "safety_block"
    assert A.COST_USD not in span.attributes  # failed generations carry no estimated cost
    labels = dict(
        operation="generate_image",
        model="imagen",
        provider="",
        error_type="safety_block",
        project="",
    )
    assert pipeline.value("otel_perf_operation_errors_total", **labels) == 1


def test_exception_message_is_scrubbed_on_span(pipeline):
    """Secrets in the exception message never reach the span."""
    secret = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX"
    with pytest.raises(RuntimeError):
        with otel_perf.track_api_call("/api/render"):
            raise RuntimeError(f"401 Unauthorized for key {secret} user bob@example.com")
    span = pipeline.spans()[0]
    texts = [span.status.description or ""] + [
        str(v) for event in span.events for v in event.attributes.values()
    ]
    assert all(secret not in text and "bob@example.com" not in text for text in texts)
    assert span.attributes[A.ERROR_TYPE] == "authentication"


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(429, "rate_limit"), (401, "authentication"), (403, "authentication"), (500, "server_error"),
     (502, "server_error"), (404, "client_error"), (504, "timeout")],
)  # fmt: skip
def test_api_status_code_fails_call_without_exception(pipeline, status, error_type):
    """A recorded status >= 400 counts as a failed API call with the implied error type."""
    with otel_perf.track_api_call("/api/render", method="POST") as call:
        call.set_status_code(status)
    span = pipeline.spans()[0]
    assert span.name == "POST /api/render"
    assert span.attributes[A.ERROR_TYPE] == error_type
    assert span.attributes[A.HTTP_RESPONSE_STATUS_CODE] == status
    assert (
        pipeline.value(
            "otel_perf_api_errors_total",
            endpoint="/api/render",
            status_code=str(status),
            error_type=error_type,
        )
        == 1
    )


def test_api_success_resets_consecutive_errors(pipeline):
    """Consecutive errors count up per endpoint and a success resets them to 0."""
    for code in (500, 500, 503):
        with otel_perf.track_api_call("/api/render") as call:
            call.set_status_code(code)
    g = "otel_perf_api_consecutive_errors"
    assert pipeline.value(g, endpoint="/api/render") == 3
    with otel_perf.track_api_call("/api/render") as call:
        call.set_status_code(200)
    assert pipeline.value(g, endpoint="/api/render") == 0


def test_render_failure_reason_and_template(pipeline):
    """Render failures are classified into the seed's reasons, by template."""
    with pytest.raises(RuntimeError):
        with otel_perf.track_render("video", template_id="tpl_hero", render_id="r1"):
            raise RuntimeError("Encoding failed: codec h265 unsupported")
    assert (
        pipeline.value(
            "otel_perf_render_failures_total",
            render_type="video",
            reason="codec_error",
            template="tpl_hero",
        )
        == 1
    )
    attrs = pipeline.spans()[0].attributes
    assert attrs[A.RENDER_ID] == "r1"
    assert attrs[A.RENDER_TYPE] == "video"


def test_explicit_fail_without_exception(pipeline):
    """fail(reason, message) ends the span as ERROR with that reason, scrubbed message."""
    with otel_perf.track_render("still", template_id="t") as render:
        render.fail("missing_asset", "File not found: s3://bucket/a.png?token=abc123secret")
    span = pipeline.spans()[0]
    assert span.attributes[A.ERROR_TYPE] == "missing_asset"
    assert "abc123secret" not in span.status.description
    assert (
        pipeline.value(
            "otel_perf_render_failures_total",
            render_type="still",
            reason="missing_asset",
            template="t",
        )
        == 1
    )


def test_unknown_fail_reason_is_recorded_as_unknown(pipeline):
    """An unrecognised reason never becomes a label: it is recorded as 'unknown'."""
    with otel_perf.track_render("still") as render:
        render.fail("exploded")
    assert pipeline.spans()[0].attributes[A.ERROR_TYPE] == "unknown"


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, asyncio.CancelledError])
def test_cancellation_is_not_an_error(pipeline, exc_type):
    """Cancelled blocks end the span without counting an error."""
    with pytest.raises(exc_type):
        with otel_perf.track_generation("generate_video", model="veo"):
            raise exc_type()
    span = pipeline.spans()[0]
    assert span.status.status_code is not StatusCode.ERROR
    assert span.attributes[A.OUTCOME] == "cancelled"
    assert pipeline.value("otel_perf_cancelled_operations_total", operation="generate_video") == 1
    assert pipeline.value("otel_perf_operation_errors_total", operation="generate_video",
                          model="veo", provider="", error_type="unknown", project="") == 0  # fmt: skip
    assert pipeline.value("otel_perf_operations_in_progress", operation="generate_video") == 0


def test_unknown_operation_raises_naming_accepted_values():
    """A typo in the operation fails fast with the accepted values."""
    with pytest.raises(ValueError, match="generate_image"):
        otel_perf.track_generation("generate_imagez", model="flux")
    with pytest.raises(ValueError, match="timeline_export"):
        otel_perf.track_render("gif")
    with pytest.raises(ValueError, match="POST"):
        otel_perf.track_api_call("/x", method="FETCH")


def test_decorator_sync_creates_one_span_per_call(pipeline):
    """A decorated function gets its own span per call and its return value unchanged."""

    @otel_perf.track_generation("generate_speech", model="tts-1")
    def speak(text: str) -> str:
        op = otel_perf.current_operation()
        assert op is not None
        op.set_usage(characters=len(text))
        return text.upper()

    assert speak("hello") == "HELLO"
    assert speak("hi") == "HI"
    spans = pipeline.spans()
    assert len(spans) == 2
    assert spans[0].attributes[A.COST_USD] == pytest.approx(5 * 0.000015)
    assert otel_perf.current_operation() is None


async def test_async_decorator_measures_awaited_time(pipeline):
    """An async def's span covers the awaited work, not just coroutine creation."""

    @otel_perf.track_generation("generate_video", model="veo")
    async def animate() -> str:
        await asyncio.sleep(0.05)
        return "done"

    assert await animate() == "done"
    span = pipeline.spans()[0]
    assert (span.end_time - span.start_time) / 1e9 >= 0.05


async def test_async_context_manager_and_exception_identity(pipeline):
    """async with re-raises the same exception object."""
    error = TimeoutError("deadline exceeded")
    with pytest.raises(TimeoutError) as caught:
        async with otel_perf.track_api_call("/api/animate"):
            await asyncio.sleep(0)
            raise error
    assert caught.value is error
    assert pipeline.spans()[0].attributes[A.ERROR_TYPE] == "timeout"


async def test_concurrent_async_operations_keep_their_own_handles(pipeline):
    """Concurrent tasks see their own current_operation()."""

    @otel_perf.track_generation("generate_image", model="flux")
    async def gen(n: int) -> int:
        await asyncio.sleep(0.01 * (3 - n))
        op = otel_perf.current_operation()
        assert op is not None
        op.set_usage(images=n)
        return n

    assert await asyncio.gather(gen(1), gen(2), gen(3)) == [1, 2, 3]
    counts = sorted(s.attributes[A.USAGE_IMAGES] for s in pipeline.spans())
    assert counts == [1, 2, 3]


def test_nested_operations_are_parent_and_child(pipeline):
    """A render inside an API call is the call's child span."""
    with otel_perf.track_api_call("/api/render", method="POST"):
        with otel_perf.track_render("still"):
            pass
    render, call = pipeline.spans()
    assert render.parent is not None
    assert render.parent.span_id == call.context.span_id


def test_payloads_never_reach_the_span(pipeline):
    """bytes, data: URIs and huge strings are refused as attributes."""
    with otel_perf.track_generation(
        "generate_image", model="flux", attributes={"prompt_id": "p-1", "image": b"\x89PNG"}
    ) as op:
        op.set_attribute("preview", "data:image/png;base64,iVBORw0KGgo=")
        op.set_attribute("blob", "A" * 5000)
        op.set_attribute("seed", 42)
    attrs = pipeline.spans()[0].attributes
    assert attrs["prompt_id"] == "p-1"
    assert attrs["seed"] == 42
    assert "image" not in attrs and "preview" not in attrs and "blob" not in attrs


def test_invalid_handle_values_never_raise(pipeline):
    """Bad values given to the handle are ignored and counted, never raised."""
    with otel_perf.track_generation("generate_image", model="flux") as op:
        op.set_usage(images=-3, image_size=object(), video_seconds=float("nan"))  # type: ignore[arg-type]
        op.set_cost("lots")  # type: ignore[arg-type]
        op.set_status_code(9999)
        op.set_retry_attempt(-1)
        op.set_queue_wait(float("inf"))
    span = pipeline.spans()[0]
    assert span.attributes[A.COST_SOURCE] == "estimated"  # bad cost ignored, estimate used
    assert span.attributes[A.COST_USD] == pytest.approx(0.025)  # bad image count ignored: 1 image
    invalid = "otel_perf_invalid_values_total"
    assert pipeline.value(invalid, field="usage.images") == 1
    assert pipeline.value(invalid, field="cost") == 1
    assert pipeline.value(invalid, field="retry_attempt") == 1
    assert pipeline.value(invalid, field="queue_wait") == 1


def test_retry_and_queue_wait_metrics(pipeline):
    """Retry attempts > 0 count as retries; queue wait is observed per operation."""
    for attempt in (0, 1, 2):
        with otel_perf.track_generation("generate_image", model="flux") as op:
            op.set_retry_attempt(attempt)
            op.set_queue_wait(2.5)
    assert pipeline.value("otel_perf_retries_total", operation="generate_image", project="") == 2
    assert pipeline.value("otel_perf_queue_wait_seconds_count", operation="generate_image") == 3
    assert pipeline.value("otel_perf_queue_wait_seconds_sum", operation="generate_image") == 7.5


def test_project_labels_duration_errors_and_retries(pipeline):
    """The project is a label on duration, errors, retries and cost (per-project reports)."""
    with otel_perf.track_generation("generate_image", model="flux", project="p1") as op:
        op.set_retry_attempt(1)
    with pytest.raises(TimeoutError):
        with otel_perf.track_generation("generate_image", model="flux", project="p2"):
            raise TimeoutError("Request timed out after 30s")
    base = dict(operation="generate_image", model="flux", provider="")
    assert pipeline.value(D, **base, status="success", project="p1") == 1
    assert pipeline.value(D, **base, status="error", project="p2") == 1
    errors = "otel_perf_operation_errors_total"
    assert pipeline.value(errors, **base, error_type="timeout", project="p2") == 1
    assert pipeline.value("otel_perf_retries_total", operation="generate_image", project="p1") == 1
    assert pipeline.value("otel_perf_cost_usd_total", **base, project="p1") == pytest.approx(0.025)


@pytest.mark.parametrize(
    ("endpoint", "route"),
    [("/api/render", "/api/render"), ("/api/render/12345?x=1", "/api/render/{id}"),
     ("/v1/jobs/3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b/status", "/v1/jobs/{id}/status"),
     ("/api/templates/{template_id}", "/api/templates/{template_id}")],
)  # fmt: skip
def test_route_template(endpoint, route):
    """URLs with ids are reduced to their route template."""
    assert route_template(endpoint) == route
