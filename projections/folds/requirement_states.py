"""The machine-readable ``state`` of a requirement, beside Greenwave's ``type``.

Every requirement the decision API answers (and every one of a recorded decision shown
by the API or the page) carries one of :data:`STATES`: what a client acts on without
knowing every Greenwave answer type. An unknown type is never ``passed`` (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relengotron.policies.answers import (
    BATCH_INNOCENT,
    BATCH_PENDING,
    BATCH_RECHECK_PENDING,
    BATCH_UNRESOLVED,
    EXCLUDED,
    SIGNED,
    TEST_ERRORED,
    TEST_FAILED,
    TEST_MISSING,
    TEST_PASSED,
    UNSIGNED,
)
from relengotron.projections.folds.gating_state import MANUAL_HOLD, MANUAL_OVERRIDE

__all__ = ["STATES", "requirement_state", "with_states"]

STATES = (
    "passed", "pending", "overdue", "failed", "errored", "waived", "not-required", "invalid",
    "unsigned", "rerun-requested",
)  # fmt: skip
_STATE_OF_TYPE = {
    TEST_PASSED: "passed",
    BATCH_INNOCENT: "passed",
    EXCLUDED: "not-required",
    TEST_FAILED: "failed",
    TEST_ERRORED: "errored",
    BATCH_UNRESOLVED: "errored",
    BATCH_PENDING: "pending",
    BATCH_RECHECK_PENDING: "pending",
    # Signing (``!SignedRule``): pending until every rpm is signed with the key.
    SIGNED: "passed",
    UNSIGNED: "unsigned",
    # The decider's manual overrides: a release engineer accepted the build (as a waiver
    # does), or holds it until released.
    MANUAL_OVERRIDE: "waived",
    MANUAL_HOLD: "pending",
}


def requirement_state(req: Mapping[str, Any], *, overdue: bool = False) -> str:
    """The machine-readable state of a requirement (one of :data:`STATES`): a missing or
    incomplete result is ``pending``, or ``overdue`` when the caller says it waited too
    long; ``*-waived`` is ``waived``; ``excluded`` is ``not-required``; a requirement
    with only invalid messages (``invalid: true``) is ``invalid``."""
    type_ = str(req.get("type", ""))
    if type_.endswith("-waived"):
        return "waived"
    if req.get("invalid"):  # no valid result, only messages that failed their schema
        return "invalid"
    if req.get("rerun_deadline") and type_ in (TEST_FAILED, TEST_ERRORED):
        return "rerun-requested"  # a rerun is awaited (until the deadline)
    if type_ == TEST_MISSING:
        return "overdue" if overdue else "pending"
    state = _STATE_OF_TYPE.get(type_)
    if state is None:  # a type we do not know: never call it passed
        return "errored"
    return state


def with_states(decision: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A recorded decision with the machine-readable ``state`` on every requirement
    (recorded decisions are kept as the decider wrote them; ``overdue`` needs a clock,
    so a recorded missing result says ``pending``)."""
    if decision is None:
        return None
    out = dict(decision)
    for key in ("satisfied_requirements", "unsatisfied_requirements"):
        out[key] = [{**r, "state": requirement_state(r)} for r in decision.get(key, ())]
    return out
