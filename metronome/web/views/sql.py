"""``POST /api/v1/sql``: one SELECT over a stream, answered as the equivalent query is.

auth -> parse (metronome.query.sql) -> the query API's runner -> JSON or CSV. The site is the
statement's ``site = '...'``, else the body's ``site`` or ``?site=`` (which must not
name another), else the default site (``FROM events``: the Allezon site, when the Allezon
endpoints are on); the request's read key (or session) must open it,
as for ``POST /api/v1/query``. A request with no credential at all is refused before its
statement is parsed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request

from metronome.errors import ApiError
from metronome.query.body import query_body
from metronome.query.reads import call_elasticsearch
from metronome.query.runner import run_query
from metronome.query.sql.answer import sql_csv, sql_result
from metronome.query.sql.conditions import site_condition
from metronome.query.sql.names import Source, source_of
from metronome.query.sql.request import SQL_FORMATS, SqlRequest, parse_sql_request
from metronome.query.sql.statement import parse_statement
from metronome.query.sql.translate import translate
from metronome.web.readers import reader_site, session_of_request
from metronome.web.services import current_services

bp = Blueprint("sql", __name__)
CSV_TYPE = "text/csv; charset=utf-8"


@bp.post("/api/v1/sql")
def sql_query() -> Response:
    services = current_services()
    body = query_body(request.mimetype, request.get_data(cache=True))
    asked = parse_sql_request(body)
    if request.headers.get("Authorization") is None and session_of_request() is None:
        reader_site(asked.site, public_ok=False)  # no credential: refused here, unparsed
    statement = parse_statement(asked.sql)
    source = source_of(statement)
    site = reader_site(_site_name(asked, site_condition(statement.select, asked.sql), source))
    output = _output_format(asked)
    known = call_elasticsearch(lambda: services.catalog.fields(source.stream))
    plan = translate(
        statement, site.name, known, datetime.now(UTC), asked.tz, every_row=output == "csv"
    )
    prefix = services.settings.elasticsearch.index_prefix
    rollups = services.settings.rollups  # answered from rollups where exactly the same
    outcome = call_elasticsearch(lambda: run_query(services.es, prefix, plan.query, rollups))
    if output == "json":
        return jsonify(sql_result(plan, outcome))
    response = Response(sql_csv(plan, outcome), content_type=CSV_TYPE)
    filename = f"metronome-sql-{plan.query.stream}-{plan.query.range.start:%Y%m%d}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _site_name(asked: SqlRequest, named: str | None, source: Source) -> str | None:
    """The site to read: the body's, the statement's or the URL's (they must agree)."""
    given = asked.site or request.args.get("site")
    if given is not None and named is not None and given != named:
        raise ApiError(
            422,
            "inconsistent_query",
            f"The statement reads site {named!r}, the request names {given!r}.",
            field="site",
        )
    if named or given:
        return named or given
    return _allezon_site() if source.allezon else None


def _allezon_site() -> str | None:
    """The Allezon endpoints' site while they are on (else the default site)."""
    settings = current_services().settings
    return settings.allezon.site if settings.allezon.enabled else None


def _output_format(asked: SqlRequest) -> str:
    """``format`` of the body, else ``?format=``, else what Accept prefers (JSON by default);
    both are checked."""
    fmt = request.args.get("format")
    if fmt is not None and fmt not in SQL_FORMATS:
        raise ApiError(422, "invalid_query", f"format={fmt[:20]!r} is json or csv.", "format")
    if asked.format is not None or fmt is not None:
        return asked.format or str(fmt)
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return "csv" if best == "text/csv" else "json"
