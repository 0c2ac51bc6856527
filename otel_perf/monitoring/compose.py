"""The docker-compose stack: demo, Collector, Tempo, Prometheus, Alertmanager, Grafana.

Every image is pinned; every service declares the ports it listens on (``expose``) so the
structural tests can check each ``host:port`` reference in the rendered files against it.
"""

from __future__ import annotations

from typing import Any, Final

from otel_perf import environment as E
from otel_perf.monitoring import collector as C
from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.provisioning import DASHBOARDS_PATH

COLLECTOR_IMAGE: Final = "otel/opentelemetry-collector-contrib:0.130.0"
TEMPO_IMAGE: Final = "grafana/tempo:2.8.1"
#: 3.13 is the Prometheus LTS line supported until July 2027 (2.53, the previous pin, went
#: out of support in July 2025); the rules use nothing newer than this machine's promtool.
PROMETHEUS_IMAGE: Final = "prom/prometheus:v3.13.2"
ALERTMANAGER_IMAGE: Final = "prom/alertmanager:v0.28.1"
GRAFANA_IMAGE: Final = "grafana/grafana:12.1.1"
DEMO_IMAGE: Final = "otel-perf-demo:local"

DEMO_PORT: Final = 9464
PROMETHEUS_PORT: Final = 9090
ALERTMANAGER_PORT: Final = 9093
GRAFANA_PORT: Final = 3000
RUNBOOKS_PORT: Final = 8088
#: docs/ over HTTP for the runbook links in notifications, Markdown shown as text.
_RUNBOOK_SERVER: Final = (
    "import functools, http.server as s; H = s.SimpleHTTPRequestHandler; "
    "H.extensions_map['.md'] = 'text/plain; charset=utf-8'; "
    f"s.ThreadingHTTPServer(('0.0.0.0', {RUNBOOKS_PORT}), "
    "functools.partial(H, directory='/srv/docs')).serve_forever()"
)


def _wget(url: str) -> dict[str, Any]:
    return {
        "test": ["CMD", "wget", "-q", "-O", "/dev/null", url],
        "interval": "10s",
        "timeout": "5s",
        "retries": 6,
    }


def compose(config: MonitoringConfig) -> dict[str, Any]:
    """``docker-compose.yml``. ``docker compose up`` builds the demo and starts everything.

    Published ports listen on ``stack.bind_address`` (127.0.0.1 unless you change it)."""
    stack = config.stack
    urls = config.external_urls

    def publish(port: int) -> str:
        return f"{stack.bind_address}:{port}:{port}"

    return {
        "name": "otel-perf",
        "services": {
            "demo": {
                "build": {"context": "."},
                "image": DEMO_IMAGE,
                "environment": {
                    E.SERVICE_NAME.name: config.prometheus.service_job,
                    E.OTLP_ENDPOINT.name: f"http://otel-collector:{C.OTLP_HTTP_PORT}",
                    E.OTLP_PROTOCOL.name: "http/protobuf",
                },
                "expose": [str(DEMO_PORT)],
                "ports": [publish(DEMO_PORT)],
                "healthcheck": {
                    "test": [
                        "CMD",
                        "python",
                        "-c",
                        "import urllib.request; urllib.request."
                        f"urlopen('http://127.0.0.1:{DEMO_PORT}/metrics', timeout=3)",
                    ],
                    "interval": "10s",
                    "timeout": "5s",
                    "retries": 6,
                },
                "depends_on": {"otel-collector": {"condition": "service_started"}},
                "stop_grace_period": stack.stop_grace_period,
                "restart": "unless-stopped",
            },
            "otel-collector": {
                "image": COLLECTOR_IMAGE,
                "command": ["--config=/etc/otelcol-contrib/config.yaml"],
                "volumes": ["./collector-config/otelcol.yaml:/etc/otelcol-contrib/config.yaml:ro"],
                "expose": [
                    str(p)
                    for p in (
                        C.OTLP_GRPC_PORT,
                        C.OTLP_HTTP_PORT,
                        C.SELF_METRICS_PORT,
                        C.SPANMETRICS_PORT,
                        C.HEALTH_PORT,
                    )
                ],
                "ports": [publish(C.OTLP_GRPC_PORT), publish(C.OTLP_HTTP_PORT)],
                # The memory_limiter in otelcol.yaml is sized from this limit.
                "mem_limit": f"{stack.collector_memory_limit_mib}m",
                "stop_grace_period": stack.stop_grace_period,
                # The image is distroless (no shell, no wget): Docker cannot probe it, so the
                # health_check extension on 13133 is for orchestrators that probe over HTTP.
                "depends_on": {"tempo": {"condition": "service_healthy"}},
                "restart": "unless-stopped",
            },
            "tempo-init": {
                # Tempo runs as uid 10001; a fresh named volume is owned by root.
                "image": TEMPO_IMAGE,
                "user": "root",
                "entrypoint": ["chown", "10001:10001", "/var/tempo"],
                "volumes": ["tempo-data:/var/tempo"],
            },
            "tempo": {
                "image": TEMPO_IMAGE,
                "command": ["-config.file=/etc/tempo/tempo.yaml"],
                "volumes": ["./tempo/tempo.yaml:/etc/tempo/tempo.yaml:ro", "tempo-data:/var/tempo"],
                "expose": [str(C.TEMPO_HTTP_PORT), str(C.TEMPO_OTLP_GRPC_PORT)],
                "healthcheck": _wget(f"http://127.0.0.1:{C.TEMPO_HTTP_PORT}/ready"),
                "depends_on": {"tempo-init": {"condition": "service_completed_successfully"}},
                "restart": "unless-stopped",
            },
            "prometheus": {
                "image": PROMETHEUS_IMAGE,
                "command": [
                    "--config.file=/etc/prometheus/prometheus.yml",
                    "--storage.tsdb.path=/prometheus",
                    f"--storage.tsdb.retention.time={config.prometheus.retention}",
                    f"--web.external-url={urls.prometheus}",
                    # `otel-perf purge` deletes series through the admin API; the port is
                    # published on stack.bind_address (127.0.0.1) only.
                    "--web.enable-admin-api",
                    "--web.enable-lifecycle",
                    "--enable-feature=exemplar-storage",
                ],
                "volumes": [
                    "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                    "./prometheus/rules:/etc/prometheus/rules:ro",
                    "prometheus-data:/prometheus",
                ],
                "expose": [str(PROMETHEUS_PORT)],
                "ports": [publish(PROMETHEUS_PORT)],
                "stop_grace_period": stack.stop_grace_period,
                "healthcheck": _wget(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready"),
                "depends_on": {"alertmanager": {"condition": "service_healthy"}},
                "restart": "unless-stopped",
            },
            "alertmanager": {
                "image": ALERTMANAGER_IMAGE,
                "command": [
                    "--config.file=/etc/alertmanager/alertmanager.yml",
                    "--storage.path=/alertmanager",
                    f"--web.external-url={urls.alertmanager}",
                ],
                "volumes": [
                    "./alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro",
                    "alertmanager-data:/alertmanager",
                ],
                "expose": [str(ALERTMANAGER_PORT)],
                "ports": [publish(ALERTMANAGER_PORT)],
                "healthcheck": _wget(f"http://127.0.0.1:{ALERTMANAGER_PORT}/-/ready"),
                "restart": "unless-stopped",
            },
            "grafana": {
                "image": GRAFANA_IMAGE,
                "environment": {
                    "GF_AUTH_ANONYMOUS_ENABLED": "true",
                    "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
                    "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": f"{DASHBOARDS_PATH}/{config.grafana.dashboards.cost}.json",
                    "GF_ANALYTICS_REPORTING_ENABLED": "false",
                    "GF_SERVER_ROOT_URL": urls.grafana,
                },
                "volumes": [
                    "./grafana/provisioning:/etc/grafana/provisioning:ro",
                    f"./grafana/dashboards:{DASHBOARDS_PATH}:ro",
                    "grafana-data:/var/lib/grafana",
                ],
                "expose": [str(GRAFANA_PORT)],
                "ports": [publish(GRAFANA_PORT)],
                "healthcheck": _wget(f"http://127.0.0.1:{GRAFANA_PORT}/api/health"),
                "depends_on": {
                    "prometheus": {"condition": "service_healthy"},
                    "tempo": {"condition": "service_healthy"},
                },
                "restart": "unless-stopped",
            },
            "runbooks": {
                # The runbook links in every notification (runbook_base_url) open here.
                "image": DEMO_IMAGE,
                "pull_policy": "never",  # built for the demo service
                "command": ["python", "-c", _RUNBOOK_SERVER],
                "volumes": ["./docs:/srv/docs:ro"],
                "expose": [str(RUNBOOKS_PORT)],
                "ports": [publish(RUNBOOKS_PORT)],
                "depends_on": {"demo": {"condition": "service_started"}},
                "restart": "unless-stopped",
            },
        },
        "volumes": {
            "prometheus-data": {},
            "alertmanager-data": {},
            "grafana-data": {},
            "tempo-data": {},
        },
    }
