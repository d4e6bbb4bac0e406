"""The shipper against the real Elasticsearch: exactly once, dead letters, retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from metronome.config import Settings, ShipperSettings
from metronome.es.retry import Retry
from metronome.es.templates import install_templates
from metronome.spool.deadletters import STORED_FIELDS, DeadLetter, DeadLetterStore
from metronome.spool.entry import Entry, encode_entry
from metronome.spool.reader import list_segments
from metronome.spool.shipper import Shipper, ShipperAlreadyRunning
from metronome.spool.writer import SpoolWriter
from tests.conftest import free_port


def spool_entries(spool_dir: Path, entries: list[Entry], close: bool = True) -> SpoolWriter:
    writer = SpoolWriter(spool_dir, segment_bytes=2048, max_bytes=10_000_000)
    for entry in entries:  # one append each, so segments rotate at segment_bytes
        writer.append([encode_entry(entry)])
    if close:
        writer.close()
    return writer


def hit(number: int, **fields: Any) -> Entry:
    doc = {"@timestamp": "2026-11-20T10:00:00.000Z", "type": "hits", "site": "default"}
    return Entry(stream="hits", id=f"h{number}", doc={**doc, "id": f"item-{number}", **fields})


def count(es: Elasticsearch, prefix: str) -> int:
    es.indices.refresh(index=f"{prefix}-hits-*", allow_no_indices=True)
    return int(es.count(index=f"{prefix}-hits-*", allow_no_indices=True)["count"])


@pytest.fixture
def prefix(settings: Settings, es: Elasticsearch) -> str:
    install_templates(es, settings.elasticsearch.index_prefix)
    return settings.elasticsearch.index_prefix


def test_everything_spooled_is_indexed_once_and_sealed_segments_are_removed(
    settings: Settings, es: Elasticsearch, prefix: str
) -> None:
    spool_entries(settings.spool.dir, [hit(n) for n in range(120)])
    assert len(list_segments(settings.spool.dir)) > 1
    shipper = Shipper(settings.spool.dir, es, prefix, ShipperSettings(batch_docs=25))
    shipped = 0
    while handled := shipper.run_once():
        shipped += handled
    assert shipped == 120
    assert count(es, prefix) == 120
    assert list_segments(settings.spool.dir) == []
    document = es.get(index=f"{prefix}-hits-2026.11", id="h7")["_source"]  # hits: by month
    assert document["id"] == "item-7"


def test_shipping_the_same_records_again_stores_nothing_twice(
    settings: Settings, es: Elasticsearch, prefix: str, ship: Callable[[], int]
) -> None:
    spool_entries(settings.spool.dir, [hit(n) for n in range(10)])
    ship()
    # A crash after _bulk but before the checkpoint: the same records come again.
    spool_entries(settings.spool.dir, [hit(n) for n in range(10)])
    ship()
    assert count(es, prefix) == 10


def test_a_restarted_shipper_resumes_from_its_checkpoint(
    settings: Settings, es: Elasticsearch, prefix: str
) -> None:
    writer = spool_entries(settings.spool.dir, [hit(n) for n in range(5)], close=False)
    Shipper(settings.spool.dir, es, prefix, settings.shipper).run_once()
    writer.append([encode_entry(hit(n)) for n in range(5, 8)])
    writer.close()
    again = Shipper(settings.spool.dir, es, prefix, settings.shipper)
    assert again.run_once() == 3  # only the new records are read
    assert count(es, prefix) == 8


def move_letter(es: Elasticsearch, store: DeadLetterStore, letter: DeadLetter, at: str) -> None:
    """Rewrite a dead letter's document to another day (the cause of its refusal goes away)."""
    document = {name: getattr(letter, name) for name in STORED_FIELDS}
    document["document"] = {**letter.document, "@timestamp": at}
    es.index(index=store.index, id=letter.letter_id, document=document, refresh=True)


def test_documents_elasticsearch_refuses_become_dead_letters_and_can_be_replayed(
    settings: Settings, es: Elasticsearch, prefix: str, ship: Callable[[], int]
) -> None:
    spool_entries(settings.spool.dir, [hit(1, shape={"a": 1})])
    ship()
    # `shape` is an object in today's index now; a text value cannot be stored there.
    spool_entries(settings.spool.dir, [hit(2, shape="flat"), hit(3)])
    ship()
    assert count(es, prefix) == 2  # the valid neighbour was kept
    store = DeadLetterStore(es, prefix)
    es.indices.refresh(index=store.index)
    (letter,) = store.list()
    assert letter.doc_id == "h2"
    assert letter.target_index == f"{prefix}-hits-2026.11"
    assert letter.error_type == "document_parsing_exception"
    assert letter.document["shape"] == "flat"
    assert store.replay().still_failing == 1  # the cause is still there

    # The cause goes away (here: the letter is moved to another month); replay stores it.
    move_letter(es, store, letter, "2026-12-21T10:00:00.000Z")
    report = store.replay()
    assert (report.stored, report.still_failing) == (1, 0)
    assert store.count() == 0
    assert count(es, prefix) == 3


def test_a_replay_refused_for_a_passing_cause_is_retried_and_then_stored(
    settings: Settings, es: Elasticsearch, prefix: str, ship: Callable[[], int]
) -> None:
    spool_entries(settings.spool.dir, [hit(1, shape={"a": 1})])
    ship()
    spool_entries(settings.spool.dir, [hit(2, shape="flat")])
    ship()
    store = DeadLetterStore(es, prefix)
    es.indices.refresh(index=store.index)
    (letter,) = store.list()
    move_letter(es, store, letter, "2026-12-22T10:00:00.000Z")
    # The month's index exists but refuses writes the way a nearly full disk makes it: 429.
    target = f"{prefix}-hits-2026.12"
    es.indices.create(index=target)
    es.indices.put_settings(index=target, settings={"index.blocks.read_only_allow_delete": True})
    waits: list[float] = []

    def lift_the_block_while_waiting(seconds: float) -> None:
        waits.append(seconds)
        es.indices.put_settings(
            index=target, settings={"index.blocks.read_only_allow_delete": None}
        )

    report = store.replay(retry=Retry(cap=0.01, tries=3, sleep=lift_the_block_while_waiting))
    assert (report.stored, report.still_failing, len(waits)) == (1, 0, 1)
    assert store.count() == 0
    es.indices.refresh(index=target)
    assert es.count(index=target)["count"] == 1


def test_an_unreachable_elasticsearch_is_retried_until_it_answers(
    settings: Settings, es: Elasticsearch, prefix: str
) -> None:
    spool_entries(settings.spool.dir, [hit(n) for n in range(3)])
    dead = Elasticsearch(f"http://127.0.0.1:{free_port()}", request_timeout=0.5, max_retries=0)
    stop = threading.Event()
    blocked = Shipper(
        settings.spool.dir, dead, prefix, ShipperSettings(max_backoff=0.05), stop=stop
    )
    runner = threading.Thread(target=blocked.run_forever)
    runner.start()
    time.sleep(1.0)  # retrying all along; nothing is checkpointed
    stop.set()
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert blocked.checkpoints.get(list_segments(settings.spool.dir)[0].name) == 0
    assert Shipper(settings.spool.dir, es, prefix, settings.shipper).run_once() == 3
    assert count(es, prefix) == 3


def test_only_one_shipper_per_spool(settings: Settings, es: Elasticsearch, prefix: str) -> None:
    first = Shipper(settings.spool.dir, es, prefix, settings.shipper)
    first.acquire()
    try:
        with pytest.raises(ShipperAlreadyRunning):
            Shipper(settings.spool.dir, es, prefix, settings.shipper).acquire()
    finally:
        first.release()


def test_a_busy_writer_does_not_keep_a_quiet_writers_hits_waiting(
    settings: Settings, es: Elasticsearch, prefix: str
) -> None:
    busy = SpoolWriter(settings.spool.dir, segment_bytes=10_000_000, max_bytes=100_000_000)
    busy.append([encode_entry(hit(n)) for n in range(100)])
    quiet = SpoolWriter(settings.spool.dir, segment_bytes=10_000_000, max_bytes=100_000_000)
    quiet.append([encode_entry(hit(1000))])
    shipper = Shipper(settings.spool.dir, es, prefix, ShipperSettings(batch_docs=10))
    shipper.run_once()  # one pass: one batch of each writer's segment
    es.indices.refresh(index=f"{prefix}-hits-*")
    assert es.exists(index=f"{prefix}-hits-2026.11", id="h1000")
    assert count(es, prefix) == 11
    busy.close()
    quiet.close()


@pytest.mark.parametrize(("linger", "most_bulks"), [(0.0, None), (0.3, 6)])
def test_lingering_after_a_part_full_batch_sends_fewer_larger_bulks(
    settings: Settings, es: Elasticsearch, prefix: str, linger: float, most_bulks: int | None
) -> None:
    """Hits trickling in (one per 20 ms for 1.2 s): with ``linger`` the shipper waits for
    each next batch to fill, so a handful of ``_bulk`` requests carry them all."""
    writer = SpoolWriter(settings.spool.dir, segment_bytes=1 << 20, max_bytes=10_000_000)
    bulks: list[int] = []
    stop = threading.Event()
    shipper = Shipper(
        settings.spool.dir,
        es,
        prefix,
        ShipperSettings(poll_interval=0.01, linger=linger),
        stop=stop,
    )
    send = shipper._bulk

    def counted(actions: Any) -> Any:
        bulks.append(len(actions))
        return send(actions)

    shipper._bulk = counted  # type: ignore[method-assign]
    runner = threading.Thread(target=shipper.run_forever)
    runner.start()
    for n in range(60):
        writer.append([encode_entry(hit(n))])
        time.sleep(0.02)
    deadline = time.monotonic() + 10
    while sum(bulks) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.join(timeout=10)
    writer.close()
    assert sum(bulks) == 60
    assert count(es, prefix) == 60
    if most_bulks is None:
        assert len(bulks) > 10  # without it, each pass ships the few hits that just arrived
    else:
        assert len(bulks) <= most_bulks
