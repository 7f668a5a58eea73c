"""Manual gate overrides: a person promotes or holds a build whatever the policies say.

``relengotron.gate.override`` messages become ``GateOverride.Recorded`` events,
one stream per build and decision context. The Gate itself is written only by
the decider, which folds these events and records the overridden decision.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import event

from relengotron.domain import ids
from relengotron.domain.stored import StoredAggregate

ANY_CONTEXT = "*"


def override_id(context: str | None, nvr: str) -> UUID:
    """A stored schema: never change it. ``context`` None: an override for every context."""
    return uuid5(ids.NAMESPACE, f"gate-override:{context or ANY_CONTEXT}:{nvr}")


class GateOverride(StoredAggregate):
    @staticmethod
    def create_id(context: str | None, nvr: str) -> UUID:
        return override_id(context, nvr)

    @event("Opened")
    def __init__(self, context: str | None, nvr: str) -> None:
        self.context = context
        self.nvr = nvr
        self.action: str | None = None

    @event("Recorded")
    def record(
        self, msg: str, at: str | None, action: str, reason: str, username: str | None
    ) -> None:
        self.action = None if action == "release" else action
