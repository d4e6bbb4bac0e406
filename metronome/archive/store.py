"""The bucket: a small S3 client wrapper whose every failure is a one-line ``ArchiveError``.

The client is ``metronome.s3.client``'s, built from ``archive.*``. Messages never contain the
secret key.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
)

from metronome.archive.errors import ArchiveError
from metronome.archive.parts import copy_hashed
from metronome.config import ArchiveSettings
from metronome.s3.client import s3_client
from metronome.s3.errors import MISSING_KEY_CODES, S3Location, describe_s3_error, error_code

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0
RETRIES = 3  # after the first request


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int


def build_s3_client(settings: ArchiveSettings) -> Any:
    return s3_client(
        settings,
        total_attempts=1 + RETRIES,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        user_agent="metronome-archive",
    )


def location(settings: ArchiveSettings) -> S3Location:
    """The archive bucket, for messages (``metronome.s3.errors``)."""
    return S3Location(
        bucket=settings.bucket or "",
        prefix=settings.key_prefix,
        endpoint_url=settings.endpoint_url,
        role="archive bucket",
        settings="archive.",
        permissions="the bucket's policy",
    )


def where(settings: ArchiveSettings) -> str:
    """``s3://bucket/prefix at endpoint``, for messages."""
    return location(settings).where


class S3Store:
    """The objects of one bucket; ``client`` can be given (tests count its calls)."""

    def __init__(self, settings: ArchiveSettings, client: Any | None = None) -> None:
        if not settings.bucket:
            raise ArchiveError(
                "archive.bucket is not set: name the bucket in the archive section of the "
                "configuration (or METRONOME_ARCHIVE__BUCKET)"
            )
        self.settings = settings
        self.location = location(settings)
        self.bucket: str = settings.bucket
        self.client = client if client is not None else build_s3_client(settings)

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (BotoCoreError, ClientError) as error:
            raise ArchiveError(describe_s3_error(error, self.location, doing)) from error

    def check(self) -> None:
        """Fail early, and clearly, when the bucket cannot be used."""
        with self._errors(f"checking bucket {self.bucket!r}"):
            self.client.head_bucket(Bucket=self.bucket)

    def list(self, prefix: str) -> Iterator[StoredObject]:
        with self._errors(f"listing {prefix}"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield StoredObject(key=str(item["Key"]), size=int(item["Size"]))

    def get_bytes(self, key: str) -> bytes | None:
        """The object's content, or None when there is no such object."""
        with self._errors(f"reading {key}"):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if error_code(error) in MISSING_KEY_CODES:
                    return None
                raise
            return bytes(response["Body"].read())

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with self._errors(f"writing {key}"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def put_file(self, key: str, file: IO[bytes], size: int, content_type: str) -> None:
        """One PUT streamed from ``file`` (a part is far below S3's 5 GB limit of one PUT)."""
        with self._errors(f"writing {key}"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=file,
                ContentLength=size,
                ContentType=content_type,
            )

    def download(self, key: str, target: IO[bytes]) -> tuple[int, str]:
        """Stream an object into ``target`` (rewound afterwards); ``(bytes, sha256)``."""
        with self._errors(f"reading {key}"):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                return copy_hashed(body, target)
            finally:
                body.close()

    def delete(self, key: str) -> None:
        with self._errors(f"deleting {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)
