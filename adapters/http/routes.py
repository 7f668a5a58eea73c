"""Our own routes (``/api/v1/...``) and the monitoring ones: reads of the read models
(status, metrics, builds, decisions, a subject's events, artifacts and pushes) and the
authenticated writes (waivers; promote, hold, release). ``adapters.http.app`` adds them
after Greenwave's."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from relengotron.adapters.http import schemas
from relengotron.adapters.http.commands import Commands
from relengotron.adapters.http.decision_request import parse_when
from relengotron.adapters.http.responses import ApiError, json_response
from relengotron.projections.decision_api import DecisionService
from relengotron.projections.folds.requirement_states import with_states
from relengotron.projections.queries import ReadModel

GATES = ("candidate", "promoted", "quarantined", "held", "waived", "obsoleted", "untagged")
Gate = Literal["candidate", "promoted", "quarantined", "held", "waived", "obsoleted", "untagged"]
_SUBJECT = re.compile(r"^(?P<type>[a-z][a-z0-9_-]*):(?P<ident>.+)$")


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


class RerunIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    testcase: str = Field(min_length=1)
    scenario: str | None = Field(None, description="only this scenario (default: every one)")
    reason: str = Field(min_length=1)
    username: str = Field(min_length=1)


def stated(row: dict[str, Any]) -> dict[str, Any]:
    """A build or decision row whose recorded decision carries requirement states."""
    return {**row, "decision": with_states(row.get("decision"))}


def add_reads(
    app: FastAPI,
    read_model: ReadModel,
    service: DecisionService,
    *,
    events_for: Callable[[str, str], list[dict[str, Any]]] | None = None,
    artifacts: Callable[[], list[dict[str, Any]]] | None = None,
    artifact: Callable[[str], dict[str, Any] | None] | None = None,
    push: Callable[[str], dict[str, Any] | None] | None = None,
) -> None:
    """The read routes; the events, artifacts and pushes ones only when given a source."""

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
                **stated(found),
                "history": read_model.build_history(nvr),
                "actions": read_model.actions(nvr),
                "decisions": [stated(d) for d in read_model.decisions(nvr, limit=50)],
            }
        )

    @app.get(
        "/api/v1/flaky",
        tags=["builds"],
        responses={200: {"description": "Tests that failed and then passed on a rerun",
                         **schemas.json_content(schemas.listing("flaky"))}},
    )  # fmt: skip
    def flaky() -> Response:
        """Per test case, how many reruns it failed before and passed on (flaky), most
        first, and the builds."""
        return json_response({"flaky": read_model.flaky()})

    @app.get(
        "/api/v1/builds",
        tags=["builds"],
        responses={200: {"description": "Builds in a gate state",
                         **schemas.json_content(schemas.listing("builds"))},
                   **schemas.errors(400)},
    )  # fmt: skip
    def builds(gate: Gate = "candidate", limit: int = Query(200, ge=1, le=5000)) -> Response:
        rows = read_model.builds_by_gate(gate, limit=limit)
        return json_response({"builds": [stated(b) for b in rows]})

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
        return json_response({"decisions": [stated(d) for d in rows]})

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


def add_writes(
    app: FastAPI,
    read_model: ReadModel,
    commands: Commands | None,
    authorized: Callable[..., None],
) -> None:
    """The write routes, each behind ``authorized`` (the bearer token check)."""

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

    @app.post(
        "/api/v1/builds/{nvr}/rerun",
        tags=["writes"],
        status_code=202,
        dependencies=[Depends(authorized)],
        responses={**write_responses, **schemas.errors(404)},
    )
    def rerun(body: RerunIn, nvr: str = Path(min_length=1)) -> Response:
        """Ask for a build's test to run again (as ``relengotron rerun`` does): recorded
        (``relengotron.test.rerun``), published as ``test.rerun.requested``, and the
        failed result holds the build (``rerun-requested``) until a newer one or the
        deadline. Offered before waiving."""
        if read_model.build(nvr) is None:
            raise ApiError(404, f"Unknown build {nvr}")
        return json_response(_commands().rerun(nvr, **body.model_dump()), 202)

    for action in ("promote", "hold", "release"):
        app.post(
            f"/api/v1/builds/{{nvr}}/{action}",
            tags=["writes"],
            status_code=202,
            dependencies=[Depends(authorized)],
            responses={**write_responses, **schemas.errors(404)},
            name=f"{action}_build",
        )(_override(action))
