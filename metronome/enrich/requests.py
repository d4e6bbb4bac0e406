"""The fields of a web request, as every stream of access logs stores them.

Server logs (``metronome.logs.records``) and S3 access logs (``ingesters.s3_access_logs``)
describe the same thing, one request answered, and store it the same way: ``http`` (method,
status, bytes, protocol version, request line), ``url`` (the target without the query
parameters a deployment does not keep), ``referrer`` (split like a hit's), the parsed
``user_agent`` and the ``bot`` flag. What differs between them (client addresses, visitors,
tracked items, the fields of the log format itself) each adds around these.
"""

from __future__ import annotations

from typing import Any

from metronome.config import DEFAULT_KEEP_PARAMS
from metronome.enrich.urls import KeepParams, clean_url, url_field, url_parts
from metronome.enrich.useragent import parse_user_agent, user_agent_text


def web_request_fields(
    *,
    method: str | None,
    status: int | None,
    bytes_sent: int | None = None,
    version: str | None = None,
    request_line: str | None = None,
    target: str | None = None,
    referrer: str | None = None,
    user_agent: str | None = None,
    keep: KeepParams = DEFAULT_KEEP_PARAMS,
    clean_referrer: bool = True,
) -> dict[str, Any]:
    """``http``, and ``url``, ``referrer``, ``user_agent`` and ``bot`` for what the log holds.

    ``http`` keeps only the values the log has. The target loses the query parameters ``keep``
    does not name, and so does the referrer unless ``clean_referrer`` is false (it is then
    split as logged). The user agent is cut and parsed as a hit's is (``user_agent_text``).
    """
    http = {
        "method": method,
        "status": status,
        "bytes": bytes_sent,
        "version": version,
        "request": request_line,
    }
    fields: dict[str, Any] = {
        "http": {name: value for name, value in http.items() if value is not None}
    }
    if target:
        fields["url"] = url_field(target, keep)
    if referrer:
        fields["referrer"] = url_parts(clean_url(referrer, keep) if clean_referrer else referrer)
    agent_text = user_agent_text(user_agent)
    if agent_text is not None:
        agent = parse_user_agent(agent_text)
        fields["user_agent"] = agent.as_field()
        fields["bot"] = agent.bot
    return fields
