"""Raw input, kept whole: every received message, and every line that was not one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids

# The stored topic of a received message (a class path: a schema, see the README).
RECEIVED_TOPIC = "domain.message:InboundMessage.Received"

RECOGNIZED = "recognized"
UNRECOGNIZED = "unrecognized"
IGNORED = "ignored"
INVALID = "invalid"  # recognized, and failed its spec's JSON Schema: not processed


class InboundMessage(Aggregate):
    """A message as received: topic, headers, body, id, time, and how it was read.

    Its id is ``domain.ids.message_id(key)``: creating it twice conflicts, which
    is how a redelivered message is recognized as a duplicate.
    """

    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.message_id(key)

    @event("Received")
    def __init__(
        self,
        key: str,
        msg_id: str | None,
        topic: str,
        body_topic: str | None,
        headers: dict[str, Any],
        body: Any,
        sent_at: str | None,
        family: str | None,
        status: str,
        reason: str | None,
        problems: list[str],
        facts: int,
        source: str | None,
    ) -> None:
        self.key = key
        self.topic = topic
        self.family = family
        self.status = status


class RejectedInput(Aggregate):
    """Input that was not a message (bad JSON, no topic, not an object), kept verbatim."""

    @staticmethod
    def create_id(raw: str) -> UUID:
        return ids.rejected_id(raw)

    @event("Rejected")
    def __init__(self, raw: str, reason: str, source: str | None, line: int | None) -> None:
        self.raw = raw
        self.reason = reason
