"""The embedded /metrics server under many scrapers: bounded renders, connections, memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from otel_perf import exposition
from tests.support.servers import ROOT, free_port, http_get, wait_until


class _SlowCollector(Collector):
    """Counts its collections; each takes 50 ms, so concurrent scrapes overlap."""

    def __init__(self) -> None:
        self.calls = 0

    def collect(self):  # type: ignore[no-untyped-def]
        self.calls += 1
        time.sleep(0.05)
        return []


def test_fifty_concurrent_scrapes_share_a_few_renders():
    """50 scrapers at once: a handful of renders, every one of them answered."""
    registry = CollectorRegistry()
    slow = _SlowCollector()
    registry.register(slow)
    server, _thread = exposition.start_http_server(0, registry=registry)
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    try:
        barrier = threading.Barrier(50)

        def one(_: int) -> bytes:
            barrier.wait()
            return http_get(url, timeout=30)

        with ThreadPoolExecutor(50) as pool:
            bodies = list(pool.map(one, range(50)))
    finally:
        server.shutdown()
        server.server_close()
    assert len(bodies) == 50
    # Without sharing: 50. With 16 connections served at once and requests that arrive during
    # a render sharing the next one, about 50 / 16 * 2; the bound leaves room for a loaded CI.
    assert slow.calls <= 25, slow.calls


def test_a_render_is_never_older_than_the_request():
    """A request arriving during a render waits for a fresh one (values are never stale)."""
    registry = CollectorRegistry()
    slow = _SlowCollector()
    registry.register(slow)
    renders = exposition._Renders()
    started = threading.Event()

    def first() -> None:
        renders.get("k", lambda: (started.set(), time.sleep(0.2), "old")[2])

    thread = threading.Thread(target=first)
    thread.start()
    started.wait(5)
    assert renders.get("k", lambda: "new") == "new"  # arrived during "old": not served it
    thread.join()


def test_server_limits_backlog_connections_and_idle_time(monkeypatch):
    """Backlog 128, at most MAX_CONNECTIONS handled at once, idle connections time out,
    and a silent client does not block other scrapes."""
    monkeypatch.setattr(exposition._Handler, "timeout", 0.5)
    server, _thread = exposition.start_http_server(0, registry=CollectorRegistry())
    port = server.server_address[1]
    try:
        assert server.request_queue_size >= 128
        assert server._slots._initial_value == exposition.MAX_CONNECTIONS  # type: ignore[attr-defined]
        idle = socket.create_connection(("127.0.0.1", port))
        assert http_get(f"http://127.0.0.1:{port}/metrics", timeout=5) is not None
        idle.settimeout(5)
        assert idle.recv(1) == b""  # closed by the server after its timeout
        idle.close()
    finally:
        server.shutdown()
        server.server_close()


_SERVER = textwrap.dedent("""
    import sys, time
    import otel_perf
    handle = otel_perf.configure(prometheus_port=int(sys.argv[1]), service_name="scraped")
    for i in range(400):  # 400 label sets: a body of about 10,000 lines
        with otel_perf.track_generation("generate_image", model=f"model-{i}") as op:
            op.set_cost(0.01)
    print("ready", flush=True)
    time.sleep(600)
""")


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")
@pytest.mark.e2e
def test_memory_stays_flat_under_fifty_scrapers():
    """50 scrapers × 10 rounds on 127.0.0.1: the server's RSS after is what it was after
    the first round (one cached body per format, at most 16 handler threads)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        wait_until(lambda: http_get(url, timeout=2), 20)
        headers = [{"Accept-Encoding": "gzip"}, {"Accept": "application/openmetrics-text"}, {}]

        def burst() -> None:
            with ThreadPoolExecutor(50) as pool:
                list(pool.map(lambda i: http_get(url, 30, headers[i % 3]), range(50)))

        burst()
        burst()
        before = _rss_kib(proc.pid)
        for _ in range(10):
            burst()
        growth_mib = (_rss_kib(proc.pid) - before) / 1024
    finally:
        proc.kill()
        proc.wait(timeout=10)
    print(f"RSS growth over 500 more scrapes: {growth_mib:.1f} MiB")
    assert growth_mib < 8, growth_mib
