"""The browser app's page and files as Metronome serves them: a strict policy, no inline
script, hashed files cached for a year, and a clear page when the app was not built."""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask.testing import FlaskClient

from metronome.web.views.app import DIST_KEY
from tests.conftest import ClientWith


def _build(root: Path) -> Path:
    dist = root / "dist"
    dist.mkdir()
    (dist / "app.ABCDEF12.js").write_text("console.log('app');\n" * 50)
    (dist / "app.12ABCDEF.css").write_text("body{color:red}\n")
    (dist / "manifest.json").write_text(
        json.dumps({"js": "app.ABCDEF12.js", "css": "app.12ABCDEF.css"})
    )
    return dist


def test_the_page_loads_the_built_files_under_a_strict_policy(
    client: FlaskClient, tmp_path: Path
) -> None:
    client.application.config[DIST_KEY] = str(_build(tmp_path))
    for path in ("/", "/share/some-token"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == "text/html"
        html = response.get_data(as_text=True)
        assert '<script type="module" src="/app/app.ABCDEF12.js"></script>' in html
        assert '<link rel="stylesheet" href="/app/app.12ABCDEF.css">' in html
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
        assert " style=" not in html
        policy = response.headers["Content-Security-Policy"]
        for part in (
            "default-src 'self'",
            "img-src 'self' data:",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ):
            assert part in policy
        # Requests and scripts: this origin only (named, or through default-src).
        assert "connect-src 'self'" in policy or "connect-src" not in policy
        assert "script-src 'self'" in policy or "script-src" not in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response.headers["Cache-Control"] == "no-cache"


def test_hashed_files_are_cached_a_year_and_unknown_names_are_404(
    client: FlaskClient, tmp_path: Path
) -> None:
    client.application.config[DIST_KEY] = str(_build(tmp_path))
    response = client.get("/app/app.ABCDEF12.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    etag = response.headers["ETag"]
    assert client.get("/app/app.ABCDEF12.js", headers={"If-None-Match": etag}).status_code == 304
    css = client.get("/app/app.12ABCDEF.css")
    assert css.mimetype == "text/css" and css.get_data(as_text=True) == "body{color:red}\n"
    for name in ("app.NOPE0000.js", "manifest.json", "..%2Fmanifest.json", "app.ABCDEF12.exe"):
        missing = client.get(f"/app/{name}")
        assert missing.status_code == 404
        assert missing.get_json()["error"]["code"] == "not_found"


def test_an_unbuilt_app_says_how_to_build_it(client: FlaskClient, tmp_path: Path) -> None:
    client.application.config[DIST_KEY] = str(tmp_path / "nothing-here")
    response = client.get("/")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "make app" in response.get_data(as_text=True)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text('{"js": "../../etc/passwd", "css": 1}')
    client.application.config[DIST_KEY] = str(tmp_path / "broken")
    assert client.get("/").status_code == 503


def test_a_shared_page_may_be_framed_by_the_configured_origins_only(
    client_with: ClientWith, tmp_path: Path
) -> None:
    _, client = client_with(dashboards={"embed_origins": ["https://intranet.example.org"]})
    client.application.config[DIST_KEY] = str(_build(tmp_path))
    shared = client.get("/share/some-token").headers["Content-Security-Policy"]
    assert "frame-ancestors https://intranet.example.org" in shared
    assert "default-src 'self'" in shared
    assert "X-Frame-Options" not in client.get("/share/some-token").headers
    app_page = client.get("/")
    assert "frame-ancestors 'none'" in app_page.headers["Content-Security-Policy"]
    assert app_page.headers["X-Frame-Options"] == "DENY"
