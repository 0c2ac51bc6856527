"""Helpers for the report tests: a real Prometheus that scraped ``otel-perf demo`` runs with known workloads.

``stack`` (one per session) runs three demos one after the other, each for its own
projects, and remembers when each phase finished so tests can pick ranges around them:

=====  ==========  ===============  ============================================
phase  profile     projects         what the report should find
=====  ==========  ===============  ============================================
alpha  suboptimal  alpha            all on Imagen, retries, safety blocks, upscaling
beta   healthy     beta             nothing to suggest
gamma  mixed       gamma, delta     a bit of everything, two projects in one process
=====  ==========  ===============  ============================================
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otel_perf import cli
from tests.support.servers import DemoProcess, Prometheus

SCRAPE_INTERVAL = "1s"
COUNT = "60"
PHASES = (
    ("alpha", "suboptimal", 7, ("alpha",)),
    ("beta", "healthy", 8, ("beta",)),
    ("gamma", "mixed", 9, ("gamma", "delta")),
)


@dataclass
class Phase:
    name: str
    profile: str
    projects: tuple[str, ...]
    ledger: dict[str, Any]
    started: float
    finished: float


@dataclass
class Stack:
    prometheus: Prometheus
    phases: dict[str, Phase]

    @property
    def url(self) -> str:
        return self.prometheus.url

    def ledgers(self, *names: str) -> list[dict[str, Any]]:
        """Ledgers of the named phases (all when none is named)."""
        return [p.ledger for n, p in self.phases.items() if not names or n in names]


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        assert self.code == 0, self.err
        return dict(json.loads(self.out))


def run_cli(*argv: str) -> CliResult:
    """``otel-perf ARGV`` in-process, capturing stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return CliResult(code, out.getvalue(), err.getvalue())


def scrape_config(path: Path, ports: list[int]) -> Path:
    targets = ", ".join(f"'127.0.0.1:{p}'" for p in ports)
    path.write_text(
        f"global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  evaluation_interval: 1m\n"
        f"scrape_configs:\n  - job_name: demo\n    static_configs:\n"
        f"      - targets: [{targets}]\n"
    )
    return path


def run_phase(
    prometheus: Prometheus, workdir: Path, port: int, name: str, *demo_args: str
) -> tuple[dict[str, Any], float, float]:
    """Run one demo to completion and wait until Prometheus scraped its final values."""
    started = time.time()
    demo = DemoProcess(workdir, *demo_args, "--hold", "60", name=name, port=port)
    try:
        ledger = demo.wait_ledger()
        prometheus.wait_for_scrape_after(time.time(), instance=f"127.0.0.1:{port}")
    finally:
        demo.stop()
    return ledger, started, time.time()
