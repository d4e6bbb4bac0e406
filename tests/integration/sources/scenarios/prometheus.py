"""The prometheus source against the fake Prometheus (tests/fakes/prometheus.py).

The source reads up to the real clock's ``now - delay``, so the fake's samples stop a little
before the scenario starts (``last``): runs made a few seconds apart then find nothing new.
``add_data`` lets the fake "scrape" up to the next second and waits for that second to pass
(under a second), so the next run finds exactly the samples after each query's cursor.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from metronome.sources.base import Window
from tests.fakes.prometheus import FakePrometheus
from tests.fakes.server import serving
from tests.integration.sources.contract import Scenario

QUERIES = {
    "requests": 'sum by (code) (rate(http_requests_total{job="shop"}[5m]))',  # 2 series
    "up": "up",  # 2 series
    "error_ratio": "errors / requests",  # 1 series, with NaN and ±Inf values
}
SERIES = 5
STEP = 1


def last_read(fake: FakePrometheus, expr: str) -> int:
    """The end of the last range asked for ``expr``: where the source's cursor stands."""
    return max(
        int(entry["args"]["end"]) for entry in fake.log if entry["args"].get("query") == expr
    )


@contextmanager
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    started = int(time.time())
    fake = FakePrometheus(first=started - 60, last=started - 2)
    fake.required_headers = {"Authorization": "Bearer prom-token"}
    expected = SERIES * 59

    def add_data() -> int:
        newest = int(time.time()) + 1
        fake.last = newest
        added = sum(
            fake.samples_between(expr, last_read(fake, expr), newest, STEP)
            for expr in QUERIES.values()
        )
        time.sleep(max(0.0, newest - time.time()) + 0.05)  # the source reads up to now - delay
        return added

    days = Window(
        datetime.fromtimestamp(fake.first, UTC).date(), datetime.fromtimestamp(started, UTC).date()
    )
    with serving(fake.app()) as url:
        yield Scenario(
            source_type="prometheus",
            options={
                "url": url,
                "queries": QUERIES,
                "step": STEP,
                "lookback": 600,  # reaches back past `first` however slow the test runs
                "delay": 0,
                "headers": {"Authorization": "Bearer prom-token"},
            },
            expected_documents=expected,
            fail=lambda: setattr(fake, "failing", True),
            recover=lambda: setattr(fake, "failing", False),
            add_data=add_data,
            min_pages=3,
            backfill=days,
            extra={"fake": fake},
        )
