"""Archival of closed days to an S3-compatible bucket, and restore from it.

Layout of the bucket (``archive.key_prefix`` defaults to ``metronome``)::

    <key_prefix>/<stream>/YYYY/MM/DD/part-0.ndjson.gz   # documents, archive.part_docs per part
    <key_prefix>/<stream>/YYYY/MM/DD/part-1.ndjson.gz
    <key_prefix>/<stream>/YYYY/MM/DD/manifest.json      # written last: the day is complete

Each part is gzipped NDJSON, one document per line as ``{"_id": ..., "_source": {...}}``:
the Elasticsearch id is kept, so a restore with ``op_type=create`` stores each document once.
The manifest lists the parts with their document counts, sizes and SHA-256 checksums and the
index's document count at archive time; a day without one is incomplete.

Modules: ``layout`` (key names, closed days; pure), ``manifest`` (the manifest and the decision
what to do with a day; pure), ``parts`` (writing and reading part files), ``store`` (the S3
client and its errors), ``source`` (reading a day of a stream's indices with its ids), ``archiver``,
``restore``, ``listing`` (what the bucket holds), ``schedule`` (the ``--every`` loop and the
lease), ``run`` (what ``metronome archive run`` does: once, or every N seconds).
"""
