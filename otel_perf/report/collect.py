"""Everything the report needs, fetched from Prometheus with boundary queries.

Cost model: a query that scans a range (``resets(x[90d])``, ``increase(x[90d])``) touches
every stored sample, so its cost grows with the sample count: scrape interval x days x
series. The report instead reads counters at a few instants with the ``@`` modifier and a
short look-back, so its cost grows with series x instants read, whatever the scrape
interval:

1. **A grid.** One range query of the per-target sums of the duration counter by
   ``operation`` and ``status`` at ``GRID_BINS + 1`` instants (trends, activity, targets),
   one of ``up`` (scrape gaps, targets down) and one of ``process_start_time_seconds``
   (restarts: the start time changes; several processes behind one target: it goes back).
2. **Process lifetimes.** A counter only resets when its process restarts, so each target's
   range splits into process lifetimes at the restarts found in step 1 (bins holding more
   than one restart are refined). Within a lifetime a series only grows.
3. **Totals.** Per metric, one instant query reads each series' last value in each lifetime
   (``last_over_time(x[short] @ restart)``), at the range end and at the range start; the
   window total is the sum of (last - first) over lifetimes, exact. A target without
   ``process_start_time_seconds``, or with several processes behind it, falls back to a
   scan (``resets``, ``increase``) and the report says so.
4. **Activity edges.** The first and last bins of the grid with new generations are refined
   to a second: generations per hour use that active period, not idle scrapes.

Queries run on a small pool (``PrometheusClient.run_all``). ``project`` is matched only on
metrics that carry it; ``scope`` (``--selector``) on every query. Label values are scrubbed
as they arrive.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from otel_perf import metrics as M
from otel_perf.monitoring.promql import increase_exact
from otel_perf.redact import scrub
from otel_perf.report import promql
from otel_perf.report.facts import NON_GENERATION_PATTERN, kind_of
from otel_perf.report.prometheus import (
    Exemplar,
    PrometheusClient,
    PrometheusError,
    Sample,
    Series,
)
from otel_perf.report.timerange import TimeRange, duration_seconds, iso

DUR_COUNT: Final = M.OPERATION_DURATION + "_count"
DUR_SUM: Final = M.OPERATION_DURATION + "_sum"
DUR_BUCKET: Final = M.OPERATION_DURATION + "_bucket"
EXPORT_OPERATION: Final = "export_timeline"
PROCESS_START: Final = "process_start_time_seconds"
GRID_BINS: Final = 60
#: Look-back at the range end for a target scraped until then (10 scrape intervals if longer).
SHORT_LOOK: Final = 900.0
ZOOM: Final = 4  # trends use their own grid when activity spans under a quarter of the range
REFINE_POINTS: Final = 60
RECENT_ERRORS: Final = 10
TARGET: Final = ("job", "instance")
TERM: Final = "otel_perf_term"
FIELD: Final = "otel_perf_field"
#: How far before the range a scanned series' baseline value is looked for.
SCAN_BASELINE: Final = "1d"

#: (field, metric, labels to keep): the window totals the report is computed from.
WINDOW_QUERIES: Final = (
    ("cost", M.COST_USD, ("operation", "model", "provider", "project")),
    ("duration_count", DUR_COUNT, ("operation", "model", "provider", "status", "project")),
    ("duration_sum", DUR_SUM, ("operation", "model", "provider", "status", "project")),
    ("errors", M.OPERATION_ERRORS, ("operation", "model", "error_type", "project")),
    ("retries", M.RETRIES, ("operation", "project")),
    ("unpriced", M.UNPRICED_OPERATIONS, ("operation", "model")),
    ("render_failures", M.RENDER_FAILURES, ("render_type", "reason", "template")),
    ("api_errors", M.API_ERRORS, ("endpoint", "status_code", "error_type")),
    ("slow", M.SLOW_OPERATIONS, ("operation", "model")),
    ("slowness_sum", M.SLOWNESS_RATIO + "_sum", ("operation",)),
    ("slowness_count", M.SLOWNESS_RATIO + "_count", ("operation",)),
    ("queue_sum", M.QUEUE_WAIT + "_sum", ("operation",)),
    ("queue_count", M.QUEUE_WAIT + "_count", ("operation",)),
    ("queue_bucket", M.QUEUE_WAIT + "_bucket", ("operation", "le")),
)


class NoDataError(PrometheusError):
    """Prometheus answered but holds no otel-perf samples for the range (and scope)."""


@dataclass(frozen=True)
class Extent:
    """First and last time something happened inside the range (unix seconds)."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)


@dataclass
class TargetInfo:
    """One scrape target (``job``, ``instance``) as the grid saw it."""

    job: str
    instance: str
    restarts: list[float] = field(default_factory=list)  # new process start times
    alive_at_start: bool = False
    last_seen: float = 0.0
    exact: bool = True  # process lifetimes known (process_start_time_seconds, no going back)
    went_back: int = 0  # times the process start time decreased (several processes)
    start_time_at_start: float | None = None  # process_start_time_seconds at the range start
    scraped_at_end: bool = False  # `up` has a sample within SHORT_LOOK of the range end
    scraped_at_start: bool = False  # ... and of the range start
    last_scrape_before: dict[float, float] = field(default_factory=dict)  # restart -> time
    down_bins: list[float] = field(default_factory=list)  # bin ends where up was 0
    gap_bins: list[float] = field(default_factory=list)  # bin ends with missing scrapes

    @property
    def key(self) -> tuple[str, str]:
        return (self.job, self.instance)

    def matchers(self) -> tuple[str, ...]:
        return (f"job={promql.quote(self.job)}", f"instance={promql.quote(self.instance)}")


@dataclass(frozen=True)
class Read:
    """One read of every counter of a target: the last value in ``ms`` milliseconds up to
    ``at`` (``ms == 0``: a reset-aware scan of the whole range instead), tagged ``tag``."""

    tag: str
    target: TargetInfo
    at: float
    ms: int


@dataclass(frozen=True)
class RecentError:
    """A failed operation from an exemplar of the duration histogram."""

    time: float
    operation: str
    model: str
    project: str
    job: str
    instance: str
    error_types: tuple[str, ...]
    trace_id: str
    seconds: float


@dataclass
class RawData:
    """Window totals by label set, trends over the grid, targets, exemplars."""

    range: TimeRange
    project: str | None
    scope: tuple[str, ...]
    retention_seconds: float
    extent: Extent  # any operation
    generation_extent: Extent | None  # generations only
    totals: dict[str, list[Sample]] = field(default_factory=dict)
    trend_step: float = 0.0
    trend_times: list[float] = field(default_factory=list)
    error_trend: list[float] = field(default_factory=list)
    operation_trend: list[float] = field(default_factory=list)
    export_count_trend: list[float] = field(default_factory=list)
    export_sum_trend: list[float] = field(default_factory=list)
    targets: list[TargetInfo] = field(default_factory=list)
    recent_errors: list[RecentError] | None = None  # None: exemplars unavailable
    exemplar_problem: str = ""
    scrape_interval: float = 0.0
    queries: int = 0
    samples_read: int = 0

    def rows(self, name: str) -> list[Sample]:
        return self.totals.get(name, [])

    @property
    def fleet_wide(self) -> tuple[str, ...]:
        """Metrics read for every project because they carry no project label."""
        if self.project is None:
            return ()
        return tuple(m for _, m, _ in WINDOW_QUERIES if not promql.has_project_label(m))


class Collector:
    """One collection pass for one range and scope (see the module docstring)."""

    def __init__(
        self,
        client: PrometheusClient,
        window: TimeRange,
        *,
        project: str | None,
        scope: Sequence[str],
        retention_seconds: float,
    ) -> None:
        self.client = client
        self.window = window
        self.project = project
        self.scope = tuple(scope)
        self.retention = retention_seconds
        bins = GRID_BINS
        self.step = max(round(window.seconds / bins, 3), 0.001)
        origin = round(window.start, 3)
        # Grid instants as Prometheus computes them (start + k * step, to the millisecond);
        # the last is the range end to within a millisecond.
        self.times = [round(origin + i * self.step, 3) for i in range(bins + 1)]
        self.exemplars_enabled = True
        self.interval = 0.0  # the scrape interval, estimated from `up`
        self.look = float(max(math.ceil(self.step), 1))  # one bin: process and `up` grids
        self.grid_look = min(self.look, SHORT_LOOK)  # the counter grids' look-back

    def sel(
        self, metric: str, matchers: dict[str, str] | None = None, extra: Sequence[str] = ()
    ) -> str:
        return promql.selector(metric, matchers, project=self.project, scope=(*self.scope, *extra))

    def _range(self, expr: str, start: float | None = None, end: float | None = None,
               step: float | None = None) -> list[Series]:  # fmt: skip
        step = self.step if step is None else step
        return self.client.query_range(
            expr,
            self.times[0] if start is None else start,
            (self.times[-1] if end is None else end) + step / 2,  # the last instant included
            step,
        )

    # --- the pass ---------------------------------------------------------------------------

    def collect(self) -> RawData:
        w = f"{_dur(self.step)}"
        by = "job, instance, operation, status"
        # The counter grids read a short look-back at each instant, not the whole bin: their
        # cost is series x instants x (SHORT_LOOK / scrape interval), whatever the range.
        # last_over_time, not the bare selector: a target that stopped leaves staleness
        # markers, and the bare selector would lose its final values. Increases a short
        # read misses (a target not scraped just before an instant, one that stopped) are
        # put back from the restart and end reads of the totals (_bin_increases).
        short = _dur(self.grid_look)
        grid_q = f"sum by ({by}) (last_over_time({self.sel(DUR_COUNT)}[{short}]))"
        export_sel = self.sel(DUR_SUM, {"operation": EXPORT_OPERATION, "status": "success"})
        export_q = f"sum by (job, instance) (last_over_time({export_sel}[{short}]))"
        pst = f"{PROCESS_START}{{{','.join(self._target_scope())}}}"
        up = f"up{{{','.join(self._target_scope())}}}"
        process_q = _tagged(
            ("changes", f"changes({pst}[{w}])"),
            ("resets", f"resets({pst}[{w}])"),
            ("min", f"min_over_time({pst}[{w}])"),
            ("last", f"last_over_time({pst}[{w}])"),
        )
        up_q = _tagged(
            ("min", f"min_over_time({up}[{w}])"),
            ("count", f"count_over_time({up}[{w}])"),
            ("recent", f"last_over_time({up}[{int(SHORT_LOOK)}s])"),
        )
        grid: list[Series]
        exports: list[Series]
        process: list[Series]
        ups: list[Series]
        intervals: dict[tuple[str, str], float]
        grid, exports, process, ups, intervals = self.client.run_all(
            [lambda: self._range(grid_q), lambda: self._range(export_q),
             lambda: self._range(process_q), lambda: self._range(up_q), self._intervals]
        )  # fmt: skip
        grid = [_scrubbed_series(s) for s in grid]
        targets = self._targets(grid, process, ups)
        configured = [intervals[t.key] for t in targets if t.key in intervals]
        if configured:
            self.interval = max(configured)
        if not targets:
            scope = self._describe_scope()
            raise NoDataError(
                f"Prometheus at {self.client.url} holds no otel-perf data{scope} between "
                f"{iso(self.window.start)} and {iso(self.window.end)} (metric {DUR_COUNT}); "
                "check that it scrapes the service's /metrics endpoint and that the range "
                "is right"
            )
        self.client.run_all([partial(self._last_scrapes, t) for t in targets if t.restarts])
        groups = self._read_groups(targets)
        results = self.client.run_all(
            [*(partial(self._read_all, g) for g in groups), lambda: self._exemplars(),
             lambda: self._edges(grid, targets, True), lambda: self._edges(grid, targets, False)]
        )  # fmt: skip
        n = len(groups)
        term_rows = _by_field(results[:n])
        exemplars, gen_extent, extent = results[n], results[n + 1], results[n + 2]
        data = RawData(
            self.window,
            self.project,
            self.scope,
            self.retention,
            extent or Extent(self.window.start, self.window.start),
            gen_extent,
        )
        for name, rows in term_rows.items():
            data.totals[name] = _window_totals(rows, targets)
        data.targets = targets
        data.scrape_interval = self.interval
        if extent is not None and extent.seconds * ZOOM < self.window.seconds:
            grid, exports = self._zoom(extent, grid_q, export_q)
        self._trends(data, grid, exports, term_rows, targets)
        if isinstance(exemplars, str):
            data.exemplar_problem = exemplars
        else:
            data.recent_errors = self._recent(exemplars, targets)
        data.queries = self.client.queries
        data.samples_read = self.client.samples
        return data

    def _missed_targets(
        self, found: dict[tuple[str, str], TargetInfo], process: list[Series], ups: list[Series]
    ) -> dict[tuple[str, str], list[float]]:
        """Targets the counter grid's short reads missed (a worker that lived a few hours
        inside one bin) but the one-bin process and ``up`` grids saw, that have duration
        series: target -> grid instants it was seen at. One cheap query per candidate
        (usually only targets of other exporters)."""
        seen: dict[tuple[str, str], set[float]] = defaultdict(set)
        for s in (*process, *ups):
            key = (scrub(s.labels.get("job", "")), scrub(s.labels.get("instance", "")))
            if key not in found and s.labels.get(TERM) != "recent":
                seen[key].update(a for a, v in s.points if v == v)
        candidates = [(key, sorted(at)) for key, at in seen.items() if at]

        def exports_counters(key: tuple[str, str], at: list[float]) -> bool:
            job, instance = (promql.quote(v) for v in key)
            sel = self.sel(DUR_COUNT, extra=(f"job={job}", f"instance={instance}"))
            expr = f"count(last_over_time({sel}[{_ms(self.look)}ms] @ {at[-1]:.3f}))"
            return bool(self.client.query(expr, at=self.window.end))

        found_ = self.client.run_all([partial(exports_counters, k, a) for k, a in candidates])
        return {key: at for (key, at), yes in zip(candidates, found_, strict=True) if yes}

    def _last_scrapes(self, t: TargetInfo) -> None:
        """For each restart, when the old process was last scraped: the timestamp of its
        start-time gauge (one series per target, so the subquery is cheap). Lets the
        restart reads look back only that far instead of two bins."""
        if self.interval <= 0:
            return
        sel = f"{PROCESS_START}{{{','.join(t.matchers())}}}"
        # the old process was last scraped shortly before the new one started, unless the
        # target was down for long: then the restart read looks back two bins instead
        window = int(min(self.look * 2, max(SHORT_LOOK, 10 * self.interval)) * 1000)
        step = max(int(self.interval), 1)
        expr = _tagged(*(
            (f"r{j}", f"max_over_time(timestamp({sel})[{window}ms:{step}s] @ {r - 0.001:.3f})")
            for j, r in enumerate(t.restarts)
        ))  # fmt: skip
        for row in self.client.query(expr, at=self.window.end):
            tag = row.labels.get(TERM, "")
            j = int(tag[1:]) if tag[1:].isdigit() else -1
            if 0 <= j < len(t.restarts) and row.value == row.value and row.value < t.restarts[j]:
                t.last_scrape_before[t.restarts[j]] = row.value

    def _up_at_end(self, t: TargetInfo) -> bool:
        last = self.times[-1]
        return (
            t.scraped_at_end
            and abs(t.last_seen - last) < 1e-3
            and not (t.down_bins and t.down_bins[-1] >= last - 1e-3)
        )

    def _intervals(self) -> dict[tuple[str, str], float]:
        """Configured scrape intervals of the targets Prometheus scrapes now (none for
        targets that are gone: then the interval is estimated from ``up``)."""
        try:
            found = self.client.scrape_intervals()
        except PrometheusError:
            return {}
        out = {}
        for key, text in found.items():
            try:
                out[key] = duration_seconds(text)
            except ValueError:
                continue
        return out

    def _target_scope(self) -> tuple[str, ...]:
        """The ``--selector`` matchers on target labels (process metrics and ``up`` carry
        no otel-perf labels)."""
        return tuple(m for m in self.scope if _matcher_label(m) not in _OTEL_PERF_LABELS)

    def _describe_scope(self) -> str:
        parts = []
        if self.project is not None:
            parts.append(f"project {self.project!r}")
        if self.scope:
            parts.append("selector {" + ",".join(self.scope) + "}")
        return (" for " + " and ".join(parts)) if parts else ""

    # --- step 1: targets, restarts, health --------------------------------------------------

    def _targets(
        self,
        grid: list[Series],
        process: list[Series],
        ups: list[Series],
    ) -> list[TargetInfo]:
        found: dict[tuple[str, str], TargetInfo] = {}
        for s in grid:
            key = (s.labels.get("job", ""), s.labels.get("instance", ""))
            if any(v == v for _, v in s.points):
                t = found.setdefault(key, TargetInfo(*key, exact=False))
                t.last_seen = max(t.last_seen, max(p for p, v in s.points if v == v))
                if s.points and abs(s.points[0][0] - self.window.start) < 1e-3:
                    t.alive_at_start = True
        for key, at in self._missed_targets(found, process, ups).items():
            t = found.setdefault(key, TargetInfo(*key, exact=False, last_seen=at[-1]))
            t.alive_at_start = abs(at[0] - self.window.start) < 1e-3
        by_fn: dict[tuple[str, str], dict[str, dict[float, float]]] = defaultdict(dict)
        for s in process:
            key = (s.labels.get("job", ""), s.labels.get("instance", ""))
            by_fn[key][s.labels.get(TERM, "")] = {round(a, 3): v for a, v in s.points}
        for key, t in found.items():
            fns = by_fn.get(key)
            if not fns or "last" not in fns:
                continue
            last = fns["last"]
            t.went_back = int(sum(fns.get("resets", {}).values()))
            t.exact = t.went_back == 0
            t.alive_at_start = _near(last, self.window.start)
            t.start_time_at_start = last.get(round(self.times[0], 3))
            if last:
                t.last_seen = max(t.last_seen, max(last))
            if t.exact:
                t.restarts = self._restarts(t, fns)
        for s in ups:
            key = (s.labels.get("job", ""), s.labels.get("instance", ""))
            seen = found.get(key)
            if seen is None:
                continue
            t = seen
            points = {round(a, 3): v for a, v in s.points}
            if s.labels.get(TERM) == "recent":
                t.scraped_at_end = round(self.times[-1], 3) in points
                t.scraped_at_start = round(self.times[0], 3) in points
            elif s.labels.get(TERM) == "min":
                t.down_bins = sorted(at for at, v in points.items() if v < 1)
            elif s.labels.get(TERM) == "count" and len(points) > 3:
                inner = [v for at, v in points.items() if self.times[1] < at < self.times[-1]]
                typical = sorted(inner)[len(inner) // 2] if inner else 0
                most = max(points.values(), default=0)
                if most:  # a full bin holds step / interval scrapes
                    self.interval = max(self.interval, self.step / most)
                t.gap_bins = sorted(
                    at for at, v in points.items()
                    if self.times[1] < at < self.times[-1] and v < 0.9 * typical
                )  # fmt: skip
        return sorted(found.values(), key=lambda t: t.key)

    def _restarts(self, t: TargetInfo, fns: dict[str, dict[float, float]]) -> list[float]:
        """Times between the last sample of one process and the first of the next, for
        each process that began inside the range (to a second, or the new start time)."""
        return sorted(set(self._changes_in(t, self.times, fns, refine=True)))

    def _changes_in(
        self,
        t: TargetInfo,
        times: list[float],
        fns: dict[str, dict[float, float]],
        *,
        refine: bool,
        before: float | None = None,
    ) -> list[float]:
        """Restart boundaries in the bins ``(times[i-1], times[i]]``. A bin's count is
        ``changes`` inside it plus one when its first value (its minimum: start times only
        grow) differs from the previous bin's last; ``before`` is the value before ``times[0]``."""
        last, low, changes = fns.get("last", {}), fns.get("min", {}), fns.get("changes", {})
        out: list[float] = []
        prev = before if before is not None else last.get(round(times[0], 3))
        for i in range(1, len(times)):
            at = round(times[i], 3)
            if at not in last:
                continue
            count = int(changes.get(at, 0)) + (1 if prev is not None and low.get(at) != prev else 0)
            if count == 1 and times[i - 1] < last[at] <= times[i]:
                out.append(last[at])  # the new process's own start time: exact
            elif count >= 1:
                step = (times[i] - times[i - 1]) / REFINE_POINTS
                if times[i] - times[i - 1] <= 1.0 or not refine:
                    out.append(times[i - 1])
                else:
                    out += self._refine_restarts(t, times[i - 1], times[i], prev, max(step, 1.0))
            prev = last[at]
        return out

    def _refine_restarts(
        self, t: TargetInfo, lo: float, hi: float, before: float | None, step: float
    ) -> list[float]:
        sel = f"{PROCESS_START}{{{','.join(t.matchers())}}}"
        w = _dur(step)
        expr = _tagged(
            ("changes", f"changes({sel}[{w}])"),
            ("min", f"min_over_time({sel}[{w}])"),
            ("last", f"last_over_time({sel}[{w}])"),
        )
        times = [round(lo + i * step, 3) for i in range(math.ceil((hi - lo) / step) + 1)]
        fns = {
            s.labels.get(TERM, ""): {round(a, 3): v for a, v in s.points}
            for s in self.client.query_range(expr, times[1], times[-1] + step / 2, step)
        }
        return self._changes_in(t, times, fns, refine=step > 1.0, before=before)

    # --- step 3: totals ---------------------------------------------------------------------

    def _reads(self, targets: list[TargetInfo]) -> list[Read]:
        """Every read the totals need: ``end``/``start`` reads, ``rN`` restart reads and
        ``scan`` (fallback) totals, per target."""
        reads: list[Read] = []
        for i, t in enumerate(targets):
            if not t.exact:  # a scan of the whole range, evaluated at its end
                reads.append(Read(f"scan{i}", t, self.window.end, 0))
                continue
            # A grid point "saw" a series within one look-back window before it. Every
            # read stays inside one process lifetime: never back past the restart before
            # it, so a series the next process never re-created is not read twice.
            bounds = [self.window.start, *t.restarts]
            look = self.window.end - min(t.last_seen, self.window.end) + self.look
            if self._up_at_end(t):  # scraped until the end: its last sample is recent
                look = min(look, max(SHORT_LOOK, 10 * self.interval))
            if t.restarts:
                look = min(look, self.window.end - t.restarts[-1])
            reads.append(Read(f"end{i}", t, self.window.end, _ms(look)))
            if t.alive_at_start:
                base = self.look
                if t.scraped_at_start:  # scraped just before the start: a short read
                    base = min(base, max(SHORT_LOOK, 10 * self.interval))
                if t.start_time_at_start is not None and t.start_time_at_start < self.window.start:
                    base = min(base, self.window.start - t.start_time_at_start)
                reads.append(Read(f"start{i}", t, self.window.start, _ms(base)))
            for j, r in enumerate(t.restarts):
                before = self.look * 2
                if r in t.last_scrape_before:  # read back just to the old process's last scrape
                    before = r - 0.001 - t.last_scrape_before[r] + 0.002
                if j > 0:
                    before = min(before, r - bounds[j])
                # just before the new process: a scrape at its very start time is its own
                reads.append(Read(f"r{i}_{j}", t, r - 0.001, _ms(before)))
        return reads

    def _read_groups(self, targets: list[TargetInfo]) -> list[list[Read]]:
        """The reads, one group per instant and look-back (a scan alone): each group is
        one query holding every metric. Prometheus looks a query's series up in every
        block its whole time span touches, so reads at different instants in one query
        would each pay for all the blocks between them."""
        groups: dict[tuple[float, int], list[Read]] = defaultdict(list)
        for n, read in enumerate(self._reads(targets)):
            groups[(read.at, read.ms) if read.ms else (read.at, -n)].append(read)
        return list(groups.values())

    def _read_all(self, reads: list[Read]) -> list[Sample]:
        """Every window query's ``reads`` (all at one instant) in one query."""
        parts = []
        for name, metric, labels in WINDOW_QUERIES:
            by = ", ".join((*labels, *TARGET))
            for read in reads:
                sel = self.sel(metric, extra=read.target.matchers())
                if read.ms:
                    e = f"last_over_time({sel}[{read.ms}ms] @ {read.at:.3f})"
                else:
                    e = increase_exact(sel, _dur(self.window.seconds), lookback=SCAN_BASELINE)
                parts.append(
                    f'label_replace(label_replace(sum by ({by}) ({e}), "{TERM}", "{read.tag}", '
                    f'"", ""), "{FIELD}", "{name}", "", "")'
                )
        at = max(r.at for r in reads) if all(r.ms for r in reads) else self.window.end
        return [_scrubbed(s) for s in self.client.query(" or ".join(parts), at=at)]

    # --- step 4: activity edges -------------------------------------------------------------

    def _edges(
        self, grid: list[Series], targets: list[TargetInfo], generations: bool
    ) -> Extent | None:
        series = [
            s
            for s in grid
            if not generations or kind_of(s.labels.get("operation", "")) == "generation"
        ]
        bins = _active_bins(series, self.times)
        if not bins:
            return None
        only = (f"operation!~{promql.quote(NON_GENERATION_PATTERN)}",) if generations else ()
        sel = self.sel(DUR_COUNT, extra=only)
        # {w}: each refinement step puts its own bin width here
        expr = "sum by (job, instance, operation, status) (last_over_time(" + sel + "[{w}]))"
        first = self._refine_edge(expr, self.times[bins[0] - 1], self.times[bins[0]], first=True)
        last = self._refine_edge(expr, self.times[bins[-1] - 1], self.times[bins[-1]], first=False)
        return Extent(first, max(first, last))

    def _refine_edge(self, expr: str, lo: float, hi: float, *, first: bool) -> float:
        """The scrape time, to a second, of the first (last) increase in ``(lo, hi]``."""
        while hi - lo > 1.0:
            step = max(math.ceil((hi - lo) / REFINE_POINTS), 1)
            times = [lo + i * step for i in range(math.ceil((hi - lo) / step) + 1)]
            windowed = expr.replace("[{w}]", f"[{min(step, int(SHORT_LOOK))}s]")
            result = self.client.query_range(windowed, lo, times[-1] + step / 2, step)
            bins = _active_bins(result, times)
            if not bins:
                return hi
            i = bins[0] if first else bins[-1]
            lo, hi = times[i - 1], times[i]
            if step <= 1:
                break
        return hi

    # --- trends -----------------------------------------------------------------------------

    def _zoom(
        self, extent: Extent, grid_q: str, export_q: str
    ) -> tuple[list[Series], list[Series]]:
        """Activity fills a small part of the range: the trends use a grid over the
        activity instead (one bin before it, so its first increase has a baseline)."""
        span = max(extent.seconds, self.interval, 1.0)
        rough = span / (GRID_BINS - 1)
        # the baseline instant's look-back window (one bin, at least a second) must end
        # before the first changed scrape, which lies within a second of extent.start
        pad = max(rough, 1.0) + 1.0
        origin = round(max(extent.start - pad, self.window.start), 3)
        step = max(round((extent.end - origin) / GRID_BINS, 3), 0.001)
        self.step = step
        self.times = [round(origin + i * step, 3) for i in range(GRID_BINS + 1)]
        w_old, w_new = f"[{_dur(self.grid_look)}]", f"[{_dur(min(max(step, 1.0), SHORT_LOOK))}]"
        # the windows only need to cover one bin; at least a second (Prometheus's resolution)
        grid_z, export_z = grid_q.replace(w_old, w_new), export_q.replace(w_old, w_new)
        grid, exports = self.client.run_all(
            [lambda: self._range(grid_z), lambda: self._range(export_z)]
        )
        return [_scrubbed_series(s) for s in grid], exports

    def _trends(
        self,
        data: RawData,
        grid: list[Series],
        exports: list[Series],
        term_rows: dict[str, list[Sample]],
        targets: list[TargetInfo],
    ) -> None:
        data.trend_step = self.step
        data.trend_times = self.times[1:]
        group = ("operation", "status")
        restarts = _restart_values(term_rows["duration_count"], targets, group)
        sums = _restart_values(term_rows["duration_sum"], targets, group)
        # the grid starts at the range start unless zoomed: the start reads are its baseline
        unzoomed = abs(self.times[0] - round(self.window.start, 3)) < 1e-3
        first_n = _read_values(term_rows["duration_count"], targets, group, "start")
        first_s = _read_values(term_rows["duration_sum"], targets, group, "start")
        last_n = _read_values(term_rows["duration_count"], targets, group, "end")
        last_s = _read_values(term_rows["duration_sum"], targets, group, "end")
        index = {t.key: t for t in targets}
        errors = [0.0] * GRID_BINS
        ops = [0.0] * GRID_BINS
        export_n = [0.0] * GRID_BINS
        export_s = [0.0] * GRID_BINS
        for s in grid:
            key = (s.labels.get("job", ""), s.labels.get("instance", ""))
            group = (s.labels.get("operation", ""), s.labels.get("status", ""))
            inc = _bin_increases(
                s.points, self.times, index.get(key), restarts.get((key, group), {}),
                first_n.get((key, group)) if unzoomed else None, last_n.get((key, group)),
            )  # fmt: skip
            for i, v in enumerate(inc):
                ops[i] += v
                if group[1] == "error":
                    errors[i] += v
                if group == (EXPORT_OPERATION, "success"):
                    export_n[i] += v
        for s in exports:
            key = (s.labels.get("job", ""), s.labels.get("instance", ""))
            group = (EXPORT_OPERATION, "success")
            inc = _bin_increases(
                s.points, self.times, index.get(key), sums.get((key, group), {}),
                first_s.get((key, group)) if unzoomed else None, last_s.get((key, group)),
            )  # fmt: skip
            for i, v in enumerate(inc):
                export_s[i] += v
        data.error_trend, data.operation_trend = errors, ops
        data.export_count_trend, data.export_sum_trend = export_n, export_s

    # --- recent errors ----------------------------------------------------------------------

    def _exemplars(self) -> list[Exemplar] | str:
        if not self.exemplars_enabled:
            return "Prometheus runs without --enable-feature=exemplar-storage"
        expr = self.sel(DUR_BUCKET, {"status": "error"})
        try:
            found = self.client.query_exemplars(expr, self.window.start, self.window.end)
        except PrometheusError as exc:
            if "exemplar" in str(exc).lower() or "404" in str(exc):
                return f"Prometheus did not serve exemplars ({exc})"
            raise
        return found

    def _recent(self, exemplars: list[Exemplar], targets: list[TargetInfo]) -> list[RecentError]:
        seen: dict[str, Exemplar] = {}
        for e in exemplars:
            trace = e.labels.get("trace_id") or e.labels.get("traceID") or ""
            if trace and (trace not in seen or seen[trace].time < e.time):
                seen[trace] = e
        latest = sorted(seen.values(), key=lambda e: -e.time)[:RECENT_ERRORS]
        types = self.client.run_all([partial(self._error_types, e) for e in latest])
        out = []
        for e, kinds in zip(latest, types, strict=True):
            s = {k: scrub(v) for k, v in e.series.items()}
            out.append(
                RecentError(
                    e.time, s.get("operation", ""), s.get("model", ""), s.get("project", ""),
                    s.get("job", ""), s.get("instance", ""), kinds,
                    _trace_id(e.labels), e.value,
                )
            )  # fmt: skip
        return out

    def _error_types(self, e: Exemplar) -> tuple[str, ...]:
        """Error types whose counter grew for this operation, model, project and target
        in the first scrape after the failure (several when they grew together)."""
        keep = ("operation", "model", "project", "job", "instance")
        labels: dict[str, str] = {k: e.series[k] for k in keep if k in e.series}
        sel = promql.selector(M.OPERATION_ERRORS, labels)
        before = f"last_over_time({sel}[1d] @ {e.time:.3f})"
        after = f"min_over_time({sel}[1h] @ {e.time + 3600:.3f})"  # counters only grow
        expr = f"sum by (error_type) (({after} - {before}) or {after})"
        rows = self.client.query(expr, at=self.window.end)
        return tuple(sorted(scrub(r.labels.get("error_type", "")) for r in rows if r.value > 0))


_OTEL_PERF_LABELS: Final = frozenset(label for spec in M.SPECS for label in spec.labels) | {"le"}


def _matcher_label(matcher: str) -> str:
    for i, ch in enumerate(matcher):
        if ch in "=!":
            return matcher[:i].strip()
    return matcher


def _tagged(*parts: tuple[str, str]) -> str:
    return " or ".join(f'label_replace({e}, "{TERM}", "{tag}", "", "")' for tag, e in parts)


def _by_field(answers: list[list[Sample]]) -> dict[str, list[Sample]]:
    """The read rows of every group, split by window query (``WINDOW_QUERIES`` field)."""
    out: dict[str, list[Sample]] = {f: [] for f, _, _ in WINDOW_QUERIES}
    for rows in answers:
        for row in rows:
            labels = dict(row.labels)
            name = labels.pop(FIELD, "")
            if name in out:
                out[name].append(Sample(labels, row.value))
    return out


def _ms(lookback: float) -> int:
    """A look-back in milliseconds, rounded down, so a window capped at a restart never
    reaches the process before it."""
    return max(int(lookback * 1000), 1)


def _dur(seconds: float) -> str:
    return f"{max(math.ceil(seconds), 1)}s"


def _near(points: dict[float, float], at: float) -> bool:
    return any(abs(t - at) < 1e-3 for t in points)


def _active_bins(series: list[Series], times: list[float]) -> list[int]:
    """Indexes ``i`` (1..n) of bins ``(times[i-1], times[i]]`` in which a counter grew."""
    active: set[int] = set()
    for s in series:
        points = dict((round(t, 3), v) for t, v in s.points)
        prev: float | None = None
        for i, at in enumerate(times):
            v = points.get(round(at, 3))
            if v is None or v != v:
                continue
            if i > 0 and ((prev is None and v > 0) or (prev is not None and v != prev)):
                active.add(i)
            prev = v
    return sorted(active)


def _bin_increases(
    points: list[tuple[float, float]],
    times: list[float],
    target: TargetInfo | None,
    restart_values: dict[float, float],
    baseline: float | None = None,
    final: float | None = None,
) -> list[float]:
    """Per bin, how much a per-target sum grew, across the restarts of its target.

    ``baseline`` is its value at ``times[0]`` and ``final`` its last value in the range
    (the totals' start and end reads): a grid instant without a recent scrape has no
    value, so growth before a target stopped would otherwise be missed (it is put in the
    bin of the target's last scrape)."""
    values = {round(t, 3): v for t, v in points}
    out = [0.0] * (len(times) - 1)
    restarts = sorted(target.restarts) if target is not None and target.exact else []
    prev = values.get(round(times[0], 3))
    prev = None if prev is None or prev != prev else prev
    if prev is None:
        prev = baseline
    for i in range(1, len(times)):
        v = values.get(round(times[i], 3))
        inside = [r for r in restarts if times[i - 1] < r <= times[i]]
        if v is None or v != v:
            if inside:  # restarted, not yet scraped at the bin end
                out[i - 1] += sum(restart_values.get(r, 0.0) for r in inside) - (prev or 0.0)
                prev = 0.0
            continue
        if inside:
            grown = sum(restart_values.get(r, 0.0) for r in inside) - (prev or 0.0) + v
        elif prev is None:
            grown = v  # born inside the bin
        elif v >= prev:
            grown = v - prev
        else:  # dropped without a known restart: count from zero (an estimate)
            grown = v
        out[i - 1] += max(grown, 0.0)
        prev = v
    missed = 0.0 if final is None else final - (prev or 0.0)
    if target is not None and out and missed > 1e-9 * max(1.0, abs(final or 0.0)):
        seen = min(max(target.last_seen, times[1]), times[-1])
        out[next(i for i in range(1, len(times)) if times[i] >= seen - 1e-3) - 1] += missed
    return out


def _read_values(
    rows: list[Sample], targets: list[TargetInfo], labels: tuple[str, ...], term: str
) -> dict[tuple[tuple[str, str], tuple[str, ...]], float]:
    """Per target and label group, the sum of its ``term`` reads (``start``, ``end``)."""
    tags = {f"{term}{i}": t.key for i, t in enumerate(targets)}
    out: dict[tuple[tuple[str, str], tuple[str, ...]], float] = defaultdict(float)
    for s in rows:
        key = tags.get(s.labels.get(TERM, ""))
        if key is not None:
            out[(key, tuple(s.labels.get(k, "") for k in labels))] += s.value
    return out


def _restart_values(
    rows: list[Sample], targets: list[TargetInfo], labels: tuple[str, ...]
) -> dict[tuple[tuple[str, str], tuple[str, ...]], dict[float, float]]:
    """Per target and label group, the last value before each restart."""
    out: dict[tuple[tuple[str, str], tuple[str, ...]], dict[float, float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for i, t in enumerate(targets):
        for j, r in enumerate(t.restarts):
            tag = f"r{i}_{j}"
            for s in rows:
                if s.labels.get(TERM) == tag:
                    out[(t.key, tuple(s.labels.get(k, "") for k in labels))][r] += s.value
    return out


def _window_totals(rows: list[Sample], targets: list[TargetInfo]) -> list[Sample]:
    """Sum the tagged reads into window totals: end - start + restart reads + scans."""
    totals: dict[tuple[tuple[str, str], ...], float] = defaultdict(float)
    for s in rows:
        tag = s.labels.get(TERM, "")
        sign = -1.0 if tag.startswith("start") else 1.0
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != TERM))
        totals[key] += sign * s.value
    return [
        Sample(dict(key), value)
        for key, value in totals.items()
        if math.isfinite(value) and abs(value) > 1e-12
    ]


def _trace_id(labels: Mapping[str, str]) -> str:
    """The exemplar's trace id when it is one (32 or 16 hex digits), else empty: a trace id
    is no secret and must stay readable (the scrubber would redact it as a hex token), and
    anything else in that label is not shown."""
    value = labels.get("trace_id") or labels.get("traceID") or ""
    return value.lower() if _TRACE_ID.fullmatch(value) else ""


_TRACE_ID: Final = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{16}")


def _scrubbed(s: Sample) -> Sample:
    return Sample({k: scrub(v) for k, v in s.labels.items()}, s.value)


def _scrubbed_series(s: Series) -> Series:
    return Series({k: scrub(v) for k, v in s.labels.items()}, s.points)


def collect(
    client: PrometheusClient,
    window: TimeRange,
    *,
    project: str | None = None,
    scope: Sequence[str] = (),
    retention_seconds: float,
    exemplars: bool = True,
) -> RawData:
    """Query Prometheus for everything the report shows; ``NoDataError`` when empty.
    ``exemplars``: the server stores them (``--enable-feature=exemplar-storage``)."""
    collector = Collector(
        client, window, project=project, scope=scope, retention_seconds=retention_seconds
    )
    collector.exemplars_enabled = exemplars
    return collector.collect()
