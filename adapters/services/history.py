"""A subject's history: its events, each with the message it came from
(``relengotron events``, the API's event listing)."""

from __future__ import annotations

from typing import Any

from relengotron.domain import ids
from relengotron.domain.application import RelengApp

_INTERNAL = {"originator_id", "originator_version", "timestamp", "msg", "at"}


def subject_history(app: RelengApp, subject_type: str, identifier: str) -> list[dict[str, Any]]:
    """A subject's events, oldest first, each with the message it came from."""
    topics: dict[str, str | None] = {}
    listing: list[dict[str, Any]] = []
    for e in app.events.get(ids.subject_id(subject_type, identifier)):
        key = getattr(e, "msg", None)
        if key is not None and key not in topics:
            stored = app.stored_message(key)
            topics[key] = stored.topic if stored is not None else None
        row: dict[str, Any] = {
            "version": e.originator_version,
            "event": type(e).__qualname__,
            "recorded_at": e.timestamp.isoformat(),  # type: ignore[attr-defined]
            "sent_at": getattr(e, "at", None),
            "message": key,
            "topic": topics.get(key) if key else None,
        }
        row.update({k: v for k, v in vars(e).items() if k not in _INTERNAL})
        listing.append(row)
    return listing
