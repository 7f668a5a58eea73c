"""Greenwave's verbose ``results`` and ``waivers``: ResultsDB's and WaiverDB's records.

Greenwave returns the records ResultsDB and WaiverDB gave it, untouched
(``greenwave/decision.py``; ResultsDB's ``serializers/api_v2.py``, WaiverDB's
``fields.py``). A result or waiver recorded from a ResultsDB or WaiverDB message keeps
the record as reported (``record`` in the stored event); only ``id`` is set to the
integer id answers use (:func:`policies.snapshot.public_id`: negative when the source
gave none). Anything else (a CI message, a waiver given here, or an event stored
before records were kept) is
rebuilt in the same shape from what the event has: ``submit_time`` / ``timestamp`` is
the message's send time as ResultsDB writes times (``YYYY-MM-DDTHH:MM:SS.ffffff``,
UTC), ``note`` is ``""`` when there is none, ``groups`` is empty and ``href`` null
(there is no ResultsDB page for it). ``origin``, ``event`` and ``msg`` are ours, added
to every record so that an answer leads back to the message.

Pure: the read models call it when they fold an event; tests' fakes call it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from relengotron.domain.facts import COMPOSE
from relengotron.policies.snapshot import ResultView, WaiverView, first_value, public_id

__all__ = [
    "DISTINCT_KEYS",
    "arch_and_variant",
    "pick_records",
    "result_record",
    "resultsdb_time",
    "waiver_record",
]

# The result data keys Greenwave keeps latest results apart by (besides the testcase),
# and copies into a requirement (``DISTINCT_LATEST_RESULTS_ON``).
DISTINCT_KEYS = ("scenario", "system_architecture", "system_variant")


def resultsdb_time(at: str | None) -> str | None:
    """An ISO 8601 time as ResultsDB's API writes ``submit_time``: naive UTC with
    microseconds (``2024-03-01T10:00:00.000000``). Unreadable text is kept."""
    if not at:
        return None
    try:
        parsed = datetime.fromisoformat(at)
    except ValueError:
        return at
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.%f")


def arch_and_variant(data: Any) -> tuple[str | None, str | None]:
    """``system_architecture`` and ``system_variant`` of a result's data (first values)."""
    if not isinstance(data, Mapping):
        return None, None
    return first_value(data.get("system_architecture")), first_value(data.get("system_variant"))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _ours(s: Mapping[str, Any], event: str) -> dict[str, Any]:
    return {"origin": s.get("origin"), "event": event, "msg": s.get("msg")}


def result_record(s: Mapping[str, Any], event: str) -> dict[str, Any]:
    """The ResultsDB record of a stored ``ResultRecorded`` state ``s``."""
    rid = public_id(s.get("result_id"), event)
    raw = s.get("record")
    if isinstance(raw, Mapping):
        return {**raw, "id": rid, **_ours(s, event)}
    stored = s.get("data")
    stored = stored if isinstance(stored, Mapping) else {}
    data: dict[str, list[Any]] = {}
    if s.get("origin") == "resultsdb":  # ResultsDB's own data, first values kept
        data = {k: _as_list(v) for k, v in stored.items() if v is not None}
    data.setdefault("type", [s["subject_type"]])
    data.setdefault("item", [s["subject_identifier"]])
    for key in DISTINCT_KEYS:
        value = s.get("scenario") if key == "scenario" else first_value(stored.get(key))
        if value is not None:
            data.setdefault(key, [value])
    return {
        "id": rid,
        "groups": [],
        "testcase": {"name": s["testcase"], "ref_url": None, "href": None},
        "submit_time": resultsdb_time(s.get("at")),
        "outcome": s["outcome"],
        "note": s.get("note") or "",
        "ref_url": s.get("ref_url"),
        "data": data,
        "href": None,
        **_ours(s, event),
    }


def _subject_dict(subject_type: str, identifier: str) -> dict[str, str]:
    """WaiverDB's backwards compatible ``subject`` (``subject_type_identifier_to_dict``)."""
    if subject_type == COMPOSE:
        return {"productmd.compose.id": identifier}
    return {"type": subject_type, "item": identifier}


def waiver_record(
    s: Mapping[str, Any], subject_type: str, identifier: str, event: str
) -> dict[str, Any]:
    """The WaiverDB record of a stored ``WaiverRecorded`` state ``s``."""
    wid = public_id(s.get("waiver_id"), event)
    ours = {"event": event, "msg": s.get("msg")}
    raw = s.get("record")
    if isinstance(raw, Mapping):
        return {**raw, "id": wid, **ours}
    return {
        "id": wid,
        "subject_type": subject_type,
        "subject_identifier": identifier,
        "subject": _subject_dict(subject_type, identifier),
        "testcase": s["testcase"],
        "username": s.get("username"),
        "scenario": s.get("scenario"),
        "proxied_by": None,
        "product_version": s.get("product_version"),
        "waived": bool(s["waived"]),
        "comment": s.get("comment"),
        "timestamp": resultsdb_time(s.get("at")),
        **ours,
    }


def pick_records(
    used: Iterable[ResultView | WaiverView],
    views: Sequence[ResultView | WaiverView],
    records: Sequence[dict[str, Any] | str],
    into: dict[int | str, dict[str, Any]],
) -> None:
    """Add the records of the ``used`` views to ``into``, each id once (Greenwave's
    ``{record["id"]: record}``). ``records`` are in the order of ``views``, as dicts or
    the read model's JSON text."""
    by_event = dict(zip((v.event for v in views), records, strict=True))
    for view in used:
        record = by_event.get(view.event)
        if isinstance(record, str | bytes):
            record = json.loads(record)
        if isinstance(record, dict):
            into.setdefault(record["id"], record)
