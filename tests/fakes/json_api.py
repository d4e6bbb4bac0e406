"""A fake JSON API of the common kind: a list of orders, paged by an opaque cursor, filtered by
``updated_since``, behind a bearer token. Its format (this fake's own "documentation"):

    GET /api/orders?updated_since=<ISO 8601>&limit=<1..100>&cursor=<opaque>
    POST /api/orders  with the same parameters as a JSON object
    200 {"data": {"items": [order, ...]},
         "paging": {"next": "/api/orders?cursor=...&limit=...&updated_since=..." | null},
         "meta": {"count": <items on this page>}}
    order: {"id": "ord-0001", "status": "paid", "total": 12.5, "currency": "EUR",
            "customer": {"id": 17, "country": "DE"},
            "created_at": <epoch milliseconds>, "updated_at": "2024-05-01T10:00:00Z"}
    Errors: {"error": {"code": "...", "message": "..."}} with 400 (bad parameter),
            401 (no or wrong token), 503 (the failure switch).

Orders come sorted by (updated_at, id); ``updated_since`` keeps those updated at or after it
(inclusive). The cursor is the (updated_at, id) of a page's last order, so a page boundary
survives orders added in the meantime.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, request

START = datetime(2024, 5, 1, 8, tzinfo=UTC)
STATUSES = ("new", "paid", "shipped")
COUNTRIES = ("DE", "FR", "PL", "US")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def make_order(number: int, updated: datetime | None = None) -> dict[str, Any]:
    created = START + timedelta(hours=number)
    return {
        "id": f"ord-{number:04d}",
        "status": STATUSES[number % len(STATUSES)],
        "total": round(number * 7.25, 2),
        "currency": "EUR",
        "customer": {"id": 100 + number % 5, "country": COUNTRIES[number % len(COUNTRIES)]},
        "created_at": int(created.timestamp() * 1000),
        "updated_at": iso(updated or created + timedelta(minutes=5)),
    }


def encode_cursor(order: dict[str, Any]) -> str:
    raw = json.dumps([order["updated_at"], order["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[str, str] | None:
    try:
        updated, ident = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        return None
    return (str(updated), str(ident))


def sort_key(order: dict[str, Any]) -> tuple[datetime, str]:
    return (datetime.fromisoformat(order["updated_at"]), order["id"])


@dataclass
class FakeJsonApi:
    orders: list[dict[str, Any]] = field(default_factory=list)
    token: str = "api-token"
    failing: bool = False
    garbled: str | None = None  # when set: this text is the 200 answer
    next_base: str = ""  # put before the next page's path: another origin, for tests
    padding: int = 0  # characters of filler in every answer (an oversized page)
    log: list[dict[str, Any]] = field(default_factory=list)

    def add(self, count: int) -> list[dict[str, Any]]:
        first = len(self.orders) + 1
        added = [make_order(number) for number in range(first, first + count)]
        self.orders.extend(added)
        return added

    def update(self, ident: str, **changes: Any) -> None:
        order = next(order for order in self.orders if order["id"] == ident)
        order.update(changes)

    def app(self) -> Flask:
        app = Flask("fake_json_api")
        app.add_url_rule("/api/orders", "orders", self.list_orders, methods=["GET", "POST"])
        return app

    def list_orders(self) -> Response | tuple[Response, int]:
        args: dict[str, Any] = dict(request.args)
        if request.method == "POST":
            args.update(request.get_json(force=True, silent=True) or {})
        self.log.append({"method": request.method, "args": args, "url": request.full_path})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return failure("unauthorized", "A valid bearer token is required.", 401)
        if self.failing:
            return failure("unavailable", "The service is temporarily unavailable.", 503)
        if self.garbled is not None:
            return Response(self.garbled, status=200, mimetype="application/json")
        try:
            limit = int(args.get("limit", 25))
        except ValueError:
            return failure("invalid_parameter", "limit must be a number between 1 and 100.")
        if not 1 <= limit <= 100:
            return failure("invalid_parameter", "limit must be a number between 1 and 100.")
        chosen = sorted(self.orders, key=sort_key)
        if since := args.get("updated_since"):
            try:
                floor = datetime.fromisoformat(str(since))
            except ValueError:
                return failure("invalid_parameter", "updated_since must be an ISO 8601 time.")
            chosen = [order for order in chosen if sort_key(order)[0] >= floor]
        if cursor := args.get("cursor"):
            after = decode_cursor(str(cursor))
            if after is None:
                return failure("invalid_parameter", "cursor is not valid.")
            mark = (datetime.fromisoformat(after[0]), after[1])
            chosen = [order for order in chosen if sort_key(order) > mark]
        page = chosen[:limit]
        following = None
        if len(chosen) > limit:
            query = {"cursor": encode_cursor(page[-1]), "limit": limit}
            if since:
                query["updated_since"] = since
            following = self.next_base + "/api/orders?" + urlencode(query)
        meta = {"count": len(page), "padding": "x" * self.padding}
        return jsonify(data={"items": page}, paging={"next": following}, meta=meta)


def failure(code: str, message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(error={"code": code, "message": message}), status
