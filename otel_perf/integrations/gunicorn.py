"""A gunicorn config module: every worker counts, ``/metrics`` serves the sum.

    gunicorn -c python:otel_perf.integrations.gunicorn -w 4 app:app

or, from your own config file::

    from otel_perf.integrations.gunicorn import child_exit, on_exit  # noqa: F401

Loading this module (gunicorn does, in the master, before it loads the app or forks a
worker) prepares multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` is created if missing, a
fresh private directory is made when it is unset (removed again when gunicorn exits), and
files a previous run left there are reported. The workers inherit the variable, so
``otel_perf.configure()`` records into it wherever it is called: at import in each worker,
once in the master with ``--preload``, or in ``post_fork``. ``child_exit`` drops an exited
worker's gauges (its totals stay, so ``--max-requests`` recycling loses nothing).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import Any

from otel_perf import multiprocess

logger = logging.getLogger("otel_perf")

_created: str | None = None


def prepare() -> str:
    """Make sure ``PROMETHEUS_MULTIPROC_DIR`` names a usable directory; returns it."""
    global _created
    directory = multiprocess.directory_from_env()
    if directory is None:
        directory = _created = tempfile.mkdtemp(prefix="otel-perf-multiproc-")
        os.environ[multiprocess.ENV_VAR] = directory
        logger.info("otel-perf: %s=%s (created for this run)", multiprocess.ENV_VAR, directory)
        return directory
    os.makedirs(directory, exist_ok=True)
    # No process of this run has written yet: every file of a dead process is old.
    stale = multiprocess.stale_files(directory, started_before=float("inf"))
    if stale:
        logger.warning(multiprocess.stale_message(directory, stale))
    return directory


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook (master): a worker exited; its gauges stop counting."""
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """gunicorn hook (master): remove the directory if this module created it."""
    if _created is not None:
        shutil.rmtree(_created, ignore_errors=True)


prepare()
