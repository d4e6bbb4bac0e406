"""``POST /tick`` and ``GET /tick.gif``, from what the request says to the durable spool: the one
core of each write endpoint. No Flask: the adapters are in ``metronome.web.views.hits``.

``ingest_tick`` (and ``ingest_pixel``) take what the request says (``IngestRequest``: its body,
the headers and query values ingest reads) and the services, and return ``Accepted`` (the
answer to give, once the documents are durably in the spool) or ``Refused`` (the ``ApiError``
to answer; nothing was appended). Every refusal of the endpoint is written here, once: the
fast handler answers accepted outcomes and hands every refusal to the Flask view, which
raises it, so errors are answered by Flask as they always were.

The flow: decode the body (budgets: ``budget``) -> the batch's own limits -> per hit
(``accept.accept_hits``): site, key, origin, ``definition.load_hit`` -> enrichment -> one
durable spool append for the request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from metronome import metrics
from metronome.config import Settings
from metronome.enrich.visitors import DailySalts
from metronome.errors import ApiError, error_object
from metronome.hits.accept import Outcome, RequestFacts, accept_hits
from metronome.hits.bodies import decode_body, hit_from_pairs
from metronome.hits.budget import BodyBudgets
from metronome.hits.pipeline import Document
from metronome.hits.sink import HitSink
from metronome.spool.http_errors import durable_append


class IngestServices(Protocol):
    """What the cores need of the app's services (``metronome.web.services.Services``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def sink(self) -> HitSink: ...

    @property
    def salts(self) -> DailySalts: ...

    @property
    def budgets(self) -> BodyBudgets: ...


@dataclass(slots=True)  # not frozen: built for every request, and frozen costs ten times more
class IngestRequest:
    """What a write request says, as the cores read it: the adapters fill it from the WSGI
    environ. ``query`` gives one query value (the query string is parsed when first asked);
    ``body`` reads the body (when the core is ready for it)."""

    content_type: str | None
    content_encoding: str | None
    key: str | None  # the X-Metronome-Key header
    origin: str | None
    user_agent: str | None
    client_ip: str | None
    query: Callable[[str], str | None]
    body: Callable[[], bytes]


@dataclass(slots=True)
class Accepted:
    """Stored durably. ``answer``: the JSON answer, if the endpoint gives one."""

    answer: dict[str, Any] | None = None
    origin_allowed: bool | None = None  # for the CORS headers: as ``Outcome.origin_allowed``


@dataclass(slots=True)
class Refused:
    """Nothing stored; ``error`` is the answer."""

    error: ApiError
    origin_allowed: bool | None = None


Ingested = Accepted | Refused


def ingest_tick(
    services: IngestServices, request: IngestRequest, now: datetime | None = None
) -> Ingested:
    """``POST /tick``: one hit or a batch, in any body ``bodies.decode_body`` reads."""
    try:
        body = decode_body(
            request.content_type, request.body(), request.content_encoding, services.budgets.tick
        )
    except ApiError as error:
        return Refused(error)
    if body.batch and not body.hits:
        return Refused(ApiError(422, "empty_batch", "The batch holds no hits."))
    max_batch = services.settings.ingest.max_batch
    if len(body.hits) > max_batch:
        return Refused(
            ApiError(
                413,
                "batch_too_large",
                f"A batch may hold at most {max_batch} hits, this one has {len(body.hits)}.",
            )
        )
    return _store(services, request, body.hits, body.batch, now)


def ingest_pixel(
    services: IngestServices,
    request: IngestRequest,
    pairs: Iterable[tuple[str, str]],
    now: datetime | None = None,
) -> Ingested:
    """``GET /tick.gif``: the hit is the query; a parameter starting with "_" is a
    cache-buster (``?_=1700000000``), not data."""
    try:
        hit = hit_from_pairs((name, value) for name, value in pairs if not name.startswith("_"))
    except ApiError as error:
        return Refused(error)
    return _store(services, request, [hit], False, now)


def _store(
    services: IngestServices,
    request: IngestRequest,
    raw_hits: Sequence[Any],
    batch: bool,
    now: datetime | None,
) -> Ingested:
    """Validate and enrich every hit, then spool the valid ones in one durable append."""
    received_at = now or datetime.now(UTC)
    facts = RequestFacts(
        received_at=received_at,
        salt=services.salts.for_day(received_at.date()),
        key=request.key or request.query("key"),
        site=request.query("site"),
        origin=request.origin,
        user_agent=request.user_agent,
        client_ip=request.client_ip,
    )
    outcome = accept_hits(services.settings, facts, raw_hits)
    for rejection in outcome.rejected:
        metrics.REJECTED.labels(rejection["error"]["code"]).inc()
    if not outcome.documents:
        return Refused(nothing_accepted(outcome, batch), outcome.origin_allowed)
    try:
        spool_documents(services.sink, outcome.documents)
    except ApiError as error:  # the spool is full or failing: nothing was appended
        return Refused(error, outcome.origin_allowed)
    count_accepted(outcome.documents)
    answer: dict[str, Any] = {"accepted": len(outcome.documents)}
    if outcome.rejected:
        answer["rejected"] = outcome.rejected
    return Accepted(answer, outcome.origin_allowed)


def spool_documents(sink: HitSink, documents: list[Document]) -> None:
    """One durable append; its failures are the ``ApiError`` every write endpoint answers."""
    with durable_append("hits"):
        sink.append(documents)


def count_accepted(documents: list[Document]) -> None:
    if len(documents) == 1:  # most requests: no Counter
        metrics.accepted_counter(documents[0]["site"]).inc()
        return
    for site_name, count in Counter(d["site"] for d in documents).items():
        metrics.accepted_counter(site_name).inc(count)


def nothing_accepted(outcome: Outcome, batch: bool) -> ApiError:
    """The refusal of a request none of whose hits was accepted: the one hit's own error, or
    for a batch ``no_hit_accepted`` (their common status, else 422), with every rejection."""
    statuses = set(outcome.statuses)
    status = statuses.pop() if len(statuses) == 1 else 422
    if batch:
        error = error_object(
            "no_hit_accepted",
            f"None of the {len(outcome.rejected)} hits was accepted; see rejected.",
        )
    else:
        error = outcome.rejected[0]["error"]
    return ApiError(
        status,
        error["code"],
        error["message"],
        field=error.get("field"),
        extra={"accepted": 0, "rejected": outcome.rejected},
    )
