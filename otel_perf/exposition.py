"""Serving ``/metrics`` from the user's own web server.

``configure()`` starts an embedded server by default; with ``prometheus_port=None`` mount
one of these instead. Both negotiate OpenMetrics from the ``Accept`` header, so exemplars
(trace ids on the duration histogram) reach Prometheus.

>>> app = make_wsgi_app()  # e.g. Flask: DispatcherMiddleware(app, {"/metrics": make_wsgi_app()})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import prometheus_client
from prometheus_client import REGISTRY, CollectorRegistry

from otel_perf import setup


def _registry(registry: CollectorRegistry | None) -> CollectorRegistry:
    if registry is not None:
        return registry
    handle = setup.active()
    return handle.registry if handle is not None and handle.registry is not None else REGISTRY


def make_wsgi_app(registry: CollectorRegistry | None = None) -> Callable[..., Any]:
    """A WSGI app serving the metrics of ``registry`` (default: the configured one)."""
    return prometheus_client.make_wsgi_app(_registry(registry))


def make_asgi_app(registry: CollectorRegistry | None = None) -> Callable[..., Any]:
    """An ASGI app serving the metrics of ``registry`` (default: the configured one)."""
    return prometheus_client.make_asgi_app(_registry(registry))
