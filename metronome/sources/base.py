"""What a source declares, and what it hands to the run loop.

A source is a small class: class attributes say what it is, ``fetch`` says how to read it.

    class PrometheusSource(Source):
        type_name = "prometheus"
        stream = "prometheus"
        options_schema = PrometheusOptions       # marshmallow; secrets: metadata={"secret": True}
        natural_key = "query name + series labels + sample time"

        def fetch(self, context: FetchContext) -> Iterator[Page]:
            ...  # yield Page(documents, cursor) per remote page, oldest first

The run loop (``metronome.sources.runner.run_source``) stores each page with deterministic ids
and only then saves the page's cursor, so a crash between the two re-reads a page (stored once:
the ids repeat) and never skips one.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from marshmallow import Schema

from metronome.sources.errors import SourceError

if TYPE_CHECKING:
    from metronome.enrich.geo import Geo
    from metronome.sources.http import HttpClient

Cursor = dict[str, Any]  # JSON-serialisable; stored in Elasticsearch between runs
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Document:
    """One document for the source's stream.

    ``key`` is the natural key: unique within the source instance and the same every time
    the same fact is read again. ``version`` is for snapshots that legitimately change (a
    day's traffic count read again later that day): a higher version replaces the stored
    document, an equal or lower one is ignored. Without it, the first write wins.
    """

    key: str
    timestamp: datetime
    fields: Mapping[str, Any]
    version: int | None = None


@dataclass(frozen=True)
class Removal:
    """A stored snapshot that no longer holds: an entry of a day's top 10 that dropped out of
    a later reading of the same day. ``key`` and ``timestamp`` are those it was written with
    (they name its id and index); ``version`` must be higher than the version it was written
    with, so that a removal never deletes a newer write of the same key."""

    key: str
    timestamp: datetime
    version: int


@dataclass(frozen=True)
class Page:
    """Documents read in one go, and where the next run starts once they are stored."""

    documents: Sequence[Document]
    cursor: Cursor
    progress: str | None = None  # shown by the CLI: "2024-05-01 (3 of 14 days)"
    removed: Sequence[Removal] = ()  # deleted after the documents are stored


@dataclass(frozen=True)
class Window:
    """A back-fill range of UTC days, both ends included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"the range starts ({self.first}) after it ends ({self.last})")

    def days(self) -> Iterator[date]:
        day = self.first
        while day <= self.last:
            yield day
            day += timedelta(days=1)


@dataclass(frozen=True)
class Refusal:
    reason: str  # the remote's answer and what to do about it
    # Understood and lasting (a token without push access to one repository's traffic): the
    # run stays ok and `sources status` says so. Otherwise the source also raises: it fails.
    permanent: bool = False


@dataclass
class PartOutcome:
    """What a run got from one part of a source (a GitHub repository): documents handed over
    per reading, the readings the remote refused and why, and those switched off in config."""

    stored: dict[str, int] = field(default_factory=dict)
    refused: dict[str, Refusal] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


@dataclass
class FetchContext:
    """What ``fetch`` gets: the stored cursor, an HTTP client, the time, and a back-fill
    window when the user asked for one (``metronome sources backfill``)."""

    cursor: Cursor
    http: HttpClient
    now: datetime
    backfill: Window | None = None
    progress: Progress = field(default=lambda message: None)
    parts: dict[str, PartOutcome] = field(default_factory=dict)  # kept in the run's report
    geo: Geo | None = None  # the deployment's location lookups (enrich.geo), for client addresses

    def part(self, name: str) -> PartOutcome:
        """The outcome of part ``name`` in this run, for a source with parts to fill in."""
        return self.parts.setdefault(name, PartOutcome())


class Source(ABC):
    """The declaration every source type makes. Subclasses set the class attributes and
    implement ``fetch``; they never loop over runs, store documents or save cursors."""

    type_name: ClassVar[str]  # the `type:` in config, e.g. "github"
    # Documents land in <prefix>-<stream>-<period> (storage.index_periods). Not a ClassVar:
    # a type whose stream is an option (http_json) sets it per instance.
    stream: str
    options_schema: ClassVar[type[Schema]]  # validates the source's own config options
    natural_key: ClassVar[str]  # what makes a document unique, in words (shown by `sources list`)
    description: ClassVar[str] = ""
    default_interval: ClassVar[float] = 3600.0  # seconds, when config sets no schedule

    def __init__(self, name: str, site: str, options: Mapping[str, Any]) -> None:
        self.name = name  # the instance name in config (a source type can be configured twice)
        self.site = site
        self.options = options  # already loaded by options_schema

    @abstractmethod
    def fetch(self, context: FetchContext) -> Iterator[Page]:
        """Yield pages oldest first, each with the cursor that resumes after it."""

    def http_headers(self) -> dict[str, str]:
        """Headers sent with every request of this source (authentication, API version)."""
        return {}

    @classmethod
    def secret_options(cls) -> frozenset[str]:
        schema_fields = cls.options_schema().fields
        return frozenset(
            name for name, spec in schema_fields.items() if spec.metadata.get("secret")
        )


def document_id(source_name: str, key: str) -> str:
    """The Elasticsearch ``_id``: the same fact read again gets the same id."""
    return hashlib.sha256(f"{source_name}\0{key}".encode()).hexdigest()[:40]


def iso(moment: datetime) -> str:
    """``2024-05-01T12:00:00.000Z``: the timestamp format of every Metronome document."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = [
    "Cursor",
    "Document",
    "FetchContext",
    "Page",
    "PartOutcome",
    "Progress",
    "Refusal",
    "Removal",
    "Source",
    "SourceError",
    "Window",
    "document_id",
    "iso",
]
