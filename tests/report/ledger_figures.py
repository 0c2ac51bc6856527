"""What the demo ledgers imply, computed from their exact metric samples.

An independent path to every figure of the report: the ledger is what the demo generated,
the report is what Prometheus scraped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from otel_perf import metrics as M

DUR_COUNT = M.OPERATION_DURATION + "_count"
DUR_SUM = M.OPERATION_DURATION + "_sum"
RENDER_OPS = {"render_still", "render_video", "render_batch", "export_timeline"}


def rows(
    ledgers: Iterable[dict[str, Any]], name: str, project: str | None = None, **match: str
) -> list[tuple[dict[str, str], float]]:
    """Samples of ``name`` across ledgers, optionally for one project and matching labels."""
    out = []
    for ledger in ledgers:
        for row in ledger["expected"].get(name, []):
            labels = row["labels"]
            if project is not None and labels.get("project", project) != project:
                continue
            if all(labels.get(k) == v for k, v in match.items()):
                out.append((labels, float(row["value"])))
    return out


def total(
    ledgers: Iterable[dict[str, Any]], name: str, project: str | None = None, **match: str
) -> float:
    return sum(v for _, v in rows(ledgers, name, project, **match))


def group(
    ledgers: Iterable[dict[str, Any]], name: str, key: str, project: str | None = None, **match: str
) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for labels, value in rows(ledgers, name, project, **match):
        out[labels[key]] += value
    return dict(out)


def projects(ledgers: Iterable[dict[str, Any]]) -> set[str]:
    return {labels["project"] for labels, _ in rows(list(ledgers), DUR_COUNT)}
