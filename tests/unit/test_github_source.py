"""The pure parts of the github source: Link parsing, answer reading, document mapping,
version choice, back-fill windows, the stargazer cursor and walk, and the options."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from marshmallow import ValidationError

from ingesters.github import GitHubOptions, GitHubSource
from ingesters.github.api import Answer, GitHubApi
from ingesters.github.documents import (
    choose_version,
    daily_series,
    daily_snapshot,
    describe,
    offered_days,
    out_of_reach,
    path_fields,
    referrer_fields,
    repo_fields,
    snapshot_key,
    star_document,
    traffic_fields,
)
from ingesters.github.stars import StarCursor, StarPage, StarReader, new_star_pages
from ingesters.github.wire import (
    PopularPath,
    Referrer,
    RepoCounts,
    Star,
    TrafficDay,
    page_number,
    parse_link_header,
    read_paths,
    read_referrers,
    read_repo,
    read_stars,
    read_traffic,
)
from metronome.sources.base import SourceError, Window
from metronome.sources.http import HttpClient

DAY = date(2024, 5, 10)
NOW_MS = 1_715_335_200_000

# -- Link header ---------------------------------------------------------------------------


def test_link_header_of_a_middle_page_gives_every_relation() -> None:
    value = (
        '<https://api.github.com/repositories/1300192/stargazers?per_page=3&page=1>; rel="prev", '
        '<https://api.github.com/repositories/1300192/stargazers?per_page=3&page=3>; rel="next", '
        '<https://api.github.com/repositories/1300192/stargazers?per_page=3&page=5>; rel="last", '
        '<https://api.github.com/repositories/1300192/stargazers?per_page=3&page=1>; rel="first"'
    )
    links = parse_link_header(value)
    assert set(links) == {"prev", "next", "last", "first"}
    assert links["next"].endswith("per_page=3&page=3")
    assert page_number(links["last"]) == 5


def test_link_header_tolerates_bare_and_multiple_relations_and_extra_parameters() -> None:
    value = '<https://x/a?page=2>;rel=next, <https://x/a?page=9>; title="end"; rel="last LAST"'
    assert parse_link_header(value) == {"next": "https://x/a?page=2", "last": "https://x/a?page=9"}


@pytest.mark.parametrize("value", [None, "", "garbage", "<https://x/a?page=2>"])
def test_link_header_without_relations_gives_nothing(value: str | None) -> None:
    assert parse_link_header(value) == {}


def test_the_first_link_of_a_relation_wins() -> None:
    value = '<https://x/a?page=2>; rel="next", <https://x/a?page=3>; rel="next"'
    assert parse_link_header(value)["next"] == "https://x/a?page=2"


@pytest.mark.parametrize(
    ("url", "number"),
    [
        ("https://x/r?per_page=3&page=2", 2),
        ("https://x/r?page=17&per_page=100", 17),
        ("https://x/r?per_page=3", None),
        ("https://x/r?page=two", None),
        ("https://x/r?page=0", None),
    ],
)
def test_page_number_of_a_link(url: str, number: int | None) -> None:
    assert page_number(url) == number


# -- reading answers ----------------------------------------------------------------------


def repo_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "full_name": "acme/app",
        "stargazers_count": 80,
        "watchers_count": 80,
        "subscribers_count": 7,
        "forks_count": 9,
        "open_issues_count": 4,
        "network_count": 9,
        "size": 2048,
    }
    body.update(changes)
    return body


def test_the_repository_answer_gives_the_real_watchers_not_watchers_count() -> None:
    counts = read_repo(repo_body(), "acme/app")
    assert counts == RepoCounts(
        stars=80, forks=9, open_issues=4, watchers=7, network_count=9, size_kb=2048
    )


def test_counts_only_the_single_repository_answer_has_are_optional() -> None:
    body = repo_body()
    del body["subscribers_count"], body["network_count"]
    counts = read_repo(body, "acme/app")
    assert counts.watchers is None and counts.network_count is None
    assert "watchers" not in repo_fields("acme/app", counts)


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (repo_body(stargazers_count="many"), "'stargazers_count'"),
        (repo_body(forks_count=True), "'forks_count'"),
        (repo_body(open_issues_count=None), "'open_issues_count'"),
        (repo_body(subscribers_count=1.5), "'subscribers_count'"),
        (["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_a_malformed_repository_answer_is_a_source_error(body: Any, complaint: str) -> None:
    with pytest.raises(SourceError, match=complaint):
        read_repo(body, "acme/app: repository")


def test_traffic_days_are_read_from_the_named_series() -> None:
    body = {
        "count": 14850,
        "uniques": 3782,
        "views": [
            {"timestamp": "2016-10-10T00:00:00Z", "count": 440, "uniques": 143},
            {"timestamp": "2016-10-11T00:00:00Z", "count": 1308, "uniques": 414},
        ],
    }
    assert read_traffic(body, "views", "w") == [
        TrafficDay(date(2016, 10, 10), 440, 143),
        TrafficDay(date(2016, 10, 11), 1308, 414),
    ]
    with pytest.raises(SourceError, match="clones"):
        read_traffic(body, "clones", "w")


@pytest.mark.parametrize(
    "entry",
    [
        {"timestamp": "yesterday", "count": 1, "uniques": 1},
        {"timestamp": "2016-10-10T00:00:00", "count": 1, "uniques": 1},
        {"timestamp": "2016-10-10T00:00:00Z", "count": "1", "uniques": 1},
        {"count": 1, "uniques": 1},
        "2016-10-10",
    ],
)
def test_a_malformed_traffic_day_is_a_source_error(entry: Any) -> None:
    with pytest.raises(SourceError, match=r"views\[0\]"):
        read_traffic({"views": [entry]}, "views", "acme/app: traffic views")


def test_popular_referrers_and_paths() -> None:
    assert read_referrers([{"referrer": "Google", "count": 4, "uniques": 3}], "r") == [
        Referrer("Google", 4, 3)
    ]
    paths = [{"path": "/o/r", "count": 3542, "uniques": 2225}]
    assert read_paths(paths, "p") == [PopularPath("/o/r", "", 3542, 2225)]
    with pytest.raises(SourceError, match="expected a JSON array"):
        read_referrers({"referrers": []}, "r")


def test_stars_are_read_with_their_time() -> None:
    body = [{"starred_at": "2011-01-16T19:06:43Z", "user": {"login": "octocat", "id": 1}}]
    assert read_stars(body, "s") == [Star("octocat", datetime(2011, 1, 16, 19, 6, 43, tzinfo=UTC))]


def test_plain_user_objects_mean_the_star_media_type_was_ignored() -> None:
    with pytest.raises(SourceError, match="star\\+json"):
        read_stars([{"login": "octocat", "id": 1}], "s")


def test_a_star_without_a_user_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="user"):
        read_stars([{"starred_at": "2011-01-16T19:06:43Z", "user": None}], "s")


# -- documents and versions -----------------------------------------------------------------


def test_a_version_is_the_fetch_time_unless_nothing_changed() -> None:
    fields = {"count": 3}
    assert choose_version(None, fields, NOW_MS) == NOW_MS
    kept = {"fields": {"count": 3}, "version": NOW_MS - 60_000}
    assert choose_version(kept, fields, NOW_MS) == NOW_MS - 60_000  # refused: nothing rewritten
    assert choose_version(kept, {"count": 4}, NOW_MS) == NOW_MS


def test_a_changed_figure_gets_a_higher_version_even_if_the_clock_went_back() -> None:
    kept = {"fields": {"count": 3}, "version": NOW_MS}
    assert choose_version(kept, {"count": 4}, NOW_MS - 5_000) == NOW_MS + 1


def test_documents_map_each_kind() -> None:
    counts = RepoCounts(80, 9, 4, 7, 9, 2048)
    assert repo_fields("acme/app", counts) == {
        "kind": "repo",
        "repo": "acme/app",
        "stars": 80,
        "forks": 9,
        "open_issues": 4,
        "watchers": 7,
        "network_count": 9,
        "size_kb": 2048,
    }
    assert traffic_fields("acme/app", "clones", TrafficDay(DAY, 5, 2)) == {
        "kind": "traffic_clones",
        "repo": "acme/app",
        "count": 5,
        "uniques": 2,
    }
    referrer = referrer_fields("acme/app", Referrer("Google", 4, 3))
    assert referrer["window_days"] == 14 and referrer["kind"] == "referrer"
    path = path_fields("acme/app", PopularPath("/acme/app", "Home", 30, 10))
    assert path["title"] == "Home" and path["window_days"] == 14


def test_a_star_is_a_create_once_document_at_its_time() -> None:
    at = datetime(2024, 5, 1, 12, tzinfo=UTC)
    document = star_document("Acme/App", Star("OctoCat", at))
    assert document.key == "star:acme/app:octocat"
    assert document.timestamp == at and document.version is None
    assert document.fields == {"kind": "star", "repo": "Acme/App", "user": "OctoCat"}


def test_snapshot_keys() -> None:
    assert snapshot_key("repo", "Acme/App", DAY) == "repo:acme/app:2024-05-10"
    assert (
        snapshot_key("referrer", "acme/app", DAY, "Google") == "referrer:acme/app:2024-05-10:Google"
    )


def test_a_daily_snapshot_keeps_the_versions_of_unchanged_items_of_the_same_day() -> None:
    def key(item: str) -> str:
        return snapshot_key("referrer", "acme/app", DAY, item)

    first, kept, _ = daily_snapshot({"Google": {"count": 4}}, key, DAY, None, NOW_MS)
    assert [(d.key, d.version) for d in first] == [("referrer:acme/app:2024-05-10:Google", NOW_MS)]
    assert first[0].timestamp == datetime(2024, 5, 10, tzinfo=UTC)
    items = {"Google": {"count": 4}, "Bing": {"count": 1}}
    again, kept, _ = daily_snapshot(items, key, DAY, kept, NOW_MS + 1000)
    assert {d.key.rsplit(":", 1)[1]: d.version for d in again} == {
        "Google": NOW_MS,
        "Bing": NOW_MS + 1000,
    }
    assert kept["day"] == "2024-05-10" and set(kept["items"]) == {"Google", "Bing"}


def test_a_daily_snapshot_removes_the_items_that_fell_out_of_the_same_days_reading() -> None:
    def key(item: str) -> str:
        return snapshot_key("referrer", "acme/app", DAY, item)

    first = {"medium.com": {"count": 24}, "Google": {"count": 9}}
    _, kept, removed = daily_snapshot(first, key, DAY, None, NOW_MS)
    assert removed == []
    second = {"linkedin.com": {"count": 22}, "Google": {"count": 9}}
    documents, kept, removed = daily_snapshot(second, key, DAY, kept, NOW_MS + 1000)
    assert sorted(d.key for d in documents) == [key("Google"), key("linkedin.com")]
    assert [(r.key, r.timestamp, r.version) for r in removed] == [
        (key("medium.com"), datetime(2024, 5, 10, tzinfo=UTC), NOW_MS + 1000)
    ]
    assert set(kept["items"]) == {"Google", "linkedin.com"}  # the day's last reading, only


def test_a_removal_outranks_the_removed_items_version_even_if_the_clock_went_back() -> None:
    kept = {"day": "2024-05-10", "items": {"gone": {"fields": {"count": 1}, "version": NOW_MS}}}
    _, _, removed = daily_snapshot({}, lambda item: item, DAY, kept, NOW_MS - 5000)
    assert [(r.key, r.version) for r in removed] == [("gone", NOW_MS + 1)]


def test_a_new_day_removes_nothing_of_the_day_before() -> None:
    kept = {"day": "2024-05-09", "items": {"gone": {"fields": {"count": 1}, "version": 5}}}
    _, _, removed = daily_snapshot({}, lambda item: item, DAY, kept, NOW_MS)
    assert removed == []


def test_a_daily_snapshot_of_a_new_day_starts_afresh() -> None:
    kept = {"day": "2024-05-09", "items": {"repo": {"fields": {"stars": 1}, "version": 5}}}
    documents, record, _ = daily_snapshot({"repo": {"stars": 1}}, lambda _: "k", DAY, kept, NOW_MS)
    assert documents[0].version == NOW_MS and record["day"] == "2024-05-10"


def test_a_daily_series_reuses_versions_and_forgets_old_days() -> None:
    previous = {
        "2024-04-20": {"fields": {"count": 1}, "version": 1},
        "2024-05-09": {"fields": {"count": 7}, "version": 2},
    }
    days = {date(2024, 5, 9): {"count": 7}, DAY: {"count": 3}}
    documents, record = daily_series(
        days, lambda day: f"views:acme/app:{day}", previous, NOW_MS, keep_from=date(2024, 4, 26)
    )
    assert [(d.key, d.version) for d in documents] == [
        ("views:acme/app:2024-05-09", 2),
        ("views:acme/app:2024-05-10", NOW_MS),
    ]
    assert sorted(record) == ["2024-05-09", "2024-05-10"]


def test_the_out_of_reach_parts_of_a_backfill_window() -> None:
    offered = offered_days(DAY)
    assert offered == Window(date(2024, 4, 27), DAY)
    assert out_of_reach(Window(date(2024, 5, 1), date(2024, 5, 3)), offered) == []
    missing = out_of_reach(Window(date(2024, 4, 1), date(2024, 5, 12)), offered)
    assert missing == [
        Window(date(2024, 4, 1), date(2024, 4, 26)),
        Window(date(2024, 5, 11), date(2024, 5, 12)),
    ]
    assert describe(missing) == "2024-04-01..2024-04-26, 2024-05-11..2024-05-12"
    assert out_of_reach(Window(date(2024, 1, 1), date(2024, 1, 2)), offered) == [
        Window(date(2024, 1, 1), date(2024, 1, 2))
    ]


# -- the stargazer cursor and walk -----------------------------------------------------------


def test_a_star_cursor_survives_the_json_round_trip_and_garbage_means_start_over() -> None:
    cursor = StarCursor(3, 'W/"abc"', 2, 100, datetime(2024, 5, 1, tzinfo=UTC))
    assert StarCursor.from_json(cursor.to_json()) == cursor
    for garbage in (None, "x", {}, {"page": "one", "count": 1, "per_page": 3, "etag": None}):
        assert StarCursor.from_json(garbage) is None


def at(minutes: int) -> datetime:
    return datetime(2024, 5, 1, tzinfo=UTC) + timedelta(minutes=minutes)


class ListedStars(StarReader):
    """A reader over an in-memory list, answering like GitHub (ETag = the page's content)."""

    def __init__(self, minutes: list[int], per_page: int) -> None:
        super().__init__(GitHubApi(HttpClient(), "https://api.invalid"), "acme/app", per_page)
        self.stars = [Star(f"u{m}", at(m)) for m in minutes]
        self.reads: list[tuple[int, str | None]] = []

    def read(self, number: int, etag: str | None = None) -> StarPage:
        self.reads.append((number, etag))
        chosen = self.stars[(number - 1) * self.per_page : number * self.per_page]
        tag = ",".join(star.login for star in chosen)
        last = max(1, -(-len(self.stars) // self.per_page))
        links = {"next": f"https://api.invalid/x?page={number + 1}"} if number < last else {}
        if etag == tag:
            return StarPage(number, Answer("u", 304, None, tag, links), [])
        return StarPage(number, Answer("u", 200, [], tag, links), chosen)

    def read_url(self, url: str, number: int, etag: str | None = None) -> StarPage:
        return self.read(number, etag)


def walk(reader: ListedStars, stored: StarCursor | None) -> tuple[list[str], StarCursor | None]:
    logins: list[str] = []
    cursor = stored or StarCursor(1, None, 0, reader.per_page, None)
    for page in new_star_pages(reader, stored):
        logins += [star.login for star in page.stars]
        cursor = cursor.after(page)
    return logins, cursor


def test_stars_are_walked_from_the_first_page_then_resumed_at_the_stored_one() -> None:
    reader = ListedStars(list(range(7)), per_page=3)
    logins, cursor = walk(reader, None)
    assert logins == [f"u{m}" for m in range(7)]
    assert cursor is not None and (cursor.page, cursor.count, cursor.newest) == (3, 1, at(6))
    reader.reads.clear()
    assert walk(reader, cursor)[0] == []
    assert reader.reads == [(3, "u6")]  # one conditional request, answered 304


def test_new_stars_after_a_full_stored_page_are_found_on_the_next_page() -> None:
    reader = ListedStars(list(range(6)), per_page=3)
    _, cursor = walk(reader, None)
    reader.stars.append(Star("u99", at(99)))
    reader.reads.clear()
    logins, cursor = walk(reader, cursor)
    assert logins == ["u99"] and reader.reads == [(2, "u3,u4,u5"), (3, None)]


def test_unstars_before_the_stored_page_do_not_hide_new_stars() -> None:
    reader = ListedStars(list(range(7)), per_page=3)
    _, cursor = walk(reader, None)
    reader.stars = [star for star in reader.stars if star.login not in ("u0", "u1", "u2")]
    reader.stars += [Star("n1", at(100)), Star("n2", at(101))]
    logins, _ = walk(reader, cursor)
    # the stored page 3 is now empty and page 2 holds u6, n1, n2: the walk stepped back
    assert logins == ["u6", "n1", "n2"]


def test_pages_read_while_stepping_back_are_not_read_again_on_the_way_forward() -> None:
    reader = ListedStars(list(range(7)), per_page=3)
    _, cursor = walk(reader, None)  # the stored page 3 holds u6
    reader.stars = [star for star in reader.stars if star.login != "u0"] + [Star("n1", at(100))]
    reader.reads.clear()
    logins, after = walk(reader, cursor)
    assert logins == ["u4", "u5", "u6", "n1"]
    assert reader.reads == [(3, "u6"), (2, None)]  # page 3 once, not again after page 2
    assert after is not None and (after.page, after.newest) == (3, at(100))


def test_a_changed_page_size_starts_over() -> None:
    reader = ListedStars(list(range(4)), per_page=2)
    stored = StarCursor(3, "x", 1, 100, at(3))
    assert walk(reader, stored)[0] == ["u0", "u1", "u2", "u3"]


# -- options and headers ----------------------------------------------------------------------


def test_options_have_defaults_and_the_token_is_secret() -> None:
    loaded = GitHubOptions().load({"repos": ["acme/app"]})
    assert loaded["api_url"] == "https://api.github.com"
    assert loaded["per_page"] == 100 and loaded["traffic"] and loaded["stargazers"]
    assert GitHubSource.secret_options() == frozenset({"token"})


def test_a_repository_may_switch_off_its_own_traffic_or_stargazers() -> None:
    raw = {"repos": ["acme/app", {"name": "acme/up", "traffic": False}], "stargazers": False}
    loaded = GitHubOptions().load(raw)
    assert loaded["repos"] == ["acme/app", "acme/up"]
    assert loaded["per_repo"] == {"acme/app": {}, "acme/up": {"traffic": False}}
    source = GitHubSource("gh", "default", loaded)
    assert source._wants("acme/app", "traffic") and not source._wants("acme/up", "traffic")
    assert not source._wants("acme/app", "stargazers")


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"repos": []},
        {"repos": ["acme"]},
        {"repos": ["acme/app", "Acme/App"]},
        {"repos": ["acme/app", {"name": "Acme/App", "traffic": False}]},
        {"repos": [{"name": "acme/app", "trafic": False}]},
        {"repos": [{"traffic": False}]},
        {"repos": [42]},
        {"repos": ["acme/app"], "per_page": 101},
        {"repos": ["acme/app"], "api_url": "ftp://example.com"},
        {"repos": ["acme/app"], "tokn": "x"},
    ],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        GitHubOptions().load(options)


def test_every_request_names_the_api_version_and_the_token() -> None:
    source = GitHubSource("gh", "default", GitHubOptions().load({"repos": ["acme/app"]}))
    assert source.http_headers() == {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    options = GitHubOptions().load({"repos": ["acme/app"], "token": "ghp_x"})
    assert GitHubSource("gh", "default", options).http_headers()["Authorization"] == "Bearer ghp_x"
