"""The github source against the fake GitHub API and the real Elasticsearch, beyond the
contract: conditional requests, a new UTC day, stargazer resumption, rate limits, GitHub's
error answers and back-fill windows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Flask

from ingesters.github import GitHubOptions, GitHubSource
from metronome.config import SourceSettings
from metronome.sources.base import Window
from metronome.sources.http import RetryPolicy
from metronome.sources.runner import RunReport, run_source
from metronome.sources.status import status_of
from metronome.sources.store import SourceState, StateStore
from tests.fakes.github import FakeGitHub
from tests.fakes.server import serving
from tests.integration.sources.contract import services, stored_documents
from tests.integration.sources.scenarios.github import REPO, populate

TOKEN = "ghp_test_token"
TODAY = datetime.now(UTC).date()
NOON_TODAY = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=12)


@dataclass
class Setup:
    fake: FakeGitHub
    url: str
    es: Elasticsearch
    prefix: str

    def source(self, **options: Any) -> GitHubSource:
        raw = {"repos": [REPO], "token": TOKEN, "api_url": self.url, "per_page": 3, **options}
        return GitHubSource("gh-test", "shop", GitHubOptions().load(raw))

    def run(
        self, source: GitHubSource, backfill: Window | None = None, **changes: Any
    ) -> RunReport:
        # The runs' clock is on the day the fake GitHub serves (TODAY), whatever the wall
        # clock says: a suite that runs over midnight UTC must not see two todays.
        changes.setdefault("clock", clock_at(NOON_TODAY))
        return run_source(source, services(self.es, self.prefix, **changes), backfill)

    def documents(self, source: GitHubSource, kind: str | None = None) -> list[dict[str, Any]]:
        found = stored_documents(self.es, self.prefix, source)
        return [d for d in found if kind is None or d["kind"] == kind]

    def state(self, source: GitHubSource) -> SourceState:
        return StateStore(self.es, self.prefix).load(source.name).state


@pytest.fixture
def setup(app: Flask, es: Elasticsearch, index_prefix: str) -> Iterator[Setup]:
    # `app` installs the index templates of this test's prefix
    fake = FakeGitHub(token=TOKEN, today=lambda: TODAY)
    populate(fake, TODAY)
    with serving(fake.app) as url:
        yield Setup(fake, url, es, index_prefix)


def clock_at(moment: datetime) -> Any:
    return lambda: moment


def test_requests_carry_the_api_version_token_and_user_agent(setup: Setup) -> None:
    report = setup.run(setup.source())
    assert report.ok, report.error
    assert report.created == 17
    for logged in setup.fake.log:
        assert logged.authorization == f"Bearer {TOKEN}"
        assert logged.api_version == "2022-11-28"
        assert logged.user_agent and logged.user_agent.startswith("Metronome-Ingester/")
        wanted = "star+json" if "stargazers" in logged.path else "application/vnd.github+json"
        assert logged.accept is not None and wanted in logged.accept
    # the stargazers after the first page were read from GitHub's Link header
    assert any(logged.path == "/repositories/1000/stargazers" for logged in setup.fake.log)


def test_a_second_run_is_all_conditional_requests_answered_304(setup: Setup) -> None:
    source = setup.source()
    assert setup.run(source).ok
    used = setup.fake.used
    setup.fake.log.clear()
    again = setup.run(source)
    assert again.ok, again.error
    assert (again.pages, again.documents, again.created) == (0, 0, 0)
    assert setup.fake.log, "nothing was asked"
    for logged in setup.fake.log:
        assert logged.if_none_match and logged.if_none_match.startswith('W/"'), logged
        assert logged.status == 304, logged
    assert setup.fake.used == used  # 304s cost no rate limit
    assert len(setup.documents(source)) == 17


def test_a_304_on_a_new_utc_day_still_writes_that_days_snapshots(setup: Setup) -> None:
    source = setup.source()
    first_day = datetime(2030, 3, 1, 22, 0, tzinfo=UTC)
    assert setup.run(source, clock=clock_at(first_day)).ok
    setup.fake.log.clear()
    next_day = first_day + timedelta(hours=3)
    report = setup.run(source, clock=clock_at(next_day))
    assert report.ok, report.error
    assert {logged.status for logged in setup.fake.log} == {304}
    assert report.created == 1 + 2 + 2  # the repository, 2 referrers, 2 paths for 2030-03-02
    snapshots = sorted(setup.documents(source, "repo"), key=lambda d: d["@timestamp"])
    assert [d["@timestamp"] for d in snapshots] == [
        "2030-03-01T00:00:00.000Z",
        "2030-03-02T00:00:00.000Z",
    ]
    assert snapshots[0]["stars"] == snapshots[1]["stars"] == 7
    assert snapshots[1]["watchers"] == 4 and snapshots[1]["open_issues"] == 5
    referrers = setup.documents(source, "referrer")
    assert (
        sorted(d["@timestamp"][:10] for d in referrers) == ["2030-03-01"] * 2 + ["2030-03-02"] * 2
    )


def test_the_days_last_reading_replaces_the_days_snapshot(setup: Setup) -> None:
    source = setup.source(stargazers=False, traffic=False)
    morning = datetime(2030, 3, 1, 8, tzinfo=UTC)
    assert setup.run(source, clock=clock_at(morning)).ok
    setup.fake.repos[REPO].forks = 12
    report = setup.run(source, clock=clock_at(morning + timedelta(hours=4)))
    assert report.ok and (report.created, report.updated) == (0, 1)
    (snapshot,) = setup.documents(source, "repo")
    assert snapshot["forks"] == 12
    setup.fake.repos[REPO].forks = 3  # and a later reading again
    assert setup.run(source, clock=clock_at(morning + timedelta(hours=5))).updated == 1
    (snapshot,) = setup.documents(source, "repo")
    assert snapshot["forks"] == 3


def test_a_days_popular_referrers_and_paths_are_the_days_last_reading(setup: Setup) -> None:
    # GitHub's top 10 changes within the day: medium.com falls out, linkedin.com comes in
    repo = setup.fake.repos[REPO]
    top9 = [(f"site{n}.example", 100 - n, 10) for n in range(9)]
    repo.referrers = [*top9, ("medium.com", 24, 6), ("linkedin.com", 22, 5)]
    pages = [(f"/acme/app/p{n}", f"Page {n}", 100 - n, 10) for n in range(9)]
    repo.paths = [*pages, ("/acme/app/old", "Old", 24, 6), ("/acme/app/new", "New", 22, 5)]
    source = setup.source(stargazers=False)
    morning = datetime(2030, 3, 1, 8, tzinfo=UTC)
    assert setup.run(source, clock=clock_at(morning)).ok
    repo.referrers = [*top9, ("linkedin.com", 22, 5), ("medium.com", 20, 6)]
    repo.paths = [*pages, ("/acme/app/new", "New", 22, 5), ("/acme/app/old", "Old", 20, 6)]
    report = setup.run(source, clock=clock_at(morning + timedelta(hours=1)))
    assert report.ok, report.error
    referrers = {d["referrer"]: d["count"] for d in setup.documents(source, "referrer")}
    assert referrers == {**{name: count for name, count, _ in top9}, "linkedin.com": 22}
    paths = {d["path"] for d in setup.documents(source, "path")}
    assert paths == {path for path, *_ in pages} | {"/acme/app/new"}
    assert report.removed == 2  # medium.com and /acme/app/old of 2030-03-01
    again = setup.run(source, clock=clock_at(morning + timedelta(hours=2)))  # all 304
    assert again.ok and again.removed == 0
    assert len(setup.documents(source, "referrer")) == 10


def test_new_stars_are_read_from_the_stored_page_onwards(setup: Setup) -> None:
    source = setup.source(traffic=False)
    assert setup.run(source).ok
    assert setup.state(source).cursor["repos"][REPO]["stars"]["page"] == 3
    later = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=2)
    for n in range(3):
        setup.fake.star(REPO, f"late{n}", later + timedelta(minutes=n))
    setup.fake.log.clear()
    report = setup.run(source)
    assert report.ok, report.error
    stars = [
        (r.query, r.if_none_match is not None, r.status)
        for r in setup.fake.log
        if "stargazers" in r.path
    ]
    assert stars == [("per_page=3&page=3", True, 200), ("per_page=3&page=4", False, 200)]
    assert len(setup.documents(source, "star")) == 10
    assert setup.state(source).cursor["repos"][REPO]["stars"]["page"] == 4


def test_unstars_shifting_stars_to_earlier_pages_lose_no_new_star(setup: Setup) -> None:
    source = setup.source(traffic=False)
    assert setup.run(source).ok
    setup.fake.unstar(REPO, "user0")
    setup.fake.unstar(REPO, "user1")
    later = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=2)
    setup.fake.star(REPO, "late0", later)
    setup.fake.star(REPO, "late1", later + timedelta(minutes=1))
    report = setup.run(source)
    assert report.ok, report.error
    # 7 stars still, so the repository's figures are unchanged: nothing rewritten
    assert (report.created, report.updated) == (2, 0)
    logins = {d["user"] for d in setup.documents(source, "star")}
    assert {"late0", "late1", "user0"} <= logins and len(logins) == 9


def test_an_unstar_and_a_star_across_the_last_page_boundary_read_each_page_once(
    setup: Setup,
) -> None:
    source = setup.source(traffic=False)
    assert setup.run(source).ok  # 7 stars, 3 a page: the stored page 3 holds user6
    setup.fake.unstar(REPO, "user0")  # user6 moves to page 2...
    later = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=2)
    setup.fake.star(REPO, "late0", later)  # ...and page 3 holds only the new star
    setup.fake.log.clear()
    report = setup.run(source)
    assert report.ok, report.error
    stars = [(r.query, r.status) for r in setup.fake.log if "stargazers" in r.path]
    # page 3 (changed, starts after every stored star), back to page 2, and page 3 is not
    # downloaded again to walk forward: it was read a moment ago
    assert stars == [("per_page=3&page=3", 200), ("per_page=3&page=2", 200)]
    assert "late0" in {d["user"] for d in setup.documents(source, "star")}
    assert setup.state(source).cursor["repos"][REPO]["stars"]["page"] == 3


def test_a_full_stored_page_unchanged_means_looking_at_the_next_one(setup: Setup) -> None:
    setup.fake.unstar(REPO, "user6")  # 6 stars: two full pages
    source = setup.source(traffic=False)
    assert setup.run(source).ok
    setup.fake.log.clear()
    assert setup.run(source).ok
    stars = [(r.query, r.status) for r in setup.fake.log if "stargazers" in r.path]
    assert stars == [("per_page=3&page=2", 304), ("per_page=3&page=3", 200)]
    setup.fake.log.clear()
    assert setup.run(source).ok  # the empty page 3 is now the stored one
    stars = [(r.query, r.status) for r in setup.fake.log if "stargazers" in r.path]
    assert stars == [("per_page=3&page=3", 304)]


def test_a_rate_limit_within_max_wait_is_slept_through(setup: Setup) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        setup.fake.replenish()  # as if the reset time had come

    setup.fake.exhaust(reset_in=2)
    policy = RetryPolicy(timeout=5, attempts=2, backoff=0.01, max_backoff=0.01, max_wait=30)
    report = setup.run(setup.source(), policy=policy, sleep=sleep)
    assert report.ok, report.error
    assert len(slept) == 1 and 1 <= slept[0] <= 4  # until x-ratelimit-reset, a second's margin
    assert [r.status for r in setup.fake.log[:2]] == [403, 200]
    assert report.created == 17


def test_a_rate_limit_beyond_max_wait_is_recorded_with_its_retry_time(setup: Setup) -> None:
    setup.fake.exhaust(reset_in=3600)
    source = setup.source()
    report = setup.run(source, sleep=lambda seconds: pytest.fail("must not sleep an hour"))
    assert report.outcome == "failed"
    state = setup.state(source)
    assert state.last_error is not None and state.last_error.kind == "RateLimited"
    assert state.last_error.retry_after is not None
    retry_after = datetime.fromisoformat(state.last_error.retry_after.replace("Z", "+00:00"))
    assert abs(retry_after.timestamp() - (time.time() + 3601)) < 60
    assert setup.documents(source) == []


@pytest.mark.parametrize(
    ("path", "text", "complaint"),
    [
        ("/repos/acme/app", '{"stargazers_count": "many"}', "stargazers_count"),
        ("/repos/acme/app/traffic/views", "<html>unicorn</html>", "did not answer JSON"),
        ("/repos/acme/app/stargazers", '[{"login": "octocat"}]', "starred_at"),
    ],
)
def test_a_malformed_answer_is_recorded_as_a_source_error(
    setup: Setup, path: str, text: str, complaint: str
) -> None:
    setup.fake.answer_raw(path, 200, text)
    source = setup.source()
    report = setup.run(source)
    assert report.outcome == "failed" and report.error is not None
    assert report.error.startswith("SourceError: acme/app: ") and complaint in report.error


def test_the_stargazer_pagination_cap_is_a_clear_error_that_keeps_what_was_stored(
    setup: Setup,
) -> None:
    setup.fake.max_pages = 2  # GitHub's is about 400; its rel="last" stops there
    source = setup.source()
    first = setup.run(source)
    assert first.ok, first.error
    assert len(setup.documents(source, "star")) == 6  # pages 1 and 2; the 7th is beyond
    assert setup.state(source).cursor["repos"][REPO]["stars"]["page"] == 2
    for _ in range(2):  # the full stored page leads to page 3: 422, every run, nothing lost
        report = setup.run(source)
        assert report.outcome == "failed" and report.error is not None
        assert "pagination is limited for this resource" in report.error
        assert "stargazers page 3" in report.error
        assert len(setup.documents(source)) == 16  # the rest was still read
    assert setup.state(source).cursor["repos"][REPO]["stars"]["page"] == 2


def test_traffic_without_push_access_says_what_to_do(setup: Setup) -> None:
    setup.fake.repos[REPO].push_access = False
    source = setup.source()
    report = setup.run(source)
    assert report.ok, report.error  # lasting and understood: the rest is stored, all is well
    refused = report.parts[REPO]["refused"]["traffic"]
    assert refused["permanent"] is True
    assert refused["reason"].startswith("acme/app: traffic views: forbidden")
    assert "push access" in refused["reason"] and "traffic: false" in refused["reason"]
    assert len(setup.documents(source)) == 8  # the repository and its stars
    quiet = setup.run(setup.source(traffic=False))
    assert quiet.ok and quiet.parts[REPO]["refused"] == {}


def test_one_repository_without_push_access_leaves_the_source_healthy(setup: Setup) -> None:
    first_star = datetime.combine(TODAY, datetime.min.time(), UTC)
    setup.fake.add_repo("acme/upstream", push_access=False)
    setup.fake.star("acme/upstream", "fan", first_star)
    source = setup.source(repos=[REPO, "acme/upstream"])
    reports = [setup.run(source) for _ in range(12)]
    assert all(report.ok for report in reports), [report.error for report in reports]
    first = reports[0].parts
    assert first[REPO] == {
        "stored": {"repository": 1, "stargazers": 7, "traffic": 9},
        "refused": {},
        "skipped": [],
    }
    upstream = first["acme/upstream"]
    assert upstream["stored"] == {"repository": 1, "stargazers": 1, "traffic": 0}
    assert upstream["refused"]["traffic"]["permanent"] is True
    assert "Must have push access" in upstream["refused"]["traffic"]["reason"]
    state = setup.state(source)
    assert state.consecutive_failures == 0 and state.last_success_at is not None
    settings = SourceSettings(name=source.name, type="github", interval=3600)
    row = status_of(settings, state, NOON_TODAY, 3600)  # the runs' clock
    assert (row["failing"], row["stale"], row["partial"]) == (False, False, True)
    (refusal,) = row["refused"]
    assert (refusal["part"], refusal["reading"], refusal["permanent"]) == (
        "acme/upstream",
        "traffic",
        True,
    )
    # traffic: false for that repository alone: not asked any more, nothing refused
    quiet = setup.source(repos=[REPO, {"name": "acme/upstream", "traffic": False}])
    setup.fake.log.clear()
    report = setup.run(quiet)
    assert report.ok, report.error
    assert report.parts["acme/upstream"]["refused"] == {}
    assert report.parts["acme/upstream"]["skipped"] == ["traffic"]
    asked = [logged.path for logged in setup.fake.log]
    assert not any(path.startswith("/repos/acme/upstream/traffic") for path in asked)
    assert any(path.startswith("/repos/acme/app/traffic") for path in asked)
    row = status_of(settings, setup.state(quiet), NOON_TODAY, 3600)
    assert (row["failing"], row["partial"]) == (False, False)


def test_a_forbidden_answer_that_is_not_about_push_access_still_fails_the_run(
    setup: Setup,
) -> None:
    body = '{"message": "Resource not accessible by personal access token", "status": "403"}'
    setup.fake.answer_raw("/repos/acme/app/traffic/views", 403, body)
    source = setup.source()
    report = setup.run(source)
    assert report.outcome == "failed" and "not accessible" in (report.error or "")
    assert report.parts[REPO]["refused"]["traffic"]["permanent"] is False
    assert setup.state(source).consecutive_failures == 1


def test_a_wrong_token_and_an_unknown_repository(setup: Setup) -> None:
    raw = {"repos": [REPO], "token": "ghp_wrong", "api_url": setup.url}
    wrong = GitHubSource("gh-wrong", "shop", GitHubOptions().load(raw))
    report = setup.run(wrong)
    assert report.outcome == "failed" and "401" in (report.error or "")
    both = setup.source(repos=["acme/nothing", REPO])
    report = setup.run(both)
    assert report.outcome == "failed"
    assert (report.error or "").startswith("NoAccess: acme/nothing: repository: not found")
    assert report.created == 17  # the other repository was read all the same


def test_a_backfill_stores_only_the_windows_days_and_says_which_are_out_of_reach(
    setup: Setup,
) -> None:
    source = setup.source()
    assert setup.run(source).ok
    cursor = setup.state(source).cursor
    said: list[str] = []
    window = Window(TODAY - timedelta(days=30), TODAY - timedelta(days=1))
    setup.fake.log.clear()
    report = setup.run(source, backfill=window, progress=said.append)
    assert report.ok, report.error
    assert report.created == 0 and report.documents == 3  # 2 days of views, 1 of clones
    assert all(logged.if_none_match is None for logged in setup.fake.log)
    first_offered = TODAY - timedelta(days=13)
    assert any(
        f"{window.first.isoformat()}..{(first_offered - timedelta(days=1)).isoformat()} "
        "is out of reach" in message
        for message in said
    ), said
    assert any("only today's" in message for message in said), said
    assert setup.state(source).cursor == cursor


def test_a_backfill_before_any_run_stores_the_windows_stars_and_traffic(setup: Setup) -> None:
    source = setup.source()
    window = Window(TODAY - timedelta(days=1), TODAY)
    report = setup.run(source, backfill=window)
    assert report.ok, report.error
    kinds = sorted(d["kind"] for d in setup.documents(source))
    assert kinds.count("star") == 7 and kinds.count("traffic_views") == 2
    assert kinds.count("repo") == 1  # today is in the window
    assert setup.state(source).cursor == {}
