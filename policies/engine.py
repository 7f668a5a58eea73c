"""``evaluate(policy_set, snapshot) -> Decision``: Greenwave's evaluation, made pure.

Mirrors ``greenwave/policies.py``, ``greenwave/decision.py`` and ``greenwave/waivers.py``:

* a policy applies when its subject type, one of its decision contexts and one of its
  product version patterns (fnmatch) match; a policy whose ``packages`` allowlist does
  not name the package does not apply (Greenwave would list it and ask nothing);
  ``excluded_packages`` wins over ``packages`` and answers one satisfied ``excluded``;
* a rule asked by several applicable policies is answered once, for the first of them;
* results are compared by log position, never by clock: the latest result per testcase,
  scenario, system architecture and system variant counts (Greenwave asks ResultsDB for
  ``/results/latest?_distinct_on=scenario,system_architecture,system_variant``), and a
  rule without a scenario answers once for each of them, newest first;
* outcome classes are Greenwave's defaults (``OUTCOMES_*`` below); every other outcome,
  NEEDS_INSPECTION and NOT_APPLICABLE included, is a failure, as in Greenwave;
* an ``INVALID`` result (a CI message that failed its spec's JSON Schema) is no result, as
  for Greenwave (ResultsDB never stores it): it never outweighs a valid one, and where a
  rule has no valid result it answers ``test-result-missing`` marked ``invalid``, with the
  errors as detail, instead of a bare "missing";
* an unsatisfied test answer is waived by the latest waiver (per testcase and scenario)
  for the same subject, testcase, scenario (a waiver without one waives any) and product
  version (a waiver without one waives any); ``waived: false`` revokes.

Results and waivers about another subject than the snapshot's are ignored. Which
policies apply is :mod:`policies.applicability`; which waivers are in force,
:mod:`policies.waivers`; this module answers the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from policies.answers import (
    BATCH_INNOCENT,
    BATCH_PENDING,
    BATCH_UNRESOLVED,
    EXCLUDED,
    TEST_ERRORED,
    TEST_FAILED,
    TEST_MISSING,
    TEST_PASSED,
    WAIVABLE_TYPES,
    Decision,
    Requirement,
    no_applicable_policies_summary,
    summarize,
)
from policies.applicability import allowed as _allowed
from policies.applicability import applicable
from policies.applicability import excluded as _excluded
from policies.latest import latest as _latest
from policies.latest import latest_per_scenario as _latest_per_scenario
from policies.latest import latest_results
from policies.remote import remote_outcome, sub_policy_matches
from policies.snapshot import BATCH_INVALID, BatchView, ResultView, Snapshot, WaiverView
from policies.spec import (
    BatchIntegrityRule,
    PassingPipelineStageRule,
    PassingTestCaseRule,
    Policy,
    PolicySet,
    RemoteRule,
    Rule,
)
from policies.waivers import active_waivers, waivers_in_force

__all__ = [
    "OUTCOMES_ERROR",
    "OUTCOMES_INCOMPLETE",
    "OUTCOMES_PASSED",
    "OUTCOME_INVALID",
    "active_waivers",
    "applicable",
    "evaluate",
    "latest_results",
    "pipeline_stage_testcase",
]

# Greenwave's defaults (greenwave/config.py). Anything else is a failure.
OUTCOMES_PASSED = ("PASSED", "INFO")
OUTCOMES_ERROR = ("ERROR",)
OUTCOMES_INCOMPLETE = ("QUEUED", "RUNNING")
# Ours (``domain.facts.INVALID``): the result of an invalid message.
OUTCOME_INVALID = "INVALID"

# ------------------------------------------------------------------ rules


@dataclass(frozen=True)
class _Answer:
    requirement: Requirement
    events: tuple[str, ...]  # every view that answered (result and waiver)


def pipeline_stage_testcase(rule: PassingPipelineStageRule) -> str:
    """The test case name of a pipeline stage requirement that has no result."""
    return f"pipeline-stage:{rule.pipeline or '*'}:{rule.stage}"


def _result_answer(result: ResultView, snapshot: Snapshot, policy: Policy) -> _Answer:
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
    return _Answer(req, (result.event,))


def _missing(
    snapshot: Snapshot,
    policy: Policy,
    testcase: str,
    scenario: str | None,
    detail: str | None = None,
) -> _Answer:
    req = Requirement(
        type=TEST_MISSING,
        subject_type=snapshot.subject_type,
        subject_identifier=snapshot.subject_identifier,
        testcase=testcase,
        scenario=scenario,
        policy_id=policy.id,
        detail=detail,
    )
    return _Answer(req, ())


def _invalid(
    snapshot: Snapshot, policy: Policy, testcase: str, scenario: str | None, event: str, why: str
) -> _Answer:
    """No valid result, an invalid message: "missing" (Greenwave's answer), saying why."""
    req = _missing(snapshot, policy, testcase, scenario, why or "invalid CI message").requirement
    return _Answer(replace(req, event=event, invalid=True), (event,))


def _check_results(
    candidates: Sequence[ResultView],
    snapshot: Snapshot,
    policy: Policy,
    missing_testcase: str,
    scenario: str | None,
    missing_detail: str | None = None,
) -> list[_Answer]:
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
    "unresolved-hold": BATCH_UNRESOLVED,
    "unresolved-quarantine": TEST_FAILED,
}


def _batch_detail(view: BatchView) -> str:
    if view.answer_detail is not None:
        return view.answer_detail
    text = f"batch check {view.subject_identifier}: {view.status}"
    return f"{text} ({view.detail})" if view.detail else text


def _check_batch(rule: BatchIntegrityRule, snapshot: Snapshot, policy: Policy) -> _Answer:
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
    return _Answer(req, (view.event,))


def _check(
    rule: Rule, policy: Policy, snapshot: Snapshot, results: Sequence[ResultView]
) -> list[_Answer]:
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
    raise TypeError(f"not a rule: {rule!r}")  # pragma: no cover - the type says it cannot be


def _check_policy(
    policy: Policy,
    snapshot: Snapshot,
    results: Sequence[ResultView],
    verified: set[Rule],
    source: str | None,
) -> list[_Answer]:
    """Greenwave's ``Policy.check``; ``source``: the remote rule file of a sub-policy."""
    if _excluded(policy, snapshot.package):
        excluded = Requirement(
            type=EXCLUDED,
            subject_type=snapshot.subject_type,
            subject_identifier=snapshot.subject_identifier,
            testcase=None,
            policy_id=policy.id,
            source=source,
        )
        return [_Answer(excluded, ())]
    if source is not None and not _allowed(policy, snapshot.package):
        return []  # a remote policy whose allowlist leaves the package out asks nothing
    answers: list[_Answer] = []
    for rule in policy.rules:
        if rule in verified:  # Greenwave's RuleContext.verify: each rule once
            continue
        verified.add(rule)
        if isinstance(rule, RemoteRule):
            answers.extend(_check_remote(rule, policy, snapshot, results, verified))
            continue
        for answer in _check(rule, policy, snapshot, results):
            req = replace(answer.requirement, source=source) if source else answer.requirement
            answers.append(_Answer(req, answer.events))
    return answers


def _check_remote(
    rule: RemoteRule,
    policy: Policy,
    snapshot: Snapshot,
    results: Sequence[ResultView],
    verified: set[Rule],
) -> list[_Answer]:
    """Greenwave's ``RemoteRule.check``: its own answers, then the file's policies that
    match the decision asked (named by their id, else by the parent's)."""
    outcome = remote_outcome(rule, policy, snapshot)
    answers = [_Answer(a, (a.event,) if a.event else ()) for a in outcome.answers]
    for sub in outcome.sub_policies:
        if outcome.file is not None and sub_policy_matches(sub, snapshot):
            named = sub if sub.id else replace(sub, id=policy.id)
            answers.extend(_check_policy(named, snapshot, results, verified, outcome.file.url))
    return answers


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


# ------------------------------------------------------------------ waivers


def _waive(answer: _Answer, active: dict[str, list[WaiverView]]) -> _Answer:
    req = answer.requirement
    waived_type = WAIVABLE_TYPES.get(req.type)
    if waived_type is None or req.testcase is None:
        return answer
    waiver = _latest(
        w
        for w in active.get(req.testcase, ())
        if w.subject_type == req.subject_type
        and w.subject_identifier == req.subject_identifier
        and (w.scenario is None or w.scenario == req.scenario)
    )
    if waiver is None:
        return answer
    waived = replace(req, type=waived_type, waiver_id=waiver.waiver_id, event=waiver.event)
    return _Answer(waived, (*answer.events, waiver.event))


# ------------------------------------------------------------------ evaluate


def _verdict(satisfied: Sequence[Requirement], unsatisfied: Sequence[Requirement]) -> str:
    if any(r.type == TEST_FAILED for r in unsatisfied):
        return "quarantine"
    if unsatisfied:
        return "hold"  # errored, missing, incomplete, batch pending/unresolved
    if any(r.type.endswith("-waived") for r in satisfied):
        return "waived"
    return "promote"


def evaluate(policy_set: PolicySet, snapshot: Snapshot) -> Decision:
    """The decision for one snapshot under one policy set. Pure and deterministic."""
    policies = applicable(policy_set, snapshot)
    common: dict[str, Any] = {
        "policy_set_hash": policy_set.content_hash,
        "subject_type": snapshot.subject_type,
        "subject_identifier": snapshot.subject_identifier,
        "product_version": snapshot.product_version,
        "decision_context": snapshot.decision_context,
    }
    if not policies:
        return Decision(
            verdict="hold",
            policies_satisfied=False,
            summary=no_applicable_policies_summary(
                snapshot.subject_type, snapshot.decision_context, snapshot.product_version
            ),
            satisfied_requirements=(),
            unsatisfied_requirements=(),
            applicable_policies=(),
            used_events=(),
            **common,
        )

    results = [
        r
        for r in snapshot.results
        if r.subject_type == snapshot.subject_type
        and r.subject_identifier == snapshot.subject_identifier
    ]
    answers: list[_Answer] = []
    verified: set[Rule] = set()
    for policy in policies:
        answers.extend(_check_policy(policy, snapshot, results, verified, None))

    active = waivers_in_force(snapshot)
    answers = [_waive(a, active) for a in answers]
    reqs = [a.requirement for a in answers]
    satisfied = tuple(r for r in reqs if r.satisfied)
    unsatisfied = tuple(r for r in reqs if not r.satisfied)
    return Decision(
        verdict=_verdict(satisfied, unsatisfied),
        policies_satisfied=not unsatisfied,
        summary=summarize(reqs),
        satisfied_requirements=satisfied,
        unsatisfied_requirements=unsatisfied,
        applicable_policies=tuple(p.id for p in policies),
        used_events=tuple(sorted({e for a in answers for e in a.events})),
        **common,
    )
