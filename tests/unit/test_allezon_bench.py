"""The Allezon benchmark's judging of answers (bench/allezon.py): a tag whose request got no
answer may be stored, so an answer that differs from the model only by such tags is told apart
from a wrong one."""

from __future__ import annotations

import json
from array import array
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.allezon import (
    TAGS_FILE,
    AllezonLoad,
    Crosscheck,
    Expected,
    LoadSpec,
    Round,
    Tally,
    Uncertain,
    compare,
    reachable,
    tag_ms,
)
from bench.allezon_model import Tag, TagShape, generate_tags

START = datetime(2022, 3, 1, tzinfo=UTC)
TAGS = generate_tags(7, 400, START, TagShape(cookies=5, jump_ms=(1, 1)))


def judge(
    kind: str,
    params: dict[str, Any],
    got: Any,
    stored: list[Tag],
    uncertain: Sequence[Tag] = (),
) -> dict[str, Any]:
    tallies = {"profile": Tally(), "aggregate": Tally()}
    meta = {"kind": kind, "params": params, "url": "/x"}
    compare(
        meta,
        got,
        expected=Expected(stored),
        model=None,
        tallies=tallies,
        crosscheck=Crosscheck(),
        uncertain=Uncertain(uncertain),
    )
    return tallies[kind].report()


def verdict(report: dict[str, Any]) -> str:
    for name in ("matched", "mismatched_unknown_outcome", "mismatched_stale", "mismatched_other"):
        if report[name]:
            return name
    raise AssertionError(report)


def profile_params(cookie: str, limit: int = 1000) -> dict[str, Any]:
    return {
        "cookie": cookie,
        "start_ms": tag_ms(TAGS[0]),
        "end_ms": tag_ms(TAGS[-1]) + 1,
        "limit": limit,
    }


def answer_over(tags: list[Tag], params: dict[str, Any]) -> dict[str, Any]:
    return Expected(tags).profile(
        params["cookie"], params["start_ms"], params["end_ms"], params["limit"]
    )


COOKIE = TAGS[-1]["cookie"]
OWN = [tag for tag in TAGS if tag["cookie"] == COOKIE and tag["action"] == "VIEW"]
NEWEST = OWN[-1]  # the cookie's newest VIEW: its request timed out
STORED = [tag for tag in TAGS if tag is not NEWEST]


def test_a_profile_holding_a_timed_out_tag_is_explained_not_wrong() -> None:
    params = profile_params(COOKIE)
    got = answer_over(TAGS, params)  # the service stored the tag whose answer was lost
    assert got != answer_over(STORED, params)
    assert verdict(judge("profile", params, got, STORED, [NEWEST])) == (
        "mismatched_unknown_outcome"
    )
    assert verdict(judge("profile", params, got, STORED)) == "mismatched_other"
    # Not stored after all: an exact match.
    assert verdict(judge("profile", params, answer_over(STORED, params), STORED, [NEWEST])) == (
        "matched"
    )


def test_a_timed_out_tag_may_push_an_older_one_out_of_the_limit() -> None:
    params = profile_params(COOKIE, limit=3)
    got = answer_over(TAGS, params)
    assert got["views"][0] == NEWEST
    report = judge("profile", params, got, STORED, [NEWEST])
    assert verdict(report) == "mismatched_unknown_outcome"
    assert report["correct_pct"] == 100.0
    assert report["match_pct"] == 0.0


def test_a_tag_resent_after_a_lost_answer_may_be_stored_twice() -> None:
    params = profile_params(COOKIE)
    want = answer_over(TAGS, params)
    twice = {**want, "views": [want["views"][0], *want["views"]]}
    assert verdict(judge("profile", params, twice, TAGS, [want["views"][0]])) == (
        "mismatched_unknown_outcome"
    )
    assert verdict(judge("profile", params, twice, TAGS)) == "mismatched_other"


def test_other_differences_stay_wrong_or_stale() -> None:
    params = profile_params(COOKIE)
    want = answer_over(STORED, params)
    foreign = next(tag for tag in TAGS if tag["cookie"] != COOKIE)
    bad = {**want, "views": [foreign, *want["views"]]}
    assert verdict(judge("profile", params, bad, STORED, [NEWEST, foreign])) == "mismatched_other"
    reordered = {**want, "views": want["views"][::-1]}
    assert verdict(judge("profile", params, reordered, STORED, [NEWEST])) == "mismatched_other"
    # Lacking a 204'd tag is stale, even beside a tag of unknown outcome.
    lacking = answer_over(TAGS, params)
    lacking["views"] = [lacking["views"][0], *lacking["views"][2:]]
    assert verdict(judge("profile", params, lacking, STORED, [NEWEST])) == "mismatched_stale"


def aggregate_params(tag: Tag, aggregates: list[str]) -> dict[str, Any]:
    minute = tag_ms(tag) - tag_ms(tag) % 60_000
    return {
        "start_ms": minute,
        "end_ms": minute + 120_000,
        "action": tag["action"],
        "filters": [("origin", tag["origin"])],
        "aggregates": aggregates,
    }


def test_aggregates_may_count_the_tags_of_unknown_outcome() -> None:
    lost = TAGS[-1]
    stored = TAGS[:-1]
    params = aggregate_params(lost, ["COUNT", "SUM_PRICE"])
    expected_all = Expected(TAGS)
    got = expected_all.answer("aggregate", params)
    assert got != Expected(stored).answer("aggregate", params)
    assert verdict(judge("aggregate", params, got, stored, [lost])) == (
        "mismatched_unknown_outcome"
    )
    assert verdict(judge("aggregate", params, got, stored)) == "mismatched_other"
    # A sum that no subset of the unknown tags gives is wrong.
    row = next(row for row in got["rows"] if row[-2] != "0")
    row[-1] = str(int(row[-1]) + 1)
    assert verdict(judge("aggregate", params, got, stored, [lost])) == "mismatched_other"


def test_reachable_counts_and_sums() -> None:
    assert reachable([5, 7, 9], 2, 16)
    assert not reachable([5, 7, 9], 2, 13)
    assert reachable([5, 7, 9], None, 21)
    assert reachable([5, 7, 9], 3, None)
    assert not reachable([5, 7, 9], 4, None)
    assert not reachable([5], 0, 5)
    assert reachable([], 0, 0)
    assert reachable([-3, 4], 2, 1)
    assert not reachable([-3, 4], 1, 1)
    # A whole load generator's connections timing out in one minute: 64 tags, 61 stored.
    prices = [(number * 7919) % 5000 + 1 for number in range(64)]
    assert reachable(prices, 61, sum(prices[3:]))
    assert not reachable(prices, 61, sum(prices) + 1)


def test_a_round_knows_which_tags_may_be_stored() -> None:
    plan = Round("r", 1.0, 1.0, 0.0, 1, START, tags=TAGS[:6])
    plan.statuses = array("H", [204, 0, 422, 500, 503])  # the sixth tag was never sent
    plan.unsure = array("B", [1, 1, 0, 0, 0])  # a resend of the first; no answer to the second
    assert plan.accepted == [TAGS[0]]
    assert plan.uncertain == [TAGS[0], TAGS[1], TAGS[3]]


def test_the_load_generator_counts_attempts_without_an_answer(tmp_path: Path) -> None:
    (tmp_path / TAGS_FILE).write_text("".join(json.dumps(tag) + "\n" for tag in TAGS[:3]))
    spec = LoadSpec(
        port=1,
        folder=str(tmp_path),
        rates={"tags": 1.0},
        connections={"tags": 1},
        duration=1.0,
        warmup=0.0,
        seed=1,
    )
    load = AllezonLoad(spec)
    try:
        load._settle(0, 204, 1.0)
        load._settle(1, 0, 2.0)  # timed out or the connection closed: no answer
        load._settle(2, 422, 3.0)
    finally:
        load.answers.close()
    assert list(load.unsure) == [0, 1, 0]
    assert list(load.statuses) == [204, 0, 422]
    assert load.watermark(3.0) == 3
