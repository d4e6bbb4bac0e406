"""Rate limits on the real app (metronome.ratelimit): 429 with Retry-After, per IP and per site,
before the fast path; X-Forwarded-For believed from trusted proxies only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.web.app import create_app
from tests.conftest import READ_KEY, error_of, make_settings

HIT = {"id": "rate-test"}
NOWHERE = "http://127.0.0.1:9"  # ingest and refused requests never reach Elasticsearch


def client_for(tmp_path: Path, **limits: Any) -> FlaskClient:
    settings = make_settings(NOWHERE, "rl", tmp_path / "spool", rate_limits=limits)
    return create_app(settings, es=Elasticsearch(NOWHERE)).test_client()


def tick(client: FlaskClient, ip: str, **kwargs: Any) -> int:
    response = client.post("/tick", json=HIT, environ_base={"REMOTE_ADDR": ip}, **kwargs)
    return response.status_code


def test_a_client_over_its_ingest_limit_gets_429_with_retry_after(tmp_path: Path) -> None:
    client = client_for(tmp_path, ingest={"per_ip": {"rate": 0.5, "burst": 3}})
    assert [tick(client, "198.51.100.7") for _ in range(3)] == [202, 202, 202]
    refused = client.post("/tick", json=HIT, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"  # a token every 2 s
    assert error_of(refused)["code"] == "rate_limited"
    assert tick(client, "198.51.100.8") == 202  # another client has its own bucket
    gif = client.get("/tick.gif?id=x", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert gif.status_code == 429  # the same ingest bucket


def test_metric_points_count_against_the_ingest_limit(tmp_path: Path) -> None:
    client = client_for(tmp_path, ingest={"per_ip": {"rate": 0.5, "burst": 2}})
    assert [tick(client, "198.51.100.9") for _ in range(2)] == [202, 202]
    points = client.post(
        "/api/v1/metrics",
        json={"points": [{"metric": "orders", "value": 1}]},
        environ_base={"REMOTE_ADDR": "198.51.100.9"},
    )
    assert (points.status_code, error_of(points)["code"]) == (429, "rate_limited")


def test_loopback_is_exempt_from_per_ip_limits_by_default(tmp_path: Path) -> None:
    client = client_for(tmp_path, ingest={"per_ip": {"rate": 1, "burst": 1}})
    assert {tick(client, "127.0.0.1") for _ in range(5)} == {202}


def test_a_site_over_its_limit_is_refused_whatever_the_address(tmp_path: Path) -> None:
    client = client_for(tmp_path, ingest={"per_site": {"rate": 1, "burst": 2}})
    assert [tick(client, f"198.51.100.{n}") for n in range(3)] == [202, 202, 429]
    assert tick(client, "127.0.0.1") == 429  # exempt from per-IP limits only
    other = client.post(
        "/tick?site=shop", json=HIT, headers={"X-Metronome-Key": "pk_shop_write_0001"}
    )
    assert other.status_code == 202


def test_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    limits = {"ingest": {"per_ip": {"rate": 1, "burst": 1}}, "exempt": []}
    spoofed = client_for(tmp_path / "a", **limits)
    for n in range(3):  # a new X-Forwarded-For each time, from one untrusted peer
        status = tick(spoofed, "203.0.113.5", headers={"X-Forwarded-For": f"192.0.2.{n}"})
        assert status == (202 if n == 0 else 429)
    proxied = client_for(tmp_path / "b", **limits, trusted_proxies=["203.0.113.5"])
    for n in range(3):  # behind the trusted proxy, three clients
        assert tick(proxied, "203.0.113.5", headers={"X-Forwarded-For": f"192.0.2.{n}"}) == 202
    assert tick(proxied, "203.0.113.5", headers={"X-Forwarded-For": "192.0.2.0"}) == 429


def test_anonymous_tock_reads_have_their_own_limit_and_keyed_reads_none(tmp_path: Path) -> None:
    client = client_for(tmp_path, public_reads={"per_ip": {"rate": 1, "burst": 1}}, exempt=[])
    first = client.get("/tock/x?site=nope", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert first.status_code == 404  # counted, then answered by the view
    second = client.get("/tock/x?site=nope", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert second.status_code == 429
    not_bearer = client.get(
        "/tock/x",
        headers={"Authorization": "Basic eDp5"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert not_bearer.status_code == 429  # no key as the view reads one: still anonymous
    keyed = client.get(
        "/tock/x?site=shop",
        headers={"Authorization": "Bearer wrong-key-1"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert keyed.status_code == 401  # not limited here; refused before any search
    bearer = client.get(
        "/tock/x?site=shop",
        headers={"Authorization": f"Bearer {READ_KEY}x"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert bearer.status_code == 401
    assert tick(client, "198.51.100.7") == 202  # ingest is another bucket


def test_rate_limits_can_be_turned_off(tmp_path: Path) -> None:
    client = client_for(tmp_path, enabled=False, ingest={"per_ip": {"rate": 1, "burst": 1}})
    assert {tick(client, "198.51.100.7") for _ in range(5)} == {202}
