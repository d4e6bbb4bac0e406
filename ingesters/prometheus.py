"""Prometheus: the samples of configured PromQL queries, read with the range-query API.

    GET {url}/api/v1/query_range?query=<PromQL>&start=<unix>&end=<unix>&step=<seconds>

Each query is evaluated at ``start, start+step, ... <= end`` (both ends included). Every
evaluation point of every series becomes one document (``kind: "sample"``). Evaluation points
are multiples of ``step`` (unix seconds), so the same sample read again has the same time and
therefore the same id.

The cursor holds, per query name, the last evaluation time read (``{"queries": {name: unix}}``).
A run reads from the next point after it up to ``now - delay`` (samples of the last minute may
still arrive), in chunks of at most ``max_points`` points per series: Prometheus refuses more
than 11,000. One page per chunk per query, so a run after a long downtime catches up chunk by
chunk, each chunk's cursor saved once its samples are stored. The first run of a query reads
from ``now - lookback``. A back-fill reads the window's UTC days the same way (capped at
``now - delay``) and never moves the cursor.

Values: ``value`` is a double; ``NaN``, ``+Inf`` and ``-Inf`` cannot be indexed as numbers, so
such a sample has no ``value`` and keeps the text in ``value_text`` instead. Native histogram
samples (``histograms`` in the answer) are not stored.

With ``stream: metrics`` the samples are written as metric points instead (the stream of
``POST /api/v1/metrics``, ``metronome.points``): ``metric`` is the series' ``__name__`` (else the
query's name), ``dimensions`` its other labels, ``value`` the number. A sample that cannot be a
point (``NaN`` or an infinity, a label value over the points' length limit...) is left out and
counted in a warning of the run's log.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from marshmallow import Schema, fields, validate

from metronome.points.point import Point, PointError, dimensions, metric_name, point_fields
from metronome.sources.base import Cursor, Document, FetchContext, Page, Source, SourceError

log = logging.getLogger(__name__)

MAX_POINTS = 11_000  # Prometheus: "exceeded maximum resolution of 11,000 points per timeseries"
QUERY_NAME = r"^[A-Za-z0-9_.:-]{1,64}\Z"
RANGE_PATH = "/api/v1/query_range"
STREAMS = ("prometheus", "metrics")  # samples as they are read, or as metric points
ANSWERED = frozenset({200, 400, 422})  # 400/422 carry Prometheus's own error object


class PrometheusOptions(Schema):
    url = fields.Url(required=True, require_tld=False)
    queries = fields.Dict(
        keys=fields.String(
            validate=validate.Regexp(QUERY_NAME, error="A query name is letters, digits, _ . : -")
        ),
        values=fields.String(validate=validate.Length(min=1)),
        required=True,
        validate=validate.Length(min=1, error="Name at least one query."),
    )
    step = fields.Integer(load_default=60, validate=validate.Range(min=1))
    lookback = fields.Integer(load_default=3600, validate=validate.Range(min=1))
    max_points = fields.Integer(load_default=10_000, validate=validate.Range(min=1, max=MAX_POINTS))
    headers = fields.Dict(
        keys=fields.String(), values=fields.String(), load_default=dict, metadata={"secret": True}
    )
    delay = fields.Integer(load_default=60, validate=validate.Range(min=0))
    stream = fields.String(load_default="prometheus", validate=validate.OneOf(STREAMS))


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    time: float  # unix seconds
    value: str  # as Prometheus writes it: "0.5", "NaN", "+Inf"


# --- time arithmetic (unix seconds, evaluation points are multiples of step) ---------------


def align_down(moment: int, step: int) -> int:
    return moment - moment % step


def align_up(moment: int, step: int) -> int:
    return -align_down(-moment, step)


def read_range(
    last_read: int | None, now: int, step: int, lookback: int, delay: int
) -> tuple[int, int] | None:
    """The evaluation points a regular run reads: after ``last_read`` (or from
    ``now - lookback`` the first time) up to ``now - delay``; None when there are none yet."""
    end = align_down(now - delay, step)
    start = (
        align_up(last_read + 1, step) if last_read is not None else align_up(now - lookback, step)
    )
    return (start, end) if start <= end else None


def day_range(
    first: datetime, last: datetime, step: int, now: int, delay: int
) -> tuple[int, int] | None:
    """The evaluation points of the UTC days ``first``..``last`` (midnights), not beyond
    ``now - delay``; None when there are none."""
    start = align_up(int(first.timestamp()), step)
    after = int((last + timedelta(days=1)).timestamp())
    end = min(align_down(after - 1, step), align_down(now - delay, step))
    return (start, end) if start <= end else None


def plan_chunks(start: int, end: int, step: int, max_points: int) -> list[tuple[int, int]]:
    """Split ``[start, end]`` (both aligned) into ranges of at most ``max_points`` points that
    neither overlap nor leave a gap: each starts one step after the previous one ends."""
    chunks = []
    span = (max_points - 1) * step
    while start <= end:
        last = min(start + span, end)
        chunks.append((start, last))
        start = last + step
    return chunks


def progress_label(name: str, start: int, end: int) -> str:
    """``cpu: 2024-05-01T10:00Z .. 12:00Z`` (seconds shown only when not zero)."""
    first = datetime.fromtimestamp(start, UTC)
    last = datetime.fromtimestamp(end, UTC)
    clock = "%H:%M:%S" if first.second or last.second else "%H:%M"
    tail = last.strftime(clock if first.date() == last.date() else f"%Y-%m-%dT{clock}")
    return f"{name}: {first.strftime(f'%Y-%m-%dT{clock}')}Z .. {tail}Z"


# --- the answer -----------------------------------------------------------------------------


def series_key(labels: Mapping[str, str]) -> str:
    """The series' identity, in Prometheus's own notation with the labels sorted:
    ``{__name__="up",instance="a:9100",job="node"}``."""
    pairs = ",".join(f'{name}="{_escape(labels[name])}"' for name in sorted(labels))
    return "{" + pairs + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def parse_answer(status: int, text: str) -> tuple[list[Sample], list[str]]:
    """The samples and warnings of a query_range answer; SourceError for an error answer or
    one that does not have the documented shape."""
    try:
        body = json.loads(text)
    except ValueError:
        raise SourceError(f"the answer ({status}) is not JSON: {text[:200]!r}") from None
    if not isinstance(body, dict):
        raise SourceError("the answer is not a JSON object")
    if body.get("status") != "success" or status != 200:
        kind = body.get("errorType", "unknown")
        raise SourceError(f"Prometheus refused the query ({status}, {kind}): {body.get('error')}")
    data = body.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        found = data.get("resultType") if isinstance(data, dict) else type(data).__name__
        raise SourceError(f"expected data.resultType 'matrix', found {found!r}")
    result = data.get("result")
    if not isinstance(result, list):
        raise SourceError("data.result is not a list")
    warnings = body.get("warnings") or []
    samples = [sample for series in result for sample in _series_samples(series)]
    return samples, [str(warning) for warning in warnings]


def _series_samples(series: Any) -> Iterator[Sample]:
    if not isinstance(series, dict) or not isinstance(series.get("metric"), dict):
        raise SourceError(f"a series without a 'metric' object: {str(series)[:200]}")
    labels = series["metric"]
    if not all(isinstance(value, str) for value in labels.values()):
        raise SourceError(f"a series with labels that are not strings: {labels}")
    values = series.get("values")
    if values is None and "histograms" in series:
        return  # native histograms: not stored (see the module docstring)
    if not isinstance(values, list):
        raise SourceError(f"series {series_key(labels)} has no 'values' list")
    for pair in values:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not isinstance(pair[0], (int, float))
            or isinstance(pair[0], bool)
            or not isinstance(pair[1], str)
        ):
            raise SourceError(f'series {series_key(labels)}: not a [time, "value"] pair: {pair}')
        yield Sample(labels=labels, time=float(pair[0]), value=pair[1])


def sample_document(query: str, expr: str, sample: Sample) -> Document:
    """One document per sample; the key is query name + sorted label set + time (ms)."""
    labels = dict(sample.labels)
    metric_name = labels.pop("__name__", None)
    millis = round(sample.time * 1000)
    fields_: dict[str, Any] = {
        "kind": "sample",
        "query": query,
        "expr": expr,
        "series": series_key(sample.labels),
        "labels": labels,
    }
    if metric_name is not None:
        fields_["metric_name"] = metric_name
    try:
        number = float(sample.value)
    except ValueError:
        raise SourceError(f"{query}: {sample.value!r} is not a sample value") from None
    if math.isfinite(number):
        fields_["value"] = number
    else:
        fields_["value_text"] = sample.value  # NaN and ±Inf: not indexable as a number
    return Document(
        key=f"{query}\0{series_key(sample.labels)}\0{millis}",
        timestamp=datetime.fromtimestamp(millis / 1000, UTC),
        fields=fields_,
    )


def point_document(query: str, sample: Sample) -> Document:
    """A sample as a metric point (``stream: metrics``), under the key ``sample_document``
    gives it; ``PointError`` when it cannot be one."""
    labels = dict(sample.labels)
    metric = metric_name(labels.pop("__name__", None) or query)
    millis = round(sample.time * 1000)
    try:
        number = float(sample.value)
    except ValueError:
        raise SourceError(f"{query}: {sample.value!r} is not a sample value") from None
    if not math.isfinite(number):
        raise PointError("invalid_point", f"{sample.value} is not a finite value", "value")
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    point = Point(metric=metric, value=number, time=moment, dimensions=dimensions(labels))
    return Document(
        key=f"{query}\0{series_key(sample.labels)}\0{millis}",
        timestamp=moment,
        fields={"kind": "sample", "query": query, **point_fields(point)},
    )


def point_documents(query: str, samples: Sequence[Sample]) -> tuple[list[Document], list[str]]:
    """The samples that can be metric points as their documents, and why the others cannot."""
    documents: list[Document] = []
    refused: list[str] = []
    for sample in samples:
        try:
            documents.append(point_document(query, sample))
        except PointError as error:
            refused.append(f"{series_key(sample.labels)}: {error.message}")
    return documents, refused


def cursor_positions(cursor: Cursor) -> dict[str, int]:
    stored = cursor.get("queries") or {}
    if not isinstance(stored, dict) or not all(
        isinstance(value, int) and not isinstance(value, bool) for value in stored.values()
    ):
        raise SourceError(f"the stored cursor is not {{'queries': {{name: unix}}}}: {cursor}")
    return dict(stored)


# --- the source -----------------------------------------------------------------------------


class PrometheusSource(Source):
    type_name = "prometheus"
    stream = "prometheus"
    options_schema = PrometheusOptions
    natural_key = "query name + sorted label set + sample time"
    description = "Samples of PromQL queries over time (Prometheus range-query API)"
    default_interval = 300.0

    def __init__(self, name: str, site: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, site, options)
        # samples as they are read (the prometheus stream), or as metric points (metrics)
        self.stream = str(options.get("stream") or type(self).stream)

    def http_headers(self) -> dict[str, str]:
        return dict(self.options["headers"])

    def fetch(self, context: FetchContext) -> Iterator[Page]:
        step = int(self.options["step"])
        now = int(context.now.timestamp())
        delay = int(self.options["delay"])
        positions = cursor_positions(context.cursor)
        for name, expr in self.options["queries"].items():
            if context.backfill is not None:
                first = datetime.combine(context.backfill.first, time.min, UTC)
                last = datetime.combine(context.backfill.last, time.min, UTC)
                span = day_range(first, last, step, now, delay)
            else:
                span = read_range(positions.get(name), now, step, self.options["lookback"], delay)
            if span is None:
                continue
            chunks = plan_chunks(*span, step, self.options["max_points"])
            for number, (start, end) in enumerate(chunks, start=1):
                documents = self._read(context, name, expr, start, end)
                positions[name] = end
                label = progress_label(name, start, end)
                if len(chunks) > 1:
                    label += f" ({number} of {len(chunks)})"
                cursor = (
                    context.cursor if context.backfill is not None else {"queries": dict(positions)}
                )
                yield Page(documents, cursor, progress=label)

    def _read(
        self, context: FetchContext, name: str, expr: str, start: int, end: int
    ) -> Sequence[Document]:
        url = self.options["url"].rstrip("/") + RANGE_PATH
        response = context.http.get(
            url,
            ok=ANSWERED,
            params={"query": expr, "start": start, "end": end, "step": self.options["step"]},
        )
        try:
            samples, warnings = parse_answer(response.status_code, response.text)
        except SourceError as error:
            raise SourceError(f"query {name!r} ({start}..{end}): {error}") from None
        for warning in warnings:
            log.warning("prometheus source %s, query %s: %s", self.name, name, warning)
        # Ranges never overlap, so a sample outside its range (a server widening the ends)
        # is left to the range it belongs to rather than read twice.
        inside = [sample for sample in samples if start <= sample.time <= end]
        if self.stream != "metrics":
            return [sample_document(name, expr, sample) for sample in inside]
        documents, refused = point_documents(name, inside)
        if refused:
            log.warning(
                "prometheus source %s, query %s: %d samples are not metric points and were "
                "left out (the first: %s)",
                self.name,
                name,
                len(refused),
                refused[0],
            )
        return documents
