"""What the exporters need of a dashboard definition, read once: each widget's query parsed by
the query engine's own parser into typed metrics, dimensions and filters, and the grid.

The exporters target tools that read Elasticsearch directly (Kibana, Grafana): they see every
site's documents, as Metronome's own pages see one site's. A dashboard's time picker defaults
become the tools' default time range; ``time`` dimensions follow the tools' own automatic
interval unless the widget fixes one (``time:minute``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from metronome.dashboards.definition import (
    CHECK_NOW,
    Dashboard,
    Widget,
    assumed_fields,
    check_body,
)
from metronome.es.naming import stream_pattern
from metronome.query.calendar import Interval
from metronome.query.model import Dimension, Filter, Metric
from metronome.query.parse import parse_query

TIME_FIELD = "@timestamp"
VISITOR_FIELD = "visitor"  # what Metronome's `visitors` metric counts (query.builder)
SESSION_FIELD = "session"
DEFAULT_PREFIX = "metronome"
# The streams Metronome writes with a template of its own (es_templates/index/<stream>.json).
TEMPLATE_STREAMS: tuple[str, ...] = ("hits", "logs", "github", "s3", "ga4", "prometheus")
# Named ranges of a dashboard -> (from, to) in the date math both Kibana and Grafana read.
RANGES: dict[str, tuple[str, str]] = {
    "30m": ("now-30m", "now"),
    "24h": ("now-24h", "now"),
    "today": ("now/d", "now/d"),
    "yesterday": ("now-1d/d", "now-1d/d"),
    "7d": ("now-7d", "now"),
    "30d": ("now-30d", "now"),
    "90d": ("now-90d", "now"),
    "month": ("now/M", "now/M"),
    "last_month": ("now-1M/M", "now-1M/M"),
    "year": ("now/y", "now/y"),
    "last_year": ("now-1y/y", "now-1y/y"),
    "12mo": ("now-12M", "now"),
}


@dataclass(frozen=True)
class WidgetPlan:
    dashboard_id: str
    widget: Widget
    stream: str
    metrics: tuple[Metric, ...]
    dimensions: tuple[Dimension, ...]  # in the query's order (a bare `time` reads as days)
    filters: tuple[Filter, ...]
    limit: int
    descending: bool  # the direction of the query's first order_by (default: descending)
    by_term: bool  # its first order_by names a dimension: terms sort by value, not by metric

    @property
    def time(self) -> Dimension | None:
        return next((d for d in self.dimensions if d.is_time), None)

    @property
    def terms(self) -> tuple[Dimension, ...]:
        return tuple(d for d in self.dimensions if not d.is_time)

    @property
    def fixed_interval(self) -> Interval | None:
        """The interval a widget fixes (``time:minute``); None for the page's (``time``)."""
        dims = self.widget.query.get("dimensions") or []
        for text in dims:
            if isinstance(text, str) and text.startswith("time:"):
                return self.time.interval if self.time else None
        return None


def plan_widget(dashboard: Dashboard, widget: Widget) -> WidgetPlan:
    stream = dashboard.stream_of(widget)
    body = check_body(widget.query, widget.options, dashboard.stream)
    parsed, _ = parse_query(body, "export", assumed_fields(body), CHECK_NOW)
    first = parsed.order_by[0] if parsed.order_by else None
    dimension_names = {d.name for d in parsed.dimensions}
    return WidgetPlan(
        dashboard_id=dashboard.id,
        widget=widget,
        stream=stream,
        metrics=parsed.metrics,
        dimensions=parsed.dimensions,
        filters=parsed.filters,
        limit=parsed.limit,
        descending=first.descending if first else True,
        by_term=first is not None and first.name in dimension_names,
    )


def plan_dashboard(dashboard: Dashboard) -> tuple[WidgetPlan, ...]:
    return tuple(plan_widget(dashboard, widget) for widget in dashboard.widgets)


def streams_of(dashboards: Iterable[Dashboard]) -> tuple[str, ...]:
    """Every stream with a template, then any other stream a dashboard reads, in that order."""
    used = [dashboard.stream_of(w) for dashboard in dashboards for w in dashboard.widgets]
    return tuple(dict.fromkeys([*TEMPLATE_STREAMS, *used]))


def index_pattern(prefix: str, stream: str) -> str:
    return stream_pattern(prefix, stream)


def time_range(value: str | tuple[str, str]) -> tuple[str, str]:
    """A dashboard's default range as date math (absolute ``[from, to]`` stays as given)."""
    if isinstance(value, tuple):
        return value
    return RANGES.get(value, ("now-30d", "now"))


def metric_label(metric: Metric) -> str:
    if metric.kind == "count":
        return "Count"
    if metric.kind == "visitors":
        return "Visitors"
    if metric.kind == "sessions":
        return "Sessions"
    names = {"sum": "Sum", "avg": "Average", "min": "Min", "max": "Max"}
    head = names.get(metric.kind, metric.kind.upper().replace("P", "p", 1))
    return f"{head} of {metric.field}"
