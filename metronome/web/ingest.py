"""The two adapters over an ingest core (``metronome.hits.ingest``,
``metronome.compat.allezon.ingest``): the core decides a request, accepted or refused, and
these only answer it.

``fast_handler`` answers for the fast path (``metronome.web.fastpath``) what the core accepted
and leaves every refusal, as the core decided it, to the Flask view; ``decided_in_view`` is the
view's side: it takes that refusal (or runs the core itself, for the requests the fast path does
not see: a body without a length, too large) and raises it, so Flask answers it. A refusal is
written once, in the core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from flask import g, request
from werkzeug.wrappers import Request

from metronome.config import Network
from metronome.hits.ingest import Accepted, Ingested, IngestRequest, Refused
from metronome.web.fastpath import FastAnswer, Handler, decoded_once, remember
from metronome.web.ratelimit.clients import client_address
from metronome.web.services import Services, current_services

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

Core = Callable[[Services, IngestRequest], Ingested]
Answer = Callable[["WSGIEnvironment", Accepted], FastAnswer]

# WSGI environ keys of the request headers and address ingest reads.
CONTENT_TYPE = "CONTENT_TYPE"
CONTENT_ENCODING = "HTTP_CONTENT_ENCODING"
KEY = "HTTP_X_METRONOME_KEY"
ORIGIN = "HTTP_ORIGIN"
USER_AGENT = "HTTP_USER_AGENT"
REMOTE_ADDR = "REMOTE_ADDR"
FORWARDED_FOR = "HTTP_X_FORWARDED_FOR"


def fast_handler(core: Core, services: Services, answer: Answer) -> Handler:
    """The fast path's handler of one endpoint: ``answer`` of what ``core`` accepted, else
    ``None`` with the refusal left for the view."""

    def handle(environ: WSGIEnvironment, data: bytes) -> FastAnswer | None:
        trusted = services.settings.rate_limits.trusted_proxies
        outcome = core(services, ingest_request(environ, lambda: data, trusted=trusted))
        if isinstance(outcome, Refused):
            remember(environ, outcome)  # the view raises it, without running the core again
            return None
        return answer(environ, outcome)

    return handle


def decided_in_view(core: Core) -> Accepted:
    """In a Flask view: what the fast handler decided, else ``core``'s outcome; raised if a
    refusal."""
    environ = request.environ
    services = current_services()
    trusted = services.settings.rate_limits.trusted_proxies
    outcome = decoded_once(
        environ,
        Refused,
        lambda: core(
            services,
            ingest_request(environ, lambda: request.get_data(cache=False), trusted=trusted),
        ),
    )
    return accepted(outcome)


def accepted(outcome: Ingested) -> Accepted:
    """The accepted outcome; a refusal is raised (answered through Flask, CORS headers by
    ``cors`` from what the hits said about the origin)."""
    if outcome.origin_allowed is not None:
        g.origin_allowed = outcome.origin_allowed
    if isinstance(outcome, Refused):
        raise outcome.error
    return outcome


def ingest_request(
    environ: WSGIEnvironment,
    body: Callable[[], bytes],
    query: Callable[[str], str | None] | None = None,
    trusted: Sequence[Network] = (),
) -> IngestRequest:
    """What the core reads of a request, straight from the WSGI environ (werkzeug's header
    view costs several times more), for both adapters alike; ``query``: the query values when
    they are parsed already; ``trusted``: the proxies whose ``X-Forwarded-For`` names the
    client (``rate_limits.trusted_proxies``)."""
    get = environ.get
    return IngestRequest(  # by position: this runs for every request
        get(CONTENT_TYPE),
        get(CONTENT_ENCODING),
        get(KEY),
        get(ORIGIN),
        get(USER_AGENT),
        client_ip(environ, trusted) if trusted else get(REMOTE_ADDR),
        query or query_reader(environ),
        body,
    )


def client_ip(environ: WSGIEnvironment, trusted: Sequence[Network]) -> str | None:
    """The client's address as the hit stores it (and looks its location up): the peer's, or,
    when the peer is a trusted proxy, the one it forwarded for, read as the rate limits read it
    (``metronome.web.ratelimit.clients``: from the right, past the trusted proxies)."""
    peer: str | None = environ.get(REMOTE_ADDR)
    forwarded = environ.get(FORWARDED_FOR)
    if not peer or not forwarded:
        return peer
    address = client_address(peer, forwarded, trusted)
    return peer if address is None else str(address)


def query_reader(environ: WSGIEnvironment) -> Callable[[str], str | None]:
    """``request.args.get``, parsing the query string on first use and an empty one never."""
    if not environ.get("QUERY_STRING"):
        return _no_value
    parsed: list[Request] = []

    def get(name: str) -> str | None:
        if not parsed:
            parsed.append(Request(environ))
        return parsed[0].args.get(name)

    return get


def _no_value(name: str) -> None:
    return None
