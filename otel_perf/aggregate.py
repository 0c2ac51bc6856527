"""Reading multiprocess mode: the sum over every process's files, as otel-perf families.

Counters and histograms add up over every file, the exited processes' included; the gauges
count live processes only (``GAUGE_MODE``: the in-progress gauge sums, the consecutive-error
gauge takes the maximum). The cardinality limit is applied again on the sum. See
``otel_perf.multiprocess`` for the files and docs/deployment.md for the mode.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from typing import Any, Final

from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from otel_perf import selfmonitor
from otel_perf.metrics import (
    OVERFLOW,
    SELF_SPECS,
    LimitedMetric,
    MetricSet,
    SeriesFamily,
    self_family,
)
from otel_perf.multiprocess import GAUGE_MODE, LIVE, alive, pid_of, read_file


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
        own: dict[str, dict[str, float]] = {spec.name: {} for spec in SELF_SPECS}
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
            pid = pid_of(path)
            if pid is None:
                continue
            live = name.startswith(LIVE)
            if live and not alive(pid):
                continue
            try:
                entries = list(read_file(path))
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
        families += [self_family(spec, own[spec.name]) for spec in SELF_SPECS]
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
        MultiProcessCollector(self, path=directory)  # type: ignore[no-untyped-call]
