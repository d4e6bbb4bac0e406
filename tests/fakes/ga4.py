"""A fake Google Analytics Data API (``runReport``) and Google OAuth token endpoint.

The answers follow the documented wire format: every value is a string, ``rowCount`` counts
all rows whatever ``limit``/``offset`` were (and, like any zero in proto3 JSON, is left out
when there are none), ``rows`` is left out when the page is empty, errors are Google's
``{"error": {"code", "message", "status"}}``. The token endpoint checks the RS256 signature of
a service-account assertion with the public half of a key made by ``write_service_account``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Flask, Response, jsonify, request

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
READONLY_SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
DEFAULT_METRICS = {
    "activeUsers": "TYPE_INTEGER",
    "sessions": "TYPE_INTEGER",
    "averageSessionDuration": "TYPE_SECONDS",
    "purchaseRevenue": "TYPE_CURRENCY",
}
DAILY_TOKENS = 200_000
HOURLY_TOKENS = 40_000
SCHEMA_HINT = (
    "For a list of valid dimensions and metrics, see "
    "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
)
ERROR_MESSAGES = {
    500: ("INTERNAL", "Internal error encountered."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    429: (
        "RESOURCE_EXHAUSTED",
        "Exhausted property tokens per day quota. Consumed 200000 tokens per day.",
    ),
}


@dataclass
class ServiceAccountKey:
    path: Path
    client_email: str
    token_uri: str
    public_key: rsa.RSAPublicKey


def write_service_account(
    path: Path, token_uri: str, client_email: str = "metronome@example.iam.gserviceaccount.com"
) -> ServiceAccountKey:
    """A service-account JSON key file as the Cloud console makes it, with a fresh RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "metronome-test",
                "private_key_id": "0123456789abcdef",
                "private_key": pem,
                "client_email": client_email,
                "client_id": "100000000000000000001",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": token_uri,
            }
        ),
        encoding="utf-8",
    )
    return ServiceAccountKey(path, client_email, token_uri, key.public_key())


@dataclass
class FakeRow:
    dimensions: dict[str, str]  # without `date`: the day the row is stored under
    metrics: dict[str, int | float]


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def check_assertion(assertion: str, key: ServiceAccountKey, now: float) -> tuple[str, str] | None:
    """Why Google would refuse this assertion (``(error, error_description)``), or None."""
    try:
        header_b64, claims_b64, signature_b64 = assertion.split(".")
        header = json.loads(_b64decode(header_b64))
        claims = json.loads(_b64decode(claims_b64))
        signature = _b64decode(signature_b64)
    except ValueError:
        return ("invalid_grant", "Invalid JWT: the assertion is malformed.")
    if header.get("alg") != "RS256":
        return ("invalid_grant", "Invalid JWT: only RS256 is supported.")
    try:
        key.public_key.verify(
            signature, f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return ("invalid_grant", "Invalid JWT Signature.")
    if claims.get("iss") != key.client_email:
        return ("invalid_grant", "Invalid grant: account not found")
    if claims.get("aud") != key.token_uri:
        return ("invalid_grant", "Invalid JWT: audience does not match the token endpoint.")
    if not claims.get("scope"):
        return ("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not (isinstance(iat, int) and isinstance(exp, int)) or not (
        0 < exp - iat <= 3600 and iat - 300 <= now <= exp
    ):
        return (
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
            "timeframe. Check your iat and exp values in the JWT claim.",
        )
    return None


@dataclass
class FakeGa4:
    """One GA4 property's per-day rows, served by ``app()``."""

    property_id: str = "123456789"
    dimension_names: tuple[str, ...] = ("date", "country", "deviceCategory")
    metric_types: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_METRICS))
    time_zone: str = "America/Los_Angeles"
    currency_code: str = "USD"
    days: dict[date, list[FakeRow]] = field(default_factory=dict)
    access_tokens: set[str] = field(default_factory=lambda: {"static-token"})
    service_account: ServiceAccountKey | None = None
    failing: int | None = None  # answer every runReport with this status (500, 429, ...)
    garbage: str | None = None  # answer every runReport 200 with this body
    requests: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0
    tokens_used: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_row(self, day: date, metrics: Mapping[str, int | float], **dimensions: str) -> None:
        self.days.setdefault(day, []).append(FakeRow(dict(dimensions), dict(metrics)))

    def set_metric(self, day: date, name: str, value: int | float, **dimensions: str) -> None:
        for row in self.days.get(day, []):
            if all(row.dimensions.get(k) == v for k, v in dimensions.items()):
                row.metrics[name] = value

    def report_requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return [entry["body"] for entry in self.requests if entry["path"].endswith("Report")]

    def app(self) -> Flask:
        app = Flask(__name__)
        app.add_url_rule(
            "/v1beta/properties/<property_id>:runReport",
            "run_report",
            self._run_report,
            methods=["POST"],
        )
        app.add_url_rule("/token", "token", self._token, methods=["POST"])
        return app

    # -- the token endpoint -------------------------------------------------------------------

    def _token(self) -> tuple[Response, int]:
        with self.lock:
            self.token_requests += 1
        form = request.form
        if form.get("grant_type") != JWT_BEARER:
            return _oauth_error(
                "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}"
            )
        if self.service_account is None:
            return _oauth_error("invalid_client", "The OAuth client was not found.")
        refusal = check_assertion(
            form.get("assertion", ""), self.service_account, datetime.now(UTC).timestamp()
        )
        if refusal:
            return _oauth_error(*refusal)
        with self.lock:
            token = f"ya29.fake-{self.token_requests}"
            self.access_tokens.add(token)
        return jsonify(access_token=token, expires_in=3599, token_type="Bearer"), 200

    # -- runReport ----------------------------------------------------------------------------

    def _run_report(self, property_id: str) -> tuple[Response, int]:
        body = request.get_json(silent=True)
        authorization = request.headers.get("Authorization", "")
        with self.lock:
            self.requests.append({"path": request.path, "body": body, "auth": authorization})
        if self.failing is not None:
            status, message = ERROR_MESSAGES.get(self.failing, ("UNKNOWN", "Unknown error."))
            return _google_error(self.failing, status, message)
        if self.garbage is not None:
            return Response(self.garbage, mimetype="application/json"), 200
        token = authorization.removeprefix("Bearer ")
        if not authorization.startswith("Bearer ") or token not in self.access_tokens:
            return _google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        if property_id != self.property_id:
            return _google_error(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property. To learn more "
                "about Property ID, see https://developers.google.com/analytics/devguides/"
                "reporting/data/v1/property-id.",
            )
        if not isinstance(body, dict):
            return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        try:
            answer = self._answer(body)
        except BadRequest as error:
            return _google_error(400, "INVALID_ARGUMENT", str(error))
        return jsonify(answer), 200

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        dimensions = [_name(item, "dimension") for item in body.get("dimensions", [])]
        metrics = [_name(item, "metric") for item in body.get("metrics", [])]
        for name in dimensions:
            if name not in self.dimension_names:
                raise BadRequest(f"Field {name} is not a valid dimension. {SCHEMA_HINT}")
        for name in metrics:
            if name not in self.metric_types:
                raise BadRequest(f"Field {name} is not a valid metric. {SCHEMA_HINT}")
        if not metrics and not dimensions:
            raise BadRequest("At least one dimension or metric is required.")
        ranges = body.get("dateRanges") or []
        if len(ranges) != 1:
            raise BadRequest("This fake answers exactly one date range.")
        first, last = _day(ranges[0].get("startDate")), _day(ranges[0].get("endDate"))
        if first > last:
            raise BadRequest("startDate must not be after endDate.")
        limit = _int64(body.get("limit"), "limit") or 10_000
        offset = _int64(body.get("offset"), "offset")
        table = self._table(first, last, dimensions, metrics)
        for order in reversed(body.get("orderBys") or []):
            ordered = (order.get("dimension") or {}).get("dimensionName")
            if ordered in dimensions:
                position = dimensions.index(ordered)
                table.sort(key=lambda row: row[0][position], reverse=bool(order.get("desc")))
        page = table[offset : offset + min(limit, 250_000)]
        answer: dict[str, Any] = {
            "dimensionHeaders": [{"name": name} for name in dimensions],
            "metricHeaders": [{"name": name, "type": self.metric_types[name]} for name in metrics],
        }
        if page:
            answer["rows"] = [
                {
                    "dimensionValues": [{"value": value} for value in dims],
                    "metricValues": [{"value": _metric_text(value)} for value in values],
                }
                for dims, values in page
            ]
        if table:
            answer["rowCount"] = len(table)
        answer["metadata"] = {"currencyCode": self.currency_code, "timeZone": self.time_zone}
        if body.get("returnPropertyQuota"):
            answer["propertyQuota"] = self._quota()
        answer["kind"] = "analyticsData#runReport"
        return answer

    def _table(
        self, first: date, last: date, dimensions: list[str], metrics: list[str]
    ) -> list[tuple[tuple[str, ...], list[int | float]]]:
        """The rows of the range grouped by the requested dimensions, metrics summed."""
        grouped: dict[tuple[str, ...], list[int | float]] = {}
        day = first
        while day <= last:
            for row in self.days.get(day, []):
                values = {"date": day.strftime("%Y%m%d"), **row.dimensions}
                key = tuple(values.get(name, "(not set)") for name in dimensions)
                sums = grouped.setdefault(key, [0] * len(metrics))
                for i, name in enumerate(metrics):
                    sums[i] += row.metrics.get(name, 0)
            day += timedelta(days=1)
        return sorted(grouped.items())

    def _quota(self) -> dict[str, Any]:
        with self.lock:
            self.tokens_used += 1
            used = self.tokens_used

        def status(consumed: int, remaining: int) -> dict[str, int]:
            return {"consumed": consumed, "remaining": remaining}

        return {
            "tokensPerDay": status(1, DAILY_TOKENS - used),
            "tokensPerHour": status(1, HOURLY_TOKENS - used),
            "concurrentRequests": status(0, 10),
            "serverErrorsPerProjectPerHour": status(0, 10),
            "potentiallyThresholdedRequestsPerHour": status(0, 120),
            "tokensPerProjectPerHour": status(1, 14_000 - used),
        }


class BadRequest(Exception):
    pass


def _google_error(code: int, status: str, message: str) -> tuple[Response, int]:
    return jsonify(error={"code": code, "message": message, "status": status}), code


def _oauth_error(error: str, description: str) -> tuple[Response, int]:
    return jsonify(error=error, error_description=description), 400


def _name(item: Any, kind: str) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise BadRequest(f"Each {kind} needs a name.")
    return str(item["name"])


def _day(value: Any) -> date:
    today = datetime.now(UTC).date()
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    if isinstance(value, str) and (match := re.fullmatch(r"(\d+)daysAgo", value)):
        return today - timedelta(days=int(match.group(1)))
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadRequest(f"Invalid date: {value!r}.") from None


def _int64(value: Any, name: str) -> int:
    if value is None:
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid value at '{name}' (TYPE_INT64), {value!r}") from None
    if number < 0:
        raise BadRequest(f"{name} must be non-negative.")
    return number


def _metric_text(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))
