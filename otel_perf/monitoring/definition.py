"""The one monitoring configuration: thresholds, windows, SLO, budget, UIDs, names, URLs.

Every alert rule, dashboard and ops file is rendered from a :class:`MonitoringConfig`. The
defaults are the seeds' thresholds (TRACK-008 and Story 6.2). A YAML or TOML file overrides
any subset of keys; an unknown key or a bad value raises ``ValueError`` naming the key::

    # otel-perf-monitoring.yaml
    alerts:
      high_error_rate: {threshold: 0.02}
    cost: {budget_usd: 25, window: 7d}

>>> MonitoringConfig().alerts.high_error_rate.threshold
0.05

Reading a file: :func:`otel_perf.monitoring.definition_file.load_config`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from otel_perf.monitoring.durations import is_duration, seconds

Check = Callable[[Any], "str | None"]


def _meta(check: Check | None = None, key: str | None = None) -> dict[str, Any]:
    return {"check": check, "key": key}


def _fraction(value: Any) -> str | None:
    return None if 0 < value < 1 else "must be between 0 and 1 (exclusive)"


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be > 0"


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be >= 0"


def _duration(value: Any) -> str | None:
    return None if is_duration(value) else "must be a Prometheus duration like 30s, 15m, 1h, 7d"


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else f"accepted values: {', '.join(choices)}"

    return check


def _uid(value: Any) -> str | None:
    ok = 0 < len(value) <= 40 and all(c.isalnum() or c in "-_" for c in value)
    return None if ok else "must be 1-40 letters, digits, '-' or '_'"


def _nonempty(value: Any) -> str | None:
    return None if value else "must not be empty"


def _absolute_url(value: Any) -> str | None:
    ok = value.startswith(("http://", "https://")) and "://" in value and len(value) > 8
    return None if ok else "must be an absolute http:// or https:// URL"


@dataclass(frozen=True)
class RatioAlert:
    """An alert on a ratio over a window, silent below ``min_operations`` in the window."""

    threshold: float = field(metadata=_meta(_fraction))
    window: str = field(metadata=_meta(_duration))
    for_: str = field(metadata=_meta(_duration, key="for"))
    min_operations: int = field(default=10, metadata=_meta(_positive))


@dataclass(frozen=True)
class CountAlert:
    """An alert on a count (or gauge value) over a window."""

    threshold: float = field(metadata=_meta(_not_negative))
    window: str = field(metadata=_meta(_duration))
    for_: str = field(metadata=_meta(_duration, key="for"))


@dataclass(frozen=True)
class StreakAlert:
    """An alert on a gauge streak, held ``keep_firing_for`` after it clears (no flapping)."""

    threshold: float = field(metadata=_meta(_not_negative))
    window: str = field(metadata=_meta(_duration))
    for_: str = field(metadata=_meta(_duration, key="for"))
    keep_firing_for: str = field(default="0s", metadata=_meta(_duration))


@dataclass(frozen=True)
class WindowAlert:
    """An alert with a look-back window and a pending duration, no threshold."""

    window: str = field(metadata=_meta(_duration))
    for_: str = field(metadata=_meta(_duration, key="for"))


@dataclass(frozen=True)
class Pending:
    """An alert whose only setting here is how long the condition must hold."""

    for_: str = field(metadata=_meta(_duration, key="for"))


@dataclass(frozen=True)
class Alerts:
    """Thresholds, windows and ``for`` of every alert (defaults from the seeds)."""

    high_error_rate: RatioAlert = RatioAlert(threshold=0.05, window="15m", for_="5m")
    #: Story 6.2 AC6: "Error rate exceeds 20%", per project.
    project_error_rate: RatioAlert = RatioAlert(threshold=0.2, window="15m", for_="5m")
    api_degradation: CountAlert = CountAlert(threshold=10, window="5m", for_="0s")
    slow_renders: RatioAlert = RatioAlert(threshold=0.5, window="30m", for_="5m")
    template_failing: CountAlert = CountAlert(threshold=3, window="1h", for_="0s")
    consecutive_api_errors: StreakAlert = StreakAlert(
        threshold=3, window="2m", for_="0s", keep_firing_for="10m"
    )
    success_rate_low: RatioAlert = RatioAlert(threshold=0.6, window="15m", for_="5m")
    #: Story 6.2 AC6: "Success rate dropped to 60%", per project.
    project_success_rate_low: RatioAlert = RatioAlert(threshold=0.6, window="15m", for_="5m")
    project_cost_high: Pending = Pending(for_="0s")
    telemetry_absent: WindowAlert = WindowAlert(window="1h", for_="5m")
    operations_stuck: WindowAlert = WindowAlert(window="1h", for_="5m")
    unpriced_operations: WindowAlert = WindowAlert(window="1h", for_="0s")
    cardinality_overflow: WindowAlert = WindowAlert(window="15m", for_="0s")
    internal_errors: WindowAlert = WindowAlert(window="15m", for_="0s")


@dataclass(frozen=True)
class BurnWindow:
    """One multi-window burn-rate alert: both windows burn faster than ``factor``."""

    long: str = field(metadata=_meta(_duration))
    short: str = field(metadata=_meta(_duration))
    factor: float = field(metadata=_meta(_positive))
    for_: str = field(metadata=_meta(_duration, key="for"))
    severity: str = field(metadata=_meta(_one_of("critical", "warning", "info")))


#: The Google SRE workbook's multi-window, multi-burn-rate table.
DEFAULT_BURN_WINDOWS: Final = (
    BurnWindow(long="1h", short="5m", factor=14.4, for_="2m", severity="critical"),
    BurnWindow(long="6h", short="30m", factor=6, for_="15m", severity="critical"),
    BurnWindow(long="1d", short="2h", factor=3, for_="1h", severity="warning"),
    BurnWindow(long="3d", short="6h", factor=1, for_="3h", severity="warning"),
)


@dataclass(frozen=True)
class Slo:
    """The success SLO: share of operations that succeed, and its burn-rate alerts."""

    target: float = field(default=0.99, metadata=_meta(_fraction))
    #: The SLO period: the error budget is spent over this window (recorded from hourly
    #: increases, see ``rules.recording_rules``).
    period: str = field(default="30d", metadata=_meta(_duration))
    min_operations: int = field(default=10, metadata=_meta(_positive))
    burn_windows: tuple[BurnWindow, ...] = field(
        default=DEFAULT_BURN_WINDOWS, metadata=_meta(_nonempty)
    )


@dataclass(frozen=True)
class Cost:
    """Per-project budget: alert when a project's cost over ``window`` exceeds ``budget_usd``."""

    budget_usd: float = field(default=10.0, metadata=_meta(_positive))
    window: str = field(default="30d", metadata=_meta(_duration))


@dataclass(frozen=True)
class PrometheusSettings:
    """How the stack's Prometheus scrapes, evaluates and keeps data."""

    scrape_interval: str = field(default="15s", metadata=_meta(_duration))
    evaluation_interval: str = field(default="30s", metadata=_meta(_duration))
    retention: str = field(default="90d", metadata=_meta(_duration))
    service_job: str = field(default="otel-perf-demo", metadata=_meta(_nonempty))


@dataclass(frozen=True)
class AlertmanagerSettings:
    """Grouping timers and, per severity, the webhook URLs that receive notifications."""

    group_wait: str = field(default="30s", metadata=_meta(_duration))
    group_interval: str = field(default="5m", metadata=_meta(_duration))
    repeat_interval: str = field(default="4h", metadata=_meta(_duration))
    critical_webhooks: tuple[str, ...] = ()
    warning_webhooks: tuple[str, ...] = ()
    info_webhooks: tuple[str, ...] = ()
    #: The dead man's switch: where OtelPerfWatchdog (always firing) is sent, every
    #: ``watchdog_repeat_interval``; silence there means the alerting pipeline is broken.
    watchdog_webhooks: tuple[str, ...] = ()
    watchdog_repeat_interval: str = field(default="5m", metadata=_meta(_duration))


@dataclass(frozen=True)
class Datasource:
    """A provisioned Grafana datasource."""

    name: str = field(metadata=_meta(_nonempty))
    uid: str = field(metadata=_meta(_uid))


@dataclass(frozen=True)
class DashboardUids:
    """Stable dashboard UIDs (links and bookmarks survive regeneration)."""

    cost: str = field(default="otel-perf-cost", metadata=_meta(_uid))
    health: str = field(default="otel-perf-health", metadata=_meta(_uid))
    projects: str = field(default="otel-perf-projects", metadata=_meta(_uid))


@dataclass(frozen=True)
class GrafanaSettings:
    """Datasources, folder, dashboard UIDs, and which alerting path pages (see docs/operations.md)."""

    prometheus: Datasource = Datasource(name="Prometheus", uid="otel-perf-prometheus")
    tempo: Datasource = Datasource(name="Tempo", uid="otel-perf-tempo")
    folder: str = field(default="otel-perf", metadata=_meta(_uid))
    #: The Grafana-managed alert rules live in a folder of their own: a dashboard provider
    #: and alert provisioning that both create one folder conflict at startup.
    alert_folder: str = field(default="otel-perf-alerts", metadata=_meta(_uid))
    dashboards: DashboardUids = DashboardUids()
    #: ``prometheus``: Prometheus evaluates and sends to Alertmanager, Grafana's copies are
    #: paused. ``grafana``: Grafana evaluates (and sends to the same Alertmanager), and
    #: Prometheus evaluates without sending. Never both: one condition pages once.
    alerting: str = field(default="prometheus", metadata=_meta(_one_of("prometheus", "grafana")))


def _address(value: Any) -> str | None:
    parts = value.split(".")
    ok = len(parts) == 4 and all(p.isdigit() and 0 <= int(p) <= 255 for p in parts)
    return None if ok else "must be an IPv4 address such as 127.0.0.1 or 0.0.0.0"


@dataclass(frozen=True)
class StackSettings:
    """The compose stack: where ports are published, the Collector's memory, shutdown."""

    #: Published ports listen here only; 0.0.0.0 exposes the UIs (anonymous Grafana
    #: viewers included) to the network.
    bind_address: str = field(default="127.0.0.1", metadata=_meta(_address))
    #: The Collector container's memory limit; its memory_limiter is sized from it.
    collector_memory_limit_mib: int = field(default=512, metadata=_meta(_positive))
    #: How long ``docker compose stop`` waits before killing: the demo flushes its last
    #: spans and metrics, the Collector drains its batches, Prometheus closes its head.
    stop_grace_period: str = field(default="30s", metadata=_meta(_duration))


@dataclass(frozen=True)
class ExternalUrls:
    """The browser-facing URLs of the compose stack's UIs."""

    prometheus: str = field(default="http://localhost:9090", metadata=_meta(_absolute_url))
    alertmanager: str = field(default="http://localhost:9093", metadata=_meta(_absolute_url))
    grafana: str = field(default="http://localhost:3000", metadata=_meta(_absolute_url))


@dataclass(frozen=True)
class MonitoringConfig:
    """Everything the generator needs. Load with :func:`load_config`."""

    alerts: Alerts = Alerts()
    slo: Slo = Slo()
    cost: Cost = Cost()
    prometheus: PrometheusSettings = PrometheusSettings()
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
    grafana: GrafanaSettings = GrafanaSettings()
    #: Absolute, so links in notifications open from a pager or chat. The default is the
    #: compose stack's runbook server (``docs/`` served on 127.0.0.1).
    runbook_base_url: str = field(
        default="http://localhost:8088/runbooks.md", metadata=_meta(_absolute_url)
    )
    #: Where people reach each UI (``--web.external-url``, Grafana's ``root_url``): the
    #: links Prometheus, Alertmanager and Grafana put in notifications.
    external_urls: ExternalUrls = ExternalUrls()
    stack: StackSettings = StackSettings()

    def runbook_url(self, anchor: str) -> str:
        """The runbook link of one alert section."""
        return f"{self.runbook_base_url}#{anchor}"

    @property
    def cost_window_seconds(self) -> float:
        """The budget window in seconds (for projections)."""
        return seconds(self.cost.window)
