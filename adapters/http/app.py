"""The HTTP API (``relengotron serve``): Greenwave's decision API, our read API and a few
authenticated writes. ``create_app`` builds it from ports; ``adapters.cli_api`` wires it.

* ``POST /api/v1.0/decision`` is Greenwave's, answered by
  :class:`projections.decision_api.DecisionService` from the raw body (no FastAPI body
  validation: errors are Greenwave's ``{"message": ...}`` with 400, 404 or 415; ours:
  413, and 503 when the store is lost or the read models cannot catch up, from
  :class:`adapters.http.front.Decisions`);
* ``GET /api/v1.0/policies``, ``/api/v1.0/about`` and ``/healthcheck`` are Greenwave's;
* ``/api/v1/...`` are ours: builds, decisions, the audit trail, artifacts and pushes, and
  the writes (waivers, promote/hold/release), which need ``Authorization: Bearer <token>``.
  Without a configured token every write is refused (403); reads are open.

Every error body is ``{"message": ...}``.
"""

from __future__ import annotations

import hmac
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Annotated, Any, Literal

import orjson
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from adapters.http import schemas
from adapters.http.catchup import Readiness
from adapters.http.commands import Commands
from adapters.http.decision_request import decide, parse_when
from adapters.http.front import Decisions, Front, unavailable
from adapters.http.guard import describe
from adapters.http.metrics import Metrics
from adapters.remote_rule_yaml import gating_yaml_check
from adapters.settings import ApiSettings
from policies.spec import PolicySet
from projections.decision_api import DecisionService, policy_json
from projections.decision_request import DecisionRequestError
from projections.folds.requirement_states import with_states
from projections.queries import ReadModel

__all__ = ["GATES", "DecisionFastPath", "create_app"]

#: What ``serve`` runs in front of the app (``adapters.http.front``).
DecisionFastPath = Front

GATES = ("candidate", "promoted", "quarantined", "held", "waived", "obsoleted", "untagged")
Gate = Literal["candidate", "promoted", "quarantined", "held", "waived", "obsoleted", "untagged"]
_UNSET: Any = object()
_SUBJECT = re.compile(r"^(?P<type>[a-z][a-z0-9_-]*):(?P<ident>.+)$")
_bearer = HTTPBearer(auto_error=False, description="the [api] write token")


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


def _version() -> str:
    try:
        return metadata.version("releng-o-tron")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


class WaiverIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    subject_type: str = Field("koji_build", min_length=1)
    subject_identifier: str = Field(min_length=1)
    testcase: str = Field(min_length=1)
    scenario: str | None = None
    product_version: str | None = Field(None, description="default: [gating] product_version")
    waived: bool = Field(True, description="false revokes an earlier waiver")
    comment: str = Field(min_length=1)
    username: str = Field(min_length=1)


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: str = Field(min_length=1)
    username: str = Field(min_length=1)
    context: str | None = Field(None, description="default: [gating] decision_context")


def _stated(row: dict[str, Any]) -> dict[str, Any]:
    """A build or decision row whose recorded decision carries requirement states."""
    return {**row, "decision": with_states(row.get("decision"))}


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
        remote=remote,  # gating.yaml (RemoteRule): adapters/remote_rule_source.py
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
    )

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

    # ---------------------------------------------------------------- ours: reads

    @app.get(
        "/api/v1/status",
        tags=["monitoring"],
        responses={200: {"description": "How far behind the log each follower is",
                         **schemas.json_content({"type": "object"})}},
    )  # fmt: skip
    def status() -> Response:
        return json_response(
            {**read_model.health(), "policy_set_hash": service.policy_set().content_hash}
        )

    @app.get(
        "/metrics",
        tags=["monitoring"],
        response_class=PlainTextResponse,
        responses={200: {"description": "Prometheus text format"}},
    )
    def metrics(request: Request) -> Response:
        body, media_type = app.state.metrics.scrape(request.headers.get("accept"))
        return Response(body, media_type=media_type)

    @app.get(
        "/api/v1/builds/{nvr}",
        tags=["builds"],
        responses={200: {"description": "A build, its history, actions and decisions",
                         **schemas.json_content({"type": "object"})},
                   **schemas.errors(400, 404)},
    )  # fmt: skip
    def build(nvr: str = Path(min_length=1)) -> Response:
        found = read_model.build(nvr)
        if found is None:
            raise ApiError(404, f"Unknown build {nvr}")
        return json_response(
            {
                **_stated(found),
                "history": read_model.build_history(nvr),
                "actions": read_model.actions(nvr),
                "decisions": [_stated(d) for d in read_model.decisions(nvr, limit=50)],
            }
        )

    @app.get(
        "/api/v1/builds",
        tags=["builds"],
        responses={200: {"description": "Builds in a gate state",
                         **schemas.json_content(schemas.listing("builds"))},
                   **schemas.errors(400)},
    )  # fmt: skip
    def builds(gate: Gate = "candidate", limit: int = Query(200, ge=1, le=5000)) -> Response:
        rows = read_model.builds_by_gate(gate, limit=limit)
        return json_response({"builds": [_stated(b) for b in rows]})

    @app.get(
        "/api/v1/decisions",
        tags=["builds"],
        responses={200: {"description": "Recorded gate decisions, newest first",
                         **schemas.json_content(schemas.listing("decisions"))},
                   **schemas.errors(400)},
    )  # fmt: skip
    def decisions(
        limit: int = Query(50, ge=1, le=5000),
        nvr: str | None = None,
        when: str | None = Query(None, description="ISO 8601: only decisions made by then"),
    ) -> Response:
        cutoff = None
        if when:
            try:
                cutoff = parse_when(when).isoformat()
            except ValueError:
                raise ApiError(400, 'Invalid "when" parameter, must be in ISO8601 format') from None
        rows = read_model.decisions(nvr or None, limit=limit, when=cutoff)
        return json_response({"decisions": [_stated(d) for d in rows]})

    if events_for is not None:
        events_of = events_for

        @app.get(
            "/api/v1/events",
            tags=["audit"],
            responses={200: {"description": "A subject's events, oldest first",
                             **schemas.json_content(schemas.listing("events"))},
                       **schemas.errors(400, 404)},
        )  # fmt: skip
        def events(
            subject: str | None = Query(None, description="TYPE:IDENTIFIER, or an NVR"),
            subject_type: str | None = None,
            subject_identifier: str | None = None,
        ) -> Response:
            if subject:
                m = _SUBJECT.match(subject)
                type_, ident = (m["type"], m["ident"]) if m else ("koji_build", subject)
            elif subject_identifier:
                type_, ident = subject_type or "koji_build", subject_identifier
            else:
                raise ApiError(400, "Give subject=TYPE:IDENTIFIER, or subject_identifier")
            rows = events_of(type_, ident)
            if not rows:
                raise ApiError(404, f"Nothing is recorded about {type_} {ident}")
            return json_response({"subject": {"type": type_, "identifier": ident}, "events": rows})

    if artifacts is not None:
        list_artifacts = artifacts

        @app.get(
            "/api/v1/artifacts",
            tags=["artifacts"],
            responses={200: {"description": "Defined artifacts",
                             **schemas.json_content(schemas.listing("artifacts"))}},
        )  # fmt: skip
        def all_artifacts() -> Response:
            return json_response({"artifacts": list_artifacts()})

    if artifact is not None:
        one_artifact = artifact

        @app.get(
            "/api/v1/artifacts/{name}",
            tags=["artifacts"],
            responses={200: {"description": "An artifact",
                             **schemas.json_content({"type": "object"})},
                       **schemas.errors(404)},
        )  # fmt: skip
        def get_artifact(name: str) -> Response:
            found = one_artifact(name)
            if found is None:
                raise ApiError(404, f"Unknown artifact {name}")
            return json_response(found)

    if push is not None:
        one_push = push

        @app.get(
            "/api/v1/pushes/{push_id}",
            tags=["artifacts"],
            responses={200: {"description": "A push and its stages",
                             **schemas.json_content({"type": "object"})},
                       **schemas.errors(404)},
        )  # fmt: skip
        def get_push(push_id: str) -> Response:
            found = one_push(push_id)
            if found is None:
                raise ApiError(404, f"Unknown push {push_id}")
            return json_response(found)

    # ---------------------------------------------------------------- ours: writes

    def _commands() -> Commands:
        if commands is None:
            raise ApiError(403, "Writes are disabled: this server has no store to write to")
        return commands

    write_responses: dict[int | str, dict[str, Any]] = {
        202: {"description": "Recorded", **schemas.json_content({"type": "object"})},
        **schemas.errors(400, 401, 403),
    }

    @app.post(
        "/api/v1/waivers",
        tags=["writes"],
        status_code=202,
        dependencies=[Depends(authorized)],
        responses=write_responses,
    )
    def waive(waiver: WaiverIn) -> Response:
        """Record a waiver (as ``relengotron waive`` does), then decide."""
        out = _commands().waive(**waiver.model_dump())
        return json_response(out, 202)

    def _override(action: str) -> Callable[..., Response]:
        def endpoint(body: OverrideIn, nvr: str = Path(min_length=1)) -> Response:
            if read_model.build(nvr) is None:
                raise ApiError(404, f"Unknown build {nvr}")
            out = _commands().override(
                nvr, action, reason=body.reason, username=body.username, context=body.context
            )
            return json_response(out, 202)

        endpoint.__doc__ = (
            f"Record a ``relengotron.gate.override`` ({action}) for the build, then decide."
        )
        return endpoint

    for action in ("promote", "hold", "release"):
        app.post(
            f"/api/v1/builds/{{nvr}}/{action}",
            tags=["writes"],
            status_code=202,
            dependencies=[Depends(authorized)],
            responses={**write_responses, **schemas.errors(404)},
            name=f"{action}_build",
        )(_override(action))

    app.state.metrics = Metrics(read_model.health, now)
    app.state.answer_decision = answer_decision
    app.state.decisions = deciding
    return app
