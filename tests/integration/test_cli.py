"""The otel-perf command as a user runs it: demo, config, opentelemetry-instrument."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import ROOT, free_port, http_get, wait_until
from tests.support.tools import require_tool

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _otel_perf(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otel_perf", *args], capture_output=True,
                          text=True, timeout=timeout, env=ENV)  # fmt: skip


@pytest.mark.e2e
def test_demo_serves_metrics_while_running_and_prints_a_summary(tmp_path):
    """`otel-perf demo --duration` serves /metrics that parse and pass promtool."""
    promtool = require_tool("promtool")
    port = free_port()
    ledger = tmp_path / "ledger.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_perf", "demo", "--duration", "4", "--port", str(port),
         "--ledger", str(ledger), "--hold", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_until(lambda: b"otel_perf_operation_duration_seconds_count" in http_get(url), 30)
        text = http_get(url)
        families = {f.name for f in text_string_to_metric_families(text.decode())}
        assert "otel_perf_operation_duration_seconds" in families
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Cost by operation and model" in out and "success rate" in out
    data = json.loads(ledger.read_text())
    assert data["summary"]["operations"] > 50  # several batches in 4 s


@pytest.mark.e2e
def test_demo_rejects_bad_arguments_with_a_clear_message():
    result = _otel_perf("demo", "--speed", "0", "--port", "0")
    assert result.returncode == 2
    assert "--speed must be > 0" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.e2e
def test_config_prints_settings_thresholds_and_prices():
    result = _otel_perf("config")
    assert result.returncode == 0, result.stderr
    assert "render_still" in result.stdout and "5" in result.stdout
    assert "flux-dev (aliases: flux" in result.stdout and "per_image=0.02" in result.stdout
    assert "OTEL_PERF_PRICING_FILE" in result.stdout


@pytest.mark.e2e
def test_config_validates_a_pricing_file(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[models."house"]\nper_image = 0.01\n')
    result = _otel_perf("config", "--pricing-file", str(good))
    assert result.returncode == 0 and "valid" in result.stdout and "model house" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[models."house"]\nper_imge = 0.01\n')
    result = _otel_perf("config", "--pricing-file", str(bad))
    assert result.returncode == 2
    assert "unknown key 'per_imge'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.e2e
def test_opentelemetry_instrument_enables_otel_perf_without_code_change(tmp_path: Path):
    """Under opentelemetry-instrument with OTEL_PERF_ENABLED=true, /metrics appears."""
    instrument = shutil.which("opentelemetry-instrument") or require_tool(
        "opentelemetry-instrument"
    )
    port = free_port()
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent("""
        import time
        from otel_perf import track_generation
        with track_generation("generate_image", model="flux", project="auto") as op:
            op.set_usage(images=2)
        time.sleep(30)
    """)
    )
    env = {**ENV, "OTEL_PERF_ENABLED": "true", "OTEL_PERF_PROMETHEUS_PORT": str(port),
           "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none", "OTEL_SERVICE_NAME": "auto-app",
           "OTEL_PERF_PRICING": "seed"}  # fmt: skip
    proc = subprocess.Popen([instrument, sys.executable, str(script)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        start = time.monotonic()
        text = wait_until(lambda: _cost_line(http_get(url, timeout=1).decode()), 30)
    finally:
        proc.kill()
        output = proc.communicate(timeout=10)[0].decode()
    assert text, output
    assert time.monotonic() - start < 30
    assert 'project="auto"' in text and text.rstrip().endswith("0.04")  # seed: 2 x $0.02


def _cost_line(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("otel_perf_cost_usd_total{"):
            return line
    return None
