"""The scheduler process (``metronome scheduler``; ``metronome serve`` starts one).

Any number may run, in as many Metronome instances: they all try to take the ``scheduler``
lease in Elasticsearch, exactly one holds it and runs the sources; the others wait and take
over within ``scheduler.lease_ttl`` seconds when the holder dies. The holder renews the lease
three times per TTL and stops scheduling the moment a renewal fails.

While holding the lease, every enabled source runs once at once (catching up whatever was
missed while no scheduler ran), then on its interval or cron schedule (UTC). A source is
never run twice at a time (APScheduler ``max_instances=1``, and the per-source lease).

Other work is given as ``PeriodicTask``s (the command composes them: alert evaluation,
notification delivery): ``periodic`` ones run like the sources, only while the lease is held,
once at once and then every ``every`` seconds; ``local`` ones run on every instance whether
it holds the lease or not (the checks of the instance itself). A task's exception is logged
and never ends the scheduler; a task is never run twice at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from metronome.config import SourceSettings
from metronome.sources.lease import LeaseStore
from metronome.sources.registry import build_source, source_type
from metronome.sources.runner import RunReport, RunServices, run_source
from metronome.sources.status import refusals

log = logging.getLogger(__name__)
LEASE_NAME = "scheduler"
MAX_PARALLEL_RUNS = 4


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    every: float  # seconds
    run: Callable[[], None]  # exceptions are logged, never end the scheduler


def trigger_for(settings: SourceSettings) -> CronTrigger | IntervalTrigger:
    if settings.cron:
        return CronTrigger.from_crontab(settings.cron, timezone=UTC)
    interval = settings.interval or source_type(settings.type).default_interval
    return IntervalTrigger(seconds=interval, timezone=UTC)


def describe_report(report: RunReport) -> str:
    """One log line per run."""
    counts = (
        f"{report.documents} documents ({report.created} new, {report.updated} updated, "
        f"{report.duplicates} already stored, {report.dead_lettered} dead-lettered)"
    )
    if report.outcome == "ok":
        line = f"{report.source}: ok in {report.seconds:.1f}s, {report.pages} pages, {counts}"
        return line + "".join(
            f"; partial: {r['part']} {r['reading']} refused ({r['reason']})"
            for r in refusals(report.to_json())
        )
    if report.outcome == "busy":
        return f"{report.source}: skipped, {report.error}"
    return f"{report.source}: FAILED after {report.seconds:.1f}s ({counts}): {report.error}"


class Scheduler:
    def __init__(
        self,
        sources: Mapping[str, SourceSettings],
        default_site: str,
        services: RunServices,
        lease_ttl: float,
        say: Callable[[str], None] = log.info,
        *,
        periodic: Sequence[PeriodicTask] = (),
        local: Sequence[PeriodicTask] = (),
    ) -> None:
        self.sources = {name: s for name, s in sources.items() if s.enabled}
        self.periodic = tuple(periodic)
        self.local = tuple(local)
        self.default_site = default_site
        self.services = services
        self.lease_ttl = lease_ttl
        self.say = say
        self.leases = LeaseStore(services.es, services.index_prefix)
        self._jobs: BackgroundScheduler | None = None
        self._local_jobs: BackgroundScheduler | None = None

    @property
    def holding(self) -> bool:
        return self._jobs is not None

    def run_forever(self, stop: threading.Event) -> None:
        if not self.sources:
            self.say("no enabled sources are configured (sources: in the config)")
        self._start_local()
        try:
            while not stop.is_set():
                self.tick()
                stop.wait(self.lease_ttl / 3)
        finally:
            self._stop_jobs()
            if self._local_jobs is not None:
                self._local_jobs.shutdown(wait=False)
                self._local_jobs = None
            self.services.stop.set()  # running sources end after their current page
            self.leases.release(LEASE_NAME, self.services.holder)

    def tick(self) -> None:
        """Take or renew the lease; start or stop scheduling accordingly."""
        try:
            holding = self.leases.acquire(LEASE_NAME, self.services.holder, self.lease_ttl)
        except Exception as error:  # Elasticsearch unreachable: we cannot know we hold it
            log.warning("scheduler lease check failed: %s", error)
            holding = False
        if holding and not self.holding:
            tasks = "".join(f", {task.name}" for task in self.periodic)
            self.say(f"holding the scheduler lease; scheduling {len(self.sources)} sources{tasks}")
            self._start_jobs()
        elif not holding and self.holding:
            self.say("lost the scheduler lease; another process schedules the sources now")
            self._stop_jobs()

    def run_one(self, name: str) -> RunReport:
        source = build_source(self.sources[name], self.default_site)
        report = run_source(source, self.services)
        self.say(describe_report(report))
        return report

    def run_task(self, task: PeriodicTask) -> None:
        try:
            task.run()
        except Exception:
            log.exception("%s failed", task.name)

    def _start_jobs(self) -> None:
        workers = max(1, min(MAX_PARALLEL_RUNS, len(self.sources))) + len(self.periodic)
        jobs = BackgroundScheduler(executors={"default": ThreadPoolExecutor(workers)}, timezone=UTC)
        now = datetime.now(UTC)
        self._add_tasks(jobs, self.periodic, now)
        for name, settings in self.sources.items():
            options: dict[str, Any] = {
                "id": name,
                "name": name,
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": None,
                "next_run_time": now,  # once at once: catch up on what was missed
            }
            jobs.add_job(self.run_one, trigger_for(settings), args=[name], **options)
        jobs.start()
        self._jobs = jobs

    def _start_local(self) -> None:
        if not self.local:
            return
        jobs = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(len(self.local))}, timezone=UTC
        )
        self._add_tasks(jobs, self.local, datetime.now(UTC))
        jobs.start()
        self._local_jobs = jobs

    def _add_tasks(
        self, jobs: BackgroundScheduler, tasks: Sequence[PeriodicTask], now: datetime
    ) -> None:
        for task in tasks:
            jobs.add_job(
                self.run_task,
                IntervalTrigger(seconds=task.every, timezone=UTC),
                args=[task],
                id=f"task:{task.name}",
                name=task.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=now,
            )

    def _stop_jobs(self) -> None:
        if self._jobs is not None:
            self._jobs.shutdown(wait=False)
            self._jobs = None
