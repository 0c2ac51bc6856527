"""Hostile label values through a real Prometheus into every format.

A service labels its work with projects whose names are spreadsheet formulas (also behind
blanks, CR or LF) and terminal escape sequences, BEL and bidi overrides. The text, HTML and
PDF reports show them escaped, the CSV keeps spreadsheets from running them, and the JSON
keeps them exactly (it is data for programs).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.report.fakes import ScriptedExporter, exposition
from tests.support.report_stack import run_cli
from tests.support.servers import Prometheus, wait_until
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e

EVIL = (
    '=HYPERLINK("http://x")',
    " \r@SUM(A1)",
    "\n-2+3",
    "+cmd|' /C calc'!A0",
    "film\x1b[2J\x1b]0;owned\x07\u202egpj.exe\u2066",
)
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _body(n: int) -> str:
    return "".join(
        exposition(1000.0, 3 + i, failures=1, project=p).split("\n", 2)[2] if i else
        exposition(1000.0, 3 + i, failures=1, project=p)
        for i, p in enumerate(EVIL)
    )  # fmt: skip


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_tool("prometheus")
    work: Path = tmp_path_factory.mktemp("evil")
    exporter = ScriptedExporter(_body)
    config = work / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n"
        f"  - job_name: evil\n    static_configs:\n      - targets: ['127.0.0.1:{exporter.port}']\n"
    )
    prometheus = Prometheus(config, work)
    try:
        wait_until(lambda: exporter.scrapes >= 3, 30, what="scrapes")
        time.sleep(1.5)
        yield prometheus.url
    finally:
        prometheus.stop()
        exporter.stop()


def _out(url: str, fmt: str, tmp_path: Path | None = None) -> str:
    args = ["report", "--prometheus", url, "--format", fmt]
    if tmp_path is not None:
        args += ["--output", str(tmp_path / f"r.{fmt}")]
    result = run_cli(*args)
    assert result.code == 0, result.err
    return result.out


def test_json_keeps_the_values_exactly(evil: str):
    data = json.loads(_out(evil, "json"))
    assert {p["project"] for p in data["projects"]} == set(EVIL)


def test_text_escapes_control_and_bidi_characters(evil: str):
    text = _out(evil, "text")
    assert not UNSAFE.search(text), repr(UNSAFE.search(text))
    assert "film\\x1b[2J\\x1b]0;owned\\x07\\u202egpj.exe\\u2066" in text
    assert "\\x0d@SUM(A1)" in text and "\\x0a-2+3" in text


def test_csv_cells_never_start_a_formula(evil: str):
    rows = list(csv.reader(io.StringIO(_out(evil, "csv"), newline="")))
    projects = []
    for row in rows:
        for cell in row:
            stripped = cell.lstrip(" \t\r\n")
            if stripped[:1] in ("=", "+", "-", "@"):
                assert cell.startswith("'"), repr(cell)
    in_projects = False
    for row in rows:
        if row == ["projects"]:
            in_projects = True
        elif in_projects and row and row[0] != "project":
            projects.append(row[0])
        elif in_projects and not row:
            break
    assert set(projects) == {"'" + p if p != EVIL[4] else p for p in EVIL}


def test_html_and_pdf_escape_them_too(evil: str, tmp_path: Path):
    _out(evil, "html", tmp_path)
    page = (tmp_path / "r.html").read_text()
    assert not UNSAFE.search(page.replace("\t", ""))
    assert "\\u202egpj.exe" in page
    require_tool("chromium")
    from pypdf import PdfReader

    _out(evil, "pdf", tmp_path)
    text = "".join(p.extract_text() for p in PdfReader(tmp_path / "r.pdf").pages)
    assert "\u202e" not in text and "\x1b" not in text and "\x07" not in text
