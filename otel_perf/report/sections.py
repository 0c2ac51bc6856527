"""The four figure sections of the report (cost, time, errors, efficiency) from ``Facts``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from otel_perf.report.definitions import PROJECTION_MIN_ACTIVE_SECONDS, PROJECTION_THRESHOLD_WHY
from otel_perf.report.facts import SAFETY_BLOCK, TIMEOUT, Facts, kind_of
from otel_perf.report.formatting import seconds as fmt_seconds
from otel_perf.report.model import (
    CostByOperationModel,
    CostSection,
    EfficiencySection,
    EndpointErrors,
    ErrorClasses,
    ErrorSection,
    ExportPoint,
    FailedGenerations,
    IntegrityNote,
    ModelTime,
    OperationTime,
    Projection,
    QueueWait,
    RecentError,
    RecentErrors,
    ServiceRow,
    TemplateFailures,
    TimelineExports,
    TimeSection,
    TrendPoint,
)
from otel_perf.report.rawdata import Extent, RawData
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
    """The budget window starts with the first operation in the range. Once the active
    period (first to last operation) reaches ``PROJECTION_MIN_ACTIVE_SECONDS``, spend
    continues at its average rate over that period until the window ends; before that the
    projection is "not enough data"."""
    start = extent.start
    end = start + window_seconds
    active = extent.seconds
    enough = active >= PROJECTION_MIN_ACTIVE_SECONDS
    rate = spent / active if enough else None
    projected = None if rate is None else spent + rate * max(end - report_end, 0.0)
    hours = PROJECTION_MIN_ACTIVE_SECONDS / 3600
    if enough:
        basis = (
            f"${spent:,.2f} spent over {fmt_seconds(active)} of activity "
            f"({iso(extent.start)} to {iso(extent.end)}), continued at that average rate "
            f"until {iso(end)}"
        )
    else:
        basis = (
            f"not enough data: {fmt_seconds(active)} of activity, a projection needs "
            f"{hours:g} h because {PROJECTION_THRESHOLD_WHY}"
        )
    return Projection(
        status="projected" if enough else "not enough data",
        basis=basis,
        budget_window_days=window_seconds / 86400.0,
        window_start=iso(start),
        window_end=iso(end),
        spent_usd=spent,
        active_start=iso(extent.start) if active > 0 else None,
        active_end=iso(extent.end) if active > 0 else None,
        active_seconds=active,
        minimum_active_seconds=PROJECTION_MIN_ACTIVE_SECONDS,
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
        generation_models=_generation_models(facts),
        timeline_exports=_exports(data),
    )


def _generation_models(facts: Facts) -> list[ModelTime]:
    """Per generation type and model: attempts, successes, mean time of the successes."""
    rows = []
    keys = sorted({(op, model) for op, model, _ in facts.ops if kind_of(op) == "generation"})
    for op, model in keys:
        attempts = sum(v for (o, m, _), v in facts.ops.items() if (o, m) == (op, model))
        ok = facts.ops.get((op, model, "success"), 0.0)
        ok_time = facts.time.get((op, model, "success"), 0.0)
        total = sum(v for (o, m, _), v in facts.time.items() if (o, m) == (op, model))
        rows.append(
            ModelTime(op, model or "(none)", round(attempts), round(ok), ratio(ok_time, ok), total)
        )
    return rows


def _exports(data: RawData) -> TimelineExports:
    history = [
        ExportPoint(iso(t), round(n), total / n)
        for t, n, total in zip(
            data.trend_times, data.export_count_trend, data.export_sum_trend, strict=True
        )
        if n > 0.5
    ]
    count = sum(p.count for p in history)
    seconds = sum(p.average_seconds * p.count for p in history)
    return TimelineExports(count, seconds, ratio(seconds, count), history)


# --- errors ---------------------------------------------------------------------------------


def error_section(facts: Facts, data: RawData, tempo_url: str | None = None) -> ErrorSection:
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
        for t, e, n in zip(data.trend_times, data.error_trend, data.operation_trend, strict=True)
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
        failed_generations=_failed_generations(facts),
        worst_endpoints=_worst_endpoints(facts),
        worst_templates=_worst_templates(facts),
        trend_step_seconds=data.trend_step,
        trend=trend,
        recent=_recent(data, tempo_url),
    )


def _failed_generations(facts: Facts) -> list[FailedGenerations]:
    """The type x reason table: failed generation attempts by operation and error type."""
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (op, _, error_type), n in facts.errors.items():
        if kind_of(op) == "generation" and n:
            table[op][error_type or "unknown"] += n
    rows = [
        FailedGenerations(op, round(sum(reasons.values())), _counts(reasons))
        for op, reasons in table.items()
    ]
    return sorted(rows, key=lambda r: (-r.failures, r.operation))


def _recent(data: RawData, tempo_url: str | None) -> RecentErrors:
    if data.recent_errors is None:
        note = (
            "exemplars unavailable: "
            + (data.exemplar_problem or "Prometheus returned none")
            + "; start Prometheus with --enable-feature=exemplar-storage and scrape "
            "OpenMetrics to list recent errors with trace ids"
        )
        return RecentErrors(False, note, [])
    if not data.recent_errors:
        note = (
            "no exemplars of failed operations in the range (Prometheus keeps exemplars in "
            "memory only: a restart of Prometheus empties them)"
        )
        return RecentErrors(True, note, [])
    base = tempo_url.rstrip("/") if tempo_url else None
    errors = [
        RecentError(
            time=iso(e.time),
            operation=e.operation,
            model=e.model,
            project=e.project,
            service=e.job,
            instance=e.instance,
            error_type=" or ".join(e.error_types) if e.error_types else "unknown",
            trace_id=e.trace_id,
            seconds=e.seconds,
            trace_url=None if base is None else f"{base}/api/traces/{e.trace_id}",
        )
        for e in data.recent_errors
    ]
    return RecentErrors(True, f"the last {len(errors)} failed operations with exemplars", errors)


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


def efficiency_section(facts: Facts, data: RawData) -> EfficiencySection:
    attempts = facts.generation_ops()
    ok_generations = facts.generation_ops("success")
    successes = facts.operations - facts.failed
    retries = facts.generation_retries
    active = facts.active_seconds
    gen = data.generation_extent
    by_op_rate = {
        op: rate
        for op in facts.operation_names
        if (rate := pct(facts.ops_of(op, "success"), facts.ops_of(op))) is not None
    }
    waits = sum(facts.queue_count.values())
    return EfficiencySection(
        generation_attempts=round(attempts),
        successful_generations=round(ok_generations),
        success_rate_pct=pct(ok_generations, attempts),
        operations=round(facts.operations),
        successes=round(successes),
        all_operations_success_rate_pct=pct(successes, facts.operations),
        success_rate_by_operation=by_op_rate,
        retries=round(retries),
        retries_per_success=facts.retries_per_success,
        all_retries=round(sum(facts.retries.values())),
        generations_per_hour=None if active <= 0 else attempts / (active / 3600.0),
        active_start=None if gen is None else iso(gen.start),
        active_end=None if gen is None else iso(gen.end),
        active_seconds=active,
        queue_wait=QueueWait(
            count=round(waits),
            average_seconds=ratio(sum(facts.queue_sum.values()), waits),
            p50_seconds=quantile(0.5, _buckets(facts.queue_buckets)),
            p90_seconds=quantile(0.9, _buckets(facts.queue_buckets)),
            p99_seconds=quantile(0.99, _buckets(facts.queue_buckets)),
            by_operation={
                op: facts.queue_sum.get(op, 0.0) / n
                for op, n in sorted(facts.queue_count.items())
                if n > 0
            },
        ),
        slow_operations=_counts(facts.slow),
    )


def _buckets(table: Mapping[tuple[str, ...], float]) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) pairs summed over operations, sorted by bound."""
    out: dict[float, float] = defaultdict(float)
    for (_, le), n in table.items():
        try:
            out[float(le)] += n
        except ValueError:
            continue
    return sorted(out.items())


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """``histogram_quantile``'s estimate: linear interpolation inside the bucket holding
    rank ``q``; the highest finite bound when the rank falls in ``+Inf``.

    >>> quantile(0.5, [(1.0, 2.0), (2.0, 4.0), (float("inf"), 4.0)])
    1.0
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


# --- scope and integrity --------------------------------------------------------------------


def service_rows(facts: Facts) -> list[ServiceRow]:
    """One row per job when the range holds several."""
    jobs = sorted({job for job, _, _ in facts.ops_by_job})
    if len(jobs) < 2:
        return []
    rows = []
    for job in jobs:
        ops = {(op, st): v for (j, op, st), v in facts.ops_by_job.items() if j == job}
        gen = sum(v for (op, _), v in ops.items() if kind_of(op) == "generation")
        gen_ok = sum(
            v for (op, st), v in ops.items() if kind_of(op) == "generation" and st == "success"
        )
        rows.append(
            ServiceRow(
                service=job or "(none)",
                instances=facts.instances_by_job.get(job, 0),
                generation_attempts=round(gen),
                success_rate_pct=pct(gen_ok, gen),
                operations=round(sum(ops.values())),
                errors=round(sum(v for (_, st), v in ops.items() if st == "error")),
                cost_usd=facts.cost_by_job.get(job, 0.0),
            )
        )
    return rows


def integrity_notes(data: RawData) -> list[IntegrityNote]:
    """Counter drops that are not restarts, scans instead of lifetimes, gaps, downtime."""
    notes = []
    step = fmt_seconds(data.trend_step)
    for t in data.targets:
        if t.went_back:
            notes.append(IntegrityNote(
                "several_processes", t.job, t.instance,
                f"process_start_time_seconds went back {t.went_back} times: several processes "
                "(workers) answer behind this one target, so its counters jump between them; "
                "its totals come from reset-aware increase() and are unreliable. Serve one "
                "registry per target (prometheus_client multiprocess mode or one port per "
                "worker)",
            ))  # fmt: skip
        elif not t.exact:
            notes.append(IntegrityNote(
                "restart_scan", t.job, t.instance,
                "no process_start_time_seconds for this target: restarts are found by scanning "
                "every sample (slower), and a counter drop is taken for a restart",
            ))  # fmt: skip
        if t.restarts:
            times = ", ".join(iso(r) for r in t.restarts[:5])
            more = f" and {len(t.restarts) - 5} more" if len(t.restarts) > 5 else ""
            notes.append(IntegrityNote(
                "restart", t.job, t.instance,
                f"{len(t.restarts)} restart(s) at {times}{more}; counted exactly across them",
            ))  # fmt: skip
        if t.down_bins:
            notes.append(IntegrityNote(
                "target_down", t.job, t.instance,
                f"down (up == 0) in {len(t.down_bins)} of the {step} bins, first in the bin "
                f"ending {iso(t.down_bins[0])}",
            ))  # fmt: skip
        if t.gap_bins:
            notes.append(IntegrityNote(
                "scrape_gap", t.job, t.instance,
                f"fewer scrapes than usual in {len(t.gap_bins)} of the {step} bins, first in "
                f"the bin ending {iso(t.gap_bins[0])}",
            ))  # fmt: skip
    return notes
