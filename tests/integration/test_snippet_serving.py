"""GET /metronome.js: the built snippet, cached for long, loadable from any page."""

from __future__ import annotations

import gzip
from pathlib import Path

from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import TRACKER_SCRIPT
from metronome.web.app import create_app
from tests.conftest import error_of, make_settings

SCRIPT = b"(()=>{window.metronome={}})();\n"


def client_serving(tmp_path: Path, script: Path) -> FlaskClient:
    es_url = "http://127.0.0.1:9"  # never called: serving a file needs no Elasticsearch
    settings = make_settings(
        es_url, "unused", tmp_path / "spool", server={"tracker_script": str(script)}
    )
    return create_app(settings, es=Elasticsearch(es_url)).test_client()


def test_the_snippet_is_served_gzipped_with_a_day_of_caching(tmp_path: Path) -> None:
    script = tmp_path / "metronome.js"
    script.write_bytes(SCRIPT)
    client = client_serving(tmp_path, script)

    response = client.get("/metronome.js", headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data) == SCRIPT
    assert "max-age=86400" in response.headers["Cache-Control"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    plain = client.get("/metronome.js", headers={"Accept-Encoding": "identity"})
    assert plain.data == SCRIPT and "Content-Encoding" not in plain.headers


def test_an_unchanged_snippet_revalidates_and_a_pinned_one_is_immutable(tmp_path: Path) -> None:
    script = tmp_path / "metronome.js"
    script.write_bytes(SCRIPT)
    client = client_serving(tmp_path, script)
    etag = client.get("/metronome.js").headers["ETag"]

    assert client.get("/metronome.js", headers={"If-None-Match": etag}).status_code == 304
    pinned = client.get(f"/metronome.js?v={etag.strip(chr(34))}")
    assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = client.get("/metronome.js?v=0000000000000000")
    assert "immutable" not in stale.headers["Cache-Control"]

    script.write_bytes(SCRIPT + b"// rebuilt\n")  # a rebuild while running is picked up
    rebuilt = client.get("/metronome.js", headers={"If-None-Match": etag})
    assert rebuilt.status_code == 200 and rebuilt.headers["ETag"] != etag


def test_a_snippet_not_built_yet_is_a_clear_404(tmp_path: Path) -> None:
    client = client_serving(tmp_path, tmp_path / "missing.js")
    response = client.get("/metronome.js")
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "snippet_not_built"
    assert "make js" in error["message"]


def test_the_default_is_the_file_the_js_package_builds() -> None:
    assert TRACKER_SCRIPT.parts[-4:] == ("clients", "js", "dist", "metronome.js")
    assert (TRACKER_SCRIPT.parents[1] / "package.json").is_file()
