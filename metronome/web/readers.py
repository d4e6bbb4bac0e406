"""Who may read what: the one place every read endpoint asks which site a request may read.

A request is judged by exactly one credential:

- an ``Authorization`` header (``Bearer <read key>``): by that header only, whatever cookie
  comes with it (a script's key is never mixed with a browser's session);
- else the session cookie (``metronome.web.sessions``): the sites it was signed in for, as
  long as its key is still configured; an unsafe method (POST, PUT, PATCH, DELETE) must echo
  the session's CSRF token in ``X-CSRF-Token`` (403 ``csrf``), since a browser sends the
  cookie by itself and only a page of ours can read the token;
- else nothing: only a site's public ``/tock`` answers.

A key in the URL (``?key=``) is refused everywhere (400 ``key_in_url``). A session that is
used is pushed forward (sliding expiry): its cookie is sent again, at most once a minute.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from metronome.access.sites import check_read_key, find_site, read_key
from metronome.config import SiteSettings
from metronome.errors import ApiError
from metronome.web.ratelimit.clients import client_address, client_key, parse_address, within
from metronome.web.services import current_services
from metronome.web.sessions import COOKIE_NAME, CSRF_HEADER, Claims, csrf_matches

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SESSION = "metronome_session_claims"  # flask.g: the request's session, read once
_USED = "metronome_session_used"  # flask.g: the session authorised this request


def reader_site(name: object = None, *, public_ok: bool = False) -> SiteSettings:
    """The site ``name`` (default: ``?site=``, else the default site) if this request may read
    it; otherwise the ``ApiError`` that says why not. ``public_ok``: a site with public /tock
    may be read with no credential at all."""
    if name is not None and not isinstance(name, str):
        raise ApiError(422, "invalid_query", "site must be a string.", field="site")
    site = find_site(current_services().settings, name or request.args.get("site"))
    authorization = request.headers.get("Authorization")
    key = read_key(authorization, request.args)  # refuses ?key=
    if authorization is not None:
        check_read_key(site, key, public_ok=public_ok)
        return site
    if public_ok and site.public_tock:
        return site
    claims = session_of_request()
    if claims is None:
        if COOKIE_NAME in request.cookies:
            raise no_session()
        check_read_key(site, None)  # 401 missing_key
        return site
    if site.name not in claims.sites:
        raise ApiError(
            403,
            "site_not_allowed",
            f"This session cannot read site {site.name!r}; sign in with a key of that site.",
            field="site",
        )
    check_csrf(claims)
    mark_used(claims)
    return site


def session_of_request() -> Claims | None:
    """The live session of this request's cookie, or ``None`` (read once per request)."""
    if hasattr(g, _SESSION):
        claims: Claims | None = getattr(g, _SESSION)
        return claims
    cookie = request.cookies.get(COOKIE_NAME)
    claims = None
    if cookie:
        claims = current_services().sessions.read(cookie, int(time.time()))
    setattr(g, _SESSION, claims)
    return claims


def mark_used(claims: Claims) -> None:
    """The session authorised this request: its expiry slides forward on the way out."""
    setattr(g, _USED, claims)


def check_csrf(claims: Claims) -> None:
    if request.method in SAFE_METHODS:
        return
    if not csrf_matches(claims, request.headers.get(CSRF_HEADER)):
        raise ApiError(
            403,
            "csrf",
            f"A change made with the session cookie needs the {CSRF_HEADER} header holding "
            "the session's csrf_token (from POST or GET /api/v1/session).",
            field=CSRF_HEADER,
        )


def no_session() -> ApiError:
    return ApiError(
        401,
        "no_session",
        "The session has ended, was signed out, or its key is no longer configured: sign in "
        "again (POST /api/v1/session).",
    )


def set_session_cookie(response: Response, claims: Claims) -> None:
    response.set_cookie(
        COOKIE_NAME,
        current_services().sessions.encode(claims),
        max_age=max(0, claims.expires - int(time.time())),
        path="/",
        secure=request_is_https(),
        httponly=True,
        samesite="Strict",
    )
    response.headers["Cache-Control"] = "no-store"


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        COOKIE_NAME, path="/", secure=request_is_https(), httponly=True, samesite="Strict"
    )
    response.headers["Cache-Control"] = "no-store"


def request_is_https() -> bool:
    """Whether the browser reached us over https: the request's own scheme, or the
    ``X-Forwarded-Proto`` of a trusted reverse proxy (``rate_limits.trusted_proxies``)."""
    if request.scheme == "https":
        return True
    forwarded = request.headers.get("X-Forwarded-Proto")
    if not forwarded:
        return False
    peer = parse_address(request.environ.get("REMOTE_ADDR") or "")
    trusted = current_services().settings.rate_limits.trusted_proxies
    if peer is None or not within(peer, trusted):
        return False
    return forwarded.split(",")[0].strip().lower() == "https"


def client_bucket() -> str:
    """The rate limits' key of the client (behind trusted proxies as they see it)."""
    peer = request.environ.get("REMOTE_ADDR") or ""
    limits = current_services().settings.rate_limits
    forwarded = request.headers.get("X-Forwarded-For") if limits.trusted_proxies else None
    address = client_address(peer, forwarded, limits.trusted_proxies)
    return peer if address is None else client_key(address)


def init_app(app: Flask) -> None:
    @app.after_request
    def slide_session(response: Response) -> Response:
        claims: Claims | None = getattr(g, _USED, None)
        if claims is None:
            return response
        # An answer read with a cookie is that browser's: no shared cache may keep it (a
        # cache leaves answers to an Authorization header alone by itself, not to a cookie).
        response.headers["Cache-Control"] = "private, no-store"
        response.vary.add("Cookie")
        if COOKIE_NAME in _cookies_set(response):
            return response
        fresh = current_services().sessions.renewal(claims, int(time.time()))
        if fresh is not None:
            set_session_cookie(response, fresh)
        return response


def _cookies_set(response: Response) -> set[str]:
    return {value.split("=", 1)[0] for value in response.headers.getlist("Set-Cookie")}
