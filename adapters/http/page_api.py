"""The page's own read routes (all GET, none writes):

* ``GET /api/v1/page``: what the page needs to know about this server: the link bases
  (koji, dist-git, Bodhi, datagrepper; ``[links]``), whether writes are enabled (a token
  is configured), and the rerun endpoint when the server has one (``rerun``: its path
  template, else null: the page shows no rerun button);
* ``GET /api/v1/page/builds?gate=G[&gate=G...]``: builds in those gate states, each
  with its ``links`` and ``move_pending`` (a koji move requested and not made yet);
* ``GET /api/v1/page/decisions[?nvr=NVR]``: the latest decisions, newest (message time) first,
  each with its trigger message (``trigger_message``: topic and link) and a ``changed``
  flag; ``all=true`` keeps those whose verdict did not change;
* ``GET /api/v1/page/links/{nvr}``: a build's koji, dist-git and Bodhi pages;
* ``GET /api/v1/operations``: the outbox (pending, failed, oldest age), koji moves not
  made yet, follower lag;
* ``GET /api/v1/updates``: server-sent events: ``position`` (the read models' log
  position) at once and whenever it moves; the stream ends after ``STREAM_SECONDS``
  with a ``retry`` hint, and the browser's ``EventSource`` reconnects (uvicorn waits
  for open streams when it stops: a short stream keeps that wait short).

Wiring: ``configure(app, PageSources(...))`` then ``app.include_router(router)``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.routing import APIRoute

from relengotron.adapters.http.responses import ApiError, json_response
from relengotron.adapters.http.routes import Gate, stated
from relengotron.adapters.services.page import (
    Operations,
    build_links,
    page_builds,
    recent_decisions,
)
from relengotron.projections.queries import ReadModel

SOURCES_ATTR = "page_sources"
# One server-sent event stream lasts this long, then the browser reconnects (and is told
# the position again). Short, because a server shutting down waits for open streams.
STREAM_SECONDS = 5.0
STREAM_POLL = 0.5  # seconds between looks at the read models' position
HEARTBEAT = 10.0

router = APIRouter()


@dataclass(frozen=True)
class PageSources:
    read_model: ReadModel
    bases: dict[str, str]
    operations: Operations | None = None
    stream_seconds: float = STREAM_SECONDS


def configure(app: Any, sources: PageSources) -> None:
    setattr(app.state, SOURCES_ATTR, sources)


def _sources(request: Request) -> PageSources:
    found: PageSources | None = getattr(request.app.state, SOURCES_ATTR, None)
    if found is None:
        raise ApiError(503, "the page's sources are not configured on this server")
    return found


def rerun_route(app: Any) -> str | None:
    """The path of a POST route that reruns tests, if the server has one."""
    for route in app.routes:
        methods = getattr(route, "methods", None) or ()
        if isinstance(route, APIRoute) and "POST" in methods and "rerun" in route.path:
            return str(route.path)
    return None


@router.get("/api/v1/page", tags=["page"], summary="Link bases and what this server offers")
def page_info(request: Request) -> Response:
    sources = _sources(request)
    return json_response(
        {
            "links": sources.bases,
            "writes": bool(getattr(request.app.state, "writes_enabled", False)),
            "rerun": rerun_route(request.app),
        }
    )


@router.get(
    "/api/v1/page/builds",
    tags=["page"],
    summary="Builds in some gate states, with their links and pending koji moves",
)
def builds(
    request: Request,
    gate: Annotated[list[Gate], Query(description="repeat for several")],
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> Response:
    sources = _sources(request)
    moves = sources.operations.pending_moves() if sources.operations is not None else []
    rows = page_builds(sources.read_model, list(gate), sources.bases, moves, limit=limit)
    return json_response({"builds": [stated(b) for b in rows]})


@router.get(
    "/api/v1/page/decisions",
    tags=["page"],
    summary="The latest decisions with their trigger message, newest first",
)
def decisions(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    all: Annotated[bool, Query(description="also those whose verdict did not change")] = False,
    package: Annotated[str | None, Query(description="only this package's builds")] = None,
    nvr: Annotated[str | None, Query(description="only this build")] = None,
) -> Response:
    sources = _sources(request)
    rows = recent_decisions(
        sources.read_model,
        sources.bases,
        limit=limit,
        changed_only=not all,
        package=package,
        nvr=nvr or None,
    )
    return json_response({"decisions": [stated(d) for d in rows]})


@router.get("/api/v1/page/links/{nvr}", tags=["page"], summary="A build's pages elsewhere")
def links(request: Request, nvr: Annotated[str, Path(min_length=1)]) -> Response:
    sources = _sources(request)
    build = sources.read_model.build(nvr)
    if build is None:
        raise ApiError(404, f"Unknown build {nvr}")
    return json_response({"nvr": nvr, "links": build_links(build, sources.bases)})


@router.get("/api/v1/operations", tags=["monitoring"], summary="Outbox, koji moves, lag")
def operations(request: Request) -> Response:
    sources = _sources(request)
    if sources.operations is None:
        raise ApiError(503, "the operations panel is not configured on this server")
    return json_response(sources.operations.state())


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@router.get(
    "/api/v1/updates",
    tags=["page"],
    summary="Server-sent events: the read models' position, whenever it moves",
    response_class=StreamingResponse,
)
async def updates(request: Request) -> Response:
    sources = _sources(request)

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 500\n\n"
        last: int | None = None
        quiet = time.monotonic()
        end = time.monotonic() + sources.stream_seconds
        while time.monotonic() < end:
            position: int | None
            try:
                position = await asyncio.to_thread(sources.read_model.position)
            except Exception as exc:  # the page says so and keeps its last state
                yield _event("problem", {"message": str(exc) or type(exc).__name__})
                position = last
            if position != last and position is not None:
                yield _event("position", {"position": position})
                last, quiet = position, time.monotonic()
            elif time.monotonic() - quiet > HEARTBEAT:
                yield b": ping\n\n"
                quiet = time.monotonic()
            if await request.is_disconnected():
                return
            await asyncio.sleep(STREAM_POLL)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
