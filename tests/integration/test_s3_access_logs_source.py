"""The s3_access_logs source beyond the contract: the partitioned layout and late deliveries,
big objects cut into pages, S3's failures as clear errors, and downloads counted by /tock.

Most tests call ``fetch`` directly against moto (no Elasticsearch): a run is ``fetch`` from
the cursor the previous one ended with. One test goes through the runner and the read API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient
from marshmallow import ValidationError

from ingesters.s3_access_logs import S3AccessLogsOptions, S3AccessLogsSource
from metronome.sources.base import Cursor, FetchContext, Page, SourceError, Window
from metronome.sources.http import HttpClient, RetryPolicy
from tests.conftest import READ_KEY, free_port
from tests.fakes.s3 import FaultyS3, access_log_line, faulty_s3, moto_s3
from tests.integration.sources.contract import CONTRACT_SITE, run, services, stored_documents
from tests.integration.sources.scenarios.s3_access_logs import (
    SECRET,
    new_bucket,
    options,
    put_lines,
    s3_client,
    traffic,
)

POLICY = RetryPolicy(timeout=5, attempts=2, backoff=0.01, max_backoff=0.01, max_wait=1)
PARTITIONS = ("logs/111122223333/eu-west-1/shop-assets/", "logs/111122223333/us-east-1/docs/")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


@pytest.fixture(scope="module")
def proxied(endpoint: str) -> Iterator[tuple[FaultyS3, str]]:
    with faulty_s3(endpoint) as pair:
        yield pair


@pytest.fixture
def proxy(proxied: tuple[FaultyS3, str]) -> Iterator[FaultyS3]:
    yield proxied[0]
    proxied[0].recover()


@pytest.fixture
def s3(endpoint: str) -> Any:
    return s3_client(endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    return str(new_bucket(s3))


def source(bucket: str, endpoint: str, **extra: Any) -> S3AccessLogsSource:
    loaded = S3AccessLogsOptions().load(options(bucket, endpoint, **extra))
    return S3AccessLogsSource("s3-test", CONTRACT_SITE, loaded)


def fetch(
    reader: S3AccessLogsSource, cursor: Cursor | None = None, backfill: Window | None = None
) -> tuple[list[Page], Cursor, HttpClient]:
    """One run's pages, the cursor it ends with, and its HTTP client (request count)."""
    http = HttpClient(POLICY, sleep=lambda seconds: None)
    context = FetchContext(
        cursor=dict(cursor or {}), http=http, now=datetime.now(UTC), backfill=backfill
    )
    pages = list(reader.fetch(context))
    return pages, (pages[-1].cursor if pages else dict(cursor or {})), http


def partitioned_key(partition: str, day: date, unique: str) -> str:
    return f"{partition}{day:%Y/%m/%d}/{day:%Y-%m-%d}-00-00-00-{unique}"


def put_one_line(s3: Any, bucket: str, unique: str) -> None:
    """One log object of one line, delivered on 2024-05-01 under ``logs/`` (its key ends with
    ``unique``)."""
    key = f"logs/2024-05-01-00-00-00-{unique}"
    put_lines(s3, bucket, key, traffic(datetime(2024, 5, 1, tzinfo=UTC), 1))


def lines_of(pages: list[Page]) -> list[str]:
    return [str(document.key) for page in pages for document in page.documents]


# --- the partitioned layout and late deliveries ---------------------------------------------


def test_partitioned_logs_are_read_across_partitions_in_day_order(
    s3: Any, bucket: str, endpoint: str
) -> None:
    days = [date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 3)]
    for partition in PARTITIONS:
        for n, day in enumerate(days):
            start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
            put_lines(s3, bucket, partitioned_key(partition, day, f"F{n}"), traffic(start, 2))
    put_lines(s3, bucket, "logs/111122223333/eu-west-1/shop-assets/notes.txt", ["x"])
    reader = source(bucket, endpoint, key_format="partitioned", list_page_size=2)
    pages, cursor, _ = fetch(reader)
    read = [page.progress.split(":")[0] for page in pages if page.progress]
    assert len(read) == 6 and sum(len(page.documents) for page in pages) == 12
    assert [key.split("/")[5:8] for key in read] == sorted(key.split("/")[5:8] for key in read)
    assert cursor["since"] == "2024-04-30" and sorted(cursor["read"]) == [
        "2024-05-01",
        "2024-05-02",
        "2024-05-03",
    ]
    assert fetch(reader, cursor)[0] == []


def test_a_late_object_for_an_earlier_day_is_read_once_and_one_past_the_window_by_a_backfill(
    s3: Any, bucket: str, endpoint: str
) -> None:
    partition = PARTITIONS[0]
    start = datetime(2024, 5, 10, 8, tzinfo=UTC)
    for n in range(4):
        day = (start + timedelta(days=n)).date()
        put_lines(s3, bucket, partitioned_key(partition, day, f"A{n}"), traffic(start, 1))
    reader = source(bucket, endpoint, key_format="partitioned", lookback_days=2)
    _, cursor, _ = fetch(reader)
    assert cursor["since"] == "2024-05-11"  # the newest day (05-13) less two

    # Delivered late: one for a day inside the window, one for a day before it. The late one
    # sorts before the object already read that day (EventTime keys differ by a random string).
    late = partitioned_key(partition, date(2024, 5, 12), "0LATE")
    too_late = partitioned_key(partition, date(2024, 5, 10), "0TOO-LATE")
    put_lines(s3, bucket, late, traffic(start, 2))
    put_lines(s3, bucket, too_late, traffic(start, 3))
    pages, cursor, _ = fetch(reader, cursor)
    assert [page.progress for page in pages] == [f"{late}: 2 requests"]
    assert fetch(reader, cursor)[0] == []

    window = Window(date(2024, 5, 10), date(2024, 5, 10))
    pages, after_backfill, _ = fetch(reader, cursor, backfill=window)
    assert lines_of(pages) == [f"{too_late}#{n}" for n in (1, 2, 3)] + [
        f"{partitioned_key(partition, date(2024, 5, 10), 'A0')}#1"
    ]
    assert after_backfill == cursor  # a back-fill never moves the cursor


def test_simple_keys_late_within_the_window_are_read_too(
    s3: Any, bucket: str, endpoint: str
) -> None:
    start = datetime(2024, 6, 1, 8, tzinfo=UTC)
    put_lines(s3, bucket, "logs/2024-06-01-08-00-00-BBBB", traffic(start, 1))
    reader = source(bucket, endpoint)
    _, cursor, _ = fetch(reader)
    put_lines(s3, bucket, "logs/2024-06-01-07-59-59-AAAA", traffic(start, 1))
    pages, cursor, _ = fetch(reader, cursor)
    assert lines_of(pages) == ["logs/2024-06-01-07-59-59-AAAA#1"]


# --- big objects ----------------------------------------------------------------------------


def test_a_big_object_is_cut_into_pages_and_a_resumed_run_goes_on_from_the_cut(
    s3: Any, bucket: str, endpoint: str
) -> None:
    key = "logs/2024-07-01-00-00-00-BIG"
    lines = traffic(datetime(2024, 7, 1, tzinfo=UTC), 5)
    put_lines(s3, bucket, key, [lines[0], "", *lines[1:]])  # a blank line is no record
    reader = source(bucket, endpoint, page_lines=2)
    pages, _, _ = fetch(reader)
    assert [lines_of([page]) for page in pages] == [
        [f"{key}#1", f"{key}#3"],
        [f"{key}#4", f"{key}#5"],
        [f"{key}#6"],
    ]
    assert pages[0].cursor["partial"] == {"key": key, "lines": 3}
    assert pages[0].progress == f"{key}: 2 requests (to line 3, continued)"
    assert "partial" not in pages[-1].cursor
    resumed, _, _ = fetch(reader, pages[0].cursor)  # as if the run died after the first page
    assert lines_of(resumed) == [f"{key}#4", f"{key}#5", f"{key}#6"]


# --- failures -------------------------------------------------------------------------------


def test_throttling_is_retried_then_a_clear_error_with_every_attempt_counted(
    s3: Any, bucket: str, proxied: tuple[FaultyS3, str], proxy: FaultyS3
) -> None:
    put_one_line(s3, bucket, "AAAA")
    proxy.fail("slow_down")
    before = proxy.requests
    http = HttpClient(POLICY, sleep=lambda seconds: None)
    context = FetchContext(cursor={}, http=http, now=datetime.now(UTC))
    with pytest.raises(
        SourceError, match=r"S3 answered 503 SlowDown: Please reduce your request rate"
    ):
        list(source(bucket, proxied[1]).fetch(context))
    assert http.requests_made == POLICY.attempts == proxy.requests - before


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        # botocore reads a 200 it cannot parse as a 500 (S3 sends errors with 200 at times).
        ("garbage", r"S3 answered 500: Internal Server Error while listing logs/ \(s3://"),
        ("endless_listing", r"listing goes on but gave no continuation token"),
        ("keyless_listing", r"S3 listed an object without a key"),
    ],
)
def test_bad_answers_are_clear_errors(
    bucket: str, proxied: tuple[FaultyS3, str], fault: Any, message: str
) -> None:
    proxy, url = proxied
    proxy.fail(fault)
    try:
        with pytest.raises(SourceError, match=message):
            fetch(source(bucket, url))
    finally:
        proxy.recover()


def test_an_object_deleted_before_it_is_read_is_passed(
    s3: Any, bucket: str, proxied: tuple[FaultyS3, str], proxy: FaultyS3
) -> None:
    put_one_line(s3, bucket, "GONE")
    proxy.fail("no_such_key")
    pages, cursor, _ = fetch(source(bucket, proxied[1]))
    assert [(page.documents, page.progress) for page in pages] == [
        ([], "logs/2024-05-01-00-00-00-GONE: deleted before it was read")
    ]
    assert cursor["read"] == {"2024-05-01": ["2024-05-01-00-00-00-GONE"]}


def test_an_unreachable_endpoint_is_a_clear_error_after_the_retries() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    http = HttpClient(POLICY, sleep=lambda seconds: None)
    context = FetchContext(cursor={}, http=http, now=datetime.now(UTC))
    with pytest.raises(SourceError, match=f"cannot reach S3 at {closed} while listing logs/"):
        list(source("some-bucket", closed).fetch(context))
    assert http.requests_made == POLICY.attempts


def test_a_missing_bucket_and_refused_credentials_are_clear_errors(
    endpoint: str, bucket: str
) -> None:
    with pytest.raises(SourceError, match="the log bucket 'no-such-logs' does not exist at"):
        fetch(source("no-such-logs", endpoint))
    # From now on moto checks credentials, and knows none of ours.
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=5).raise_for_status()
    try:
        with pytest.raises(SourceError, match="S3 refused the credentials") as refused:
            fetch(source(bucket, endpoint))
    finally:
        requests.post(f"{endpoint}/moto-api/reset-auth", data=b"inf", timeout=5)
    assert SECRET not in str(refused.value)


def test_a_cursor_the_source_did_not_write_is_a_clear_error(bucket: str, endpoint: str) -> None:
    with pytest.raises(SourceError, match="stored cursor of 's3-test' is not usable"):
        fetch(source(bucket, endpoint), {"version": 7})


def test_keys_come_in_pairs() -> None:
    with pytest.raises(ValidationError, match="both access_key_id and secret_access_key"):
        S3AccessLogsOptions().load({"bucket": "logs", "access_key_id": "AKID"})
    loaded = S3AccessLogsOptions().load({"bucket": "logs"})
    assert loaded["key_format"] == "simple" and loaded["lookback_days"] == 3
    assert loaded["download_operations"] == ["REST.GET.OBJECT", "WEBSITE.GET.OBJECT"]
    assert S3AccessLogsSource.secret_options() == {"access_key_id", "secret_access_key"}


# --- through the runner and the read API ----------------------------------------------------


def test_downloads_are_counted_by_tock_and_broken_down_by_format(
    bucket: str, endpoint: str, es: Elasticsearch, index_prefix: str, client: FlaskClient
) -> None:
    s3 = s3_client(endpoint)
    day = datetime(2024, 5, 1, 9, tzinfo=UTC)
    put_lines(
        s3,
        bucket,
        "logs/2024-05-01-10-00-00-AAAA",
        [
            access_log_line("shop-assets", day, "datasets/42.csv"),
            access_log_line("shop-assets", day, "datasets/42.CSV", status=206),
            access_log_line("shop-assets", day, "datasets/42.kml", operation="WEBSITE.GET.OBJECT"),
            access_log_line("shop-assets", day, "datasets/42.csv", operation="REST.HEAD.OBJECT"),
            access_log_line("shop-assets", day, "datasets/42.csv", status=404),
            'broken "line',
        ],
    )
    reader = source(bucket, endpoint)
    report = run(reader, services(es, index_prefix))
    assert report.ok, report.error
    assert (report.created, report.requests) == (6, 2)  # one listing, one object
    documents = stored_documents(es, index_prefix, reader)
    unparsed = [document for document in documents if document["kind"] == "unparsed"]
    assert [document["message"] for document in unparsed] == ['broken "line']
    answer = client.get(
        "/tock/datasets/42",
        query_string={"stream": "s3", "from": "2024-05-01", "to": "2024-05-02", "site": "shop"},
        headers={"Authorization": f"Bearer {READ_KEY}"},
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["downloads"] == {"csv": 2, "kml": 1}
    query = client.post(
        "/api/v1/query",
        json={
            "site": "shop",
            "stream": "s3",
            "metrics": ["count"],
            "dimensions": ["format"],
            "filters": [["is", "event", ["download"]]],
            "date_range": ["2024-05-01", "2024-05-02"],
        },
        headers={"Authorization": f"Bearer {READ_KEY}"},
    )
    assert query.status_code == 200, query.get_json()
    counts = {tuple(row["dimensions"]): row["metrics"] for row in query.get_json()["results"]}
    assert counts == {("csv",): [2], ("kml",): [1]}
