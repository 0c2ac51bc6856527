"""``PerformanceSpanProcessor``: every finished span becomes Prometheus metrics.

The processor does no I/O and takes no lock per span: it hands a span's resolved updates
(one :class:`~otel_perf.metrics.SpanUpdate` each) to the metric set through a deque, applied
in batches and before every read (see ``MetricSet.apply_pending``). In multiprocess mode
(``otel_perf.multiprocess``) each update is applied as its span ends, so that a scrape in
another process sees it, and the in-progress gauge is written at start and end. Everything per operation is precomputed in ``__init__``, and
everything per (operation, model, provider, route, project) the first time it is seen (a
:class:`_Route`: normalised labels, threshold, the series it updates), so ``on_end`` for a
known kind of span is one route lookup, a few attribute reads and one append. Any internal failure is caught, counted in ``otel_perf_internal_errors_total``
and logged once: the host application never sees it.

>>> from prometheus_client import CollectorRegistry
>>> from opentelemetry.sdk.trace import TracerProvider
>>> provider = TracerProvider()
>>> provider.add_span_processor(PerformanceSpanProcessor(registry=CollectorRegistry()))

The processor owns the settings (``Settings``): created by hand like this or by
``configure()``, it alone turns usage into cost and applies the thresholds, for our spans
and foreign ones alike. A generation that carries no cost (the provider's) is priced from
its usage attributes with its price table, or counted unpriced; it hands the same settings
to ``track_generation`` (its extra operations are accepted).

Traces show what it derived, as they always have: in the SDK's OnEnding hook
(``_on_ending``, after the end time is set and before any processor's ``on_end``) it writes
``otel_perf.cost.usd`` / ``otel_perf.cost.source`` / ``otel_perf.cost.table_version`` and,
for a slow operation, ``otel_perf.slow.threshold_s`` / ``otel_perf.slow.factor`` (and a
``slow_render`` event) on spans marked ``otel_perf.operation``, so every exporter sees them
whatever order the processors were added in (``otel_perf.sdk_access``). Where the SDK does
not allow it, the metrics still carry the cost and the span does not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode, TraceFlags
from prometheus_client import REGISTRY, CollectorRegistry

from otel_perf import attributes as A
from otel_perf import foreign, sdk_access, tracking
from otel_perf.classify import normalize_error_type
from otel_perf.config import Settings
from otel_perf.count_once import CountOnce
from otel_perf.metrics import MetricSet, SpanUpdate
from otel_perf.pricing import Usage, is_amount, normalize_model
from otel_perf.redact import scrub_label
from otel_perf.selfmonitor import count_invalid, report_internal_error
from otel_perf.thresholds import FALLBACK_THRESHOLD, slow_threshold

_GENERATION: Final = A.KIND_GENERATION
_RENDER: Final = A.KIND_RENDER
_API: Final = A.KIND_API
_RENDER_TYPE_OF: Final = {op: render_type for render_type, op in A.RENDER_OPERATIONS.items()}
_MAX_LABEL_LENGTH: Final = 128
_SAMPLED: Final = int(TraceFlags.SAMPLED)
_USAGE_ATTRIBUTES: Final = tuple(A.USAGE_FIELDS.values())
_USAGE_KEYS: Final = tuple(attribute for attribute, _ in _USAGE_ATTRIBUTES)
_USAGE_KEY_SET: Final = frozenset(_USAGE_KEYS)
_ERROR: Final = StatusCode.ERROR  # an enum member lookup costs ~0.1 µs; do it once
_INF: Final = math.inf
_new_record: Final = tuple.__new__
#: Routes kept at most (a flood of distinct models empties the cache, it never grows).
MAX_ROUTES: Final = 4096
#: Own spans tracked as open at most; past it the oldest (most likely never ended) is
#: forgotten, so a leak of unended spans cannot grow memory.
MAX_OPEN_SPANS: Final = 1 << 16


#: What the processor's estimate gives: (cost source, usd, the span's cost attributes).
_Priced = tuple[str, "float | None", dict[str, Any]]
#: The span attributes a ``slow_render`` event repeats (when the span has them).
_SLOW_RENDER_FIELDS: Final = (
    A.RENDER_ID,
    A.RENDER_TEMPLATE_ID,
    A.RENDER_TYPE,
    A.RENDER_WIDTH,
    A.RENDER_HEIGHT,
)


class _Route:
    """One combination of operation, model, provider, HTTP route and project values.

    Labels are normalised once; series are looked up the first time a span needs them and
    kept here, so later spans reach them without building label tuples.
    """

    __slots__ = (
        "cancelled",
        "consecutive",
        "cost",
        "endpoint",
        "errors",
        "failed",
        "kind",
        "metrics",
        "model",
        "ok",
        "op",
        "project",
        "provider",
        "queue_wait",
        "retries",
        "slow",
        "slowness",
        "threshold",
        "unpriced",
    )

    def __init__(self, metrics: MetricSet, op: str, kind: str, model: str, provider: str,
                 endpoint: str, project: str, threshold: float) -> None:  # fmt: skip
        self.metrics = metrics
        self.op = op
        self.kind = kind
        self.model = model
        self.provider = provider
        self.endpoint = endpoint
        self.project = project
        self.threshold = threshold
        self.ok: Any = None
        self.failed: Any = None
        self.slow: Any = None
        self.slowness: Any = None
        self.cancelled: Any = None
        self.consecutive: Any = None
        self.unpriced: Any = None
        self.retries: Any = None
        self.queue_wait: Any = None
        self.cost: Any = None
        self.errors: dict[str, Any] = {}  # by error type (a closed set)

    # Each resolver runs once per route and series; afterwards the attribute is set.

    def resolve_ok(self) -> Any:
        labels = (self.op, self.model, self.provider, "success", self.project)
        self.ok = self.metrics.duration.child(labels)
        return self.ok

    def resolve_failed(self) -> Any:
        labels = (self.op, self.model, self.provider, "error", self.project)
        self.failed = self.metrics.duration.child(labels)
        return self.failed

    def resolve_slow(self) -> Any:
        self.slowness = self.metrics.slowness.child((self.op,))
        self.slow = self.metrics.slow.child((self.op, self.model))
        return self.slow

    def resolve_cancelled(self) -> Any:
        self.cancelled = self.metrics.cancelled.child((self.op,))
        return self.cancelled

    def resolve_consecutive(self) -> Any:
        self.consecutive = self.metrics.consecutive_api_errors.child((self.endpoint,))
        return self.consecutive

    def resolve_unpriced(self) -> Any:
        self.unpriced = self.metrics.unpriced.child((self.op, self.model))
        return self.unpriced

    def resolve_retries(self) -> Any:
        self.retries = self.metrics.retries.child((self.op, self.project))
        return self.retries

    def resolve_queue_wait(self) -> Any:
        self.queue_wait = self.metrics.queue_wait.child((self.op,))
        return self.queue_wait

    def error_series(self, error_type: str) -> Any:
        series = self.errors.get(error_type)
        if series is None:
            labels = (self.op, self.model, self.provider, error_type, self.project)
            series = self.metrics.errors.child(labels)
            self.errors[error_type] = series
        return series

    def resolve_cost(self) -> Any:
        self.cost = self.metrics.cost.child((self.op, self.model, self.provider, self.project))
        return self.cost


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
        store = None
        if self.settings.multiprocess_dir is not None:
            from otel_perf.multiprocess import FileStore

            store = FileStore(self.settings.multiprocess_dir)
        self.metrics = MetricSet(
            self.registry,
            thresholds=tuple(self.settings.thresholds.values())
            + tuple(self.settings.template_thresholds.values()),
            cardinality_limit=self.settings.cardinality_limit,
            store=store,
        )
        #: Multiprocess mode: the in-progress gauge is written at start and end, since
        #: another process's scrape cannot count this process's open spans.
        self._files = store is not None
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
        self._threshold_ns = {op: seconds * 1e9 for op, seconds in self._threshold.items()}
        self._foreign = foreign.ForeignSpans(self.settings.api_routes)
        self._routes: dict[tuple[Any, ...], _Route] = {}
        # (operation, model, *usage values) -> (cost source, usd, the span's cost attributes)
        self._estimates: dict[tuple[Any, ...], _Priced] = {}
        # Known operation -> (its in-progress series, whether its spans are model calls).
        self._running: dict[Any, tuple[Any, bool]] = {}
        # Own spans started and not ended: span id -> (in-progress series, model or None
        # if not a model call). The in-progress gauge counts it when scraped, the count-once
        # rule looks parents up in it: one dict store per span start covers both.
        self._in_flight: dict[int, tuple[Any, str | None]] = {}
        if store is None:
            self.metrics.in_progress.count_live(self._in_flight_series)
        self._covered: dict[int, str] = {}
        self._once = CountOnce(self.settings.pricing, self._in_flight, self._covered)
        self._pending = self.metrics.pending
        self._apply_every = self.metrics.apply_every
        self._enabled = True
        # A processor wired by hand gives tracked operations its settings, as configure() does.
        tracking.bind_settings(self.settings)
        self._start_fields = sdk_access.span_start_fields
        self._end_fields = sdk_access.span_end_fields
        self._ending_fields = sdk_access.ending_fields

    def disable(self) -> None:
        """Stop recording (a provider offers no way to remove a processor)."""
        self._enabled = False

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's open spans, cached series and values,
        so the child records on its own (with files, into its own)."""
        self._in_flight.clear()
        self._routes.clear()
        self._estimates.clear()
        self._running.clear()
        self._covered.clear()
        self._once = CountOnce(self.settings.pricing, self._in_flight, self._covered)
        self.metrics.reset_after_fork()

    # --- SpanProcessor interface ----------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if not self._enabled:
            return
        try:
            context, attrs = self._start_fields(span)  # otel_perf.sdk_access
            op = attrs.get(A.OPERATION)
            if op is None or context is None:
                return  # foreign spans are counted at end only; their names may change
            series, model_call = self._running.get(op) or self._running_entry(op)
            in_flight = self._in_flight
            if len(in_flight) >= MAX_OPEN_SPANS:
                dropped = _drop_oldest(in_flight)  # spans that never end cannot grow memory
                if dropped is not None and self._files:
                    self.metrics.move(dropped[0], -1.0)
            # No lock: one dict store. SpanContext is a tuple; [1] is the span id.
            in_flight[context[1]] = (
                series,
                str(attrs.get(A.GEN_AI_REQUEST_MODEL, "")) if model_call else None,
            )
            if self._files:
                self.metrics.move(series, 1.0)
        except Exception as exc:
            report_internal_error("on_start", exc)

    def _on_ending(self, span: Span) -> None:
        """The SDK's OnEnding hook: write the estimated cost and the slowness on one of our
        spans before any exporter sees it (see the module docstring). ``on_end`` then reads
        them from the span like a provider's cost."""
        if not self._enabled:
            return
        try:
            fields = self._ending_fields(span)  # otel_perf.sdk_access; None: not writable
            if fields is None:
                return
            attrs, start, end, failed = fields
            op = attrs.get(A.OPERATION)
            if op is None or failed or A.ERROR_TYPE in attrs or A.OUTCOME in attrs:
                return  # not ours; failures and cancellations are neither priced nor slow
            kind = self._kind.get(op) if type(op) is str else None
            if kind is None:
                op, kind = A.OTHER_OPERATION, _GENERATION
            if kind is _GENERATION and A.COST_USD not in attrs and A.COST_SOURCE not in attrs:
                # _estimate inlined: this runs once per generation.
                model = attrs.get(A.GEN_AI_REQUEST_MODEL) or attrs.get(A.GEN_AI_RESPONSE_MODEL)
                if _USAGE_KEY_SET.isdisjoint(attrs):
                    shape: tuple[Any, ...] = (op, model)  # no usage: the common case
                else:
                    shape = (op, model, *map(attrs.get, _USAGE_KEYS))
                known = self._estimates.get(shape) or self._new_estimate(shape)
                attrs.update(known[2])  # within sdk_access.ENDING_ROOM
            if kind is _RENDER and self._template_threshold:
                threshold = slow_threshold(
                    op, attrs.get(A.RENDER_TEMPLATE_ID), self._threshold, self._template_threshold
                )
                if end - start > threshold * 1e9:
                    self._mark_slow(span, attrs, kind, (end - start) / 1e9, threshold, end)
            elif end - start > self._threshold_ns[op]:
                threshold = self._threshold[op]
                self._mark_slow(span, attrs, kind, (end - start) / 1e9, threshold, end)
        except Exception as exc:
            report_internal_error("on_ending", exc)

    def on_end(self, span: ReadableSpan) -> None:
        """Resolve every series the span updates and queue the updates (see _apply).

        One method on purpose: a Python-level call costs as much as a dozen dictionary
        lookups here (see BENCHMARKS.md).
        """
        if not self._enabled:
            return
        try:
            # The span's fields in one call (otel_perf.sdk_access: direct reads where the
            # SDK allows, public properties otherwise).
            context, parent, start, end, failed, attrs = self._end_fields(span)
            trace_id = 0
            span_id = None
            if context is not None:
                # SpanContext is a tuple (trace_id, span_id, is_remote, trace_flags, ...): index
                # it rather than call its properties. An exemplar only for sampled spans, whose
                # trace can be found; TraceFlags is an int, so mask it instead of `.sampled`.
                span_id = context[1]
                if self._files:
                    entry = self._in_flight.pop(span_id, None)
                    if entry is not None:
                        self.metrics.move(entry[0], -1.0)
                else:
                    self._in_flight.pop(span_id, None)
                if context[3] & _SAMPLED:
                    trace_id = context[0]
            op = attrs.get(A.OPERATION)
            own = op is not None
            if op is None:
                translated = self._foreign.translate(span, attrs)
                if translated is None:
                    return
                attrs = translated
                op = attrs[A.OPERATION]
            key = (
                op,
                attrs.get(A.GEN_AI_REQUEST_MODEL) or attrs.get(A.GEN_AI_RESPONSE_MODEL),
                attrs.get(A.GEN_AI_PROVIDER_NAME) or attrs.get(A.GEN_AI_SYSTEM),
                attrs.get(A.HTTP_ROUTE),
                attrs.get(A.PROJECT),
            )
            route = self._routes.get(key) or self._route(key)
            # The count-once rule (otel_perf.count_once): a duplicate span is not counted.
            # An own root span is always counted while no parent awaits word of a child
            # (the covered table is empty): no call needed.
            if own:
                if (parent is not None or self._covered) and not self._once.own(
                    span_id,
                    parent,
                    str(attrs.get(A.GEN_AI_REQUEST_MODEL) or "")
                    if route.kind is _GENERATION
                    else None,
                ):
                    return
            elif not self._once.foreign(
                span_id,
                parent,
                str(attrs.get(A.GEN_AI_REQUEST_MODEL) or ""),
                route.op in foreign.MODEL_CALL_OPERATIONS,
                route.kind is _API,
            ):
                return
            if attrs.get(A.OUTCOME) == "cancelled":
                (route.cancelled or route.resolve_cancelled()).inc()
                return

            failed = failed or A.ERROR_TYPE in attrs
            kind = route.kind
            duration = ratio = 0.0
            timed = slow = errors = render_failure = api_error = consecutive = None
            if start is None or end is None or end < start:
                count_invalid("duration")
            else:
                duration = (end - start) / 1e9
                if failed:
                    timed = route.failed or route.resolve_failed()
                else:
                    timed = route.ok or route.resolve_ok()
                    threshold = route.threshold
                    if kind is _RENDER and self._template_threshold:
                        threshold = slow_threshold(
                            route.op,
                            attrs.get(A.RENDER_TEMPLATE_ID),
                            self._threshold,
                            self._template_threshold,
                        )
                    if duration > threshold:
                        slow = route.slow or route.resolve_slow()
                        ratio = duration / threshold

            if failed:
                error_type = normalize_error_type(attrs.get(A.ERROR_TYPE))
                errors = route.error_series(error_type)
                if kind is _RENDER:
                    template = _label(attrs.get(A.RENDER_TEMPLATE_ID))
                    render_failure = self.metrics.render_failures.child(
                        (_RENDER_TYPE_OF[route.op], error_type, template)
                    )
            if kind is _API:
                consecutive = route.consecutive or route.resolve_consecutive()
                if failed:
                    status = attrs.get(A.HTTP_RESPONSE_STATUS_CODE)
                    status_label = str(status) if isinstance(status, int) else ""
                    api_error = self.metrics.api_errors.child(
                        (route.endpoint, status_label, error_type)
                    )

            unpriced = cost = None
            source = attrs.get(A.COST_SOURCE)
            usd: Any = attrs.get(A.COST_USD)
            if (
                source is None
                and usd is None
                and kind is _GENERATION
                and not failed
                and (own or route.op in foreign.MODEL_CALL_OPERATIONS)
            ):
                # Not priced at the end (an SDK without the OnEnding hook) or a foreign
                # model call: priced here from its usage. Agents and tools are not priced.
                source, usd, _ = self._estimate(route.op, attrs)
            if source == A.COST_SOURCE_UNPRICED:
                unpriced = route.unpriced or route.resolve_unpriced()
                usd = 0.0
            elif usd is not None:
                # The common case inline: a finite float >= 0 (NaN fails the comparison).
                if not ((type(usd) is float and 0.0 <= usd < _INF) or is_amount(usd)):
                    count_invalid("cost")
                elif usd:
                    cost = route.cost or route.resolve_cost()

            retries = queue_wait = None
            attempt = attrs.get(A.RETRY_ATTEMPT)
            if attempt is not None:
                if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt >= 0:
                    if attempt > 0:
                        retries = route.retries or route.resolve_retries()
                else:
                    count_invalid("retry_attempt")
            wait = attrs.get(A.QUEUE_WAIT_S)
            if wait is not None:
                if is_amount(wait):
                    queue_wait = route.queue_wait or route.resolve_queue_wait()
                else:
                    count_invalid("queue_wait")

            # Handed over without a lock (see MetricSet.apply_pending). tuple.__new__ builds
            # the record in C; SpanUpdate(...) would be a Python-level call (0.4 µs).
            pending = self._pending
            pending.append(
                _new_record(SpanUpdate, (timed, duration, trace_id, end, slow, route.slowness,
                    ratio, errors, render_failure, api_error, consecutive, failed, unpriced, cost,
                    usd, retries, queue_wait, wait))
            )  # fmt: skip
            if len(pending) >= self._apply_every:
                self.metrics.apply_pending(blocking=False)
        except Exception as exc:
            report_internal_error("on_end", exc)

    def shutdown(self) -> None:
        """Stop recording and apply what is queued (reads apply it anyway)."""
        self._enabled = False
        self.metrics.apply_pending()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Apply the queued updates now; nothing leaves the process."""
        self.metrics.apply_pending()
        return True

    # --- Recording ------------------------------------------------------------------------

    def _running_entry(self, op: Any) -> tuple[Any, bool]:
        kind = self._kind.get(op) if isinstance(op, str) else None
        in_progress = self.metrics.in_progress
        series = in_progress.child((A.OTHER_OPERATION if kind is None else op,))
        # For the count-once rule, generations open as model calls (an unknown operation
        # is recorded as `other`, a generation).
        entry = (series, kind is None or kind is _GENERATION)
        if in_progress.is_overflow(series):
            self.metrics.overflows.inc(in_progress.name)  # not cached: every fold counts
        elif kind is not None:
            self._running[op] = entry
        return entry

    def _in_flight_series(self) -> list[Any]:
        # One C-level copy first: iterating the live dict could see it change size.
        return [entry[0] for entry in list(self._in_flight.values())]

    def _estimate(self, op: str, attrs: Mapping[str, Any]) -> _Priced:
        """The estimate for a generation's model and usage attributes from this processor's
        price table, cached per (operation, model, usage): (cost source, usd, the span's
        cost attributes)."""
        model = attrs.get(A.GEN_AI_REQUEST_MODEL) or attrs.get(A.GEN_AI_RESPONSE_MODEL)
        if _USAGE_KEY_SET.isdisjoint(attrs):
            shape: tuple[Any, ...] = (op, model)
        else:
            shape = (op, model, *map(attrs.get, _USAGE_KEYS))
        known = self._estimates.get(shape)
        if known is None:
            known = self._new_estimate(shape)
        return known

    def _new_estimate(self, shape: tuple[Any, ...]) -> _Priced:
        """Price a shape: (operation, model), or (operation, model, *usage values)."""
        usage: dict[str, Any] = {}
        values = shape[2:] or (None,) * len(_USAGE_KEYS)
        for (name, (_, kind)), value in zip(A.USAGE_FIELDS.items(), values, strict=True):
            if type(value) is kind or (kind is float and type(value) is int):
                usage[name] = value
            elif value is not None:
                count_invalid(f"usage.{name}")
        pricing = self.settings.pricing
        estimate = pricing.estimate(shape[0], normalize_model(shape[1]), Usage(**usage))
        written: dict[str, Any] = {A.COST_SOURCE: estimate.source}
        if estimate.usd is not None:
            written[A.COST_USD] = estimate.usd
            written[A.COST_TABLE_VERSION] = pricing.version
        if len(self._estimates) >= MAX_ROUTES:
            self._estimates.clear()  # bounded under a flood of distinct models or usages
        known = self._estimates[shape] = (estimate.source, estimate.usd, written)
        return known

    def _mark_slow(self, span: Span, attrs: dict[str, Any], kind: str, seconds: float,
                   threshold: float, end: int) -> None:  # fmt: skip
        """Seed 003 on a slow span: its threshold and slowness factor, and for a render a
        ``slow_render`` event with the fields the span has."""
        factor = seconds / threshold
        attrs[A.SLOW_THRESHOLD_S] = threshold  # within sdk_access.ENDING_ROOM
        attrs[A.SLOWNESS_FACTOR] = factor
        if kind is _RENDER:
            event = {key: attrs[key] for key in _SLOW_RENDER_FIELDS if attrs.get(key) is not None}
            event[A.DURATION_S] = seconds
            event[A.SLOW_THRESHOLD_S] = threshold
            event[A.SLOWNESS_FACTOR] = factor
            sdk_access.add_ending_event(span, A.EVENT_SLOW_RENDER, event, end)

    def _route(self, key: tuple[Any, ...]) -> _Route:
        op, model, provider, endpoint, project = key
        kind = self._kind.get(op)
        if kind is None:
            op, kind = A.OTHER_OPERATION, _GENERATION
        route = _Route(
            self.metrics,
            op,
            kind,
            normalize_model(model),
            _label(provider),
            _label(endpoint),
            _label(project),
            slow_threshold(op, None, self._threshold, self._template_threshold),
        )
        if len(self._routes) >= MAX_ROUTES:
            self._routes.clear()  # bounded under a flood of distinct models or routes
        self._routes[key] = route
        return route


def _drop_oldest(table: dict[int, Any]) -> Any:
    try:
        dropped = table.pop(next(iter(table)))
        count_invalid("open_span_evicted")  # otel_perf_invalid_values_total{field=...}
        return dropped
    except (KeyError, RuntimeError, StopIteration):
        return None  # another thread changed the table meanwhile; it is still bounded


def _label(value: Any) -> str:
    """A label value: ``""`` for missing, capped in length, scrubbed of secrets (endpoint,
    template and project carry free text)."""
    if value is None:
        return ""
    text = value if type(value) is str else str(value)
    return scrub_label(text if len(text) <= _MAX_LABEL_LENGTH else text[:_MAX_LABEL_LENGTH])
