"""The ``ga4`` source: daily rows of a Google Analytics 4 report (Data API ``runReport``).

Each day is its own request (``dateRanges`` of one day), paged by ``limit``/``offset`` until
``rowCount`` is covered. One request per day keeps the cursor exact (the last complete day)
and the catch-up after downtime one day per page, however many days were missed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests

from ingesters.ga4.auth import ServiceAccountTokens
from ingesters.ga4.documents import row_document
from ingesters.ga4.options import Ga4Options
from ingesters.ga4.plan import (
    CursorState,
    Revision,
    fetch_version,
    final_version,
    oldest_revisable,
    parse_cursor,
    plan_days,
    rows_digest,
    utc_today,
    version_for,
)
from ingesters.ga4.report import (
    BadReport,
    Report,
    google_error,
    parse_report,
    report_request,
)
from metronome.sources.base import FetchContext, Page, Source, SourceError
from metronome.sources.http import HttpClient, RemoteError

log = logging.getLogger(__name__)
ANSWERS = frozenset({200, 400, 401, 403, 404})  # final errors, read here for their message


class QuotaExhausted(SourceError):
    """429 RESOURCE_EXHAUSTED that outlasted the HTTP client's retries."""


@dataclass(frozen=True)
class Fetched:
    report: Report
    first_row: int  # offset of the request
    end_row: int  # offset + rows returned
    last: bool  # the day's rows are all read


def error_for(status: int, detail: str, property_id: str) -> SourceError:
    """A readable failure from the Data API's status and Google's error line."""
    where = f"GA4 property {property_id}"
    if status == 429:
        return QuotaExhausted(
            f"{where}: quota exhausted ({detail}); daily quotas refill at midnight Pacific "
            "time, hourly ones within the hour, and the next run carries on from the cursor"
        )
    if status == 403:
        return SourceError(
            f"{where}: permission denied ({detail}); give the service account or the "
            "token's user Viewer access to this property, and enable the Google Analytics "
            "Data API in its Cloud project"
        )
    if status == 401:
        return SourceError(f"{where}: the access token was refused ({detail})")
    if status == 400:
        return SourceError(
            f"{where}: the report request was refused ({detail}); check the dimension and "
            "metric names"
        )
    if status == 404:
        return SourceError(f"{where}: not found ({detail})")
    return SourceError(f"{where}: the Data API answered {status} ({detail})")


class Ga4Source(Source):
    type_name = "ga4"
    stream = "ga4"
    options_schema = Ga4Options
    natural_key = "property + date + the values of the other dimensions"
    description = (
        "Google Analytics 4 report rows per day (Data API runReport); the last lookback_days "
        "days are read again every run and replace the stored figures when GA4 revised them"
    )
    default_interval = 6 * 3600.0

    def __init__(self, name: str, site: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, site, options)
        self.clock: Callable[[], float] = time.time
        credentials_file = options.get("credentials_file")
        self.tokens = (
            ServiceAccountTokens(credentials_file, self._now) if credentials_file else None
        )

    def _now(self) -> float:
        return self.clock()  # looked up at each call: tests replace `clock`

    @property
    def property_id(self) -> str:
        return str(self.options["property_id"])

    def fetch(self, context: FetchContext) -> Iterator[Page]:
        today = utc_today(context.now)
        lookback = int(self.options["lookback_days"])
        state = parse_cursor(context.cursor, self.property_id)
        if context.backfill is not None:
            days = list(context.backfill.days())
            label = "back-fill "
        else:
            days = plan_days(state.day, self.options.get("start_date"), lookback, today)
            label = ""
        for position, day in enumerate(days, start=1):
            progress = f"property {self.property_id}: {label}{day} ({position} of {len(days)} days)"
            after = yield from self._day(context, state, day, today, progress)
            if context.backfill is None:
                state = after

    def _day(
        self, context: FetchContext, state: CursorState, day: date, today: date, progress: str
    ) -> Generator[Page, None, CursorState]:
        """The pages of one day; the last carries the cursor that counts the day as read."""
        lookback = int(self.options["lookback_days"])
        oldest = oldest_revisable(today, lookback)
        pages: Iterator[Fetched] = self._pages(context.http, day)
        revision: Revision | None = None
        if context.backfill is not None:
            # a back-fill is a repair: what GA4 says now replaces what is stored, final or not
            version = fetch_version(context.now)
        elif day >= oldest:
            fetched = list(pages)  # the whole day, for its digest, before choosing the version
            pages = iter(fetched)
            digest = rows_digest(
                [(row.dimensions, row.metrics) for item in fetched for row in item.report.rows]
            )
            version = version_for(day, digest, state.revisions.get(day), context.now, lookback)
            revision = Revision(digest, version)
        else:
            version = final_version(day, lookback)
        after = state.after_day(day, revision, oldest)
        before_cursor = dict(context.cursor) if context.backfill else state.to_cursor()
        after_cursor = dict(context.cursor) if context.backfill else after.to_cursor()
        for item in pages:
            documents = [
                row_document(self.property_id, day, item.report, row, version)
                for row in item.report.rows
            ]
            yield Page(
                documents,
                after_cursor if item.last else before_cursor,
                progress=_describe(progress, item),
            )
        return after

    def _pages(self, http: HttpClient, day: date) -> Iterator[Fetched]:
        """runReport for ``day``, ``page_size`` rows at a time, until ``rowCount`` is covered."""
        offset = 0
        while True:
            report = self._run_report(http, day, offset)
            end = offset + len(report.rows)
            last = end >= report.row_count
            if not last and not report.rows:
                raise BadReport(
                    f"GA4 property {self.property_id}: no rows at offset {offset} of "
                    f"{report.row_count} for {day}"
                )
            if report.quota is not None:
                log.info(
                    "ga4 %s: property %s quota: %s",
                    self.name,
                    self.property_id,
                    report.quota.describe(),
                )
            yield Fetched(report, offset, end, last)
            if last:
                return
            offset = end

    def _run_report(self, http: HttpClient, day: date, offset: int) -> Report:
        url = f"{self.options['api_url']}/v1beta/properties/{self.property_id}:runReport"
        body = report_request(
            self.options["dimensions"],
            self.options["metrics"],
            day,
            int(self.options["page_size"]),
            offset,
        )
        response = self._post(http, url, body)
        if response.status_code == 401 and self.tokens is not None:
            self.tokens.forget()  # revoked or expired early: one new token, one more try
            response = self._post(http, url, body)
        if response.status_code != 200:
            raise error_for(response.status_code, google_error(response.text), self.property_id)
        try:
            payload = response.json()
        except ValueError:
            raise BadReport(
                f"GA4 property {self.property_id}: the runReport answer is not JSON: "
                f"{response.text[:200]!r}"
            ) from None
        try:
            return parse_report(payload)
        except BadReport as error:
            raise BadReport(f"GA4 property {self.property_id}: {error}") from None

    def _post(self, http: HttpClient, url: str, body: dict[str, Any]) -> requests.Response:
        token = self.tokens.token(http) if self.tokens else str(self.options["access_token"])
        try:
            return http.post(
                url, json=body, headers={"Authorization": f"Bearer {token}"}, ok=ANSWERS
            )
        except RemoteError as error:
            if error.status == 0:
                raise SourceError(f"GA4 property {self.property_id}: {error}") from error
            detail = google_error(error.body or str(error))
            raise error_for(error.status, detail, self.property_id) from error


def _describe(progress: str, item: Fetched) -> str:
    text = progress
    if not (item.first_row == 0 and item.last):
        text += f", rows {item.first_row + 1}-{item.end_row} of {item.report.row_count}"
    if item.report.quota is not None and (quota := item.report.quota.describe()):
        text += f"; quota: {quota}"
    return text
