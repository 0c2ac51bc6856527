"""Result rows and the table the harness prints."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Row:
    """One measured figure: what, the baseline, ours, their ratio, the goal, met or not."""

    target: str
    measure: str
    baseline: str
    ours: str
    ratio: float | None
    goal: str
    met: bool | None  # None: informational
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


_HEADERS = ("#", "measure", "baseline", "otel-perf", "ratio", "goal", "met", "note")


def table(rows: Iterable[Row]) -> str:
    """A plain-text table (also valid Markdown)."""
    cells = [
        (
            r.target,
            r.measure,
            r.baseline,
            r.ours,
            "" if r.ratio is None else _ratio(r.ratio),
            r.goal,
            {True: "yes", False: "NO", None: ""}[r.met],
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(_HEADERS)]

    def line(values: Iterable[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    out = [line(_HEADERS), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(c) for c in cells)
    return "\n".join(out)


def _ratio(value: float) -> str:
    if value >= 0.1:
        return f"{value:.3f}×"
    return f"{value:.2g}×"
