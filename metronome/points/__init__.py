"""Metric points: (metric, dimensions, time) -> value, the ``metrics`` stream.

``point`` validates one point and names its document and deterministic id (pure functions);
``body`` reads the body of ``POST /api/v1/metrics`` within its budget. The web view spools the
points like every other ingest; the Prometheus source can write its samples as points too.
"""
