"""What the decider and the effector recorded, as the gating view folds it.

Gates (decisions, withdrawals), outbox actions (requests and outcomes) and
bisections. Events of one aggregate may be read after newer ones this process
wrote itself, so each fold checks the aggregate version first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain import topics
from domain.topics import EventHandlers
from projections.config import GatingConfig


def ref(event: Any) -> str:
    """A store-independent reference to a stored event: ``<aggregate id>/<version>``."""
    return f"{event.originator_id}/{event.originator_version}"


_MOVED = {"moved", "already"}


@dataclass
class GateState:
    nvr: str
    open: bool = True
    verdict: str | None = None
    decision: dict[str, Any] | None = None
    decided_at: str | None = None
    decided_by: str | None = None  # event ref of the latest decision
    version: int = 0
    withdrawn: str | None = None
    withdrawn_detail: str | None = None
    location: str | None = None  # the tag our last completed move put it in
    promoted: bool = False


@dataclass
class ActionState:
    key: str
    kind: str
    params: dict[str, Any]
    gate: str | None
    reason: str
    requested_at: str | None
    version: int = 1
    done: bool = False
    outcome: str | None = None
    detail: str | None = None


@dataclass
class BisectionState:
    root: str
    testcase: str
    max_rounds: int
    deadline: str | None
    started_at: str | None
    rounds: dict[str, int] = field(default_factory=dict)  # group -> round (root: 0)
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    split: set[str] = field(default_factory=set)  # groups whose halves were requested
    fallback: dict[str, str] = field(default_factory=dict)  # group -> hold|quarantine
    fallback_reason: dict[str, str] = field(default_factory=dict)
    version: int = 1


class DecisionRecords:
    def __init__(self, config: GatingConfig) -> None:
        self.config = config
        self._names: dict[UUID, tuple[str, str]] = {}  # aggregate id -> (kind, identifier)
        self.gates: dict[str, GateState] = {}
        self.actions: dict[str, ActionState] = {}
        self._action_by_id: dict[UUID, str] = {}
        self.bisections: dict[str, BisectionState] = {}  # root group -> state
        self.group_root: dict[str, str] = {}  # any bisection group -> its root
        self.dirty: set[str] = set()  # NVRs to evaluate

    def _gate(self, nvr: str) -> GateState:
        g = self.gates.get(nvr)
        if g is None:
            g = self.gates[nvr] = GateState(nvr)
        return g

    def _fresh(self, state: Any, e: Any) -> bool:
        """Events of an aggregate may be read after newer ones this process wrote."""
        if e.originator_version <= state.version:
            return False
        state.version = e.originator_version
        return True

    def _on_gate_opened(self, e: Any, position: int) -> None:
        self._names[e.originator_id] = ("gate", e.nvr)
        g = self._gate(e.nvr)
        if self._fresh(g, e):
            g.open, g.withdrawn = True, None

    def _on_gate_decided(self, e: Any, position: int) -> None:
        g = self._gate(self._gate_nvr(e))
        if self._fresh(g, e):
            g.verdict, g.decision, g.decided_at, g.decided_by = e.verdict, e.decision, e.at, ref(e)

    def _on_gate_withdrawn(self, e: Any, position: int) -> None:
        g = self._gate(self._gate_nvr(e))
        if self._fresh(g, e):
            g.open, g.withdrawn, g.withdrawn_detail = False, e.reason, e.detail

    def _on_gate_reopened(self, e: Any, position: int) -> None:
        g = self._gate(self._gate_nvr(e))
        if self._fresh(g, e):
            g.open, g.withdrawn = True, None

    def _gate_nvr(self, e: Any) -> str:
        return self._names.get(e.originator_id, ("gate", ""))[1]

    def _on_action_requested(self, e: Any, position: int) -> None:
        if e.key in self.actions:
            return
        self._action_by_id[e.originator_id] = e.key
        self.actions[e.key] = ActionState(
            key=e.key,
            kind=e.kind,
            params=dict(e.params),
            gate=e.gate,
            reason=e.reason,
            requested_at=e.at,
        )

    def _on_action_completed(self, e: Any, position: int) -> None:
        a = self.actions.get(self._action_by_id.get(e.originator_id, ""))
        if a is None or not self._fresh(a, e):
            return
        a.done, a.outcome, a.detail = True, e.outcome, e.detail
        nvr = a.params.get("nvr")
        if a.kind == "koji.move" and nvr and e.outcome in _MOVED:
            g = self._gate(nvr)
            g.location = a.params.get("to_tag")
            if g.location == self.config.promoted_tag:
                g.promoted = True
            self.dirty.add(nvr)

    def _on_action_cancelled(self, e: Any, position: int) -> None:
        a = self.actions.get(self._action_by_id.get(e.originator_id, ""))
        if a is not None and self._fresh(a, e):
            a.done, a.outcome, a.detail = True, "cancelled", e.reason

    def _on_bisection_started(self, e: Any, position: int) -> None:
        if e.group in self.bisections:
            return
        s = BisectionState(
            root=e.group,
            testcase=e.testcase,
            max_rounds=e.max_rounds,
            deadline=e.deadline,
            started_at=e.at,
        )
        s.rounds[e.group] = 0
        s.members[e.group] = tuple(e.covered)
        self.bisections[e.group] = s
        self.group_root[e.group] = e.group

    def _on_bisection_halves_requested(self, e: Any, position: int) -> None:
        s = self.bisections.get(self.group_root.get(e.parent, ""))
        if s is None or not self._fresh(s, e):
            return
        s.split.add(e.parent)
        for group, nvrs in e.halves.items():
            s.rounds[group] = e.round
            s.members[group] = tuple(nvrs)
            self.group_root[group] = s.root

    def _on_bisection_fell_back(self, e: Any, position: int) -> None:
        s = self.bisections.get(self.group_root.get(e.group, ""))
        if s is None or not self._fresh(s, e):
            return
        s.fallback[e.group] = e.fallback
        s.fallback_reason[e.group] = e.reason
        self.dirty.update(e.nvrs)

    def _members(self, group: str) -> tuple[str, ...]:
        s = self.bisections.get(self.group_root.get(group, ""))
        return s.members.get(group, ()) if s else ()


# A handler of the fold: (the view, the event, its position in the log).
Handler = Callable[[Any, Any, int], None]
RECORD_HANDLERS: EventHandlers[Handler] = EventHandlers(
    {
        topics.GATE_OPENED: DecisionRecords._on_gate_opened,
        topics.GATE_DECIDED: DecisionRecords._on_gate_decided,
        topics.GATE_WITHDRAWN: DecisionRecords._on_gate_withdrawn,
        topics.GATE_REOPENED: DecisionRecords._on_gate_reopened,
        topics.BISECTION_STARTED: DecisionRecords._on_bisection_started,
        topics.BISECTION_HALVES_REQUESTED: DecisionRecords._on_bisection_halves_requested,
        topics.BISECTION_FELL_BACK: DecisionRecords._on_bisection_fell_back,
        topics.ACTION_REQUESTED: DecisionRecords._on_action_requested,
        topics.ACTION_COMPLETED: DecisionRecords._on_action_completed,
        topics.ACTION_CANCELLED: DecisionRecords._on_action_cancelled,
    }
)
