"""The docs stay true: the reference tables are the ones the code renders, they list every
name the code owns, and every relative link in README.md and docs/ resolves."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from otel_perf import attributes as A
from otel_perf import environment as E
from otel_perf import metrics as M
from otel_perf.config import Settings
from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.rules import all_alerts
from otel_perf.reference_tables import REFERENCE_PATH, render_reference, span_attributes
from otel_perf.thresholds import DEFAULT_THRESHOLDS

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RENDERED = render_reference(all_alerts(MonitoringConfig()))


def test_committed_reference_matches_the_code() -> None:
    """docs/reference.md is what `otel-perf generate` renders now (run it after a change)."""
    assert (ROOT / REFERENCE_PATH).read_text() == RENDERED


def test_reference_lists_every_metric_with_its_labels() -> None:
    """One row per metric of the contract and per self-metric, with its labels in order."""
    for spec in M.SPECS:
        assert f"| `{spec.name}` | {spec.kind} | {', '.join(spec.labels)} |" in RENDERED
    for spec in M.SELF_SPECS:
        assert f"| `{spec.name}` | counter | {spec.labels[0]} |" in RENDERED


def test_reference_lists_every_name_the_code_owns() -> None:
    """Attributes, error types, thresholds, settings and environment variables all appear."""
    assert A.COST_USD in dict(span_attributes())
    assert A.GEN_AI_SYSTEM not in dict(span_attributes())  # read from others' spans only
    for attribute, _ in span_attributes():
        assert f"| `{attribute}` |" in RENDERED
    for error_type in A.ERROR_TYPES:
        assert f"`{error_type}`" in RENDERED
    for operation, seconds in DEFAULT_THRESHOLDS.items():
        assert f"| `{operation}` | {seconds:g} |" in RENDERED
    for setting in fields(Settings):
        variables = [f"`{v.name}`" for v in E.VARIABLES if v.setting == setting.name]
        assert re.search(rf"^\| `{setting.name}` \| .+ \| {re.escape(', '.join(variables) or '-')} \|$",
                         RENDERED, re.MULTILINE), setting.name  # fmt: skip
    for variable in E.VARIABLES:
        assert f"| `{variable.name}` | {variable.scope}" in RENDERED


def test_reference_links_every_alert_to_its_runbook() -> None:
    """The alert table has one row per generated alert, linking its runbook section."""
    rows = re.findall(r"^\| \[`(\w+)`\]\(runbooks\.md#(\w+)\)", RENDERED, re.MULTILINE)
    assert sorted(n for n, _ in rows) == sorted(a.name for a in all_alerts(MonitoringConfig()))
    assert all(anchor == name.lower() for name, anchor in rows)


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of ``markdown``."""
    anchors = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def _links(markdown: str) -> list[str]:
    text = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    """Every relative link names a file that exists, and a heading of it when it has a #."""
    broken = []
    for link in _links(doc.read_text()):
        if re.match(r"^[a-z]+:", link):
            continue  # http(s), mailto: not checked offline
        path, _, anchor = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        if not target.exists():
            broken.append(link)
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target.read_text()):
            broken.append(link)
    assert not broken, f"{doc.name}: broken links {broken}"
