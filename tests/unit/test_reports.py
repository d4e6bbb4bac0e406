"""The pure parts of the reports: what the report page is given, its HTML (no text in the data
can end its script element), the page geometry, the file names, the workbook's tables, and
the query parameters of the report endpoints."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from werkzeug.datastructures import MultiDict

from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.data import PageState
from metronome.dashboards.definition import Dashboard
from metronome.errors import ApiError
from metronome.query.result import column_names
from metronome.reports import ReportData, report_filename, xlsx
from metronome.reports.page import PDF_SCALE, pdf_viewport_width, report_html
from metronome.reports.report import payload
from metronome.reports.workbook import widget_table
from metronome.snippet.bundle import Manifest
from metronome.web.views.reports import page_parameters

AT = datetime(2026, 12, 7, 4, 30, tzinfo=UTC)


def web() -> Dashboard:
    return next(d for d in builtin_dashboards() if d.id == "web")


def report(data: dict[str, Any] | None = None, title: str = "Web analytics") -> ReportData:
    page = PageState("30d", "day", "Europe/Warsaw", "previous", (["is", "event", ["view"]],))
    answered = {"range": {"from": "2026-11-07T00:00:00+01:00", "to": "2026-12-07T00:00:00+01:00"}}
    return ReportData(web(), data or answered, page, "shop", title, AT)


def test_the_page_gets_the_definition_the_data_and_the_page_state() -> None:
    made = payload(report())
    assert made["dashboard"]["id"] == "web" and len(made["dashboard"]["widgets"]) == 15
    page = {"range": "30d", "interval": "day", "tz": "Europe/Warsaw", "compare": "previous"}
    assert made["page"] == {**page, "filters": [["is", "event", ["view"]]]}
    assert made["site"] == "shop" and made["generated_at"] == "2026-12-07T04:30:00+00:00"
    assert made["fixed_filters"] == []


def test_no_text_in_the_data_can_end_the_script_element() -> None:
    hostile = report(title="</script><script>alert(1)</script><!--")
    html = report_html(Manifest(js="app.ABCDEF12.js", css="app.ABCDEF12.css"), payload(hostile),
                       "pdf")  # fmt: skip
    script = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
    assert script is not None
    assert "<" not in script.group(1) and ">" not in script.group(1)
    assert json.loads(script.group(1))["title"] == hostile.title
    assert html.count("<script") == 2  # the data and the app's module, nothing injected
    assert "&lt;/script&gt;" in html  # the <title>


def test_the_layout_width_prints_onto_the_paper_s_printable_width() -> None:
    a4, letter = pdf_viewport_width("a4"), pdf_viewport_width("letter")
    assert a4 * PDF_SCALE == pytest.approx(190 / 25.4 * 96, abs=1)
    assert letter > a4 > 800  # wide enough for the desktop grid (the phone layout is < 700)


def test_files_are_named_by_dashboard_site_and_days() -> None:
    assert report_filename(report(), "pdf") == "web-shop-20261107-20261207.pdf"
    assert report_filename(ReportData(web(), {}, report().page, "a b/c", "", AT), "png") == (
        "web-a-b-c.png"
    )


def test_a_widget_s_table_has_the_export_columns_and_its_total() -> None:
    answer = {
        "results": [
            {"dimensions": ["2026-12-01"], "metrics": [3],
             "compare": {"metrics": [0], "change": [None]}},
            {"dimensions": ["2026-12-02"], "metrics": [5],
             "compare": {"metrics": [4], "change": [25.0]}},
        ],
        "query": {"dimensions": ["time:day"], "metrics": ["count"],
                  "compare": {"mode": "previous"}},
        "total": {"results": [{"dimensions": [], "metrics": [8],
                               "compare": {"metrics": [4], "change": [100.0]}}]},
    }  # fmt: skip
    header, rows = widget_table(answer)
    assert header == column_names(["time:day"], ["count"], True)
    assert header == ["time:day", "count", "count (compare)", "count change %"]
    assert rows == [["2026-12-01", 3, 0, None], ["2026-12-02", 5, 4, 25.0],
                    ["Total", 8, 4, 100.0]]  # fmt: skip
    assert widget_table({"error": {"code": "unknown_field", "message": "no geo"}}) == (
        ["error", "message"],
        [["unknown_field", "no geo"]],
    )


def test_the_workbook_has_a_summary_then_a_sheet_per_widget() -> None:
    book = load_workbook(io.BytesIO(xlsx(report())))
    assert book.sheetnames[0] == "Report" and len(book.sheetnames) == 16
    summary = {row[0]: row[1] for row in book["Report"].iter_rows(min_row=2, values_only=True)}
    assert summary["Site"] == "shop" and summary["Filter"] == "event is view"
    assert summary["From"] == "2026-11-07T00:00:00+01:00"
    assert book.sheetnames[1] == "Page views"
    assert list(book["Page views"].iter_rows(values_only=True))[1][0] == "missing"


def test_query_parameters_become_the_data_endpoint_s_body() -> None:
    body, paper = page_parameters(MultiDict({
        "site": "shop", "range": "2026-01-01..2026-02-01", "interval": "week", "tz": "UTC",
        "compare": "none", "filters": '[["is","event",["view"]]]', "paper": "Letter",
    }))  # fmt: skip
    assert body == {"site": "shop", "interval": "week", "tz": "UTC",
                    "range": ["2026-01-01", "2026-02-01"], "compare": None,
                    "filters": [["is", "event", ["view"]]]}  # fmt: skip
    assert paper == "letter"
    body, paper = page_parameters(MultiDict({"range": '["2026-01-01","2026-01-08"]'}))
    assert body == {"range": ["2026-01-01", "2026-01-08"]} and paper == "a4"
    assert page_parameters(MultiDict({"range": "7d", "compare": "week"}))[0] == {
        "range": "7d",
        "compare": "week",
    }


@pytest.mark.parametrize(
    ("args", "field"),
    [({"paper": "a3"}, "paper"), ({"filters": "[oops"}, "filters"), ({"colour": "red"}, "colour"),
     ({"range": "[2026"}, "range")],
)  # fmt: skip
def test_bad_parameters_are_refused_by_name(args: dict[str, str], field: str) -> None:
    with pytest.raises(ApiError) as refused:
        page_parameters(MultiDict(args))
    assert refused.value.status == 422 and refused.value.field == field
