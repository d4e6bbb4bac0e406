"""Every widget of a dashboard answered at once (``POST /api/v1/dashboards/<id>/data``).

The page's state (range, interval, zone, comparison, filters) and each widget's query make
one ``POST /api/v1/query`` body per widget (``widget_body``, pure); the queries then run
together (``metronome.query.multi``: one multi-search, or a few rounds of one), and each
widget's answer is exactly what ``POST /api/v1/query`` answers for that body. A widget that
cannot be answered (a field its stream lacks, a query Elasticsearch refuses) carries its own
``{"error": {...}}``; the others are answered all the same.

Page filters go to every widget; a widget whose stream lacks a filtered field answers
``filter_not_applicable`` rather than ignoring the filter, so a view never shows unfiltered
numbers as if they were filtered (nor a shared link's fixed filters as if they held).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from elasticsearch import Elasticsearch

from metronome.config.rollups import RollupSettings
from metronome.dashboards.definition import Dashboard, Defaults, Widget
from metronome.errors import ApiError, error_object
from metronome.query.calendar import INTERVALS, Interval
from metronome.query.catalog import FieldKind
from metronome.query.model import Query
from metronome.query.multi import run_queries
from metronome.query.parse import (
    COMPARE_MODES,
    earlier_range,
    parse_query,
    resolve_date_range,
)
from metronome.query.result import query_result
from metronome.query.timerange import parse_tz

PAGE_KEYS = ("site", "range", "interval", "tz", "compare", "filters")
MAX_PAGE_FILTERS = 20

FieldsOf = Callable[[str], Mapping[str, FieldKind]]


@dataclass(frozen=True)
class PageState:
    """What the page asks: the time picker and the filters (the chips)."""

    range: str | list[str]
    interval: Interval
    tz: str
    compare: str | None
    filters: tuple[list[Any], ...] = ()


def parse_page(raw: Any, defaults: Defaults) -> PageState:
    """The body of a data request, the dashboard's defaults filling what it leaves out;
    422 naming the part that is wrong (its grammar is the query engine's)."""
    if not isinstance(raw, dict):
        raise ApiError(400, "invalid_request", "The body is a JSON object: range, interval...")
    for key in raw:
        if key not in PAGE_KEYS:
            message = f"Unknown key {str(key)[:40]!r}; the keys are {', '.join(PAGE_KEYS)}."
            raise ApiError(422, "invalid_request", message, field=str(key)[:40])
    interval = raw.get("interval", defaults.interval)
    if interval not in INTERVALS:
        message = f"interval is one of {', '.join(INTERVALS)}."
        raise ApiError(422, "invalid_request", message, field="interval")
    compare = raw.get("compare", defaults.compare)
    if compare is not None and compare not in COMPARE_MODES:
        message = f"compare is null or one of {', '.join(COMPARE_MODES)}."
        raise ApiError(422, "invalid_request", message, field="compare")
    filters = raw.get("filters", [])
    if not isinstance(filters, list) or len(filters) > MAX_PAGE_FILTERS:
        message = f"filters is a list of at most {MAX_PAGE_FILTERS} [op, field, [values]]."
        raise ApiError(422, "invalid_request", message, field="filters")
    page = PageState(
        range=_range(raw.get("range", defaults.range)),
        interval=cast(Interval, interval),
        tz=raw.get("tz", defaults.tz),
        compare=compare,
        filters=tuple(filters),
    )
    check_page(page)
    return replace(page, filters=tuple(_listed(f) for f in page.filters))


def _listed(checked: list[Any]) -> list[Any]:
    """A checked filter with its values as a list (the grammar also takes one bare value):
    the page, a share and the app read every filter as ``[op, field, [values]]``."""
    op, field, values = checked
    return [op, field, values if isinstance(values, list) else [values]]


def _range(value: Any) -> str | list[str]:
    return list(value) if isinstance(value, tuple) else value


def check_page(page: PageState, now: datetime | None = None) -> None:
    """The page's parts through the query engine's parser (filter fields taken as keywords:
    each widget's stream decides whether it has them)."""
    body = {
        "metrics": ["count"],
        "dimensions": [f"time:{page.interval}"],
        "date_range": page.range,
        "tz": page.tz,
        "compare": page.compare,
        "filters": list(page.filters),
    }
    names = [f[1] for f in page.filters if isinstance(f, list) and len(f) == 3]
    known: dict[str, FieldKind] = {name: "keyword" for name in names if isinstance(name, str)}
    try:
        parse_query(body, "page", known, now or datetime.now(parse_tz("UTC")))
    except ApiError as error:
        field = {"date_range": "range", "dimensions": "interval"}.get(error.field or "")
        field = field or error.field
        message = error.message.replace("date_range", "range")
        raise ApiError(error.status, error.code, message, field=field) from None


SERIES_LIMIT = 10_000  # the query engine's largest page


def widget_body(
    dashboard: Dashboard,
    widget: Widget,
    *,
    page: PageState,
    site: str,
    known: Mapping[str, FieldKind],
    fixed_filters: Sequence[list[Any]] = (),
) -> dict[str, Any]:
    """The ``POST /api/v1/query`` body of one widget on this page (pure). ``known`` are the
    fields of the widget's stream: a page filter on another field is refused for this widget
    alone (422 ``filter_not_applicable``)."""
    stream = dashboard.stream_of(widget)
    added = [*fixed_filters, *page.filters]
    for item in added:
        name = item[1] if isinstance(item, list) and len(item) == 3 else None
        if isinstance(name, str) and name not in known:
            raise ApiError(
                422,
                "filter_not_applicable",
                f"The {stream} stream has no field {name!r}, so this widget cannot apply the "
                "page's filter on it.",
                field="filters",
            )
    query = dict(widget.query)
    dimensions = [
        f"time:{page.interval}" if d == "time" else d for d in query.get("dimensions", [])
    ]
    body: dict[str, Any] = {
        **query,
        "site": site,
        "stream": stream,
        "dimensions": dimensions,
        "filters": [*query.get("filters", []), *added],
        "date_range": _json_range(widget.options.range) or page.range,
        "tz": page.tz,
    }
    if page.compare is not None and widget.options.overlay:
        body["compare"] = page.compare
    if "limit" not in query and dimensions and dimensions[0].startswith("time:"):
        # A series over time is drawn whole: the query's default page (100 rows) would cut
        # 7 days by hour, or 30 days split by a second field, short.
        body["limit"] = SERIES_LIMIT
    return body


def _json_range(value: str | tuple[str, str] | None) -> str | list[str] | None:
    return list(value) if isinstance(value, tuple) else value


def total_body(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """For a ``number`` widget over time (its sparkline), the same query without the time
    dimension: its total (visitors of a period are not the sum of each day's)."""
    dimensions = [d for d in body.get("dimensions", []) if not str(d).startswith("time")]
    if len(dimensions) == len(body.get("dimensions", [])):
        return None
    order = [o for o in body.get("order_by", []) if not str(o[0]).startswith("time")]
    return {**body, "dimensions": dimensions, "order_by": order}


def dashboard_data(
    client: Elasticsearch,
    prefix: str,
    fields_of: FieldsOf,
    dashboard: Dashboard,
    *,
    page: PageState,
    site: str,
    now: datetime,
    fixed_filters: Sequence[list[Any]] = (),
    rollups: RollupSettings | None = None,
) -> dict[str, Any]:
    """``{"widgets": {id: answer or {"error"}}, "range", "compare_range"}``; from rollups
    where the planner can (``rollups`` given)."""
    errors: dict[str, dict[str, Any]] = {}
    jobs: list[tuple[str, str, Query]] = []  # widget id, "main" or "total", query
    for widget in dashboard.widgets:
        try:
            known = fields_of(dashboard.stream_of(widget))
            body = widget_body(
                dashboard, widget, page=page, site=site, known=known, fixed_filters=fixed_filters
            )
            jobs.append((widget.id, "main", parse_query(body, site, known, now)[0]))
            total = total_body(body) if widget.type == "number" else None
            if total is not None:
                jobs.append((widget.id, "total", parse_query(total, site, known, now)[0]))
        except ApiError as error:
            errors[widget.id] = {"error": error_object(error.code, error.message, error.field)}
    outcomes = run_queries(client, prefix, [query for _, _, query in jobs], rollups)
    answers: dict[str, dict[str, Any]] = {}
    for (widget_id, role, query), outcome in zip(jobs, outcomes, strict=True):
        if widget_id in errors:
            continue
        if isinstance(outcome, ApiError):
            errors[widget_id] = {
                "error": error_object(outcome.code, outcome.message, outcome.field)
            }
            answers.pop(widget_id, None)
        elif role == "main":
            answers[widget_id] = query_result(query, outcome)
        else:
            answers[widget_id]["total"] = query_result(query, outcome)
    tz = parse_tz(page.tz)
    main = resolve_date_range(page.range, tz, now)
    compare = earlier_range(main, page.compare, tz) if page.compare else None
    return {
        "widgets": {w.id: errors.get(w.id) or answers[w.id] for w in dashboard.widgets},
        "range": {"from": main.start.isoformat(), "to": main.end.isoformat()},
        "compare_range": {"from": compare.start.isoformat(), "to": compare.end.isoformat()}
        if compare
        else None,
    }
