"""Cursors and run state of every source, in Elasticsearch (``<prefix>-sources``).

One document per source instance (``state:<name>``). Every write names the version it read
(``if_seq_no``/``if_primary_term``), so two processes that somehow run the same source at
once cannot move a cursor backwards: the second write fails with ``StateConflict`` and that
run stops (its documents are stored; their ids repeat, so nothing is duplicated).
Reads are real-time GETs: a cursor saved a moment ago is what the next run sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from metronome.sources.base import Cursor


class StateConflict(RuntimeError):
    """Another process saved this source's state since we read it."""


@dataclass(frozen=True)
class LastError:
    at: str
    message: str
    kind: str  # the exception's class: RemoteError, RateLimited, ...
    retry_after: str | None = None  # RateLimited: when the remote lets us back in


@dataclass(frozen=True)
class SourceState:
    source: str
    cursor: Cursor = field(default_factory=dict)
    last_run_at: str | None = None
    last_success_at: str | None = None
    last_error: LastError | None = None
    consecutive_failures: int = 0
    documents_total: int = 0  # created by this source, over all runs
    last_run: dict[str, Any] = field(default_factory=dict)  # the last RunReport, as JSON

    def to_json(self) -> dict[str, Any]:
        return {"kind": "state", **asdict(self)}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SourceState:
        error = body.get("last_error")
        return cls(
            source=str(body["source"]),
            cursor=dict(body.get("cursor") or {}),
            last_run_at=body.get("last_run_at"),
            last_success_at=body.get("last_success_at"),
            last_error=LastError(**error) if error else None,
            consecutive_failures=int(body.get("consecutive_failures", 0)),
            documents_total=int(body.get("documents_total", 0)),
            last_run=dict(body.get("last_run") or {}),
        )


@dataclass(frozen=True)
class Versioned:
    """A state with the version it was read at (None: not stored yet)."""

    state: SourceState
    seq_no: int | None = None
    primary_term: int | None = None

    def with_state(self, **changes: Any) -> Versioned:
        return replace(self, state=replace(self.state, **changes))


class StateStore:
    def __init__(self, client: Elasticsearch, index_prefix: str) -> None:
        self.client = client
        self.index = f"{index_prefix}-sources"

    def load(self, source: str) -> Versioned:
        try:
            found = self.client.get(index=self.index, id=_state_id(source))
        except NotFoundError:
            return Versioned(SourceState(source=source))
        return Versioned(
            SourceState.from_json(found["_source"]),
            seq_no=int(found["_seq_no"]),
            primary_term=int(found["_primary_term"]),
        )

    def save(self, versioned: Versioned) -> Versioned:
        """Write the state if nobody else has since it was read; the new version."""
        state = versioned.state
        try:
            if versioned.seq_no is None:
                written = self.client.index(
                    index=self.index,
                    id=_state_id(state.source),
                    document=state.to_json(),
                    op_type="create",
                )
            else:
                written = self.client.index(
                    index=self.index,
                    id=_state_id(state.source),
                    document=state.to_json(),
                    if_seq_no=versioned.seq_no,
                    if_primary_term=versioned.primary_term,
                )
        except ConflictError as error:
            raise StateConflict(
                f"the state of source {state.source!r} was changed by another process"
            ) from error
        return Versioned(state, int(written["_seq_no"]), int(written["_primary_term"]))

    def load_many(self, sources: Iterable[str]) -> dict[str, SourceState]:
        names = list(sources)
        if not names:
            return {}
        found = self.client.mget(
            index=self.index, ids=[_state_id(name) for name in names]
        ).body.get("docs", [])
        states = {name: SourceState(source=name) for name in names}
        for doc in found:
            if doc.get("found"):
                state = SourceState.from_json(doc["_source"])
                states[state.source] = state
        return states

    def reset(self, source: str) -> bool:
        """Forget a source's cursor and history (`metronome sources reset`); True if it had one."""
        try:
            self.client.delete(index=self.index, id=_state_id(source), refresh=True)
        except NotFoundError:
            return False
        return True


def _state_id(source: str) -> str:
    return f"state:{source}"
