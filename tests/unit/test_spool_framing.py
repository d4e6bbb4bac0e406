from __future__ import annotations

import pytest

from metronome.spool import framing
from metronome.spool.entry import utc_day
from metronome.spool.framing import Tail


def test_records_round_trip_with_their_offsets() -> None:
    data = framing.encode(b"first") + framing.encode(b"") + framing.encode(b"third")
    records, tail = framing.decode(data, base=100)
    assert [r.payload for r in records] == [b"first", b"", b"third"]
    assert records[0].start == 100
    assert records[-1].end == 100 + len(data)
    assert tail is Tail.END


@pytest.mark.parametrize("cut", [1, 4, 7, 8, 9, 12])
def test_a_record_cut_short_is_incomplete_and_earlier_records_survive(cut: int) -> None:
    whole = framing.encode(b"kept")
    torn = framing.encode(b"torn-record")[:cut]
    records, tail = framing.decode(whole + torn)
    assert [r.payload for r in records] == [b"kept"]
    assert tail is Tail.INCOMPLETE


def test_a_flipped_byte_is_corrupt_and_never_returned() -> None:
    bad = bytearray(framing.encode(b"payload"))
    bad[-1] ^= 0xFF
    records, tail = framing.decode(framing.encode(b"ok") + bytes(bad) + framing.encode(b"after"))
    assert [r.payload for r in records] == [b"ok"]
    assert tail is Tail.CORRUPT


def test_an_absurd_length_is_corrupt_not_a_wait_for_more() -> None:
    records, tail = framing.decode(b"\xff\xff\xff\xff\x00\x00\x00\x00")
    assert records == []
    assert tail is Tail.CORRUPT


def test_zeros_left_by_a_crash_do_not_pass_as_empty_records() -> None:
    records, tail = framing.decode(framing.encode(b"x") + b"\x00" * 64)
    assert [r.payload for r in records] == [b"x"]
    assert tail is Tail.CORRUPT


def test_oversized_payloads_are_refused() -> None:
    with pytest.raises(ValueError, match="at most"):
        framing.encode(b"x" * (framing.MAX_RECORD + 1))


def test_the_day_of_a_timestamp_is_its_utc_day() -> None:
    assert utc_day("2026-11-22T23:59:59.999Z") == "2026.11.22"
    assert utc_day("2026-11-22T23:30:00+00:00") == "2026.11.22"
    assert utc_day("2026-11-23T00:30:00+01:00") == "2026.11.22"  # converted, not read off
    assert utc_day("2026-11-22T20:00:00-05:00") == "2026.11.23"
