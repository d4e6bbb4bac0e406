"""What archival and restore raise; the CLI turns these into one-line errors."""

from __future__ import annotations


class ArchiveError(RuntimeError):
    """The bucket or Elasticsearch cannot be used; the message says which and why (one line)."""


class Stopped(Exception):
    """A stop was requested; a day cut short has no manifest and is completed by the next run."""
