"""Every environment variable otel-perf reads: its name, the setting it feeds, what it does.

The one owner of these names: :mod:`otel_perf.config` resolves them into ``Settings``, the
report CLI, the multiprocess store and the ``opentelemetry-instrument`` hook read theirs from
here, and docs/reference.md and ``otel-perf config`` list this table. It imports nothing, so
the report CLI can read a name without loading the instrumentation.

A description may name the setting's default as ``{default}``: it is filled in from
``Settings`` (:func:`otel_perf.config.describe`), where the default lives.

>>> PROMETHEUS_PORT.setting
'prometheus_port'
>>> [v.name for v in VARIABLES if v.scope == "report"]
['OTEL_PERF_PROMETHEUS_URL', 'OTEL_PERF_TEMPO_URL', 'OTEL_PERF_CHROMIUM']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal


@dataclass(frozen=True)
class Variable:
    """One environment variable."""

    name: str
    doc: str
    #: The ``Settings`` field it sets, if any.
    setting: str | None = None
    #: ``service`` (read by ``configure()`` and the instrumentation) or ``report`` (the CLI).
    scope: Literal["service", "report"] = "service"
    #: Defined by OpenTelemetry or prometheus-client, not by otel-perf.
    standard: bool = False
    #: The variable's unit per unit of the setting (1000: seconds given in milliseconds).
    scale: float = 1.0


ENABLED: Final = Variable(
    "OTEL_PERF_ENABLED",
    "Kill switch: `false` makes configure() a no-op; `true` turns on the "
    "opentelemetry-instrument hook.",
    "enabled",
)
SDK_DISABLED: Final = Variable(
    "OTEL_SDK_DISABLED",
    "`true` makes configure() a no-op, as it disables the OpenTelemetry SDK.",
    standard=True,
)
SERVICE_NAME: Final = Variable(
    "OTEL_SERVICE_NAME", "service.name resource attribute.", "service_name", standard=True
)
PROMETHEUS_HOST: Final = Variable(
    "OTEL_PERF_PROMETHEUS_HOST",
    "Address of the embedded /metrics server (default {default}).",
    "prometheus_host",
)
PROMETHEUS_PORT: Final = Variable(
    "OTEL_PERF_PROMETHEUS_PORT",
    "Port of the embedded /metrics server (default {default}; `off` disables it).",
    "prometheus_port",
)
THRESHOLDS: Final = Variable(
    "OTEL_PERF_THRESHOLDS",
    "Slow thresholds in seconds, e.g. `render_still=8,api_call=2`.",
    "thresholds",
)
TEMPLATE_THRESHOLDS: Final = Variable(
    "OTEL_PERF_TEMPLATE_THRESHOLDS",
    "Per-template render thresholds, e.g. `tpl_hero=12`.",
    "template_thresholds",
)
PRICING: Final = Variable(
    "OTEL_PERF_PRICING",
    "Named bundled price table: `default` (providers' list prices) or `seed` (seed 000's "
    "estimates).",
    "pricing",
)
PRICING_FILE: Final = Variable(
    "OTEL_PERF_PRICING_FILE", "TOML price table merged over the bundled one.", "pricing"
)
PRICE_MAX_AGE_DAYS: Final = Variable(
    "OTEL_PERF_PRICE_MAX_AGE_DAYS",
    "`otel-perf config` warns about price entries older than this many days (default {default}).",
    "price_max_age_days",
)
CARDINALITY_LIMIT: Final = Variable(
    "OTEL_PERF_CARDINALITY_LIMIT",
    "Label sets per metric before folding into `__overflow__` (default {default}).",
    "cardinality_limit",
)
EXTRA_OPERATIONS: Final = Variable(
    "OTEL_PERF_EXTRA_OPERATIONS",
    "Extra operation names, comma-separated, e.g. `upscale_image`.",
    "extra_operations",
)
API_ROUTES: Final = Variable(
    "OTEL_PERF_API_ROUTES",
    "API routes whose HTTP client spans (contrib httpx/requests instrumentations) count as "
    "`api_call`, comma-separated, e.g. `api.example.com/v1/renders/{{id}}`.",
    "api_routes",
)
RECORD_UNSAMPLED: Final = Variable(
    "OTEL_PERF_RECORD_UNSAMPLED",
    "`true` (default): spans dropped by the sampler are still recorded for metrics.",
    "record_unsampled",
)
OTLP_ENDPOINT: Final = Variable(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "Export spans over OTLP to this endpoint (off when unset).",
    "otlp_endpoint",
    standard=True,
)
OTLP_TRACES_ENDPOINT: Final = Variable(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "Traces-only OTLP endpoint (wins over OTEL_EXPORTER_OTLP_ENDPOINT).",
    "otlp_endpoint",
    standard=True,
)
OTLP_PROTOCOL: Final = Variable(
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "`http/protobuf` (default) or `grpc`.",
    "otlp_protocol",
    standard=True,
)
OTLP_TRACES_PROTOCOL: Final = Variable(
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "Protocol of the span export, wins over OTEL_EXPORTER_OTLP_PROTOCOL.",
    "otlp_protocol",
    standard=True,
)
METRICS_EXPORTER: Final = Variable(
    "OTEL_METRICS_EXPORTER",
    "`prometheus` (default: the /metrics server), `otlp` (push instead, see docs/otlp.md), "
    "`otlp,prometheus` (both); `none` means no push.",
    "metrics_exporter",
    standard=True,
)
OTLP_METRICS_PROTOCOL: Final = Variable(
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "Protocol of the OTLP metric push, wins over OTEL_EXPORTER_OTLP_PROTOCOL.",
    "otlp_metrics_protocol",
    standard=True,
)
OTLP_METRICS_ENDPOINT: Final = Variable(
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "Where metrics are pushed, wins over OTEL_EXPORTER_OTLP_ENDPOINT (read by the OTLP "
    "exporter, as are the other OTEL_EXPORTER_OTLP_METRICS_* variables).",
    standard=True,
)
METRIC_EXPORT_INTERVAL: Final = Variable(
    "OTEL_METRIC_EXPORT_INTERVAL",
    "Milliseconds between OTLP metric pushes (default {default}).",
    "metric_export_interval",
    standard=True,
    scale=1000.0,
)
METRIC_EXPORT_TIMEOUT: Final = Variable(
    "OTEL_METRIC_EXPORT_TIMEOUT",
    "Milliseconds one OTLP metric push may take (default {default}).",
    "metric_export_timeout",
    standard=True,
    scale=1000.0,
)
RESOURCE_ATTRIBUTES: Final = Variable(
    "OTEL_RESOURCE_ATTRIBUTES",
    "Resource attributes of the process, on OTLP pushes and on `target_info`.",
    standard=True,
)
MULTIPROC_DIR: Final = Variable(
    "PROMETHEUS_MULTIPROC_DIR",
    "Multiprocess mode (prometheus-client's variable): every process records into this "
    "directory and every /metrics serves the sum (docs/deployment.md).",
    "multiprocess_dir",
    standard=True,
)
PROMETHEUS_URL: Final = Variable(
    "OTEL_PERF_PROMETHEUS_URL",
    "`otel-perf report` and `purge`: the Prometheus to query when `--prometheus` is not given.",
    scope="report",
)
TEMPO_URL: Final = Variable(
    "OTEL_PERF_TEMPO_URL",
    "`otel-perf report`: Tempo (or Grafana Explore) base URL for trace links of recent "
    "errors (`--tempo-url` wins).",
    scope="report",
)
CHROMIUM: Final = Variable(
    "OTEL_PERF_CHROMIUM",
    "`otel-perf report --format pdf`: the Chromium executable (default: the first found on PATH).",
    scope="report",
)

#: Every variable, in the order the reference lists them.
VARIABLES: Final = (
    ENABLED,
    SDK_DISABLED,
    SERVICE_NAME,
    PROMETHEUS_HOST,
    PROMETHEUS_PORT,
    THRESHOLDS,
    TEMPLATE_THRESHOLDS,
    PRICING,
    PRICING_FILE,
    PRICE_MAX_AGE_DAYS,
    CARDINALITY_LIMIT,
    EXTRA_OPERATIONS,
    API_ROUTES,
    RECORD_UNSAMPLED,
    OTLP_ENDPOINT,
    OTLP_TRACES_ENDPOINT,
    OTLP_PROTOCOL,
    OTLP_TRACES_PROTOCOL,
    METRICS_EXPORTER,
    OTLP_METRICS_PROTOCOL,
    OTLP_METRICS_ENDPOINT,
    METRIC_EXPORT_INTERVAL,
    METRIC_EXPORT_TIMEOUT,
    RESOURCE_ATTRIBUTES,
    MULTIPROC_DIR,
    PROMETHEUS_URL,
    TEMPO_URL,
    CHROMIUM,
)

__all__ = ["VARIABLES", "Variable"]
