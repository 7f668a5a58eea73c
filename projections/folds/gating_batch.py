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

from relengotron.domain.facts import FAILED, INFO, NEEDS_INSPECTION, PASSED
from relengotron.policies.snapshot import BATCH_INVALID, BatchView
from relengotron.projections.folds.gating_state import GroupCheck
from relengotron.projections.folds.records import DecisionRecords

_PASSING = {PASSED, INFO}
_FAILING = {FAILED, NEEDS_INSPECTION}


def batch_views(
    nvr: str,
    checks_by_nvr: Mapping[str, Sequence[GroupCheck]],
    invalid_checks_by_nvr: Mapping[str, Sequence[GroupCheck]],
    records: DecisionRecords,
) -> tuple[BatchView, ...]:
    """For each batch testcase, where the build stands after the latest check covering
    it (``checks_by_nvr``: the valid checks by build; ``records``: the bisections)."""
    latest: dict[str, GroupCheck] = {}
    for check in checks_by_nvr.get(nvr, ()):
        latest[check.testcase] = check
    views = [_status(nvr, c, records) for c in latest.values()]
    invalid = {c.testcase: c for c in invalid_checks_by_nvr.get(nvr, ())}
    views += [  # no valid check for the testcase: say why (the policy engine)
        BatchView(c.testcase, BATCH_INVALID, c.group, c.event, c.position, None, c.note)
        for c in invalid.values()
        if c.testcase not in latest
    ]
    return tuple(views)


def _status(nvr: str, c: GroupCheck, records: DecisionRecords) -> BatchView:
    def view(status: str, detail: str) -> BatchView:
        return BatchView(
            testcase=c.testcase,
            status=status,
            subject_identifier=c.group,
            event=c.event,
            position=c.position,
            result_id=c.result_id,
            detail=detail,
        )

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
