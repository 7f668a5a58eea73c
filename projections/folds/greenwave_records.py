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
(there is no ResultsDB page for it); a compose's data also names it by
``productmd.compose.id``, the key Greenwave queries composes by
(``conf/subject_types/compose.yaml``). ``origin``, ``event`` and ``msg`` are ours, added
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
    "SYNC_OUTCOMES",
    "SYNC_TESTCASE",
    "VALUE_CHARS",
    "arch_and_variant",
    "data_rows",
    "pick_records",
    "result_record",
    "resultsdb_time",
    "submit_sort_time",
    "sync_result_row",
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


# How much of a data value the ``result_data`` rows keep (an index entry has a size limit).
VALUE_CHARS = 200


def data_rows(position: int, record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``result_data`` rows of a result's record: one per value of each data key
    (as text, cut to ``VALUE_CHARS``), what ResultsDB's data filters look up."""
    data = record.get("data")
    if not isinstance(data, Mapping):
        return []
    rows = []
    for key, value in data.items():
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                rows.append({"position": position, "key": str(key), "value": str(v)[:VALUE_CHARS]})
    return rows


def submit_sort_time(record: Mapping[str, Any]) -> str | None:
    """A record's ``submit_time`` as text that sorts as the time does
    (``YYYY-MM-DDTHH:MM:SS.ffffff``; a time zone dropped, as ResultsDB's ``since`` drops
    it); None when it is not a time."""
    try:
        parsed = datetime.fromisoformat(str(record.get("submit_time")))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f")


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
    if s["subject_type"] == COMPOSE:  # Greenwave asks for composes by this key
        data.setdefault("productmd.compose.id", [s["subject_identifier"]])
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


# Our syncs to the master mirror as results on the compose (seed 003: the engine stores
# the results in its ResultsDB): a done ``compose.sync`` action's outcome -> ResultsDB's.
SYNC_TESTCASE = "relengotron.compose.sync"
SYNC_OUTCOMES = {"synced": "PASSED", "already": "PASSED", "failed": "FAILED"}


def sync_result_row(
    position: int,
    event: str,
    action: Mapping[str, Any],
    s: Mapping[str, Any],
    outcome: str,
    detail: str,
) -> dict[str, Any]:
    """The ``results`` row of a finished ``compose.sync`` action (its ``Completed`` state
    ``s``): testcase ``relengotron.compose.sync`` on the compose, the mirror path and link
    in its data, the detail as its note."""
    params = action.get("params") or {}
    compose = str(params.get("compose"))
    state: dict[str, Any] = {
        "subject_type": COMPOSE, "subject_identifier": compose, "testcase": SYNC_TESTCASE,
        "outcome": SYNC_OUTCOMES[outcome], "origin": "relengotron", "at": s.get("at"),
        "note": detail, "ref_url": None, "msg": None, "data": {},
    }  # fmt: skip
    record = result_record(state, event)
    raw = s.get("result")
    done: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    for key, value in (("location", done.get("path")), ("link", done.get("link"))):
        if value:
            record["data"][key] = [value]
    return {
        "position": position, "subject_type": COMPOSE, "subject_identifier": compose,
        "testcase": SYNC_TESTCASE, "scenario": None, "outcome": state["outcome"],
        "result_id": None, "stage": None, "pipeline": None, "ref_url": None, "note": detail,
        "origin": "relengotron", "at": s.get("at"), "msg": None, "event": event,
        "system_architecture": None, "system_variant": None, "record": record,
        "submit_time": submit_sort_time(record),
    }  # fmt: skip


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
