"""A fedora-messaging message as a record, and the record as input to keep: AMQP headers
as JSON, store-safe bodies (``domain.safe_text``), the canonical JSON of rejected input.
Used by ``adapters.live.consumer`` and ``adapters.live.deadletter``."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fedora_messaging.message import Message

from relengotron.adapters.ingest.branches import BranchFilter
from relengotron.adapters.ingest.envelope import NotAMessage, to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.domain.safe_text import MAX_DEPTH, ORIGINAL, TooDeep, store_safe
from relengotron.domain.values import IncomingMessage, RejectedLine

#: What is kept as rejected input if a message cannot be recorded: the text, or a
#: function giving it (a message's canonical JSON is only written out when needed).
Raw = str | Callable[[], str]


# ------------------------------------------------------------------ messages


def jsonable(value: Any) -> Any:
    """AMQP header values as JSON: datetimes as ISO 8601, Decimals as numbers, bytes as
    UTF-8 text (else ``{"base64": ...}``), anything else unknown as its ``str``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    return str(value)


def message_record(message: Message) -> dict[str, Any]:
    """A fedora-messaging message as the record ``adapters.ingest.envelope`` reads (the
    fedora-messaging ``dumps`` format: topic, id, headers, body)."""
    return {
        "topic": message.topic,
        "id": message.id,
        "headers": jsonable(message._headers),
        "body": message.body,
    }


def _needs_walk(record: dict[str, Any]) -> bool:
    """Whether ``record`` may hold what no store can (``domain.safe_text``): one C-speed
    ``json.dumps`` instead of a Python walk of every message."""
    try:
        text = json.dumps(record, ensure_ascii=False, allow_nan=False, default=str)
        text.encode("utf-8")  # lone surrogates
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError; NaN too
        return True
    return (
        "\\u0000" in text
        or _LONG_NUMBER.search(text) is not None
        or text.count("[") + text.count("{") > MAX_DEPTH
    )


_LONG_NUMBER = re.compile(r"\d{19}")


def incoming_from(
    record: dict[str, Any],
    source: str,
    problems: tuple[str, ...] = (),
    original: bytes | None = None,
    branches: BranchFilter | None = None,
) -> IncomingMessage | RejectedLine:
    """Translate a message record; a record that is not a message is rejected input.

    A record holding what no store can keep as it is (``domain.safe_text``) is made
    store-safe first, its problems listed and its exact value kept (``original``: the
    delivery's bytes when known, else the record as ASCII JSON, escapes as received).
    """
    if _needs_walk(record):
        notes: set[str] = set()
        try:
            safe = store_safe(record, notes)
        except TooDeep as exc:
            raw = canonical(record, ascii=True)
            return RejectedLine(raw=raw, reason=f"not a message: {exc}", source=source)
        if notes:
            if original is None:
                original = canonical(record, ascii=True).encode("ascii")
            problems = (*sorted(notes), ORIGINAL, *problems)
            record = safe
    try:
        envelope = to_envelope(record)
    except NotAMessage as exc:
        return RejectedLine(raw=canonical(record), reason=str(exc), source=source)
    return to_incoming(envelope, source, problems, original, branches)


def canonical(record: Any, ascii: bool = False) -> str:
    """Sorted-key JSON of ``record``; ``ascii``: escapes for everything not ASCII (lone
    surrogates and NUL included, NaN as written), so the text is exactly the value."""
    try:
        return json.dumps(record, sort_keys=True, ensure_ascii=ascii, default=str)
    except (ValueError, RecursionError, TypeError) as exc:
        return json.dumps({"unserializable": repr(exc)[:300]})


def raw_text(raw: Raw) -> str:
    return raw if isinstance(raw, str) else raw()
