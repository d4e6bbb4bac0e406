"""Two `metronome scheduler` processes evaluate the alert rules: the lease holder is killed
with SIGKILL in the middle of an evaluation (as soon as its first notification is queued), the
other takes the lease over, and every due notification reaches the SMTP server exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from elasticsearch import Elasticsearch

from metronome.es.templates import install_templates
from metronome.sources.lease import LeaseStore
from tests.conftest import ROOT
from tests.smtp_server import smtp_server

METRONOME = [sys.executable, "-m", "metronome.cli"]
RULES = 40


def _wait(condition: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _queued(es: Elasticsearch, prefix: str) -> int:
    index = f"{prefix}-notifications"
    if not es.indices.exists(index=index):
        return 0
    es.indices.refresh(index=index)
    return int(es.count(index=index)["count"])


@pytest.mark.e2e
def test_a_holder_killed_mid_evaluation_leaves_every_notification_sent_once(
    es_url: str, es: Elasticsearch, index_prefix: str, tmp_path: Path
) -> None:
    install_templates(es, index_prefix)
    with smtp_server() as smtp:
        rules = {
            f"quiet-{n:02d}": {"site": "default", "stream": f"empty{n:02d}",
                               "condition": {"no_data": "1h"}, "channels": ["ops"]}
            for n in range(RULES)
        }  # fmt: skip
        config = tmp_path / "metronome.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "elasticsearch": {"url": es_url, "index_prefix": index_prefix},
                    "spool": {"dir": str(tmp_path / "spool")},
                    "logs": {"forward": {"enabled": False}},
                    "scheduler": {"lease_ttl": 2},
                    "notify": {
                        "smtp": {
                            "host": "127.0.0.1",
                            "port": smtp.port,
                            "security": "none",
                            "sender": "metronome@example.org",
                            "timeout": 5,
                        },
                        "channels": {"ops": {"type": "email", "to": ["ops@example.org"]}},
                    },
                    "alerts": {"every": 5, "deliver_every": 1, "rules": rules},
                }
            )
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT), "METRONOME_CONFIG": str(config)}
        schedulers = [
            subprocess.Popen(
                [*METRONOME, "scheduler"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        try:
            leases = LeaseStore(es, index_prefix)
            _wait(lambda: _queued(es, index_prefix) > 0)  # the holder is evaluating
            lease = leases.current("scheduler")
            assert lease is not None
            pid = int(lease.holder.split(":")[1])
            os.kill(pid, signal.SIGKILL)
            queued_at_kill = _queued(es, index_prefix)
            survivor = next(p for p in schedulers if p.pid != pid)
            _wait(lambda: (h := leases.current("scheduler")) is not None
                  and h.holder.split(":")[1] == str(survivor.pid))  # fmt: skip
            smtp.wait_for(RULES, timeout=90)
            time.sleep(12)  # two more evaluations and a dozen deliveries: nothing more comes
            subjects = Counter(str(mail["Subject"]).strip() for mail in smtp.messages)
            print(f"\n{queued_at_kill} of {RULES} notifications were queued at the kill")
            assert len(subjects) == RULES
            assert set(subjects.values()) == {1}
            assert survivor.poll() is None
        finally:
            for process in schedulers:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in schedulers:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
