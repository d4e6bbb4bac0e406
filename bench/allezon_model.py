"""Allezon user tags with the spec's data characteristics, and a reference model of the answers.

``generate_tags`` is seeded: the same seed and shape give the same tags. Its data, scaled down
from the Allezon spec: Zipf-distributed cookies (a few heavy users with hundreds of tags, many
with one or two), ~90 % VIEW / ~10 % BUY, a catalogue of products each with a fixed brand,
category and integer price, several origins, countries and the three devices. Event times go
forward 1 ms per tag in bursts, with jumps between bursts and one quiet stretch of a few
minutes, so that tags sit on exact milliseconds next to each other and some minutes are empty.
No two tags share a millisecond, so "newest first" has one answer.

``ReferenceModel`` answers ``/user_profiles`` and ``/aggregates`` from memory, written from the
spec alone (nothing imported from ``metronome``), for tests and benchmarks to compare with.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Tag = dict[str, Any]
DEVICES = ("PC", "MOBILE", "TV")
MINUTE = timedelta(minutes=1)
DEFAULT_START = datetime(2022, 3, 1, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class TagShape:
    cookies: int = 300
    products: int = 400
    origins: int = 6
    brands: int = 10
    categories: int = 8
    countries: int = 5
    buy_share: float = 0.1
    burst: tuple[int, int] = (20, 150)  # tags 1 ms apart in one burst
    jump_ms: tuple[int, int] = (1, 40_000)  # between bursts
    quiet_minutes: int = 3  # one empty stretch halfway through


def generate_tags(
    seed: int, count: int, start: datetime = DEFAULT_START, shape: TagShape = TagShape()
) -> list[Tag]:
    rng = random.Random(seed)
    cookies = [f"c{rng.getrandbits(64):016x}" for _ in range(shape.cookies)]
    cookie_weights = list(itertools.accumulate(1 / rank for rank in range(1, shape.cookies + 1)))
    origins = [f"ORIGIN_{n}" for n in range(shape.origins)]
    countries = ["PL", "DE", "US", "FR", "GB", "CZ", "ES", "IT"][: shape.countries]
    products = [
        {
            # Ids come as integers and as text, as in the spec's examples.
            "product_id": number if number % 5 else f"p{number}",
            "brand_id": f"brand_{rng.randrange(shape.brands)}",
            "category_id": rng.randrange(shape.categories),
            "price": rng.randint(1, 5000),
        }
        for number in range(1000, 1000 + shape.products)
    ]
    tags: list[Tag] = []
    moment = start
    burst_left = 0
    for number in range(count):
        if number == count // 2:
            moment += shape.quiet_minutes * MINUTE
        if burst_left == 0:
            burst_left = rng.randint(*shape.burst)
            moment += timedelta(milliseconds=rng.randint(*shape.jump_ms))
        else:
            moment += timedelta(milliseconds=1)
        burst_left -= 1
        tags.append(
            {
                "time": format_tag_time(moment),
                "cookie": rng.choices(cookies, cum_weights=cookie_weights)[0],
                "country": rng.choice(countries),
                "device": rng.choice(DEVICES),
                "action": "BUY" if rng.random() < shape.buy_share else "VIEW",
                "origin": rng.choice(origins),
                "product_info": dict(rng.choice(products)),
            }
        )
    return tags


def format_tag_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_tag_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def format_range(start: datetime, end: datetime, timespec: str = "milliseconds") -> str:
    """``time_range`` as the platform sends it: UTC without Z, millisecond precision
    (``timespec="seconds"`` as the spec's aggregate examples show it)."""

    def one(moment: datetime) -> str:
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=timespec)

    return f"{one(start)}_{one(end)}"


class ReferenceModel:
    """Every tag added, indexed by cookie (time order) and by minute."""

    def __init__(self, tags: Iterable[Tag] = ()) -> None:
        self._by_cookie: dict[str, list[tuple[datetime, int, Tag]]] = defaultdict(list)
        self._by_minute: dict[datetime, list[Tag]] = defaultdict(list)
        self._added = 0
        for tag in tags:
            self.add(tag)

    def add(self, tag: Tag) -> None:
        moment = parse_tag_time(tag["time"])
        self._added += 1
        bisect.insort(self._by_cookie[tag["cookie"]], (moment, self._added, tag))
        self._by_minute[moment.replace(second=0, microsecond=0)].append(tag)

    @property
    def cookies(self) -> list[str]:
        """Heaviest first."""
        return sorted(self._by_cookie, key=lambda cookie: -len(self._by_cookie[cookie]))

    def profile(self, cookie: str, start: datetime, end: datetime, limit: int = 200) -> Tag:
        """``{"cookie", "views", "buys"}``: ``start <= time < end``, newest first, at most limit."""
        newest_first = [
            tag
            for moment, _, tag in reversed(self._by_cookie.get(cookie, []))
            if start <= moment < end
        ]
        return {
            "cookie": cookie,
            "views": [tag for tag in newest_first if tag["action"] == "VIEW"][:limit],
            "buys": [tag for tag in newest_first if tag["action"] == "BUY"][:limit],
        }

    def aggregates(
        self,
        *,
        start: datetime,
        end: datetime,
        action: str,
        aggregates: Sequence[str],
        origin: str | None = None,
        brand_id: str | None = None,
        category_id: str | None = None,
    ) -> dict[str, Any]:
        """``{"columns", "rows"}`` exactly as the spec shows them: every value a string."""
        given = [
            (name, value)
            for name, value in (
                ("origin", origin),
                ("brand_id", brand_id),
                ("category_id", category_id),
            )
            if value is not None
        ]
        columns = ["1m_bucket", "action", *(name for name, _ in given), *map(str.lower, aggregates)]
        rows: list[list[str]] = []
        minute = start
        while minute < end:
            selected = [
                tag
                for tag in self._by_minute.get(minute, [])
                if tag["action"] == action and all(_value(tag, name) == v for name, v in given)
            ]
            row = [minute.strftime("%Y-%m-%dT%H:%M:%S"), action, *(value for _, value in given)]
            for aggregate in aggregates:
                if aggregate == "COUNT":
                    row.append(str(len(selected)))
                else:
                    row.append(str(sum(tag["product_info"]["price"] for tag in selected)))
            rows.append(row)
            minute += MINUTE
        return {"columns": columns, "rows": rows}


def _value(tag: Tag, name: str) -> str:
    value = tag["origin"] if name == "origin" else tag["product_info"][name]
    return str(value)
