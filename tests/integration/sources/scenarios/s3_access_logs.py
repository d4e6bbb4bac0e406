"""The s3_access_logs source against moto in server mode, through a pass-through that can throttle.

A log bucket with three SimplePrefix log objects of one day (one holds a line that does not
parse; a key that is not a log object sits beside them), listed two keys at a time so the
listing pages with ``ContinuationToken``. ``add_data`` delivers a fourth object, the next day;
``fail`` makes every S3 request answer ``503 SlowDown`` (boto3 retries it, then the run fails).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]

from metronome.sources.base import Window
from tests.fakes.s3 import access_log_line, faulty_s3, moto_s3
from tests.integration.sources.contract import Scenario

KEY_ID, SECRET = "AKIDMETRONOMESOURCE", "metronome-source-secret"
REGION = "us-east-1"
PREFIX = "logs/"


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


def new_bucket(client: Any, stem: str = "access-logs") -> str:
    name = f"{stem}-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name


def put_lines(client: Any, bucket: str, key: str, lines: Sequence[str]) -> None:
    client.put_object(Bucket=bucket, Key=key, Body="".join(f"{line}\n" for line in lines).encode())


def traffic(start: datetime, count: int, bucket: str = "shop-assets") -> list[str]:
    """``count`` requests a minute apart: dataset downloads, a listing, a miss."""
    kinds = [
        {"key": "datasets/42.csv"},
        {"key": "datasets/42.KML", "referrer": "https://www.example.org/data"},
        {"key": None, "operation": "REST.GET.BUCKET"},
        {"key": "datasets/7.csv", "status": 404},
    ]
    return [
        access_log_line(bucket, start + timedelta(minutes=n), **kinds[n % len(kinds)])  # type: ignore[arg-type]
        for n in range(count)
    ]


def options(bucket: str, endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "prefix": PREFIX,
        "endpoint_url": endpoint,
        "region": REGION,
        "access_key_id": KEY_ID,
        "secret_access_key": SECRET,
        "path_style": True,
        **extra,
    }


@contextmanager
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    with moto_s3() as endpoint, faulty_s3(endpoint) as (proxy, proxy_url):
        client = s3_client(endpoint)
        bucket = new_bucket(client)
        # One day of logs (one daily index: creating an index per page would slow the runs).
        day = datetime(2024, 5, 1, 9, tzinfo=UTC)
        put_lines(client, bucket, f"{PREFIX}2024-05-01-10-05-13-5E1A2B3C4D5E6F70", traffic(day, 4))
        second = traffic(day + timedelta(hours=1), 3)
        put_lines(client, bucket, f"{PREFIX}2024-05-01-11-04-51-0F1E2D3C4B5A6978", second)
        third = [*traffic(day + timedelta(hours=2), 2), "half a line [05/Ma"]
        put_lines(client, bucket, f"{PREFIX}2024-05-01-12-06-02-A1B2C3D4E5F60718", third)
        put_lines(client, bucket, f"{PREFIX}README.txt", ["not a log object"])

        def add_data() -> int:
            later = traffic(day + timedelta(days=1), 3)
            put_lines(client, bucket, f"{PREFIX}2024-05-02-10-02-44-7A6B5C4D3E2F1A0B", later)
            return 3

        yield Scenario(
            source_type="s3_access_logs",
            options=options(bucket, proxy_url, list_page_size=2),
            expected_documents=10,
            fail=proxy.fail,
            recover=proxy.recover,
            add_data=add_data,
            min_pages=3,
            backfill=Window(date(2024, 5, 1), date(2024, 5, 1)),
            extra={"client": client, "bucket": bucket, "proxy": proxy},
        )
