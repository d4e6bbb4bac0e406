"""The smallest complete source, for the contract's own sake and as an example to copy: a
remote JSON API that pages by an ``after`` id, read incrementally (cursor = last id stored)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from marshmallow import Schema, fields

from metronome.sources.base import Document, FetchContext, Page, Source
from metronome.sources.registry import register
from tests.fakes.server import serving
from tests.integration.sources.contract import Scenario

START = datetime(2024, 5, 1, tzinfo=UTC)


class ExampleOptions(Schema):
    url = fields.Url(required=True, require_tld=False)
    page_size = fields.Integer(load_default=4)


@register
class PagedExampleSource(Source):
    type_name = "paged_example"
    stream = "example"
    options_schema = ExampleOptions
    natural_key = "the remote record's id"

    def fetch(self, context: FetchContext) -> Iterator[Page]:
        after = int(context.cursor.get("after", 0))
        while True:
            answer = context.http.get(
                f"{self.options['url']}/records",
                params={"after": after, "limit": self.options["page_size"]},
            ).json()
            if not answer["records"]:
                return
            documents = [
                Document(
                    key=str(record["id"]),
                    timestamp=datetime.fromisoformat(record["time"]),
                    fields={"record_id": record["id"], "value": record["value"]},
                )
                for record in answer["records"]
            ]
            after = answer["records"][-1]["id"]
            yield Page(documents, {"after": after}, progress=f"up to record {after}")


@contextmanager
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    records: list[dict[str, Any]] = [
        {"id": n, "time": (START + timedelta(hours=n)).isoformat(), "value": n * 10}
        for n in range(1, 11)
    ]
    state = {"failing": False}
    app = Flask(__name__)

    @app.get("/records")
    def list_records():  # type: ignore[no-untyped-def]
        if state["failing"]:
            return jsonify(error="unavailable"), 503
        after = int(request.args["after"])
        limit = int(request.args["limit"])
        return jsonify(records=[r for r in records if r["id"] > after][:limit])

    def add_data() -> int:
        first = len(records) + 1
        records.extend(
            {"id": n, "time": (START + timedelta(hours=n)).isoformat(), "value": n}
            for n in range(first, first + 3)
        )
        return 3

    with serving(app) as url:
        yield Scenario(
            source_type="paged_example",
            options={"url": url},
            expected_documents=10,
            fail=lambda: state.update(failing=True),
            recover=lambda: state.update(failing=False),
            add_data=add_data,
        )
