"""A fake GitHub REST API (the parts the ``github`` source reads), faithful on the wire.

- ``GET /repos/{o}/{r}``, ``…/stargazers`` (and ``/repositories/{id}/stargazers``, the form
  GitHub's own ``Link`` headers use), ``…/traffic/{views,clones}?per=day|week``,
  ``…/traffic/popular/{referrers,paths}``.
- Weak ETags on every 200 (``W/"…"``); ``If-None-Match`` answered with an empty 304 that
  does not count against the rate limit.
- ``Link`` headers with page numbers (prev, next, last, first); ``per_page`` default 30, max
  100; past ``max_pages`` a 422 "pagination is limited for this resource".
- ``x-ratelimit-*`` headers on every answer; when exhausted, 403 with remaining 0 and reset.
- 401 for a wrong token, 403 "Must have push access" for traffic without push access, 404 for
  an unknown repository, GitHub's JSON error bodies (message, documentation_url, status).

Switches for tests: ``fail()`` (every request 500), ``exhaust(reset_in)`` (rate limit),
``answer_raw(path, …)`` (a malformed answer), and ``log`` of every request with its status.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask, Response, request

DOCS = "https://docs.github.com/rest"
STAR_MEDIA = "application/vnd.github.star+json"
PAGINATION_MESSAGE = (
    "In order to keep the API fast for everyone, pagination is limited for this resource. "
    "Check the rel=last link relation in the Link response header to see how far back you "
    "can traverse."
)


@dataclass
class FakeRepo:
    id: int
    full_name: str
    stars: list[tuple[str, datetime]] = field(default_factory=list)  # oldest first
    views: dict[date, tuple[int, int]] = field(default_factory=dict)  # day -> count, uniques
    clones: dict[date, tuple[int, int]] = field(default_factory=dict)
    referrers: list[tuple[str, int, int]] = field(default_factory=list)
    paths: list[tuple[str, str, int, int]] = field(default_factory=list)
    forks: int = 2
    open_issues: int = 5
    subscribers: int = 4
    network: int = 2
    size: int = 1234
    push_access: bool = True
    updated_at: datetime = field(default_factory=lambda: datetime(2024, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    if_none_match: str | None
    accept: str | None
    authorization: str | None
    api_version: str | None
    user_agent: str | None
    status: int


class FakeGitHub:
    def __init__(
        self,
        token: str | None = None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        max_pages: int = 400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.today = today
        self.max_pages = max_pages
        self.clock = clock
        self.repos: dict[str, FakeRepo] = {}
        self.log: list[LoggedRequest] = []
        self.failing = False
        self.limit = 5000 if token else 60
        self.used = 0
        self.window_reset = clock() + 3600
        self.exhausted_until: float | None = None
        self.raw_answers: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self.app = self._build_app()

    # -- state, for tests ---------------------------------------------------------------------

    def add_repo(self, full_name: str, **attributes: Any) -> FakeRepo:
        repo = FakeRepo(id=1_000 + len(self.repos), full_name=full_name, **attributes)
        self.repos[full_name.lower()] = repo
        return repo

    def star(self, full_name: str, login: str, at: datetime) -> None:
        repo = self.repos[full_name.lower()]
        repo.stars.append((login, at))
        repo.stars.sort(key=lambda star: star[1])
        repo.updated_at = max(repo.updated_at, at)

    def unstar(self, full_name: str, login: str) -> None:
        repo = self.repos[full_name.lower()]
        repo.stars = [star for star in repo.stars if star[0] != login]

    def fail(self) -> None:
        self.failing = True

    def recover(self) -> None:
        self.failing = False

    def exhaust(self, reset_in: float) -> None:
        """The primary rate limit is used up until ``reset_in`` seconds from now."""
        self.exhausted_until = self.clock() + reset_in

    def replenish(self) -> None:
        self.exhausted_until = None

    def answer_raw(self, path: str, status: int, text: str) -> None:
        """From now on answer ``path`` (no query) with ``text`` as its JSON body."""
        self.raw_answers[path] = (status, text)

    def requests_to(self, path: str) -> list[LoggedRequest]:
        return [logged for logged in self.log if logged.path == path]

    # -- the app ------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)

        @app.before_request
        def gate() -> Response | None:
            return self._gate()

        @app.after_request
        def finish(response: Response) -> Response:
            return self._finish(response)

        @app.get("/repos/<owner>/<name>")
        def get_repo(owner: str, name: str) -> Response:
            repo = self._repo(owner, name)
            return repo if isinstance(repo, Response) else _json(self._repo_body(repo))

        @app.get("/repos/<owner>/<name>/stargazers")
        def stargazers(owner: str, name: str) -> Response:
            repo = self._repo(owner, name)
            return repo if isinstance(repo, Response) else self._stargazers(repo)

        @app.get("/repositories/<int:repo_id>/stargazers")
        def stargazers_by_id(repo_id: int) -> Response:
            for repo in self.repos.values():
                if repo.id == repo_id:
                    return self._stargazers(repo)
            return _error(404, "Not Found")

        @app.get("/repos/<owner>/<name>/traffic/<series>")
        def traffic(owner: str, name: str, series: str) -> Response:
            repo = self._traffic_repo(owner, name)
            if isinstance(repo, Response):
                return repo
            if series not in ("views", "clones"):
                return _error(404, "Not Found")
            return self._series(repo, series)

        @app.get("/repos/<owner>/<name>/traffic/popular/<kind>")
        def popular(owner: str, name: str, kind: str) -> Response:
            repo = self._traffic_repo(owner, name)
            if isinstance(repo, Response):
                return repo
            if kind == "referrers":
                return _json(
                    [
                        {"referrer": referrer, "count": count, "uniques": uniques}
                        for referrer, count, uniques in repo.referrers[:10]
                    ]
                )
            if kind == "paths":
                return _json(
                    [
                        {"path": path, "title": title, "count": count, "uniques": uniques}
                        for path, title, count, uniques in repo.paths[:10]
                    ]
                )
            return _error(404, "Not Found")

        return app

    def _gate(self) -> Response | None:
        if self.failing:
            return _error(500, "Server Error")
        if not request.headers.get("User-Agent"):
            return Response(
                "Request forbidden by administrative rules. "
                "Please make sure your request has a User-Agent header "
                "(https://docs.github.com/en/rest/overview/resources-in-the-rest-api"
                "#user-agent-required). "
                "Check https://developer.github.com for other possible causes.\n",
                status=403,
                content_type="text/plain; charset=utf-8",
            )
        if self.token is not None:
            sent = request.headers.get("Authorization", "")
            if sent not in (f"Bearer {self.token}", f"token {self.token}"):
                return _error(401, "Bad credentials")
        if self.exhausted_until is not None and self.clock() < self.exhausted_until:
            return _error(
                403,
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for "
                "help, please include the request ID 0000:1111:2222:3333:4444.",
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            )
        raw = self.raw_answers.get(request.path)
        if raw is not None:
            return Response(raw[1], status=raw[0], content_type="application/json; charset=utf-8")
        return None

    def _finish(self, response: Response) -> Response:
        if response.status_code == 200 and response.is_json:
            body = response.get_data()
            tag = hashlib.sha256(body + (request.headers.get("Accept") or "").encode()).hexdigest()
            etag = f'W/"{tag[:40]}"'
            response.headers["ETag"] = etag
            response.headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
            if _matches(request.headers.get("If-None-Match"), etag):
                response.set_data(b"")
                response.status_code = 304
                response.headers.pop("Content-Type", None)
                response.headers.pop("Content-Length", None)
        with self._lock:
            if response.status_code != 304:  # a 304 costs nothing against the primary limit
                self.used += 1
            exhausted = self.exhausted_until is not None and self.clock() < self.exhausted_until
            reset = self.exhausted_until if exhausted else self.window_reset
            remaining = 0 if exhausted else max(0, self.limit - self.used)
            self.log.append(
                LoggedRequest(
                    method=request.method,
                    path=request.path,
                    query=request.query_string.decode(),
                    if_none_match=request.headers.get("If-None-Match"),
                    accept=request.headers.get("Accept"),
                    authorization=request.headers.get("Authorization"),
                    api_version=request.headers.get("X-GitHub-Api-Version"),
                    user_agent=request.headers.get("User-Agent"),
                    status=response.status_code,
                )
            )
        response.headers["X-RateLimit-Limit"] = str(self.limit)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Used"] = str(self.limit - remaining)
        response.headers["X-RateLimit-Reset"] = str(int(reset or 0))
        response.headers["X-RateLimit-Resource"] = "core"
        response.headers["X-GitHub-Api-Version-Selected"] = "2022-11-28"
        response.headers["X-GitHub-Request-Id"] = uuid.uuid4().hex[:20].upper()
        response.headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
        return response

    def _repo(self, owner: str, name: str) -> FakeRepo | Response:
        repo = self.repos.get(f"{owner}/{name}".lower())
        if repo is None:
            return _error(404, "Not Found", f"{DOCS}/repos/repos#get-a-repository")
        return repo

    def _traffic_repo(self, owner: str, name: str) -> FakeRepo | Response:
        repo = self._repo(owner, name)
        if isinstance(repo, FakeRepo) and not repo.push_access:
            return _error(403, "Must have push access to repository", f"{DOCS}/metrics/traffic")
        return repo

    def _repo_body(self, repo: FakeRepo) -> dict[str, Any]:
        owner, name = repo.full_name.split("/")
        stars = len(repo.stars)
        return {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": name,
            "full_name": repo.full_name,
            "private": False,
            "owner": {"login": owner, "id": 1, "type": "Organization"},
            "html_url": f"https://github.com/{repo.full_name}",
            "description": "A fake repository",
            "fork": False,
            "url": f"{request.host_url}repos/{repo.full_name}",
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": _stamp(repo.updated_at),
            "pushed_at": "2024-01-01T00:00:00Z",
            "size": repo.size,
            "stargazers_count": stars,
            "watchers_count": stars,
            "language": "Python",
            "forks_count": repo.forks,
            "archived": False,
            "disabled": False,
            "open_issues_count": repo.open_issues,
            "topics": ["analytics"],
            "visibility": "public",
            "default_branch": "main",
            "forks": repo.forks,
            "open_issues": repo.open_issues,
            "watchers": stars,
            "network_count": repo.network,
            "subscribers_count": repo.subscribers,
        }

    def _stargazers(self, repo: FakeRepo) -> Response:
        per_page = min(100, max(1, _int_arg("per_page", 30)))
        page = max(1, _int_arg("page", 1))
        if page > self.max_pages:
            return _error(422, PAGINATION_MESSAGE, "https://docs.github.com/v3/#pagination")
        chosen = repo.stars[(page - 1) * per_page : page * per_page]
        if STAR_MEDIA in (request.headers.get("Accept") or ""):
            body: list[Any] = [
                {"starred_at": _stamp(at), "user": _user(login)} for login, at in chosen
            ]
            media = "github.v3; param=star; format=json"
        else:
            body = [_user(login) for login, _ in chosen]
            media = "github.v3; format=json"
        response = _json(body)
        response.headers["X-GitHub-Media-Type"] = media
        last = min(self.max_pages, max(1, -(-len(repo.stars) // per_page)))
        link = _link_header(
            f"{request.host_url}repositories/{repo.id}/stargazers", per_page, page, last
        )
        if link:
            response.headers["Link"] = link
        return response

    def _series(self, repo: FakeRepo, series: str) -> Response:
        per = request.args.get("per", "day")
        if per not in ("day", "week"):
            return _error(422, 'Invalid request.\n\nNo subschema in "anyOf" matched.')
        today = self.today()
        first = today - timedelta(days=13)
        data = repo.views if series == "views" else repo.clones
        buckets: dict[date, list[int]] = {}
        for day, (count, uniques) in sorted(data.items()):
            if first <= day <= today:
                start = day if per == "day" else day - timedelta(days=day.weekday())
                bucket = buckets.setdefault(start, [0, 0])
                bucket[0] += count
                bucket[1] += uniques
        entries = [
            {
                "timestamp": _stamp(datetime.combine(day, datetime.min.time(), UTC)),
                "count": c,
                "uniques": u,
            }
            for day, (c, u) in sorted(buckets.items())
        ]
        return _json(
            {
                "count": sum(entry["count"] for entry in entries),
                "uniques": sum(entry["uniques"] for entry in entries),
                series: entries,
            }
        )


def _link_header(base: str, per_page: int, page: int, last: int) -> str:
    """GitHub's order: prev, next, last, first; no next/last on the last page."""

    def link(number: int, rel: str) -> str:
        return f'<{base}?per_page={per_page}&page={number}>; rel="{rel}"'

    parts = []
    if page > 1:
        parts.append(link(page - 1, "prev"))
    if page < last:
        parts.append(link(page + 1, "next"))
        parts.append(link(last, "last"))
    if page > 1:
        parts.append(link(1, "first"))
    return ", ".join(parts)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2): ``W/`` is ignored; a list or ``*`` is allowed."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def _user(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": int(hashlib.sha256(login.encode()).hexdigest()[:8], 16),
        "type": "User",
        "site_admin": False,
        "html_url": f"https://github.com/{login}",
    }


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


def _json(body: Any) -> Response:
    return Response(json.dumps(body), status=200, content_type="application/json; charset=utf-8")


def _error(status: int, message: str, documentation_url: str = DOCS) -> Response:
    body = {"message": message, "documentation_url": documentation_url, "status": str(status)}
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")
