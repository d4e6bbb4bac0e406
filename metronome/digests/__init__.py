"""E-mailed digests of a dashboard: daily, weekly and monthly (``digests:`` in the settings)."""
