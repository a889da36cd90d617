"""Errors as the gRPC gateway writes them: ``{"code", "message", "details"}`` + HTTP status."""

from __future__ import annotations

from typing import Any

# gRPC status codes and the HTTP status the gateway maps each to
UNKNOWN = 2
INVALID_ARGUMENT = 3
NOT_FOUND = 5
UNIMPLEMENTED = 12
INTERNAL = 13
_HTTP = {UNKNOWN: 500, INVALID_ARGUMENT: 400, NOT_FOUND: 404, UNIMPLEMENTED: 501, INTERNAL: 500}


class RestError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return _HTTP.get(self.code, 500)

    @classmethod
    def internal(cls, message: str) -> RestError:
        return cls(INTERNAL, message)

    @classmethod
    def from_http(cls, status: int, detail: str, path: str) -> RestError:
        if status == 404:
            return cls(NOT_FOUND, f"Not Found: no route {path}")
        if status == 405:
            return cls(UNIMPLEMENTED, f"Method Not Allowed on {path}")
        return cls(INVALID_ARGUMENT if status < 500 else INTERNAL, detail)


def bad_request(message: str) -> RestError:
    return RestError(INVALID_ARGUMENT, message)


def not_found(message: str) -> RestError:
    return RestError(NOT_FOUND, message)


def rest_error_json(e: RestError) -> dict[str, Any]:
    return {"code": e.code, "message": e.message, "details": []}
