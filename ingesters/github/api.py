"""GET requests to the GitHub REST API over the shared HttpClient: conditional requests
(``If-None-Match`` -> 304), the ``Link`` header, and GitHub's error answers explained.

Retries, 5xx and rate limits (``x-ratelimit-remaining: 0`` + ``x-ratelimit-reset``, a secondary
limit's ``retry-after``) are the HttpClient's business; what reaches this module is final.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingesters.github.wire import parse_link_header
from metronome.sources.base import SourceError
from metronome.sources.http import HttpClient, RemoteError

GITHUB_JSON = "application/vnd.github+json"
STAR_JSON = "application/vnd.github.star+json"  # stargazers with their starred_at
API_VERSION = "2022-11-28"
PAGINATION_LIMITED = "pagination is limited for this resource"


class PaginationCapped(SourceError):
    """GitHub lists no further pages of this resource (about 400 pages: 40,000 stargazers)."""


class NoAccess(SourceError):
    """The repository is unknown, or the token may not read what was asked (401/403/404)."""


class NoPushAccess(NoAccess):
    """403 "Must have push access": the token may read the repository but not its traffic.
    Lasting and understood (the token's own rights), unlike a token refused altogether."""


PUSH_ACCESS_REFUSED = "must have push access"


@dataclass(frozen=True)
class Answer:
    url: str
    status: int  # 200, or 304 when the ETag sent still matches
    body: Any  # the parsed JSON; None for a 304
    etag: str | None
    links: dict[str, str] = field(default_factory=dict)  # rel -> url, from the Link header

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class GitHubApi:
    def __init__(self, http: HttpClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def get(
        self,
        url: str,
        what: str,
        *,
        etag: str | None = None,
        accept: str | None = None,
        forbidden_hint: str = "",
    ) -> Answer:
        """GET ``url`` (``what`` names it in errors); with ``etag``, a 304 means unchanged."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if accept:
            headers["Accept"] = accept
        try:
            response = self.http.get(url, ok=frozenset({200, 304}), headers=headers)
        except RemoteError as error:
            raise _explained(error, what, forbidden_hint) from error
        links = parse_link_header(response.headers.get("Link"))
        answered_etag = response.headers.get("ETag")
        if response.status_code == 304:
            return Answer(url, 304, None, answered_etag or etag, links)
        try:
            body = response.json()
        except ValueError:
            excerpt = response.text[:120].replace("\n", " ")
            raise SourceError(f"{what}: {url} did not answer JSON: {excerpt!r}") from None
        return Answer(url, response.status_code, body, answered_etag, links)


def _explained(error: RemoteError, what: str, forbidden_hint: str) -> SourceError:
    if error.status == 422 and PAGINATION_LIMITED in str(error).lower():
        return PaginationCapped(
            f"{what}: GitHub lists no further pages ({PAGINATION_LIMITED}: about 400 pages); "
            "everything before this page is stored, later stars cannot be listed by this API"
        )
    if error.status == 401:
        return NoAccess(f"{what}: the token was refused (401 Bad credentials): {error}")
    if error.status == 403:
        hint = f" {forbidden_hint}" if forbidden_hint else ""
        refused = NoPushAccess if PUSH_ACCESS_REFUSED in error.body.lower() else NoAccess
        return refused(f"{what}: forbidden.{hint} ({error})")
    if error.status == 404:
        return NoAccess(
            f"{what}: not found; check the owner/name, and that the token may read the "
            f"repository (GitHub answers 404 for a private repository it hides) ({error})"
        )
    return error
