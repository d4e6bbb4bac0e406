"""CPU per request of the rate limits (metronome.web.ratelimit), in-process.

The real app (``create_app``, spool on disk, as ``hit_path.py`` runs it) is
called with ``POST /tick`` (one hit, the fast path) from a client that is not exempt, so
every request takes a token from its per-IP and its per-site bucket, and never runs out
(the rates are set far above what one thread sends). Against the same app with the limiter
unwrapped; the two alternate within each round. Also the middleware alone (around a WSGI app
that does nothing) and a refused request (429). Prints one JSON object.

    .venv/bin/python bench/ratelimit.py            # ~20 s
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.hit_path import InProcessApp, hit_mix
from metronome.config import settings_from_mapping
from metronome.web.ratelimit.middleware import RateLimit

UNLIMITED = {"rate": 1_000_000, "burst": 10_000_000}
LIMITS: dict[str, Any] = {
    "ingest": {"per_ip": UNLIMITED, "per_site": UNLIMITED},
    "exempt": [],  # the bench client counts like any other
}


def per_request_us(call: Callable[[], object], requests: int) -> float:
    started = time.process_time()  # CPU: neither the spool's fsync wait nor other processes
    for _ in range(requests):
        call()
    return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="metronome-ratelimit-") as directory:
        app = InProcessApp(Path(directory), rate_limits=LIMITS)
        limited = app.app.wsgi_app
        assert isinstance(limited, RateLimit)
        bodies = [json.dumps(hit).encode() for hit in hit_mix(100)]
        turn = iter(range(10**9))

        def tick() -> None:
            status = app.call("POST", "/tick", bodies[next(turn) % len(bodies)])
            assert status.startswith("202"), status

        with_limits: list[float] = []
        without: list[float] = []
        for round_number in range(args.rounds):
            order = [True, False] if round_number % 2 else [False, True]
            for on in order:
                app.app.wsgi_app = limited if on else limited.app  # type: ignore[method-assign,assignment]
                (with_limits if on else without).append(per_request_us(tick, args.requests))
            print(f"round {round_number + 1}/{args.rounds}", file=sys.stderr)

        alone, refused = middleware_alone(args.requests * 10)
    base, limited_us = statistics.median(without), statistics.median(with_limits)
    print(
        json.dumps(
            {
                "tick_fast_path_us": {
                    "without_limits": round(base, 2),
                    "with_limits": round(limited_us, 2),
                    "ratio": round(limited_us / base, 3),
                },
                "middleware_alone_us": round(alone, 2),
                # The limiter's own cost against a whole request, steadier than the A/B ratio
                # above when other processes share the CPU.
                "middleware_share_of_tick": round(alone / base, 4),
                "refused_429_us": round(refused, 2),
                "rounds": args.rounds,
                "requests_per_round": args.requests,
            },
            indent=2,
        )
    )


def middleware_alone(requests: int) -> tuple[float, float]:
    """µs per request of the limiter around an app that does nothing: an allowed request,
    and one refused with 429."""

    def nothing(environ: Any, start_response: Any) -> Iterable[bytes]:
        start_response("204 NO CONTENT", [])
        return []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return None

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/tick", "QUERY_STRING": ""}
    environ["REMOTE_ADDR"] = "203.0.113.7"
    allowing = RateLimit(nothing, settings_from_mapping({"rate_limits": LIMITS}))
    refusing = RateLimit(
        nothing,
        settings_from_mapping(
            {"rate_limits": {"exempt": [], "ingest": {"per_ip": {"rate": 0.001, "burst": 1}}}}
        ),
    )
    alone = statistics.median(
        per_request_us(lambda: allowing(environ, start_response), requests) for _ in range(5)
    )
    refused = statistics.median(
        per_request_us(lambda: refusing(environ, start_response), requests) for _ in range(5)
    )
    return alone, refused


if __name__ == "__main__":
    main()
