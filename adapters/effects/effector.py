"""The effector: carries out pending outbox actions and records what came of each.

Koji moves go through ``KojiGateway.move``, which re-reads the build's tags
before writing: a build already in the target tag is a success, so an action
whose move happened before a crash (but whose outcome was never recorded) is
settled without a second move. Each batch's outcomes are saved as soon as koji
answers. Transient failures are recorded as attempts and left pending for the
next run; permanent ones complete the action as ``failed``.

Bus messages are built from the action's body with our schema classes and
published; with the bus disabled they are completed as ``disabled`` (the body
stays in the log, so nothing is lost if it is enabled later and re-requested).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from relengotron.adapters.effects.pending import PendingScan, pending_actions
from relengotron.adapters.koji.koji_values import (
    ALREADY,
    FAILED,
    GONE,
    MOVED,
    TRANSIENT,
    KojiLoginError,
    Move,
    MoveResult,
)
from relengotron.domain import ids
from relengotron.domain.application import RelengApp
from relengotron.domain.gating import Gate
from relengotron.domain.outbox import BUS_PUBLISH, KOJI_MOVE, SIGN_REQUEST, Action
from relengotron.projections.config import GatingConfig

BATCH = 50
SYNCED = "compose.synced"  # the message a finished compose.sync asks for


class KojiPort(Protocol):
    def move(self, moves: Sequence[Move], *, dry_run: bool = False) -> list[MoveResult]: ...


class PublisherPort(Protocol):
    def publish(self, message: Any) -> str: ...


class SignPort(Protocol):
    """Signing requests (``adapters.effects.signing``: robosignatory or a command)."""

    def sign(self, nvr: str, sigkey: str) -> Any: ...


class ComposePort(Protocol):
    """Compose requests and release steps (``adapters.effects.compose_effects``)."""

    def run(
        self, actions: Sequence[Action], *, dry_run: bool, at: Callable[[], str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Action]]: ...


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class ActReport:
    dry_run: bool = False
    done: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "done": self.done,
            "still_pending": self.pending,
            "errors": self.errors,
        }


def _uuid(value: str) -> UUID:
    return UUID(value)


class Effector:
    def __init__(
        self,
        app: RelengApp,
        config: GatingConfig,
        *,
        koji: KojiPort | None,
        publisher: PublisherPort | None,
        message_factory: Callable[[str, dict[str, Any], str], Any] | None = None,
        clock: Callable[[], str] = utc_now,
        composes: ComposePort | None = None,
        scan: PendingScan | None = None,
        signer: SignPort | None = None,
    ) -> None:
        self.app = app
        self.signer = signer
        self.scan = scan  # None: read the whole log each run (one-shot commands)
        self.composes = composes
        self.config = config
        self.koji = koji
        self.publisher = publisher
        self.message_factory = message_factory
        self.clock = clock

    def run(self, *, dry_run: bool = False, only: str | None = None) -> ActReport:
        """Carry out the pending actions (``only``: the action of that key and those it
        asks for, whose keys start with it)."""
        report = ActReport(dry_run=dry_run)
        actions = self._pending(only)
        moves = [a for a in actions if a.kind == KOJI_MOVE]
        for i in range(0, len(moves), BATCH):
            self._moves(moves[i : i + BATCH], dry_run, report)
        for a in (a for a in actions if a.kind == SIGN_REQUEST):
            self._sign(a, dry_run, report)
        others = [a for a in actions if a.kind not in (KOJI_MOVE, BUS_PUBLISH, SIGN_REQUEST)]
        if others and self.composes is not None:
            for a in others:  # each outcome saved as soon as it is known
                done, pending, changed = self.composes.run([a], dry_run=dry_run, at=self.clock)
                report.done += done
                report.pending += pending
                self._save(changed)
                for row in done:  # a finished sync: its compose.synced message
                    if "notice" in row and not a._pending_events:
                        self._request(f"{a.key}:{SYNCED}", SYNCED, row["notice"], a.gate)
        elif others:
            report.pending += [_row(a, "not-configured", "no compose effector") for a in others]
        # Publish last: the moves above may have asked for notices.
        for action in self._pending(only) if not dry_run else actions:
            if action.kind == BUS_PUBLISH:
                self._publish(action, dry_run, report)
        return report

    # ------------------------------------------------------------------ koji

    def _moves(self, actions: list[Action], dry_run: bool, report: ActReport) -> None:
        if self.koji is None:
            for a in actions:
                report.pending.append(
                    _row(a, "not-configured", "no koji hub configured ([koji] hub)")
                )
            return
        moves = [
            Move(
                action_id=a.key,
                nvr=a.params["nvr"],
                from_tag=a.params["from_tag"],
                to_tag=a.params["to_tag"],
            )
            for a in actions
        ]
        try:
            results = self.koji.move(moves, dry_run=dry_run)
        except KojiLoginError as exc:  # nothing was written; the actions stay pending
            for a in actions:
                report.pending.append(_row(a, TRANSIENT, f"koji login failed: {exc}"))
            report.errors.append(f"koji login failed: {exc}")
            return
        if dry_run:
            for a, r in zip(actions, results, strict=True):
                report.pending.append(_row(a, r.outcome, r.detail))
            return
        at = self.clock()
        for a, r in zip(actions, results, strict=True):
            if r.outcome == TRANSIENT:
                a.attempt(at=at, outcome=r.outcome, detail=r.detail)
                report.pending.append(_row(a, r.outcome, r.detail))
                continue
            a.complete(at=at, outcome=r.outcome, detail=r.detail, result=r.as_dict())
            report.done.append(_row(a, r.outcome, r.detail))
            if r.outcome in (MOVED, ALREADY):
                self._notice(a, r, at)
        self._save(actions)

    def _notice(self, a: Action, r: MoveResult, at: str) -> None:
        """Ask for the build.promoted / build.quarantined message (published below)."""
        p = a.params
        decision: dict[str, Any] = {}
        if a.gate:
            try:
                gate = cast(Gate, self.app.repository.get(_uuid(a.gate)))
                decision = gate.decision or {}
            except AggregateNotFoundError:
                pass
        common = {
            "nvr": p["nvr"],
            "package": p.get("package") or p["nvr"].rsplit("-", 2)[0],
            "owner": p.get("owner"),
            "from_tag": p["from_tag"],
            "to_tag": p["to_tag"],
            "task_id": r.task_id,
            "decision_id": p.get("decision_id") or "",
            # The decision in force when the move was done (the one whose requirements
            # the notice lists), not the one that asked for the move: a later decision
            # with the same verdict keeps the move but may say something else.
            "summary": decision.get("summary") or p.get("summary") or "",
        }
        if p["to_tag"] == self.config.quarantine_tag:
            unsatisfied = list(decision.get("unsatisfied_requirements", []))
            kind, body = (
                "build.quarantined",
                {
                    **common,
                    "unsatisfied_requirements": unsatisfied,
                    "suspect_reason": _suspect_reason(unsatisfied),
                },
            )
        else:
            kind, body = (
                "build.promoted",
                {
                    **common,
                    "verdict": p.get("verdict", "promote"),
                    "satisfied_requirements": list(decision.get("satisfied_requirements", [])),
                },
            )
        self._request(f"{a.key}:{kind}", kind, body, a.gate, at)

    def _request(
        self, key: str, kind: str, body: dict[str, Any], gate: str | None, at: str | None = None
    ) -> None:
        """Ask for a message, once (a re-run after a crash finds it asked)."""
        try:
            self.app.repository.get(ids.action_id(key))
            return
        except AggregateNotFoundError:
            pass
        at = at or self.clock()
        notice = Action(key, BUS_PUBLISH, {"kind": kind, "body": body}, gate, kind, None, at)
        self.app.save(notice)

    # --------------------------------------------------------------- signing

    def _sign(self, a: Action, dry_run: bool, report: ActReport) -> None:
        nvr, sigkey = a.params["nvr"], a.params["sigkey"]
        if self.signer is None:
            report.pending.append(_row(a, "not-configured", "no signing backend ([signing])"))
            return
        if dry_run:
            report.pending.append(_row(a, "would-sign", f"{nvr} with key {sigkey}"))
            return
        out = self.signer.sign(nvr, sigkey)
        at = self.clock()
        if out.outcome == TRANSIENT:
            a.attempt(at=at, outcome=out.outcome, detail=out.detail)
            report.pending.append(_row(a, out.outcome, out.detail))
        else:
            a.complete(at=at, outcome=out.outcome, detail=out.detail, result=out.result)
            report.done.append(_row(a, out.outcome, out.detail))
        self._save([a])

    def _pending(self, only: str | None) -> list[Action]:
        actions = pending_actions(self.app, self.scan)
        return actions if only is None else [a for a in actions if a.key.startswith(only)]

    # ------------------------------------------------------------------- bus

    def _publish(self, a: Action, dry_run: bool, report: ActReport) -> None:
        kind = a.params.get("kind", "?")
        if dry_run:
            report.pending.append(_row(a, "would-publish", kind))
            return
        at = self.clock()
        if self.publisher is None or self.message_factory is None:
            a.complete(
                at=at,
                outcome="disabled",
                detail=f"{kind}: bus disabled in settings ([bus] enabled); body kept here",
                result={},
            )
            report.done.append(_row(a, "disabled", kind))
            self._save([a])
            return
        try:
            message = self.message_factory(kind, a.params["body"], self.config.topic_prefix)
            # The action's id as message id: a retry after a timeout (the broker
            # may have got it) is a duplicate consumers can recognise.
            message.id = str(a.id)
            message_id = self.publisher.publish(message)
        except Exception as exc:  # PublishError or a schema error
            transient = bool(getattr(exc, "transient", False))
            if transient:
                a.attempt(at=at, outcome=TRANSIENT, detail=str(exc))
                report.pending.append(_row(a, TRANSIENT, str(exc)))
            else:
                a.complete(at=at, outcome=FAILED, detail=str(exc), result={})
                report.done.append(_row(a, FAILED, str(exc)))
            self._save([a])
            return
        a.complete(
            at=at,
            outcome="published",
            detail=f"{message.topic} {message_id}",
            result={"topic": message.topic, "message_id": message_id},
        )
        report.done.append(_row(a, "published", message.topic))
        self._save([a])

    def _save(self, actions: list[Action]) -> None:
        try:
            self.app.save(*actions)
        except IntegrityError:
            # Cancelled by the decider meanwhile: keep each outcome we can.
            for a in actions:
                try:
                    self.app.save(a)
                except IntegrityError:
                    continue


def _suspect_reason(unsatisfied: list[dict[str, Any]]) -> str:
    for req in unsatisfied:
        if req.get("type") == "test-result-failed":
            detail = req.get("detail")
            name = req.get("testcase") or "a required test"
            return f"failed {name}" + (f" ({detail})" if detail else "")
    return "policy not satisfied"


def _row(a: Action, outcome: str, detail: str) -> dict[str, Any]:
    p = a.params
    row: dict[str, Any] = {"action": a.key, "kind": a.kind, "outcome": outcome, "detail": detail}
    if a.kind == KOJI_MOVE:
        row.update(nvr=p.get("nvr"), from_tag=p.get("from_tag"), to_tag=p.get("to_tag"))
    elif a.kind == SIGN_REQUEST:
        row.update(nvr=p.get("nvr"), sigkey=p.get("sigkey"))
    else:
        row.update(message=p.get("kind"))
        body: dict[str, Any] = p["body"] if isinstance(p.get("body"), dict) else {}
        subject = body.get("nvr") or body.get("subject_identifier")
        if subject:  # which build the message is about (decision.changed, promoted, ...)
            row.update(nvr=subject)
        if body.get("verdict"):
            row.update(verdict=body["verdict"])
    return row


__all__ = ["GONE", "ActReport", "Effector", "pending_actions"]
