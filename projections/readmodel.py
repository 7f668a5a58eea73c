"""The read models' fold: stored events in, row changes out.

The projector (``adapters.readmodels``) reads the event log page by page as raw
rows, decodes each state once, and hands it here with its log position. This
module turns them into rows of the read-model tables:

* ``messages``  — every input message: key, topic, family, status, send time;
* ``results`` / ``waivers`` — test results and waivers by subject (each once, from
  the stream of the subject it is about), what the decision API evaluates;
* ``builds``    — one row per NVR: koji state, owner, tags, gate state, latest
  decision (upserted);
* ``history``   — what happened to each build, one line per event, for people
  and for the audit trail;
* ``decisions`` — every recorded gate decision;
* ``actions``   — outbox actions and their outcomes (upserted);
* ``names``     — aggregate id -> what it is (later events name only the id).

The fold is pure: what it must know about earlier pages (names, build rows,
action rows) it asks through :class:`Lookup`, and it keeps what it learned in
caches for the rest of the run. ``Changes`` is flushed by the caller with the
tracked position in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain import gating, ids, topics
from domain.facts import canonical_subject_type
from domain.topics import EventHandlers
from projections.config import GatingConfig
from projections.gating import package_of
from projections.greenwave_records import arch_and_variant, result_record, waiver_record

_MOVED = {"moved", "already"}
_ACTIONS = frozenset({topics.ACTION_REQUESTED, topics.ACTION_COMPLETED, topics.ACTION_CANCELLED})
# Events whose aggregate needs no name: messages and outbox actions.
_NO_NAME = _ACTIONS | {topics.INBOUND_MESSAGE_RECEIVED}

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


def _ref(oid: bytes, version: int) -> str:
    """``<aggregate uuid>/<version>``, as ``projections.records.ref`` writes it."""
    h = oid.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}/{version}"


class ReadModelFold:
    """Folds decoded events into row changes (see the module docstring)."""

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

    def apply(self, position: int, oid: bytes, version: int, topic: str, s: dict[str, Any]) -> None:
        handler = HANDLERS.for_topic(topic)
        if handler is not None:
            handler(self, position, oid, version, s)

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
                "event": _ref(oid, version),
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

    # -- messages

    def _on_inbound_message_received(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        self.changes.add(
            "messages",
            {
                "key": s["key"],
                "position": position,
                "topic": s["topic"],
                "family": s.get("family"),
                "status": s.get("status"),
                "at": s.get("sent_at"),
            },
        )

    # -- subjects

    def _on_subject_seen(self, position: int, oid: bytes, version: int, s: dict[str, Any]) -> None:
        self._name(oid, "subject", s["subject_type"], s["identifier"])

    def _on_build_seen(self, position: int, oid: bytes, version: int, s: dict[str, Any]) -> None:
        self._name(oid, "build", s["subject_type"], s["identifier"])
        self._touch(self._build(s["identifier"]), position, None)

    def _on_build_state_changed(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        nvr = self._nvr_of(oid)
        if nvr is None:
            return
        b = self._build(nvr)
        b["state"] = s["state"]
        b["owner"] = s.get("owner") or b["owner"]
        if s.get("build_id") is not None:
            b["koji_id"] = s["build_id"]
        b["change"] = s.get("change") or b["change"]
        self._touch(b, position, s.get("at"))
        was = f" (was {s['old_state']})" if s.get("old_state") else ""
        self._history(
            nvr, position, oid, version, s.get("at"), "state",
            f"koji build {s['state']}{was}", s.get("msg"),
            {"state": s["state"], "build_id": s.get("build_id"), "task_id": s.get("task_id")},
        )  # fmt: skip

    def _on_build_tagged(self, position: int, oid: bytes, version: int, s: dict[str, Any]) -> None:
        nvr = self._nvr_of(oid)
        if nvr is None:
            return
        b = self._build(nvr)
        if s["tag"] not in b["tags"]:
            b["tags"] = [*b["tags"], s["tag"]]
        b["owner"] = s.get("owner") or b["owner"]
        if s["tag"] == self.config.promoted_tag and b["gate"] is not None:
            b["promoted"] = True
            self._settle_gate(b)
        self._touch(b, position, s.get("at"))
        by = f" by {s['user']}" if s.get("user") else ""
        self._history(
            nvr, position, oid, version, s.get("at"), "tagged",
            f"tagged into {s['tag']}{by}", s.get("msg"), {"tag": s["tag"], "user": s.get("user")},
        )  # fmt: skip

    def _on_build_untagged(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        nvr = self._nvr_of(oid)
        if nvr is None:
            return
        b = self._build(nvr)
        b["tags"] = [t for t in b["tags"] if t != s["tag"]]
        self._touch(b, position, s.get("at"))
        by = f" by {s['user']}" if s.get("user") else ""
        self._history(
            nvr, position, oid, version, s.get("at"), "untagged",
            f"untagged from {s['tag']}{by}", s.get("msg"), {"tag": s["tag"], "user": s.get("user")},
        )  # fmt: skip

    def _on_build_signed(self, position: int, oid: bytes, version: int, s: dict[str, Any]) -> None:
        nvr = self._nvr_of(oid)
        if nvr is not None:
            self._history(
                nvr, position, oid, version, s.get("at"), "signed",
                f"signed with key {s.get('sigkey') or '?'}", s.get("msg"), {"rpm": s.get("rpm")},
            )  # fmt: skip

    def _on_change_build_linked(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        name = self._known(oid)
        change = name[2] if name is not None else None
        b = self._build(s["nvr"])
        b["change"] = b["change"] or change
        self._touch(b, position, s.get("at"))
        self._history(
            s["nvr"], position, oid, version, s.get("at"), "linked",
            f"built from dist-git change {change}", s.get("msg"), {"change": change},
        )  # fmt: skip

    def _on_subject_result_recorded(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        typ, ident = s["subject_type"], s["subject_identifier"]
        ref = _ref(oid, version)
        if ids.subject_id(typ, ident).bytes == oid:  # once: from the subject's own stream
            raw = s.get("data")
            data: dict[str, Any] = raw if isinstance(raw, dict) else {}
            arch, variant = arch_and_variant(data)
            self.changes.add(
                "results",
                {
                    "position": position,
                    "subject_type": typ,
                    "subject_identifier": ident,
                    "testcase": s["testcase"],
                    "scenario": s.get("scenario"),
                    "outcome": s["outcome"],
                    "result_id": s.get("result_id"),
                    "stage": s.get("stage"),
                    "pipeline": data.get("pipeline"),
                    "ref_url": s.get("ref_url"),
                    "note": s.get("note"),
                    "origin": s.get("origin"),
                    "at": s.get("at"),
                    "msg": s.get("msg"),
                    "event": ref,
                    "system_architecture": arch,
                    "system_variant": variant,
                    "record": result_record(s, ref),
                },
            )
        nvr = self._nvr_of(oid)
        if nvr is not None:
            about = "" if (typ, ident) == ("koji_build", nvr) else f" (about {typ} {ident})"
            scenario = f" [{s['scenario']}]" if s.get("scenario") else ""
            self._touch(self._build(nvr), position, s.get("at"))
            self._history(
                nvr, position, oid, version, s.get("at"), "result",
                f"{s['testcase']}{scenario}: {s['outcome']}{about}", s.get("msg"),
                {"testcase": s["testcase"], "outcome": s["outcome"], "scenario": s.get("scenario"),
                 "result_id": s.get("result_id"), "ref_url": s.get("ref_url")},
            )  # fmt: skip

    def _on_subject_waiver_recorded(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        name = self._known(oid)
        if name is None or name[0] not in ("build", "subject"):
            return
        # An alias (a brew-build waiver stored before translation named the type it
        # stands for) is the subject type it stands for, as in Greenwave.
        typ, ident = canonical_subject_type(name[1]), name[2]
        ref = _ref(oid, version)
        self.changes.add(
            "waivers",
            {
                "position": position,
                "subject_type": typ,
                "subject_identifier": ident,
                "testcase": s["testcase"],
                "scenario": s.get("scenario"),
                "waived": bool(s["waived"]),
                "waiver_id": s.get("waiver_id"),
                "product_version": s.get("product_version"),
                "username": s.get("username"),
                "comment": s.get("comment"),
                "at": s.get("at"),
                "msg": s.get("msg"),
                "event": ref,
                "record": waiver_record(s, typ, ident, ref),
            },
        )
        if name[0] == "build":
            what = "waived" if s["waived"] else "waiver revoked for"
            self._touch(self._build(ident), position, s.get("at"))
            self._history(
                ident, position, oid, version, s.get("at"), "waiver",
                f"{what} {s['testcase']} by {s.get('username') or '?'}: {s.get('comment') or ''}",
                s.get("msg"), {"testcase": s["testcase"], "waived": bool(s["waived"]),
                               "waiver_id": s.get("waiver_id")},
            )  # fmt: skip

    # -- gates

    def _settle_gate(self, b: dict[str, Any]) -> None:
        b["gate"] = gating.gate_state(
            b["verdict"], withdrawn=bool(b["withdrawn"]), promoted=bool(b["promoted"])
        )

    def _on_gate_opened(self, position: int, oid: bytes, version: int, s: dict[str, Any]) -> None:
        self._name(oid, "gate", s["context"], s["nvr"])
        b = self._build(s["nvr"])
        b["context"], b["withdrawn"] = s["context"], None
        self._settle_gate(b)
        self._touch(b, position, s.get("at"))
        self._history(
            s["nvr"], position, oid, version, s.get("at"), "opened",
            f"gating candidate in {s['context']} (tagged into {s['tag']})", s.get("trigger"),
            {"context": s["context"], "tag": s["tag"]},
        )  # fmt: skip

    def _on_gate_decided(self, position: int, oid: bytes, version: int, s: dict[str, Any]) -> None:
        nvr = self._nvr_of(oid, "gate")
        if nvr is None:
            return
        name = self._names[oid]  # known: _nvr_of found it
        decision = s["decision"]
        b = self._build(nvr)
        b["verdict"], b["decided_at"], b["decision"] = s["verdict"], s.get("at"), decision
        self._settle_gate(b)
        self._touch(b, position, s.get("at"))
        ref = _ref(oid, version)
        summary = decision.get("summary", "")
        self.changes.add(
            "decisions",
            {
                "position": position,
                "nvr": nvr,
                "context": name[1],
                "verdict": s["verdict"],
                "previous": s.get("previous_verdict"),
                "at": s.get("at"),
                "trigger": s.get("trigger"),
                "policy_set_hash": decision.get("policy_set_hash"),
                "fingerprint": s.get("fingerprint"),
                "summary": summary,
                "event": ref,
                "decision": decision,
            },
        )
        was = f" (was {s['previous_verdict']})" if s.get("previous_verdict") else ""
        self._history(
            nvr, position, oid, version, s.get("at"), "decided",
            f"decided {s['verdict']}{was}: {summary}", s.get("trigger"),
            {"verdict": s["verdict"], "previous": s.get("previous_verdict"),
             "policy_set_hash": decision.get("policy_set_hash")},
        )  # fmt: skip

    def _on_gate_withdrawn(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        nvr = self._nvr_of(oid, "gate")
        if nvr is None:
            return
        b = self._build(nvr)
        b["withdrawn"] = {"reason": s["reason"], "detail": s["detail"], "by": s.get("by")}
        self._settle_gate(b)
        self._touch(b, position, s.get("at"))
        self._history(
            nvr, position, oid, version, s.get("at"), "withdrawn",
            f"withdrawn ({s['reason']}): {s['detail']}", s.get("trigger"),
            {"reason": s["reason"], "by": s.get("by")},
        )  # fmt: skip

    def _on_gate_reopened(self, position: int, oid: bytes, version: int, s: dict[str, Any]) -> None:
        nvr = self._nvr_of(oid, "gate")
        if nvr is None:
            return
        b = self._build(nvr)
        b["withdrawn"] = None
        self._settle_gate(b)
        self._touch(b, position, s.get("at"))
        self._history(
            nvr, position, oid, version, s.get("at"), "reopened",
            f"gating candidate again (tagged into {s['tag']})", s.get("trigger"), {"tag": s["tag"]},
        )  # fmt: skip

    # -- outbox

    def _on_action_requested(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        params = s["params"] if isinstance(s["params"], dict) else {}
        raw = params.get("body")
        body: dict[str, Any] = raw if isinstance(raw, dict) else {}
        nvr = params.get("nvr") or body.get("subject_identifier") or body.get("nvr")
        row = {
            "key": s["key"],
            "aggregate": oid,
            "nvr": nvr,
            "kind": s["kind"],
            "params": params,
            "reason": s.get("reason"),
            "gate": s.get("gate"),
            "trigger": s.get("trigger"),
            "requested_at": s.get("at"),
            "outcome": None,
            "detail": None,
            "done_at": None,
            "position": position,
        }
        self._actions[oid] = row
        self.changes.actions[oid] = row
        if nvr:
            self._history(
                nvr, position, oid, version, s.get("at"), "action-requested",
                _describe_action(row, "requested"), s.get("trigger"),
                {"key": s["key"], "kind": s["kind"]},
            )  # fmt: skip

    def _finish_action(
        self, position: int, oid: bytes, version: int, s: dict[str, Any], outcome: str, detail: str
    ) -> None:
        row = self._actions.get(oid)
        if row is None and not self.complete:
            row = self.lookup.actions([oid]).get(oid)
        if row is None:
            return
        self._actions[oid] = row
        row.update(outcome=outcome, detail=detail, done_at=s.get("at"), position=position)
        self.changes.actions[oid] = row
        nvr = row["nvr"]
        if not nvr:
            return
        kind = "action-cancelled" if outcome == "cancelled" else "action-completed"
        self._history(
            nvr, position, oid, version, s.get("at"), kind, _describe_action(row, outcome),
            s.get("trigger"), {"key": row["key"], "kind": row["kind"], "outcome": outcome},
        )  # fmt: skip
        params = row["params"]
        if row["kind"] == "koji.move" and outcome in _MOVED and params.get("nvr") == nvr:
            b = self._build(nvr)
            b["location"] = params.get("to_tag")
            if b["location"] == self.config.promoted_tag:
                b["promoted"] = True
            self._settle_gate(b)
            b["position"] = position

    def _on_action_completed(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        self._finish_action(position, oid, version, s, s["outcome"], s.get("detail") or "")

    def _on_action_cancelled(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        self._finish_action(position, oid, version, s, "cancelled", s.get("reason") or "")


def _describe_action(row: dict[str, Any], what: str) -> str:
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


# The fold's one handler table (keyed by the topic of the raw rows it reads); its
# topics are what the projector selects.
HANDLERS: EventHandlers[Callable[[ReadModelFold, int, bytes, int, dict[str, Any]], None]] = (
    EventHandlers(
        {
            topics.INBOUND_MESSAGE_RECEIVED: ReadModelFold._on_inbound_message_received,
            topics.SUBJECT_SEEN: ReadModelFold._on_subject_seen,
            topics.CHANGE_SEEN: ReadModelFold._on_subject_seen,
            topics.UPDATE_SEEN: ReadModelFold._on_subject_seen,
            topics.BUILD_SEEN: ReadModelFold._on_build_seen,
            topics.BUILD_STATE_CHANGED: ReadModelFold._on_build_state_changed,
            topics.BUILD_TAGGED: ReadModelFold._on_build_tagged,
            topics.BUILD_UNTAGGED: ReadModelFold._on_build_untagged,
            topics.BUILD_SIGNED: ReadModelFold._on_build_signed,
            topics.CHANGE_BUILD_LINKED: ReadModelFold._on_change_build_linked,
            topics.SUBJECT_RESULT_RECORDED: ReadModelFold._on_subject_result_recorded,
            topics.SUBJECT_WAIVER_RECORDED: ReadModelFold._on_subject_waiver_recorded,
            topics.GATE_OPENED: ReadModelFold._on_gate_opened,
            topics.GATE_DECIDED: ReadModelFold._on_gate_decided,
            topics.GATE_WITHDRAWN: ReadModelFold._on_gate_withdrawn,
            topics.GATE_REOPENED: ReadModelFold._on_gate_reopened,
            topics.ACTION_REQUESTED: ReadModelFold._on_action_requested,
            topics.ACTION_COMPLETED: ReadModelFold._on_action_completed,
            topics.ACTION_CANCELLED: ReadModelFold._on_action_cancelled,
        }
    )
)
TOPICS = HANDLERS.topics
