"""The forward protocol decoder, on byte-exact frames built here with msgpack (no I/O)."""

from __future__ import annotations

import gzip
import json
import struct
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from metronome.config import ForwardSettings
from metronome.logs.events import LogEvent
from metronome.logs.forward.limits import DecodeLimits
from metronome.logs.forward.protocol import (
    Format,
    FrameDecoder,
    Mode,
    ProtocolError,
    Request,
    encode_ack,
    gunzip,
    parse_request,
)
from tests.forward_frames import array, bin32, ext8_time, fixext8_time, pk, str32

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
AT_T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
# What Fluentd's out_forward sends with require_ack_response: Base64.encode64(id), with "\n".
FLUENTD_CHUNK = "p8n9gmxTQVC8/nh2wlKKeQ==\n"


def entry(time: bytes, record: dict[str, Any]) -> bytes:
    return array(time, pk(record))


def decode(data: bytes, *, step: int | None = None) -> list[Request]:
    """Every request in ``data``, fed at once or ``step`` bytes at a time."""
    decoder = FrameDecoder()
    messages: list[list[Any]] = []
    pieces = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    for piece in pieces:
        decoder.feed(piece)
        messages.extend(decoder.messages())
    assert decoder.buffered == 0
    return [parse_request(message, NOW) for message in messages]


def only(data: bytes) -> Request:
    [request] = decode(data)
    return request


def records(request: Request) -> list[dict[str, Any]]:
    return [event.record for event in request.events]


# -- modes ----------------------------------------------------------------------------------


def test_message_mode_with_an_integer_time() -> None:
    request = only(array(pk("nginx.access"), pk(T0), pk({"message": "GET / 200"})))
    assert request.mode is Mode.MESSAGE
    assert request.events == (
        LogEvent(tag="nginx.access", time=AT_T0, record={"message": "GET / 200"}, input="forward"),
    )
    assert (request.invalid, request.chunk) == (0, None)


@pytest.mark.parametrize("encode", [fixext8_time, ext8_time], ids=["fixext8", "ext8"])
def test_event_time_in_both_extension_encodings(encode: Any) -> None:
    frame = array(pk("app"), encode(T0, 123_456_789), pk({"a": 1}))
    assert frame[len(pk("app")) + 1] in (0xD7, 0xC7)  # the encoding under test is on the wire
    [event] = only(frame).events
    assert event.time == AT_T0 + timedelta(microseconds=123_456)
    assert event.time.tzinfo is UTC


def test_forward_mode_with_an_option_map() -> None:
    entries = bytes([0x93]) + entry(pk(T0), {"n": 1}) + entry(fixext8_time(T0 + 1), {"n": 2})
    entries += entry(ext8_time(T0 + 2), {"n": 3})
    request = only(array(pk("app"), entries, pk({"chunk": FLUENTD_CHUNK, "size": 3})))
    assert request.mode is Mode.FORWARD
    assert records(request) == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [e.time for e in request.events] == [AT_T0 + timedelta(seconds=s) for s in range(3)]
    assert request.chunk == FLUENTD_CHUNK


def packed_entries() -> bytes:
    return entry(fixext8_time(T0), {"message": "one"}) + entry(ext8_time(T0, 5000), {"n": 2})


def test_packed_forward_with_bin_entries() -> None:
    request = only(array(pk("app"), bin32(packed_entries()), pk({"size": 2, "fluent_signal": 0})))
    assert request.mode is Mode.PACKED_FORWARD
    assert records(request) == [{"message": "one"}, {"n": 2}]
    assert request.events[1].time == AT_T0 + timedelta(microseconds=5)


def test_packed_forward_with_str32_holding_binary_as_fluentd_out_forward_sends() -> None:
    entries = packed_entries()
    with pytest.raises(UnicodeDecodeError):
        entries.decode("utf-8")  # not text: a strict str decoder would fail on this frame
    frame = array(pk("app"), str32(entries), pk({"size": 2, "compressed": "text"}))
    assert frame[1 + len(pk("app"))] == 0xDB
    request = only(frame)
    assert request.mode is Mode.PACKED_FORWARD
    assert records(request) == [{"message": "one"}, {"n": 2}]


@pytest.mark.parametrize("wrap", [bin32, str32], ids=["bin", "str32"])
def test_compressed_packed_forward_with_two_gzip_members(wrap: Any) -> None:
    first = entry(fixext8_time(T0), {"part": 1})
    second = entry(pk(T0 + 1), {"part": 2}) + entry(ext8_time(T0 + 2), {"part": 3})
    blob = gzip.compress(first) + gzip.compress(second)
    option = {"compressed": "gzip", "size": 3, "chunk": FLUENTD_CHUNK}
    request = only(array(pk("app"), wrap(blob), pk(option)))
    assert request.mode is Mode.COMPRESSED_PACKED_FORWARD
    assert records(request) == [{"part": 1}, {"part": 2}, {"part": 3}]
    assert request.chunk == FLUENTD_CHUNK


def test_fluent_bit_metadata_entries_are_accepted_in_every_mode() -> None:
    meta = pk({"otel": {"trace_id": "abc"}})
    with_meta = array(fixext8_time(T0, 1000), meta)
    forward = array(pk("fb"), bytes([0x92]) + array(with_meta, pk({"m": 1})) + entry(pk(T0), {}))
    message = array(pk("fb"), with_meta, pk({"m": 2}), pk({"chunk": "0123456789abcdef" * 2}))
    packed = array(pk("fb"), bin32(array(with_meta, pk({"m": 3}))))
    compressed = array(
        pk("fb"), bin32(gzip.compress(array(with_meta, pk({"m": 4})))), pk({"compressed": "gzip"})
    )
    requests = decode(forward + message + packed + compressed)
    assert [r.mode for r in requests] == [
        Mode.FORWARD,
        Mode.MESSAGE,
        Mode.PACKED_FORWARD,
        Mode.COMPRESSED_PACKED_FORWARD,
    ]
    assert [e.record for r in requests for e in r.events] == [
        {"m": 1},
        {},
        {"m": 2},
        {"m": 3},
        {"m": 4},
    ]
    assert requests[1].events[0].time == AT_T0 + timedelta(microseconds=1)
    assert sum(r.invalid for r in requests) == 0


# -- stream handling ------------------------------------------------------------------------


def stream_of_every_mode() -> bytes:
    return b"".join(
        [
            b"\xc0",  # nil keepalive
            array(pk("a"), pk(T0), pk({"k": "message"}), pk({"chunk": "c1\n"})),
            array(pk("b"), bytes([0x91]) + entry(fixext8_time(T0), {"k": "forward"})),
            b"\xc0",
            array(pk("c"), str32(entry(ext8_time(T0), {"k": "packed"})), pk({"chunk": "c3\n"})),
            array(
                pk("d"),
                bin32(gzip.compress(entry(pk(T0), {"k": "gz"}))),
                pk({"compressed": "gzip", "chunk": "c4\n"}),
            ),
            b"\xc0",
        ]
    )


def test_several_messages_in_one_write_with_nil_keepalives() -> None:
    requests = decode(stream_of_every_mode())
    assert [(r.events[0].tag, r.events[0].record["k"]) for r in requests] == [
        ("a", "message"),
        ("b", "forward"),
        ("c", "packed"),
        ("d", "gz"),
    ]
    assert [r.chunk for r in requests] == ["c1\n", None, "c3\n", "c4\n"]


@pytest.mark.parametrize("step", [1, 2, 7, 64])
def test_messages_split_across_writes_decode_the_same(step: int) -> None:
    assert decode(stream_of_every_mode(), step=step) == decode(stream_of_every_mode())


def test_a_partial_message_waits_for_the_rest() -> None:
    frame = array(pk("a"), pk(T0), pk({"x": "y" * 100}))
    decoder = FrameDecoder()
    decoder.feed(frame[:-1])
    assert list(decoder.messages()) == []
    assert decoder.buffered == len(frame) - 1
    decoder.feed(frame[-1:])
    assert len(list(decoder.messages())) == 1
    assert decoder.buffered == 0


def test_many_small_messages_in_one_feed_may_exceed_the_message_limit() -> None:
    frame = array(pk("a"), pk(T0), pk({"x": 1}))
    decoder = FrameDecoder(DecodeLimits(max_message_bytes=4 * len(frame)))
    decoder.feed(frame * 100)
    assert len(list(decoder.messages())) == 100


def test_a_message_larger_than_the_limit_is_a_protocol_error() -> None:
    decoder = FrameDecoder(DecodeLimits(max_message_bytes=1024))
    decoder.feed(array(pk("a"), pk(T0), pk({"x": "y" * 2000})))
    with pytest.raises(ProtocolError, match="larger than 1024"):
        list(decoder.messages())


SMALL = DecodeLimits(
    max_message_bytes=65_536,
    max_decompressed_bytes=65_536,
    max_array_length=16,
    max_map_length=16,
    max_string_bytes=1024,
)


@pytest.mark.parametrize(
    ("frame", "setting"),
    [
        pytest.param(
            array(pk("t"), pk([[T0, {"n": n}] for n in range(17)])),
            "max_array_length",
            id="forward-entries",
        ),
        pytest.param(
            array(pk("t"), pk(T0), pk({str(n): n for n in range(17)})),
            "max_map_length",
            id="record-keys",
        ),
        pytest.param(array(pk("t"), pk(T0), pk({"m": "x" * 1025})), "max_string_bytes", id="str"),
        pytest.param(array(pk("t"), pk(T0), pk({"m": b"x" * 1025})), "max_string_bytes", id="bin"),
    ],
)
def test_a_message_over_a_length_limit_is_a_protocol_error_naming_the_setting(
    frame: bytes, setting: str
) -> None:
    decoder = FrameDecoder(SMALL)
    decoder.feed(frame)
    with pytest.raises(ProtocolError, match=setting):
        list(decoder.messages())


@pytest.mark.parametrize(
    ("entries", "setting"),
    [
        pytest.param(entry(pk(T0), {str(n): n for n in range(17)}), "max_map_length", id="map"),
        pytest.param(entry(pk(T0), {"m": "x" * 1025}), "max_string_bytes", id="str"),
        pytest.param(array(pk(T0), pk({"l": list(range(17))})), "max_array_length", id="array"),
    ],
)
def test_packed_forward_entries_are_decoded_within_the_same_limits(
    entries: bytes, setting: str
) -> None:
    for option in ({"compressed": "text"}, {"compressed": "gzip"}):
        blob = gzip.compress(entries) if option["compressed"] == "gzip" else entries
        with pytest.raises(ProtocolError, match=setting):
            parse_request(["t", blob, option], NOW, limits=SMALL)


def test_a_huge_declared_array_is_refused_at_its_header_with_the_default_limits() -> None:
    # Five bytes that declare two million elements: msgpack's own default (the buffer size)
    # would wait for them; the explicit limit refuses at once.
    decoder = FrameDecoder()
    decoder.feed(b"\xdd" + struct.pack(">I", 2_000_000))
    with pytest.raises(ProtocolError, match="max_array_length"):
        list(decoder.messages())


def test_packed_entries_are_decoded_one_at_a_time() -> None:
    # 50,000 entries that are empty maps (each an invalid event): kept all at once they take
    # about 4 MiB; decoded one by one and dropped, almost nothing.
    tracemalloc.start()
    try:
        request = parse_request(["app", b"\x80" * 50_000, {"chunk": "c"}], NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (request.invalid, request.events) == (50_000, ())
    assert peak < 1024 * 1024  # the 50 KB input and the decoder, not the maps


def test_the_settings_defaults_are_the_decoders_defaults() -> None:
    settings = ForwardSettings()
    assert DecodeLimits() == DecodeLimits(
        max_message_bytes=settings.max_message_bytes,
        max_decompressed_bytes=settings.max_decompressed_bytes,
        max_array_length=settings.max_array_length,
        max_map_length=settings.max_map_length,
        max_string_bytes=settings.max_string_bytes,
    )
    # a real Fluentd memory-buffer chunk (8 MiB) fits, as one message and as one str32
    assert DecodeLimits().max_message_bytes >= 8 * 1024 * 1024 + 1024
    assert DecodeLimits().max_string_bytes >= 8 * 1024 * 1024


# -- acks -----------------------------------------------------------------------------------


def test_the_ack_echoes_fluentds_chunk_byte_for_byte_trailing_newline_included() -> None:
    request = only(array(pk("app"), str32(packed_entries()), pk({"chunk": FLUENTD_CHUNK})))
    assert request.chunk is not None
    chunk = FLUENTD_CHUNK.encode()
    assert encode_ack(request.chunk) == b"\x81\xa3ack" + bytes([0xA0 | len(chunk)]) + chunk


def test_a_bin_chunk_is_echoed_as_bin_and_odd_bytes_survive() -> None:
    odd = b"\xff\xfe chunk \x80\n"
    as_bin = only(array(pk("a"), pk(T0), pk({}), b"\x81\xa5chunk\xc4" + bytes([len(odd)]) + odd))
    as_str = only(array(pk("a"), pk(T0), pk({}), b"\x81\xa5chunk" + bytes([0xA0 | len(odd)]) + odd))
    assert as_bin.chunk is not None and as_str.chunk is not None
    assert encode_ack(as_bin.chunk) == b"\x81\xa3ack\xc4" + bytes([len(odd)]) + odd
    assert encode_ack(as_str.chunk) == b"\x81\xa3ack" + bytes([0xA0 | len(odd)]) + odd


def test_no_chunk_no_ack() -> None:
    assert only(array(pk("a"), pk(T0), pk({}), pk({"size": 1}))).chunk is None
    assert only(array(pk("a"), pk(T0), pk({}), b"\xc0")).chunk is None


# -- times and records ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "time", [pk(0), b"\xc0", fixext8_time(0), ext8_time(0)], ids=["0", "nil", "fixext8-0", "ext8-0"]
)
def test_a_zero_or_nil_time_is_now(time: bytes) -> None:
    [event] = only(array(pk("a"), time, pk({"x": 1}))).events
    assert event.time == NOW


def test_invalid_events_are_dropped_and_counted_and_valid_ones_kept() -> None:
    bad_entries = [
        array(pk(1.5), pk({"why": "float time"})),
        array(pk(T0), pk("not a map")),
        array(pk(T0), pk([1, 2])),
        array(pk(True), pk({"why": "bool time"})),
        array(pk("2026-01-01"), pk({"why": "string time"})),
        array(b"\xd7\x01" + struct.pack(">II", T0, 0), pk({"why": "ext type 1"})),
        array(fixext8_time(T0, 1_000_000_000), pk({"why": "nanos out of range"})),
        array(pk(T0)),
        pk({"why": "entry not an array"}),
    ]
    good = [entry(pk(T0), {"ok": 1}), entry(fixext8_time(T0), {"ok": 2})]
    items = [good[0], *bad_entries, good[1]]
    body = b"\xdc" + struct.pack(">H", len(items)) + b"".join(items)  # array16 of entries
    forward = only(array(pk("app"), body, pk({"chunk": "x"})))
    packed = only(array(pk("app"), str32(b"".join(items)), pk({"chunk": "x"})))
    for request in (forward, packed):
        assert records(request) == [{"ok": 1}, {"ok": 2}]
        assert request.invalid == len(bad_entries)
        assert request.chunk == "x"  # still acknowledged, as Fluentd does: a resend cannot help
    message = only(array(pk("app"), pk(1.5), pk({"x": 1}), pk({"chunk": "y"})))
    assert (message.events, message.invalid, message.chunk) == ((), 1, "y")


@pytest.mark.parametrize("tag", [pk(42), pk(b"bin-tag"), b"\xc0"], ids=["int", "bin", "nil"])
def test_a_tag_that_is_not_a_string_invalidates_every_event_of_the_message(tag: bytes) -> None:
    request = only(array(tag, bytes([0x92]) + entry(pk(T0), {}) + entry(pk(T0), {})))
    assert (request.events, request.invalid) == ((), 2)


def test_record_strings_and_bytes_become_utf8_text_recursively() -> None:
    record = (
        b"\x85"
        + pk("plain")
        + pk("caf\u00e9")
        + pk(b"bin-key")
        + pk(b"bin \xe2\x82\xac value")
        + b"\xa4bad\xff"  # a str key that is not UTF-8
        + b"\xa2\xc3\x28"  # ... and such a value
        + pk(7)
        + pk({"nested": [b"\x00\x01", {"deep": b"\xc3\xa9"}, 1.25, None, True]})
        + pk("when")
        + fixext8_time(T0, 500_000_000)
    )
    [event] = only(array(pk("app"), pk(T0), record)).events
    assert event.record == {
        "plain": "caf\u00e9",
        "bin-key": "bin \u20ac value",
        "bad\ufffd": "\ufffd(",
        "7": {"nested": ["\x00\x01", {"deep": "\u00e9"}, 1.25, None, True]},
        "when": "2023-11-14T22:13:20.500000+00:00",
    }


def test_a_record_nested_too_deeply_is_an_invalid_event() -> None:
    deep: dict[str, Any] = {}
    for _ in range(100):
        deep = {"d": deep}
    request = only(array(pk("a"), bytes([0x92]) + entry(pk(T0), deep) + entry(pk(T0), {})))
    assert (len(request.events), request.invalid) == (1, 1)


# -- protocol errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xc1\x00\x00", id="never-used-byte"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", id="http"),
        pytest.param(pk(42), id="int-message"),
        pytest.param(pk({"tag": "a"}), id="map-message"),
        pytest.param(b"{not json", id="json-object-message"),
    ],
)
def test_garbage_is_a_protocol_error(data: bytes) -> None:
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError):
        decoder.feed(data)
        list(decoder.messages())


def test_messages_before_garbage_are_still_decoded() -> None:
    decoder = FrameDecoder()
    good = array(pk("a"), pk(T0), pk({}))
    decoder.feed(good + good + b"\xc1")
    seen = []
    with pytest.raises(ProtocolError):
        for message in decoder.messages():
            seen.append(message)
    assert len(seen) == 2


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(array(pk("a")), id="too-short"),
        pytest.param(array(pk("a"), pk(T0)), id="message-without-record"),
        pytest.param(array(pk("a"), pk(T0), pk({}), pk({}), pk({})), id="too-long"),
        pytest.param(array(pk("a"), pk(T0), pk({}), pk("option")), id="option-not-a-map"),
        pytest.param(array(pk("a"), bin32(packed_entries()[:-3])), id="truncated-entries"),
        pytest.param(array(pk("a"), bin32(b"\xc1")), id="entries-not-msgpack"),
        pytest.param(
            array(pk("a"), bin32(gzip.compress(packed_entries())[:-5]), pk({"compressed": "gzip"})),
            id="truncated-gzip",
        ),
        pytest.param(array(pk("a"), bin32(b"not gzip"), pk({"compressed": "gzip"})), id="not-gzip"),
        pytest.param(
            array(pk("a"), bin32(packed_entries()), pk({"compressed": "zstd"})), id="zstd"
        ),
        pytest.param(
            array(pk("a"), bin32(packed_entries()), pk({"fluent_signal": 1})), id="metrics"
        ),
    ],
)
def test_a_malformed_message_is_a_protocol_error(frame: bytes) -> None:
    decoder = FrameDecoder()
    decoder.feed(frame)
    [message] = decoder.messages()
    with pytest.raises(ProtocolError):
        parse_request(message, NOW)


def test_gunzip_stops_at_its_output_limit() -> None:
    blob = gzip.compress(b"\x00" * 10_000) + gzip.compress(b"\x00" * 10_000)
    assert gunzip(blob, 20_000) == b"\x00" * 20_000
    with pytest.raises(ProtocolError, match="larger than 19999"):
        gunzip(blob, 19_999)


# -- JSON connections -----------------------------------------------------------------------


def test_a_connection_starting_with_a_bracket_speaks_json() -> None:
    messages = [
        ["web", T0, {"message": "json \u00e9"}, {"chunk": "j1\n"}],
        ["web", [[T0, {"n": 1}], [0, {"n": 2}]]],
    ]
    data = b" ".join(json.dumps(m).encode() for m in messages) + b"\nnull\n"
    decoder = FrameDecoder()
    decoded: list[list[Any]] = []
    for i in range(len(data)):
        decoder.feed(data[i : i + 1])
        decoded.extend(decoder.messages())
    assert decoder.format is Format.JSON
    requests = [parse_request(m, NOW) for m in decoded]
    assert [r.mode for r in requests] == [Mode.MESSAGE, Mode.FORWARD]
    assert [e.record for r in requests for e in r.events] == [
        {"message": "json \u00e9"},
        {"n": 1},
        {"n": 2},
    ]
    assert requests[1].events[1].time == NOW
    assert requests[0].chunk == "j1\n"
    assert encode_ack("j1\n", Format.JSON) == b'{"ack": "j1\\n"}'


def test_a_json_message_is_limited_to_one_mebibyte() -> None:
    decoder = FrameDecoder()
    decoder.feed(b'["web", 0, {"x": "' + b"y" * 1024 * 1024)
    with pytest.raises(ProtocolError, match="larger than"):
        list(decoder.messages())
