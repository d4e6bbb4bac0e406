"""``archive:``: closed days of every stream copied to an S3-compatible bucket
(``metronome archive``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from marshmallow import ValidationError
from marshmallow.validate import Length, Range, Regexp

from metronome.config.declare import Each, Then
from metronome.config.elasticsearch import NO_TRAILING_SLASH, URL
from metronome.config.privacy import UNIQUE

STREAM_NAME = r"^[a-z0-9_]{1,32}\Z"
BUCKET_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}\Z"
# Optional slashes at either end (removed); segments of S3's safe key characters.
KEY_PREFIX = r"^/?([A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*)?/?\Z"


@dataclass(frozen=True)
class ArchiveSettings:
    """Closed days of every stream copied to an S3-compatible bucket (``metronome archive``)."""

    enabled: bool = False  # true: `metronome serve` runs `metronome archive run --every interval`
    bucket: Annotated[str | None, Regexp(BUCKET_NAME, error="Not a valid bucket name.")] = None
    # objects: <key_prefix>/<stream>/YYYY/MM/DD/part-N.ndjson.gz
    key_prefix: Annotated[
        str,
        Regexp(
            KEY_PREFIX, error="Use path segments of letters, digits and !_.*'()- joined by '/'."
        ),
        Then(lambda prefix: prefix.strip("/")),
    ] = "metronome"
    # None: AWS S3; else any S3-compatible endpoint
    endpoint_url: Annotated[str | None, URL, NO_TRAILING_SLASH] = None
    # None: from the AWS environment / config, if any
    region: Annotated[str | None, Length(min=1, max=64)] = None
    # None: the standard AWS credential chain (environment, ~/.aws, instance role...).
    # Secrets: kept out of repr() so they never reach a log or an error message.
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    path_style: bool = False  # http://host/bucket/key instead of http://bucket.host/key
    part_docs: Annotated[int, Range(min=1, max=10_000_000)] = 100_000  # documents per part
    streams: Annotated[
        tuple[str, ...],
        Each(Regexp(STREAM_NAME, error="Use lowercase letters, digits and '_' (a stream name).")),
        Length(min=1, error="Name at least one stream."),
        UNIQUE,
    ] = ("hits", "logs")
    interval: Annotated[float, Range(min=1)] = 3600.0  # seconds between scheduled runs
    # seconds after a UTC day ends before it counts as closed
    grace: Annotated[float, Range(min=0)] = 3600.0

    def check(self) -> None:
        if self.enabled and not self.bucket:
            raise ValidationError("Set a bucket to enable archiving.", "bucket")
        if bool(self.access_key_id) != bool(self.secret_access_key):
            raise ValidationError(
                "Set both access_key_id and secret_access_key, or neither "
                "(then the standard AWS credential chain is used).",
                "secret_access_key" if self.access_key_id else "access_key_id",
            )
