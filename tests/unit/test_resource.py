"""The process resource and ``target_info`` on /metrics."""

from __future__ import annotations

import os
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

import otel_perf
from otel_perf.resource import ProcessResource, TargetInfo, label_pairs


def test_resource_has_service_instance_and_environment_attributes(monkeypatch: Any) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=media,deployment.environment.name=prod")
    attrs = ProcessResource("media-api").attributes
    assert attrs["service.name"] == "media-api"
    assert attrs["team"] == "media" and attrs["deployment.environment.name"] == "prod"
    assert len(str(attrs["service.instance.id"])) == 36  # a UUID


def test_given_instance_id_is_kept_in_the_configuring_process(monkeypatch: Any) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=pod-7")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    attrs = ProcessResource(None).attributes
    assert (attrs["service.instance.id"], attrs["service.name"]) == ("pod-7", "from-env")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.e2e
def test_a_forked_child_gets_a_new_instance_id(monkeypatch: Any) -> None:
    """Even a given one: two processes cannot share an identity."""
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=pod-7")
    resource = ProcessResource("svc")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        attrs = resource.attributes
        ok = attrs["service.instance.id"] != "pod-7" and attrs["service.name"] == "svc"
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert resource.attributes["service.instance.id"] == "pod-7"


def test_label_pairs_follow_the_compatibility_rules() -> None:
    assert label_pairs(
        {"k8s.pod.name": "p", "k8s_pod.name": "q", "9lives": 1, "ok": True, "tags": ["a", "b"]}
    ) == {"k8s_pod_name": "p;q", "key_9lives": "1", "ok": "true", "tags": '["a", "b"]'}


def test_target_info_is_on_metrics_from_configure() -> None:
    registry = CollectorRegistry()
    otel_perf.configure(registry=registry, prometheus_port=None, service_name="svc")
    text = generate_latest(registry).decode()
    assert "# TYPE target_info gauge" in text
    (line,) = [line for line in text.splitlines() if line.startswith("target_info{")]
    assert 'service_name="svc"' in line and 'service_instance_id="' in line
    assert line.endswith(" 1.0")


def test_target_info_already_in_the_registry_is_left_alone() -> None:
    registry = CollectorRegistry()
    registry.register(TargetInfo(ProcessResource("someone-else")))
    handle = otel_perf.configure(registry=registry, prometheus_port=None, service_name="svc")
    text = generate_latest(registry).decode()
    assert 'service_name="someone-else"' in text and 'service_name="svc"' not in text
    handle.shutdown()
    assert "target_info" in generate_latest(registry).decode()  # not ours to remove


def test_shutdown_removes_target_info() -> None:
    registry = CollectorRegistry()
    otel_perf.configure(registry=registry, prometheus_port=None).shutdown()
    assert "target_info" not in generate_latest(registry).decode()
