"""Where a build stands in batch integrity checks: the gating view's ``BatchView`` s.

A batch check is a result about a koji-build-group (``GroupCheck``, folded by
``projections.folds.gating``). For each batch testcase, the latest check covering a
build says where it stands: passed, a suspect or innocent when the failing check named
suspects, pending while a bisection (``projections.folds.records``) narrows a failing
group down, unresolved when the bisection gave up or the check errored. A testcase with
only invalid checks says why there is no status: the policy engine answers that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from relengotron.domain.facts import FAILED, INFO, NEEDS_INSPECTION, PASSED
from relengotron.policies.snapshot import BATCH_INVALID, BatchView
from relengotron.projections.folds.gating_state import GroupCheck
from relengotron.projections.folds.records import BisectionState, DecisionRecords

_PASSING = {PASSED, INFO}
_FAILING = {FAILED, NEEDS_INSPECTION}


def batch_views(
    nvr: str,
    checks_by_nvr: Mapping[str, Sequence[GroupCheck]],
    invalid_checks_by_nvr: Mapping[str, Sequence[GroupCheck]],
    records: DecisionRecords,
    rechecked: Rechecked | None = None,
) -> tuple[BatchView, ...]:
    """For each batch testcase, where the build stands after the latest check covering
    it (``checks_by_nvr``: the valid checks by build; ``records``: the bisections;
    ``rechecked``: the testcases whose policy asks for a re-check after quarantine, and
    every group's checks)."""
    latest: dict[str, GroupCheck] = {}
    for check in checks_by_nvr.get(nvr, ()):
        latest[check.testcase] = check
    views = []
    for c in latest.values():
        recheck = None
        if rechecked is not None and c.testcase in rechecked.testcases:
            recheck = _recheck_status(nvr, c, records, rechecked)
        views.append(recheck or _status(nvr, c, records))
    invalid = {c.testcase: c for c in invalid_checks_by_nvr.get(nvr, ())}
    views += [  # no valid check for the testcase: say why (the policy engine)
        BatchView(c.testcase, BATCH_INVALID, c.group, c.event, c.position, None, c.note)
        for c in invalid.values()
        if c.testcase not in latest
    ]
    return tuple(views)


def _view(c: GroupCheck, status: str, detail: str) -> BatchView:
    return BatchView(
        testcase=c.testcase,
        status=status,
        subject_identifier=c.group,
        event=c.event,
        position=c.position,
        result_id=c.result_id,
        detail=detail,
    )


@dataclass(frozen=True)
class Rechecked:
    testcases: frozenset[str]
    checks: Mapping[str, Sequence[GroupCheck]]  # group -> its checks, in order
    pending_tag: str


def settled(
    s: BisectionState, checks: Mapping[str, Sequence[GroupCheck]]
) -> tuple[bool, list[str]]:
    """Whether every group of a bisection has its answer (passed, a suspect, or given
    up on), and the suspects found, in the order found."""
    suspects: list[str] = []
    done = True
    for group, members in s.members.items():
        if group in s.split or group in s.fallback:
            continue
        found = checks.get(group)
        if not found:
            done = False
            continue
        last = found[-1]
        if last.outcome in _PASSING:
            continue
        if last.outcome in _FAILING and (last.suspects or len(members) == 1):
            suspects += [n for n in (last.suspects or members) if n not in suspects]
        else:
            done = False  # being bisected, or errored (it must be re-run)
    return done, suspects


def _recheck_status(
    nvr: str, c: GroupCheck, records: DecisionRecords, r: Rechecked
) -> BatchView | None:
    """A build a bisection cleared passes only once the rest, checked again after the
    suspects left the pending tag, passed. None: as without re-checks."""
    s = records.bisections.get(records.group_root.get(c.group, ""))
    if s is None or c.outcome not in _PASSING:
        return None
    for group, fallback in s.fallback.items():
        if nvr in s.members.get(group, ()):
            reason = s.fallback_reason[group]
            return _view(c, f"unresolved-{fallback}", f"bisection of {s.root} gave up: {reason}")
    done, suspects = settled(s, r.checks)
    if not done:
        return _view(c, "pending", f"cleared by {c.group}; bisecting {s.root} goes on")
    new = [n for n in suspects if n not in s.handled]
    if new:
        return _view(
            c,
            "recheck-pending",
            f"cleared by {c.group}; the rest of {s.root} is checked again once "
            f"{', '.join(new)} left {r.pending_tag}",
        )
    if suspects and s.rechecks and c.group != s.rechecks[-1]:
        return _view(
            c, "recheck-pending", f"cleared by {c.group}; re-check {s.rechecks[-1]} requested"
        )
    if suspects:
        return _view(c, "passed", f"re-check {c.group} of the rest passed after quarantine")
    return None


def _status(nvr: str, c: GroupCheck, records: DecisionRecords) -> BatchView:
    def view(status: str, detail: str) -> BatchView:
        return _view(c, status, detail)

    covered = c.covered or records.members(c.group)
    if c.outcome in _PASSING:
        return view("passed", f"batch check {c.group} passed ({len(covered)} builds)")
    if c.outcome in _FAILING:
        if c.suspects:
            if nvr in c.suspects:
                return view("suspect", f"named as a suspect by the failing check {c.group}")
            return view("innocent", f"the failing check {c.group} named other suspects")
        if len(covered) == 1:
            return view("suspect", f"the only build covered by the failing check {c.group}")
        s = records.bisections.get(records.group_root.get(c.group, ""))
        for group, fallback in s.fallback.items() if s is not None else ():
            if s is not None and nvr in s.members.get(group, ()):
                return view(
                    f"unresolved-{fallback}",
                    f"bisection of {s.root} gave up on {group}: {s.fallback_reason[group]}",
                )
        if s is not None:
            return view(
                "pending",
                f"bisecting {s.root}: {c.group} failed in round "
                f"{s.rounds.get(c.group, 0)} of at most {s.max_rounds}",
            )
        return view("pending", f"batch check {c.group} failed; bisection starting")
    if c.outcome == "ERROR":
        return view("unresolved-hold", f"batch check {c.group} errored; it must be re-run")
    return view("pending", f"batch check {c.group} is {c.outcome.lower()}")
