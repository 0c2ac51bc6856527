"""otel_perf.testing: capture what an operation emits, then reset global state."""

from __future__ import annotations

import pytest

import otel_perf
from otel_perf import attributes as A
from otel_perf import configuration, selfmonitor, tracking
from otel_perf.testing import capture


def test_capture_sees_spans_and_metric_samples():
    """Spans and parsed samples of the block's operations, readable inside and after it."""
    with capture(extra_operations=("upscale_image",)) as emitted:
        with otel_perf.track_generation("upscale_image", model="m") as op:
            op.fail("rate_limit")
        inside = emitted.value("otel_perf_operation_errors_total", error_type="rate_limit")
    assert inside == 1.0
    assert emitted.value("otel_perf_operation_errors_total", operation="upscale_image") == 1.0
    assert [span.attributes[A.ERROR_TYPE] for span in emitted.spans] == ["rate_limit"]
    assert emitted.value("otel_perf_operation_errors_total", operation="other") == 0.0


def test_capture_resets_global_state():
    """After the block: not configured, tracking on the bundled prices, no counts left."""
    with capture(extra_operations=("upscale_image",)):
        selfmonitor.count_invalid("cost")
        assert configuration.active() is not None
    assert configuration.active() is None
    assert selfmonitor.invalid_value_counts() == {}
    assert "upscale_image" not in tracking.runtime.runtime.generation_operations


def test_capture_refuses_an_existing_configuration(registry):
    """Already configured: capture() says so instead of recording elsewhere."""
    otel_perf.configure(registry=registry, prometheus_port=None)
    with pytest.raises(RuntimeError, match="already configured"):
        with capture():
            pass


def test_captures_are_independent():
    """A second capture starts from zero."""
    for _ in range(2):
        with capture() as emitted:
            with otel_perf.track_api_call("/api/x"):
                pass
        assert emitted.value("otel_perf_operation_duration_seconds_count") == 1.0
        assert len(emitted.spans) == 1
