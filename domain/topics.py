"""The stored event topics, named once.

A stored event is a row whose ``topic`` is its class path (``module:Class.Event``):
the store's schema. Every fold, filter and query outside ``domain/`` names a topic
by one of these constants, and each fold finds its handler by the event class. The
constants are written out, not computed, because they are what is stored: moving or
renaming an event class must not change them. ``tests/unit/test_topics.py`` checks
that each one still resolves to the event class of that name; an old topic kept for
a moved class is registered with ``eventsourcing.utils.register_topic``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from eventsourcing.utils import get_topic, resolve_topic

H = TypeVar("H")

# domain.message
INBOUND_MESSAGE_RECEIVED = "domain.message:InboundMessage.Received"
REJECTED_INPUT_REJECTED = "domain.message:RejectedInput.Rejected"

# domain.subjects
SUBJECT_SEEN = "domain.subjects:Subject.Seen"
BUILD_SEEN = "domain.subjects:Build.Seen"
CHANGE_SEEN = "domain.subjects:Change.Seen"
UPDATE_SEEN = "domain.subjects:Update.Seen"
BUILD_STATE_CHANGED = "domain.subjects:Build.StateChanged"
BUILD_TAGGED = "domain.subjects:Build.Tagged"
BUILD_UNTAGGED = "domain.subjects:Build.Untagged"
BUILD_SIGNED = "domain.subjects:Build.Signed"
BUILD_RERUN_REQUESTED = "domain.subjects:Build.RerunRequested"
CHANGE_PUSHED = "domain.subjects:Change.Pushed"
CHANGE_BUILD_LINKED = "domain.subjects:Change.BuildLinked"
UPDATE_CHANGED = "domain.subjects:Update.Changed"
SUBJECT_RESULT_RECORDED = "domain.subjects:Subject.ResultRecorded"
SUBJECT_WAIVER_RECORDED = "domain.subjects:Subject.WaiverRecorded"
SUBJECT_GREENWAVE_DECISION_OBSERVED = "domain.subjects:Subject.GreenwaveDecisionObserved"

# domain.gating
GATE_OPENED = "domain.gating:Gate.Opened"
GATE_DECIDED = "domain.gating:Gate.Decided"
GATE_WITHDRAWN = "domain.gating:Gate.Withdrawn"
GATE_REOPENED = "domain.gating:Gate.Reopened"
GATE_FLAKY_FOUND = "domain.gating:Gate.FlakyFound"
BISECTION_STARTED = "domain.gating:Bisection.Started"
BISECTION_HALVES_REQUESTED = "domain.gating:Bisection.HalvesRequested"
BISECTION_FELL_BACK = "domain.gating:Bisection.FellBack"
BISECTION_RECHECK_REQUESTED = "domain.gating:Bisection.RecheckRequested"

# domain.outbox
ACTION_REQUESTED = "domain.outbox:Action.Requested"
ACTION_ATTEMPTED = "domain.outbox:Action.Attempted"
ACTION_COMPLETED = "domain.outbox:Action.Completed"
ACTION_CANCELLED = "domain.outbox:Action.Cancelled"

# domain.policyset
POLICY_LOG_OPENED = "domain.policyset:PolicyLog.Opened"
POLICY_LOG_ACTIVATED = "domain.policyset:PolicyLog.Activated"

# domain.overrides
GATE_OVERRIDE_OPENED = "domain.overrides:GateOverride.Opened"
GATE_OVERRIDE_RECORDED = "domain.overrides:GateOverride.Recorded"

# domain.koji
KOJI_TAG_SEEN = "domain.koji:KojiTag.Seen"
KOJI_TAG_REPO_CHANGED = "domain.koji:KojiTag.RepoChanged"
KOJI_TAG_PACKAGE_LIST_CHANGED = "domain.koji:KojiTag.PackageListChanged"
KOJI_TASK_SEEN = "domain.koji:KojiTask.Seen"
KOJI_TASK_STATE_CHANGED = "domain.koji:KojiTask.StateChanged"

# domain.push
PUSH_SEEN = "domain.push:Push.Seen"
PUSH_PROGRESSED = "domain.push:Push.Progressed"

# domain.artifacts
ARTIFACT_DEFINED = "domain.artifacts:Artifact.Defined"
ARTIFACT_REDEFINED = "domain.artifacts:Artifact.Redefined"
ARTIFACT_RETIRED = "domain.artifacts:Artifact.Retired"
ARTIFACT_MANIFEST_LEARNED = "domain.artifacts:Artifact.ManifestLearned"
COMPOSE_RUN_SEEN = "domain.artifacts:ComposeRun.Seen"
COMPOSE_RUN_STATUS_CHANGED = "domain.artifacts:ComposeRun.StatusChanged"

# domain.composing
ARTIFACT_COMPOSE_PLANNED = "domain.composing:ArtifactCompose.Planned"
ARTIFACT_COMPOSE_CHANGES_ADDED = "domain.composing:ArtifactCompose.ChangesAdded"
ARTIFACT_COMPOSE_REQUESTED = "domain.composing:ArtifactCompose.Requested"
ARTIFACT_COMPOSE_STARTED = "domain.composing:ArtifactCompose.Started"
ARTIFACT_COMPOSE_FINISHED = "domain.composing:ArtifactCompose.Finished"
ARTIFACT_COMPOSE_CANCELLED = "domain.composing:ArtifactCompose.Cancelled"
PUSH_RUN_OPENED = "domain.composing:PushRun.Opened"
PUSH_RUN_ADVANCED = "domain.composing:PushRun.Advanced"
PUSH_RUN_STOPPED = "domain.composing:PushRun.Stopped"

# domain.remote_rules
REMOTE_RULE_FILE_SEEN = "domain.remote_rules:RemoteRuleFile.Seen"
REMOTE_RULE_FILE_FETCHED = "domain.remote_rules:RemoteRuleFile.Fetched"
BUILD_SOURCE_SEEN = "domain.remote_rules:BuildSource.Seen"
BUILD_SOURCE_OBSERVED = "domain.remote_rules:BuildSource.Observed"

# domain.lifecycle
RELEASE_RUN_PLANNED = "domain.lifecycle:ReleaseRun.Planned"
RELEASE_RUN_STEP_DONE = "domain.lifecycle:ReleaseRun.StepDone"
RELEASE_RUN_STEP_FAILED = "domain.lifecycle:ReleaseRun.StepFailed"
RELEASE_RUN_FINISHED = "domain.lifecycle:ReleaseRun.Finished"


def topic_of(event: object) -> str:
    """The stored topic of an event: its class path."""
    return get_topic(type(event))


class EventHandlers(Generic[H]):
    """A fold's one handler table: each stored topic it reads, and its handler.

    Written as ``{topics.GATE_DECIDED: Fold._on_gate_decided, ...}`` so that a reader
    finds the handler of ``Gate.Decided`` by name; an event is looked up by its class
    (the class each topic resolves to, found on first use), a raw stored row by its
    topic. ``topics`` is what the fold asks the store for.
    """

    def __init__(self, table: Mapping[str, H]) -> None:
        self.table = dict(table)
        self.topics = tuple(self.table)
        self._by_class: dict[type, H] | None = None

    def __or__(self, other: EventHandlers[H]) -> EventHandlers[H]:
        return EventHandlers({**self.table, **other.table})

    def for_event(self, event: object) -> H | None:
        by_class = self._by_class
        if by_class is None:
            by_class = self._by_class = {resolve_topic(t): h for t, h in self.table.items()}
        return by_class.get(type(event))

    def for_topic(self, topic: str) -> H | None:
        return self.table.get(topic)
