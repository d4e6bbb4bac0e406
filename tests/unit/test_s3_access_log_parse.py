"""S3 server access log lines (AWS's documented format) become records, and records documents."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ingesters.s3_access_logs.documents import RecordMapping, key_format, line_document
from ingesters.s3_access_logs.keys import LogObject
from ingesters.s3_access_logs.parse import (
    FIELDS,
    AccessRecord,
    UnparsableLine,
    parse_line,
    tokenize,
)

OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
HOST_ID = "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234="
REFERENCE_LINE = (
    f"{OWNER} amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 {OWNER} "
    '3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" '
    f'200 - 113 - 7 - "-" "S3Console/0.4" - {HOST_ID} SigV4 ECDHE-RSA-AES128-GCM-SHA256 '
    "AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 "
    "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes us-east-1"
)
# An object download, as S3 wrote lines before Signature Version and later fields existed.
OLD_DOWNLOAD = (
    f"{OWNER} data [06/Feb/2014:00:01:57 +0000] 192.0.2.3 - DD6CC733AEXAMPLE REST.GET.OBJECT "
    'reports/2014/Annual%2520Report.CSV "GET /data/reports/2014/Annual%20Report.CSV HTTP/1.1" '
    '200 - 4406583 4406583 41754 28 "https://example.org/reports?y=2014" '
    '"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0" -'
)
LOG = LogObject(
    day=datetime(2019, 2, 6, tzinfo=UTC).date(),
    key="logs/2019-02-06-00-12-34-0A1B2C3D4E5F6789",
    time=datetime(2019, 2, 6, 0, 12, 34, tzinfo=UTC),
)


def test_the_reference_example_line_reads_every_field() -> None:
    assert parse_line(REFERENCE_LINE) == AccessRecord(
        time=datetime(2019, 2, 6, 0, 0, 38, tzinfo=UTC),
        bucket_owner=OWNER,
        bucket="amzn-s3-demo-bucket1",
        remote_ip="192.0.2.3",
        requester=OWNER,
        request_id="3E57427F3EXAMPLE",
        operation="REST.GET.VERSIONING",
        key=None,
        request_uri="GET /amzn-s3-demo-bucket1?versioning HTTP/1.1",
        method="GET",
        target="/amzn-s3-demo-bucket1?versioning",
        http_version="1.1",
        http_status=200,
        error_code=None,
        bytes_sent=113,
        object_size=None,
        total_time_ms=7,
        turn_around_ms=None,
        referrer=None,
        user_agent="S3Console/0.4",
        version_id=None,
        host_id=HOST_ID,
        signature_version="SigV4",
        cipher_suite="ECDHE-RSA-AES128-GCM-SHA256",
        auth_type="AuthHeader",
        host_header="amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com",
        tls_version="TLSV1.2",
        access_point_arn="arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP",
        acl_required=True,
        source_region="us-east-1",
    )


def test_an_older_shorter_line_is_accepted_and_the_later_fields_are_missing() -> None:
    record = parse_line(OLD_DOWNLOAD)
    assert record.operation == "REST.GET.OBJECT"
    assert (record.http_status, record.bytes_sent, record.object_size) == (200, 4406583, 4406583)
    assert (record.total_time_ms, record.turn_around_ms) == (41754, 28)
    assert record.referrer == "https://example.org/reports?y=2014"
    assert record.user_agent is not None and record.user_agent.startswith("Mozilla/5.0 (X11;")
    assert (record.version_id, record.signature_version, record.source_region) == (None,) * 3


def test_a_line_that_stops_at_the_http_status_is_enough() -> None:
    fields = REFERENCE_LINE.split(" 200 ", maxsplit=1)[0] + " 404"
    record = parse_line(fields)
    assert record.http_status == 404 and record.bytes_sent == 0 and record.error_code is None


def test_a_line_shorter_than_a_record_is_unparsable() -> None:
    with pytest.raises(UnparsableLine, match="fields"):
        parse_line(f"{OWNER} bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3")


def test_unknown_trailing_fields_are_ignored() -> None:
    record = parse_line(REFERENCE_LINE + ' - "a new field" 42')
    assert record == replace(parse_line(REFERENCE_LINE), unknown_fields=3)


def test_dashes_everywhere_are_missing_values_and_zero_bytes() -> None:
    record = parse_line(" ".join(["-"] * len(FIELDS)))
    assert record == AccessRecord(time=None)
    assert record.bytes_sent == 0


def test_quoted_dashes_and_empty_quotes_are_missing_values() -> None:
    line = REFERENCE_LINE.replace('"S3Console/0.4"', '""')
    assert parse_line(line).user_agent is None
    assert parse_line(line).referrer is None


def test_quoted_fields_keep_their_spaces_and_escaped_quotes() -> None:
    agent = r"Mozilla/5.0 (Windows NT 10.0) \"quoted\" \\ end"
    line = REFERENCE_LINE.replace('"S3Console/0.4"', f'"{agent}"').replace(
        '"-"', '"https://example.org/a page?q=a b"'
    )
    record = parse_line(line)
    assert record.user_agent == 'Mozilla/5.0 (Windows NT 10.0) "quoted" \\ end'
    assert record.referrer == "https://example.org/a page?q=a b"
    assert record.host_id == HOST_ID  # the fields after them are where they should be


def test_a_request_uri_that_is_not_a_request_line_is_kept_whole() -> None:
    line = REFERENCE_LINE.replace('"GET /amzn-s3-demo-bucket1?versioning HTTP/1.1"', '"garbage"')
    record = parse_line(line)
    assert record.request_uri == "garbage"
    assert (record.method, record.target, record.http_version) == (None, None, None)


def test_the_time_is_read_in_utc_whatever_its_offset() -> None:
    line = REFERENCE_LINE.replace("06/Feb/2019:00:00:38 +0000", "05/Feb/2019:22:30:38 -0200")
    assert parse_line(line).time == datetime(2019, 2, 6, 0, 30, 38, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("[06/Feb/2019:00:00:38 +0000]", "[06/Foo/2019:00:00:38 +0000]"), "time"),
        (("[06/Feb/2019:00:00:38 +0000]", "[31/Feb/2019:00:00:38 +0000]"), "day is out of range"),
        ((" 200 - 113 ", " OK - 113 "), "http_status"),
        ((" 200 - 113 ", " 200 - 1e3 "), "bytes_sent"),
        (('"GET /amzn-s3-demo-bucket1?versioning HTTP/1.1"', '"GET /x HTTP/1.1'), "field 9"),
        (('"S3Console/0.4"', '"S3Console/0.4"x'), "does not end at a space"),
    ],
)
def test_broken_lines_say_why_they_are_unparsable(change: tuple[str, str], reason: str) -> None:
    with pytest.raises(UnparsableLine, match=reason):
        parse_line(REFERENCE_LINE.replace(*change))


def test_keys_are_decoded_twice_except_for_the_operations_that_encode_once() -> None:
    assert parse_line(OLD_DOWNLOAD).key == "reports/2014/Annual Report.CSV"
    expired = OLD_DOWNLOAD.replace("REST.GET.OBJECT", "S3.EXPIRE.OBJECT").replace(
        "Annual%2520Report", "100%25%20sure"
    )
    assert parse_line(expired).key == "reports/2014/100% sure.CSV"


def test_tokens_tolerate_doubled_spaces() -> None:
    assert [token.text for token in tokenize('a  "b c"  [d e]')] == ["a", "b c", "d e"]


# --- documents --------------------------------------------------------------------------


def test_a_download_is_a_request_with_event_id_and_format() -> None:
    document = line_document(LOG, 7, OLD_DOWNLOAD, RecordMapping())
    assert document.key == f"{LOG.key}#7"
    assert document.timestamp == datetime(2014, 2, 6, 0, 1, 57, tzinfo=UTC)
    fields = document.fields
    assert fields["kind"] == "request"
    assert (fields["event"], fields["id"], fields["format"]) == (
        "download",
        "reports/2014/Annual Report",
        "csv",
    )
    assert fields["key"] == "reports/2014/Annual Report.CSV"
    assert fields["http"] == {
        "method": "GET",
        "request": "GET /data/reports/2014/Annual%20Report.CSV HTTP/1.1",
        "version": "1.1",
        "status": 200,
    }
    assert fields["url"]["path"] == "/data/reports/2014/Annual%20Report.CSV"
    assert fields["referrer"]["host"] == "example.org"
    assert fields["user_agent"]["name"] == "Firefox" and fields["bot"] is False
    assert (fields["log_object"], fields["log_line"]) == (LOG.key, 7)
    assert fields["remote_ip"] == "192.0.2.3" and "requester" not in fields


def test_a_referrer_loses_its_secrets_as_a_hits_does() -> None:
    referrer = "https://example.org/reset?token=s3cr3t&utm_source=mail&ref=news#access_token=x"
    line = OLD_DOWNLOAD.replace("https://example.org/reports?y=2014", referrer)
    fields = line_document(LOG, 1, line, RecordMapping()).fields
    assert fields["referrer"]["full"] == "https://example.org/reset?utm_source=mail&ref=news"
    assert "s3cr3t" not in str(fields) and "access_token" not in str(fields)


@pytest.mark.parametrize(
    ("change", "download"),
    [
        ((" 200 - 4406583", " 206 - 4406583"), True),
        ((" 200 - 4406583", " 304 - 4406583"), False),
        (("REST.GET.OBJECT", "REST.HEAD.OBJECT"), False),
        (("REST.GET.OBJECT", "WEBSITE.GET.OBJECT"), True),
    ],
)
def test_only_answered_gets_of_download_operations_are_downloads(
    change: tuple[str, str], download: bool
) -> None:
    fields = line_document(LOG, 1, OLD_DOWNLOAD.replace(*change), RecordMapping()).fields
    assert (fields.get("event") == "download") is download


def test_the_download_id_can_be_the_whole_key() -> None:
    fields = line_document(LOG, 1, OLD_DOWNLOAD, RecordMapping(download_id="key")).fields
    assert (fields["id"], fields["format"]) == ("reports/2014/Annual Report.CSV", "csv")


def test_a_download_without_extension_has_its_key_as_id_and_no_format() -> None:
    line = OLD_DOWNLOAD.replace("Annual%2520Report.CSV", "LICENSE")
    fields = line_document(LOG, 1, line, RecordMapping()).fields
    assert (fields["id"], "format" in fields) == ("reports/2014/LICENSE", False)


def test_the_download_operations_are_configurable() -> None:
    mapping = RecordMapping(download_operations=frozenset({"REST.COPY.OBJECT_GET"}))
    assert "event" not in line_document(LOG, 1, OLD_DOWNLOAD, mapping).fields


def test_an_unparsable_line_is_kept_with_its_reason_at_the_log_objects_time() -> None:
    document = line_document(LOG, 3, "not an access log line", RecordMapping())
    assert document.key == f"{LOG.key}#3"
    assert document.timestamp == LOG.time
    assert document.fields["kind"] == "unparsed"
    assert document.fields["message"] == "not an access log line"
    assert "fields" in document.fields["parse_error"]


def test_a_record_without_time_is_dated_by_its_log_object() -> None:
    document = line_document(LOG, 1, " ".join(["-"] * 12), RecordMapping())
    assert document.timestamp == LOG.time and document.fields["time_missing"] is True
    assert document.fields["kind"] == "request" and document.fields["bytes_sent"] == 0


@pytest.mark.parametrize(("mode", "stored"), [("full", "192.0.2.3"), ("truncate", "192.0.2.0")])
def test_the_remote_ip_is_stored_as_the_ip_mode_says(mode: str, stored: str) -> None:
    mapping = RecordMapping(ip_mode=mode)  # type: ignore[arg-type]
    assert line_document(LOG, 1, OLD_DOWNLOAD, mapping).fields["remote_ip"] == stored
    dropped = line_document(LOG, 1, OLD_DOWNLOAD, RecordMapping(ip_mode="drop"))
    assert "remote_ip" not in dropped.fields


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("data/Report.CSV", "CSV"),
        ("a.tar.gz", "gz"),
        ("dir.v2/README", None),
        (".hidden", None),
        ("file.", None),
        ("weird.ext-with-dash", None),
    ],
)
def test_the_format_is_the_keys_extension(key: str, expected: str | None) -> None:
    assert key_format(key) == expected
