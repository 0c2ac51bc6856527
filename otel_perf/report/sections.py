"""The four figure sections of the report (cost, time, errors, efficiency) from ``Facts``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from otel_perf.report.collect import Extent, RawData
from otel_perf.report.facts import SAFETY_BLOCK, TIMEOUT, Facts, kind_of
from otel_perf.report.model import (
    CostByOperationModel,
    CostSection,
    EfficiencySection,
    EndpointErrors,
    ErrorClasses,
    ErrorSection,
    ExportPoint,
    OperationTime,
    Projection,
    QueueWait,
    TemplateFailures,
    TimelineExports,
    TimeSection,
    TrendPoint,
)
from otel_perf.report.timerange import iso

WORST_LIMIT = 5  # endpoints and templates listed as "worst"


def pct(part: float, whole: float) -> float | None:
    """``part`` as a percentage of ``whole``; ``None`` when ``whole`` is 0."""
    return None if whole <= 0 else 100.0 * part / whole


def ratio(part: float, whole: float) -> float | None:
    return None if whole <= 0 else part / whole


def _sorted(values: Mapping[str, float]) -> dict[str, float]:
    """Largest first, ties by name; zeros dropped."""
    return dict(sorted(((k, v) for k, v in values.items() if v), key=lambda kv: (-kv[1], kv[0])))


def _counts(values: Mapping[str, float]) -> dict[str, int]:
    return {k: round(v) for k, v in _sorted(values).items()}


# --- cost -----------------------------------------------------------------------------------


def cost_section(
    facts: Facts,
    extent: Extent,
    *,
    report_end: float,
    budget_window_days: float,
    budget_usd: float | None,
) -> CostSection:
    by_operation: dict[str, float] = defaultdict(float)
    by_model: dict[str, float] = defaultdict(float)
    for (op, model, _), usd in facts.cost.items():
        by_operation[op] += usd
        by_model[model or "(none)"] += usd
    rows = [
        CostByOperationModel(op, model, provider, usd)
        for (op, model, provider), usd in sorted(facts.cost.items(), key=lambda kv: -kv[1])
        if usd
    ]
    return CostSection(
        total_usd=facts.total_cost,
        by_operation=_sorted(by_operation),
        by_model=_sorted(by_model),
        by_operation_model=rows,
        unpriced_operations=round(facts.unpriced),
        projection=projection(
            facts.total_cost, extent, report_end, budget_window_days * 86400.0, budget_usd
        ),
    )


def projection(
    spent: float, extent: Extent, report_end: float, window_seconds: float, budget: float | None
) -> Projection:
    """The budget window starts with the first data in the range; the spend so far continues
    at its average rate over the observed period until the window ends."""
    start = extent.start
    end = start + window_seconds
    rate = None if extent.seconds < 1 else spent / extent.seconds
    projected = None if rate is None else spent + rate * max(end - report_end, 0.0)
    return Projection(
        budget_window_days=window_seconds / 86400.0,
        window_start=iso(start),
        window_end=iso(end),
        spent_usd=spent,
        rate_usd_per_hour=None if rate is None else rate * 3600.0,
        projected_usd=projected,
        budget_usd=budget,
        over_budget=None if budget is None or projected is None else projected > budget,
    )


# --- time -----------------------------------------------------------------------------------


def time_section(facts: Facts, data: RawData) -> TimeSection:
    total_time, operations = facts.total_time, facts.operations
    by_operation = []
    for op in facts.operation_names:
        count, seconds = facts.ops_of(op), facts.time_of(op)
        by_operation.append(
            OperationTime(
                operation=op,
                kind=kind_of(op),
                count=round(count),
                total_seconds=seconds,
                average_seconds=seconds / count if count else 0.0,
                share_pct=pct(seconds, total_time) or 0.0,
            )
        )
    by_operation.sort(key=lambda row: (-row.total_seconds, row.operation))
    return TimeSection(
        total_seconds=total_time,
        operations=round(operations),
        average_seconds=ratio(total_time, operations),
        by_operation=by_operation,
        timeline_exports=_exports(data),
    )


def _exports(data: RawData) -> TimelineExports:
    history = [
        ExportPoint(iso(t), round(n), total / n)
        for (t, n), (_, total) in zip(data.export_count_trend, data.export_sum_trend, strict=True)
        if n > 0
    ]
    count = sum(p.count for p in history)
    seconds = sum(p.average_seconds * p.count for p in history)
    return TimelineExports(count, seconds, ratio(seconds, count), history)


# --- errors ---------------------------------------------------------------------------------


def error_section(facts: Facts, data: RawData) -> ErrorSection:
    by_type: dict[str, float] = defaultdict(float)
    by_operation: dict[str, float] = defaultdict(float)
    render_reasons: dict[str, float] = defaultdict(float)
    api_types: dict[str, float] = defaultdict(float)
    generation_failures = 0.0
    for (op, _, error_type), n in facts.errors.items():
        by_type[error_type or "unknown"] += n
        by_operation[op] += n
        kind = kind_of(op)
        if kind == "render":
            render_reasons[error_type or "unknown"] += n
        elif kind == "api":
            api_types[error_type or "unknown"] += n
        else:
            generation_failures += n
    total = facts.failed
    classes = ErrorClasses(
        api_errors=round(sum(api_types.values())),
        safety_blocks=round(by_type.get(SAFETY_BLOCK, 0.0)),
        timeouts=round(by_type.get(TIMEOUT, 0.0)),
        render_failures=round(sum(render_reasons.values())),
        generation_failures=round(generation_failures),
    )
    trend = [
        TrendPoint(iso(t), round(e), round(n))
        for (t, e), (_, n) in zip(data.error_trend, data.operation_trend, strict=True)
    ]
    return ErrorSection(
        total=round(total),
        operations=round(facts.operations),
        error_rate_pct=pct(total, facts.operations),
        classes=classes,
        by_type=_counts(by_type),
        by_operation=_counts(by_operation),
        render_reasons=_counts(render_reasons),
        api_error_types=_counts(api_types),
        worst_endpoints=_worst_endpoints(facts),
        worst_templates=_worst_templates(facts),
        trend_step_seconds=data.trend_step,
        trend=trend,
    )


def _worst_endpoints(facts: Facts) -> list[EndpointErrors]:
    errors: dict[str, float] = defaultdict(float)
    codes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    types: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (endpoint, code, error_type), n in facts.api_errors.items():
        errors[endpoint] += n
        codes[endpoint][code or "none"] += n
        types[endpoint][error_type or "unknown"] += n
    return [
        EndpointErrors(endpoint, round(n), _counts(codes[endpoint]), _counts(types[endpoint]))
        for endpoint, n in list(_sorted(errors).items())[:WORST_LIMIT]
    ]


def _worst_templates(facts: Facts) -> list[TemplateFailures]:
    failures: dict[str, float] = defaultdict(float)
    reasons: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (_, reason, template), n in facts.render_failures.items():
        name = template or "(none)"
        failures[name] += n
        reasons[name][reason or "unknown"] += n
    return [
        TemplateFailures(template, round(n), _counts(reasons[template]))
        for template, n in list(_sorted(failures).items())[:WORST_LIMIT]
    ]


# --- efficiency -----------------------------------------------------------------------------


def efficiency_section(facts: Facts) -> EfficiencySection:
    generations = sum(n for (op, _, _), n in facts.ops.items() if kind_of(op) == "generation")
    successes = facts.operations - facts.failed
    hours = facts.observed_seconds / 3600.0
    retries = sum(facts.retries.values())
    by_op_rate = {
        op: rate
        for op in facts.operation_names
        if (rate := pct(facts.ops_of(op, "success"), facts.ops_of(op))) is not None
    }
    waits = sum(facts.queue_count.values())
    return EfficiencySection(
        generations=round(generations),
        generations_per_hour=None if facts.observed_seconds < 1 else generations / hours,
        successes=round(successes),
        success_rate_pct=pct(successes, facts.operations),
        success_rate_by_operation=by_op_rate,
        retries=round(retries),
        retries_per_success=ratio(retries, successes),
        queue_wait=QueueWait(
            count=round(waits),
            average_seconds=ratio(sum(facts.queue_sum.values()), waits),
            by_operation={
                op: facts.queue_sum.get(op, 0.0) / n
                for op, n in sorted(facts.queue_count.items())
                if n > 0
            },
        ),
        slow_operations=_counts(facts.slow),
    )
