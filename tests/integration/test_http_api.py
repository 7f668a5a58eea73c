"""The HTTP API through FastAPI's test client: Greenwave's routes, ours, and auth."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from relengotron.adapters.http.app import create_app
from relengotron.adapters.http.commands import StoreCommands
from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.adapters.services.history import subject_history
from relengotron.adapters.settings import ApiSettings, Settings
from relengotron.policies.spec import PolicySet
from tests.fakes import FakeReadModel

REPO = Path(__file__).resolve().parents[2]
PV = "fedora-40"
NVR = "python-requests-2.31.0-1.fc40"
UPDATE = "FEDORA-2024-0c91ce7b3c"
TIER0 = "fedora-ci.koji-build.tier0.functional"
NOW = datetime(2024, 3, 1, 13, 0, tzinfo=UTC)
DECISION = "/api/v1.0/decision"


@pytest.fixture(scope="module")
def policies() -> PolicySet:
    return load_policy_set(REPO / "config" / "policies")


@pytest.fixture
def rm() -> FakeReadModel:
    rm = FakeReadModel()
    rm.seen("koji_build", NVR, "2024-03-01T10:00:00+00:00", package="python-requests")
    rm.add_result("koji_build", NVR, TIER0, "PASSED", at="2024-03-01T11:00:00+00:00")
    rm.builds[NVR] = {"nvr": NVR, "gate": "candidate", "state": "COMPLETE", "tags": ["f40"]}
    rm.history[NVR] = [{"kind": "tagged", "at": "2024-03-01T10:00:00+00:00"}]
    rm.action_rows[NVR] = [{"key": "a1", "kind": "koji.move"}]
    rm.add_decision(NVR, {"verdict": "hold", "summary": "x"}, at="2024-03-01T10:30:00+00:00")
    return rm


def events_for(subject_type: str, identifier: str) -> list[dict[str, Any]]:
    if (subject_type, identifier) == ("koji_build", NVR):
        return [{"event": "Build.Seen", "message": "m1"}]
    if subject_type == "bodhi_update":
        return [{"event": "Update.Seen", "message": "m2"}]
    return []


@pytest.fixture
def client(rm: FakeReadModel, policies: PolicySet) -> TestClient:
    app = create_app(
        rm,
        lambda: policies,
        settings=ApiSettings(overdue_hours=1.0),
        token=None,
        clock=lambda: NOW,
        events_for=events_for,
        artifacts=lambda: [{"name": "fedora-iot"}],
        artifact=lambda name: {"name": name} if name == "fedora-iot" else None,
        push=lambda key: {"push": key} if key == "F40-updates#1" else None,
    )
    return TestClient(app)


def test_greenwave_decision_for_one_build(client: TestClient) -> None:
    data = {
        "product_version": PV,
        "decision_context": "bodhi_update_push_testing",
        "subject_type": "koji_build",
        "subject_identifier": NVR,
    }
    r = client.post(DECISION, json=data)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["policies_satisfied"] is True
    assert body["applicable_policies"] == ["fedora_ci_tier0_for_testing"]
    assert body["satisfied_requirements"][0]["state"] == "passed"


def test_bodhi_request_and_overdue_by_the_wall_clock(client: TestClient) -> None:
    data = {
        "product_version": PV,
        "decision_context": ["bodhi_update_push_stable_critpath", "bodhi_update_push_stable"],
        "subject": [{"item": NVR, "type": "koji_build"}, {"item": UPDATE, "type": "bodhi_update"}],
        "verbose": True,
    }
    body = client.post(DECISION, json=data).json()
    assert body["policies_satisfied"] is False
    states = {r["testcase"]: r["state"] for r in body["unsatisfied_requirements"]}
    # The build was first seen three hours before the clock: its missing result is overdue.
    assert states["fedora-ci.koji-build.installability.functional"] == "overdue"
    # Nothing was seen about the update: its missing openQA results are pending.
    assert states["update.install_default_update_netinst"] == "pending"
    assert [r["testcase"]["name"] for r in body["results"]] == [TIER0]
    # Asked "when" the build was new, nothing is overdue yet.
    body = client.post(DECISION, json={**data, "when": "2024-03-01T10:30:00.000000"}).json()
    assert "overdue" not in {r["state"] for r in body["unsatisfied_requirements"]}


@pytest.mark.parametrize(
    ("content", "headers", "status", "message"),
    [
        (b'{"product_version": "x"}', {"content-type": "text/plain"}, 415,
         "No JSON payload in request"),
        (b"{not json", {"content-type": "application/json"}, 415, "No JSON payload in request"),
        (b"", {"content-type": "application/json"}, 415, "No JSON payload in request"),
        (b"[]", {"content-type": "application/json"}, 415, "No JSON payload in request"),
        (b'{"decision_context": "c"}', {"content-type": "application/json; charset=utf-8"},
         400, "Missing required product version"),
        (b'{"product_version": "fedora-40", "decision_context": "nope", "subject_type": '
         b'"koji_build", "subject_identifier": "a-1-1"}', {"content-type": "application/json"},
         404, "Found no applicable policies for koji_build subjects at gating point(s) "
         "nope in fedora-40"),
    ],
)  # fmt: skip
def test_decision_errors(
    client: TestClient, content: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    r = client.post(DECISION, content=content, headers=headers)
    assert (r.status_code, r.json()) == (status, {"message": message})


def test_policies_about_and_healthcheck(
    client: TestClient, rm: FakeReadModel, policies: PolicySet
) -> None:
    listed = client.get("/api/v1.0/policies").json()["policies"]
    assert [p["id"] for p in listed] == [p.id for p in policies.policies]
    tier0 = next(p for p in listed if p["id"] == "fedora_ci_tier0_for_testing")
    assert tier0["rules"] == [
        {"type": "PassingTestCaseRule", "rule": "PassingTestCaseRule",
         "test_case_name": TIER0, "scenario": None}
    ]  # fmt: skip
    assert tier0["excluded_packages"] == ["kernel", "firefox"]
    about = client.get("/api/v1.0/about").json()
    assert about["policy_set_hash"] == policies.content_hash
    assert about["position"] == rm.position() and about["version"]
    r = client.get("/healthcheck")
    assert (r.status_code, r.text) == (200, "Health check OK")
    rm.broken = True
    assert client.get("/healthcheck").status_code == 503
    assert client.get("/api/v1.0/about").json()["position"] is None


def test_builds_and_decisions(client: TestClient) -> None:
    b = client.get(f"/api/v1/builds/{NVR}").json()
    assert b["gate"] == "candidate" and b["tags"] == ["f40"]
    assert [len(b[k]) for k in ("history", "actions", "decisions")] == [1, 1, 1]
    r = client.get("/api/v1/builds/nope-1-1")
    assert (r.status_code, r.json()) == (404, {"message": "Unknown build nope-1-1"})
    assert [x["nvr"] for x in client.get("/api/v1/builds?gate=candidate").json()["builds"]] == [NVR]
    assert client.get("/api/v1/builds?gate=promoted").json() == {"builds": []}
    r = client.get("/api/v1/builds?gate=sideways")
    assert r.status_code == 400 and r.json()["message"].startswith("Invalid request")
    assert client.get("/api/v1/builds?limit=0").status_code == 400
    decisions = client.get(f"/api/v1/decisions?nvr={NVR}&limit=5").json()["decisions"]
    assert [d["verdict"] for d in decisions] == ["hold"]
    earlier = client.get("/api/v1/decisions?when=2024-03-01T10:00:00").json()
    assert earlier == {"decisions": []}
    assert client.get("/api/v1/decisions?when=soon").status_code == 400


def test_events_artifacts_and_pushes(client: TestClient) -> None:
    r = client.get(f"/api/v1/events?subject={NVR}").json()
    assert r["subject"] == {"type": "koji_build", "identifier": NVR}
    assert r["events"][0]["event"] == "Build.Seen"
    r = client.get(f"/api/v1/events?subject=bodhi_update:{UPDATE}").json()
    assert r["subject"] == {"type": "bodhi_update", "identifier": UPDATE}
    r = client.get(f"/api/v1/events?subject_type=bodhi_update&subject_identifier={UPDATE}")
    assert r.json()["events"][0]["message"] == "m2"
    assert client.get("/api/v1/events?subject=koji_build:nope-1-1").status_code == 404
    assert client.get("/api/v1/events").status_code == 400
    assert client.get("/api/v1/artifacts").json() == {"artifacts": [{"name": "fedora-iot"}]}
    assert client.get("/api/v1/artifacts/fedora-iot").json() == {"name": "fedora-iot"}
    assert client.get("/api/v1/artifacts/nope").status_code == 404
    assert client.get("/api/v1/pushes/F40-updates%231").json() == {"push": "F40-updates#1"}
    assert client.get("/api/v1/pushes/nope").status_code == 404


def test_openapi_document(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    decision = doc["paths"][DECISION]["post"]
    codes = {"200", "400", "404", "413", "415", "503"}
    assert set(decision["responses"]) == codes  # never FastAPI's 422
    assert (
        "product_version"
        in decision["requestBody"]["content"]["application/json"]["schema"]["properties"]
    )
    assert client.get("/docs").status_code == 200


# ------------------------------------------------------------------ writes and auth

WAIVER = {
    "subject_identifier": NVR,
    "testcase": TIER0,
    "comment": "the test is broken on aarch64",
    "username": "alice",
}


def test_writes_are_refused_without_a_configured_token(client: TestClient) -> None:
    r = client.post("/api/v1/waivers", json=WAIVER, headers={"Authorization": "Bearer x"})
    assert r.status_code == 403 and r.json()["message"].startswith("Writes are disabled")
    r = client.post(f"/api/v1/builds/{NVR}/promote", json={"reason": "r", "username": "u"})
    assert r.status_code == 403


@pytest.fixture
def store_client(tmp_path: Path, rm: FakeReadModel, policies: PolicySet) -> tuple[TestClient, Any]:
    from relengotron.adapters.store.store import open_app

    app = open_app(f"sqlite:///{tmp_path / 'store.db'}")
    api = create_app(rm, policies, token="s3cret", commands=StoreCommands(app, Settings()))
    return TestClient(api), app


def test_a_wrong_or_missing_token_is_401(store_client: tuple[TestClient, Any]) -> None:
    client, _ = store_client
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic czNjcmV0"}):
        r = client.post("/api/v1/waivers", json=WAIVER, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json() == {"message": "A valid bearer token is required"}


def test_a_waiver_for_a_build_nothing_is_recorded_about_says_so(
    store_client: tuple[TestClient, Any],
) -> None:
    """As ``relengotron waive`` (issue 19: refuse or warn, consistently): the waiver is
    recorded (WaiverDB accepts it too), and the answer says why it may not be meant."""
    client, app = store_client
    auth = {"Authorization": "Bearer s3cret"}
    r = client.post("/api/v1/waivers", json=WAIVER, headers=auth)
    assert r.status_code == 202
    assert r.json()["warnings"] == [f"nothing is recorded about {NVR}; the waiver waits for it"]
    assert app.stored_message(r.json()["message_key"]) is not None


def test_a_waiver_is_recorded_as_an_input_message(store_client: tuple[TestClient, Any]) -> None:
    client, app = store_client
    auth = {"Authorization": "Bearer s3cret"}
    r = client.post("/api/v1/waivers", json={**WAIVER, "scenario": "aarch64"}, headers=auth)
    assert r.status_code == 202
    out = r.json()
    assert out["topic"] == "relengotron.waiver.new"
    stored = app.stored_message(out["message_key"])
    assert stored is not None and stored.topic == "relengotron.waiver.new"
    assert stored.body["subject_identifier"] == NVR and stored.body["scenario"] == "aarch64"
    assert stored.body["product_version"] == "fedora-rawhide"  # the gating default
    history = subject_history(app, "koji_build", NVR)
    assert [h["event"] for h in history][-1] == "Subject.WaiverRecorded"
    # Invalid bodies are 400 with a message, after the token check.
    r = client.post("/api/v1/waivers", json={**WAIVER, "waived": "yes"}, headers=auth)
    assert r.status_code == 400 and "waived" in r.json()["message"]
    assert client.post("/api/v1/waivers", json={"x": 1}).status_code == 401


def test_promote_and_hold_record_overrides(store_client: tuple[TestClient, Any]) -> None:
    client, app = store_client
    auth = {"Authorization": "Bearer s3cret"}
    for action in ("promote", "hold", "release"):
        r = client.post(
            f"/api/v1/builds/{NVR}/{action}",
            json={"reason": "bodhi says so", "username": "bob"},
            headers=auth,
        )
        assert r.status_code == 202, r.text
        stored = app.stored_message(r.json()["message_key"])
        assert stored.topic == "relengotron.gate.override"
        assert stored.body == {
            "nvr": NVR,
            "action": action,
            "reason": "bodhi says so",
            "username": "bob",
            "context": "rawhide_pending",
        }
    r = client.post("/api/v1/builds/nope-1-1/hold", json={"reason": "r", "username": "u"},
                    headers=auth)  # fmt: skip
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", {"product_version": PV, "decision_context":
         "bodhi_update_push_testing", "subject_type": "koji_build", "subject_identifier": NVR}),
        ("application/json; charset=utf-8", {"product_version": PV, "decision_context":
         ["bodhi_update_push_testing", "bodhi_update_push_stable"], "verbose": True,
         "subject": [{"type": "koji_build", "item": NVR},
                     {"type": "bodhi_update", "item": UPDATE}]}),
        ("application/json", {"product_version": PV, "decision_context": "nowhere",
         "subject_type": "koji_build", "subject_identifier": NVR}),
        ("application/json", {"decision_context": "bodhi_update_push_testing"}),
        ("application/json", {"product_version": PV, "decision_context": "x", "verbose": "yes",
         "subject_type": "koji_build", "subject_identifier": NVR}),
        ("application/json", "not an object"),
        ("application/json", b"{not json"),
        ("text/plain", {"product_version": PV}),
        (None, b""),
    ],
)  # fmt: skip
def test_the_fast_path_answers_as_the_documented_route(
    rm: FakeReadModel, policies: PolicySet, content_type: str | None, body: Any
) -> None:
    """``serve`` answers decisions through ``DecisionFastPath``: byte for byte what the
    FastAPI route (the one in the OpenAPI document) answers, errors included."""
    from relengotron.adapters.http.app import DecisionFastPath

    app = create_app(rm, lambda: policies, token=None, clock=lambda: NOW)
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"content-type": content_type} if content_type else {}
    routed = TestClient(app).post(DECISION, content=raw, headers=headers)
    fast = TestClient(DecisionFastPath(app)).post(DECISION, content=raw, headers=headers)
    assert (fast.status_code, fast.content) == (routed.status_code, routed.content)
    assert fast.headers["content-type"] == "application/json"
    assert fast.status_code in (200, 400, 404, 415)
    # Everything else still goes to the app.
    assert TestClient(DecisionFastPath(app)).get("/api/v1.0/about").status_code == 200


def test_status_and_prometheus_metrics(client: TestClient) -> None:
    status = client.get("/api/v1/status").json()
    assert status["followers"]["readmodels"]["lag"] == 0
    assert status["outbox"]["pending"] == 1
    assert status["policy_set_hash"].startswith("sha256:")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    metrics = {
        key: float(value)
        for key, value in (
            line.rsplit(" ", 1) for line in r.text.splitlines() if line and line[0] != "#"
        )
    }
    assert metrics['relengotron_follower_lag_events{follower="readmodels"}'] == 0
    assert metrics["relengotron_outbox_pending"] == 1
    # The oldest pending action was requested at 12:00; the clock says 13:00.
    assert metrics["relengotron_outbox_oldest_pending_seconds"] == 3600.0
