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

from relengotron.domain import topics
from relengotron.domain.outbox import SIGN_REQUEST
from relengotron.domain.topics import EventHandlers
from relengotron.projections.config import GatingConfig
from relengotron.projections.folds.view_docs import Docs


def package_of(nvr: str) -> str | None:
    """The package (source name) of an NVR: ``bash`` of ``bash-5.2-1.fc44``."""
    parts = nvr.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else None


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
    seq: int = 0  # the order gates were first met in (the view's gates, oldest first)


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
    result: dict[str, Any] | None = None  # what the effector recorded with the outcome


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
    rechecks: list[str] = field(default_factory=list)  # re-check groups, in order
    handled: list[str] = field(default_factory=list)  # suspects a re-check came after


class DecisionRecords:
    def __init__(self, config: GatingConfig, docs: Docs | None = None) -> None:
        self.config = config
        self.docs = docs = docs if docs is not None else Docs()
        # aggregate id -> (kind, identifier)
        self._names = docs.map("names", tuple[str, str], unkey=UUID)
        self.gates = docs.map("gates", GateState)
        self.actions = docs.map("actions", ActionState)
        self._action_by_id = docs.map("action_ids", str, unkey=UUID)
        # NVR -> keys of the actions about it (their ``nvr`` parameter or its gate), oldest
        # first.
        self.actions_of = docs.map("actions_of", list[str])
        # Package -> {NVR: the gate's ``seq``} of its open gates not promoted (candidates).
        self.open_gates = docs.map("open_gates", dict[str, int])
        self._gate_count = docs.cell("gate_count", int, int)
        self.bisections = docs.map("bisections", BisectionState)  # root group -> state
        self._bisection_roots = docs.cell("bisection_roots", list[str], list)  # oldest first
        self.group_root = docs.map("group_roots", str)  # any bisection group -> its root
        self.dirty: set[str] = set()  # NVRs to evaluate

    def name_gate(self, aggregate_id: UUID, nvr: str) -> None:
        """Know a gate aggregate by its build (the decider names the gates it loads)."""
        self._names[aggregate_id] = ("gate", nvr)

    def _gate(self, nvr: str) -> GateState:
        g = self.gates.get(nvr)
        if g is None:
            n = self._gate_count.value
            self._gate_count.value = n + 1
            g = self.gates[nvr] = GateState(nvr, seq=n)
        return g

    def _candidate(self, g: GateState) -> None:
        """Keep ``open_gates`` in step with a gate just changed."""
        package = package_of(g.nvr) or ""
        open_ = self.open_gates.get(package)
        if g.open and not g.promoted:
            if open_ is None:
                self.open_gates[package] = {g.nvr: g.seq}
            else:
                open_[g.nvr] = g.seq
        elif open_ is not None and g.nvr in open_:
            del open_[g.nvr]
            if not open_:
                del self.open_gates[package]

    def candidates(self, package: str | None = None) -> list[str]:
        """The open gates not promoted (of one package, or all), in the order the gates
        were first met."""
        if package is not None:
            open_ = self.open_gates.get(package) or {}
        else:
            open_ = {n: seq for p in self.open_gates for n, seq in self.open_gates[p].items()}
        return sorted(open_, key=open_.__getitem__)

    def actions_for(self, nvr: str) -> list[ActionState]:
        """The actions about a build (naming it, or requested for its gate), oldest first."""
        return [self.actions[k] for k in self.actions_of.get(nvr, ())]

    def bisections_in_order(self) -> list[BisectionState]:
        return [self.bisections[root] for root in self._bisection_roots.value]

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
            self._candidate(g)

    def _on_gate_decided(self, e: Any, position: int) -> None:
        g = self._gate(self._gate_nvr(e))
        if self._fresh(g, e):
            g.verdict, g.decision, g.decided_at, g.decided_by = e.verdict, e.decision, e.at, ref(e)

    def _on_gate_withdrawn(self, e: Any, position: int) -> None:
        g = self._gate(self._gate_nvr(e))
        if self._fresh(g, e):
            g.open, g.withdrawn, g.withdrawn_detail = False, e.reason, e.detail
            self._candidate(g)

    def _on_gate_reopened(self, e: Any, position: int) -> None:
        g = self._gate(self._gate_nvr(e))
        if self._fresh(g, e):
            g.open, g.withdrawn = True, None
            self._candidate(g)

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
        for nvr in self._builds_of_action(e):
            keys = self.actions_of.get(nvr)
            if keys is None:
                keys = self.actions_of[nvr] = []
            keys.append(e.key)

    def _builds_of_action(self, e: Any) -> list[str]:
        """The builds an action is about: its ``nvr`` parameter, and its gate's build."""
        nvrs = []
        nvr = e.params.get("nvr")
        if isinstance(nvr, str):
            nvrs.append(nvr)
        try:
            name = self._names.peek(UUID(e.gate)) if e.gate else None
        except ValueError:
            name = None
        if name is not None and name[0] == "gate" and name[1] not in nvrs:
            nvrs.append(name[1])
        return nvrs

    def _on_action_completed(self, e: Any, position: int) -> None:
        a = self.actions.get(self._action_by_id.get(e.originator_id, ""))
        if a is None or not self._fresh(a, e):
            return
        a.done, a.outcome, a.detail = True, e.outcome, e.detail
        nvr = a.params.get("nvr")
        if a.kind == SIGN_REQUEST and nvr:
            a.result = dict(e.result or {})  # koji's rpm list of the build
            self.dirty.add(nvr)
        if a.kind == "koji.move" and nvr and e.outcome in _MOVED:
            g = self._gate(nvr)
            g.location = a.params.get("to_tag")
            if g.location == self.config.promoted_tag:
                g.promoted = True
                self._candidate(g)
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
        self._bisection_roots.value = [*self._bisection_roots.value, e.group]
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

    def _on_bisection_recheck_requested(self, e: Any, position: int) -> None:
        s = self.bisections.get(self.group_root.get(e.group.rsplit("/recheck-", 1)[0], ""))
        if s is None or not self._fresh(s, e):
            return
        s.rechecks.append(e.group)
        s.handled.extend(n for n in e.suspects if n not in s.handled)
        s.rounds[e.group] = 0
        s.members[e.group] = tuple(e.nvrs)
        self.group_root[e.group] = s.root
        self.dirty.update(e.nvrs)

    def _on_bisection_fell_back(self, e: Any, position: int) -> None:
        s = self.bisections.get(self.group_root.get(e.group, ""))
        if s is None or not self._fresh(s, e):
            return
        s.fallback[e.group] = e.fallback
        s.fallback_reason[e.group] = e.reason
        self.dirty.update(e.nvrs)

    def members(self, group: str) -> tuple[str, ...]:
        """The builds of a bisection group (none if no bisection split it off)."""
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
        topics.BISECTION_RECHECK_REQUESTED: DecisionRecords._on_bisection_recheck_requested,
        topics.ACTION_REQUESTED: DecisionRecords._on_action_requested,
        topics.ACTION_COMPLETED: DecisionRecords._on_action_completed,
        topics.ACTION_CANCELLED: DecisionRecords._on_action_cancelled,
    }
)
