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
* ``actions``   — outbox actions and their outcomes (upserted); a finished sync to the
  master mirror is also a result on its compose (``relengotron.compose.sync``);
* ``names``     — aggregate id -> what it is (later events name only the id).

The fold is pure: what it must know about earlier pages (names, build rows,
action rows) it asks through :class:`Lookup`, and it keeps what it learned in
caches for the rest of the run. ``Changes`` is flushed by the caller with the
tracked position in one transaction.

Here are the handlers of what the decider and effector recorded (gates, outbox
actions) and the fold's one handler table; ``readmodel_subjects`` folds the input
(messages, subjects, results, waivers), ``readmodel_core`` holds the caches and
helpers, ``readmodel_rows`` the row shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relengotron.domain import topics
from relengotron.domain.outbox import COMPOSE_SYNC
from relengotron.domain.topics import EventHandlers
from relengotron.projections.folds.greenwave_records import (
    SYNC_OUTCOMES,
    data_rows,
    sync_result_row,
)
from relengotron.projections.folds.readmodel_rows import describe_action, event_ref
from relengotron.projections.folds.readmodel_subjects import SubjectFold

_MOVED = {"moved", "already"}


class ReadModelFold(SubjectFold):
    """Folds decoded events into row changes (see the module docstring)."""

    def apply(self, position: int, oid: bytes, version: int, topic: str, s: dict[str, Any]) -> None:
        handler = HANDLERS.for_topic(topic)
        if handler is not None:
            handler(self, position, oid, version, s)

    # -- gates

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
        ref = event_ref(oid, version)
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

    def _on_gate_flaky_found(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        nvr = self._nvr_of(oid, "gate")
        if nvr is not None:
            scenario = f" ({s['scenario']})" if s.get("scenario") else ""
            self._history(
                nvr, position, oid, version, s.get("at"), "flaky",
                f"{s['testcase']}{scenario} failed, then passed on the rerun asked for: flaky",
                s.get("trigger"),
                {"testcase": s["testcase"], "scenario": s.get("scenario"), "rerun": s["rerun"]},
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
                describe_action(row, "requested"), s.get("trigger"),
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
        if row["kind"] == COMPOSE_SYNC and outcome in SYNC_OUTCOMES:
            ref = event_ref(oid, version)
            result = sync_result_row(position, ref, row, s, outcome, detail)
            self.changes.add("results", result)
            for data in data_rows(position, result["record"]):
                self.changes.add("result_data", data)
        nvr = row["nvr"]
        if not nvr:
            return
        kind = "action-cancelled" if outcome == "cancelled" else "action-completed"
        self._history(
            nvr, position, oid, version, s.get("at"), kind, describe_action(row, outcome),
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
            topics.BUILD_RERUN_REQUESTED: ReadModelFold._on_build_rerun_requested,
            topics.CHANGE_BUILD_LINKED: ReadModelFold._on_change_build_linked,
            topics.SUBJECT_RESULT_RECORDED: ReadModelFold._on_subject_result_recorded,
            topics.SUBJECT_WAIVER_RECORDED: ReadModelFold._on_subject_waiver_recorded,
            topics.GATE_OPENED: ReadModelFold._on_gate_opened,
            topics.GATE_DECIDED: ReadModelFold._on_gate_decided,
            topics.GATE_WITHDRAWN: ReadModelFold._on_gate_withdrawn,
            topics.GATE_REOPENED: ReadModelFold._on_gate_reopened,
            topics.GATE_FLAKY_FOUND: ReadModelFold._on_gate_flaky_found,
            topics.ACTION_REQUESTED: ReadModelFold._on_action_requested,
            topics.ACTION_COMPLETED: ReadModelFold._on_action_completed,
            topics.ACTION_CANCELLED: ReadModelFold._on_action_cancelled,
        }
    )
)
TOPICS = HANDLERS.topics
