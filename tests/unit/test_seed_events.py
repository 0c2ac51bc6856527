"""Seed 003 (TRACK-008) on spans: render_failed, api_error, slow_render with every field."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import otel_perf
from otel_perf import attributes as A

DOCS = (Path(__file__).parents[2] / "docs" / "instrumentation.md").read_text(encoding="utf-8")
SECOND = 1_000_000_000

# Seed 003's "Data Captured" list per event -> the attribute that carries it on the event
# ("timestamp" is the event's own timestamp, the span's end).
SEED_FIELDS = {
    "render_failed": {
        "Render ID": A.RENDER_ID,
        "Template ID": A.RENDER_TEMPLATE_ID,
        "Failure reason": A.ERROR_TYPE,
        "Error message": A.ERROR_MESSAGE,
        "Duration before failure": A.DURATION_S,
        "Retry attempt": A.RETRY_ATTEMPT,
    },
    "api_error": {
        "API endpoint": A.HTTP_ROUTE,
        "HTTP status code": A.HTTP_RESPONSE_STATUS_CODE,
        "Error message": A.ERROR_MESSAGE,
        "Request ID": A.REQUEST_ID,
        "Duration before failure": A.DURATION_S,
        "Retry attempt": A.RETRY_ATTEMPT,
    },
    "slow_render": {
        "Render ID": A.RENDER_ID,
        "Template ID": A.RENDER_TEMPLATE_ID,
        "Render type": A.RENDER_TYPE,
        "Actual duration": A.DURATION_S,
        "Expected duration threshold": A.SLOW_THRESHOLD_S,
        "Slowness factor": A.SLOWNESS_FACTOR,
        "Dimensions (width)": A.RENDER_WIDTH,
        "Dimensions (height)": A.RENDER_HEIGHT,
    },
}


def _event(span, name):  # type: ignore[no-untyped-def]
    (event,) = [e for e in span.events if e.name == name]
    return event


def _seconds_ago(seconds: float) -> int:
    return time.time_ns() - int(seconds * SECOND)


def test_slow_render_span_has_threshold_factor_and_a_complete_event(pipeline):
    """A still render of at least 10 s against the seed's 5 s threshold."""
    handle = otel_perf.track_render(
        "still", render_id="render_003", template_id="tpl_testimonial", width=1920, height=1080
    ).start(start_time=_seconds_ago(10))
    handle.end()
    (span,) = pipeline.spans()
    duration = (span.end_time - span.start_time) / SECOND
    attrs = span.attributes
    assert attrs[A.SLOW_THRESHOLD_S] == 5.0
    assert attrs[A.SLOWNESS_FACTOR] == duration / 5.0 and attrs[A.SLOWNESS_FACTOR] >= 2.0
    event = _event(span, "slow_render")
    assert event.timestamp == span.end_time
    assert dict(event.attributes) == {
        A.RENDER_ID: "render_003",
        A.RENDER_TEMPLATE_ID: "tpl_testimonial",
        A.RENDER_TYPE: "still",
        A.RENDER_WIDTH: 1920,
        A.RENDER_HEIGHT: 1080,
        A.DURATION_S: duration,
        A.SLOW_THRESHOLD_S: 5.0,
        A.SLOWNESS_FACTOR: duration / 5.0,
    }
    # The processor saw the same factor.
    ratio = pipeline.value("otel_perf_slowness_ratio_sum", operation="render_still")
    assert ratio == pytest.approx(attrs[A.SLOWNESS_FACTOR])


def test_template_threshold_decides_slowness_on_the_span(make_pipeline):
    """A per-template threshold is the expected threshold the span reports."""
    pipeline = make_pipeline(template_thresholds={"tpl_hero": 20.0, "tpl_slow": 8.0})
    for template in ("tpl_hero", "tpl_slow"):
        otel_perf.track_render("video", template_id=template).start(
            start_time=_seconds_ago(40)
        ).end()
    hero, slow = pipeline.spans()
    assert hero.attributes[A.SLOW_THRESHOLD_S] == 20.0  # the template's, not render_video's 30
    assert slow.attributes[A.SLOW_THRESHOLD_S] == 8.0
    assert slow.attributes[A.SLOWNESS_FACTOR] >= 5.0


def test_fast_operations_carry_no_slowness(pipeline):
    otel_perf.track_render("still", render_id="r").start(start_time=_seconds_ago(1)).end()
    with otel_perf.track_api_call("/api/render"):
        pass
    for span in pipeline.spans():
        assert A.SLOW_THRESHOLD_S not in span.attributes and not span.events


def test_slow_generation_and_api_call_have_threshold_and_factor(pipeline):
    """Slowness is on every slow span; only renders get the seed's slow_render event."""
    otel_perf.track_generation("generate_image", model="flux").start(
        start_time=_seconds_ago(25)
    ).end()
    otel_perf.track_api_call("/api/render").start(start_time=_seconds_ago(6)).end()
    image, api = pipeline.spans()
    assert (
        image.attributes[A.SLOW_THRESHOLD_S] == 10.0 and image.attributes[A.SLOWNESS_FACTOR] >= 2.5
    )
    assert api.attributes[A.SLOW_THRESHOLD_S] == 3.0 and api.attributes[A.SLOWNESS_FACTOR] >= 2.0
    assert not image.events and not api.events


def test_failed_render_has_a_complete_render_failed_event(pipeline):
    """Render id, template, reason, scrubbed message, duration, retry attempt, timestamp."""
    with pytest.raises(MemoryError):
        with otel_perf.track_render("video", render_id="render_001", template_id="tpl_hero") as r:
            r.set_retry_attempt(2)
            raise MemoryError("OOM while encoding; token=sk-proj-abcdefghijklmnop1234")
    (span,) = pipeline.spans()
    event = _event(span, "render_failed")
    attrs = dict(event.attributes)
    assert event.timestamp == span.end_time
    assert attrs[A.RENDER_ID] == "render_001" and attrs[A.RENDER_TEMPLATE_ID] == "tpl_hero"
    assert attrs[A.ERROR_TYPE] == "memory_exceeded"
    assert attrs[A.ERROR_MESSAGE] == "OOM while encoding; token=[REDACTED]"
    assert attrs[A.DURATION_S] == (span.end_time - span.start_time) / SECOND
    assert attrs[A.RETRY_ATTEMPT] == 2
    assert A.SLOW_THRESHOLD_S not in span.attributes  # failures are not "slow"


def test_explicit_render_failure_keeps_reason_and_scrubbed_message(pipeline):
    """The seed's trackRenderFailed(id, 'timeout', message, template, 30000, 0)."""
    handle = otel_perf.track_render("still", render_id="render_001", template_id="tpl_hero_001")
    r = handle.start(start_time=_seconds_ago(30))
    r.fail("timeout", "Render operation timed out after 30 seconds for ops@example.com")
    r.end()
    event = _event(pipeline.spans()[0], "render_failed")
    assert event.attributes[A.ERROR_TYPE] == "timeout"
    assert event.attributes[A.ERROR_MESSAGE] == (
        "Render operation timed out after 30 seconds for [EMAIL]"
    )
    assert event.attributes[A.DURATION_S] >= 30.0 and event.attributes[A.RETRY_ATTEMPT] == 0


def test_api_error_event_from_a_status_code(pipeline):
    """The seed's trackAPIError('/api/render', 500, message, 'req_001', 2500, 0)."""
    with otel_perf.track_api_call("/api/render", method="POST", request_id="req_001") as call:
        call.set_status_code(500)
    (span,) = pipeline.spans()
    event = _event(span, "api_error")
    assert event.timestamp == span.end_time
    assert dict(event.attributes) == {
        A.HTTP_ROUTE: "/api/render",
        A.HTTP_REQUEST_METHOD: "POST",
        A.HTTP_RESPONSE_STATUS_CODE: 500,
        A.REQUEST_ID: "req_001",
        A.ERROR_TYPE: "server_error",
        A.ERROR_MESSAGE: "HTTP 500",
        A.DURATION_S: (span.end_time - span.start_time) / SECOND,
        A.RETRY_ATTEMPT: 0,
    }


def test_api_error_event_from_an_exception_is_scrubbed(pipeline):
    with pytest.raises(ConnectionError):
        with otel_perf.track_api_call(
            "/api/assets/42?key=AIzaSyA1234567890abcdefghijklmnopqrstuv"
        ) as c:
            c.set_retry_attempt(1)
            raise ConnectionError("connection reset; Authorization: Bearer abcdefgh12345678")
    event = _event(pipeline.spans()[0], "api_error")
    assert event.attributes[A.HTTP_ROUTE] == "/api/assets/{id}"
    assert event.attributes[A.ERROR_MESSAGE] == "connection reset; Authorization: Bearer [REDACTED]"
    assert event.attributes[A.RETRY_ATTEMPT] == 1
    assert A.HTTP_RESPONSE_STATUS_CODE not in event.attributes  # none was received


def test_cancelled_operations_get_no_seed_event(pipeline):
    with pytest.raises(KeyboardInterrupt):
        with otel_perf.track_render("still", render_id="r"):
            raise KeyboardInterrupt
    assert not [e for e in pipeline.spans()[0].events if e.name in SEED_FIELDS]


@pytest.mark.parametrize("event", sorted(SEED_FIELDS))
def test_every_seed_field_is_mapped_in_the_docs(event):
    """docs/instrumentation.md has a row per seed 003 field naming its attribute."""
    rows = [line for line in DOCS.splitlines() if line.startswith(f"| `{event}` |")]
    for field, attribute in [*SEED_FIELDS[event].items(), ("Timestamp", "timestamp")]:
        assert any(f"| {field} |" in row and attribute in row for row in rows), (event, field)
