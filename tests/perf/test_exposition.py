"""otel-perf's own rendering of /metrics: same samples as prometheus_client's encoders, valid
for both parsers and promtool, exemplars in OpenMetrics, other collectors kept."""

from __future__ import annotations

import asyncio
import gzip
import math
import subprocess
import urllib.error
import urllib.request

import pytest
from prometheus_client import Counter, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

import otel_perf
from otel_perf import exposition
from otel_perf.textformat import generate
from tests.support.tools import require_tool

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def _workload(pipeline) -> None:  # type: ignore[no-untyped-def]
    """A bit of everything, including label values that need escaping."""
    for model in ("flux", "imagen", 'we"ird\\mo\ndel'):
        with otel_perf.track_generation("generate_image", model=model, provider="p") as op:
            op.set_usage(images=2)
            op.set_queue_wait(1.5)
            op.set_retry_attempt(1)
    with otel_perf.track_generation("generate_video", model="veo") as op:
        op.fail("safety_block")
    with pytest.raises(RuntimeError):
        with otel_perf.track_render("video", template_id="tpl_hero"):
            raise RuntimeError("ffmpeg codec failure")
    for code in (500, 200, 429):
        with otel_perf.track_api_call("/api/render", method="POST") as call:
            call.set_status_code(code)
    start = pipeline.tracer.start_span("slow", attributes={"otel_perf.operation": "render_still"})
    start.end(end_time=start.start_time + 9 * 10**9)  # slower than the 5 s threshold
    pipeline.tracer.start_span("running", attributes={"otel_perf.operation": "generate_music"})


def _samples(families) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # type: ignore[no-untyped-def]
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def _same(a: dict, b: dict) -> bool:  # type: ignore[type-arg]
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k]) for k in a)


def test_text_format_has_the_samples_prometheus_client_renders(pipeline):
    """Our 0.0.4 text parses to exactly the samples prometheus_client's encoder gives."""
    _workload(pipeline)
    ours, content_type = generate(pipeline.registry)
    assert content_type.startswith("text/plain; version=0.0.4")
    theirs = generate_latest(pipeline.registry)
    parsed = _samples(parse_text(ours.decode()))
    assert _same(parsed, _samples(parse_text(theirs.decode())))
    model = 'we"ird\\mo\ndel'
    labels = {
        "operation": "generate_image",
        "model": model,
        "provider": "p",
        "status": "success",
        "project": "",
    }
    key = ("otel_perf_operation_duration_seconds_count", tuple(sorted(labels.items())))
    assert parsed[key] == 1
    assert parsed[("otel_perf_operations_in_progress", (("operation", "generate_music"),))] == 1


def test_openmetrics_has_the_samples_and_exemplars(pipeline):
    """OpenMetrics output parses, matches prometheus_client's, and carries trace-id exemplars."""
    _workload(pipeline)
    ours, content_type = generate(pipeline.registry, OPENMETRICS)
    assert content_type.startswith("application/openmetrics-text")
    text = ours.decode()
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    families = list(parse_om(text))
    theirs = list(parse_om(openmetrics_latest(pipeline.registry).decode()))
    assert _same(_samples(families), _samples(theirs))
    trace_ids = {format(s.context.trace_id, "032x") for s in pipeline.spans()}
    exemplars = [
        s.exemplar
        for f in families
        if f.name == "otel_perf_operation_duration_seconds"
        for s in f.samples
        if s.exemplar is not None
    ]
    assert exemplars
    assert {e.labels["trace_id"] for e in exemplars} <= trace_ids


@pytest.mark.e2e
def test_promtool_accepts_the_text_format(pipeline):
    """promtool check metrics passes on our exposition."""
    promtool = require_tool("promtool")
    _workload(pipeline)
    body, _ = generate(pipeline.registry)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_other_collectors_in_the_registry_are_kept_in_order(pipeline):
    """A user's own metric in the same registry is rendered too, where the registry has it."""
    user = Counter("user_jobs", "The user's own counter.", registry=pipeline.registry)
    user.inc(3)
    _workload(pipeline)
    for accept in (None, OPENMETRICS):
        body, _ = generate(pipeline.registry, accept)
        text = body.decode()
        assert "user_jobs_total 3.0" in text
        names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
        assert names[-1].startswith("user_jobs")  # registered last, rendered last


def test_empty_metrics_render_headers_only(registry, make_pipeline):
    """Before any span, every family is announced and no sample is invented."""
    pipeline = make_pipeline()
    body, _ = generate(pipeline.registry)
    samples = [line for line in body.decode().splitlines() if not line.startswith("#")]
    assert samples == []
    assert "# TYPE otel_perf_cost_usd_total counter" in body.decode()


def test_embedded_server_serves_both_formats_and_gzip(registry):
    """configure()'s server negotiates OpenMetrics and gzip as Prometheus asks."""
    handle = otel_perf.configure(registry=registry, prometheus_port=0)
    with otel_perf.track_generation("generate_image", model="flux"):
        pass
    url = handle.metrics_url
    assert url is not None
    request = urllib.request.Request(
        url, headers={"Accept": OPENMETRICS, "Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        text = gzip.decompress(response.read()).decode()
    assert "# EOF" in text and ' # {trace_id="' in text
    with urllib.request.urlopen(url, timeout=10) as response:
        plain = response.read().decode()
    assert "otel_perf_operation_duration_seconds_count" in plain and "# EOF" not in plain
    with urllib.request.urlopen(url + "?name[]=otel_perf_cost_usd_total", timeout=10) as response:
        only = response.read().decode()
    assert "otel_perf_cost_usd_total" in only and "duration" not in only
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10)
    assert refused.value.code == 405


def test_wsgi_and_asgi_apps_render_the_same_body(pipeline):
    """The apps for the user's own web server serve our rendering."""
    _workload(pipeline)
    expected, _ = generate(pipeline.registry, OPENMETRICS)

    status: list[str] = []
    wsgi = exposition.make_wsgi_app(pipeline.registry)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "HTTP_ACCEPT": OPENMETRICS}
    body = b"".join(wsgi(environ, lambda s, h: status.append(s)))
    assert status == ["200 OK"]
    assert _samples(parse_om(body.decode())) == _samples(parse_om(expected.decode()))

    sent: list[dict] = []  # type: ignore[type-arg]

    async def receive() -> dict:  # type: ignore[type-arg]
        return {"type": "http.request"}

    async def send(message: dict) -> None:  # type: ignore[type-arg]
        sent.append(message)

    scope = {"type": "http", "headers": [(b"accept", OPENMETRICS.encode())], "query_string": b""}
    asyncio.run(exposition.make_asgi_app(pipeline.registry)(scope, receive, send))
    assert sent[0]["status"] == 200
    assert _samples(parse_om(sent[1]["body"].decode())) == _samples(parse_om(expected.decode()))
