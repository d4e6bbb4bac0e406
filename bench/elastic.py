"""Elasticsearch in a bench run: the cluster (a node started here, or one given by URL), its
warm-up, counting what is searchable, timed bulks as the shipper sends them, and removing what a
bench stored under its index prefixes."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch.helpers import bulk

from bench._common import ROOT, BenchError, Monitor, free_port
from metronome.config import EmbeddedSettings
from metronome.es.embedded import EmbeddedElasticsearch
from metronome.es.templates import remove_templates

COUNT_POLL_SECONDS = 0.25
DELETE_BATCH = 50  # index names per delete request: 365 daily names exceed the 4 kB URL limit


def start_elasticsearch(
    es_url: str | None, workdir: Path, heap: str, monitor: Monitor, say: Any, *, nice: int = 0
) -> tuple[str, EmbeddedElasticsearch | None]:
    """The URL of the cluster a bench uses: ``es_url`` as given, or a new embedded node under
    ``workdir`` at CPU priority ``nice`` (watched by ``monitor``; the caller stops the returned
    node)."""
    if es_url:
        say(f"using Elasticsearch at {es_url} (not started here)")
        return es_url.rstrip("/"), None
    node = EmbeddedElasticsearch(
        EmbeddedSettings(
            home=ROOT / "var" / "es-dist",
            data_dir=workdir / "es",
            http_port=free_port(),
            heap=heap,
            nice=nice,
        ),
        say=say,
    )
    node.start()
    pid = node.status().pid
    if pid is not None:
        monitor.watch("elasticsearch", pid)
    return node.url, node


class Cluster:
    """The Elasticsearch of one bench run and a client to it: ``start_elasticsearch``'s node
    (or the one at ``es_url``), the client made by ``client`` (default: a plain one with a
    two-minute timeout). ``close`` stops a node started here; on someone else's node it
    removes the indices and templates of the prefixes the bench ``owns`` instead."""

    def __init__(
        self,
        es_url: str | None,
        workdir: Path,
        heap: str,
        monitor: Monitor,
        say: Callable[[str], None],
        *,
        nice: int = 0,
        client: Callable[[str], Elasticsearch] | None = None,
    ) -> None:
        self.say = say
        self.url, self.node = start_elasticsearch(es_url, workdir, heap, monitor, say, nice=nice)
        self.client = client(self.url) if client else Elasticsearch(self.url, request_timeout=120)
        self.owned: list[str] = []

    def close(self) -> None:
        if self.node is None and self.owned:
            self.say(f"deleting the bench indices and templates of {', '.join(self.owned)}")
            try:
                for prefix in self.owned:
                    delete_indices(self.client, prefix)
                    remove_templates(self.client, prefix)
            except (ApiError, TransportError) as error:
                self.say(f"could not delete them, do it by hand: {error}")
        self.client.close()
        if self.node is not None:
            self.node.stop()


def delete_indices(client: Elasticsearch, prefix: str) -> None:
    """Every index of ``prefix``, by name (Elasticsearch refuses wildcard deletes by default),
    ``DELETE_BATCH`` names per request."""
    names = sorted(client.indices.get(index=f"{prefix}-*", expand_wildcards="all").body)
    for first in range(0, len(names), DELETE_BATCH):
        client.indices.delete(index=",".join(names[first : first + DELETE_BATCH]))


# --- what is searchable ----------------------------------------------------------------------


def count(client: Elasticsearch, pattern: str) -> int:
    """Searchable documents; -1 while Elasticsearch cannot say (a new index starting up)."""
    try:
        return int(client.count(index=pattern, allow_no_indices=True)["count"])
    except (ApiError, TransportError):
        return -1


def wait_for_count(client: Elasticsearch, pattern: str, expected: int, timeout: float) -> float:
    """The time (epoch seconds) when ``_count`` reached ``expected``; raises after ``timeout``."""
    started = time.time()
    while count(client, pattern) < expected:
        if time.time() - started > timeout:
            raise BenchError(f"{pattern} did not reach {expected} documents in {timeout:.0f}s")
        time.sleep(COUNT_POLL_SECONDS)
    return time.time()


def searchable_while(
    client: Elasticsearch,
    pattern: str,
    loadgen: subprocess.Popen[bytes],
    report_of: Callable[[], dict[str, Any]],
    *,
    expected: int,
    sent: str,
    timeout: float,
) -> tuple[dict[str, Any], int, float]:
    """Poll ``_count`` on ``pattern`` while the ``loadgen`` process sends ``expected``
    documents. Once it has exited, its report (``report_of``, which waits for it) says how
    many it got accepted (its ``sent`` figure): only those can arrive. Returns the report, the
    count and when (epoch seconds) it reached the expected figure; raises after ``timeout``."""
    report: dict[str, Any] | None = None
    started = time.time()
    while (seen := count(client, pattern)) < expected:
        if report is None and loadgen.poll() is not None:
            report = report_of()
            expected = int(report[sent])  # refused ones never arrive
        if time.time() - started > timeout:
            raise BenchError(f"only {seen} of {expected} documents became searchable in time")
        time.sleep(COUNT_POLL_SECONDS)
    done = time.time()
    return report if report is not None else report_of(), seen, done


# --- storing documents ---------------------------------------------------------------------


def create_action(index: str, doc_id: str, source: Any) -> dict[str, Any]:
    """A bulk ``create`` of one document as the shipper sends it: its own id as ``_id``."""
    return {"_op_type": "create", "_index": index, "_id": doc_id, "_source": source}


def timed_bulk(
    client: Elasticsearch,
    actions: Iterable[dict[str, Any]],
    *,
    chunk: int,
    pattern: str,
    timeout: float,
    rate: str,
) -> dict[str, Any]:
    """``helpers.bulk`` of ``actions`` in chunks of ``chunk``, timed until ``_count`` on
    ``pattern`` sees every stored document: the documents stored and failed, seconds until
    the last bulk answered and until searchable, and documents per second as ``rate``."""
    started = time.time()
    stored, failed = bulk(client, actions, chunk_size=chunk, stats_only=True, raise_on_error=False)
    sent = time.time()
    searchable = wait_for_count(client, pattern, int(stored), timeout)
    return {
        "documents": int(stored),
        "failed": failed,
        "bulk_s": round(sent - started, 3),
        "searchable_s": round(searchable - started, 3),
        rate: round(int(stored) / max(searchable - started, 1e-9), 1),
    }


# --- warming a node up ---------------------------------------------------------------------

WARMUP_WINDOW_SECONDS = 20.0


def es_cpu_ms(client: Elasticsearch) -> int:
    """CPU the node's process has used so far (``_nodes/_local/stats/process``), in ms."""
    stats = client.nodes.stats(node_id="_local", metric="process").body
    node = next(iter(stats["nodes"].values()))
    return int(node["process"]["cpu"]["total_in_millis"])


def warm_up_elasticsearch(
    client: Elasticsearch,
    actions: Iterator[dict[str, Any]],
    *,
    seconds: float,
    rate: float,
    chunk: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Bulk ``actions`` at about ``rate`` documents/s in bulks of ``chunk`` for ``seconds``.

    A freshly started node runs its indexing code interpreted or half-compiled for minutes: on
    this 2-core machine its CPU per document fell about threefold over the first two minutes of
    steady ingest. A bench that measures a cold node measures the JIT, not the product. The
    figures returned (Elasticsearch CPU per document over the first and the last
    ``WARMUP_WINDOW_SECONDS``, or half the warm-up if shorter) show how far it got.
    """
    say(f"warming Elasticsearch up: {seconds:.0f} s of bulks of {chunk} at {rate:.0f} docs/s...")
    window_s = min(WARMUP_WINDOW_SECONDS, seconds / 2)
    started = time.monotonic()
    windows: list[tuple[int, int]] = []  # (documents, cpu ms) per window
    window_docs, window_cpu, window_start = 0, es_cpu_ms(client), started
    documents = 0
    while time.monotonic() - started < seconds:
        batch = [action for _, action in zip(range(chunk), actions, strict=False)]
        if not batch:
            break
        bulk(client, batch, chunk_size=chunk, stats_only=True, raise_on_error=False)
        documents += len(batch)
        window_docs += len(batch)
        now = time.monotonic()
        if now - window_start >= window_s:
            cpu = es_cpu_ms(client)
            windows.append((window_docs, cpu - window_cpu))
            window_docs, window_cpu, window_start = 0, cpu, now
        due = started + documents / rate
        if due > now:
            time.sleep(due - now)

    def per_doc(window: tuple[int, int]) -> float | None:
        return round(window[1] / window[0], 3) if window[0] else None

    return {
        "seconds": seconds,
        "documents": documents,
        "es_cpu_ms_per_doc_first_window": per_doc(windows[0]) if windows else None,
        "es_cpu_ms_per_doc_last_window": per_doc(windows[-1]) if windows else None,
        "window_s": window_s,
    }
