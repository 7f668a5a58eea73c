"""What a decision asks of the world (a part of the decider): outbox actions.

A decision that needs a move requests a ``koji.move`` (promote/waived -> the
promoted tag, quarantine -> the quarantine tag, from wherever our last move put
the build) and cancels pending moves it supersedes; every decision change
requests a ``decision.changed`` message. Actions have deterministic keys, so a
re-run never requests one twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from eventsourcing.domain import Aggregate

from domain import ids
from domain.gating import Gate
from domain.outbox import BUS_PUBLISH, KOJI_MOVE, Action

# Keys of the actions the composer requests; the decider's are any other with a trigger
# (the effector's own notices have none).
COMPOSER_ACTION_PREFIXES = ("compose:", "push:")

if TYPE_CHECKING:
    from projections.composer import Composer
    from projections.decider import Decider


def announce(
    self: Decider,
    nvr: str,
    gate: Gate,
    body: dict[str, Any],
    previous: str | None,
    trigger: str | None,
    at: str | None,
) -> None:
    """Ask for the ``decision.changed`` message of the decision just recorded."""
    owner = self.view.build(nvr).owner
    request(
        self,
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
    self: Decider,
    nvr: str,
    gate: Gate,
    verdict: str,
    summary: str,
    trigger: str | None,
    at: str | None,
) -> None:
    cfg = self.config
    target = {
        "promote": cfg.promoted_tag,
        "waived": cfg.promoted_tag,
        "quarantine": cfg.quarantine_tag,
    }.get(verdict)
    keep = cancel_moves(self, nvr, f"superseded: now {verdict}", trigger, at, keep=target)
    location = self.view.gates[nvr].location or cfg.pending_tag
    if target is None or keep or target == location:
        return
    b = self.view.build(nvr)
    request(
        self,
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


def cancel_moves(
    self: Decider,
    nvr: str,
    reason: str,
    trigger: str | None,
    at: str | None,
    keep: str | None = None,
) -> bool:
    """Cancel pending moves of a build (except one to ``keep``); True if one was kept."""
    kept = False
    for a in self.view.actions_for(nvr):
        if a.kind != KOJI_MOVE or a.done or a.params.get("nvr") != nvr:
            continue
        if keep is not None and a.params.get("to_tag") == keep:
            kept = True
            continue
        action = cast(Action | None, self._get(ids.action_id(a.key)))
        if action is not None and not action.done:
            action.cancel(trigger=trigger, at=at, reason=reason)
            self._fold(action)
    return kept


def request(
    self: Decider | Composer,
    key: str,
    kind: str,
    params: dict[str, Any],
    gate: Aggregate | None,
    reason: str,
    trigger: str | None,
    at: str | None,
) -> None:
    if self._get(ids.action_id(key)) is not None:
        return  # requested by an earlier run
    action = Action(key, kind, params, str(gate.id) if gate else None, reason, trigger, at)
    self._add(action)
    self.report.actions += 1


_DECISION_KEYS = (  # what a decision.changed message repeats of the decision
    "subject_type", "subject_identifier", "product_version", "decision_context", "verdict",
    "policies_satisfied", "summary", "satisfied_requirements", "unsatisfied_requirements",
    "applicable_policies", "policy_set_hash",
)  # fmt: skip
