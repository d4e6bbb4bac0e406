"""``/api/v1/alerts``: alert rules with their current state and history, and the rules stored
through the API (docs/alerts.md).

A site's read key (or a session of the site) lists and reads that site's rules and creates,
changes and deletes its stored ones; the config file's rules are read-only (403 ``readonly``).
The pipeline-health rules belong to the whole deployment: they are listed and read with an
admin key (which lists every site's rules too). A stored rule changes only from the version it
was read at (``If-Match`` or ``version``), as the dashboards do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from metronome.access.admin import check_admin_key
from metronome.access.sites import bearer_token, one_of
from metronome.alerts import health
from metronome.alerts.channels import channel_names
from metronome.alerts.evaluate import file_rules
from metronome.alerts.local import read_states, state_path
from metronome.alerts.machine import AlertState
from metronome.alerts.rules import Rule, RuleError, check_fields, parse_rule, rule_to_json
from metronome.alerts.store import AlertStore, Event, StoredRule
from metronome.config import Settings, SiteSettings
from metronome.dashboards.store import parse_version
from metronome.errors import ApiError
from metronome.query.reads import call_elasticsearch
from metronome.web.json_body import json_body
from metronome.web.readers import reader_site
from metronome.web.services import EXTENSION_KEY as SERVICES_KEY
from metronome.web.services import current_services

bp = Blueprint("alerts", __name__)
EXTENSION_KEY = "metronome.alerts"
MAX_BODY_BYTES = 64 * 1024
MAX_PAGE_SIZE = 200
RULE_PATH = r"(?:health:[a-z_]{1,40}(?::[a-z0-9][a-z0-9_.-]{0,63})?|[a-z0-9][a-z0-9_.-]{0,63})"


@dataclass(frozen=True)
class AlertServices:
    store: AlertStore
    files: tuple[Rule, ...]  # the config file's rules, read-only


def init_app(app: Flask, settings: Settings) -> None:
    """The config file's rules (checked when the settings were loaded) and the store."""
    services = app.extensions[SERVICES_KEY]
    app.extensions[EXTENSION_KEY] = AlertServices(
        store=AlertStore(services.es, settings.elasticsearch.index_prefix),
        files=tuple(file_rules(settings)),
    )
    app.register_blueprint(bp)


def alert_services() -> AlertServices:
    found = current_app.extensions[EXTENSION_KEY]
    assert isinstance(found, AlertServices)
    return found


# --- reading --------------------------------------------------------------------------------


@bp.get("/api/v1/alerts")
def list_alerts() -> Response:
    settings = current_services().settings
    admin = _is_admin(settings)
    site = None if admin else reader_site()
    rules = _rules(settings, site)
    states = _states(settings, [entry[0] for entry in rules])
    answer = [_answer(rule, version, states.get(rule.name)) for rule, version in rules]
    return jsonify({"alerts": answer})


@bp.get("/api/v1/alerts/<name>")
def one_alert(name: str) -> Response:
    settings = current_services().settings
    rule, version, _ = _find(settings, name)
    page, limit = _paging()
    states = _states(settings, [rule])
    events, total = alert_services().store.events(
        rule=rule.name, size=limit, offset=(page - 1) * limit
    )
    body = _answer(rule, version, states.get(rule.name))
    body["history"] = {
        "events": [_event(event) for event in events],
        "page": page,
        "limit": limit,
        "total": total,
        "has_more": page * limit < total,
    }
    response = jsonify(body)
    if version is not None:
        response.headers["ETag"] = f'"{version}"'
    return response


# --- writing --------------------------------------------------------------------------------


@bp.post("/api/v1/alerts")
def create_alert() -> Response:
    raw = _body()
    site = _site_of(raw)
    rule = _parsed(raw, site, None)
    services = alert_services()
    if any(existing.name == rule.name for existing in services.files):
        raise _name_taken(rule.name)
    stored = services.store.create_rule(rule)
    if stored is None:
        raise _name_taken(rule.name)
    return _rule_response(stored, 201)


@bp.put("/api/v1/alerts/<name>")
def replace_alert(name: str) -> Response:
    raw = _body()
    settings = current_services().settings
    current, _, _ = _find(
        settings, name, raw_site=raw.get("site") if isinstance(raw, dict) else None
    )
    _writable(current)
    site = _site_of(raw)
    if current.site != site.name:
        raise _unknown(name)
    header = _if_match()
    version = header if header is not None else raw.get("version")
    if not isinstance(version, str) or not version:
        raise ApiError(
            428,
            "version_required",
            'Send the version you edited (If-Match: "<version>" or "version" in the body), so '
            "that a change saved by someone else since is not overwritten.",
            field="version",
        )
    rule = _parsed(raw, site, name)
    stored = alert_services().store.replace_rule(rule, _version(version))
    if stored is None:
        raise _conflict(name)
    return _rule_response(stored, 200)


@bp.delete("/api/v1/alerts/<name>")
def delete_alert(name: str) -> Response:
    settings = current_services().settings
    current, _, _ = _find(settings, name)
    _writable(current)
    header = _if_match()
    store = alert_services().store
    deleted = store.delete_rule(name, _version(header) if header is not None else None)
    if deleted is None:
        raise _conflict(name)
    if not deleted:
        raise _unknown(name)
    call_elasticsearch(lambda: store.forget_state(name))
    return Response(status=204)


# --- helpers --------------------------------------------------------------------------------


def _is_admin(settings: Settings) -> bool:
    key = bearer_token(request.headers.get("Authorization"))
    return key is not None and one_of(key, settings.admin_keys)


def _rules(settings: Settings, site: SiteSettings | None) -> list[tuple[Rule, str | None]]:
    """The rules the request may see, with the stored ones' versions."""
    services = alert_services()
    found: list[tuple[Rule, str | None]] = [
        (rule, None) for rule in services.files if site is None or rule.site == site.name
    ]
    taken = {rule.name for rule, _ in found}
    stored = services.store.rules(site.name if site else None)
    found += [(s.rule, s.version) for s in stored if s.rule.name not in taken]
    if site is None:
        found += [(rule, None) for rule in health.cluster_rules(settings)]
        found += [(rule, None) for rule in health.local_rules(settings)]
    return found


def _find(
    settings: Settings, name: str, raw_site: Any = None
) -> tuple[Rule, str | None, SiteSettings | None]:
    """The rule ``name`` if this request may read it (404 otherwise)."""
    if not _valid_name(name):
        raise _unknown(name)
    if health.is_health(name):
        if not _is_admin(settings):
            check_admin_key(settings, request.headers.get("Authorization"), request.args)
        for rule in [*health.cluster_rules(settings), *health.local_rules(settings)]:
            if rule.name == name:
                return rule, None, None
        raise _unknown(name)
    admin = _is_admin(settings)
    site = None if admin else reader_site(raw_site if isinstance(raw_site, str) else None)
    for rule in alert_services().files:
        if rule.name == name and (site is None or rule.site == site.name):
            return rule, None, site
    stored = alert_services().store.rule(name)
    if stored is None or (site is not None and stored.rule.site != site.name):
        raise _unknown(name)
    return stored.rule, stored.version, site


def _valid_name(name: str) -> bool:
    return re.fullmatch(RULE_PATH, name) is not None


def _states(settings: Settings, rules: list[Rule]) -> dict[str, AlertState]:
    local_names = {rule.name for rule in health.local_rules(settings)}
    states = {
        name: state for name, state in read_states(state_path(settings)).items()
        if name in local_names
    }  # fmt: skip
    cluster = [rule.name for rule in rules if rule.name not in local_names]
    stored = alert_services().store.states(cluster) if cluster else {}
    states.update({name: found.state for name, found in stored.items() if found.seq_no is not None})
    return states


def _answer(rule: Rule, version: str | None, state: AlertState | None) -> dict[str, Any]:
    body = rule_to_json(rule) if rule.origin != "health" else _health_json(rule)
    body.update(
        {
            "origin": rule.origin,
            "readonly": rule.readonly,
            "version": version,
            "status": _status(state),
        }
    )
    return body


def _health_json(rule: Rule) -> dict[str, Any]:
    json_rule = rule_to_json(rule)
    for key in ("stream", "metric", "filters", "window", "tz"):
        json_rule.pop(key, None)
    json_rule["condition"] = {"health": rule.extra.get("check")}
    if "source" in rule.extra:
        json_rule["source"] = rule.extra["source"]
    return json_rule


def _status(state: AlertState | None) -> dict[str, Any]:
    if state is None:
        return {"state": "ok", "since": None, "value": None, "reference": None,
                "summary": "", "evaluated_at": None, "error": None}  # fmt: skip
    return {
        "state": state.state,
        "since": _iso(state.since),
        "value": state.value,
        "reference": state.reference,
        "summary": state.summary,
        "evaluated_at": _iso(state.evaluated_at),
        "error": state.error,
    }


def _event(event: Event) -> dict[str, Any]:
    return {
        "state": event.kind,
        "at": _iso(event.at),
        "value": event.value,
        "reference": event.reference,
        "summary": event.summary,
        "notified": event.notified,
        "severity": event.severity,
    }


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _paging() -> tuple[int, int]:
    def number(name: str, default: int, most: int) -> int:
        text = request.args.get(name)
        if text is None:
            return default
        if not text.isdigit() or not 1 <= int(text) <= most:
            raise ApiError(
                400, "invalid_parameter", f"{name} is a whole number, 1 to {most}.", name
            )
        return int(text)

    return number("page", 1, 10_000), number("limit", 50, MAX_PAGE_SIZE)


def _body() -> Any:
    body = json_body("the rule", MAX_BODY_BYTES)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_rule", "The body is a rule: a JSON object.")
    return body


def _site_of(raw: dict[str, Any]) -> SiteSettings:
    named = raw.get("site")
    if named is not None and not isinstance(named, str):
        raise ApiError(422, "invalid_rule", "site: a site's name.", field="site")
    asked = request.args.get("site") or None
    site = reader_site(asked if asked is not None else named)
    if named is not None and named != site.name:
        message = f"The body's site {named[:64]!r} is not the request's ({site.name!r})."
        raise ApiError(422, "invalid_rule", message, field="site")
    return site


def _parsed(raw: dict[str, Any], site: SiteSettings, name: str | None) -> Rule:
    settings = current_services().settings
    try:
        rule = parse_rule(
            {**raw, "site": site.name},
            name=name,
            sites=settings.sites.keys(),
            channels=channel_names(settings),
        )
        catalog = current_services().catalog
        known = call_elasticsearch(lambda: catalog.fields(rule.stream))
        if known:  # a stream with no data yet: the grammar only
            check_fields(rule, known)
    except RuleError as error:
        raise error.api_error() from None
    return rule


def _writable(rule: Rule) -> None:
    if rule.readonly:
        where = "the configuration file" if rule.origin == "file" else "the pipeline checks"
        raise ApiError(
            403,
            "readonly",
            f"Rule {rule.name!r} comes from {where} and is read-only here: change it in the "
            "configuration (alerts.rules, alerts.health).",
        )


def _if_match() -> str | None:
    value = request.headers.get("If-Match")
    return value.strip() if value is not None else None


def _version(text: str) -> tuple[int, int]:
    parsed = parse_version(text)
    if parsed is None:
        message = f'{text[:40]!r} is not a rule version (it reads like "12.1").'
        raise ApiError(409, "version_conflict", message, field="version")
    return parsed


def _rule_response(stored: StoredRule, status: int) -> Response:
    response = jsonify(_answer(stored.rule, stored.version, None))
    response.status_code = status
    response.headers["ETag"] = f'"{stored.version}"'
    return response


def _unknown(name: str) -> ApiError:
    return ApiError(404, "unknown_alert", f"There is no alert rule {name[:80]!r} here.", "name")


def _name_taken(name: str) -> ApiError:
    message = f"There is already an alert rule {name!r}; choose another name."
    return ApiError(409, "name_taken", message, field="name")


def _conflict(name: str) -> ApiError:
    current = alert_services().store.rule(name)
    if current is None:
        return _unknown(name)
    return ApiError(
        409,
        "version_conflict",
        f"Someone else saved rule {name!r} since you read it (version {current.version} now). "
        "Reload it, apply your changes again and save.",
        extra={"current_version": current.version},
    )
