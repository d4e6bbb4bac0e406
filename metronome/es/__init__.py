"""Everything that talks to Elasticsearch: the client, index names, templates, bulk writes and
their retries, point-in-time scans, the embedded node."""
