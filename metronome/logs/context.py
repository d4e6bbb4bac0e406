"""The settings a log document is built with, compiled once per process."""

from __future__ import annotations

from metronome.config import Settings
from metronome.enrich.geo import geo_lookup
from metronome.enrich.visitors import DailySalts
from metronome.logs.items import compile_rule
from metronome.logs.records import LogContext


def log_context(settings: Settings, salts: DailySalts) -> LogContext:
    logs = settings.logs
    return LogContext(
        site=logs.site or settings.default_site,
        rules=tuple(compile_rule(item.pattern, item.event) for item in logs.items),
        ip_mode=settings.privacy.ip,
        salts=salts,
        keep_query=settings.privacy.keep_query_params,
        geo=geo_lookup(settings.enrich.geo),
    )
