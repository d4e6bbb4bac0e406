"""What the benches that start servers share (``ingest.py``, ``query.py``, ``forward.py``,
``allezon.py``): one run's options, work directory, ``Monitor``, processes (``Harness``) and
Elasticsearch (``Cluster``), Metronome's settings in the run, the report around a bench's
figures, and the entry point that runs a bench in a fresh temporary directory."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, ClassVar, Protocol

from elasticsearch import Elasticsearch

from bench._common import BenchError, Monitor, free_port, machine, report_main, run_in_workdir
from bench.elastic import Cluster
from bench.harness import Harness, Process
from metronome.config import ElasticsearchSettings, ServerSettings, Settings, SpoolSettings
from metronome.es.templates import install_templates
from metronome.serve.plan import SHIPPER, WEB

Say = Callable[[str], None]


class ServerBench:
    """The state of one run of a bench that starts servers. A bench's ``run`` calls ``begin``
    first and returns ``report(...)``; ``close`` stops whatever the run started (options:
    ``bench.options.add_run_options``)."""

    name: ClassVar[str]  # the report's "benchmark", in the temporary directory's name

    def __init__(
        self, args: argparse.Namespace, workdir: Path, say: Say, *, sample_every: float = 0.5
    ) -> None:
        self.args = args
        self.workdir = workdir
        self.say = say
        self.monitor = Monitor(interval=sample_every)
        self.harness = Harness(workdir / "logs", self.monitor)
        self.cluster: Cluster | None = None
        self.at_start: dict[str, Any] = {}

    @property
    def es(self) -> Cluster:
        assert self.cluster is not None, "Elasticsearch is not started"
        return self.cluster

    @property
    def client(self) -> Elasticsearch:
        return self.es.client

    def run(self) -> dict[str, Any]:
        raise NotImplementedError

    def begin(self, **facts: Any) -> None:
        """The machine as the run starts (with ``facts``); RSS and CPU sampling from now on,
        this process's as ``bench_driver``."""
        self.at_start = {**machine(), **facts}
        self.monitor.start()
        self.monitor.watch("bench_driver", os.getpid())

    def start_elasticsearch(
        self, *, nice: int = 0, client: Callable[[str], Elasticsearch] | None = None
    ) -> Cluster:
        args = self.args
        self.cluster = Cluster(
            args.es_url,
            self.workdir,
            args.es_heap,
            self.monitor,
            self.say,
            nice=nice,
            client=client,
        )
        return self.cluster

    # --- Metronome's processes and the bare baseline ---------------------------------------

    def server(self) -> ServerSettings:
        """gunicorn's settings in this run: 127.0.0.1, a free port, ``--workers`` x
        ``--threads``."""
        args = self.args
        return ServerSettings(
            host="127.0.0.1", port=free_port(), workers=args.workers, threads=args.threads
        )

    def start_bare(self) -> int:
        """The bare baseline app (``Harness.start_bare``); its port."""
        server = self.server()
        self.harness.start_bare(server, self.workdir / "bare")
        return server.port

    def metronome_settings(
        self, prefix: str, spool: SpoolSettings | None = None, **sections: Any
    ) -> Settings:
        """Metronome's settings in this run: ``server()``, this run's Elasticsearch with the
        index ``prefix``, ``spool`` (default: a spool in the work directory), ``sections``."""
        return Settings(
            server=self.server(),
            elasticsearch=ElasticsearchSettings(url=self.es.url, index_prefix=prefix),
            spool=spool or SpoolSettings(dir=self.workdir / "metronome" / "spool"),
            **sections,
        )

    def start_metronome(
        self, settings: Settings, only: Collection[str] = (SHIPPER, WEB)
    ) -> dict[str, Process]:
        """Metronome's templates, then its processes ``only`` (``Harness.start_metronome``),
        in the order ``metronome serve`` does it."""
        install_templates(self.client, settings.elasticsearch.index_prefix)
        return self.harness.start_metronome(settings, only=only)

    # --- the report --------------------------------------------------------------------------

    def report(
        self,
        figures: dict[str, Any],
        *,
        short_run: bool,
        limits: Callable[[dict[str, Any]], str],
        **settings: Any,
    ) -> dict[str, Any]:
        """The report of the run: the machine, the options (``settings`` added or replaced),
        ``figures``, the peak RSS per role, and the ``limits`` note read from all of that."""
        chosen = {k: v for k, v in vars(self.args).items() if k not in ("es_url", "loadgen")}
        report: dict[str, Any] = {
            "benchmark": self.name,
            "short_run": short_run,
            "machine": self.at_start,
            "settings": {**chosen, **settings},
            **figures,
            "peak_rss_mb": self.monitor.summary(),
        }
        report["limits"] = limits(report)
        return report

    def close(self) -> None:
        self.harness.stop_all()
        if self.cluster is not None:
            self.cluster.close()
        self.monitor.close()


class BenchClass(Protocol):
    name: str

    def __call__(self, args: argparse.Namespace, workdir: Path) -> ServerBench: ...


def run_bench(
    bench: BenchClass,
    args: argparse.Namespace,
    say: Say,
    *,
    parent: str | None = None,
    loadgen: Callable[[str], int] | None = None,
) -> int:
    """The entry point of a bench: one run in a fresh temporary directory under ``parent``
    (``run_in_workdir``), its report printed (``report_main``). A bench whose load generator
    is the same script started with ``--loadgen SPEC`` (``add_run_options``) gives its
    ``loadgen``: that process runs it instead."""
    if loadgen is not None and args.loadgen:
        return loadgen(args.loadgen)
    prefix = f"metronome-{bench.name}-bench-"
    return report_main(
        lambda: run_in_workdir(
            prefix, lambda workdir: bench(args, workdir), args.keep, say, parent
        ),
        say,
        (BenchError,),
    )
