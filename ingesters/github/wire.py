"""GitHub's REST answers, read into small typed records (pure: no I/O).

Every reader checks the shape it relies on and raises ``SourceError`` naming the answer and the
member at fault, so a changed or broken answer is recorded as such instead of surfacing as a
``KeyError`` deep inside a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from metronome.sources.base import SourceError

# one link-value of RFC 8288: <target>; param; param=value; ...
_LINK_VALUE = re.compile(r"<(?P<target>[^>]*)>(?P<params>(?:\s*;\s*[^;,]*)*)")
_REL_PARAM = re.compile(r"""(?:^|;)\s*rel\s*=\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s;,]+))""")


@dataclass(frozen=True)
class RepoCounts:
    """The figures of ``GET /repos/{owner}/{repo}`` worth following day by day."""

    stars: int  # stargazers_count
    forks: int  # forks_count
    open_issues: int  # open_issues_count: issues and pull requests together
    watchers: int | None  # subscribers_count, the real watchers (watchers_count is the stars)
    network_count: int | None
    size_kb: int | None


@dataclass(frozen=True)
class TrafficDay:
    day: date
    count: int
    uniques: int


@dataclass(frozen=True)
class Referrer:
    referrer: str
    count: int
    uniques: int


@dataclass(frozen=True)
class PopularPath:
    path: str
    title: str
    count: int
    uniques: int


@dataclass(frozen=True)
class Star:
    login: str
    starred_at: datetime


def parse_link_header(value: str | None) -> dict[str, str]:
    """``<https://…?page=2>; rel="next", <https://…?page=5>; rel="last"`` -> {rel: url}.

    A link-value may carry several relation types (``rel="next last"``); the first link of a
    relation wins, as RFC 8288 leaves later duplicates to the reader.
    """
    links: dict[str, str] = {}
    for match in _LINK_VALUE.finditer(value or ""):
        rel = _REL_PARAM.search(match.group("params"))
        if rel is None:
            continue
        for name in (rel.group("quoted") or rel.group("bare") or "").split():
            links.setdefault(name.lower(), match.group("target"))
    return links


def page_number(url: str) -> int | None:
    """The ``page`` query parameter of a pagination link, when it has a usable one."""
    values = parse_qs(urlsplit(url).query).get("page")
    if not values:
        return None
    try:
        number = int(values[0])
    except ValueError:
        return None
    return number if number >= 1 else None


def read_repo(body: Any, where: str) -> RepoCounts:
    answer = _mapping(body, where)
    return RepoCounts(
        stars=_integer(answer, "stargazers_count", where),
        forks=_integer(answer, "forks_count", where),
        open_issues=_integer(answer, "open_issues_count", where),
        watchers=_optional_integer(answer, "subscribers_count", where),
        network_count=_optional_integer(answer, "network_count", where),
        size_kb=_optional_integer(answer, "size", where),
    )


def read_traffic(body: Any, series: str, where: str) -> list[TrafficDay]:
    """``{"count": …, "uniques": …, "views": [{"timestamp", "count", "uniques"}]}``; ``series``
    names the array (``views`` or ``clones``)."""
    return [
        TrafficDay(_timestamp(item, "timestamp", at).date(), *_counts(item, at))
        for at, item in _members(_mapping(body, where).get(series), f"{where}: {series}")
    ]


def read_referrers(body: Any, where: str) -> list[Referrer]:
    return [
        Referrer(_string(item, "referrer", at), *_counts(item, at))
        for at, item in _members(body, where)
    ]


def read_paths(body: Any, where: str) -> list[PopularPath]:
    return [
        PopularPath(_string(item, "path", at), _title(item), *_counts(item, at))
        for at, item in _members(body, where)
    ]


def read_stars(body: Any, where: str) -> list[Star]:
    """The ``application/vnd.github.star+json`` form: ``[{"starred_at", "user": {"login"}}]``."""
    stars = []
    for at, item in _members(body, where):
        if "starred_at" not in item:
            raise SourceError(
                f"{at}: no starred_at (was the star+json media type ignored?); got {_show(item)}"
            )
        user = _mapping(item.get("user"), f"{at}: user")
        login = _string(user, "login", f"{at}: user")
        stars.append(Star(login=login, starred_at=_timestamp(item, "starred_at", at)))
    return stars


def _members(value: Any, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The objects of a JSON array, each with the name it is reported by (``where[index]``),
    checked one at a time as they are read."""
    for index, entry in enumerate(_list(value, where)):
        at = f"{where}[{index}]"
        yield at, _mapping(entry, at)


def _counts(item: Mapping[str, Any], where: str) -> tuple[int, int]:
    """``count`` and ``uniques``, the two figures of every traffic answer."""
    return _integer(item, "count", where), _integer(item, "uniques", where)


def _title(item: Mapping[str, Any]) -> str:
    title = item.get("title")
    return title if isinstance(title, str) else ""


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SourceError(f"{where}: expected a JSON object, got {_show(value)}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SourceError(f"{where}: expected a JSON array, got {_show(value)}")
    return value


def _integer(item: Mapping[str, Any], name: str, where: str) -> int:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SourceError(f"{where}: expected an integer {name!r}, got {_show(value)}")
    return value


def _optional_integer(item: Mapping[str, Any], name: str, where: str) -> int | None:
    return None if item.get(name) is None else _integer(item, name, where)


def _string(item: Mapping[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise SourceError(f"{where}: expected a non-empty string {name!r}, got {_show(value)}")
    return value


def _timestamp(item: Mapping[str, Any], name: str, where: str) -> datetime:
    value = _string(item, name, where)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SourceError(f"{where}: {name!r} is not an ISO 8601 time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise SourceError(f"{where}: {name!r} has no time zone: {value[:40]!r}")
    return moment.astimezone(UTC)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
