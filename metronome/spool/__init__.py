"""The durable spool: an append-only log of segment files between ingest and Elasticsearch.

Web workers append records and answer only once the append is fsynced (``writer``); the
shipper reads the segments, bulk-indexes them and advances its checkpoint only past what
Elasticsearch confirmed (``reader``, ``checkpoint``). Records are length + CRC framed
(``framing``), so a record torn by a crash is detected and skipped, never shipped as garbage.
What Elasticsearch refuses as invalid is kept as dead letters (``deadletters``); a failed append
becomes the HTTP refusal every write endpoint gives (``http_errors``).
"""
