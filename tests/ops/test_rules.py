"""Rule files, Prometheus and Alertmanager configs, checked by promtool and amtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from otel_perf import selfmonitor
from otel_perf.metrics import MetricSet
from otel_perf.monitoring import config_from_mapping, load_config, render_all
from otel_perf.monitoring.promql import SELF_METRIC_LABELS
from otel_perf.monitoring.rules import SEVERITIES, WATCHDOG, WATCHDOG_SEVERITY, all_alerts
from otel_perf.monitoring.serialize import to_yaml
from tests.support.servers import ROOT
from tests.support.tools import require_tool

RULES = sorted((ROOT / "prometheus/rules").glob("*.yml"))
UNIT_TESTS = sorted((ROOT / "prometheus/tests").glob("*.yml"))
ALERTS = all_alerts(load_config(None))
ALERT_NAMES = sorted({a.name for a in ALERTS})


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def _promtool_test(promtool: str, files: list[Path]) -> tuple[int, str]:
    """`promtool test rules`, one process per file in parallel; worst exit code, all output."""
    procs = [
        subprocess.Popen([promtool, "test", "rules", str(f)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
        for f in files
    ]  # fmt: skip
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    return max(p.returncode for p in procs), "".join(outputs)


@pytest.mark.e2e
def test_rules_pass_promtool_lint():
    """`promtool check rules --lint=all --lint-fatal` finds nothing to complain about."""
    promtool = require_tool("promtool")
    result = _run(promtool, "check", "rules", "--lint=all", "--lint-fatal", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    # 16 alerts (4 burn-rate pairs) + 29 records (3 hourly, 3 per SLO window, 2 more).
    assert "SUCCESS: 19 rules found" in result.stdout
    assert "SUCCESS: 31 rules found" in result.stdout


@pytest.mark.e2e
def test_prometheus_config_with_its_rules_passes_promtool(tmp_path: Path):
    """`promtool check config` on prometheus.yml, its rule glob pointed at the repo rules."""
    promtool = require_tool("promtool")
    data = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())
    assert data["rule_files"] == ["/etc/prometheus/rules/*.yml"]  # the compose mount
    data["rule_files"] = [str(ROOT / "prometheus/rules/*.yml")]
    config = tmp_path / "prometheus.yml"
    config.write_text(to_yaml(data))
    result = _run(promtool, "check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 19 rules found" in result.stdout
    assert "SUCCESS: 31 rules found" in result.stdout


@pytest.mark.e2e
def test_promtool_unit_tests_pass():
    """The hand-written alert tests in prometheus/tests pass against the committed rules."""
    promtool = require_tool("promtool")
    code, output = _promtool_test(promtool, UNIT_TESTS)
    assert code == 0, output
    assert output.count("SUCCESS") == len(UNIT_TESTS) == 3


def test_every_unit_test_series_is_born_at_its_first_value():
    """Like the real exposition, counter and histogram series start absent (`_`) and are
    born at their first value, never at 0 (which otel-perf never exposes)."""
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for series in case.get("input_series", []):
                name = series["series"].split("{")[0]
                if name.endswith(("_total", "_count", "_sum", "_bucket")):
                    first = series["values"].split()[0]
                    assert first.startswith("_"), (case["name"], series["series"])
                    born = re.match(r"[\d.]+", series["values"].split()[1])
                    assert born is not None and float(born.group()) > 0, case["name"]


def test_every_alert_has_a_firing_and_a_silent_unit_test():
    """For every alert some test expects it to fire and another expects silence."""
    firing: set[str] = set()
    silent: set[str] = set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check["exp_alerts"] else silent).add(check["alertname"])
                for alert in check["exp_alerts"]:
                    assert set(alert["exp_annotations"]) == {"summary", "description",
                                                             "runbook_url"}  # fmt: skip
    assert sorted(firing) == ALERT_NAMES
    assert sorted(silent) == sorted(set(ALERT_NAMES) - {WATCHDOG})  # always fires


# Each silent case sits at its threshold; moving the threshold by a hair must make it fail.
_NUDGED = {
    "alerts": {
        "high_error_rate": {"threshold": 0.0499},
        "project_error_rate": {"threshold": 0.1999},
        "api_degradation": {"threshold": 9.99},
        "slow_renders": {"threshold": 0.499},
        "template_failing": {"threshold": 2.99},
        "consecutive_api_errors": {"threshold": 2},
        "success_rate_low": {"threshold": 0.6001},
        "project_success_rate_low": {"threshold": 0.6001},
        "telemetry_absent": {"for": "2m"},
        "unpriced_operations": {"window": "62m"},
        "operations_stuck": {"window": "25m"},
    },
    "slo": {"target": 0.99001},
    "cost": {"budget_usd": 9.99},
}
_SILENT_CASES = {
    "high error rate is silent at exactly 5% and below 10 operations",
    "project high error rate is silent at exactly 20%",
    "api degradation is silent at exactly 10 errors in 5m",
    "slow renders is silent at exactly 50% slow",
    "template failing is silent at exactly 3 failures in an hour",
    "consecutive api errors is silent on streaks of 2",
    "success rate low is silent at exactly 60%",
    "project success rate low is silent at exactly 60%",
    "error budget burn is silent at exactly 14.4x and on low traffic",
    "error budget burn is silent at exactly the budget",
    "project cost high is silent at exactly $10 across two services",
    "unpriced operations is silent an hour after the last one",
    "telemetry absent waits 5 minutes and ignores idle but healthy targets",
    "operations stuck is silent when one finished, or after a dip to zero",
}


@pytest.mark.e2e
def test_silent_cases_sit_exactly_at_their_thresholds(tmp_path: Path):
    """With every threshold nudged past its silent case, each of those cases fails (the
    firing cases fail too: their annotations quote the thresholds)."""
    promtool = require_tool("promtool")
    files = render_all(config_from_mapping(_NUDGED))
    (tmp_path / "rules").mkdir()
    for name in ("otel-perf-recording.yml", "otel-perf-alerts.yml"):
        (tmp_path / "rules" / name).write_text(files[f"prometheus/rules/{name}"])
    shutil.copytree(ROOT / "prometheus/tests", tmp_path / "tests")
    code, output = _promtool_test(promtool, sorted((tmp_path / "tests").glob("*.yml")))
    assert code == 1
    failed = set(re.findall(r"name: (.+),\n", output))
    assert _SILENT_CASES <= failed, _SILENT_CASES - failed


def test_every_alert_is_complete_and_links_its_runbook_section():
    """for, severity, summary, templated description, runbook_url with an existing anchor."""
    runbooks = (ROOT / "docs/runbooks.md").read_text()
    headings = {h.lower() for h in re.findall(r"^## (\w+)$", runbooks, re.MULTILINE)}
    assert headings == {name.lower() for name in ALERT_NAMES}, "one section per alert"
    for alert in ALERTS:
        assert re.fullmatch(r"\d+[smhd]", alert.for_), alert.name
        assert alert.severity in SEVERITIES or (alert.name, alert.severity) == (
            WATCHDOG,
            WATCHDOG_SEVERITY,
        )
        assert alert.summary and "{{" not in alert.summary
        assert "{{ $labels." in alert.description or "{{ $value" in alert.description
        assert alert.runbook_url == f"http://localhost:8088/runbooks.md#{alert.name.lower()}"


def test_counts_in_annotations_print_as_integers():
    """A count quoted in an annotation is formatted without decimals ("4 times")."""
    for alert in ALERTS:
        for word in ("times", "API errors", "consecutive", "operations on", "new label",
                     "internal errors", "or more"):  # fmt: skip
            if word in alert.description:
                assert '{{ $value | printf "%.0f" }}' in alert.description, alert.name


def test_every_alert_expression_only_uses_declared_labels():
    """Grouping and matcher labels in rules exist on the metrics they touch."""
    for alert in ALERTS:
        for label in re.findall(r"by \(([^)]*)\)", alert.expr):
            for name in (n.strip() for n in label.split(",")):
                assert name in {"job", "instance", "template", "endpoint", "project",
                                "operation", "model", "metric", "stage", "le"}, alert.name  # fmt: skip


def test_self_metric_labels_match_a_real_scrape():
    """The labels assumed for the self-monitoring counters are what a scrape shows."""
    registry = CollectorRegistry()
    metrics = MetricSet(registry)
    metrics.overflows.inc("otel_perf_cost_usd_total")
    selfmonitor.report_internal_error("on_end", RuntimeError("boom"))
    selfmonitor.count_invalid("cost")
    text = generate_latest(registry).decode()
    for name, labels in SELF_METRIC_LABELS.items():
        sample = re.search(rf"^{name}\{{(\w+)=", text, re.MULTILINE)
        assert sample is not None, name
        assert (sample.group(1),) == labels


@pytest.mark.e2e
def test_alertmanager_config_passes_amtool():
    """`amtool check-config` accepts the rendered alertmanager.yml."""
    amtool = require_tool("amtool")
    result = _run(amtool, "check-config", str(ROOT / "alertmanager/alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 receivers" in result.stdout and "5 inhibit rules" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=OtelPerfHighErrorRate"], "otel-perf-critical"),
        (["severity=warning", "alertname=OtelPerfSlowRenders"], "otel-perf-warning"),
        (["severity=info", "alertname=OtelPerfUnpricedOperations"], "otel-perf-info"),
        (["alertname=SomethingElse"], "otel-perf-warning"),
        (["alertname=OtelPerfWatchdog", "severity=none"], "otel-perf-watchdog"),
    ],
)
@pytest.mark.e2e
def test_alertmanager_routes_by_severity(labels: list[str], receiver: str):
    """`amtool config routes test` sends each severity to its own receiver."""
    amtool = require_tool("amtool")
    config = str(ROOT / "alertmanager/alertmanager.yml")
    result = _run(amtool, "config", "routes", "test", f"--config.file={config}",
                  f"--verify.receivers={receiver}", *labels)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_every_severity_used_by_an_alert_has_a_route():
    """No alert can fall through to the default receiver by having an unrouted severity."""
    data = yaml.safe_load((ROOT / "alertmanager/alertmanager.yml").read_text())
    routed = {m for route in data["route"]["routes"] for m in route["matchers"]}
    assert {f'severity="{a.severity}"' for a in ALERTS if a.name != WATCHDOG} <= routed
    assert f'alertname="{WATCHDOG}"' in routed
