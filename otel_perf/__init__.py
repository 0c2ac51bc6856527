"""otel-perf: cost, latency and failure metrics for AI media pipelines, from OpenTelemetry spans.

>>> import otel_perf
>>> handle = otel_perf.configure(service_name="media-api")          # doctest: +SKIP
>>> with otel_perf.track_generation("generate_image", model="flux") as op:  # doctest: +SKIP
...     op.set_usage(images=4)
"""

from otel_perf.attributes import (
    API_ERROR_TYPES,
    GENERATION_OPERATIONS,
    RENDER_FAILURE_REASONS,
    RENDER_TYPES,
)
from otel_perf.classify import classify_error, classify_status
from otel_perf.compat import (  # noqa: F401 - the seed's names, kept importable (otel_perf.compat)
    PERFORMANCE_THRESHOLDS,
    ErrorPerformanceStats,
    error_rate,
    is_slow,
    reset_stats,
    stats,
)
from otel_perf.config import Settings
from otel_perf.configuration import OtelPerf, RecordUnsampledSampler, configure
from otel_perf.estimate import estimate_cost
from otel_perf.exposition import make_asgi_app, make_wsgi_app
from otel_perf.pricing import CostEstimate, Estimate, PriceLine, PriceTable, Usage, normalize_model
from otel_perf.processor import PerformanceSpanProcessor
from otel_perf.redact import scrub
from otel_perf.thresholds import DEFAULT_THRESHOLDS
from otel_perf.tracking import (
    OperationHandle,
    current_operation,
    deadline,
    track_api_call,
    track_generation,
    track_render,
)
from otel_perf.version import __version__

__all__ = [
    "API_ERROR_TYPES",
    "DEFAULT_THRESHOLDS",
    "GENERATION_OPERATIONS",
    "RENDER_FAILURE_REASONS",
    "RENDER_TYPES",
    "CostEstimate",
    "Estimate",
    "OperationHandle",
    "OtelPerf",
    "PerformanceSpanProcessor",
    "PriceLine",
    "PriceTable",
    "RecordUnsampledSampler",
    "Settings",
    "Usage",
    "__version__",
    "classify_error",
    "classify_status",
    "configure",
    "current_operation",
    "deadline",
    "estimate_cost",
    "make_asgi_app",
    "make_wsgi_app",
    "normalize_model",
    "scrub",
    "track_api_call",
    "track_generation",
    "track_render",
]
