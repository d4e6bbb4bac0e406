"""Which hits of one request are accepted, and the documents they become. No Flask, no I/O.

Per hit, in this order: the hit is an object (an NDJSON line that is not JSON is refused with
its own message) -> its site (the ``site`` field, else ``?site=``, else the default) -> the
write key -> the page's origin -> ``load_hit`` with the site's limits -> enrichment. What
depends only on the request and the site (the site's settings, whether the origin may send to
it, the enrichment context with its parsed user agent and visitor id) is worked out once per
site and request, not once per hit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metronome.access.cors import origin_allowed
from metronome.access.sites import check_write_key
from metronome.config import HitLimits, Settings, SiteSettings
from metronome.enrich.geo import geo_lookup
from metronome.errors import ApiError
from metronome.hits.bodies import UndecodableLine
from metronome.hits.definition import HitError, load_hit, not_an_object
from metronome.hits.pipeline import Document, HitContext, enrich

Validator = Callable[[Any, HitLimits, datetime], dict[str, Any]]


@dataclass(slots=True)  # not frozen: built for every request, and frozen costs three times more
class RequestFacts:
    """What one request says about every hit it carries."""

    received_at: datetime
    salt: bytes  # the daily salt of received_at's UTC day
    key: str | None = None  # X-Metronome-Key header or ?key=
    site: str | None = None  # ?site=
    origin: str | None = None
    user_agent: str | None = None
    client_ip: str | None = None


@dataclass
class Outcome:
    documents: list[Document] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # one per rejection
    # Whether the origin may send to a site a hit named; None: no hit got that far.
    origin_allowed: bool | None = None


@dataclass(frozen=True)
class _SiteTarget:
    site: SiteSettings
    origin_allowed: bool
    context: HitContext


def accept_hits(
    settings: Settings,
    facts: RequestFacts,
    raw_hits: Sequence[Any],
    validate: Validator = load_hit,
) -> Outcome:
    """Validate and enrich every hit; the valid ones become ``documents``, the others
    ``rejected`` (by index, with the error) and ``statuses``. ``validate`` is ``load_hit``
    (a test or a benchmark may pass another)."""
    outcome = Outcome()
    targets: dict[str | None, _SiteTarget] = {}
    for index, raw in enumerate(raw_hits):
        try:
            if not isinstance(raw, dict):
                if isinstance(raw, UndecodableLine):
                    raise HitError(raw.message)
                raise not_an_object(raw)
            named = raw.get("site")
            target = targets.get(named) if named is None or isinstance(named, str) else None
            if target is None:
                target = _target(settings, facts, named)
                targets[named] = target
            hit_key = raw.get("key")
            check_write_key(
                target.site, hit_key if isinstance(hit_key, str) and hit_key else facts.key
            )
            outcome.origin_allowed = bool(outcome.origin_allowed) or target.origin_allowed
            if not target.origin_allowed:
                raise ApiError(
                    403,
                    "forbidden_origin",
                    f"Origin {facts.origin!r} may not send to site {target.site.name!r}.",
                )
            hit = validate(raw, target.site.limits, facts.received_at)
        except HitError as error:
            _reject(outcome, index, error.as_error(), error.status)
            continue
        except ApiError as error:
            _reject(outcome, index, error.body()["error"], error.status)
            continue
        outcome.documents.append(enrich(hit, target.context))
    return outcome


def _target(settings: Settings, facts: RequestFacts, named: Any) -> _SiteTarget:
    site = site_of(settings, named, facts.site)
    context = HitContext(
        site=site.name,
        received_at=facts.received_at,
        user_agent=facts.user_agent,
        client_ip=facts.client_ip,
        ip_mode=settings.privacy.ip,
        salt=facts.salt,
        keep_query=settings.privacy.keep_query_params,
        geo=geo_lookup(settings.enrich.geo),
    )
    return _SiteTarget(site, origin_allowed(site, facts.origin), context)


def site_of(settings: Settings, named: Any, request_site: str | None) -> SiteSettings:
    """The site a hit is for: its ``site`` field, else the request's ``?site=``, else the
    default. A refusal is an ``ApiError`` naming the field."""
    if named is not None and not isinstance(named, str):
        raise ApiError(422, "invalid_hit", "site: Not a valid string.", field="site")
    site = settings.site(named or request_site or settings.default_site)
    if site is None:
        raise ApiError(
            422, "unknown_site", f"There is no site named {named or request_site!r}.", "site"
        )
    return site


def _reject(outcome: Outcome, index: int, error: dict[str, Any], status: int) -> None:
    outcome.rejected.append({"index": index, "error": error})
    outcome.statuses.append(status)
