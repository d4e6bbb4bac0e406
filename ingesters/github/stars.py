"""Walking a repository's stargazers, which GitHub lists oldest first, page by page.

The cursor remembers the last page read (number, ETag, how many stars it held) and the newest
``starred_at`` stored. The next run re-reads that page with ``If-None-Match``:

- 304: nothing changed there; when the page was full, new stars start on the next page.
- 200 whose first star is newer than any stored: stars were removed before it (an unstar shifts
  every later star one place up), so new stars may sit on earlier pages: step back until a page
  starts with a stored star, then read forward from there, following ``Link: rel="next"``. The
  pages already read while stepping back are not downloaded again on the way forward.

Stars are create-once documents, so a page read twice stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingesters.github.api import STAR_JSON, Answer, GitHubApi
from ingesters.github.wire import Star, page_number, read_stars


@dataclass(frozen=True)
class StarPage:
    number: int
    answer: Answer  # not_modified: the stored page, unchanged (no stars read)
    stars: list[Star]


@dataclass(frozen=True)
class StarCursor:
    page: int  # the last page fully read
    etag: str | None  # ...its ETag
    count: int  # ...how many stars it held
    per_page: int  # page numbers only mean something for the same page size
    newest: datetime | None  # the newest starred_at stored

    def to_json(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "etag": self.etag,
            "count": self.count,
            "per_page": self.per_page,
            "newest": self.newest.isoformat() if self.newest else None,
        }

    @classmethod
    def from_json(cls, raw: Any) -> StarCursor | None:
        """None (start from page 1) for a missing or unreadable cursor."""
        if not isinstance(raw, Mapping):
            return None
        try:
            newest = raw.get("newest")
            return cls(
                page=max(1, int(raw["page"])),
                etag=str(raw["etag"]) if raw.get("etag") else None,
                count=int(raw["count"]),
                per_page=int(raw["per_page"]),
                newest=datetime.fromisoformat(newest) if newest else None,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def after(self, page: StarPage) -> StarCursor:
        """The cursor once ``page`` is stored."""
        newest = self.newest
        for star in page.stars:
            if newest is None or star.starred_at > newest:
                newest = star.starred_at
        return StarCursor(page.number, page.answer.etag, len(page.stars), self.per_page, newest)


class StarReader:
    def __init__(self, api: GitHubApi, repo: str, per_page: int) -> None:
        self.api = api
        self.repo = repo
        self.per_page = per_page

    def read(self, number: int, etag: str | None = None) -> StarPage:
        url = self.api.url(f"/repos/{self.repo}/stargazers?per_page={self.per_page}&page={number}")
        return self.read_url(url, number, etag)

    def read_url(self, url: str, number: int, etag: str | None = None) -> StarPage:
        what = f"{self.repo}: stargazers page {number}"
        answer = self.api.get(url, what, etag=etag, accept=STAR_JSON)
        stars = [] if answer.not_modified else read_stars(answer.body, what)
        return StarPage(number, answer, stars)


def new_star_pages(reader: StarReader, stored: StarCursor | None) -> Iterator[StarPage]:
    """The pages that may hold stars not stored yet, oldest first; none when the stored page
    is unchanged (304) and was not full."""
    if stored is None or stored.per_page != reader.per_page:
        yield from _onwards(reader, reader.read(1))
        return
    page = reader.read(stored.page, stored.etag)
    stepped_over: dict[int, StarPage] = {}  # read while stepping back, this run
    if page.answer.not_modified:
        if stored.count < reader.per_page:
            return
        page = reader.read(stored.page + 1)
    else:
        while page.number > 1 and _starts_after(page, stored.newest):
            stepped_over[page.number] = page
            page = reader.read(page.number - 1)
    yield from _onwards(reader, page, stepped_over)


def all_star_pages(reader: StarReader, until: datetime | None = None) -> Iterator[StarPage]:
    """Every page from the first (a back-fill), stopping after the page that reaches ``until``."""
    for page in _onwards(reader, reader.read(1)):
        yield page
        if until is not None and page.stars and page.stars[-1].starred_at >= until:
            return


def _onwards(
    reader: StarReader, page: StarPage, known: Mapping[int, StarPage] | None = None
) -> Iterator[StarPage]:
    """``page`` and the pages after it; those in ``known`` (read moments ago) are reused."""
    while True:
        yield page
        following = page.answer.links.get("next")
        if not following or not page.stars:
            return
        number = page_number(following) or page.number + 1
        reused = (known or {}).get(number)
        page = reused if reused is not None else reader.read_url(following, number)


def _starts_after(page: StarPage, newest: datetime | None) -> bool:
    """True when the page holds no stored star (it is empty, or its first star is newer than
    every stored one), so stars not stored yet may have shifted onto earlier pages."""
    if not page.stars or newest is None:
        return True
    return page.stars[0].starred_at > newest
