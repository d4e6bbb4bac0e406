"""The pure parts of the ga4 source: options, report parsing, typing, row -> document, the
day plan and versions, the cursor, the service-account JWT and Google's error bodies."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from marshmallow import ValidationError

from ingesters.ga4 import Ga4Source
from ingesters.ga4.auth import (
    GRANT_TYPE,
    SCOPE,
    CredentialsError,
    TokenRefused,
    build_assertion,
    parse_service_account,
    parse_token_answer,
)
from ingesters.ga4.documents import field_name, natural_key, row_document
from ingesters.ga4.options import Ga4Options, with_date
from ingesters.ga4.plan import (
    CursorState,
    Revision,
    final_version,
    parse_cursor,
    plan_days,
    rows_digest,
    version_for,
)
from ingesters.ga4.report import (
    BadReport,
    Report,
    google_error,
    parse_report,
    parse_report_date,
    report_request,
    typed_metric,
)
from ingesters.ga4.source import QuotaExhausted, error_for
from metronome.sources.base import SourceError

DAY = date(2024, 5, 1)
ANSWER: dict[str, Any] = {
    "dimensionHeaders": [{"name": "date"}, {"name": "country"}],
    "metricHeaders": [
        {"name": "activeUsers", "type": "TYPE_INTEGER"},
        {"name": "averageSessionDuration", "type": "TYPE_SECONDS"},
        {"name": "purchaseRevenue", "type": "TYPE_CURRENCY"},
    ],
    "rows": [
        {
            "dimensionValues": [{"value": "20240501"}, {"value": "Japan"}],
            "metricValues": [{"value": "2541"}, {"value": "61.25"}, {"value": "0"}],
        }
    ],
    "rowCount": 42,
    "metadata": {"currencyCode": "USD", "timeZone": "America/Los_Angeles"},
    "propertyQuota": {
        "tokensPerDay": {"consumed": 1, "remaining": 199999},
        "tokensPerHour": {"consumed": 1, "remaining": 39999},
    },
    "kind": "analyticsData#runReport",
}


def report(**changes: Any) -> Report:
    return parse_report({**ANSWER, **changes})


# -- options -------------------------------------------------------------------------------


def load(**options: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"property_id": "123", "metrics": ["activeUsers"], "access_token": "t"}
    loaded = Ga4Options().load({**base, **options})
    assert isinstance(loaded, dict)
    return loaded


def test_options_default_to_the_date_dimension_and_add_it_when_missing() -> None:
    assert load()["dimensions"] == ["date"]
    assert load(dimensions=["country", "city"])["dimensions"] == ["date", "country", "city"]
    assert load(dimensions=["country", "date"])["dimensions"] == ["country", "date"]
    assert with_date(["date", "date"]) == ["date"]


def test_options_defaults() -> None:
    loaded = load()
    assert loaded["api_url"] == "https://analyticsdata.googleapis.com"
    assert loaded["page_size"] == 10_000 and loaded["lookback_days"] == 3
    assert loaded["start_date"] is None


@pytest.mark.parametrize("value", ["2024-05-01", date(2024, 5, 1)])
def test_start_date_is_a_day_quoted_or_not(value: Any) -> None:
    assert load(start_date=value)["start_date"] == date(2024, 5, 1)


@pytest.mark.parametrize("value", [123456789, "123456789", "properties/123456789"])
def test_a_property_id_is_digits_however_written(value: Any) -> None:
    assert load(property_id=value)["property_id"] == "123456789"


@pytest.mark.parametrize(
    "options",
    [
        {"property_id": "G-ABC123"},
        {"property_id": True},
        {"metrics": []},
        {"metrics": ["activeUsers", "activeUsers"]},
        {"metrics": ["active users"]},
        {"page_size": 250_001},
        {"access_token": None},  # no authentication at all
        {"credentials_file": "/nonexistent/key.json"},  # both, and the file is missing
        {"dimensions": [f"customEvent:d{n}" for n in range(9)]},  # 10 with `date`
    ],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        load(**options)


def test_a_credentials_file_is_checked_when_the_configuration_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text('{"type": "authorized_user"}')
    with pytest.raises(ValidationError, match="service-account key"):
        load(access_token=None, credentials_file=str(path))
    path.write_text(json.dumps(service_account_json(rsa_key())))
    assert load(access_token=None, credentials_file=str(path))["credentials_file"] == str(path)


def test_the_access_token_is_a_secret() -> None:
    assert Ga4Source.secret_options() == frozenset({"access_token"})


# -- the request and the answer -------------------------------------------------------------


def test_a_report_request_asks_for_one_day_one_page_and_the_quota() -> None:
    body = report_request(["date", "country"], ["activeUsers"], DAY, 500, 1000)
    assert body["dateRanges"] == [{"startDate": "2024-05-01", "endDate": "2024-05-01"}]
    assert body["dimensions"] == [{"name": "date"}, {"name": "country"}]
    assert body["metrics"] == [{"name": "activeUsers"}]
    assert body["limit"] == "500" and body["offset"] == "1000"
    assert body["returnPropertyQuota"] is True
    assert [order["dimension"]["dimensionName"] for order in body["orderBys"]] == [
        "date",
        "country",
    ]


def test_parse_report_reads_headers_rows_count_metadata_and_quota() -> None:
    parsed = report()
    assert parsed.dimension_names == ("date", "country")
    assert [h.type for h in parsed.metric_headers] == [
        "TYPE_INTEGER",
        "TYPE_SECONDS",
        "TYPE_CURRENCY",
    ]
    assert parsed.rows[0].dimensions == ("20240501", "Japan")
    assert parsed.rows[0].metrics == ("2541", "61.25", "0")
    assert parsed.row_count == 42
    assert (parsed.time_zone, parsed.currency_code) == ("America/Los_Angeles", "USD")
    assert parsed.quota is not None
    assert parsed.quota.describe() == "199,999 tokens left today, 39,999 this hour"


def test_an_empty_report_leaves_out_rows_and_row_count() -> None:
    empty = {key: value for key, value in ANSWER.items() if key not in ("rows", "rowCount")}
    parsed = parse_report(empty)
    assert parsed.rows == () and parsed.row_count == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "not a JSON object"),
        ({**ANSWER, "rows": "nope"}, "rows is not a list"),
        ({**ANSWER, "rowCount": "many"}, "rowCount"),
        ({**ANSWER, "kind": "analyticsData#runPivotReport"}, "not a runReport"),
        ({**ANSWER, "metricHeaders": [{"type": "TYPE_INTEGER"}]}, "lacks a string 'name'"),
        (
            {**ANSWER, "rows": [{"dimensionValues": [{"value": "20240501"}], "metricValues": []}]},
            "a row has 1 dimension and 0 metric values",
        ),
        (
            {
                **ANSWER,
                "rows": [
                    {
                        "dimensionValues": [{"value": 20240501}, {"value": "Japan"}],
                        "metricValues": [{"value": "1"}, {"value": "1"}, {"value": "1"}],
                    }
                ],
            },
            "not a string",
        ),
    ],
)
def test_a_malformed_answer_is_a_clear_source_error(payload: Any, message: str) -> None:
    with pytest.raises(BadReport, match=message) as raised:
        parse_report(payload)
    assert isinstance(raised.value, SourceError)


@pytest.mark.parametrize(
    ("value", "metric_type", "expected"),
    [
        ("2541", "TYPE_INTEGER", 2541),
        ("12.0", "TYPE_INTEGER", 12),
        ("-3", "TYPE_INTEGER", -3),
        ("0.25", "TYPE_FLOAT", 0.25),
        ("61.5", "TYPE_SECONDS", 61.5),
        ("1500", "TYPE_MILLISECONDS", 1500.0),
        ("19.99", "TYPE_CURRENCY", 19.99),
        ("3", "TYPE_STANDARD", 3.0),
        ("2", "TYPE_KILOMETERS", 2.0),
        ("7", "METRIC_TYPE_UNSPECIFIED", 7.0),
        ("NaN", "TYPE_FLOAT", None),
    ],
)
def test_metric_values_are_typed_from_their_header(
    value: str, metric_type: str, expected: float | None
) -> None:
    typed = typed_metric(value, metric_type)
    assert typed == expected
    assert type(typed) is type(expected)


@pytest.mark.parametrize(("value", "metric_type"), [("12.5", "TYPE_INTEGER"), ("x", "TYPE_FLOAT")])
def test_a_metric_value_that_does_not_fit_its_type_is_a_bad_report(
    value: str, metric_type: str
) -> None:
    with pytest.raises(BadReport, match="activeUsers"):
        typed_metric(value, metric_type, "activeUsers")


def test_report_dates() -> None:
    assert parse_report_date("20240501") == DAY
    assert parse_report_date("(other)") is None
    assert parse_report_date("20241301") is None


# -- rows -> documents ----------------------------------------------------------------------


def test_a_row_becomes_a_versioned_document_of_its_day() -> None:
    parsed = report()
    document = row_document("123", DAY, parsed, parsed.rows[0], version=1714521600000)
    assert document.timestamp == datetime(2024, 5, 1, tzinfo=UTC)
    assert document.version == 1714521600000
    assert document.fields == {
        "kind": "row",
        "property_id": "123",
        "date": "2024-05-01",
        "country": "Japan",
        "activeUsers": 2541,
        "averageSessionDuration": 61.25,
        "purchaseRevenue": 0.0,
        "time_zone": "America/Los_Angeles",
        "currency_code": "USD",
    }
    assert json.loads(document.key) == ["123", "2024-05-01", [["country", "Japan"]]]


def test_the_natural_key_does_not_depend_on_the_order_of_dimensions() -> None:
    one = report(
        dimensionHeaders=[{"name": "date"}, {"name": "country"}, {"name": "city"}],
        rows=[
            {
                "dimensionValues": [{"value": "20240501"}, {"value": "Japan"}, {"value": "Kyoto"}],
                "metricValues": [{"value": "1"}, {"value": "1"}, {"value": "1"}],
            }
        ],
    )
    other = report(
        dimensionHeaders=[{"name": "city"}, {"name": "date"}, {"name": "country"}],
        rows=[
            {
                "dimensionValues": [{"value": "Kyoto"}, {"value": "20240501"}, {"value": "Japan"}],
                "metricValues": [{"value": "1"}, {"value": "1"}, {"value": "1"}],
            }
        ],
    )
    assert natural_key("1", DAY, one, one.rows[0]) == natural_key("1", DAY, other, other.rows[0])
    assert natural_key("1", DAY, one, one.rows[0]) != natural_key("2", DAY, one, one.rows[0])


def test_names_taken_by_the_envelope_are_prefixed() -> None:
    assert field_name("source") == "ga_source"
    assert field_name("sessionSource") == "sessionSource"
    parsed = report(
        dimensionHeaders=[{"name": "date"}, {"name": "source"}],
        rows=[
            {
                "dimensionValues": [{"value": "20240501"}, {"value": "google"}],
                "metricValues": [{"value": "1"}, {"value": "1"}, {"value": "1"}],
            }
        ],
    )
    fields = row_document("1", DAY, parsed, parsed.rows[0], 1).fields
    assert fields["ga_source"] == "google" and "source" not in fields


def test_a_row_of_another_day_is_a_bad_report_and_an_other_row_keeps_the_day() -> None:
    parsed = report()
    with pytest.raises(BadReport, match="2024-05-01 came back for a request of 2024-05-02"):
        row_document("1", DAY + timedelta(days=1), parsed, parsed.rows[0], 1)
    other = report(
        rows=[
            {
                "dimensionValues": [{"value": "(other)"}, {"value": "(other)"}],
                "metricValues": [{"value": "1"}, {"value": "1"}, {"value": "1"}],
            }
        ]
    )
    assert row_document("1", DAY, other, other.rows[0], 1).fields["date"] == "2024-05-01"


# -- the plan, versions and the cursor ------------------------------------------------------

TODAY = date(2024, 5, 20)


def test_a_first_run_reads_thirty_days_or_from_start_date_up_to_yesterday() -> None:
    days = plan_days(None, None, 3, TODAY)
    assert days[0] == date(2024, 4, 20) and days[-1] == date(2024, 5, 19) and len(days) == 30
    assert plan_days(None, date(2024, 5, 17), 3, TODAY) == [
        date(2024, 5, 17),
        date(2024, 5, 18),
        date(2024, 5, 19),
    ]


def test_a_regular_run_rereads_the_lookback_days_and_never_today() -> None:
    assert plan_days(date(2024, 5, 19), None, 3, TODAY) == [
        date(2024, 5, 17),
        date(2024, 5, 18),
        date(2024, 5, 19),
    ]
    assert plan_days(date(2024, 5, 19), None, 1, TODAY) == [date(2024, 5, 19)]
    assert plan_days(date(2024, 5, 19), None, 0, TODAY) == []


def test_after_downtime_every_missed_day_is_read() -> None:
    days = plan_days(date(2024, 3, 1), None, 3, TODAY)
    assert days[0] == date(2024, 2, 28) and days[-1] == date(2024, 5, 19)
    assert len(days) == 82  # no 14-day limit: GA4 keeps its data


def test_a_final_day_has_a_fixed_version_higher_than_any_revisable_one() -> None:
    day = date(2024, 5, 10)
    final = final_version(day, 3)
    assert final == int(datetime(2024, 5, 14, tzinfo=UTC).timestamp() * 1000)
    late = datetime(2024, 6, 1, tzinfo=UTC)
    assert version_for(day, "d", None, late, 3) == final
    assert version_for(day, "d", Revision("d", 5), late, 3) == final
    early = datetime(2024, 5, 13, 23, tzinfo=UTC)
    assert version_for(day, "d", None, early, 3) == int(early.timestamp() * 1000) < final


def test_a_revisable_day_keeps_its_version_until_its_rows_change() -> None:
    now = datetime(2024, 5, 20, 8, tzinfo=UTC)
    ms = int(now.timestamp() * 1000)
    day = date(2024, 5, 18)
    remembered = Revision("abc", 1716000000000)
    assert version_for(day, "abc", remembered, now, 3) == 1716000000000
    assert version_for(day, "xyz", remembered, now, 3) == ms
    assert version_for(day, "abc", None, now, 3) == ms


def test_the_rows_digest_ignores_row_order_and_sees_changed_figures() -> None:
    rows = [(("20240501", "Japan"), ("1",)), (("20240501", "France"), ("2",))]
    assert rows_digest(rows) == rows_digest(list(reversed(rows)))
    assert rows_digest(rows) != rows_digest([rows[0], (("20240501", "France"), ("3",))])
    assert rows_digest([]) != rows_digest(rows)


def test_the_cursor_never_moves_back_and_forgets_days_out_of_the_window() -> None:
    state = CursorState(
        "123",
        date(2024, 5, 19),
        {date(2024, 5, 15): Revision("old", 1), date(2024, 5, 17): Revision("a", 2)},
    )
    after = state.after_day(date(2024, 5, 17), Revision("b", 3), oldest_revisable=date(2024, 5, 17))
    assert after.day == date(2024, 5, 19)
    assert after.revisions == {date(2024, 5, 17): Revision("b", 3)}
    assert state.after_day(date(2024, 5, 20), None, date(2024, 5, 18)).day == date(2024, 5, 20)


def test_the_cursor_round_trips_and_belongs_to_one_property() -> None:
    state = CursorState("123", date(2024, 5, 19), {date(2024, 5, 18): Revision("a", 7)})
    cursor = json.loads(json.dumps(state.to_cursor()))
    assert parse_cursor(cursor, "123") == state
    assert parse_cursor(cursor, "456") == CursorState("456")
    assert parse_cursor({}, "123") == CursorState("123")
    with pytest.raises(SourceError, match="damaged"):
        parse_cursor({"property": "123", "day": "yesterday"}, "123")


# -- authentication -------------------------------------------------------------------------


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_json(key: rsa.RSAPrivateKey) -> dict[str, str]:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "private_key_id": "kid-1",
        "private_key": pem,
        "client_email": "reader@project.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def b64json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_the_assertion_is_an_rs256_jwt_signed_with_the_service_account_key() -> None:
    key = rsa_key()
    account = parse_service_account(json.dumps(service_account_json(key)))
    assertion = build_assertion(account, issued_at=1_714_521_600)
    header_b64, claims_b64, signature_b64 = assertion.split(".")
    assert "=" not in assertion
    assert b64json(header_b64) == {"alg": "RS256", "typ": "JWT", "kid": "kid-1"}
    assert b64json(claims_b64) == {
        "iss": "reader@project.iam.gserviceaccount.com",
        "scope": SCOPE,
        "aud": "https://oauth2.googleapis.com/token",
        "iat": 1_714_521_600,
        "exp": 1_714_525_200,
    }
    signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
    key.public_key().verify(  # raises InvalidSignature when wrong
        signature, f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert SCOPE == "https://www.googleapis.com/auth/analytics.readonly"
    assert GRANT_TYPE == "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ('{"type": "authorized_user"}', "not a service-account key"),
        ('{"type": "service_account", "private_key": "x"}', "lacks client_email, token_uri"),
        (
            json.dumps(
                {
                    "type": "service_account",
                    "private_key": "-----BEGIN PRIVATE KEY-----",
                    "client_email": "a@b",
                    "token_uri": "https://t",
                }
            ),
            "not a PEM private key",
        ),
    ],
)
def test_a_bad_key_file_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(CredentialsError, match=message):
        parse_service_account(text)


def test_the_token_answer_is_cached_until_shortly_before_it_expires() -> None:
    token = parse_token_answer(200, {"access_token": "ya29.x", "expires_in": 3599}, now=1000.0)
    assert token.value == "ya29.x" and token.expires_at == 4599.0
    assert token.fresh(4000.0) and not token.fresh(4550.0)
    with pytest.raises(TokenRefused, match=r"invalid_grant: Invalid JWT Signature\."):
        parse_token_answer(
            400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 0.0
        )
    with pytest.raises(TokenRefused, match="without an access_token"):
        parse_token_answer(200, {"expires_in": 3599}, 0.0)


# -- errors ---------------------------------------------------------------------------------


def test_google_error_bodies_become_one_readable_line() -> None:
    body = json.dumps(
        {
            "error": {
                "code": 429,
                "message": "Exhausted property tokens per day quota.",
                "status": "RESOURCE_EXHAUSTED",
            }
        },
        indent=2,
    ).replace("\n", " ")
    assert google_error(body) == "RESOURCE_EXHAUSTED: Exhausted property tokens per day quota."
    assert (
        google_error('{"error": "invalid_grant", "error_description": "Bad."}')
        == "invalid_grant: Bad."
    )
    assert google_error("<html>Bad Gateway</html>") == "<html>Bad Gateway</html>"


def test_quota_and_permission_errors_say_what_to_do() -> None:
    quota = error_for(429, "RESOURCE_EXHAUSTED: Exhausted property tokens per day quota.", "123")
    assert isinstance(quota, QuotaExhausted)
    assert "GA4 property 123: quota exhausted" in str(quota) and "midnight Pacific" in str(quota)
    denied = str(
        error_for(403, "PERMISSION_DENIED: User does not have sufficient permissions", "123")
    )
    assert "GA4 property 123: permission denied" in denied and "Viewer access" in denied
