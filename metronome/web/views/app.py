"""The browser app: ``GET /`` and ``GET /share/<token>`` serve its HTML page, ``/app/<name>``
its built, content-hashed files (``make app`` builds them into ``clients/app/dist``).

The page runs no inline script and loads nothing from other hosts, so its policy is strict:
only this origin's scripts, styles, images (and ``data:`` images) and requests. A shared
dashboard's page may be framed by the origins the configuration allows; every other page
by none.
"""

from __future__ import annotations

import threading
from html import escape
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, request

from metronome.errors import ApiError
from metronome.snippet.asset import AssetFile
from metronome.snippet.bundle import APP_DIST, ASSET_NAME, Manifest, read_manifest
from metronome.web.views.dashboards import dashboard_services

bp = Blueprint("app", __name__)

DIST = APP_DIST
DIST_KEY = "metronome.app_dist"  # app.config override (tests build elsewhere)
ASSETS_KEY = "metronome.app_assets"
YEAR = 365 * 86_400
MIME = {"js": "text/javascript", "css": "text/css"}


def content_security_policy(frame_ancestors: str = "'none'") -> str:
    return (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {frame_ancestors}"
    )


def page_html(manifest: Manifest) -> str:
    """The page: a mount point, the stylesheet and the module script (no inline code)."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>Metronome</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app/{escape(manifest.css)}">
<script type="module" src="/app/{escape(manifest.js)}"></script>
</head>
<body>
<div id="app"><noscript>Metronome's dashboards need JavaScript.</noscript></div>
</body>
</html>
"""


NOT_BUILT_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Metronome: the app is not built</title></head>
<body>
<h1>The dashboard app has not been built</h1>
<p>Metronome is running, but the files of its browser app are missing. Build them with
<code>make app</code> (or <code>npm ci &amp;&amp; npm run build</code> in <code>clients/app</code>),
then reload this page. The API works meanwhile: see <code>/openapi.json</code>.</p>
</body></html>
"""


def _dist() -> Path:
    configured = current_app.config.get(DIST_KEY)
    return Path(configured) if configured else DIST


def _page(frame_ancestors: str) -> Response:
    manifest = read_manifest(_dist())
    headers = {
        "Content-Security-Policy": content_security_policy(frame_ancestors),
        "Cache-Control": "no-cache",
    }
    if frame_ancestors == "'none'":
        headers["X-Frame-Options"] = "DENY"
    if manifest is None:
        return Response(NOT_BUILT_HTML, status=503, mimetype="text/html", headers=headers)
    return Response(page_html(manifest), mimetype="text/html", headers=headers)


def share_frame_ancestors() -> str:
    """The origins that may frame a shared dashboard (``dashboards.embed_origins``)."""
    return " ".join(dashboard_services().embed_origins) or "'none'"


@bp.get("/")
def index() -> Response:
    return _page("'none'")


@bp.get("/share/<token>")
def shared(token: str) -> Response:
    return _page(share_frame_ancestors())


class _Assets:
    def __init__(self) -> None:
        self.files: dict[Path, AssetFile] = {}
        self.lock = threading.Lock()

    def get(self, path: Path) -> AssetFile:
        with self.lock:
            if path not in self.files:
                self.files[path] = AssetFile(path)
            return self.files[path]


@bp.get("/app/<name>")
def asset(name: str) -> Response:
    match = ASSET_NAME.match(name)
    asset = None
    if match:
        assets = current_app.extensions.setdefault(ASSETS_KEY, _Assets())
        asset = assets.get(_dist() / name).load()
    if match is None or asset is None:
        raise ApiError(404, "not_found", f"No app file {name!r}: build the app with `make app`.")
    headers = {
        "Cache-Control": f"public, max-age={YEAR}, immutable",
        "ETag": f'"{asset.etag}"',
        "Vary": "Accept-Encoding",
    }
    if asset.etag in request.if_none_match:
        return Response(status=304, headers=headers)
    gzip_ok = request.accept_encodings["gzip"] > 0
    response = Response(
        asset.gzipped if gzip_ok else asset.body, mimetype=MIME[match.group(1)], headers=headers
    )
    if gzip_ok:
        response.headers["Content-Encoding"] = "gzip"
    return response


def app_paths() -> dict[str, dict[str, Any]]:
    """These routes in ``/openapi.json``: pages and files for browsers, not API calls."""
    html = {"200": {"description": "The app's page", "content": {"text/html": {}}}}
    not_built = {"503": {"description": "The app was not built (`make app`)"}}
    token = {"in": "path", "name": "token", "required": True, "schema": {"type": "string"}}
    name = {"in": "path", "name": "name", "required": True, "schema": {"type": "string"}}
    return {
        "/": {
            "get": {
                "summary": "The dashboard app (sign-in, dashboards)",
                "responses": {**html, **not_built},
            }
        },
        "/share/{token}": {
            "get": {
                "summary": "A shared dashboard, read-only, without a key",
                "parameters": [token],
                "responses": {**html, **not_built},
            }
        },
        "/app/{name}": {
            "get": {
                "summary": "A file of the app (content-hashed name, cached a year)",
                "parameters": [name],
                "responses": {
                    "200": {"description": "JavaScript or CSS"},
                    "304": {"description": "Not modified (If-None-Match)"},
                    "404": {"description": "No such file"},
                },
            }
        },
    }
