"""Running the deployment recipes for real: servers, load with a known cost, exact scrapes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import ROOT, _Process, free_port, http_get, wait_until
from tests.support.tools import require_tool

COST_USD = 0.02  # what every tracked generation of the apps costs (tests/e2e/apps)
LABELS = {"operation": "generate_image", "model": "flux-pro", "provider": "black-forest-labs"}
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Totals:
    """What one scrape says about the apps' generations."""

    operations: float
    cost_usd: float
    in_progress: float

    def exact(self, n: int) -> bool:
        return self.operations == n and abs(self.cost_usd - n * COST_USD) < 1e-9


def tool(name: str) -> str:
    """An executable of this venv (gunicorn, uvicorn, celery, ...), else on PATH."""
    local = BIN / name
    return str(local) if local.exists() else require_tool(name)


def service_env(tmp: Path, metrics_port: int, **extra: str) -> dict[str, str]:
    """The environment of a recipe: a fresh multiprocess directory, the metrics port."""
    multiproc = tmp / "multiproc"
    multiproc.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "OTEL_PERF_PROMETHEUS_PORT": str(metrics_port),
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    env.update(extra)
    return env


class Service(_Process):
    """A recipe's command line, started in ``cwd`` with a bounded wait until it answers."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], log: Path, ready_url: str):
        super().__init__(argv, log, env)
        try:
            wait_until(lambda: self._ready(ready_url), 60, what=f"{argv[0]} ready")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"{argv} did not start:\n{self.log()}") from None

    def _ready(self, url: str) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"exited:\n{self.log()}")
        http_get(url, timeout=2)
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def _get(url: str, attempts: int) -> bytes:
    for attempt in range(attempts):
        try:
            return http_get(url, timeout=10, headers={"Accept": "text/plain"})
        except (urllib.error.URLError, ConnectionError):
            # A connection the kernel had queued on a process that was just killed is
            # reset; Prometheus would retry at the next interval.
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def scrape(url: str, promtool: bool = False, attempts: int = 1) -> Totals:
    """GET ``url`` as Prometheus does and add up the apps' series (all of them: every
    process's series must arrive summed, never one per worker)."""
    body = _get(url, attempts)
    if promtool:
        check = subprocess.run(
            [require_tool("promtool"), "check", "metrics"], input=body, capture_output=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
    operations = cost = in_progress = 0.0
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in seen, f"duplicate series {key}"  # one per label set
            seen.add(key)
            if any(sample.labels.get(k) != v for k, v in LABELS.items()):
                if sample.name != "otel_perf_operations_in_progress":
                    continue
            if sample.name == "otel_perf_operation_duration_seconds_count":
                operations += sample.value
            elif sample.name == "otel_perf_cost_usd_total":
                cost += sample.value
            elif sample.name == "otel_perf_operations_in_progress":
                in_progress += sample.value
    return Totals(operations, cost, in_progress)


def load(url: str, n: int, threads: int = 4) -> set[str]:
    """``n`` GETs of ``url`` (each one tracked generation); the pids that answered."""

    def one(_: int) -> str:
        for attempt in range(5):
            try:
                return http_get(url, timeout=30).decode()
            except (urllib.error.URLError, ConnectionError):
                if attempt == 4:
                    raise
                time.sleep(0.2)  # a worker being recycled closed the connection
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(threads) as pool:
        return set(pool.map(one, range(n)))


def assert_exact(urls: Sequence[str], n: int, scrapes: int = 4, attempts: int = 1) -> list[Totals]:
    """Every scrape of every endpoint shows exactly ``n`` operations and ``n × cost``."""
    seen = []
    for i in range(scrapes):
        for url in urls:
            totals = scrape(url, promtool=i == 0, attempts=attempts)
            seen.append(totals)
            print(f"scrape {i} {url}: {totals.operations:g} ops / ${totals.cost_usd:.2f}")
            assert totals.exact(n), f"{url}: {totals}, want {n} ops / ${n * COST_USD:.2f}"
            assert totals.in_progress == 0, totals
    return seen


def live_processes(tmp: Path) -> int:
    """Processes recording into the recipe's directory (each has a live file)."""
    return len(list((tmp / "multiproc").glob("otel-perf-live-*.mmap")))


def free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)
