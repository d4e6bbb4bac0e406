"""Kibana saved objects (NDJSON, as the saved-objects import API reads it) generated from
dashboard definitions: a data view per stream, one Lens visualisation per widget and one
dashboard per definition, its panels referring to the visualisations by reference.

Object ids are stable (``<prefix>-<stream>``, ``<prefix>-<dashboard>-<widget>``,
``<prefix>-<dashboard>``), so importing again with overwrite updates the same objects. Every
object carries the migration version of its type's current shape, so Kibana 8.9 or newer (8.19
included) runs no older migration on it.

Widget types: line / area / bar → ``lnsXY`` (``bar`` stacked → ``bar_stacked``, ``area``
stacked → ``area_stacked``); pie / donut → ``lnsPie``; number → ``lnsMetric`` (a second metric
is its secondary value); table → ``lnsDatatable``; scatter → ``lnsXY`` drawn as points on a line
series over the widget's category (Lens plots metrics against a bucketed axis, not against each
other: each category is a point per metric).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from metronome.dashboards.definition import Dashboard
from metronome.dashboards.export.fields import stream_fields
from metronome.dashboards.export.plan import (
    DEFAULT_PREFIX,
    SESSION_FIELD,
    TIME_FIELD,
    VISITOR_FIELD,
    WidgetPlan,
    index_pattern,
    metric_label,
    plan_dashboard,
    streams_of,
    time_range,
)
from metronome.dashboards.export.queries import dsl_filters, kql
from metronome.query.model import Dimension, Metric

# The migration version of each type's shape written here (see the module docstring).
TYPE_MIGRATION_VERSION = {"index-pattern": "7.11.0", "lens": "8.9.0", "dashboard": "8.9.0"}
CORE_MIGRATION_VERSION = "8.8.0"
LAYER = "layer1"
GRID_SCALE = 4  # Kibana's grid: 48 columns of the 12, rows of 20 px for Metronome's ~80 px
RECORDS = "___records___"
INTERVALS = {"minute": "1m", "hour": "1h", "day": "1d", "week": "1w", "month": "1M",
             "quarter": "3M", "year": "1y"}  # fmt: skip
DATA_TYPES = {"keyword": "string", "boolean": "boolean", "date": "date", "ip": "ip"}
SEARCH_SOURCE = {"query": {"query": "", "language": "kuery"}, "filter": []}
SPLIT_SIZE = 10  # series of a split chart when the widget's query sets no limit


def data_view_id(prefix: str, stream: str) -> str:
    return f"{prefix}-{stream}"


def lens_id(prefix: str, plan: WidgetPlan) -> str:
    return f"{prefix}-{plan.dashboard_id}-{plan.widget.id}"


def dashboard_id(prefix: str, dashboard: Dashboard) -> str:
    return f"{prefix}-{dashboard.id}"


def saved_objects(
    dashboards: Iterable[Dashboard], prefix: str = DEFAULT_PREFIX
) -> list[dict[str, Any]]:
    """Data views first, then each dashboard's visualisations followed by the dashboard."""
    dashboards = list(dashboards)
    objects = [data_view(prefix, stream) for stream in streams_of(dashboards)]
    for dashboard in dashboards:
        plans = plan_dashboard(dashboard)
        objects.extend(lens(prefix, plan) for plan in plans)
        objects.append(dashboard_object(prefix, dashboard, plans))
    return objects


def to_ndjson(objects: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(o, sort_keys=True, separators=(",", ":")) + "\n" for o in objects)


def _object(kind: str, object_id: str, attributes: dict[str, Any],
            references: list[dict[str, str]]) -> dict[str, Any]:  # fmt: skip
    return {
        "type": kind,
        "id": object_id,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSION[kind],
        "managed": False,
    }


def data_view(prefix: str, stream: str) -> dict[str, Any]:
    attributes = {
        "title": index_pattern(prefix, stream),
        "name": f"Metronome {stream}",
        "timeFieldName": TIME_FIELD,
        "fields": "[]",  # Kibana reads the fields from the indices when the view is opened
        "fieldFormatMap": "{}",
        "sourceFilters": "[]",
        "runtimeFieldMap": "{}",
        "allowNoIndex": True,
    }
    return _object("index-pattern", data_view_id(prefix, stream), attributes, [])


# --- Lens --------------------------------------------------------------------------------


def lens(prefix: str, plan: WidgetPlan) -> dict[str, Any]:
    columns, order, ids = _columns(plan)
    attributes = {
        "title": plan.widget.title or plan.widget.id,
        "description": "",
        "visualizationType": _visualization_type(plan),
        "state": {
            "datasourceStates": {
                "formBased": {
                    "layers": {
                        LAYER: {"columns": columns, "columnOrder": order, "incompleteColumns": {}}
                    }
                }
            },
            "visualization": _visualization(plan, ids),
            "query": {"query": kql(plan.filters), "language": "kuery"},
            "filters": dsl_filters(plan.filters),
            "internalReferences": [],
            "adHocDataViews": {},
        },
    }
    references = [
        {
            "type": "index-pattern",
            "id": data_view_id(prefix, plan.stream),
            "name": f"indexpattern-datasource-layer-{LAYER}",
        }
    ]
    return _object("lens", lens_id(prefix, plan), attributes, references)


class _Ids:
    """Column ids of one layer: ``time``, ``term0``..., ``metric0``..."""

    def __init__(self, plan: WidgetPlan, with_time: bool) -> None:
        self.time = "time" if with_time and plan.time is not None else None
        self.terms = [f"term{n}" for n in range(len(plan.terms))]
        self.metrics = [f"metric{n}" for n in range(len(plan.metrics))]


def _columns(plan: WidgetPlan) -> tuple[dict[str, Any], list[str], _Ids]:
    # A number shows one value for the whole range: its time dimension (the sparkline of
    # Metronome's page) is left out.
    ids = _Ids(plan, with_time=plan.widget.type != "number")
    columns: dict[str, Any] = {}
    size = plan.limit if "limit" in plan.widget.query else SPLIT_SIZE
    for column, dimension in zip(ids.terms, plan.terms, strict=True):
        columns[column] = _terms_column(plan, dimension, size, ids.metrics[0])
    if ids.time is not None and plan.time is not None:
        columns[ids.time] = _date_column(plan)
    for column, metric in zip(ids.metrics, plan.metrics, strict=True):
        columns[column] = _metric_column(metric)
    order = [*ids.terms, *([ids.time] if ids.time else []), *ids.metrics]
    return columns, order, ids


def _date_column(plan: WidgetPlan) -> dict[str, Any]:
    interval = plan.fixed_interval
    return {
        "label": TIME_FIELD,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": TIME_FIELD,
        "isBucketed": True,
        "scale": "interval",
        "params": {
            "interval": INTERVALS[interval] if interval else "auto",
            "includeEmptyRows": True,
            "dropPartials": False,
        },
    }


def _terms_column(
    plan: WidgetPlan, dimension: Dimension, size: int, order_column: str
) -> dict[str, Any]:
    field = str(dimension.field)
    mapped = stream_fields(plan.stream).get(field, "keyword")
    return {
        "label": f"Top {size} values of {field}",
        "dataType": DATA_TYPES.get(mapped, "number"),
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": {"type": "alphabetical", "fallback": False}
            if plan.by_term
            else {"type": "column", "columnId": order_column},
            "orderDirection": "desc" if plan.descending else "asc",
            "otherBucket": False,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }


def _metric_column(metric: Metric) -> dict[str, Any]:
    column: dict[str, Any] = {
        "label": metric_label(metric),
        "customLabel": True,
        "dataType": "number",
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }
    if metric.kind == "count":
        column.update(operationType="count", sourceField=RECORDS)
    elif metric.kind in ("visitors", "sessions"):
        field = VISITOR_FIELD if metric.kind == "visitors" else SESSION_FIELD
        column.update(operationType="unique_count", sourceField=field)
    elif metric.kind in ("p50", "p95", "p99"):
        column.update(
            operationType="percentile",
            sourceField=metric.field,
            params={"percentile": int(metric.kind[1:])},
        )
    else:
        operation = "average" if metric.kind == "avg" else metric.kind
        column.update(operationType=operation, sourceField=metric.field)
    return column


def _visualization_type(plan: WidgetPlan) -> str:
    return {"pie": "lnsPie", "donut": "lnsPie", "number": "lnsMetric",
            "table": "lnsDatatable"}.get(plan.widget.type, "lnsXY")  # fmt: skip


def _visualization(plan: WidgetPlan, ids: _Ids) -> dict[str, Any]:
    kind = plan.widget.type
    if kind in ("pie", "donut"):
        return {
            "shape": kind,
            "layers": [
                {
                    "layerId": LAYER,
                    "layerType": "data",
                    "primaryGroups": ids.terms,
                    "metrics": ids.metrics[:1],
                    "numberDisplay": "percent",
                    "categoryDisplay": "default",
                    "legendDisplay": "default",
                    "nestedLegend": False,
                }
            ],
        }
    if kind == "number":
        number: dict[str, Any] = {
            "layerId": LAYER,
            "layerType": "data",
            "metricAccessor": ids.metrics[0],
        }
        if len(ids.metrics) > 1:
            number["secondaryMetricAccessor"] = ids.metrics[1]
        return number
    if kind == "table":
        shown = [*ids.terms, *([ids.time] if ids.time else []), *ids.metrics]
        return {
            "layerId": LAYER,
            "layerType": "data",
            "columns": [{"columnId": column} for column in shown],
            "sorting": {"columnId": (ids.terms or ids.metrics)[0] if plan.by_term
                        else ids.metrics[0],
                        "direction": "desc" if plan.descending else "asc"},
        }  # fmt: skip
    return _xy(plan, ids)


def _xy(plan: WidgetPlan, ids: _Ids) -> dict[str, Any]:
    kind, stacked = plan.widget.type, plan.widget.options.stacked
    series = {
        "line": "line",
        "scatter": "line",
        "area": "area_stacked" if stacked else "area",
        "bar": "bar_stacked" if stacked else "bar",
    }[kind]
    x_axis = ids.time or (ids.terms[0] if ids.terms else None)
    split = [term for term in ids.terms if term != x_axis]
    layer: dict[str, Any] = {
        "layerId": LAYER,
        "layerType": "data",
        "seriesType": series,
        "accessors": ids.metrics,
    }
    if x_axis is not None:
        layer["xAccessor"] = x_axis
    if split:
        layer["splitAccessor"] = split[0]
    visualization: dict[str, Any] = {
        "preferredSeriesType": series,
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "layers": [layer],
    }
    if kind == "scatter":
        visualization["pointVisibility"] = "always"
        visualization["curveType"] = "LINEAR"
    return visualization


# --- dashboards --------------------------------------------------------------------------


def dashboard_object(
    prefix: str, dashboard: Dashboard, plans: tuple[WidgetPlan, ...]
) -> dict[str, Any]:
    panels, references = [], []
    for plan in plans:
        widget, name = plan.widget, f"panel_{plan.widget.id}"
        layout = widget.layout
        panel: dict[str, Any] = {
            "type": "lens",
            "panelIndex": widget.id,
            "gridData": {
                "x": layout.x * GRID_SCALE,
                "y": layout.y * GRID_SCALE,
                "w": layout.w * GRID_SCALE,
                "h": layout.h * GRID_SCALE,
                "i": widget.id,
            },
            "panelRefName": name,
            "embeddableConfig": {"enhancements": {}},
        }
        if widget.options.range is not None:  # a panel with a time range of its own
            start, end = time_range(widget.options.range)
            panel["embeddableConfig"]["timeRange"] = {"from": start, "to": end}
        panels.append(panel)
        references.append(
            {"name": f"{widget.id}:{name}", "type": "lens", "id": lens_id(prefix, plan)}
        )
    start, end = time_range(dashboard.defaults.range)
    attributes = {
        "title": dashboard.title,
        "description": dashboard.description,
        "timeRestore": True,
        "timeFrom": start,
        "timeTo": end,
        "refreshInterval": {"pause": True, "value": 60000},
        "optionsJSON": _compact({"useMargins": True, "syncColors": False, "syncCursor": True,
                                 "syncTooltips": False, "hidePanelTitles": False}),
        "panelsJSON": _compact(panels),
        "kibanaSavedObjectMeta": {"searchSourceJSON": _compact(SEARCH_SOURCE)},
    }  # fmt: skip
    return _object("dashboard", dashboard_id(prefix, dashboard), attributes, references)


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
