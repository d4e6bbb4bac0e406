"""The log bucket through boto3: list the log objects of a layout in day order, read their lines.

The client comes from the source's options only (endpoint, region, credentials, addressing);
credentials left out come from the standard AWS chain. Timeouts and tries follow the run's
``RetryPolicy`` (the ``scheduler:`` settings), as the framework's HTTP client does, and every
attempt boto3 sends is counted in that client's ``requests_made``, so a run's report tells
the requests it made to S3 as it does for HTTP sources. Every failure is a one-line
``SourceError`` saying what was being done and what to check; messages never hold a secret.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
)
from botocore.parsers import ResponseParserError  # type: ignore[import-untyped]

from ingesters.s3_access_logs.keys import (
    PARTITION_DEPTH,
    KeyFormat,
    LogObject,
    parse_key,
    start_after,
)
from metronome.s3.client import s3_client
from metronome.s3.errors import MISSING_KEY_CODES, S3Location, describe_s3_error, error_code
from metronome.sources.base import SourceError
from metronome.sources.http import HttpClient, RetryPolicy

READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class BucketSettings:
    bucket: str
    prefix: str = ""
    key_format: KeyFormat = "simple"
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    path_style: bool = False
    list_page_size: int = 1000

    @property
    def location(self) -> S3Location:
        """The log bucket, for messages (``metronome.s3.errors``)."""
        return S3Location(
            bucket=self.bucket,
            prefix=self.prefix,
            endpoint_url=self.endpoint_url,
            role="log bucket",
            permissions="that they may s3:ListBucket and s3:GetObject on the log bucket",
        )

    @property
    def where(self) -> str:
        """``s3://bucket/prefix at endpoint``, for messages."""
        return self.location.where


class ObjectGone(Exception):
    """A listed log object was deleted before it was read (a lifecycle rule, by hand)."""


def build_client(settings: BucketSettings, policy: RetryPolicy) -> Any:
    return s3_client(
        settings,
        total_attempts=policy.attempts,
        connect_timeout=policy.timeout,
        read_timeout=policy.timeout,
        user_agent="metronome-ingester",
    )


def count_attempts(client: Any, http: HttpClient) -> None:
    """Count every request boto3 sends, retries included, as the run's HTTP client counts its
    own (``RunReport.requests``). ``before-send`` fires once per attempt."""

    def counted(**_: Any) -> None:  # returning None lets boto3 send the request
        http.count_request()

    client.meta.events.register("before-send.s3", counted)


class LogBucket:
    """The log objects of one bucket and prefix, in one key layout."""

    def __init__(self, client: Any, settings: BucketSettings) -> None:
        self.client = client
        self.settings = settings

    def logs_since(self, since: date | None) -> Iterator[LogObject]:
        """Every log object of ``since`` and later (all of them for None), oldest day first."""
        return heapq.merge(*(self._listed(prefix, since) for prefix in self._listing_prefixes()))

    def logs_between(self, first: date, last: date) -> Iterator[LogObject]:
        """The log objects whose key day is within ``first``..``last``, oldest day first."""
        return heapq.merge(
            *(
                itertools.takewhile(lambda log: log.day <= last, self._listed(prefix, first))
                for prefix in self._listing_prefixes()
            )
        )

    def lines(self, key: str) -> Iterator[str]:
        """The lines of one object, without line breaks; raises ``ObjectGone``."""
        try:
            answer = self.client.get_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as error:
            if error_code(error) in MISSING_KEY_CODES:
                raise ObjectGone(key) from None
            raise self._failed(error, f"reading {key}") from error
        except (BotoCoreError, ResponseParserError) as error:
            raise self._failed(error, f"reading {key}") from error
        body = answer.get("Body") if isinstance(answer, Mapping) else None
        if body is None or not hasattr(body, "iter_chunks"):
            raise SourceError(
                f"S3 answered GetObject of {key} without a body ({self.settings.where})"
            )
        try:
            yield from split_lines(body.iter_chunks(READ_CHUNK))
        except (BotoCoreError, ResponseParserError) as error:
            raise self._failed(error, f"reading {key}") from error
        finally:
            body.close()

    def _failed(self, error: Exception, doing: str) -> SourceError:
        return SourceError(describe_s3_error(error, self.settings.location, doing))

    def _listing_prefixes(self) -> list[str]:
        """The prefix itself, or every ``account/region/bucket/`` partition under it."""
        if self.settings.key_format == "simple":
            return [self.settings.prefix]
        level = [self.settings.prefix]
        for _ in range(PARTITION_DEPTH):
            level = [folder for parent in level for folder in self._folders(parent)]
        return level

    def _listed(self, listing_prefix: str, since: date | None) -> Iterator[LogObject]:
        after = start_after(listing_prefix, since, self.settings.key_format) if since else None
        for key in self._keys(listing_prefix, after):
            log = parse_key(key, self.settings.prefix, self.settings.key_format)
            if log is not None:
                yield log

    def _keys(self, prefix: str, after: str | None) -> Iterator[str]:
        params: dict[str, Any] = {"Prefix": prefix}
        if after is not None:
            params["StartAfter"] = after
        for answer in self._list(f"listing {prefix or 'the bucket'}", params):
            for item in _entries(answer, "Contents", self.settings):
                key = item.get("Key")
                if not isinstance(key, str) or not key:
                    raise SourceError(f"S3 listed an object without a key ({self.settings.where})")
                yield key

    def _folders(self, prefix: str) -> Iterator[str]:
        params = {"Prefix": prefix, "Delimiter": "/"}
        for answer in self._list(f"listing the partitions under {prefix!r}", params):
            for item in _entries(answer, "CommonPrefixes", self.settings):
                folder = item.get("Prefix")
                if not isinstance(folder, str) or not folder.startswith(prefix):
                    raise SourceError(
                        f"S3 listed a common prefix {folder!r} outside {prefix!r} "
                        f"({self.settings.where})"
                    )
                yield folder

    def _list(self, doing: str, params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """``list_objects_v2`` page after page (``ContinuationToken``)."""
        token: str | None = None
        while True:
            call = {
                **params,
                "Bucket": self.settings.bucket,
                "MaxKeys": self.settings.list_page_size,
            }
            if token is not None:
                call["ContinuationToken"] = token
            answer = self._call(doing, self.client.list_objects_v2, call)
            yield answer
            if not answer.get("IsTruncated"):
                return
            token = answer.get("NextContinuationToken")
            if not isinstance(token, str) or not token:
                raise SourceError(
                    f"S3 said the listing goes on but gave no continuation token while {doing} "
                    f"({self.settings.where})"
                )

    def _call(
        self, doing: str, method: Callable[..., Any], params: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        try:
            answer = method(**params)
        except (BotoCoreError, ClientError, ResponseParserError) as error:
            raise self._failed(error, doing) from error
        if not isinstance(answer, Mapping):
            raise SourceError(f"S3 gave no answer while {doing} ({self.settings.where})")
        return answer


def split_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines out of byte chunks, split on ``\\n`` only (a quoted field never holds one); bytes
    that are not UTF-8 are kept as ``\\xNN``."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            yield _decode(raw)
    if pending:
        yield _decode(pending)


def _decode(raw: bytes) -> str:
    return raw.removesuffix(b"\r").decode("utf-8", errors="backslashreplace")


def _entries(
    answer: Mapping[str, Any], name: str, settings: BucketSettings
) -> list[Mapping[str, Any]]:
    entries = answer.get(name, [])
    if not isinstance(entries, list) or not all(isinstance(entry, Mapping) for entry in entries):
        raise SourceError(f"S3 answered a listing whose {name} is not a list ({settings.where})")
    return entries
