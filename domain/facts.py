"""Normalized facts: what a translated message says, as plain frozen values.

Translators (in ``adapters.translate``) turn a raw message into a tuple of facts;
the application (``domain.application``) applies them to aggregates. Facts are
plain data so they can be built, compared and tested without any store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Outcomes, as Greenwave and ResultsDB spell them.
PASSED = "PASSED"
FAILED = "FAILED"
INFO = "INFO"
NEEDS_INSPECTION = "NEEDS_INSPECTION"
ERROR = "ERROR"
QUEUED = "QUEUED"
RUNNING = "RUNNING"
NOT_APPLICABLE = "NOT_APPLICABLE"
OUTCOMES = frozenset(
    {PASSED, FAILED, INFO, NEEDS_INSPECTION, ERROR, QUEUED, RUNNING, NOT_APPLICABLE}
)
# Ours, never read from input (not in OUTCOMES): the result of a message that failed its
# spec's JSON Schema (a Fedora CI message). It satisfies nothing and never outweighs a
# valid result; it only explains why a requirement has none.
INVALID = "INVALID"

# Subject types (Greenwave's names where Greenwave has one).
KOJI_BUILD = "koji_build"
KOJI_BUILD_SCRATCH = "koji_build_scratch"
KOJI_BUILD_GROUP = "koji_build_group"
BODHI_UPDATE = "bodhi_update"
COMPOSE = "compose"
DIST_GIT_COMMIT = "dist_git_commit"
DIST_GIT_PR = "dist_git_pr"

#: Other names of a subject type, as Greenwave's ``conf/subject_types`` declare them
#: (``koji_build``: ``aliases: [brew-build]``); WaiverDB stores them under the type.
SUBJECT_TYPE_ALIASES = {"brew-build": KOJI_BUILD}


def canonical_subject_type(subject_type: str) -> str:
    """The subject type an alias stands for (Greenwave treats them as one)."""
    return SUBJECT_TYPE_ALIASES.get(subject_type, subject_type)


# Koji build states (koji.BUILD_STATES).
BUILD_STATES = {0: "BUILDING", 1: "COMPLETE", 2: "DELETED", 3: "FAILED", 4: "CANCELED"}


@dataclass(frozen=True)
class ChangeKey:
    """A dist-git change: (namespace, repo, rev)."""

    namespace: str
    repo: str
    rev: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.repo}/{self.rev}"


@dataclass(frozen=True)
class ChangePushed:
    """A commit pushed to dist-git."""

    change: ChangeKey
    branch: str | None = None
    agent: str | None = None
    summary: str | None = None
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildStateChanged:
    """A koji build changed state (BUILDING, COMPLETE, FAILED, CANCELED, DELETED)."""

    nvr: str
    state: str
    old_state: str | None = None
    build_id: int | None = None
    task_id: int | None = None
    owner: str | None = None
    epoch: int | None = None
    source: str | None = None  # the SCM URL the build came from
    change: ChangeKey | None = None  # parsed from ``source`` when it is a dist-git URL


@dataclass(frozen=True)
class BuildTagged:
    nvr: str
    tag: str
    build_id: int | None = None
    user: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class BuildUntagged:
    nvr: str
    tag: str
    build_id: int | None = None
    user: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class BuildSigned:
    nvr: str
    sigkey: str | None
    rpm: str | None = None


@dataclass(frozen=True)
class KojiRepoChanged:
    """``buildsys.repo.init`` / ``repo.done`` for a tag."""

    tag: str
    repo_id: int | None
    state: str  # "init" or "done"


@dataclass(frozen=True)
class KojiTaskChanged:
    task_id: int
    state: str
    old_state: str | None = None
    method: str | None = None
    owner: str | None = None
    parent: int | None = None


@dataclass(frozen=True)
class KojiPackageListChanged:
    tag: str
    package: str
    action: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class TestResultReported:
    """A test result (or its queued/running precursor) about a subject.

    ``testcase`` follows the conventions Greenwave policies use. ``nvr`` and
    ``change`` link the result to a build and a dist-git change when the message
    names them, whatever the subject is. ``covered_nvrs`` lists the builds a
    group/batch subject covered; ``suspect_nvrs`` the builds a failing result
    named as culprits.
    """

    subject_type: str
    subject_identifier: str
    testcase: str
    outcome: str
    origin: str  # "ci-pipeline", "ci-messages", "resultsdb"
    scenario: str | None = None
    result_id: str | None = None
    ref_url: str | None = None
    note: str | None = None
    nvr: str | None = None
    change: ChangeKey | None = None
    stage: str | None = None  # legacy CI stage, e.g. "package.test.functional"
    pipeline_id: str | None = None
    covered_nvrs: tuple[str, ...] = ()
    suspect_nvrs: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # The ResultsDB result exactly as reported (API v2 shape), for Greenwave's verbose
    # answers; None when the result did not come from ResultsDB.
    record: dict[str, Any] | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class WaiverRecorded:
    subject_type: str
    subject_identifier: str
    testcase: str
    waived: bool
    waiver_id: str | None = None
    scenario: str | None = None
    product_version: str | None = None
    username: str | None = None
    comment: str | None = None
    # The WaiverDB waiver exactly as reported, for Greenwave's verbose answers.
    record: dict[str, Any] | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class BodhiUpdateChanged:
    """Something happened to a Bodhi update (``update.<action>``)."""

    alias: str
    action: str  # e.g. "request.testing", "status.testing", "complete.stable", "comment"
    builds: tuple[str, ...] = ()
    status: str | None = None
    request: str | None = None
    release: str | None = None
    user: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class BodhiComposeChanged:
    """Bodhi push/compose/mash progress (``compose.*``, ``mashtask.*``, ...)."""

    compose: str  # natural key: repo name or release-request
    phase: str  # e.g. "compose.start", "compose.complete", "mashtask.sync.wait"
    updates: tuple[str, ...] = ()
    release: str | None = None
    request: str | None = None
    success: bool | None = None
    agent: str | None = None


@dataclass(frozen=True)
class GreenwaveDecisionObserved:
    subject_type: str
    subject_identifier: str
    decision_context: str
    product_version: str | None
    policies_satisfied: bool
    summary: str | None = None
    unsatisfied: tuple[str, ...] = ()  # testcases of unsatisfied requirements


# Normalized compose statuses (``ComposeStatusChanged.status``).
COMPOSE_STARTED = "STARTED"
COMPOSE_FINISHED = "FINISHED"
COMPOSE_FAILED = "FAILED"
COMPOSE_STATUSES = frozenset({COMPOSE_STARTED, COMPOSE_FINISHED, COMPOSE_FAILED})

# Where a manifest was learned, most trusted first.
MANIFEST_SOURCES = ("compose", "depsolve", "definition")


@dataclass(frozen=True)
class ArtifactDefined:
    """An artifact definition (``config/artifacts/*.yaml``) as recorded by ``artifacts sync``.

    ``definition`` is the whole validated mapping; ``digest`` its canonical hash,
    so re-recording an unchanged definition changes nothing.
    """

    name: str
    kind: str
    digest: str
    definition: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    source: str | None = None  # the file it came from


@dataclass(frozen=True)
class ArtifactRetired:
    name: str
    reason: str | None = None


@dataclass(frozen=True)
class ManifestLearned:
    """The package set of an artifact, and where it was learned.

    ``packages`` maps *source* package names to the source NVR in the artifact
    (None when only the name is known, e.g. from the definition's own list).
    """

    artifact: str
    source: str  # one of MANIFEST_SOURCES
    digest: str
    packages: tuple[tuple[str, str | None], ...] = ()
    ref: str | None = None  # the compose id, repository or file it came from
    rpms: int = 0  # binary packages behind it, when known


@dataclass(frozen=True)
class ComposeStatusChanged:
    """A compose or image build reported a status (pungi, ODCS, CI pipelines, ours).

    ``ref`` is the compose's identity as its backend knows it (``odcs:42``,
    ``pungi:Fedora-Rawhide-20240101.n.0``, ``ostree:<ref>@<rev>``); ``compose``
    is our own compose key when the message echoes it back; ``target`` is what an
    artifact definition's ``match`` can recognize (an OSTree ref, a compose id).
    """

    ref: str
    status: str  # one of COMPOSE_STATUSES
    origin: str  # "pungi", "odcs", "ci-pipeline", "ci-messages", "relengotron"
    artifact: str | None = None
    compose: str | None = None
    target: str | None = None
    location: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class PolicySetActivated:
    """The gating policy set in force from this message on (``relengotron.policy.activated``).

    ``policies`` are the canonical policy documents (``Policy.canonical()``), whose
    hash ``policy_set_hash`` the translator checked; ``source`` is the directory they
    were read from.
    """

    policy_set_hash: str
    policies: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    source: str | None = None
    username: str | None = None


# Manual override actions (``relengotron.gate.override``).
OVERRIDE_ACTIONS = ("promote", "hold", "release")


@dataclass(frozen=True)
class GateOverridden:
    """Someone overrode the gate of a build: ``promote`` or ``hold`` it whatever the
    policies say, or ``release`` an earlier override. ``context`` is the decision
    context (None: every context)."""

    nvr: str
    action: str  # one of OVERRIDE_ACTIONS
    reason: str
    username: str | None = None
    context: str | None = None


@dataclass(frozen=True)
class TestRerunRequested:
    """Someone asked for a test of a build to run again (``relengotron.test.rerun``):
    the failed result stands until a newer one comes, or the rerun's deadline passes."""

    __test__ = False  # not a pytest class

    nvr: str
    testcase: str
    reason: str
    scenario: str | None = None
    username: str | None = None


Fact = (
    ChangePushed
    | BuildStateChanged
    | BuildTagged
    | BuildUntagged
    | BuildSigned
    | KojiRepoChanged
    | KojiTaskChanged
    | KojiPackageListChanged
    | TestResultReported
    | WaiverRecorded
    | BodhiUpdateChanged
    | BodhiComposeChanged
    | GreenwaveDecisionObserved
    | ArtifactDefined
    | ArtifactRetired
    | ManifestLearned
    | ComposeStatusChanged
    | PolicySetActivated
    | GateOverridden
    | TestRerunRequested
)
