"""Errors in OpenAI's shape: ``{"error": {"message", "type", "code", "param"}}``.

Status codes as OpenAI's API uses them: 400 bad parameters, 401 a bad or revoked
key or token, 402 past a spend limit, 403 a key without the scope, 404 unknown,
429 rate limited (with ``Retry-After``), 502 when the node cannot be reached.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    502: "api_error",
    504: "timeout",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}


def body(status: int, message: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": TYPES.get(status, "api_error"),
            "code": code,
            "param": param,
        }
    }


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(body(e.status, e.message, e.code, e.param), e.status, e.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query")]
        param = ".".join(loc) or None
        msg = f"{param}: {first.get('msg', 'invalid')}" if param else "invalid request"
        return JSONResponse(body(400, msg, "invalid_parameter", param), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, e: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(body(e.status_code, str(e.detail), None), e.status_code)
