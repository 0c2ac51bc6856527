"""``--format html``: one self-contained page (inline CSS and SVG, no external assets).

Each section starts a new page when printed, so the PDF has one page per section: cost
(with the header), time, errors, efficiency, suggestions, projects.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from otel_perf.report import svg
from otel_perf.report.definitions import definition, name
from otel_perf.report.formatting import NA, number, percent, saving, seconds, usd, worst_rows
from otel_perf.report.model import Report
from otel_perf.report.projects import parse_sort
from otel_perf.report.safetext import printable_copy

SECTIONS: Final = ("Cost", "Time", "Errors", "Efficiency", "Suggestions", "Projects")

_CSS: Final = """
@page { size: A4; margin: 12mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #222; margin: 24px; font-size: 13px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; border-bottom: 2px solid #4e79a7; padding-bottom: 4px; margin-top: 28px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
.meta { color: #555; margin: 2px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; min-width: 130px; }
.card b { display: block; font-size: 18px; }
.card span { color: #666; font-size: 11px; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f6f8; }
table.sortable th { cursor: pointer; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
ol.suggestions li { margin-bottom: 10px; }
.muted { color: #777; }
ul.defs { color: #555; font-size: 10px; padding-left: 16px; margin: 4px 0; }
@media print {
  body { margin: 0; }
  section + section { break-before: page; }
  h2 { margin-top: 0; }
  table, svg, li { break-inside: avoid; }
}
"""

# Click a header of the project table to re-sort it (the page stays usable without it).
_SORT_JS: Final = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var down = th.dataset.dir !== "desc";
    th.dataset.dir = down ? "desc" : "asc";
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return down ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def _e(value: object) -> str:
    return escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], css: str = "") -> str:
    if not rows:
        return '<p class="muted">None in this range.</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cards(items: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f'<div class="card"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for k, v in items)
    return f'<div class="cards">{cells}</div>'


def _defined(keys: Sequence[str]) -> str:
    """The definitions of the figures a section shows, under it."""
    items = "".join(f"<li><b>{_e(name(k))}</b>: {_e(definition(k))}</li>" for k in keys)
    return f'<ul class="defs">{items}</ul>'


def render_html(report: Report) -> str:
    """The report as a standalone HTML document (control and bidi characters in values
    shown as escapes, then HTML-escaped)."""
    r = printable_copy(report)
    scope = f"project {r.project}" if r.project is not None else "all projects"
    header = (
        f"<header><h1>otel-perf report: {_e(scope)}</h1>"
        f'<p class="meta">Range {_e(r.range.label)}: {_e(r.range.start)} to {_e(r.range.end)}; '
        f"observed {_e(r.observed.start)} to {_e(r.observed.end)} "
        f"({_e(seconds(r.observed.seconds))})</p>"
        f'<p class="meta">Source {_e(r.prometheus_url)}, retention {r.retention_days:g} days; '
        f"generated {_e(r.generated_at)}</p></header>"
    )
    body = "".join(
        [
            _cost(r, header),
            _time(r),
            _errors(r),
            _efficiency(r),
            _suggestions(r),
            _projects(r),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>otel-perf report: {_e(scope)}</title><style>{_CSS}</style></head>"
        f"<body>{body}<script>{_SORT_JS}</script></body></html>\n"
    )


def _fleet(r: Report) -> str:
    """Marks figures that cover every project although the report is for one."""
    return " (all projects)" if r.project is not None else ""


def _section(name: str, content: str, prefix: str = "") -> str:
    return f'<section id="{name.lower()}">{prefix}<h2>{name}</h2>{content}</section>'


def _cost(r: Report, header: str) -> str:
    c, p = r.cost, r.cost.projection
    cards = [
        (name("total_cost_usd"), usd(c.total_usd)),
        (
            f"{name('projected_cost_usd')}, {p.budget_window_days:g}-day window",
            usd(p.projected_usd) if p.status == "projected" else "not enough data",
        ),
        ("rate per active hour", usd(p.rate_usd_per_hour)),
        (f"unpriced operations{_fleet(r)}", str(c.unpriced_operations)),
    ]
    if p.budget_usd is not None:
        cards.append(("budget", f"{usd(p.budget_usd)} ({'over' if p.over_budget else 'within'})"))
    models = [[m, usd(v), percent(100 * v / c.total_usd if c.total_usd else None)]
              for m, v in c.by_model.items()]  # fmt: skip
    content = (
        _cards(cards)
        + '<div class="grid"><div><h3>Cost by operation type</h3>'
        + svg.pie("chart-cost-pie", c.by_operation, usd, "Cost by operation type")
        + "</div><div><h3>Cost by model</h3>"
        + _table(["model", "cost", "share"], models)
        + "</div></div>"
        + f'<p class="muted">Projection basis: {_e(p.basis)}.</p>'
        + _defined(["total_cost_usd", "projected_cost_usd"])
    )
    return _section("Cost", content, header)


def _time(r: Report) -> str:
    t = r.time
    e = t.timeline_exports
    rows = [
        [o.operation, o.kind, str(o.count), seconds(o.total_seconds),
         seconds(o.average_seconds), percent(o.share_pct)]
        for o in t.by_operation
    ]  # fmt: skip
    history = [[p.time, str(p.count), seconds(p.average_seconds)] for p in e.history]
    models = [
        [m.operation, m.model, str(m.count), str(m.attempts), seconds(m.average_seconds)]
        for m in t.generation_models
    ]
    content = (
        _cards(
            [
                ("total time", seconds(t.total_seconds)),
                ("operations", f"{t.operations:,}"),
                ("average per operation", seconds(t.average_seconds)),
                ("timeline exports", f"{e.count} (avg {seconds(e.average_seconds)})"),
            ]
        )
        + "<h3>Time by operation type</h3>"
        + svg.bars(
            "chart-time-bars",
            {o.operation: o.total_seconds for o in t.by_operation},
            seconds,
            "Time by operation type",
        )
        + _table(["operation", "kind", "runs", "total", "average", "share"], rows)
        + f"<h3>{_e(name('generation_time'))} by type and model</h3>"
        + _table(["generation type", "model", "count", "attempts", "average time"], models)
        + f"<h3>{_e(name('timeline_exports'))}</h3>"
        + _table(["bin ending", "exports", "average"], history)
        + _defined(["generation_time", "timeline_exports"])
    )
    return _section("Time", content)


def _counts(title: str, values: dict[str, int]) -> str:
    return _table([title, "count"], [[k, str(v)] for k, v in values.items()])


def _errors(r: Report) -> str:
    e, k = r.errors, r.errors.classes
    trend = [(p.time[11:19], float(p.errors)) for p in e.trend]
    endpoints, templates = worst_rows(e)
    failed = [
        [f.operation, str(f.failures), ", ".join(f"{c}: {n}" for c, n in f.reasons.items())]
        for f in e.failed_generations
    ]
    recent = [
        [x.time, x.operation, x.model or "-", x.error_type, x.trace_url or x.trace_id]
        for x in e.recent.errors
    ]
    content = (
        _cards(
            [
                ("errors", f"{e.total:,}"),
                ("error rate", percent(e.error_rate_pct)),
                (name("api_errors"), str(k.api_errors)),
                (name("safety_blocks"), str(k.safety_blocks)),
                ("timeouts", str(k.timeouts)),
                ("render failures", str(k.render_failures)),
            ]
        )
        + f"<h3>Errors over time (per {seconds(e.trend_step_seconds)})</h3>"
        + svg.line("chart-error-trend", trend, "Errors over time", "failed operations per bin")
        + '<div class="grid"><div>'
        + _counts("error type", e.by_type)
        + "</div><div>"
        + _counts("render reason", e.render_reasons)
        + "</div></div>"
        + f'<div class="grid"><div><h3>Worst endpoints{_fleet(r)}</h3>'
        + _table(["endpoint", "errors", "status codes"], endpoints)
        + f"</div><div><h3>Worst templates{_fleet(r)}</h3>"
        + _table(["template", "failures", "reasons"], templates)
        + "</div></div>"
        + f'<div class="grid"><div><h3>{_e(name("failed_generations"))} by type and reason</h3>'
        + _table(["generation type", "failed", "reasons"], failed)
        + f"</div><div><h3>{_e(name('api_errors'))} by type</h3>"
        + _counts("API error type", e.api_error_types)
        + "</div></div>"
        + f"<h3>{_e(name('recent_errors'))}</h3>"
        + f'<p class="muted">{_e(e.recent.note)}</p>'
        + (_table(["time", "operation", "model", "error type", "trace"], recent) if recent else "")
        + _defined(["error_rate_pct", "failed_generations", "api_errors", "safety_blocks",
                    "recent_errors"])
    )  # fmt: skip
    return _section("Errors", content)


def _efficiency(r: Report) -> str:
    f = r.efficiency
    q = f.queue_wait
    by_op = [
        [op, percent(rate), seconds(q.by_operation.get(op)) if op in q.by_operation else NA,
         str(f.slow_operations.get(op, 0))]
        for op, rate in sorted(f.success_rate_by_operation.items())
    ]  # fmt: skip
    content = (
        f'<div class="grid"><div><h3>{_e(name("success_rate_pct"))}</h3>'
        + svg.gauge("chart-success-gauge", f.success_rate_pct, name("success_rate_pct"))
        + "</div><div>"
        + _cards(
            [
                (name("all_operations_success_rate_pct"),
                 percent(f.all_operations_success_rate_pct)),
                ("generation attempts", f"{f.generation_attempts:,}"),
                (name("generations_per_hour"), number(f.generations_per_hour, 1)),
                (name("retries_per_success"), number(f.retries_per_success)),
                (f"queue wait mean{_fleet(r)}", seconds(q.average_seconds)),
                ("queue wait p50 / p90 / p99",
                 f"{seconds(q.p50_seconds)} / {seconds(q.p90_seconds)} / {seconds(q.p99_seconds)}"),
            ]
        )
        + "</div></div>"
        + _table(
            ["operation", "success rate", f"queue wait{_fleet(r)}", f"slow runs{_fleet(r)}"], by_op
        )
        + _defined(["success_rate_pct", "all_operations_success_rate_pct",
                    "retries_per_success", "generations_per_hour", "queue_wait"])
    )  # fmt: skip
    return _section("Efficiency", content)


def _suggestions(r: Report) -> str:
    if not r.suggestions:
        content = (
            '<p class="muted">No suggestion: no change would improve cost, time or errors '
            "by more than 10%.</p>"
        )
    else:
        items = "".join(
            f"<li><b>{_e(s.title)}</b><br>{_e(s.detail)}<br>"
            f'<span class="muted">Estimated saving {_e(saving(s.saving.amount, s.saving.unit))} '
            f"({s.improvement_pct:.1f}% improvement; rule {_e(s.rule)})</span></li>"
            for s in r.suggestions
        )
        content = f'<ol class="suggestions">{items}</ol>'
    return _section("Suggestions", content)


def _projects(r: Report) -> str:
    _, descending = parse_sort(r.projects_sort)
    column = r.projects_sort.partition(":")[0]
    head = ["project", "cost", "time", "operations", "errors", "error rate", "success rate"]
    rows = "".join(
        "<tr>"
        + f'<td data-v="{_e(p.project)}">{_e(p.project)}</td>'
        + f'<td data-v="{p.cost_usd}">{_e(usd(p.cost_usd))}</td>'
        + f'<td data-v="{p.time_seconds}">{_e(seconds(p.time_seconds))}</td>'
        + f'<td data-v="{p.operations}">{p.operations:,}</td>'
        + f'<td data-v="{p.errors}">{p.errors:,}</td>'
        + f'<td data-v="{p.error_rate_pct if p.error_rate_pct is not None else -1}">'
        + f"{_e(percent(p.error_rate_pct))}</td>"
        + f'<td data-v="{p.success_rate_pct if p.success_rate_pct is not None else -1}">'
        + f"{_e(percent(p.success_rate_pct))}</td></tr>"
        for p in r.projects
    )
    table = (
        '<table class="sortable"><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    order = "descending" if descending else "ascending"
    notes = "".join(f"<li>{_e(n)}</li>" for n in r.notes)
    services = [
        [s.service, str(s.instances), str(s.generation_attempts), percent(s.success_rate_pct),
         str(s.operations), str(s.errors), usd(s.cost_usd)]
        for s in r.services
    ]  # fmt: skip
    integrity = (
        "".join(
            f"<li><b>{_e(n.kind)}</b> {_e(n.service)} {_e(n.instance)}: {_e(n.detail)}</li>"
            for n in r.integrity
        )
        or "<li>No counter drops other than restarts, no scrape gaps, no target down.</li>"
    )
    service_table = _table(
        ["service (job)", "instances", "generations", "success rate", "operations", "errors",
         "cost"], services,
    )  # fmt: skip
    content = (
        f'<p class="muted">Sorted by {_e(column)}, {order}; click a column to re-sort.</p>'
        + table
        + (f"<h3>Services</h3>{service_table}" if services else "")
        + f"<h3>Data integrity</h3><ul>{integrity}</ul>"
        + (f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "")
    )
    return _section("Projects", content)
