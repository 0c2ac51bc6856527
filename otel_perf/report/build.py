"""Assemble the report: query Prometheus, compute the sections, rank the suggestions.

>>> from otel_perf.report.prometheus import PrometheusClient
>>> report = build_report(PrometheusClient("http://127.0.0.1:9090"))  # doctest: +SKIP
>>> report.cost.total_usd  # doctest: +SKIP
4.21
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from otel_perf.pricing import PriceTable
from otel_perf.report import promql
from otel_perf.report.collect import collect
from otel_perf.report.definitions import DEFINITIONS
from otel_perf.report.facts import facts_from
from otel_perf.report.model import Report, Window
from otel_perf.report.projects import project_rows, sort_rows
from otel_perf.report.prometheus import PrometheusClient
from otel_perf.report.rawdata import RawData
from otel_perf.report.sections import (
    cost_section,
    efficiency_section,
    error_section,
    integrity_notes,
    service_rows,
    time_section,
)
from otel_perf.report.suggestions import suggest
from otel_perf.report.timerange import iso, resolve_range, retention_seconds


@dataclass(frozen=True)
class ReportOptions:
    """What the user asked for (the CLI's flags)."""

    range: str | None = "7d"
    start: str | None = None
    end: str | None = None
    project: str | None = None
    sort: str = "cost"
    budget_window_days: float = 30.0
    budget_usd: float | None = None
    selector: str | None = None  # PromQL label matchers applied to every query
    tempo_url: str | None = None  # base URL of Tempo: recent errors link to their traces
    records: bool = True  # read the trend grid from otel-perf-report.rules where present


def build_report(
    client: PrometheusClient,
    options: ReportOptions | None = None,
    *,
    prices: PriceTable | None = None,
    now: float | None = None,
) -> Report:
    """The report for ``options``; raises ``PrometheusError`` / ``NoDataError`` / ``ValueError``."""
    options = options or ReportOptions()
    now = time.time() if now is None else now
    sort_rows([], options.sort)  # validate --sort before querying
    scope = promql.parse_selector(options.selector)
    flags = client.flags()
    retention = retention_seconds(flags)
    exemplars = "exemplar-storage" in flags.get("enable-feature", "")
    window = resolve_range(
        options.range, start=options.start, end=options.end, now=now, retention=retention
    )
    data = collect(
        client,
        window,
        project=options.project,
        scope=scope,
        retention_seconds=retention,
        exemplars=exemplars,
        records=options.records,
    )
    return assemble(data, options, prices or PriceTable.bundled(), generated_at=now, url=client.url)


def assemble(
    data: RawData, options: ReportOptions, prices: PriceTable, *, generated_at: float, url: str
) -> Report:
    """The report from fetched data (no I/O)."""
    facts = facts_from(data)
    window, extent = data.range, data.extent
    notes = []
    if data.fleet_wide:
        notes.append(
            "Unpriced operations, worst endpoints and templates, queue wait and slow operations "
            "cover every project: their metrics carry no project label."
        )
    if facts.unpriced:
        count = round(facts.unpriced)
        notes.append(
            f"{count} operation{'s' if count != 1 else ''} used models with no price: "
            "the cost is a lower bound."
        )
    return Report(
        generated_at=iso(generated_at),
        prometheus_url=url,
        retention_days=data.retention_seconds / 86400.0,
        range=Window(window.label, iso(window.start), iso(window.end), window.seconds),
        observed=Window("observed", iso(extent.start), iso(extent.end), extent.seconds),
        project=options.project,
        selector=",".join(data.scope) or None,
        fleet_wide_metrics=list(data.fleet_wide),
        definitions={k: {"name": n, "definition": d} for k, (n, d) in DEFINITIONS.items()},
        cost=cost_section(
            facts,
            extent,
            report_end=window.end,
            budget_window_days=options.budget_window_days,
            budget_usd=options.budget_usd,
        ),
        time=time_section(facts, data),
        errors=error_section(facts, data, options.tempo_url),
        efficiency=efficiency_section(facts, data),
        suggestions=suggest(facts, prices),
        projects=sort_rows(project_rows(facts), options.sort),
        projects_sort=options.sort,
        services=service_rows(facts),
        integrity=integrity_notes(data),
        queries=data.queries,
        samples_read=data.samples_read,
        recorded_instants=data.recorded_instants,
        notes=notes,
    )
