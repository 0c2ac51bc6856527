"""Long-running generation jobs (Veo, Sora) as one span from submission to completion.

A video job is submitted in one call and finished by a later poll, often from another
function or task. :class:`JobTracker` keeps the job's span open between the two: the
submission starts it (``tracker.start()``, not made current), every poll the instrumentor
sees is reported with :meth:`JobTracker.observe`, and the poll that sees the job done ends
it, once, with the job's usage (so its cost is counted once) and outcome.

Queue time and generation time are recorded separately: the queue ends when the provider
first reports the job running (a status such as ``in_progress``, a progress above zero,
or a reported start time, which is used as is). The span then carries
``otel_perf.queue.wait_s`` (also the ``otel_perf_queue_wait_seconds`` histogram) and
``otel_perf.job.generation_s``; its duration is the whole job. When the provider never
reports a running state before the job is done, queue and generation time are unknown and
neither is recorded.

Jobs nobody polls to completion are bounded: past ``max_jobs`` open jobs the oldest is
ended as cancelled (``otel_perf_cancelled_operations_total``), as are all open jobs when the
instrumentor is removed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from otel_perf import attributes as A
from otel_perf.tracking import OperationHandle


class JobAbandoned(BaseException):
    """Ends a job span nobody finished; recorded as a cancellation, never as an error."""


@dataclass(frozen=True)
class JobStatus:
    """What one poll (or the submission response) says about a job."""

    done: bool
    running: bool = False
    started_ns: int | None = None
    failure: tuple[str, str | None] | None = None
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Job:
    handle: OperationHandle
    submitted_ns: int
    usage: dict[str, Any]
    started_ns: int | None = None
    polls: int = 0


class JobTracker:
    """Open job spans keyed by the provider's job id (thread-safe, bounded)."""

    def __init__(self, max_jobs: int = 1000) -> None:
        self.max_jobs = max_jobs
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._jobs)

    def submit(
        self, key: str, handle: OperationHandle, submitted_ns: int, usage: dict[str, Any]
    ) -> None:
        """Track a submitted job; ``usage`` is what the request asked for."""
        evicted = None
        with self._lock:
            self._jobs[key] = _Job(handle, submitted_ns, dict(usage))
            if len(self._jobs) > self.max_jobs:
                evicted = self._jobs.popitem(last=False)[1]
        if evicted is not None:
            evicted.handle.end(JobAbandoned("too many open jobs"))

    def observe(self, key: str, status: JobStatus) -> bool:
        """Record a poll of job ``key``; ends its span when done. False for unknown jobs."""
        now = time.time_ns()
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                return False
            job.polls += 1
            if job.started_ns is None and (status.started_ns is not None or status.running):
                job.started_ns = status.started_ns if status.started_ns is not None else now
                job.handle.span.add_event("otel_perf.job.started", timestamp=job.started_ns)
            if not status.done:
                return True
            del self._jobs[key]
        self._finish(job, status, now)
        return True

    def abandon_all(self) -> None:
        """End every open job as cancelled (the instrumentor is being removed)."""
        with self._lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            job.handle.end(JobAbandoned("instrumentation removed"))

    @staticmethod
    def _finish(job: _Job, status: JobStatus, now: int) -> None:
        handle = job.handle
        if job.started_ns is not None:
            started = min(max(job.started_ns, job.submitted_ns), now)
            handle.set_queue_wait((started - job.submitted_ns) / 1e9)
            handle.set_attribute(A.JOB_GENERATION_S, (now - started) / 1e9)
        handle.set_attribute(A.JOB_POLLS, job.polls)
        usage = dict(job.usage)
        actual = status.usage.get("videos")
        requested = usage.get("videos")
        if actual is not None and requested and "video_seconds" in usage:
            # Fewer videos than requested (some filtered): their seconds scale with them.
            usage["video_seconds"] = usage["video_seconds"] / requested * actual
        usage.update(status.usage)
        if usage and status.failure is None:
            handle.set_usage(**usage)
        if status.failure is not None:
            handle.fail(*status.failure)
        handle.end()
