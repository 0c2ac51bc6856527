"""Alert rules, dashboards and ops files as code, rendered from one :class:`MonitoringConfig`.

>>> from otel_perf.monitoring import load_config, render_all
>>> files = render_all(load_config(None))
>>> sorted(files)[:2]
['alertmanager/alertmanager.yml', 'collector-config/otelcol.yaml']
"""

from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.definition_file import config_from_mapping, load_config
from otel_perf.monitoring.render import drift, render_all, write_files
from otel_perf.monitoring.rules import AlertRule, RecordingRule, all_alerts

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
