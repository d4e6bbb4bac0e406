"""The ``github`` source: repository counts, traffic, popular referrers and paths, and
stargazers of a list of repositories, read from the GitHub REST API into the ``github`` stream.

Per repository and run (documents' ``kind`` in brackets):

- ``GET /repos/{o}/{r}`` [repo]: one document per UTC day, the day's last reading.
- ``/traffic/views`` and ``/traffic/clones`` ``?per=day`` [traffic_views, traffic_clones]: one
  document per day; GitHub keeps 14 days, so every run writes all of them and a downtime of up
  to 14 days loses nothing.
- ``/traffic/popular/referrers`` and ``/paths`` [referrer, path]: one document per entry and
  day, GitHub's 14-day totals (``window_days: 14``).
- ``/stargazers`` with ``starred_at`` [star]: one document per star, read incrementally.

A repository may switch off its own traffic or stargazers (``repos: [acme/app, {name:
acme/upstream, traffic: false}]``). What each repository gave is recorded in the run's report
(``parts``: documents per reading, refusals and why); a repository whose traffic GitHub refuses
because the token lacks push access (403 "Must have push access") is a lasting, understood
refusal: the run stays ok and ``sources status`` shows it as partial.

Every request after the first is conditional (``If-None-Match`` with the ETag kept in the
cursor): a 304 costs no rate limit and means there is nothing to write, except on a new UTC day,
when the day's repository and popular documents are written from the figures the cursor kept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, timedelta
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates

from ingesters.github.api import (
    API_VERSION,
    GITHUB_JSON,
    Answer,
    GitHubApi,
    NoPushAccess,
    PaginationCapped,
)
from ingesters.github.documents import (
    Fields,
    daily_series,
    daily_snapshot,
    describe,
    inside,
    midnight,
    offered_days,
    out_of_reach,
    path_fields,
    referrer_fields,
    repo_fields,
    snapshot_key,
    star_document,
    traffic_fields,
)
from ingesters.github.stars import StarCursor, StarReader, all_star_pages, new_star_pages
from ingesters.github.wire import read_paths, read_referrers, read_repo, read_traffic
from metronome.sources.base import (
    Document,
    FetchContext,
    Page,
    PartOutcome,
    Refusal,
    Removal,
    Source,
    SourceError,
)
from metronome.sources.http import RateLimited

REPO_NAME = r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}\Z"
NO_PUSH_ACCESS = (
    "Traffic needs a token with push access to the repository; give it that, or set "
    "traffic: false for this repository (repos: - {name: owner/name, traffic: false}) or for "
    "the source."
)
CHOICES = ("traffic", "stargazers")  # what a repository may switch off for itself

SNAPSHOTS = {  # cursor slot -> (document kind, name in messages)
    "repo": ("repo", "repository"),
    "referrers": ("referrer", "popular referrers"),
    "paths": ("path", "popular paths"),
}


class RepoChoices(Schema):
    """A repository with choices of its own: ``{name: acme/app, traffic: false}``."""

    class Meta:
        unknown = RAISE

    name = fields.String(
        required=True, validate=validate.Regexp(REPO_NAME, error="Not an owner/name: {input}")
    )
    traffic = fields.Boolean(load_default=None, allow_none=True)  # None: the source's choice
    stargazers = fields.Boolean(load_default=None, allow_none=True)


class RepoEntry(fields.Field):
    """``owner/name``, or a mapping: its name and its own ``traffic`` / ``stargazers``."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, Any]:
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, Mapping):
            raise ValidationError("Give owner/name, or {name: owner/name, traffic: false}.")
        loaded: dict[str, Any] = RepoChoices().load(value)
        return loaded


class GitHubOptions(Schema):
    # loaded as the names; the choices of each repository go to ``per_repo``
    repos = fields.List(RepoEntry(), required=True, validate=validate.Length(min=1))
    token = fields.String(load_default=None, allow_none=True, metadata={"secret": True})
    api_url = fields.Url(
        load_default="https://api.github.com", require_tld=False, schemes={"http", "https"}
    )
    traffic = fields.Boolean(load_default=True)
    stargazers = fields.Boolean(load_default=True)
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=100))

    @validates("repos")
    def check_unique(self, repos: list[dict[str, Any]], **_: Any) -> None:
        # entries that failed to load are already reported: only the names read are compared
        seen = [repo["name"].lower() for repo in repos if isinstance(repo, dict) and "name" in repo]
        if len(set(seen)) != len(seen):
            raise ValidationError("A repository is listed twice.")

    @post_load
    def split_choices(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        entries = data["repos"]
        data["repos"] = [entry["name"] for entry in entries]
        data["per_repo"] = {
            entry["name"]: {c: entry[c] for c in CHOICES if entry.get(c) is not None}
            for entry in entries
        }
        return data


class GitHubSource(Source):
    type_name = "github"
    stream = "github"
    options_schema = GitHubOptions
    natural_key = (
        "repo + UTC day (+ referrer or path) for snapshots and traffic; repo + user for stars"
    )
    description = (
        "GitHub repositories: daily counts (stars, forks, watchers, open issues), traffic "
        "views and clones, popular referrers and paths, and every star with its time"
    )
    default_interval = 3600.0

    def http_headers(self) -> dict[str, str]:
        headers = {"Accept": GITHUB_JSON, "X-GitHub-Api-Version": API_VERSION}
        if self.options.get("token"):
            headers["Authorization"] = f"Bearer {self.options['token']}"
        return headers

    def fetch(self, context: FetchContext) -> Iterator[Page]:
        """Every repository in turn; what one refuses is recorded in its part of the run's
        report. A lasting refusal that is understood (no push access for traffic) leaves the
        run ok; any other failure fails the run once the other repositories are read."""
        run = _Run(self.options, context)
        failures: list[SourceError] = []
        for repo in self.options["repos"]:
            part = context.part(repo)
            try:
                yield from _reading(part, "repository", run.repository(repo))
                if self._wants(repo, "stargazers"):
                    try:
                        yield from _reading(part, "stargazers", run.stars(repo))
                    except PaginationCapped as error:  # its traffic is still read
                        failures.append(error)
                else:
                    part.skipped.append("stargazers")
                if self._wants(repo, "traffic"):
                    yield from _reading(part, "traffic", run.traffic(repo))
                else:
                    part.skipped.append("traffic")
            except RateLimited:
                raise  # every other request would be refused as well
            except SourceError as error:  # the other repositories are still read
                failures.append(error)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise SourceError("; ".join(str(error) for error in failures))

    def _wants(self, repo: str, reading: str) -> bool:
        """The repository's own choice (``{name, traffic: false}``), else the source's."""
        choices: Mapping[str, bool] = self.options.get("per_repo", {}).get(repo, {})
        return bool(choices.get(reading, self.options[reading]))


def _reading(part: PartOutcome, reading: str, pages: Iterator[Page]) -> Iterator[Page]:
    """The pages of one reading of a repository, counted in its part of the report. A refusal
    is recorded there too; only a lasting, understood one (``NoPushAccess``) is not raised."""
    part.stored.setdefault(reading, 0)
    try:
        for page in pages:
            part.stored[reading] += len(page.documents)
            yield page
    except RateLimited:
        raise
    except NoPushAccess as error:
        part.refused[reading] = Refusal(str(error), permanent=True)
    except SourceError as error:
        part.refused[reading] = Refusal(str(error))
        raise


class _Run:
    """One fetch: the working cursor, and a Page (with a copy of it) per answer worth storing.

    Cursor: ``{"repos": {"owner/name": {"etags": {url: etag}, "repo"|"referrers"|"paths":
    {"day", "items"}, "views"|"clones": {day: record}, "stars": StarCursor}}}``.
    """

    def __init__(self, options: Mapping[str, Any], context: FetchContext) -> None:
        self.options = options
        self.api = GitHubApi(context.http, options["api_url"])
        self.cursor: dict[str, Any] = copy.deepcopy(dict(context.cursor))
        kept = self.cursor.get("repos")
        self.cursor["repos"] = {  # forget repositories no longer configured
            repo: state
            for repo, state in (kept.items() if isinstance(kept, dict) else [])
            if repo in options["repos"] and isinstance(state, dict)
        }
        self.now = context.now.astimezone(UTC)
        self.today = self.now.date()
        self.now_ms = int(self.now.timestamp() * 1000)
        self.window = context.backfill
        self.note = context.progress

    # -- the four readings ------------------------------------------------------------------

    def repository(self, repo: str) -> Iterator[Page]:
        def items(body: Any, what: str) -> dict[str, Fields]:
            return {"repo": repo_fields(repo, read_repo(body, what))}

        yield from self._daily(repo, "repo", f"/repos/{repo}", items)

    def traffic(self, repo: str) -> Iterator[Page]:
        offered = offered_days(self.today)
        if self.window is not None and (missing := out_of_reach(self.window, offered)):
            self.note(
                f"{repo}: traffic for {describe(missing)} is out of reach "
                f"(GitHub keeps {offered.first.isoformat()}..{offered.last.isoformat()})"
            )
        for series in ("views", "clones"):
            yield from self._series(repo, series)

        def referrers(body: Any, what: str) -> dict[str, Fields]:
            found = read_referrers(body, what)
            return {entry.referrer: referrer_fields(repo, entry) for entry in found}

        def paths(body: Any, what: str) -> dict[str, Fields]:
            return {entry.path: path_fields(repo, entry) for entry in read_paths(body, what)}

        popular = f"/repos/{repo}/traffic/popular"
        yield from self._daily(repo, "referrers", f"{popular}/referrers", referrers)
        yield from self._daily(repo, "paths", f"{popular}/paths", paths)

    def stars(self, repo: str) -> Iterator[Page]:
        state = self._state(repo)
        reader = StarReader(self.api, repo, int(self.options["per_page"]))
        if self.window is not None:
            until = midnight(self.window.last + timedelta(days=1))
            for page in all_star_pages(reader, until):
                documents = [
                    star_document(repo, star)
                    for star in page.stars
                    if inside(self.window, star.starred_at.date())
                ]
                yield self._page(documents, f"{repo}: stargazers page {page.number}")
            return
        stored = StarCursor.from_json(state.get("stars"))
        cursor = StarCursor(1, None, 0, reader.per_page, stored.newest if stored else None)
        pages = 0
        for page in new_star_pages(reader, stored):
            pages += 1
            cursor = cursor.after(page)
            state["stars"] = cursor.to_json()
            documents = [star_document(repo, star) for star in page.stars]
            yield self._page(documents, f"{repo}: stargazers page {page.number}")
        if not pages:
            self.note(f"{repo}: no new stargazers")

    # -- shared steps -------------------------------------------------------------------------

    def _daily(
        self,
        repo: str,
        slot: str,
        path: str,
        items_of: Callable[[Any, str], dict[str, Fields]],
    ) -> Iterator[Page]:
        """A snapshot of today: the repository's counts (``slot`` repo, one item), or the
        popular referrers or paths (one item each)."""
        kind, label = SNAPSHOTS[slot]
        what = f"{repo}: {label}"
        if not inside(self.window, self.today):
            self.note(f"{what}: only today's ({self.today.isoformat()}) can be read; skipped")
            return
        state = self._state(repo)
        previous = state.get(slot)
        url = self.api.url(path)
        answer = self._get(state, url, what, conditional=isinstance(previous, Mapping))
        if answer.not_modified:
            if not isinstance(previous, Mapping):  # no ETag is sent without kept figures
                raise SourceError(f"{what}: 304 Not Modified to a request that was not conditional")
            if previous.get("day") == self.today.isoformat():
                self.note(f"{what}: not modified")
                return
            # unchanged since an earlier day: today's documents hold the figures kept then
            items = {item: dict(kept["fields"]) for item, kept in previous["items"].items()}
        else:
            items = items_of(answer.body, what)

        def key(item: str) -> str:
            return snapshot_key(kind, repo, self.today, None if slot == "repo" else item)

        documents, state[slot], removed = daily_snapshot(
            items, key, self.today, previous, self.now_ms
        )
        self._remember(state, url, answer)
        yield self._page(documents, f"{what} {self.today.isoformat()}", removed)

    def _series(self, repo: str, series: str) -> Iterator[Page]:
        """Traffic views or clones, per day: every day GitHub still has (in the window)."""
        what = f"{repo}: traffic {series}"
        state = self._state(repo)
        url = self.api.url(f"/repos/{repo}/traffic/{series}?per=day")
        answer = self._get(state, url, what, conditional=True)
        if answer.not_modified:
            self.note(f"{what}: not modified")
            return
        days = {
            entry.day: traffic_fields(repo, series, entry)
            for entry in read_traffic(answer.body, series, what)
            if inside(self.window, entry.day)
        }
        previous = state.get(series)
        documents, state[series] = daily_series(
            days,
            lambda day: snapshot_key(series, repo, day),
            previous if isinstance(previous, Mapping) else {},
            self.now_ms,
            keep_from=offered_days(self.today).first - timedelta(days=1),
        )
        self._remember(state, url, answer)
        yield self._page(documents, f"{what}: {len(documents)} days")

    def _get(self, state: dict[str, Any], url: str, what: str, conditional: bool) -> Answer:
        # a back-fill wants the figures even when unchanged: it never sends the ETag
        etag = state["etags"].get(url) if conditional and self.window is None else None
        hint = NO_PUSH_ACCESS if "/traffic/" in url else ""
        return self.api.get(url, what, etag=etag, forbidden_hint=hint)

    def _remember(self, state: dict[str, Any], url: str, answer: Answer) -> None:
        if answer.etag:
            state["etags"][url] = answer.etag
        else:
            state["etags"].pop(url, None)

    def _state(self, repo: str) -> dict[str, Any]:
        state: dict[str, Any] = self.cursor["repos"].setdefault(repo, {})
        if not isinstance(state.get("etags"), dict):
            state["etags"] = {}
        return state

    def _page(
        self, documents: list[Document], progress: str, removed: Sequence[Removal] = ()
    ) -> Page:
        return Page(documents, copy.deepcopy(self.cursor), progress=progress, removed=removed)
