"""The HTTP API (``relengotron serve``): Greenwave's decision API, our read API and a few
authenticated writes. ``create_app`` builds it from ports; ``adapters.cli.cli_api`` wires it.

* ``POST /api/v1.0/decision`` is Greenwave's, answered by
  :class:`projections.decision_api.DecisionService` from the raw body (no FastAPI body
  validation: errors are Greenwave's ``{"message": ...}`` with 400, 404 or 415; ours:
  413, and 503 when the store is lost or the read models cannot catch up, from
  :class:`adapters.http.front.Decisions`);
* ``GET /api/v1.0/policies``, ``/api/v1.0/about`` and ``/healthcheck`` are Greenwave's;
* ``GET /api/v2.0/results``, ``/results/latest`` and ``/results/<id>`` are ResultsDB's
  (``adapters.http.resultsdb``), over the results we recorded;
* ``/api/v1/...`` are ours: builds, decisions, the audit trail, artifacts and pushes, and
  the writes (waivers, promote/hold/release), which need ``Authorization: Bearer <token>``.
  Without a configured token every write is refused (403); reads are open.

Every error body is ``{"message": ...}``.
"""

from __future__ import annotations

import hmac
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from relengotron.adapters.http import schemas
from relengotron.adapters.http.catchup import Readiness
from relengotron.adapters.http.commands import Commands
from relengotron.adapters.http.decision_request import decide
from relengotron.adapters.http.front import Decisions, Front, unavailable
from relengotron.adapters.http.guard import describe
from relengotron.adapters.http.metrics import Metrics
from relengotron.adapters.http.responses import ApiError, _default, _message, json_response
from relengotron.adapters.http.resultsdb import add_resultsdb
from relengotron.adapters.http.routes import add_reads, add_writes
from relengotron.adapters.http.security import SecurityHeaders, add_docs
from relengotron.adapters.rules.remote_rule_yaml import gating_yaml_check
from relengotron.adapters.settings import ApiSettings
from relengotron.policies.spec import PolicySet
from relengotron.projections.decision_api import DecisionService, policy_json
from relengotron.projections.decision_request import DecisionRequestError
from relengotron.projections.queries import ReadModel

__all__ = ["DecisionFastPath", "create_app"]

#: What ``serve`` runs in front of the app (``adapters.http.front``).
DecisionFastPath = Front

_UNSET: Any = object()
_bearer = HTTPBearer(auto_error=False, description="the [api] write token")


def _version() -> str:
    try:
        return metadata.version("releng-o-tron")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def create_app(
    read_model: ReadModel,
    policy_set_provider: Callable[[], PolicySet] | PolicySet,
    *,
    settings: ApiSettings | None = None,
    token: str | None = _UNSET,
    commands: Commands | None = None,
    clock: Callable[[], datetime] | None = None,
    events_for: Callable[[str, str], list[dict[str, Any]]] | None = None,
    artifacts: Callable[[], list[dict[str, Any]]] | None = None,
    artifact: Callable[[str], dict[str, Any] | None] | None = None,
    push: Callable[[str], dict[str, Any] | None] | None = None,
    readiness: Readiness | None = None,
    remote: Callable[[Any, PolicySet], Any] | None = None,
) -> FastAPI:
    """The API over a read model and a policy set provider (called per request; it should
    hand out the same loaded set until the policies change). ``token`` defaults to
    ``settings.token()``; None refuses every write. ``clock`` (default: the wall clock,
    UTC) only says when a missing result is overdue; decisions never read it.
    ``readiness`` (``serve`` gives one): decisions wait for the read models to reflect
    the whole log, and are 503 when the store is lost or they cannot."""
    settings = settings or ApiSettings()
    write_token = settings.token() if token is _UNSET else token
    now = clock or (lambda: datetime.now(UTC))
    service = DecisionService(
        read_model,
        policy_set_provider,
        overdue_after=timedelta(hours=settings.overdue_hours),
        remote=remote,  # gating.yaml (RemoteRule): adapters/rules/remote_rule_source.py
    )
    version = _version()

    max_subjects = settings.max_subjects

    def answer_decision(content_type: str | None, raw: bytes) -> tuple[int, bytes, Any]:
        """``POST /api/v1.0/decision``: (status, JSON body, extra headers), Greenwave's
        contract."""
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            return 415, _message("No JSON payload in request"), []
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return 415, _message("No JSON payload in request"), []
        subjects = data.get("subject") if isinstance(data, dict) else None
        if isinstance(subjects, list) and len(subjects) > max_subjects:
            text = (
                f"Too many subjects: {len(subjects)}, at most {max_subjects} per request "
                "([api] max_subjects)"
            )
            return 400, _message(text), []
        try:
            answer = decide(service, data, now())
        except DecisionRequestError as exc:
            return exc.status, _message(exc.message), []
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            return unavailable(describe(exc))
        return 200, orjson.dumps(answer, default=_default, option=orjson.OPT_NON_STR_KEYS), []

    deciding = Decisions(answer_decision, settings, readiness)

    app = FastAPI(
        title="releng-o-tron",
        version=version,
        description="Greenwave-compatible decisions, explained; builds, decisions and the "
        "audit trail of the event log.",
        docs_url=None,  # served from this server, not a CDN (adapters.http.security)
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders)
    add_docs(app)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return json_response({"message": exc.message}, exc.status, exc.headers)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        headers = dict(exc.headers) if exc.headers else None
        return json_response({"message": str(exc.detail)}, exc.status_code, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return json_response({"message": f"Invalid request: {problems}"}, 400)

    def authorized(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if not write_token:
            raise ApiError(
                403,
                "Writes are disabled: no API token is configured "
                "([api] token_file or RELENGOTRON_API_TOKEN)",
            )
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), write_token.encode()):
            raise ApiError(401, "A valid bearer token is required", {"WWW-Authenticate": "Bearer"})

    # ---------------------------------------------------------------- Greenwave's

    @app.post(
        "/api/v1.0/decision",
        tags=["greenwave"],
        summary="A Greenwave decision",
        openapi_extra={
            "requestBody": {"required": True, **schemas.json_content(schemas.DECISION_REQUEST)}
        },
        responses={
            200: {"description": "The decision", **schemas.json_content(schemas.DECISION_RESPONSE)},
            **schemas.errors(400, 404, 413, 415, 503),
        },
    )
    async def decision(request: Request) -> Response:
        # Served by the fast path (``DecisionFastPath``) when the app is run by
        # ``serve``; this route documents it and answers the same for other callers.
        status, body, extra = await deciding.respond(
            request.headers.get("content-type"), await request.body()
        )
        headers = {k.decode(): v.decode() for k, v in extra}
        return Response(body, status_code=status, media_type="application/json", headers=headers)

    @app.get(
        "/api/v1.0/policies",
        tags=["greenwave"],
        responses={
            200: {"description": "The loaded policies", **schemas.json_content(schemas.POLICIES)}
        },
    )
    def policies() -> Response:
        return json_response({"policies": [policy_json(p) for p in service.policy_set().policies]})

    @app.post(
        "/api/v1.0/validate-gating-yaml",
        tags=["greenwave"],
        summary="Check a package's gating.yaml as Greenwave would",
        responses={200: {"description": '{"message": "All OK"} or why not'}, **schemas.errors(400)},
    )
    async def validate_gating_yaml(request: Request) -> Response:
        # greenwave/api_v1.py validate_gating_yaml_post: a refused file is a 400, a
        # decision context no parent policy has is a 200 with Greenwave's warning.
        body = await request.body()
        status, message = gating_yaml_check(body, service.policy_set().policies)
        return json_response({"message": message}, status)

    @app.get(
        "/api/v1.0/about",
        tags=["greenwave"],
        responses={
            200: {"description": "Version and state", **schemas.json_content(schemas.ABOUT)}
        },
    )
    def about() -> Response:
        try:
            position: int | None = read_model.position()
        except Exception:
            position = None
        return json_response(
            {
                "version": version,
                "policy_set_hash": service.policy_set().content_hash,
                "position": position,
            }
        )

    @app.get(
        "/healthcheck",
        tags=["greenwave"],
        response_class=PlainTextResponse,
        responses={503: {"description": "The store cannot be read"}},
    )
    async def healthcheck() -> PlainTextResponse:
        # The store check, then a read through the pool the answers use.
        why = await readiness.health(read_model.position) if readiness is not None else None
        if readiness is None:
            try:
                read_model.position()
            except Exception as exc:
                why = f"the store cannot be read: {describe(exc)}"
        if why is not None:
            return PlainTextResponse(f"Health check failed: {why}", 503)
        return PlainTextResponse("Health check OK")

    # ---------------------------------------------------------------- ours

    add_reads(
        app,
        read_model,
        service,
        events_for=events_for,
        artifacts=artifacts,
        artifact=artifact,
        push=push,
    )
    add_writes(app, read_model, commands, authorized)
    add_resultsdb(app, read_model)  # ResultsDB's read API over our results

    app.state.writes_enabled = bool(write_token)
    app.state.metrics = Metrics(read_model.health, now)
    app.state.answer_decision = answer_decision
    app.state.decisions = deciding
    return app
