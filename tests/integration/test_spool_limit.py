"""A request larger than the whole spool can never fit: 413 naming the limit, not 503 forever.

A full spool is temporary (503 with Retry-After: the shipper makes room); a batch whose records
alone take more than ``spool.max_bytes`` would get that 503 at every retry.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import Settings
from metronome.es.templates import install_templates
from metronome.spool.shipper import Shipper
from metronome.spool.writer import AppendTooLarge, SpoolFull, SpoolWriter, spool_bytes
from metronome.web.app import create_app
from tests.conftest import error_of, make_settings

SPOOL_MAX_BYTES = 65_536  # the smallest limit the settings allow


@pytest.fixture
def small_spool(es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path) -> Settings:
    spool = {"dir": str(tmp_path / "spool"), "max_bytes": SPOOL_MAX_BYTES}
    settings = make_settings(es_url, index_prefix, spool=spool)
    install_templates(es, index_prefix)
    return settings


def batch(size: int, pad: int = 1000) -> list[dict[str, str]]:
    return [{"id": f"big-{n}", "pad": "p" * pad} for n in range(size)]


def test_a_batch_larger_than_the_whole_spool_is_413_naming_the_limit(
    small_spool: Settings, es: Elasticsearch
) -> None:
    client: FlaskClient = create_app(small_spool, es=es).test_client()
    too_big = batch(100)  # ~100 KB of records: more than the whole spool, even empty
    for _ in range(2):  # and again: it is not a matter of waiting
        response = client.post("/tick", json=too_big)
        assert response.status_code == 413, response.data
        error = error_of(response)
        assert error["code"] == "larger_than_spool"
        assert "spool.max_bytes" in error["message"]
        assert str(SPOOL_MAX_BYTES) in error["message"]
        assert "Retry-After" not in response.headers
    assert spool_bytes(small_spool.spool.dir) == 0  # nothing of it was written


def test_a_batch_that_fits_is_still_accepted_after_a_refused_one(
    small_spool: Settings, es: Elasticsearch
) -> None:
    client = create_app(small_spool, es=es).test_client()
    assert client.post("/tick", json=batch(100)).status_code == 413
    response = client.post("/tick", json=batch(10))
    assert response.status_code == 202, response.data
    assert response.get_json() == {"accepted": 10}
    spool_dir, prefix = small_spool.spool.dir, small_spool.elasticsearch.index_prefix
    shipper = Shipper(spool_dir, es, prefix, small_spool.shipper)
    assert shipper.run_once() == 10


def test_the_writer_refuses_an_append_larger_than_the_spool_for_good(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, segment_bytes=4096, max_bytes=SPOOL_MAX_BYTES, fsync=False)
    with pytest.raises(AppendTooLarge) as caught:
        writer.append([b"x" * SPOOL_MAX_BYTES])  # plus its 8-byte frame header
    assert (caught.value.size, caught.value.max_bytes) == (SPOOL_MAX_BYTES + 8, SPOOL_MAX_BYTES)
    assert spool_bytes(tmp_path) == 0
    writer.append([b"x" * (SPOOL_MAX_BYTES - 8)])  # exactly the limit fits an empty spool
    with pytest.raises(SpoolFull):  # then a small one waits for room: a 503, not a 413
        writer.append([b"y"])
    writer.close()
