"""The ``rollups:`` settings, and the rollup schema: index names, ids, documents, watermarks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from metronome.config import ConfigError, RollupGroup, settings_from_mapping
from metronome.config.rollups import DEFAULT_GROUPS
from metronome.query.rollup_schema import (
    MeasureValues,
    Watermark,
    ceil_grain,
    document_id,
    floor_grain,
    group_signature,
    rollup_document,
    rollup_index,
    rollup_indices,
    rollup_pattern,
    watermark_from,
)
from metronome.rollups.compute import bucket_document, produce_body

GROUP = RollupGroup(name="shop", dimensions=("action", "referrer.host"), measures=("price",))
HOUR = datetime(2026, 11, 1, 5, tzinfo=UTC)


def test_defaults_cover_the_built_in_streams_and_are_enabled() -> None:
    rollups = settings_from_mapping({}).rollups
    assert rollups.enabled and rollups.late_window == 7 * 86_400
    assert set(rollups.groups) == {"hits", "logs", "github", "s3", "metrics"}
    (points,) = rollups.groups_of("metrics")  # metric points: each metric's values
    assert (points.dimensions, points.measures) == (("metric",), ("value",))
    hits = {group.name: group for group in rollups.groups_of("hits")}
    assert {"event", "id", "format"} <= set(hits["items"].dimensions)
    assert "referrer.host" in hits["referrers"].dimensions
    assert hits["allezon"].measures == ("product_info.price",)
    assert rollups.groups_of("nosuch") == ()


def test_a_stream_named_replaces_its_defaults_and_keeps_the_others() -> None:
    rollups = settings_from_mapping(
        {
            "rollups": {
                "late_window": "2d",
                "late_windows": {"github": "30d"},
                "groups": {"logs": [], "hits": [{"name": "x", "dimensions": ["event"]}]},
            }
        }
    ).rollups
    assert rollups.groups_of("hits") == (RollupGroup(name="x", dimensions=("event",)),)
    assert rollups.groups_of("logs") == ()
    assert rollups.groups_of("s3") == DEFAULT_GROUPS["s3"]
    assert (rollups.late_window_of("hits"), rollups.late_window_of("github")) == (
        2 * 86_400,
        30 * 86_400,
    )


def test_disabled_rollups_have_no_groups() -> None:
    assert settings_from_mapping({"rollups": {"enabled": False}}).rollups.groups_of("hits") == ()


@pytest.mark.parametrize(
    ("rollups", "names"),
    [
        ({"groups": {"hits": [{"name": "x", "dimensions": ["site"]}]}}, "hits.0.dimensions.0"),
        ({"groups": {"hits": [{"name": "x", "measures": ["rollup.sum"]}]}}, "hits.0.measures.0"),
        ({"groups": {"hits": [{"name": "x", "dimensions": ["a", "a"]}]}}, "hits.0.dimensions: a"),
        ({"groups": {"hits": [{"name": "x", "dimensions": ["a"], "measures": ["a"]}]}},
         "rollups.groups.hits.0.measures: a cannot be a dimension and a measure"),
        ({"groups": {"hits": [{"name": "x"}, {"name": "x"}]}}, "rollups.groups.hits.1.name"),
        ({"groups": {"hits": [{"dimensions": ["a"]}]}}, "rollups.groups.hits.0.name"),
        ({"groups": {"hits": [{"name": "x", "colour": "red"}]}}, "hits.0.colour: Unknown"),
        ({"groups": {"Hits!": []}}, "rollups.groups.Hits!"),
        ({"groups": {"hits": "event"}}, "rollups.groups.hits: A list"),
        ({"late_window": "soon"}, "rollups.late_window"),
        ({"late_windows": {"hits": "soon"}}, "rollups.late_windows.hits"),
    ],
)  # fmt: skip
def test_a_wrong_rollup_setting_is_named(rollups: dict[str, object], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"rollups": rollups})
    assert names in str(caught.value)


def test_rollup_indices_are_per_grain_stream_and_utc_year() -> None:
    late = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert rollup_index("m", "hits", "hour", late) == "m-rollup.hour.hits-2027"
    assert rollup_pattern("m", "hits", "day") == "m-rollup.day.hits-*"
    start = datetime(2025, 6, 1, tzinfo=UTC)
    assert rollup_indices("m", "s3", "day", start, datetime(2027, 1, 1, tzinfo=UTC)) == (
        "m-rollup.day.s3-2025,m-rollup.day.s3-2026"
    )
    ancient = datetime(84, 2, 22, tzinfo=UTC)  # centuries: the wildcard, not 2,000 names
    assert rollup_indices("m", "hits", "day", ancient, start) == "m-rollup.day.hits-*"


def test_grain_floors_and_ceilings_are_utc() -> None:
    moment = datetime(2026, 11, 1, 1, 30, tzinfo=timezone(timedelta(hours=-4)))  # 05:30Z
    assert floor_grain(moment, "hour") == HOUR
    assert ceil_grain(moment, "hour") == HOUR + timedelta(hours=1)
    assert ceil_grain(HOUR, "hour") == HOUR
    assert floor_grain(moment, "day") == datetime(2026, 11, 1, tzinfo=UTC)


def test_ids_are_deterministic_and_differ_by_every_part() -> None:
    base = document_id(GROUP, "hour", HOUR, "shop", ["BUY", None])
    in_new_york = HOUR.astimezone(timezone(timedelta(hours=-4)))
    assert base == document_id(GROUP, "hour", in_new_york, "shop", ["BUY", None])
    others = {
        document_id(GROUP, "day", HOUR, "shop", ["BUY", None]),
        document_id(GROUP, "hour", HOUR + timedelta(hours=1), "shop", ["BUY", None]),
        document_id(GROUP, "hour", HOUR, "other", ["BUY", None]),
        document_id(GROUP, "hour", HOUR, "shop", ["BUY", "x"]),
        document_id(RollupGroup(name="other", dimensions=GROUP.dimensions), "hour", HOUR, "shop",
                    ["BUY", None]),
    }  # fmt: skip
    assert base not in others and len(others) == 5


def test_a_document_keeps_raw_field_names_and_omits_what_the_events_lack() -> None:
    identifier, document = rollup_document(
        GROUP,
        "hour",
        HOUR,
        "shop",
        values=["BUY", None],
        doc_count=3,
        measures={"price": MeasureValues(sum=7.5, min=1.25, max=5.0, count=2)},
    )
    assert document == {
        "@timestamp": "2026-11-01T05:00:00+00:00",
        "site": "shop",
        "action": "BUY",
        "_doc_count": 3,
        "rollup": {
            "group": "shop",
            "grain": "hour",
            "key": identifier,
            "sum": {"price": 7.5},
            "min": {"price": 1.25},
            "max": {"price": 5.0},
            "count": {"price": 2},
        },
    }
    _, nested = rollup_document(
        GROUP, "hour", HOUR, "shop", values=["VIEW", "a.org"], doc_count=1, measures={}
    )
    assert nested["referrer"] == {"host": "a.org"}
    assert nested["rollup"]["sum"] == {"price": 0.0} and "min" not in nested["rollup"]


def test_a_composite_bucket_becomes_its_document() -> None:
    bucket = {
        "key": {"t": int(HOUR.timestamp() * 1000), "site": "shop", "d0": "BUY", "d1": None},
        "doc_count": 2,
        "sum0": {"value": 3.0}, "min0": {"value": 1.0}, "max0": {"value": 2.0},
        "count0": {"value": 2},
    }  # fmt: skip
    identifier, document = bucket_document(GROUP, "hour", bucket)
    assert identifier == document_id(GROUP, "hour", HOUR, "shop", ["BUY", None])
    assert document["_doc_count"] == 2 and document["rollup"]["max"] == {"price": 2.0}
    body = produce_body(GROUP, "day", HOUR, HOUR + timedelta(days=1))
    sources = body["aggs"]["buckets"]["composite"]["sources"]
    assert [next(iter(s)) for s in sources] == ["t", "site", "d0", "d1"]
    assert sources[3]["d1"]["terms"] == {"field": "referrer.host", "missing_bucket": True}


def test_a_watermark_reads_back_and_speaks_only_for_the_groups_it_names() -> None:
    through = datetime(2026, 11, 3, 7, tzinfo=UTC)
    source = {
        "stream": "hits",
        "grain": "hour",
        "complete_through": through.isoformat(),
        "complete_from": None,
        "groups": {"shop": group_signature(GROUP)},
    }
    watermark = watermark_from(source)
    assert watermark == Watermark("hits", "hour", through, None, {"shop": group_signature(GROUP)})
    assert watermark.covers(GROUP)
    changed = RollupGroup(name="shop", dimensions=("action",), measures=("price",))
    assert not watermark.covers(changed)
    assert watermark_from({**source, "grain": "minute"}) is None
    assert watermark_from({**source, "complete_through": "yesterday"}) is None
