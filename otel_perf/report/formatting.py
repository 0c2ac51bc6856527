"""Human-readable numbers for the terminal and HTML reports.

>>> usd(1234.5), seconds(125), percent(12.345), percent(None)
('$1,234.50', '2m 05s', '12.3%', 'n/a')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

NA: Final = "n/a"
SAVING_UNITS: Final = {"usd": "", "seconds": "", "errors": " errors", "operations": " operations"}


def usd(value: float | None) -> str:
    if value is None:
        return NA
    if 0 < abs(value) < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"


def seconds(value: float | None) -> str:
    if value is None:
        return NA
    if value < 60:
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    if value < 3600:
        minutes, rest = divmod(round(value), 60)
        return f"{minutes}m {rest:02d}s"
    if value < 86400:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.1f} d"


def percent(value: float | None) -> str:
    return NA if value is None else f"{value:.1f}%"


def number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return NA
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def saving(amount: float, unit: str) -> str:
    """An estimated saving with its unit (``$1.36``, ``2m 05s``, ``7 errors``)."""
    if unit == "usd":
        return usd(amount)
    if unit == "seconds":
        return seconds(amount)
    return f"{amount:,.0f}{SAVING_UNITS.get(unit, ' ' + unit)}"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """Columns padded to their widest cell; words left-aligned, numbers right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    left = [
        i == 0 or all(row[i][:1].isalpha() and row[i] != NA for row in rows)
        for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(w) if left[i] else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return (indent + "  ".join(parts)).rstrip()

    out = [line(headers), indent + "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    return "\n".join(out)


def worst_rows(errors: Any) -> tuple[list[list[str]], list[list[str]]]:
    """Table rows of the worst endpoints (route, errors, status codes) and templates
    (template, failures, reasons), shared by the text and HTML renderers."""
    endpoints = [
        [w.endpoint, str(w.errors), ", ".join(f"{c}: {n}" for c, n in w.status_codes.items())]
        for w in errors.worst_endpoints
    ]
    templates = [
        [w.template, str(w.failures), ", ".join(f"{c}: {n}" for c, n in w.reasons.items())]
        for w in errors.worst_templates
    ]
    return endpoints, templates
