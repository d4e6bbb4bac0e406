"""What a request body may hold before it is parsed, so one request costs bounded memory.

A JSON parser builds a Python object for every value it reads: two bytes of ``{}`` become a
64-byte dict. Ten KiB of gzip held 10 MiB of ``[{},{},...]``; parsed whole, it took 243 MiB and
1.6 s of CPU before the batch limit could refuse it, and sixteen of them at a time took a web
worker past 15 GB. A ``BodyBudget`` refuses such a body from its bytes alone, before one
object is built:

- the gzip body may not inflate past ``max_bytes``, nor past ``max_inflate_ratio`` times its
  own size once it is larger than ``ratio_floor`` (real JSON compresses 5-20 times; a bomb
  thousands);
- the body may not hold more JSON values than the endpoint can ever accept: every object,
  array, member and element is announced by one of ``{ [ , :`` outside a string, counted at C
  speed by ``bytes.count`` (and, only when that count is over, again with strings removed);
- an NDJSON body may not have more lines than items, and a form body more pairs than a hit.

Within the budget the parsed result is at most a few times ``max_bytes`` plus ~100 bytes per
value, which is the memory bound a request can cost.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from metronome.config import IngestSettings, Settings
from metronome.errors import ApiError

RATIO_FLOOR = 1_048_576  # a body may always inflate to 1 MiB: small batches compress well
# A JSON string: quote, any run of non-quote non-backslash bytes or escapes, quote.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# From the first byte of a line that bytes.strip() keeps, to the end of that line.
_NON_BLANK_LINE = re.compile(rb"[^ \t\n\r\x0b\x0c][^\n]*")
_VALUE_MARKS = (b"{", b"[", b",", b":")
# A user tag is one small object (about 15 values); a thousand times that is generous.
USER_TAG_BUDGET_BYTES = 65_536
# Log records average well over 8 bytes a value ("k":"v", is 8): at most one per 8 bytes.
LOG_BYTES_PER_VALUE = 8
# Bodies that inflate past the floor are parsed a few at a time per process, so sixteen
# threads with sixteen of them cost two of them at once; a thread waits its turn this long.
LARGE_BODY_SLOTS = 2
LARGE_BODY_WAIT = 10.0
_large_bodies = threading.BoundedSemaphore(LARGE_BODY_SLOTS)


@dataclass(frozen=True)
class BodyBudget:
    """The most one endpoint's body can hold (decompressed) and still be accepted."""

    max_bytes: int  # decompressed
    max_values: int  # JSON objects, arrays, members and elements together
    max_items: int  # hits or records; an NDJSON body's non-blank lines too
    max_inflate_ratio: int = 100
    ratio_floor: int = RATIO_FLOOR
    what: str = "hits"  # what the items are, for the messages

    def inflate_limit(self, compressed_bytes: int) -> int:
        """How far a gzip body of ``compressed_bytes`` may inflate."""
        by_ratio = max(self.ratio_floor, self.max_inflate_ratio * compressed_bytes)
        return min(self.max_bytes, by_ratio)


@dataclass(frozen=True)
class BodyBudgets:
    """The budget of each ingest endpoint, worked out once from the settings."""

    tick: BodyBudget
    user_tag: BodyBudget
    logs: BodyBudget


def body_budgets(settings: Settings) -> BodyBudgets:
    return BodyBudgets(
        tick=tick_budget(settings),
        user_tag=user_tag_budget(settings.ingest),
        logs=log_budget(settings.ingest),
    )


def tick_budget(settings: Settings) -> BodyBudget:
    """``POST /tick``: a batch of ``max_batch`` hits, each with the most parameters any site
    allows. A hit of n parameters has at most 1 + 3n marks (``{``, and per parameter ``:``,
    ``,`` and a nested ``{``), plus the ``,`` between hits and the array's ``[``."""
    ingest = settings.ingest
    max_params = max((site.limits.max_params for site in settings.sites.values()), default=100)
    return BodyBudget(
        max_bytes=ingest.max_decompressed_bytes,
        max_values=ingest.max_batch * (2 + 3 * max_params) + 1,
        max_items=ingest.max_batch,
        max_inflate_ratio=ingest.max_inflate_ratio,
    )


def user_tag_budget(ingest: IngestSettings) -> BodyBudget:
    """``POST /user_tags``: one tag."""
    return BodyBudget(
        max_bytes=min(USER_TAG_BUDGET_BYTES, ingest.max_decompressed_bytes),
        max_values=1_000,
        max_items=1,
        max_inflate_ratio=ingest.max_inflate_ratio,
        what="user tag",
    )


def log_budget(ingest: IngestSettings) -> BodyBudget:
    """``POST /ingest/logs``: up to ``max_log_records`` records within the byte limit."""
    return BodyBudget(
        max_bytes=ingest.max_decompressed_bytes,
        max_values=max(1_000, ingest.max_decompressed_bytes // LOG_BYTES_PER_VALUE),
        max_items=ingest.max_log_records,
        max_inflate_ratio=ingest.max_inflate_ratio,
        what="log records",
    )


@contextmanager
def parsing_slot(budget: BodyBudget, size: int) -> Iterator[None]:
    """Hold one of the process's few slots for parsing a body larger than ``ratio_floor``."""
    if size <= budget.ratio_floor:
        yield
        return
    if not _large_bodies.acquire(timeout=LARGE_BODY_WAIT):
        raise ApiError(
            503,
            "busy",
            "Too many large bodies are being read at once; send this one again shortly.",
            headers={"Retry-After": "1"},
        )
    try:
        yield
    finally:
        _large_bodies.release()


def inflate_error(budget: BodyBudget, compressed_bytes: int) -> ApiError:
    limit = budget.inflate_limit(compressed_bytes)
    if limit < budget.max_bytes:
        message = (
            f"The gzip body inflates more than {budget.max_inflate_ratio} times its "
            f"{compressed_bytes} bytes (beyond {limit} bytes); real data does not compress "
            "that well."
        )
    else:
        message = f"The body inflates to more than the limit of {limit} bytes."
    return ApiError(413, "decompressed_too_large", message)


def check_size(budget: BodyBudget, data: bytes) -> None:
    """An uncompressed body larger than ``max_bytes`` (when the raw limit is set higher)."""
    if len(data) > budget.max_bytes:
        raise ApiError(
            413,
            "decompressed_too_large",
            f"The body is larger than the limit of {budget.max_bytes} bytes.",
        )


def check_json_values(budget: BodyBudget, data: bytes) -> None:
    """Refuse a JSON (or NDJSON) body that holds more values than ``max_values``."""
    if json_value_marks(data, budget.max_values) > budget.max_values:
        raise ApiError(
            413,
            "too_many_values",
            f"The body holds more than {budget.max_values} JSON values (objects, arrays, "
            f"members and elements), more than {budget.max_items} {budget.what} can hold.",
        )


def json_value_marks(data: bytes, limit: int) -> int:
    """The number of ``{ [ , :`` outside JSON strings, exact when it is above ``limit``
    (below, strings may be counted too: the cheap count is enough to say "within")."""
    marks = sum(data.count(mark) for mark in _VALUE_MARKS)
    if marks <= limit or b'"' not in data:
        return marks
    bare = _STRING.sub(b'""', data)
    return sum(bare.count(mark) for mark in _VALUE_MARKS)


def check_lines(budget: BodyBudget, data: bytes) -> None:
    """Refuse an NDJSON body with more non-blank lines than ``max_items``, before any is read."""
    if data.count(b"\n") < budget.max_items or _lines_within(data, budget.max_items):
        return
    raise ApiError(
        413,
        "batch_too_large",
        f"A batch may hold at most {budget.max_items} {budget.what}, this one has more lines.",
    )


def _lines_within(data: bytes, limit: int) -> bool:
    lines = _NON_BLANK_LINE.finditer(data)
    return all(count <= limit for count, _ in enumerate(lines, start=1))


def check_form_pairs(data: bytes, max_pairs: int) -> None:
    """Refuse a form body of more ``name=value`` pairs than one hit may have."""
    if data.count(b"&") >= max_pairs:
        raise ApiError(
            413,
            "too_many_values",
            f"A form body holds one hit of at most {max_pairs} parameters; this one has more.",
        )
