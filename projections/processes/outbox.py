"""What the followers ask of the world: outbox actions.

``Outbox`` requests an action once (actions have deterministic keys, so a re-run
never requests one twice); the decider and the composer each have one.

``DecisionActions`` is what a decision of the decider asks: a decision that needs
a move requests a ``koji.move`` (promote/waived -> the promoted tag, quarantine ->
the quarantine tag, from wherever our last move put the build) and cancels pending
moves it supersedes; every decision change requests a ``decision.changed`` message.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from eventsourcing.domain import Aggregate

from relengotron.domain import ids
from relengotron.domain.gating import Gate
from relengotron.domain.outbox import BUS_PUBLISH, KOJI_MOVE, SIGN_REQUEST, Action
from relengotron.policies.answers import UNSIGNED, Requirement
from relengotron.projections.config import GatingConfig
from relengotron.projections.folds.gating import GatingView
from relengotron.projections.folds.gating_state import RerunState
from relengotron.projections.processes.follower import Host

# Keys of the actions the composer requests; the decider's are any other with a trigger
# (the effector's own notices have none).
COMPOSER_ACTION_PREFIXES = ("compose:", "push:")
# Kinds of the actions the composer requests (the decider's are domain.outbox's).
COMPOSE_REQUEST = "compose.request"
PUSH_RELEASE = "push.release"


class ActionCount(Protocol):
    """The part of a follower's report the outbox keeps: actions requested."""

    actions: int


class Outbox:
    """Requests a follower's outbox actions, each once."""

    def __init__(self, host: Host[object, object, ActionCount]) -> None:
        self.host = host

    def request(
        self,
        key: str,
        kind: str,
        params: dict[str, Any],
        gate: Aggregate | None,
        reason: str,
        trigger: str | None,
        at: str | None,
    ) -> None:
        host = self.host
        if host.get(ids.action_id(key), recorded=host.has_action(key)) is not None:
            return  # requested by an earlier run
        action = Action(key, kind, params, str(gate.id) if gate else None, reason, trigger, at)
        host.add(action)
        host.report.actions += 1


class DecisionActions:
    """What the decider's decisions ask of the world: koji moves and announcements."""

    def __init__(self, host: Host[GatingView, GatingConfig, object], outbox: Outbox) -> None:
        self.host = host
        self.outbox = outbox

    def announce(
        self,
        nvr: str,
        gate: Gate,
        body: dict[str, Any],
        previous: str | None,
        trigger: str | None,
        at: str | None,
    ) -> None:
        """Ask for the ``decision.changed`` message of the decision just recorded."""
        owner = self.host.view.build(nvr).owner
        self.outbox.request(
            f"{gate.id}:{gate.version}:decision",
            BUS_PUBLISH,
            {
                "kind": "decision.changed",
                "body": {
                    **{k: body[k] for k in _DECISION_KEYS if k in body},
                    "previous_verdict": previous,
                    "decision_id": f"{gate.id}/{gate.version}",
                    "decided_at": at,
                    "owner": owner,
                },
            },
            gate,
            f"decision changed to {body['verdict']}",
            trigger,
            at,
        )

    def plan_move(
        self,
        nvr: str,
        gate: Gate,
        verdict: str,
        summary: str,
        trigger: str | None,
        at: str | None,
    ) -> None:
        """Request the koji move a verdict calls for, cancelling moves it supersedes."""
        cfg = self.host.config
        view = self.host.view
        target = {
            "promote": cfg.promoted_tag,
            "waived": cfg.promoted_tag,
            "quarantine": cfg.quarantine_tag,
        }.get(verdict)
        keep = self.cancel_moves(nvr, f"superseded: now {verdict}", trigger, at, keep=target)
        location = view.gates[nvr].location or cfg.pending_tag
        if target is None or keep or target == location:
            return
        b = view.build(nvr)
        self.outbox.request(
            f"{gate.id}:{gate.version}:move",
            KOJI_MOVE,
            {
                "nvr": nvr,
                "from_tag": location,
                "to_tag": target,
                "verdict": verdict,
                "owner": b.owner,
                "package": b.package,
                "koji_id": b.koji_id,
                "decision_id": f"{gate.id}/{gate.version}",
                "summary": summary,
            },
            gate,
            f"{verdict}: {summary}",
            trigger,
            at,
        )

    def request_signing(
        self,
        nvr: str,
        gate: Gate,
        unsatisfied: tuple[Requirement, ...],
        trigger: str | None,
        at: str | None,
    ) -> None:
        """Once everything else a build needs is satisfied and only signatures are
        missing, ask for it to be signed with each key still missing (once per key)."""
        if not unsatisfied or any(r.type != UNSIGNED for r in unsatisfied):
            return
        b = self.host.view.build(nvr)
        for r in unsatisfied:
            sigkey = (r.testcase or "").removeprefix("signed-with:")
            self.outbox.request(
                f"{gate.id}:sign:{sigkey}",
                SIGN_REQUEST,
                {"nvr": nvr, "sigkey": sigkey, "package": b.package, "koji_id": b.koji_id},
                gate,
                f"all other requirements satisfied: sign with key {sigkey}",
                trigger,
                at,
            )

    def request_rerun(
        self, nvr: str, rerun: RerunState, trigger: str | None, at: str | None
    ) -> None:
        """Publish a rerun someone asked for (``test.rerun.requested``), once."""
        b = self.host.view.build(nvr)
        build = {"type": "koji-build", "id": b.koji_id, "task_id": b.task_id, "nvr": nvr}
        body = {
            "artifact": {"type": "koji-build-group", "builds": [build]},
            "agent": rerun.username or "relengotron",
            "re-trigger": True,
            "update": None,
            "testcase": rerun.testcase,
            "scenario": rerun.scenario,
            "reason": rerun.reason,
            "requested_at": rerun.at,
            "deadline": rerun.deadline,
        }
        self.outbox.request(
            f"rerun:{rerun.event}",
            BUS_PUBLISH,
            {"kind": "test.rerun.requested", "body": body, "nvr": nvr},
            None,
            f"rerun of {rerun.testcase} asked by {rerun.username or 'someone'}",
            trigger,
            at,
        )

    def cancel_moves(
        self,
        nvr: str,
        reason: str,
        trigger: str | None,
        at: str | None,
        keep: str | None = None,
    ) -> bool:
        """Cancel pending moves of a build (except one to ``keep``); True if one was kept."""
        host = self.host
        kept = False
        for a in host.view.actions_for(nvr):
            if a.kind != KOJI_MOVE or a.done or a.params.get("nvr") != nvr:
                continue
            if keep is not None and a.params.get("to_tag") == keep:
                kept = True
                continue
            action = cast(Action | None, host.get(ids.action_id(a.key)))
            if action is not None and not action.done:
                action.cancel(trigger=trigger, at=at, reason=reason)
                host.fold(action)
        return kept


_DECISION_KEYS = (  # what a decision.changed message repeats of the decision
    "subject_type", "subject_identifier", "product_version", "decision_context", "verdict",
    "policies_satisfied", "summary", "satisfied_requirements", "unsatisfied_requirements",
    "applicable_policies", "policy_set_hash",
)  # fmt: skip
