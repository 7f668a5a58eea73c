"""Input seen again: when a message is the same one redelivered, what a message that
reuses another's id is recorded as, and a rejected line in text every store can hold."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from relengotron.domain import ids
from relengotron.domain.safe_text import TooDeep, safe_str, store_safe
from relengotron.domain.values import IncomingMessage, RejectedLine


def same_message(stored: Any, m: IncomingMessage) -> bool:
    """``stored`` (a recorded message, or one earlier in the batch) is ``m`` again: the
    same topic and stored body. The exact input (``original``) is not compared: the
    same message read from a file and from the bus keeps different exact forms."""
    if stored.topic != m.topic:
        return False
    if stored.body == m.body:
        return True
    if m.original is None or getattr(stored, "original", None) is not None:
        return False
    # Recorded before issue 14, as it came: compare it as it would be stored now.
    try:
        return bool(store_safe(stored.body, set()) == m.body)
    except TooDeep:
        return False


def store_safe_line(line: RejectedLine) -> RejectedLine:
    """The line with text every store can hold (domain.safe_text), its exact bytes kept."""
    raw = safe_str(line.raw)
    reason = safe_str(line.reason)
    source = safe_str(line.source) if line.source is not None else None
    if raw is line.raw and reason is line.reason and source is line.source:
        return line
    original = line.original
    if original is None and raw is not line.raw:
        original = base64.b64encode(line.raw.encode("utf-8", "surrogatepass")).decode()
    return replace(line, raw=raw, reason=reason, source=source, original=original)


def rekeyed(m: IncomingMessage) -> IncomingMessage:
    content = m.body if m.original is None else [m.body, m.original]
    digest = ids.content_key(m.topic, content).split(":", 1)[1][:16]
    key = f"{m.key}~{digest}"
    problem = f"message id {m.key!r} is also used by a different message; recorded as {key!r}"
    return replace(m, key=key, problems=(*m.problems, problem))
