"""``POST /api/v1/metrics``: metric points into the ``metrics`` stream; 202 only once they are
durably spooled.

    site (?site=) -> ingest key -> body (415/400/413) -> each point checked -> one durable
    spool append of the valid ones -> 202 {"accepted", "rejected"}

Points come from servers and jobs, never from web pages, so they take the site's secret ingest
keys (as server logs do), not its public write keys.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, request

from metronome.access.sites import check_ingest_key, find_site
from metronome.errors import ApiError
from metronome.points.body import decode_points_body, points_budget
from metronome.points.point import load_points, point_entries
from metronome.spool.http_errors import durable_append
from metronome.web.server_ingest import KEY_HEADER, accepted_answer, ingest_key
from metronome.web.services import current_services

bp = Blueprint("points", __name__)


@bp.post("/api/v1/metrics")
def ingest_points() -> Response:
    services = current_services()
    settings = services.settings
    if "key" in request.args:
        raise ApiError(
            400,
            "key_in_url",
            f"Send the ingest key in the {KEY_HEADER} header, not in the URL: URLs end up in logs.",
            field="key",
        )
    site = find_site(settings, request.args.get("site"))
    check_ingest_key(site, ingest_key(), what="metric points")
    raws = decode_points_body(
        request.headers.get("Content-Type"),
        request.get_data(cache=False),
        request.headers.get("Content-Encoding"),
        points_budget(settings.ingest),
    )
    now = datetime.now(UTC)
    points, rejected = load_points(raws, now)
    if not points:
        raise ApiError(
            422,
            "no_point_accepted",
            f"None of the {len(rejected)} points was accepted; see rejected.",
            extra={"accepted": 0, "rejected": rejected},
        )
    with durable_append("metric points"):
        services.entries.append(point_entries(site.name, points, now))
    return accepted_answer(len(points), rejected)
