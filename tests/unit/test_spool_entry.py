"""A spool record's document bytes: orjson for hits, the standard library where they differ."""

from __future__ import annotations

import json
import math

from metronome.spool.entry import Entry, decode_entry, encode_entry

DOC = {"@timestamp": "2026-11-23T10:00:00.000Z", "site": "default", "id": "é/ü", "n": 1.5}


def test_a_hit_round_trips_and_its_day_is_in_the_header() -> None:
    spooled = decode_entry(encode_entry(Entry("hits", "default:h1", DOC)))
    assert (spooled.stream, spooled.id, spooled.day) == ("hits", "default:h1", "2026.11.23")
    assert json.loads(spooled.doc_json) == DOC
    assert "é/ü".encode() in spooled.doc_json  # UTF-8, not \\u escapes


def test_what_orjson_cannot_write_falls_back_to_the_standard_library() -> None:
    big = {**DOC, "n": 2**70}
    assert json.loads(decode_entry(encode_entry(Entry("hits", "x", big))).doc_json)["n"] == 2**70


def test_a_log_record_keeps_nan_as_the_standard_library_writes_it() -> None:
    odd = {**DOC, "n": math.nan}  # orjson would write null: the value would vanish silently
    doc_json = decode_entry(encode_entry(Entry("logs", "x", odd))).doc_json
    assert b'"n":NaN' in doc_json
