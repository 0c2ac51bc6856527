"""The analytics report: cost, time, errors, efficiency, suggestions and project comparison,
read from Prometheus and written as text, CSV, JSON, HTML or PDF.

>>> from otel_perf.report import PrometheusClient, ReportOptions, build_report, render_json
>>> report = build_report(PrometheusClient("http://127.0.0.1:9090"), ReportOptions(range="30d"))  # doctest: +SKIP
>>> print(render_json(report))  # doctest: +SKIP

The command line is ``otel-perf report`` (``command.py``) and ``otel-perf purge``
(``purge.py``); ``docs/report.md`` documents the figures, the JSON schema and the rules.
"""

from otel_perf.report.build import ReportOptions, build_report
from otel_perf.report.model import SCHEMA, Report
from otel_perf.report.prometheus import (
    AdminApiDisabled,
    PrometheusClient,
    PrometheusError,
    PrometheusUnreachable,
)
from otel_perf.report.rawdata import NoDataError
from otel_perf.report.render_csv import render_csv
from otel_perf.report.render_html import render_html
from otel_perf.report.render_json import render_json
from otel_perf.report.render_pdf import render_pdf
from otel_perf.report.render_text import render_text

__all__ = [
    "SCHEMA",
    "AdminApiDisabled",
    "NoDataError",
    "PrometheusClient",
    "PrometheusError",
    "PrometheusUnreachable",
    "Report",
    "ReportOptions",
    "build_report",
    "render_csv",
    "render_html",
    "render_json",
    "render_pdf",
    "render_text",
]
