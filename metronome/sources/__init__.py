"""Scheduled source ingesters: the framework every external source is declared on.

A source (``ingesters/<type>.py``) declares its name, stream, options schema and natural key,
and implements ``fetch(context)``, which yields pages of documents, each with the cursor to
resume from once the page is stored. Everything else is here, once:

- ``base``      the declaration (``Source``), documents, pages, the fetch context
- ``errors``    ``SourceError``, what a source raises when a run fails
- ``http``      the HTTP client every source uses: timeouts, retries with backoff, rate limits
- ``runner``    the final run loop: fetch -> bulk (deterministic ids) -> cursor advanced only
                past what Elasticsearch confirmed -> state recorded
- ``store``     cursors and run state in Elasticsearch (``<prefix>-sources``)
- ``lease``     leases in Elasticsearch: one scheduler per cluster, one run per source
- ``registry``  built-in source types and third-party ones (entry point ``metronome.sources``);
                a source's options checked and loaded by its type
- ``scheduler`` APScheduler in the one process holding the scheduler lease
- ``status``    what ``GET /api/v1/sources``, ``/metrics`` and ``metronome sources status`` show
"""
