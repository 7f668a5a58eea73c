"""The gating view's state: what it keeps about each build, change, batch check,
the policy set in force and manual overrides (``projections.folds.gating`` folds it),
and the results and waivers it keeps as the engine sees them (``result_view``,
``waiver_view``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relengotron.policies.snapshot import ResultView, WaiverView, public_id
from relengotron.projections.folds.greenwave_records import arch_and_variant
from relengotron.projections.folds.records import package_of, ref


def creation_time(known: str | None, state: str, at: str | None) -> str | None:
    """A build's creation time after a koji state change: the send time of its first
    BUILDING message (koji sends it when it creates the build; Greenwave reads getBuild's
    ``creation_time``). The one rule for the decider and the read models."""
    if known is None and state == "BUILDING" and at:
        return at
    return known


@dataclass
class RerunState:
    """A rerun asked for a build's test (``Build.RerunRequested``) and what answered it."""

    testcase: str
    event: str
    position: int
    scenario: str | None = None
    at: str | None = None
    deadline: str | None = None
    reason: str = ""
    username: str | None = None
    msg: str | None = None
    answered_by: str | None = None  # the event of the first newer result of the test
    outcome: str | None = None  # that result's outcome
    flaky: bool = False  # the test had failed, and passed on this rerun


@dataclass
class BuildState:
    nvr: str
    owner: str | None = None
    koji_id: int | None = None
    change: str | None = None
    tags: set[str] = field(default_factory=set)
    results: list[ResultView] = field(default_factory=list)
    waivers: list[WaiverView] = field(default_factory=list)
    # When koji created the build: the send time of its BUILDING message (koji sends it
    # on creation; Greenwave reads getBuild's creation_time) for dated rules.
    created: str | None = None
    # koji's rpm.sign messages: sigkey (lower case) -> the rpms signed with it, and the
    # event of the latest signature.
    signatures: dict[str, list[str]] = field(default_factory=dict)
    signed_by: str | None = None
    reruns: list[RerunState] = field(default_factory=list)
    task_id: int | None = None  # koji's build task (a rerun request names it, as Bodhi's)

    @property
    def package(self) -> str | None:
        return package_of(self.nvr)


@dataclass
class ChangeState:
    identifier: str
    nvrs: set[str] = field(default_factory=set)
    results: list[ResultView] = field(default_factory=list)
    waivers: list[WaiverView] = field(default_factory=list)


@dataclass(frozen=True)
class GroupCheck:
    """A result about a koji-build-group (a batch integrity check)."""

    group: str
    testcase: str
    outcome: str
    covered: tuple[str, ...]
    suspects: tuple[str, ...]
    position: int
    event: str
    result_id: str | None
    at: str | None
    note: str | None = None  # an INVALID check's schema errors


@dataclass(frozen=True)
class ActivePolicies:
    """The policy set the log says is in force (``PolicyLog.Activated``)."""

    policy_set_hash: str
    policies: tuple[dict[str, Any], ...]
    msg: str
    event: str
    at: str | None


# Requirement types of manual overrides (ours, next to Greenwave's): the decider adds
# one to the decision of an overridden build; the read side names its state.
MANUAL_OVERRIDE = "manual-override"
MANUAL_HOLD = "manual-hold"


@dataclass(frozen=True)
class OverrideState:
    """A manual override in force on a build (``GateOverride.Recorded``)."""

    action: str  # promote | hold
    reason: str
    username: str | None
    msg: str
    event: str
    at: str | None


def result_view(e: Any, position: int) -> ResultView:
    """A result as the engine sees it, from its ``Subject.ResultRecorded`` event."""
    data = e.data if isinstance(e.data, dict) else {}
    arch, variant = arch_and_variant(data)
    return ResultView(
        testcase=e.testcase,
        outcome=e.outcome,
        subject_type=e.subject_type,
        subject_identifier=e.subject_identifier,
        event=ref(e),
        position=position,
        scenario=e.scenario,
        result_id=public_id(e.result_id, ref(e)),
        stage=e.stage,
        pipeline=data.get("pipeline"),
        ref_url=e.ref_url,
        at=e.at,
        note=e.note,  # an INVALID result's schema errors (the engine's detail)
        system_architecture=arch,
        system_variant=variant,
    )


def waiver_view(e: Any, position: int, subject_type: str, ident: str) -> WaiverView:
    """A waiver as the engine sees it, of the subject ``subject_type`` ``ident``."""
    return WaiverView(
        testcase=e.testcase,
        waived=e.waived,
        subject_type=subject_type,
        subject_identifier=ident,
        event=ref(e),
        position=position,
        scenario=e.scenario,
        waiver_id=public_id(e.waiver_id, ref(e)),
        product_version=e.product_version,
        username=e.username,
        comment=e.comment,
    )
