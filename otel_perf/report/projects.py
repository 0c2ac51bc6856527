"""Project comparison: one row per project, sortable by any column.

>>> parse_sort("cost")
('cost_usd', True)
>>> parse_sort("project:desc")
('project', True)
"""

from __future__ import annotations

from typing import Final

from otel_perf.report.facts import Facts
from otel_perf.report.model import ProjectRow
from otel_perf.report.sections import pct

#: --sort names -> ProjectRow fields. Numbers sort largest first unless ':asc' is given.
SORT_COLUMNS: Final = {
    "project": "project",
    "cost": "cost_usd",
    "time": "time_seconds",
    "operations": "operations",
    "errors": "errors",
    "error_rate": "error_rate_pct",
    "success_rate": "success_rate_pct",
}
NO_PROJECT: Final = "(none)"


def parse_sort(text: str) -> tuple[str, bool]:
    """``COLUMN`` or ``COLUMN:asc|desc`` -> (row field, descending)."""
    column, _, order = text.partition(":")
    if column not in SORT_COLUMNS:
        raise ValueError(
            f"--sort: unknown column {column!r}; accepted values: {', '.join(SORT_COLUMNS)} "
            "(optionally followed by :asc or :desc)"
        )
    if order not in ("", "asc", "desc"):
        raise ValueError(f"--sort: order must be 'asc' or 'desc', got {order!r}")
    descending = order == "desc" if order else column != "project"
    return SORT_COLUMNS[column], descending


def project_rows(facts: Facts) -> list[ProjectRow]:
    """Every project seen in the window (``(none)`` for operations without a project)."""
    names = {p for p, _ in facts.ops_by_project} | set(facts.cost_by_project)
    rows = []
    for name in names:
        operations = sum(v for (p, _), v in facts.ops_by_project.items() if p == name)
        errors = facts.ops_by_project.get((name, "error"), 0.0)
        rows.append(
            ProjectRow(
                project=name or NO_PROJECT,
                cost_usd=facts.cost_by_project.get(name, 0.0),
                time_seconds=facts.time_by_project.get(name, 0.0),
                operations=round(operations),
                errors=round(errors),
                error_rate_pct=pct(errors, operations),
                success_rate_pct=pct(operations - errors, operations),
            )
        )
    return rows


def sort_rows(rows: list[ProjectRow], sort: str) -> list[ProjectRow]:
    """Rows ordered by ``sort`` (see ``parse_sort``); rows without a value go last, ties by name."""
    field, descending = parse_sort(sort)
    if field == "project":
        return sorted(rows, key=lambda r: r.project, reverse=descending)
    present = [r for r in rows if getattr(r, field) is not None]
    missing = [r for r in rows if getattr(r, field) is None]
    present.sort(key=lambda r: r.project)
    present.sort(key=lambda r: getattr(r, field), reverse=descending)
    return present + sorted(missing, key=lambda r: r.project)
