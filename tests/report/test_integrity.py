"""Restarts counted exactly, and integrity notes for what is not a restart, against a real
Prometheus scraping scripted exporters.

* job ``restart``: one process counts to 8, is down for two scrapes, a new process (a later
  start time) counts to 3: 11 generations, one restart, the target down in the range;
* job ``workers``: two worker processes answer alternate scrapes behind one target, as
  several gunicorn workers without multiprocess mode do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.report.fakes import ScriptedExporter, exposition
from tests.support.report_stack import run_cli
from tests.support.servers import Prometheus, wait_until
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e
SCRAPES = 16


def restarting(n: int) -> str | None:
    if n < 4:
        return exposition(1000.0, 5)
    if n < 8:
        return exposition(1000.0, 8)
    if n < 10:
        return None  # the process is gone: the scrape fails
    if n < 12:
        return exposition(2000.0, 2)
    return exposition(2000.0, 3)


def alternating(n: int) -> str:
    if n % 2 == 0:
        return exposition(1000.0, 10 + n)
    return exposition(1100.0, 3 + n // 2)


@dataclass
class Scripted:
    prometheus: Prometheus

    def report(self, job: str) -> dict[str, Any]:
        return run_cli(
            "report", "--prometheus", self.prometheus.url, "--format", "json",
            "--selector", f'job="{job}"',
        ).json()  # fmt: skip


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scripted]:
    require_tool("prometheus")
    work: Path = tmp_path_factory.mktemp("scripted")
    restart = ScriptedExporter(restarting)
    workers = ScriptedExporter(alternating)
    config = work / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n"
        f"  - job_name: restart\n    static_configs:\n      - targets: ['127.0.0.1:{restart.port}']\n"
        f"  - job_name: workers\n    static_configs:\n      - targets: ['127.0.0.1:{workers.port}']\n"
    )
    prometheus = Prometheus(config, work)
    try:
        wait_until(lambda: min(restart.scrapes, workers.scrapes) >= SCRAPES, 60, what="scrapes")
        time.sleep(1.5)
        yield Scripted(prometheus)
    finally:
        prometheus.stop()
        restart.stop()
        workers.stop()


def test_restart_is_counted_exactly(scripted: Scripted):
    """8 before the restart + 3 after = 11, not 3 and not an extrapolation."""
    data = scripted.report("restart")
    assert data["efficiency"]["generation_attempts"] == 11
    assert data["time"]["total_seconds"] == pytest.approx(22.0)
    assert sum(p["operations"] for p in data["errors"]["trend"]) == 11
    kinds = {n["kind"] for n in data["integrity"]}
    assert "restart" in kinds
    assert "several_processes" not in kinds
    restart = next(n for n in data["integrity"] if n["kind"] == "restart")
    # the fake start times (1000, 2000) are not times of the range: the restart is placed
    # where the scrapes changed, found to the second
    assert restart["detail"].startswith("1 restart(s) at 20")


def test_target_down_is_noted(scripted: Scripted):
    """The scrapes that failed while the process was gone show as the target down."""
    data = scripted.report("restart")
    down = [n for n in data["integrity"] if n["kind"] == "target_down"]
    assert down and down[0]["service"] == "restart"


def test_alternating_workers_are_not_taken_for_restarts(scripted: Scripted):
    """The start time goes back and forth: a note in every format, not silent restarts."""
    data = scripted.report("workers")
    notes = [n for n in data["integrity"] if n["kind"] == "several_processes"]
    assert len(notes) == 1
    assert "several processes" in notes[0]["detail"]
    url = scripted.prometheus.url
    for fmt in ("text", "csv", "html"):
        out = run_cli("report", "--prometheus", url, "--format", fmt, "--selector", 'job="workers"')
        assert out.code == 0, out.err
        assert "several_processes" in out.out, fmt
