"""The read models' fold, its machinery: the caches of names, build rows and action
rows, filled a page at a time from the tables (``prefetch``), and the helpers every
handler uses (``projections.folds.readmodel`` has the handlers and their table)."""

from __future__ import annotations

from typing import Any

from relengotron.domain import gating, topics
from relengotron.projections.config import GatingConfig
from relengotron.projections.folds.gating import package_of
from relengotron.projections.folds.readmodel_rows import (
    BUILD_COLUMNS,
    Changes,
    Lookup,
    Name,
    event_ref,
)

_ACTIONS = frozenset({topics.ACTION_REQUESTED, topics.ACTION_COMPLETED, topics.ACTION_CANCELLED})
# Events whose aggregate needs no name: messages and outbox actions.
_NO_NAME = _ACTIONS | {topics.INBOUND_MESSAGE_RECEIVED}


class FoldCore:
    """The caches and helpers of the read-model fold (``ReadModelFold``)."""

    CACHE_LIMIT = 1_000_000  # entries per cache before it is dropped (it is only a cache)

    def __init__(self, config: GatingConfig, lookup: Lookup, *, from_empty: bool = False) -> None:
        self.config = config
        self.lookup = lookup
        self._names: dict[bytes, Name] = {}
        self._builds: dict[str, dict[str, Any]] = {}
        self._actions: dict[bytes, dict[str, Any]] = {}
        self._absent: set[str] = set()  # NVRs the tables were asked about and do not have
        # True while the caches hold everything the tables hold (a rebuild from an
        # empty store): a miss then means "new", without asking the tables.
        self.complete = from_empty
        self.changes = Changes()

    # ----------------------------------------------------------------- paging

    def prefetch(self, page: list[tuple[int, bytes, int, str, dict[str, Any]]]) -> None:
        """Resolve, in one query each, the names and rows a page will need."""
        if any(len(c) > self.CACHE_LIMIT for c in (self._names, self._builds, self._actions)):
            self._names.clear()
            self._builds.clear()
            self._actions.clear()
            self.complete = False
        self._absent.clear()  # only within a page: another writer may add them later
        if self.complete:
            return
        born = {oid for _, oid, version, _, _ in page if version == 1}
        unknown = {
            oid
            for _, oid, _, topic, _ in page
            if oid not in born and oid not in self._names and topic not in _NO_NAME
        }
        if unknown:
            found = self.lookup.names(unknown)
            self._names.update(found)
        nvrs: set[str] = set()
        action_ids: set[bytes] = set()
        for _, oid, _, topic, state in page:
            if topic in _ACTIONS:
                if topic != topics.ACTION_REQUESTED:
                    action_ids.add(oid)
                continue
            name = self._names.get(oid)
            if name is not None and name[0] in ("build", "gate"):
                nvrs.add(name[2])
            elif topic == topics.BUILD_SEEN:
                nvrs.add(state["identifier"])
            elif topic in (topics.GATE_OPENED, topics.CHANGE_BUILD_LINKED):
                nvrs.add(state["nvr"])
        missing_actions = action_ids - self._actions.keys()
        if missing_actions:
            self._actions.update(self.lookup.actions(missing_actions))
        nvrs.update(a["nvr"] for a in map(self._actions.get, action_ids) if a and a["nvr"])
        missing = nvrs - self._builds.keys()
        if missing:
            rows = self.lookup.builds(missing)
            self._builds.update(rows)
            self._absent.update(missing - rows.keys())

    def take(self) -> Changes:
        changes, self.changes = self.changes, Changes()
        return changes

    # ---------------------------------------------------------------- folding

    def _name(self, oid: bytes, kind: str, typ: str, identifier: str) -> None:
        name = (kind, typ, identifier)
        if self._names.get(oid) != name:
            self._names[oid] = name
            self.changes.add(
                "names", {"id": oid, "kind": kind, "subject_type": typ, "identifier": identifier}
            )

    def _build(self, nvr: str) -> dict[str, Any]:
        b = self._builds.get(nvr)
        if b is None and not self.complete and nvr not in self._absent:
            b = self.lookup.builds([nvr]).get(nvr)
            if b is not None:
                self._builds[nvr] = b
        if b is None:
            b = dict.fromkeys(BUILD_COLUMNS)
            b.update(nvr=nvr, package=package_of(nvr), tags=[], promoted=False)
            self._builds[nvr] = b
        self.changes.builds[nvr] = b
        return b

    def _touch(self, b: dict[str, Any], position: int, at: str | None) -> None:
        b["position"] = position
        if at:
            if b["first_seen"] is None or at < b["first_seen"]:
                b["first_seen"] = at
            if b["updated_at"] is None or at > b["updated_at"]:
                b["updated_at"] = at

    def _history(
        self,
        nvr: str,
        position: int,
        oid: bytes,
        version: int,
        at: str | None,
        kind: str,
        summary: str,
        msg: str | None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.changes.add(
            "history",
            {
                "position": position,
                "nvr": nvr,
                "at": at,
                "kind": kind,
                "summary": summary,
                "msg": msg,
                "event": event_ref(oid, version),
                "data": data or {},
            },
        )

    def _known(self, oid: bytes) -> Name | None:
        name = self._names.get(oid)
        if name is None and not self.complete:
            name = self.lookup.names([oid]).get(oid)
            if name is not None:
                self._names[oid] = name
        return name

    def _nvr_of(self, oid: bytes, kind: str = "build") -> str | None:
        name = self._known(oid)
        return name[2] if name is not None and name[0] == kind else None

    def _settle_gate(self, b: dict[str, Any]) -> None:
        b["gate"] = gating.gate_state(
            b["verdict"], withdrawn=bool(b["withdrawn"]), promoted=bool(b["promoted"])
        )
