"""OpenTelemetry Collector (contrib) and Tempo configuration for the compose stack.

The Collector takes OTLP on gRPC and HTTP, limits memory before batching, sends traces to
Tempo, and derives span metrics (explicit seconds buckets, a cardinality limit, exemplars)
for services that do not embed otel-perf's processor. Metrics pushed over OTLP
(``OTEL_METRICS_EXPORTER=otlp``, see docs/otlp.md) are served on the span-metrics port
under their ``/metrics`` names. It serves its own metrics on 8888.
"""

from __future__ import annotations

from typing import Any, Final

from otel_perf.metrics import BASE_DURATION_BUCKETS
from otel_perf.monitoring import spanmetrics
from otel_perf.monitoring.durations import seconds

OTLP_GRPC_PORT: Final = 4317
OTLP_HTTP_PORT: Final = 4318
SELF_METRICS_PORT: Final = 8888
SPANMETRICS_PORT: Final = 8889
HEALTH_PORT: Final = 13133
TEMPO_HTTP_PORT: Final = 3200
TEMPO_OTLP_GRPC_PORT: Final = 4317


def bucket(value: float) -> str:
    """A Go duration for a bucket bound in seconds: ``50ms``, ``1s``, ``1200s``."""
    if value < 1:
        return f"{round(value * 1000):d}ms"
    return f"{value:g}s"


def memory_limiter(container_limit_mib: int) -> dict[str, Any]:
    """The memory_limiter for a container limited to ``container_limit_mib``: refuse data at
    80% of it, with a 20% spike margin, so the Go runtime never reaches the kernel's limit.
    """
    limit = container_limit_mib * 4 // 5
    return {"check_interval": "1s", "limit_mib": limit, "spike_limit_mib": limit // 4}


def collector_config(*, tempo_endpoint: str, memory_limit_mib: int = 512) -> dict[str, Any]:
    """``collector-config/otelcol.yaml`` for a container limited to ``memory_limit_mib``."""
    return {
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{HEALTH_PORT}"}},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"},
                    "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"},
                }
            }
        },
        "processors": {
            # First in every pipeline: refuse data before the process runs out of memory.
            "memory_limiter": memory_limiter(memory_limit_mib),
            "batch": {"send_batch_size": 8192, "timeout": "5s"},
        },
        "connectors": {
            "spanmetrics": {
                "namespace": spanmetrics.NAMESPACE,
                "histogram": {
                    "unit": "s",
                    "explicit": {"buckets": [bucket(b) for b in BASE_DURATION_BUCKETS]},
                },
                "dimensions": [{"name": d} for d in spanmetrics.DIMENSIONS],
                "aggregation_cardinality_limit": spanmetrics.CARDINALITY_LIMIT,
                "exemplars": {"enabled": True},
                "metrics_flush_interval": "15s",
                "metrics_expiration": "10m",
            }
        },
        "exporters": {
            "otlp/tempo": {"endpoint": tempo_endpoint, "tls": {"insecure": True}},
            # OpenMetrics so exemplars (trace ids) reach Prometheus.
            "prometheus": {
                "endpoint": f"0.0.0.0:{SPANMETRICS_PORT}",
                "enable_open_metrics": True,
                # Type and unit suffixes, which the span metrics need (..._seconds_bucket).
                # otel-perf's OTLP push arrives already named as on /metrics, with units
                # that add no suffix (otel_perf.otlp_metrics.UNITS), so it keeps the
                # contract names under this setting and every other.
                "add_metric_suffixes": True,
                # Resource attributes go to target_info, not onto every series: the label
                # sets stay those of /metrics; job and instance come from service.name and
                # service.instance.id.
                "resource_to_telemetry_conversion": {"enabled": False},
            },
        },
        "service": {
            "extensions": ["health_check"],
            "telemetry": {
                "metrics": {
                    "level": "detailed",
                    "readers": [
                        {
                            "pull": {
                                "exporter": {
                                    "prometheus": {"host": "0.0.0.0", "port": SELF_METRICS_PORT}
                                }
                            }
                        }
                    ],
                }
            },
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["otlp/tempo", "spanmetrics"],
                },
                # otel-perf's own metrics pushed by OTEL_METRICS_EXPORTER=otlp processes.
                "metrics": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["prometheus"],
                },
                "metrics/spanmetrics": {
                    "receivers": ["spanmetrics"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["prometheus"],
                },
            },
        },
    }


def tempo_config(*, retention: str) -> dict[str, Any]:
    """``tempo/tempo.yaml``: single binary, local storage, OTLP gRPC in. ``retention`` is a
    Prometheus duration; Tempo wants a Go duration, so days become hours."""
    hours = seconds(retention) / 3600
    return {
        "stream_over_http_enabled": True,
        "server": {"http_listen_port": TEMPO_HTTP_PORT, "log_level": "warn"},
        "distributor": {
            "receivers": {
                "otlp": {"protocols": {"grpc": {"endpoint": f"0.0.0.0:{TEMPO_OTLP_GRPC_PORT}"}}}
            }
        },
        "compactor": {"compaction": {"block_retention": f"{hours:g}h"}},
        "storage": {
            "trace": {
                "backend": "local",
                "wal": {"path": "/var/tempo/wal"},
                "local": {"path": "/var/tempo/blocks"},
            }
        },
    }
