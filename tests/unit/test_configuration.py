"""configure(): provider wiring, sampler, exposition, export, idempotence, shutdown."""

from __future__ import annotations

import logging
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, TraceIdRatioBased
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families

import otel_perf
from otel_perf.configuration import RecordUnsampledSampler

D = "otel_perf_operation_duration_seconds"


def _get(url: str, accept: str | None = None) -> tuple[str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.headers["Content-Type"], response.read().decode()


def _configure(**kwargs):
    kwargs.setdefault("registry", CollectorRegistry())
    kwargs.setdefault("tracer_provider", TracerProvider())
    kwargs.setdefault("prometheus_port", 0)
    return otel_perf.configure(**kwargs)


def test_metrics_endpoint_serves_text_and_openmetrics_with_exemplars():
    """/metrics parses as Prometheus text; OpenMetrics negotiation shows the trace exemplar."""
    handle = _configure()
    with otel_perf.track_generation("generate_image", model="flux") as op:
        trace_id = format(op.span.get_span_context().trace_id, "032x")
    content_type, text = _get(handle.metrics_url)
    assert content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert D in families
    content_type, om = _get(handle.metrics_url, "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    exemplars = [s.exemplar for f in parse_om(om) if f.name == D for s in f.samples if s.exemplar]
    assert exemplars[0].labels == {"trace_id": trace_id}


def test_configure_twice_returns_the_same_handle():
    first = _configure()
    assert _configure() is first
    first.shutdown()
    second = _configure()
    assert second is not first


def test_shutdown_stops_server_and_unregisters_metrics():
    registry = CollectorRegistry()
    handle = _configure(registry=registry)
    url = handle.metrics_url
    handle.shutdown()
    handle.shutdown()  # twice is harmless
    assert not [f for f in registry.collect() if f.name.startswith("otel_perf_")]
    with pytest.raises(OSError):
        _get(url)


def test_existing_provider_gets_our_processor_and_keeps_its_exporters():
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    registry = CollectorRegistry()
    _configure(tracer_provider=provider, registry=registry, prometheus_port=None)
    with otel_perf.track_render("still"):
        pass
    assert len(exporter.get_finished_spans()) == 1
    assert registry.get_sample_value(D + "_count", dict(operation="render_still", model="",
                                     provider="", status="success", project="")) == 1  # fmt: skip


def test_unsampled_spans_are_still_counted_but_not_exported():
    """With a sampler that drops everything, metrics stay complete (RECORD_ONLY)."""
    provider = TracerProvider(sampler=ALWAYS_OFF)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    registry = CollectorRegistry()
    _configure(tracer_provider=provider, registry=registry, prometheus_port=None)
    for _ in range(5):
        with otel_perf.track_api_call("/api/render"):
            pass
    assert exporter.get_finished_spans() == ()
    assert registry.get_sample_value(D + "_count", dict(operation="api_call", model="", provider="",
                                     status="success", project="")) == 5  # fmt: skip
    assert isinstance(provider.sampler, RecordUnsampledSampler)


def test_record_unsampled_can_be_turned_off():
    provider = TracerProvider(sampler=TraceIdRatioBased(0.0))
    registry = CollectorRegistry()
    _configure(
        tracer_provider=provider, registry=registry, prometheus_port=None, record_unsampled=False
    )
    with otel_perf.track_api_call("/api/render"):
        pass
    assert registry.get_sample_value(D + "_count", dict(operation="api_call", model="", provider="",
                                     status="success", project="")) is None  # fmt: skip


def test_otlp_export_reaches_a_collector_endpoint():
    """With an endpoint, spans are exported over OTLP/HTTP protobuf to /v1/traces."""
    received: list[tuple[str, str, int]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], len(body)))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        handle = _configure(otlp_endpoint=f"http://127.0.0.1:{server.server_address[1]}")
        with otel_perf.track_generation("generate_video", model="veo"):
            pass
        handle.shutdown()  # flushes the batch processor
    finally:
        server.shutdown()
        server.server_close()
    assert received and received[0][0] == "/v1/traces"
    assert received[0][1] == "application/x-protobuf" and received[0][2] > 0


def test_busy_port_is_logged_not_raised(caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="otel_perf"):
            handle = _configure(prometheus_port=port)
    assert handle.metrics_url is None
    assert "cannot serve /metrics" in caplog.text
    with otel_perf.track_render("still"):  # metrics are still recorded
        pass
    assert handle.registry.get_sample_value(D + "_count", dict(operation="render_still", model="",
                                            provider="", status="success", project="")) == 1  # fmt: skip


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("OTEL_PERF_ENABLED", "false")
    registry = CollectorRegistry()
    handle = _configure(registry=registry)
    assert not handle.enabled and handle.metrics_url is None
    assert not [f for f in registry.collect() if f.name.startswith("otel_perf_")]


def test_invalid_argument_fails_at_configure():
    with pytest.raises(ValueError, match="thresholds: unknown operation 'renderstill'"):
        _configure(thresholds={"renderstill": 1})
    with pytest.raises(
        ValueError, match=r"tracer_provider must be an opentelemetry\.sdk\.trace\.TracerProvider"
    ):
        _configure(tracer_provider=object())


def test_duplicate_registration_is_a_clear_error():
    registry = CollectorRegistry()
    otel_perf.PerformanceSpanProcessor(registry=registry)
    with pytest.raises(ValueError, match="already registered"):
        _configure(registry=registry)


def test_extra_operations_become_trackable():
    registry = CollectorRegistry()
    _configure(registry=registry, extra_operations=["upscale_image"], prometheus_port=None)
    with otel_perf.track_generation("upscale_image", model="real-esrgan"):
        pass
    assert registry.get_sample_value(D + "_count", dict(operation="upscale_image", model="real-esrgan",
                                     provider="", status="success", project="")) == 1  # fmt: skip


def test_wsgi_app_serves_the_configured_registry():
    registry = CollectorRegistry()
    _configure(registry=registry, prometheus_port=None)
    with otel_perf.track_render("video"):
        pass
    app = otel_perf.make_wsgi_app()
    status: list[str] = []
    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": ""},
                        lambda s, h: status.append(s)))  # fmt: skip
    assert status[0].startswith("200")
    assert b'otel_perf_operation_duration_seconds_count{model="",operation="render_video"' in body


async def test_asgi_app_serves_the_configured_registry():
    registry = CollectorRegistry()
    _configure(registry=registry, prometheus_port=None)
    with otel_perf.track_render("batch"):
        pass
    app = otel_perf.make_asgi_app()
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/metrics",
        "query_string": b"",
        "headers": [],
    }
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b'operation="render_batch"' in body


def test_stats_follow_the_metrics_and_reset():
    """TRACK-008 stats: failed renders, API errors, slow renders, totals; reset_stats()."""
    _configure(prometheus_port=None, thresholds={"render_still": 1e-9})
    with otel_perf.track_render("still"):
        pass  # slow: over a ~0 s threshold
    for code in (500, 429):
        with otel_perf.track_api_call("/api/render") as call:
            call.set_status_code(code)
    with pytest.raises(MemoryError):
        with otel_perf.track_render("video"):
            raise MemoryError
    with otel_perf.track_generation("generate_image", model="flux") as op:
        op.fail("safety_block")
    s = otel_perf.stats()
    assert (s.renders_failed, s.api_errors, s.generations_failed, s.slow_renders) == (1, 2, 1, 1)
    assert s.total_errors == 4 and s.total_performance_issues == 1
    otel_perf.reset_stats()
    assert otel_perf.stats().total_errors == 0
    with otel_perf.track_api_call("/api/render") as call:
        call.set_status_code(503)
    assert otel_perf.stats().api_errors == 1
