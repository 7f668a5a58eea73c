"""Headers every answer of the app carries, and ``/docs`` served without a CDN.

* :class:`SecurityHeaders` (pure ASGI, so streaming answers stay streamed) adds
  ``Content-Security-Policy`` (everything from this server only: no inline script, no
  other origin; ``data:`` images for the favicon and Swagger UI's icons),
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.
* ``/docs`` is Swagger UI from the ``swagger-ui-bundle`` package (installed from PyPI
  with the project), served at ``/static/swagger/...``, started by ``static/docs.js``
  (FastAPI's default page loads it from a CDN and starts it with an inline script,
  which the policy forbids). ``/redoc`` is off (it, too, comes from a CDN).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
STATIC = Path(__file__).resolve().parent / "static"
#: The Swagger UI files the docs page loads (the package has more).
SWAGGER_FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}


class SecurityHeaders:
    """Adds :data:`HEADERS` to every HTTP answer that does not set them itself."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(msg: Any) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", ()))
                have = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in HEADERS if n not in have]
                msg = {**msg, "headers": headers}
            await send(msg)

        await self.app(scope, receive, sending)


def swagger_dir() -> Path | None:
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return Path(swagger_ui_path)


def add_docs(app: FastAPI) -> None:
    """``GET /docs`` and ``GET /static/swagger/{name}``, all from this server."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return FileResponse(STATIC / "docs.html", media_type="text/html; charset=utf-8")

    @app.get("/static/swagger/{name}", include_in_schema=False)
    def swagger(name: str) -> Response:
        where = swagger_dir()
        media = SWAGGER_FILES.get(name)
        if where is None or media is None or not (where / name).is_file():
            return JSONResponse({"message": f"no Swagger UI file {name!r}"}, status_code=404)
        return FileResponse(where / name, media_type=media)
