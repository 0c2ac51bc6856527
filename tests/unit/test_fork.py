"""Fork safety in both modes: a child records on its own, never hangs, never deadlocks."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import otel_perf
from otel_perf.textformat import generate
from tests.support.servers import http_get

COUNT = "otel_perf_operation_duration_seconds_count"

pytestmark = pytest.mark.e2e  # forks worker processes


def _count(registry: CollectorRegistry) -> float:
    body, _ = generate(registry, "text/plain")
    return sum(
        s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name == COUNT and s.labels.get("model") == "flux-pro"
    )


def _generate(n: int) -> None:
    for _ in range(n):
        with otel_perf.track_generation("generate_image", model="flux-pro") as op:
            op.set_cost(0.01)


def _wait(pid: int, timeout: float) -> int:
    """The child's exit code; kills it and fails if it has not exited in ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"child {pid} did not exit within {timeout}s (deadlock?)")


def _configure(tmp_path, mode: str) -> otel_perf.OtelPerf:  # type: ignore[no-untyped-def]
    if mode == "multiprocess":
        return otel_perf.configure(prometheus_port=0, multiprocess_dir=str(tmp_path))
    return otel_perf.configure(prometheus_port=0, registry=CollectorRegistry())


@pytest.mark.parametrize("mode", ["memory", "multiprocess"])
def test_a_child_gets_a_working_per_process_setup(tmp_path, mode):
    """configure() in the child returns a handle that counts the child's work only (its
    own file in multiprocess mode), serves it, and shuts down without hanging."""
    handle = _configure(tmp_path, mode)
    _generate(5)
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            assert handle.metrics_url is None  # the parent's server is not the child's
            _generate(2)
            local = _count(handle.registry)  # type: ignore[arg-type]
            child = otel_perf.configure()
            assert child is handle and child.metrics_url is not None
            served = sum(
                s.value
                for f in text_string_to_metric_families(http_get(child.metrics_url).decode())
                for s in f.samples
                if s.name == COUNT
            )
            child.shutdown()
            ok = local == 2 and served == (7 if mode == "multiprocess" else 2)
        finally:
            os._exit(0 if ok else 1)
    assert _wait(pid, 30) == 0
    assert _count(handle.registry) == 5  # type: ignore[arg-type]
    expected = 7 if mode == "multiprocess" else 5
    assert _count(handle.exposition_registry) == expected  # type: ignore[arg-type]


def test_shutdown_in_a_child_that_never_configured_returns(tmp_path):
    """The inherited handle's shutdown() does not wait for the parent's server thread."""
    handle = _configure(tmp_path, "memory")
    assert handle.metrics_url is not None
    pid = os.fork()
    if pid == 0:
        handle.shutdown()
        os._exit(0)
    assert _wait(pid, 15) == 0
    assert http_get(handle.metrics_url)  # the parent still serves


@pytest.mark.e2e  # 200 processes: about 25 s each
@pytest.mark.parametrize("mode", ["memory", "multiprocess"])
def test_hundreds_of_forks_under_recording_and_scrape_load(tmp_path, mode):
    """200 forks while three threads record and one scrapes over HTTP: every child records,
    reads, shuts down (some after configure()) within a bounded time; the parent's totals
    are exact afterwards."""
    handle = _configure(tmp_path, mode)
    url = handle.metrics_url
    assert url is not None
    stop = threading.Event()
    recorded = [0, 0, 0]

    def record(i: int) -> None:
        while not stop.is_set():
            _generate(1)
            recorded[i] += 1

    def scrape() -> None:
        while not stop.is_set():
            http_get(url, timeout=10)

    threads = [threading.Thread(target=record, args=(i,)) for i in range(3)]
    threads.append(threading.Thread(target=scrape))
    for thread in threads:
        thread.start()
    failures = []
    try:
        for i in range(200):
            pid = os.fork()
            if pid == 0:
                ok = False
                try:
                    _generate(3)
                    ok = _count(handle.registry) == 3  # type: ignore[arg-type]
                    # Every tenth child serves too (a server's shutdown polls for 0.5 s).
                    (otel_perf.configure() if i % 10 == 0 else handle).shutdown()
                finally:
                    os._exit(0 if ok else 1)
            if _wait(pid, 20) != 0:
                failures.append(pid)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not failures, f"{len(failures)} children failed"
    assert _count(handle.registry) == sum(recorded)  # type: ignore[arg-type]
    if mode == "multiprocess":
        assert _count(handle.exposition_registry) == sum(recorded) + 200 * 3  # type: ignore[arg-type]
