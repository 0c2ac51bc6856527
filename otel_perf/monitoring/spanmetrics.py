"""The Collector's span-metrics connector: namespace, dimensions and cardinality limit.

The connector turns the spans of services that do not embed otel-perf's processor into
calls and duration series (``traces_span_metrics_*`` in Prometheus), with the span
attributes below as extra dimensions.
"""

from __future__ import annotations

from typing import Final

from otel_perf import attributes as A

NAMESPACE: Final = "traces.span.metrics"
#: Span attributes added as dimensions (our attribute names, so spans tracked by otel-perf
#: and forwarded through the Collector break down like otel-perf's own metrics).
DIMENSIONS: Final = (A.OPERATION, A.PROJECT, A.GEN_AI_REQUEST_MODEL)
CARDINALITY_LIMIT: Final = 2000
