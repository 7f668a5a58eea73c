"""Bisection of failing batch integrity checks (the decider's ``Bisector``).

A failing check of a koji-build-group that names no suspects and covers more
than one candidate is split in two halves; a check of each half is requested
(a ``batch.check.requested`` message through the outbox). Halves that pass
clear their builds; halves that fail are split again, until a failing group
holds one build (the suspect). Bound: ``max_rounds`` rounds and a deadline in
message time; past either, the configured fallback (hold or quarantine)
applies to the builds still undecided, and the reason says which bound hit.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol, cast

from relengotron.domain import ids
from relengotron.domain.gating import Bisection
from relengotron.domain.outbox import BUS_PUBLISH
from relengotron.projections.config import GatingConfig
from relengotron.projections.folds.gating import GatingView, package_of
from relengotron.projections.folds.gating_batch import settled
from relengotron.projections.folds.gating_reruns import plus_hours
from relengotron.projections.folds.records import BisectionState
from relengotron.projections.processes.follower import Host
from relengotron.projections.processes.outbox import Outbox


class BisectionCount(Protocol):
    """The part of the decider's report the bisector keeps: its steps."""

    bisections: int


class Bisector:
    """Bisects the decider's failing batch checks and applies their bounds."""

    def __init__(
        self, host: Host[GatingView, GatingConfig, BisectionCount], outbox: Outbox
    ) -> None:
        self.host = host
        self.outbox = outbox

    def aggregate(self, root: str) -> Bisection:
        """The bisection started by the failing check of the group ``root``."""
        config = self.host.config
        return cast(Bisection, self.host.get(ids.bisection_id(config.decision_context, root)))

    def bisect(
        self, group: str, testcases: Collection[str], trigger: str | None, at: str | None
    ) -> None:
        """Split the group's failing check of a batch testcase (one of ``testcases``)
        in two, or fall back if the bound of rounds is reached."""
        host = self.host
        view, config = host.view, host.config
        check = view.checks[group][-1]
        if check.testcase not in testcases:
            return
        if check.outcome not in ("FAILED", "NEEDS_INSPECTION") or check.suspects:
            return
        members = check.covered or view.members(group)
        candidates = view.candidates_in(members)
        if len(candidates) < 2:
            return
        root = view.group_root.get(group)
        if root is None:
            deadline = plus_hours(at, config.bisection_timeout_hours)
            bisection = Bisection(
                config.decision_context,
                group,
                check.testcase,
                list(candidates),
                config.max_rounds,
                deadline,
                check.event,
                trigger,
                at,
            )
            host.add(bisection)
            root = group
        state = view.bisections[root]
        if group in state.split or group in state.fallback:
            return
        agg = self.aggregate(root)
        next_round = state.rounds.get(group, 0) + 1
        if next_round > state.max_rounds:
            reason = f"the bound of {state.max_rounds} rounds was reached"
            self._fall_back(agg, group, candidates, reason, trigger, at)
            return
        half = len(candidates) // 2
        halves = {f"{group}/a": list(candidates[:half]), f"{group}/b": list(candidates[half:])}
        agg.request_halves(trigger=trigger, at=at, parent=group, round=next_round, halves=halves)
        host.fold(agg)
        host.report.bisections += 1
        for name, nvrs in halves.items():
            self.outbox.request(
                f"{agg.id}:{name}:check",
                BUS_PUBLISH,
                {"kind": "batch.check.requested", "body": self._check_body(name, nvrs, agg, at)},
                None,
                f"bisection of {root}, round {next_round}",
                trigger,
                at,
            )

    def _check_body(
        self, group: str, nvrs: list[str], agg: Bisection, at: str | None
    ) -> dict[str, Any]:
        view = self.host.view
        state = view.bisections[agg.group]
        parent, _, half = group.rpartition("/")
        return {
            "artifact": {
                "type": "koji-build-group",
                "id": group,
                "builds": [
                    {
                        "type": "koji-build",
                        "nvr": nvr,
                        "component": package_of(nvr),
                        "issuer": view.build(nvr).owner,
                        "id": view.build(nvr).koji_id,
                        "scratch": False,
                    }
                    for nvr in nvrs
                ],
                "repository": None,
            },
            "testcase": state.testcase,
            "bisection": {
                "parent": parent,
                "round": state.rounds[group],
                "max_rounds": state.max_rounds,
                "half": half,
            },
            "generated_at": at,
            "version": "1.0.0",
        }

    def touch(self, groups: Collection[str], testcases: Collection[str]) -> None:
        """A check of one group of a bisection whose batch is re-checked after quarantine
        can change where every build of it stands: evaluate them all again."""
        view = self.host.view
        for group in groups:
            state = view.bisections.get(view.group_root.get(group, ""))
            if state is not None and state.testcase in testcases:
                view.dirty.update(view.candidates_in(state.members[state.root]))

    def rechecks(self, testcases: Collection[str], trigger: str | None, at: str | None) -> None:
        """Check the rest of a bisected batch again once the suspects it found left the
        pending tag (for the batch testcases whose policy asks for it); bounded by
        ``max_rechecks``, past which the fallback applies to the rest."""
        if not testcases:
            return
        view, config = self.host.view, self.host.config
        for state in view.bisections_in_order():
            if state.testcase not in testcases:
                continue
            done, suspects = settled(state, view.checks)
            new = [n for n in suspects if n not in state.handled]
            if done and not new and self._unexplained(state):
                last = state.rechecks[-1]
                reason = f"re-check {last} failed and its bisection named no suspect"
                held = view.candidates_in(state.members[last])
                self._fall_back(self.aggregate(state.root), last, held, reason, trigger, at)
                continue
            if not done or not new or not all(self._left(n) for n in new):
                continue
            gone = set(suspects)
            given_up = {n for g in state.fallback for n in state.members.get(g, ())}
            rest = [
                n for n in view.candidates_in(state.members[state.root])
                if n not in gone and n not in given_up
            ]  # fmt: skip
            if not rest:
                continue
            agg = self.aggregate(state.root)
            number = len(state.rechecks) + 1
            if number > config.max_rechecks:
                last = state.rechecks[-1] if state.rechecks else state.root
                if last not in state.fallback:
                    reason = f"the bound of {config.max_rechecks} re-checks was reached"
                    self._fall_back(agg, last, tuple(rest), reason, trigger, at)
                continue
            group = f"{state.root}/recheck-{number}"
            agg.request_recheck(
                trigger=trigger, at=at, group=group, nvrs=rest, suspects=new, number=number
            )
            self.host.fold(agg)
            self.host.report.bisections += 1
            body = self._check_body(group, rest, agg, at)
            body["bisection"].update(round=1, half=None, parent=state.root, recheck=number)
            self.outbox.request(
                f"{agg.id}:{group}:check",
                BUS_PUBLISH,
                {"kind": "batch.check.requested", "body": body},
                None,
                f"re-check {number} of {state.root} after {', '.join(new)} left",
                trigger,
                at,
            )

    def _unexplained(self, state: BisectionState) -> bool:
        """The latest re-check failed, yet every group of its bisection passed."""
        if not state.rechecks or state.rechecks[-1] in state.fallback:
            return False
        checks = self.host.view.checks.get(state.rechecks[-1])
        return bool(checks) and checks[-1].outcome in ("FAILED", "NEEDS_INSPECTION")

    def _left(self, nvr: str) -> bool:
        """Whether a suspect left the pending tag (moved by us, or by someone)."""
        view, pending = self.host.view, self.host.config.pending_tag
        gate = view.gates.get(nvr)
        if gate is not None and (not gate.open or gate.location not in (None, pending)):
            return True
        build = view.builds.get(nvr)
        return build is not None and pending not in build.tags

    def deadlines(self, trigger: str | None, at: str | None) -> None:
        """Fall back on every unsettled group of a bisection past its deadline."""
        view = self.host.view
        now = view.now
        if now is None:
            return
        for state in view.bisections_in_order():
            root = state.root
            if state.deadline is None or now <= state.deadline:
                continue
            for group, members in state.members.items():
                if group in state.fallback or group in state.split:
                    continue
                checks = view.checks.get(group)
                latest = checks[-1] if checks else None
                if latest is not None and (
                    latest.outcome in ("PASSED", "INFO") or latest.suspects or len(members) < 2
                ):
                    continue  # settled
                candidates = view.candidates_in(members)
                if not candidates:
                    continue
                reason = f"no answer by the deadline {state.deadline}"
                self._fall_back(self.aggregate(root), group, candidates, reason, trigger, at)

    def _fall_back(
        self,
        agg: Bisection,
        group: str,
        candidates: tuple[str, ...],
        reason: str,
        trigger: str | None,
        at: str | None,
    ) -> None:
        agg.fall_back(
            trigger=trigger,
            at=at,
            group=group,
            nvrs=list(candidates),
            fallback=self.host.config.fallback,
            reason=reason,
        )
        self.host.fold(agg)
        self.host.report.bisections += 1
