"""Test subjects and what happened to them.

A subject is anything a test result or a waiver can be about (Greenwave's
``subject_type`` + ``subject_identifier``). Builds and dist-git changes are
subjects with more to say: koji states and tags, pushes.

Every event names the message it came from (``msg``) and the time the message
was sent (``at``, ISO 8601 or None), so the audit trail leads back to the raw
message and decisions never need the wall clock.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from relengotron.domain import ids
from relengotron.domain.stored import StoredAggregate


class Subject(StoredAggregate):
    """Any test subject. Subclasses add what their kind knows."""

    @staticmethod
    def create_id(subject_type: str, identifier: str) -> UUID:
        return ids.subject_id(subject_type, identifier)

    @event("Seen")
    def __init__(self, subject_type: str, identifier: str) -> None:
        self.subject_type = subject_type
        self.identifier = identifier
        self.results = 0
        self.waivers = 0

    @event("ResultRecorded")
    def record_result(
        self,
        msg: str,
        at: str | None,
        subject_type: str,
        subject_identifier: str,
        testcase: str,
        outcome: str,
        origin: str,
        scenario: str | None,
        result_id: str | None,
        ref_url: str | None,
        note: str | None,
        nvr: str | None,
        change: str | None,
        stage: str | None,
        pipeline_id: str | None,
        covered_nvrs: list[str],
        suspect_nvrs: list[str],
        data: dict[str, Any],
        record: dict[str, Any] | None = None,  # added later: absent from older events
    ) -> None:
        self.results += 1

    @event("WaiverRecorded")
    def record_waiver(
        self,
        msg: str,
        at: str | None,
        testcase: str,
        waived: bool,
        waiver_id: str | None,
        scenario: str | None,
        product_version: str | None,
        username: str | None,
        comment: str | None,
        record: dict[str, Any] | None = None,  # added later: absent from older events
    ) -> None:
        self.waivers += 1

    @event("GreenwaveDecisionObserved")
    def observe_greenwave_decision(
        self,
        msg: str,
        at: str | None,
        decision_context: str,
        product_version: str | None,
        policies_satisfied: bool,
        summary: str | None,
        unsatisfied: list[str],
    ) -> None:
        pass


class Build(Subject):
    """A koji build, by NVR."""

    @event("Seen")
    def __init__(self, subject_type: str, identifier: str) -> None:
        super().__init__(subject_type, identifier)
        self.state: str | None = None
        self.koji_id: int | None = None
        self.owner: str | None = None
        self.change: str | None = None
        self.tags: list[str] = []

    @property
    def nvr(self) -> str:
        return self.identifier

    @event("StateChanged")
    def change_state(
        self,
        msg: str,
        at: str | None,
        state: str,
        old_state: str | None,
        build_id: int | None,
        task_id: int | None,
        owner: str | None,
        epoch: int | None,
        source: str | None,
        change: str | None,
    ) -> None:
        self.state = state
        self.koji_id = build_id if build_id is not None else self.koji_id
        self.owner = owner or self.owner
        self.change = change or self.change

    @event("Tagged")
    def tag(
        self,
        msg: str,
        at: str | None,
        tag: str,
        build_id: int | None,
        user: str | None,
        owner: str | None,
    ) -> None:
        if tag not in self.tags:
            self.tags.append(tag)
        self.koji_id = build_id if build_id is not None else self.koji_id
        self.owner = owner or self.owner

    @event("Untagged")
    def untag(
        self,
        msg: str,
        at: str | None,
        tag: str,
        build_id: int | None,
        user: str | None,
        owner: str | None,
    ) -> None:
        if tag in self.tags:
            self.tags.remove(tag)

    @event("Signed")
    def sign(self, msg: str, at: str | None, sigkey: str | None, rpm: str | None) -> None:
        pass

    @event("RerunRequested")
    def request_rerun(
        self,
        msg: str,
        at: str | None,
        testcase: str,
        scenario: str | None,
        reason: str,
        username: str | None,
    ) -> None:
        pass


class Change(Subject):
    """A dist-git change: namespace/repo#rev."""

    @event("Pushed")
    def push(
        self,
        msg: str,
        at: str | None,
        branch: str | None,
        agent: str | None,
        summary: str | None,
        files: list[str],
    ) -> None:
        pass

    @event("BuildLinked")
    def link_build(self, msg: str, at: str | None, nvr: str) -> None:
        pass


class Update(Subject):
    """A Bodhi update, by alias."""

    @event("Seen")
    def __init__(self, subject_type: str, identifier: str) -> None:
        super().__init__(subject_type, identifier)
        self.builds: list[str] = []
        self.status: str | None = None
        self.request: str | None = None

    @event("Changed")
    def change(
        self,
        msg: str,
        at: str | None,
        action: str,
        builds: list[str],
        status: str | None,
        request: str | None,
        release: str | None,
        user: str | None,
        title: str | None,
    ) -> None:
        if builds:
            self.builds = list(builds)
        self.status = status or self.status
        self.request = request if request is not None else self.request


SUBJECT_CLASSES: dict[str, type[Subject]] = {
    "koji_build": Build,
    "dist_git_commit": Change,
    "bodhi_update": Update,
}


def subject_class(subject_type: str) -> type[Subject]:
    return SUBJECT_CLASSES.get(subject_type, Subject)
