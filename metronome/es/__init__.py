"""Everything that talks to Elasticsearch: the client, index names, templates, the embedded node."""
