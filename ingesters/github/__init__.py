"""The ``github`` source type (``ingesters.github:GitHubSource``); see ``source.py``."""

from ingesters.github.source import GitHubOptions, GitHubSource

__all__ = ["GitHubOptions", "GitHubSource"]
