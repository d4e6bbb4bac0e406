"""A realistic month of every stream, for the screenshots of the ready-made dashboards: web
visits with a daily and weekly rhythm and slow growth (and the month before, for the
comparison), ~30 pages with a long tail, referrers, browsers, systems, devices, countries,
bots and downloads in several formats; server logs, GitHub events, S3 requests, Allezon user
tags and Metronome's own counters. Documents are shaped as the pipeline stores them and are
the same on every run (a seeded generator); only their times follow ``now``."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from metronome.config import StorageSettings
from metronome.es.naming import index_for

# Each stream in the indices of its default period (as Metronome stores it out of the box): a
# few per stream, where an index a day would be ~250 indices and a minute of creating them.
STORAGE = StorageSettings()
DAYS = 60  # the month shown and the month before it (the comparison)

PAGES = [
    "/",
    "/datasets",
    "/datasets/air-quality",
    "/datasets/city-budget-2026",
    "/datasets/public-transport-delays",
    "/datasets/population-by-district",
    "/about",
    # a 120-character path: tables must cut it, not break
    "/datasets/historic-weather-observations-1950-2025/daily-minimum-and-maximum-temperatures-"
    "by-station-with-quality-flags-and-notes",
    "/datasets/bike-counters",
    "/search",
    "/datasets/school-results",
    "/api",
    "/datasets/noise-map",
    "/blog/open-data-week",
    "/datasets/energy-use-of-public-buildings",
    "/datasets/tree-inventory",
    "/contact",
    "/blog/how-we-count-visitors",
    "/datasets/parking-occupancy",
    "/datasets/water-quality",
    "/licence",
    "/datasets/election-results-2025",
    "/datasets/street-names",
    "/blog/new-portal",
    "/datasets/building-permits",
    "/datasets/library-loans",
    "/datasets/waste-collection-schedule",
    "/privacy",
    "/datasets/ev-chargers",
    "/datasets/archive",
]
REFERRERS = [
    (None, 38),
    ("www.google.com", 30),
    ("duckduckgo.com", 7),
    ("news.ycombinator.com", 5),
    ("www.bing.com", 4),
    ("github.com", 4),
    ("www.reddit.com", 3),
    ("data.europa.eu", 3),
    ("t.co", 2),
    ("www.linkedin.com", 2),
    ("mastodon.social", 1),
]
AGENTS = [  # name, os, device, weight
    ("Chrome", "Windows", "desktop", 26),
    ("Chrome", "Android", "mobile", 18),
    ("Safari", "iOS", "mobile", 14),
    ("Firefox", "Windows", "desktop", 8),
    ("Safari", "macOS", "desktop", 8),
    ("Chrome", "macOS", "desktop", 7),
    ("Edge", "Windows", "desktop", 7),
    ("Firefox", "Linux", "desktop", 4),
    ("Samsung Internet", "Android", "mobile", 3),
    ("Safari", "iOS", "tablet", 3),
    ("Chrome", "Linux", "desktop", 2),
]
BOTS = [
    ("Googlebot", "bot", 5),
    ("bingbot", "bot", 2),
    ("curl", "bot", 2),
    ("python-requests", "bot", 1),
]
COUNTRIES = [  # code, name, an address of that country (its /24, as stored), weight
    ("DE", "Germany", "130.149.7.0", 22),
    ("US", "United States", "8.8.4.0", 18),
    ("PL", "Poland", "212.77.98.0", 12),
    ("FR", "France", "163.172.16.0", 9),
    ("GB", "United Kingdom", "81.2.69.0", 8),
    ("NL", "Netherlands", "145.100.29.0", 7),
    ("AT", "Austria", "193.170.3.0", 5),
    ("IN", "India", "49.44.112.0", 5),
    ("BR", "Brazil", "200.147.67.0", 4),
    ("JP", "Japan", "133.11.3.0", 3),
    ("CA", "Canada", "142.150.1.0", 3),
    ("ES", "Spain", "150.214.5.0", 2),
    ("CH", "Switzerland", "129.132.1.0", 2),
]
FORMATS = [
    ("csv", 40),
    ("xlsx", 18),
    ("json", 14),
    ("zip", 10),
    ("pdf", 9),
    ("parquet", 6),
    ("geojson", 3),
]


def _pick(rng: random.Random, weighted: list[Any]) -> Any:
    return rng.choices(weighted, weights=[entry[-1] for entry in weighted])[0]


def _day_factor(day: datetime, days_ago: int) -> float:
    weekday = day.weekday()
    week = 1.0 if weekday < 5 else (0.58 if weekday == 5 else 0.5)
    growth = 1 + (DAYS - days_ago) * 0.008  # slowly more visits
    return week * growth


def _hour_weights() -> list[float]:
    # Quiet nights, a morning climb, an afternoon peak (UTC, for a mostly European audience).
    return [0.15 + math.exp(-((hour - 13.5) ** 2) / 18) for hour in range(24)]


HOURS = _hour_weights()


def _zipf(count: int, power: float = 1.05) -> list[float]:
    return [1 / (rank + 1) ** power for rank in range(count)]


def _stored(
    prefix: str, site: str, stream: str, at: datetime, source: dict[str, Any]
) -> dict[str, Any]:
    stamp = at.isoformat()
    body = {"@timestamp": stamp, "received_at": stamp, "site": site, "type": stream, **source}
    return {"_index": index_for(prefix, stream, at, STORAGE.period_of(stream)), "_source": body}


def _moment(rng: random.Random, day: datetime, now: datetime) -> datetime | None:
    hour = rng.choices(range(24), weights=HOURS)[0]
    at = day + timedelta(hours=hour, seconds=rng.randrange(3600))
    return at if at < now else None


def web(prefix: str, site: str, now: datetime, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Visits: a visitor, a referrer, an agent and a country each; 1-6 page views and sometimes
    a download or a search."""
    weights = _zipf(len(PAGES))
    regulars = [f"v{n:05d}" for n in range(600)]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for days_ago in range(DAYS, -1, -1):
        day = today - timedelta(days=days_ago)
        visits = int(rng.gauss(95, 8) * _day_factor(day, days_ago))
        for _ in range(visits):
            at = _moment(rng, day, now)
            if at is None:
                continue
            yield from _visit(prefix, site, at, rng, weights=weights, regulars=regulars)
    for minute in range(1, 30):  # the last 30 minutes
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            yield from _visit(
                prefix,
                site,
                now - timedelta(minutes=minute),
                rng,
                weights=weights,
                regulars=regulars,
            )


def _visit(
    prefix: str,
    site: str,
    at: datetime,
    rng: random.Random,
    *,
    weights: list[float],
    regulars: list[str],
) -> Iterator[dict[str, Any]]:
    bot = rng.random() < 0.08
    if bot:
        name, device, _ = _pick(rng, BOTS)
        agent = {"name": name, "os": "", "device": device}
    else:
        name, system, device, _ = _pick(rng, AGENTS)
        agent = {"name": name, "os": system, "device": device}
    code, country, address, _ = _pick(rng, COUNTRIES)
    visitor = (
        rng.choice(regulars)
        if rng.random() < 0.35
        else uuid.UUID(int=rng.getrandbits(128)).hex[:16]
    )
    referrer = _pick(rng, REFERRERS)[0]
    common = {
        "visitor": visitor,
        "bot": bot,
        "user_agent": agent,
        "geo": {"country": code, "country_name": country},
        "client_ip": address,
    }
    # Some come for a file only (a link from a catalogue): visitors who never view a page.
    views = (
        0
        if not bot and rng.random() < 0.06
        else (1 if bot else rng.choice((1, 1, 1, 2, 2, 3, 4, 6)))
    )
    for step in range(views):
        page = rng.choices(PAGES, weights=weights)[0]
        moment = at + timedelta(seconds=40 * step)
        source: dict[str, Any] = {
            **common,
            "event": "view",
            "id": page,
            "url": {"host": "data.example.org", "path": page, "page": f"data.example.org{page}"},
            "hit_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        }
        if step == 0 and referrer:
            source["referrer"] = {"host": referrer, "path": "/"}
        yield _stored(prefix, site, "hits", moment, source)
    extra = 0.0 if views == 0 else rng.random()
    if extra < 0.22:
        fmt = _pick(rng, FORMATS)[0]
        dataset = rng.choices(PAGES[2:], weights=_zipf(len(PAGES) - 2))[0].rsplit("/", 1)[-1]
        source = {
            **common,
            "event": "download",
            "format": fmt,
            "id": f"/files/{dataset}.{fmt}",
            "url": {"host": "data.example.org", "path": f"/files/{dataset}.{fmt}"},
            "hit_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        }
        yield _stored(prefix, site, "hits", at + timedelta(minutes=2), source)
    elif extra < 0.3:
        source = {
            **common,
            "event": "search",
            "id": "/search",
            "hit_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        }
        yield _stored(prefix, site, "hits", at + timedelta(minutes=1), source)
    elif extra < 0.33:
        source = {
            **common,
            "event": "outbound",
            "id": "https://github.com/example/open-data",
            "hit_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        }
        yield _stored(prefix, site, "hits", at + timedelta(minutes=1), source)


def logs(prefix: str, site: str, now: datetime, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Server log lines of the same site: pages, files, assets, errors and crawlers."""
    weights = _zipf(len(PAGES))
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    statuses = [(200, 80), (304, 9), (301, 3), (302, 2), (404, 4), (500, 1), (403, 1)]
    methods = [("GET", 90), ("HEAD", 5), ("POST", 4), ("OPTIONS", 1)]
    for days_ago in range(DAYS, -1, -1):
        day = today - timedelta(days=days_ago)
        for _ in range(int(rng.gauss(70, 6) * _day_factor(day, days_ago))):
            at = _moment(rng, day, now)
            if at is None:
                continue
            status = _pick(rng, statuses)[0]
            bot = rng.random() < 0.15
            name = _pick(rng, BOTS)[0] if bot else _pick(rng, AGENTS)[0]
            source: dict[str, Any] = {
                "http": {"method": _pick(rng, methods)[0], "status": status},
                "user_agent": {"name": name},
                "bot": bot,
                "visitor": f"l{days_ago}-{rng.randrange(int(40 * _day_factor(day, days_ago)))}",
            }
            if rng.random() < 0.2 and status == 200:
                fmt = _pick(rng, FORMATS)[0]
                path = f"/files/{rng.choice(PAGES[2:]).rsplit('/', 1)[-1]}.{fmt}"
                source.update({"event": "download", "format": fmt})
                size = int(rng.lognormvariate(13, 1.2))
            else:
                path = (
                    rng.choices(PAGES, weights=weights)[0]
                    if status != 404
                    else rng.choice(
                        [
                            "/wp-login.php",
                            "/old-portal/index.html",
                            "/datasets/removed",
                            "/favicon.png",
                        ]
                    )
                )
                source["event"] = "view"
                size = 0 if status in (301, 302, 304) else int(rng.lognormvariate(9.5, 0.6))
            source["http"]["bytes"] = size
            source["url"] = {"path": path}
            referrer = _pick(rng, REFERRERS)[0]
            if referrer:
                source["referrer"] = {"host": referrer}
            yield _stored(prefix, site, "logs", at, source)


def github(prefix: str, site: str, now: datetime, rng: random.Random) -> Iterator[dict[str, Any]]:
    repos = [
        ("example/open-data-portal", 6),
        ("example/metronome-snippet", 3),
        ("example/city-budget", 2),
        ("example/docs", 1),
    ]
    people = [
        "alice",
        "bob",
        "carol",
        "dmitri",
        "eva",
        "farid",
        "grace",
        "hiro",
        "ines",
        "jonas",
        "kim",
        "lena",
    ]
    kinds = [
        ("push", None, 30),
        ("pull_request", "opened", 7),
        ("pull_request", "closed", 6),
        ("issues", "opened", 6),
        ("issues", "closed", 4),
        ("issue_comment", "created", 14),
        ("pull_request_review", "submitted", 6),
        ("release", "published", 1),
        ("fork", None, 1),
    ]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for days_ago in range(DAYS, -1, -1):
        day = today - timedelta(days=days_ago)
        for _ in range(int(rng.gauss(14, 3) * _day_factor(day, days_ago))):
            at = _moment(rng, day, now)
            if at is None:
                continue
            repo = _pick(rng, repos)[0]
            sender = rng.choices(people, weights=_zipf(len(people), 0.8))[0]
            if rng.random() < 0.12:
                yield _stored(
                    prefix, site, "github", at, {"kind": "star", "repo": repo, "user": sender}
                )
                continue
            event, action, _ = _pick(rng, kinds)
            source: dict[str, Any] = {
                "kind": "webhook",
                "event": event,
                "repo": repo,
                "sender": sender,
            }
            if action:
                source["action"] = action
            if event == "push":
                source["push"] = {"commits": rng.choice((1, 1, 1, 2, 2, 3, 5, 8))}
            if event == "pull_request":
                source["pull_request"] = {
                    "state": "open"
                    if action == "opened"
                    else rng.choice(("closed", "merged", "merged"))
                }
            if event == "issues":
                source["issue"] = {"state": "open" if action == "opened" else "closed"}
            yield _stored(prefix, site, "github", at, source)


def s3(prefix: str, site: str, now: datetime, rng: random.Random) -> Iterator[dict[str, Any]]:
    objects = [
        (f"{year}/{name}.{fmt}", fmt, size)
        for year, name, fmt, size in [
            ("2026", "air-quality", "csv", 2_400_000),
            ("2026", "city-budget", "xlsx", 850_000),
            ("2026", "all-datasets", "zip", 480_000_000),
            ("2026", "transport-delays", "parquet", 36_000_000),
            ("2026", "population", "csv", 120_000),
            ("2025", "election-results", "json", 4_200_000),
            ("2026", "noise-map", "geojson", 18_000_000),
            ("2026", "annual-report", "pdf", 6_500_000),
            ("2025", "tree-inventory", "csv", 9_800_000),
            ("2026", "bike-counters", "csv", 1_100_000),
            ("2024", "street-names", "json", 700_000),
            ("2026", "water-quality", "xlsx", 320_000),
        ]
    ]
    weights = _zipf(len(objects), 0.9)
    operations = [
        ("REST.GET.OBJECT", 82),
        ("REST.HEAD.OBJECT", 10),
        ("REST.GET.BUCKET", 5),
        ("REST.PUT.OBJECT", 3),
    ]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for days_ago in range(DAYS, -1, -1):
        day = today - timedelta(days=days_ago)
        for _ in range(int(rng.gauss(45, 5) * _day_factor(day, days_ago))):
            at = _moment(rng, day, now)
            if at is None:
                continue
            key, fmt, size = rng.choices(objects, weights=weights)[0]
            operation = _pick(rng, operations)[0]
            roll = rng.random()
            status, error = (200, None)
            if roll < 0.03:
                status, error = 403, "AccessDenied"
            elif roll < 0.06:
                status, error, key = 404, "NoSuchKey", "2023/old-export.csv"
            elif roll < 0.08 and operation == "REST.GET.OBJECT":
                status = 206
            elif roll < 0.09:
                status, error = 503, "SlowDown"
            sent = (
                0
                if status >= 400 or operation != "REST.GET.OBJECT"
                else (size if status == 200 else size // 8)
            )
            source: dict[str, Any] = {
                "kind": "request",
                "bucket": "open-data" if rng.random() < 0.85 else "open-data-archive",
                "key": key,
                "operation": operation,
                "http": {"status": status},
                "bytes_sent": sent,
                "total_time_ms": int(rng.lognormvariate(4.2, 0.8) + sent / 2_000_000),
            }
            if error:
                source["error_code"] = error
            if operation == "REST.GET.OBJECT" and status in (200, 206):
                source.update({"event": "download", "format": fmt})
            yield _stored(prefix, site, "s3", at, source)


def allezon(prefix: str, site: str, now: datetime, rng: random.Random) -> Iterator[dict[str, Any]]:
    """User tags of a shop: views and buys with devices, origins, countries and products."""
    origins = [
        ("newsletter", 5),
        ("search_ads", 8),
        ("social", 4),
        ("partner_blog", 2),
        ("direct", 6),
        ("retargeting", 3),
    ]
    devices = [("PC", 5), ("MOBILE", 6), ("TV", 1)]
    countries = [("PL", 8), ("DE", 5), ("CZ", 2), ("SK", 1), ("LT", 1), ("UA", 2)]
    cookies = [f"c{n:05d}" for n in range(900)]
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for days_ago in range(DAYS, -1, -1):
        day = today - timedelta(days=days_ago)
        for _ in range(int(rng.gauss(120, 10) * _day_factor(day, days_ago))):
            at = _moment(rng, day, now)
            if at is None:
                continue
            category = rng.randrange(1, 13)
            price = int(rng.lognormvariate(4 + category / 6, 0.5))
            action = "BUY" if rng.random() < 0.07 else "VIEW"
            cookie = rng.choice(cookies)
            source = {
                "cookie": cookie,
                "visitor": cookie,
                "action": action,
                "device": _pick(rng, devices)[0],
                "origin": _pick(rng, origins)[0],
                "country": _pick(rng, countries)[0],
                "product_info": {
                    "product_id": rng.randrange(1, 5000),
                    "brand_id": f"brand-{rng.randrange(1, 16):02d}",
                    "category_id": f"category-{category:02d}",
                    "price": price,
                },
            }
            yield _stored(prefix, site, "hits", at, source)


def health(prefix: str, site: str, now: datetime, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Metronome's counters as a Prometheus source stores them: a sample every 20 minutes."""
    counters = {
        ("metronome_hits_accepted_total", "web"): 0.0,
        ("metronome_shipped_total", "shipper"): 0.0,
        ("metronome_ship_retries_total", "shipper"): 0.0,
        ("metronome_hits_rejected_total", "web"): 0.0,
        ("metronome_dead_lettered_total", "shipper"): 0.0,
    }
    start = now - timedelta(days=8)
    for step in range(8 * 72):
        at = start + timedelta(minutes=20 * step)
        if at >= now:
            break
        busy = 0.2 + math.exp(-((at.hour - 13.5) ** 2) / 18)
        accepted = rng.gauss(60, 10) * busy
        counters[("metronome_hits_accepted_total", "web")] += accepted
        counters[("metronome_shipped_total", "shipper")] += accepted * 0.998
        if rng.random() < 0.04:
            counters[("metronome_ship_retries_total", "shipper")] += rng.randrange(1, 6)
        if rng.random() < 0.15:
            counters[("metronome_hits_rejected_total", "web")] += rng.randrange(1, 4)
        if rng.random() < 0.003:
            counters[("metronome_dead_lettered_total", "shipper")] += 1
        for (name, series), value in counters.items():
            yield _stored(
                prefix,
                site,
                "prometheus",
                at,
                {"metric_name": name, "series": series, "value": round(value)},
            )


def demo_documents(prefix: str, site: str, shop: str, now: datetime) -> Iterator[dict[str, Any]]:
    """Every stream of ``site``, and Allezon's user tags on ``shop`` (they share the hits
    stream, and would otherwise count among the site's events)."""
    rng = random.Random(20261207)
    for stream in (web, logs, github, s3, health):
        yield from stream(prefix, site, now, rng)
    yield from allezon(prefix, shop, now, rng)
