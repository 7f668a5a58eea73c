"""The effector's part for OSTree actions (``ostree.*``, ``adapters.lifecycle.ostree_ops``).

``relengotron ostree ...`` requests its action and carries it out at once; one left
pending (the command killed, or ``ostree`` failing) is carried out by the next ``act``
like any outbox action: the operation checks the repository before it writes, so an
operation done before the kill completes as ``already``. :class:`Effects` lets the
effector's one port for "other" actions be several (compose requests, OSTree, ...);
each carries out the kinds it knows and leaves the others alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from relengotron.adapters.lifecycle.ostree import OstreeError, Repo
from relengotron.adapters.lifecycle.ostree_ops import OPERATIONS, WOULD, Refused
from relengotron.adapters.lifecycle.ostree_ops import REFUSED as FAILED_FOR_GOOD
from relengotron.domain.outbox import Action

Row = dict[str, Any]
Report = tuple[list[Row], list[Row], list[Action]]


class Port(Protocol):
    def run(self, actions: Sequence[Action], *, dry_run: bool, at: Callable[[], str]) -> Report: ...


class OstreeEffects:
    def run(self, actions: Sequence[Action], *, dry_run: bool, at: Callable[[], str]) -> Report:
        done: list[Row] = []
        pending: list[Row] = []
        changed: list[Action] = []
        for a in actions:
            operation = OPERATIONS.get(a.kind)
            if operation is None:
                continue
            params = {k: v for k, v in a.params.items() if k != "repo"}
            if dry_run:
                pending.append(_row(a, WOULD, "ostree operation"))
                continue
            try:
                outcome, detail, result = operation(Repo(a.params["repo"]), params)
            except OstreeError as exc:
                a.attempt(at=at(), outcome="transient", detail=str(exc))
                pending.append(_row(a, "transient", str(exc)))
            except Refused as exc:
                a.complete(at=at(), outcome=FAILED_FOR_GOOD, detail=str(exc), result={})
                done.append(_row(a, "failed", str(exc)))
            else:
                a.complete(at=at(), outcome=outcome, detail=detail, result=result)
                done.append(_row(a, outcome, detail))
            changed.append(a)
        return done, pending, changed


class Effects:
    """Several ports as one."""

    def __init__(self, *ports: Port) -> None:
        self.ports = ports

    def run(self, actions: Sequence[Action], *, dry_run: bool, at: Callable[[], str]) -> Report:
        done: list[Row] = []
        pending: list[Row] = []
        changed: list[Action] = []
        for port in self.ports:
            d, p, c = port.run(actions, dry_run=dry_run, at=at)
            done += d
            pending += p
            changed += c
        return done, pending, changed


def _row(a: Action, outcome: str, detail: str) -> Row:
    target = a.params.get("to") or a.params.get("name") or a.params.get("prefix") or "refs"
    return {"action": a.key, "kind": a.kind, "outcome": outcome, "detail": detail,
            "target": target, "backend": a.params.get("repo")}  # fmt: skip
