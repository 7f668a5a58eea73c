"""Per-rule evaluation: what one test case, pipeline stage or batch integrity rule answers.

The semantics (latest result per scenario, outcome classes, invalid results, dated rules) are
listed in :mod:`policies.engine`, which walks the policies and their rules and calls
:func:`check_rule` for each rule that is not a remote one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from relengotron.policies.answers import (
    BATCH_INNOCENT,
    BATCH_PENDING,
    BATCH_RECHECK_PENDING,
    BATCH_UNRESOLVED,
    TEST_ERRORED,
    TEST_FAILED,
    TEST_MISSING,
    TEST_PASSED,
    Requirement,
)
from relengotron.policies.latest import latest as _latest
from relengotron.policies.latest import latest_per_scenario as _latest_per_scenario
from relengotron.policies.signing import check_signed
from relengotron.policies.snapshot import BATCH_INVALID, BatchView, RerunView, ResultView, Snapshot
from relengotron.policies.spec import (
    BatchIntegrityRule,
    PassingPipelineStageRule,
    PassingTestCaseRule,
    Policy,
    Rule,
    SignedRule,
)

__all__ = [
    "OUTCOMES_ERROR",
    "OUTCOMES_INCOMPLETE",
    "OUTCOMES_PASSED",
    "OUTCOME_INVALID",
    "Answer",
    "check_rule",
    "pipeline_stage_testcase",
]

# Greenwave's defaults (greenwave/config.py). Anything else is a failure.
OUTCOMES_PASSED = ("PASSED", "INFO")
OUTCOMES_ERROR = ("ERROR",)
OUTCOMES_INCOMPLETE = ("QUEUED", "RUNNING")
# Ours (``domain.facts.INVALID``): the result of an invalid message.
OUTCOME_INVALID = "INVALID"


@dataclass(frozen=True)
class Answer:
    """A requirement and the views that answered it."""

    requirement: Requirement
    events: tuple[str, ...]  # every view that answered (result and waiver)


def pipeline_stage_testcase(rule: PassingPipelineStageRule) -> str:
    """The test case name of a pipeline stage requirement that has no result."""
    return f"pipeline-stage:{rule.pipeline or '*'}:{rule.stage}"


def _rerun(result: ResultView, snapshot: Snapshot) -> RerunView | None:
    """The latest rerun asked for after this result of its test (and scenario)."""
    found = [
        r
        for r in snapshot.reruns
        if r.testcase == result.testcase
        and r.position > result.position
        and (r.scenario is None or r.scenario == result.scenario)
    ]
    return max(found, key=lambda r: (r.position, r.event)) if found else None


def _result_answer(result: ResultView, snapshot: Snapshot, policy: Policy) -> Answer:
    if result.outcome in OUTCOMES_PASSED:
        type_ = TEST_PASSED
    elif result.outcome in OUTCOMES_INCOMPLETE:
        type_ = TEST_MISSING  # Greenwave's TestResultIncomplete keeps this type
    elif result.outcome in OUTCOMES_ERROR:
        type_ = TEST_ERRORED
    else:
        type_ = TEST_FAILED
    req = Requirement(
        type=type_,
        subject_type=snapshot.subject_type,
        subject_identifier=snapshot.subject_identifier,
        testcase=result.testcase,
        scenario=result.scenario,
        result_id=result.result_id,
        policy_id=policy.id,
        event=result.event,
        system_architecture=result.system_architecture,
        system_variant=result.system_variant,
    )
    rerun = _rerun(result, snapshot) if type_ in (TEST_FAILED, TEST_ERRORED) else None
    if rerun is None:
        return Answer(req, (result.event,))
    who = f" by {rerun.username}" if rerun.username else ""
    if rerun.expired:
        detail = f"rerun asked{who} at {rerun.requested_at}: no result by {rerun.deadline}"
        return Answer(replace(req, detail=detail), (result.event, rerun.event))
    detail = f"rerun asked{who} at {rerun.requested_at}, awaited until {rerun.deadline}"
    req = replace(req, detail=detail, rerun_deadline=rerun.deadline or "")
    return Answer(req, (result.event, rerun.event))


def _missing(
    snapshot: Snapshot,
    policy: Policy,
    testcase: str,
    scenario: str | None,
    detail: str | None = None,
) -> Answer:
    req = Requirement(
        type=TEST_MISSING,
        subject_type=snapshot.subject_type,
        subject_identifier=snapshot.subject_identifier,
        testcase=testcase,
        scenario=scenario,
        policy_id=policy.id,
        detail=detail,
    )
    return Answer(req, ())


def _invalid(
    snapshot: Snapshot, policy: Policy, testcase: str, scenario: str | None, event: str, why: str
) -> Answer:
    """No valid result, an invalid message: "missing" (Greenwave's answer), saying why."""
    req = _missing(snapshot, policy, testcase, scenario, why or "invalid CI message").requirement
    return Answer(replace(req, event=event, invalid=True), (event,))


def _check_results(
    candidates: Sequence[ResultView],
    snapshot: Snapshot,
    policy: Policy,
    missing_testcase: str,
    scenario: str | None,
    missing_detail: str | None = None,
) -> list[Answer]:
    if scenario is not None:
        candidates = [r for r in candidates if r.scenario == scenario]
    # Invalid messages are no results: only when there is no valid one do they explain
    # the missing answer (the latest invalid message per scenario).
    valid = [r for r in candidates if r.outcome != OUTCOME_INVALID]
    if not valid and candidates:
        return [
            _invalid(snapshot, policy, r.testcase, r.scenario, r.event, r.note or "")
            for r in _latest_per_scenario(candidates)
        ]
    if not valid:
        return [_missing(snapshot, policy, missing_testcase, scenario, missing_detail)]
    return [_result_answer(r, snapshot, policy) for r in _latest_per_scenario(valid)]


_BATCH_TYPES = {
    "passed": TEST_PASSED,
    "innocent": BATCH_INNOCENT,
    "suspect": TEST_FAILED,
    "pending": BATCH_PENDING,
    "recheck-pending": BATCH_RECHECK_PENDING,
    "unresolved-hold": BATCH_UNRESOLVED,
    "unresolved-quarantine": TEST_FAILED,
}


def _batch_detail(view: BatchView) -> str:
    if view.answer_detail is not None:
        return view.answer_detail
    text = f"batch check {view.subject_identifier}: {view.status}"
    return f"{text} ({view.detail})" if view.detail else text


def _check_batch(rule: BatchIntegrityRule, snapshot: Snapshot, policy: Policy) -> Answer:
    view = _latest(b for b in snapshot.batch if b.testcase == rule.test_case_name)
    if view is None:
        return _missing(snapshot, policy, rule.test_case_name, None)
    if view.status == BATCH_INVALID:  # only invalid messages: missing, saying why
        why = view.answer_detail or view.detail or ""
        return _invalid(snapshot, policy, rule.test_case_name, None, view.event, why)
    type_ = _BATCH_TYPES.get(view.status)
    detail = _batch_detail(view)
    if type_ is None:  # not one of BATCH_STATUSES: never promote on what we cannot read
        type_ = BATCH_UNRESOLVED
        detail = f"{detail}: unknown batch status"
    req = Requirement(
        type=type_,
        subject_type=snapshot.subject_type,
        subject_identifier=snapshot.subject_identifier,
        testcase=rule.test_case_name,
        result_id=view.result_id,
        policy_id=policy.id,
        event=view.event,
        detail=detail,
    )
    return Answer(req, (view.event,))


def check_rule(
    rule: Rule, policy: Policy, snapshot: Snapshot, results: Sequence[ResultView]
) -> list[Answer]:
    """What ``rule`` of ``policy`` answers from ``results`` (the subject's). Not for a
    remote rule: :mod:`policies.engine` answers those, with the policies of their file."""
    if isinstance(rule, PassingTestCaseRule):
        if not _in_force(rule, snapshot.subject_time):
            return []  # Greenwave: a dated rule outside its range answers nothing
        return _check_results(
            [r for r in results if r.testcase == rule.test_case_name],
            snapshot,
            policy,
            rule.test_case_name,
            rule.scenario,
        )
    if isinstance(rule, PassingPipelineStageRule):
        where = f"stage {rule.stage}" + (f" of pipeline {rule.pipeline}" if rule.pipeline else "")
        return _check_results(
            [
                r
                for r in results
                if r.stage == rule.stage and (rule.pipeline is None or r.pipeline == rule.pipeline)
            ],
            snapshot,
            policy,
            pipeline_stage_testcase(rule),
            rule.scenario,
            f"no result for {where}",
        )
    if isinstance(rule, BatchIntegrityRule):
        return [_check_batch(rule, snapshot, policy)]
    if isinstance(rule, SignedRule):
        event = check_signed(rule, snapshot, policy)
        return [Answer(event, (event.event,) if event.event else ())]
    raise TypeError(f"not a rule: {rule!r}")  # pragma: no cover - the type says it cannot be


def _in_force(rule: PassingTestCaseRule, subject_time: str | None) -> bool:
    """Greenwave's ``valid_since <= subject time < valid_until``; an unknown time (or one
    that is not ISO 8601) keeps the rule (fail closed)."""
    if (rule.valid_since is None and rule.valid_until is None) or subject_time is None:
        return True
    try:
        when = _utc(subject_time)
        since = None if rule.valid_since is None else _utc(rule.valid_since)
        until = None if rule.valid_until is None else _utc(rule.valid_until)
    except ValueError:
        return True
    return (since is None or since <= when) and (until is None or when < until)


def _utc(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)
