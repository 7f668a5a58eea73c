"""The policy log: which gating policy set is in force, as input messages said.

``relengotron.policy.activated`` messages (recorded by ``relengotron`` whenever
the configured policy directory's content hash differs from the last one
activated) become ``PolicyLog.Activated`` events on the one policy log. The
decider follows them: from an activation on it decides with that set, so a
replay of the log knows which policies were in force at every point.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from relengotron.domain import ids
from relengotron.domain.stored import StoredAggregate

LOG_NAME = "gating"  # the one policy log (the policies name their decision contexts)


def policy_log_id(name: str = LOG_NAME) -> UUID:
    """A stored schema: never change it."""
    return uuid5(ids.NAMESPACE, f"policy-log:{name}")


class PolicyLog(StoredAggregate):
    @staticmethod
    def create_id(name: str) -> UUID:
        return policy_log_id(name)

    @event("Opened")
    def __init__(self, name: str) -> None:
        self.name = name
        self.policy_set_hash: str | None = None
        self.activations = 0

    @event("Activated")
    def activate(
        self,
        msg: str,
        at: str | None,
        policy_set_hash: str,
        policies: list[dict[str, Any]],
        source: str | None,
        username: str | None,
    ) -> None:
        self.policy_set_hash = policy_set_hash
        self.activations += 1
