"""Alert rules, dashboards and ops files as code, rendered from one :class:`MonitoringConfig`.

>>> from otel_perf.monitoring import load_config, render_all
>>> files = render_all(load_config(None))
>>> sorted(files)[:2]
['alertmanager/alertmanager.yml', 'collector-config/otelcol.yaml']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_perf.lazy import lazy_names

if TYPE_CHECKING:
    from otel_perf.monitoring.definition import MonitoringConfig
    from otel_perf.monitoring.definition_file import config_from_mapping, load_config
    from otel_perf.monitoring.render import drift, render_all, write_files
    from otel_perf.monitoring.rules import AlertRule, RecordingRule, all_alerts

#: Public name -> the module that owns it. Imported on first use (PEP 562), so the
#: report, which needs only ``monitoring.promql`` and the record names, does not load
#: the renderers.
_LAZY: dict[str, str] = {
    "AlertRule": "otel_perf.monitoring.rules",
    "MonitoringConfig": "otel_perf.monitoring.definition",
    "RecordingRule": "otel_perf.monitoring.rules",
    "all_alerts": "otel_perf.monitoring.rules",
    "config_from_mapping": "otel_perf.monitoring.definition_file",
    "drift": "otel_perf.monitoring.render",
    "load_config": "otel_perf.monitoring.definition_file",
    "render_all": "otel_perf.monitoring.render",
    "write_files": "otel_perf.monitoring.render",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__all__ = [
    "AlertRule",
    "MonitoringConfig",
    "RecordingRule",
    "all_alerts",
    "config_from_mapping",
    "drift",
    "load_config",
    "render_all",
    "write_files",
]
