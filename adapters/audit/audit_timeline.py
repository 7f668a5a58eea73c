"""``relengotron explain`` for people: the timeline of a build's chain (in the order of
the time each step happened, with the time it was recorded) and its rendering."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def timeline(x: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step in the order of the time it happened (a message: the time it was sent;
    a decision: its trigger's; ties and unknown times by log position), each with the
    time it was recorded and a line for people."""
    rows: list[dict[str, Any]] = []

    def add(kind: str, at: str | None, recorded: str | None, pos: int | None, text: str) -> None:
        rows.append(
            {"position": pos or 0, "text": text, "kind": kind, "at": at, "recorded_at": recorded}
        )

    for m in x["messages"]:
        names = ", ".join(sorted({r["event"].split(".")[-1] for r in m["events"]}))
        text = f"message {m.get('topic')} ({m['key']}) -> {names}"
        add("message", m.get("sent_at"), m.get("recorded_at"), m.get("position"), text)
    for g in x["gate"]:
        t = g.get("trigger") or {}
        trig = f"{t.get('topic')} ({t.get('key')})" if t else "effector outcomes"
        if g["event"] == "Decided":
            was = f"was {g['previous']}" if g.get("previous") else "first decision"
            text = f"decided {g['verdict']} ({was}) after {trig}"
        else:
            text = f"gate {g['event'].lower()} after {trig}"
            if g.get("reason"):
                text += f": {g['reason']} ({g.get('detail')})"
        add("gate", g.get("at"), g.get("recorded_at"), g.get("position"), text)
    for a in x["actions"]:
        for h in a["history"]:
            outcome = f": {h.get('outcome')} {h.get('detail') or ''}" if "outcome" in h else ""
            if h["event"] == "Cancelled":
                outcome = f": {h.get('reason')}"
            text = f"action {h['event'].lower()}: {a['what']}{outcome}".rstrip()
            add("action", h.get("at"), h.get("recorded_at"), h.get("position"), text)
    for p in x["policy_activations"]:
        text = f"policy set {p['policy_set_hash'][:19]}... activated ({p['message']})"
        add("policy", p.get("sent_at"), p.get("recorded_at"), p.get("position"), text)
    rows.sort(key=lambda r: (_instant(r["at"] or r["recorded_at"]), r["position"]))
    return [{"n": n, **row} for n, row in enumerate(rows, 1)]


def _instant(text: str | None) -> datetime:
    """For ordering: an ISO 8601 time (naive = UTC); unknown or unreadable ones last."""
    if not text:
        return datetime.max.replace(tzinfo=UTC)
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def render_explain(x: dict[str, Any]) -> str:
    s = x["status"]
    lines = [f"{x['nvr']} ({x['context']}): {s['state'] or 'not a gating candidate'}"]
    lines.append(f"  tags: {', '.join(s['tags']) or '(none seen)'}")
    for r in s.get("reruns", ()):
        lines.append(f"  rerun of {r['testcase']} asked by {r['username']}: {r['state']}")
    for testcase, count in (s.get("flaky") or {}).items():
        lines.append(f"  flaky: {testcase} (passed on {count} rerun(s) after failing)")
    decisions = {d["position"]: d for d in x["decisions"]}
    for step in x["timeline"]:
        when = (step.get("at") or "-")[:19].replace("T", " ")
        recorded = (step.get("recorded_at") or "-")[:19].replace("T", " ")
        lines.append(
            f"{step['n']:>3}. {when:<19}  recorded {recorded:<19} [{step['position']:>7}]  "
            f"{step['text']}"
        )
        d = decisions.get(step["position"]) if step["kind"] == "gate" else None
        if d is None:
            continue
        lines.append(f"       {d['summary']}")
        act = d.get("policy_activation")
        origin = f"activated by {act['key']}" if act else "configured set (not in the log)"
        lines.append(f"       policy set {str(d['policy_set_hash'])[:19]}... ({origin})")
        for r in d["requirements"]:
            mark = "ok " if r["satisfied"] else "NOT"
            ev = r.get("evidence") or {}
            msg = ev.get("message") or {}
            src = f" <- {msg.get('topic')} [{msg.get('position')}]" if msg else ""
            name = r.get("testcase") or r.get("detail") or ""
            lines.append(f"         {mark} {r['type']:<28} {name}{src}")
            if r.get("invalid"):  # no valid result: the message failed its spec's schema
                lines.append(f"             {r.get('detail')}")
            file = ev.get("file")
            if file:  # the gating.yaml (its URL names the commit) the answer came from
                digest = f" {str(file['content_hash'])[:19]}..." if file["content_hash"] else ""
                lines.append(f"             gating.yaml {file['url']}{digest}")
            elif r.get("source") or r.get("sources"):
                lines.append(f"             from {r.get('source') or ', '.join(r['sources'])}")
            if r["type"] in ("invalid-gating-yaml", "failed-fetch-gating-yaml"):
                lines.append(f"             {r.get('details') or r.get('error')}")
    return "\n".join(lines)
