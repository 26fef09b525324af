"""The one error every route answers with: `{"error": message}` JSON and a 4xx/5xx status."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import JSONResponse


class ApiError(Exception):
    """Answered as `{"error": message}` with its status (and headers such as Retry-After)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.message}, status_code=self.status,
                            headers=self.headers or None)
