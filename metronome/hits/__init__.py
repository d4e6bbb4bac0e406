"""Tracking hits: the ingest core of ``/tick`` and the pixel (``ingest``), the one definition of a
hit (``definition``, on the field kinds of ``fields``) from which its check, its messages and its
OpenAPI schema come, event times (``eventtime``), body decoding and budgets (``bodies``,
``budget``), acceptance per site (``accept``) and the enrichment pipeline (``pipeline``)."""
