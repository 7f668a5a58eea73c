"""``relengotron replay --until``: the gating state as of a past instant (see ``as_of``)."""

from __future__ import annotations

from typing import Any, cast

from relengotron.adapters.audit.audit import MESSAGE_TOPIC, notifications, parse_time
from relengotron.adapters.services.status import build_status
from relengotron.adapters.settings import Settings
from relengotron.domain import topics
from relengotron.domain.application import RelengApp
from relengotron.domain.topics import topic_of
from relengotron.projections.folds.gating import TOPICS, GatingView


def as_of(app: RelengApp, cfg: Settings, until: str, nvrs: list[str]) -> dict[str, Any]:
    """The gating state as the decider had it after the last input message sent at or
    before ``until``.

    The cut is the last input message *in log order* whose send time is at or before
    ``until``; the prefix of the log up to it holds every message recorded before it
    (also the few sent later, which the report counts: the decider knew them). Folded:
    the events of those messages; the decider's events triggered by one of them (a
    decision is recorded after its message, possibly much later in the log when the
    decider ran on a batch); effector outcomes of those actions that koji answered at
    or before ``until`` (wall-clock time of the outcome).
    """
    limit = parse_time(until)
    seen: list[tuple[int, str, str | None]] = []
    cut = -1
    for n in notifications(app, [MESSAGE_TOPIC]):
        e: Any = app.mapper.to_domain_event(n)
        sent = getattr(e, "sent_at", None)
        seen.append((n.id, e.key, sent))
        if sent and parse_time(sent) <= limit:
            cut = len(seen) - 1
    included = {key for _, key, _ in seen[: cut + 1]}
    cut_position = seen[cut][0] if cut >= 0 else 0
    view = GatingView(cfg.gating)
    folded = set()
    for n in notifications(app, TOPICS):
        e = cast(Any, app.mapper.to_domain_event(n))
        msg = getattr(e, "msg", None)
        if msg is not None:
            keep = msg in included
        elif hasattr(e, "trigger"):
            keep = e.trigger in included or (e.trigger is None and n.id <= cut_position)
        elif topic_of(e) == topics.ACTION_COMPLETED:
            keep = e.originator_id in folded and parse_time(e.at) <= limit
        else:
            keep = n.id <= cut_position or e.originator_version == 1
        if keep:
            view.apply(e, n.id)
            folded.add(e.originator_id)
    known = [
        nvr
        for nvr in sorted(set(view.builds) | set(view.gates))
        if nvr in view.gates or view.builds[nvr].tags or view.builds[nvr].results
    ]
    builds = []
    for nvr in nvrs or known:
        st = build_status(view, nvr, cfg.gating.pending_tag) if nvr in known else None
        builds.append(st if st is not None else {"nvr": nvr, "known": False})
    later = sum(1 for _, _, sent in seen[: cut + 1] if sent and parse_time(sent) > limit)
    last = seen[cut] if cut >= 0 else None
    active = view.active_policies
    return {
        "until": limit.isoformat(),
        "cut": {
            "message": last[1] if last else None,
            "sent_at": last[2] if last else None,
            "position": cut_position,
            "messages_included": cut + 1,
            "messages_total": len(seen),
            "included_but_sent_later": later,
        },
        "policy_set_hash": active.policy_set_hash if active else None,
        "builds": builds,
    }


def render_as_of(r: dict[str, Any]) -> str:
    c = r["cut"]
    if c["message"] is None:
        return f"As of {r['until']}: no input message had been sent yet."
    lines = [
        f"As of {r['until']}: the log up to message {c['message']} (sent {c['sent_at']}, "
        f"position {c['position']}), {c['messages_included']} of {c['messages_total']} "
        f"messages ({c['included_but_sent_later']} of them sent later but recorded before).",
        f"Policy set in force: {r['policy_set_hash'] or 'the configured set (none activated)'}",
    ]
    for b in r["builds"]:
        if b.get("known") is False:
            lines.append(f"  {b['nvr']:<32} unknown then")
            continue
        d = b.get("decision") or {}
        lines.append(
            f"  {b['nvr']:<32} {b['state'] or '-':<12} {d.get('verdict', '-'):<11} "
            f"tags={','.join(b['tags'])}  {d.get('summary', '')}".rstrip()
        )
    return "\n".join(lines)
