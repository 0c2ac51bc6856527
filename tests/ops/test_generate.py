"""otel-perf generate: committed files match the generator; config files load and validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from otel_perf.monitoring import config_from_mapping, load_config, render_all
from otel_perf.monitoring.rules import all_alerts
from tests.support.servers import ROOT


def test_committed_files_match_the_generator():
    """Every generated file is committed exactly as `otel-perf generate` renders it."""
    files = render_all(load_config(None))
    stale = [p for p, text in files.items() if (ROOT / p).read_text() != text]
    assert stale == [], f"run `otel-perf generate`: {stale}"


def _generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_perf", "generate", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.e2e
def test_check_reports_drift_then_passes_after_generating(tmp_path: Path):
    """--check exits 1 naming missing files, and 0 once they are written."""
    before = _generate("--out", str(tmp_path), "--check")
    assert before.returncode == 1
    assert "out of date: prometheus/rules/otel-perf-alerts.yml" in before.stderr
    written = _generate("--out", str(tmp_path))
    assert written.returncode == 0, written.stderr
    assert _generate("--out", str(tmp_path), "--check").returncode == 0
    (tmp_path / "docker-compose.yml").write_text("edited by hand\n")
    after = _generate("--out", str(tmp_path), "--check")
    assert after.returncode == 1
    assert after.stderr.splitlines()[0] == "out of date: docker-compose.yml"


@pytest.mark.e2e
def test_config_file_changes_thresholds_everywhere(tmp_path: Path):
    """A YAML config's threshold reaches the Prometheus rule and the Grafana rule alike."""
    config = tmp_path / "monitoring.yaml"
    config.write_text("alerts:\n  high_error_rate: {threshold: 0.02, window: 30m}\n")
    assert _generate("--config", str(config), "--out", str(tmp_path / "out")).returncode == 0
    prom = (tmp_path / "out/prometheus/rules/otel-perf-alerts.yml").read_text()
    grafana = (tmp_path / "out/grafana/provisioning/alerting/otel-perf-rules.yaml").read_text()
    for text in (prom, grafana):
        assert "[30m])) >= 10)\n" in text and "> 0.02\n" in text
        assert "failed over the last 30m (threshold 2%)." in text


def test_toml_and_yaml_configs_load_the_same(tmp_path: Path):
    """TOML and YAML spell the same config; lists of burn windows replace the defaults."""
    (tmp_path / "c.toml").write_text(
        '[cost]\nbudget_usd = 25\nwindow = "7d"\n\n[slo]\ntarget = 0.995\n\n'
        '[[slo.burn_windows]]\nlong = "1h"\nshort = "5m"\nfactor = 14.4\nfor = "2m"\n'
        'severity = "critical"\n'
    )
    (tmp_path / "c.yaml").write_text(
        "cost: {budget_usd: 25, window: 7d}\nslo:\n  target: 0.995\n  burn_windows:\n"
        "    - {long: 1h, short: 5m, factor: 14.4, for: 2m, severity: critical}\n"
    )
    toml, yaml_ = load_config(tmp_path / "c.toml"), load_config(tmp_path / "c.yaml")
    assert toml == yaml_
    assert toml.cost.budget_usd == 25.0 and len(toml.slo.burn_windows) == 1
    burn = [a for a in all_alerts(toml) if a.name == "OtelPerfErrorBudgetBurn"]
    assert len(burn) == 1 and "> 0.072\n" in burn[0].expr  # 14.4 x 0.5% budget


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"alerts": {"high_eror_rate": {}}}, "alerts.high_eror_rate: unknown key"),
        ({"alerts": {"high_error_rate": {"threshold": 5}}}, "alerts.high_error_rate.threshold"),
        ({"alerts": {"api_degradation": {"for": "5 minutes"}}}, "alerts.api_degradation.for"),
        ({"cost": {"budget_usd": "ten"}}, "cost.budget_usd: expected a number"),
        ({"slo": {"burn_windows": [{"long": "1h"}]}}, "slo.burn_windows[0]: missing keys"),
        ({"slo": {"burn_windows": []}}, "slo.burn_windows: must not be empty"),
        ({"grafana": {"alerting": "both"}}, "grafana.alerting: accepted values"),
        ({"grafana": {"dashboards": {"cost": "has spaces"}}}, "grafana.dashboards.cost"),
        ({"prometheus": {"retention": 90}}, "prometheus.retention: expected a string"),
        ([1, 2], "top level: expected a table"),
    ],
)
def test_invalid_config_names_the_key(data: object, message: str):
    """A bad key or value raises ValueError naming the dotted key."""
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_from_mapping(data)


@pytest.mark.e2e
def test_cli_reports_bad_config_without_traceback(tmp_path: Path):
    """The CLI prints `otel-perf: error: <file>: <key>: ...` and exits 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("cost:\n  window: forever\n")
    result = _generate("--config", str(bad), "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"otel-perf: error: {bad}: cost.window: ")
    assert "Traceback" not in result.stderr


def test_example_config_documents_the_defaults():
    """docs/monitoring.example.yaml loads, and spells out exactly the defaults."""
    assert load_config(ROOT / "docs/monitoring.example.yaml") == load_config(None)
