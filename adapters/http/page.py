"""The web page of ``relengotron serve``: one HTML page, its static files, the graph.

``router`` serves:

* ``GET /``: the page (``static/index.html``); ``static/app.js`` fills it from the
  JSON API (``/api/v1/builds``, ``/api/v1/decisions``, ``/api/v1/builds/{nvr}``,
  ``/api/v1/artifacts``) and from ``/api/v1/graph.svg``;
* ``GET /static/{name}``: a file of ``adapters/http/static/`` (no subdirectories);
* ``GET /api/v1/graph.svg[?artifact=NAME]``: the artifact dependency graph drawn by
  Graphviz (``dot -Tsvg``), as ``image/svg+xml``.

Wiring (the application factory does this)::

    app.state.graph_svg = page.graph_renderer(releng_app, cfg)
    app.include_router(page.router)

``app.state.graph_svg`` is any ``Callable[[str | None], str]`` (artifact name or
None -> SVG text) that raises :class:`UnknownArtifact` for an artifact the graph does
not have and :class:`GraphUnavailable` when it cannot draw. Without it, or when it
fails, the route answers 503 ``{"message": ...}`` and the page says
"Graph unavailable: ..." instead of the drawing.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

if TYPE_CHECKING:
    from relengotron.adapters.settings import Settings
    from relengotron.domain.application import RelengApp

STATIC = Path(__file__).resolve().parent / "static"
GRAPH_SVG_ATTR = "graph_svg"
DOT_TIMEOUT = 30.0

GraphSvg = Callable[[str | None], str]

_MEDIA = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_NO_STORE = {"Cache-Control": "no-store"}


class GraphUnavailable(Exception):
    """The graph cannot be drawn (no Graphviz, dot failed, the store failed)."""


class UnknownArtifact(LookupError):
    """The graph has no artifact of that name."""


def render_svg(dot_source: str, *, timeout: float = DOT_TIMEOUT) -> str:
    """DOT text -> SVG text through Graphviz's ``dot`` binary."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphUnavailable("Graphviz's dot is not installed (apt install graphviz)")
    try:
        done = subprocess.run(
            [dot, "-Tsvg"], input=dot_source.encode(), capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise GraphUnavailable(f"dot took longer than {timeout:g} s") from exc
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
        raise GraphUnavailable(f"dot failed: {err}")
    return done.stdout.decode("utf-8", errors="replace")


def graph_renderer(app: RelengApp, cfg: Settings) -> GraphSvg:
    """``app.state.graph_svg`` for a store: the artifact view as of now, drawn.

    Read-only: it folds the log into the artifact view (``Composer.read_view``) and
    decides nothing, the way ``relengotron graph --format svg`` draws it.
    """
    from relengotron.adapters import bootstrap

    composer = bootstrap.composer(app, cfg)

    def graph_svg(artifact: str | None) -> str:
        try:
            graph = composer.read_view().graph
        except Exception as exc:  # the page shows why instead of failing
            raise GraphUnavailable(f"cannot read the artifact view: {exc}") from exc
        if artifact and artifact not in graph.nodes:
            raise UnknownArtifact(artifact)
        return render_svg(graph.to_dot(artifact or None))

    return graph_svg


def configure(app: FastAPI, graph_svg: GraphSvg) -> None:
    """Set ``app.state.graph_svg`` on the application."""
    setattr(app.state, GRAPH_SVG_ATTR, graph_svg)


router = APIRouter()


def _static(name: str) -> Response:
    path = STATIC / name
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        return JSONResponse({"message": f"no static file {name!r}"}, status_code=404)
    media = _MEDIA.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media, headers=_NO_STORE)


@router.get("/", include_in_schema=False)
def index() -> Response:
    """The page."""
    return _static("index.html")


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    """The page's script, style sheet and images."""
    return _static(name)


@router.get(
    "/api/v1/graph.svg",
    summary="The artifact dependency graph, drawn by Graphviz",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}, "description": "the graph as SVG"},
        404: {"description": "no artifact of that name"},
        503: {"description": "the graph cannot be drawn (the reason is in `message`)"},
    },
)
def graph_svg(
    request: Request,
    artifact: Annotated[
        str | None, Query(description="only this artifact and its relatives")
    ] = None,
) -> Response:
    draw: GraphSvg | None = getattr(request.app.state, GRAPH_SVG_ATTR, None)
    if draw is None:
        return JSONResponse(
            {"message": "the artifact graph is not configured on this server"}, status_code=503
        )
    try:
        svg = draw(artifact or None)
    except UnknownArtifact:
        return JSONResponse({"message": f"unknown artifact {artifact!r}"}, status_code=404)
    except Exception as exc:  # GraphUnavailable and anything else: fail soft, say why
        return JSONResponse({"message": str(exc) or type(exc).__name__}, status_code=503)
    return Response(svg, media_type="image/svg+xml", headers=_NO_STORE)
