"""What a digest says (pure): from a dashboard's data for a period (with the previous period
as its comparison), its chart images, the sources' health and the alerts of the period, an
e-mail with a plain-text part and an HTML part.

- KPIs: the dashboard's ``number`` widgets, with their change against the previous period;
- top lists: its ``table`` widgets, their first rows (at most ``TOP_ROWS``);
- charts: the other widgets, as the images the report renderer drew, inline (``cid:``);
- the sources of the site: ok, failing or stale;
- the alerts that fired or resolved in the period.

Widgets with a fixed range of their own (the last 30 minutes) say nothing about the period
and are left out; a widget that could not be answered is left out, a KPI shows a dash.

``render_text`` writes the plain-text part; ``metronome.digests.mail_html`` the HTML part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from metronome.config.digests import Schedule
from metronome.dashboards.definition import Dashboard, Widget
from metronome.digests.numbers import (
    NONE,
    change_note,
    field_label,
    format_number,
    metric_label,
    metric_unit,
    value_label,
)
from metronome.digests.schedule import Period

TOP_ROWS = 10
CHART_TYPES = ("line", "area", "bar", "pie", "donut", "scatter")
WIDE_CHARTS = ("line", "area", "scatter")  # a row of their own; the others two by two
SCHEDULE_NAMES: Mapping[Schedule, str] = {
    "daily": "Daily",
    "weekly": "Weekly",
    "monthly": "Monthly",
}
PNG = "image/png"


class AlertLike(Protocol):
    """An alert's state change, as ``metronome.alerts.history.alert_events`` lists them."""

    @property
    def rule(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def value(self) -> float | None: ...
    @property
    def summary(self) -> str: ...


@dataclass(frozen=True)
class File:
    """An attachment; ``inline_id`` set: an image of the HTML part (``cid:<inline_id>``)."""

    filename: str
    content_type: str
    data: bytes
    inline_id: str | None = None


@dataclass(frozen=True)
class DigestMail:
    subject: str
    text: str
    html: str
    files: tuple[File, ...] = ()


@dataclass(frozen=True)
class DigestInput:
    name: str
    schedule: Schedule
    tz: ZoneInfo
    site: str
    dashboard: Dashboard
    period: Period
    data: Mapping[str, Any]  # what metronome.dashboards.data.dashboard_data answered
    generated_at: datetime
    compare: Period | None = None  # the previous period the data is compared with
    charts: Mapping[str, bytes] = field(default_factory=dict)  # widget id -> PNG
    sources: Sequence[Mapping[str, Any]] = ()  # status rows (metronome.sources.status)
    alerts: Sequence[AlertLike] = ()
    files: Sequence[File] = ()  # the dashboard as PDF and XLSX
    link: str | None = None  # the dashboard in the app, for this period (server.public_url)


# --- what the data says -------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    widget: str
    title: str
    value: float | None
    previous: float | None
    text: str  # the value as the app writes it
    note: str  # "+12.5%", "new", "no data to compare"; "" without comparison
    direction: str  # up, down, flat, none


@dataclass(frozen=True)
class TopList:
    widget: str
    title: str
    columns: tuple[str, ...]  # the dimensions' labels, then the metrics'
    labels: int  # how many of the columns are dimensions (the others are numbers)
    rows: tuple[tuple[str, ...], ...]  # formatted cells
    changes: tuple[tuple[str, str], ...]  # per row: the first metric's change and direction


@dataclass(frozen=True)
class SourceLine:
    name: str
    type: str
    state: str  # ok, failing, stale
    last_success: str
    error: str


def shown_widgets(dashboard: Dashboard) -> list[Widget]:
    """The widgets that describe the digest's period (not those with a fixed range)."""
    return [w for w in dashboard.widgets if w.options.range is None]


def _answer(data: Mapping[str, Any], widget: Widget) -> Mapping[str, Any] | None:
    answer = (data.get("widgets") or {}).get(widget.id)
    if not isinstance(answer, Mapping) or "error" in answer:
        return None
    return answer


def kpis(dashboard: Dashboard, data: Mapping[str, Any]) -> list[Kpi]:
    found = []
    for widget in shown_widgets(dashboard):
        if widget.type != "number":
            continue
        metric = str(widget.query.get("metrics", ["count"])[0])
        unit = metric_unit(metric, widget.options.unit)
        title = widget.title or metric_label(metric)
        answer = _answer(data, widget)
        if answer is None:
            found.append(Kpi(widget.id, title, None, None, NONE, "not available", "none"))
            continue
        value, previous, change, compared = _total(answer)
        note, direction = change_note(value, previous, change) if compared else ("", "none")
        text = format_number(value, unit)
        found.append(Kpi(widget.id, title, value, previous, text, note, direction))
    return found


def _total(answer: Mapping[str, Any]) -> tuple[Any, Any, Any, bool]:
    """A number widget's value, previous value and change, and whether it was compared: its
    ``total`` (the same query without time) when it has one, else its only row."""
    part = answer.get("total") or answer
    rows = part.get("results") or []
    compared = "compare" in (part.get("query") or {})
    if not rows:
        return 0, (0 if compared else None), None, compared
    row = rows[0]
    compare = row.get("compare")
    if not compare:
        return row["metrics"][0], (0 if compared else None), None, compared
    return row["metrics"][0], compare["metrics"][0], compare["change"][0], compared


def top_lists(dashboard: Dashboard, data: Mapping[str, Any]) -> list[TopList]:
    lists = []
    for widget in shown_widgets(dashboard):
        answer = _answer(data, widget) if widget.type == "table" else None
        if answer is None:
            continue
        query = answer.get("query") or {}
        dimensions = [str(d) for d in query.get("dimensions", [])]
        keep = [i for i, d in enumerate(dimensions) if not d.startswith("time")]
        metrics = [str(m) for m in query.get("metrics", [])]
        units = [metric_unit(m, widget.options.unit) for m in metrics]
        rows, changes = [], []
        for row in (answer.get("results") or [])[:TOP_ROWS]:
            labels = [value_label(row["dimensions"][i], dimensions[i]) for i in keep]
            values = [format_number(v, u) for v, u in zip(row["metrics"], units, strict=True)]
            rows.append((*labels, *values))
            compare = row.get("compare")
            if compare:
                text, direction = change_note(
                    row["metrics"][0], compare["metrics"][0], compare["change"][0]
                )
                changes.append((text, direction))
            else:
                changes.append(("", "none"))
        columns = (*(field_label(dimensions[i]) for i in keep), *map(metric_label, metrics))
        lists.append(
            TopList(
                widget.id,
                widget.title or widget.id,
                columns,
                len(keep),
                tuple(rows),
                tuple(changes),
            )
        )
    return lists


def chart_widgets(dashboard: Dashboard, charts: Mapping[str, bytes]) -> list[Widget]:
    """The charts that have an image, in the dashboard's order."""
    return [w for w in shown_widgets(dashboard) if w.type in CHART_TYPES and charts.get(w.id)]


def dashboard_link(
    public_url: str | None,
    *,
    site: str,
    dashboard: str,
    period: Period,
    tz: ZoneInfo,
    interval: str,
) -> str | None:
    """The app's address of ``dashboard`` showing ``period`` against the previous one; None
    without ``server.public_url``. The app's ranges are days, the last one excluded."""
    if not public_url:
        return None
    start, end = period.local(tz)
    last = end.date() if end.time() == time(0) else end.date() + timedelta(days=1)
    query = urlencode(
        {"site": site, "d": dashboard, "range": f"{start.date()}..{last}", "interval": interval,
         "tz": tz.key, "compare": "previous"}
    )  # fmt: skip
    return f"{public_url.rstrip('/')}/?{query}"


def png_size(data: bytes) -> tuple[int, int] | None:
    """A PNG's width and height in pixels (its IHDR chunk), None if it is no PNG."""
    if len(data) < 24 or not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def source_lines(rows: Sequence[Mapping[str, Any]], site: str, tz: ZoneInfo) -> list[SourceLine]:
    lines = []
    for row in rows:
        if row.get("site") not in (None, site) or not row.get("enabled", True):
            continue
        state = "failing" if row.get("failing") else "stale" if row.get("stale") else "ok"
        error = row.get("last_error") or {}
        lines.append(
            SourceLine(
                name=str(row.get("name", "")),
                type=str(row.get("type", "")),
                state=state,
                last_success=when(row.get("last_success_at"), tz) or "never",
                error=str(error.get("message", ""))[:200] if state == "failing" else "",
            )
        )
    return lines


def when(value: Any, tz: ZoneInfo) -> str:
    """A moment as local "YYYY-MM-DD HH:MM"; "" for none."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        moment = datetime.fromisoformat(value)
    else:
        return ""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


# --- naming the period --------------------------------------------------------------------


def period_label(period: Period, tz: ZoneInfo) -> str:
    """How a period is named: "Monday, Oct 26, 2026" (a day), "Oct 19 to Oct 25, 2026" (a
    week, with an en dash), "October 2026" (a month); a period so far ends with its time and
    "(so far)"."""
    start, end = period.local(tz)
    if not period.complete:
        return f"{_day_range(start, end.date())}, {end:%H:%M} (so far)"
    last_day = (end - timedelta(days=1)).date()
    if period.schedule == "daily":
        return f"{start:%A}, {_day(start)}, {start.year}"
    if period.schedule == "monthly":
        return f"{start:%B %Y}"
    return _day_range(start, last_day)


def _day(moment: Any) -> str:
    return f"{moment:%b} {moment.day}"


def _day_range(start: datetime, last: Any) -> str:
    if start.date() == last:
        return f"{_day(start)}, {start.year}"
    if start.year == last.year:
        return f"{_day(start)} \u2013 {_day(last)}, {last.year}"
    return f"{_day(start)}, {start.year} \u2013 {_day(last)}, {last.year}"


def subject(digest: DigestInput) -> str:
    return (
        f"{SCHEDULE_NAMES[digest.schedule]} digest: {digest.dashboard.title} ({digest.site}), "
        f"{period_label(digest.period, digest.tz)}"
    )


def inline_id(digest: DigestInput, widget_id: str) -> str:
    return f"chart.{widget_id}.{digest.name}"  # what notify takes as a Content-ID


# --- the plain text ----------------------------------------------------------------------


def compare_label(digest: DigestInput) -> str:
    if digest.compare is None:
        return ""
    if digest.period.complete:
        return period_label(digest.compare, digest.tz)
    start, end = digest.compare.local(digest.tz)
    return f"{_day_range(start, end.date())}, {end:%H:%M}"


def render_text(digest: DigestInput) -> str:
    tz = digest.tz
    lines = [
        subject(digest),
        "",
        f"{digest.dashboard.title}, site {digest.site}: {period_label(digest.period, tz)} "
        f"({tz.key})",
    ]
    if digest.compare is not None:
        lines.append(f"Compared with {compare_label(digest)}.")
    numbers = kpis(digest.dashboard, digest.data)
    if numbers:
        lines.append("")
        width = max(len(k.title) for k in numbers)
        for kpi in numbers:
            note = f"   {kpi.note}" if kpi.note else ""
            lines.append(f"{kpi.title.ljust(width)}  {kpi.text}{note}")
    for top in top_lists(digest.dashboard, digest.data):
        lines += ["", top.title, "-" * len(top.title)]
        if not top.rows:
            lines.append("No data in this period.")
        for index, (row, (change, _)) in enumerate(zip(top.rows, top.changes, strict=True)):
            extra = f"  ({change})" if change else ""
            lines.append(f"{index + 1:>2}. {row[0]}: {', '.join(row[1:])}{extra}")
    charts = chart_widgets(digest.dashboard, digest.charts)
    if charts:
        lines += ["", "Charts (in the HTML version): " + ", ".join(title_of(w) for w in charts)]
    lines += _health_text(digest)
    attached = [f.filename for f in digest.files if f.inline_id is None]
    if attached:
        lines += ["", "Attached: " + ", ".join(attached)]
    if digest.link:
        lines += ["", f"Open the dashboard: {digest.link}"]
    lines += [
        "",
        f"-- Metronome, digest {digest.name!r}, made {when(digest.generated_at, tz)} {tz.key}",
    ]
    return "\n".join(lines) + "\n"


def _health_text(digest: DigestInput) -> list[str]:
    """The sources' and the alerts' sections of the text."""
    lines = ["", "Sources", "-------"]
    sources = source_lines(digest.sources, digest.site, digest.tz)
    if not sources:
        lines.append("No scheduled sources for this site.")
    for source in sources:
        error = f": {source.error}" if source.error else ""
        lines.append(
            f"{source.name} ({source.type}): {source.state}, last success "
            f"{source.last_success}{error}"
        )
    lines += ["", "Alerts", "------"]
    if not digest.alerts:
        lines.append("No alert fired or resolved in this period.")
    for alert in digest.alerts:
        moment = when(alert.at, digest.tz)
        lines.append(f"{moment}  {alert.state:<8} {alert.rule}: {alert.summary}")
    return lines


def title_of(widget: Widget) -> str:
    return widget.title or widget.id
