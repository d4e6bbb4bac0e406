"""The export writers (CSV, NDJSON, XLSX), the /tock tables, and the raw-export helpers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import count, islice
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]

from metronome.query.events import events_query, flatten, leaf_fields, pick
from metronome.query.export import (
    rows_to_csv,
    rows_to_ndjson,
    rows_to_xlsx,
    tock_csv,
    tock_tables,
    tock_xlsx,
)

TOCK = {
    "id": "dataset-42",
    "views": {"2015-01-20": 0, "2015-01-21": 8800, "2015-01-22": 9200},
    "downloads": {"csv": 120000, "kml": 4500},
    "referers": {"arcgis.com": 4200, "washingtonpost.com/articles/dc-news": 230},
    "totals": {"views": 18000, "downloads": 124500, "visitors": 5200},
    "from": "2015-01-20T00:00:00+00:00",
    "to": "2015-01-23T00:00:00+00:00",
    "interval": "day",
    "tz": "UTC",
}
TOCK_COMPARED = {
    **TOCK,
    "views_compare": {"2015-01-20": 1, "2015-01-21": 2, "2015-01-22": 3},
    "totals_compare": {"views": 6, "downloads": 0, "visitors": 2},
}


def csv_text(header: list[str], rows: list[list[Any]], **kwargs: Any) -> str:
    return "".join(rows_to_csv(header, rows, **kwargs))


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def read_xlsx(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data))


# --- CSV ----------------------------------------------------------------------------------


def test_csv_lines_end_with_crlf_and_quote_only_what_needs_it() -> None:
    text = csv_text(["a", "b"], [["plain", 'say "hi", twice'], ["two\nlines", "x\r\ny"]])
    assert text == 'a,b\r\nplain,"say ""hi"", twice"\r\n"two\nlines","x\r\ny"\r\n'
    assert parse_csv(text) == [
        ["a", "b"],
        ["plain", 'say "hi", twice'],
        ["two\nlines", "x\r\ny"],
    ]


def test_csv_values_none_bool_numbers_dates_and_nesting() -> None:
    row = [
        None,
        True,
        False,
        3,
        3.0,
        2.5,
        0.1,
        1e20,
        datetime(2015, 1, 22, 13, 5, tzinfo=UTC),
        date(2015, 1, 22),
        {"price": 3.5, "tags": ["a", "é"]},
        [1, 2],
    ]
    [line] = parse_csv(csv_text([str(i) for i in range(len(row))], [row]))[1:]
    assert line == [
        "",
        "true",
        "false",
        "3",
        "3",
        "2.5",
        "0.1",
        "1e+20",
        "2015-01-22T13:05:00+00:00",
        "2015-01-22",
        '{"price":3.5,"tags":["a","é"]}',
        "[1,2]",
    ]
    assert float(line[6]) == 0.1  # the repr round-trips


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_text_that_a_spreadsheet_would_run_gets_a_leading_quote(text: str) -> None:
    [_, [guarded]] = parse_csv(csv_text(["v"], [[text]]))
    assert guarded == "'" + text
    [_, [raw]] = parse_csv(csv_text(["v"], [[text]], escape_formulas=False))
    assert raw == text


def test_csv_formula_guard_leaves_numbers_harmless_text_and_the_header_alone() -> None:
    text = csv_text(["@timestamp", "n"], [[-5, "a=b"], [-2.5, "safe"]])
    assert parse_csv(text) == [["@timestamp", "n"], ["-5", "a=b"], ["-2.5", "safe"]]


def test_csv_is_streamed_row_by_row() -> None:
    rows: Iterator[list[Any]] = ([i] for i in count())  # never ends: must not be collected
    assert list(islice(rows_to_csv(["n"], rows), 3)) == ["n\r\n", "0\r\n", "1\r\n"]


# --- NDJSON -------------------------------------------------------------------------------


def test_ndjson_is_one_object_per_line_in_header_order() -> None:
    lines = list(
        rows_to_ndjson(
            ["b", "a", "when"],
            [[1, "é", datetime(2015, 1, 22, tzinfo=UTC)], [None, {"x": [1]}, None]],
        )
    )
    assert lines == [
        '{"b": 1, "a": "é", "when": "2015-01-22T00:00:00+00:00"}\n',
        '{"b": null, "a": {"x": [1]}, "when": null}\n',
    ]
    assert [list(json.loads(line)) for line in lines] == [["b", "a", "when"]] * 2


def test_ndjson_refuses_a_row_that_does_not_match_the_header() -> None:
    with pytest.raises(ValueError):
        list(rows_to_ndjson(["a", "b"], [[1]]))


# --- XLSX ---------------------------------------------------------------------------------


def test_xlsx_cells_come_back_typed_and_equal_to_the_input() -> None:
    moment = datetime(2015, 1, 22, 13, 5, 7, 250000)
    rows = [
        ["dataset-42", 3, 2.5, True, moment, date(2015, 1, 22), None],
        ["ünïcode", -7, 1e-3, False, moment + timedelta(days=1), date(2016, 2, 29), "x"],
    ]
    header = ["id", "n", "price", "bot", "at", "day", "extra"]
    sheet = read_xlsx(rows_to_xlsx([("hits", header, rows)]))["hits"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == header
    assert values[1][:5] == rows[0][:5]
    assert values[2][:5] == rows[1][:5]
    assert values[1][5].date() == date(2015, 1, 22)  # Excel has no pure dates
    assert values[1][6] is None
    types = [cell.data_type for cell in next(iter(sheet.iter_rows(min_row=2)))]
    assert types[:5] == ["s", "n", "n", "b", "d"]


def test_xlsx_header_is_bold_and_frozen() -> None:
    book = read_xlsx(rows_to_xlsx([("views", ["bucket", "views"], [["2015-01-22", 1]])]))
    sheet = book["views"]
    assert sheet.freeze_panes == "A2"
    assert [cell.font.b for cell in sheet[1]] == [True, True]
    assert sheet["A2"].font.b is not True


def test_xlsx_aware_datetimes_become_naive_utc() -> None:
    warsaw_evening = datetime(2015, 1, 22, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    sheet = read_xlsx(rows_to_xlsx([("s", ["at"], [[warsaw_evening]])]))["s"]
    assert sheet["A2"].value == datetime(2015, 1, 21, 23, 30)


def test_xlsx_formula_text_is_stored_as_text_never_as_a_formula() -> None:
    texts = ['=HYPERLINK("http://evil")', "+1", "-2", "@x", "\t=1"]
    guarded = read_xlsx(rows_to_xlsx([("s", ["v"], [[t] for t in texts])]))["s"]
    cells = [row[0] for row in guarded.iter_rows(min_row=2)]
    assert [c.value for c in cells] == texts
    assert {c.data_type for c in cells} == {"s"}
    assert all(c.quotePrefix for c in cells)

    raw = read_xlsx(rows_to_xlsx([("s", ["v"], [["=1+1"]])], escape_formulas=False))["s"]
    assert (raw["A2"].value, raw["A2"].data_type, raw["A2"].quotePrefix) == ("=1+1", "s", False)


def test_xlsx_keeps_what_excel_cannot_hold_as_text() -> None:
    rows = [[2**60, float("nan"), {"a": [1]}, "bell\x07"]]
    sheet = read_xlsx(rows_to_xlsx([("s", ["big", "nan", "obj", "ctl"], rows)]))["s"]
    assert [c.value for c in sheet[2]] == [str(2**60), "nan", '{"a":[1]}', "bell\ufffd"]


def test_xlsx_sheet_names_follow_excels_rules() -> None:
    sheets: list[tuple[str, list[str], list[list[Any]]]] = [
        ("a/b:c", ["x"], []),
        ("A_B_C", ["x"], []),
        ("x" * 40, ["x"], []),
    ]
    book = read_xlsx(rows_to_xlsx(sheets))
    assert book.sheetnames == ["a_b_c", "A_B_C (2)", "x" * 31]


def test_xlsx_without_sheets_is_still_a_workbook() -> None:
    assert read_xlsx(rows_to_xlsx([])).sheetnames == ["Sheet"]


# --- /tock --------------------------------------------------------------------------------


def test_tock_tables_views_downloads_referers() -> None:
    assert tock_tables(TOCK) == [
        (
            "views",
            ["bucket", "views"],
            [["2015-01-20", 0], ["2015-01-21", 8800], ["2015-01-22", 9200]],
        ),
        ("downloads", ["format", "downloads"], [["csv", 120000], ["kml", 4500]]),
        (
            "referers",
            ["referrer", "views"],
            [["arcgis.com", 4200], ["washingtonpost.com/articles/dc-news", 230]],
        ),
    ]


def test_tock_tables_put_the_comparison_beside_the_views() -> None:
    views = tock_tables(TOCK_COMPARED)[0]
    assert views[1] == ["bucket", "views", "views_compare"]
    assert views[2] == [["2015-01-20", 0, 1], ["2015-01-21", 8800, 2], ["2015-01-22", 9200, 3]]


def sections_of(text: str) -> dict[str, dict[str, int]]:
    header, *rows = parse_csv(text)
    assert header == ["section", "key", "value"]
    sections: dict[str, dict[str, int]] = {}
    for section, key, value in rows:
        sections.setdefault(section, {})[key] = int(value)
    return sections


def test_tock_csv_round_trips_every_section() -> None:
    assert sections_of(tock_csv(TOCK)) == {
        name: TOCK[name] for name in ("views", "downloads", "referers", "totals")
    }
    compared = sections_of(tock_csv(TOCK_COMPARED))
    assert list(compared) == [
        "views",
        "views_compare",
        "downloads",
        "referers",
        "totals",
        "totals_compare",
    ]
    assert compared == {name: TOCK_COMPARED[name] for name in compared}


def test_tock_csv_guards_formats_sent_by_clients() -> None:
    result = {**TOCK, "downloads": {"=cmd|' /C calc'!A0": 1}}
    assert sections_of(tock_csv(result))["downloads"] == {"'=cmd|' /C calc'!A0": 1}


def test_tock_xlsx_has_the_three_tables_and_totals() -> None:
    book = read_xlsx(tock_xlsx(TOCK_COMPARED))
    assert book.sheetnames == ["views", "downloads", "referers", "totals"]
    assert [[c.value for c in row] for row in book["totals"].iter_rows()] == [
        ["total", "value", "value_compare"],
        ["views", 18000, 6],
        ["downloads", 124500, 0],
        ["visitors", 5200, 2],
    ]
    assert book["views"]["B3"].value == 8800


# --- raw export helpers -------------------------------------------------------------------


def test_flatten_turns_nested_objects_into_dotted_keys() -> None:
    doc = {"id": "a", "url": {"host": "x.org", "path": "/"}, "tags": [1, {"b": 2}], "empty": {}}
    assert flatten(doc) == {
        "id": "a",
        "url.host": "x.org",
        "url.path": "/",
        "tags": [1, {"b": 2}],
        "empty": {},
    }


def test_pick_finds_leaves_and_whole_objects() -> None:
    doc = {"url": {"host": "x.org"}, "n": 0}
    flat = flatten(doc)
    assert pick(doc, flat, "url.host") == "x.org"
    assert pick(doc, flat, "url") == {"host": "x.org"}
    assert pick(doc, flat, "n") == 0
    assert pick(doc, flat, "missing.field") is None


def test_leaf_fields_are_the_flattened_source_names() -> None:
    properties = {
        "@timestamp": {"type": "date"},
        "message": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
        "url": {"properties": {"host": {"type": "keyword"}, "path": {"type": "keyword"}}},
        "items": {"type": "nested", "properties": {"sku": {"type": "keyword"}}},
        "empty": {"type": "object"},
        "short": {"type": "alias", "path": "url.host"},
    }
    assert leaf_fields(properties) == ["@timestamp", "message", "url.host", "url.path", "items"]


def test_events_query_always_filters_site_and_range() -> None:
    start = datetime(2015, 1, 1, tzinfo=UTC)
    end = datetime(2015, 2, 1, tzinfo=UTC)
    assert events_query("shop", start, end) == {
        "bool": {
            "filter": [
                {"term": {"site": "shop"}},
                {
                    "range": {
                        "@timestamp": {
                            "gte": "2015-01-01T00:00:00+00:00",
                            "lt": "2015-02-01T00:00:00+00:00",
                        }
                    }
                },
            ]
        }
    }
    filters = events_query("shop", start, end, item_id="ds", event="download")["bool"]["filter"]
    assert filters[2:] == [{"term": {"id": "ds"}}, {"term": {"event": "download"}}]
