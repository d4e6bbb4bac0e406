"""Run many ``Query`` objects together: one Elasticsearch ``_msearch`` per round.

A dashboard asks a dozen questions at once. Sent one by one, each costs a round trip and a
search of its own; here every query's first page (and its comparison range's) goes out in one
multi-search, and only the breakdowns with more pages than one answer holds need further rounds
(all of them together again), as do the rows of a top-N question (``metronome.query.topn``):
its first search names the candidate groups, the next round reads them (and their comparison).
The answers are read by the same pure functions as ``run_query``'s (``runner.read_response``,
``runner.top_outcome``), so each outcome equals what ``POST /api/v1/query`` answers for the
same query.

A query Elasticsearch refuses fails alone: its slot holds the ``ApiError`` the single query
would have raised (422 for a refused query, 503 for a shard that is not there), and the others
are answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import BadRequestError, Elasticsearch, TransportError

from metronome.config.rollups import RollupSettings
from metronome.errors import ApiError
from metronome.es.naming import indices_for_range, stream_pattern
from metronome.query import builder, planner, topn
from metronome.query.model import Query, TimeRange
from metronome.query.reads import (
    call_elasticsearch,
    check_shards,
    error_reason,
    refusal,
    store_unavailable,
)
from metronome.query.runner import (
    Outcome,
    Row,
    align,
    check_row_count,
    complete_rows,
    order_rows,
    planned_outcome,
    read_response,
    request_body,
    top_outcome,
    top_rows,
)

log = logging.getLogger(__name__)
MAX_SEARCHES_PER_REQUEST = 100
SHARD_RETRIES = 3


@dataclass
class _Part:
    """One range (main or compared) of one query, read page after page."""

    slot: int
    query: Query
    time_range: TimeRange
    rows: list[Row] = field(default_factory=list)
    after: dict[str, Any] | None = None
    done: bool = False
    attempts: int = 0
    top: bool = False  # the first search of a top-N question: its candidate groups
    answer: topn.TopAnswer | None = None
    rows_of: _Part | None = None  # a range of a top-N question: that part's candidates only
    main: _Part | None = None  # of a top-N question's first search: the main range's part

    @property
    def ready(self) -> bool:
        return self.rows_of is None or self.rows_of.done

    def search(self, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
        index = indices_for_range(
            prefix, self.query.stream, self.time_range.start, self.time_range.end
        )
        header = {"index": index, "ignore_unavailable": True, "allow_no_indices": True}
        if self.top:
            return header, topn.top_body(self.query, self.time_range)
        body = request_body(self.query, self.time_range, self.after)
        if self.rows_of is not None and self.rows_of.answer is not None:
            body = topn.restrict(body, self.query, self.rows_of.answer.keys)
        return header, body


def run_queries(
    client: Elasticsearch,
    prefix: str,
    queries: Sequence[Query],
    rollups: RollupSettings | None = None,
) -> list[Outcome | ApiError]:
    """The outcome of every query, in order, or the error that query alone met. Raises only
    when Elasticsearch cannot be reached at all (503). A query the planner answers from
    rollups (``rollups`` given) is read on its own, after the others."""
    errors: dict[int, ApiError] = {}
    plans = _plans(client, prefix, queries, rollups)
    tops = {
        slot: _Part(slot, query, query.range, top=True)
        for slot, query in enumerate(queries)
        if topn.uses_top_n(query)
    }
    mains = {
        slot: _Part(slot, query, query.range, rows_of=tops.get(slot))
        for slot, query in enumerate(queries)
        if slot not in plans
    }
    for first in tops.values():
        first.main = mains[first.slot]
    compares = {
        slot: _Part(slot, query, query.compare.range, rows_of=tops.get(slot))
        for slot, query in enumerate(queries)
        if query.compare is not None and slot not in plans
    }
    parts = [*tops.values(), *mains.values(), *compares.values()]
    freshness = _Freshness(prefix, queries)
    first_round = True
    while True:
        pending = [p for p in parts if not p.done and p.slot not in errors and p.ready]
        extra = freshness.searches(first_round)
        if not pending and not extra:
            break
        searches = [s for part in pending for s in part.search(prefix)]
        answers = _msearch(client, [*searches, *(s for pair in extra for s in pair)])
        for part, answer in zip(pending, answers, strict=False):
            _read(part, answer, errors)
        freshness.read(answers[len(pending) :])
        first_round = False
    outcomes: list[Outcome | ApiError] = []
    for slot, query in enumerate(queries):
        if slot in errors:
            outcomes.append(errors[slot])
            continue
        if slot in plans:
            outcomes.append(_planned(client, prefix, query, plans[slot], freshness))
            continue
        rows = complete_rows(query, query.range, mains[slot].rows)
        previous = None
        if slot in compares:
            previous = complete_rows(query, compares[slot].time_range, compares[slot].rows)
        top = tops[slot].answer if slot in tops else None
        if top is not None:
            outcomes.append(top_outcome(query, top, rows, previous, freshness.latest(query.stream)))
            continue
        if previous is not None:
            rows = align(query, rows, previous)
        outcomes.append(Outcome(order_rows(query, rows), freshness.latest(query.stream)))
    return outcomes


def _plans(
    client: Elasticsearch, prefix: str, queries: Sequence[Query], rollups: RollupSettings | None
) -> dict[int, tuple[planner.Plan, planner.Plan | None]]:
    """The queries answered (in part) from rollups, by slot, with their plans."""
    plans: dict[int, tuple[planner.Plan, planner.Plan | None]] = {}
    known: planner.Watermarks = {}
    for slot, query in enumerate(queries):
        if topn.uses_top_n(query):
            continue
        found = planner.plans_for(client, prefix, query, rollups, known)
        if found is not None:
            plans[slot] = found
    return plans


def _planned(
    client: Elasticsearch,
    prefix: str,
    query: Query,
    plans: tuple[planner.Plan, planner.Plan | None],
    freshness: _Freshness,
) -> Outcome | ApiError:
    latest = freshness.latest(query.stream)
    try:
        return call_elasticsearch(lambda: planned_outcome(client, prefix, query, plans, latest))
    except ApiError as error:
        return error


def _read(part: _Part, answer: dict[str, Any], errors: dict[int, ApiError]) -> None:
    status = answer.get("status", 200) if "error" in answer else 200
    if status == 400:
        reason = error_reason(answer.get("error"))
        log.info("Elasticsearch refused a query: %s", reason)
        errors[part.slot] = refusal(reason)
        return
    if status >= 300:
        part.attempts += 1
        if status == 503 and part.attempts <= SHARD_RETRIES:
            time.sleep(0.2 * part.attempts)  # a daily index just created has no shard yet
            return
        errors[part.slot] = store_unavailable()
        return
    try:
        check_shards(answer)
    except ApiError as error:
        errors[part.slot] = error
        return
    if part.top:
        part.answer = topn.read_top(part.query, answer)
        part.done = True
        if part.main is not None and (rows := top_rows(part.query, part.answer)) is not None:
            part.main.rows, part.main.done = rows, True  # no second search for the main range
        return
    rows, part.after = read_response(part.query, answer)
    part.rows.extend(rows)
    part.done = part.after is None
    try:
        check_row_count(part.rows)
    except ApiError as error:
        errors[part.slot] = error


def _msearch(client: Elasticsearch, searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    step = MAX_SEARCHES_PER_REQUEST * 2  # header and body lines
    for start in range(0, len(searches), step):
        answers.extend(_one_msearch(client, searches[start : start + step]))
    return answers


def _one_msearch(client: Elasticsearch, searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answers of one multi-search. Elasticsearch refuses a whole multi-search when one of
    its searches does not parse (a time zone its Java runtime lacks): each search is then sent
    alone, so that only the one it cannot parse fails."""
    try:
        response = call_elasticsearch(lambda: client.msearch(searches=searches).body)
    except ApiError as error:
        if error.status != 422 or len(searches) <= 2:
            raise
        return [
            answer
            for start in range(0, len(searches), 2)
            for answer in _alone(client, searches[start : start + 2])
        ]
    return list(response["responses"])


def _alone(client: Elasticsearch, search: list[dict[str, Any]]) -> list[dict[str, Any]]:
    try:
        return list(client.msearch(searches=search).body["responses"])
    except BadRequestError as error:
        body = error.body if isinstance(error.body, dict) else {}
        return [{"status": 400, "error": body.get("error", {})}]
    except (EsApiError, TransportError) as error:
        log.warning("Elasticsearch failed a read: %r", error)
        return [{"status": 503, "error": {}}]


class _Freshness:
    """When each stream's newest data for the site arrived, as ``runner.latest_received``
    finds it: yesterday's and today's indices first, every index only when they have none."""

    def __init__(self, prefix: str, queries: Sequence[Query]) -> None:
        self.prefix = prefix
        self.site = queries[0].site if queries else ""
        self.streams = sorted({query.stream for query in queries})
        self.found: dict[str, str | None] = {}
        self.asked: list[str] = []
        self.wide = False

    def searches(self, first_round: bool) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        body = builder.freshness_body(self.site)
        if first_round:
            now = datetime.now(UTC)
            self.asked = list(self.streams)
            return [
                (self._header(indices_for_range(self.prefix, stream, now - timedelta(days=1),
                                                now + timedelta(days=1))), body)
                for stream in self.asked
            ]  # fmt: skip
        if self.wide:
            self.asked = []
            return []
        self.wide = True
        self.asked = [stream for stream in self.streams if self.found.get(stream) is None]
        return [(self._header(stream_pattern(self.prefix, s)), body) for s in self.asked]

    def read(self, answers: Sequence[dict[str, Any]]) -> None:
        for stream, answer in zip(self.asked, answers, strict=False):
            value = answer.get("aggregations", {}).get("latest_received", {})
            latest = value.get("value_as_string")
            if latest:
                self.found[stream] = str(latest)
        self.asked = []

    def latest(self, stream: str) -> str | None:
        return self.found.get(stream)

    @staticmethod
    def _header(index: str) -> dict[str, Any]:
        return {"index": index, "ignore_unavailable": True, "allow_no_indices": True}
