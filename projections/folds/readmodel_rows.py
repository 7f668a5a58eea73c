"""The read models' row shapes: the columns of the upserted tables, what the fold
asks of the tables (``Lookup``), the rows of one page (``Changes``), and how rows
name events and describe actions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

Name = tuple[str, str, str]  # (kind, subject_type or context, identifier)

BUILD_COLUMNS = (
    "nvr",
    "package",
    "owner",
    "koji_id",
    "state",
    "change",
    "tags",
    "gate",
    "context",
    "verdict",
    "decided_at",
    "decision",
    "withdrawn",
    "location",
    "promoted",
    "first_seen",
    "updated_at",
    "created",
    "position",
)
ACTION_COLUMNS = (
    "key",
    "aggregate",
    "nvr",
    "kind",
    "params",
    "reason",
    "gate",
    "trigger",
    "requested_at",
    "outcome",
    "detail",
    "done_at",
    "position",
)


class Lookup(Protocol):
    """What earlier pages recorded (the read-model tables)."""

    def names(self, ids_: Iterable[bytes]) -> dict[bytes, Name]: ...

    def builds(self, nvrs: Iterable[str]) -> dict[str, dict[str, Any]]: ...

    def actions(self, aggregate_ids: Iterable[bytes]) -> dict[bytes, dict[str, Any]]: ...


@dataclass
class Changes:
    """Rows for one page: appended (by table) and upserted (builds, actions)."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    builds: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions: dict[bytes, dict[str, Any]] = field(default_factory=dict)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)

    def __len__(self) -> int:
        return sum(len(r) for r in self.rows.values()) + len(self.builds) + len(self.actions)


def event_ref(oid: bytes, version: int) -> str:
    """``<aggregate uuid>/<version>``, as ``projections.folds.records.ref`` writes it."""
    h = oid.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}/{version}"


def describe_action(row: dict[str, Any], what: str) -> str:
    p = row["params"]
    if row["kind"] == "koji.move":
        text = f"koji move {p.get('from_tag')} -> {p.get('to_tag')} {what}"
    elif row["kind"] == "bus.publish":
        text = f"message {p.get('kind')} {what}"
    else:
        text = f"{row['kind']} {what}"
    if row.get("detail") and what != "requested":
        text += f": {row['detail']}"
    elif what == "requested" and row.get("reason"):
        text += f": {row['reason']}"
    return text
