"""Enrichment steps shared by every stream that stores web requests (hits, server logs, S3
access logs): user agents, URLs, IP addresses, cookieless visitor ids and timestamps.

Pure functions, one job per module; the streams compose them (``metronome.hits.pipeline``,
``metronome.logs.records``, ``ingesters.s3_access_logs.documents``).
"""
