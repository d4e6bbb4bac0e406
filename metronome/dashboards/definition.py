"""What a dashboard is (frozen dataclasses) and the one validation of its JSON (pure).

A dashboard is data: a title, the stream its widgets read by default, the time picker's
defaults and up to ``MAX_WIDGETS`` widgets. A widget is a query of ``POST /api/v1/query``
(without the parts the page chooses: range, zone, comparison, page, format, site), a
visualisation and a place on a 12-column grid. Every field is checked, unknown keys are
refused, and each widget's query goes through the query engine's own parser against the
fields of its stream, so a stored dashboard can always be drawn.

A refusal is a 422 ``invalid_dashboard`` whose message starts with where the problem is:
``widgets[2] (views).type: unknown widget type 'radar'; one of line, area, ...``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from metronome.errors import ApiError
from metronome.es.naming import is_valid_stream
from metronome.hits.bodies import loads_json
from metronome.query.calendar import INTERVALS, Interval
from metronome.query.catalog import FieldKind
from metronome.query.parse import COMPARE_MODES, parse_query, resolve_date_range
from metronome.query.timerange import parse_tz

ID_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
DASHBOARD_ID = re.compile(ID_PATTERN)
RESERVED_IDS = ("import",)  # a route of its own: POST /api/v1/dashboards/import
WidgetType = Literal["line", "area", "bar", "pie", "donut", "scatter", "number", "table"]
WIDGET_TYPES: tuple[WidgetType, ...] = (
    "line", "area", "bar", "pie", "donut", "scatter", "number", "table",
)  # fmt: skip
UNITS: tuple[str, ...] = ("ms", "bytes", "%")
# The presets of the time picker; any range the query engine names is accepted too.
RANGE_PRESETS: tuple[str, ...] = (
    "30m", "today", "yesterday", "7d", "30d", "90d", "month", "last_month", "year", "12mo",
)  # fmt: skip
OPTION_KEYS = ("stacked", "overlay", "drilldown", "range", "refresh_seconds", "unit")
MAX_WIDGETS = 50
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_BODY_BYTES = 256 * 1024
GRID_COLUMNS = 12
MAX_HEIGHT = 12
MAX_ROW = 10_000
MIN_REFRESH, MAX_REFRESH = 5, 86_400
# The parts of a query the page decides; a widget's query leaves them out.
PAGE_PARTS = ("date_range", "tz", "compare", "page", "format", "site")
# Where a widget's query is checked when it fixes no range of its own: a day holds every
# interval's buckets (1,440 minutes) within the query engine's limit.
CHECK_RANGE = "today"
CHECK_NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
# What a client may send back as it read it (GET answers carry them); never stored.
ANSWER_ONLY = ("version", "source", "readonly")

FieldsOf = Callable[[str], Mapping[str, FieldKind] | None]


@dataclass(frozen=True)
class Layout:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class WidgetOptions:
    stacked: bool = False  # bar/area: stacked rather than grouped
    overlay: bool = True  # the page's comparison is fetched and drawn for this widget
    drilldown: bool = True  # a click filters the page by the first non-time dimension
    range: str | tuple[str, str] | None = None  # a fixed range instead of the page's
    refresh_seconds: int | None = None  # the widget reloads itself this often
    unit: str | None = None  # "ms", "bytes", "%": how numbers are formatted


@dataclass(frozen=True)
class Widget:
    id: str
    type: WidgetType
    query: Mapping[str, Any]  # the POST /api/v1/query model without PAGE_PARTS
    layout: Layout
    title: str = ""
    options: WidgetOptions = field(default_factory=WidgetOptions)

    @property
    def stream(self) -> str | None:
        stream = self.query.get("stream")
        return stream if isinstance(stream, str) else None


@dataclass(frozen=True)
class Defaults:
    range: str | tuple[str, str] = "30d"
    interval: Interval = "day"
    tz: str = "UTC"
    compare: str | None = "previous"


@dataclass(frozen=True)
class Dashboard:
    id: str
    title: str
    widgets: tuple[Widget, ...]
    description: str = ""
    stream: str = "hits"
    site: str | None = None
    defaults: Defaults = field(default_factory=Defaults)

    def widget(self, widget_id: str) -> Widget | None:
        return next((w for w in self.widgets if w.id == widget_id), None)

    def stream_of(self, widget: Widget) -> str:
        return widget.stream or self.stream


def invalid(path: str, problem: str) -> ApiError:
    where = f"{path}: " if path else ""
    return ApiError(422, "invalid_dashboard", f"{where}{problem}", field=path or None)


def parse_dashboard(
    raw: Any, fields_of: FieldsOf, *, id_required: bool = True, generated_id: str = ""
) -> Dashboard:
    """The dashboard ``raw`` describes; ``ApiError`` 422 ``invalid_dashboard`` naming the
    first problem otherwise. ``fields_of(stream)`` gives a stream's fields, None for a stream
    without data or template (its queries are then checked for their grammar only). Without
    an id (and ``id_required`` false) the dashboard gets ``generated_id``."""
    if not isinstance(raw, dict):
        raise invalid("", "a dashboard is a JSON object.")
    for key, kind in (("version", str), ("source", str), ("readonly", bool)):
        if key in raw and not isinstance(raw[key], kind):
            raise invalid(
                key,
                f"{'true or false' if kind is bool else 'text'} (sent back as "
                "read; it is not stored).",
            )
    data = {key: value for key, value in raw.items() if key not in ANSWER_ONLY}
    _keys(data, "", required=("title", "widgets") + (("id",) if id_required else ()),
          optional=("id", "description", "stream", "site", "defaults"))  # fmt: skip
    dashboard_id = _id(data["id"], "id") if "id" in data else generated_id
    if dashboard_id in RESERVED_IDS:
        raise invalid("id", f"{dashboard_id!r} is reserved; choose another id.")
    if not dashboard_id:
        raise invalid("id", "missing.")
    stream = _stream(data.get("stream", "hits"), "stream")
    site = data.get("site")
    if site is not None:
        site = _text(site, "site", 1, 64)
    widgets_raw = data["widgets"]
    if not isinstance(widgets_raw, list):
        raise invalid("widgets", "a list of widgets.")
    if len(widgets_raw) > MAX_WIDGETS:
        raise invalid("widgets", f"at most {MAX_WIDGETS} widgets ({len(widgets_raw)} given).")
    widgets: list[Widget] = []
    seen: set[str] = set()
    for index, item in enumerate(widgets_raw):
        widget = _widget(item, index, stream, fields_of)
        if widget.id in seen:
            raise invalid(_where(index, widget.id, "id"), "another widget has this id.")
        seen.add(widget.id)
        widgets.append(widget)
    return Dashboard(
        id=dashboard_id,
        title=_text(data["title"], "title", 1, MAX_TITLE),
        description=_text(data.get("description", ""), "description", 0, MAX_DESCRIPTION),
        stream=stream,
        site=site,
        defaults=_defaults(data.get("defaults", {})),
        widgets=tuple(widgets),
    )


def parse_dashboard_json(body: bytes, fields_of: FieldsOf, **options: Any) -> Dashboard:
    """``parse_dashboard`` of a JSON document, with its size and syntax checked first."""
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(
            413, "body_too_large", f"A dashboard is at most {MAX_BODY_BYTES} bytes of JSON."
        )
    try:
        raw = loads_json(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, "malformed_json", f"The body is not valid JSON ({error}).") from None
    return parse_dashboard(raw, fields_of, **options)


def to_json(dashboard: Dashboard) -> dict[str, Any]:
    """The definition as JSON, every default written out (what is stored and exported)."""
    return {
        "id": dashboard.id,
        "title": dashboard.title,
        "description": dashboard.description,
        "stream": dashboard.stream,
        "site": dashboard.site,
        "defaults": {
            "range": _range_json(dashboard.defaults.range),
            "interval": dashboard.defaults.interval,
            "tz": dashboard.defaults.tz,
            "compare": dashboard.defaults.compare,
        },
        "widgets": [_widget_json(widget) for widget in dashboard.widgets],
    }


def _widget_json(widget: Widget) -> dict[str, Any]:
    options = widget.options
    return {
        "id": widget.id,
        "title": widget.title,
        "type": widget.type,
        "query": dict(widget.query),
        "layout": {"x": widget.layout.x, "y": widget.layout.y, "w": widget.layout.w,
                   "h": widget.layout.h},
        "options": {
            "stacked": options.stacked,
            "overlay": options.overlay,
            "drilldown": options.drilldown,
            "range": _range_json(options.range),
            "refresh_seconds": options.refresh_seconds,
            "unit": options.unit,
        },
    }  # fmt: skip


def _range_json(value: str | tuple[str, str] | None) -> str | list[str] | None:
    return list(value) if isinstance(value, tuple) else value


# --- widgets ------------------------------------------------------------------------------


def _where(index: int, widget_id: Any, path: str) -> str:
    name = (
        f" ({widget_id})"
        if isinstance(widget_id, str) and DASHBOARD_ID.fullmatch(widget_id)
        else ""
    )
    return f"widgets[{index}]{name}.{path}" if path else f"widgets[{index}]{name}"


def _widget(raw: Any, index: int, stream: str, fields_of: FieldsOf) -> Widget:
    if not isinstance(raw, dict):
        raise invalid(_where(index, None, ""), "a widget is a JSON object.")
    widget_id = raw.get("id")

    def at(path: str) -> str:
        return _where(index, widget_id, path)

    _keys(raw, at(""), required=("id", "type", "query", "layout"),
          optional=("title", "options"))  # fmt: skip
    widget_id = _id(widget_id, at("id"))
    kind = raw["type"]
    if kind not in WIDGET_TYPES:
        shown = repr(kind[:40]) if isinstance(kind, str) else json.dumps(kind)[:40]
        raise invalid(at("type"), f"unknown widget type {shown}; one of {', '.join(WIDGET_TYPES)}.")
    options = _options(raw.get("options", {}), at("options"))
    query = _query(raw["query"], at("query"))
    _check_query(
        cast(WidgetType, kind),
        query=query,
        options=options,
        stream=stream,
        fields_of=fields_of,
        at=at,
    )
    return Widget(
        id=widget_id,
        type=cast(WidgetType, kind),
        query=query,
        layout=_layout(raw["layout"], at("layout")),
        title=_text(raw.get("title", ""), at("title"), 0, MAX_TITLE),
        options=options,
    )


def _query(raw: Any, path: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid(path, "a query is a JSON object like the body of POST /api/v1/query.")
    for part in PAGE_PARTS:
        if part in raw:
            raise invalid(f"{path}.{part}", "chosen by the page, not by a widget's query.")
    if "stream" in raw:
        _stream(raw["stream"], f"{path}.stream")
    return dict(raw)


def check_body(query: Mapping[str, Any], options: WidgetOptions, stream: str) -> dict[str, Any]:
    """The body a widget's query is checked with: a fixed range, UTC, ``time`` as days."""
    dimensions = query.get("dimensions", [])
    if isinstance(dimensions, list):
        dimensions = ["time:day" if d == "time" else d for d in dimensions]
    body = {**query, "stream": query.get("stream", stream), "dimensions": dimensions}
    body["date_range"] = _range_json(options.range) or CHECK_RANGE
    return body


def _check_query(
    kind: WidgetType,
    *,
    query: Mapping[str, Any],
    options: WidgetOptions,
    stream: str,
    fields_of: FieldsOf,
    at: Callable[[str], str],
) -> None:
    body = check_body(query, options, stream)
    known = fields_of(body["stream"])
    if known is None:
        known = assumed_fields(body)
    try:
        parsed, _ = parse_query(body, "check", known, CHECK_NOW)
    except ApiError as error:
        where = at(f"query.{error.field}" if error.field else "query")
        raise invalid(where, error.message) from None
    others = [d for d in parsed.dimensions if not d.is_time]
    if kind == "number" and others:
        raise invalid(at("query.dimensions"), "a number widget has no dimension but time.")
    if kind in ("pie", "donut") and len(others) != 1:
        raise invalid(at("query.dimensions"), f"a {kind} has exactly one dimension besides time.")
    if kind == "scatter" and len(parsed.metrics) != 2:
        raise invalid(at("query.metrics"), "a scatter plots exactly two metrics (x and y).")
    if kind in ("line", "area") and not (parsed.dimensions and parsed.dimensions[0].is_time):
        raise invalid(at("query.dimensions"), f"a {kind} chart has time as its first dimension.")


def assumed_fields(body: Mapping[str, Any]) -> dict[str, FieldKind]:
    """The fields a query names, each of the kind it is used as: what a stream without data
    yet is taken to have (fields of metrics are numbers, the others keywords)."""
    kinds: dict[str, FieldKind] = {}
    for name in _strings(body.get("dimensions")):
        kinds[name] = "keyword"
    for item in body.get("filters") or []:
        if isinstance(item, list) and len(item) == 3 and isinstance(item[1], str):
            kinds[item[1]] = "keyword"
    for metric in _strings(body.get("metrics")):
        _, _, name = metric.partition(":")
        if name:
            kinds[name] = "number"
    return kinds


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _layout(raw: Any, path: str) -> Layout:
    if not isinstance(raw, dict):
        raise invalid(path, 'a layout is {"x", "y", "w", "h"} on a 12-column grid.')
    _keys(raw, path, required=("x", "y", "w", "h"), optional=())
    x = _int(raw["x"], f"{path}.x", 0, GRID_COLUMNS - 1)
    w = _int(raw["w"], f"{path}.w", 1, GRID_COLUMNS)
    if x + w > GRID_COLUMNS:
        raise invalid(f"{path}.w", f"x + w is at most {GRID_COLUMNS} (the grid's columns).")
    return Layout(
        x=x, y=_int(raw["y"], f"{path}.y", 0, MAX_ROW), w=w,
        h=_int(raw["h"], f"{path}.h", 1, MAX_HEIGHT),
    )  # fmt: skip


def _options(raw: Any, path: str) -> WidgetOptions:
    if not isinstance(raw, dict):
        raise invalid(path, "options are a JSON object.")
    _keys(raw, path, required=(), optional=OPTION_KEYS)
    defaults = WidgetOptions()
    refresh = raw.get("refresh_seconds")
    unit = raw.get("unit")
    if unit is not None and unit not in UNITS:
        raise invalid(f"{path}.unit", f"one of {', '.join(UNITS)} or null.")
    fixed = raw.get("range")
    return WidgetOptions(
        stacked=_bool(raw.get("stacked", defaults.stacked), f"{path}.stacked"),
        overlay=_bool(raw.get("overlay", defaults.overlay), f"{path}.overlay"),
        drilldown=_bool(raw.get("drilldown", defaults.drilldown), f"{path}.drilldown"),
        range=None if fixed is None else _range(fixed, f"{path}.range"),
        refresh_seconds=None
        if refresh is None
        else _int(refresh, f"{path}.refresh_seconds", MIN_REFRESH, MAX_REFRESH),
        unit=unit,
    )


# --- the dashboard's defaults -------------------------------------------------------------


def _defaults(raw: Any) -> Defaults:
    if not isinstance(raw, dict):
        raise invalid("defaults", "a JSON object (range, interval, tz, compare).")
    _keys(raw, "defaults", required=(), optional=("range", "interval", "tz", "compare"))
    base = Defaults()
    interval = raw.get("interval", base.interval)
    if interval not in INTERVALS:
        raise invalid("defaults.interval", f"one of {', '.join(INTERVALS)}.")
    compare = raw.get("compare", base.compare)
    if compare is not None and compare not in COMPARE_MODES:
        raise invalid("defaults.compare", f"null or one of {', '.join(COMPARE_MODES)}.")
    return Defaults(
        range=_range(raw.get("range", base.range), "defaults.range"),
        interval=cast(Interval, interval),
        tz=check_tz(raw.get("tz", base.tz), "defaults.tz"),
        compare=compare,
    )


def check_tz(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise invalid(path, "an IANA time zone name such as Europe/Warsaw.")
    try:
        parse_tz(value)
    except ApiError as error:
        raise invalid(path, error.message) from None
    return value


def _range(value: Any, path: str) -> str | tuple[str, str]:
    """A named range (``30d``, ``last_month``, ``30m``...) or ``[from, to]``, as the query
    engine reads them."""
    if not (isinstance(value, str) or (isinstance(value, list) and len(value) == 2)):
        raise invalid(path, f'a range name ({", ".join(RANGE_PRESETS)}) or ["from", "to"].')
    try:
        resolve_date_range(value, parse_tz("UTC"), CHECK_NOW)
    except ApiError as error:
        raise invalid(path, error.message) from None
    return value if isinstance(value, str) else (str(value[0]), str(value[1]))


# --- scalars ------------------------------------------------------------------------------


def _keys(
    raw: dict[str, Any], path: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    prefix = f"{path}." if path else ""
    for key in raw:
        if key not in required and key not in optional:
            allowed = ", ".join(dict.fromkeys((*required, *optional)))
            raise invalid(f"{prefix}{str(key)[:40]}", f"unknown key; the keys are {allowed}.")
    for key in required:
        if key not in raw:
            raise invalid(f"{prefix}{key}", "missing.")


def _id(value: Any, path: str) -> str:
    if not isinstance(value, str) or not DASHBOARD_ID.fullmatch(value):
        raise invalid(
            path, "an id is 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit."
        )
    return value


def _stream(value: Any, path: str) -> str:
    if not isinstance(value, str) or not is_valid_stream(value):
        raise invalid(path, "a stream name: 1 to 32 of a-z, 0-9 and _.")
    return value


def _text(value: Any, path: str, least: int, most: int) -> str:
    if not isinstance(value, str):
        raise invalid(path, "text expected.")
    if not least <= len(value) <= most:
        raise invalid(path, f"{least} to {most} characters ({len(value)} given).")
    return value


def _int(value: Any, path: str, least: int, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(path, f"a whole number from {least} to {most}.")
    if not least <= value <= most:
        raise invalid(path, f"from {least} to {most} ({value} given).")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(path, "true or false.")
    return value
