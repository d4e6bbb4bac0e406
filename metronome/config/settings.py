"""``Settings``: every section, the sites, and what must hold between sections (each site a
setting names is one of the sites)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from marshmallow import ValidationError

from metronome.config.alerts import AlertSettings
from metronome.config.archive import ArchiveSettings
from metronome.config.dashboards import DashboardSettings
from metronome.config.declare import SPLIT, Loader
from metronome.config.digests import Digests, DigestSettings, digest_channel_problems
from metronome.config.elasticsearch import ElasticsearchSettings
from metronome.config.enrich import EnrichSettings
from metronome.config.ingest import IngestSettings, ShipperSettings, SpoolSettings
from metronome.config.logs import LogsSettings
from metronome.config.notify import NotifySettings
from metronome.config.privacy import PrivacySettings
from metronome.config.ratelimits import RateLimitSettings
from metronome.config.reports import ReportSettings
from metronome.config.retention import RetentionSettings
from metronome.config.rollups import RollupSettings
from metronome.config.server import MetricsSettings, PublicCacheSettings, ServerSettings
from metronome.config.sessions import SessionSettings
from metronome.config.sites import (
    AT_LEAST_ONE,
    DEFAULT_SITES,
    NAMED,
    SITES,
    AllezonSettings,
    SiteSettings,
    keys,
)
from metronome.config.sources import SchedulerSettings, Sources, SourceSettings, WebhookSettings
from metronome.config.storage import StorageSettings


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    elasticsearch: ElasticsearchSettings = field(default_factory=ElasticsearchSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    spool: SpoolSettings = field(default_factory=SpoolSettings)
    shipper: ShipperSettings = field(default_factory=ShipperSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    enrich: EnrichSettings = field(default_factory=EnrichSettings)
    allezon: AllezonSettings = field(default_factory=AllezonSettings)
    logs: LogsSettings = field(default_factory=LogsSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)  # index periods
    retention: RetentionSettings = field(default_factory=RetentionSettings)  # what is deleted
    # Scheduled sources (metronome.sources, ingesters/): instance name -> settings.
    sources: Annotated[Mapping[str, SourceSettings], Loader(Sources)] = field(default_factory=dict)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    rate_limits: RateLimitSettings = field(default_factory=RateLimitSettings)
    public_tock_cache: PublicCacheSettings = field(default_factory=PublicCacheSettings)
    dashboards: DashboardSettings = field(default_factory=DashboardSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)  # PDF and PNG downloads
    sessions: SessionSettings = field(default_factory=SessionSettings)  # browser sign-in
    sites: Annotated[Mapping[str, SiteSettings], SITES, AT_LEAST_ONE, NAMED] = field(
        default_factory=lambda: dict(DEFAULT_SITES)
    )
    default_site: str = "default"
    # Secret keys of the admin endpoints (/api/v1/sources...), which no site key opens. None
    # configured: one is generated at first start (metronome.access.opskeys). Not in repr().
    admin_keys: Annotated[tuple[str, ...], SPLIT, keys(16)] = field(default=(), repr=False)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    # E-mailed digests of a dashboard (metronome.digests): digest name -> settings.
    digests: Annotated[Mapping[str, DigestSettings], Loader(Digests)] = field(default_factory=dict)
    notify: NotifySettings = field(default_factory=NotifySettings)  # e-mail and webhooks
    alerts: AlertSettings = field(default_factory=AlertSettings)  # alert rules, health checks
    # hourly and daily rollups per stream, and answering from them (metronome.query.planner)
    rollups: RollupSettings = field(default_factory=RollupSettings)

    def site(self, name: str) -> SiteSettings | None:
        return self.sites.get(name)

    def check(self) -> None:
        """Every site a setting names is one of the sites (the Allezon endpoints' only when
        they are on)."""
        self._check_operator_keys()
        named: dict[tuple[str, ...], str | None] = {
            ("allezon", "site"): self.allezon.site if self.allezon.enabled else None,
            ("default_site",): self.default_site,
            ("logs", "site"): self.logs.site,
            **{("sources", name, "site"): s.site for name, s in self.sources.items()},
            ("webhooks", "github", "site"): self.webhooks.github.site,
            **{("digests", name, "site"): d.site for name, d in self.digests.items()},
            **{
                ("alerts", "rules", name, "site"): rule["site"]
                for name, rule in self.alerts.rules.items()
                if isinstance(rule.get("site"), str)
            },
        }
        known = ", ".join(sorted(self.sites))
        errors: dict[str, Any] = {}
        for path, site in named.items():
            if site is not None and site not in self.sites:
                node = errors
                for part in path[:-1]:
                    node = node.setdefault(part, {})
                node[path[-1]] = [f"{site!r} is not one of the sites ({known})."]
        channel_types = {name: c.type for name, c in self.notify.all_channels.items()}
        for name, fields in digest_channel_problems(self.digests, channel_types).items():
            errors.setdefault("digests", {}).setdefault(name, {}).update(fields)
        if errors:
            raise ValidationError(errors)

    def _check_operator_keys(self) -> None:
        """An admin key or the metrics token is no site's key: a key of one kind only."""
        site_keys = {
            key
            for site in self.sites.values()
            for key in (*site.write_keys, *site.read_keys, *site.ingest_keys)
        }
        if set(self.admin_keys) & site_keys:
            message = "An admin key cannot also be a site's write, read or ingest key."
            raise ValidationError(message, "admin_keys")
        token = self.metrics.token
        if token is not None and token in site_keys | set(self.admin_keys):
            message = "The metrics token cannot also be a site's key or an admin key."
            raise ValidationError({"metrics": {"token": [message]}})
