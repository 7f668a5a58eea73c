"""Raw input, kept whole: every received message, and every line that was not one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from relengotron.domain import ids, topics
from relengotron.domain.stored import StoredAggregate

# The stored topic of a received message (a class path: a schema, see the README).
RECEIVED_TOPIC = topics.INBOUND_MESSAGE_RECEIVED

RECOGNIZED = "recognized"
UNRECOGNIZED = "unrecognized"
IGNORED = "ignored"
INVALID = "invalid"  # recognized, and failed its spec's JSON Schema: not processed


class InboundMessage(StoredAggregate):
    """A message as received: topic, headers, body, id, time, and how it was read.

    Its id is ``domain.ids.message_id(key)``: creating it twice conflicts, which
    is how a redelivered message is recognized as a duplicate.
    """

    @staticmethod
    def create_id(key: str) -> UUID:
        return ids.message_id(key)

    class Received(StoredAggregate.Created):
        """Declared (not only named) so that ``original``, added by issue 14, reads as
        None on events written before it."""

        key: str
        msg_id: str | None
        topic: str
        body_topic: str | None
        headers: dict[str, Any]
        body: Any
        sent_at: str | None
        family: str | None
        status: str
        reason: str | None
        problems: list[str]
        facts: int
        source: str | None
        original: str | None = None

    @event(Received)
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
        original: str | None = None,
    ) -> None:
        self.key = key
        self.topic = topic
        self.family = family
        self.status = status


class RejectedInput(StoredAggregate):
    """Input that was not a message (bad JSON, no topic, not an object), kept verbatim:
    one per line or delivery (``ids.rejected_line_id``), the exact bytes as base64 in
    ``original`` when ``raw`` cannot be them. Stores written before issue 14 hold records
    named by content alone (``ids.rejected_id``), without ``original``: read the same."""

    @staticmethod
    def create_id(
        raw: str, source: str | None, line: int | None, original: str | None = None
    ) -> UUID:
        return ids.rejected_line_id(source, line, raw, original)

    class Rejected(StoredAggregate.Created):
        """Declared so that ``original`` reads as None on events written before it."""

        raw: str
        reason: str
        source: str | None
        line: int | None
        original: str | None = None

    @event(Rejected)
    def __init__(
        self,
        raw: str,
        reason: str,
        source: str | None,
        line: int | None,
        original: str | None = None,
    ) -> None:
        self.raw = raw
        self.reason = reason
