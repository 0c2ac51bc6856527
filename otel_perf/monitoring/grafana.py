"""A small model of Grafana dashboards (classic JSON model) and its rendering.

Panels are declared as data (:class:`Panel` with :class:`Query` targets) and laid out left
to right in a 24-column grid. Every panel has a unit and a description; every query uses
the templated datasource. ``SCHEMA_VERSION`` is the dashboard schema of the pinned Grafana
(see ``compose.GRAFANA_IMAGE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

#: Dashboard schema version written by Grafana 12.0 and 12.1 (12.2 adds migration 42, which
#: only touches ``hideFrom`` overrides that these dashboards do not use).
SCHEMA_VERSION: Final = 41
DATASOURCE: Final = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH: Final = 24


@dataclass(frozen=True)
class Query:
    """One panel target: PromQL with Grafana variables."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False
    exemplar: bool = False


@dataclass(frozen=True)
class Panel:
    """One visualization. ``kind`` is a Grafana panel type (``stat``, ``timeseries`` ...)."""

    kind: str
    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    width: int = 8
    height: int = 8
    min: float | None = None
    max: float | None = None
    thresholds: tuple[tuple[str, float | None], ...] = (("green", None),)
    options: dict[str, Any] = field(default_factory=dict)
    transformations: tuple[dict[str, Any], ...] = ()
    overrides: tuple[dict[str, Any], ...] = ()
    links: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Variable:
    """A multi-value query variable with an "All" option matching everything."""

    name: str
    label: str
    query: str  # label_values(...)


@dataclass(frozen=True)
class Dashboard:
    """A dashboard: panels in order, variables, and identity."""

    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    variables: tuple[Variable, ...]
    datasource_name: str
    datasource_uid: str
    tags: tuple[str, ...] = ("otel-perf",)


_REDUCE: Final = {"calcs": ["lastNotNull"], "fields": "", "values": False}
_LEGEND: Final = {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []}
_DEFAULT_OPTIONS: Final[dict[str, dict[str, Any]]] = {
    "stat": {
        "reduceOptions": _REDUCE,
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "auto",
    },
    "gauge": {
        "reduceOptions": _REDUCE,
        "showThresholdLabels": False,
        "showThresholdMarkers": True,
    },
    "bargauge": {
        "reduceOptions": {**_REDUCE, "values": False},
        "displayMode": "gradient",
        "orientation": "horizontal",
        "showUnfilled": True,
    },
    "timeseries": {
        "legend": _LEGEND,
        "tooltip": {"mode": "multi", "sort": "desc"},
    },
    "piechart": {
        "reduceOptions": _REDUCE,
        "pieType": "pie",
        "legend": {
            "displayMode": "table",
            "placement": "right",
            "showLegend": True,
            "values": ["value", "percent"],
        },
        "tooltip": {"mode": "single", "sort": "none"},
    },
    "barchart": {
        "orientation": "horizontal",
        "showValue": "auto",
        "legend": {**_LEGEND, "showLegend": False},
        "tooltip": {"mode": "single", "sort": "none"},
    },
    "table": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
}
_TIMESERIES_CUSTOM: Final = {
    "drawStyle": "line",
    "lineWidth": 1,
    "fillOpacity": 10,
    "showPoints": "never",
    "spanNulls": False,
}


def render_dashboard(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard's classic JSON model."""
    panels = []
    x = y = row_height = 0
    for index, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        panels.append(_panel(panel, index, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                },
                # Prometheus's alerts on every time-series panel (the ALERTS series the
                # rule evaluator writes): when each otel-perf alert fired, and for what.
                {
                    "datasource": dict(DATASOURCE),
                    "enable": True,
                    "hide": False,
                    "iconColor": "red",
                    "name": "Firing alerts",
                    "target": {
                        "refId": "Anno",
                        "expr": 'ALERTS{alertstate="firing", alertname=~"OtelPerf.+", '
                        'alertname!="OtelPerfWatchdog", job=~"$service|"}',
                        "interval": "1m",
                    },
                    "titleFormat": "{{alertname}}",
                    "textFormat": "{{severity}} {{job}} {{project}} {{template}} {{endpoint}}",
                    "tagKeys": "severity,alertname",
                    "useValueForTime": False,
                },
            ]
        },
        "description": dashboard.description,
        "editable": False,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": False,
                "icon": "external link",
                "includeVars": True,
                "keepTime": True,
                "tags": list(dashboard.tags),
                "targetBlank": False,
                "title": "otel-perf dashboards",
                "tooltip": "",
                "type": "dashboards",
            }
        ],
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": list(dashboard.tags),
        "templating": {"list": _variables(dashboard)},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": dashboard.title,
        "uid": dashboard.uid,
        "version": 1,
    }


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": color, "value": value} for color, value in panel.thresholds],
        },
        "color": {"mode": "thresholds" if panel.kind in ("stat", "gauge") else "palette-classic"},
    }
    if panel.min is not None:
        defaults["min"] = panel.min
    if panel.max is not None:
        defaults["max"] = panel.max
    if panel.kind == "timeseries":
        defaults["custom"] = dict(_TIMESERIES_CUSTOM)
    data: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": dict(DATASOURCE),
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": list(panel.overrides)},
        "options": {**_DEFAULT_OPTIONS.get(panel.kind, {}), **panel.options},
        "targets": [_target(q, chr(ord("A") + i)) for i, q in enumerate(panel.queries)],
    }
    if panel.transformations:
        data["transformations"] = list(panel.transformations)
    if panel.links:
        data["links"] = [_link(link) for link in panel.links]
    return data


def _link(link: dict[str, Any]) -> dict[str, Any]:
    """A panel link in the schema's full ``DashboardLink`` form (the URL carries the time
    range and variables itself)."""
    return {
        "asDropdown": False,
        "icon": "external link",
        "includeVars": False,
        "keepTime": False,
        "tags": [],
        "targetBlank": bool(link.get("targetBlank", False)),
        "title": link["title"],
        "tooltip": link.get("tooltip", ""),
        "type": "link",
        "url": link["url"],
    }


def _target(query: Query, ref_id: str) -> dict[str, Any]:
    instant = query.instant or query.table
    return {
        "refId": ref_id,
        "datasource": dict(DATASOURCE),
        "editorMode": "code",
        "expr": query.expr,
        "legendFormat": query.legend or "__auto",
        "range": not instant,
        "instant": instant,
        "format": "table" if query.table else "time_series",
        "exemplar": query.exemplar,
    }


def _variables(dashboard: Dashboard) -> list[dict[str, Any]]:
    variables: list[dict[str, Any]] = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {"text": dashboard.datasource_name, "value": dashboard.datasource_uid},
            "hide": 0,
            "includeAll": False,
            "multi": False,
            "options": [],
            "refresh": 1,
            "regex": "",
        }
    ]
    for variable in dashboard.variables:
        variables.append(
            {
                "name": variable.name,
                "label": variable.label,
                "type": "query",
                "datasource": dict(DATASOURCE),
                "query": {
                    "qryType": 1,
                    "query": variable.query,
                    "refId": "PrometheusVariableQueryEditor-VariableQuery",
                },
                "current": {"text": ["All"], "value": ["$__all"]},
                "hide": 0,
                "includeAll": True,
                "allValue": ".*",
                "multi": True,
                "options": [],
                "refresh": 2,
                "regex": "",
                "sort": 1,
            }
        )
    return variables


def panels_of(rendered: dict[str, Any]) -> Sequence[dict[str, Any]]:
    """The panels of a rendered dashboard (rows excluded; these dashboards have none)."""
    return [p for p in rendered["panels"] if p.get("type") != "row"]
