"""Gating: a build's way through the pending tag, and the bisection of failing batches.

These aggregates are written by the decider (``projections.processes.decider``), never by
message translation. Their events name what triggered them (``trigger``: the key
of the input message after which the decision was taken) and the time of that
message (``at``), never the wall clock, so a replay re-derives them identically.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from relengotron.domain import ids
from relengotron.domain.stored import StoredAggregate

# Gate states, as ``relengotron status`` shows them.
CANDIDATE, PROMOTED, QUARANTINED, HELD, WAIVED, OBSOLETED = (
    "candidate",
    "promoted",
    "quarantined",
    "held",
    "waived",
    "obsoleted",
)
# The state a decided verdict puts a gate in; "promote" leaves it a candidate until
# its move is done.
_STATE_OF_VERDICT = {"quarantine": QUARANTINED, "waived": WAIVED, "hold": HELD}


def gate_state(verdict: str | None, *, withdrawn: bool, promoted: bool) -> str:
    """A gate's state, as ``relengotron status`` and the read models show it."""
    if withdrawn:
        return OBSOLETED
    if promoted:
        return PROMOTED
    return _STATE_OF_VERDICT.get(verdict or "", CANDIDATE)


class Gate(StoredAggregate):
    """One build in one decision context (e.g. ``rawhide_pending``)."""

    @staticmethod
    def create_id(context: str, nvr: str) -> UUID:
        return ids.gate_id(context, nvr)

    @event("Opened")
    def __init__(
        self,
        context: str,
        nvr: str,
        package: str | None,
        tag: str,
        trigger: str | None,
        at: str | None,
    ) -> None:
        self.context = context
        self.nvr = nvr
        self.package = package
        self.open = True
        self.verdict: str | None = None
        self.fingerprint: str | None = None
        self.decision: dict[str, Any] | None = None
        self.withdrawn: str | None = None

    @event("Decided")
    def decide(
        self,
        trigger: str | None,
        at: str | None,
        verdict: str,
        previous_verdict: str | None,
        fingerprint: str,
        decision: dict[str, Any],
    ) -> None:
        self.verdict = verdict
        self.fingerprint = fingerprint
        self.decision = decision

    @event("Withdrawn")
    def withdraw(
        self, trigger: str | None, at: str | None, reason: str, detail: str, by: str | None
    ) -> None:
        """The build stopped being a candidate by other means than our moves."""
        self.open = False
        self.withdrawn = reason

    @event("Reopened")
    def reopen(self, trigger: str | None, at: str | None, tag: str) -> None:
        self.open = True
        self.withdrawn = None

    @event("FlakyFound")
    def find_flaky(
        self,
        trigger: str | None,
        at: str | None,
        testcase: str,
        scenario: str | None,
        rerun: str,
        failed: str | None,
        passed: str,
    ) -> None:
        """A test of the build failed, a rerun was asked for (``rerun``: its event) and
        it passed on it: flaky. ``failed``/``passed``: the events of the two results."""


class Bisection(StoredAggregate):
    """Narrowing down the culprit(s) of a failing batch integrity check."""

    @staticmethod
    def create_id(context: str, group: str) -> UUID:
        return ids.bisection_id(context, group)

    @event("Started")
    def __init__(
        self,
        context: str,
        group: str,
        testcase: str,
        covered: list[str],
        max_rounds: int,
        deadline: str | None,
        failing_event: str,
        trigger: str | None,
        at: str | None,
    ) -> None:
        self.context = context
        self.group = group
        self.requested: dict[str, list[str]] = {}

    @event("HalvesRequested")
    def request_halves(
        self,
        trigger: str | None,
        at: str | None,
        parent: str,
        round: int,
        halves: dict[str, list[str]],
    ) -> None:
        self.requested.update(halves)

    @event("RecheckRequested")
    def request_recheck(
        self,
        trigger: str | None,
        at: str | None,
        group: str,
        nvrs: list[str],
        suspects: list[str],
        number: int,
    ) -> None:
        """The suspects found left the pending tag: the rest (``nvrs``) is checked again
        as ``group`` (the ``number``-th re-check of this bisection)."""
        self.requested[group] = list(nvrs)

    @event("FellBack")
    def fall_back(
        self,
        trigger: str | None,
        at: str | None,
        group: str,
        nvrs: list[str],
        fallback: str,
        reason: str,
    ) -> None:
        pass
