"""Host safety (issue 12): label text, misbehaving exceptions, context, payloads, config."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import tracemalloc

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry, Counter

import otel_perf
from otel_perf import attributes as A
from otel_perf import selfmonitor, textformat, tracking

D = "otel_perf_operation_duration_seconds_count"
E = "otel_perf_operation_errors_total"


def total(pipeline, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(
        sample.value
        for family in pipeline.registry.collect()
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def scrape(registry, accept="application/openmetrics-text"):  # type: ignore[no-untyped-def]
    body, _ = textformat.generate(registry, accept)
    return body.decode("utf-8")


# --- 1. the exposition is immune to label text ------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["\ud800", "p\udfffx", "a\x00b\x1bc\rd", "x" * 100_000, 'q"\\\n', "\u2028\ufeff"],
    ids=["surrogate", "low-surrogate", "controls", "huge", "escapes", "separators"],
)
@pytest.mark.parametrize("accept", ["application/openmetrics-text", "text/plain"])
def test_any_label_text_then_a_normal_scrape(pipeline, value, accept):
    """A lone surrogate, control characters or a huge value in a label renders validly."""
    with otel_perf.track_generation("generate_image", model=value, project=value):
        pass
    with otel_perf.track_render("still", template_id=value, project=value) as r:
        r.fail("timeout")
    text = scrape(pipeline.registry, accept)
    assert "\ud800" not in text and "\x00" not in text
    assert "otel_perf_operation_duration_seconds" in text
    for line in text.splitlines():
        assert len(line) < 4096
    # and the next scrape, with an ordinary operation, is fine too
    with otel_perf.track_generation("generate_image", model="flux"):
        pass
    assert 'model="flux"' in scrape(pipeline.registry, accept)


def test_a_bad_foreign_family_does_not_take_the_scrape_down(pipeline):
    """A user's metric prometheus_client cannot encode is left out; ours still render."""
    bad = Counter("user_bad", "x", ["l"], registry=pipeline.registry)
    bad.labels("\ud800").inc()
    with otel_perf.track_generation("generate_image", model="flux"):
        pass
    text = scrape(pipeline.registry, "text/plain")
    assert 'model="flux"' in text
    assert selfmonitor.internal_error_counts().get("exposition", 0) >= 1


# --- 2. failure accounting never depends on the exception behaving -----------------------


class _Raising(Exception):
    @property
    def status_code(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("status_code property")

    @property
    def response(self):  # type: ignore[no-untyped-def]
        raise KeyError("response")

    @property
    def code(self):  # type: ignore[no-untyped-def]
        raise ValueError("code")

    def __str__(self) -> str:
        raise RuntimeError("str")


class _LyingClass(Exception):
    @property  # type: ignore[misc]
    def __class__(self):  # type: ignore[no-untyped-def,override]
        raise RuntimeError("__class__")


class _OddCode(Exception):
    code = "429"  # not an int: no status
    status = 1e9


@pytest.mark.parametrize("exc_type", [_Raising, _LyingClass, _OddCode])
def test_misbehaving_exceptions_are_failures_never_charged(pipeline, exc_type):
    """Recorded as an error with no cost, re-raised as the same object."""
    raised = exc_type()
    with pytest.raises(exc_type) as info:
        with otel_perf.track_generation("generate_image", model="flux"):
            raise raised
    assert info.value is raised
    (span,) = pipeline.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] in A.API_ERROR_TYPES
    assert A.COST_USD not in span.attributes
    assert total(pipeline, "otel_perf_cost_usd_total", operation="generate_image") == 0
    assert total(pipeline, D, operation="generate_image", status="success") == 0
    assert otel_perf.classify_error(raised) in A.API_ERROR_TYPES


# --- 3. context handling -----------------------------------------------------------------


def test_decorated_generator_is_timed_over_its_iteration(pipeline):
    """One span from the first item to the end; a failure mid-way is an error."""
    seen = []

    @otel_perf.track_generation("generate_speech", model="eleven_multilingual_v2")
    def chunks(n: int):  # type: ignore[no-untyped-def]
        for i in range(n):
            seen.append(trace.get_current_span().get_span_context().span_id)
            yield i

    assert list(chunks(3)) == [0, 1, 2]
    (span,) = pipeline.spans()
    assert set(seen) == {span.context.span_id}
    assert not trace.get_current_span().get_span_context().is_valid  # not leaked to us

    boom = ValueError("mid-stream")

    @otel_perf.track_generation("generate_speech", model="eleven_multilingual_v2")
    def failing():  # type: ignore[no-untyped-def]
        yield 1
        raise boom

    with pytest.raises(ValueError) as info:
        list(failing())
    assert info.value is boom
    assert pipeline.spans()[-1].status.status_code is StatusCode.ERROR
    assert total(pipeline, E, operation="generate_speech", error_type="unknown") == 1


async def test_decorated_async_generator_is_timed_over_its_iteration(pipeline):
    """The span covers every awaited step of the iteration."""

    @otel_perf.track_generation("generate_video", model="veo")
    async def frames():  # type: ignore[no-untyped-def]
        for i in range(3):
            await asyncio.sleep(0.01)
            assert otel_perf.current_operation() is not None
            yield i

    assert [i async for i in frames()] == [0, 1, 2]
    (span,) = pipeline.spans()
    assert (span.end_time - span.start_time) / 1e9 >= 0.03
    assert total(pipeline, D, operation="generate_video", status="success") == 1


def test_shared_tracker_loses_no_operation(pipeline):
    """One tracker entered in two threads at once ends both operations."""
    tracker = otel_perf.track_api_call("/v1/x")
    inside = threading.Barrier(2)

    def work() -> None:
        with tracker:
            inside.wait(timeout=10)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pipeline.spans()) == 2
    with tracker, tracker:  # re-entered while open: both end
        pass
    assert len(pipeline.spans()) == 4
    assert otel_perf.current_operation() is None

    def many() -> None:
        for _ in range(300):
            with tracker:
                pass

    threads = [threading.Thread(target=many) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pipeline.spans()) == 4 + 6 * 300
    assert tracker._open == []


def test_exits_out_of_order_restore_the_right_context(pipeline):
    """Exiting the outer operation first leaves the inner one current, then nothing."""
    outer, inner = otel_perf.track_api_call("/a"), otel_perf.track_api_call("/b")
    h1 = outer.__enter__()
    h2 = inner.__enter__()
    outer.__exit__(None, None, None)
    assert otel_perf.current_operation() is h2
    inner.__exit__(None, None, None)
    assert otel_perf.current_operation() is None
    assert not trace.get_current_span().get_span_context().is_valid
    assert h1.span.end_time is not None and h2.span.end_time is not None


def test_never_exited_operations_do_not_grow_memory(pipeline):
    """Entered and never exited: bounded nesting, the open-span table bounded and counted."""

    def leak(n: int) -> None:
        for _ in range(n):
            otel_perf.track_api_call("/leak").__enter__()

    ctx = __import__("contextvars").copy_context()
    ctx.run(leak, 2_000)  # warm up: fills the nesting bound
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    ctx.run(leak, 5_000)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # The processor's open-span table keeps ~100 bytes per entry until its bound; the
    # operations themselves are not chained (before: ~3.8 KB each).
    assert grown / 5_000 < 400
    assert selfmonitor.invalid_value_counts().get("nesting", 0) >= 5_000


def test_open_span_table_evictions_are_counted(pipeline, monkeypatch):
    """Past MAX_OPEN_SPANS the oldest never-ended span is forgotten and counted."""
    from otel_perf import processor

    monkeypatch.setattr(processor, "MAX_OPEN_SPANS", 10)
    handles = [otel_perf.track_api_call("/x").start() for _ in range(25)]
    assert len(pipeline.processor._in_flight) <= 10
    assert selfmonitor.invalid_value_counts()["open_span_evicted"] == 15
    for h in handles:
        h.end()


def test_configure_shutdown_cycles_leave_one_processor():
    """Ten cycles on one provider: exactly one otel-perf processor on it."""
    provider = TracerProvider()
    for _ in range(10):
        handle = otel_perf.configure(
            tracer_provider=provider, registry=CollectorRegistry(), prometheus_port=None
        )
        handle.shutdown()
    handle = otel_perf.configure(
        tracer_provider=provider, registry=CollectorRegistry(), prometheus_port=None
    )
    ours = [
        p
        for p in provider._active_span_processor._span_processors
        if isinstance(p, otel_perf.PerformanceSpanProcessor)
    ]
    assert ours == [handle.processor]


# --- 5. payloads and reserved keys -------------------------------------------------------


class _Huge:
    def __str__(self) -> str:
        return "x" * 5000


@pytest.mark.parametrize(
    "value",
    [
        ("ok", b"\x89PNG"),
        ["data:image/png;base64,iVBORw0KGgo="],
        ("a" * 2000,),
        [["nested"]],
        _Huge(),
        list(range(1000)),
    ],
)
def test_payloads_inside_sequences_and_objects_never_reach_the_span(pipeline, value):
    with otel_perf.track_generation("generate_image", model="flux", attributes={"a": value}) as op:
        op.set_attribute("b", value)
    (span,) = pipeline.spans()
    assert "a" not in span.attributes and "b" not in span.attributes


def test_model_whose_str_is_huge_is_refused(pipeline):
    with otel_perf.track_generation("generate_image", model=_Huge()):
        pass
    (span,) = pipeline.spans()
    assert len(span.name) < 100 and len(span.attributes[A.GEN_AI_REQUEST_MODEL]) < 1024


@pytest.mark.parametrize(
    "key",
    [A.OPERATION, A.PROJECT, A.HTTP_ROUTE, A.ERROR_TYPE, A.GEN_AI_REQUEST_MODEL, A.OUTCOME,
     A.GEN_AI_PROVIDER_NAME, A.RENDER_TEMPLATE_ID, A.HTTP_RESPONSE_STATUS_CODE],
)  # fmt: skip
def test_label_keys_cannot_be_set_as_span_only_attributes(pipeline, key):
    """set_attribute / attributes= cannot create or change a metric label."""
    with otel_perf.track_api_call("/v1/x", attributes={key: "evil"}) as op:
        op.set_attribute(key, "evil2")
    (span,) = pipeline.spans()
    assert span.attributes.get(key) not in ("evil", "evil2")
    text = scrape(pipeline.registry)
    assert "evil" not in text


# --- 8. configuration and half-states ----------------------------------------------------


def test_fifo_price_file_is_refused_without_hanging(tmp_path, caplog, monkeypatch):
    fifo = tmp_path / "prices.toml"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"pricing.*not a regular file"):
        otel_perf.configure(pricing=str(fifo), registry=CollectorRegistry(), prometheus_port=None)
    monkeypatch.setenv("OTEL_PERF_PRICING_FILE", str(fifo))
    with caplog.at_level(logging.WARNING, "otel_perf"):
        handle = otel_perf.configure(registry=CollectorRegistry(), prometheus_port=None)
    assert "OTEL_PERF_PRICING_FILE" in caplog.text
    assert handle.settings.pricing.estimate("generate_image", "flux").usd is not None


def test_dev_zero_symlink_price_file_is_refused(tmp_path, monkeypatch, caplog):
    link = tmp_path / "prices.toml"
    link.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=r"pricing.*not a regular file"):
        otel_perf.configure(pricing=link, registry=CollectorRegistry(), prometheus_port=None)
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (2 << 20))
    monkeypatch.setenv("OTEL_PERF_PRICING_FILE", str(big))
    with caplog.at_level(logging.WARNING, "otel_perf"):
        otel_perf.configure(registry=CollectorRegistry(), prometheus_port=None)
    assert "over the limit" in caplog.text


def test_otel_sdk_disabled_is_honoured_and_logged(monkeypatch, caplog):
    from tests.support.servers import free_port

    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    port = free_port()
    with caplog.at_level(logging.WARNING, "otel_perf"):
        handle = otel_perf.configure(registry=CollectorRegistry(), prometheus_port=port)
    assert not handle.enabled and handle.port is None
    assert "OTEL_SDK_DISABLED" in caplog.text


def test_ignored_settings_warn_once(caplog):
    provider = TracerProvider()  # its resource has the SDK's default service.name
    with caplog.at_level(logging.WARNING, "otel_perf"):
        handle = otel_perf.configure(
            service_name="media-api",
            tracer_provider=provider,
            registry=CollectorRegistry(),
            prometheus_port=None,
        )
        again = otel_perf.configure(thresholds={"generate_image": 99.0})
        otel_perf.configure(thresholds={"generate_image": 98.0})
    assert again is handle
    assert caplog.text.count("service_name='media-api' is ignored") == 1
    assert caplog.text.count("already configured") == 1
    assert "thresholds" in caplog.text


def test_port_zero_is_the_bound_port_on_the_handle(caplog):
    with caplog.at_level(logging.INFO, "otel_perf"):
        handle = otel_perf.configure(registry=CollectorRegistry(), prometheus_port=0)
    assert handle.port is not None and handle.port > 0
    assert f":{handle.port}/metrics" in caplog.text
    assert handle.metrics_url.endswith(f":{handle.port}/metrics")


async def test_wait_for_deadline_is_visible(pipeline):
    """A plain wait_for is a cancellation with the span's duration; under
    otel_perf.deadline() it is a timeout failure in the error rate."""

    @otel_perf.track_generation("generate_video", model="veo")
    async def slow() -> None:
        await asyncio.sleep(10)

    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(slow(), 0.05)
    span = pipeline.spans()[-1]
    assert span.attributes[A.OUTCOME] == "cancelled"
    assert (span.end_time - span.start_time) / 1e9 >= 0.04

    with pytest.raises(TimeoutError):
        async with otel_perf.deadline(0.05):
            await slow()
    span = pipeline.spans()[-1]
    assert span.attributes[A.ERROR_TYPE] == "timeout"
    assert total(pipeline, E, operation="generate_video", error_type="timeout") == 1
    assert total(pipeline, D, operation="generate_video", status="error") == 1


def test_tracking_module_keeps_no_state_between_tests():
    assert tracking.current_operation() is None


class _Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("iter")


@pytest.mark.parametrize(
    "setting",
    ["service_name", "prometheus_host", "thresholds", "template_thresholds", "pricing",
     "cardinality_limit", "extra_operations", "record_unsampled", "api_routes",
     "otlp_endpoint", "otlp_protocol", "enabled"],
)  # fmt: skip
@pytest.mark.parametrize(
    "value", [_Unprintable(), 1.5, [_Unprintable()]], ids=["obj", "float", "list"]
)
def test_bad_configure_arguments_raise_value_error_naming_the_setting(setting, value):
    try:
        handle = otel_perf.configure(
            **{setting: value}, registry=CollectorRegistry(), prometheus_port=None
        )
    except ValueError as exc:
        assert setting in str(exc)
    else:  # accepted (a float cardinality limit, say): then it works
        handle.shutdown()
