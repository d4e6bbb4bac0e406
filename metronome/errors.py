"""The one error type of a refused request, and its JSON shape:
``{"error": {"code", "message", "field"?}}``. No Flask: pure modules raise it; the web layer
answers it (``metronome.web.errors``)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request we refuse, with the status and a sentence that says what is wrong."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"error": error_object(self.code, self.message, self.field), **self.extra}


def error_object(code: str, message: str, field: str | None = None) -> dict[str, str]:
    error = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return error
