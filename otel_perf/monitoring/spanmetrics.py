"""The Collector's span-metrics connector: its dimensions and the Prometheus series it yields.

The connector turns every span into calls and duration series, with the span attributes
below as extra dimensions; the Collector's Prometheus exporter renames them (dots become
underscores, units and ``_total`` become suffixes). Both the Collector config and the
dashboards' span-metrics queries are built from these names.
"""

from __future__ import annotations

from typing import Final

from otel_perf import attributes as A

NAMESPACE: Final = "traces.span.metrics"
#: Span attributes added as dimensions. ``otel_perf.project`` is what makes per-project
#: time and error rates possible: otel-perf's own metrics carry ``project`` on cost only.
DIMENSIONS: Final = (A.OPERATION, A.PROJECT, A.GEN_AI_REQUEST_MODEL)
CARDINALITY_LIMIT: Final = 2000

_PREFIX: Final = NAMESPACE.replace(".", "_")
CALLS: Final = f"{_PREFIX}_calls_total"
DURATION: Final = f"{_PREFIX}_duration_seconds"


def label(attribute: str) -> str:
    """The Prometheus label of a span attribute (``otel_perf.project`` -> ``otel_perf_project``)."""
    return attribute.replace(".", "_")


PROJECT_LABEL: Final = label(A.PROJECT)
OPERATION_LABEL: Final = label(A.OPERATION)
MODEL_LABEL: Final = label(A.GEN_AI_REQUEST_MODEL)
STATUS_ERROR: Final = "STATUS_CODE_ERROR"
#: Labels every span-metrics series has: the connector's defaults, our dimensions, targets.
LABELS: Final = (
    "service_name",
    "span_name",
    "span_kind",
    "status_code",
    *(label(d) for d in DIMENSIONS),
    "job",
    "instance",
)
SERIES: Final = {
    CALLS: LABELS,
    DURATION + "_bucket": (*LABELS, "le"),
    DURATION + "_sum": LABELS,
    DURATION + "_count": LABELS,
}
