"""The terminal report: titled sections of aligned tables."""

from __future__ import annotations

from otel_perf.report.formatting import (
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


def render_text(report: Report) -> str:
    """The whole report as plain text (no colours, fits 100 columns)."""
    parts = [_header(report), _cost(report), _time(report), _errors(report)]
    parts += [_efficiency(report), _suggestions(report), _projects(report)]
    if report.notes:
        parts.append("NOTES\n" + "\n".join(f"  - {note}" for note in report.notes))
    return "\n\n".join(parts) + "\n"


def _fleet(r: Report) -> str:
    """Marks figures that cover every project although the report is for one."""
    return " (all projects)" if r.project is not None else ""


def _header(r: Report) -> str:
    scope = f"project {r.project}" if r.project is not None else "all projects"
    return "\n".join(
        [
            f"otel-perf report: {scope}, range {r.range.label}",
            f"  range     {r.range.start} to {r.range.end}",
            f"  observed  {r.observed.start} to {r.observed.end} ({seconds(r.observed.seconds)})",
            f"  source    {r.prometheus_url} (retention {r.retention_days:g} days)",
        ]
    )


def _shares(values: dict[str, float], total: float) -> list[list[str]]:
    return [[k, usd(v), percent(100 * v / total if total else None)] for k, v in values.items()]


def _cost(r: Report) -> str:
    c, p = r.cost, r.cost.projection
    budget = ""
    if p.budget_usd is not None:
        state = "over" if p.over_budget else "within"
        budget = f", {state} the {usd(p.budget_usd)} budget"
    lines = [
        "COST",
        f"  Total {usd(c.total_usd)}; unpriced operations{_fleet(r)}: {c.unpriced_operations}",
        f"  Projected for the {p.budget_window_days:g}-day window ending {p.window_end}: "
        f"{usd(p.projected_usd)} at {usd(p.rate_usd_per_hour)}/h{budget}",
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
    e = t.timeline_exports
    lines = [
        "TIME",
        f"  Total {seconds(t.total_seconds)} over {t.operations} operations "
        f"(average {seconds(t.average_seconds)})",
        "",
        text_table(["operation", "kind", "runs", "total", "average", "share"], rows),
        "",
        f"  Timeline exports: {e.count} successful, average {seconds(e.average_seconds)}",
    ]
    if e.history:
        history = [[p.time, str(p.count), seconds(p.average_seconds)] for p in e.history]
        lines += ["", text_table(["export time", "exports", "average"], history)]
    return "\n".join(lines)


def _counts(title: str, values: dict[str, int]) -> str:
    if not values:
        return f"  {title}: none"
    return text_table([title, "count"], [[k, str(v)] for k, v in values.items()])


def _errors(r: Report) -> str:
    e, k = r.errors, r.errors.classes
    lines = [
        "ERRORS",
        f"  Total {e.total} of {e.operations} operations (error rate {percent(e.error_rate_pct)})",
        f"  API errors {k.api_errors}, safety blocks {k.safety_blocks}, timeouts {k.timeouts}, "
        f"render failures {k.render_failures}, failed generations {k.generation_failures}",
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


def _efficiency(r: Report) -> str:
    f = r.efficiency
    q = f.queue_wait
    lines = [
        "EFFICIENCY",
        f"  Generations {f.generations} ({number(f.generations_per_hour, 1)} per hour observed)",
        f"  Success rate {percent(f.success_rate_pct)} ({f.successes} successful operations)",
        f"  Retries {f.retries} ({number(f.retries_per_success)} per success)",
        f"  Queue wait{_fleet(r)} average {seconds(q.average_seconds)} over {q.count} waits",
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
