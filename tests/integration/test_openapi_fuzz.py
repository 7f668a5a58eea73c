"""Property: whatever schemathesis sends, generated from the served OpenAPI document, the
API answers without a server error, with a documented status code and content type, and
with a body that conforms to the documented schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from relengotron.adapters.http.app import create_app
from relengotron.adapters.rules.policy_loader import load_policy_set
from tests.fakes import FakeReadModel

REPO = Path(__file__).resolve().parents[2]
NVR = "python-requests-2.31.0-1.fc40"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class _RecordingCommands:
    """Writes that only remember what they were asked (the fuzzer has the token)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def waive(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("waive", kwargs))
        return {"waiver_id": "w1", "message_key": "w1", "topic": "relengotron.waiver.new"}

    def override(self, nvr: str, action: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append((action, {"nvr": nvr, **kwargs}))
        return {"message_key": "o1", "topic": "relengotron.gate.override", "nvr": nvr}

    def rerun(self, nvr: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("rerun", {"nvr": nvr, **kwargs}))
        return {"message_key": "r1", "topic": "relengotron.test.rerun", "nvr": nvr}


@pytest.fixture
def api_schema() -> Any:
    rm = FakeReadModel()
    rm.seen("koji_build", NVR, "2024-03-01T10:00:00+00:00", package="python-requests")
    rm.add_result("koji_build", NVR, "fedora-ci.koji-build.tier0.functional", "FAILED",
                  at="2024-03-01T11:00:00+00:00")  # fmt: skip
    rm.add_waiver("koji_build", NVR, "fedora-ci.koji-build.tier0.functional",
                  at="2024-03-01T12:00:00+00:00")  # fmt: skip
    rm.builds[NVR] = {"nvr": NVR, "gate": "candidate", "tags": []}
    app = create_app(
        rm,
        load_policy_set(REPO / "config" / "policies"),
        token="s3cret",
        commands=_RecordingCommands(),
        events_for=lambda t, i: [{"event": "Seen"}] if i == NVR else [],
        artifacts=lambda: [],
        artifact=lambda name: None,
        push=lambda key: None,
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _fuzz(schema: Any, mode: GenerationMode, headers: dict[str, str] | None, n: int) -> int:
    """Every operation of the document, ``n`` generated requests each; the number of
    operations tried (an operation without inputs has no invalid requests). schemathesis's
    own pytest loader, ``from_fixture``, does not run under this pytest."""
    tried = 0
    for operation in [result.ok() for result in schema.get_all_operations()]:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def run(case: Any) -> None:
            case.call_and_validate(checks=CHECKS, headers=headers)

        try:
            run()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
            continue
        tried += 1
    return tried


def test_valid_requests_keep_the_documented_promises(api_schema: Any) -> None:
    assert _fuzz(api_schema, GenerationMode.POSITIVE, None, 30) >= 12


def test_invalid_requests_keep_the_documented_promises(api_schema: Any) -> None:
    assert _fuzz(api_schema, GenerationMode.NEGATIVE, None, 20) >= 8


def test_authorized_requests_keep_the_documented_promises(api_schema: Any) -> None:
    _fuzz(api_schema, GenerationMode.POSITIVE, {"Authorization": "Bearer s3cret"}, 20)
    _fuzz(api_schema, GenerationMode.NEGATIVE, {"Authorization": "Bearer s3cret"}, 20)
