"""Audit: the chain behind one build's decisions (``relengotron explain``), and the log
readers the other audit commands share.

``explain`` reads the streams that concern a build (its own, its dist-git change's, its
gate's, its overrides' and its outbox actions'), resolves every event to the message it
came from and every requirement's evidence to its message, each with its log position
and the time it was recorded; its timeline (``adapters.audit.audit_timeline``) follows
the time each step happened. ``replay --until`` is in ``adapters.audit.audit_asof``,
``replay --verify`` in ``adapters.audit.audit_verify``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Notification
from sqlalchemy import select

from relengotron.adapters import bootstrap
from relengotron.adapters.audit.audit_timeline import render_explain, timeline
from relengotron.adapters.services.status import build_status
from relengotron.adapters.settings import Settings
from relengotron.domain import ids, topics
from relengotron.domain.application import RelengApp
from relengotron.domain.message import RECEIVED_TOPIC
from relengotron.domain.overrides import override_id
from relengotron.domain.policyset import policy_log_id
from relengotron.domain.topics import topic_of

__all__ = ["explain", "parse_time", "render_explain", "timeline"]

MESSAGE_TOPIC = RECEIVED_TOPIC
_SKIP = {"originator_id", "originator_version", "timestamp", "originator_topic"}


# ------------------------------------------------------------------ reading the log


def notifications(
    app: RelengApp, topics: Iterable[str], page: int = 1000
) -> Iterator[Notification]:
    after, wanted = 0, list(topics)
    while True:
        batch = app.recorder.select_notifications(start=after + 1, limit=page, topics=wanted)
        if not batch:
            return
        yield from batch
        after = batch[-1].id


def positions(app: RelengApp, aggregate_ids: Iterable[UUID]) -> dict[tuple[UUID, int], int]:
    """The log position (notification id) of every event of these aggregates."""
    recorder = cast(Any, app.recorder)
    c = recorder.events_record_cls.__table__.c
    wanted = list(dict.fromkeys(aggregate_ids))
    out: dict[tuple[UUID, int], int] = {}
    with recorder.transaction(commit=False) as session:
        for i in range(0, len(wanted), 500):
            q = select(c.originator_id, c.originator_version, c.id).where(
                c.originator_id.in_(wanted[i : i + 500])
            )
            for oid, version, position in session.execute(q):
                oid = oid if isinstance(oid, UUID) else UUID(str(oid))
                out[(oid, version)] = position
    return out


def fields(e: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(e).items() if k not in _SKIP}


def parse_time(text: str) -> datetime:
    """An ISO 8601 instant (naive = UTC); ``Z`` accepted."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class Messages:
    """Message keys -> what an auditor needs of them (topic, time, log position)."""

    def __init__(self, app: RelengApp) -> None:
        self.app = app
        self._info: dict[str, dict[str, Any] | None] = {}

    def info(self, key: str | None) -> dict[str, Any] | None:
        if key is None:
            return None
        if key not in self._info:
            stored = self.app.stored_message(key)
            if stored is None:
                self._info[key] = {"key": key, "recorded": False}
            else:
                pos = positions(self.app, [ids.message_id(key)]).get((ids.message_id(key), 1))
                self._info[key] = {
                    "key": key,
                    "topic": stored.topic,
                    "sent_at": stored.sent_at,
                    "recorded_at": _recorded(stored),
                    "position": pos,
                    "family": stored.family,
                    "status": stored.status,
                }
        return self._info[key]


def _recorded(e: Any) -> str | None:
    """When an event was recorded (the library's timestamp), ISO 8601."""
    when = getattr(e, "timestamp", None)
    return when.isoformat() if when is not None else None


def resolve(app: RelengApp, ref: str | None, cache: dict[str, Any]) -> Any:
    """The stored event behind ``<aggregate id>/<version>``, or None."""
    if not ref or "/" not in ref:
        return None
    if ref not in cache:
        oid, _, version = ref.rpartition("/")
        try:
            found = list(app.events.get(UUID(oid), gt=int(version) - 1, lte=int(version)))
        except ValueError:
            found = []
        cache[ref] = found[0] if found else None
    return cache[ref]


# ------------------------------------------------------------------ explain


def explain(app: RelengApp, cfg: Settings, nvr: str) -> dict[str, Any] | None:
    """Everything recorded about one build and its gate, with the messages behind it."""
    view = bootstrap.decider(app, cfg).read_view()
    status = build_status(view, nvr, cfg.gating.pending_tag)
    if status is None:
        return None
    context = cfg.gating.decision_context
    gate_id = ids.gate_id(context, nvr)
    streams: dict[UUID, str] = {ids.build_id(nvr): "build", gate_id: "gate"}
    build = view.builds.get(nvr)
    if build is not None and build.change:
        streams[ids.subject_id("dist_git_commit", build.change)] = "change"
    for ctx in (context, None):
        streams[override_id(ctx, nvr)] = "override"
    actions = [
        a for a in view.actions_for(nvr) if a.params.get("nvr") == nvr or a.gate == str(gate_id)
    ]
    for a in actions:
        streams[ids.action_id(a.key)] = "action"
    streams[policy_log_id()] = "policy-log"
    events: dict[UUID, list[Any]] = {oid: list(app.events.get(oid)) for oid in streams}
    pos = positions(app, streams)
    msgs = Messages(app)
    cache: dict[str, Any] = {}

    def at_pos(e: Any) -> int | None:
        return pos.get((e.originator_id, e.originator_version))

    activations = [
        {
            "hash": e.policy_set_hash,
            "position": at_pos(e),
            "message": e.msg,
            "recorded_at": _recorded(e),
        }
        for e in events[policy_log_id()]
        if topic_of(e) == topics.POLICY_LOG_ACTIVATED
    ]
    by_message: dict[str, list[dict[str, Any]]] = {}
    for oid, kind in streams.items():
        if kind in ("build", "change", "override"):
            for e in events[oid]:
                if getattr(e, "msg", None):
                    row: dict[str, Any] = {"stream": kind, "event": type(e).__qualname__}
                    row.update(version=e.originator_version, position=at_pos(e), **fields(e))
                    by_message.setdefault(e.msg, []).append(row)
    messages = []
    for key, rows in by_message.items():
        info = dict(msgs.info(key) or {"key": key})
        info["events"] = rows
        messages.append(info)
    messages.sort(key=lambda m: (m.get("position") or 0, m["key"]))

    gate_events, decisions, withdrawals = [], [], []
    for e in events[gate_id]:
        name = type(e).__qualname__.split(".")[-1]
        row = {"event": name, "ref": f"{e.originator_id}/{e.originator_version}"}
        row.update(position=at_pos(e), at=e.at, trigger=msgs.info(e.trigger))
        row["recorded_at"] = _recorded(e)
        if name == "Decided":
            decisions.append(_decision(app, e, row, msgs, cache, activations))
            gate_events.append({**row, "verdict": e.verdict, "previous": e.previous_verdict})
        else:
            extra = {k: v for k, v in fields(e).items() if k not in ("trigger", "at")}
            gate_events.append({**row, **extra})
            if name == "Withdrawn":
                withdrawals.append({**row, **extra})
    overrides = [
        {
            "action": e.action,
            "reason": e.reason,
            "username": e.username,
            "at": e.at,
            "position": at_pos(e),
            "message": msgs.info(e.msg),
        }
        for oid, kind in streams.items()
        if kind == "override"
        for e in events[oid]
        if topic_of(e) == topics.GATE_OVERRIDE_RECORDED
    ]
    action_rows = [_action(a, events[ids.action_id(a.key)], at_pos, msgs) for a in actions]
    result = {
        "nvr": nvr,
        "context": context,
        "status": status,
        "messages": messages,
        "gate": gate_events,
        "decisions": decisions,
        "withdrawals": withdrawals,
        "overrides": overrides,
        "actions": action_rows,
        "policy_activations": [
            {
                "policy_set_hash": a["hash"],
                "position": a["position"],
                "recorded_at": a["recorded_at"],
                **_msg(msgs, a["message"]),
            }
            for a in activations
        ],
    }
    result["timeline"] = timeline(result)
    return result


def _msg(msgs: Messages, key: str | None) -> dict[str, Any]:
    info = msgs.info(key) or {}
    return {"message": key, "topic": info.get("topic"), "sent_at": info.get("sent_at")}


def _decision(
    app: RelengApp,
    e: Any,
    row: dict[str, Any],
    msgs: Messages,
    cache: dict[str, Any],
    activations: list[dict[str, Any]],
) -> dict[str, Any]:
    body = e.decision or {}
    requirements = []
    for satisfied, key in ((True, "satisfied_requirements"), (False, "unsatisfied_requirements")):
        for r in body.get(key, []):
            evidence = resolve(app, r.get("event"), cache)
            msg = getattr(evidence, "msg", None) if evidence is not None else None
            requirements.append(
                {
                    **r,
                    "satisfied": satisfied,
                    "evidence": None
                    if evidence is None
                    else {
                        "event": r.get("event"),
                        "kind": type(evidence).__qualname__,
                        "message": msgs.info(msg),
                        **_remote_file(evidence),
                    },
                }
            )
    policy_hash = body.get("policy_set_hash")
    in_force = [
        a
        for a in activations
        if a["hash"] == policy_hash and (a["position"] or 0) <= (row["position"] or 0)
    ]
    return {
        **row,
        "verdict": e.verdict,
        "previous": e.previous_verdict,
        "summary": body.get("summary"),
        "policy_set_hash": policy_hash,
        "policy_activation": msgs.info(in_force[-1]["message"]) if in_force else None,
        "applicable_policies": body.get("applicable_policies", []),
        "requirements": requirements,
    }


def _remote_file(evidence: Any) -> dict[str, Any]:
    """The gating.yaml a RemoteRule answer used: its URL (naming the commit), hash and
    when it was fetched (``RemoteRuleFile.Fetched``)."""
    if topic_of(evidence) != topics.REMOTE_RULE_FILE_FETCHED:
        return {}
    return {
        "file": {
            "url": evidence.url,
            "status": evidence.status,
            "content_hash": evidence.content_hash,
            "fetched_at": evidence.at,
            "error": evidence.error,
        }
    }


def _action(a: Any, events: list[Any], at_pos: Any, msgs: Messages) -> dict[str, Any]:
    history = []
    for e in events:
        name = type(e).__qualname__.split(".")[-1]
        row: dict[str, Any] = {"event": name, "position": at_pos(e), "at": e.at}
        row["recorded_at"] = _recorded(e)
        for k in ("outcome", "detail", "reason", "result"):
            if hasattr(e, k):
                row[k] = getattr(e, k)
        if hasattr(e, "trigger"):
            row["trigger"] = msgs.info(e.trigger)
        history.append(row)
    p = a.params
    what = (
        f"move {p.get('nvr')} {p.get('from_tag')} -> {p.get('to_tag')}"
        if a.kind == "koji.move"
        else f"publish {p.get('kind')}"
    )
    return {
        "key": a.key,
        "kind": a.kind,
        "what": what,
        "reason": a.reason,
        "status": a.outcome or "pending",
        "params": p,
        "history": history,
    }
