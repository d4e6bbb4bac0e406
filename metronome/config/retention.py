"""``retention:``: how long raw indices and rollups are kept (``metronome retention``; the
scheduler applies it daily). Nothing is deleted by default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from marshmallow import fields
from marshmallow.validate import Range, Regexp

from metronome.config.declare import Loader

STREAM_NAME = r"^[a-z0-9_]{1,32}\Z"


def _days(**options: Any) -> fields.Field:
    return fields.Dict(
        keys=fields.String(validate=Regexp(STREAM_NAME, error="Not a stream name.")),
        values=fields.Integer(strict=True, validate=Range(min=1, max=36_500)),
        **options,
    )


@dataclass(frozen=True)
class RetentionSettings:
    """``raw_days``: per stream, an index goes once every document it can hold is older than
    this many days (a stream left out is kept forever). ``rollup_days``: the same for rollup
    indices (None: forever). With the archive on, an index is deleted only once every day of
    it is archived."""

    raw_days: Annotated[Mapping[str, int], Loader(_days)] = field(default_factory=dict)
    rollup_days: Annotated[int | None, Range(min=1, max=36_500)] = None
    every: Annotated[float, Range(min=60)] = 86_400.0  # seconds between scheduled applications

    @property
    def configured(self) -> bool:
        return bool(self.raw_days) or self.rollup_days is not None
