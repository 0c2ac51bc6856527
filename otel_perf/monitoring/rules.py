"""Alerting and recording rules as data, built from the metric contract and the config.

One :class:`AlertRule` per alert (the burn-rate alert has one per window pair). Prometheus
rule files and Grafana alert rules are both rendered from these objects, so the two paths
cannot disagree. Every ratio divides by ``(traffic >= min_operations)`` so an idle service
(no operations, or too few to judge) yields no result instead of a division by zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from otel_perf import metrics as M
from otel_perf.attributes import RENDER_OPERATIONS
from otel_perf.monitoring.config import BurnWindow, MonitoringConfig
from otel_perf.monitoring.promql import Eq, Ne, Re, alternatives, number, selector

SEVERITIES: Final = ("critical", "warning", "info")
RENDER_OPS: Final = alternatives(tuple(RENDER_OPERATIONS.values()))
_COUNT: Final = M.OPERATION_DURATION + "_count"


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule with everything a responder needs."""

    name: str
    group: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook_url: str
    labels: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def anchor(self) -> str:
        """The runbook section anchor (GitHub's anchor of a ``## Name`` heading)."""
        return self.name.lower()

    @property
    def all_labels(self) -> dict[str, str]:
        """``severity`` followed by the extra labels."""
        return {"severity": self.severity, **self.labels}

    @property
    def uid(self) -> str:
        """A stable identifier (Grafana rule UID) unique among all rules."""
        words = re.findall(r"[A-Z][a-z]*", self.name.removeprefix("OtelPerf"))
        return "-".join(["otel-perf", *(w.lower() for w in words), *self.labels.values()])


@dataclass(frozen=True)
class RecordingRule:
    """One recording rule."""

    record: str
    expr: str


@dataclass(frozen=True)
class RuleGroup:
    """A named group of rules evaluated together."""

    name: str
    rules: tuple[AlertRule | RecordingRule, ...]


def _pct(fraction: float) -> str:
    return f"{round(fraction * 100, 6):g}%"


def _count(**matchers: object) -> str:
    return selector(_COUNT, **matchers)  # type: ignore[arg-type]


def error_ratio_record(window: str) -> str:
    """Name of the recorded error ratio over ``window``."""
    return f"otel_perf:operation_error_ratio:rate{window}"


def operations_record(window: str) -> str:
    """Name of the recorded number of operations over ``window``."""
    return f"otel_perf:operations:increase{window}"


def slo_windows(config: MonitoringConfig) -> tuple[str, ...]:
    """Every window the burn-rate alerts need, each once, in order of appearance."""
    windows: dict[str, None] = {}
    for burn in config.slo.burn_windows:
        windows[burn.long] = None
        windows[burn.short] = None
    return tuple(windows)


def recording_rules(config: MonitoringConfig) -> tuple[RuleGroup, ...]:
    """Per-service error ratio and traffic over every SLO window.

    The ratio divides increases rather than rates: the same number, without two extra
    floating-point divisions, so a ratio exactly at a burn threshold stays exactly there.
    """
    rules: list[AlertRule | RecordingRule] = []
    for window in slo_windows(config):
        rules.append(
            RecordingRule(
                error_ratio_record(window),
                f"sum by (job) (increase({_count(status=Eq('error'))}[{window}]))\n"
                f"/\n(sum by (job) (increase({_COUNT}[{window}])) > 0)",
            )
        )
        rules.append(
            RecordingRule(operations_record(window), f"sum by (job) (increase({_COUNT}[{window}]))")
        )
    return (RuleGroup("otel-perf-slo.rules", tuple(rules)),)


def alerting_rules(config: MonitoringConfig) -> tuple[RuleGroup, ...]:
    """Every alert, grouped as the rule files are."""
    a = config.alerts

    def alert(
        name: str, group: str, expr: str, for_: str, severity: str, summary: str, description: str
    ) -> AlertRule:
        return _alert(config, name, group, expr, for_, severity, summary, description)

    err = a.high_error_rate
    ok = a.success_rate_low
    slow = a.slow_renders
    api = a.api_degradation
    tpl = a.template_failing
    consecutive = a.consecutive_api_errors
    operations = [
        alert(
            "OtelPerfHighErrorRate",
            "otel-perf-operations",
            f"sum by (job) (increase({_count(status=Eq('error'))}[{err.window}]))\n"
            f"/\n(sum by (job) (increase({_COUNT}[{err.window}])) >= {err.min_operations})\n"
            f"> {number(err.threshold)}",
            err.for_,
            "critical",
            "Operations are failing above the error-rate threshold.",
            f"{{{{ $value | humanizePercentage }}}} of the operations of {{{{ $labels.job }}}} "
            f"failed over the last {err.window} (threshold {_pct(err.threshold)}).",
        ),
        alert(
            "OtelPerfApiDegradation",
            "otel-perf-operations",
            f"sum by (job) (increase({M.API_ERRORS}[{api.window}])) > {number(api.threshold)}",
            api.for_,
            "warning",
            "API calls are failing.",
            f"{{{{ $labels.job }}}} had {{{{ $value | humanize }}}} API errors in the last "
            f"{api.window} (threshold: more than {number(api.threshold)}).",
        ),
        alert(
            "OtelPerfSlowRenders",
            "otel-perf-operations",
            f"sum by (job) (increase({selector(M.SLOW_OPERATIONS, operation=Re(RENDER_OPS))}"
            f"[{slow.window}]))\n/\n"
            f"(sum by (job) (increase({_count(operation=Re(RENDER_OPS), status=Eq('success'))}"
            f"[{slow.window}])) >= {slow.min_operations})\n> {number(slow.threshold)}",
            slow.for_,
            "warning",
            "Most renders are slower than their threshold.",
            f"{{{{ $value | humanizePercentage }}}} of the completed renders of "
            f"{{{{ $labels.job }}}} were slower than their threshold over the last "
            f"{slow.window} (threshold {_pct(slow.threshold)}).",
        ),
        alert(
            "OtelPerfTemplateFailing",
            "otel-perf-operations",
            f"sum by (job, template) (increase({selector(M.RENDER_FAILURES, template=Ne(''))}"
            f"[{tpl.window}])) > {number(tpl.threshold)}",
            tpl.for_,
            "warning",
            "A render template keeps failing.",
            f"Template {{{{ $labels.template }}}} of {{{{ $labels.job }}}} failed "
            f"{{{{ $value | humanize }}}} times in the last {tpl.window} "
            f"(threshold: more than {number(tpl.threshold)}).",
        ),
        alert(
            "OtelPerfConsecutiveApiErrors",
            "otel-perf-operations",
            f"max by (job, endpoint) (max_over_time({M.API_CONSECUTIVE_ERRORS}"
            f"[{consecutive.window}])) >= {number(consecutive.threshold)}",
            consecutive.for_,
            "warning",
            "Consecutive API calls to one endpoint failed.",
            f"{{{{ $value | humanize }}}} consecutive calls to {{{{ $labels.endpoint }}}} from "
            f"{{{{ $labels.job }}}} failed (threshold {number(consecutive.threshold)}).",
        ),
        alert(
            "OtelPerfSuccessRateLow",
            "otel-perf-operations",
            f"1 - (\n  sum by (job) (increase({_count(status=Eq('error'))}[{ok.window}]))\n"
            f"  /\n  (sum by (job) (increase({_COUNT}[{ok.window}])) >= {ok.min_operations})\n"
            f") < {number(ok.threshold)}",
            ok.for_,
            "warning",
            "The success rate is low.",
            f"Only {{{{ $value | humanizePercentage }}}} of the operations of "
            f"{{{{ $labels.job }}}} succeeded over the last {ok.window} "
            f"(threshold {_pct(ok.threshold)}).",
        ),
    ]
    slo = [_burn_alert(config, burn) for burn in config.slo.burn_windows]
    cost = config.cost
    unpriced = a.unpriced_operations
    costs = [
        alert(
            "OtelPerfProjectCostHigh",
            "otel-perf-cost",
            f"sum by (project) (increase({selector(M.COST_USD, project=Ne(''))}[{cost.window}]))"
            f" > {number(cost.budget_usd)}",
            a.project_cost_high.for_,
            "warning",
            "A project is over its cost budget.",
            f'Project {{{{ $labels.project }}}} cost ${{{{ $value | printf "%.2f" }}}} over '
            f"the last {cost.window} (budget ${cost.budget_usd:.2f}).",
        ),
        alert(
            "OtelPerfUnpricedOperations",
            "otel-perf-cost",
            f"sum by (job, operation, model) (increase({M.UNPRICED_OPERATIONS}"
            f"[{unpriced.window}])) > 0",
            unpriced.for_,
            "info",
            "Operations ran on a model without a price.",
            f"{{{{ $value | humanize }}}} {{{{ $labels.operation }}}} operations on model "
            f'"{{{{ $labels.model }}}}" of {{{{ $labels.job }}}} had no price in the last '
            f"{unpriced.window}; their cost is missing from every total.",
        ),
    ]
    absent = a.telemetry_absent
    stuck = a.operations_stuck
    overflow = a.cardinality_overflow
    internal = a.internal_errors
    telemetry = [
        alert(
            "OtelPerfTelemetryAbsent",
            "otel-perf-telemetry",
            f"group by (job, instance) (present_over_time({_COUNT}[{absent.window}]))\n"
            f"unless on (job, instance)\n(up == 1)",
            absent.for_,
            "warning",
            "A service's otel-perf metrics disappeared.",
            f"{{{{ $labels.instance }}}} of {{{{ $labels.job }}}} exposed otel-perf metrics in "
            f"the last {absent.window} but is not scraped successfully now.",
        ),
        alert(
            "OtelPerfOperationsStuck",
            "otel-perf-telemetry",
            f"(\n  min_over_time({M.OPERATIONS_IN_PROGRESS}[{stuck.window}]) > 0\n  and\n"
            f"  {M.OPERATIONS_IN_PROGRESS} offset {stuck.window}\n)\n"
            f"unless on (job, operation)\n"
            f"(sum by (job, operation) (increase({_COUNT}[{stuck.window}])) > 0)",
            stuck.for_,
            "warning",
            "Operations are stuck in progress.",
            f"{{{{ $value | humanize }}}} or more {{{{ $labels.operation }}}} operations have "
            f"been in progress on {{{{ $labels.instance }}}} ({{{{ $labels.job }}}}) for the "
            f"whole last {stuck.window} and none finished.",
        ),
        alert(
            "OtelPerfCardinalityOverflow",
            "otel-perf-telemetry",
            f"sum by (job, metric) (increase({M.SERIES_OVERFLOW}[{overflow.window}])) > 0",
            overflow.for_,
            "warning",
            "Label sets are being folded into __overflow__.",
            f"{{{{ $value | humanize }}}} new label sets of {{{{ $labels.metric }}}} in "
            f"{{{{ $labels.job }}}} were folded into __overflow__ in the last {overflow.window}.",
        ),
        alert(
            "OtelPerfInternalErrors",
            "otel-perf-telemetry",
            f"sum by (job, stage) (increase({M.INTERNAL_ERRORS}[{internal.window}])) > 0",
            internal.for_,
            "warning",
            "otel-perf caught internal errors.",
            f"otel-perf caught {{{{ $value | humanize }}}} internal errors at stage "
            f"{{{{ $labels.stage }}}} in {{{{ $labels.job }}}} in the last {internal.window}.",
        ),
    ]
    return (
        RuleGroup("otel-perf-operations", tuple(operations)),
        RuleGroup("otel-perf-slo", tuple(slo)),
        RuleGroup("otel-perf-cost", tuple(costs)),
        RuleGroup("otel-perf-telemetry", tuple(telemetry)),
    )


def _alert(
    config: MonitoringConfig,
    name: str,
    group: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    **labels: str,
) -> AlertRule:
    """An alert whose runbook link is derived from its name: none can be forgotten."""
    return AlertRule(
        name,
        group,
        expr,
        for_,
        severity,
        summary,
        description,
        config.runbook_url(name.lower()),
        MappingProxyType(labels),
    )


def _burn_alert(config: MonitoringConfig, burn: BurnWindow) -> AlertRule:
    slo = config.slo
    budget = 1 - slo.target
    limit = number(burn.factor * budget)
    expr = (
        f"{error_ratio_record(burn.long)} > {limit}\nand\n"
        f"{error_ratio_record(burn.short)} > {limit}\nand on (job)\n"
        f"{operations_record(burn.long)} >= {slo.min_operations}"
    )
    return _alert(
        config,
        "OtelPerfErrorBudgetBurn",
        "otel-perf-slo",
        expr,
        burn.for_,
        burn.severity,
        "The success SLO's error budget is burning fast.",
        f"{{{{ $labels.job }}}} is burning its error budget {number(burn.factor)}x faster "
        f"than sustainable: {{{{ $value | humanizePercentage }}}} of operations failed over "
        f"the last {burn.long}, and over {_pct(burn.factor * budget)} in the last {burn.short} "
        f"too (SLO {_pct(slo.target)} success).",
        long_window=burn.long,
        short_window=burn.short,
    )


def all_alerts(config: MonitoringConfig) -> tuple[AlertRule, ...]:
    """Every alerting rule, flattened."""
    return tuple(
        rule
        for group in alerting_rules(config)
        for rule in group.rules
        if isinstance(rule, AlertRule)
    )
