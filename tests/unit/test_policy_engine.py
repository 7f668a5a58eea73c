"""The pure policy engine: applicability, rules, waivers, batch statuses, verdicts and
Greenwave's summary wording (greenwave/tests/test_summary.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relengotron.policies.answers import Requirement, no_applicable_policies_summary, summarize
from relengotron.policies.applicability import applicable
from relengotron.policies.decision import VERDICTS, Decision
from relengotron.policies.engine import evaluate
from relengotron.policies.snapshot import (
    BATCH_STATUSES,
    BatchView,
    ResultView,
    Snapshot,
    WaiverView,
)
from relengotron.policies.spec import (
    BatchIntegrityRule,
    PassingPipelineStageRule,
    PassingTestCaseRule,
    Policy,
    PolicySet,
    Rule,
)

NVR = "python-requests-2.32.3-1.fc42"
PKG = "python-requests"
TC = "dist.rpmdeplint"
BATCH_TC = "fedora-ci.koji-build-group.integrity.functional"
STAGE_TC = "org.centos.prod.ci.pipeline.allpackages-build.package.test.functional.complete"


def policy(*rules: Rule, **kw: object) -> Policy:
    fields: dict[str, object] = {
        "id": "gate",
        "product_versions": ("fedora-rawhide",),
        "decision_contexts": ("rawhide_pending",),
        "subject_type": "koji_build",
        "rules": rules,
    }
    fields.update(kw)
    return Policy(**fields)  # type: ignore[arg-type]


def pset(*policies: Policy) -> PolicySet:
    return PolicySet(tuple(policies))


def snap(**kw: object) -> Snapshot:
    fields: dict[str, object] = {
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "package": PKG,
        "product_version": "fedora-rawhide",
        "decision_context": "rawhide_pending",
    }
    fields.update(kw)
    return Snapshot(**fields)  # type: ignore[arg-type]


def result(outcome: str, position: int, testcase: str = TC, **kw: object) -> ResultView:
    fields: dict[str, object] = {
        "testcase": testcase,
        "outcome": outcome,
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "event": f"r{position}/1",
        "position": position,
        "result_id": str(1000 + position),
    }
    fields.update(kw)
    return ResultView(**fields)  # type: ignore[arg-type]


def waiver(position: int, testcase: str = TC, waived: bool = True, **kw: object) -> WaiverView:
    fields: dict[str, object] = {
        "testcase": testcase,
        "waived": waived,
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "event": f"w{position}/1",
        "position": position,
        "waiver_id": str(position),
        "product_version": "fedora-rawhide",
    }
    fields.update(kw)
    return WaiverView(**fields)  # type: ignore[arg-type]


def batch(status: str, position: int, **kw: object) -> BatchView:
    fields: dict[str, object] = {
        "testcase": BATCH_TC,
        "status": status,
        "subject_identifier": "group-7",
        "event": f"b{position}/1",
        "position": position,
    }
    fields.update(kw)
    return BatchView(**fields)  # type: ignore[arg-type]


RULE = PassingTestCaseRule(TC)
ALL_PASSED = "All required tests (1 total) have passed or been waived"
ONE_FAILED = "Of 1 required test, 1 test failed"
ONE = pset(policy(RULE))


def types(decision: Decision) -> tuple[list[str], list[str]]:
    return (
        [r.type for r in decision.satisfied_requirements],
        [r.type for r in decision.unsatisfied_requirements],
    )


# ------------------------------------------------------------------ outcomes


@pytest.mark.parametrize(
    ("outcome", "satisfied", "unsatisfied", "verdict", "summary"),
    [
        ("PASSED", ["test-result-passed"], [], "promote", ALL_PASSED),
        ("INFO", ["test-result-passed"], [], "promote", ALL_PASSED),
        ("FAILED", [], ["test-result-failed"], "quarantine", ONE_FAILED),
        ("NEEDS_INSPECTION", [], ["test-result-failed"], "quarantine", ONE_FAILED),
        ("NOT_APPLICABLE", [], ["test-result-failed"], "quarantine", ONE_FAILED),
        ("ERROR", [], ["test-result-errored"], "hold", "Of 1 required test, 1 test errored"),
        ("QUEUED", [], ["test-result-missing"], "hold", "Of 1 required test, 1 test incomplete"),
        ("RUNNING", [], ["test-result-missing"], "hold", "Of 1 required test, 1 test incomplete"),
    ],
)
def test_outcome_classes(
    outcome: str, satisfied: list[str], unsatisfied: list[str], verdict: str, summary: str
) -> None:
    d = evaluate(ONE, snap(results=(result(outcome, 5),)))
    assert types(d) == (satisfied, unsatisfied)
    assert d.verdict == verdict
    assert d.summary == summary
    assert d.policies_satisfied is (not unsatisfied)
    (req,) = d.satisfied_requirements + d.unsatisfied_requirements
    assert (req.testcase, req.result_id, req.event, req.policy_id) == (TC, "1005", "r5/1", "gate")
    assert d.used_events == ("r5/1",)
    assert d.applicable_policies == ("gate",)


def test_no_result_is_missing() -> None:
    d = evaluate(ONE, snap())
    (req,) = d.unsatisfied_requirements
    assert req == Requirement(
        type="test-result-missing",
        subject_type="koji_build",
        subject_identifier=NVR,
        testcase=TC,
        policy_id="gate",
    )
    assert (d.verdict, d.summary) == ("hold", "Of 1 required test, 1 result missing")
    assert d.used_events == ()


def test_latest_by_position_wins_whatever_the_input_order() -> None:
    old_pass, new_fail = result("PASSED", 3), result("FAILED", 9)
    for results in [(old_pass, new_fail), (new_fail, old_pass)]:
        d = evaluate(ONE, snap(results=results))
        assert types(d) == ([], ["test-result-failed"])
        assert d.unsatisfied_requirements[0].result_id == "1009"
    d = evaluate(ONE, snap(results=(result("FAILED", 3), result("PASSED", 9))))
    assert d.verdict == "promote"
    assert d.used_events == ("r9/1",)


def test_other_testcases_and_subjects_are_ignored() -> None:
    results = (
        result("FAILED", 5, testcase="dist.abicheck"),
        result("FAILED", 6, subject_identifier="other-1-1.fc42"),
        result("FAILED", 7, subject_type="bodhi_update"),
        result("PASSED", 1),
    )
    assert evaluate(ONE, snap(results=results)).verdict == "promote"


# ------------------------------------------------------------------ scenarios


def test_rule_scenario_selects_results() -> None:
    ps = pset(policy(PassingTestCaseRule(TC, scenario="x86_64")))
    d = evaluate(ps, snap(results=(result("FAILED", 9, scenario="aarch64"),)))
    (req,) = d.unsatisfied_requirements
    assert (req.type, req.scenario, req.event) == ("test-result-missing", "x86_64", None)
    d = evaluate(
        ps,
        snap(
            results=(
                result("FAILED", 9, scenario="aarch64"),
                result("PASSED", 2, scenario="x86_64"),
            )
        ),
    )
    assert types(d) == (["test-result-passed"], [])
    assert d.satisfied_requirements[0].scenario == "x86_64"


def test_rule_without_scenario_answers_each_scenario_newest_first() -> None:
    results = (
        result("PASSED", 1, scenario="a"),
        result("FAILED", 4, scenario="a"),
        result("PASSED", 3, scenario="b"),
        result("PASSED", 2, scenario="b"),
    )
    d = evaluate(ONE, snap(results=results))
    assert [(r.type, r.scenario, r.result_id) for r in d.satisfied_requirements] == [
        ("test-result-passed", "b", "1003")
    ]
    assert [(r.type, r.scenario, r.result_id) for r in d.unsatisfied_requirements] == [
        ("test-result-failed", "a", "1004")
    ]
    assert d.summary == "Of 2 required tests, 1 test failed"
    assert d.used_events == ("r3/1", "r4/1")
    both_failed = (result("FAILED", 4, scenario="a"), result("ERROR", 6, scenario="b"))
    d = evaluate(ONE, snap(results=both_failed))
    assert [r.scenario for r in d.unsatisfied_requirements] == ["b", "a"]


# ------------------------------------------------------------------ pipeline stages

STAGE_RULE = PassingPipelineStageRule(stage="package.test.functional", pipeline="allpackages-build")


def stage_result(outcome: str, position: int, **kw: object) -> ResultView:
    fields: dict[str, object] = {
        "testcase": STAGE_TC,
        "stage": "package.test.functional",
        "pipeline": "allpackages-build",
    }
    fields.update(kw)
    return result(outcome, position, **fields)


def test_pipeline_stage_rule_selects_by_stage_and_pipeline() -> None:
    ps = pset(policy(STAGE_RULE))
    results = (
        stage_result("FAILED", 8, pipeline="allpackages-pr"),
        stage_result("FAILED", 9, stage="package.test.integration"),
        result("FAILED", 10),
        stage_result("PASSED", 3),
        stage_result("RUNNING", 2),
    )
    d = evaluate(ps, snap(results=results))
    assert types(d) == (["test-result-passed"], [])
    (req,) = d.satisfied_requirements
    assert (req.testcase, req.result_id, req.event) == (STAGE_TC, "1003", "r3/1")


def test_pipeline_stage_latest_across_testcases() -> None:
    ps = pset(policy(STAGE_RULE))
    staging = STAGE_TC.replace("org.centos.prod", "org.centos.stage")
    results = (stage_result("PASSED", 3), stage_result("FAILED", 5, testcase=staging))
    (req,) = evaluate(ps, snap(results=results)).unsatisfied_requirements
    assert (req.type, req.testcase) == ("test-result-failed", staging)


def test_pipeline_stage_without_pipeline_matches_any_pipeline() -> None:
    ps = pset(policy(PassingPipelineStageRule(stage="package.test.functional")))
    d = evaluate(ps, snap(results=(stage_result("PASSED", 3, pipeline="allpackages-pr"),)))
    assert d.verdict == "promote"


def test_pipeline_stage_missing_has_a_synthetic_testcase() -> None:
    d = evaluate(pset(policy(STAGE_RULE)), snap())
    (req,) = d.unsatisfied_requirements
    assert req.type == "test-result-missing"
    assert req.testcase == "pipeline-stage:allpackages-build:package.test.functional"
    assert req.detail == "no result for stage package.test.functional of pipeline allpackages-build"
    d = evaluate(pset(policy(PassingPipelineStageRule(stage="s"))), snap())
    assert d.unsatisfied_requirements[0].testcase == "pipeline-stage:*:s"


def test_pipeline_stage_waiver_uses_the_result_testcase() -> None:
    ps = pset(policy(STAGE_RULE))
    d = evaluate(ps, snap(results=(stage_result("FAILED", 3),), waivers=(waiver(4, STAGE_TC),)))
    assert types(d) == (["test-result-failed-waived"], [])
    missing_tc = "pipeline-stage:allpackages-build:package.test.functional"
    d = evaluate(ps, snap(waivers=(waiver(4, missing_tc),)))
    assert types(d) == (["test-result-missing-waived"], [])


# ------------------------------------------------------------------ waivers


@pytest.mark.parametrize(
    ("outcome", "waived_type"),
    [
        ("FAILED", "test-result-failed-waived"),
        ("ERROR", "test-result-errored-waived"),
        ("RUNNING", "test-result-missing-waived"),
        (None, "test-result-missing-waived"),
    ],
)
def test_waivable_answers(outcome: str | None, waived_type: str) -> None:
    results = () if outcome is None else (result(outcome, 3),)
    d = evaluate(ONE, snap(results=results, waivers=(waiver(4),)))
    assert types(d) == ([waived_type], [])
    (req,) = d.satisfied_requirements
    assert (req.waiver_id, req.event, req.testcase) == ("4", "w4/1", TC)
    assert (d.verdict, d.policies_satisfied) == ("waived", True)
    assert d.summary == "All required tests (1 total) have passed or been waived"
    assert d.used_events == (("r3/1", "w4/1") if outcome else ("w4/1",))


def test_a_passed_result_is_not_waived() -> None:
    d = evaluate(ONE, snap(results=(result("PASSED", 3),), waivers=(waiver(4),)))
    assert (types(d), d.verdict, d.used_events) == (
        (["test-result-passed"], []),
        "promote",
        ("r3/1",),
    )


def test_revocation_cancels_an_earlier_waiver_and_a_later_waiver_restores() -> None:
    failed = (result("FAILED", 3),)
    revoked = (waiver(4), waiver(5, waived=False))
    assert evaluate(ONE, snap(results=failed, waivers=revoked)).verdict == "quarantine"
    assert evaluate(ONE, snap(results=failed, waivers=revoked[::-1])).verdict == "quarantine"
    rewaived = (*revoked, waiver(6))
    d = evaluate(ONE, snap(results=failed, waivers=rewaived))
    assert d.verdict == "waived"
    assert d.satisfied_requirements[0].waiver_id == "6"
    assert evaluate(
        ONE, snap(results=failed, waivers=(waiver(5, waived=False), waiver(4)))
    ).verdict == ("quarantine")


def test_waiver_product_version() -> None:
    failed = (result("FAILED", 3),)
    assert evaluate(
        ONE, snap(results=failed, waivers=(waiver(4, product_version="fedora-41"),))
    ).verdict == ("quarantine")
    assert (
        evaluate(ONE, snap(results=failed, waivers=(waiver(4, product_version=None),))).verdict
        == "waived"
    )


def test_waiver_subject_and_testcase_must_match() -> None:
    failed = (result("FAILED", 3),)
    others = (
        waiver(4, subject_identifier="other-1-1.fc42"),
        waiver(5, subject_type="bodhi_update"),
        waiver(6, testcase="dist.abicheck"),
    )
    assert evaluate(ONE, snap(results=failed, waivers=others)).verdict == "quarantine"


def test_waiver_scenario() -> None:
    failed = (result("FAILED", 3, scenario="x86_64"),)
    assert evaluate(
        ONE, snap(results=failed, waivers=(waiver(4, scenario="aarch64"),))
    ).verdict == ("quarantine")
    assert (
        evaluate(ONE, snap(results=failed, waivers=(waiver(4, scenario="x86_64"),))).verdict
        == "waived"
    )
    assert (
        evaluate(ONE, snap(results=failed, waivers=(waiver(4, scenario=None),))).verdict == "waived"
    )
    # A revocation for one scenario does not cancel the waiver for any scenario.
    waivers = (waiver(4, scenario=None), waiver(5, scenario="x86_64", waived=False))
    d = evaluate(ONE, snap(results=failed, waivers=waivers))
    assert (d.verdict, d.satisfied_requirements[0].waiver_id) == ("waived", "4")


# ------------------------------------------------------------------ applicability


def test_excluded_packages_answer_excluded() -> None:
    ps = pset(policy(RULE, excluded_packages=("python-*",)))
    d = evaluate(ps, snap(results=(result("FAILED", 3),)))
    assert d.satisfied_requirements == (
        Requirement(
            type="excluded",
            subject_type="koji_build",
            subject_identifier=NVR,
            testcase=None,
            policy_id="gate",
        ),
    )
    assert (d.verdict, d.policies_satisfied, d.summary) == (
        "promote",
        True,
        "No tests are required",
    )
    assert d.applicable_policies == ("gate",)
    # excluded_packages win over packages
    ps = pset(policy(RULE, packages=("glibc",), excluded_packages=("python-*",)))
    assert types(evaluate(ps, snap())) == (["excluded"], [])


def test_packages_filter() -> None:
    ps = pset(policy(RULE, packages=("glibc", "python-req*")))
    assert applicable(ps, snap()) == ps.policies
    d = evaluate(ps, snap(package="kernel"))
    assert (d.applicable_policies, d.verdict, d.policies_satisfied) == ((), "hold", False)
    # Like Greenwave, a subject without a package name is not filtered by package.
    assert applicable(ps, snap(package=None)) == ps.policies


def test_product_version_wildcard() -> None:
    ps = pset(policy(RULE, product_versions=("fedora-*",)))
    assert applicable(ps, snap()) == ps.policies
    assert applicable(ps, snap(product_version="epel-9")) == ()
    assert applicable(ps, snap(product_version="Fedora-rawhide")) == ()


def test_decision_context_mismatch_means_no_applicable_policy() -> None:
    d = evaluate(
        ONE, snap(decision_context="bodhi_update_push_stable", results=(result("PASSED", 1),))
    )
    assert d.verdict == "hold"
    assert d.policies_satisfied is False
    assert d.applicable_policies == ()
    assert d.satisfied_requirements == d.unsatisfied_requirements == ()
    assert d.summary == (
        "Found no applicable policies for koji_build subjects "
        "at gating point(s) bodhi_update_push_stable in fedora-rawhide"
    )
    assert d.summary == no_applicable_policies_summary(
        "koji_build", "bodhi_update_push_stable", "fedora-rawhide"
    )


def test_subject_type_mismatch_means_no_applicable_policy() -> None:
    assert applicable(ONE, snap(subject_type="bodhi_update")) == ()


def test_policy_with_many_contexts_and_no_rules() -> None:
    ps = pset(policy(decision_contexts=("a", "rawhide_pending")))
    d = evaluate(ps, snap())
    assert (d.verdict, d.policies_satisfied, d.summary) == (
        "promote",
        True,
        "No tests are required",
    )


def test_a_rule_asked_by_two_policies_is_answered_once() -> None:
    ps = pset(
        policy(RULE, id="first"),
        policy(RULE, PassingTestCaseRule("dist.abicheck"), id="second"),
    )
    d = evaluate(ps, snap())
    assert [(r.testcase, r.policy_id) for r in d.unsatisfied_requirements] == [
        (TC, "first"),
        ("dist.abicheck", "second"),
    ]
    assert d.applicable_policies == ("first", "second")
    assert d.summary == "Of 2 required tests, 2 results missing"


# ------------------------------------------------------------------ batch

BATCH_RULE = BatchIntegrityRule(BATCH_TC)
BATCH = pset(policy(BATCH_RULE))


@pytest.mark.parametrize(
    ("status", "type_", "verdict", "summary"),
    [
        ("passed", "test-result-passed", "promote", ALL_PASSED),
        ("innocent", "batch-innocent", "promote", ALL_PASSED),
        ("suspect", "test-result-failed", "quarantine", ONE_FAILED),
        (
            "pending",
            "batch-bisection-pending",
            "hold",
            "Of 1 required test, 1 test awaiting batch bisection",
        ),
        (
            "recheck-pending",
            "batch-recheck-pending",
            "hold",
            "Of 1 required test, 1 test awaiting a re-check after quarantine",
        ),
        (
            "unresolved-hold",
            "batch-unresolved",
            "hold",
            "Of 1 required test, 1 test unresolved after batch bisection",
        ),
        ("unresolved-quarantine", "test-result-failed", "quarantine", ONE_FAILED),
    ],
)
def test_batch_statuses(status: str, type_: str, verdict: str, summary: str) -> None:
    d = evaluate(BATCH, snap(batch=(batch(status, 4, result_id="77", detail="round 2 of 3"),)))
    (req,) = d.satisfied_requirements + d.unsatisfied_requirements
    assert req.type == type_
    assert (d.verdict, d.summary) == (verdict, summary)
    assert (req.testcase, req.subject_identifier, req.result_id, req.event) == (
        BATCH_TC,
        NVR,
        "77",
        "b4/1",
    )
    assert req.detail == f"batch check group-7: {status} (round 2 of 3)"
    assert d.used_events == ("b4/1",)


def test_every_batch_status_is_covered() -> None:
    assert set(BATCH_STATUSES) == {
        "passed",
        "suspect",
        "innocent",
        "pending",
        "recheck-pending",
        "unresolved-hold",
        "unresolved-quarantine",
    }


def test_batch_missing_latest_and_unknown() -> None:
    d = evaluate(BATCH, snap(batch=(batch("suspect", 1, testcase="other.integrity"),)))
    (req,) = d.unsatisfied_requirements
    assert (req.type, req.testcase, req.event, d.verdict) == (
        "test-result-missing",
        BATCH_TC,
        None,
        "hold",
    )
    d = evaluate(BATCH, snap(batch=(batch("innocent", 9), batch("suspect", 4))))
    assert (d.verdict, d.used_events) == ("promote", ("b9/1",))
    d = evaluate(BATCH, snap(batch=(batch("weird", 9),)))
    assert types(d) == ([], ["batch-unresolved"])
    assert (
        d.unsatisfied_requirements[0].detail == "batch check group-7: weird: unknown batch status"
    )


def test_batch_waivers() -> None:
    d = evaluate(BATCH, snap(batch=(batch("suspect", 4),), waivers=(waiver(5, BATCH_TC),)))
    assert (types(d), d.verdict) == ((["test-result-failed-waived"], []), "waived")
    assert d.used_events == ("b4/1", "w5/1")
    d = evaluate(BATCH, snap(waivers=(waiver(5, BATCH_TC),)))
    assert types(d) == (["test-result-missing-waived"], [])
    for status in ("pending", "unresolved-hold"):
        d = evaluate(BATCH, snap(batch=(batch(status, 4),), waivers=(waiver(5, BATCH_TC),)))
        assert d.verdict == "hold"


# ------------------------------------------------------------------ verdicts and summaries

SHIPPED = pset(
    policy(
        STAGE_RULE,
        PassingTestCaseRule(TC),
        BATCH_RULE,
        id="rawhide_pending_gating",
    )
)


def test_verdict_failure_beats_infrastructure_trouble() -> None:
    d = evaluate(SHIPPED, snap(results=(result("FAILED", 3),)))
    assert d.verdict == "quarantine"
    assert d.summary == "Of 3 required tests, 2 results missing, 1 test failed"
    d = evaluate(SHIPPED, snap(results=(result("ERROR", 3), stage_result("QUEUED", 4))))
    assert d.verdict == "hold"
    assert d.summary == "Of 3 required tests, 1 result missing, 1 test errored, 1 test incomplete"


def test_verdict_promote_and_waived() -> None:
    good = snap(
        results=(result("PASSED", 3), stage_result("PASSED", 4)), batch=(batch("passed", 5),)
    )
    d = evaluate(SHIPPED, good)
    assert (d.verdict, d.policies_satisfied) == ("promote", True)
    assert d.summary == "All required tests (3 total) have passed or been waived"
    assert d.used_events == ("b5/1", "r3/1", "r4/1")
    assert [r.type for r in d.satisfied_requirements] == ["test-result-passed"] * 3
    assert [r.testcase for r in d.satisfied_requirements] == [STAGE_TC, TC, BATCH_TC]
    waived = replace(
        good, results=(result("FAILED", 3), stage_result("PASSED", 4)), waivers=(waiver(6),)
    )
    d = evaluate(SHIPPED, waived)
    assert (d.verdict, d.policies_satisfied) == ("waived", True)
    assert d.verdict in VERDICTS


def req(type_: str, event: str | None = None) -> Requirement:
    return Requirement(type_, "koji_build", NVR, "test", event=event)


PASSED = req("test-result-passed")
FAILED = req("test-result-failed", "e")
ERRORED = req("test-result-errored", "e")
INCOMPLETE = req("test-result-missing", "e")
MISSING = req("test-result-missing")
MISSING_WAIVED = req("test-result-missing-waived")


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([PASSED], "All required tests (1 total) have passed or been waived"),
        ([], "No tests are required"),
        ([FAILED], "Of 1 required test, 1 test failed"),
        ([INCOMPLETE], "Of 1 required test, 1 test incomplete"),
        ([MISSING], "Of 1 required test, 1 result missing"),
        ([MISSING_WAIVED], "All required tests (1 total) have passed or been waived"),
        ([ERRORED], "Of 1 required test, 1 test errored"),
        ([PASSED, FAILED], "Of 2 required tests, 1 test failed"),
        ([PASSED, MISSING], "Of 2 required tests, 1 result missing"),
        ([PASSED, MISSING_WAIVED], "All required tests (2 total) have passed or been waived"),
        ([FAILED, MISSING], "Of 2 required tests, 1 result missing, 1 test failed"),
        ([PASSED, FAILED, MISSING], "Of 3 required tests, 1 result missing, 1 test failed"),
        (
            [ERRORED, PASSED, FAILED, MISSING, ERRORED],
            "Of 5 required tests, 1 result missing, 2 tests errored, 1 test failed",
        ),
        ([req("excluded")], "No tests are required"),
        ([req("excluded"), PASSED], "All required tests (1 total) have passed or been waived"),
        ([req("something-new"), PASSED], "1 unexpected unsatisfied requirement"),
        (
            [req("something-new"), MISSING, PASSED],
            "1 unexpected unsatisfied requirement. Of 2 required tests, 1 result missing",
        ),
    ],
)
def test_summary_wording_mirrors_greenwave(answers: list[Requirement], expected: str) -> None:
    assert summarize(answers) == expected


# ------------------------------------------------------------------ serialization


def test_requirement_json_mirrors_greenwave() -> None:
    d = evaluate(
        SHIPPED,
        snap(
            results=(result("FAILED", 3, scenario="s"), stage_result("ERROR", 4)),
            batch=(batch("innocent", 5),),
        ),
    )
    errored, failed = (r.as_dict() for r in d.unsatisfied_requirements)
    assert errored == {
        "type": "test-result-errored",
        "testcase": STAGE_TC,
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "source": None,
        "scenario": None,
        "result_id": "1004",
        "system_architecture": None,
        "system_variant": None,
        "error_reason": None,
        "item": {"type": "koji_build", "item": NVR},
        "policy_id": "rawhide_pending_gating",
        "event": "r4/1",
    }
    assert failed["type"] == "test-result-failed"
    assert failed["scenario"] == "s"
    (innocent,) = d.satisfied_requirements
    assert innocent.as_dict() == {
        "type": "batch-innocent",
        "testcase": BATCH_TC,
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "source": None,
        "scenario": None,
        "result_id": None,
        "policy_id": "rawhide_pending_gating",
        "event": "b5/1",
        "detail": "batch check group-7: innocent",
    }
    missing = evaluate(ONE, snap()).unsatisfied_requirements[0].as_dict()
    assert missing == {
        "type": "test-result-missing",
        "testcase": TC,
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "source": None,
        "scenario": None,
        "item": {"type": "koji_build", "item": NVR},
        "policy_id": "gate",
    }
    waived = evaluate(ONE, snap(waivers=(waiver(4),))).satisfied_requirements[0].as_dict()
    assert "item" not in waived
    assert (waived["type"], waived["waiver_id"], waived["event"]) == (
        "test-result-missing-waived",
        "4",
        "w4/1",
    )
    excluded = evaluate(
        pset(policy(RULE, excluded_packages=("*",))), snap()
    ).satisfied_requirements[0]
    assert excluded.as_dict() == {
        "type": "excluded",
        "subject_identifier": NVR,
        "policy": "gate",
        "source": None,
        "subject_type": "koji_build",
    }


SNAPSHOTS = [
    snap(),
    snap(
        results=(result("FAILED", 3), stage_result("QUEUED", 2)),
        batch=(batch("pending", 1, detail="x"),),
    ),
    snap(results=(result("ERROR", 3, scenario="s"),), waivers=(waiver(4, product_version=None),)),
    snap(
        batch=(batch("innocent", 1),),
        waivers=(waiver(4, STAGE_TC),),
        results=(stage_result("FAILED", 2),),
    ),
    snap(decision_context="nope"),
]


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
def test_decision_round_trip(snapshot: Snapshot) -> None:
    for ps in (SHIPPED, pset(policy(RULE, excluded_packages=("python-*",)))):
        d = evaluate(ps, snapshot)
        data = d.as_dict()
        assert Decision.from_dict(data) == d
        assert Decision.from_dict(data).fingerprint() == d.fingerprint()
        assert set(data) >= {
            "policies_satisfied",
            "summary",
            "satisfied_requirements",
            "unsatisfied_requirements",
            "applicable_policies",
            "verdict",
            "policy_set_hash",
            "used_events",
            "subject_type",
            "subject_identifier",
            "product_version",
            "decision_context",
        }
        assert data["policy_set_hash"] == ps.content_hash


def test_unknown_verdict_is_refused() -> None:
    data = evaluate(ONE, snap()).as_dict()
    data["verdict"] = "maybe"
    with pytest.raises(ValueError, match="unknown verdict"):
        Decision.from_dict(data)


def test_fingerprint() -> None:
    d = evaluate(SHIPPED, snap(results=(result("FAILED", 3), stage_result("PASSED", 4))))
    assert replace(d, used_events=d.used_events[::-1]).fingerprint() == d.fingerprint()
    assert replace(d, used_events=()).fingerprint() == d.fingerprint()
    changed = replace(d.unsatisfied_requirements[0], result_id="other")
    other = replace(d, unsatisfied_requirements=(changed, *d.unsatisfied_requirements[1:]))
    assert other.fingerprint() != d.fingerprint()
    assert replace(d, summary="x").fingerprint() != d.fingerprint()
    assert replace(d, policy_set_hash="sha256:0").fingerprint() != d.fingerprint()
    assert replace(d, applicable_policies=()).fingerprint() != d.fingerprint()
    newer = evaluate(SHIPPED, snap(results=(result("FAILED", 5), stage_result("PASSED", 4))))
    assert newer.fingerprint() != d.fingerprint()  # another result answered
    assert d.fingerprint().startswith("sha256:")


def test_content_hash() -> None:
    assert SHIPPED.content_hash == pset(*SHIPPED.policies).content_hash
    assert SHIPPED.content_hash.startswith("sha256:")
    p = SHIPPED.policies[0]
    assert pset(replace(p, source="elsewhere.yaml:3")).content_hash == SHIPPED.content_hash
    changed = [
        replace(p, rules=(STAGE_RULE, PassingTestCaseRule(TC, scenario="s"), BATCH_RULE)),
        replace(p, rules=(PassingTestCaseRule(TC), STAGE_RULE, BATCH_RULE)),
        replace(p, id="other"),
        replace(p, packages=("python-*",)),
        replace(p, excluded_packages=("kernel",)),
        replace(p, product_versions=("fedora-*",)),
        replace(p, decision_contexts=("rawhide_pending", "x")),
        replace(p, subject_type="bodhi_update"),
    ]
    hashes = {pset(c).content_hash for c in changed}
    assert len(hashes) == len(changed)
    assert SHIPPED.content_hash not in hashes


# ------------------------------------------------------------------ determinism

_views = st.lists(
    st.one_of(
        st.builds(
            result,
            st.sampled_from(["PASSED", "FAILED", "ERROR", "QUEUED", "INFO"]),
            st.integers(0, 6),
            st.sampled_from([TC, STAGE_TC]),
            scenario=st.sampled_from([None, "a", "b"]),
            stage=st.sampled_from([None, "package.test.functional"]),
            pipeline=st.just("allpackages-build"),
        ),
        st.builds(
            waiver,
            st.integers(0, 6),
            st.sampled_from([TC, BATCH_TC, STAGE_TC]),
            st.booleans(),
            scenario=st.sampled_from([None, "a"]),
        ),
        st.builds(batch, st.sampled_from(BATCH_STATUSES), st.integers(0, 6)),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(views=_views, data=st.data())
def test_evaluate_is_deterministic_under_permutation(
    views: list[object], data: st.DataObject
) -> None:
    def build(items: list[object]) -> Snapshot:
        return snap(
            results=tuple(v for v in items if isinstance(v, ResultView)),
            waivers=tuple(v for v in items if isinstance(v, WaiverView)),
            batch=tuple(v for v in items if isinstance(v, BatchView)),
        )

    shuffled = data.draw(st.permutations(views))
    first, second = evaluate(SHIPPED, build(views)), evaluate(SHIPPED, build(list(shuffled)))
    assert first == second
    assert first.as_dict() == second.as_dict()
    assert list(first.used_events) == sorted(set(first.used_events))
    assert first.policies_satisfied == (not first.unsatisfied_requirements)
