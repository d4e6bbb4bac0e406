"""The app factory: ``create_app``: it reads the settings (unless given), builds the
Elasticsearch client once, wires the services and registers one blueprint per area.
"""

from __future__ import annotations

from elasticsearch import Elasticsearch
from flask import Flask

from metronome.access.opskeys import with_generated_keys
from metronome.alerts.channels import channel_names
from metronome.alerts.evaluate import check_alert_rules
from metronome.config import Settings, config_origin, load_settings
from metronome.enrich.visitors import SECRET_FILE, DailySalts
from metronome.es.client import build_client
from metronome.fsutil import load_or_create_secret
from metronome.hits.budget import body_budgets
from metronome.hits.sink import SpoolSink
from metronome.logs.context import log_context
from metronome.logs.sink import SpoolEventSink
from metronome.query.catalog import FieldCatalog
from metronome.query.public_cache import PublicCache
from metronome.sources.registry import check_source_options
from metronome.spool.writer import SpoolWriter
from metronome.web import errors, readers, security_headers
from metronome.web.fastpath import FastPath
from metronome.web.openapi import bp as openapi_bp
from metronome.web.ratelimit import middleware as ratelimit
from metronome.web.services import EXTENSION_KEY, Services, SpoolEntrySink
from metronome.web.sessions import session_book
from metronome.web.views import alerts as alerts_view
from metronome.web.views import dashboards as dashboards_view
from metronome.web.views import reports as reports_view
from metronome.web.views.allezon import bp as allezon_bp
from metronome.web.views.allezon import fast_user_tags
from metronome.web.views.app import bp as app_bp
from metronome.web.views.events import bp as events_bp
from metronome.web.views.hits import bp as hits_bp
from metronome.web.views.hits import fast_tick
from metronome.web.views.logs import bp as logs_bp
from metronome.web.views.ops import bp as ops_bp
from metronome.web.views.points import bp as points_bp
from metronome.web.views.query import bp as query_bp
from metronome.web.views.session import bp as session_bp
from metronome.web.views.snippet import bp as snippet_bp
from metronome.web.views.sources import bp as sources_bp
from metronome.web.views.sql import bp as sql_bp
from metronome.web.views.webhooks import bp as webhooks_bp


def create_app(settings: Settings | None = None, es: Elasticsearch | None = None) -> Flask:
    if settings is None:
        settings = load_settings()
        check_source_options(settings, config_origin())  # config keeps them as given
        check_alert_rules(settings, channel_names(settings), config_origin())  # the same
    client = es or build_client(settings.elasticsearch)
    spool = settings.spool
    settings, _ = with_generated_keys(settings, spool.dir.parent)
    secret = load_or_create_secret(settings.privacy.visitor_secret, spool.dir.parent / SECRET_FILE)
    salts = DailySalts(secret)
    writer = SpoolWriter(spool.dir, spool.segment_bytes, spool.max_bytes)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # bucket order is meaningful
    app.config["MAX_CONTENT_LENGTH"] = settings.ingest.max_body_bytes
    app.extensions[EXTENSION_KEY] = Services(
        settings=settings,
        es=client,
        sink=SpoolSink(writer),
        salts=salts,
        catalog=FieldCatalog(client, settings.elasticsearch.index_prefix),
        log_sink=SpoolEventSink(writer, log_context(settings, salts)),
        entries=SpoolEntrySink(writer),
        budgets=body_budgets(settings),
        public_cache=PublicCache(settings.public_tock_cache),
        sessions=session_book(settings, spool.dir.parent),
    )
    errors.init_app(app)
    security_headers.init_app(app)
    readers.init_app(app)
    for blueprint in (
        ops_bp, hits_bp, query_bp, events_bp, openapi_bp, snippet_bp, logs_bp, sources_bp,
        webhooks_bp, session_bp, app_bp, sql_bp, points_bp,
    ):  # fmt: skip
        app.register_blueprint(blueprint)
    dashboards_view.init_app(app, settings)
    alerts_view.init_app(app, settings)
    reports_view.init_app(app, settings)
    services = app.extensions[EXTENSION_KEY]
    fast = {("POST", "/tick"): fast_tick(services)}
    if settings.allezon.enabled:
        app.register_blueprint(allezon_bp)
        fast[("POST", "/user_tags")] = fast_user_tags(services)
    # The plain successes of the hottest routes skip Flask (web/fastpath.py).
    app.wsgi_app = FastPath(app.wsgi_app, fast, settings.ingest.max_body_bytes)  # type: ignore[method-assign]
    # Outermost, so a request over its rate limit costs nothing behind it (web/ratelimit/).
    app.wsgi_app = ratelimit.wrap(app.wsgi_app, settings)  # type: ignore[method-assign,assignment]
    return app
