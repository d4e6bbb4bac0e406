"""``/healthz`` (the process answers), ``/readyz`` (Elasticsearch answers and the spool has
room; the shard budget is reported, and warned about past ``storage.shard_warn_ratio``),
``/metrics`` (Prometheus text format; the metrics token or an admin key, unless
``metrics.auth: none``)."""

from __future__ import annotations

import logging
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from flask import Blueprint, Response, jsonify, request
from prometheus_client.registry import Collector

from metronome import metrics
from metronome.access.admin import check_metrics_key
from metronome.es.shards import shard_budget
from metronome.sources.status import SourcesCollector, source_rows
from metronome.spool.gauges import SpoolCollector
from metronome.spool.writer import spool_bytes
from metronome.web.services import current_services

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int, dict[str, str]]:
    services = current_services()
    spool = services.settings.spool
    used = spool_bytes(spool.dir)
    body: dict[str, Any] = {"spool": {"bytes": used, "max_bytes": spool.max_bytes}}
    problems: list[str] = []
    try:
        health = services.es.options(request_timeout=2).cluster.health(timeout="1s")
        body["elasticsearch"] = str(health["status"])
        if body["elasticsearch"] not in ("green", "yellow"):
            problems.append(f"Elasticsearch cluster health is {body['elasticsearch']}.")
        budget = shard_budget(
            services.es.options(request_timeout=2),
            services.settings.storage.shard_warn_ratio,
            health.body,
        )
        body["shards"] = budget.to_json()
        if budget.status != "OK":
            # Not a reason to stop taking hits (they wait in the spool), but said here.
            body["warnings"] = [f"Shard budget: {budget.describe()}."]
    except (TransportError, EsApiError) as error:
        body["elasticsearch"] = "unreachable"
        problems.append(f"Elasticsearch is not reachable ({type(error).__name__}).")
    # Full means a request of ordinary size would be refused now.
    margin = min(services.settings.ingest.max_body_bytes, spool.max_bytes // 10)
    if used + margin > spool.max_bytes:
        problems.append("The spool is full: Elasticsearch is not taking hits fast enough.")
    if problems:
        body["status"] = "unavailable"
        body["error"] = {"code": "not_ready", "message": " ".join(problems)}
        return jsonify(body), 503, {"Retry-After": "5"}
    body["status"] = "ready"
    return jsonify(body), 200, {}


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    settings = current_services().settings
    check_metrics_key(settings, request.headers.get("Authorization"), request.args)
    collectors: list[Collector] = [SpoolCollector(settings.spool.dir, settings.spool.max_bytes)]
    if settings.sources:
        try:
            collectors.append(
                SourcesCollector(
                    source_rows(settings, current_services().es, settings.sources.keys())
                )
            )
        except (TransportError, EsApiError):
            log.warning("/metrics: source state unavailable (Elasticsearch did not answer)")
    output, content_type = metrics.render(*collectors)
    return Response(output, content_type=content_type)
