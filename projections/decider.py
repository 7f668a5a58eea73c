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

import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain import ids
from domain.application import RelengApp
from domain.gating import Bisection, Gate
from domain.outbox import KOJI_MOVE
from policies.engine import evaluate
from policies.spec import BatchIntegrityRule, PolicySet
from projections import bisection, outbox
from projections.config import GatingConfig
from projections.gating import TOPICS, GatingView, package_of

NAME = "decider"
VIEW_FORMAT = 1  # bump when GatingView's fields change: older snapshots are ignored
PAGE = 1000
ATTEMPTS = 3


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


class ViewSnapshots(Protocol):
    """Where a folded view is kept between runs (a cache: losing it costs a re-fold)."""

    def load(self, key: str) -> tuple[int, bytes] | None: ...

    def save(self, key: str, position: int, data: bytes) -> None: ...


class Decider:
    def __init__(
        self,
        app: RelengApp,
        policies: PolicySet,
        config: GatingConfig,
        *,
        page_size: int = PAGE,
        progress: Callable[[int, int], None] | None = None,
        snapshots: ViewSnapshots | None = None,
    ) -> None:
        self.app = app
        self.snapshots = snapshots
        digest = hashlib.sha256(repr(config).encode()).hexdigest()[:16]
        self.snapshot_key = f"gating-view:v{VIEW_FORMAT}:{digest}"
        self.policies = policies
        self.config = config
        self.page_size = page_size
        self.progress = progress
        self.batch_testcases = {
            r.test_case_name
            for p in policies.policies
            for r in p.rules
            if isinstance(r, BatchIntegrityRule)
        }

    # ---------------------------------------------------------------- running

    def run(self) -> DeciderReport:
        """Catch up with the log; retry from scratch if another writer got in the way."""
        for attempt in range(ATTEMPTS):
            try:
                return self._run()
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def read_view(self) -> GatingView:
        """The gating read model of the whole log, without deciding anything."""
        view, start = self._start_view()
        for n in self._notifications(start):
            view.apply(self.app.mapper.to_domain_event(n), n.id)
        return view

    def _start_view(self) -> tuple[GatingView, int]:
        """The last saved view and its position, or an empty view at 0."""
        if self.snapshots is not None:
            saved = self.snapshots.load(self.snapshot_key)
            if saved is not None:
                position, data = saved
                try:
                    view = pickle.loads(data)
                except Exception:  # an unreadable cache is only a cache: fold again
                    view = None
                if isinstance(view, GatingView):
                    return view, position
        return GatingView(self.config), 0

    def _notifications(self, after: int) -> Any:
        recorder = self.app.recorder
        while True:
            page = recorder.select_notifications(
                start=after + 1, limit=self.page_size, topics=TOPICS
            )
            if not page:
                return
            yield from page
            after = page[-1].id

    def _run(self) -> DeciderReport:
        self.report = DeciderReport()
        self._aggs: dict[UUID, Aggregate] = {}
        self._written: set[tuple[UUID, int]] = set()
        cursor = tracked = self.app.tracked_position(NAME)
        view, start = self._start_view()
        if start > cursor:  # a view ahead of the decisions cannot be trusted
            view, start = GatingView(self.config), 0
        self.view = view
        live = False
        last_msg: str | None = None
        boundary = prev = cursor
        mapper = self.app.mapper
        for n in self._notifications(start):
            if (n.originator_id, n.originator_version) in self._written:
                continue
            e = mapper.to_domain_event(n)
            msg = getattr(e, "msg", None)
            if n.id > cursor:
                if not live:
                    live = True
                    view.settle()
                elif msg is not None and last_msg is not None and msg != last_msg:
                    self._decide(last_msg)
                    boundary = prev
            view.apply(e, n.id)
            self.report.read += 1
            if msg is not None:
                last_msg = msg
            prev = n.id
            if self.report.read % self.page_size == 0:
                if self.progress:
                    self.progress(self.report.read, 0)
                if live and boundary > tracked:
                    self._flush(boundary)
                    tracked = boundary
        if live:
            self._decide(last_msg)
            boundary = prev
        if boundary > tracked:
            self._flush(boundary)
        self.report.position = max(boundary, tracked)
        if self.snapshots is not None and prev > start:
            # Everything up to ``prev`` is folded and decided: the next run starts here.
            view.settle()
            self.snapshots.save(self.snapshot_key, prev, pickle.dumps(view))
        return self.report

    def _flush(self, position: int) -> None:
        aggs = [a for a in self._aggs.values() if a._pending_events]
        for a in aggs:
            for ev in a._pending_events:
                self._written.add((ev.originator_id, ev.originator_version))
        self.app.save_tracked(aggs, NAME, position)

    # -------------------------------------------------------------- aggregates

    def _get(self, aggregate_id: UUID) -> Any:
        agg = self._aggs.get(aggregate_id)
        if agg is None:
            try:
                agg = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
            self._aggs[aggregate_id] = agg
        return agg

    def _add(self, agg: Aggregate) -> None:
        self._aggs[agg.id] = agg
        self._fold(agg)

    def _fold(self, agg: Aggregate) -> None:
        """Show the view the event just triggered (it is skipped when read back)."""
        self.view.apply(agg._pending_events[-1], 0)

    def _bisection(self, root: str) -> Bisection:
        return cast(Bisection, self._get(ids.bisection_id(self.config.decision_context, root)))

    def _gate(self, nvr: str) -> Gate | None:
        gate = cast(Gate | None, self._get(ids.gate_id(self.config.decision_context, nvr)))
        if gate is not None:
            self.view._names[gate.id] = ("gate", nvr)
        return gate

    # ---------------------------------------------------------------- deciding

    def _decide(self, trigger: str | None) -> None:
        view = self.view
        at = view.now
        for nvr, tag, added, user in view.tag_changes:
            if tag == self.config.pending_tag:
                if added:
                    self._tagged_pending(nvr, trigger, at)
                else:
                    self._untagged_pending(nvr, user, trigger, at)
        for group in sorted(view.dirty_groups):
            bisection.bisect(self, group, trigger, at)
        bisection.deadlines(self, trigger, at)
        for nvr in sorted(view.dirty):
            if view.is_candidate(nvr):
                self._evaluate(nvr, trigger, at)
        view.settle()

    def _tagged_pending(self, nvr: str, trigger: str | None, at: str | None) -> None:
        gate = self._gate(nvr)
        tag = self.config.pending_tag
        if gate is None:
            gate = Gate(self.config.decision_context, nvr, package_of(nvr), tag, trigger, at)
            self.view._names[gate.id] = ("gate", nvr)
            self._add(gate)
        elif not gate.open:
            gate.reopen(trigger=trigger, at=at, tag=tag)
            self._fold(gate)
        else:
            return
        package = package_of(nvr)
        for other, state in list(self.view.gates.items()):
            if other == nvr or not state.open or state.promoted or package_of(other) != package:
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
            for a in self.view.actions.values()
        ):
            return  # our own move
        gate = self._gate(nvr)
        if gate is None or not gate.open:
            return
        detail = f"untagged from {self.config.pending_tag} by {user or 'someone'}"
        self._withdraw(gate, "untagged", detail, user, trigger, at)

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
        self._fold(gate)
        outbox.cancel_moves(self, gate.nvr, f"{reason}: {detail}", trigger, at)

    def _evaluate(self, nvr: str, trigger: str | None, at: str | None) -> None:
        self.report.evaluated += 1
        decision = evaluate(self.policies, self.view.snapshot(nvr))
        fingerprint = decision.state_fingerprint()
        gate = self._gate(nvr)
        if gate is None or gate.fingerprint == fingerprint:
            return
        previous = gate.verdict
        body = decision.as_dict()
        gate.decide(
            trigger=trigger,
            at=at,
            verdict=decision.verdict,
            previous_verdict=previous,
            fingerprint=fingerprint,
            decision=body,
        )
        self._fold(gate)
        self.report.decisions.append(
            {"nvr": nvr, "verdict": decision.verdict, "previous": previous, "at": at}
        )
        outbox.plan_move(self, nvr, gate, decision.verdict, decision.summary, trigger, at)
        outbox.announce(self, nvr, gate, body, previous, trigger, at)
