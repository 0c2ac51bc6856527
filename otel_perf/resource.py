"""The process's OpenTelemetry resource, and ``target_info`` on ``/metrics``.

Every process that ``configure()`` set up carries ``service.name``, a ``service.instance.id``
unique to the process and the ``OTEL_RESOURCE_ATTRIBUTES``. OTLP metric pushes carry the
resource (the Collector and Prometheus's OTLP receiver turn ``service.name`` into ``job`` and
``service.instance.id`` into ``instance``); ``/metrics`` shows it as ``target_info``, the
OpenTelemetry Prometheus-exporter convention (one info metric, the resource attributes as
labels). A forked child gets a new ``service.instance.id``: two processes pushing cumulative
sums under one identity would overwrite each other's series.

>>> resource = ProcessResource("media-api")
>>> resource.attributes["service.name"]
'media-api'
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Final

from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from prometheus_client.core import InfoMetricFamily, Metric
from prometheus_client.registry import Collector

#: The info metric's family name: OpenMetrics exposes it as ``target_info``.
TARGET_INFO: Final = "target"
_INVALID_LABEL_CHARS: Final = re.compile(r"[^a-zA-Z0-9]+")


class ProcessResource:
    """The resource of this process; a forked child gets its own ``service.instance.id``.

    A ``service.instance.id`` given in ``OTEL_RESOURCE_ATTRIBUTES`` is kept in the process
    that called ``configure()``; its forked children cannot share it and get a fresh one.
    """

    def __init__(self, service_name: str | None) -> None:
        self._service_name = service_name
        self._resource = self._build(parent_id=None)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        ref = weakref.ref(self)

        def after_fork_in_child() -> None:  # only a new lock: the rebuild waits for a read
            current = ref()
            if current is not None:
                current._lock = threading.Lock()

        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=after_fork_in_child)

    @property
    def resource(self) -> Resource:
        """The resource; rebuilt at its first use in a forked child."""
        if os.getpid() != self._pid:
            with self._lock:
                if os.getpid() != self._pid:
                    parent_id = self._resource.attributes.get(SERVICE_INSTANCE_ID)
                    self._resource = self._build(parent_id)
                    self._pid = os.getpid()
        return self._resource

    @property
    def attributes(self) -> Mapping[str, Any]:
        return self.resource.attributes

    def _build(self, parent_id: Any) -> Resource:
        # Resource.create reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (explicit
        # attributes win over both); recent SDKs also add a service.instance.id per process
        # id, older ones none. Whichever: one of our own when it is missing, or when it is
        # the parent's (given in OTEL_RESOURCE_ATTRIBUTES, so the same in every child).
        given: dict[str, Any] = {}
        if self._service_name:
            given[SERVICE_NAME] = self._service_name
        resource = Resource.create(given)
        current = resource.attributes.get(SERVICE_INSTANCE_ID)
        if not current or current == parent_id:
            resource = resource.merge(Resource({SERVICE_INSTANCE_ID: str(uuid.uuid4())}))
        return resource


def label_pairs(attributes: Mapping[str, Any]) -> dict[str, str]:
    """Resource attributes as Prometheus labels, by the OpenTelemetry compatibility rules.

    Invalid characters become ``_`` (runs collapse to one), a leading digit gets a ``_``
    prefix, and attributes that map to the same label are joined with ``;`` in the order
    of their original keys.

    >>> label_pairs({"service.name": "api", "k8s.pod.name": "p-1"})
    {'k8s_pod_name': 'p-1', 'service_name': 'api'}
    """
    grouped: dict[str, list[str]] = {}
    for key in sorted(attributes):
        name = _INVALID_LABEL_CHARS.sub("_", key)
        if not name or name[:1].isdigit():
            name = "key_" + name  # a label may not start with a digit
        grouped.setdefault(name, []).append(_attribute_text(attributes[key]))
    return {name: ";".join(values) for name, values in sorted(grouped.items())}


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    return str(value)


class TargetInfo(Collector):
    """``target_info{<resource attributes>} 1`` for the process's resource."""

    def __init__(self, resource: ProcessResource) -> None:
        self._resource = resource

    def describe(self) -> Iterable[Metric]:
        return [InfoMetricFamily(TARGET_INFO, "Target metadata")]

    def collect(self) -> Iterable[Metric]:
        return [
            InfoMetricFamily(
                TARGET_INFO, "Target metadata", value=label_pairs(self._resource.attributes)
            )
        ]
