"""The effector's compose side: compose requests, push release steps and mirror syncs.

``compose.request`` actions go to the backend the order names (``koji``,
``odcs`` or ``command``, see ``adapters.effects.compose_backends``) through the
artifact kind's plugin; ``push.release`` runs the configured release command
("sync bits live"); ``compose.sync`` syncs a compose whose gate passed to the master
mirror (``adapters.effects.mirror_sync``) and, once it is there, gives the
``compose.synced`` message to announce (the row's ``notice``). Outcomes are recorded
on the action; the composer reads them (and the backends' own completion messages) to
move composes and pushes on.
A transient failure is recorded as an attempt and the action stays pending.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from relengotron.adapters.artifacts.kinds import ArtifactKind
from relengotron.adapters.effects import mirror_sync
from relengotron.adapters.effects.compose_backends import (
    EX_TEMPFAIL,
    FAILED,
    TRANSIENT,
    ComposeBackend,
    run_command,
)
from relengotron.domain.outbox import COMPOSE_SYNC, Action

COMPOSE_REQUEST, PUSH_RELEASE = "compose.request", "push.release"
KINDS = (COMPOSE_REQUEST, PUSH_RELEASE, COMPOSE_SYNC)
_NOT_YET = ("would-submit", "would-release", "not-configured", mirror_sync.WOULD_SYNC)
Row = dict[str, Any]


class ComposeEffects:
    def __init__(
        self,
        kinds: Mapping[str, ArtifactKind],
        backends: Mapping[str, ComposeBackend],
        *,
        release: Sequence[str] = (),
        release_timeout: float = 3600.0,
        mirror: mirror_sync.MirrorSync | None = None,
    ) -> None:
        self.mirror = mirror
        self.kinds = kinds
        self.backends = backends
        self.release = list(release)
        self.release_timeout = release_timeout

    def run(
        self, actions: Sequence[Action], *, dry_run: bool, at: Callable[[], str]
    ) -> tuple[list[Row], list[Row], list[Action]]:
        """Carry out the actions: (done rows, pending rows, actions changed)."""
        done: list[Row] = []
        pending: list[Row] = []
        changed: list[Action] = []
        for a in actions:
            if a.kind == COMPOSE_REQUEST:
                outcome, detail, result = self._compose(a, dry_run)
            elif a.kind == PUSH_RELEASE:
                outcome, detail, result = self._release(a, dry_run)
            elif a.kind == COMPOSE_SYNC:
                outcome, detail, result = self._sync(a, dry_run)
            else:
                continue
            row = _row(a, outcome, detail)
            if a.kind == COMPOSE_SYNC:
                row["result"] = result
                if outcome in (mirror_sync.SYNCED, mirror_sync.ALREADY):
                    row["notice"] = _synced_body(a, result, at())
            if outcome in _NOT_YET:
                pending.append(row)
                continue
            if outcome == TRANSIENT:
                a.attempt(at=at(), outcome=outcome, detail=detail)
                pending.append(row)
            else:
                a.complete(at=at(), outcome=outcome, detail=detail, result=result)
                done.append(row)
            changed.append(a)
        return done, pending, changed

    def _compose(self, a: Action, dry_run: bool) -> tuple[str, str, dict[str, Any]]:
        order = a.params
        kind = self.kinds.get(order.get("kind", ""))
        if kind is None:
            return FAILED, f"no plugin for artifact kind {order.get('kind')!r}", {}
        backend = self.backends.get(order.get("backend", ""))
        if backend is None:
            return "not-configured", f"compose backend {order.get('backend')!r} not configured", {}
        sub = backend.submit(order, kind, dry_run=dry_run)
        return sub.outcome, sub.detail, sub.as_dict()

    def _release(self, a: Action, dry_run: bool) -> tuple[str, str, dict[str, Any]]:
        if not self.release:
            return "not-configured", "no release command ([push] release)", {}
        push = a.params.get("push", "")
        if dry_run:
            return "would-release", f"would run {self.release[0]} for {push}", {}
        env = {
            "RELENGOTRON_PUSH": str(push),
            "RELENGOTRON_COMPOSES": " ".join(a.params.get("composes") or []),
            "RELENGOTRON_BUILDS": " ".join(a.params.get("builds") or []),
        }
        r = run_command(
            self.release, env=env, stdin=json.dumps(a.params), timeout=self.release_timeout
        )
        result = {
            "returncode": r.returncode,
            "stdout": r.stdout[-2000:],
            "stderr": r.stderr[-2000:],
        }
        if r.timed_out or r.returncode == EX_TEMPFAIL:
            return TRANSIENT, f"release step for {push}: try again ({r.returncode})", result
        if r.returncode == 0:
            return "released", (r.stdout.strip().splitlines() or ["released"])[-1][:300], result
        tail = (r.stderr or r.stdout).strip()[-300:]
        return FAILED, f"release step exited {r.returncode}: {tail}", result

    def _sync(self, a: Action, dry_run: bool) -> tuple[str, str, dict[str, Any]]:
        if self.mirror is None:
            return "not-configured", "no rsync to run", {}
        done = self.mirror.sync(a.params, dry_run=dry_run)
        return done.outcome, done.detail, done.result


def _synced_body(a: Action, result: Mapping[str, Any], at: str) -> dict[str, Any]:
    """The ``compose.synced`` message of a finished sync (``adapters.messaging.sync_schemas``)."""
    p = a.params
    decision = p.get("decision") or {}
    return {
        "compose": p["compose"],
        "location": result.get("path") or f"{p['target']}/{p['compose']}",
        "link": result.get("link"),
        "switched": bool(result.get("switched", True)),
        "previous": result.get("previous"),
        "decision_context": decision.get("decision_context"),
        "product_version": decision.get("product_version"),
        "summary": decision.get("summary") or "",
        "at": at,
    }


def _row(a: Action, outcome: str, detail: str) -> Row:
    p = a.params
    what = p.get("push") if a.kind == PUSH_RELEASE else p.get("compose")
    return {"action": a.key, "kind": a.kind, "outcome": outcome, "detail": detail,
            "target": what, "backend": p.get("backend")}  # fmt: skip
