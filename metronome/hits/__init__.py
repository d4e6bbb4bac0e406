"""Tracking hits: the schema that validates them, the enrichment pipeline, the /tick views."""
