"""``server:`` (the web server `metronome serve` starts), ``metrics:`` (who may read
``GET /metrics``) and ``public_tock_cache:``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from marshmallow import ValidationError
from marshmallow.validate import Length, Range

from metronome.config.elasticsearch import NO_TRAILING_SLASH, URL
from metronome.config.sites import not_an_example_key

TRACKER_SCRIPT = Path(__file__).resolve().parents[2] / "clients" / "js" / "dist" / "metronome.js"


@dataclass(frozen=True)
class ServerSettings:
    host: Annotated[str, Length(min=1)] = "127.0.0.1"
    port: Annotated[int, Range(min=0, max=65535)] = 8080
    workers: Annotated[int, Range(min=1, max=64)] = 2
    # per worker; concurrent hits in one worker share an fsync
    threads: Annotated[int, Range(min=1, max=256)] = 8
    # Slow clients (metronome/web/slowclients.py): a request must arrive whole within this many
    # seconds of its first byte, else 408; it holds no thread while it arrives.
    request_timeout: Annotated[float, Range(min=0.1, max=3600)] = 10.0
    keepalive: Annotated[int, Range(min=0, max=3600)] = 2  # seconds an idle connection stays
    # Open connections per worker (arriving, served or idle); under the usual 1024 open files.
    worker_connections: Annotated[int, Range(min=1, max=100_000)] = 500
    # gunicorn logs a line per request to stdout; off by default, which saves CPU per request.
    access_log: bool = False
    # The built JS snippet served at /metronome.js (`make js` builds it).
    tracker_script: Annotated[Path, Length(min=1)] = TRACKER_SCRIPT
    # Listen on a public address even while a site takes hits or reads without a key
    # (metronome/serve/exposure.py): only when set, and with a warning for every open door.
    public_without_keys: bool = False
    # The address people reach Metronome at (https://metronome.example.org), for links in
    # notifications; None: messages carry no link.
    public_url: Annotated[str | None, URL, NO_TRAILING_SLASH] = None

    def check(self) -> None:
        if self.worker_connections <= self.threads:  # gunicorn keeps no connection alive then
            message = f"Must be more than server.threads ({self.threads})."
            raise ValidationError(message, "worker_connections")


@dataclass(frozen=True)
class MetricsSettings:
    """Who may read ``GET /metrics`` (``metronome.access.admin``): the counters say how much
    each site receives and which sources fail, so by default a bearer token is needed."""

    # token: the metrics token or an admin key; none: anyone who reaches the port
    auth: Literal["token", "none"] = "token"
    # Unset: generated at first start into var/keys/metrics.token. A secret: not in repr().
    token: Annotated[str | None, Length(min=16), not_an_example_key] = field(
        default=None, repr=False
    )


@dataclass(frozen=True)
class PublicCacheSettings:
    """The cache of answers to public ``GET /tock`` requests (``metronome.query.public_cache``),
    per web worker."""

    ttl: Annotated[float, Range(min=0, max=3600)] = 10.0  # seconds; 0 turns the cache off
    max_entries: Annotated[int, Range(min=1, max=1_000_000)] = 1000
    max_bytes: Annotated[int, Range(min=1024)] = 16_777_216  # bodies counted
