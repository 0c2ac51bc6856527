"""Alerting and recording rules as data, built from the metric contract and the config.

One :class:`AlertRule` per alert (the burn-rate alert has one per window pair). Prometheus
rule files and Grafana alert rules are both rendered from these objects, so the two paths
cannot disagree. Every ratio divides by ``(traffic >= min_operations)`` so an idle service
(no operations, or too few to judge) yields no result instead of a division by zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import partial
from types import MappingProxyType
from typing import Final

from otel_perf import metrics as M
from otel_perf.attributes import RENDER_OPERATIONS
from otel_perf.monitoring.definition import BurnWindow, MonitoringConfig
from otel_perf.monitoring.durations import is_duration, seconds
from otel_perf.monitoring.promql import (
    Eq,
    Matcher,
    Ne,
    Re,
    alternatives,
    increase_exact,
    number,
    selector,
)
from otel_perf.monitoring.records import REPORT_DROPS, REPORT_EVALUATED, REPORT_OPERATIONS

SEVERITIES: Final = ("critical", "warning", "info")
#: OtelPerfWatchdog's severity: routed to the dead man's switch, never to a pager.
WATCHDOG_SEVERITY: Final = "none"
WATCHDOG: Final = "OtelPerfWatchdog"
TELEMETRY_ABSENT: Final = "OtelPerfTelemetryAbsent"
RENDER_OPS: Final = alternatives(tuple(RENDER_OPERATIONS.values()))
_COUNT: Final = M.OPERATION_DURATION + "_count"
#: The recorded hourly increases, by (job, project): what long windows are summed from.
HOURLY: Final = "1h"
#: Windows from this long on are summed from the hourly records instead of raw samples.
LONG_WINDOW_SECONDS: Final = 86400.0


def hourly_record(what: str) -> str:
    """``otel_perf:<what>:increase1h``, recorded by (job, project) once an hour: each
    sample is the exact increase of the hour before it (query it with ``[1h]`` ranges)."""
    return f"otel_perf:{what}:increase{HOURLY}"


#: What the hourly records count: record name part -> (series, matchers).
HOURLY_COUNTS: Final = {
    "operations": (_COUNT, {}),
    "failed_operations": (_COUNT, {"status": Eq("error")}),
    "cost_usd": (M.COST_USD, {}),
}


def report_rules() -> RuleGroup:
    """The records ``otel-perf report`` reads its trend grid from when they are present
    (raw series otherwise): about a hundred series per Prometheus instead of thousands."""
    return RuleGroup(
        "otel-perf-report.rules",
        (
            RecordingRule(REPORT_OPERATIONS, f"sum without ({', '.join(REPORT_DROPS)}) ({_COUNT})"),
            RecordingRule(REPORT_EVALUATED, "vector(time())"),
        ),
    )


def is_long(window: str) -> bool:
    """True when ``window`` is summed from hourly records (>= 1d and whole hours)."""
    if not is_duration(window):
        return False  # a Grafana variable such as $__range
    length = seconds(window)
    return length >= LONG_WINDOW_SECONDS and length % 3600 == 0


def window_total(
    series: str,
    window: str,
    by: tuple[str, ...] = (),
    *,
    hourly: str | None = None,
    selected: str | None = None,
    **matchers: Matcher | tuple[Matcher, ...] | None,
) -> str:
    """The one builder of every windowed count and total: ``sum by (by)`` of how much
    ``series`` grew over ``window``, a series born inside the window counted from zero
    (:func:`~otel_perf.monitoring.promql.increase_exact`).

    A long window (:func:`is_long`) with an ``hourly`` record (a key of ``HOURLY_COUNTS``)
    is summed from that record instead, kubernetes-mixin style: the record's group is
    evaluated once an hour, so its samples tile the window exactly (no overlap, no gap)
    and the current hour is not yet included (long windows lag by up to an hour).
    ``by`` must then be a subset of (job, project); matchers apply to those labels.
    ``selected`` is a ready selector of ``series`` (a dashboard's variable-scoped one) to
    use instead of building one from ``matchers``.

    >>> print(window_total("otel_perf_cost_usd_total", "30d", ("project",), hourly="cost_usd"))
    sum by (project) (sum_over_time(otel_perf:cost_usd:increase1h[30d]))
    """
    group = f"sum by ({', '.join(by)}) " if by else "sum "
    if hourly is not None and is_long(window):
        record = hourly_record(hourly)
        defined = HOURLY_COUNTS[hourly]
        kept = {k: v for k, v in matchers.items() if k in ("job", "project") and v is not None}
        baked = {k: v for k, v in matchers.items() if k not in kept and v is not None}
        if series != defined[0] or baked != defined[1] or not set(by) <= {"job", "project"}:
            raise ValueError(f"{hourly_record(hourly)} does not count {series} {baked} by {by}")
        parts = [
            m.render(label)
            for label, given in kept.items()
            for m in (given if isinstance(given, tuple) else (given,))
        ]
        selected = f"{record}{{{', '.join(parts)}}}" if parts else record
        return f"{group}(sum_over_time({selected}[{window}]))"
    if selected is not None and matchers:
        raise ValueError("window_total: pass either a selector or matchers, not both")
    chosen = selected if selected is not None else selector(series, **matchers)
    return f"{group}({increase_exact(chosen, window)})"


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
    keep_firing_for: str = "0s"

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
    """A named group of rules evaluated together (every ``interval``, if set)."""

    name: str
    rules: tuple[AlertRule | RecordingRule, ...]
    interval: str | None = None


def pct(fraction: float) -> str:
    """A fraction as a percentage without float noise: ``0.05`` -> ``5%``."""
    return f"{round(fraction * 100, 6):g}%"


#: A count in an annotation: ``{{ $value }}`` is a float, counts print as integers.
COUNT_VALUE: Final = '{{ $value | printf "%.0f" }}'
USD_VALUE: Final = '{{ $value | printf "%.2f" }}'


def error_ratio_record(window: str) -> str:
    """Name of the recorded error ratio (failed / all operations) over ``window``, by job."""
    return f"otel_perf:operation_error_ratio:rate{window}"


def operations_record(window: str) -> str:
    """Name of the recorded number of operations over ``window``, by job."""
    return f"otel_perf:job_operations:increase{window}"


def failed_record(window: str) -> str:
    """Name of the recorded number of failed operations over ``window``, by job."""
    return f"otel_perf:job_failed_operations:increase{window}"


def cost_record(window: str) -> str:
    """Name of the recorded cost over ``window``, by project."""
    return f"otel_perf:cost_usd:increase{window}"


def budget_remaining_record(period: str) -> str:
    """Name of the recorded share of the SLO's error budget left over ``period``, by job."""
    return f"otel_perf:error_budget_remaining:ratio{period}"


def slo_windows(config: MonitoringConfig) -> tuple[str, ...]:
    """Every window the burn-rate alerts and the SLO panel need, each once, in order."""
    windows: dict[str, None] = {}
    for burn in config.slo.burn_windows:
        windows[burn.long] = None
        windows[burn.short] = None
    windows[config.slo.period] = None
    return tuple(windows)


def recording_rules(config: MonitoringConfig) -> tuple[RuleGroup, ...]:
    """Hourly increases by (job, project); per job, operations, failures and their ratio
    over every SLO window, the error budget left over the SLO period; the cost per project
    over the budget window.

    The ratio divides counts rather than rates: the same number, without two extra
    floating-point divisions, so a ratio exactly at a burn threshold stays exactly there.
    """
    hourly: list[AlertRule | RecordingRule] = [
        RecordingRule(
            hourly_record(what),
            window_total(series, HOURLY, ("job", "project"), **matchers),  # type: ignore[arg-type]
        )
        for what, (series, matchers) in HOURLY_COUNTS.items()
    ]
    slo: list[AlertRule | RecordingRule] = []
    for window in slo_windows(config):
        slo.append(
            RecordingRule(
                operations_record(window),
                window_total(_COUNT, window, ("job",), hourly="operations"),
            )
        )
        slo.append(
            RecordingRule(
                failed_record(window),
                window_total(
                    _COUNT, window, ("job",), hourly="failed_operations", status=Eq("error")
                ),
            )
        )
        slo.append(
            RecordingRule(
                error_ratio_record(window),
                f"({failed_record(window)} or 0 * {operations_record(window)})\n"
                f"/\n({operations_record(window)} > 0)",
            )
        )
    period = config.slo.period
    slo.append(
        RecordingRule(
            budget_remaining_record(period),
            f"1 - {error_ratio_record(period)} / {number(1 - config.slo.target)}",
        )
    )
    cost = config.cost
    slo.append(
        RecordingRule(
            cost_record(cost.window),
            window_total(M.COST_USD, cost.window, ("project",), hourly="cost_usd", project=Ne("")),
        )
    )
    return (
        RuleGroup("otel-perf-hourly.rules", tuple(hourly), interval=HOURLY),
        RuleGroup("otel-perf-slo.rules", tuple(slo)),
        report_rules(),
    )


def alerting_rules(config: MonitoringConfig) -> tuple[RuleGroup, ...]:
    """Every alert, grouped as the rule files are."""
    a = config.alerts

    alert = partial(_alert, config)

    def error_ratio(by: tuple[str, ...], window: str, minimum: int) -> str:
        failed = window_total(_COUNT, window, by, status=Eq("error"))
        every = window_total(_COUNT, window, by)
        return f"{failed}\n/\n({every} >= {minimum})"

    err = a.high_error_rate
    perr = a.project_error_rate
    ok = a.success_rate_low
    pok = a.project_success_rate_low
    slow = a.slow_renders
    api = a.api_degradation
    tpl = a.template_failing
    consecutive = a.consecutive_api_errors
    job_project = ("job", "project")
    operations = [
        alert(
            "OtelPerfHighErrorRate",
            "otel-perf-operations",
            f"{error_ratio(('job',), err.window, err.min_operations)}\n> {number(err.threshold)}",
            err.for_,
            "critical",
            "Operations are failing above the error-rate threshold.",
            f"{{{{ $value | humanizePercentage }}}} of the operations of {{{{ $labels.job }}}} "
            f"failed over the last {err.window} (threshold {pct(err.threshold)}).",
        ),
        alert(
            "OtelPerfProjectHighErrorRate",
            "otel-perf-operations",
            f"{error_ratio(job_project, perr.window, perr.min_operations)}\n"
            f"> {number(perr.threshold)}",
            perr.for_,
            "warning",
            "A project's operations are failing above its error-rate threshold.",
            f"{{{{ $value | humanizePercentage }}}} of the operations of project "
            f"{{{{ $labels.project }}}} on {{{{ $labels.job }}}} failed over the last "
            f"{perr.window} (threshold {pct(perr.threshold)}).",
        ),
        alert(
            "OtelPerfApiDegradation",
            "otel-perf-operations",
            f"{window_total(M.API_ERRORS, api.window, ('job',))}\n> {number(api.threshold)}",
            api.for_,
            "warning",
            "API calls are failing.",
            f"{{{{ $labels.job }}}} had {COUNT_VALUE} API errors in the last "
            f"{api.window} (threshold: more than {number(api.threshold)}).",
        ),
        alert(
            "OtelPerfSlowRenders",
            "otel-perf-operations",
            f"{window_total(M.SLOW_OPERATIONS, slow.window, ('job',), operation=Re(RENDER_OPS))}"
            f"\n/\n({window_total(_COUNT, slow.window, ('job',), operation=Re(RENDER_OPS), status=Eq('success'))}"
            f" >= {slow.min_operations})\n> {number(slow.threshold)}",
            slow.for_,
            "warning",
            "Most renders are slower than their threshold.",
            f"{{{{ $value | humanizePercentage }}}} of the completed renders of "
            f"{{{{ $labels.job }}}} were slower than their threshold over the last "
            f"{slow.window} (threshold {pct(slow.threshold)}).",
        ),
        alert(
            "OtelPerfTemplateFailing",
            "otel-perf-operations",
            f"{window_total(M.RENDER_FAILURES, tpl.window, ('job', 'template'), template=Ne(''))}"
            f"\n> {number(tpl.threshold)}",
            tpl.for_,
            "warning",
            "A render template keeps failing.",
            f"Template {{{{ $labels.template }}}} of {{{{ $labels.job }}}} failed "
            f"{COUNT_VALUE} times in the last {tpl.window} "
            f"(threshold: more than {number(tpl.threshold)}).",
        ),
        replace(
            alert(
                "OtelPerfConsecutiveApiErrors",
                "otel-perf-operations",
                f"max by (job, endpoint) (max_over_time({M.API_CONSECUTIVE_ERRORS}"
                f"[{consecutive.window}])) >= {number(consecutive.threshold)}",
                consecutive.for_,
                "warning",
                "Consecutive API calls to one endpoint failed.",
                f"{COUNT_VALUE} consecutive calls to {{{{ $labels.endpoint }}}} from "
                f"{{{{ $labels.job }}}} failed (threshold {number(consecutive.threshold)}).",
            ),
            keep_firing_for=consecutive.keep_firing_for,
        ),
        alert(
            "OtelPerfSuccessRateLow",
            "otel-perf-operations",
            f"1 - (\n{error_ratio(('job',), ok.window, ok.min_operations)}\n)"
            f" < {number(ok.threshold)}",
            ok.for_,
            "warning",
            "The success rate is low.",
            f"Only {{{{ $value | humanizePercentage }}}} of the operations of "
            f"{{{{ $labels.job }}}} succeeded over the last {ok.window} "
            f"(threshold {pct(ok.threshold)}).",
        ),
        alert(
            "OtelPerfProjectSuccessRateLow",
            "otel-perf-operations",
            f"1 - (\n{error_ratio(job_project, pok.window, pok.min_operations)}\n)"
            f" < {number(pok.threshold)}",
            pok.for_,
            "warning",
            "A project's success rate is low.",
            f"Only {{{{ $value | humanizePercentage }}}} of the operations of project "
            f"{{{{ $labels.project }}}} on {{{{ $labels.job }}}} succeeded over the last "
            f"{pok.window} (threshold {pct(pok.threshold)}).",
        ),
    ]
    slo = [_burn_alert(config, burn) for burn in config.slo.burn_windows]
    cost = config.cost
    unpriced = a.unpriced_operations
    costs = [
        alert(
            "OtelPerfProjectCostHigh",
            "otel-perf-cost",
            f"{window_total(M.COST_USD, cost.window, ('project',), hourly='cost_usd', project=Ne(''))}"
            f"\n> {number(cost.budget_usd)}",
            a.project_cost_high.for_,
            "warning",
            "A project is over its cost budget.",
            f"Project {{{{ $labels.project }}}} cost ${USD_VALUE} over "
            f"the last {cost.window} (budget ${cost.budget_usd:.2f}).",
        ),
        alert(
            "OtelPerfUnpricedOperations",
            "otel-perf-cost",
            f"{window_total(M.UNPRICED_OPERATIONS, unpriced.window, ('job', 'operation', 'model'))}"
            f"\n> 0",
            unpriced.for_,
            "info",
            "Operations ran on a model without a price.",
            f"{COUNT_VALUE} {{{{ $labels.operation }}}} operations on model "
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
            TELEMETRY_ABSENT,
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
            f"({window_total(_COUNT, stuck.window, ('job', 'operation'))} > 0)",
            stuck.for_,
            "warning",
            "Operations are stuck in progress.",
            f"{COUNT_VALUE} or more {{{{ $labels.operation }}}} operations have "
            f"been in progress on {{{{ $labels.instance }}}} ({{{{ $labels.job }}}}) for the "
            f"whole last {stuck.window} and none finished.",
        ),
        alert(
            "OtelPerfCardinalityOverflow",
            "otel-perf-telemetry",
            f"{window_total(M.SERIES_OVERFLOW, overflow.window, ('job', 'metric'))}\n> 0",
            overflow.for_,
            "warning",
            "Label sets are being folded into __overflow__.",
            f"{COUNT_VALUE} new label sets of {{{{ $labels.metric }}}} in "
            f"{{{{ $labels.job }}}} were folded into __overflow__ in the last {overflow.window}.",
        ),
        alert(
            "OtelPerfInternalErrors",
            "otel-perf-telemetry",
            f"{window_total(M.INTERNAL_ERRORS, internal.window, ('job', 'stage'))}\n> 0",
            internal.for_,
            "warning",
            "otel-perf caught internal errors.",
            f"otel-perf caught {COUNT_VALUE} internal errors at stage "
            f"{{{{ $labels.stage }}}} in {{{{ $labels.job }}}} in the last {internal.window}.",
        ),
        alert(
            WATCHDOG,
            "otel-perf-telemetry",
            "vector(1)",
            "0s",
            WATCHDOG_SEVERITY,
            "The alerting pipeline works (this alert always fires).",
            "Always firing, so that its absence at the dead man's switch "
            "(alertmanager.watchdog_webhooks) says Prometheus or Alertmanager is down. "
            "Value {{ $value }}.",
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
        f"the last {burn.long}, and over {pct(burn.factor * budget)} in the last {burn.short} "
        f"too (SLO {pct(slo.target)} success).",
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
