"""What a digest says, from crafted dashboard answers (pure): numbers written as the app
writes them, KPIs with their change, top lists, period names, sources' states, alerts, and an
HTML part that escapes what it shows and loads nothing from elsewhere."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from metronome.dashboards.definition import parse_dashboard
from metronome.digests.content import (
    DigestInput,
    File,
    dashboard_link,
    kpis,
    period_label,
    png_size,
    source_lines,
    top_lists,
)
from metronome.digests.mail import build_mail, to_message
from metronome.digests.numbers import change_note, format_change, format_number
from metronome.digests.schedule import Period, last_full_period, period_so_far

WARSAW = ZoneInfo("Europe/Warsaw")
PNG_HEADER = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000258000001400806000000"
)  # a PNG header claiming 600 x 320


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1234567, None, "1,234,567"), (0.5, None, "0.5"), (2.0, None, "2"), (None, None, "\u2013"),
        (1234.5678, None, "1,234.57"), (-1500, None, "-1,500"), (12.5, "%", "12.5%"),
        (999, "bytes", "999 B"), (1500, "bytes", "1.5 KB"), (3_400_000, "bytes", "3.4 MB"),
        (250, "ms", "250 ms"), (1500, "ms", "1.5 s"), (90_000, "ms", "1.5 min"),
        (7_200_000, "ms", "2 h"),
    ],
)  # fmt: skip
def test_numbers_as_the_app_writes_them(value: Any, unit: str | None, text: str) -> None:
    assert format_number(value, unit) == text


def test_changes_as_the_app_writes_them() -> None:
    assert format_change(12.345) == "+12.3%"
    assert format_change(-3) == "\u22123%"
    assert format_change(0.04) == "0%"
    assert format_change(150.4) == "+150%"
    assert format_change(None) == ""
    assert change_note(5, 0, None) == ("new", "up")
    assert change_note(0, 0, None) == ("0%", "flat")
    assert change_note(9, 4, 125.0) == ("+125%", "up")
    assert change_note(2, 4, None) == ("\u221250%", "down")
    assert change_note(None, 4, None) == ("no data to compare", "none")


def widget(widget_id: str, kind: str, query: dict[str, Any], **options: Any) -> dict[str, Any]:
    layout = {"x": 0, "y": 0, "w": 12, "h": 3}
    return {"id": widget_id, "title": widget_id.title(), "type": kind, "layout": layout,
            "query": query, "options": options}  # fmt: skip


COUNT_OVER_TIME = {"metrics": ["count"], "dimensions": ["time"]}
DASHBOARD = parse_dashboard(
    {
        "id": "shop",
        "title": "Shop <b>&</b> co",
        "widgets": [
            widget("views", "number", COUNT_OVER_TIME),
            widget("bytes", "number", {"metrics": ["sum:http.bytes"]}, overlay=False),
            widget("broken", "number", {"metrics": ["count"]}),
            widget("pages", "table", {"metrics": ["count"], "dimensions": ["id"], "limit": 20}),
            widget("trend", "line", COUNT_OVER_TIME),
            widget("now", "bar", {"metrics": ["count"], "dimensions": ["time:minute"]},
                   range="30m"),
        ],
    },
    lambda stream: None,
)  # fmt: skip
COMPARED = {"compare": {"mode": "previous"}}
DATA: dict[str, Any] = {
    "widgets": {
        "views": {"results": [], "query": COMPARED, "total": {"query": COMPARED, "results": [
            {"dimensions": [], "metrics": [1234],
             "compare": {"metrics": [1000], "change": [23.4]}}]}},
        "bytes": {"results": [{"dimensions": [], "metrics": [2_500_000]}], "query": {}},
        "broken": {"error": {"code": "unknown_field", "message": "no field"}},
        "pages": {"query": {"dimensions": ["id"], "metrics": ["count"], **COMPARED}, "results": [
            {"dimensions": [f"/p{n}<x>"], "metrics": [100 - n],
             "compare": {"metrics": [50], "change": [None if n == 3 else 10.0]}}
            for n in range(15)]},
        "trend": {"results": [], "query": {}},
    }
}  # fmt: skip


def test_kpis_carry_their_value_and_change() -> None:
    found = {k.widget: k for k in kpis(DASHBOARD, DATA)}
    assert (found["views"].text, found["views"].note, found["views"].direction) == (
        "1,234", "+23.4%", "up",
    )  # fmt: skip
    assert (found["bytes"].text, found["bytes"].note) == ("2.5 MB", "")  # not compared
    assert (found["broken"].text, found["broken"].note) == ("\u2013", "not available")


def test_top_lists_keep_the_first_ten_rows() -> None:
    (pages,) = top_lists(DASHBOARD, DATA)
    assert pages.columns == ("Item", "Count") and pages.labels == 1
    assert len(pages.rows) == 10 and pages.rows[0] == ("/p0<x>", "100")
    assert pages.changes[0] == ("+10%", "up")


def test_period_names() -> None:
    now = datetime(2026, 10, 28, 9, 17, tzinfo=UTC)
    assert period_label(last_full_period(now, "daily", WARSAW), WARSAW) == "Tuesday, Oct 27, 2026"
    assert period_label(last_full_period(now, "weekly", WARSAW), WARSAW) == (
        "Oct 19 \u2013 Oct 25, 2026"
    )
    assert period_label(last_full_period(now, "monthly", WARSAW), WARSAW) == "September 2026"
    new_year = datetime(2027, 1, 1, 12, tzinfo=UTC)  # Thursday: the week of Dec 21-27
    assert period_label(last_full_period(new_year, "weekly", WARSAW), WARSAW) == (
        "Dec 21 \u2013 Dec 27, 2026"
    )
    assert period_label(period_so_far(now, "weekly", WARSAW), WARSAW) == (
        "Oct 26 \u2013 Oct 28, 2026, 10:17 (so far)"
    )


def test_sources_states() -> None:
    rows = [
        {"name": "gh", "type": "github", "site": "shop", "failing": True, "stale": True,
         "last_success_at": "2026-10-25T06:00:00+00:00", "last_error": {"message": "401"}},
        {"name": "s3", "type": "s3_access_logs", "site": "shop", "failing": False, "stale": True,
         "last_success_at": None},
        {"name": "ok", "type": "json_api", "site": "shop", "failing": False, "stale": False,
         "last_success_at": "2026-10-26T06:00:00+00:00"},
        {"name": "other", "type": "json_api", "site": "blog", "failing": True, "stale": False},
    ]  # fmt: skip
    lines = source_lines(rows, "shop", WARSAW)
    assert [(s.name, s.state, s.last_success, s.error) for s in lines] == [
        ("gh", "failing", "2026-10-25 07:00", "401"),
        ("s3", "stale", "never", ""),
        ("ok", "ok", "2026-10-26 07:00", ""),
    ]


@dataclass(frozen=True)
class Alert:
    rule: str
    state: str
    at: datetime
    value: float | None
    summary: str


def test_the_mail_escapes_what_it_shows_and_refers_to_its_images() -> None:
    period = Period(
        datetime(2026, 10, 18, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC), "weekly"
    )
    digest = DigestInput(
        name="team", schedule="weekly", tz=WARSAW, site="shop", dashboard=DASHBOARD,
        period=period, data=DATA, generated_at=datetime(2026, 10, 26, 7, tzinfo=UTC),
        charts={"trend": PNG_HEADER, "now": PNG_HEADER},
        alerts=[Alert("views-low", "firing", datetime(2026, 10, 20, 9, tzinfo=UTC), 3.0,
                      "Views <3> below 10")],
        files=[File("shop.xlsx", "application/x", b"x")],
    )  # fmt: skip
    mail = build_mail(digest)
    assert "<b>&</b>" not in mail.html and "Shop &lt;b&gt;&amp;&lt;/b&gt; co" in mail.html
    assert "/p0&lt;x&gt;" in mail.html and "Views &lt;3&gt; below 10" in mail.html
    assert set(re.findall(r'src="cid:([^"]+)"', mail.html)) == {"chart.trend.team"}
    assert [f.filename for f in mail.files] == ["trend.png", "shop.xlsx"]  # "now": fixed range
    assert 'width="576" height="307"' in mail.html  # 600 x 320 shown at the column's width
    assert "<script" not in mail.html and "http" not in mail.html
    assert "2026-10-20 11:00  firing   views-low: Views <3> below 10" in mail.text
    message = to_message(mail, {"digest": "team"})
    assert message.html == mail.html and message.fields == {"digest": "team"}
    assert [a.inline_id for a in message.attachments] == ["chart.trend.team", None]


def test_png_size() -> None:
    assert png_size(PNG_HEADER) == (600, 320)
    assert png_size(b"GIF89a") is None


def test_the_link_to_the_dashboard_in_the_app() -> None:
    week = last_full_period(datetime(2026, 10, 28, tzinfo=UTC), "weekly", WARSAW)
    place: dict[str, Any] = {
        "site": "shop", "dashboard": "web", "period": week, "tz": WARSAW, "interval": "day",
    }  # fmt: skip
    assert dashboard_link(None, **place) is None
    link = dashboard_link("https://metronome.example.org", **place)
    assert link is not None
    assert link == (
        "https://metronome.example.org/?site=shop&d=web&range=2026-10-19..2026-10-26"
        "&interval=day&tz=Europe%2FWarsaw&compare=previous"
    )
    so_far = period_so_far(datetime(2026, 10, 28, 9, tzinfo=UTC), "weekly", WARSAW)
    assert "range=2026-10-26..2026-10-29" in str(
        dashboard_link("https://m.example.org", **{**place, "period": so_far})
    )
    digest = DigestInput(
        name="team", schedule="weekly", tz=WARSAW, site="shop", dashboard=DASHBOARD,
        period=week, data=DATA, generated_at=datetime(2026, 10, 26, 7, tzinfo=UTC), link=link,
    )  # fmt: skip
    mail = build_mail(digest)
    assert f"Open the dashboard: {link}" in mail.text
    assert f'href="{link.replace("&", "&amp;")}"' in mail.html
