"""SQL over a stream (``POST /api/v1/sql``, ``metronome sql``): a ``SELECT`` becomes the typed
``Query`` of the query API and runs through its runner, so it is answered exactly as the
equivalent ``POST /api/v1/query`` is; nothing of the text ever reaches Elasticsearch but
values in term, range and wildcard queries.

- ``statement``: text -> one checked SELECT tree (bounds, one statement, the kinds we read);
- ``names``: FROM -> the stream, column names -> stored fields;
- ``conditions``: WHERE -> time range, site, filters; ``having``: HAVING on answered rows;
- ``translate``: the tree -> ``SqlPlan`` (the query, columns, HAVING, OFFSET, LIMIT);
- ``request``: the endpoint's body; ``answer``: the outcome -> JSON or CSV;
- ``errors``: refusals that say where (line, column).
"""
