"""What the report is computed from: the window totals, trends, targets and recent errors
one collection pass (``otel_perf.report.collect``) read from Prometheus, and the names the
collection modules share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, NamedTuple

from otel_perf import metrics as M
from otel_perf.report import promql
from otel_perf.report.prometheus import PrometheusError, Sample
from otel_perf.report.timerange import TimeRange

DUR_COUNT: Final = M.OPERATION_DURATION + "_count"
DUR_SUM: Final = M.OPERATION_DURATION + "_sum"
DUR_BUCKET: Final = M.OPERATION_DURATION + "_bucket"
EXPORT_OPERATION: Final = "export_timeline"
PROCESS_START: Final = "process_start_time_seconds"
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


class Row(NamedTuple):
    """One read of one label set: the read's tag (``end0``, ``start0``, ``r0_1``,
    ``scan0``: ``TERM``), the labels (scrubbed), those labels as a hashable key, and the
    value."""

    tag: str
    labels: dict[str, str]
    key: tuple[tuple[str, str], ...]
    value: float


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
    recorded_instants: int = 0  # trend-grid instants read from the report's records

    def rows(self, name: str) -> list[Sample]:
        return self.totals.get(name, [])

    @property
    def fleet_wide(self) -> tuple[str, ...]:
        """Metrics read for every project because they carry no project label."""
        if self.project is None:
            return ()
        return tuple(m for _, m, _ in WINDOW_QUERIES if not promql.has_project_label(m))
