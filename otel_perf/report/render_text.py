"""The terminal report: titled sections of aligned tables.

Every string from Prometheus goes through ``printable`` first (``printable_copy``), so a
label value cannot move the cursor, ring the bell or reorder the text on the screen.
"""

from __future__ import annotations

from otel_perf.report.definitions import name
from otel_perf.report.formatting import (
    NA,
    number,
    percent,
    saving,
    seconds,
    text_table,
    usd,
    worst_rows,
)
from otel_perf.report.model import Report
from otel_perf.report.projects import parse_sort
from otel_perf.report.safetext import printable_copy


def render_text(report: Report) -> str:
    """The whole report as plain text (no colours, fits 100 columns)."""
    r = printable_copy(report)
    parts = [_header(r), _cost(r), _time(r), _errors(r), _recent(r)]
    parts += [_efficiency(r), _suggestions(r), _projects(r)]
    if r.services:
        parts.append(_services(r))
    parts.append(_integrity(r))
    if r.notes:
        parts.append("NOTES\n" + "\n".join(f"  - {note}" for note in r.notes))
    parts.append(_definitions(r))
    return "\n\n".join(parts) + "\n"


def _fleet(r: Report) -> str:
    """Marks figures that cover every project although the report is for one."""
    return " (all projects)" if r.project is not None else ""


def _header(r: Report) -> str:
    scope = f"project {r.project}" if r.project is not None else "all projects"
    lines = [
        f"otel-perf report: {scope}, range {r.range.label}",
        f"  range     {r.range.start} to {r.range.end}",
        f"  observed  {r.observed.start} to {r.observed.end} ({seconds(r.observed.seconds)})",
        f"  source    {r.prometheus_url} (retention {r.retention_days:g} days)",
    ]
    if r.selector:
        lines.append(f"  selector  {{{r.selector}}}")
    return "\n".join(lines)


def _shares(values: dict[str, float], total: float) -> list[list[str]]:
    return [[k, usd(v), percent(100 * v / total if total else None)] for k, v in values.items()]


def _cost(r: Report) -> str:
    c, p = r.cost, r.cost.projection
    if p.status == "projected":
        budget = ""
        if p.budget_usd is not None:
            state = "over" if p.over_budget else "within"
            budget = f", {state} the {usd(p.budget_usd)} budget"
        projection = (
            f"  {name('projected_cost_usd')} for the {p.budget_window_days:g}-day window ending "
            f"{p.window_end}: {usd(p.projected_usd)} at {usd(p.rate_usd_per_hour)}/h{budget}\n"
            f"    basis: {p.basis}"
        )
    else:
        projection = f"  {name('projected_cost_usd')}: {p.basis}"
    lines = [
        "COST",
        f"  {name('total_cost_usd')} {usd(c.total_usd)}; unpriced operations{_fleet(r)}: "
        f"{c.unpriced_operations}",
        projection,
        "",
        text_table(["operation", "cost", "share"], _shares(c.by_operation, c.total_usd)),
        "",
        text_table(["model", "cost", "share"], _shares(c.by_model, c.total_usd)),
    ]
    return "\n".join(lines)


def _time(r: Report) -> str:
    t = r.time
    rows = [
        [o.operation, o.kind, str(o.count), seconds(o.total_seconds),
         seconds(o.average_seconds), percent(o.share_pct)]
        for o in t.by_operation
    ]  # fmt: skip
    models = [
        [m.operation, m.model, str(m.count), str(m.attempts), seconds(m.average_seconds)]
        for m in t.generation_models
    ]
    e = t.timeline_exports
    lines = [
        "TIME",
        f"  Total {seconds(t.total_seconds)} over {t.operations} operations "
        f"(average {seconds(t.average_seconds)})",
        "",
        text_table(["operation", "kind", "runs", "total", "average", "share"], rows),
        "",
        f"  {name('generation_time')} (successful generations, per type and model)",
        text_table(["generation type", "model", "count", "attempts", "average time"], models)
        if models
        else "  none",
        "",
        f"  {name('timeline_exports')}: {e.count} successful, average {seconds(e.average_seconds)}",
    ]
    if e.history:
        history = [[p.time, str(p.count), seconds(p.average_seconds)] for p in e.history]
        lines += [text_table(["export bin ending", "exports", "average"], history)]
    return "\n".join(lines)


def _counts(title: str, values: dict[str, int]) -> str:
    if not values:
        return f"  {title}: none"
    return text_table([title, "count"], [[k, str(v)] for k, v in values.items()])


def _errors(r: Report) -> str:
    e, k = r.errors, r.errors.classes
    failed = [
        [f.operation, str(f.failures), ", ".join(f"{c}: {n}" for c, n in f.reasons.items())]
        for f in e.failed_generations
    ]
    lines = [
        "ERRORS",
        f"  Total {e.total} of {e.operations} operations ({name('error_rate_pct')} "
        f"{percent(e.error_rate_pct)})",
        f"  {name('api_errors')} {k.api_errors}, {name('safety_blocks')} {k.safety_blocks}, "
        f"timeouts {k.timeouts}, render failures {k.render_failures}, "
        f"{name('failed_generations')} {k.generation_failures}",
        "",
        f"  {name('failed_generations')} by type and reason",
        text_table(["generation type", "failed", "reasons"], failed) if failed else "  none",
        "",
        _counts("API error type", e.api_error_types),
        "",
        _counts("error type", e.by_type),
        "",
        _counts("render reason", e.render_reasons),
    ]
    endpoints, templates = worst_rows(e)
    if endpoints:
        headers = [f"worst endpoint{_fleet(r)}", "errors", "status codes"]
        lines += ["", text_table(headers, endpoints)]
    if templates:
        headers = [f"worst template{_fleet(r)}", "failures", "reasons"]
        lines += ["", text_table(headers, templates)]
    return "\n".join(lines)


def _recent(r: Report) -> str:
    rec = r.errors.recent
    lines = [f"RECENT ERRORS ({rec.note})"]
    if rec.errors:
        rows = [
            [x.time, x.operation, x.model or "-", x.error_type, x.trace_url or x.trace_id]
            for x in rec.errors
        ]
        lines.append(text_table(["time", "operation", "model", "error type", "trace"], rows))
    return "\n".join(lines)


def _efficiency(r: Report) -> str:
    f = r.efficiency
    q = f.queue_wait
    active = (
        f"{seconds(f.active_seconds)} active, {f.active_start} to {f.active_end}"
        if f.active_start
        else "no generations"
    )
    lines = [
        "EFFICIENCY",
        f"  {name('success_rate_pct')} {percent(f.success_rate_pct)} "
        f"({f.successful_generations} successful of {f.generation_attempts} generation attempts)",
        f"  {name('all_operations_success_rate_pct')} {percent(f.all_operations_success_rate_pct)} "
        f"({f.successes} of {f.operations} operations)",
        f"  {name('retries_per_success')} {number(f.retries_per_success)} "
        f"({f.retries} retries; {f.all_retries} of every kind)",
        f"  {name('generations_per_hour')} {number(f.generations_per_hour, 1)} ({active})",
        f"  {name('queue_wait')}{_fleet(r)}: mean {seconds(q.average_seconds)}, "
        f"p50 {seconds(q.p50_seconds)}, p90 {seconds(q.p90_seconds)}, "
        f"p99 {seconds(q.p99_seconds)} over {q.count} waits",
    ]
    if f.slow_operations:
        lines += ["", _counts(f"slow operation{_fleet(r)}", f.slow_operations)]
    return "\n".join(lines)


def _suggestions(r: Report) -> str:
    if not r.suggestions:
        return "SUGGESTIONS\n  None: no change would improve cost, time or errors by more than 10%."
    lines = ["SUGGESTIONS"]
    for s in r.suggestions:
        lines.append(
            f"  {s.rank}. {s.title}\n     {s.detail}\n"
            f"     estimated saving {saving(s.saving.amount, s.saving.unit)} "
            f"({s.improvement_pct:.1f}% improvement) [{s.rule}]"
        )
    return "\n".join(lines)


def _projects(r: Report) -> str:
    _, descending = parse_sort(r.projects_sort)
    column = r.projects_sort.partition(":")[0]
    order = "descending" if descending else "ascending"
    rows = [
        [p.project, usd(p.cost_usd), seconds(p.time_seconds), str(p.operations), str(p.errors),
         percent(p.error_rate_pct), percent(p.success_rate_pct)]
        for p in r.projects
    ]  # fmt: skip
    headers = ["project", "cost", "time", "operations", "errors", "error rate", "success rate"]
    return f"PROJECTS (by {column}, {order})\n" + text_table(headers, rows)


def _services(r: Report) -> str:
    rows = [
        [s.service, str(s.instances), str(s.generation_attempts), percent(s.success_rate_pct),
         str(s.operations), str(s.errors), usd(s.cost_usd)]
        for s in r.services
    ]  # fmt: skip
    headers = ["service (job)", "instances", "generations", "success rate", "operations",
               "errors", "cost"]  # fmt: skip
    return "SERVICES\n" + text_table(headers, rows)


def _integrity(r: Report) -> str:
    if not r.integrity:
        return "DATA INTEGRITY\n  No counter drops other than restarts, no scrape gaps, no target down."
    lines = ["DATA INTEGRITY"]
    for n in r.integrity:
        lines.append(f"  - [{n.kind}] {n.service or NA} {n.instance}: {n.detail}")
    return "\n".join(lines)


def _definitions(r: Report) -> str:
    lines = ["DEFINITIONS"]
    for entry in r.definitions.values():
        lines.append(f"  {entry['name']}: {entry['definition']}")
    return "\n".join(lines)
