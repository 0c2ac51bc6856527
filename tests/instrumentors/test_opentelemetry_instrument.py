"""End to end: an unmodified app run under opentelemetry-instrument gets costed, classified
metrics for its OpenAI and Google Gen AI media calls, scraped from /metrics over HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import ROOT, free_port, http_get, wait_until
from tests.support.tools import require_tool

# The app knows nothing of otel-perf: plain SDK calls (over a mocked transport, no network).
APP = textwrap.dedent("""
    import json, sys, time
    import httpx2, openai
    from google import genai
    from google.genai import types

    def openai_api(request):
        if request.url.path.endswith("/images/generations"):
            if json.loads(request.content)["prompt"] == "too fast":
                return httpx2.Response(429, json={"error": {"message": "Rate limit reached"}})
            return httpx2.Response(200, json={"created": 1, "data": [{"b64_json": "aGk="}] * 2,
                                              "size": "1024x1024", "quality": "high"})
        return httpx2.Response(200, content=b"ID3-audio", headers={"content-type": "audio/mpeg"})

    def gemini_api(request):
        return httpx2.Response(200, json={"candidates": [{"content": {"role": "model", "parts": [
            {"inlineData": {"mimeType": "image/png", "data": "aGk="}}]}, "finishReason": "STOP"}]})

    client = openai.OpenAI(api_key="sk-test", base_url="https://api.openai.test/v1", max_retries=0,
                           http_client=httpx2.Client(transport=httpx2.MockTransport(openai_api)))
    client.images.generate(model="gpt-image-1", prompt="a fox", n=2, size="1024x1024", quality="high")
    client.audio.speech.create(model="tts-1", voice="alloy", input="x" * 2000)
    try:
        client.images.generate(model="gpt-image-1", prompt="too fast")
    except openai.RateLimitError:
        pass
    gemini = genai.Client(api_key="AIzaSyTEST", http_options=types.HttpOptions(
        httpx_client=httpx2.Client(transport=httpx2.MockTransport(gemini_api))))
    gemini.models.generate_content(model="gemini-2.5-flash-image", contents="a fox")
    print("done", flush=True)
    time.sleep(60)
""")


@pytest.mark.e2e
def test_sdk_calls_under_opentelemetry_instrument_reach_metrics(tmp_path):
    """OTEL_PERF_ENABLED=true + opentelemetry-instrument: no code change, exact samples."""
    instrument = shutil.which("opentelemetry-instrument") or require_tool(
        "opentelemetry-instrument"
    )
    port = free_port()
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OTEL_PERF_ENABLED": "true",
           "OTEL_PERF_PROMETHEUS_PORT": str(port), "OTEL_TRACES_EXPORTER": "none",
           "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
           "OTEL_SERVICE_NAME": "media-app"}  # fmt: skip
    proc = subprocess.Popen([instrument, sys.executable, str(app)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        text = wait_until(lambda: _complete(http_get(url, timeout=1).decode()), 60)
    finally:
        proc.kill()
        output = proc.communicate(timeout=10)[0].decode()
    assert text, output
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float | None:
        return samples.get((name, tuple(sorted(labels.items()))))

    image = {"operation": "generate_image", "model": "gpt-image-1", "provider": "openai"}
    assert value("otel_perf_cost_usd_total", project="", **image) == 0.334  # 2 x high 1024²
    assert (
        value("otel_perf_operation_errors_total", error_type="rate_limit", project="", **image) == 1
    )
    assert value("otel_perf_cost_usd_total", operation="generate_speech", model="tts-1",
                 provider="openai", project="") == 0.03  # fmt: skip
    assert value("otel_perf_cost_usd_total", operation="generate_image",
                 model="gemini-2.5-flash-image", provider="gcp.gemini", project="") == 0.039  # fmt: skip
    assert (
        value("otel_perf_operation_duration_seconds_count", status="success", project="", **image)
        == 1
    )


def _complete(text: str) -> str | None:
    """The exposition once every expected series is there."""
    wanted = ('model="gemini-2.5-flash-image"', 'error_type="rate_limit"', 'model="tts-1"')
    return text if all(w in text for w in wanted) else None
