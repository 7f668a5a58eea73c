"""Artifacts and the composes the world reports, as recorded from input messages.

An ``Artifact`` is a repository, OSTree, image or container we know how to
compose. Its definition (``config/artifacts/*.yaml``) and what we learn of its
package manifest arrive as messages (``relengotron.artifact.defined``,
``relengotron.manifest.learned``), so an auditor sees when and how each changed.
A ``ComposeRun`` is one compose as its backend reports it (pungi, ODCS, a koji
task, a CI pipeline), keyed by the backend's reference.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from relengotron.domain import ids
from relengotron.domain.stored import StoredAggregate


class Artifact(StoredAggregate):
    @staticmethod
    def create_id(name: str) -> UUID:
        return ids.artifact_id(name)

    @event("Defined")
    def __init__(
        self,
        msg: str,
        at: str | None,
        name: str,
        kind: str,
        definition: dict[str, Any],
        digest: str,
        source: str | None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.digest = digest
        self.retired = False
        self.manifests: dict[str, str] = {}  # source -> digest

    @event("Redefined")
    def redefine(
        self,
        msg: str,
        at: str | None,
        kind: str,
        definition: dict[str, Any],
        digest: str,
        source: str | None,
    ) -> None:
        self.kind = kind
        self.digest = digest
        self.retired = False

    @event("Retired")
    def retire(self, msg: str, at: str | None, reason: str | None) -> None:
        self.retired = True

    @event("ManifestLearned")
    def learn_manifest(
        self,
        msg: str,
        at: str | None,
        source: str,
        packages: dict[str, str | None],
        ref: str | None,
        rpms: int,
        digest: str,
    ) -> None:
        self.manifests[source] = digest


class ComposeRun(StoredAggregate):
    @staticmethod
    def create_id(ref: str) -> UUID:
        return ids.compose_run_id(ref)

    @event("Seen")
    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.status: str | None = None

    @event("StatusChanged")
    def change_status(
        self,
        msg: str,
        at: str | None,
        status: str,
        origin: str,
        artifact: str | None,
        compose: str | None,
        target: str | None,
        location: str | None,
        detail: str | None,
    ) -> None:
        self.status = status
