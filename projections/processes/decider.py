"""The decider: follows the event log, calls the policy engine, records what changed.

It reads the log in order (from the start, folding everything into a
``GatingView``) and, for input recorded after its tracked position, decides
*after each message*: it opens gates for builds tagged into the pending tag,
withdraws builds that left it by other means, bisects failing batch checks and
evaluates every affected candidate. A decision is recorded only when it differs
from the gate's last one, together with the outbox actions it calls for (koji
moves, bus messages) and the decider's new position, in one transaction.

Because the log holds each message's events together and in input order, and
the clock is the time carried by the messages, the decisions are a pure
function of the input sequence: batch sizes and run times do not change them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from relengotron.domain import ids, topics
from relengotron.domain.application import RelengApp
from relengotron.domain.gating import Gate
from relengotron.domain.outbox import KOJI_MOVE
from relengotron.policies.answers import Requirement
from relengotron.policies.decision import Decision
from relengotron.policies.engine import evaluate
from relengotron.policies.snapshot import Snapshot
from relengotron.policies.spec import (
    RECHECK_AFTER_QUARANTINE,
    BatchIntegrityRule,
    PolicySet,
    SignedRule,
    policy_set_from_canonical,
)
from relengotron.projections.config import GatingConfig
from relengotron.projections.folds.gating import (
    OWN_TOPICS,
    TOPICS,
    GatingView,
    OverrideState,
    package_of,
)
from relengotron.projections.folds.gating_state import MANUAL_HOLD, MANUAL_OVERRIDE, RerunState
from relengotron.projections.folds.remote_files import awaits_remote_file, with_remote_files
from relengotron.projections.folds.view_docs import Docs, DocStore
from relengotron.projections.processes.bisection import Bisector
from relengotron.projections.processes.follower import PAGE, Follower
from relengotron.projections.processes.outbox import (
    COMPOSER_ACTION_PREFIXES,
    DecisionActions,
    Outbox,
)

NAME = "decider"
# Bump when GatingView's documents change: stored views are folded again.
# 3: results with architecture/variant and integer ids; builds named under an alias.
# 4: remote rule files (gating.yaml); builds with their creation time.
# 5: kept in tables as documents (projections.folds.view_docs), no more pickles.
# 6: builds' signatures, signing requests' results, reruns and flaky tests, re-checks.
VIEW_FORMAT = 6

__all__ = ["NAME", "Decider", "DeciderReport"]


@dataclass
class DeciderReport:
    read: int = 0
    evaluated: int = 0
    decisions: list[dict[str, Any]] = field(default_factory=list)
    actions: int = 0
    bisections: int = 0
    position: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "evaluated": self.evaluated,
            "decisions": len(self.decisions),
            "actions_requested": self.actions,
            "bisection_steps": self.bisections,
            "position": self.position,
            "changes": self.decisions,
        }


class Decider(Follower[GatingView, DeciderReport]):
    NAME = NAME
    VIEW_KIND = "gating-view"
    VIEW_FORMAT = VIEW_FORMAT
    TOPICS = TOPICS
    CREATIONS = (topics.GATE_OPENED, topics.ACTION_REQUESTED)

    def __init__(
        self,
        app: RelengApp,
        policies: PolicySet,
        config: GatingConfig,
        *,
        page_size: int = PAGE,
        progress: Callable[[int, int], None] | None = None,
        views: DocStore | None = None,
    ) -> None:
        super().__init__(app, config, page_size=page_size, progress=progress, views=views)
        self.policies = policies  # in force until the log activates a policy set
        self.config = config
        self._parsed: dict[str, PolicySet] = {policies.content_hash: policies}
        self._asks: dict[int, tuple[PolicySet, frozenset[str], tuple[str, ...]]] = {}
        # Its collaborators: what decisions ask of the world, and bisections.
        self.outbox = Outbox(self)
        self.actions = DecisionActions(self, self.outbox)
        self.bisector = Bisector(self, self.outbox)

    def policy_set(self) -> PolicySet:
        """The policy set in force at the current point of the log."""
        active = self.view.active_policies
        if active is None:
            return self.policies
        parsed = self._parsed.get(active.policy_set_hash)
        if parsed is None:
            parsed = self._parsed[active.policy_set_hash] = policy_set_from_canonical(
                list(active.policies)
            )
        return parsed

    @property
    def batch_testcases(self) -> set[str]:
        return {
            r.test_case_name
            for p in self.policy_set().policies
            for r in p.rules
            if isinstance(r, BatchIntegrityRule)
        }

    @property
    def rechecked(self) -> frozenset[str]:
        """The batch testcases whose policy asks for a re-check after quarantine."""
        return self._asked()[0]

    @property
    def sigkeys(self) -> tuple[str, ...]:
        """The keys the policy set's ``!SignedRule``s ask builds to be signed with."""
        return self._asked()[1]

    def _asked(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """Re-checked batch testcases and signing keys of the policy set in force (read
        once per set: asked on every evaluation)."""
        policies = self.policy_set()
        found = self._asks.get(id(policies))
        if found is None or found[0] is not policies:
            rules = [r for p in policies.policies for r in p.rules]
            rechecked = frozenset(
                r.test_case_name
                for r in rules
                if isinstance(r, BatchIntegrityRule) and r.recheck == RECHECK_AFTER_QUARANTINE
            )
            keys = tuple(sorted({r.sigkey.lower() for r in rules if isinstance(r, SignedRule)}))
            found = self._asks[id(policies)] = (policies, rechecked, keys)
        return found[1], found[2]

    OWN_TOPICS = OWN_TOPICS

    def owns(self, e: Any) -> bool:
        """Gates and bisections, and the actions it requested or cancelled (the
        composer's and the effector's are input here)."""
        if type(e).__module__ == "relengotron.domain.gating":
            return True
        key = getattr(e, "key", None)  # Action.Cancelled: only the decider cancels
        return key is None or not key.startswith(COMPOSER_ACTION_PREFIXES)

    def new_view(self, docs: Docs | None = None) -> GatingView:
        return GatingView(self.config, docs)

    def new_report(self) -> DeciderReport:
        return DeciderReport()

    def has_action(self, key: str) -> bool:
        """Whether an action of this key was requested (the view folds every request)."""
        return self.view.actions.peek(key) is not None

    def _gate(self, nvr: str) -> Gate | None:
        # No gate state for the build: no gate was ever opened for it (in any context).
        recorded = self.view.gates.peek(nvr) is not None
        gate_id = ids.gate_id(self.config.decision_context, nvr)
        gate = cast(Gate | None, self.get(gate_id, recorded=recorded))
        if gate is not None:
            self.view.name_gate(gate.id, nvr)
        return gate

    def snapshot(self, nvr: str) -> Snapshot:
        """What the build is decided on, with the gating.yaml files its RemoteRules read."""
        view = self.view
        build = view.builds.get(nvr)
        return with_remote_files(
            view.snapshot(nvr, self.sigkeys, self.rechecked),
            self.policy_set(),
            self.config.remote_rule_templates,
            build.change if build else None,
            view.remote_files,
            view.observed_sources.get(nvr),
        )

    # ---------------------------------------------------------------- deciding

    def decide(self, trigger: str | None) -> None:
        view = self.view
        at = view.now
        for nvr, tag, added, user in view.tag_changes:
            if tag == self.config.pending_tag:
                if added:
                    self._tagged_pending(nvr, trigger, at)
                else:
                    self._untagged_pending(nvr, user, trigger, at)
        rechecked = self.rechecked
        for group in sorted(view.dirty_groups):
            self.bisector.bisect(group, self.batch_testcases, trigger, at)
        if rechecked:
            self.bisector.touch(view.dirty_groups, rechecked)
        self.bisector.deadlines(trigger, at)
        self.bisector.rechecks(rechecked, trigger, at)
        for nvr, rerun in view.reruns.requested:
            self.actions.request_rerun(nvr, rerun, trigger, at)
        for nvr, rerun, failed, passed in view.reruns.found:
            self._flaky(nvr, rerun, failed, passed, trigger, at)
        view.dirty.update(view.reruns.due(at))  # awaited reruns past their deadline
        for nvr in sorted(view.dirty):
            if view.is_candidate(nvr):
                self._evaluate(nvr, trigger, at)
        view.settle()

    def _tagged_pending(self, nvr: str, trigger: str | None, at: str | None) -> None:
        gate = self._gate(nvr)
        tag = self.config.pending_tag
        if gate is None:
            gate = Gate(self.config.decision_context, nvr, package_of(nvr), tag, trigger, at)
            self.view.name_gate(gate.id, nvr)
            self.add(gate)
        elif not gate.open:
            gate.reopen(trigger=trigger, at=at, tag=tag)
            self.fold(gate)
        else:
            return
        package = package_of(nvr)
        for other in self.view.candidates(package or ""):
            if other == nvr:
                continue
            older = self._gate(other)
            if older is None or not older.open:
                continue
            detail = f"{nvr} was tagged into {tag} after it"
            self._withdraw(older, "obsoleted", detail, nvr, trigger, at)

    def _untagged_pending(
        self, nvr: str, user: str | None, trigger: str | None, at: str | None
    ) -> None:
        state = self.view.gates.get(nvr)
        if state is None or not state.open or state.promoted:
            return
        if any(
            a.kind == KOJI_MOVE
            and a.params.get("nvr") == nvr
            and a.params.get("from_tag") == self.config.pending_tag
            and a.outcome != "cancelled"
            for a in self.view.actions_for(nvr)
        ):
            return  # our own move
        gate = self._gate(nvr)
        if gate is None or not gate.open:
            return
        detail = f"untagged from {self.config.pending_tag} by {user or 'someone'}"
        self._withdraw(gate, "untagged", detail, user, trigger, at)

    def _flaky(
        self,
        nvr: str,
        rerun: RerunState,
        failed: str | None,
        passed: str,
        trigger: str | None,
        at: str | None,
    ) -> None:
        """Record a test found flaky (it failed, and passed on the rerun asked for)."""
        gate = self._gate(nvr)
        if gate is None or rerun.event in (self.view.reruns.flaky.get(rerun.testcase) or ()):
            return  # not a gating candidate (nothing of ours to record it on), or recorded
        gate.find_flaky(
            trigger=trigger, at=at, testcase=rerun.testcase, scenario=rerun.scenario,
            rerun=rerun.event, failed=failed, passed=passed,
        )  # fmt: skip
        self.fold(gate)

    def _withdraw(
        self,
        gate: Gate,
        reason: str,
        detail: str,
        by: str | None,
        trigger: str | None,
        at: str | None,
    ) -> None:
        gate.withdraw(trigger=trigger, at=at, reason=reason, detail=detail, by=by)
        self.fold(gate)
        self.actions.cancel_moves(gate.nvr, f"{reason}: {detail}", trigger, at)

    def _evaluate(self, nvr: str, trigger: str | None, at: str | None) -> None:
        self.report.evaluated += 1
        decision = evaluate(self.policy_set(), self.snapshot(nvr))
        if awaits_remote_file(decision):
            # A gating.yaml this build needs is not in the log yet: the fetcher runs after
            # this run and its record brings the build back; deciding now would announce
            # a hold that only says "not fetched yet". Undecided is not promoted.
            return
        override = self.view.overrides.get(nvr)
        if override is not None:
            decision = overridden(decision, override)
        fingerprint = decision.state_fingerprint()
        gate = self._gate(nvr)
        if gate is None:
            return
        self.actions.request_signing(nvr, gate, decision.unsatisfied_requirements, trigger, at)
        if gate.fingerprint == fingerprint:
            return
        previous = gate.verdict
        body = decision.as_dict()
        if override is not None:
            _name_override(body, override)
        gate.decide(
            trigger=trigger,
            at=at,
            verdict=decision.verdict,
            previous_verdict=previous,
            fingerprint=fingerprint,
            decision=body,
        )
        self.fold(gate)
        self.report.decisions.append(
            {"nvr": nvr, "verdict": decision.verdict, "previous": previous, "at": at}
        )
        self.actions.plan_move(nvr, gate, decision.verdict, decision.summary, trigger, at)
        self.actions.announce(nvr, gate, body, previous, trigger, at)


def overridden(decision: Decision, o: OverrideState) -> Decision:
    """The policies' decision under a manual override: ``promote`` adds a satisfied
    ``manual-override`` requirement and promotes; ``hold`` adds an unsatisfied
    ``manual-hold`` requirement and holds. The policies' own requirements stay, so
    the decision shows what was overridden; ``policies_satisfied`` stays theirs."""
    who = o.username or "someone"
    req = Requirement(
        type=MANUAL_OVERRIDE if o.action == "promote" else MANUAL_HOLD,
        subject_type=decision.subject_type,
        subject_identifier=decision.subject_identifier,
        testcase=None,
        event=o.event,
        detail=f"{'promoted' if o.action == 'promote' else 'held'} by {who}: {o.reason}",
    )
    if o.action == "promote":
        return replace(
            decision,
            verdict="promote",
            satisfied_requirements=(*decision.satisfied_requirements, req),
            summary=f"Manually promoted by {who} ({o.reason}); policies: {decision.summary}",
        )
    return replace(
        decision,
        verdict="hold",
        policies_satisfied=False,
        unsatisfied_requirements=(*decision.unsatisfied_requirements, req),
        summary=f"Manually held by {who} ({o.reason}); policies: {decision.summary}",
    )


def _name_override(body: dict[str, Any], o: OverrideState) -> None:
    """Name the person, the reason and the message in the override's requirement."""
    for key in ("satisfied_requirements", "unsatisfied_requirements"):
        for r in body.get(key, []):
            if r.get("type") in (MANUAL_OVERRIDE, MANUAL_HOLD):
                r.update(username=o.username, reason=o.reason, message=o.msg, at=o.at)
