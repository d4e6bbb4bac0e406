"""CPU per hit on the POST /tick path: validation, acceptance and the whole request.

Everything runs in this one process, on one thread, with no network and no fsync, so the
figures are CPU time (``time.process_time``) of Metronome's own code:

1. ``validate``: ``load_hit`` (the hit's one definition, ``metronome.hits.definition``, what
   the ingest path runs), over a mix of realistic hits;
2. ``accept``: ``accept_hits`` (site, key, origin, validation, enrichment) plus the spool
   record of every document (``SpoolSink``'s encoding), per hit, for single-hit requests and
   batches of 500;
3. ``request``: the whole WSGI app (``create_app``, no server, spool on disk without fsync):
   ``POST /tick`` with one hit and with 500, against ``GET /healthz`` of the same app
   (Flask's own cost of a request, the floor);
4. ``geo``: what the location lookup (``enrich.geo``) adds to ``POST /tick`` with one hit: two
   apps, geo off (the baseline) and on, fed the same requests from public client addresses,
   alternating within each round; the ratio on / off of every round is kept, so the spread
   shows. Clients that come back (100 addresses, the lookup cache answers) and a new address
   every request (each one a lookup), with the built-in data and with a city database
   (``.mmdb`` of 5,100 networks, written here with ``mmdb-writer``, a test dependency).

Each figure is the median of ``--rounds`` rounds; the cases of a figure alternate within a
round (the order flips every round), so a noisy machine disturbs them alike. Prints one JSON
object; progress goes to stderr.

    .venv/bin/python bench/hit_path.py                 # ~1 minute
    .venv/bin/python bench/hit_path.py --rounds 3 --scale 0.2   # a quick look
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import USER_AGENTS, hit, machine, print_report, ratio
from bench.options import add_subset_option
from metronome.config import HitLimits, settings_from_mapping
from metronome.enrich.visitors import DailySalts
from metronome.hits.accept import RequestFacts, Validator, accept_hits
from metronome.hits.definition import load_hit
from metronome.hits.pipeline import Document
from metronome.hits.sink import SpoolSink, document_id
from metronome.spool.entry import Entry, encode_entry
from metronome.web.app import create_app
from metronome.web.services import EXTENSION_KEY

BATCH = 500
CLIENT_IP = "203.0.113.7"
VALIDATORS: dict[str, Validator] = {"definition": load_hit}
BASELINE = "definition"

Measure = Callable[[], None]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- what is sent --------------------------------------------------------------------------


def richer_hit(number: int) -> dict[str, Any]:
    """A hit with more of the reserved fields and free parameters than ``bench._common.hit``."""
    return {
        **hit(number),
        "event": "download" if number % 5 == 0 else "view",
        "time": f"2026-11-22T09:{number % 60:02d}:00Z",
        "url": f"https://example.org/items/{number % 37}",
        "format": "csv",
        "session": f"s-{number % 11}",
        "price": number % 100 + 0.5,
        "product_info": {"brand": "acme", "category": f"c{number % 7}", "stock": number % 13},
    }


def hit_mix(count: int) -> list[dict[str, Any]]:
    """Three in four hits as the ingest benchmark sends them, one in four richer."""
    return [richer_hit(n) if n % 4 == 3 else hit(n) for n in range(count)]


# --- timing --------------------------------------------------------------------------------


def cpu_seconds(run: Measure, loops: int) -> float:
    """CPU seconds of ``loops`` calls of ``run``."""
    started = time.process_time()
    for _ in range(loops):
        run()
    return time.process_time() - started


def alternate(cases: dict[str, Measure], loops: int, rounds: int, per: int) -> dict[str, Any]:
    """Median (and best) CPU microseconds per unit of each case over ``rounds`` rounds;
    ``per`` units (hits or requests) are handled by one call."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for number in range(rounds):
        for name in names if number % 2 == 0 else reversed(names):
            seconds = cpu_seconds(cases[name], loops)
            samples[name].append(seconds / (loops * per) * 1e6)
    return {
        name: {
            "us_median": round(statistics.median(values), 2),
            "us_best": round(min(values), 2),
        }
        for name, values in samples.items()
    }


def with_ratios(figures: dict[str, Any], baseline: str) -> dict[str, Any]:
    """``vs_baseline``: the case's median / the baseline's (lower is cheaper)."""
    base = figures[baseline]["us_median"]
    for values in figures.values():
        values["vs_baseline"] = ratio(values["us_median"], base)
    return figures


# --- 1. validation -------------------------------------------------------------------------


def bench_validate(rounds: int, scale: float) -> dict[str, Any]:
    hits = hit_mix(400)
    limits, now = HitLimits(), datetime.now(UTC)

    def case(validate: Validator) -> Measure:
        def run() -> None:
            for raw in hits:
                validate(raw, limits, now)

        return run

    loops = max(1, int(20 * scale))
    cases = {name: case(validate) for name, validate in VALIDATORS.items()}
    return with_ratios(alternate(cases, loops, rounds, per=len(hits)), BASELINE)


# --- 2. accept + spool record --------------------------------------------------------------


def spool_records(documents: Iterable[Document]) -> list[bytes]:
    """What ``SpoolSink.append`` hands the writer."""
    return [
        encode_entry(Entry(stream=doc["type"], id=document_id(doc), doc=doc)) for doc in documents
    ]


def bench_accept(rounds: int, scale: float) -> dict[str, Any]:
    settings = settings_from_mapping({})
    salts = DailySalts(b"bench-secret")
    now = datetime.now(UTC)
    salt = salts.for_day(now.date())
    hits = hit_mix(BATCH)

    def facts(number: int) -> RequestFacts:
        agent = USER_AGENTS[number % len(USER_AGENTS)]
        return RequestFacts(received_at=now, salt=salt, user_agent=agent, client_ip=CLIENT_IP)

    def single(validate: Validator) -> Measure:
        def run() -> None:
            for number, raw in enumerate(hits):
                outcome = accept_hits(settings, facts(number), [raw], validate)
                spool_records(outcome.documents)

        return run

    def batch(validate: Validator) -> Measure:
        def run() -> None:
            outcome = accept_hits(settings, facts(0), hits, validate)
            spool_records(outcome.documents)

        return run

    loops = max(1, int(4 * scale))
    report: dict[str, Any] = {}
    for shape, make in (("single_hit_requests", single), ("batches_of_500", batch)):
        cases = {name: make(validate) for name, validate in VALIDATORS.items()}
        report[shape] = with_ratios(alternate(cases, loops, rounds, per=len(hits)), BASELINE)
    return report


# --- 3. the whole request ------------------------------------------------------------------


class InProcessApp:
    """The real app called as a WSGI server would, with the spool on disk but not fsynced."""

    def __init__(
        self,
        workdir: Path,
        rate_limits: dict[str, Any] | None = None,
        enrich: dict[str, Any] | None = None,
    ) -> None:
        # The rate limits are off unless given: this measures the hit path (ratelimit.py, them).
        limits = rate_limits or {"enabled": False}
        settings = settings_from_mapping(
            {
                "spool": {"dir": str(workdir / "spool")},
                "rate_limits": limits,
                "enrich": enrich or {},
            }
        )
        self.app = create_app(settings, es=Elasticsearch("http://127.0.0.1:9"))  # never called
        # No fsync: the CPU is measured, not the disk. The app's own writer is changed, as the
        # fast path keeps the services it was built with (a replaced sink would not reach it).
        sink = self.app.extensions[EXTENSION_KEY].sink
        assert isinstance(sink, SpoolSink)
        sink.writer.fsync = False
        self.writer = sink.writer
        self.statuses: list[str] = []

    def call(
        self, method: str, path: str, body: bytes = b"", agent: str = "", client: str = CLIENT_IP
    ) -> str:
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8080",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": client,
            "HTTP_HOST": "127.0.0.1:8080",
            "HTTP_USER_AGENT": agent,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        self.statuses.clear()
        for _ in self.app(environ, self._start_response):
            pass
        return self.statuses[0]

    def _start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        self.statuses.append(status)
        return lambda data: None  # the legacy write(); Flask never calls it


def bench_request(rounds: int, scale: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="metronome-hit-path-") as directory:
        app = InProcessApp(Path(directory))
        singles = [json.dumps(raw).encode() for raw in hit_mix(100)]
        batches = [json.dumps(hit_mix(BATCH)).encode()]

        def requests(bodies: list[bytes], method: str = "POST", path: str = "/tick") -> Measure:
            expected = "200" if method == "GET" else "202"

            def run() -> None:
                for number, body in enumerate(bodies):
                    agent = USER_AGENTS[number % len(USER_AGENTS)]
                    status = app.call(method, path, body, agent)
                    if not status.startswith(expected):
                        raise RuntimeError(f"{method} {path} answered {status}")

            return run

        loops = max(1, int(10 * scale))
        single = alternate(
            {
                "healthz": requests([b""] * len(singles), "GET", "/healthz"),
                "tick_single_hit": requests(singles),
            },
            loops,
            rounds,
            per=len(singles),
        )
        batch = alternate({"tick_batch_of_500": requests(batches)}, loops, rounds, per=BATCH)
        app.writer.close()
    floor = single["healthz"]["us_median"]
    single["tick_single_hit"]["vs_healthz"] = ratio(single["tick_single_hit"]["us_median"], floor)
    single["tick_single_hit"]["us_above_healthz"] = round(
        single["tick_single_hit"]["us_median"] - floor, 2
    )
    return {
        "per_request": single,
        "per_hit": batch,
    }


# --- 4. geo on vs off ------------------------------------------------------------------------


def public_addresses(count: int, seed: int) -> list[str]:
    """``count`` distinct random public addresses (IPv4, three in four; IPv6 the rest)."""
    chooser = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < count:
        if chooser.random() < 0.75:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(
                chooser.getrandbits(32)
            )
        else:  # inside 2000::/3, where the registries delegate
            address = ipaddress.IPv6Address((0x2 << 124) | chooser.getrandbits(125))
        if address.is_global:
            found[str(address)] = None
    return list(found)


def city_database(path: Path, addresses: list[str]) -> Path | None:
    """A city database in MaxMind's layout with the network of each of ``addresses`` (its /24
    or /48), or None without ``mmdb-writer``."""
    try:
        from mmdb_writer import MMDBWriter  # noqa: PLC0415  # a test dependency
        from netaddr import IPSet  # noqa: PLC0415
    except ImportError:
        return None
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    for number, address in enumerate(addresses):
        network = ipaddress.ip_network(f"{address}/{48 if ':' in address else 24}", strict=False)
        record = {
            "country": {"iso_code": "DE", "names": {"en": "Germany"}},
            "subdivisions": [{"names": {"en": f"Region {number % 16}"}}],
            "city": {"names": {"en": f"City {number}"}},
        }
        writer.insert_network(IPSet([str(network)]), record)
    writer.to_db_file(str(path))
    return path


def bench_geo(rounds: int, scale: float) -> dict[str, Any]:
    loops = max(1, int(10 * scale))
    bodies = [json.dumps(raw).encode() for raw in hit_mix(100)]
    with tempfile.TemporaryDirectory(prefix="metronome-hit-path-geo-") as directory:
        work = Path(directory)
        # Clients that come back: 100 addresses, each seen in every loop.
        returning = public_addresses(len(bodies), seed=1)
        # A new address for every request of every round and case: no lookup is cached.
        fresh = iter(public_addresses(len(bodies) * loops * (rounds + 1) * 4, seed=2))
        mmdb = city_database(work / "city.mmdb", [*returning, *public_addresses(5000, seed=3)])
        apps = {
            "off": InProcessApp(work / "off", enrich={"geo": {"enabled": False}}),
            "on": InProcessApp(work / "on"),
        }
        if mmdb is not None:
            apps["city"] = InProcessApp(work / "city", enrich={"geo": {"mmdb": str(mmdb)}})

        def requests(app: InProcessApp, clients: Callable[[], list[str]]) -> Measure:
            def run() -> None:
                for number, (body, client) in enumerate(zip(bodies, clients(), strict=True)):
                    agent = USER_AGENTS[number % len(USER_AGENTS)]
                    status = app.call("POST", "/tick", body, agent, client)
                    if not status.startswith("202"):
                        raise RuntimeError(f"POST /tick answered {status}")

            return run

        def new_clients() -> list[str]:
            return [next(fresh) for _ in bodies]

        report: dict[str, Any] = {}
        cases: dict[str, tuple[str, Callable[[], list[str]]]] = {
            "returning_clients": ("on", lambda: returning),
            "a_new_address_every_request": ("on", new_clients),
        }
        if mmdb is not None:
            cases["city_database_returning_clients"] = ("city", lambda: returning)
            cases["city_database_a_new_address_every_request"] = ("city", new_clients)
        for name, (app_name, clients) in cases.items():
            say(f"geo: {name}...")
            off = requests(apps["off"], clients)
            on = requests(apps[app_name], clients)
            for warm in (off, on):  # the first lookups load the data; parse the agents once
                warm()
            report[name] = geo_rounds(off, on, loops, rounds, per=len(bodies))
        for app in apps.values():
            app.writer.close()
    return report


def geo_rounds(off: Measure, on: Measure, loops: int, rounds: int, per: int) -> dict[str, Any]:
    """CPU µs per request with geo off and on, alternating (the order flips every round), and
    the ratio on / off of each round: its median and range."""
    samples: dict[str, list[float]] = {"off": [], "on": []}
    for number in range(rounds):
        order = (("off", off), ("on", on)) if number % 2 == 0 else (("on", on), ("off", off))
        for name, measure in order:
            samples[name].append(cpu_seconds(measure, loops) / (loops * per) * 1e6)
    ratios = [on_us / off_us for on_us, off_us in zip(samples["on"], samples["off"], strict=True)]
    return {
        "us_per_request_off": round(statistics.median(samples["off"]), 2),
        "us_per_request_on": round(statistics.median(samples["on"]), 2),
        "us_added": round(statistics.median(samples["on"]) - statistics.median(samples["off"]), 2),
        "on_vs_off_median": round(statistics.median(ratios), 3),
        "on_vs_off_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "rounds": rounds,
    }


# --- the run -------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "machine": {**machine(), "python": platform.python_version()},
        "settings": {"rounds": args.rounds, "scale": args.scale, "phases": args.phases},
        "baseline": f"{BASELINE}: load_hit, the hit's one definition",
        "ratios": "vs_baseline = median CPU us of the case / the baseline's (lower is cheaper)",
    }
    for name in args.phases:
        say(f"{name}...")
        report[name] = PHASES[name](args.rounds, args.scale)
    return report


PHASES: dict[str, Callable[[int, float], dict[str, Any]]] = {
    "validate": bench_validate,
    "accept": bench_accept,
    "request": bench_request,
    "geo": bench_geo,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per figure")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="work per round (0.2: a fifth, for a quick look)"
    )
    add_subset_option(parser, "phases", list(PHASES))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return print_report(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
