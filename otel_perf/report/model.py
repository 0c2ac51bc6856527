"""The report as data: one dataclass per section; ``Report.to_dict()`` is the JSON schema.

Money is in US dollars, times in seconds, rates in percent (0-100), timestamps ISO 8601 UTC.
``docs/report.md`` documents every field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

SCHEMA: Final = "otel-perf-report/2"


@dataclass
class Projection:
    """Spend so far and, after enough activity, the projection to the end of the budget
    window at the active period's rate (``status`` says which)."""

    status: str  # projected | not enough data
    basis: str  # the sentence saying what the projection extrapolates from
    budget_window_days: float
    window_start: str
    window_end: str
    spent_usd: float
    active_start: str | None
    active_end: str | None
    active_seconds: float
    minimum_active_seconds: float
    rate_usd_per_hour: float | None
    projected_usd: float | None
    budget_usd: float | None
    over_budget: bool | None


@dataclass
class CostByOperationModel:
    operation: str
    model: str
    provider: str
    usd: float


@dataclass
class CostSection:
    total_usd: float
    by_operation: dict[str, float]
    by_model: dict[str, float]
    by_operation_model: list[CostByOperationModel]
    unpriced_operations: int
    projection: Projection


@dataclass
class OperationTime:
    operation: str
    kind: str  # generation | render | api
    count: int
    total_seconds: float
    average_seconds: float
    share_pct: float


@dataclass
class ModelTime:
    """One generation type and model: attempts, successes and their mean duration."""

    operation: str
    model: str
    attempts: int
    count: int  # successful generations
    average_seconds: float | None  # of successful generations
    total_seconds: float


@dataclass
class ExportPoint:
    time: str
    count: int
    average_seconds: float


@dataclass
class TimelineExports:
    count: int
    total_seconds: float
    average_seconds: float | None
    history: list[ExportPoint]


@dataclass
class TimeSection:
    total_seconds: float
    operations: int
    average_seconds: float | None
    by_operation: list[OperationTime]
    generation_models: list[ModelTime]
    timeline_exports: TimelineExports


@dataclass
class ErrorClasses:
    api_errors: int
    safety_blocks: int
    timeouts: int
    render_failures: int
    generation_failures: int


@dataclass
class EndpointErrors:
    endpoint: str
    errors: int
    status_codes: dict[str, int]
    error_types: dict[str, int]


@dataclass
class TemplateFailures:
    template: str
    failures: int
    reasons: dict[str, int]


@dataclass
class FailedGenerations:
    """Failed attempts of one generation type, by reason."""

    operation: str
    failures: int
    reasons: dict[str, int]


@dataclass
class RecentError:
    time: str
    operation: str
    model: str
    project: str
    service: str  # job
    instance: str
    error_type: str  # one type, or candidates joined by " or "
    trace_id: str
    seconds: float
    trace_url: str | None


@dataclass
class RecentErrors:
    available: bool
    note: str
    errors: list[RecentError]


@dataclass
class TrendPoint:
    time: str
    errors: int
    operations: int


@dataclass
class ErrorSection:
    total: int
    operations: int
    error_rate_pct: float | None
    classes: ErrorClasses
    by_type: dict[str, int]
    by_operation: dict[str, int]
    render_reasons: dict[str, int]
    api_error_types: dict[str, int]
    failed_generations: list[FailedGenerations]
    worst_endpoints: list[EndpointErrors]
    worst_templates: list[TemplateFailures]
    trend_step_seconds: float
    trend: list[TrendPoint]
    recent: RecentErrors


@dataclass
class QueueWait:
    count: int
    average_seconds: float | None
    p50_seconds: float | None
    p90_seconds: float | None
    p99_seconds: float | None
    by_operation: dict[str, float]


@dataclass
class EfficiencySection:
    generation_attempts: int
    successful_generations: int
    success_rate_pct: float | None  # successful generations / generation attempts
    operations: int
    successes: int  # operations of every kind
    all_operations_success_rate_pct: float | None
    success_rate_by_operation: dict[str, float]
    retries: int  # generation attempts that were retries
    retries_per_success: float | None  # per successful generation
    all_retries: int  # retry attempts of every kind
    generations_per_hour: float | None
    active_start: str | None
    active_end: str | None
    active_seconds: float
    queue_wait: QueueWait
    slow_operations: dict[str, int]


@dataclass
class Saving:
    amount: float
    unit: str  # usd | seconds | errors | operations


@dataclass
class Suggestion:
    rank: int
    rule: str
    title: str
    detail: str
    improvement_pct: float
    saving: Saving
    evidence: dict[str, Any]


@dataclass
class ProjectRow:
    project: str
    cost_usd: float
    time_seconds: float
    operations: int
    errors: int
    error_rate_pct: float | None
    success_rate_pct: float | None


@dataclass
class ServiceRow:
    """One Prometheus job (service) of the range."""

    service: str
    instances: int
    generation_attempts: int
    success_rate_pct: float | None
    operations: int
    errors: int
    cost_usd: float


@dataclass
class IntegrityNote:
    """Something about the data itself that affects the figures."""

    kind: str  # several_processes | restart_scan | scrape_gap | target_down
    service: str
    instance: str
    detail: str


@dataclass
class Window:
    label: str
    start: str
    end: str
    seconds: float


@dataclass
class Report:
    """The whole report; every output format is rendered from this."""

    generated_at: str
    prometheus_url: str
    retention_days: float
    range: Window
    observed: Window
    project: str | None
    selector: str | None
    fleet_wide_metrics: list[str]
    definitions: dict[str, dict[str, str]]
    cost: CostSection
    time: TimeSection
    errors: ErrorSection
    efficiency: EfficiencySection
    suggestions: list[Suggestion]
    projects: list[ProjectRow]
    projects_sort: str
    services: list[ServiceRow]
    integrity: list[IntegrityNote]
    queries: int
    samples_read: int  # samples Prometheus read for the report (its query statistics)
    recorded_instants: int  # trend-grid instants read from otel-perf-report.rules records
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (``schema`` first)."""
        return {"schema": SCHEMA, **asdict(self)}
