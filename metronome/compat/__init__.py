"""Endpoints that speak another platform's API on top of Metronome's ingest and query."""
