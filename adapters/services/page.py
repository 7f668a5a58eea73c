"""What the web page reads beside the plain API: recent decisions with their trigger
message named, and the operations panel (outbox, koji moves not yet made, follower lag).

Read-only: nothing here writes to the store or decides.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import func, select

from relengotron.adapters.store.readmodel_tables import ReadModelTables, decode_row
from relengotron.domain.outbox import KOJI_MOVE
from relengotron.projections.queries import ReadModel

#: Outcomes of a settled action that did not do what it was asked (adapters.koji.koji_values).
FAILED_OUTCOMES = ("failed",)
#: How many recorded decisions are looked at, per decision shown, to find changed ones.
SCAN_FACTOR = 20
MAX_SCAN = 5000
MAX_MOVES = 500


def message_url(message: dict[str, Any], bases: dict[str, str]) -> str | None:
    """Where a bus message can be read: datagrepper by id, for messages that came from
    the bus (not our own ``relengotron`` ones, which are recorded, not published)."""
    if not message.get("key") or message.get("family") == "relengotron":
        return None
    query = urlencode({"id": message["key"], "is_raw": "true"})
    return f"{bases['datagrepper']}/v2/id?{query}"


def recent_decisions(
    read_model: ReadModel,
    bases: dict[str, str],
    *,
    limit: int = 20,
    changed_only: bool = True,
    package: str | None = None,
    nvr: str | None = None,
) -> list[dict[str, Any]]:
    """The latest recorded decisions, newest (by message time) first; ``changed_only``
    leaves out those whose verdict is the one before (their summary changed only).
    Each names its trigger: ``trigger_message`` {key, topic, family, at, url} or None."""
    scan = min(MAX_SCAN, limit * SCAN_FACTOR) if (changed_only or package) else limit
    rows = read_model.decisions(nvr, limit=scan)
    if changed_only:
        rows = [r for r in rows if r.get("previous") != r.get("verdict")]
    if package:
        rows = [r for r in rows if _package(r.get("nvr") or "") == package]
    rows.sort(key=lambda r: (r.get("at") or "", r.get("position") or 0), reverse=True)
    rows = rows[:limit]
    keys = sorted({r["trigger"] for r in rows if r.get("trigger")})
    messages = read_model.messages(keys) if keys else {}
    out = []
    for r in rows:
        m = messages.get(r.get("trigger") or "")
        trigger = None
        if m is not None:
            trigger = {k: m.get(k) for k in ("key", "topic", "family", "at")}
            trigger["url"] = message_url(trigger, bases)
        out.append({**r, "changed": r.get("previous") != r.get("verdict"),
                    "trigger_message": trigger})  # fmt: skip
    return out


def _package(nvr: str) -> str:
    parts = nvr.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else nvr


def build_links(build: dict[str, Any], bases: dict[str, str]) -> dict[str, str]:
    """A build's pages elsewhere: koji's buildinfo, the dist-git commit, Bodhi's updates
    of the build."""
    links: dict[str, str] = {}
    if build.get("koji_id") is not None:
        links["koji"] = f"{bases['koji']}/buildinfo?buildID={int(build['koji_id'])}"
    change = build.get("change") or ""
    # "rpms/vim#<sha>", or koji's source "git+https://src.fedoraproject.org/rpms/vim.git#<sha>"
    if "#" in change:
        repo, _, commit = change.rpartition("#")
        repo = repo.split("://", 1)[-1]
        parts = [p for p in repo.removesuffix(".git").split("/") if p]
        if len(parts) >= 2 and commit:
            namespace, name = parts[-2], parts[-1]
            links["distgit"] = f"{bases['distgit']}/{namespace}/{name}/c/{quote(commit)}"
    if build.get("nvr"):
        links["bodhi"] = f"{bases['bodhi']}/updates/?{urlencode({'builds': build['nvr']})}"
    return links


class Operations:
    """The operations panel: the outbox and the followers, from the read models."""

    def __init__(self, tables: ReadModelTables, read_model: ReadModel) -> None:
        self.tables = tables
        self.read_model = read_model

    def pending_moves(self) -> list[dict[str, Any]]:
        """Koji moves requested and not made yet (oldest first): ``nvr``, ``from_tag``,
        ``to_tag``, ``requested_at``, ``reason``."""
        a = self.tables.t["actions"]
        with self.tables.engine.connect() as conn:
            rows = conn.execute(
                select(a.c.nvr, a.c.params, a.c.requested_at, a.c.reason)
                .where(a.c.outcome.is_(None), a.c.kind == KOJI_MOVE)
                .order_by(a.c.requested_at)
                .limit(MAX_MOVES)
            ).all()
        moves = []
        for row in rows:
            d = decode_row(row._mapping)
            params = d.get("params") or {}
            moves.append({"nvr": d["nvr"] or params.get("nvr"), "from_tag": params.get("from_tag"),
                          "to_tag": params.get("to_tag"), "requested_at": d["requested_at"],
                          "reason": d["reason"]})  # fmt: skip
        return moves

    def state(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        a = self.tables.t["actions"]
        with self.tables.engine.connect() as conn:
            pending, oldest = conn.execute(
                select(func.count(), func.min(a.c.requested_at)).where(a.c.outcome.is_(None))
            ).one()
            failed = conn.execute(
                select(func.count()).where(a.c.outcome.in_(FAILED_OUTCOMES))
            ).scalar()
        moves = self.pending_moves()
        health = self.read_model.health()
        return {
            "outbox": {
                "pending": int(pending or 0),
                "failed": int(failed or 0),
                "oldest_requested_at": oldest,
                "oldest_age_seconds": _age(oldest, now),
            },
            "moves_pending": moves,
            "head": health.get("head"),
            "followers": health.get("followers", {}),
            "messages": health.get("messages"),
        }


def _age(when: str | None, now: datetime) -> float | None:
    if not when:
        return None
    try:
        then = datetime.fromisoformat(when)
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


def page_builds(
    read_model: ReadModel,
    gates: list[str],
    bases: dict[str, str],
    moves: list[dict[str, Any]],
    *,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Builds in any of ``gates`` (by NVR), each with its ``links`` and, when a koji move
    of it is requested and not made yet, ``move_pending`` (the move)."""
    pending = {m["nvr"]: m for m in moves if m.get("nvr")}
    rows = [b for g in dict.fromkeys(gates) for b in read_model.builds_by_gate(g, limit=limit)]
    rows.sort(key=lambda b: b["nvr"])
    return [
        {**b, "links": build_links(b, bases), "move_pending": pending.get(b["nvr"])} for b in rows
    ]
