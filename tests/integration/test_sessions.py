"""Sign-in with a read key, the session cookie on the read endpoints, CSRF, and the ways a
session ends, against the real app and Elasticsearch."""

from __future__ import annotations

import calendar
import logging
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from metronome.config import Limit
from metronome.es.templates import install_templates
from metronome.web.app import create_app
from metronome.web.ratelimit.buckets import Buckets
from metronome.web.sessions import COOKIE_NAME, SessionBook, encode, sign_in
from tests.conftest import READ_KEY, TEST_SITES, WRITE_KEY, error_of, make_settings

OTHER_KEY = "sk_blog_read_0001"
SITES: dict[str, Any] = {
    **TEST_SITES,
    "blog": {"write_auth": "none", "read_keys": [OTHER_KEY]},
    "both": {"write_auth": "none", "read_keys": [READ_KEY]},  # the shop's key opens it too
}
QUERY = {"site": "shop", "metrics": ["count"], "date_range": ["2026-01-01", "2026-02-01"]}


def build(es: Elasticsearch, es_url: str, prefix: str, var: Path, **overrides: Any) -> Flask:
    sites = overrides.pop("sites", SITES)
    settings = make_settings(es_url, prefix, var / "spool", sites=sites, **overrides)
    install_templates(es, prefix)
    return create_app(settings, es=es)


@pytest.fixture
def app(es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path) -> Flask:
    return build(es, es_url, index_prefix, tmp_path)


def signed_in(client: FlaskClient, key: str = READ_KEY, **kwargs: Any) -> TestResponse:
    response = client.post("/api/v1/session", json={"key": key}, **kwargs)
    assert response.status_code == 200, response.get_json()
    return response


def cookie_attributes(response: TestResponse) -> dict[str, str]:
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE_NAME)]
    attributes = {}
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


def cookie_value(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie is not None
    return cookie.value


def test_a_read_key_signs_in_and_the_cookie_reads_the_query_api(client: FlaskClient) -> None:
    answer = signed_in(client).get_json()
    assert answer["sites"] == ["both", "shop"]  # every site the key reads
    assert len(answer["csrf_token"]) >= 40
    expires = calendar.timegm(time.strptime(answer["expires"], "%Y-%m-%dT%H:%M:%SZ"))
    hours = (expires - time.time()) / 3600
    assert 11.9 < hours <= 12
    csrf = {"X-CSRF-Token": answer["csrf_token"]}
    response = client.post("/api/v1/query", json=QUERY, headers=csrf)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["results"] == [{"dimensions": [], "metrics": [0]}]
    assert client.get("/api/v1/events?site=shop").status_code == 200  # GET: no token needed
    tock = client.get("/tock/x?site=shop")
    assert tock.status_code == 200
    assert tock.headers["Cache-Control"] == "private, no-store"  # the browser's own answer
    assert "Cookie" in tock.headers["Vary"]
    assert client.get("/api/v1/session").get_json() == answer


def test_an_unsafe_request_with_the_cookie_needs_the_csrf_token(client: FlaskClient) -> None:
    token = signed_in(client).get_json()["csrf_token"]
    missing = client.post("/api/v1/query", json=QUERY)
    assert missing.status_code == 403
    assert error_of(missing)["code"] == "csrf"
    wrong = client.post("/api/v1/query", json=QUERY, headers={"X-CSRF-Token": token[:-1] + "x"})
    assert wrong.status_code == 403
    assert error_of(wrong)["code"] == "csrf"
    refused = client.delete("/api/v1/session")  # signing out is a change too
    assert refused.status_code == 403
    assert client.get("/api/v1/session").status_code == 200


def test_the_cookie_is_httponly_samesite_strict_on_every_path(client: FlaskClient) -> None:
    attributes = cookie_attributes(signed_in(client))
    assert "httponly" in attributes
    assert attributes["samesite"] == "Strict"
    assert attributes["path"] == "/"
    assert 12 * 3600 - 5 < int(attributes["max-age"]) <= 12 * 3600
    assert "secure" not in attributes  # plain http: a Secure cookie would never come back


def test_the_cookie_is_secure_over_https_and_behind_a_trusted_proxy(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    app = build(es, es_url, index_prefix, tmp_path, rate_limits={"trusted_proxies": ["10.0.0.1"]})
    client = app.test_client()
    https = signed_in(client, base_url="https://metronome.test/")
    assert "secure" in cookie_attributes(https)
    proxied = {"X-Forwarded-Proto": "https"}
    trusted = signed_in(client, headers=proxied, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert "secure" in cookie_attributes(trusted)
    spoofed = signed_in(client, headers=proxied, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert "secure" not in cookie_attributes(spoofed)


def test_signing_out_clears_the_cookie_and_ends_the_session(client: FlaskClient) -> None:
    token = signed_in(client).get_json()["csrf_token"]
    out = client.delete("/api/v1/session", headers={"X-CSRF-Token": token})
    assert out.status_code == 204
    assert int(cookie_attributes(out)["max-age"]) == 0
    assert client.get_cookie(COOKIE_NAME) is None
    ended = client.get("/api/v1/session")
    assert ended.status_code == 401
    assert error_of(ended)["code"] == "no_session"
    assert client.delete("/api/v1/session").status_code == 204  # already out: nothing to guard


def test_a_wrong_key_is_401_bad_key_and_sets_no_cookie(client: FlaskClient) -> None:
    for key in ("sk_wrong_key_0001", WRITE_KEY):  # a write key reads nothing
        response = client.post("/api/v1/session", json={"key": key})
        assert response.status_code == 401
        assert error_of(response)["code"] == "bad_key"
        assert "Set-Cookie" not in response.headers
    anonymous = client.post("/api/v1/query", json=QUERY)
    assert error_of(anonymous)["code"] == "missing_key"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ('{"key": "x"', 400, "malformed_json"),
        ("[" * 4000, 400, "malformed_json"),  # nested past the parser's depth
        ('["sk_shop_read_0001"]', 422, "invalid_sign_in"),
        ('{"key": "sk_shop_read_0001", "site": "shop"}', 422, "invalid_sign_in"),
        ('{"key": 12345678}', 422, "invalid_sign_in"),
        ('{"key": ""}', 422, "invalid_sign_in"),
    ],
    ids=["truncated", "deep", "array", "extra member", "number", "empty"],
)
def test_a_malformed_sign_in_is_a_json_4xx_naming_the_problem(
    client: FlaskClient, body: str, status: int, code: str
) -> None:
    response = client.post("/api/v1/session", data=body, content_type="application/json")
    assert response.status_code == status
    assert error_of(response)["code"] == code
    assert READ_KEY not in response.get_data(as_text=True)


def test_a_sign_in_must_be_json_so_no_other_site_can_post_a_form(client: FlaskClient) -> None:
    form = client.post("/api/v1/session", data={"key": READ_KEY})
    assert form.status_code == 415
    assert "Set-Cookie" not in form.headers


def test_a_key_in_the_url_is_refused(client: FlaskClient) -> None:
    response = client.post(f"/api/v1/session?key={READ_KEY}", json={"key": READ_KEY})
    assert response.status_code == 400
    assert error_of(response)["code"] == "key_in_url"
    assert "Set-Cookie" not in response.headers


def test_failed_sign_ins_are_limited_per_address_even_for_the_right_key(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    limit = {"failed_sign_ins": {"rate": 0.5, "burst": 3}}
    client = build(es, es_url, index_prefix, tmp_path, sessions=limit).test_client()
    guesser = {"REMOTE_ADDR": "198.51.100.7"}

    def attempt(key: str, environ: dict[str, str]) -> TestResponse:
        return client.post("/api/v1/session", json={"key": key}, environ_base=environ)

    assert [attempt(f"sk_guess_{n:04}", guesser).status_code for n in range(3)] == [401] * 3
    refused = attempt(READ_KEY, guesser)
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "2"
    assert "Set-Cookie" not in refused.headers
    assert attempt(READ_KEY, {"REMOTE_ADDR": "198.51.100.8"}).status_code == 200


def test_the_key_never_reaches_the_logs(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        signed_in(client)
        client.post("/api/v1/session", json={"key": READ_KEY + "-wrong"})
        client.post("/api/v1/session", data='{"key": "' + READ_KEY, content_type="application/json")
    session_log = [r for r in caplog.records if r.name == "metronome.web.views.session"]
    assert len(session_log) == 2  # the sign-in and the failed one are logged, without the key
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        assert READ_KEY not in text, record


def test_tampered_expired_and_foreign_cookies_are_no_session(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    signed_in(client)
    good = cookie_value(client)
    version, claims, signature = good.split(".")
    flipped = claims[:-2] + ("A" if claims[-2] != "A" else "B") + claims[-1]
    secret = (tmp_path / "keys" / "session-secret").read_bytes().strip()
    own = SessionBook(secret, {"shop": [READ_KEY]}, 3600, 86400, Buckets(Limit(0, 1), 100))
    now = int(time.time())
    foreign = SessionBook(b"another-secret" * 4, {"shop": [READ_KEY]}, 3600, 86400, own.failures)
    print_ = own.start(READ_KEY, now)
    assert print_ is not None
    expired = sign_in(print_.fingerprint, ["shop"], now - 7200, 3600, 86400)
    too_old = sign_in(print_.fingerprint, ["shop"], now - 8 * 86400, 9 * 86400, 9 * 86400)
    started = own.start(READ_KEY, now)
    assert started is not None
    cookies = {
        "tampered claims": f"{version}.{flipped}.{signature}",
        "tampered signature": f"{version}.{claims}.{signature[::-1]}",
        "another secret": foreign.encode(started),
        "expired": encode(expired, own.keys),
        "older than 7 days": encode(too_old, own.keys),
        "garbage": "not-a-session",
    }
    csrf = {"X-CSRF-Token": started.csrf}
    requests: dict[str, Callable[[], TestResponse]] = {
        "session": lambda: client.get("/api/v1/session"),
        "query": lambda: client.post("/api/v1/query", json=QUERY, headers=csrf),
        "events": lambda: client.get("/api/v1/events?site=shop"),
    }
    for name, value in cookies.items():
        for what, send in requests.items():
            client.set_cookie(COOKIE_NAME, value)
            response = send()
            assert response.status_code == 401, (name, what)
            assert error_of(response)["code"] == "no_session", (name, what)
    client.set_cookie(COOKIE_NAME, own.encode(started))  # the control: the same, well signed
    assert client.get("/api/v1/session").status_code == 200


def test_the_secret_is_made_once_0600_and_shared_by_every_worker(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    client = build(es, es_url, index_prefix, tmp_path).test_client()
    signed_in(client)
    secret = tmp_path / "keys" / "session-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    other_worker = build(es, es_url, index_prefix, tmp_path).test_client()
    other_worker.set_cookie(COOKIE_NAME, cookie_value(client))
    assert other_worker.get("/api/v1/session").status_code == 200


def test_a_key_removed_from_the_config_ends_its_sessions(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    client = build(es, es_url, index_prefix, tmp_path).test_client()
    token = signed_in(client).get_json()["csrf_token"]
    csrf = {"X-CSRF-Token": token}
    rotated = {**SITES, "shop": {**SITES["shop"], "read_keys": ["sk_shop_read_0002"]}}
    restarted = build(es, es_url, index_prefix, tmp_path, sites=rotated).test_client()
    restarted.set_cookie(COOKIE_NAME, cookie_value(client))
    # The key still reads "both": the session keeps that site only.
    assert restarted.get("/api/v1/session").get_json()["sites"] == ["both"]
    refused = restarted.post("/api/v1/query", json=QUERY, headers=csrf)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "site_not_allowed"
    removed = {**rotated, "both": {**SITES["both"], "read_keys": ["sk_both_read_0002"]}}
    again = build(es, es_url, index_prefix, tmp_path, sites=removed).test_client()
    again.set_cookie(COOKIE_NAME, cookie_value(client))
    response = again.post("/api/v1/query", json={**QUERY, "site": "both"}, headers=csrf)
    assert response.status_code == 401
    assert error_of(response)["code"] == "no_session"
    assert error_of(again.get("/api/v1/session"))["code"] == "no_session"


def test_a_session_reads_its_own_sites_only(client: FlaskClient) -> None:
    signed_in(client)
    response = client.get("/api/v1/events?site=blog")
    assert response.status_code == 403
    assert error_of(response)["code"] == "site_not_allowed"


def test_an_authorization_header_is_judged_alone(client: FlaskClient) -> None:
    token = signed_in(client).get_json()["csrf_token"]
    headers = {"X-CSRF-Token": token, "Authorization": "Bearer sk_wrong_key_0001"}
    response = client.post("/api/v1/query", json=QUERY, headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_key"
    keyed = client.post(
        "/api/v1/query", json=QUERY, headers={"Authorization": f"Bearer {READ_KEY}"}
    )
    assert keyed.status_code == 200  # a key needs no CSRF token: no browser adds it by itself


def test_a_used_session_slides_forward_until_seven_days_after_sign_in(
    client: FlaskClient, tmp_path: Path
) -> None:
    signed_in(client)  # makes the secret
    secret = (tmp_path / "keys" / "session-secret").read_bytes().strip()
    own = SessionBook(secret, {"shop": [READ_KEY]}, 12 * 3600, 7 * 86400, Buckets(Limit(0, 1), 9))
    now = int(time.time())
    started = own.start(READ_KEY, now - 11 * 3600)  # signed in 11 hours ago, used since
    assert started is not None
    client.set_cookie(COOKIE_NAME, own.encode(started))
    used = client.get("/api/v1/events?site=shop")
    assert used.status_code == 200
    assert 12 * 3600 - 5 < int(cookie_attributes(used)["max-age"]) <= 12 * 3600
    renewed = own.read(cookie_value(client), now)
    assert renewed is not None and renewed.csrf == started.csrf  # the same session, later
    assert client.get("/api/v1/events?site=shop").headers.get("Set-Cookie") is None  # once a min
    old = sign_in(started.fingerprint, ["shop"], now - 7 * 86400 + 600, 7 * 86400, 7 * 86400)
    client.set_cookie(COOKIE_NAME, own.encode(old))  # its absolute end is in 10 minutes
    near_end = client.get("/api/v1/events?site=shop")
    assert near_end.status_code == 200
    assert near_end.headers.get("Set-Cookie") is None
