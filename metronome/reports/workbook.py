"""A report's numbers as a workbook: one sheet per widget, the rows the data endpoint
answered, in the columns of the query API's exports (``metronome.query.export``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metronome.query import export
from metronome.query.result import column_names
from metronome.reports.report import ReportData

SUMMARY_SHEET = "Report"


def xlsx(report: ReportData) -> bytes:
    """A first sheet saying what the numbers are (site, range, zone, comparison, filters),
    then one sheet per widget (its title) with every row of its answer; a widget that could
    not be answered gets a sheet with its error."""
    sheets: list[export.Table] = [(SUMMARY_SHEET, ["", ""], summary_rows(report))]
    widgets = report.data.get("widgets", {})
    for widget in report.dashboard.widgets:
        answer = widgets.get(widget.id) if isinstance(widgets, Mapping) else None
        sheets.append((widget.title or widget.id, *widget_table(answer)))
    return export.rows_to_xlsx(sheets)


def summary_rows(report: ReportData) -> list[list[Any]]:
    page = report.page
    answered = report.data.get("range") or {}
    compared = report.data.get("compare_range") or {}
    rows: list[list[Any]] = [
        ["Dashboard", report.title],
        ["Site", report.site],
        ["Range", _range_text(page.range)],
        ["From", answered.get("from")],
        ["To (excluded)", answered.get("to")],
        ["Granularity", page.interval],
        ["Time zone", page.tz],
        ["Compared with", page.compare or "none"],
    ]
    if compared:
        rows += [["Compare from", compared.get("from")], ["Compare to", compared.get("to")]]
    for label, filters in (("Fixed filter", report.fixed_filters), ("Filter", page.filters)):
        rows += [[label, _filter_text(item)] for item in filters]
    rows.append(["Generated", report.generated_at.isoformat()])
    return rows


def widget_table(answer: Any) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of one widget's answer (as ``POST /api/v1/query`` gave them)."""
    if not isinstance(answer, Mapping) or "results" not in answer:
        error = answer.get("error", {}) if isinstance(answer, Mapping) else {}
        return ["error", "message"], [[error.get("code", "missing"), error.get("message", "")]]
    query = answer.get("query", {})
    compared = "compare" in query
    header = column_names(query.get("dimensions", []), query.get("metrics", []), compared)
    rows = [_values(row, compared) for row in answer["results"]]
    total = answer.get("total")
    if isinstance(total, Mapping) and total.get("results"):
        # A number over time: its total (the query without time), under the time column.
        width = len(query.get("dimensions", []))
        row = total["results"][0]
        rows.append(["Total", *[None] * (width - 1), *_values(row, compared)])
    return header, rows


def _values(row: Mapping[str, Any], compared: bool) -> list[Any]:
    values: list[Any] = [*row.get("dimensions", []), *row.get("metrics", [])]
    if compared:
        compare = row.get("compare") or {}
        width = len(row.get("metrics", []))
        values += compare.get("metrics") or [None] * width
        values += compare.get("change") or [None] * width
    return values


def _range_text(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else " to ".join(str(part) for part in value)


def _filter_text(item: Sequence[Any]) -> str:
    if len(item) == 3 and isinstance(item[2], list | tuple):
        return f"{item[1]} {item[0]} {', '.join(str(v) for v in item[2])}"
    return str(list(item))
