"""Processes that push otel-perf metrics over OTLP, for tests; each writes its ground truth.

``python -m tests.support.otlp_workload job OUT_DIR``: one process runs a demo workload and
exits without ``shutdown()`` (a batch job): only the at-exit push can count it.

``python -m tests.support.otlp_workload fork OUT_DIR``: ``configure()`` once, then four
forked workers each run a workload; two call ``shutdown()``, two just exit.

``python -m tests.support.otlp_workload pool OUT_DIR``: four tasks on a ``multiprocessing``
pool recycling its workers after each task (``maxtasksperchild=1``); ``pool-initializer``:
the same, each worker calling ``configure()`` in the pool's initializer.

Where to push comes from the standard ``OTEL_METRICS_EXPORTER`` / ``OTEL_EXPORTER_OTLP_*``
environment, as in production. Each workload's ledger (``otel_perf.demo.ledger``, computed
from the plan and the spans, not from the metrics) is written to ``OUT_DIR/ledger-*.json``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import traceback
from pathlib import Path

import otel_perf
from otel_perf import configuration, demo
from otel_perf.thresholds import DEFAULT_THRESHOLDS

SPEED = 400.0
THRESHOLDS = {op: s / SPEED for op, s in DEFAULT_THRESHOLDS.items()}
COUNT = 40
WORKERS = 4
SERVICE = "otlp-push-test"


def work(seed: int, out: Path) -> None:
    workload = demo.plan("mixed", seed=seed, count=COUNT, projects=("alpha", "beta"))
    ops = demo.run(workload, speed=SPEED, workers=2)
    out.write_text(json.dumps(demo.ledger(ops, thresholds=THRESHOLDS)))


def _task(i: int, out_dir: str) -> None:
    work(20 + i, Path(out_dir) / f"ledger-task-{i}.json")


def _configure() -> None:
    otel_perf.configure(service_name=SERVICE, prometheus_port=None, thresholds=THRESHOLDS)


def main(mode: str, out_dir: Path) -> int:
    if mode == "pool-initializer":
        # Each worker configures itself (a Pool initializer, Celery's worker_process_init).
        context = multiprocessing.get_context("fork")
        pool = context.Pool(2, initializer=_configure, maxtasksperchild=1)
        pool.starmap(_task, [(i, str(out_dir)) for i in range(WORKERS)])
        pool.close()
        pool.join()
        return 0
    _configure()
    if mode == "job":
        work(1, out_dir / "ledger-job.json")
        return 0  # no shutdown(): the at-exit push has to count this job
    if mode == "pool":
        # Every task in a fresh worker that ends in os._exit() (no atexit).
        pool = multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1)
        pool.starmap(_task, [(i, str(out_dir)) for i in range(WORKERS)])
        pool.close()
        pool.join()
        return 0
    children = []
    for i in range(WORKERS):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                work(10 + i, out_dir / f"ledger-{i}.json")
                handle = configuration.active()
                if i % 2 and handle is not None:
                    handle.shutdown()
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.exit(code)  # a normal interpreter exit: at-exit handlers run
        children.append(pid)
    failed = 0
    for pid in children:
        _, status = os.waitpid(pid, 0)
        failed += os.waitstatus_to_exitcode(status) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
