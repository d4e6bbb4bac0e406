"""GitHub webhook payloads shaped as GitHub sends them, shared by the webhook's unit and
integration tests."""

from __future__ import annotations

from typing import Any

SENDER = {"login": "octocat", "id": 1}
BEFORE = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
AFTER = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"


def push(repository: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A push of one commit to main by octocat into ``repository``; ``changes`` replace members
    or add them."""
    return {
        "ref": "refs/heads/main",
        "before": BEFORE,
        "after": AFTER,
        "created": False,
        "deleted": False,
        "forced": False,
        "commits": [{"id": AFTER, "message": "Count stars"}],
        "head_commit": {"id": AFTER[:12], "timestamp": "2024-05-01T05:59:00-04:00"},
        "pusher": {"name": "octocat", "email": "octocat@example.com"},
        "repository": repository,
        "sender": SENDER,
        **changes,
    }
