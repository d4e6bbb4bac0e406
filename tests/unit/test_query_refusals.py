"""What a query Elasticsearch refuses is answered: the time-zone refusals (its Java runtime's
zone data can be older than this server's) get their own code, whatever the query's part."""

from __future__ import annotations

import pytest

from metronome.query.reads import refusal

HISTOGRAM = (
    "[1:92] [date_histogram] failed to parse field [time_zone] "
    "Unknown time-zone ID: America/Coyhaique"
)
RANGE = (
    "java.time.zone.ZoneRulesException: Unknown time-zone ID: America/Coyhaique "
    "Unknown time-zone ID: America/Coyhaique"
)


@pytest.mark.parametrize("reason", [HISTOGRAM, RANGE])
def test_a_zone_elasticsearch_lacks_is_unknown_tz(reason: str) -> None:
    error = refusal(reason)
    assert (error.status, error.code, error.field) == (422, "unknown_tz", "tz")


def test_another_refusal_names_the_usual_cause() -> None:
    error = refusal("failed to parse regexp [a(]")
    assert (error.status, error.code) == (422, "invalid_query")
    assert "regular expression" in error.message
