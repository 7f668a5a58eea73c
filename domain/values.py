"""Plain values passed to and returned by the application."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relengotron.domain.facts import Fact


@dataclass(frozen=True)
class IncomingMessage:
    """A received message with its translation, ready to be recorded.

    ``key`` is the message id, or a content hash for bodies that carry none.
    ``status`` is one of ``domain.message``'s RECOGNIZED / UNRECOGNIZED / IGNORED.
    """

    key: str
    topic: str
    body: Any
    headers: dict[str, Any] = field(default_factory=dict)
    msg_id: str | None = None
    sent_at: str | None = None
    body_topic: str | None = None
    family: str | None = None
    status: str = "unrecognized"
    reason: str | None = None
    problems: tuple[str, ...] = ()
    facts: tuple[Fact, ...] = ()
    source: str | None = None  # where it came from: a file and line, or a queue
    #: base64 of the exact input when the stored body differs from it (domain.safe_text)
    original: str | None = None


@dataclass(frozen=True)
class RejectedLine:
    """Input that was not a message: one per line (or delivery), also when it repeats.

    ``raw`` is the text (store-safe); ``original`` the exact bytes as base64 when they
    differ from ``raw`` (not UTF-8, NUL characters, lone surrogates).
    """

    raw: str
    reason: str
    source: str | None = None
    line: int | None = None
    original: str | None = None


@dataclass(frozen=True)
class RecordOutcome:
    """What recording a batch did.

    ``recorded`` are the messages written, as written (a message whose id was
    already taken by a different message is recorded under a derived key, with
    a problem saying so). ``duplicate`` are the keys of redeliveries.
    """

    recorded: tuple[IncomingMessage, ...]
    duplicate: tuple[str, ...]
    events: int  # domain events written (messages and facts)

    @property
    def new(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.recorded)
