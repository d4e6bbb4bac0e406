"""Typed, validated settings: built-in defaults < YAML config file < METRONOME_* environment.

Settings are read once at start-up. A wrong value stops start-up with a message that names
the setting (``elasticsearch.url: Not a valid URL.``), never a traceback from deep inside.

Each section is declared once, as a frozen dataclass that says what a valid value is
(``declare``); one module per section or group of sections, ``settings`` puts them together
and ``load`` reads them. This package imports no other part of Metronome.
"""

from metronome.config.alerts import AlertSettings, HealthSettings, parse_duration
from metronome.config.archive import ArchiveSettings
from metronome.config.dashboards import DashboardSettings
from metronome.config.digests import DigestSettings
from metronome.config.elasticsearch import ElasticsearchSettings, EmbeddedSettings
from metronome.config.enrich import EnrichSettings, GeoSettings
from metronome.config.ingest import IngestSettings, ShipperSettings, SpoolSettings
from metronome.config.load import (
    DEFAULT_CONFIG_FILE,
    ConfigError,
    config_origin,
    deep_merge,
    describe,
    env_overrides,
    load_settings,
    read_config_file,
    settings_from_mapping,
)
from metronome.config.logs import ForwardSettings, ForwardTlsSettings, ItemPattern, LogsSettings
from metronome.config.notify import (
    ChannelSettings,
    DeliverySettings,
    NotifySettings,
    SmtpSettings,
)
from metronome.config.privacy import DEFAULT_KEEP_PARAMS, PrivacySettings
from metronome.config.ratelimits import Limit, LimitPair, Network, RateLimitSettings
from metronome.config.reports import ReportSettings
from metronome.config.retention import RetentionSettings
from metronome.config.rollups import RollupGroup, RollupSettings
from metronome.config.server import (
    TRACKER_SCRIPT,
    MetricsSettings,
    PublicCacheSettings,
    ServerSettings,
)
from metronome.config.sessions import SessionSettings
from metronome.config.settings import Settings
from metronome.config.sites import AllezonSettings, HitLimits, SiteSettings
from metronome.config.sources import (
    GitHubWebhookSettings,
    SchedulerSettings,
    SourceSettings,
    WebhookSettings,
)
from metronome.config.storage import PERIODS, Period, StorageSettings

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_KEEP_PARAMS",
    "PERIODS",
    "TRACKER_SCRIPT",
    "AlertSettings",
    "AllezonSettings",
    "ArchiveSettings",
    "ChannelSettings",
    "ConfigError",
    "DashboardSettings",
    "DeliverySettings",
    "DigestSettings",
    "ElasticsearchSettings",
    "EmbeddedSettings",
    "EnrichSettings",
    "ForwardSettings",
    "ForwardTlsSettings",
    "GeoSettings",
    "GitHubWebhookSettings",
    "HealthSettings",
    "HitLimits",
    "IngestSettings",
    "ItemPattern",
    "Limit",
    "LimitPair",
    "LogsSettings",
    "MetricsSettings",
    "Network",
    "NotifySettings",
    "Period",
    "PrivacySettings",
    "PublicCacheSettings",
    "RateLimitSettings",
    "ReportSettings",
    "RetentionSettings",
    "RollupGroup",
    "RollupSettings",
    "SchedulerSettings",
    "ServerSettings",
    "SessionSettings",
    "Settings",
    "ShipperSettings",
    "SiteSettings",
    "SmtpSettings",
    "SourceSettings",
    "SpoolSettings",
    "StorageSettings",
    "WebhookSettings",
    "config_origin",
    "deep_merge",
    "describe",
    "env_overrides",
    "load_settings",
    "parse_duration",
    "read_config_file",
    "settings_from_mapping",
]
