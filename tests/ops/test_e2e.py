"""End to end: real Prometheus and Alertmanager, rules from the generator, the demo as load.

Two stacks run side by side at the default 15 s scrape, each with its own Prometheus,
Alertmanager and webhook receiver, all rendered from ``e2e-monitoring.yaml`` (the shipped
rules, shorter ``for``): a failing demo run must page through Alertmanager, a healthy one
must raise nothing but the Watchdog. Each seed alert must fire within one evaluation plus
its ``for`` of the scrape at which its raw counters crossed the threshold (computed here
from the raw samples, without PromQL), and never where they did not cross. The failing
stack then answers every dashboard query: stat panels equal the ledger, ratios stay in
[0, 1] under every single variable selection.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_perf import metrics as M
from otel_perf.attributes import RENDER_OPERATIONS
from otel_perf.monitoring import config_from_mapping
from otel_perf.monitoring.dashboards import dashboards
from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.durations import seconds
from otel_perf.monitoring.grafana import render_dashboard
from otel_perf.monitoring.prometheus_files import (
    ScrapeJob,
    alertmanager_config,
    prometheus_config,
    rule_files,
)
from otel_perf.monitoring.rules import WATCHDOG, operations_record
from otel_perf.monitoring.serialize import to_yaml
from tests.support.servers import (
    Alertmanager,
    DemoProcess,
    Prometheus,
    WebhookReceiver,
    free_port,
    http_get,
    rfc3339,
    wait_until,
)
from tests.support.tools import require_tool

pytestmark = [pytest.mark.prometheus, pytest.mark.alertmanager]

JOB = "otel-perf-demo"
# About 100 s of work: six or seven scrapes see the counters climb through the thresholds.
FAILING_ARGS = ("--profile", "failing", "--seed", "42", "--count", "240", "--speed", "20",
                "--projects", "alpha,beta", "--hold", "600")  # fmt: skip
HEALTHY_ARGS = ("--profile", "healthy", "--seed", "7", "--count", "60", "--speed", "20",
                "--projects", "h1,h2,h3", "--hold", "600")  # fmt: skip
COUNT = M.OPERATION_DURATION + "_count"
RENDERS = set(RENDER_OPERATIONS.values())
# Alerts muted by inhibition in the failing run: the error-rate alerts cover them.
INHIBITED = {"OtelPerfSuccessRateLow", "OtelPerfProjectSuccessRateLow"}


def e2e_config(webhook_url: str) -> MonitoringConfig:
    """The test config, every severity (and the Watchdog) routed to ``webhook_url``."""
    data = yaml.safe_load((Path(__file__).parent / "e2e-monitoring.yaml").read_text())
    data["prometheus"]["service_job"] = JOB
    for severity in ("critical", "warning", "info", "watchdog"):
        data["alertmanager"][f"{severity}_webhooks"] = [f"{webhook_url}/{severity}"]
    return config_from_mapping(data)


@dataclass
class Stack:
    """One Prometheus + Alertmanager + webhook receiver scraping one demo process."""

    config: MonitoringConfig
    webhook: WebhookReceiver
    alertmanager: Alertmanager
    prometheus: Prometheus
    workdir: Path
    demo_port: int
    demo: DemoProcess | None = None
    ledger: dict[str, Any] = field(default_factory=dict)

    def start_demo(self, demo_args: tuple[str, ...]) -> DemoProcess:
        self.demo = DemoProcess(self.workdir, *demo_args, port=self.demo_port)
        return self.demo

    def stop(self) -> None:
        for part in (self.prometheus, self.alertmanager, self.demo):
            if part is not None:
                part.stop()
        self.webhook.stop()


def start_stack(workdir: Path) -> Stack:
    """Render rules and configs with the generator and start the servers; the demo they
    scrape is started later (:meth:`Stack.start_demo`)."""
    workdir.mkdir(parents=True)
    webhook = WebhookReceiver()
    config = e2e_config(webhook.url)
    (workdir / "rules").mkdir()
    for name, content in rule_files(config).items():
        (workdir / "rules" / name).write_text(to_yaml(content))
    (workdir / "alertmanager.yml").write_text(to_yaml(alertmanager_config(config)))
    alertmanager = Alertmanager(workdir / "alertmanager.yml", workdir)
    demo_port = free_port()
    (workdir / "prometheus.yml").write_text(
        to_yaml(
            prometheus_config(
                config,
                jobs=(ScrapeJob(JOB, (f"127.0.0.1:{demo_port}",)),),
                alertmanagers=(f"127.0.0.1:{alertmanager.port}",),
                rule_globs=(str(workdir / "rules" / "*.yml"),),
            )
        )
    )
    prometheus = Prometheus(workdir / "prometheus.yml", workdir)
    return Stack(config, webhook, alertmanager, prometheus, workdir, demo_port)


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Stack]]:
    """The failing and the healthy stack, run concurrently; both demos finished and
    scraped once more after finishing, and one more evaluation after that."""
    require_tool("prometheus")
    require_tool("prometheus-alertmanager")
    root = tmp_path_factory.mktemp("ops-e2e")
    started: dict[str, Stack] = {}
    try:
        started["failing"] = start_stack(root / "failing")
        started["healthy"] = start_stack(root / "healthy")
        # The firing times are read from the ALERTS series, which Prometheus starts writing
        # only at each rule group's third evaluation: without this wait, an alert whose
        # threshold the demo crosses within the first 30 s (TemplateFailing, at the second
        # or third scrape) showed one evaluation late in about half the runs.
        for stack in started.values():
            stack.prometheus.wait_alert_series_recorded(timeout=90)
        started["failing"].start_demo(FAILING_ARGS)
        started["healthy"].start_demo(HEALTHY_ARGS)
        for stack in started.values():
            stack.ledger = _demo(stack).wait_ledger(timeout=300)
        for stack in started.values():
            stack.prometheus.wait_for_scrape_after(time.time(), timeout=60)
        # The last change was scraped: every alert it causes fires within the longest
        # `for` plus one evaluation.
        config = started["failing"].config
        longest = max(seconds(s.for_) for s in _seed_settings(config))
        time.sleep(longest + seconds(config.prometheus.evaluation_interval) + 2)
        yield started
    finally:
        for stack in started.values():
            stack.stop()
        if _MEASURED:  # the alert timings and dashboard totals, for the record
            report = Path(os.environ.get("OTEL_PERF_E2E_REPORT", root / "measured.json"))
            report.write_text(json.dumps(_MEASURED, indent=2, sort_keys=True) + "\n")
            print(f"\nend-to-end measurements: {report}")


def _demo(stack: Stack) -> DemoProcess:
    assert stack.demo is not None, "the stack's demo was not started"
    return stack.demo


_MEASURED: dict[str, Any] = {}


def _seed_settings(config: MonitoringConfig) -> tuple[Any, ...]:
    """The settings of the seed alerts whose timing is checked (each has a ``for_``)."""
    a = config.alerts
    return (a.high_error_rate, a.project_error_rate, a.success_rate_low,
            a.project_success_rate_low, a.api_degradation, a.template_failing,
            a.slow_renders, a.consecutive_api_errors, a.project_cost_high)  # fmt: skip


def _delivered(stack: Stack) -> list[dict[str, Any]]:
    """Every alert of every notification, with the receiver it was routed to."""
    return [
        {**alert, "receiver": note["receiver"]}
        for note in list(stack.webhook.notifications)
        for alert in note.get("alerts", [])
    ]


# --- The truth, from raw samples ------------------------------------------------------------

Samples = dict[frozenset[tuple[str, str]], list[tuple[float, float]]]


def _raw(stack: Stack, selector: str) -> Samples:
    """Every raw sample of ``selector`` in the last 30 minutes, by label set."""
    out: Samples = {}
    for series in stack.prometheus.query(f"{selector}[30m]"):
        labels = frozenset((k, v) for k, v in series["metric"].items() if k != "__name__")
        out[labels] = [(float(t), float(v)) for t, v in series["values"]]
    return out


def _in_window(points: list[tuple[float, float]], t: float, window: float) -> float:
    """How much a counter born at its first value grew in (t - window, t]."""
    inside = [v for ts, v in points if t - window < ts <= t]
    if not inside:
        return 0.0
    before = [v for ts, v in points if ts <= t - window]
    return inside[-1] - (before[-1] if before else 0.0)


def _grouped(
    samples: Samples, t: float, window: float, by: tuple[str, ...],
    keep: Callable[[dict[str, str]], bool] = lambda labels: True,
) -> dict[tuple[str, ...], float]:  # fmt: skip
    sums: dict[tuple[str, ...], float] = defaultdict(float)
    for labels, points in samples.items():
        named = dict(labels)
        if keep(named):
            sums[tuple(named.get(b, "") for b in by)] += _in_window(points, t, window)
    return sums


@dataclass(frozen=True)
class Seed:
    """A seed alert: its group labels and, per scrape time, the groups over threshold."""

    name: str
    by: tuple[str, ...]
    crossed: Callable[[float], set[tuple[str, ...]]]
    for_: str


def _seed_alerts(stack: Stack) -> list[Seed]:
    a = stack.config.alerts
    counts = _raw(stack, COUNT)
    errors = {k: v for k, v in counts.items() if ("status", "error") in k}

    def ratio(alert: Any, by: tuple[str, ...], low: bool) -> Callable[[float], set]:
        window = seconds(alert.window)

        def crossed(t: float) -> set[tuple[str, ...]]:
            every = _grouped(counts, t, window, by)
            failed = _grouped(errors, t, window, by)
            hits = set()
            for key, n in every.items():
                if n >= alert.min_operations:
                    share = failed.get(key, 0.0) / n
                    if (1 - share < alert.threshold) if low else (share > alert.threshold):
                        hits.add(key)
            return hits

        return crossed

    def count(series: str, alert: Any, by: tuple[str, ...]) -> Callable[[float], set]:
        samples, window = _raw(stack, series), seconds(alert.window)
        return lambda t: {
            k for k, v in _grouped(samples, t, window, by).items() if v > alert.threshold
        }

    slow, ok_renders = _raw(stack, M.SLOW_OPERATIONS), a.slow_renders

    def slow_renders(t: float) -> set[tuple[str, ...]]:
        window = seconds(ok_renders.window)
        done = _grouped(counts, t, window, ("job",),
                        lambda lb: lb["operation"] in RENDERS and lb["status"] == "success")  # fmt: skip
        late = _grouped(slow, t, window, ("job",), lambda lb: lb["operation"] in RENDERS)
        return {k for k, n in done.items()
                if n >= ok_renders.min_operations and late.get(k, 0) / n > ok_renders.threshold}  # fmt: skip

    streaks = _raw(stack, M.API_CONSECUTIVE_ERRORS)
    limit = a.consecutive_api_errors.threshold

    def consecutive(t: float) -> set[tuple[str, ...]]:
        window = seconds(a.consecutive_api_errors.window)
        return {(dict(lb)["job"], dict(lb)["endpoint"]) for lb, points in streaks.items()
                if any(v >= limit for ts, v in points if t - window < ts <= t)}  # fmt: skip

    costs, budget = _raw(stack, M.COST_USD), stack.config.cost
    return [
        Seed("OtelPerfHighErrorRate", ("job",), ratio(a.high_error_rate, ("job",), False),
             a.high_error_rate.for_),
        Seed("OtelPerfProjectHighErrorRate", ("job", "project"),
             ratio(a.project_error_rate, ("job", "project"), False), a.project_error_rate.for_),
        Seed("OtelPerfSuccessRateLow", ("job",), ratio(a.success_rate_low, ("job",), True),
             a.success_rate_low.for_),
        Seed("OtelPerfProjectSuccessRateLow", ("job", "project"),
             ratio(a.project_success_rate_low, ("job", "project"), True),
             a.project_success_rate_low.for_),
        Seed("OtelPerfApiDegradation", ("job",), count(M.API_ERRORS, a.api_degradation, ("job",)),
             a.api_degradation.for_),
        Seed("OtelPerfTemplateFailing", ("job", "template"),
             count(M.RENDER_FAILURES, a.template_failing, ("job", "template")),
             a.template_failing.for_),
        Seed("OtelPerfSlowRenders", ("job",), slow_renders, a.slow_renders.for_),
        Seed("OtelPerfConsecutiveApiErrors", ("job", "endpoint"), consecutive,
             a.consecutive_api_errors.for_),
        Seed("OtelPerfProjectCostHigh", ("project",),
             lambda t: {k for k, v in _grouped(costs, t, seconds(budget.window), ("project",),
                                               lambda lb: bool(lb.get("project"))).items()
                        if v > budget.budget_usd}, a.project_cost_high.for_),
    ]  # fmt: skip


def _truth(seed: Seed, times: list[float]) -> dict[tuple[str, ...], float]:
    """Per group, the first scrape time from which the condition held for ``for``."""
    hold = seconds(seed.for_)
    states = [(t, seed.crossed(t)) for t in times]
    first: dict[tuple[str, ...], float] = {}
    for i, (t, hits) in enumerate(states):
        for key in hits:
            if key in first:
                continue
            later = [h for u, h in states[i:] if u <= t + hold]
            if all(key in h for h in later):
                first[key] = t
    return first


def _fired(stack: Stack, seed: Seed) -> dict[tuple[str, ...], float]:
    """Per group, when Prometheus first evaluated the alert as firing."""
    fired: dict[tuple[str, ...], float] = {}
    for labels, points in _raw(stack, f'ALERTS{{alertname="{seed.name}", alertstate="firing"}}').items():  # fmt: skip
        named = dict(labels)
        key = tuple(named.get(b, "") for b in seed.by)
        fired[key] = min(fired.get(key, math.inf), points[0][0])
    return fired


def test_seed_alerts_fire_within_one_evaluation_plus_for_of_the_crossing(stacks):
    """Each seed alert fires for exactly the groups whose raw counters crossed its
    threshold, no earlier than the crossing scrape plus ``for`` and no later than one
    evaluation after that (plus the time that scrape took to land in the TSDB); the first
    event of every new series counts."""
    stack = stacks["failing"]
    step = seconds(stack.config.prometheus.evaluation_interval)
    times = sorted({t for points in _raw(stack, COUNT).values() for t, _ in points})
    assert len(times) >= 6  # the counters climbed over several scrapes
    (landing,) = _raw(stack, f'scrape_duration_seconds{{job="{JOB}"}}').values()
    took = dict(landing)
    # A sample is queryable once its scrape is committed, a moment after the scrape ends
    # (the stacks start their demos once Prometheus writes ALERTS from every evaluation).
    slack = 1.0
    timings: dict[str, list[dict[str, Any]]] = {}
    late = []
    for seed in _seed_alerts(stack):
        truth, fired = _truth(seed, times), _fired(stack, seed)
        assert truth, f"{seed.name}: the failing run never crossed its threshold"
        assert set(fired) == set(truth), (seed.name, truth, fired)
        hold = seconds(seed.for_)
        rows = timings[seed.name] = []
        for key in sorted(truth):
            delay, bound = fired[key] - truth[key], hold + step + took[truth[key]]
            rows.append({"group": list(key), "crossed_at": truth[key], "fired_at": fired[key],
                         "delay_s": round(delay, 3), "bound_s": round(bound, 3)})  # fmt: skip
            if not hold <= delay <= bound + slack:
                late.append((seed.name, key, delay, bound))
    _MEASURED["alert_timings"] = timings
    _MEASURED["alert_timing_slack_s"] = slack
    assert late == []


def test_failing_run_pages_the_expected_alerts_through_alertmanager(stacks):
    """What fired reaches the webhook routed by severity, fully annotated with absolute
    runbook links and integer counts; the success-rate alerts are inhibited by the
    error-rate alerts that cover the same failures."""
    stack = stacks["failing"]
    firing = {r["metric"]["alertname"]
              for r in stack.prometheus.query('max_over_time(ALERTS{alertstate="firing"}[30m])')}  # fmt: skip
    assert INHIBITED <= firing and "OtelPerfErrorBudgetBurn" in firing
    expected = firing - INHIBITED
    wait_until(lambda: expected <= stack.webhook.alert_names(), 60,
               what=f"alerts {sorted(expected)}")  # fmt: skip
    assert stack.webhook.alert_names() == expected
    for alert in _delivered(stack):
        labels, annotations = alert["labels"], alert["annotations"]
        severity = labels["severity"]
        receiver = (
            "otel-perf-watchdog" if labels["alertname"] == WATCHDOG else f"otel-perf-{severity}"
        )
        assert alert["receiver"] == receiver
        assert annotations["runbook_url"] == (
            f"http://localhost:8088/runbooks.md#{labels['alertname'].lower()}"
        )
        assert annotations["summary"] and "{{" not in annotations["description"]
        assert not re.search(r"\d\.\d+ (times|API errors|consecutive)", annotations["description"])
        if labels["alertname"] not in ("OtelPerfProjectCostHigh", WATCHDOG):
            assert labels["job"] == JOB
    templates = [
        a for a in _delivered(stack) if a["labels"]["alertname"] == "OtelPerfTemplateFailing"
    ]
    assert re.search(
        r" failed \d+ times in the last 1h", templates[0]["annotations"]["description"]
    )


def test_healthy_run_raises_no_alert(stacks):
    """While the rules saw traffic well above the low-traffic guard, no alert but the
    Watchdog was ever even pending; the Watchdog reached its own receiver."""
    stack = stacks["healthy"]
    assert stack.ledger["summary"]["failed"] == 0
    assert stack.ledger["summary"]["operations"] == 60
    seen = stack.prometheus.value(f"max_over_time({operations_record('5m')}[30m])")
    assert seen is not None and seen >= stack.config.slo.min_operations
    for project_usd in _costs_by_project(stack).values():
        assert 0 < project_usd < stack.config.cost.budget_usd
    assert stack.prometheus.query(f'max_over_time(ALERTS{{alertname!="{WATCHDOG}"}}[30m])') == []
    wait_until(lambda: stack.webhook.alert_names() == {WATCHDOG}, 30, what="the Watchdog")
    assert {a["receiver"] for a in _delivered(stack)} == {"otel-perf-watchdog"}


def _costs_by_project(stack: Stack) -> dict[str, float]:
    costs: dict[str, float] = defaultdict(float)
    for sample in stack.ledger["expected"].get(M.COST_USD, []):
        costs[sample["labels"]["project"]] += sample["value"]
    return costs


@pytest.mark.parametrize("run", ["failing", "healthy"])
def test_prometheus_totals_match_the_demo_ledger(stacks, run: str):
    """Every counter and histogram count/sum Prometheus holds equals the ledger, no extras."""
    stack = stacks[run]
    compared = 0
    for name, samples in stack.ledger["expected"].items():
        got = {
            frozenset((k, v) for k, v in r["metric"].items()
                      if k not in ("__name__", "job", "instance")): float(r["value"][1])
            for r in stack.prometheus.query(name)
        }  # fmt: skip
        # Prometheus stores no empty labels: model="" on a render is simply absent.
        want = {frozenset((k, v) for k, v in s["labels"].items() if v): s["value"]
                for s in samples}  # fmt: skip
        assert set(got) == set(want), name
        for labels, value in want.items():
            assert got[labels] == pytest.approx(value, rel=1e-9, abs=1e-12), (name, labels)
            compared += 1
    assert compared >= 40


# --- Dashboards -----------------------------------------------------------------------------

RANGE_S = 1800  # the dashboards' time range in these checks: the whole run and more


def _substitute(expr: str, **variables: str) -> str:
    """Grafana's variables as a dashboard sends them (All = .*, unless given)."""
    values = {"service": JOB, "project": ".*", "operation": ".*", "model": ".*", **variables}
    expr = expr.replace("${service:regex}", values["service"])
    for name, value in {"$__rate_interval": "5m", "$__range_s": str(RANGE_S),
                        "$__range": f"{RANGE_S}s"}.items():  # fmt: skip
        expr = expr.replace(name, value)
    for name, value in values.items():
        expr = expr.replace(f"${name}", value)
    assert "$__" not in expr and not re.search(r"\$[a-z]", expr), expr
    return expr


def _panels(config: MonitoringConfig) -> list[tuple[str, dict[str, Any]]]:
    return [
        (dashboard["uid"], panel)
        for dashboard in (render_dashboard(d) for d in dashboards(config))
        for panel in dashboard["panels"]
    ]


def test_every_dashboard_query_returns_data(stacks):
    """Each panel query of every dashboard, variables substituted, returns finite values."""
    stack = stacks["failing"]
    empty, count = [], 0
    for uid, panel in _panels(stack.config):
        for target in panel["targets"]:
            count += 1
            values = [float(r["value"][1])
                      for r in stack.prometheus.query(_substitute(target["expr"]))]  # fmt: skip
            if not any(math.isfinite(v) for v in values):
                empty.append(f"{uid} / {panel['title']}: {target['expr']}")
    assert empty == []
    assert count >= 35


def _ledger_sum(stack: Stack, name: str, keep: Callable[[dict[str, str]], bool] = lambda _: True) -> float:  # fmt: skip
    return sum(s["value"] for s in stack.ledger["expected"].get(name, []) if keep(s["labels"]))


def test_every_stat_panel_equals_the_ledger(stacks):
    """At the end of the run, every stat and gauge panel reads what the ledger says."""
    stack = stacks["failing"]
    config = stack.config
    operations = _ledger_sum(stack, COUNT)
    failed = _ledger_sum(stack, COUNT, lambda lb: lb["status"] == "error")
    successes = operations - failed
    cost = _ledger_sum(stack, M.COST_USD)
    budget = 1 - config.slo.target
    want = {
        "Total cost": cost,
        f"Projected cost over {config.cost.window}": cost / RANGE_S * config.cost_window_seconds,
        "Success rate": successes / operations,
        "Unpriced operations": _ledger_sum(stack, M.UNPRICED_OPERATIONS),
        "Retries per success": _ledger_sum(stack, M.RETRIES) / successes,
        "Error rate": failed / operations,
        "Total errors": _ledger_sum(stack, M.OPERATION_ERRORS),
        f"Error budget left ({config.slo.period} SLO)": 1 - failed / operations / budget,
        "Slow share of completed renders": _ledger_sum(
            stack, M.SLOW_OPERATIONS, lambda lb: lb["operation"] in RENDERS
        )
        / _ledger_sum(
            stack, COUNT, lambda lb: lb["operation"] in RENDERS and lb["status"] == "success"
        ),
    }
    got: dict[str, float] = {}
    for _uid, panel in _panels(config):
        if panel["type"] in ("stat", "gauge"):
            (target,) = panel["targets"]
            value = stack.prometheus.value(_substitute(target["expr"]))
            assert value is not None, panel["title"]
            got[panel["title"]] = value
    assert set(got) == set(want)
    for title, value in want.items():
        assert got[title] == pytest.approx(value, rel=1e-9, abs=1e-9), title
    _MEASURED["stat_panels"] = {t: {"dashboard": got[t], "ledger": want[t]} for t in want}


def _ratio_targets(config: MonitoringConfig) -> list[tuple[str, str]]:
    """Queries of panels showing a share (percent, 0 to 1); budget shares may exceed 1."""
    return [
        (panel["title"], target["expr"])
        for _uid, panel in _panels(config)
        if panel["fieldConfig"]["defaults"]["unit"] == "percentunit"
        and "budget" not in panel["title"].lower()
        for target in panel["targets"]
    ]


def _grafana_regex_escape(value: str) -> str:
    """A variable value as Grafana puts it into a PromQL regex matcher (the Prometheus
    datasource's prometheusRegularEscape: regex metacharacters get ``\\\\``)."""
    return re.sub(r"([$^*{}\[\]'+?.()|])", r"\\\\\1", value.replace("\\", "\\\\\\\\"))


def test_every_ratio_stays_within_0_and_1_under_every_single_variable(stacks):
    """Setting any one variable to any one of its values (the others All) keeps every
    share between 0 and 1: both sides of a ratio are filtered alike."""
    stack = stacks["failing"]
    targets = _ratio_targets(stack.config)
    assert len(targets) >= 6
    checked = 0
    for variable, label in (("service", "job"), ("project", "project"),
                            ("operation", "operation"), ("model", "model")):  # fmt: skip
        offered = {s.get(label, "") for s in stack.prometheus.api("series", **{"match[]": COUNT})}
        for value in sorted(v for v in offered if v):
            for title, expr in targets:
                query = _substitute(expr, **{variable: _grafana_regex_escape(value)})
                for result in stack.prometheus.query(query):
                    share = float(result["value"][1])
                    assert 0 <= share <= 1, (variable, value, title, share)
                    checked += 1
    assert checked >= 100


def test_dashboard_variables_offer_the_demo_values(stacks):
    """service, project, operation and model list what the demo produced."""
    stack = stacks["failing"]
    dashboard = render_dashboard(dashboards(stack.config)[0])
    offered: dict[str, set[str]] = {}
    for variable in dashboard["templating"]["list"][1:]:
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
        assert match is not None
        series = stack.prometheus.api("series", **{"match[]": _substitute(match.group(1))})
        offered[variable["name"]] = {s.get(match.group(2), "") for s in series}
    assert offered["service"] == {JOB}
    assert offered["project"] == {"alpha", "beta"}
    assert {"generate_image", "render_video", "api_call"} <= offered["operation"]
    assert {"flux", "imagen", "veo"} <= offered["model"]


def test_latency_exemplars_carry_trace_ids(stacks):
    """The duration histogram's exemplars reached Prometheus with 32-hex-digit trace ids."""
    stack = stacks["failing"]
    now = time.time()
    data = stack.prometheus.api("query_exemplars", query=M.OPERATION_DURATION + "_bucket",
                                start=now - 1800, end=now)  # fmt: skip
    trace_ids = {e["labels"]["trace_id"] for series in data for e in series["exemplars"]}
    assert len(trace_ids) >= 10
    assert all(re.fullmatch(r"[0-9a-f]{32}", t) for t in trace_ids)


def test_stopped_service_raises_telemetry_absent_which_mutes_its_other_alerts(stacks):
    """When the demo stops being scrapeable, OtelPerfTelemetryAbsent reaches the webhook,
    and Alertmanager inhibits the job's other alerts (their data is the past)."""
    stack = stacks["failing"]
    _demo(stack).stop()
    wait_until(lambda: "OtelPerfTelemetryAbsent" in stack.webhook.alert_names(), 60,
               what="OtelPerfTelemetryAbsent")  # fmt: skip
    absent = [a for a in _delivered(stack)
              if a["labels"]["alertname"] == "OtelPerfTelemetryAbsent"]  # fmt: skip
    assert absent[0]["labels"]["instance"] == f"127.0.0.1:{stack.demo_port}"
    assert absent[0]["receiver"] == "otel-perf-warning"

    def muted() -> set[str]:
        alerts = json.loads(http_get(f"{stack.alertmanager.url}/api/v2/alerts", timeout=5))
        return {a["labels"]["alertname"] for a in alerts
                if a["labels"].get("job") == JOB and a["status"]["inhibitedBy"]}  # fmt: skip

    wait_until(lambda: {"OtelPerfTemplateFailing", "OtelPerfHighErrorRate"} <= muted(), 30,
               what="the job's alerts inhibited by OtelPerfTelemetryAbsent")  # fmt: skip


def test_prometheus_writes_the_alerts_series_from_a_groups_third_evaluation(tmp_path: Path):
    """Why the stacks start their demos late: an alert active from a rule group's first
    evaluation has no ALERTS sample before the group's third evaluation (Prometheus
    restores ``for`` state after the second), and once ``wait_alert_series_recorded``
    returns, every evaluation writes one."""
    rules = {"groups": [{"name": "restore", "interval": "1s", "rules": [
        {"record": "evaluated", "expr": "vector(1)"},
        {"alert": "AlwaysActive", "expr": "vector(1)", "for": "0s"},
    ]}]}  # fmt: skip
    (tmp_path / "rules.yml").write_text(to_yaml(rules))
    (tmp_path / "prometheus.yml").write_text(
        to_yaml(
            {"global": {"evaluation_interval": "1s"}, "rule_files": [str(tmp_path / "rules.yml")]}
        )
    )
    prometheus = Prometheus(tmp_path / "prometheus.yml", tmp_path)
    try:
        prometheus.wait_alert_series_recorded(timeout=30)
        begun = time.time()

        def samples(selector: str) -> list[float]:
            return sorted(
                float(t) for s in prometheus.query(f"{selector}[5m]") for t, _ in s["values"]
            )

        wait_until(lambda: [t for t in samples("ALERTS") if t > begun][2:], 30, what="ALERTS")
        evaluations = samples("evaluated")
        written = [t for t in samples("ALERTS") if t <= evaluations[-1]]
        (rule,) = prometheus.api("rules")["groups"][0]["rules"][1:]
        active_at = rfc3339(rule["alerts"][0]["activeAt"])
    finally:
        prometheus.stop()
    assert active_at == pytest.approx(evaluations[0], abs=1e-3)  # active (and sent) at once
    assert written[0] == evaluations[2]  # but recorded from the third evaluation on
    assert written == evaluations[2 : 2 + len(written)]  # and from every one after that
