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
* outcome classes are Greenwave's defaults (``OUTCOMES_*`` in :mod:`policies.checks`);
  every other outcome, NEEDS_INSPECTION and NOT_APPLICABLE included, is a failure, as in
  Greenwave;
* an ``INVALID`` result (a CI message that failed its spec's JSON Schema) is no result, as
  for Greenwave (ResultsDB never stores it): it never outweighs a valid one, and where a
  rule has no valid result it answers ``test-result-missing`` marked ``invalid``, with the
  errors as detail, instead of a bare "missing";
* an unsatisfied test answer is waived by the latest waiver (per testcase and scenario)
  for the same subject, testcase, scenario (a waiver without one waives any) and product
  version (a waiver without one waives any); ``waived: false`` revokes.

Results and waivers about another subject than the snapshot's are ignored. Which
policies apply is :mod:`policies.applicability`; which waivers are in force,
:mod:`policies.waivers`; what one rule answers, :mod:`policies.checks`; this module walks
the policies (remote rule files included), waives and decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from relengotron.policies.answers import (
    EXCLUDED,
    TEST_FAILED,
    WAIVABLE_TYPES,
    Requirement,
    no_applicable_policies_summary,
    summarize,
)
from relengotron.policies.applicability import allowed as _allowed
from relengotron.policies.applicability import applicable
from relengotron.policies.applicability import excluded as _excluded
from relengotron.policies.checks import Answer, check_rule
from relengotron.policies.decision import Decision
from relengotron.policies.latest import latest as _latest
from relengotron.policies.remote import remote_outcome, sub_policy_matches
from relengotron.policies.snapshot import ResultView, Snapshot, WaiverView
from relengotron.policies.spec import Policy, PolicySet, RemoteRule, Rule
from relengotron.policies.waivers import waivers_in_force

__all__ = ["evaluate"]

# ------------------------------------------------------------------ policies


def _check_policy(
    policy: Policy,
    snapshot: Snapshot,
    results: Sequence[ResultView],
    verified: set[Rule],
    source: str | None,
) -> list[Answer]:
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
        return [Answer(excluded, ())]
    if source is not None and not _allowed(policy, snapshot.package):
        return []  # a remote policy whose allowlist leaves the package out asks nothing
    answers: list[Answer] = []
    for rule in policy.rules:
        if rule in verified:  # Greenwave's RuleContext.verify: each rule once
            continue
        verified.add(rule)
        if isinstance(rule, RemoteRule):
            answers.extend(_check_remote(rule, policy, snapshot, results, verified))
            continue
        for answer in check_rule(rule, policy, snapshot, results):
            req = replace(answer.requirement, source=source) if source else answer.requirement
            answers.append(Answer(req, answer.events))
    return answers


def _check_remote(
    rule: RemoteRule,
    policy: Policy,
    snapshot: Snapshot,
    results: Sequence[ResultView],
    verified: set[Rule],
) -> list[Answer]:
    """Greenwave's ``RemoteRule.check``: its own answers, then the file's policies that
    match the decision asked (named by their id, else by the parent's)."""
    outcome = remote_outcome(rule, policy, snapshot)
    answers = [Answer(a, (a.event,) if a.event else ()) for a in outcome.answers]
    for sub in outcome.sub_policies:
        if outcome.file is not None and sub_policy_matches(sub, snapshot):
            named = sub if sub.id else replace(sub, id=policy.id)
            answers.extend(_check_policy(named, snapshot, results, verified, outcome.file.url))
    return answers


# ------------------------------------------------------------------ waivers


def _waive(answer: Answer, active: dict[str, list[WaiverView]]) -> Answer:
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
    return Answer(waived, (*answer.events, waiver.event))


# ------------------------------------------------------------------ evaluate


def _verdict(satisfied: Sequence[Requirement], unsatisfied: Sequence[Requirement]) -> str:
    if any(r.type == TEST_FAILED and r.rerun_deadline is None for r in unsatisfied):
        return "quarantine"
    if unsatisfied:
        return "hold"  # errored, missing, incomplete, batch pending/unresolved, rerun awaited
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
    answers: list[Answer] = []
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
