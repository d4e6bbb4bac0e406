"""The ``github`` source against the fake GitHub API (tests/fakes/github.py).

One repository, 7 stargazers read 3 per page, 3 days of views, 2 of clones, 2 referrers and 2
paths: 1 + 7 + 3 + 2 + 2 + 2 = 17 documents in 8 pages (few days: every day is an index).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from metronome.sources.base import Window
from tests.fakes.github import FakeGitHub
from tests.fakes.server import serving
from tests.integration.sources.contract import Scenario

REPO = "acme/app"


def populate(fake: FakeGitHub, today: date, stars: int = 7) -> None:
    """The scenario's remote data, relative to ``today``: stars in its first seconds (one
    index, so that storing a page of them is quick under load: the crash test's lease is 1 s)."""
    first_star = datetime.combine(today, datetime.min.time(), UTC)
    fake.add_repo(
        REPO,
        views={today - timedelta(days=n): (10 + n, 3 + n) for n in range(3)},
        clones={today - timedelta(days=n): (2 + n, 1) for n in range(2)},
        referrers=[("github.com", 40, 12), ("Google", 9, 7)],
        paths=[("/acme/app", "acme/app: the app", 30, 10), ("/acme/app/issues", "Issues", 5, 2)],
    )
    for n in range(stars):
        fake.star(REPO, f"user{n}", first_star + timedelta(seconds=n))


def add_data(fake: FakeGitHub, today: date) -> int:
    """Three new stars (page 3 fills up, page 4 begins) and a day of clones: 4 documents.

    The repository's snapshot of today changes too (7 -> 10 stars): a replacement, counted as
    updated, not created.
    """
    later = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=1)
    for n in range(3):
        fake.star(REPO, f"newcomer{n}", later + timedelta(minutes=n))
    fake.repos[REPO].clones[today - timedelta(days=2)] = (1, 1)
    return 4


@contextmanager
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    today = datetime.now(UTC).date()
    fake = FakeGitHub(token="ghp_contract", today=lambda: today)
    populate(fake, today)
    with serving(fake.app) as url:
        yield Scenario(
            source_type="github",
            options={"repos": [REPO], "token": "ghp_contract", "api_url": url, "per_page": 3},
            expected_documents=17,
            fail=fake.fail,
            recover=fake.recover,
            add_data=lambda: add_data(fake, today),
            min_pages=8,
            backfill=Window(today - timedelta(days=6), today - timedelta(days=1)),
            extra={"fake": fake, "today": today},
        )
