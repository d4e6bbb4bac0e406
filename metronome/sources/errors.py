"""The error a source raises when a run fails for a reason worth recording."""


class SourceError(Exception):
    """A run failed for a reason worth recording (remote error, bad answer, rate limit)."""
