"""Recent errors against a real Prometheus running without exemplar storage (no
``--enable-feature=exemplar-storage``): every format says the list is unavailable, why, and
how to turn it on, instead of an empty list that reads as "no recent errors"."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.report.fakes import ScriptedExporter, exposition
from tests.support.report_stack import run_cli
from tests.support.servers import Prometheus, wait_until
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e
FLAG = "--enable-feature=exemplar-storage"
REASON = "Prometheus runs without --enable-feature=exemplar-storage"


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    require_tool("prometheus")
    work: Path = tmp_path_factory.mktemp("no-exemplars")
    exporter = ScriptedExporter(lambda n: exposition(1000.0, 4 + n, failures=1 + n // 2))
    config = work / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n"
        f"  - job_name: plain\n    static_configs:\n      - targets: ['127.0.0.1:{exporter.port}']\n"
    )
    prometheus = Prometheus(config, work, exemplars=False)
    try:
        wait_until(lambda: exporter.scrapes >= 6, 60, what="scrapes")
        yield prometheus
    finally:
        prometheus.stop()
        exporter.stop()


def report(prometheus: Prometheus, fmt: str) -> str:
    result = run_cli("report", "--prometheus", prometheus.url, "--format", fmt)
    assert result.code == 0, result.err
    return result.out


def test_json_says_unavailable_and_why(plain: Prometheus):
    """available is false, no errors listed, and the note names the missing flag."""
    data = json.loads(report(plain, "json"))
    assert data["errors"]["total"] > 0  # there were failures to list
    recent = data["errors"]["recent"]
    assert recent["available"] is False
    assert recent["errors"] == []
    assert recent["note"].startswith(f"exemplars unavailable: {REASON}")
    assert FLAG in recent["note"]


def test_text_says_unavailable(plain: Prometheus):
    """The RECENT ERRORS heading carries the reason and the fix."""
    (line,) = [x for x in report(plain, "text").splitlines() if x.startswith("RECENT ERRORS")]
    assert f"exemplars unavailable: {REASON}" in line
    assert line.count(FLAG) == 2  # the reason, then how to turn it on


def test_csv_has_one_row_with_the_note(plain: Prometheus):
    """The recent_errors table holds one row: the note in the time column, nothing else."""
    rows = list(csv.reader(io.StringIO(report(plain, "csv"))))
    start = rows.index(["recent_errors"])
    header, body = rows[start + 1], rows[start + 2 : rows.index([], start)]
    assert header[0] == "time" and "trace_id" in header
    (row,) = body
    assert row[0].startswith(f"exemplars unavailable: {REASON}") and FLAG in row[0]
    assert row[1:] == [""] * (len(header) - 1)


def test_html_shows_the_note(plain: Prometheus):
    """The HTML section states it under its heading, and lists no table of errors."""
    html = report(plain, "html")
    section = html[html.index("Recent errors") :]
    assert f"exemplars unavailable: {REASON}" in section[:2000]
    assert "<th>trace</th>" not in section[:2000]


def test_pdf_shows_the_note(plain: Prometheus, tmp_path: Path):
    """The printed report (headless Chromium) carries the same note."""
    require_tool("chromium")
    from pypdf import PdfReader

    pdf = tmp_path / "report.pdf"
    result = run_cli("report", "--prometheus", plain.url, "--format", "pdf", "-o", str(pdf))
    assert result.code == 0, result.err
    text = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    text = unicodedata.normalize("NFKC", " ".join(text.split()))
    assert f"exemplars unavailable: {REASON}" in text
