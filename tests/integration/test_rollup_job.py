"""The rollup job against a real Elasticsearch, on a clock the test moves: a late hit inside
the late-data window is counted after one run and ten more runs write nothing; a hit older
than the window is not rolled up by the job, the watermark stays before it until a back-fill
repairs it; the back-fill resumes and reports its progress; ``metronome rollups status``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import CliRunner
from elasticsearch import Elasticsearch

from metronome.cli import cli
from metronome.config.rollups import RollupGroup, RollupSettings
from metronome.es.templates import install_templates
from metronome.query.rollup_schema import read_watermarks
from metronome.rollups.backfill import backfill_stream
from metronome.rollups.store import RollupService, rollup_service
from tests.rollup_job_data import hit, model, rolled, rollup_versions, store

ITEMS = RollupGroup(name="items", dimensions=("event", "id"))
NOW = datetime(2026, 11, 10, 12, 20, tzinfo=UTC)
SETTINGS = RollupSettings(groups={"hits": (ITEMS,)}, late_window=7 * 86_400.0)


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.now = moment

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 60) -> None:
        self.now += timedelta(seconds=seconds)


def service(es: Elasticsearch, prefix: str, clock: Clock) -> RollupService:
    install_templates(es, prefix)
    return rollup_service(es, prefix, SETTINGS, clock=clock)


def history() -> list[dict[str, Any]]:
    """Hits over the three days before NOW, received as they happened."""
    return [
        hit(NOW - timedelta(hours=n, minutes=7 * n % 60), event=("view", "download")[n % 2],
            id=f"item-{n % 3}", site=("default", "shop")[n % 5 == 0])
        for n in range(72)
    ]  # fmt: skip


def settled(clock: Clock) -> datetime:
    """What a run at the clock's time has completed: the buckets ending before its frontier."""
    return clock.now - timedelta(seconds=SETTINGS.settle)


def assert_equal_to_raw(
    es: Elasticsearch, prefix: str, documents: list[dict[str, Any]], clock: Clock
) -> None:
    for grain in ("hour", "day"):
        before = settled(clock)
        assert rolled(es, prefix, "items", grain, before) == model(documents, grain, before)


def test_a_late_hit_is_counted_after_one_run_and_more_runs_change_nothing(
    es: Elasticsearch, index_prefix: str
) -> None:
    clock = Clock(NOW)
    rollups = service(es, index_prefix, clock)
    documents = history()
    store(es, index_prefix, documents)
    (first,) = rollups.job.run()
    assert first.error is None and first.written > 0
    assert_equal_to_raw(es, index_prefix, documents, clock)

    # Received five days ago, stored only now (a spool that could not ship meanwhile).
    moment = NOW - timedelta(days=5, minutes=40)
    late = hit(moment, received=moment + timedelta(seconds=1), id="item-late")
    store(es, index_prefix, [late])
    documents.append(late)
    before = rollup_versions(es, index_prefix)
    clock.tick()
    (second,) = rollups.job.run()  # one run, the sweep not due
    assert second.error is None and not second.swept
    assert_equal_to_raw(es, index_prefix, documents, clock)
    after = rollup_versions(es, index_prefix)
    changed = {name for name in after if before.get(name) != after[name]}
    assert len(changed) == 2  # the late hit's hour and day documents (a new id each)

    for _ in range(10):
        clock.tick()
        (again,) = rollups.job.run(sweep=True)
        assert (again.error, again.written, again.deleted) == (None, 0, 0)
    assert rollup_versions(es, index_prefix) == after
    assert_equal_to_raw(es, index_prefix, documents, clock)

    # Current within a minute: a run rollups.settle after an hour ends completes that hour.
    hour_end = NOW.replace(minute=0) + timedelta(hours=1)
    clock.now = hour_end + timedelta(seconds=SETTINGS.settle)
    rollups.job.run()
    assert read_watermarks(es, index_prefix, "hits")["hour"].complete_through == hour_end
    assert_equal_to_raw(es, index_prefix, documents, clock)
    assert SETTINGS.settle + SETTINGS.interval <= 60

    # A raw document deleted: nothing says its hour, so the next run sweeps the window.
    (found,) = es.search(index=f"{index_prefix}-hits-*", query={"term": {"id": "item-late"}})[
        "hits"
    ]["hits"]
    es.delete(index=found["_index"], id=found["_id"], refresh=True)
    documents.remove(late)
    clock.tick()
    (swept,) = rollups.job.run()
    assert swept.swept and swept.removed == 1 and swept.deleted == 2
    assert_equal_to_raw(es, index_prefix, documents, clock)


def test_a_hit_older_than_the_window_is_not_rolled_up_and_the_watermark_stays_before_it(
    es: Elasticsearch, index_prefix: str
) -> None:
    clock = Clock(NOW)
    rollups = service(es, index_prefix, clock)
    old_day = datetime(2026, 10, 20, tzinfo=UTC)  # three weeks back: long out of the window
    documents = [*history(), hit(old_day + timedelta(hours=3), id="old")]
    store(es, index_prefix, documents)
    (plan,) = rollups.plans
    said: list[str] = []
    result = backfill_stream(
        es, rollups.rollups, rollups.store, plan,
        start=old_day, end=NOW.replace(hour=0, minute=0) + timedelta(days=1),
        say=said.append, now=clock.now,
    )  # fmt: skip
    assert result.days == 5 and not result.stopped  # the old day and the history's four
    assert said[0] == (
        "hits: 5 days with events to roll up, 2026-10-20 to 2026-11-10: 1 group, hourly and daily"
    )
    assert said[-1].startswith("hits: 5/5 days (through 2026-11-10), 100 %, ")
    assert "days/s, elapsed 0:00:0" in said[-1] and said[-1].endswith("about 0:00:00 left")
    rollups.job.run()
    through = read_watermarks(es, index_prefix, "hits")["hour"]
    assert through.complete_from == old_day
    assert through.complete_through == NOW.replace(minute=0)
    assert_equal_to_raw(es, index_prefix, documents, clock)

    very_late = hit(old_day + timedelta(hours=5), received=clock.now, id="very-late")
    store(es, index_prefix, [very_late])
    clock.tick()
    (run,) = rollups.job.run(sweep=True)
    stale = (old_day + timedelta(hours=5), old_day + timedelta(hours=6))
    assert run.stale == [stale]
    assert_equal_to_raw(es, index_prefix, documents, clock)  # not rolled up: the raw has one more
    marks = read_watermarks(es, index_prefix, "hits")
    assert marks["hour"].complete_through == stale[0]  # no exact answer is claimed past it
    assert marks["day"].complete_through == old_day
    assert rollups.store.read("hits").stale == (stale,)

    # The back-fill of that day repairs it; the next run moves the watermark on again.
    documents.append(very_late)
    backfill_stream(
        es, rollups.rollups, rollups.store, plan,
        start=old_day, end=old_day + timedelta(days=1), say=said.append, now=clock.now,
    )  # fmt: skip
    clock.tick()
    rollups.job.run()
    assert rollups.store.read("hits").stale == ()
    assert read_watermarks(es, index_prefix, "hits")["hour"].complete_through == NOW.replace(
        minute=0
    )
    assert_equal_to_raw(es, index_prefix, documents, clock)


def test_backfill_resumes_after_an_interruption_and_status_tells_how_far_rollups_are(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Any
) -> None:
    install_templates(es, index_prefix)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    documents = [hit(today - timedelta(days=n, hours=-2), id=f"d{n}") for n in range(1, 6)]
    store(es, index_prefix, documents)
    config = tmp_path / "metronome.yml"
    config.write_text(json.dumps(_raw_config(es_url, index_prefix)))
    invoke: Callable[..., Any] = CliRunner().invoke
    first = today - timedelta(days=5)
    third = today - timedelta(days=3)
    args = ["--config", str(config), "rollups", "backfill", "--stream", "hits",
            "--from", f"{first:%Y-%m-%d}", "--to", f"{third:%Y-%m-%d}"]  # fmt: skip
    done = invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert f"hits: 3/3 days (through {third:%Y-%m-%d}), 100 %" in done.output
    assert "back-filled 3 days" in done.output
    # An interrupted run of a longer range: the same command resumes after the last day done.
    state_index = f"{index_prefix}-rollup-state"
    body = es.get(index=state_index, id="backfill:hits")["_source"]
    body.update(to=(today + timedelta(days=1)).isoformat(), finished=False)
    es.index(index=state_index, id="backfill:hits", document=body, refresh=True)
    longer = [*args[:-2], "--to", f"{today:%Y-%m-%d}"]
    resumed = invoke(cli, longer)
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming after {today - timedelta(days=2):%Y-%m-%d} (3 days done)" in resumed.output
    assert "hits: 2/2 days" in resumed.output

    ran = invoke(cli, ["--config", str(config), "rollups", "run"])
    assert ran.exit_code == 0, ran.output
    status = invoke(cli, ["--config", str(config), "rollups", "status", "--json"])
    assert status.exit_code == 0, status.output
    (hits,) = json.loads(status.output)["streams"]
    hour, day = hits["grains"]
    assert hour["grain"] == "hour" and hour["documents"] == 5
    assert day["documents"] == 5
    assert hour["complete_from"] == first.isoformat()
    assert 0 <= hour["lag_seconds"] < 3700
    text = invoke(cli, ["--config", str(config), "rollups", "status"])
    assert text.exit_code == 0 and "hits       hour" in text.output, text.output
    unknown = invoke(cli, ["--config", str(config), "rollups", "status", "--stream", "nope"])
    assert unknown.exit_code == 2 and "'nope' has no rollup groups" in unknown.output


def _raw_config(es_url: str, index_prefix: str) -> dict[str, Any]:
    return {
        "elasticsearch": {"url": es_url, "index_prefix": index_prefix},
        "spool": {"dir": "/nonexistent/spool"},
        "logs": {"forward": {"enabled": False}},
        "rollups": {"groups": {"hits": [{"name": "items", "dimensions": ["event", "id"]}],
                               "logs": [], "github": [], "s3": [], "metrics": []}},
    }  # fmt: skip
