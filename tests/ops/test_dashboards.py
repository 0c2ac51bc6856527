"""Grafana dashboards and provisioning, checked structurally (Grafana cannot run here)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

import otel_perf
from otel_perf.metrics import SPECS_BY_NAME
from otel_perf.monitoring import config_from_mapping, load_config, render_all
from otel_perf.monitoring.compose import GRAFANA_IMAGE
from otel_perf.monitoring.promql import SELF_METRIC_LABELS, labels_of
from otel_perf.monitoring.rules import RecordingRule, all_alerts, recording_rules
from otel_perf.textformat import generate
from tests.support.servers import ROOT

CONFIG = load_config(None)
RECORDED = {
    r.record for g in recording_rules(CONFIG) for r in g.rules if isinstance(r, RecordingRule)
}
UIDS = {"otel-perf-cost", "otel-perf-health", "otel-perf-projects"}
DASHBOARDS = {
    path.stem: json.loads(path.read_text()) for path in (ROOT / "grafana/dashboards").glob("*.json")
}
PANELS = [(uid, panel) for uid, d in DASHBOARDS.items() for panel in d["panels"]]
TARGETS = [(uid, panel, t) for uid, panel in PANELS for t in panel["targets"]]
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")
_RANGE = re.compile(r"\[([^\]]+)\]")


def _provisioning(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "grafana/provisioning" / name).read_text()))


def test_three_dashboards_with_stable_uids_and_grafana_12_schema():
    """Stable UIDs (file name = uid), schemaVersion 41, no numeric id, tagged."""
    assert set(DASHBOARDS) == UIDS
    for uid, dashboard in DASHBOARDS.items():
        assert dashboard["uid"] == uid
        assert dashboard["schemaVersion"] == 41
        assert dashboard["id"] is None
        assert "otel-perf" in dashboard["tags"]


def test_dashboards_have_templated_datasource_and_the_four_variables():
    """`datasource` (Prometheus), then service, project, operation, model (multi, All=.*)."""
    for dashboard in DASHBOARDS.values():
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert list(variables) == ["datasource", "service", "project", "operation", "model"]
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        assert (
            "label_values(otel_perf_operation_duration_seconds_count, job)"
            == (variables["service"]["query"]["query"])
        )
        for name in ("service", "project", "operation", "model"):
            v = variables[name]
            assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert v["includeAll"] and v["multi"] and v["allValue"] == ".*"


def test_every_panel_has_unit_description_and_templated_datasource():
    """Unit and description on every panel; panel and targets use ${datasource}."""
    assert len(PANELS) >= 25
    for uid, panel in PANELS:
        where = f"{uid}: {panel['title']}"
        assert panel["fieldConfig"]["defaults"]["unit"], where
        assert len(panel["description"]) > 20, where
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert panel["targets"], where
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", where


def test_panels_have_unique_ids_and_do_not_overlap():
    """Grid positions fit 24 columns and no two panels share a cell."""
    for uid, dashboard in DASHBOARDS.items():
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), uid
        cells: set[tuple[int, int]] = set()
        for panel in dashboard["panels"]:
            g = panel["gridPos"]
            assert g["x"] + g["w"] <= 24, (uid, panel["title"])
            mine = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                    for y in range(g["y"], g["y"] + g["h"])}  # fmt: skip
            assert not cells & mine, (uid, panel["title"])
            cells |= mine


def test_range_queries_use_rate_interval_and_instant_ones_a_fixed_range():
    """Time series use [$__rate_interval]; instant panels use $__range or the budget window."""
    for uid, panel, target in TARGETS:
        windows = set(_RANGE.findall(target["expr"]))
        if target["range"]:
            assert windows in (set(), {"$__rate_interval"}), (uid, panel["title"])
        else:
            assert windows <= {"$__range", CONFIG.cost.window}, (uid, panel["title"])
    assert any("$__rate_interval" in t["expr"] for _, _, t in TARGETS)


def test_queries_only_name_contract_metrics_and_their_labels():
    """Every selector is a series of the metric contract, matching only labels it has."""
    seen: set[str] = set()
    for uid, panel, target in TARGETS:
        for series, matchers in _SELECTOR.findall(target["expr"]):
            labels = {m.split("=")[0].rstrip("!~").strip() for m in matchers.split(",")}
            if series in RECORDED:  # recording rules keep (job, project) at most
                assert labels <= {"job", "project"}, (uid, panel["title"], series)
                continue
            assert labels <= set(labels_of(series)), (uid, panel["title"], series)
            seen.add(series)
        for name in re.findall(r"(?<![\"\w])(otel_perf_\w+)(?=[{\[])", target["expr"]):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert base in SPECS_BY_NAME or base in SELF_METRIC_LABELS, name
    assert "otel_perf_cost_usd_total" in seen and "otel_perf_api_errors_total" in seen


@pytest.mark.parametrize(
    ("uid", "kind", "title"),
    [
        ("otel-perf-cost", "stat", "Total cost"),
        ("otel-perf-cost", "piechart", "Cost by operation"),
        ("otel-perf-cost", "bargauge", "Cost by model"),
        ("otel-perf-cost", "stat", "Projected cost over 30d"),
        ("otel-perf-cost", "barchart", "Time spent by operation"),
        ("otel-perf-cost", "timeseries", "Average time per operation"),
        ("otel-perf-cost", "timeseries", "Generations per hour"),
        ("otel-perf-cost", "gauge", "Success rate"),
        ("otel-perf-cost", "stat", "Retries per success"),
        ("otel-perf-cost", "timeseries", "Queue wait"),
        ("otel-perf-cost", "timeseries", "Error trend"),
        ("otel-perf-cost", "table", "Recent error classes"),
        ("otel-perf-health", "timeseries", "Render failures by reason"),
        ("otel-perf-health", "table", "Render failures by template"),
        ("otel-perf-health", "timeseries", "API errors by endpoint and status"),
        ("otel-perf-health", "timeseries", "Slow operations by type"),
        ("otel-perf-health", "timeseries", "Slowness factor"),
        ("otel-perf-health", "timeseries", "Latency percentiles"),
        ("otel-perf-health", "timeseries", "Operations in progress"),
        ("otel-perf-projects", "table", "Projects"),
    ],
)
def test_seed_panels_exist_with_their_visualization(uid: str, kind: str, title: str):
    """The panels Story 6.2 AC3/AC5 and TRACK-008 ask for, as the kind of chart they name."""
    kinds = {p["title"]: p["type"] for p in DASHBOARDS[uid]["panels"]}
    assert kinds.get(title) == kind


def test_latency_panel_requests_exemplars_and_datasource_links_them_to_tempo():
    """Exemplars (trace_id, as the processor emits them) open the trace in Tempo."""
    latency = next(p for u, p in PANELS if p["title"] == "Latency percentiles")
    assert all(t["exemplar"] for t in latency["targets"])
    sources = {d["uid"]: d for d in _provisioning("datasources/otel-perf.yaml")["datasources"]}
    prometheus, tempo = sources["otel-perf-prometheus"], sources["otel-perf-tempo"]
    assert prometheus["type"] == "prometheus" and tempo["type"] == "tempo"
    assert prometheus["jsonData"]["exemplarTraceIdDestinations"] == [
        {"name": "trace_id", "datasourceUid": "otel-perf-tempo"}
    ]
    # The exposition carries the exemplar under that label name.
    registry = CollectorRegistry()
    otel_perf.configure(registry=registry, prometheus_port=None)
    with otel_perf.track_generation("generate_image", model="flux"):
        pass
    body, _ = generate(registry, "application/openmetrics-text")
    assert ' # {trace_id="' in body.decode()


def test_project_table_is_sortable_with_the_seed_columns():
    """Project comparison: cost, time, error rate and success rate per project, sortable."""
    table = next(p for u, p in PANELS if u == "otel-perf-projects" and p["type"] == "table")
    renames = next(t for t in table["transformations"] if t["id"] == "organize")
    columns = set(renames["options"]["renameByName"].values())
    assert {"Total cost", "Total time", "Error rate", "Success rate"} <= columns
    assert all(t["format"] == "table" and t["instant"] for t in table["targets"])
    assert table["options"]["showHeader"]  # header clicks sort in Grafana tables


def test_dashboard_provider_loads_the_dashboards_folder():
    """The provider's path is where compose mounts grafana/dashboards."""
    provider = _provisioning("dashboards/otel-perf.yaml")["providers"][0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert provider["type"] == "file" and provider["folderUid"] == "otel-perf"


def test_grafana_alert_rules_mirror_the_prometheus_rules_and_are_paused():
    """Same expression, labels, for and runbook; paused while Prometheus pages."""
    groups = _provisioning("alerting/otel-perf-rules.yaml")["groups"]
    rules = {r["uid"]: r for g in groups for r in g["rules"]}
    alerts = all_alerts(CONFIG)
    assert len(rules) == len(alerts) == 19
    assert {g["folder"] for g in groups} == {CONFIG.grafana.alert_folder}
    assert CONFIG.grafana.alert_folder != CONFIG.grafana.folder  # no provisioning conflict
    for alert in alerts:
        rule = rules[alert.uid]
        assert rule["title"] == alert.name and rule["for"] == alert.for_
        assert rule["isPaused"] is True
        assert rule["labels"] == alert.all_labels
        query = next(d for d in rule["data"] if d["refId"] == "A")
        assert query["model"]["expr"] == alert.expr
        assert query["datasourceUid"] == "otel-perf-prometheus"
        assert rule["condition"] == "C"
        assert "$value " not in rule["annotations"]["description"]
        assert rule["annotations"]["runbook_url"] == alert.runbook_url


def test_grafana_copy_of_the_held_alert_has_no_hold_on_the_pinned_grafana():
    """Grafana 12.1.1 ignores ``keepFiringFor`` in alert-rule provisioning files (it is read
    from 12.1.2 on, grafana/grafana#109699), so the Grafana copy of the one held alert carries
    none and the operations guide says so. Pinning a newer Grafana fails here: then emit the
    hold from the same definition value."""
    rules = {r["uid"]: r for g in _provisioning("alerting/otel-perf-rules.yaml")["groups"]
             for r in g["rules"]}  # fmt: skip
    held = [a for a in all_alerts(CONFIG) if a.keep_firing_for != "0s"]
    assert [(a.name, a.keep_firing_for) for a in held] == [("OtelPerfConsecutiveApiErrors", "10m")]
    assert not any("keepFiringFor" in rule or "keep_firing_for" in rule for rule in rules.values())
    assert GRAFANA_IMAGE.rpartition(":")[2] == "12.1.1"
    guide = " ".join((ROOT / "docs/operations.md").read_text().split())
    assert "Grafana 12.1.1 ignores `keepFiringFor` in alert-rule provisioning files" in guide


def test_switching_alerting_to_grafana_never_pages_twice():
    """grafana.alerting=grafana unpauses Grafana's rules and unhooks Prometheus's notifier."""
    default = render_all(CONFIG)
    switched = render_all(config_from_mapping({"grafana": {"alerting": "grafana"}}))
    for files, grafana_active in ((default, False), (switched, True)):
        prometheus = yaml.safe_load(files["prometheus/prometheus.yml"])
        rules = yaml.safe_load(files["grafana/provisioning/alerting/otel-perf-rules.yaml"])
        paused = {r["isPaused"] for g in rules["groups"] for r in g["rules"]}
        assert paused == {not grafana_active}
        assert ("alerting" in prometheus) is not grafana_active


def test_grafana_notifications_reach_the_stack_alertmanager():
    """Grafana's contact point is the compose Alertmanager, so routing stays by severity."""
    notifications = _provisioning("alerting/otel-perf-notifications.yaml")
    (point,) = notifications["contactPoints"]
    (receiver,) = point["receivers"]
    assert receiver["type"] == "prometheus-alertmanager"
    assert receiver["settings"]["url"] == "http://alertmanager:9093"
    assert notifications["policies"][0]["receiver"] == point["name"]


def test_every_panel_links_to_traces_and_non_health_panels_to_the_health_dashboard():
    """Drill-downs: Tempo's Explore for the panel's service (failed traces on error panels),
    and the health dashboard with the time range and variables kept."""
    for uid, panel in PANELS:
        links = {link["title"]: link["url"] for link in panel["links"]}
        assert (
            "service.name" in links["Traces in Tempo"]
            and "otel-perf-tempo" in (links["Traces in Tempo"])
        ), (uid, panel["title"])
        failing = any(w in panel["title"].lower() for w in ("error", "fail"))
        assert ("status%20%3D%20error" in links["Traces in Tempo"]) is failing, panel["title"]
        if uid != "otel-perf-health":
            assert links["Render & API health"] == (
                "/d/otel-perf-health?${__url_time_range}&${__all_variables}"
            )


def test_time_series_panels_show_firing_alerts():
    """Every dashboard annotates its time series with Prometheus's firing otel-perf alerts."""
    for dashboard in DASHBOARDS.values():
        (alerts,) = [a for a in dashboard["annotations"]["list"] if a.get("target")]
        assert alerts["target"]["expr"].startswith(
            'ALERTS{alertstate="firing", alertname=~"OtelPerf.+"'
        )
        assert alerts["enable"] and alerts["datasource"]["uid"] == "${datasource}"


def test_rates_per_hour_have_per_hour_units():
    """A $/h series says $/h, not $ (the unit was missing)."""
    units = {(uid, p["title"]): p["fieldConfig"]["defaults"]["unit"] for uid, p in PANELS}
    assert units[("otel-perf-projects", "Spend rate by project")] == "suffix: $/h"
    assert units[("otel-perf-cost", "Generations per hour")] == "suffix: gen/h"


def test_slo_panels_read_the_recorded_period_series():
    """The health dashboard shows the error budget left and the success over the SLO period."""
    titles = {p["title"]: p for uid, p in PANELS if uid == "otel-perf-health"}
    budget = titles["Error budget left (30d SLO)"]["targets"][0]["expr"]
    assert budget == 'otel_perf:error_budget_remaining:ratio30d{job=~"$service"}'
    assert budget.split("{")[0] in RECORDED
    success = titles["Success over the 30d SLO period"]["targets"][0]["expr"]
    assert success.split("{")[0].removeprefix("1 - ") in RECORDED


def test_every_windowed_count_counts_the_first_event():
    """No panel uses a bare increase(): every windowed count goes through the generator's
    increase_exact (a series born in the time range counts from zero)."""
    for uid, panel, target in TARGETS:
        expr = target["expr"]
        for match in re.finditer(r"increase\(", expr):
            assert expr[: match.start()].rstrip().endswith("or"), (uid, panel["title"])
        if "increase(" in expr:
            assert "last_over_time(" in expr and "resets(" in expr, (uid, panel["title"])
