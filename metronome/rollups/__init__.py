"""Rollups: hourly and daily pre-aggregated counts of every stream, kept from the raw events.

``compute`` recomputes a range of one group's buckets; what a rollup document is, where it is
stored and how far the rollups are complete (the watermark) is in
``metronome.query.rollup_schema``, which the query planner reads too.
"""
