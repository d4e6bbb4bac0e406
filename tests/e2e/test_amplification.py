"""Amplifying bodies against the real web workers, while ordinary hits flow.

Each kind of body in ``bench/amplification.py`` (gzip bombs of objects, NDJSON lines and form
pairs, item floods, deep and wide JSON, to ``/tick``, ``/user_tags`` and ``/ingest/logs``) is
sent 32 at a time to ``metronome serve``'s gunicorn. The bound this test holds: every bomb gets
a JSON 413 within seconds, each worker's resident memory stays under 250 MB (it starts near
60 MB; before bodies had a budget one worker passed 1.3 GB on the first kind, and 4 GB on the
second), and every ordinary hit sent meanwhile is stored.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from bench.amplification import bombs, rss_mb
from tests.e2e.processes import running, wait_for_count

pytestmark = pytest.mark.e2e

WORKER_RSS_BOUND_MB = 250
CONCURRENCY = 32


class Sampler:
    """The largest RSS of any of the given processes, sampled every 50 ms."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, *(rss_mb(pid) for pid in self.pids))

    def close(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def test_bombs_are_refused_in_bounded_memory_and_ordinary_hits_are_stored(
    es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    config = tmp_path / "metronome.yml"
    config.write_text(
        "sites:\n  default: {write_auth: none}\n  allezon: {write_auth: none}\n"
        "allezon: {enabled: true, site: allezon}\nscheduler: {enabled: false}\n"
    )
    with running(es_url, index_prefix, tmp_path, METRONOME_CONFIG=str(config)) as metronome:
        sampler = Sampler(metronome.worker_pids())
        sent = 0
        stop = threading.Event()
        ordinary: list[int] = []

        def send_ordinary() -> None:
            nonlocal sent
            while not stop.is_set():
                sent += 1
                hit = {"id": "ordinary", "hit_id": f"ordinary-{sent}"}
                answer = requests.post(f"{metronome.base}/tick", json=hit, timeout=30)
                ordinary.append(answer.status_code)
                time.sleep(0.05)

        sender = threading.Thread(target=send_ordinary)
        sender.start()
        answers: dict[str, list[tuple[int, dict[str, object], float]]] = {}
        try:
            for kind, (path, headers, body) in bombs().items():

                def bomb(_: int, path: str = path, headers: dict[str, str] = headers,
                         body: bytes = body) -> tuple[int, dict[str, object], float]:  # fmt: skip
                    started = time.monotonic()
                    answer = requests.post(
                        f"{metronome.base}{path}", data=body, headers=headers, timeout=60
                    )
                    return answer.status_code, answer.json(), time.monotonic() - started

                with ThreadPoolExecutor(CONCURRENCY) as pool:
                    answers[kind] = list(pool.map(bomb, range(CONCURRENCY)))
        finally:
            stop.set()
            sender.join()
            peak = sampler.close()

        for kind, replies in answers.items():
            for status, reply, seconds in replies:
                assert status == 413, (kind, status, reply)
                assert isinstance(reply["error"], dict) and reply["error"]["message"], kind
                assert seconds < 10, (kind, seconds)
        assert peak < WORKER_RSS_BOUND_MB, f"a worker reached {peak:.0f} MB"
        assert ordinary and set(ordinary) == {202}, json.dumps(ordinary)
        stored = wait_for_count(es_url, f"{index_prefix}-hits-*", len(ordinary))
        assert stored == len(ordinary)
