"""``--format csv``: one block per table, spreadsheet-ready.

Each table is a title row (its name), a header row and its rows; a blank row separates
tables. Numbers are plain (no currency signs or thousands separators); text cells that a
spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, also after blanks, CR or LF)
are prefixed with an apostrophe. The ``summary`` table names each figure's definition.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from otel_perf.report.definitions import definition
from otel_perf.report.model import Report
from otel_perf.report.safetext import csv_cell

Table = tuple[str, Sequence[str], Iterable[Sequence[Any]]]


def render_csv(report: Report) -> str:
    out = io.StringIO()
    # RFC 4180 line ends: the writer then quotes every cell holding a CR or LF
    writer = csv.writer(out, lineterminator="\r\n")
    for i, (name, headers, rows) in enumerate(tables(report)):
        if i:
            writer.writerow([])
        writer.writerow([name])
        writer.writerow(headers)
        writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, str):
        return csv_cell(value)
    return value


def _codes(values: dict[str, int]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in values.items())


def tables(r: Report) -> list[Table]:
    """Every table of the CSV export, in order."""
    c, t, e, f = r.cost, r.time, r.errors, r.efficiency
    p = c.projection
    q = f.queue_wait
    d = definition
    summary = [
        ("range_label", r.range.label, ""), ("range_start", r.range.start, ""),
        ("range_end", r.range.end, ""), ("observed_start", r.observed.start, ""),
        ("observed_end", r.observed.end, ""), ("observed_seconds", r.observed.seconds, ""),
        ("project", r.project or "(all)", ""), ("selector", r.selector or "", ""),
        ("total_cost_usd", c.total_usd, d("total_cost_usd")),
        ("unpriced_operations", c.unpriced_operations, ""),
        ("projection_status", p.status, p.basis),
        ("cost_rate_usd_per_hour", p.rate_usd_per_hour, ""),
        ("budget_window_days", p.budget_window_days, ""), ("budget_window_end", p.window_end, ""),
        ("projected_cost_usd", p.projected_usd, d("projected_cost_usd")),
        ("budget_usd", p.budget_usd, ""),
        ("total_seconds", t.total_seconds, ""), ("operations", t.operations, ""),
        ("average_seconds", t.average_seconds, ""), ("errors", e.total, ""),
        ("error_rate_pct", e.error_rate_pct, d("error_rate_pct")),
        ("safety_blocks", e.classes.safety_blocks, d("safety_blocks")),
        ("api_errors", e.classes.api_errors, d("api_errors")),
        ("generation_attempts", f.generation_attempts, ""),
        ("successful_generations", f.successful_generations, ""),
        ("success_rate_pct", f.success_rate_pct, d("success_rate_pct")),
        ("all_operations_success_rate_pct", f.all_operations_success_rate_pct,
         d("all_operations_success_rate_pct")),
        ("retries", f.retries, ""),
        ("retries_per_success", f.retries_per_success, d("retries_per_success")),
        ("generations_per_hour", f.generations_per_hour, d("generations_per_hour")),
        ("active_seconds", f.active_seconds, ""),
        ("queue_wait_average_seconds", q.average_seconds, d("queue_wait")),
        ("queue_wait_p50_seconds", q.p50_seconds, ""),
        ("queue_wait_p90_seconds", q.p90_seconds, ""),
        ("queue_wait_p99_seconds", q.p99_seconds, ""),
        ("queries", r.queries, ""), ("samples_read", r.samples_read, ""),
        ("recorded_instants", r.recorded_instants, ""),
    ]  # fmt: skip
    ops = sorted(f.success_rate_by_operation)
    return [
        ("summary", ["figure", "value", "definition"], summary),
        ("cost_by_operation_model", ["operation", "model", "provider", "usd"],
         [(x.operation, x.model, x.provider, x.usd) for x in c.by_operation_model]),
        ("cost_by_operation", ["operation", "usd"], c.by_operation.items()),
        ("cost_by_model", ["model", "usd"], c.by_model.items()),
        ("time_by_operation",
         ["operation", "kind", "count", "total_seconds", "average_seconds", "share_pct"],
         [(o.operation, o.kind, o.count, o.total_seconds, o.average_seconds, o.share_pct)
          for o in t.by_operation]),
        ("generation_time_by_model",
         ["operation", "model", "count", "attempts", "average_seconds", "total_seconds"],
         [(m.operation, m.model, m.count, m.attempts, m.average_seconds, m.total_seconds)
          for m in t.generation_models]),
        ("timeline_export_history", ["time", "exports", "average_seconds"],
         [(x.time, x.count, x.average_seconds) for x in t.timeline_exports.history]),
        ("failed_generations", ["operation", "reason", "count"],
         [(x.operation, reason, n) for x in e.failed_generations
          for reason, n in x.reasons.items()]),
        ("api_errors_by_type", ["error_type", "count"], e.api_error_types.items()),
        ("errors_by_type", ["error_type", "count"], e.by_type.items()),
        ("errors_by_operation", ["operation", "count"], e.by_operation.items()),
        ("render_failure_reasons", ["reason", "count"], e.render_reasons.items()),
        ("worst_endpoints", ["endpoint", "errors", "status_codes", "error_types"],
         [(w.endpoint, w.errors, _codes(w.status_codes), _codes(w.error_types))
          for w in e.worst_endpoints]),
        ("worst_templates", ["template", "failures", "reasons"],
         [(w.template, w.failures, _codes(w.reasons)) for w in e.worst_templates]),
        ("error_trend", ["time", "errors", "operations"],
         [(x.time, x.errors, x.operations) for x in e.trend]),
        ("recent_errors",
         ["time", "operation", "model", "project", "service", "error_type", "trace_id",
          "trace_url"],
         [(x.time, x.operation, x.model, x.project, x.service, x.error_type, x.trace_id,
           x.trace_url) for x in e.recent.errors]
         or [(e.recent.note, "", "", "", "", "", "", "")]),
        ("efficiency_by_operation",
         ["operation", "success_rate_pct", "queue_wait_average_seconds", "slow_runs"],
         [(op, f.success_rate_by_operation[op], f.queue_wait.by_operation.get(op),
           f.slow_operations.get(op, 0)) for op in ops]),
        ("suggestions",
         ["rank", "rule", "title", "detail", "improvement_pct", "saving", "saving_unit"],
         [(s.rank, s.rule, s.title, s.detail, s.improvement_pct, s.saving.amount,
           s.saving.unit) for s in r.suggestions]),
        ("projects",
         ["project", "cost_usd", "time_seconds", "operations", "errors", "error_rate_pct",
          "success_rate_pct"],
         [(x.project, x.cost_usd, x.time_seconds, x.operations, x.errors, x.error_rate_pct,
           x.success_rate_pct) for x in r.projects]),
        ("services",
         ["service", "instances", "generation_attempts", "success_rate_pct", "operations",
          "errors", "cost_usd"],
         [(x.service, x.instances, x.generation_attempts, x.success_rate_pct, x.operations,
           x.errors, x.cost_usd) for x in r.services]),
        ("integrity", ["kind", "service", "instance", "detail"],
         [(n.kind, n.service, n.instance, n.detail) for n in r.integrity]),
        ("definitions", ["figure", "name", "definition"],
         [(k, v["name"], v["definition"]) for k, v in r.definitions.items()]),
    ]  # fmt: skip
