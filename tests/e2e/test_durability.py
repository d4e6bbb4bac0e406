"""Durable means durable: every hit that got a 2xx is in Elasticsearch exactly once, whatever
process was killed (kill -9) and however long Elasticsearch was away. Small versions of the
scenarios; bench/ runs them at full size."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest
import requests
from elasticsearch import Elasticsearch

from metronome.config import EmbeddedSettings
from metronome.es.embedded import EmbeddedElasticsearch
from metronome.es.templates import install_templates
from tests.conftest import ROOT, free_port
from tests.e2e.processes import Metronome, running, wait_for_count


class Sender:
    """Threads that send numbered hits, one per request, and remember which got a 2xx."""

    def __init__(self, base: str, total: int, threads: int = 4) -> None:
        self.base = base
        self.numbers = list(range(total))
        self.lock = threading.Lock()
        self.acknowledged: set[int] = set()
        self.statuses: dict[int, int] = {}
        self.threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def _next(self) -> int | None:
        with self.lock:
            return self.numbers.pop() if self.numbers else None

    def _run(self) -> None:
        session = requests.Session()
        while (number := self._next()) is not None:
            hit = {
                "id": "durable",
                "hit_id": f"n-{number}",
                "time": "2026-11-20T12:00:00Z",  # a retry must land in the same daily index
                "number": number,
            }
            status = self._send(session, hit)
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    self.acknowledged.add(number)

    def _send(self, session: requests.Session, hit: dict[str, object]) -> int:
        for _ in range(50):  # a client retries what was not acknowledged, with the same hit_id
            try:
                response = session.post(f"{self.base}/tick", json=hit, timeout=10)
            except requests.RequestException:
                time.sleep(0.05)
                continue
            if response.status_code != 503:
                return response.status_code
            time.sleep(0.05)
        return 0


@pytest.mark.e2e
def test_kill_9_of_web_workers_and_shipper_loses_and_doubles_nothing(
    es_url: str, es: Elasticsearch, index_prefix: str, tmp_path: Path
) -> None:
    install_templates(es, index_prefix)
    rng = random.Random(7)
    with running(es_url, index_prefix, tmp_path) as metronome:
        sender = Sender(metronome.base, total=1500)
        sender.start()
        for _ in range(3):
            time.sleep(rng.uniform(0.3, 0.8))
            os.kill(rng.choice(metronome.worker_pids()), signal.SIGKILL)  # gunicorn respawns it
            time.sleep(rng.uniform(0.2, 0.5))
            assert metronome.shipper is not None
            os.kill(metronome.shipper.pid, signal.SIGKILL)
            metronome.shipper.wait()
            metronome.start_shipper()
        sender.join()
        assert len(sender.acknowledged) == 1500, sender.statuses
        found = wait_for_count(es_url, f"{index_prefix}-hits-*", 1500)
    assert found == 1500
    stored = es.search(
        index=f"{index_prefix}-hits-*",
        size=0,
        aggs={"numbers": {"cardinality": {"field": "number", "precision_threshold": 4000}}},
    )
    assert stored["aggregations"]["numbers"]["value"] == 1500


@pytest.mark.e2e
def test_an_elasticsearch_outage_fills_the_spool_then_503_then_drains_exactly(
    tmp_path: Path,
) -> None:
    node = EmbeddedElasticsearch(
        EmbeddedSettings(
            home=ROOT / "var" / "es-dist",
            data_dir=tmp_path / "es",
            http_port=free_port(),
            heap="512m",
        ),
        say=lambda message: None,
    )
    node.start()
    prefix = "outage"
    try:
        install_templates(Elasticsearch(node.url), prefix)
        with running(
            node.url,
            prefix,
            tmp_path / "metronome",
            METRONOME_SPOOL__MAX_BYTES="200000",
            METRONOME_SPOOL__SEGMENT_BYTES="20000",
        ) as metronome:
            before = _send_until(metronome, 0, 100, stop_at_503=False)
            assert wait_for_count(node.url, f"{prefix}-hits-*", len(before)) == len(before)

            node.stop()  # Elasticsearch goes away; ingest must go on answering from the spool
            during = _send_until(metronome, 100, 100_000, stop_at_503=True)
            assert len(during) > 100  # accepted while Elasticsearch was down
            refused = requests.post(f"{metronome.base}/tick", json={"id": "x"}, timeout=10)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"]
            assert refused.json()["error"]["code"] == "spool_full"
            ready = requests.get(f"{metronome.base}/readyz", timeout=10)
            assert ready.status_code == 503

            node.start()  # the backlog drains by itself, exactly
            total = len(before) + len(during)
            assert wait_for_count(node.url, f"{prefix}-hits-*", total, timeout=90) == total
            after = requests.post(f"{metronome.base}/tick", json={"id": "x"}, timeout=10)
            assert after.status_code == 202
    finally:
        node.stop()


def _send_until(metronome: Metronome, first: int, last: int, stop_at_503: bool) -> list[int]:
    acknowledged = []
    session = requests.Session()
    for number in range(first, last):
        hit = {"id": "outage", "hit_id": f"o-{number}", "number": number, "pad": "x" * 200}
        response = session.post(f"{metronome.base}/tick", json=hit, timeout=10)
        if response.status_code == 503 and stop_at_503:
            break
        assert response.status_code == 202, response.text
        acknowledged.append(number)
    return acknowledged
