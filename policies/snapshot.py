"""What a decision is made from: the subject and every result, waiver and batch status
the decider read from the log for it.

Views are plain values. ``position`` is the log position of the event that recorded the
view (larger = newer); the engine never looks at wall-clock time, so the same snapshot
always gives the same decision, in whatever order the tuples are given.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BATCH_INVALID", "BATCH_STATUSES", "BatchView", "ResultView", "Snapshot", "WaiverView"]


@dataclass(frozen=True)
class ResultView:
    """One test result (ResultsDB, CI messages, legacy CI pipeline stages)."""

    testcase: str
    # PASSED FAILED INFO NEEDS_INSPECTION ERROR QUEUED RUNNING NOT_APPLICABLE, or INVALID
    # (ours: a message that failed its spec's schema; ``note`` then has the errors)
    outcome: str
    subject_type: str
    subject_identifier: str
    event: str  # opaque reference of the event that recorded it, e.g. "<uuid>/<version>"
    position: int  # log position; larger = newer. The latest per (testcase, scenario) counts.
    scenario: str | None = None
    result_id: str | None = None
    stage: str | None = None  # legacy CI pipeline stage, e.g. "package.test.functional"
    pipeline: str | None = None  # legacy CI pipeline name, e.g. "allpackages-build"
    ref_url: str | None = None
    at: str | None = None  # ISO time the message was sent
    note: str | None = None


@dataclass(frozen=True)
class WaiverView:
    """One WaiverDB waiver; ``waived=False`` revokes an earlier waiver."""

    testcase: str
    waived: bool  # False = a revocation of an earlier waiver
    subject_type: str
    subject_identifier: str
    event: str
    position: int
    scenario: str | None = None
    waiver_id: str | None = None
    product_version: str | None = None
    username: str | None = None
    comment: str | None = None


BATCH_STATUSES = (
    "passed",
    "suspect",
    "innocent",
    "pending",
    "unresolved-hold",
    "unresolved-quarantine",
)
# Not a status of the check: no valid check covers the build, only invalid CI messages
# (``detail``: their schema errors). The engine answers "missing", marked ``invalid``.
BATCH_INVALID = "invalid"


@dataclass(frozen=True)
class BatchView:
    """Where this build stands in the batch integrity check (resolved by the decider, not by
    the engine)."""

    testcase: str
    status: str  # one of BATCH_STATUSES
    subject_identifier: str  # id of the koji-build-group check that gave this status
    event: str
    position: int
    result_id: str | None = None
    detail: str | None = None  # e.g. "bisection round 2 of 3", "named by the failing result"
    # The requirement's detail exactly as a recorded decision gave it (the decision API
    # re-answers a batch rule from the decider's record): shown as is, never re-worded.
    answer_detail: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The input of one evaluation."""

    subject_type: str  # "koji_build"
    subject_identifier: str  # the NVR
    package: str | None  # package name (from the NVR)
    product_version: str  # e.g. "fedora-rawhide"
    decision_context: str  # e.g. "rawhide_pending"
    results: tuple[ResultView, ...] = ()
    waivers: tuple[WaiverView, ...] = ()
    batch: tuple[BatchView, ...] = ()
