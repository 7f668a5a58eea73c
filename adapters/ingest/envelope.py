"""From a parsed record (any archive format) to an :class:`Envelope`.

Formats: fedora-messaging (``topic``, ``body``, ``headers``, ``id``; also the
corpus format with ``envelope``), datagrepper /raw v1 (``topic``, ``msg``,
``msg_id``, ``timestamp``) and its /v2 shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from relengotron.adapters.translate.base import Envelope


class NotAMessage(ValueError):
    """The record cannot be a message; the reason is the exception text."""


def _iso(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value.strip():
        s = value.strip()
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            try:
                return _iso(float(s))
            except ValueError:
                return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC).isoformat()
    return None


def to_envelope(record: Any) -> Envelope:
    if not isinstance(record, dict):
        raise NotAMessage(f"not a JSON object (got {type(record).__name__})")
    topic = record.get("topic")
    if not isinstance(topic, str) or not topic.strip():
        raise NotAMessage("no topic")
    if "body" in record:
        body = record["body"]
        msg_id = record.get("id")
    elif "msg" in record:  # datagrepper v1
        body = record["msg"]
        msg_id = record.get("msg_id")
    else:
        raise NotAMessage("no body (neither 'body' nor 'msg')")
    headers = record.get("headers")
    if not isinstance(headers, dict):
        headers = {}
    extra = record.get("envelope")
    envelope: dict[str, Any] = extra if isinstance(extra, dict) else {}
    sent_at = (
        _iso(headers.get("sent-at"))
        or _iso(record.get("timestamp"))
        or _iso(envelope.get("timestamp"))
    )
    if not isinstance(msg_id, str) or not msg_id.strip():
        msg_id = headers.get("message-id") if isinstance(headers.get("message-id"), str) else None
    return Envelope(
        topic=topic.strip(), body=body, headers=headers, msg_id=msg_id or None, sent_at=sent_at
    )
