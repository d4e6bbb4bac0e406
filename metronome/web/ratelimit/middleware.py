"""The rate limits as WSGI middleware, outermost: before the fast path (metronome.web.fastpath)
and Flask, so a refused request costs a dictionary lookup or two and no body read.

Which requests count (``policy_for``):

- ingest: ``POST /tick``, ``GET /tick.gif``, ``POST /ingest/logs[/tag]``, ``POST /user_tags``,
  ``POST /api/v1/metrics``;
- public reads: ``GET /tock/<id>`` with no key (no ``Authorization`` and no ``key=``); a
  request with a key is a known client, and one with a wrong key is refused before any search;
  and every request through a shared dashboard's link (``/api/v1/shared/<token>...``).

The site is the one the URL names (``?site=``), else the route's own (the default site; the
Allezon site; ``logs.site``): a hit naming another site in its body counts against the site of
its request, since reading bodies here would cost every request what it saves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from metronome.access.sites import bearer_token
from metronome.config import LimitPair, RateLimitSettings, Settings
from metronome.errors import error_object
from metronome.web.fastpath import json_answer
from metronome.web.ratelimit.buckets import Buckets, retry_after
from metronome.web.ratelimit.clients import client_address, client_key, within

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

UNKNOWN_SITE = "?"  # one bucket for every site name not configured (the app answers 404)
MAX_CACHED_CLIENTS = 10_000


@dataclass
class Policy:
    """The buckets of one kind of request."""

    name: str  # for the message: "ingest", "public reads"
    per_ip: Buckets
    per_site: Buckets
    ip_rate: float
    site_rate: float

    @classmethod
    def of(cls, name: str, limits: LimitPair, max_keys: int) -> Policy:
        return cls(
            name,
            Buckets(limits.per_ip, max_keys),
            Buckets(limits.per_site, max_keys),
            limits.per_ip.rate,
            limits.per_site.rate,
        )


class RateLimit:
    """WSGI middleware: 429 with ``Retry-After`` for a request over its per-IP or per-site
    limit; every other request goes on unchanged."""

    def __init__(
        self,
        app: WSGIApplication,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        limits: RateLimitSettings = settings.rate_limits
        self.app = app
        self.limits = limits
        self.clock = clock
        self.sites = frozenset(settings.sites)
        self.ingest = Policy.of("ingest", limits.ingest, limits.max_tracked)
        self.reads = Policy.of("public reads", limits.public_reads, limits.max_tracked)
        logs_site = settings.logs.site or settings.default_site
        self.routes: dict[tuple[str, str], str] = {  # (method, path) -> the route's own site
            ("POST", "/tick"): settings.default_site,
            ("GET", "/tick.gif"): settings.default_site,
            ("POST", "/ingest/logs"): logs_site,
            ("POST", "/api/v1/metrics"): settings.default_site,
            ("POST", "/user_tags"): settings.allezon.site,
        }
        self.logs_site = logs_site
        self.default_site = settings.default_site
        self.clients: dict[tuple[str, str | None], tuple[str, bool]] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        classified = self.classify(environ)
        if classified is None:
            return self.app(environ, start_response)
        policy, route_site = classified
        now = self.clock()
        key, exempt = self.client(environ)
        if not exempt:
            wait = policy.per_ip.take(key, now)
            if wait:
                return self.refuse(start_response, wait, policy, "this address", policy.ip_rate)
        site = self.site(environ, route_site)
        wait = policy.per_site.take(site, now)
        if wait:
            return self.refuse(start_response, wait, policy, f"site {site!r}", policy.site_rate)
        return self.app(environ, start_response)

    def classify(self, environ: WSGIEnvironment) -> tuple[Policy, str] | None:
        """The policy that counts this request and its route's site, or ``None``."""
        method = environ.get("REQUEST_METHOD", "")
        path: str = environ.get("PATH_INFO", "")
        route_site = self.routes.get((method, path))
        if route_site is not None:
            return self.ingest, route_site
        if method == "POST" and path.startswith("/ingest/logs/"):
            return self.ingest, self.logs_site
        if path.startswith("/api/v1/shared/"):  # a shared dashboard's link: no key at all
            return self.reads, self.default_site
        if method == "GET" and path.startswith("/tock/"):
            query = environ.get("QUERY_STRING", "")
            # As the view reads a key: anything else in Authorization leaves a public read.
            bearer = bearer_token(environ.get("HTTP_AUTHORIZATION"))
            keyed = bearer or ("key=" in query and _arg(query, "key"))
            return None if keyed else (self.reads, self.default_site)
        return None

    def client(self, environ: WSGIEnvironment) -> tuple[str, bool]:
        """The client's bucket key and whether it is exempt from per-IP limits, cached by
        what they are worked out from (parsing an address costs more than the rest)."""
        peer = environ.get("REMOTE_ADDR") or ""
        forwarded = environ.get("HTTP_X_FORWARDED_FOR") if self.limits.trusted_proxies else None
        cached = self.clients.get((peer, forwarded))
        if cached is None:
            address = client_address(peer, forwarded, self.limits.trusted_proxies)
            if address is None:  # a Unix socket: a local proxy, or a local client
                cached = (peer, True)
            else:
                cached = (client_key(address), within(address, self.limits.exempt))
            if len(self.clients) >= MAX_CACHED_CLIENTS:
                self.clients.clear()
            self.clients[(peer, forwarded)] = cached
        return cached

    def site(self, environ: WSGIEnvironment, route_site: str) -> str:
        query = environ.get("QUERY_STRING", "")
        named = _arg(query, "site") if "site=" in query else None
        site = named or route_site
        return site if site in self.sites else UNKNOWN_SITE

    def refuse(
        self, start_response: StartResponse, wait: float, policy: Policy, who: str, rate: float
    ) -> list[bytes]:
        seconds = retry_after(wait)
        message = (
            f"Too many {policy.name} requests from {who} (limit: {rate:g} a second); "
            f"retry after {seconds} s."
        )
        error = {"error": error_object("rate_limited", message)}
        return json_answer(429, error, [("Retry-After", str(seconds))]).send(start_response)


def _arg(query: str, name: str) -> str | None:
    values = parse_qs(query, keep_blank_values=True).get(name)
    return values[0] if values else None


def wrap(app: WSGIApplication, settings: Settings) -> WSGIApplication:
    """``app`` behind the rate limits, or ``app`` itself when they are off."""
    return RateLimit(app, settings) if settings.rate_limits.enabled else app
