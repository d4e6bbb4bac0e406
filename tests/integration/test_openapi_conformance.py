"""``/openapi.json`` is the truth: schemathesis generates requests from it and checks the answers.

The real app (``create_app``) is served on a loopback port by a thread of this process, on the
real Elasticsearch of the test run, with every optional area switched on (Allezon endpoints,
GitHub webhooks, a scheduled source) and the default site keyed, so that the authenticated
operations are exercised with valid keys; schemathesis also sends them without a key and with a
wrong one (its ``ignored_auth`` check). JSON webhook deliveries are signed with the hook's
secret (``before_call``). Every check runs, positive and negative data, with a fixed seed and a
bounded number of examples per operation.

Two kinds of refusal are not failures, and both are listed here by name:

- ``SEMANTIC_REFUSALS``: a 422 whose error code says the request was well formed but its values
  contradict each other or name what does not exist. A JSON schema cannot say "from before to".
- ``CLOCK_REFUSALS``: a hit or tag whose time is further from the server clock than its site
  allows (the payload definitions list this among what JSON Schema cannot say).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from elasticsearch import Elasticsearch
from schemathesis.core import NotSet
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.core.parameters import ParameterLocation
from schemathesis.engine import events, from_schema
from schemathesis.openapi.checks import RejectedPositiveData

from metronome.config import Settings
from metronome.es.templates import install_templates
from metronome.web.app import create_app
from metronome.webhooks.github import SIGNATURE_HEADER, signature_of
from tests.conftest import (
    ADMIN_KEY,
    INGEST_KEY,
    METRICS_TOKEN,
    READ_KEY,
    TEST_SITES,
    WRITE_KEY,
    make_settings,
    quicken_refresh,
)
from tests.fakes.server import serving

SEED = 20_240_611
# schemathesis' own list of the statuses that refuse a request
NEGATIVE_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429"]
NEGATIVE_STATUSES += ["5xx"]
WEBHOOK_SECRET = "conformance-secret"
MAX_EXAMPLES = 15  # per operation and phase: ~3,900 cases in 25-60 s on 2 shared cores
REPORT_PATHS = r"^/api/v1/(dashboards/\{id\}|shared/\{token\})\.\{format\}$"

# 422 codes of requests that match the schema but cannot be answered, for a reason the schema
# cannot express; the operations' 422 descriptions name them.
SEMANTIC_REFUSALS = {
    "invalid_range": "from is not earlier than to",
    "too_many_buckets": "the range holds too many buckets of the interval",
    "range_too_long": "an Allezon aggregate covers more than 10 minutes",
    "unknown_field": "a metric, dimension or filter names a field the stream does not have",
    "unsuitable_field": "that field's kind does not fit (a sum of text, a group by full text)",
    "inconsistent_query": "parts contradict each other (two time dimensions, order_by names "
    "neither a metric nor a dimension)",
    "too_many_rows": "the breakdown holds more rows than one answer carries",
    "impossible_date": "a date in the grammar before the year 1 or after 9998",
    "unknown_tz": "a zone this server knows but Elasticsearch's older time-zone data lacks",
    "unknown_site": "a hit or a tag names a site that is not configured",
    "invalid_sql": "a SQL statement that does not parse, or names what cannot be",
    "unsupported_sql": "a SQL construct the service does not read (a join, a subquery...)",
    "sql_too_complex": "a SQL statement over a bound (nesting, IN list, conditions)",
    "filter_not_applicable": "a page filter names a field the widget's stream does not have",
    "invalid_rule": "an alert rule naming a field its stream lacks, a channel or site that is not "
    "configured, or a duration out of range for its condition (a window under a minute, an "
    "anomaly window of part of an hour)",
    "invalid_dashboard": "a dashboard whose widget queries name fields their stream lacks, or "
    "whose parts contradict each other (x + w beyond the grid, a pie of two dimensions, an "
    "order_by naming neither a metric nor a dimension, a site other than the request's)",
}
# "Invalid component: in body - violates `pattern` at /items/.../properties/hit_id (was ...": one
# field of one item of a batch (a single mutation; several are listed on lines of their own).
BATCH_ITEM_FIELD = re.compile(
    r"Invalid component: in body - violates `[^`]+` "
    r"at /items/\S*/properties/([A-Za-z0-9_.@-]+) \(was .*, became (.*)\)$",
    re.MULTILINE,
)
# A hit's or a tag's time beyond the bounds the site sets around the server clock: the refusal
# (invalid_hit, invalid_user_tag, or an entry of a batch's rejected) names time and says so.
CLOCK_REFUSALS = ("ahead of the server clock", "days in the past")


@schemathesis.serializer("application/x-ndjson")
def ndjson_lines(context: schemathesis.SerializationContext, value: Any) -> bytes | None:
    """The records of an NDJSON body (an array in the schema), one JSON object a line; what is
    not an array has no NDJSON form: no body is sent then."""
    if not isinstance(value, list):
        return None
    return b"".join(json.dumps(item).encode() + b"\n" for item in value)


@schemathesis.hook  # before_call hooks are global; this one touches the webhook only
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]
) -> None:
    """GitHub signs a delivery with the hook's secret: a JSON delivery gets the signature of
    the bytes the transport sends (``json.dumps`` of the body), so the operation is exercised
    past its door. Not when the headers are the negative part of the case (a missing or wrong
    signature must stay so), nor for form bodies (their signature stays wrong)."""
    if case.operation.label != "POST /webhooks/github" or case.media_type != "application/json":
        return
    if case.headers is None or SIGNATURE_HEADER not in case.headers:
        return
    if isinstance(case.body, NotSet) or (
        case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
    ):
        return
    body = case.body if isinstance(case.body, bytes) else json.dumps(case.body, allow_nan=False)
    sent = body if isinstance(body, bytes) else body.encode()
    case.headers[SIGNATURE_HEADER] = signature_of(WEBHOOK_SECRET, sent)


@dataclass
class Outcome:
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    engine_errors: list[str] = field(default_factory=list)
    excused: dict[str, int] = field(default_factory=dict)


def test_the_service_answers_as_openapi_json_says(
    es_url: str,
    es: Elasticsearch,
    index_prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_templates(es, index_prefix)
    quicken_refresh(es, index_prefix)  # a saved dashboard, share or rule waits for it
    app = create_app(conformance_settings(es_url, index_prefix, tmp_path), es=es)
    caplog.set_level(logging.WARNING, logger="werkzeug")  # one line per request otherwise
    started = time.monotonic()
    # A loopback server rather than schemathesis' WSGI transport: in 4.32.5 that transport
    # hands its auth probes a requests-only argument (max_redirects) and they crash.
    with serving(app) as url:
        outcome = run_schemathesis(url)
    elapsed = time.monotonic() - started
    print(f"\nschemathesis: {outcome.cases} cases in {elapsed:.1f}s; excused: {outcome.excused}")
    problems = outcome.failures + outcome.server_errors + outcome.engine_errors
    if problems:
        pytest.fail(
            f"{len(outcome.failures)} failures, {len(outcome.server_errors)} server errors, "
            f"{len(outcome.engine_errors)} engine errors in {outcome.cases} cases:\n\n"
            + "\n\n".join(problems),
            pytrace=False,
        )
    assert outcome.cases > 500  # the run did explore


def conformance_settings(es_url: str, index_prefix: str, tmp_path: Path) -> Settings:
    return make_settings(
        es_url,
        index_prefix,
        tmp_path / "spool",
        default_site="shop",
        sites={**TEST_SITES, "allezon": {"write_auth": "none"}},
        allezon={"enabled": True},
        webhooks={"github": {"secret": WEBHOOK_SECRET}},
        sources={  # never run here: its status is read from Elasticsearch
            "metrics": {
                "type": "prometheus",
                "interval": 3600,
                "url": "http://127.0.0.1:9",
                "queries": {"up": "up"},
            }
        },
    )


def run_schemathesis(url: str) -> Outcome:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Positive and negative data; no example database: every run starts from the seed.
            "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "database": "none"},
            # A body over a limit (a batch of more hits than maxItems) is a 413, which is a
            # refusal too.
            "checks": {
                "enabled": True,
                "negative_data_rejection": {"expected-statuses": [*NEGATIVE_STATUSES, "413"]},
                # A change without the If-Match it requires: 428 Precondition Required.
                "missing_required_header": {
                    "expected-statuses": ["400", "401", "403", "406", "415", "422", "428"]
                },
            },
            # A report (PDF, PNG) is rendered by a browser, seconds each: a few cases suffice.
            "operations": [
                {
                    "include-path-regex": REPORT_PATHS,
                    "generation": {"max-examples": 2},
                    "phases": {"coverage": {"enabled": False}},
                }
            ],
            "continue-on-failure": True,  # every failure of an operation, not only its first
            "cache": {"enabled": False},  # no state carried from one run to the next
            "auth": {
                "openapi": {
                    "readKey": {"bearer": READ_KEY},
                    "adminKey": {"bearer": ADMIN_KEY},
                    "metricsToken": {"bearer": METRICS_TOKEN},
                    "writeKey": {"api_key": WRITE_KEY},
                    "ingestKey": {"api_key": INGEST_KEY},
                    "ingestPassword": {"username": "fluent-bit", "password": INGEST_KEY},
                }
            },
        }
    )
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
    outcome = Outcome()

    @schema.hook
    def filter_failure(
        context: schemathesis.HookContext,
        failure: Failure,
        case: schemathesis.Case[Any],
        response: schemathesis.Response,
    ) -> bool:  # False drops the failure
        reason = _excuse(case, failure, response)
        if reason is not None:
            outcome.excused[reason] = outcome.excused.get(reason, 0) + 1
        return reason is None

    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            _collect(event, outcome)
        elif isinstance(event, events.NonFatalError):
            outcome.engine_errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            outcome.engine_errors.append(f"fatal: {event.exception!r}")
    return outcome


def _excuse(
    case: schemathesis.Case[Any], failure: Failure, response: schemathesis.Response
) -> str | None:
    if isinstance(failure, AcceptedNegativeData):
        return _batch_kept_the_rest(case, failure, response)
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return None
    errors = _errors(response.content)
    if errors and errors[0].get("code") in SEMANTIC_REFUSALS:
        return str(errors[0]["code"])
    # Every refusal of the answer (a batch lists its hits' refusals) is a semantic one.
    reasons = {_semantic(error) for error in errors[1:] or errors}
    if errors and None not in reasons:
        return " + ".join(sorted(str(reason) for reason in reasons))
    return None


def _batch_kept_the_rest(
    case: schemathesis.Case[Any], failure: Failure, response: schemathesis.Response
) -> str | None:
    """A batch with a schema-violating item is answered 202: its valid items are kept and the
    bad one is listed in ``rejected`` (docs/api.md). Excused only when every item that carries
    the value the case made invalid is among the rejected ones."""
    broken = BATCH_ITEM_FIELD.search(failure.message)
    if response.status_code != 202 or broken is None or not isinstance(case.body, list):
        return None
    try:
        became = json.loads(broken[2])
        body = json.loads(response.content or b"")
    except ValueError:
        return None
    carriers = {
        n for n, item in enumerate(case.body)
        if isinstance(item, dict) and broken[1] in item and item[broken[1]] == became
    }  # fmt: skip
    rejected = body.get("rejected") if isinstance(body, dict) else None
    refused = {e.get("index") for e in (rejected or []) if isinstance(e, dict)}
    if carriers and carriers <= refused:
        return "a batch's bad item rejected, the rest kept"
    return None


def _semantic(error: dict[str, Any]) -> str | None:
    code = error.get("code")
    if code in SEMANTIC_REFUSALS:
        return str(code)
    message = str(error.get("message", ""))
    if error.get("field") == "time" and any(words in message for words in CLOCK_REFUSALS):
        return "time beyond the clock"
    return None


def _errors(content: bytes | None) -> list[dict[str, Any]]:
    """The answer's error, then the errors of its ``rejected`` entries."""
    try:
        body = json.loads(content or b"")
    except ValueError:
        return []
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return []
    rejected = body.get("rejected")
    items: list[Any] = rejected if isinstance(rejected, list) else []
    entries = [item.get("error") for item in items if isinstance(item, dict)]
    return [body["error"], *(error for error in entries if isinstance(error, dict))]


def _collect(event: events.ScenarioFinished, outcome: Outcome) -> None:
    recorder = event.recorder
    outcome.cases += len(recorder.cases)
    for interaction in recorder.interactions.values():
        response = interaction.response
        if response is not None and response.status_code >= 500:
            outcome.server_errors.append(
                f"{recorder.label}: {response.status_code} to {interaction.request.method} "
                f"{interaction.request.uri}\n  {_excerpt(response.content)}"
            )
    seen = set(outcome.failures)
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            response = recorder.interactions[case_id].response
            answer = f"{response.status_code} {_excerpt(response.content)}" if response else "none"
            text = "\n".join(
                [
                    f"{recorder.label} [{event.phase.value}] {failure.title}",
                    *("  " + line for line in failure.message.splitlines()),
                    f"  answer: {answer}",
                    f"  {check.failure_info.code_sample}",
                ]
            )
            if text not in seen:
                seen.add(text)
                outcome.failures.append(text)


def _excerpt(content: bytes | None) -> str:
    return (content or b"")[:300].decode("utf-8", "replace").strip()
