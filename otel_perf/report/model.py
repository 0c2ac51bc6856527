"""The report as data: one dataclass per section; ``Report.to_dict()`` is the JSON schema.

Money is in US dollars, times in seconds, rates in percent (0-100), timestamps ISO 8601 UTC.
``docs/report.md`` documents every field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

SCHEMA: Final = "otel-perf-report/1"


@dataclass
class Projection:
    """Spend so far and the projection to the end of the budget window at the current rate."""

    budget_window_days: float
    window_start: str
    window_end: str
    spent_usd: float
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
    worst_endpoints: list[EndpointErrors]
    worst_templates: list[TemplateFailures]
    trend_step_seconds: float
    trend: list[TrendPoint]


@dataclass
class QueueWait:
    count: int
    average_seconds: float | None
    by_operation: dict[str, float]


@dataclass
class EfficiencySection:
    generations: int
    generations_per_hour: float | None
    successes: int
    success_rate_pct: float | None
    success_rate_by_operation: dict[str, float]
    retries: int
    retries_per_success: float | None
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
    fleet_wide_metrics: list[str]
    cost: CostSection
    time: TimeSection
    errors: ErrorSection
    efficiency: EfficiencySection
    suggestions: list[Suggestion]
    projects: list[ProjectRow]
    projects_sort: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (``schema`` first)."""
        return {"schema": SCHEMA, **asdict(self)}
