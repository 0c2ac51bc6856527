"""Real uvicorn --workers 4 (ASGI app mounted) and Celery prefork -c 4 on a real redis-server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.prefork import (
    Service,
    assert_exact,
    free_ports,
    live_processes,
    load,
    scrape,
    service_env,
    tool,
)
from tests.support.servers import ROOT, _Process, wait_until
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e

N = 200


def test_uvicorn_four_workers_serve_the_exact_sum(tmp_path):
    """uvicorn --workers 4, configure() at import in each worker, make_asgi_app() mounted."""
    app_port, metrics_port = free_ports(2)
    argv = [tool("uvicorn"), "tests.e2e.apps.media_asgi:app", "--workers", "4",
            "--host", "127.0.0.1", "--port", str(app_port), "--no-access-log"]  # fmt: skip
    base = f"http://127.0.0.1:{app_port}"
    service = Service(argv, service_env(tmp_path, metrics_port), tmp_path / "uvicorn.log",
                      base + "/metrics")  # fmt: skip
    embedded = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        # Wait until all four workers are up, so the load is spread over them.
        wait_until(lambda: live_processes(tmp_path) >= 4, 30, what="four uvicorn workers")
        pids = load(base + "/work", N, threads=8)
        assert len(pids) >= 2, pids
        assert_exact([embedded, base + "/metrics"], N)
    finally:
        service.stop()
    assert "ERROR" not in service.log(), service.log()


class Redis(_Process):
    """redis-server on a free port on 127.0.0.1, nothing persisted."""

    def __init__(self, workdir) -> None:  # type: ignore[no-untyped-def]
        self.port = free_ports(1)[0]
        binary = require_tool("redis-server")
        super().__init__(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir)],
            workdir / "redis.log",
        )  # fmt: skip
        wait_until(self._ready, 20, what="redis-server")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited:\n{self.log()}")
        import redis

        return bool(redis.Redis(host="127.0.0.1", port=self.port).ping())


@pytest.mark.parametrize("configure", ["import", "worker_process_init"])
def test_celery_prefork_with_recycling_serves_the_exact_sum(tmp_path, configure):
    """celery worker --pool prefork -c 4 --max-tasks-per-child 10: N tasks, exact totals."""
    redis_server = Redis(tmp_path)
    broker = f"redis://127.0.0.1:{redis_server.port}/0"
    metrics_port = free_ports(1)[0]
    env = service_env(tmp_path, metrics_port, APP_BROKER_URL=broker, APP_CONFIGURE=configure)
    argv = [tool("celery"), "-A", "tests.e2e.apps.media_tasks", "worker", "--pool", "prefork",
            "-c", "4", "--max-tasks-per-child", "10", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    embedded = f"http://127.0.0.1:{metrics_port}/metrics"
    worker = Service(argv, env, tmp_path / "celery.log", embedded)
    try:
        client = subprocess.run(
            [sys.executable, "-c", _CLIENT, str(N)],
            env={**env, "APP_CONFIGURE": "none"},  # the client only sends tasks
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert client.returncode == 0, client.stdout + client.stderr + worker.log()
        pids = set(client.stdout.split())
        assert len(pids) > 4, pids  # children were recycled (10 tasks each)
        wait_until(lambda: scrape(embedded, attempts=3).operations == N, 20, what="all tasks")
        assert_exact([embedded], N, attempts=3)
    finally:
        worker.stop()
        redis_server.stop()


# Sends N tasks and prints the pids that ran them (one process: the results backend).
_CLIENT = """
import sys
from tests.e2e.apps.media_tasks import generate
n = int(sys.argv[1])
results = [generate.delay() for _ in range(n)]
print(" ".join(str(r.get(timeout=200)) for r in results))
"""
