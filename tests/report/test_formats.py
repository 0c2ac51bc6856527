"""Terminal, CSV, HTML (rendered in headless Chromium) and PDF output of one report."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from pathlib import Path

import pytest

from otel_perf.report.chromium import screenshot
from otel_perf.report.render_html import SECTIONS
from otel_perf.report.svg import SIGNATURE
from tests.support.report_stack import Stack, run_cli
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e  # Prometheus and demo processes


def _write(stack: Stack, tmp_path: Path, fmt: str, *args: str) -> Path:
    out = tmp_path / f"report.{fmt}"
    result = run_cli(
        "report", "--prometheus", stack.url, "--format", fmt, "--output", str(out), *args
    )
    assert result.code == 0, result.err
    assert f"wrote {out}" in result.err
    return out


def test_terminal_report_has_every_section(stack: Stack, full_report):
    """The default format prints each section with the figures of the JSON report."""
    result = run_cli("report", "--prometheus", stack.url)
    assert result.code == 0, result.err
    text = result.out
    for title in ("COST", "TIME", "ERRORS", "EFFICIENCY", "SUGGESTIONS", "PROJECTS"):
        assert f"\n{title}" in text
    assert f"${full_report['cost']['total_usd']:,.2f}" in text
    assert (
        f"Total {full_report['errors']['total']} of {full_report['errors']['operations']}" in text
    )
    for row in full_report["projects"]:
        assert row["project"] in text


def _tables(text: str) -> dict[str, list[list[str]]]:
    """CSV blocks separated by blank rows: name -> [header, rows...]."""
    tables: dict[str, list[list[str]]] = {}
    block: list[list[str]] = []
    for row in [*csv.reader(io.StringIO(text)), []]:
        if row:
            block.append(row)
        elif block:
            tables[block[0][0]] = block[1:]
            block = []
    return tables


def test_csv_parses_into_one_table_per_section(stack: Stack, tmp_path: Path, full_report):
    """Every table parses with the csv module; values match the JSON report."""
    tables = _tables(_write(stack, tmp_path, "csv").read_text())
    assert {
        "summary", "cost_by_operation_model", "time_by_operation", "errors_by_type",
        "worst_endpoints", "error_trend", "efficiency_by_operation", "suggestions", "projects",
    } <= set(tables)  # fmt: skip
    for name, (header, *rows) in tables.items():
        assert all(len(row) == len(header) for row in rows), name
    summary = {row[0]: row[1] for row in tables["summary"][1:]}
    definitions = {row[0]: row[2] for row in tables["summary"][1:]}
    assert definitions["success_rate_pct"].startswith("successful generations / generation")
    assert float(summary["total_cost_usd"]) == pytest.approx(full_report["cost"]["total_usd"])
    assert int(summary["errors"]) == full_report["errors"]["total"]
    header, *rows = tables["projects"]
    assert header[:2] == ["project", "cost_usd"]
    got = {r[0]: float(r[1]) for r in rows}
    want = {p["project"]: p["cost_usd"] for p in full_report["projects"]}
    assert got == pytest.approx(want)
    trend = tables["error_trend"][1:]
    assert sum(int(r[1]) for r in trend) == full_report["errors"]["total"]


def test_json_output_file_is_the_documented_schema(stack: Stack, tmp_path: Path):
    """--output writes the same JSON document, tagged with its schema version."""
    data = json.loads(_write(stack, tmp_path, "json").read_text())
    assert data["schema"] == "otel-perf-report/2"
    assert list(data)[:2] == ["schema", "generated_at"]
    for key in ("cost", "time", "errors", "efficiency", "suggestions", "projects"):
        assert key in data


def _colour_pixels(png: Path) -> dict[str, int]:
    from PIL import Image

    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
    counts = {f"#{r:02x}{g:02x}{b:02x}": n for n, (r, g, b) in colours}
    return counts


def test_html_renders_every_chart_in_headless_chromium(stack: Stack, tmp_path: Path):
    """Self-contained page; a Chromium screenshot shows each chart in its own colour."""
    chromium = require_tool("chromium")
    html = _write(stack, tmp_path, "html")
    page = html.read_text()
    assert "http://" not in page.replace(stack.url, "")  # no external assets
    assert "https://" not in page
    assert "<link" not in page and "src=" not in page and "@import" not in page
    for chart in SIGNATURE:
        assert f'id="{chart}"' in page
    png = tmp_path / "report.png"
    screenshot(html, png, width=1280, height=4200, binary=chromium)
    pixels = _colour_pixels(png)
    assert len(pixels) > 50  # not blank: text, tables and charts in many shades
    for chart, colour in SIGNATURE.items():
        assert pixels.get(colour, 0) > 100, f"{chart} ({colour}) not visible in the screenshot"


def test_pdf_starts_each_section_on_a_new_page(stack: Stack, tmp_path: Path):
    """Printed by headless Chromium on A4: every section opens a page, in order; a long
    section continues on the next page."""
    require_tool("chromium")
    from pypdf import PdfReader

    pdf = _write(stack, tmp_path, "pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    reader = PdfReader(pdf)
    assert len(reader.pages) >= len(SECTIONS) == 6
    openings = []
    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert (round(width), round(height)) == (595, 842)  # A4 in points
        text = unicodedata.normalize("NFKC", page.extract_text())  # ﬃ ligatures -> ffi
        openings += [s for s in SECTIONS if s in text.splitlines()[:8]]
    assert openings == list(SECTIONS)
    first = reader.pages[0].extract_text()
    assert "otel-perf report: all projects" in first
    assert "Success rate" in "".join(p.extract_text() for p in reader.pages)
