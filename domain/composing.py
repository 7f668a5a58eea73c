"""Composing artifacts and coordinating pushes: what the composer decided.

These aggregates are written by the composer (``projections.processes.composer``), never
by message translation. Like the gating aggregates, their events carry the
trigger (the input message or decision after which they were taken) and its
message time, never the wall clock, so a replay re-derives them identically.

* ``ArtifactCompose`` — one compose of one artifact (key ``<artifact>#<n>``):
  planned with the changes and the chain of reasons that make it necessary,
  waiting for its parents' composes (and for the koji moves of the builds it
  carries), then requested through the outbox, started, finished or cancelled.
* ``PushRun`` — one Bodhi push batch through its stages: ``repos`` ->
  ``artifacts`` -> ``tests`` -> ``release`` -> ``done``; a failure stops it
  at its stage with the reason.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from relengotron.domain import ids
from relengotron.domain.stored import StoredAggregate

# ArtifactCompose states.
WAITING, REQUESTED, RUNNING, COMPOSED, FAILED, CANCELLED = (
    "waiting",
    "requested",
    "running",
    "composed",
    "failed",
    "cancelled",
)
# PushRun stages, in order.
PUSH_STAGES = ("repos", "artifacts", "tests", "release", "done")


class ArtifactCompose(StoredAggregate):
    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.artifact_compose_id(key)

    @event("Planned")
    def __init__(
        self,
        key: str,
        artifact: str,
        kind: str,
        generation: int,
        changes: list[dict[str, Any]],
        reasons: list[dict[str, Any]],
        waits_for: list[str],
        moves: list[str],
        push: str | None,
        trigger: str | None,
        at: str | None,
    ) -> None:
        self.key = key
        self.artifact = artifact
        self.state = WAITING

    @event("ChangesAdded")
    def add_changes(
        self,
        changes: list[dict[str, Any]],
        reasons: list[dict[str, Any]],
        waits_for: list[str],
        moves: list[str],
        trigger: str | None,
        at: str | None,
    ) -> None:
        """More changes for a compose that has not been requested yet."""

    @event("Requested")
    def request(self, action: str, backend: str, trigger: str | None, at: str | None) -> None:
        self.state = REQUESTED

    @event("Started")
    def start(self, ref: str, detail: str, trigger: str | None, at: str | None) -> None:
        self.state = RUNNING

    @event("Finished")
    def finish(
        self,
        outcome: str,
        ref: str | None,
        location: str | None,
        detail: str,
        trigger: str | None,
        at: str | None,
    ) -> None:
        self.state = outcome  # COMPOSED or FAILED

    @event("Cancelled")
    def cancel(self, reason: str, trigger: str | None, at: str | None) -> None:
        self.state = CANCELLED


class PushRun(StoredAggregate):
    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.push_run_id(key)

    @event("Opened")
    def __init__(
        self,
        key: str,
        release: str | None,
        request: str | None,
        updates: list[str],
        builds: list[str],
        problems: list[str],
        trigger: str | None,
        at: str | None,
    ) -> None:
        self.key = key
        self.stage = PUSH_STAGES[0]
        self.stopped: str | None = None

    @event("Advanced")
    def advance(
        self,
        stage: str,
        detail: str,
        composes: list[str],
        trigger: str | None,
        at: str | None,
    ) -> None:
        self.stage = stage

    @event("Stopped")
    def stop(self, stage: str, reason: str, trigger: str | None, at: str | None) -> None:
        self.stopped = reason
