"""Real gunicorn -w 4, as docs/deployment.md runs it: every scrape shows every worker's work."""

from __future__ import annotations

import os
import signal

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
from tests.support.servers import wait_until

pytestmark = pytest.mark.e2e

N = 200
APP = "tests.e2e.apps.media_wsgi:app"

# The recipes of docs/deployment.md, by name.
RECIPES = {
    "import": ["-c", "python:otel_perf.integrations.gunicorn", "-w", "4"],
    "preload": ["-c", "python:otel_perf.integrations.gunicorn", "-w", "4", "--preload"],
    "post_fork": ["-c", "python:tests.e2e.apps.gunicorn_post_fork", "-w", "4"],
    "max_requests": ["-c", "python:otel_perf.integrations.gunicorn", "-w", "4",
                     "--max-requests", "15"],
}  # fmt: skip


def _gunicorn(tmp_path, recipe: str, prefix: tuple[str, ...] = (), **env: str):  # type: ignore[no-untyped-def]
    app_port, metrics_port = free_ports(2)
    environment = service_env(tmp_path, metrics_port, **env)
    argv = [*prefix, tool("gunicorn"), *RECIPES[recipe], "-b", f"127.0.0.1:{app_port}", APP]
    service = Service(argv, environment, tmp_path / "gunicorn.log",
                      f"http://127.0.0.1:{app_port}/metrics")  # fmt: skip
    # Every worker up (each opens its files when it configures or is forked).
    wait_until(lambda: live_processes(tmp_path) >= 4, 30, what="four gunicorn workers")
    base = f"http://127.0.0.1:{app_port}"
    return service, base, f"http://127.0.0.1:{metrics_port}/metrics"


@pytest.mark.parametrize("recipe", ["import", "preload", "post_fork", "max_requests"])
def test_gunicorn_four_workers_serve_the_exact_sum(tmp_path, recipe):
    """N requests, each one generation at $0.02: N and N x $0.02 on every scrape of the
    embedded server and of the /metrics mounted in the app, whichever worker answers."""
    configure = "none" if recipe == "post_fork" else "import"
    service, base, embedded = _gunicorn(tmp_path, recipe, APP_CONFIGURE=configure)
    try:
        pids = load(base + "/work", N)
        assert len(pids) >= 2, pids  # the load really was spread over workers
        if recipe == "max_requests":
            assert len(pids) > 4, pids  # workers were recycled during the load
        wait_until(lambda: scrape(embedded, attempts=3), 20, what="the embedded server")
        # The mounted /metrics is on gunicorn's own socket, one accept queue for all
        # workers: no scrape ever fails. The embedded server's port is shared with
        # SO_REUSEPORT: a scrape queued on a worker that is just exiting (recycled after
        # --max-requests) is reset, and Prometheus' next scrape succeeds.
        assert_exact([base + "/metrics"], N)
        assert_exact([embedded], N, attempts=1 if recipe != "max_requests" else 3)
    finally:
        service.stop()
    log = service.log()
    assert "ERROR" not in log and "Address already in use" not in log, log


def test_killed_workers_lose_nothing_and_the_endpoint_stays_up(tmp_path):
    """SIGKILL two workers (one may hold the port): the sum stays exact and the embedded
    endpoint keeps answering from the others and the replacements."""
    service, base, embedded = _gunicorn(tmp_path, "import")
    try:
        pids = sorted(int(p) for p in load(base + "/work", N))
        for pid in pids[:2]:
            os.kill(pid, signal.SIGKILL)
        assert_exact([embedded, base + "/metrics"], N, attempts=3)
        more = load(base + "/work", 20)
        assert not {str(p) for p in pids[:2]} & more
        assert_exact([embedded], N + 20)
    finally:
        service.stop()


def test_opentelemetry_instrument_gunicorn(tmp_path):
    """No code change: OTEL_PERF_ENABLED=true opentelemetry-instrument gunicorn -w 4."""
    service, base, embedded = _gunicorn(
        tmp_path,
        "import",
        prefix=(tool("opentelemetry-instrument"),),
        APP_CONFIGURE="none",
        OTEL_PERF_ENABLED="true",
        OTEL_SERVICE_NAME="media-api",
    )
    try:
        load(base + "/work", N)
        wait_until(lambda: scrape(embedded), 20, what="the embedded server")
        assert_exact([embedded, base + "/metrics"], N)
    finally:
        service.stop()
