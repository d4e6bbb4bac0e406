"""``GET /metronome.js``: the tracking snippet for ``<script defer src=".../metronome.js">``.

Caching: a day (with ETag revalidation) at ``/metronome.js``; a year, immutable, at
``/metronome.js?v=<etag>`` (the ETag pins the build). Any page may load it (CORS, CORP).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from metronome.errors import ApiError
from metronome.snippet.asset import AssetFile
from metronome.web.services import current_services

bp = Blueprint("snippet", __name__)

DAY = 86_400
YEAR = 365 * DAY
ASSET_KEY = "metronome.snippet"


def _asset_file() -> AssetFile:
    path = current_services().settings.server.tracker_script
    cached = current_app.extensions.get(ASSET_KEY)
    if not isinstance(cached, AssetFile) or cached.path != path:
        cached = current_app.extensions[ASSET_KEY] = AssetFile(path)
    return cached


@bp.get("/metronome.js")
def tracker_script() -> Response:
    asset_file = _asset_file()
    asset = asset_file.load()
    if asset is None:
        raise ApiError(
            404,
            "snippet_not_built",
            f"The tracking snippet {asset_file.path} has not been built: run `make js` "
            "(npm ci && npm run build in clients/js).",
        )
    pinned = request.args.get("v") == asset.etag
    headers = {
        "Cache-Control": f"public, max-age={YEAR}, immutable"
        if pinned
        else f"public, max-age={DAY}, stale-while-revalidate={7 * DAY}",
        "ETag": f'"{asset.etag}"',
        "Vary": "Accept-Encoding",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if asset.etag in request.if_none_match:
        return Response(status=304, headers=headers)
    gzip_ok = request.accept_encodings["gzip"] > 0
    response = Response(
        asset.gzipped if gzip_ok else asset.body,
        mimetype="text/javascript",
        headers=headers,
    )
    if gzip_ok:
        response.headers["Content-Encoding"] = "gzip"
    return response
