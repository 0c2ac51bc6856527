"""OTLP push (``OTEL_METRICS_EXPORTER=otlp``): real processes push to a real receiver that
decodes ``ExportMetricsServiceRequest`` with opentelemetry-proto; the received cumulative
streams add up to exactly the ground truth the workloads wrote."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from bisect import bisect_left
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.utils import floatToGoString

from otel_perf import metrics as M
from tests.support.otlp_receiver import GrpcReceiver, HttpReceiver
from tests.support.otlp_workload import SERVICE, THRESHOLDS, WORKERS
from tests.support.servers import ROOT

pytestmark = pytest.mark.e2e

RECEIVERS = {"http/protobuf": HttpReceiver, "grpc": GrpcReceiver}


def _run(mode: str, receiver: Any, tmp_path: Path, interval_ms: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=receiver.protocol,
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=receiver.endpoint,
        OTEL_METRIC_EXPORT_INTERVAL=str(interval_ms),
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=test,team=media",
    )
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.otlp_workload", mode, str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def _truth(tmp_path: Path) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The workloads' ledgers added up, with the duration buckets derived from the spans."""
    bounds = M.duration_buckets(THRESHOLDS.values())
    total: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for path in sorted(tmp_path.glob("ledger-*.json")):
        ledger = json.loads(path.read_text())
        for name, samples in ledger["expected"].items():
            for sample in samples:
                total[name][tuple(sorted(sample["labels"].items()))] += sample["value"]
        for op in ledger["operations"]:
            labels = {
                "operation": op["operation"], "model": op["model"], "provider": op["provider"],
                "status": "success" if op["failure"] is None else "error", "project": op["project"],
            }  # fmt: skip
            first = bisect_left(bounds, op["duration_s"])
            for i, bound in enumerate((*bounds, math.inf)):
                le = tuple(sorted({**labels, "le": floatToGoString(bound)}.items()))
                total[M.OPERATION_DURATION + "_bucket"][le] += 1 if i >= first else 0
    return total


def _assert_ledger(received: dict, truth: dict) -> None:
    assert truth[M.COST_USD], "the workload must have cost something"
    assert not any(received.get(M.INTERNAL_ERRORS, {}).values()), received[M.INTERNAL_ERRORS]
    for name, expected in truth.items():
        got = {labels: v for labels, v in received.get(name, {}).items() if v != 0}
        want = {labels: v for labels, v in expected.items() if v != 0}
        assert set(got) == set(want), name
        for labels, value in want.items():
            if name.endswith("_sum") or name == M.COST_USD:
                assert math.isclose(got[labels], value, rel_tol=1e-9, abs_tol=1e-12), (name, labels)
            else:
                assert got[labels] == value, (name, labels)


def _models(truth: dict) -> set[str]:
    return {dict(labels)["model"] for labels in truth[M.OPERATION_DURATION + "_count"]}


@pytest.mark.parametrize("protocol", sorted(RECEIVERS))
def test_four_forked_workers_push_exactly_the_ledger(protocol: str, tmp_path: Path) -> None:
    """configure() once, fork four workers: their pushes add up to the four ledgers."""
    with RECEIVERS[protocol]() as receiver:
        _run("fork", receiver, tmp_path, interval_ms=100)  # several pushes each: latest wins
        received = receiver.samples()
        instances = receiver.instances()
    truth = _truth(tmp_path)
    assert len(list(tmp_path.glob("ledger-*.json"))) == WORKERS
    _assert_ledger(received, truth)
    # One stream per worker (the idle parent had nothing to push), each with its own
    # service.instance.id and the OTEL_RESOURCE_ATTRIBUTES.
    assert len(instances) == WORKERS
    for attrs in instances.values():
        assert attrs["service.name"] == SERVICE
        assert attrs["team"] == "media"
        assert attrs["deployment.environment.name"] == "test"
    assert len(_models(truth)) > 1
    in_progress = received.get(M.OPERATIONS_IN_PROGRESS, {})
    assert in_progress and set(in_progress.values()) == {0.0}


@pytest.mark.parametrize("protocol", sorted(RECEIVERS))
def test_a_job_that_never_calls_shutdown_is_counted(protocol: str, tmp_path: Path) -> None:
    """A short job exits without shutdown(): the at-exit push carries all of it."""
    with RECEIVERS[protocol]() as receiver:
        _run("job", receiver, tmp_path, interval_ms=600_000)  # no periodic push in time
        received = receiver.samples()
        instances = receiver.instances()
    _assert_ledger(received, _truth(tmp_path))
    assert len(instances) == 1


@pytest.mark.parametrize("mode", ["pool", "pool-initializer"])
def test_recycled_multiprocessing_workers_are_counted(mode: str, tmp_path: Path) -> None:
    """Pool workers end in os._exit(), skipping atexit: their finalizer pushes instead,
    whether configure() ran in the parent or in the pool's initializer."""
    with HttpReceiver() as receiver:
        _run(mode, receiver, tmp_path, interval_ms=600_000)  # only the final pushes
        received = receiver.samples()
        instances = receiver.instances()
    assert len(list(tmp_path.glob("ledger-task-*.json"))) == WORKERS
    _assert_ledger(received, _truth(tmp_path))
    assert len(instances) == WORKERS
