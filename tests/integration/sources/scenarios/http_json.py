"""The http_json source against the fake orders API (tests/fakes/json_api.py): three pages of
four orders at most, read incrementally by ``updated_since``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metronome.sources.base import Window
from tests.fakes.json_api import FakeJsonApi
from tests.fakes.server import serving
from tests.integration.sources.contract import Scenario


def orders_options(url: str, token: str) -> dict[str, Any]:
    """The http_json options that read the fake orders API at ``url``: four orders a page,
    incrementally by ``updated_since``, into the ``orders`` stream."""
    return {
        "url": url,
        "headers": {"Authorization": f"Bearer {token}"},
        "params": {"limit": 4},
        "records": "data.items",
        "id": "id",
        "time": "created_at",
        "next": "paging.next",
        "incremental": {"param": "updated_since", "field": "updated_at"},
        "stream": "orders",
    }


@contextmanager
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    api = FakeJsonApi()
    api.add(10)
    days = [datetime.fromtimestamp(order["created_at"] / 1000, UTC).date() for order in api.orders]
    with serving(api.app()) as url:
        yield Scenario(
            source_type="http_json",
            options=orders_options(f"{url}/api/orders", api.token),
            expected_documents=10,
            fail=lambda: setattr(api, "failing", True),
            recover=lambda: setattr(api, "failing", False),
            add_data=lambda: len(api.add(3)),
            min_pages=3,
            backfill=Window(min(days), max(days)),
            extra={"api": api},
        )
