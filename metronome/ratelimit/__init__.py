"""Per-IP and per-site request rate limits for ingest and public reads (README "Rate limits")."""
