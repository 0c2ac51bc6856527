"""Window totals regrouped into the tables the sections and the suggestion rules read.

``Facts`` is plain data, so the rules can be tested on numbers written by hand and the
sections on data fetched from a real Prometheus.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from otel_perf.attributes import API_OPERATION, RENDER_OPERATIONS
from otel_perf.report.prometheus import Sample

if TYPE_CHECKING:
    from otel_perf.report.rawdata import RawData

Key = tuple[str, ...]
RENDER_OPS: Final = frozenset(RENDER_OPERATIONS.values())
SAFETY_BLOCK: Final = "safety_block"
TIMEOUT: Final = "timeout"
RATE_LIMIT: Final = "rate_limit"


#: RE2 pattern of the operations that are not generations (renders, exports, API calls).
NON_GENERATION_PATTERN: Final = "|".join(sorted({*RENDER_OPS, API_OPERATION}))


def kind_of(operation: str) -> str:
    """``render``, ``api`` or ``generation`` (as the span processor classifies it)."""
    if operation in RENDER_OPS:
        return "render"
    if operation == API_OPERATION:
        return "api"
    return "generation"


def _table(samples: Iterable[Sample], *keys: str) -> dict[Key, float]:
    out: dict[Key, float] = defaultdict(float)
    for s in samples:
        out[tuple(s.labels.get(k, "") for k in keys)] += s.value
    return dict(out)


def _by(table: dict[Key, float], *positions: int) -> dict[Key, float]:
    out: dict[Key, float] = defaultdict(float)
    for key, value in table.items():
        out[tuple(key[p] for p in positions)] += value
    return dict(out)


def _flat(table: dict[Key, float]) -> dict[str, float]:
    return {key[0]: value for key, value in table.items()}


@dataclass
class Facts:
    """Totals for the window; keys are label values."""

    cost: dict[Key, float] = field(default_factory=dict)  # op, model, provider
    cost_by_project: dict[str, float] = field(default_factory=dict)
    ops: dict[Key, float] = field(default_factory=dict)  # op, model, status
    time: dict[Key, float] = field(default_factory=dict)  # op, model, status
    ops_by_project: dict[Key, float] = field(default_factory=dict)  # project, status
    time_by_project: dict[str, float] = field(default_factory=dict)
    errors: dict[Key, float] = field(default_factory=dict)  # op, model, type
    retries: dict[str, float] = field(default_factory=dict)  # op
    unpriced: float = 0.0
    render_failures: dict[Key, float] = field(default_factory=dict)
    api_errors: dict[Key, float] = field(default_factory=dict)
    slow: dict[str, float] = field(default_factory=dict)  # op
    slowness_avg: dict[str, float] = field(default_factory=dict)  # op -> mean duration/threshold
    queue_sum: dict[str, float] = field(default_factory=dict)
    queue_count: dict[str, float] = field(default_factory=dict)
    queue_buckets: dict[Key, float] = field(default_factory=dict)  # op, le
    ops_by_job: dict[Key, float] = field(default_factory=dict)  # job, op, status
    cost_by_job: dict[str, float] = field(default_factory=dict)
    instances_by_job: dict[str, int] = field(default_factory=dict)
    observed_seconds: float = 0.0
    active_seconds: float = 0.0  # generations' active period
    project: str | None = None  # set when the report is limited to one project

    # --- derived totals ---------------------------------------------------------------------

    @property
    def total_cost(self) -> float:
        return sum(self.cost.values())

    @property
    def operations(self) -> float:
        return sum(self.ops.values())

    @property
    def failed(self) -> float:
        return sum(v for (_, _, status), v in self.ops.items() if status == "error")

    @property
    def total_time(self) -> float:
        return sum(self.time.values())

    def ops_of(self, operation: str, status: str | None = None) -> float:
        return sum(
            v
            for (op, _, st), v in self.ops.items()
            if op == operation and (status is None or st == status)
        )

    def time_of(self, operation: str) -> float:
        return sum(v for (op, _, _), v in self.time.items() if op == operation)

    def generation_ops(self, status: str | None = None) -> float:
        """Generation attempts (``status=None``), or those with ``status``."""
        return sum(
            v
            for (op, _, st), v in self.ops.items()
            if kind_of(op) == "generation" and (status is None or st == status)
        )

    @property
    def generation_retries(self) -> float:
        """Retry attempts of generations (renders and API calls excluded)."""
        return sum(n for op, n in self.retries.items() if kind_of(op) == "generation")

    @property
    def retries_per_success(self) -> float | None:
        """Average retries per successful generation, the seed's definition: generation
        attempts that were retries / successful generations (``None`` without any)."""
        successes = self.generation_ops("success")
        return self.generation_retries / successes if successes > 0 else None

    def errors_of_type(self, error_type: str) -> float:
        return sum(v for (_, _, t), v in self.errors.items() if t == error_type)

    @property
    def operation_names(self) -> list[str]:
        return sorted({op for op, _, _ in self.ops})


def facts_from(data: RawData) -> Facts:
    """Regroup the window totals of ``data``."""
    cost = _table(data.rows("cost"), "operation", "model", "provider", "project", "job")
    count = _table(data.rows("duration_count"), "operation", "model", "status", "project", "job")
    retries = _flat(_table(data.rows("retries"), "operation"))
    instances: dict[str, set[str]] = defaultdict(set)
    for t in data.targets:
        instances[t.job].add(t.instance)
    gen = data.generation_extent
    time = _table(data.rows("duration_sum"), "operation", "model", "status", "project")
    slowness_sum = _flat(_table(data.rows("slowness_sum"), "operation"))
    slowness_count = _flat(_table(data.rows("slowness_count"), "operation"))
    return Facts(
        cost=_by(cost, 0, 1, 2),
        cost_by_project=_flat(_by(cost, 3)),
        ops=_by(count, 0, 1, 2),
        time=_by(time, 0, 1, 2),
        ops_by_project=_by(count, 3, 2),
        time_by_project=_flat(_by(time, 3)),
        errors=_by(_table(data.rows("errors"), "operation", "model", "error_type"), 0, 1, 2),
        retries=retries,
        ops_by_job=_by(count, 4, 0, 2),
        cost_by_job=_flat(_by(cost, 4)),
        instances_by_job={job: len(v) for job, v in instances.items()},
        queue_buckets=_table(data.rows("queue_bucket"), "operation", "le"),
        active_seconds=0.0 if gen is None else gen.seconds + data.scrape_interval,
        unpriced=sum(s.value for s in data.rows("unpriced")),
        render_failures=_table(data.rows("render_failures"), "render_type", "reason", "template"),
        api_errors=_table(data.rows("api_errors"), "endpoint", "status_code", "error_type"),
        slow=_flat(_table(data.rows("slow"), "operation")),
        slowness_avg={
            op: slowness_sum.get(op, 0.0) / n for op, n in slowness_count.items() if n > 0
        },
        queue_sum=_flat(_table(data.rows("queue_sum"), "operation")),
        queue_count=_flat(_table(data.rows("queue_count"), "operation")),
        observed_seconds=data.extent.seconds,
        project=data.project,
    )
