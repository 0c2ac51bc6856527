"""``--format json``: the whole report, the schema documented in ``docs/report.md``."""

from __future__ import annotations

import json
from typing import Any

from otel_perf.report.model import Report

#: Decimal places kept in JSON: float noise (0.6000000000000001) off, every real digit kept.
DECIMALS = 9


def render_json(report: Report) -> str:
    return json.dumps(_rounded(report.to_dict()), indent=2) + "\n"


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
