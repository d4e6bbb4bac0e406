"""``POST /webhooks/github``: verify, read, spool, answer; 2xx only once the delivery is durable.

    not configured -> 404 | signature (on the raw bytes, first) -> 401
    -> headers 400, body 415/400/422 -> one durable spool append -> 200 (ping) / 202

GitHub does not retry a failed delivery by itself: a refusal (503 with a full spool, say) shows
as failed in the hook's "Recent Deliveries", from where it can be redelivered; the redelivery
keeps its X-GitHub-Delivery, so whatever got stored before is stored once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from metronome import metrics
from metronome.errors import ApiError
from metronome.spool.http_errors import durable_append
from metronome.web.services import current_services
from metronome.webhooks.github import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    HOOK_ID_HEADER,
    LEGACY_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    read_delivery,
    verify_signature,
)
from metronome.webhooks.github_document import check_fresh, delivery_entry

bp = Blueprint("webhooks", __name__)


@bp.post("/webhooks/github")
def github() -> Response:
    services = current_services()
    settings = services.settings
    config = settings.webhooks.github
    if config.secret is None:
        raise ApiError(
            404,
            "webhook_not_configured",
            "GitHub webhooks are not enabled: set webhooks.github.secret to the webhook's secret.",
        )
    request.max_content_length = config.max_body_bytes  # GitHub's cap, not the hits' limit
    body = request.get_data(cache=False)  # the exact bytes GitHub signed (413 above the limit)
    headers = request.headers
    verify_signature(
        config.secret, body, headers.get(SIGNATURE_HEADER), headers.get(LEGACY_SIGNATURE_HEADER)
    )
    delivery = read_delivery(
        event=headers.get(EVENT_HEADER),
        delivery_id=headers.get(DELIVERY_HEADER),
        hook_id=headers.get(HOOK_ID_HEADER),
        media_type=request.mimetype,
        content_encoding=headers.get("Content-Encoding"),
        body=body,
    )
    received_at = datetime.now(UTC)
    max_age = None if config.max_age_days is None else timedelta(days=config.max_age_days)
    check_fresh(delivery, received_at, max_age)
    entry = delivery_entry(delivery, config.site or settings.default_site, received_at)
    with durable_append("webhook deliveries"):
        services.entries.append([entry])
    metrics.WEBHOOKS.labels(delivery.event).inc()
    answer: dict[str, Any] = {"ok": True, "event": delivery.event, "delivery": delivery.id}
    if delivery.event == "ping":  # GitHub's test when a hook is created: stored like the rest
        answer["zen"] = delivery.payload.get("zen")
        return _json(answer, 200)
    return _json(answer, 202)


def _json(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
