"""``metronome dashboards import-kibana`` against a local server speaking Kibana's saved-objects
import API as its documentation describes it (Kibana itself is not reachable from the tests).

The server answers ``POST [/s/<space>]/api/saved_objects/_import`` like Kibana: 400 without the
``kbn-xsrf`` header, 401 without valid credentials, otherwise always 200 with ``success``,
``successCount``, ``successResults`` and ``errors``; an object whose references are neither in
the file nor already in the space is a ``missing_references`` error naming them, an existing
object without ``overwrite`` a ``conflict``; the other objects are imported all the same.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner, Result

from metronome.cli import cli
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.export.files import kibana_ndjson
from metronome.dashboards.export.kibana_import import (
    KibanaImportError,
    import_saved_objects,
    import_url,
)
from tests.conftest import ROOT

USER, PASSWORD = "elastic", "s3cret-Pa55word"
API_KEY = base64.b64encode(b"key-id:key-secret").decode()
IMPORTABLE = {"index-pattern", "lens", "dashboard", "visualization", "search"}


@dataclass
class FakeKibana:
    url: str
    spaces: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)


def _answer_import(
    kibana: FakeKibana, space: str, overwrite: bool, ndjson: bytes
) -> dict[str, Any]:
    stored = kibana.spaces.setdefault(space, {})
    objects = [json.loads(line) for line in ndjson.decode().splitlines() if line.strip()]
    in_file = {(o["type"], o["id"]) for o in objects}
    results, errors = [], []
    for item in objects:
        key = (item["type"], item["id"])
        title = item.get("attributes", {}).get("title", "")
        base = {"id": item["id"], "type": item["type"], "title": title, "meta": {"title": title}}
        if item["type"] not in IMPORTABLE:
            errors.append({**base, "error": {"type": "unsupported_type"}})
            continue
        missing = [
            {"type": r["type"], "id": r["id"]}
            for r in item.get("references", [])
            if (r["type"], r["id"]) not in in_file and (r["type"], r["id"]) not in stored
        ]
        if missing:
            errors.append({**base, "error": {"type": "missing_references", "references": missing}})
            continue
        if key in stored and not overwrite:
            errors.append({**base, "error": {"type": "conflict"}})
            continue
        stored[key] = item
        results.append({"id": item["id"], "type": item["type"], "meta": {"title": title}})
    return {"success": not errors, "successCount": len(results),
            "successResults": results, "errors": errors}  # fmt: skip


def _handler(kibana: FakeKibana) -> type[BaseHTTPRequestHandler]:
    accepted = {
        "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
        f"ApiKey {API_KEY}",
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def reply(self, status: int, body: dict[str, Any]) -> None:
            content = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            kibana.requests.append({"path": self.path, "headers": dict(self.headers)})
            space, path = "default", parts.path
            if path.startswith("/s/"):
                _, _, space, path = path.split("/", 3)
                path = "/" + path
            if path != "/api/saved_objects/_import":
                self.reply(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})
                return
            if "kbn-xsrf" not in self.headers:
                self.reply(400, {"statusCode": 400, "error": "Bad Request",
                                 "message": "Request must contain a kbn-xsrf header."})  # fmt: skip
                return
            if self.headers.get("Authorization") not in accepted:
                reason = "[security_exception]: unable to authenticate user"
                self.reply(401, {"statusCode": 401, "error": "Unauthorized", "message": reason})
                return
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
            )
            files = [
                p
                for p in message.iter_parts()
                if p.get_param("name", header="content-disposition") == "file"
            ]
            if len(files) != 1:
                reason = "[request body.file]: expected value of type [Stream]"
                self.reply(400, {"statusCode": 400, "error": "Bad Request", "message": reason})
                return
            ndjson = files[0].get_payload(decode=True)
            assert isinstance(ndjson, bytes)
            overwrite = parse_qs(parts.query).get("overwrite") == ["true"]
            self.reply(200, _answer_import(kibana, space, overwrite, ndjson))

    return Handler


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    fake = FakeKibana(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def _import(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["dashboards", "import-kibana", *args], env=env or {}, input=input
    )


def test_the_shipped_objects_import_whole_into_a_space(kibana: FakeKibana) -> None:
    shipped = ROOT / "kibana" / "metronome.ndjson"
    count = len(shipped.read_text().splitlines())
    env = {"METRONOME_KIBANA_PASSWORD": PASSWORD}
    result = _import("--url", kibana.url, "--space", "marketing", "--user", USER,
                     "--file", str(shipped), env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Importing {count} saved objects" in result.output
    assert f"Imported {count} of {count} objects." in result.output
    assert len(kibana.spaces["marketing"]) == count
    (request,) = kibana.requests
    assert request["path"] == "/s/marketing/api/saved_objects/_import"
    assert request["headers"]["kbn-xsrf"]
    assert PASSWORD not in result.output


def test_generated_objects_go_to_the_default_space_and_conflict_without_overwrite(
    kibana: FakeKibana,
) -> None:
    env = {"METRONOME_KIBANA_API_KEY": API_KEY}
    first = _import("--url", kibana.url, "--prefix", "metronome", env=env)
    assert first.exit_code == 0, first.output
    total = len(kibana.spaces["default"])
    assert kibana.requests[0]["path"] == "/api/saved_objects/_import"

    again = _import("--url", kibana.url, "--prefix", "metronome", env=env)
    assert again.exit_code == 1
    assert f"Imported 0 of {total} objects." in again.output
    assert "not imported: dashboard metronome-web (Web analytics): conflict: exists already " \
           "(import with --overwrite to replace it)" in again.output  # fmt: skip
    assert f"Error: {total} objects were not imported" in again.output

    overwritten = _import("--url", kibana.url, "--prefix", "metronome", "--overwrite", env=env)
    assert overwritten.exit_code == 0, overwritten.output
    assert kibana.requests[-1]["path"].endswith("_import?overwrite=true")
    assert API_KEY not in first.output + again.output + overwritten.output


def test_missing_references_are_reported_by_object(kibana: FakeKibana, tmp_path: Path) -> None:
    # The visualisations and dashboards without the data views they read.
    lines = ROOT.joinpath("kibana", "metronome.ndjson").read_text().splitlines()
    partial = tmp_path / "no-data-views.ndjson"
    kept = [line for line in lines if json.loads(line)["type"] != "index-pattern"]
    partial.write_text("".join(f"{line}\n" for line in kept))
    result = _import(
        "--url", kibana.url, "--user", USER, "--file", str(partial), input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 1
    assert "Password of elastic:" in result.output and PASSWORD not in result.output
    assert ("not imported: lens metronome-web-views (Page views): missing_references: "
            "missing index-pattern metronome-hits") in result.output  # fmt: skip
    # A dashboard's own references (its visualisations) are in the file: they are imported.
    assert ("dashboard", "metronome-web") in kibana.spaces["default"]
    lens_count = sum(json.loads(line)["type"] == "lens" for line in lines)
    assert f"Error: {lens_count} objects were not imported" in result.output


def test_wrong_credentials_are_a_clear_error(kibana: FakeKibana) -> None:
    env = {"METRONOME_KIBANA_USER": USER, "METRONOME_KIBANA_PASSWORD": "wrong-one"}
    result = _import("--url", kibana.url, "--prefix", "metronome", env=env)
    assert result.exit_code == 1
    assert "Kibana refused the request (401): give valid credentials" in result.output
    assert "wrong-one" not in result.output


def test_the_api_refuses_what_kibana_refuses(kibana: FakeKibana) -> None:
    ndjson = kibana_ndjson(builtin_dashboards()).encode()
    with pytest.raises(KibanaImportError, match="could not reach Kibana"):
        import_saved_objects("http://127.0.0.1:9", ndjson, timeout=5)
    with pytest.raises(KibanaImportError, match="carries credentials"):
        import_url(f"http://{USER}:{PASSWORD}@127.0.0.1:5601", None, False)
    with pytest.raises(KibanaImportError, match="not a Kibana space id"):
        import_url(kibana.url, "../admin", False)
    with pytest.raises(KibanaImportError, match="answered 404"):
        import_saved_objects(kibana.url + "/not-kibana", ndjson)
