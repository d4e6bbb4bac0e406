"""The ``ga4`` source against a fake Data API holding five recent days of rows.

The source decides "yesterday" from the real clock, so the fake's rows sit at real dates:
three rows a day from six days ago to two days ago; yesterday has no rows until ``add_data``
(GA4's late processing). Two rows per request make two pages a day. Authentication goes
through a service-account key and the fake's token endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from metronome.sources.base import Window
from tests.fakes.ga4 import FakeGa4, write_service_account
from tests.fakes.server import serving
from tests.integration.sources.contract import Scenario

ROWS_PER_DAY = (("Japan", "desktop"), ("Japan", "mobile"), ("France", "desktop"))


def fill(fake: FakeGa4, today: date, first: int = 6, last: int = 2) -> int:
    """Rows for the days ``first`` to ``last`` days ago; returns how many."""
    count = 0
    for ago in range(first, last - 1, -1):
        day = today - timedelta(days=ago)
        for n, (country, device) in enumerate(ROWS_PER_DAY, start=1):
            metrics = {
                "activeUsers": 10 * ago + n,
                "averageSessionDuration": 30.5 + n,
                "purchaseRevenue": 12.25 * n,
            }
            fake.add_row(day, metrics, country=country, deviceCategory=device)
            count += 1
    return count


@contextmanager
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    today = datetime.now(UTC).date()
    fake = FakeGa4()
    expected = fill(fake, today)

    def add_data() -> int:
        yesterday = today - timedelta(days=1)
        metrics = {"activeUsers": 7, "averageSessionDuration": 12.0, "purchaseRevenue": 0.0}
        fake.add_row(yesterday, metrics, country="Japan", deviceCategory="desktop")
        fake.add_row(yesterday, metrics, country="Japan", deviceCategory="tablet")
        return 2

    with serving(fake.app()) as url:
        fake.service_account = write_service_account(tmp_path / "ga4-key.json", f"{url}/token")
        yield Scenario(
            source_type="ga4",
            options={
                "property_id": fake.property_id,
                "dimensions": ["country", "deviceCategory"],
                "metrics": ["activeUsers", "averageSessionDuration", "purchaseRevenue"],
                "api_url": url,
                "page_size": 2,
                "start_date": (today - timedelta(days=6)).isoformat(),
                "credentials_file": str(fake.service_account.path),
            },
            expected_documents=expected,
            fail=lambda: setattr(fake, "failing", 500),
            recover=lambda: setattr(fake, "failing", None),
            add_data=add_data,
            backfill=Window(today - timedelta(days=6), today - timedelta(days=4)),
            extra={"fake": fake, "today": today},
        )
