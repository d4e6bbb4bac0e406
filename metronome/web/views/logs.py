"""``POST /ingest/logs`` (and ``/ingest/logs/<tag>``): log records over HTTP, from Fluentd
``out_http`` or Fluent Bit's ``http`` output; 2xx only once they are durably spooled.

Status codes follow what those shippers do with them: 202 is success for both; 503 (a full
spool, with Retry-After) is retried by both; 400/401/413/415/422 are dropped by both, which is
right for data that can never be accepted.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from flask import Blueprint, Response, request

from metronome.access.sites import check_ingest_key, find_site
from metronome.errors import ApiError
from metronome.logs.bodies import decode_log_body, log_events
from metronome.spool.http_errors import durable_append
from metronome.web.server_ingest import accepted_answer, ingest_key
from metronome.web.services import current_services

bp = Blueprint("logs", __name__)

MAX_TAG_CHARS = 256
TAG_HEADER = "X-Fluent-Tag"  # Fluent Bit: header_tag X-Fluent-Tag


@bp.post("/ingest/logs")
@bp.post("/ingest/logs/<path:tag>")
def ingest_logs(tag: str | None = None) -> Response:
    services = current_services()
    settings = services.settings
    site = find_site(settings, request.args.get("site") or settings.logs.site)
    check_ingest_key(site, ingest_key())
    # The first tag given wins; each one given is checked, so none is silently ignored.
    given = (tag, request.args.get("tag"), request.headers.get(TAG_HEADER))
    if any(value and len(value) > MAX_TAG_CHARS for value in given):
        raise ApiError(400, "invalid_tag", f"A tag has at most {MAX_TAG_CHARS} characters.", "tag")
    tag = next((value for value in given if value), "http")
    data = request.get_data(cache=False)
    records = decode_log_body(
        request.headers.get("Content-Type"),
        data,
        request.headers.get("Content-Encoding"),
        services.budgets.logs,
    )
    if not records:
        raise ApiError(422, "empty_batch", "The body holds no log records.")
    digest = hashlib.sha256(data).hexdigest()[:24]  # a retried body gets the same ids
    events, rejected = log_events(records, tag, datetime.now(UTC), f"http:{digest}")
    if not events:
        raise ApiError(
            422,
            "no_record_accepted",
            f"None of the {len(rejected)} records was accepted; see rejected.",
            extra={"rejected": rejected},
        )
    with durable_append("log records"):
        services.log_sink.accept(events)
    return accepted_answer(len(events), rejected)
