"""The invalid inputs an auditor asks for (``relengotron events --invalid``).

A message that failed its spec's JSON Schema (a Fedora CI message) is recorded like
every other, with status ``invalid`` and its schema errors as ``problems``; it gives
no result. This lists them from the event log itself (not from a read model that may
lag), oldest first.
"""

from __future__ import annotations

from typing import Any

from relengotron.adapters.audit.audit import notifications
from relengotron.domain.application import RelengApp
from relengotron.domain.message import INVALID, RECEIVED_TOPIC


def invalid_messages(app: RelengApp) -> list[dict[str, Any]]:
    """Every recorded invalid message: position, key, topic, times, problems, source."""
    out: list[dict[str, Any]] = []
    marker = f'"{INVALID}"'.encode()
    for n in notifications(app, [RECEIVED_TOPIC]):
        # Plain JSON states without the word cannot be invalid: skip decoding them (a
        # compressed or encrypted state does not start with "{" and is always decoded).
        if n.state[:1] == b"{" and marker not in n.state:
            continue
        e: Any = app.mapper.to_domain_event(n)
        if getattr(e, "status", None) != INVALID:
            continue
        out.append(
            {
                "position": n.id,
                "key": e.key,
                "topic": e.topic,
                "sent_at": e.sent_at,
                "recorded_at": e.timestamp.isoformat(),
                "family": e.family,
                "reason": e.reason,
                "problems": list(e.problems),
                "source": e.source,
            }
        )
    return out


def render_invalid(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No invalid messages recorded."
    lines = [f"{len(rows)} invalid message(s), oldest first:"]
    for r in rows:
        when = (r["sent_at"] or r["recorded_at"] or "")[:19].replace("T", " ")
        lines.append(f"  [{r['position']:>7}] {when:<19}  {r['topic']}  ({r['key']})")
        lines += [f"{'':12}{p}" for p in r["problems"]]
    return "\n".join(lines)
