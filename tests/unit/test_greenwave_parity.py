"""The decision API answers as Greenwave does, field for field (issue 15, items 1-4).

References (the mirrored sources):
* greenwave/config.py ``DISTINCT_LATEST_RESULTS_ON = (scenario, system_architecture,
  system_variant)``; greenwave/resources.py ``ResultsRetriever`` asks ResultsDB for
  ``/results/latest?_distinct_on=...`` and drops ``ignore_result`` ids *after* that;
* greenwave/policies.py ``_answer_for_result`` (the requirement keys: ``source``,
  ``result_id``, the three distinct keys, ``item`` = ``Subject.to_dict()``),
  ``TestResultMissing.to_json``, ``TestResultWaived.to_json`` (``item`` dropped);
* greenwave/decision.py ``Decision.check`` (the 404 text, contexts joined by a space;
  verbose results = the retriever's latest results of each subject);
* greenwave/subjects/subject.py ``to_dict`` and conf/subject_types/compose.yaml
  (``item_dict: productmd.compose.id``);
* docs/decision_requirements.rst (the documented requirement shapes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from relengotron.adapters.http.decision_request import decide
from relengotron.adapters.rules.policy_loader import load_policy_text
from relengotron.policies.snapshot import public_id
from relengotron.policies.spec import PolicySet
from relengotron.projections.decision_api import DecisionRequestError, DecisionService
from tests.fakes import FakeReadModel

NOW = datetime(2024, 3, 1, 13, 0, tzinfo=UTC)
T0, T1, T2, T3 = (f"2024-03-01T1{h}:00:00+00:00" for h in range(4))
PV = "fedora-40"
COMPOSE_ID = "Fedora-40-20240301.n.0"
NVR = "python-requests-2.31.0-1.fc40"
TC = "compose.install_default"
POLICIES = """
--- !Policy
id: compose_gate
product_versions: [fedora-*]
decision_context: compose_ready
subject_type: compose
rules:
  - !PassingTestCaseRule {test_case_name: compose.install_default}
--- !Policy
id: build_gate
product_versions: [fedora-*]
decision_context: compose_ready
subject_type: koji_build
rules:
  - !PassingTestCaseRule {test_case_name: compose.install_default}
"""


@pytest.fixture
def rm() -> FakeReadModel:
    return FakeReadModel()


@pytest.fixture
def api(rm: FakeReadModel) -> DecisionService:
    return DecisionService(rm, PolicySet(load_policy_text(POLICIES)))


def ask(api: DecisionService, subject_type: str, item: str, **extra: Any) -> dict[str, Any]:
    return decide(
        api,
        {
            "product_version": PV,
            "decision_context": "compose_ready",
            "subject_type": subject_type,
            "subject_identifier": item,
            **extra,
        },
        NOW,
    )


# ------------------------------------------------------------------ 1. the verdict


def test_a_failed_architecture_is_not_hidden_by_a_later_passed_one(
    api: DecisionService, rm: FakeReadModel
) -> None:
    rm.add_result("compose", COMPOSE_ID, TC, "FAILED", at=T0, system_architecture="ppc64le")
    rm.add_result("compose", COMPOSE_ID, TC, "PASSED", at=T1, system_architecture="x86_64")
    out = ask(api, "compose", COMPOSE_ID)
    assert out["policies_satisfied"] is False
    assert out["summary"] == "Of 2 required tests, 1 test failed"
    (failed,) = out["unsatisfied_requirements"]
    assert (failed["type"], failed["system_architecture"]) == ("test-result-failed", "ppc64le")
    (passed,) = out["satisfied_requirements"]
    assert passed["system_architecture"] == "x86_64"
    # A re-run on ppc64le that passes replaces the failure: then all pass.
    rm.add_result("compose", COMPOSE_ID, TC, "PASSED", at=T2, system_architecture="ppc64le")
    out = ask(api, "compose", COMPOSE_ID)
    assert out["summary"] == "All required tests (2 total) have passed or been waived"


def test_variants_of_a_build_are_answered_apart(api: DecisionService, rm: FakeReadModel) -> None:
    rm.add_result("koji_build", NVR, TC, "FAILED", at=T0, system_variant="Server")
    rm.add_result("koji_build", NVR, TC, "PASSED", at=T1, system_variant="Everything")
    rm.add_result("koji_build", NVR, TC, "PASSED", at=T2, system_variant="Everything")
    out = ask(api, "koji_build", NVR)
    assert out["summary"] == "Of 2 required tests, 1 test failed"
    assert [r["system_variant"] for r in out["unsatisfied_requirements"]] == ["Server"]


def test_an_ignored_latest_result_does_not_bring_back_an_older_one(
    api: DecisionService, rm: FakeReadModel
) -> None:
    """Greenwave drops ``ignore_result`` ids from what ResultsDB answered as latest."""
    rm.add_result("koji_build", NVR, TC, "PASSED", at=T0, result_id=71)
    rm.add_result("koji_build", NVR, TC, "FAILED", at=T1, result_id=72)
    out = ask(api, "koji_build", NVR, ignore_result=[72])
    assert out["summary"] == "Of 1 required test, 1 result missing"


# ------------------------------------------------------------------ 2. verbose


def test_verbose_returns_the_latest_results_decided_on(
    api: DecisionService, rm: FakeReadModel
) -> None:
    rm.add_result("compose", COMPOSE_ID, TC, "FAILED", at=T0, system_architecture="x86_64")
    rm.add_result("compose", COMPOSE_ID, TC, "PASSED", at=T1, system_architecture="x86_64")
    rm.add_result("compose", COMPOSE_ID, TC, "FAILED", at=T1, system_architecture="aarch64")
    rm.add_result("compose", COMPOSE_ID, "compose.other", "PASSED", at=T2)
    out = ask(api, "compose", COMPOSE_ID, verbose=True)
    ids = [r["id"] for r in out["results"]]
    # Newest first (ResultsDB's order), one per testcase/scenario/architecture/variant,
    # not-required testcases included (Greenwave asks for all of the subject's).
    assert ids == [1004, 1003, 1002]
    decided = {r["result_id"] for r in out["satisfied_requirements"]}
    decided |= {r["result_id"] for r in out["unsatisfied_requirements"]}
    assert decided == {1002, 1003}
    out = ask(api, "compose", COMPOSE_ID, verbose=True, ignore_result=[1003])
    assert [r["id"] for r in out["results"]] == [1004, 1002]


def test_verbose_waivers_are_the_ones_in_force(api: DecisionService, rm: FakeReadModel) -> None:
    rm.add_result("koji_build", NVR, TC, "FAILED", at=T0)
    rm.add_waiver("koji_build", NVR, TC, at=T1, waiver_id=11, product_version=PV)
    rm.add_waiver("koji_build", NVR, TC, at=T2, waiver_id=12, product_version=PV)
    rm.add_waiver("koji_build", NVR, "other", at=T2, waiver_id=13, product_version=PV)
    rm.add_waiver("koji_build", NVR, "other", at=T3, waiver_id=14, product_version=PV, waived=False)
    out = ask(api, "koji_build", NVR, verbose=True)
    assert [w["id"] for w in out["waivers"]] == [12]
    assert out["satisfied_requirements"][0]["waiver_id"] == 12


# ------------------------------------------------------------------ 3. fields


def test_requirements_carry_greenwaves_keys_and_integer_ids(
    api: DecisionService, rm: FakeReadModel
) -> None:
    rm.add_result("koji_build", NVR, TC, "PASSED", at=T0, result_id="4501")
    out = ask(api, "koji_build", NVR)
    (passed,) = out["satisfied_requirements"]
    greenwave = {"type", "testcase", "subject_type", "subject_identifier", "source",
                 "result_id", "scenario", "system_architecture", "system_variant"}  # fmt: skip
    assert greenwave <= passed.keys()
    assert passed["result_id"] == 4501 and passed["source"] is None
    assert passed["system_architecture"] is None and "item" not in passed

    out = ask(api, "compose", COMPOSE_ID)
    (missing,) = out["unsatisfied_requirements"]
    assert {"type", "testcase", "subject_type", "subject_identifier", "scenario", "source",
            "item"} <= missing.keys()  # fmt: skip
    assert "result_id" not in missing and "system_architecture" not in missing
    assert missing["item"] == {"productmd.compose.id": COMPOSE_ID}

    rm.add_result("compose", COMPOSE_ID, TC, "ERROR", at=T1, result_id=4502)
    (errored,) = ask(api, "compose", COMPOSE_ID)["unsatisfied_requirements"]
    assert errored["result_id"] == 4502 and errored["error_reason"] is None
    assert errored["item"] == {"productmd.compose.id": COMPOSE_ID}
    rm.add_waiver("compose", COMPOSE_ID, TC, at=T2, waiver_id="77")
    (waived,) = ask(api, "compose", COMPOSE_ID)["satisfied_requirements"]
    assert (waived["type"], waived["waiver_id"], waived["result_id"]) == (
        "test-result-errored-waived", 77, 4502)  # fmt: skip
    assert "item" not in waived


def test_a_result_without_a_resultsdb_id_gets_a_stable_negative_one(
    api: DecisionService, rm: FakeReadModel
) -> None:
    view = rm.add_result("koji_build", NVR, TC, "QUEUED", at=T0, origin="ci-messages")
    (incomplete,) = ask(api, "koji_build", NVR)["unsatisfied_requirements"]
    assert incomplete["type"] == "test-result-missing"
    # Derived from the recording event (aggregate and version), not from the store.
    assert incomplete["result_id"] == public_id(None, view.event) < 0
    assert public_id(None, view.event) != public_id(None, view.event + "0")
    assert public_id("123", view.event) == public_id(123, "x") == 123
    out = ask(api, "koji_build", NVR, verbose=True, ignore_result=[incomplete["result_id"]])
    assert out["results"] == []


def test_verbose_records_are_resultsdb_and_waiverdb_records(
    api: DecisionService, rm: FakeReadModel
) -> None:
    reported = {
        "id": 9001,
        "groups": ["8f8ab3e4-0000-4000-8000-000000000001"],
        "testcase": {"name": TC, "ref_url": "https://docs.example.org/t",
                     "href": "https://resultsdb.example.org/api/v2.0/testcases/" + TC},
        "submit_time": "2024-03-01T10:00:00.123456",
        "outcome": "PASSED",
        "note": "",
        "ref_url": "https://ci.example.org/1",
        "data": {"item": [NVR], "type": ["koji_build"], "arch": ["x86_64", "noarch"]},
        "href": "https://resultsdb.example.org/api/v2.0/results/9001",
    }  # fmt: skip
    rm.add_result("koji_build", NVR, TC, "PASSED", at=T0, result_id="9001", record=reported)
    rm.add_result("koji_build", NVR, "ci.other", "PASSED", at=T1, origin="ci-messages")
    out = ask(api, "koji_build", NVR, verbose=True)
    ci, resultsdb = out["results"]
    assert {k: resultsdb[k] for k in reported} == reported
    assert isinstance(ci["id"], int) and ci["id"] < 0
    assert ci["submit_time"] == "2024-03-01T11:00:00.000000"  # Bodhi parses time + " Z"
    assert ci["note"] == "" and ci["groups"] == [] and ci["testcase"]["ref_url"] is None
    assert ci["data"] == {"type": ["koji_build"], "item": [NVR]}


# ------------------------------------------------------------------ 4. the 404


@pytest.mark.parametrize(
    ("contexts", "named"),
    [("nope", "nope"), (["nope", "never"], "nope never")],
)
def test_no_applicable_policy_says_what_greenwave_says(
    api: DecisionService, contexts: Any, named: str
) -> None:
    with pytest.raises(DecisionRequestError) as err:
        decide(
            api,
            {"product_version": PV, "decision_context": contexts,
             "subject_type": "koji_build", "subject_identifier": NVR},
            NOW,
        )  # fmt: skip
    assert err.value.status == 404
    assert err.value.message == (
        f"Found no applicable policies for koji_build subjects at gating point(s) {named} in {PV}"
    )
