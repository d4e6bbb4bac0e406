"""A fake Prometheus server: ``GET /api/v1/query_range`` with the wire format of the real one.

Each known query has a few series whose value is a function of time, so any range can be
answered. Samples exist between ``first`` and ``last`` (unix seconds, both included): what the
server has scraped so far; ``last`` moves forward as more is "scraped". Evaluation follows
Prometheus: points at ``start, start+step, ... <= end``, a series appears only when it has at
least one point, more than 11,000 points per series is refused (400 bad_data).

Answers (https://prometheus.io/docs/prometheus/latest/querying/api/):
    200 {"status":"success","data":{"resultType":"matrix","result":[{"metric":{...},
         "values":[[1714557600,"0.5"],...]}]}}   (+ "warnings": [...] when set)
    400 {"status":"error","errorType":"bad_data","error":"..."}   bad parameters, parse errors
    422 {"status":"error","errorType":"execution","error":"..."}  cannot be executed
    503 {"status":"error","errorType":"timeout","error":"..."}    the failure switch
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, Response, jsonify, request

MAX_POINTS = 11_000
Series = tuple[dict[str, str], Callable[[float], float]]


def _requests_rate(code: str, base: float) -> Callable[[float], float]:
    return lambda t: round(base + (int(t) % 60) / 100, 2) if code == "200" else round(base, 2)


def _up(instance: int) -> Callable[[float], float]:
    return lambda t: 0.0 if instance == 2 and int(t) % 300 == 0 else 1.0


def _ratio(t: float) -> float:
    """NaN and ±Inf now and then, as a division by zero gives them."""
    phase = int(t) % 10
    if phase == 0:
        return math.nan
    if phase == 5:
        return math.inf
    if phase == 7:
        return -math.inf
    return phase / 10


CATALOGUE: dict[str, list[Series]] = {
    'sum by (code) (rate(http_requests_total{job="shop"}[5m]))': [
        ({"code": "200"}, _requests_rate("200", 4.5)),
        ({"code": "500"}, _requests_rate("500", 0.25)),
    ],
    "up": [
        ({"__name__": "up", "job": "node", "instance": "host-1:9100"}, _up(1)),
        ({"__name__": "up", "job": "node", "instance": "host-2:9100"}, _up(2)),
    ],
    "node_load1": [
        ({"__name__": "node_load1", "instance": "host-1:9100"}, lambda t: (int(t) % 7) / 4),
    ],
    "errors / requests": [({}, _ratio)],
}


def format_value(value: float) -> str:
    """As Prometheus writes sample values (Go's FormatFloat 'f', -1): "0.5", "NaN", "+Inf"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text:
        text = format(value, "f")
    return text[:-2] if text.endswith(".0") else text


def format_time(moment: float) -> float | int:
    """Unix seconds with up to three decimals; a whole second is written without any."""
    rounded = round(moment, 3)
    return int(rounded) if rounded == int(rounded) else rounded


def parse_time(text: str | None) -> float | None:
    """A unix timestamp or an RFC 3339 date, as the API accepts them; None when neither."""
    return _number_or(text, _rfc3339)


def parse_step(text: str | None) -> float | None:
    """Seconds, or a duration such as ``5m``; None when neither."""
    return _number_or(text, _duration)


def _number_or(text: str | None, read: Callable[[str], float | None]) -> float | None:
    """``text`` as a plain number, else as ``read`` reads it; None for no text."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return read(text)


def _rfc3339(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _duration(text: str) -> float | None:
    match = DURATION.match(text)
    return int(match[1]) * UNIT_SECONDS[match[2]] if match else None


@dataclass
class FakePrometheus:
    """The server's state; ``app()`` serves it. Tests change it between runs."""

    first: float  # the oldest sample kept (unix seconds)
    last: float  # the newest sample scraped so far
    failing: bool = False  # every request: 503 timeout
    warnings: list[str] = field(default_factory=list)
    required_headers: dict[str, str] = field(default_factory=dict)  # 401 without them
    garbled: str | None = None  # when set: answer this text with status 200
    log: list[dict[str, Any]] = field(default_factory=list)  # every request: args and headers

    def app(self) -> Flask:
        app = Flask("fake_prometheus")
        app.add_url_rule(
            "/api/v1/query_range", "query_range", self.query_range, methods=["GET", "POST"]
        )
        return app

    def query_range(self) -> Response | tuple[Response, int]:
        args = request.values
        self.log.append({"args": args.to_dict(), "headers": dict(request.headers)})
        for name, value in self.required_headers.items():
            if request.headers.get(name) != value:
                return Response("Unauthorized\n", status=401, mimetype="text/plain")
        if self.failing:
            return error("timeout", "query timed out in expression evaluation", 503)
        if self.garbled is not None:
            return Response(self.garbled, status=200, mimetype="application/json")
        checked = check_range(
            args.get("query"), args.get("start"), args.get("end"), args.get("step")
        )
        if isinstance(checked, tuple):
            return checked
        body: dict[str, Any] = {
            "status": "success",
            "data": {"resultType": "matrix", "result": self.evaluate(*checked.as_tuple())},
        }
        if self.warnings:
            body["warnings"] = list(self.warnings)
        return jsonify(body)

    def evaluate(self, query: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        points = self.points(start, end, step)
        result = []
        for labels, value in CATALOGUE.get(query, []):
            values = [[format_time(t), format_value(value(t))] for t in points]
            if values:
                result.append({"metric": dict(labels), "values": values})
        return result

    def points(self, start: float, end: float, step: float) -> list[float]:
        """The evaluation times in [start, end] at which a sample exists; computed from the
        range's intersection with [first, last], so a day at step 1 is cheap."""
        lowest = max(0, math.ceil((self.first - start) / step - 1e-9))
        highest = math.floor((min(end, self.last) - start) / step + 1e-9)
        return [start + k * step for k in range(lowest, highest + 1)]

    def samples_between(self, query: str, after: float, until: float, step: float) -> int:
        """How many samples of ``query`` a range ``(after, until]`` at ``step`` returns."""
        return len(CATALOGUE.get(query, [])) * len(self.points(after + step, until, step))


@dataclass(frozen=True)
class RangeQuery:
    query: str
    start: float
    end: float
    step: float

    def as_tuple(self) -> tuple[str, float, float, float]:
        return self.query, self.start, self.end, self.step


def check_range(
    query: str | None, start_text: str | None, end_text: str | None, step_text: str | None
) -> RangeQuery | tuple[Response, int]:
    """The parameters, or the error answer Prometheus gives for them (same messages)."""
    start, end, step = parse_time(start_text), parse_time(end_text), parse_step(step_text)
    bad = "bad_data"
    if start is None:
        return error(
            bad, f'invalid parameter "start": cannot parse {start_text!r} to a valid timestamp'
        )
    if end is None:
        return error(
            bad, f'invalid parameter "end": cannot parse {end_text!r} to a valid timestamp'
        )
    if end < start:
        return error(bad, 'invalid parameter "end": end timestamp must not be before start time')
    if step is None or step <= 0:
        return error(
            bad,
            'invalid parameter "step": zero or negative query resolution step widths are not '
            "accepted. Try a positive integer",
        )
    if (end - start) / step > MAX_POINTS:
        return error(
            bad,
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
            "query resolution (?step=XX)",
        )
    if not query:
        return error(bad, 'invalid parameter "query": parse error: no expression found in input')
    if query.count("(") != query.count(")"):
        return error(bad, 'invalid parameter "query": 1:1: parse error: unclosed left parenthesis')
    if query.startswith("scalar("):
        return error(
            "execution",
            "expanding series: query processing would load too many samples into memory in "
            "query execution",
            422,
        )
    return RangeQuery(query, start, end, step)


def error(kind: str, message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(status="error", errorType=kind, error=message), status
