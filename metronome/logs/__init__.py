"""Server logs: the Fluentd forward protocol, HTTP log ingest, access-log parsing.

Everything lands in the ``logs`` stream (``<prefix>-logs-YYYY.MM.DD``).
"""
