"""The ``stack`` fixture: a real Prometheus that scraped ``otel-perf demo`` runs with known
workloads (phases and helpers: tests/support/report_stack.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.report_stack import (
    COUNT,
    PHASES,
    Phase,
    Stack,
    run_cli,
    run_phase,
    scrape_config,
)
from tests.support.servers import Prometheus, free_port
from tests.support.tools import require_tool


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_tool("prometheus")
    workdir = tmp_path_factory.mktemp("report-stack")
    ports = [free_port() for _ in PHASES]
    prometheus = Prometheus(scrape_config(workdir / "prometheus.yml", ports), workdir)
    try:
        phases = {}
        for (name, profile, seed, projects), port in zip(PHASES, ports, strict=True):
            args = ("--profile", profile, "--seed", str(seed), "--count", COUNT)
            ledger, started, finished = run_phase(
                prometheus, workdir, port, name, *args, "--projects", ",".join(projects)
            )
            phases[name] = Phase(name, profile, projects, ledger, started, finished)
        yield Stack(prometheus, phases)
    finally:
        prometheus.stop()


@pytest.fixture(scope="session")
def full_report(stack: Stack) -> dict[str, Any]:
    """``otel-perf report --format json`` over everything the stack holds."""
    return run_cli("report", "--prometheus", stack.url, "--format", "json").json()
