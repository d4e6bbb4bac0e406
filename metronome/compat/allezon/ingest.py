"""``POST /user_tags``, from what the request says to the durable spool: the endpoint's one core.
No Flask: its two adapters (the Flask view and the fast handler) are
``metronome.web.views.allezon``.

In this order: the Allezon site (404 if it is not defined) -> its write key, when it has one
(the platform sends none, so the query string is then not even parsed) -> a JSON body (415
otherwise: a form could not hold the tag's types) -> the body decoded within its budget ->
one tag, checked by its definition (``tag.check_tag``) -> its hits document -> one durable
spool append -> ``Accepted`` (answered 204). Every refusal is a ``Refused`` written here once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from metronome import metrics
from metronome.access.sites import check_write_key
from metronome.compat.allezon.tag import TagError, check_tag, tag_document
from metronome.config import Settings, SiteSettings
from metronome.errors import ApiError
from metronome.hits.bodies import JSON_TYPES, decode_body, mimetype
from metronome.hits.ingest import (
    Accepted,
    Ingested,
    IngestRequest,
    IngestServices,
    Refused,
    spool_documents,
)


def ingest_user_tag(
    services: IngestServices, request: IngestRequest, now: datetime | None = None
) -> Ingested:
    try:
        site = allezon_site(services.settings)
        if site.write_auth != "none":
            check_write_key(site, request.key or request.query("key"))
        if mimetype(request.content_type) not in JSON_TYPES:
            raise ApiError(
                415, "unsupported_media_type", "Send the tag as application/json (or text/plain)."
            )
        body = decode_body(
            request.content_type,
            request.body(),
            request.content_encoding,
            services.budgets.user_tag,
        )
    except ApiError as error:
        return Refused(error)
    received_at = now or datetime.now(UTC)
    try:
        if body.batch:
            raise TagError("Send one user tag (a JSON object) per request.")
        tag = body.hits[0]
        moment = check_tag(tag, site.limits, received_at)
        document = tag_document(tag, moment, site.name, received_at)
    except TagError as error:
        metrics.REJECTED.labels("invalid_user_tag").inc()
        return Refused(ApiError(422, "invalid_user_tag", error.message, error.field))
    try:
        spool_documents(services.sink, [document])
    except ApiError as error:  # the spool is full or failing: nothing was appended
        return Refused(error)
    metrics.accepted_counter(site.name).inc()
    return Accepted()


def allezon_site(settings: Settings) -> SiteSettings:
    """The site every Allezon endpoint stores to and reads from; 404 when it is not defined."""
    name = settings.allezon.site
    site = settings.site(name)
    if site is None:
        raise ApiError(
            404,
            "unknown_site",
            f"The Allezon endpoints use the site {name!r}, which is not defined: add it under "
            "sites (write_auth: none) or set allezon.site.",
        )
    return site
