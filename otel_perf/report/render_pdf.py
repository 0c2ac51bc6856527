"""``--format pdf``: the HTML report printed by headless Chromium, one page per section."""

from __future__ import annotations

import tempfile
from pathlib import Path

from otel_perf.report.chromium import print_to_pdf
from otel_perf.report.model import Report
from otel_perf.report.render_html import render_html


def render_pdf(report: Report, *, binary: str | None = None) -> bytes:
    """The PDF document as bytes."""
    with tempfile.TemporaryDirectory(prefix="otel-perf-report-") as tmp:
        html_file, pdf_file = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        html_file.write_text(render_html(report), encoding="utf-8")
        print_to_pdf(html_file, pdf_file, binary=binary)
        return pdf_file.read_bytes()
