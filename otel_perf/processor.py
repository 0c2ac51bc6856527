"""``PerformanceSpanProcessor``: every finished span becomes Prometheus metrics.

The processor does no I/O and never blocks on anything but the metric children's own
locks. Everything per operation is precomputed in ``__init__``; ``on_end`` is a handful of
dictionary lookups and metric updates. Any internal failure is caught, counted in
``otel_perf_internal_errors_total`` and logged once: the host application never sees it.

>>> from prometheus_client import CollectorRegistry
>>> from opentelemetry.sdk.trace import TracerProvider
>>> provider = TracerProvider()
>>> provider.add_span_processor(PerformanceSpanProcessor(registry=CollectorRegistry()))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode
from prometheus_client import REGISTRY, CollectorRegistry

from otel_perf import attributes as A
from otel_perf import foreign
from otel_perf.classify import normalize_error_type
from otel_perf.config import Settings
from otel_perf.count_once import CountOnce
from otel_perf.metrics import MetricSet
from otel_perf.pricing import normalize_model
from otel_perf.selfmonitor import count_invalid, report_internal_error
from otel_perf.thresholds import FALLBACK_THRESHOLD

_GENERATION: Final = "generation"
_RENDER: Final = "render"
_API: Final = "api"
_RENDER_TYPE_OF: Final = {op: render_type for render_type, op in A.RENDER_OPERATIONS.items()}
_MAX_LABEL_LENGTH: Final = 128


class PerformanceSpanProcessor(SpanProcessor):
    """Derives otel-perf metrics from finished spans (ours and GenAI semantic-convention ones).

    Args:
        registry: where the metrics are registered (default: prometheus_client's global one).
        settings: thresholds, price table, cardinality limit; default ``Settings.resolve()``.
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings.resolve()
        self.registry = registry if registry is not None else REGISTRY
        self.metrics = MetricSet(
            self.registry,
            thresholds=tuple(self.settings.thresholds.values())
            + tuple(self.settings.template_thresholds.values()),
            cardinality_limit=self.settings.cardinality_limit,
        )
        # Precomputed per operation: its kind and its slow threshold.
        self._kind: dict[str, str] = {op: _GENERATION for op in A.GENERATION_OPERATIONS}
        self._kind.update({op: _GENERATION for op in self.settings.extra_operations})
        self._kind.update({op: _GENERATION for op in A.SEMCONV_GENAI_OPERATIONS})
        self._kind[A.OTHER_OPERATION] = _GENERATION
        self._kind.update({op: _RENDER for op in A.RENDER_OPERATIONS.values()})
        self._kind[A.API_OPERATION] = _API
        self._threshold: dict[str, float] = {
            op: self.settings.thresholds.get(op, FALLBACK_THRESHOLD) for op in self._kind
        }
        self._template_threshold = dict(self.settings.template_thresholds)
        self._foreign = foreign.ForeignSpans(self.settings.pricing, self.settings.api_routes)
        self._once = CountOnce(self.settings.pricing)
        self._in_flight: dict[int, Any] = {}
        self._enabled = True

    def disable(self) -> None:
        """Stop recording (a provider offers no way to remove a processor)."""
        self._enabled = False

    # --- SpanProcessor interface ----------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if not self._enabled:
            return
        try:
            attrs = span.attributes
            if not attrs:
                return
            op = attrs.get(A.OPERATION)
            if op is None:
                return  # foreign spans are counted at end only; their names may change
            kind = self._kind.get(op) if isinstance(op, str) else None
            if kind is None:
                op, kind = A.OTHER_OPERATION, _GENERATION
            child = self.metrics.in_progress.child((str(op),))
            child.inc()
            self._in_flight[span.context.span_id] = child
            model = attrs.get(A.GEN_AI_REQUEST_MODEL, "") if kind is _GENERATION else None
            self._once.opened(span.context.span_id, None if model is None else str(model))
        except Exception as exc:
            report_internal_error("on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        if not self._enabled:
            return
        try:
            self._record(span)
        except Exception as exc:
            report_internal_error("on_end", exc)

    def shutdown(self) -> None:
        """Stop recording; nothing to flush, metrics are updated synchronously."""
        self._enabled = False

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # --- Recording ------------------------------------------------------------------------

    def _record(self, span: ReadableSpan) -> None:
        attrs: Mapping[str, Any] = span.attributes or {}
        context = span.context
        in_flight = self._in_flight.pop(context.span_id, None) if context is not None else None
        if in_flight is not None:
            in_flight.dec()
        op = attrs.get(A.OPERATION)
        own = op is not None
        if op is None:
            translated = self._foreign.translate(span, attrs)
            if translated is None:
                return
            attrs = translated
            op = attrs[A.OPERATION]
        kind = self._kind.get(op)
        if kind is None:
            op, kind = A.OTHER_OPERATION, _GENERATION
        if not self._counted(span, attrs, op, kind, own):
            return
        m = self.metrics
        if attrs.get(A.OUTCOME) == "cancelled":
            m.cancelled.child((op,)).inc()
            return

        model = normalize_model(
            attrs.get(A.GEN_AI_REQUEST_MODEL) or attrs.get(A.GEN_AI_RESPONSE_MODEL)
        )
        provider = _label(attrs.get(A.GEN_AI_PROVIDER_NAME) or attrs.get(A.GEN_AI_SYSTEM))
        project = _label(attrs.get(A.PROJECT))
        failed = span.status.status_code is StatusCode.ERROR or A.ERROR_TYPE in attrs
        error_type = normalize_error_type(attrs.get(A.ERROR_TYPE)) if failed else ""

        duration = _duration(span)
        if duration is None:
            count_invalid("duration")
        else:
            exemplar = None
            if context is not None and context.trace_flags.sampled:
                exemplar = {"trace_id": format(context.trace_id, "032x")}
            m.duration.child(
                (op, model, provider, "error" if failed else "success", project)
            ).observe(duration, exemplar)
            if not failed:
                threshold = self._threshold.get(op, FALLBACK_THRESHOLD)
                if kind is _RENDER and self._template_threshold:
                    threshold = self._template_threshold.get(
                        str(attrs.get(A.RENDER_TEMPLATE_ID)), threshold
                    )
                if duration > threshold:
                    m.slow.child((op, model)).inc()
                    m.slowness.child((op,)).observe(duration / threshold)

        if failed:
            m.errors.child((op, model, provider, error_type, project)).inc()
            if kind is _RENDER:
                template = _label(attrs.get(A.RENDER_TEMPLATE_ID))
                m.render_failures.child((_RENDER_TYPE_OF[op], error_type, template)).inc()
        if kind is _API:
            endpoint = _label(attrs.get(A.HTTP_ROUTE))
            if failed:
                status = attrs.get(A.HTTP_RESPONSE_STATUS_CODE)
                status_label = str(status) if isinstance(status, int) else ""
                m.api_errors.child((endpoint, status_label, error_type)).inc()
                m.consecutive_api_errors.child((endpoint,)).inc()
            else:
                m.consecutive_api_errors.child((endpoint,)).set(0)

        source = attrs.get(A.COST_SOURCE)
        if source == A.COST_SOURCE_UNPRICED:
            m.unpriced.child((op, model)).inc()
        elif A.COST_USD in attrs:
            usd = attrs[A.COST_USD]
            if _is_amount(usd):
                if usd:
                    m.cost.child((op, model, provider, project)).inc(usd)
            else:
                count_invalid("cost")

        attempt = attrs.get(A.RETRY_ATTEMPT)
        if attempt is not None:
            if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt >= 0:
                if attempt > 0:
                    m.retries.child((op, project)).inc()
            else:
                count_invalid("retry_attempt")

        wait = attrs.get(A.QUEUE_WAIT_S)
        if wait is not None:
            if _is_amount(wait):
                m.queue_wait.child((op,)).observe(wait)
            else:
                count_invalid("queue_wait")

    def _counted(
        self, span: ReadableSpan, attrs: Mapping[str, Any], op: str, kind: str, own: bool
    ) -> bool:
        """The count-once rule (``otel_perf.count_once``): False for a duplicate span."""
        model = str(attrs.get(A.GEN_AI_REQUEST_MODEL) or "")
        if own:
            return self._once.own(span, model if kind is _GENERATION else None)
        return self._once.foreign(
            span, model, op in foreign.MODEL_CALL_OPERATIONS, op == A.API_OPERATION
        )


def _duration(span: ReadableSpan) -> float | None:
    start, end = span.start_time, span.end_time
    if start is None or end is None or end < start:
        return None
    return (end - start) / 1e9


def _is_amount(value: Any) -> bool:
    """A finite number >= 0 (bools excluded)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _label(value: Any) -> str:
    """A label value: ``""`` for missing, capped in length."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_LABEL_LENGTH else text[:_MAX_LABEL_LENGTH]
