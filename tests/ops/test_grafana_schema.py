"""The generated dashboards type-check against @grafana/schema of the pinned Grafana.

``tests/ops/grafana-schema`` pins ``@grafana/schema`` (the version of ``compose.GRAFANA_IMAGE``)
and TypeScript in a package-lock; ``scripts/test`` installs them with ``npm ci``. Each
dashboard becomes a TypeScript constant typed ``CheckedDashboard`` (the schema's
``Dashboard`` as JSON, see ``json.d.ts``), and ``tsc`` must accept it: unknown keys, missing
required keys and wrong types or enum values fail.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from otel_perf.monitoring.compose import GRAFANA_IMAGE
from otel_perf.monitoring.dashboards import dashboards
from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.grafana import render_dashboard
from tests.support.servers import ROOT
from tests.support.tools import require_tool

SCHEMA_DIR = ROOT / "tests/ops/grafana-schema"
TSC = SCHEMA_DIR / "node_modules/.bin/tsc"


def _tsc(tmp_path: Path, boards: dict[str, dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """Type-check ``boards`` (name -> dashboard JSON) in ``tmp_path``."""
    if not TSC.exists():
        require_tool("npm")  # fails under CI=true; scripts/test runs `npm ci` there
        pytest.skip(f"run `npm ci --prefix {SCHEMA_DIR.relative_to(ROOT)}` first")
    lines = [f'import type {{ CheckedDashboard }} from "{SCHEMA_DIR / "json"}";']
    for name, board in boards.items():
        lines.append(f"export const {name}: CheckedDashboard = {json.dumps(board, indent=1)};")
    (tmp_path / "dashboards.ts").write_text("\n".join(lines) + "\n")
    schema = SCHEMA_DIR / "node_modules/@grafana/schema/dist/types/index.d.ts"
    (tmp_path / "tsconfig.json").write_text(json.dumps({
        "extends": str(SCHEMA_DIR / "tsconfig.json"),
        "compilerOptions": {"baseUrl": str(tmp_path), "paths": {"@grafana/schema": [str(schema)]}},
        "files": [str(tmp_path / "dashboards.ts")],
    }))  # fmt: skip
    return subprocess.run([str(TSC), "-p", str(tmp_path / "tsconfig.json")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_schema_package_is_the_pinned_grafana_version():
    """The locked @grafana/schema is the version of the Grafana image compose runs."""
    lock = json.loads((SCHEMA_DIR / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/@grafana/schema"]["version"]
    assert locked == GRAFANA_IMAGE.rpartition(":")[2] == "12.1.1"


@pytest.mark.e2e
def test_generated_dashboards_type_check_against_grafana_schema(tmp_path: Path):
    """tsc accepts all three dashboards as @grafana/schema Dashboards."""
    boards = {f"d{i}": render_dashboard(d) for i, d in enumerate(dashboards(MonitoringConfig()))}
    assert len(boards) == 3
    result = _tsc(tmp_path, boards)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d.update(graphTooltip="shared"), "DashboardCursorSync"),
        (lambda d: d["panels"][0].update(gridPos={"h": 8, "w": 6, "x": 0}), "'y'"),
        (
            lambda d: d["panels"][0]["fieldConfig"]["defaults"]["thresholds"].update(mode="abs"),
            '"absolute" | "percentage"',
        ),
        (lambda d: d["panels"][0].update(unknownKey=1), "unknownKey"),
    ],
)
def test_the_check_rejects_what_the_schema_forbids(tmp_path: Path, change: Any, error: str):
    """A wrong type, a missing required key, a bad enum value and an unknown key fail."""
    board = copy.deepcopy(render_dashboard(dashboards(MonitoringConfig())[0]))
    change(board)
    result = _tsc(tmp_path, {"bad": board})
    assert result.returncode != 0 and error in result.stdout, result.stdout
