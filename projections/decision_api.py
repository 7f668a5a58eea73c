"""Greenwave's decision API (``POST /api/v1.0/decision``) over the read model.

``DecisionService.decide(request, now) -> response_dict`` follows Greenwave's
``greenwave/decision.py`` ``make_decision`` for a request the HTTP adapter parsed
(``adapters.http.decision_request``, with Greenwave's validation and messages): the
same status codes and messages (raised as :class:`DecisionRequestError`), the same
merging of answers over subjects (a rule is answered once per subject, however many
applicable policies ask for it; ``applicable_policies`` lists each subject's policies in
turn). Answers come from the pure policy engine (``policies.engine.evaluate``); every
requirement also carries a machine-readable ``state``
(:mod:`projections.folds.requirement_states`).

Pure given a :class:`~projections.queries.ReadModel`: no web framework, no clock (the
caller passes ``now``), no policy loading (the caller passes a policy set provider).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from relengotron.policies.answers import (
    BATCH_INNOCENT,
    BATCH_PENDING,
    BATCH_RECHECK_PENDING,
    BATCH_UNRESOLVED,
    TEST_FAILED,
    TEST_PASSED,
    Requirement,
    no_applicable_policies_summary,
    summarize,
)
from relengotron.policies.applicability import applicable
from relengotron.policies.checks import OUTCOME_INVALID
from relengotron.policies.engine import evaluate
from relengotron.policies.latest import latest_results
from relengotron.policies.remote import ANY_CONTEXT
from relengotron.policies.snapshot import (
    BATCH_INVALID,
    BatchView,
    RemoteRuleInput,
    ResultView,
    SigningView,
    Snapshot,
    WaiverView,
)
from relengotron.policies.spec import BatchIntegrityRule, Policy, PolicySet, rule_as_dict
from relengotron.policies.waivers import active_waivers
from relengotron.projections.decision_request import (
    ON_DEMAND_CONTEXT,
    DecisionRequest,
    DecisionRequestError,
)
from relengotron.projections.decision_signing import recorded_signing, signing_keys
from relengotron.projections.folds.greenwave_records import pick_records
from relengotron.projections.folds.requirement_states import STATES, requirement_state, with_states
from relengotron.projections.policy_input import policy_input
from relengotron.projections.queries import ReadModel, SubjectFacts

__all__ = [
    "IGNORE_MISSING_POLICY",
    "ON_DEMAND_CONTEXT",
    "STATES",
    "DecisionRequest",
    "DecisionRequestError",
    "DecisionService",
    "policy_json",
    "requirement_state",
    "with_states",
]

#: Subject types for which no applicable policy is not an error (Greenwave's
#: ``conf/subject_types/bodhi_update.yaml``: ``ignore_missing_policy: true``). Bodhi asks
#: about an update together with its builds; only the builds need a policy.
IGNORE_MISSING_POLICY = frozenset({"bodhi_update"})
_MERGED_CONTEXT = "\x00merged"  # the decision context of a multi-context evaluation

# A stored batch requirement type -> the batch status that gave it (when its detail does
# not name the status itself).
_BATCH_STATUS_OF_TYPE = {
    TEST_PASSED: "passed",
    BATCH_INNOCENT: "innocent",
    TEST_FAILED: "suspect",
    BATCH_PENDING: "pending",
    BATCH_RECHECK_PENDING: "recheck-pending",
    BATCH_UNRESOLVED: "unresolved-hold",
}


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


# ------------------------------------------------------------------ policies


def policy_json(policy: Policy) -> dict[str, Any]:
    """Greenwave's ``/api/v1.0/policies`` shape of a policy (rules carry both Greenwave's
    ``rule`` key and its documented ``type``)."""
    contexts = list(policy.decision_contexts)
    return {
        "id": policy.id,
        "product_versions": list(policy.product_versions),
        "decision_context": contexts[0] if len(contexts) == 1 else None,
        "decision_contexts": contexts,
        "subject_type": policy.subject_type,
        # Greenwave's policy JSON has both; ours keeps subject_type (the first) for clients
        # that read only it.
        "subject_types": list(policy.subject_types),
        "rules": [{"type": rule_as_dict(r)["rule"], **rule_as_dict(r)} for r in policy.rules],
        "packages": list(policy.packages),
        "excluded_packages": list(policy.excluded_packages),
        "source": policy.source or None,
    }


# ------------------------------------------------------------------ the service


class DecisionService:
    """Answers decision requests from a read model and the current policy set."""

    def __init__(
        self,
        read_model: ReadModel,
        policies: Callable[[], PolicySet] | PolicySet,
        *,
        overdue_after: timedelta = timedelta(hours=24),
        remote: Callable[[Snapshot, PolicySet], RemoteRuleInput | None] | None = None,
    ) -> None:
        self.read_model = read_model
        # What a RemoteRule reads (the build's source, the recorded gating.yaml files);
        # None: no file is known, and a RemoteRule answers failed-fetch (never satisfied).
        self._remote = remote
        self._provider = policies if callable(policies) else (lambda: policies)
        self.overdue_after = overdue_after
        self._source: PolicySet | None = None
        self._hashed: PolicySet | None = None
        self._merged: dict[tuple[int, ...], PolicySet] = {}

    def policy_set(self) -> PolicySet:
        """The current policy set (hashed once per set the provider hands out)."""
        current = self._provider()
        if current is not self._source:
            self._source, self._hashed = current, PolicySet(current.policies)
            self._merged = {}
        assert self._hashed is not None
        return self._hashed

    def decide(self, req: DecisionRequest, now: datetime | None = None) -> dict[str, Any]:
        """Greenwave's response to a request (parsed by ``adapters.http.decision_request``);
        raises :class:`DecisionRequestError` (404: no applicable policy)."""
        policy_set = req.on_demand or self.policy_set()
        subjects = tuple(dict.fromkeys(req.subjects))  # Greenwave asks each subject once
        when = req.when.isoformat() if req.when else None
        facts = self.read_model.subject_facts(list(subjects), when, records=req.verbose)
        clock = req.when or now

        requirements: list[dict[str, Any]] = []
        reqs: list[Requirement] = []
        applicable_ids: list[str] = []
        results: dict[int | str, dict[str, Any]] = {}
        waivers: dict[int | str, dict[str, Any]] = {}
        for subject_type, identifier in req.subjects:
            f = facts.get((subject_type, identifier)) or SubjectFacts(subject_type, identifier)
            base = policy_input(
                f,
                product_version=req.product_version,
                decision_context=req.contexts[0],
                # OnDemandPolicy: the gating.yaml policies are chosen by version.
                asked_contexts=(ANY_CONTEXT,) if req.on_demand is not None else (),
            )
            if self._remote is not None:  # the recorded files need the subject's input
                base = replace(base, remote=self._remote(base, policy_set))
            matched = self._matching(policy_set, base, req.contexts)
            if not matched:
                if subject_type in IGNORE_MISSING_POLICY:
                    continue
                raise DecisionRequestError(
                    404,
                    no_applicable_policies_summary(
                        subject_type, req.context_label, req.product_version
                    ),
                )
            applicable_ids.extend(p.id for p in matched)
            decided = self._evaluate(policy_set, matched, base, f, req, when)
            overdue = self._overdue(f, clock)
            for r in decided:
                item = r.as_dict()
                item["state"] = requirement_state(item, overdue=overdue)
                requirements.append(item)
            reqs.extend(decided)
            if req.verbose:
                self._verbose(base, f, req, results, waivers)

        satisfied = [d for d, r in zip(requirements, reqs, strict=True) if r.satisfied]
        unsatisfied = [d for d, r in zip(requirements, reqs, strict=True) if not r.satisfied]
        response: dict[str, Any] = {
            "policies_satisfied": not unsatisfied,
            "summary": summarize(reqs),
            "satisfied_requirements": satisfied,
            "unsatisfied_requirements": unsatisfied,
        }
        if req.on_demand is None:
            response["applicable_policies"] = applicable_ids
        if req.verbose:
            response["results"] = list(results.values())
            response["waivers"] = list(waivers.values())
        return response

    # -------------------------------------------------------------- helpers

    @staticmethod
    def _matching(
        policy_set: PolicySet, base: Snapshot, contexts: Sequence[str]
    ) -> tuple[Policy, ...]:
        """Greenwave's ``Policy.matches``: subject type, any of the contexts, product
        version. Not the package: a policy whose allowlist leaves the package out is
        listed and asks nothing, as in Greenwave."""
        anonymous = replace(base, package=None)
        if len(contexts) == 1:
            return applicable(policy_set, replace(anonymous, decision_context=contexts[0]))
        found: set[int] = set()
        for context in contexts:
            found.update(
                id(p) for p in applicable(policy_set, replace(anonymous, decision_context=context))
            )
        return tuple(p for p in policy_set.policies if id(p) in found)

    def _merged_set(self, policy_set: PolicySet, matched: Sequence[Policy]) -> PolicySet:
        """The matched policies under one decision context, so that ``evaluate`` answers
        each rule once for the subject, as Greenwave's ``RuleContext`` does."""
        key = tuple(id(p) for p in matched)
        merged = self._merged.get(key) if policy_set is self._hashed else None
        if merged is None:
            merged = PolicySet(
                # The merged context, and the policy's own ones: a RemoteRule reads the
                # gating.yaml policies that share one of them (Greenwave's
                # ``matches_sub_policy``).
                tuple(
                    replace(p, decision_contexts=(_MERGED_CONTEXT, *p.decision_contexts))
                    for p in matched
                )
            )
            if policy_set is self._hashed:
                self._merged[key] = merged
        return merged

    def _evaluate(
        self,
        policy_set: PolicySet,
        matched: Sequence[Policy],
        base: Snapshot,
        facts: SubjectFacts,
        req: DecisionRequest,
        when: str | None,
    ) -> tuple[Requirement, ...]:
        results, waivers = self._used(base, facts, req)
        batch = self._batch(matched, base, when)
        signing = self._signing(matched, base, when)
        asked: tuple[str, ...] = ()
        if len(req.contexts) == 1:
            used, context = policy_set, req.contexts[0]
        else:
            used, context = self._merged_set(policy_set, matched), _MERGED_CONTEXT
            asked = tuple(req.contexts)
        snapshot = policy_input(
            replace(facts, results=results, waivers=waivers),
            product_version=req.product_version,
            decision_context=context,
            batch=batch,
            signing=signing,
            remote=base.remote,
            asked_contexts=asked or base.asked_contexts,
        )
        decision = evaluate(used, snapshot)
        return (*decision.satisfied_requirements, *decision.unsatisfied_requirements)

    @staticmethod
    def _used(
        base: Snapshot, facts: SubjectFacts, req: DecisionRequest
    ) -> tuple[tuple[ResultView, ...], tuple[WaiverView, ...]]:
        """The subject's latest results and the waivers in force, without the ones the
        request ignores. As in Greenwave, ids are ignored in what ResultsDB and WaiverDB
        answered as latest: ignoring the latest result does not bring back an older
        one (``greenwave/resources.py`` ``BaseRetriever.retrieve``)."""
        ignored_r, ignored_w = req.ignore_results, req.ignore_waivers
        # An invalid message is no result (ResultsDB never stores it): the latest is
        # chosen among the valid ones, and the invalid ones are passed on beside them
        # only to explain a requirement that has no valid result (the engine decides).
        valid = [r for r in facts.results if r.outcome != OUTCOME_INVALID]
        invalid = [r for r in facts.results if r.outcome == OUTCOME_INVALID]
        results = tuple(
            r
            for r in (*latest_results(valid), *latest_results(invalid))
            if r.result_id is None or str(r.result_id) not in ignored_r
        )
        in_force = active_waivers(base)  # the subject's waivers (all of ``facts``)
        waivers = tuple(
            w for w in in_force if w.waiver_id is None or str(w.waiver_id) not in ignored_w
        )
        return results, waivers

    def _batch(
        self, matched: Sequence[Policy], base: Snapshot, when: str | None
    ) -> tuple[BatchView, ...]:
        """Batch statuses, from the latest recorded gate decision (koji builds only)."""
        testcases = {
            r.test_case_name for p in matched for r in p.rules if isinstance(r, BatchIntegrityRule)
        }
        if not testcases or base.subject_type != "koji_build":
            return ()
        latest = self.read_model.decisions(base.subject_identifier, limit=1, when=when)
        if not latest:
            return ()
        row = latest[0]
        body = row.get("decision") or {}
        views = []
        for r in [
            *body.get("satisfied_requirements", ()),
            *body.get("unsatisfied_requirements", ()),
        ]:
            if r.get("testcase") not in testcases:
                continue
            view = _batch_view(r, base.subject_identifier, int(row.get("position") or 0))
            if view is not None:
                views.append(view)
        return tuple(views)

    def _signing(
        self, matched: Sequence[Policy], base: Snapshot, when: str | None
    ) -> tuple[SigningView, ...]:
        """Signing, from the latest recorded gate decision (koji builds only)."""
        keys = signing_keys(matched)
        if not keys or base.subject_type != "koji_build":
            return ()
        latest = self.read_model.decisions(base.subject_identifier, limit=1, when=when)
        return recorded_signing((latest[0].get("decision") or {}) if latest else {}, keys)

    def _overdue(self, facts: SubjectFacts, clock: datetime | None) -> bool:
        first = _parse_time(facts.first_seen)
        return bool(clock and first and clock - first > self.overdue_after)

    @staticmethod
    def _verbose(
        base: Snapshot,
        facts: SubjectFacts,
        req: DecisionRequest,
        results: dict[int | str, dict[str, Any]],
        waivers: dict[int | str, dict[str, Any]],
    ) -> None:
        """Greenwave's verbose ``results`` (the subject's latest results, of every
        testcase) and ``waivers`` (those in force for the request's product version),
        each record once, as ResultsDB and WaiverDB give them."""
        used_results, used_waivers = DecisionService._used(base, facts, req)
        used_results = tuple(r for r in used_results if r.outcome != OUTCOME_INVALID)
        pick_records(used_results, facts.results, facts.result_records, results)
        pick_records(used_waivers, facts.waivers, facts.waiver_records, waivers)


def _batch_view(r: Mapping[str, Any], nvr: str, position: int) -> BatchView | None:
    type_ = str(r.get("type", ""))
    type_ = type_.removesuffix("-waived")
    status = BATCH_INVALID if r.get("invalid") else _BATCH_STATUS_OF_TYPE.get(type_)
    if status is None:  # missing: the engine says so itself
        return None
    # The status comes from the requirement's type (structured); its detail is passed
    # through as recorded, never parsed.
    detail = r.get("detail")
    return BatchView(
        testcase=str(r["testcase"]),
        status=status,
        subject_identifier=nvr,
        event=str(r.get("event") or ""),
        position=position,
        result_id=r.get("result_id"),
        answer_detail=detail if isinstance(detail, str) else None,
    )
