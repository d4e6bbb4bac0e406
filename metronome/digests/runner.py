"""Building and sending digests: ``DigestRunner.run_due()`` (the scheduler's periodic task) and
the on-demand sends of ``metronome digest send``.

For each enabled digest whose period is due (``schedule.due_period``) and not yet recorded as
sent, ``run_due`` reads the dashboard's data for the period (compared with the period before),
has the charts, the PDF and the XLSX drawn, adds the sources' health and the alerts of the
period, queues the e-mail in the outbox under the key ``digest:<name>:<period start>`` (once
per channel: queueing it again is a no-op) and records the period as sent. A run that stops
between queueing and recording queues nothing twice when repeated: the outbox already holds
that key, and the record follows. A digest that fails (its dashboard gone, Elasticsearch
refusing) is logged and tried again at the next run; the others go on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from metronome.alerts.history import AlertEvent, alert_events
from metronome.config import DigestSettings, Settings
from metronome.config.digests import EMAIL_CHANNEL
from metronome.dashboards.data import PageState, dashboard_data
from metronome.dashboards.definition import Dashboard
from metronome.dashboards.registry import Fixed
from metronome.dashboards.store import DashboardStore
from metronome.digests.content import (
    AlertLike,
    DigestInput,
    DigestMail,
    File,
    dashboard_link,
    kpis,
    shown_widgets,
)
from metronome.digests.mail import build_mail, to_message
from metronome.digests.schedule import (
    Period,
    due_period,
    last_full_period,
    period_so_far,
    previous_period,
)
from metronome.digests.sent import SentLog
from metronome.notify import Clock, Message, Outbox
from metronome.query.calendar import Interval
from metronome.query.catalog import FieldCatalog
from metronome.sources.status import source_rows

log = logging.getLogger(__name__)

PERIOD_INTERVAL: Mapping[str, Interval] = {"daily": "hour", "weekly": "day", "monthly": "day"}


class DigestError(Exception):
    """A digest cannot be built; the message names the digest and why."""


@dataclass(frozen=True)
class Report:
    """What the report renderer draws of a dashboard for a digest."""

    charts: Mapping[str, bytes]  # widget id -> PNG
    files: Sequence[File]  # the PDF and the XLSX


@dataclass(frozen=True)
class ReportRequest:
    dashboard: Dashboard
    data: Mapping[str, Any]
    page: PageState
    site: str
    title: str
    generated_at: datetime


RenderReport = Callable[[ReportRequest], Report]
AlertsOf = Callable[[str, datetime, datetime], Sequence[AlertLike]]  # site, start, end


@dataclass(frozen=True)
class Built:
    digest: DigestSettings
    period: Period
    mail: DigestMail
    message: Message
    key: str


def digest_key(name: str, period: Period) -> str:
    """The outbox's idempotency key of a digest's period."""
    return f"digest:{name}:{period.start.isoformat()}"


class DigestRunner:
    def __init__(
        self,
        settings: Settings,
        client: Elasticsearch,
        outbox: Outbox,
        *,
        fixed: Fixed,
        clock: Clock,
        render: RenderReport | None = None,
        alerts_of: AlertsOf | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.outbox = outbox
        self.fixed = fixed
        self.clock = clock
        self.render = render
        self.alerts_of = alerts_of or self._alert_events
        prefix = settings.elasticsearch.index_prefix
        self.prefix = prefix
        self.sent = SentLog(client, prefix)
        self.store = DashboardStore(client, prefix)
        self.catalog = FieldCatalog(client, prefix)

    # --- the schedule -------------------------------------------------------------------

    def run_due(self) -> list[Built]:
        """Send every enabled digest whose period is due and not yet sent; what was sent."""
        now = self.clock()
        done = []
        for digest in self.settings.digests.values():
            if not digest.enabled:
                continue
            try:
                last = self.sent.last(digest.name)
                period = due_period(now, digest, last.period_start if last else None)
                if period is not None:
                    done.append(self.send_period(digest, period))
            except Exception:
                log.exception("digest %r was not sent; it is tried again at the next run",
                              digest.name)  # fmt: skip
        return done

    def send_period(self, digest: DigestSettings, period: Period) -> Built:
        """Queue ``period`` of ``digest`` on its channels and record it as sent."""
        built = self.build(digest, period)
        for channel, to in targets(digest):
            self.outbox.enqueue(built.key, channel, built.message, to)
        self.sent.record(
            digest.name,
            period,
            key=built.key,
            at=self.clock(),
            extra={
                "site": self.site_of(digest),
                "dashboard": digest.dashboard,
                "channels": [channel for channel, _ in targets(digest)],
            },
        )
        log.info("digest %r of %s queued (%s)", digest.name, period.start.isoformat(), built.key)
        return built

    # --- on demand ----------------------------------------------------------------------

    def on_demand_period(self, digest: DigestSettings, *, so_far: bool) -> Period:
        """``send --now``: the current period up to now; otherwise the last full period."""
        now, tz = self.clock(), digest.zone
        if so_far:
            return period_so_far(now, digest.schedule, tz)
        return last_full_period(now, digest.schedule, tz)

    def send_to(self, digest: DigestSettings, period: Period, address: str) -> Built:
        """Send at once to ``address`` only, outside the outbox; nothing is recorded."""
        built = self.build(digest, period)
        self.outbox.send_now(EMAIL_CHANNEL, built.message, (address,))
        return built

    def queue_so_far(self, digest: DigestSettings, period: Period) -> Built:
        """Queue a period so far on the digest's channels (not recorded: the scheduled digest
        of the whole period still goes)."""
        built = self.build(digest, period)
        key = f"digest:{digest.name}:so-far:{period.end.isoformat()}"
        for channel, to in targets(digest):
            self.outbox.enqueue(key, channel, built.message, to)
        return dataclasses.replace(built, key=key)

    # --- building -----------------------------------------------------------------------

    def site_of(self, digest: DigestSettings) -> str:
        return digest.site or self.settings.default_site

    def dashboard_of(self, digest: DigestSettings) -> Dashboard:
        site = self.site_of(digest)
        entry = self.fixed.find(digest.dashboard) or self.store.get(site, digest.dashboard)
        if entry is None:
            raise DigestError(
                f"digest {digest.name!r}: there is no dashboard {digest.dashboard!r} for site "
                f"{site!r}"
            )
        dashboard = entry.dashboard
        # Widgets with a range of their own (the last 30 minutes) say nothing of the period.
        return dataclasses.replace(dashboard, widgets=tuple(shown_widgets(dashboard)))

    def build(self, digest: DigestSettings, period: Period) -> Built:
        site, tz = self.site_of(digest), digest.zone
        dashboard = self.dashboard_of(digest)
        page = PageState(
            range=[period.start.astimezone(tz).isoformat(), period.end.astimezone(tz).isoformat()],
            interval=PERIOD_INTERVAL[digest.schedule],
            tz=tz.key,
            compare="previous",
        )
        now = self.clock()
        data = dashboard_data(
            self.client, self.prefix, self.catalog.fields, dashboard, page=page, site=site,
            now=now, rollups=self.settings.rollups,
        )  # fmt: skip
        report = Report({}, ())
        if self.render is not None:
            request = ReportRequest(dashboard, data, page, site, dashboard.title, now)
            report = self.render(request)
        compare = (
            previous_period(period, tz)
            if period.complete
            else Period(period.start - (period.end - period.start), period.start,
                        period.schedule, complete=False)
        )  # fmt: skip
        alerts = self.alerts_of(site, period.start, period.end)
        digest_input = DigestInput(
            name=digest.name,
            schedule=digest.schedule,
            tz=tz,
            site=site,
            dashboard=dashboard,
            period=period,
            data=data,
            generated_at=now,
            compare=compare,
            charts=report.charts,
            sources=self.sources_of(site),
            alerts=alerts,
            files=tuple(report.files),
            link=dashboard_link(
                self.settings.server.public_url,
                site=site,
                dashboard=dashboard.id,
                period=period,
                tz=tz,
                interval=page.interval,
            ),
        )
        mail = build_mail(digest_input)
        message = to_message(mail, webhook_fields(digest_input))
        return Built(digest, period, mail, message, digest_key(digest.name, period))

    def _alert_events(self, site: str, start: datetime, end: datetime) -> list[AlertEvent]:
        """The site's alerts of the period, and those of the pipeline-health checks (which
        belong to no site), oldest first."""
        own = alert_events(self.client, self.prefix, site=site, start=start, end=end)
        every = alert_events(self.client, self.prefix, site=None, start=start, end=end)
        health = [event for event in every if event.site is None]
        return sorted([*own, *health], key=lambda event: event.at)

    def sources_of(self, site: str) -> list[dict[str, Any]]:
        settings = self.settings
        names = [
            name
            for name, source in settings.sources.items()
            if (source.site or settings.default_site) == site
        ]
        return source_rows(settings, self.client, names) if names else []


def targets(digest: DigestSettings) -> list[tuple[str, tuple[str, ...]]]:
    """(channel, recipients override) pairs: each named channel as configured, and the
    addresses of ``to`` through notify's e-mail channel."""
    pairs: list[tuple[str, tuple[str, ...]]] = [(channel, ()) for channel in digest.channels]
    if digest.to:
        pairs.append((EMAIL_CHANNEL, digest.to))
    return pairs


def webhook_fields(digest: DigestInput) -> dict[str, object]:
    """What a JSON webhook channel gets of a digest besides its subject and text."""
    return {
        "digest": digest.name,
        "site": digest.site,
        "dashboard": digest.dashboard.id,
        "schedule": digest.schedule,
        "period": {"from": digest.period.start.isoformat(), "to": digest.period.end.isoformat()},
        "kpis": [
            {"widget": k.widget, "title": k.title, "value": k.value, "previous": k.previous,
             "change": k.note}
            for k in kpis(digest.dashboard, digest.data)
        ],
    }  # fmt: skip
