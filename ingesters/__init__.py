"""External data sources, one module each (GitHub, S3 access logs, GA4, Prometheus, HTTP JSON)."""
