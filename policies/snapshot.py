"""What a decision is made from: the subject and every result, waiver and batch status
the decider read from the log for it.

Views are plain values. ``position`` is the log position of the event that recorded the
view (larger = newer); the engine never looks at wall-clock time, so the same snapshot
always gives the same decision, in whatever order the tuples are given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from relengotron.policies.spec import Policy

__all__ = [
    "BATCH_INVALID",
    "BATCH_STATUSES",
    "BatchView",
    "RemoteFileView",
    "RemoteRuleInput",
    "RerunView",
    "ResultView",
    "SigningView",
    "Snapshot",
    "WaiverView",
    "first_value",
    "public_id",
]


def public_id(raw: object, event: str) -> int:
    """The id a result or waiver is known by in answers: ResultsDB's or WaiverDB's integer
    id when the source gave one. Otherwise (a result from a CI message, a waiver given
    here) a negative integer derived from the event that recorded it (its aggregate and
    version, which the input messages alone determine): the same in every store that
    recorded the same messages, so decisions stay a pure function of the input; never
    one of ResultsDB's or WaiverDB's ids (those are positive); within 2**48, so
    JavaScript reads it exactly."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        return int(raw)
    digest = hashlib.sha256(event.encode("utf-8")).digest()
    return -(int.from_bytes(digest[:6], "big") or 1)


def first_value(value: object) -> str | None:
    """A ResultsDB data value (a list of strings; the first counts, as in Greenwave's
    ``_answer_for_result``), or a plain value, as a string or None."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


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
    # Log position; larger = newer. The latest per (testcase, scenario, system_architecture,
    # system_variant) counts, as Greenwave asks ResultsDB (``DISTINCT_LATEST_RESULTS_ON``).
    position: int
    scenario: str | None = None
    result_id: int | str | None = None  # answers give it as ``public_id``
    stage: str | None = None  # legacy CI pipeline stage, e.g. "package.test.functional"
    pipeline: str | None = None  # legacy CI pipeline name, e.g. "allpackages-build"
    ref_url: str | None = None
    at: str | None = None  # ISO time the message was sent
    note: str | None = None  # an INVALID result's schema errors (the engine's detail)
    system_architecture: str | None = None  # from the result's data, as Greenwave reads it
    system_variant: str | None = None


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
    waiver_id: int | str | None = None
    product_version: str | None = None
    username: str | None = None
    comment: str | None = None


BATCH_STATUSES = (
    "passed",
    "suspect",
    "innocent",
    "pending",
    "recheck-pending",
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


# RemoteFileView.status values (adapters/dist_git.py records them, domain/remote_rules.py
# stores them).
REMOTE_FOUND = "found"
REMOTE_ABSENT = "absent"  # the server said 404
REMOTE_ERROR = "error"  # the fetch failed (timeout, 5xx): nothing is known


@dataclass(frozen=True)
class RemoteFileView:
    """A remote rule file (gating.yaml) as it was recorded: fetched once, read from the log
    ever after. ``policies`` are the file's policies already read (``PolicySet``
    canonical dicts, ``id`` may be ""), ``error`` the reason it could not be read
    (status found: the file is invalid; status error: the fetch failed)."""

    url: str
    status: str  # REMOTE_FOUND, REMOTE_ABSENT or REMOTE_ERROR
    event: str
    position: int
    content_hash: str | None = None  # "sha256:<hex>" of the bytes, when found
    policies: tuple[Policy, ...] = ()  # the file's policies, read when recorded
    error: str | None = None


@dataclass(frozen=True)
class RemoteRuleInput:
    """What a RemoteRule needs: the URL templates configured for the subject type
    (Greenwave's ``REMOTE_RULE_POLICIES``), the subject's source (namespace, name and
    revision in dist-git, from the build's source URL; None when unknown, with
    ``source_error`` saying why) and the files recorded for it."""

    templates: tuple[str, ...] = ()
    scm: tuple[str, str, str] | None = None  # (pkg_namespace, pkg_name, rev)
    source_error: str | None = None
    no_source: bool = False  # koji says the build has no source: pkg templates are skipped
    files: tuple[RemoteFileView, ...] = ()


@dataclass(frozen=True)
class RerunView:
    """A rerun someone asked for (``relengotron rerun``) that no newer result answered
    yet. Until its ``deadline`` (message time) a failed or errored result of the test
    older than the request holds the build instead of quarantining it; ``expired``:
    the deadline passed (resolved by the decider, from message time) and the failure
    stands again."""

    testcase: str
    event: str
    position: int
    scenario: str | None = None  # None: every scenario of the test
    requested_at: str | None = None
    deadline: str | None = None
    username: str | None = None
    expired: bool = False


@dataclass(frozen=True)
class SigningView:
    """Where the build's signing with one key stands (resolved by the decider from the
    log: koji's ``buildsys.rpm.sign`` messages and the outcome of our signing request).

    ``rpms``: every rpm of the build (``name-version-release.arch``) as koji listed them
    when signing was requested; None while not listed (nothing can be signed yet).
    ``signed``: the rpms koji said were signed with ``sigkey``. ``state``: the request's
    progress for people (``not-requested``, ``requested``, ``failed: ...``)."""

    sigkey: str
    rpms: tuple[str, ...] | None = None
    signed: tuple[str, ...] = ()
    state: str = "not-requested"
    event: str | None = None  # the latest signature's event
    # The requirement exactly as a recorded decision gave it (the decision API re-answers
    # a signing rule from the decider's record): (type, detail), shown as is.
    answer: tuple[str, str | None] | None = None


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
    remote: RemoteRuleInput | None = None  # None: no remote rule file is known
    # Several decision contexts asked at once (Greenwave's list): a gating.yaml policy
    # matches when it names any of them. Empty: ``decision_context`` alone.
    asked_contexts: tuple[str, ...] = ()
    # ISO 8601 time the subject was created (koji's build ``creation_time``; Greenwave
    # falls back to the time of the decision), for rules with ``valid_since``/
    # ``valid_until``. None: unknown, and dated rules count (fail closed).
    subject_time: str | None = None
    # Reruns asked for and not answered yet (``RerunView``).
    reruns: tuple[RerunView, ...] = ()
    # Signing with each key a SignedRule names (``SigningView``); none known: unsigned.
    signing: tuple[SigningView, ...] = ()
