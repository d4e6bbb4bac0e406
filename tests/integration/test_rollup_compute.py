"""``rollup_range`` against the real Elasticsearch: rollups equal the raw events they come from;
a second run changes nothing; a late (or deleted) event changes exactly its bucket."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from metronome.config import RollupGroup
from metronome.es.templates import install_templates
from metronome.query.rollup_schema import Grain, floor_grain
from metronome.rollups.compute import RollupWrite, _hours_cheaper, _Slice, rollup_range
from tests.rollup_data import hits, remove, store, stored_rollups

START = datetime(2026, 10, 30, tzinfo=UTC)
END = datetime(2026, 11, 2, tzinfo=UTC)
GROUP = RollupGroup(
    name="pages",
    dimensions=("event", "format", "bot", "referrer.host"),
    measures=("product_info.price",),
)


def expected(documents: list[dict[str, Any]], grain: Grain) -> dict[tuple[Any, ...], list[Any]]:
    """What each bucket must hold, computed here from the documents: count, sum, min, max, n."""
    buckets: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, 0.0, None, None, 0])
    for document in documents:
        moment = floor_grain(datetime.fromisoformat(document["@timestamp"]), grain)
        key = (moment.isoformat(), document["site"], document.get("event"),
               document.get("format"), document["bot"],
               document.get("referrer", {}).get("host"))  # fmt: skip
        bucket = buckets[key]
        bucket[0] += 1
        price = document.get("product_info", {}).get("price")
        if price is not None:
            bucket[1] += price
            bucket[2] = price if bucket[2] is None else min(bucket[2], price)
            bucket[3] = price if bucket[3] is None else max(bucket[3], price)
            bucket[4] += 1
    return dict(buckets)


def found(
    es: Elasticsearch, prefix: str, grain: Grain | None = None
) -> dict[tuple[Any, ...], list[Any]]:
    buckets = {}
    for stored in stored_rollups(es, prefix).values():
        source = stored["_source"]
        rollup = source["rollup"]
        if (grain is not None and rollup["grain"] != grain) or rollup["group"] != GROUP.name:
            continue
        key = (datetime.fromisoformat(source["@timestamp"]).isoformat(), source["site"],
               source.get("event"), source.get("format"), source["bot"],
               source.get("referrer", {}).get("host"))  # fmt: skip
        buckets[key] = [
            source["_doc_count"],
            rollup["sum"]["product_info"]["price"],
            rollup.get("min", {}).get("product_info", {}).get("price"),
            rollup.get("max", {}).get("product_info", {}).get("price"),
            rollup["count"]["product_info"]["price"],
        ]
    return buckets


@pytest.mark.parametrize("grain", ["hour", "day"])
def test_rollups_equal_the_raw_events_and_a_second_run_changes_nothing(
    es: Elasticsearch, index_prefix: str, grain: Grain
) -> None:
    install_templates(es, index_prefix)
    documents = hits(300, START, END - START, seed=7)
    outside = hits(5, END, timedelta(hours=5), seed=8)  # after the range: not rolled up
    store(es, index_prefix, "hits", documents + outside)
    first = rollup_range(es, index_prefix, "hits", GROUP, grain, START, END)
    want = expected(documents, grain)
    assert found(es, index_prefix) == want
    assert first == RollupWrite(documents=len(want), written=len(want), deleted=0)
    before = stored_rollups(es, index_prefix)
    again = rollup_range(es, index_prefix, "hits", GROUP, grain, START, END)
    assert again == RollupWrite(documents=len(want), written=0, deleted=0)
    assert stored_rollups(es, index_prefix) == before  # not even rewritten (same _seq_no)
    mapping = es.indices.get_mapping(index=f"{index_prefix}-rollup.{grain}.hits-2026").body
    properties = next(iter(mapping.values()))["mappings"]["properties"]
    assert properties["bot"]["type"] == "boolean"
    assert properties["referrer"]["properties"]["host"]["type"] == "keyword"


def test_a_late_event_and_a_deleted_one_change_exactly_their_buckets(
    es: Elasticsearch, index_prefix: str
) -> None:
    install_templates(es, index_prefix)
    documents = hits(200, START, END - START, seed=11)
    store(es, index_prefix, "hits", documents)
    rollup_range(es, index_prefix, "hits", GROUP, "hour", START, END)
    before = stored_rollups(es, index_prefix)
    # A late copy of an event whose bucket exists (that bucket changes), and the only event of
    # a bucket deleted (that bucket goes).
    counts = expected(documents, "hour")
    late_of = next(d for d in documents if counts[_key(d)][0] > 1)
    late = {**late_of, "_id": "late-1"}
    alone = next(d for d in documents if counts[_key(d)][0] == 1 and d is not late_of)
    store(es, index_prefix, "hits", [late])
    remove(es, index_prefix, "hits", alone)
    changed = rollup_range(es, index_prefix, "hits", GROUP, "hour", START, END)
    assert changed == RollupWrite(documents=len(counts) - 1, written=1, deleted=1)
    after = stored_rollups(es, index_prefix)
    remaining = [d for d in documents if d is not alone] + [late]
    assert found(es, index_prefix) == expected(remaining, "hour")
    differing = {i for i in before.keys() | after.keys() if before.get(i) != after.get(i)}
    assert len(differing) == 2  # the late event's bucket, and the deleted one's
    for _ in range(3):  # however often it runs again: nothing more
        assert rollup_range(es, index_prefix, "hits", GROUP, "hour", START, END).written == 0
    assert stored_rollups(es, index_prefix) == after


def test_days_summed_from_the_hour_rollups_are_the_days_the_raw_events_make(
    es: Elasticsearch, index_prefix: str
) -> None:
    install_templates(es, index_prefix)
    documents = hits(300, START, END - START, seed=9)
    store(es, index_prefix, "hits", documents)
    rollup_range(es, index_prefix, "hits", GROUP, "hour", START, END)
    from_raw = rollup_range(es, index_prefix, "hits", GROUP, "day", START, END)
    before = stored_rollups(es, index_prefix)
    from_hours = rollup_range(
        es, index_prefix, "hits", GROUP, "day", START, END, day_source="hours"
    )
    # the very documents the raw events made: none rewritten
    assert from_hours == RollupWrite(documents=from_raw.documents, written=0, deleted=0)
    assert stored_rollups(es, index_prefix) == before
    # a late event and a deleted one: the hours, then the days summed from them, follow
    counts = expected(documents, "hour")
    alone = next(d for d in documents if counts[_key(d)][0] == 1)
    late = {**documents[0], "_id": "late-2"}
    store(es, index_prefix, "hits", [late])
    remove(es, index_prefix, "hits", alone)
    rollup_range(es, index_prefix, "hits", GROUP, "hour", START, END)
    rollup_range(es, index_prefix, "hits", GROUP, "day", START, END, day_source="hours")
    remaining = [d for d in documents if d is not alone] + [late]
    assert found(es, index_prefix, "day") == expected(remaining, "day")
    assert found(es, index_prefix, "hour") == expected(remaining, "hour")
    with pytest.raises(ValueError, match="only day buckets"):
        rollup_range(es, index_prefix, "hits", GROUP, "hour", START, END, day_source="hours")


def test_days_are_summed_from_hours_only_where_the_hours_are_much_fewer_than_the_events(
    es: Elasticsearch, index_prefix: str
) -> None:
    install_templates(es, index_prefix)
    documents = hits(4000, START, timedelta(days=1), seed=3)
    store(es, index_prefix, "hits", documents)
    few = RollupGroup(name="events", dimensions=("event",))  # a few hour documents
    for group in (few, GROUP):
        rollup_range(es, index_prefix, "hits", group, "hour", START, END)
    day = (index_prefix, "hits", "day", START, START + timedelta(days=1))
    assert _hours_cheaper(es, _Slice(day[0], day[1], few, "day", day[3], day[4]))
    # the four dimensions make nearly a document per event: the raw events are read
    assert not _hours_cheaper(es, _Slice(day[0], day[1], GROUP, "day", day[3], day[4]))
    for group in (few, GROUP):
        cheaper = rollup_range(es, index_prefix, "hits", group, "day", START, END,
                               day_source="cheaper")  # fmt: skip
        assert cheaper.written == cheaper.documents > 0
    assert found(es, index_prefix, "day") == expected(documents, "day")
    by_event: dict[Any, int] = defaultdict(int)
    for stored in stored_rollups(es, index_prefix).values():
        source = stored["_source"]
        if (source["rollup"]["group"], source["rollup"]["grain"]) == ("events", "day"):
            by_event[(source["site"], source.get("event"))] += source["_doc_count"]
    assert by_event == Counter((d["site"], d.get("event")) for d in documents)


def test_a_range_must_start_and_end_on_its_grain(es: Elasticsearch, index_prefix: str) -> None:
    with pytest.raises(ValueError, match="hour boundaries"):
        rollup_range(es, index_prefix, "hits", GROUP, "hour", START + timedelta(minutes=5), END)
    with pytest.raises(ValueError, match="day boundaries"):
        rollup_range(es, index_prefix, "hits", GROUP, "day", START, END + timedelta(hours=1))


def _key(document: dict[str, Any]) -> tuple[Any, ...]:
    moment = floor_grain(datetime.fromisoformat(document["@timestamp"]), "hour")
    return (moment.isoformat(), document["site"], document.get("event"), document.get("format"),
            document["bot"], document.get("referrer", {}).get("host"))  # fmt: skip
