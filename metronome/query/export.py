"""Table writers for exports: CSV, XLSX and NDJSON. Pure functions, no Flask, no files.

A table is a header (column names) and rows (sequences of plain values in header order).
CSV and NDJSON are produced line by line, so a caller can stream millions of rows in constant
memory; XLSX is a zip that is only valid once complete, so it comes back as bytes.

Formula injection (OWASP "CSV Injection"): a spreadsheet that opens an export runs any cell
that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (``\\t`` and ``\\r`` can hide such a
start), and hit values come from the public internet. With ``escape_formulas=True`` (the
default) such *text* cells are neutralised: in CSV by a leading ``'`` (OWASP's advice; the cell
then reads ``'=1+1``), in XLSX by storing them as text with Excel's own quote-prefix flag, so the
value stays exact and Excel still never evaluates it. Numbers are never touched (``-5`` as a
number is data, not a formula). Pass ``escape_formulas=False`` for machine consumers that want
the raw text in CSV; XLSX cells are always written as text, never as formulas.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]

# what every .xlsx download and attachment is sent as
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Table = tuple[str, list[str], Iterable[Sequence[Any]]]

FORMULA_STARTS = frozenset("=+-@\t\r")
# Excel stores numbers as doubles: larger integers would silently lose digits (ids, cents).
EXACT_INT_LIMIT = 2**53
# XML 1.0 cannot hold these control characters; openpyxl refuses the whole workbook.
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
SHEET_NAME_ILLEGAL = re.compile(r"[\[\]:*?/\\]")
MAX_SHEET_NAME = 31
TOCK_SECTIONS = ("views", "views_compare", "downloads", "referers", "totals", "totals_compare")


# --- CSV ----------------------------------------------------------------------------------


def rows_to_csv(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, escape_formulas: bool = True
) -> Iterator[str]:
    """RFC 4180 lines (``\\r\\n``), the header first; one string per row, yielded as it comes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    # Column names are ours or the requester's, never a hit's (hit parameter names start with
    # a letter), and guarding would turn "@timestamp" into "'@timestamp".
    writer.writerow([str(name) for name in header])
    yield _drain(buffer)
    for row in rows:
        writer.writerow([_csv_cell(value, escape_formulas) for value in row])
        yield _drain(buffer)


def cell_text(value: Any) -> str:
    """How one value reads in a text export: None empty, booleans lower case, JSON for nesting."""
    # Ordered by frequency with exact type checks first: this runs once per cell of an export.
    if isinstance(value, str):
        return value
    kind = type(value)
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        # Stored numbers are doubles: 3.0 reads as 3, everything else as the shortest repr
        # that parses back to the same double.
        if value.is_integer() and abs(value) < EXACT_INT_LIMIT:
            return str(int(value))
        return repr(value)
    if isinstance(value, dict | list | tuple | Mapping):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _csv_cell(value: Any, escape_formulas: bool) -> str:
    if type(value) is str:
        if escape_formulas and value[:1] in FORMULA_STARTS:
            return "'" + value
        return value
    return cell_text(value)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


# --- NDJSON -------------------------------------------------------------------------------


def rows_to_ndjson(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """One JSON object per row and line (``\\n``), keys in header order; no formula guard."""
    names = list(header)
    for row in rows:
        yield ndjson_line(dict(zip(names, row, strict=True)))


def ndjson_line(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --- XLSX ---------------------------------------------------------------------------------


def rows_to_xlsx(sheets: Sequence[Table], *, escape_formulas: bool = True) -> bytes:
    """One worksheet per ``(name, header, rows)``: bold, frozen header row and typed cells.

    Numbers stay numbers, booleans booleans, datetimes Excel datetimes (aware ones converted
    to UTC, since Excel has no time zones), nested values JSON text. Write-only mode keeps
    rows on disk rather than in memory while the workbook is built.
    """
    workbook = Workbook(write_only=True)
    used: set[str] = set()
    for name, header, rows in sheets:
        sheet = workbook.create_sheet(_sheet_name(name, used))
        sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header_cells = []
        for column in header:
            cell = WriteOnlyCell(sheet, value=_xml_safe(str(column)))
            cell.data_type = "s"
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for row in rows:
            sheet.append([_xlsx_cell(sheet, value, escape_formulas) for value in row])
    if not used:  # a workbook without sheets cannot be opened
        workbook.create_sheet("Sheet")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_cell(sheet: Any, value: Any, escape_formulas: bool) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < EXACT_INT_LIMIT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return value
    text = _xml_safe(value if isinstance(value, str) else cell_text(value))
    # openpyxl writes any string that starts with "=" as a formula: force the text type.
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"
    if escape_formulas and text[:1] in FORMULA_STARTS:
        cell.quotePrefix = True
    return cell


def _xml_safe(text: str) -> str:
    return XML_ILLEGAL.sub("\ufffd", text)


def _sheet_name(name: str, used: set[str]) -> str:
    """Excel's rules: 1-31 characters, none of ``[]:*?/\\``, unique regardless of case."""
    base = SHEET_NAME_ILLEGAL.sub("_", name).strip("'")[:MAX_SHEET_NAME] or "Sheet"
    candidate, number = base, 1
    while candidate.lower() in used:
        number += 1
        suffix = f" ({number})"
        candidate = base[: MAX_SHEET_NAME - len(suffix)] + suffix
    used.add(candidate.lower())
    return candidate


# --- /tock results ------------------------------------------------------------------------


def tock_tables(result: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """A /tock answer as three tables: views per bucket, downloads by format, views by referrer."""
    views: Mapping[str, Any] = result.get("views", {})
    compare: Mapping[str, Any] | None = result.get("views_compare")
    if compare is None:
        view_table = ("views", ["bucket", "views"], [[k, n] for k, n in views.items()])
    else:
        view_table = (
            "views",
            ["bucket", "views", "views_compare"],
            [[k, n, compare.get(k)] for k, n in views.items()],
        )
    return [
        view_table,
        ("downloads", ["format", "downloads"], _pairs(result.get("downloads", {}))),
        ("referers", ["referrer", "views"], _pairs(result.get("referers", {}))),
    ]


def tock_totals_table(result: Mapping[str, Any]) -> tuple[str, list[str], list[list[Any]]]:
    totals: Mapping[str, Any] = result.get("totals", {})
    compare: Mapping[str, Any] | None = result.get("totals_compare")
    if compare is None:
        return ("totals", ["total", "value"], _pairs(totals))
    rows = [[k, n, compare.get(k)] for k, n in totals.items()]
    return ("totals", ["total", "value", "value_compare"], rows)


def tock_xlsx(result: Mapping[str, Any]) -> bytes:
    return rows_to_xlsx([*tock_tables(result), tock_totals_table(result)])


def tock_csv(result: Mapping[str, Any]) -> str:
    """The whole /tock answer as one long CSV: ``section,key,value``, sections in API order.

    One file holds what the JSON holds; a spreadsheet pivot on ``section`` gives the tables back.
    """
    rows = (
        (section, key, value)
        for section in TOCK_SECTIONS
        for key, value in (result.get(section) or {}).items()
    )
    return "".join(rows_to_csv(["section", "key", "value"], rows))


def _pairs(mapping: Mapping[str, Any]) -> list[list[Any]]:
    return [[key, value] for key, value in mapping.items()]
