"""``configure()``: one call sets up the tracer provider, sampler, processor, exporter and
``/metrics``.

>>> handle = configure(service_name="media-api", prometheus_port=None)
>>> handle.shutdown()
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from prometheus_client import REGISTRY, CollectorRegistry

from otel_perf import otlp_metrics, sdk_access, selfmonitor, tracking
from otel_perf.config import _UNSET, Settings, parse_bool
from otel_perf.environment import MULTIPROC_DIR, SDK_DISABLED
from otel_perf.exposition import Endpoint
from otel_perf.optional_deps import (
    GRPC_METRIC_EXPORTER,
    GRPC_TRACE_EXPORTER,
    MissingExtraError,
    import_optional,
)
from otel_perf.processor import PerformanceSpanProcessor
from otel_perf.resource import ProcessResource, TargetInfo
from otel_perf.sdk_access import RecordUnsampledSampler
from otel_perf.selfmonitor import warn_once
from otel_perf.stats import attach as attach_stats
from otel_perf.version import __version__

logger = logging.getLogger("otel_perf")

_lock = threading.Lock()
_active: OtelPerf | None = None


class OtelPerf:
    """What ``configure()`` set up. ``shutdown()`` undoes it; usable as a context manager."""

    def __init__(
        self,
        settings: Settings,
        processor: PerformanceSpanProcessor | None,
        tracer_provider: TracerProvider | None,
        owns_provider: bool,
        export_processor: SpanProcessor | None,
        server: Endpoint | None,
        exposition_registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.processor = processor
        self.tracer_provider = tracer_provider
        self._owns_provider = owns_provider
        self._export_processor = export_processor
        self._server = server
        self._outlets: _Outlets | None = None  # target_info and the OTLP pusher
        #: What the ``/metrics`` endpoints serve: the processor's registry, or in
        #: multiprocess mode the sum over every process's files plus the user's own
        #: ``prometheus_client`` multiprocess metrics.
        self.exposition_registry = exposition_registry
        #: Set in a process forked from the one that configured (see ``configure()``).
        self.forked = False

    @property
    def enabled(self) -> bool:
        return self.processor is not None

    @property
    def multiprocess(self) -> bool:
        """Whether every process records into ``settings.multiprocess_dir``."""
        return self.processor is not None and self.processor.metrics.store is not None

    @property
    def registry(self) -> CollectorRegistry | None:
        return None if self.processor is None else self.processor.registry

    @property
    def port(self) -> int | None:
        """The port ``/metrics`` is served on (the bound one when ``0`` was asked), or
        ``None`` when the embedded server is off or could not start."""
        address = None if self._server is None else self._server.server_address
        return None if address is None else int(address[1])

    @property
    def metrics_url(self) -> str | None:
        """``http://host:port/metrics`` of the embedded server, or ``None`` when off."""
        address = None if self._server is None else self._server.server_address
        if address is None:
            return None
        host, port = address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/metrics"

    def shutdown(self) -> None:
        """Stop the server, flush export, unregister the metrics. Safe to call twice."""
        global _active
        with _lock:
            if _active is self:
                _active = None
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self.processor is not None:
            self.processor.disable()
        if self._outlets is not None:
            self._outlets.shutdown()  # the last OTLP push, after the last span is recorded
            self._outlets = None
        if self.processor is not None:
            metrics = self.processor.metrics
            metrics.unregister()
            if metrics.store is not None:
                metrics.apply_pending()
                with metrics.lock:
                    metrics.store.close()
        if self.tracer_provider is not None:
            # A provider has no public way to remove a processor: take ours out of its list
            # so configure/shutdown cycles leave exactly one (disabled ones cost per span).
            sdk_access.remove_span_processors(
                self.tracer_provider, (self.processor, self._export_processor)
            )
        if self._export_processor is not None:
            self._export_processor.shutdown()
            self._export_processor = None
        if self._owns_provider and self.tracer_provider is not None:
            self.tracer_provider.force_flush()
        tracking.unbind()
        attach_stats(None)

    def _after_fork_in_child(self) -> None:
        """The child records on its own: nothing of the parent's queued, open or counted
        (with files, into its own files), no inherited server; see ``configure()``."""
        self.forked = True
        served = self._server is not None and self._server.server is not None
        if self._server is not None:
            self._server.drop_after_fork()
            self._server = None
        if self.processor is None:
            return
        self.processor.reset_after_fork()
        for registry in (self.registry, self.exposition_registry):
            _reinit_registry_lock(registry)
        aggregate = getattr(self.exposition_registry, "aggregate", None)
        if aggregate is not None:
            aggregate.after_fork()
        elif served:
            selfmonitor.warn_once(
                "fork-without-multiprocess",
                "otel-perf: process %d was forked from one serving /metrics, without %s: its "
                "metrics are recorded but no endpoint serves them. Set %s to an empty "
                "directory before the service starts (docs/deployment.md)",
                os.getpid(),
                MULTIPROC_DIR.name,
                MULTIPROC_DIR.name,
            )

    def _serve_in_child(self) -> None:
        """``configure()`` called again in a forked child: serve from here too."""
        self.forked = False
        if self._server is None and self.processor is not None:
            self._server = _start_server(self.settings, self.exposition_registry, self.multiprocess)

    def __enter__(self) -> OtelPerf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def configure(
    *,
    service_name: str | None = None,
    prometheus_host: str | None = None,
    prometheus_port: Any = _UNSET,
    thresholds: dict[str, float] | None = None,
    template_thresholds: dict[str, float] | None = None,
    pricing: Any = None,
    registry: CollectorRegistry | None = None,
    tracer_provider: TracerProvider | None = None,
    cardinality_limit: int | None = None,
    extra_operations: tuple[str, ...] | list[str] | None = None,
    record_unsampled: bool | None = None,
    api_routes: tuple[str, ...] | list[str] | None = None,
    otlp_endpoint: str | None = None,
    otlp_protocol: str | None = None,
    metrics_exporter: str | tuple[str, ...] | list[str] | None = None,
    otlp_metrics_protocol: str | None = None,
    metric_export_interval: float | None = None,
    metric_export_timeout: float | None = None,
    enabled: bool | None = None,
    multiprocess_dir: str | None = None,
) -> OtelPerf:
    """Set up otel-perf in one call; a second call returns the active handle unchanged.

    Args:
        service_name: ``service.name`` (default ``OTEL_SERVICE_NAME``).
        prometheus_host / prometheus_port: the embedded ``/metrics`` server, default
            ``127.0.0.1:9464``; ``prometheus_port=None`` turns it off, ``0`` picks a free port.
        thresholds: slow thresholds in seconds by operation, merged over the defaults.
        template_thresholds: slow thresholds in seconds by render template id.
        pricing: a named bundled table (``"default"``: providers' list prices; ``"seed"``:
            seed 000's estimates), or a ``PriceTable``, a mapping in its TOML shape or a TOML
            file path merged over the default table (default ``OTEL_PERF_PRICING`` /
            ``OTEL_PERF_PRICING_FILE``).
        registry: the ``prometheus_client`` registry (default: the global ``REGISTRY``).
        tracer_provider: an SDK ``TracerProvider`` to add the processor to. By default the
            global one is used if it is an SDK provider, else one is created and set global.
        cardinality_limit: label sets per metric before folding into ``__overflow__``.
        extra_operations: operation names accepted by ``track_generation`` beyond the built-ins.
        record_unsampled: keep spans the sampler drops as ``RECORD_ONLY`` so metrics stay
            complete (default ``True``).
        api_routes: URL patterns (``api.example.com/v1/renders/{id}``) whose HTTP client
            spans, made by the contrib httpx / requests instrumentations, count as
            ``api_call`` (default ``OTEL_PERF_API_ROUTES``; none).
        otlp_endpoint / otlp_protocol: export spans over OTLP (``http/protobuf`` or ``grpc``);
            default ``OTEL_EXPORTER_OTLP_*``, off when unset.
        metrics_exporter: where metrics go: ``"prometheus"`` (the embedded ``/metrics``
            server, the default), ``"otlp"`` (pushed through the OTLP metric exporter
            instead, see docs/otlp.md) or ``"otlp,prometheus"`` (both); ``"none"`` means no
            push, as it tells the OpenTelemetry SDK. Default ``OTEL_METRICS_EXPORTER``. The
            registry (``make_wsgi_app()``) has the metrics whatever is chosen.
        otlp_metrics_protocol: ``http/protobuf`` or ``grpc`` for the metric push (default
            ``OTEL_EXPORTER_OTLP_METRICS_PROTOCOL``, then ``OTEL_EXPORTER_OTLP_PROTOCOL``); the
            endpoint, headers and TLS come from the standard ``OTEL_EXPORTER_OTLP_*`` variables.
        metric_export_interval / metric_export_timeout: seconds between pushes and for one
            push (default ``OTEL_METRIC_EXPORT_INTERVAL`` / ``_TIMEOUT``, in milliseconds there;
            60 and 30).
        enabled: ``False`` (or ``OTEL_PERF_ENABLED=false``) makes this a no-op.
        multiprocess_dir: record into this directory so every ``/metrics`` serves the sum
            over all processes (default ``PROMETHEUS_MULTIPROC_DIR``; see docs/deployment.md).

    Called again in a process forked after ``configure()`` (gunicorn ``post_fork``, Celery
    ``worker_process_init``), it returns the inherited handle, which the fork already made
    per-process, and starts this process's ``/metrics`` server.

    Raises:
        ValueError: a setting is invalid; the message names it and the accepted values.
    """
    global _active
    with _lock:
        if _active is not None:
            if _active.forked:
                # In a forked child (post_fork, worker_process_init): the handle the parent
                # set up was made per-process at fork time; serve from this process too.
                _active._serve_in_child()
                return _active
            given = [name for name, value in _arguments(locals()).items() if value is not None]
            if given:
                warn_once(
                    "configure.again",
                    "otel-perf is already configured; this configure() call's settings (%s) "
                    "are ignored. Call shutdown() on the active handle first to change them.",
                    ", ".join(given),
                )
            return _active
        settings = Settings.resolve(
            service_name=service_name,
            prometheus_host=prometheus_host,
            prometheus_port=prometheus_port,
            thresholds=thresholds,
            template_thresholds=template_thresholds,
            pricing=pricing,
            cardinality_limit=cardinality_limit,
            extra_operations=extra_operations,
            record_unsampled=record_unsampled,
            api_routes=api_routes,
            otlp_endpoint=otlp_endpoint,
            otlp_protocol=otlp_protocol,
            metrics_exporter=metrics_exporter,
            otlp_metrics_protocol=otlp_metrics_protocol,
            metric_export_interval=metric_export_interval,
            metric_export_timeout=metric_export_timeout,
            enabled=enabled,
            multiprocess_dir=multiprocess_dir,
        )
        settings = _grpc_or_http(settings, otlp_protocol, otlp_metrics_protocol)
        if tracer_provider is not None and not isinstance(tracer_provider, TracerProvider):
            raise ValueError(
                "tracer_provider must be an opentelemetry.sdk.trace.TracerProvider, got "
                f"{type(tracer_provider).__name__}"
            )
        if not settings.enabled:
            logger.info("otel-perf is disabled (enabled=False or OTEL_PERF_ENABLED=false)")
            _active = OtelPerf(settings, None, None, False, None, None)
            return _active
        if enabled is None and _sdk_disabled():
            # The SDK records nothing then; binding a port that serves empty metrics would
            # only hide that. Off, and said so (enabled=True overrides).
            logger.warning(
                "otel-perf is disabled because OTEL_SDK_DISABLED=true (no spans are recorded); "
                "pass enabled=True to configure() to run it anyway"
            )
            _active = OtelPerf(settings, None, None, False, None, None)
            return _active
        registry = registry if registry is not None else REGISTRY
        try:
            processor = PerformanceSpanProcessor(registry=registry, settings=settings)
        except ValueError as exc:  # "Duplicated timeseries in CollectorRegistry"
            raise ValueError(
                f"registry: otel-perf metrics are already registered in it ({exc}); call "
                "shutdown() on the previous handle or pass a fresh registry"
            ) from exc
        provider, owns = _provider(tracer_provider, settings)
        if settings.record_unsampled:
            _wrap_sampler(provider)
        provider.add_span_processor(processor)
        export = None
        if settings.otlp_endpoint and (owns or otlp_endpoint is not None):
            export = BatchSpanProcessor(
                _otlp_exporter(settings, explicit=otlp_endpoint is not None)
            )
            provider.add_span_processor(export)
        exposition = registry
        if processor.metrics.store is not None:
            from otel_perf import aggregate, multiprocess

            directory = processor.metrics.store.directory
            stale = multiprocess.stale_files(directory)
            if stale:
                logger.warning(multiprocess.stale_message(directory, stale))
            exposition = aggregate.ViewRegistry(processor.metrics, directory)
        server = (
            _start_server(settings, exposition, processor.metrics.store is not None)
            if "prometheus" in settings.metrics_exporter
            else None
        )
        outlets = _Outlets(settings, exposition, processor)
        tracking.bind(provider.get_tracer("otel_perf", __version__), settings)
        attach_stats(processor.metrics)
        _active = OtelPerf(settings, processor, provider, owns, export, server, exposition)
        _active._outlets = outlets
        return _active


def active() -> OtelPerf | None:
    """The handle of the current configuration, if any."""
    return _active


def _arguments(given: dict[str, Any]) -> dict[str, Any]:
    """configure()'s arguments as given (``_UNSET`` for the port counts as not given)."""
    names = configure.__code__.co_varnames[: configure.__code__.co_kwonlyargcount]
    return {n: (None if given[n] is _UNSET else given[n]) for n in names}


def _sdk_disabled() -> bool:
    raw = os.environ.get(SDK_DISABLED.name, "").strip()
    try:
        return bool(raw) and parse_bool(raw)
    except ValueError:
        logger.warning("ignoring %s=%r: not a boolean", SDK_DISABLED.name, raw)
        return False


def _provider(given: TracerProvider | None, settings: Settings) -> tuple[TracerProvider, bool]:
    if given is not None:
        _warn_service_name(given, settings)
        return given, False
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        if not getattr(current, "_otel_perf_created", False):
            _warn_service_name(current, settings)
        return current, bool(getattr(current, "_otel_perf_created", False))
    resource = Resource.create(
        {SERVICE_NAME: settings.service_name} if settings.service_name else {}
    )
    provider = TracerProvider(resource=resource)
    provider._otel_perf_created = True  # type: ignore[attr-defined]
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        logger.warning(
            "otel-perf: a global tracer provider that is not an SDK TracerProvider is already "
            "set; tracked operations use otel-perf's own provider"
        )
    return provider, True


def _warn_service_name(provider: TracerProvider, settings: Settings) -> None:
    """An existing provider keeps its resource: a different service_name cannot apply."""
    if not settings.service_name:
        return
    current = provider.resource.attributes.get(SERVICE_NAME)
    if current != settings.service_name:
        warn_once(
            "configure.service_name",
            "otel-perf: service_name=%r is ignored: the existing tracer provider's resource "
            "has service.name=%r (set it where that provider is created)",
            settings.service_name,
            current,
        )


def _wrap_sampler(provider: TracerProvider) -> None:
    if not sdk_access.records_unsampled(provider.sampler):
        sdk_access.set_sampler(provider, sdk_access.record_unsampled(provider.sampler))


def _grpc_or_http(settings: Settings, span_arg: Any, metric_arg: Any) -> Settings:
    """gRPC asked for without ``otel-perf[grpc]``: an argument raises (naming the extra);
    from the environment it is logged and http/protobuf used, like any bad env value."""
    for field, module, given in (
        ("otlp_protocol", GRPC_TRACE_EXPORTER, span_arg),
        ("otlp_metrics_protocol", GRPC_METRIC_EXPORTER, metric_arg),
    ):
        if getattr(settings, field) != "grpc":
            continue
        try:
            import_optional(module, "grpc", f"{field}='grpc'")
        except MissingExtraError as exc:
            if given is not None:
                raise
            logger.error("otel-perf: %s; using http/protobuf (from the environment)", exc)
            if field == "otlp_protocol":
                settings = dataclasses.replace(settings, otlp_protocol="http/protobuf")
            else:
                settings = dataclasses.replace(settings, otlp_metrics_protocol="http/protobuf")
    return settings


def _otlp_exporter(settings: Settings, explicit: bool) -> SpanExporter:
    endpoint = settings.otlp_endpoint if explicit else None
    if settings.otlp_protocol == "grpc":
        grpc = import_optional(GRPC_TRACE_EXPORTER, "grpc", "otlp_protocol='grpc'")
        exporter: SpanExporter = grpc.OTLPSpanExporter(endpoint=endpoint)
        return exporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if endpoint is not None and not endpoint.rstrip("/").endswith("/v1/traces"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(endpoint=endpoint)


class _Outlets:
    """What reads the store besides ``/metrics``: the process resource, shown as
    ``target_info`` in ``registry`` and pushed with the OTLP metrics."""

    def __init__(
        self, settings: Settings, registry: CollectorRegistry, processor: PerformanceSpanProcessor
    ) -> None:
        self.resource = ProcessResource(settings.service_name)
        self._registry: CollectorRegistry | None = registry
        self._target_info = TargetInfo(self.resource)
        try:
            registry.register(self._target_info)
        except ValueError:  # the registry has a target_info already (an SDK Prometheus reader)
            logger.info("otel-perf: the registry already has a target_info; not adding one")
            self._registry = None
        self.pusher = otlp_metrics.start(settings, processor.metrics, self.resource)

    def shutdown(self) -> None:
        if self.pusher is not None:
            self.pusher.shutdown()
        if self._registry is not None:
            try:
                self._registry.unregister(self._target_info)
            except KeyError:
                pass
            self._registry = None


def _start_server(
    settings: Settings, registry: CollectorRegistry | None, shared: bool
) -> Endpoint | None:
    if settings.prometheus_port is None or registry is None:
        return None
    endpoint = Endpoint(settings.prometheus_host, settings.prometheus_port, registry, shared)
    exc = endpoint.start()
    if exc is None:
        host, port = endpoint.server_address[:2]
        logger.info("otel-perf: serving /metrics on http://%s:%s/metrics", host, port)
        return endpoint
    if shared:
        # Multiprocess mode: a sibling (or a process without SO_REUSEPORT) holds the port
        # and serves the same sum; this process retries in the background.
        logger.info(
            "otel-perf: %s:%s is taken (%s); another process serves the same multiprocess "
            "sum, this one (pid %d) retries binding every few seconds",
            settings.prometheus_host,
            settings.prometheus_port,
            exc,
            os.getpid(),
        )
        return endpoint
    # A busy port must not take the host application down: log and run without it.
    logger.error(
        "otel-perf: cannot serve /metrics on %s:%s (%s); metrics are still recorded and "
        "available through make_wsgi_app()/make_asgi_app()",
        settings.prometheus_host,
        settings.prometheus_port,
        exc,
    )
    return None


def _reinit_registry_lock(registry: CollectorRegistry | None) -> None:
    # prometheus_client's registry lock may have been held by a scrape at fork time.
    lock = getattr(registry, "_lock", None)
    if lock is not None and hasattr(lock, "acquire"):
        reentrant = isinstance(lock, type(threading.RLock()))
        registry._lock = threading.RLock() if reentrant else threading.Lock()  # type: ignore[union-attr]


def _after_fork_in_child() -> None:
    """Runs in every forked child (``os.register_at_fork``); never raises."""
    global _lock
    _lock = threading.Lock()
    try:
        selfmonitor.reset_after_fork()
        if _active is not None:
            _active._after_fork_in_child()
    except Exception as exc:  # pragma: no cover - a fork must never fail because of us
        selfmonitor.report_internal_error("fork", exc)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


__all__ = ["OtelPerf", "RecordUnsampledSampler", "active", "configure"]
