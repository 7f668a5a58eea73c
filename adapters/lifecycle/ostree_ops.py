"""OSTree operations, each an outbox action (``domain.outbox.Action``) carried out at once.

* ``ostree.promote`` — fast-forward a ref to a commit (refused, and no action requested,
  when the target ref is not an ancestor of the commit, or the commit's compose gate
  has not passed: see ``adapters.services.ostree``);
* ``ostree.tag`` — a named ref for a release, immutable: created once, never moved;
* ``ostree.archive`` — the refs under a prefix copied to the archive repository
  (``pull-local``) and then deleted from the repository;
* ``ostree.gc`` — refs' history pruned to ``keep`` commits each (``prune --refs-only
  --depth``); the key holds the refs' state, so the same prune is one action.

An action is requested (saved) before the repository is touched and completed after;
a run killed between the two finds the action pending, and the operation checks the
repository before it writes (a ref already there is ``already``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from eventsourcing.application import AggregateNotFoundError

from relengotron.adapters.lifecycle.ostree import OstreeError, Repo
from relengotron.domain import ids
from relengotron.domain.outbox import Action

PROMOTE, TAG, ARCHIVE, GC = "ostree.promote", "ostree.tag", "ostree.archive", "ostree.gc"
DONE, ALREADY, REFUSED, WOULD = "done", "already", "refused", "would-do"

Result = tuple[str, str, dict[str, Any]]


class Refused(Exception):
    """The operation must not happen (the message says why); nothing was written."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


def promote(repo: Repo, params: dict[str, Any]) -> Result:
    to, commit = params["to"], params["commit"]
    current = repo.resolve(to)
    if current == commit:
        return ALREADY, f"{to} is at {commit[:12]}", {"from": current}
    if current is not None and not repo.is_ancestor(current, commit):
        raise Refused(f"{to} at {current[:12]} is not an ancestor of {commit[:12]}: "
                      "not a fast-forward")  # fmt: skip
    repo.set_ref(to, commit)
    return DONE, f"{to}: {(current or 'none')[:12]} -> {commit[:12]}", {"from": current}


def tag(repo: Repo, params: dict[str, Any]) -> Result:
    name, commit = params["name"], params["commit"]
    current = repo.resolve(name)
    if current == commit:
        return ALREADY, f"{name} is {commit[:12]}", {}
    if current is not None:
        raise Refused(f"{name} exists at {current[:12]}: a release tag never moves")
    repo.set_ref(name, commit)
    return DONE, f"{name} -> {commit[:12]}", {}


def archive(repo: Repo, params: dict[str, Any]) -> Result:
    target = Repo(params["archive"])
    target.init()
    refs = repo.refs(params["prefix"]) if repo.exists() else []
    if not refs:
        kept = target.refs(params["prefix"])
        return ALREADY, f"no refs under {params['prefix']} ({len(kept)} in the archive)", {}
    target.pull_local(repo, refs)
    for ref in refs:  # deleted only once the archive has the same commit
        if target.resolve(ref) != repo.resolve(ref):
            raise OstreeError(f"{ref} not in the archive after pull-local")
    for ref in refs:
        repo.delete_ref(ref)
    return DONE, f"{len(refs)} ref(s) moved to {target}", {"refs": refs}


def gc_candidates(repo: Repo, keep: int) -> dict[str, list[str]]:
    """Per ref, the commits beyond the newest ``keep`` (not kept by another ref)."""
    refs = repo.refs()
    histories = {r: repo.history(r) for r in refs}
    kept = {c for h in histories.values() for c in h[:keep]}
    return {r: [c for c in h[keep:] if c not in kept] for r, h in histories.items()}


def gc(repo: Repo, params: dict[str, Any]) -> Result:
    keep = params["keep"]
    going = gc_candidates(repo, keep)
    n = sum(len(v) for v in going.values())
    if not n:
        return ALREADY, f"nothing beyond {keep} commit(s) per ref", {}
    out = repo.prune(keep - 1)
    return DONE, f"pruned {n} commit(s): {out.splitlines()[-1] if out else ''}", {
        "commits": {r: c for r, c in going.items() if c}}  # fmt: skip


OPERATIONS: dict[str, Callable[[Repo, dict[str, Any]], Result]] = {
    PROMOTE: promote, TAG: tag, ARCHIVE: archive, GC: gc,
}  # fmt: skip


def precheck(kind: str, repo: Repo, params: dict[str, Any]) -> None:
    """Raise ``Refused`` before anything is requested when the operation must not happen."""
    if kind == PROMOTE:
        current = repo.resolve(params["to"])
        if current not in (None, params["commit"]) and not repo.is_ancestor(
            current, params["commit"]
        ):
            raise Refused(f"{params['to']} at {current[:12]} is not an ancestor of "
                          f"{params['commit'][:12]}: not a fast-forward")  # fmt: skip
    elif kind == TAG:
        current = repo.resolve(params["name"])
        if current not in (None, params["commit"]):
            raise Refused(f"{params['name']} exists at {current[:12]}: a release tag never moves")


def refs_state(repo: Repo) -> str:
    refs = repo.refs()
    text = "\n".join(f"{r} {repo.resolve(r)}" for r in refs)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def action_key(kind: str, repo: Repo, params: dict[str, Any]) -> str:
    what = {
        PROMOTE: lambda p: f"{p['to']}@{p['commit']}",
        TAG: lambda p: p["name"],
        ARCHIVE: lambda p: f"{p['prefix']}->{p['archive']}",
        GC: lambda p: f"keep={p['keep']}:{p['state']}",
    }[kind](params)
    return f"{kind}:{repo.path.resolve()}:{what}"


def carry_out(
    app: Any, kind: str, repo: Repo, params: dict[str, Any], reason: str,
    *, dry_run: bool = False, clock: Callable[[], str] = utc_now,
) -> dict[str, Any]:  # fmt: skip
    """Request the action (once: its key is deterministic) and carry it out; the row
    reported. ``Refused`` and ``OstreeError`` propagate (an OstreeError is recorded as an
    attempt first: the action stays pending for the next run)."""
    key = action_key(kind, repo, params)
    row: dict[str, Any] = {"action": key, "kind": kind, "params": params}
    try:
        action: Action | None = cast(Action, app.repository.get(ids.action_id(key)))
    except AggregateNotFoundError:
        action = None
    precheck(kind, repo, params)  # also for an action done: a tag asked to move refuses
    if action is not None and action.done:
        return {**row, "outcome": ALREADY, "detail": "done by an earlier run"}
    if dry_run:
        return {**row, "outcome": WOULD, "detail": reason}
    if action is None:
        action = Action(key, kind, {"repo": str(repo.path), **params}, None, reason, None, clock())
        app.save(action)
    try:
        outcome, detail, result = OPERATIONS[kind](repo, params)
    except OstreeError as exc:
        action.attempt(at=clock(), outcome="transient", detail=str(exc))
        app.save(action)
        raise
    except Refused as exc:
        action.complete(at=clock(), outcome=REFUSED, detail=str(exc), result={})
        app.save(action)
        raise
    action.complete(at=clock(), outcome=outcome, detail=detail, result=result)
    app.save(action)
    return {**row, "outcome": outcome, "detail": detail, "result": result}
