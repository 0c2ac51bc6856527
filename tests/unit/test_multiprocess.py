"""Multiprocess mode (PROMETHEUS_MULTIPROC_DIR): files per process, the sum on every read."""

from __future__ import annotations

import logging
import os
import time

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, values
from prometheus_client.parser import text_string_to_metric_families

import otel_perf
from otel_perf import aggregate, multiprocess
from otel_perf import metrics as M
from otel_perf.textformat import generate

LABELS = {"operation": "generate_image", "model": "flux-pro", "provider": "black-forest-labs"}

pytestmark = pytest.mark.e2e  # forks worker processes


def _samples(handle: otel_perf.OtelPerf) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = generate(handle.exposition_registry, "text/plain")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, key
            out[key] = s.value
    return out


def _value(samples, name: str, **labels: str) -> float | None:  # type: ignore[no-untyped-def]
    return samples.get((name, tuple(sorted(labels.items()))))


def _generate(n: int, cost: float = 0.02, **labels: str) -> None:
    for _ in range(n):
        with otel_perf.track_generation(
            "generate_image", model="flux-pro", provider="black-forest-labs", **labels
        ) as op:
            op.set_cost(cost)


def _child(work) -> int:  # type: ignore[no-untyped-def]
    """Fork, run ``work()`` in the child, exit; returns the pid (already reaped)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            work()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return pid


def test_forked_children_add_up_and_survive_their_exit(tmp_path):
    """Three forked children and the parent: the parent's read is the exact sum."""
    handle = otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path))
    assert handle.multiprocess
    for _ in range(3):
        _child(lambda: _generate(10))
    _generate(1)
    samples = _samples(handle)
    count = _value(samples, "otel_perf_operation_duration_seconds_count", **LABELS,
                   status="success", project="")  # fmt: skip
    assert count == 31
    cost = _value(samples, "otel_perf_cost_usd_total", **LABELS, project="")
    assert cost == pytest.approx(31 * 0.02, abs=1e-12)
    bucket = _value(samples, "otel_perf_operation_duration_seconds_bucket", **LABELS,
                    status="success", project="", le="+Inf")  # fmt: skip
    assert bucket == 31
    assert _value(samples, "otel_perf_operations_in_progress", operation="generate_image") == 0


def test_gauges_count_live_processes_only(tmp_path):
    """In-progress is a sum over live processes; a dead one's open spans drop out."""
    handle = otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path))
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker that dies in the middle of two generations
        os.close(reader)
        otel_perf.track_generation("generate_image", model="flux-pro").start()
        otel_perf.track_generation("generate_image", model="flux-pro").start()
        os.write(writer, b"x")
        time.sleep(30)
        os._exit(0)
    os.close(writer)
    assert os.read(reader, 1) == b"x"
    with otel_perf.track_generation("generate_image", model="flux-pro"):
        in_progress = _value(_samples(handle), "otel_perf_operations_in_progress",
                             operation="generate_image")  # fmt: skip
    assert in_progress == 3  # two in the child, one here
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    samples = _samples(handle)
    assert _value(samples, "otel_perf_operations_in_progress", operation="generate_image") == 0
    multiprocess.mark_process_dead(pid, str(tmp_path))
    assert not (tmp_path / f"otel-perf-live-{pid}.mmap").exists()
    assert (tmp_path / f"otel-perf-totals-{pid}.mmap").exists()  # totals stay


def test_consecutive_api_errors_is_the_longest_live_streak(tmp_path):
    """api_consecutive_errors: the maximum over live processes, not a sum."""
    handle = otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path))

    def fail(times: int) -> None:
        for _ in range(times):
            try:
                with otel_perf.track_api_call("/v1/renders"):
                    raise TimeoutError("upstream")
            except TimeoutError:
                pass

    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        fail(5)
        os.write(writer, b"x")
        time.sleep(30)
        os._exit(0)
    assert os.read(reader, 1) == b"x"
    try:
        fail(2)
        samples = _samples(handle)
        streak = _value(samples, "otel_perf_api_consecutive_errors", endpoint="/v1/renders")
        assert streak == 5
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert _value(_samples(handle), "otel_perf_api_consecutive_errors",
                  endpoint="/v1/renders") == 2  # fmt: skip


def test_cardinality_limit_holds_on_the_sum(tmp_path):
    """Each process under the limit, together over it: the sum shows at most ``limit``
    label sets, and nothing is lost (the rest is in __overflow__)."""
    handle = otel_perf.configure(
        prometheus_port=None, multiprocess_dir=str(tmp_path), cardinality_limit=10
    )

    def models(first: int) -> None:
        for i in range(first, first + 8):
            with otel_perf.track_generation("generate_image", model=f"m{i}") as op:
                op.set_cost(1.0)

    _child(lambda: models(0))
    _child(lambda: models(100))
    samples = _samples(handle)
    costs = {k: v for k, v in samples.items() if k[0] == "otel_perf_cost_usd_total"}
    assert len(costs) <= 10
    assert sum(costs.values()) == 16.0
    assert ("model", M.OVERFLOW) in next(k for k in costs if ("model", M.OVERFLOW) in k[1])[1]


def test_user_multiprocess_metrics_are_served_too(tmp_path, monkeypatch):
    """The user's own prometheus_client multiprocess metrics in the directory appear once."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    handle = otel_perf.configure(prometheus_port=None)
    assert handle.multiprocess

    def user_work() -> None:
        # prometheus_client picks its value class at import, from the environment (set
        # here after import): what a worker started with the variable set gets.
        values.ValueClass = values.MultiProcessValue()
        Counter("uploads", "Uploads handled.", registry=CollectorRegistry()).inc(3)
        Gauge("queue_depth", "Queued.", registry=CollectorRegistry(),
              multiprocess_mode="livesum").set(4)  # fmt: skip
        _generate(2)

    _child(user_work)
    samples = _samples(handle)
    assert _value(samples, "uploads_total") == 3
    count = _value(samples, "otel_perf_operation_duration_seconds_count", **LABELS,
                   status="success", project="")  # fmt: skip
    assert count == 2


def test_internal_counts_are_summed_over_processes(tmp_path):
    """otel-perf's own counts (ignored values here) arrive summed too."""
    handle = otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path))

    def bad_cost() -> None:
        tracer = handle.tracer_provider.get_tracer("tests")  # type: ignore[union-attr]
        attributes = {"otel_perf.operation": "generate_image", "otel_perf.cost.usd": -1.0}
        with tracer.start_as_current_span("generate_image", attributes=attributes):
            pass

    _child(bad_cost)
    _child(bad_cost)
    samples = _samples(handle)
    assert _value(samples, "otel_perf_invalid_values_total", field="cost") == 2


def test_configure_after_shutdown_continues_this_pids_totals(tmp_path):
    """A second configure() in the same process adds to its file instead of resetting it."""
    otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path)).shutdown()
    first = otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path))
    _generate(2)
    first.shutdown()
    second = otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path))
    _generate(1)
    count = _value(_samples(second), "otel_perf_operation_duration_seconds_count", **LABELS,
                   status="success", project="")  # fmt: skip
    assert count == 3


def test_missing_directory_argument_raises_naming_the_setting(tmp_path):
    with pytest.raises(ValueError, match=r"multiprocess_dir: .*does not exist.*mkdir"):
        otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path / "nope"))


def test_bad_directory_in_env_is_logged_and_metrics_stay_per_process(tmp_path, monkeypatch,
                                                                     caplog):  # fmt: skip
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with caplog.at_level(logging.ERROR, logger="otel_perf"):
        handle = otel_perf.configure(prometheus_port=None, registry=CollectorRegistry())
    assert not handle.multiprocess
    assert "PROMETHEUS_MULTIPROC_DIR" in caplog.text and "mkdir" in caplog.text


def test_unwritable_directory_is_reported(tmp_path, monkeypatch):
    """Unwritable (faked: the tests may run as root, who writes anywhere): ValueError."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(ValueError, match=r"multiprocess_dir: .* not writable"):
        otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path))


def test_files_from_an_earlier_run_are_reported(tmp_path, caplog):
    """Files of dead processes written before this run started: a warning with what to do."""
    old = tmp_path / "otel-perf-totals-999999.mmap"
    old.write_bytes(b"\0" * 64)
    (tmp_path / "counter_999998.db").write_bytes(b"\0" * 64)
    long_ago = time.time() - 10 * 365 * 86400
    for path in tmp_path.iterdir():
        os.utime(path, (long_ago, long_ago))
    with caplog.at_level(logging.WARNING, logger="otel_perf"):
        otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path))
    assert "2 file(s) from an earlier run" in caplog.text
    assert "Empty the directory before the service starts" in caplog.text


def test_fresh_files_of_this_run_are_not_reported(tmp_path, caplog):
    """A recycled worker's files (written after this run began) are not stale."""
    _child_dir = str(tmp_path)
    otel_perf.configure(prometheus_port=None, multiprocess_dir=_child_dir).shutdown()
    _child(lambda: None)
    assert multiprocess.stale_files(_child_dir, started_before=time.time() - 3600) == []


def test_families_read_api_has_specs_and_rows(tmp_path):
    """The documented read API: per metric its spec and (labels, values) rows, both modes."""
    handle = otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path))
    _child(lambda: _generate(2))
    assert isinstance(handle.exposition_registry, aggregate.ViewRegistry)
    families = {f.source.name: f for f in handle.exposition_registry.aggregate.families()}
    duration = families[M.OPERATION_DURATION]
    assert duration.source.kind == "histogram" and duration.source.bounds
    (row,) = duration.rows
    series, counts, total, exemplars = row
    assert total > 0
    assert dict(zip(duration.source.spec.labels, series.labels, strict=True))["model"] == "flux-pro"
    assert sum(counts) == 2 and len(counts) == len(duration.source.bounds) + 1
    assert exemplars is None  # the files carry none; this process recorded none
    local = {f.source.name: f for f in handle.processor.metrics.families()}
    assert local[M.OPERATION_DURATION].rows == []  # this process recorded nothing


def test_a_short_job_that_exits_without_shutdown_is_counted(tmp_path):
    """A separate job process with the service's directory and no server: its work is in
    the service's sum after it exits, without shutdown()."""
    import subprocess
    import sys

    from tests.support.servers import ROOT

    handle = otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path))
    job = (
        "import otel_perf\n"
        "otel_perf.configure(service_name='export-job')\n"
        "for _ in range(5):\n"
        "    with otel_perf.track_generation('generate_image', model='flux-pro',\n"
        "                                    provider='black-forest-labs') as op:\n"
        "        op.set_cost(0.02)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
           "OTEL_PERF_PROMETHEUS_PORT": "off"}  # fmt: skip
    subprocess.run([sys.executable, "-c", job], env=env, check=True, timeout=60)
    samples = _samples(handle)
    count = _value(samples, "otel_perf_operation_duration_seconds_count", **LABELS,
                   status="success", project="")  # fmt: skip
    assert count == 5
    assert _value(samples, "otel_perf_cost_usd_total", **LABELS, project="") == pytest.approx(0.1)


def test_a_taken_port_is_not_an_error_and_is_retried(tmp_path, caplog, monkeypatch):
    """In multiprocess mode a port held by another process is logged at INFO, and the
    endpoint binds once the holder lets go."""
    import socket

    from otel_perf import exposition
    from tests.support.servers import free_port, http_get, wait_until

    monkeypatch.setattr(exposition, "RETRY_INTERVAL", 0.2)
    port = free_port()
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))  # no SO_REUSEPORT: nobody can share it
    holder.listen()
    with caplog.at_level(logging.INFO, logger="otel_perf"):
        handle = otel_perf.configure(prometheus_port=port, multiprocess_dir=str(tmp_path))
    assert handle.metrics_url is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "retries binding" in caplog.text
    holder.close()
    wait_until(lambda: handle.metrics_url, 10, what="the retried bind")
    _generate(1)
    assert b"otel_perf_operation_duration_seconds" in http_get(handle.metrics_url or "")


def test_exemplars_of_the_serving_process_are_kept(tmp_path):
    """OpenMetrics scrape in multiprocess mode: the sum over processes, with the exemplar
    (trace id) of this process's own span on its bucket."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse

    handle = otel_perf.configure(prometheus_port=None, multiprocess_dir=str(tmp_path))
    _child(lambda: _generate(2))
    with otel_perf.track_generation("generate_image", model="flux-pro",
                                    provider="black-forest-labs"):  # fmt: skip
        trace_id = format(otel_perf.current_operation().span.get_span_context().trace_id, "032x")
    body, content_type = generate(handle.exposition_registry, "application/openmetrics-text")
    assert content_type.startswith("application/openmetrics-text")
    samples = [s for f in parse(body.decode()) for s in f.samples]
    count = next(s for s in samples if s.name == "otel_perf_operation_duration_seconds_count")
    assert count.value == 3
    exemplars = [s.exemplar for s in samples if s.exemplar is not None]
    assert [e.labels["trace_id"] for e in exemplars] == [trace_id]


def test_gunicorn_config_prepares_a_directory(tmp_path, monkeypatch, caplog):
    """The gunicorn config module: a private directory when unset (removed on exit), an
    existing one kept and checked for an earlier run's files; child_exit drops gauges."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    from otel_perf.integrations import gunicorn

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    created = gunicorn.prepare()
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == created and os.path.isdir(created)
    gunicorn.on_exit(None)
    assert not os.path.exists(created)

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "new"))
    assert gunicorn.prepare() == str(tmp_path / "new") and (tmp_path / "new").is_dir()

    (tmp_path / "otel-perf-totals-999999.mmap").write_bytes(b"\\0" * 64)
    (tmp_path / "otel-perf-live-999999.mmap").write_bytes(b"\\0" * 64)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="otel_perf"):
        gunicorn.prepare()
    assert "2 file(s) from an earlier run" in caplog.text

    class Worker:
        pid = 999999

    gunicorn.child_exit(None, Worker())
    assert not (tmp_path / "otel-perf-live-999999.mmap").exists()
    assert (tmp_path / "otel-perf-totals-999999.mmap").exists()
