"""The benchmark harness runs in its quick mode and prints its table (no timing asserted)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.support.servers import ROOT


@pytest.mark.e2e
def test_smoke_run_prints_every_target_with_ratios(tmp_path):
    """`python -m benchmarks --smoke` exits 0 and prints targets 1-6 with baselines and ratios."""
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| #"))
    assert "baseline" in lines[header] and "ratio" in lines[header]
    rows = [line.split("|")[1].strip() for line in lines[header + 2 :] if line.startswith("|")]
    assert {"1", "1b", "2", "3", "4", "5", "6"} <= set(rows)
    assert len(re.findall(r"\d\.\d+×", result.stdout)) >= 5  # ratios from this run
    data = json.loads(out.read_text())
    assert data["environment"]["opentelemetry-sdk"]
    assert {row["target"] for row in data["rows"]} >= {"1", "2", "3", "4", "5", "6"}
    threads = data["details"]["threads"]
    assert all(run["exact"] for run in threads)  # counts are exact even in a smoke run
