"""The JSON every route answers with, and ``ApiError`` (status, message, headers): every
error body is ``{"message": ...}``."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _message(text: str) -> bytes:
    return orjson.dumps({"message": text})
