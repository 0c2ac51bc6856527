"""Multiprocess mode: every process writes its series to files, every endpoint serves the sum.

The ``prometheus_client`` convention: when ``PROMETHEUS_MULTIPROC_DIR`` names a directory at
``configure()`` time, each process (gunicorn, uvicorn and Celery workers, the master too)
writes its values through to two memory-mapped files of its own in that directory:

- ``otel-perf-totals-<pid>.mmap``: counters and histograms. Kept after the process exits,
  so worker recycling and crashes lose nothing; every endpoint adds them up.
- ``otel-perf-live-<pid>.mmap``: the two gauges. Only processes still alive count
  (checked by pid at every scrape, and :func:`mark_process_dead` removes the file, as
  gunicorn's ``child_exit`` hook in ``otel_perf.integrations.gunicorn`` does):
  ``otel_perf_operations_in_progress`` is the **sum** over live processes,
  ``otel_perf_api_consecutive_errors`` the **maximum** over live processes (the longest
  current streak of any worker).

The files use ``prometheus_client``'s ``MmapedDict`` (one door: :class:`_File`), under a
name ``prometheus_client``'s ``MultiProcessCollector`` does not read (it reads ``*.db``), so
an endpoint serving both (``otel_perf.aggregate.ViewRegistry``, which reads the files)
shows each metric once. Exemplars are not written to the files: ``/metrics`` shows those of
the process that answers the scrape (``prometheus_client``'s multiprocess mode drops them
all). The cardinality limit holds per process while recording and again on the sum when it
is read: past ``limit - 1`` label sets, in file order, the rest are added into the
``__overflow__`` series.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from otel_perf import environment as E
from otel_perf import selfmonitor
from otel_perf.metrics import (
    API_CONSECUTIVE_ERRORS,
    INTERNAL_ERRORS,
    INVALID_VALUES,
    SERIES_OVERFLOW,
    CounterSeries,
    GaugeSeries,
    HistogramSeries,
    LimitedMetric,
    MetricSet,
    _OverflowCounter,
    _OverflowGauge,
    _OverflowHistogram,
)

logger = logging.getLogger("otel_perf")

#: The environment variable naming the directory (``prometheus_client``'s name).
ENV_VAR: Final = E.MULTIPROC_DIR.name
_LEGACY_ENV_VAR: Final = "prometheus_multiproc_dir"
TOTALS: Final = "otel-perf-totals-"
LIVE: Final = "otel-perf-live-"
SUFFIX: Final = ".mmap"
#: How a gauge combines over live processes.
GAUGE_MODE: Final = {API_CONSECUTIVE_ERRORS: "max"}  # the others: "sum"


def directory_from_env(env: Any = None) -> str | None:
    """The multiprocess directory named by the environment, if any."""
    env = os.environ if env is None else env
    value = env.get(ENV_VAR) or env.get(_LEGACY_ENV_VAR)
    return value.strip() or None if value else None


def check_directory(path: str) -> str | None:
    """What is wrong with ``path`` as the multiprocess directory, with what to do; or None."""
    if not os.path.isdir(path):
        return (
            f"{path!r} does not exist or is not a directory; create it empty before the "
            "service starts (mkdir -p)"
        )
    if not os.access(path, os.W_OK | os.X_OK):
        return (
            f"{path!r} is not writable by this process (uid {os.getuid()}); fix its owner or mode"
        )
    return None


# --- One door to prometheus_client's memory-mapped dict -------------------------------------


class _File:
    """A file of (key -> float) this process writes; ``MmapedDict`` underneath.

    A series asks once for its key's ``position``; afterwards a write is one slice
    assignment into ``mmap`` (``MmapedDict.write_value`` costs four Python-level calls).
    Positions are offsets, so they stay valid when the file grows and is mapped again.
    """

    __slots__ = ("_dict", "mmap", "path")

    def __init__(self, path: str) -> None:
        from prometheus_client.mmap_dict import MmapedDict

        self.path = path
        self._dict = MmapedDict(path)  # type: ignore[no-untyped-call]
        self.mmap: Any = self._dict._m

    def position(self, key: str) -> int:
        """Where the value of ``key`` lives (the key is added, at 0.0, if new)."""
        positions = self._dict._positions
        pos = positions.get(key)
        if pos is None:
            self._dict._init_value(key)  # type: ignore[no-untyped-call]
            self.mmap = self._dict._m  # remapped if the file grew
            pos = positions[key]
        return int(pos)

    def write(self, key: str, value: float) -> None:
        pos = self.position(key)
        self.mmap[pos : pos + 8] = _pack(value)

    def close(self) -> None:
        try:
            self._dict.close()  # type: ignore[no-untyped-call]
        except Exception:  # pragma: no cover - already closed
            pass


_pack: Final = struct.Struct("d").pack


def read_file(path: str) -> Iterator[tuple[str, float]]:
    from prometheus_client.mmap_dict import MmapedDict

    for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(path):  # type: ignore[no-untyped-call]
        yield key, value


def _key(name: str, labels: tuple[str, ...], slot: str = "") -> str:
    # ASCII JSON: any label value (lone surrogates included) round-trips.
    return json.dumps((name, labels, slot))


# --- Writing: series that write their value through -----------------------------------------


# Each writes its value at its position in this process's file (see _File). A series
# belongs to one file; a fork starts the child with new series (MetricSet.reset_after_fork).


class _FileCounter(CounterSeries):
    __slots__ = ("_file", "_pos")
    _file: _File
    _pos: int

    def _inc(self, amount: float = 1.0) -> None:
        self.value += amount
        pos = self._pos
        self._file.mmap[pos : pos + 8] = _pack(self.value)


class _FileOverflowCounter(_OverflowCounter):
    __slots__ = ("_file", "_pos")
    _file: _File
    _pos: int

    def _inc(self, amount: float = 1.0) -> None:
        _OverflowCounter._inc(self, amount)
        pos = self._pos
        self._file.mmap[pos : pos + 8] = _pack(self.value)


class _FileGauge(GaugeSeries):
    __slots__ = ("_file", "_pos")
    _file: _File
    _pos: int

    def _inc(self, amount: float = 1.0) -> None:
        self.value += amount
        pos = self._pos
        self._file.mmap[pos : pos + 8] = _pack(self.value)

    _move = _inc  # the in-progress gauge: no fold counting (the processor counts those)

    def _dec(self, amount: float = 1.0) -> None:
        self._inc(-amount)

    def _set(self, value: float) -> None:
        self.value = float(value)
        pos = self._pos
        self._file.mmap[pos : pos + 8] = _pack(self.value)


class _FileOverflowGauge(_OverflowGauge):
    __slots__ = ("_file", "_pos")
    _file: _File
    _pos: int

    def _inc(self, amount: float = 1.0) -> None:
        _OverflowGauge._inc(self, amount)
        pos = self._pos
        self._file.mmap[pos : pos + 8] = _pack(self.value)

    def _move(self, amount: float) -> None:
        self.value += amount
        pos = self._pos
        self._file.mmap[pos : pos + 8] = _pack(self.value)

    def _dec(self, amount: float = 1.0) -> None:
        self._move(-amount)

    def _set(self, value: float) -> None:
        _OverflowGauge._set(self, value)
        pos = self._pos
        self._file.mmap[pos : pos + 8] = _pack(self.value)


def _observe_through(series: Any, value: float) -> None:
    i = bisect_left(series._bounds, value)  # the bucket the base class just counted
    positions = series._positions
    pos = positions[i]
    if pos < 0:
        pos = positions[i] = series._file.position(_key(series._name, series.labels, series._le[i]))
    mmap = series._file.mmap
    mmap[pos : pos + 8] = _pack(float(series.counts[i]))
    pos = series._pos
    mmap[pos : pos + 8] = _pack(series.sum)


class _FileHistogram(HistogramSeries):
    __slots__ = ("_file", "_le", "_name", "_pos", "_positions")
    _file: _File
    _pos: int  # of the sum
    _positions: list[int]  # of each bucket, -1 until first written
    _le: tuple[str, ...]
    _name: str

    def _observe(self, value: float, trace_id: int = 0, time_ns: int = 0) -> None:
        HistogramSeries._observe(self, value, trace_id, time_ns)
        _observe_through(self, value)


class _FileOverflowHistogram(_OverflowHistogram):
    __slots__ = ("_file", "_le", "_name", "_pos", "_positions")
    _file: _File
    _pos: int
    _positions: list[int]
    _le: tuple[str, ...]
    _name: str

    def _observe(self, value: float, trace_id: int = 0, time_ns: int = 0) -> None:
        _OverflowHistogram._observe(self, value, trace_id, time_ns)
        _observe_through(self, value)


_CLASSES: Final = {
    ("counter", False): _FileCounter,
    ("counter", True): _FileOverflowCounter,
    ("gauge", False): _FileGauge,
    ("gauge", True): _FileOverflowGauge,
    ("histogram", False): _FileHistogram,
    ("histogram", True): _FileOverflowHistogram,
}


class FileStore:
    """This process's files: the multiprocess backend of :class:`~otel_perf.metrics.MetricSet`."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.pid = 0
        self._totals: _File | None = None
        self._live: _File | None = None
        self._metrics: MetricSet | None = None
        self._synced = (-1, -1)
        self._existing: dict[str, float] = {}
        self.open()

    def open(self) -> None:
        """Open (or continue) this pid's files; a live file left by a dead process with
        this pid is stale and is started afresh."""
        self.pid = os.getpid()
        totals = os.path.join(self.directory, f"{TOTALS}{self.pid}{SUFFIX}")
        # Values already in this pid's file (configure() after shutdown(), a reused pid):
        # series start from them, since they write their absolute value through.
        self._existing = dict(read_file(totals)) if os.path.exists(totals) else {}
        self._totals = _File(totals)
        live = os.path.join(self.directory, f"{LIVE}{self.pid}{SUFFIX}")
        try:
            os.remove(live)
        except FileNotFoundError:
            pass
        self._live = _File(live)

    def reopen(self) -> None:
        """In a forked child: drop the parent's files (in this process only), open its own."""
        for file in (self._totals, self._live):
            if file is not None:
                file.close()
        self._synced = (-1, -1)
        self.open()

    def close(self) -> None:
        """Close the files (they stay on disk: the totals count after this process ends)."""
        for file in (self._totals, self._live):
            if file is not None:
                file.close()
        self._totals = self._live = None

    def attach(self, metrics: MetricSet) -> None:
        self._metrics = metrics

    def series(self, metric: LimitedMetric, labels: tuple[str, ...], overflow: bool) -> Any:
        """A new series of ``metric`` that writes through to this process's file."""
        cls = _CLASSES[(metric.kind, overflow)]
        series: Any
        existing = self._existing
        file = self._live if metric.kind == "gauge" else self._totals
        assert file is not None, "FileStore used after close()"
        if metric.kind == "histogram":
            series = cls(labels, metric._lock, metric.bounds)
            series._positions = [-1] * len(metric.le)
            series._le = metric.le
            series._name = metric.name
            sum_key = _key(metric.name, labels, "sum")
            series._pos = file.position(sum_key)
            if existing:
                series.sum = existing.get(sum_key, 0.0)
                for i, le in enumerate(metric.le):
                    series.counts[i] = int(existing.get(_key(metric.name, labels, le), 0))
        else:
            series = cls(labels, metric._lock)
            key = _key(metric.name, labels)
            series._pos = file.position(key)
            if existing and metric.kind == "counter":
                series.value = existing.get(key, 0.0)
        series._file = file
        return series

    def sync_self_metrics(self) -> None:
        """Write otel-perf's own counts (folds, internal errors, ignored values) when changed.

        Called with the store's lock held, after updates are applied.
        """
        metrics = self._metrics
        totals = self._totals
        if metrics is None or totals is None:
            return
        state = (metrics.overflows.changes, selfmonitor.changes())
        if state == self._synced:
            return
        self._synced = state
        for name, counts in (
            (SERIES_OVERFLOW, dict(metrics.overflows.counts)),
            (INTERNAL_ERRORS, selfmonitor.internal_error_counts()),
            (INVALID_VALUES, selfmonitor.invalid_value_counts()),
        ):
            for label, count in counts.items():
                key = _key(name, (label,))
                totals.write(key, self._existing.get(key, 0.0) + float(count))


def mark_process_dead(pid: int, directory: str | None = None) -> None:
    """A process ended: its gauges no longer count (its totals do). Also does
    ``prometheus_client``'s own bookkeeping for the user's multiprocess metrics."""
    directory = directory or directory_from_env()
    if not directory:
        return
    try:
        os.remove(os.path.join(directory, f"{LIVE}{pid}{SUFFIX}"))
    except FileNotFoundError:
        pass
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


# --- Whose files: pids and liveness --------------------------------------------------------


def pid_of(path: str) -> int | None:
    name = os.path.basename(path)
    for prefix in (TOTALS, LIVE):
        if name.startswith(prefix) and name.endswith(SUFFIX):
            digits = name[len(prefix) : -len(SUFFIX)]
            return int(digits) if digits.isdigit() else None
    return None


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, dead but not reaped, is not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover - e.g. not supported
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc: trust kill(0)


# --- Files from an earlier run --------------------------------------------------------------


def _boot_time() -> float:
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0.0


def _start_time(pid: int) -> float:
    """When ``pid`` started (Unix time), or 0 when unknown (no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of stat: start time in clock ticks after boot
        return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def stale_files(directory: str, started_before: float | None = None) -> list[str]:
    """Files of dead processes that predate this run: written before ``started_before``
    (default: when this process's parent started, e.g. the gunicorn master, or the boot).

    A worker recycled in this run wrote its files after the master started, so they are
    not stale; files written before any process of this run existed are.
    """
    if started_before is None:
        started_before = max(_start_time(os.getppid()), _boot_time())
    stale = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith(".db"):
            pid_text = name[:-3].rsplit("_", 1)[-1]
            pid = int(pid_text) if pid_text.isdigit() else None
        else:
            pid = pid_of(path)
        if pid is None or alive(pid):
            continue
        try:
            if os.stat(path).st_mtime < started_before:
                stale.append(name)
        except OSError:
            continue
    return stale


def stale_message(directory: str, stale: list[str]) -> str:
    """The warning for ``stale`` files, with what to do."""
    shown = ", ".join(stale[:5]) + (", …" if len(stale) > 5 else "")
    return (
        f"otel-perf: {ENV_VAR}={directory} holds {len(stale)} file(s) from an earlier run "
        f"({shown}); their counts are added to this run's totals. Empty the directory before "
        f"the service starts (rm -rf {Path(directory) / '*'}), or give each run its own "
        "directory (docs/deployment.md)"
    )
