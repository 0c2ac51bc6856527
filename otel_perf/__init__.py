"""otel-perf: cost, latency and failure metrics for AI media pipelines, from OpenTelemetry spans.

>>> import otel_perf
>>> handle = otel_perf.configure(service_name="media-api")          # doctest: +SKIP
>>> with otel_perf.track_generation("generate_image", model="flux") as op:  # doctest: +SKIP
...     op.set_usage(images=4)

Names are imported on first use (PEP 562), so ``otel-perf report`` and other commands do not
load the tracing stack they do not need; ``import otel_perf`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# The seed's names (otel_perf.compat) are bound eagerly: ``stats`` is both one of them and
# a submodule, and only an eager binding keeps ``otel_perf.stats`` the function.
from otel_perf.compat import (  # noqa: F401 - the seed's names, kept importable (otel_perf.compat)
    PERFORMANCE_THRESHOLDS,
    ErrorPerformanceStats,
    error_rate,
    is_slow,
    reset_stats,
    stats,
)
from otel_perf.lazy import lazy_names
from otel_perf.version import __version__

if TYPE_CHECKING:
    from otel_perf.attributes import (
        API_ERROR_TYPES,
        GENERATION_OPERATIONS,
        RENDER_FAILURE_REASONS,
        RENDER_TYPES,
    )
    from otel_perf.classify import classify_error, classify_status
    from otel_perf.config import Settings
    from otel_perf.configuration import OtelPerf, RecordUnsampledSampler, configure
    from otel_perf.estimate import estimate_cost
    from otel_perf.exposition import make_asgi_app, make_wsgi_app
    from otel_perf.pricing import (
        CostEstimate,
        Estimate,
        PriceLine,
        PriceTable,
        Usage,
        normalize_model,
    )
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

#: Public name -> the module that owns it.
_LAZY: dict[str, str] = {
    "API_ERROR_TYPES": "otel_perf.attributes",
    "CostEstimate": "otel_perf.pricing",
    "DEFAULT_THRESHOLDS": "otel_perf.thresholds",
    "Estimate": "otel_perf.pricing",
    "GENERATION_OPERATIONS": "otel_perf.attributes",
    "OperationHandle": "otel_perf.tracking",
    "OtelPerf": "otel_perf.configuration",
    "PerformanceSpanProcessor": "otel_perf.processor",
    "PriceLine": "otel_perf.pricing",
    "PriceTable": "otel_perf.pricing",
    "RENDER_FAILURE_REASONS": "otel_perf.attributes",
    "RENDER_TYPES": "otel_perf.attributes",
    "RecordUnsampledSampler": "otel_perf.configuration",
    "Settings": "otel_perf.config",
    "Usage": "otel_perf.pricing",
    "classify_error": "otel_perf.classify",
    "classify_status": "otel_perf.classify",
    "configure": "otel_perf.configuration",
    "current_operation": "otel_perf.tracking",
    "deadline": "otel_perf.tracking",
    "estimate_cost": "otel_perf.estimate",
    "make_asgi_app": "otel_perf.exposition",
    "make_wsgi_app": "otel_perf.exposition",
    "normalize_model": "otel_perf.pricing",
    "scrub": "otel_perf.redact",
    "track_api_call": "otel_perf.tracking",
    "track_generation": "otel_perf.tracking",
    "track_render": "otel_perf.tracking",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


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
