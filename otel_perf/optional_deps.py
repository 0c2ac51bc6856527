"""Optional dependencies behind extras: import them by name, and when one is missing say
which extra installs it.

The core (``configure()``, the tracking API, ``/metrics``, ``otel-perf demo``) needs only the
default dependencies. gRPC export needs ``otel-perf[grpc]``; ``otel-perf generate`` (YAML
output and YAML monitoring configs) needs ``otel-perf[generate]``.

>>> import_optional("json", "generate", "otel-perf generate").dumps([1])
'[1]'
>>> import_optional("no_such_module_x", "grpc", "OTLP export over gRPC")
Traceback (most recent call last):
otel_perf.optional_deps.MissingExtraError: OTLP export over gRPC needs the Python module 'no_such_module_x', which is not installed: pip install 'otel-perf[grpc]'
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final

GRPC_TRACE_EXPORTER: Final = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"
GRPC_METRIC_EXPORTER: Final = "opentelemetry.exporter.otlp.proto.grpc.metric_exporter"


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python module {module!r}, which is not installed: "
            f"pip install 'otel-perf[{extra}]'",
            name=module,
        )
        self.extra = extra


def import_optional(module: str, extra: str, purpose: str) -> ModuleType:
    """``module`` imported, or :class:`MissingExtraError` naming ``otel-perf[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra, purpose) from exc


__all__ = ["GRPC_METRIC_EXPORTER", "GRPC_TRACE_EXPORTER", "MissingExtraError", "import_optional"]
