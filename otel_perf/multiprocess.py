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
an endpoint serving both (:class:`ViewRegistry`) shows each metric once. Exemplars are not
written to the files: ``/metrics`` shows those of the process that answers the scrape
(``prometheus_client``'s multiprocess mode drops them all). The cardinality limit holds per process while recording and again on
the aggregate when it is read: past ``limit - 1`` label sets, in file order, the rest are
added into the ``__overflow__`` series.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from otel_perf import selfmonitor
from otel_perf.metrics import (
    API_CONSECUTIVE_ERRORS,
    INTERNAL_ERRORS,
    INVALID_VALUES,
    OVERFLOW,
    SERIES_OVERFLOW,
    CounterSeries,
    GaugeSeries,
    HistogramSeries,
    LimitedMetric,
    MetricSet,
    SeriesFamily,
    _OverflowCounter,
    _OverflowGauge,
    _OverflowHistogram,
)

logger = logging.getLogger("otel_perf")

#: The environment variable naming the directory (``prometheus_client``'s name).
ENV_VAR: Final = "PROMETHEUS_MULTIPROC_DIR"
_LEGACY_ENV_VAR: Final = "prometheus_multiproc_dir"
TOTALS: Final = "otel-perf-totals-"
LIVE: Final = "otel-perf-live-"
SUFFIX: Final = ".mmap"
#: How a gauge combines over live processes.
GAUGE_MODE: Final = {API_CONSECUTIVE_ERRORS: "max"}  # the others: "sum"
_SELF_METRICS: Final = (SERIES_OVERFLOW, INTERNAL_ERRORS, INVALID_VALUES)


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
        self._dict = MmapedDict(path)
        self.mmap: Any = self._dict._m

    def position(self, key: str) -> int:
        """Where the value of ``key`` lives (the key is added, at 0.0, if new)."""
        positions = self._dict._positions
        pos = positions.get(key)
        if pos is None:
            self._dict._init_value(key)
            self.mmap = self._dict._m  # remapped if the file grew
            pos = positions[key]
        return int(pos)

    def write(self, key: str, value: float) -> None:
        pos = self.position(key)
        self.mmap[pos : pos + 8] = _pack(value)

    def close(self) -> None:
        try:
            self._dict.close()
        except Exception:  # pragma: no cover - already closed
            pass


_pack: Final = struct.Struct("d").pack


def _read(path: str) -> Iterator[tuple[str, float]]:
    from prometheus_client.mmap_dict import MmapedDict

    for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(path):
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
        self._existing = dict(_read(totals)) if os.path.exists(totals) else {}
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

    multiprocess.mark_process_dead(pid, directory)


# --- Reading: the aggregate over every process ----------------------------------------------


def _pid_of(path: str) -> int | None:
    name = os.path.basename(path)
    for prefix in (TOTALS, LIVE):
        if name.startswith(prefix) and name.endswith(SUFFIX):
            digits = name[len(prefix) : -len(SUFFIX)]
            return int(digits) if digits.isdigit() else None
    return None


def _alive(pid: int) -> bool:
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


class _Row:
    """The label values of one aggregated series, with the rendered-label cache of a series."""

    __slots__ = ("labels", "text")

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self.text: Any = None


_MAX_CACHED_KEYS: Final = 1 << 17


class Aggregate(Collector):
    """Collects the sum over every process's files as otel-perf metric families.

    ``metrics`` (this process's set) supplies the specs, buckets and render templates.
    """

    def __init__(self, metrics: MetricSet, directory: str) -> None:
        self._metrics = metrics
        self.directory = directory
        self._keys: dict[str, Any] = {}  # raw key -> (name, labels, slot), parsed once
        self._rows: dict[tuple[str, tuple[str, ...]], _Row] = {}
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        """A forked child reads with a new lock (a scrape may have held the parent's)."""
        self._lock = threading.Lock()

    def _parse(self, key: str) -> Any:
        parsed = self._keys.get(key)
        if parsed is None:
            if len(self._keys) >= _MAX_CACHED_KEYS:
                self._keys.clear()
            name, labels, slot = json.loads(key)
            parsed = self._keys[key] = (name, tuple(labels), slot)
        return parsed

    def read(self) -> tuple[dict[str, dict[tuple[str, ...], Any]], dict[str, dict[str, float]]]:
        """Values by metric name and label values, and otel-perf's own counts."""
        self._metrics.apply_pending()
        metrics = self._metrics.all
        values: dict[str, dict[tuple[str, ...], Any]] = {name: {} for name in metrics}
        own: dict[str, dict[str, float]] = {name: {} for name in _SELF_METRICS}
        le_index = {
            name: {le: i for i, le in enumerate(m.le)}
            for name, m in metrics.items()
            if m.kind == "histogram"
        }
        maxed: set[str] = {name for name, mode in GAUGE_MODE.items() if mode == "max"}
        try:
            names = sorted(os.listdir(self.directory))
        except OSError as exc:
            selfmonitor.report_internal_error("multiprocess_read", exc)
            return values, own
        for name in names:
            path = os.path.join(self.directory, name)
            pid = _pid_of(path)
            if pid is None:
                continue
            live = name.startswith(LIVE)
            if live and not _alive(pid):
                continue
            try:
                entries = list(_read(path))
            except FileNotFoundError:
                continue  # removed meanwhile (mark_process_dead)
            except Exception as exc:
                selfmonitor.report_internal_error("multiprocess_read", exc)
                continue
            for key, value in entries:
                metric_name, labels, slot = self._parse(key)
                series = values.get(metric_name)
                if series is None:
                    counts = own.get(metric_name)
                    if counts is not None and labels:
                        counts[labels[0]] = counts.get(labels[0], 0.0) + value
                    continue
                if metric_name in le_index:
                    entry = series.get(labels)
                    if entry is None:
                        entry = series[labels] = [[0] * len(metrics[metric_name].le), 0.0]
                    if slot == "sum":
                        entry[1] += value
                    else:
                        i = le_index[metric_name].get(slot)
                        if i is not None:
                            entry[0][i] += int(value)
                elif metric_name in maxed:
                    if labels not in series or value > series[labels]:
                        series[labels] = value
                else:
                    series[labels] = series.get(labels, 0.0) + value
        return values, own

    def families(self) -> list[SeriesFamily]:
        """Every otel-perf metric, summed over processes (the read API of this mode)."""
        with self._lock:
            values, _own = self.read()
            return [self._family(self._metrics.all[name], rows) for name, rows in values.items()]

    def _family(self, metric: LimitedMetric, series: dict[tuple[str, ...], Any]) -> SeriesFamily:
        limit = max(self._metrics.cardinality_limit - 1, 0)
        overflow_labels = (OVERFLOW,) * len(metric.spec.labels)
        if len(series) > limit + (overflow_labels in series):
            maximum = GAUGE_MODE.get(metric.name) == "max"
            series = _fold(series, limit, overflow_labels, metric.kind, maximum)
        if len(self._rows) >= _MAX_CACHED_KEYS:
            self._rows.clear()
        rows: list[Any] = []
        cache = self._rows
        # Exemplars are not in the files: those of this process's own spans are shown.
        exemplars = metric.exemplars() if metric.kind == "histogram" else {}
        for labels, value in series.items():
            row = cache.get((metric.name, labels))
            if row is None:
                row = cache[(metric.name, labels)] = _Row(labels)
            if metric.kind == "histogram":
                rows.append((row, value[0], value[1], exemplars.get(labels)))
            else:
                rows.append((row, value))
        return SeriesFamily(metric, rows)

    def collect(self) -> Iterable[Any]:
        with self._lock:
            values, own = self.read()
            families: list[Any] = [
                self._family(self._metrics.all[name], rows) for name, rows in values.items()
            ]
        # otel-perf's own counts, summed over processes, as _SelfMetricsCollector shows them.
        docs = {
            SERIES_OVERFLOW: ("metric", "Label sets folded into __overflow__ by the cardinality limit."),
            INTERNAL_ERRORS: ("stage", "Errors inside otel-perf, caught so they never reach user code."),
            INVALID_VALUES: ("field", "Values ignored because they were NaN, negative or of the wrong type."),
        }  # fmt: skip
        for name in _SELF_METRICS:
            label, doc = docs[name]
            family = CounterMetricFamily(name.removesuffix("_total"), doc, labels=(label,))
            for value, count in sorted(own[name].items()):
                family.add_metric((value,), count)
            families.append(family)
        return families


def _fold(
    series: dict[tuple[str, ...], Any],
    limit: int,
    overflow: tuple[str, ...],
    kind: str,
    maximum: bool,
) -> dict[tuple[str, ...], Any]:
    """Keep the first ``limit`` label sets; add (or, for a max gauge, max) the rest into
    the overflow series."""
    kept: dict[tuple[str, ...], Any] = {}
    folded: Any = series.get(overflow)
    for labels, value in series.items():
        if labels == overflow:
            continue
        if len(kept) < limit:
            kept[labels] = value
        elif kind == "histogram":
            if folded is None:
                folded = [[0] * len(value[0]), 0.0]
            folded = [
                [a + b for a, b in zip(folded[0], value[0], strict=True)],
                folded[1] + value[1],
            ]
        elif maximum:
            folded = value if folded is None else max(folded, value)
        else:
            folded = value if folded is None else folded + value
    if folded is not None:
        kept[overflow] = folded
    return kept


class ViewRegistry(CollectorRegistry):
    """What a ``/metrics`` endpoint serves in this mode: otel-perf's metrics summed over
    every process (``aggregate``), then the user's own ``prometheus_client`` multiprocess
    metrics from the same directory (``MultiProcessCollector``)."""

    def __init__(self, metrics: MetricSet, directory: str) -> None:
        from prometheus_client.multiprocess import MultiProcessCollector

        super().__init__(auto_describe=False)
        self.aggregate = Aggregate(metrics, directory)
        self.register(self.aggregate)
        MultiProcessCollector(self, path=directory)


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
            pid = _pid_of(path)
        if pid is None or _alive(pid):
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
