"""The Greenwave-compatible decision API over an in-memory read model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.http.decision_request import decide, parse_when
from relengotron.adapters.rules.policy_loader import load_policy_set, load_policy_text
from relengotron.policies.spec import PolicySet
from relengotron.projections.decision_api import (
    DecisionRequestError,
    DecisionService,
    policy_json,
    requirement_state,
)
from tests.fakes import FakeReadModel

REPO = Path(__file__).resolve().parents[2]
PV = "fedora-40"
NVR = "python-requests-2.31.0-1.fc40"
NVR2 = "python-urllib3-2.0.7-1.fc40"
UPDATE = "FEDORA-2024-0c91ce7b3c"
T0 = "2024-03-01T10:00:00+00:00"
T1 = "2024-03-01T11:00:00+00:00"
T2 = "2024-03-01T12:00:00+00:00"
NOW = datetime(2024, 3, 1, 13, 0, tzinfo=UTC)
TIER0 = "fedora-ci.koji-build.tier0.functional"
INSTALLABILITY = "fedora-ci.koji-build.installability.functional"
NETINST = "update.install_default_update_netinst"
NETINST_SCENARIO = "fedora.updates-everything-boot-iso.x86_64.64bit"
SERVER = "fedora.updates-server.x86_64.64bit"
BATCH_TC = "fedora-ci.koji-build-group.integrity.functional"


@pytest.fixture(scope="module")
def shipped() -> PolicySet:
    return load_policy_set(REPO / "config" / "policies")


@pytest.fixture
def rm() -> FakeReadModel:
    return FakeReadModel()


@pytest.fixture
def api(rm: FakeReadModel, shipped: PolicySet) -> DecisionService:
    return DecisionService(rm, shipped, overdue_after=timedelta(hours=24))


def ask(api: DecisionService, **data: Any) -> dict[str, Any]:
    request = {"product_version": PV, "decision_context": "bodhi_update_push_testing", **data}
    return decide(api, request, now=NOW)


def one(nvr: str = NVR) -> dict[str, str]:
    return {"subject_type": "koji_build", "subject_identifier": nvr}


def refused(api: DecisionService, data: Any) -> tuple[int, str]:
    with pytest.raises(DecisionRequestError) as err:
        decide(api, data, now=NOW)
    return err.value.status, err.value.message


# ------------------------------------------------------------------ one build


def test_one_passing_build(api: DecisionService, rm: FakeReadModel) -> None:
    rm.seen("koji_build", NVR, T0, package="python-requests")
    view = rm.add_result("koji_build", NVR, TIER0, "PASSED", at=T1)
    out = ask(api, **one())
    assert list(out) == [
        "policies_satisfied",
        "summary",
        "satisfied_requirements",
        "unsatisfied_requirements",
        "applicable_policies",
    ]
    assert out["policies_satisfied"] is True
    assert out["summary"] == "All required tests (1 total) have passed or been waived"
    assert out["applicable_policies"] == ["fedora_ci_tier0_for_testing"]
    (req,) = out["satisfied_requirements"]
    assert req["type"] == "test-result-passed"
    assert req["testcase"] == TIER0
    assert req["result_id"] == view.result_id
    assert req["subject_type"] == "koji_build" and req["subject_identifier"] == NVR
    assert req["state"] == "passed"
    assert out["unsatisfied_requirements"] == []


def test_failed_errored_and_missing(api: DecisionService, rm: FakeReadModel) -> None:
    rm.seen("koji_build", NVR, T0)
    rm.add_result("koji_build", NVR, TIER0, "FAILED", at=T1)
    rm.add_result("koji_build", NVR, INSTALLABILITY, "ERROR", at=T1)
    out = ask(api, decision_context="bodhi_update_push_stable", **one())
    assert out["policies_satisfied"] is False
    types = {r["testcase"]: (r["type"], r["state"]) for r in out["unsatisfied_requirements"]}
    assert types == {
        TIER0: ("test-result-failed", "failed"),
        INSTALLABILITY: ("test-result-errored", "errored"),
    }
    assert out["summary"] == "Of 2 required tests, 1 test errored, 1 test failed"
    rm2 = FakeReadModel()
    out = decide(
        DecisionService(rm2, api.policy_set()),
        {"product_version": PV, "decision_context": "bodhi_update_push_stable", **one()},
        NOW,
    )
    assert {r["type"] for r in out["unsatisfied_requirements"]} == {"test-result-missing"}
    assert out["summary"] == "Of 2 required tests, 2 results missing"


def test_queued_result_is_missing_with_its_result_id(
    api: DecisionService, rm: FakeReadModel
) -> None:
    rm.seen("koji_build", NVR, T2)
    view = rm.add_result("koji_build", NVR, TIER0, "RUNNING", at=T2)
    (req,) = ask(api, **one())["unsatisfied_requirements"]
    assert req["type"] == "test-result-missing"
    assert req["result_id"] == view.result_id
    assert req["state"] == "pending"


def test_missing_for_too_long_is_overdue(api: DecisionService, rm: FakeReadModel) -> None:
    rm.seen("koji_build", NVR, "2024-02-27T10:00:00+00:00")
    (req,) = ask(api, **one())["unsatisfied_requirements"]
    assert (req["type"], req["state"]) == ("test-result-missing", "overdue")
    # Asked "when" the subject was new, the same requirement is pending.
    (req,) = ask(api, when="2024-02-27T12:00:00.000000", **one())["unsatisfied_requirements"]
    assert req["state"] == "pending"
    # Without a clock nothing is overdue.
    data = {"product_version": PV, "decision_context": "bodhi_update_push_testing", **one()}
    (req,) = decide(api, data)["unsatisfied_requirements"]
    assert req["state"] == "pending"


def test_waiver_without_scenario_covers_every_scenario(
    api: DecisionService, rm: FakeReadModel
) -> None:
    rm.seen("bodhi_update", UPDATE, T0)
    rm.add_result("bodhi_update", UPDATE, NETINST, "FAILED", at=T1, scenario=NETINST_SCENARIO)
    waiver = rm.add_waiver("bodhi_update", UPDATE, NETINST, at=T2, product_version=PV)
    out = ask(
        api,
        decision_context="bodhi_update_push_testing_critpath",
        subject=[{"type": "bodhi_update", "item": UPDATE}],
    )
    (req,) = [r for r in out["satisfied_requirements"] if r["testcase"] == NETINST]
    assert req["type"] == "test-result-failed-waived"
    assert req["waiver_id"] == waiver.waiver_id
    assert req["scenario"] == NETINST_SCENARIO
    assert req["state"] == "waived"
    # The three other openQA tests have no result.
    assert [r["state"] for r in out["unsatisfied_requirements"]] == ["pending"] * 3


def test_waiver_for_another_product_version_does_not_apply(
    api: DecisionService, rm: FakeReadModel
) -> None:
    rm.add_result("koji_build", NVR, TIER0, "FAILED", at=T1)
    rm.add_waiver("koji_build", NVR, TIER0, at=T2, product_version="fedora-39")
    (req,) = ask(api, **one())["unsatisfied_requirements"]
    assert req["type"] == "test-result-failed"


def test_excluded_package_is_not_required(api: DecisionService, rm: FakeReadModel) -> None:
    rm.seen("koji_build", "kernel-6.8.1-300.fc40", T0, package="kernel")
    out = ask(api, **one("kernel-6.8.1-300.fc40"))
    (req,) = out["satisfied_requirements"]
    assert (req["type"], req["state"], req["policy"]) == (
        "excluded",
        "not-required",
        "fedora_ci_tier0_for_testing",
    )
    assert out["summary"] == "No tests are required"
    # The package comes from the NVR when the read model does not know it.
    rm2 = FakeReadModel()
    out = decide(
        DecisionService(rm2, api.policy_set()),
        {"product_version": PV, "decision_context": "bodhi_update_push_testing"}
        | one("firefox-125.0-1.fc40"),
        NOW,
    )
    assert out["satisfied_requirements"][0]["type"] == "excluded"


# ------------------------------------------------------------------ Bodhi's requests


def bodhi_request(**extra: Any) -> dict[str, Any]:
    return {
        "product_version": PV,
        "decision_context": ["bodhi_update_push_stable_critpath", "bodhi_update_push_stable"],
        "subject": [
            {"item": NVR, "type": "koji_build"},
            {"item": NVR2, "type": "koji_build"},
            {"item": UPDATE, "type": "bodhi_update"},
        ],
        **extra,
    }


def _pass_everything(rm: FakeReadModel) -> None:
    for nvr in (NVR, NVR2):
        rm.add_result("koji_build", nvr, TIER0, "PASSED", at=T1)
        rm.add_result("koji_build", nvr, INSTALLABILITY, "PASSED", at=T1)
    for tc, sc in [
        (NETINST, NETINST_SCENARIO),
        ("update.base_selinux", SERVER),
        ("update.base_services_start", SERVER),
        ("update.base_update_cli", SERVER),
        ("update.desktop_update_graphical", "fedora.updates-workstation.x86_64.64bit"),
    ]:
        rm.add_result("bodhi_update", UPDATE, tc, "PASSED", at=T1, scenario=sc)


def test_bodhi_multi_subject_critpath_request(api: DecisionService, rm: FakeReadModel) -> None:
    _pass_everything(rm)
    out = decide(api, bodhi_request(), NOW)
    assert out["policies_satisfied"] is True
    assert out["summary"] == "All required tests (9 total) have passed or been waived"
    # Each subject's policies in turn, as Greenwave lists them.
    assert out["applicable_policies"] == [
        "fedora_ci_tier0_for_stable",
        "fedora_ci_tier0_for_stable",
        "openqa_release_critical_tasks_for_stable",
    ]
    assert rm.calls == ["subject_facts"]  # one read for all subjects, no decisions read
    subjects = [r["subject_identifier"] for r in out["satisfied_requirements"]]
    assert subjects == [NVR, NVR, NVR2, NVR2, *[UPDATE] * 5]


def test_a_rule_asked_by_two_contexts_is_answered_once(
    api: DecisionService, rm: FakeReadModel
) -> None:
    rm.add_result("koji_build", NVR, TIER0, "PASSED", at=T1)
    out = ask(
        api, decision_context=["bodhi_update_push_testing", "bodhi_update_push_stable"], **one()
    )
    assert out["applicable_policies"] == [
        "fedora_ci_tier0_for_testing",
        "fedora_ci_tier0_for_stable",
    ]
    testcases = [
        r["testcase"] for r in out["satisfied_requirements"] + out["unsatisfied_requirements"]
    ]
    assert testcases == [TIER0, INSTALLABILITY]


def test_bodhi_update_without_policy_is_skipped(api: DecisionService, rm: FakeReadModel) -> None:
    rm.add_result("koji_build", NVR, TIER0, "PASSED", at=T1)
    out = ask(
        api, subject=[{"item": NVR, "type": "koji_build"}, {"item": UPDATE, "type": "bodhi_update"}]
    )
    assert out["applicable_policies"] == ["fedora_ci_tier0_for_testing"]
    assert out["policies_satisfied"] is True
    # An update alone: nothing applies, nothing is required (Greenwave answers 200 too).
    out = ask(api, subject=[{"item": UPDATE, "type": "bodhi_update"}])
    assert out["applicable_policies"] == [] and out["policies_satisfied"] is True
    assert out["summary"] == "No tests are required"


def test_legacy_subject_forms(api: DecisionService, rm: FakeReadModel) -> None:
    rm.add_result("koji_build", NVR, TIER0, "PASSED", at=T1)
    for subject in (
        {"original_spec_nvr": NVR},
        {"type": "brew-build", "item": NVR},
        {"type": "koji_build", "item": NVR},
    ):
        out = ask(api, subject=[subject])
        assert out["satisfied_requirements"][0]["subject_identifier"] == NVR, subject
        assert out["satisfied_requirements"][0]["subject_type"] == "koji_build"
    out = ask(api, subject_type="brew-build", subject_identifier=NVR)
    assert out["policies_satisfied"] is True
    status, message = refused(
        api,
        {
            "product_version": "fedora-rawhide",
            "decision_context": "rawhide_compose",
            "subject": [{"productmd.compose.id": "Fedora-Rawhide-20240301.n.0"}],
        },
    )
    assert (status, message) == (
        404,
        "Found no applicable policies for compose subjects at gating point(s) "
        "rawhide_compose in fedora-rawhide",
    )


# ------------------------------------------------------------------ verbose, when, ignore


def test_verbose_results_and_waivers(api: DecisionService, rm: FakeReadModel) -> None:
    r1 = rm.add_result("koji_build", NVR, TIER0, "FAILED", at=T0)
    r2 = rm.add_result("koji_build", NVR, TIER0, "PASSED", at=T1)
    w = rm.add_waiver("koji_build", NVR, TIER0, at=T1, product_version=PV)
    rm.add_waiver("koji_build", NVR, TIER0, at=T1, product_version="fedora-39")
    out = ask(api, verbose=True, subject=[{"type": "koji_build", "item": NVR}] * 2)
    assert list(out)[-2:] == ["results", "waivers"]
    # Deduplicated, and only the latest result (Greenwave's, from ResultsDB's latest).
    assert r1.result_id != r2.result_id
    assert [r["id"] for r in out["results"]] == [r2.result_id]
    assert [x["id"] for x in out["waivers"]] == [w.waiver_id]  # this product version only
    assert out["results"][0]["testcase"] == {"name": TIER0, "ref_url": None, "href": None}
    assert "results" not in ask(api, **one())


def test_when_hides_what_came_later(api: DecisionService, rm: FakeReadModel) -> None:
    rm.add_result("koji_build", NVR, TIER0, "FAILED", at=T0)
    rm.add_result("koji_build", NVR, TIER0, "PASSED", at=T2)
    assert ask(api, **one())["policies_satisfied"] is True
    before = ask(api, when="2024-03-01T11:00:00.000000", **one())
    assert before["unsatisfied_requirements"][0]["type"] == "test-result-failed"
    for when in ("2024-03-01T11:00:00", "2024-03-01T12:00:00+01:00", "2024-03-01T10:00:00Z"):
        assert ask(api, when=when, **one())["policies_satisfied"] is False, when
    # A waiver sent after "when" does not count either.
    rm.add_waiver("koji_build", NVR2, TIER0, at=T2)
    rm.add_result("koji_build", NVR2, TIER0, "FAILED", at=T0)
    assert ask(api, **one(NVR2))["satisfied_requirements"][0]["type"] == "test-result-failed-waived"
    assert ask(api, when="2024-03-01T11:30:00.5", **one(NVR2))["policies_satisfied"] is False


def test_ignore_result_and_ignore_waiver(api: DecisionService, rm: FakeReadModel) -> None:
    failed = rm.add_result("koji_build", NVR, TIER0, "FAILED", at=T0)
    passed = rm.add_result("koji_build", NVR, TIER0, "PASSED", at=T1)
    out = ask(api, ignore_result=[passed.result_id], verbose=True, **one())
    # As in Greenwave, the ignored latest result leaves the test without a result: the
    # older failure does not come back (ids are dropped from ResultsDB's latest).
    assert out["unsatisfied_requirements"][0]["type"] == "test-result-missing"
    assert "result_id" not in out["unsatisfied_requirements"][0]
    assert out["results"] == [] and failed.result_id != passed.result_id
    waiver = rm.add_waiver("koji_build", NVR, TIER0, at=T2)
    out = ask(api, ignore_result=[int(passed.result_id or 0)], **one())
    assert out["satisfied_requirements"][0]["waiver_id"] == waiver.waiver_id
    out = ask(api, ignore_result=[passed.result_id], ignore_waiver=[waiver.waiver_id], **one())
    assert out["policies_satisfied"] is False


# ------------------------------------------------------------------ on-demand rules


def test_on_demand_rules(api: DecisionService, rm: FakeReadModel) -> None:
    rm.add_result("koji_build", NVR, "dist.abicheck", "PASSED", at=T1)
    data = {
        "product_version": "rhel-8",
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "rules": [
            {"type": "PassingTestCaseRule", "test_case_name": "dist.abicheck"},
            {"type": "PassingTestCaseRule", "test_case_name": "dist.rpmdeplint", "scenario": None},
        ],
    }
    out = decide(api, data, NOW)
    assert "applicable_policies" not in out
    assert [r["testcase"] for r in out["satisfied_requirements"]] == ["dist.abicheck"]
    assert [r["testcase"] for r in out["unsatisfied_requirements"]] == ["dist.rpmdeplint"]
    excluded = decide(api, {**data, "excluded_packages": ["python-*"]}, NOW)
    assert excluded["satisfied_requirements"][0]["type"] == "excluded"
    # RemoteRule is Greenwave's too (issue 16); a malformed one is refused
    status, message = refused(api, {**data, "rules": [{"type": "RemoteRule", "required": "y"}]})
    assert status == 400
    assert message == "Failed to parse on demand policy: rule 1: required must be a boolean"
    status, message = refused(api, {**data, "rules": [{"type": "FooRule"}]})
    assert message.startswith("Failed to parse on demand policy: rule 1: rule type 'FooRule'")


# ------------------------------------------------------------------ batch status


def test_batch_status_comes_from_the_latest_gate_decision(rm: FakeReadModel) -> None:
    (policy,) = load_policy_text(
        "--- !Policy\nid: gate\nproduct_versions: [fedora-rawhide]\n"
        "decision_context: rawhide_pending\nsubject_type: koji_build\n"
        f"rules:\n  - !BatchIntegrityRule {{test_case_name: {BATCH_TC}}}\n"
    )
    api = DecisionService(rm, PolicySet((policy,)))
    data = {"product_version": "fedora-rawhide", "decision_context": "rawhide_pending", **one()}
    (req,) = decide(api, data, NOW)["unsatisfied_requirements"]
    assert (req["type"], req["state"]) == ("test-result-missing", "pending")
    for stored_type, detail, expected, state in [
        ("batch-bisection-pending", "batch check g1/a: pending (round 1)",
         "batch-bisection-pending", "pending"),
        ("batch-innocent", "batch check g1: innocent", "batch-innocent", "passed"),
        ("test-result-failed", "batch check g1: suspect (named)", "test-result-failed", "failed"),
        ("batch-unresolved", "batch check g1: unresolved-hold", "batch-unresolved", "errored"),
        ("test-result-passed", None, "test-result-passed", "passed"),
    ]:  # fmt: skip
        stored = {"type": stored_type, "testcase": BATCH_TC, "subject_identifier": NVR,
                  "event": "e/1", "result_id": "77", "detail": detail}  # fmt: skip
        rm.add_decision(NVR, {"unsatisfied_requirements": [stored]}, at=T1)
        out = decide(api, data, NOW)
        (req,) = out["satisfied_requirements"] + out["unsatisfied_requirements"]
        assert (req["type"], req["state"]) == (expected, state), stored_type
        assert req["event"] == "e/1" and req["result_id"] == "77"
        if detail:
            assert req["detail"] == detail  # kept as recorded
    # "when" before every decision: no batch status.
    out = decide(api, {**data, "when": "2024-03-01T10:30:00"}, NOW)
    assert out["unsatisfied_requirements"][0]["type"] == "test-result-missing"


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (None, 415, "No JSON payload in request"),
        ({}, 415, "No JSON payload in request"),
        ([1], 415, "No JSON payload in request"),
        ({"decision_context": "x"}, 400, "Missing required product version"),
        ({"product_version": ""}, 400, "Missing required product version"),
        ({"product_version": PV}, 400, "Either decision_context or rules is required."),
        ({"product_version": PV, "decision_context": "c", "rules": [{"type": "x"}]}, 400,
         "Cannot have both decision_context and rules"),
        ({"product_version": PV, "decision_context": "c", "subject": []}, 400,
         "Invalid subject, must be a list of dicts"),
        ({"product_version": PV, "decision_context": "c", "subject": "x"}, 400,
         "Invalid subject, must be a list of dicts"),
        ({"product_version": PV, "decision_context": "c", "subject": [{"item": "x"}, 1]}, 400,
         "Invalid subject, must be a list of dicts"),
        ({"product_version": PV, "decision_context": "c", "subject": [{"item": "x"}]}, 400,
         "Could not detect subject_identifier."),
        ({"product_version": PV, "decision_context": "c", "subject": [{"type": "koji_build"}]},
         400, "Could not detect subject_identifier."),
        ({"product_version": PV, "decision_context": "c"}, 400,
         'Missing required "subject_type" parameter'),
        ({"product_version": PV, "decision_context": "c", "subject_type": "koji_build"}, 400,
         'Missing required "subject_identifier" parameter'),
        ({"product_version": PV, "decision_context": "c", "verbose": "yes", **one()}, 400,
         "Invalid verbose flag, must be a bool"),
        ({"product_version": PV, "decision_context": "c", "when": "yesterday", **one()}, 400,
         'Invalid "when" parameter, must be in ISO8601 format'),
        ({"product_version": PV, "decision_context": "c", "when": "2024-03-01", **one()}, 400,
         'Invalid "when" parameter, must be in ISO8601 format'),
        ({"product_version": PV, "decision_context": "c", "when": 5, **one()}, 400,
         'Invalid "when" parameter, must be in ISO8601 format'),
        ({"product_version": PV, "decision_context": "nope", **one()}, 404,
         "Found no applicable policies for koji_build subjects at gating point(s) nope "
         "in fedora-40"),
        ({"product_version": PV, "decision_context": ["a", "b"], **one()}, 404,
         "Found no applicable policies for koji_build subjects at gating point(s) a b "
         "in fedora-40"),
        ({"product_version": "epel-9", "decision_context": "bodhi_update_push_testing", **one()},
         404, "Found no applicable policies for koji_build subjects at gating point(s) "
         "bodhi_update_push_testing in epel-9"),
        ({"product_version": PV, "decision_context": 5, **one()}, 400,
         "Invalid decision_context, must be a string or a list of strings"),
    ],
)  # fmt: skip
def test_greenwave_errors(api: DecisionService, data: Any, status: int, message: str) -> None:
    assert refused(api, data) == (status, message)


# ------------------------------------------------------------------ helpers


def test_requirement_state_mapping() -> None:
    cases = {
        "test-result-passed": "passed",
        "test-result-failed-waived": "waived",
        "test-result-missing-waived": "waived",
        "excluded": "not-required",
        "test-result-failed": "failed",
        "test-result-errored": "errored",
        "test-result-missing": "pending",
        "batch-bisection-pending": "pending",
        "batch-unresolved": "errored",
        "batch-innocent": "passed",
        "something-new": "errored",
    }
    assert {t: requirement_state({"type": t}) for t in cases} == cases
    assert requirement_state({"type": "test-result-missing"}, overdue=True) == "overdue"
    assert requirement_state({"type": "test-result-passed"}, overdue=True) == "passed"


def test_parse_when() -> None:
    assert parse_when("2024-03-01T10:00:00.123") == datetime(2024, 3, 1, 10, 0, 0, 123000, UTC)
    assert parse_when("2024-03-01T12:00:00+02:00") == datetime(2024, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_when("2024-03-01 10:00")


def test_policy_json(shipped: PolicySet) -> None:
    p = policy_json(shipped.by_id("openqa_release_critical_tasks_for_stable"))  # type: ignore[arg-type]
    assert p["decision_context"] == "bodhi_update_push_stable_critpath"
    assert p["decision_contexts"] == ["bodhi_update_push_stable_critpath"]
    assert p["rules"][0] == {
        "type": "PassingTestCaseRule",
        "rule": "PassingTestCaseRule",
        "test_case_name": NETINST,
        "scenario": NETINST_SCENARIO,
    }


def test_policy_set_provider_is_asked_each_time_and_hashed_once(rm: FakeReadModel) -> None:
    sets = [load_policy_set(REPO / "config" / "policies")]
    api = DecisionService(rm, lambda: sets[-1])
    first = api.policy_set()
    assert api.policy_set() is first and first.content_hash == sets[0].content_hash
    sets.append(PolicySet(sets[0].policies[:1]))
    assert api.policy_set() is not first
