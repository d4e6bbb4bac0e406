"""The contract every source type passes (the meltano/sdk idea: one suite, generated for all).

A source type joins the suite with a module in ``scenarios/`` that defines

    @contextmanager
    def scenario(tmp_path: Path) -> Iterator[Scenario]:
        with serving(fake_remote_app) as url:   # or moto in server mode, for S3
            yield Scenario(source_type="prometheus", options={"url": url, ...},
                           expected_documents=12, fail=..., recover=..., add_data=...)

``test_contract.py`` then runs, against the real Elasticsearch, for every scenario:
first run stores everything once (and it is queryable with /api/v1/query stream=<stream>),
a second run duplicates nothing, new remote data is picked up, a crash between storing a page
and saving its cursor resumes without gaps or duplicates (after the dead run's lease expires),
and a failing remote is recorded and retried while another source runs unaffected.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from elasticsearch import Elasticsearch
from marshmallow import Schema

from metronome.config import SourceSettings
from metronome.sources.base import Document, FetchContext, Page, Source, Window
from metronome.sources.http import HttpClient, RetryPolicy
from metronome.sources.registry import build_source
from metronome.sources.runner import RunReport, RunServices, run_source
from tests.integration.sources import scenarios

CONTRACT_SITE = "shop"  # the test settings' site with a read key (tests/conftest.py)
FAST = RetryPolicy(timeout=5, attempts=2, backoff=0.01, max_backoff=0.01, max_wait=1)


@dataclass
class Scenario:
    source_type: str
    options: dict[str, Any]  # the type's own options, pointing at the fake remote
    expected_documents: int  # documents stored by a complete first run
    fail: Callable[[], None]  # from now on the remote answers every request with an error
    recover: Callable[[], None]  # ...and from now on it answers normally again
    add_data: Callable[[], int]  # adds remote data; returns how many new documents it makes
    min_pages: int = 2  # a first run reads at least this many pages (a crash can fall between)
    backfill: Window | None = None  # a window whose back-fill must store nothing new
    extra: dict[str, Any] = field(default_factory=dict)


class ScenarioFactory(Protocol):
    def __call__(self, tmp_path: Path) -> AbstractContextManager[Scenario]: ...


def make_source(scenario: Scenario, name: str | None = None) -> Source:
    settings = SourceSettings(
        name=name or f"contract-{scenario.source_type}",
        type=scenario.source_type,
        site=CONTRACT_SITE,
        options=scenario.options,  # as configured: build_source loads them
    )
    return build_source(settings, default_site="default")


def services(
    es: Elasticsearch, index_prefix: str, holder: str = "test", **changes: Any
) -> RunServices:
    """Fast retries (no sleeping), a short lease so a dead run's lease expires quickly."""
    defaults: dict[str, Any] = {
        "policy": FAST,
        "lease_ttl": 1.0,
        "sleep": lambda seconds: None,
    }
    defaults.update(changes)
    return RunServices(es=es, index_prefix=index_prefix, holder=holder, **defaults)


def run(source: Source, run_services: RunServices, backfill: Window | None = None) -> RunReport:
    return run_source(source, run_services, backfill)


def fetch_pages(
    source: Source, cursor: dict[str, Any], now: datetime, backfill: Window | None = None
) -> list[Page]:
    """The pages of one run read straight from ``source.fetch`` (no runner: nothing is stored),
    with the source's own headers and fast retries without sleeping."""
    http = HttpClient(FAST, headers=source.http_headers(), sleep=lambda seconds: None)
    try:
        return list(
            source.fetch(FetchContext(cursor=cursor, http=http, now=now, backfill=backfill))
        )
    finally:
        http.close()


def stored_documents(es: Elasticsearch, index_prefix: str, source: Source) -> list[dict[str, Any]]:
    pattern = f"{index_prefix}-{source.stream}-*"
    es.indices.refresh(index=pattern, allow_no_indices=True)
    found = es.search(
        index=pattern,
        query={"term": {"source": source.name}},
        size=10_000,
        allow_no_indices=True,
        ignore_unavailable=True,
    )
    return [{"_id": hit["_id"], **hit["_source"]} for hit in found["hits"]["hits"]]


class StaticSource(Source):
    """A source with no remote: the "other source" that must keep working while one fails."""

    type_name = "contract_static"
    stream = "contract"
    options_schema = Schema
    natural_key = "the number"

    def fetch(self, context: FetchContext) -> Iterator[Page]:
        start = datetime(2024, 5, 1, tzinfo=UTC)
        done = int(context.cursor.get("done", 0))
        for page in range(done, 2):
            numbers = range(page * 3, page * 3 + 3)
            documents = [Document(str(n), start + timedelta(hours=n), {"n": n}) for n in numbers]
            yield Page(documents, {"done": page + 1})


def other_source() -> Source:
    return StaticSource("contract-other", CONTRACT_SITE, {})


def iter_scenarios() -> Iterator[tuple[str, ScenarioFactory]]:
    for module in pkgutil.iter_modules(scenarios.__path__):
        loaded = importlib.import_module(f"{scenarios.__name__}.{module.name}")
        yield module.name, loaded.scenario
