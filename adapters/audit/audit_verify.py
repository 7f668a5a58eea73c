"""``relengotron replay --verify``: re-derive every recorded decision from the raw log.

Every ``InboundMessage.Received`` is read in log order, re-translated from its raw
topic, headers and body (under its recorded key and send time), and recorded into a
fresh store in a temporary directory; the decider runs there with the policy sets
the log activated (``relengotron.policy.activated``), or, before the first
activation, with the configured set. Then, per gate (build and context), the Gate
events (opened, decided, withdrawn, reopened: verdict, fingerprint, decision body,
trigger message, time) and, per outbox action, its request and cancellation, are
compared with the original, event for event. So are the bisections.

Effector outcomes (``Action.Attempted``/``Completed``: what koji and the broker
answered) are not derivable from messages, yet decisions depend on them (a completed
move to the promoted tag ends a build's candidacy). They are *inputs* of the replay:
each original outcome of a decider action is written into the replay store at the
same point relative to the input messages, after the replay decided everything
before it (``act`` always decides before acting). They are fed, not compared.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.audit.audit import MESSAGE_TOPIC, fields, notifications
from relengotron.adapters.audit.replay_decider import (
    LOCKED_PATIENCE,
    DecideApart,
    DecideHere,
    deciding,
)
from relengotron.adapters.ingest.branches import BranchFilter, recorded_as_not_monitored
from relengotron.adapters.ingest.collector import fewer_collections
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.settings import Settings
from relengotron.adapters.store.store import open_app, while_locked
from relengotron.adapters.translate import Envelope
from relengotron.domain import topics
from relengotron.domain.application import RelengApp
from relengotron.domain.outbox import KOJI_MOVE, SIGN_REQUEST, Action
from relengotron.domain.remote_rules import BuildSource, RemoteRuleFile
from relengotron.domain.topics import topic_of
from relengotron.policies.spec import PolicySet
from relengotron.projections.folds.gating import DECIDER_TOPICS

OUTCOME_TOPICS = (topics.ACTION_ATTEMPTED, topics.ACTION_COMPLETED)
COMPARED = tuple(t for t in DECIDER_TOPICS if t != topics.ACTION_COMPLETED)
ACTIVATED = topics.POLICY_LOG_ACTIVATED
_DECIDER_MESSAGES = {"decision.changed", "batch.check.requested", "test.rerun.requested"}
BATCH = 500
APART_FROM = 20_000  # log events: a larger log is replayed with the decider apart


def _is_decider_action(e: Any) -> bool:
    # A signing request's outcome names the build's rpms, which its decisions count.
    return e.kind in (KOJI_MOVE, SIGN_REQUEST) or e.params.get("kind") in _DECIDER_MESSAGES


def derived(app: RelengApp) -> dict[str, list[dict[str, Any]]]:
    """What the decider recorded, per aggregate (``gate:<nvr>``, ``action:<key>``,
    ``bisection:<group>``), in version order, without store-local times."""
    names: dict[Any, str] = {}
    out: dict[str, list[dict[str, Any]]] = {}
    for n in notifications(app, COMPARED):
        e = app.mapper.to_domain_event(n)
        kind = n.topic.split(":")[1].split(".")[0]
        if n.originator_version == 1:
            if kind == "Action" and not _is_decider_action(e):
                continue
            ident = {"Gate": "nvr", "Action": "key", "Bisection": "group"}[kind]
            names[n.originator_id] = f"{kind.lower()}:{getattr(e, ident)}"
        name = names.get(n.originator_id)
        if name is None:
            continue
        row = {"event": n.topic.split(":")[1], "version": n.originator_version, **fields(e)}
        out.setdefault(name, []).append(row)
    return out


class _Replay:
    def __init__(self, store: RelengApp, deciding: DecideHere | DecideApart) -> None:
        self.app = store
        self.deciding = deciding
        self.pending: list[Any] = []
        self.undecided = False
        self.fetched: int | None = None  # the run of the gating.yaml fetches fed last

    def message(self, m: Any) -> None:
        if self.fetched is not None:  # decide_with decided after its fetches
            self.decide()
        self.pending.append(m)
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            pending = self.pending
            while_locked(lambda: self.app.record(pending), LOCKED_PATIENCE)
            self.pending, self.undecided = [], True
            self.deciding.recorded()

    def decide(self) -> None:
        self.fetched = None
        self.flush()
        if self.undecided:
            self.deciding.catch_up()
            self.undecided = False

    def save(self, agg: Any) -> None:
        """Write a fed outcome or fetch (the decider may be writing too)."""
        while_locked(lambda: self.app.save(agg), LOCKED_PATIENCE)


def _incoming(e: Any) -> Any:
    envelope = Envelope(
        topic=e.topic, body=e.body, headers=dict(e.headers), msg_id=e.msg_id, sent_at=e.sent_at
    )
    # A push is ignored or kept as it was when recorded, whatever [gating]
    # monitored_branches says now: replay repeats the past.
    m = to_incoming(envelope, source=e.source, branches=_EVERY_BRANCH)
    if recorded_as_not_monitored(e.status, e.reason):
        m = replace(m, status=e.status, reason=e.reason, facts=())
    return replace(m, key=e.key, sent_at=e.sent_at)


_EVERY_BRANCH = BranchFilter((".*",))


def verify(
    app: RelengApp,
    cfg: Settings,
    *,
    progress: Callable[[int, int | None, int | None], None] | None = None,
    workdir: str | None = None,
    apart: bool | None = None,
) -> dict[str, Any]:
    """``apart``: the replay's decider in a process of its own (``replay_decider``);
    None: when this process may use more than one core, may start a process (it is not
    a daemon) and the log holds more than ``APART_FROM`` events (below that, starting
    the process costs more than it saves)."""
    if apart is None:
        head = app.log_head()
        apart = (
            len(os.sched_getaffinity(0)) > 1
            and head > APART_FROM
            and not multiprocessing.current_process().daemon  # may have no children
        )
    with fewer_collections():
        return _verify(app, cfg, progress, workdir, apart)


def _verify(
    app: RelengApp,
    cfg: Settings,
    progress: Callable[[int, int | None, int | None], None] | None,
    workdir: str | None,
    apart: bool,
) -> dict[str, Any]:
    configured = bootstrap.policy_set(cfg)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        url = f"sqlite:///{Path(tmp) / 'replay.db'}"
        store = open_app(url, scratch=True)
        decider = deciding(store, url, configured, cfg, apart)
        try:
            return _replay(app, store, _Replay(store, decider), configured, progress)
        finally:
            decider.close()
            store.close()


def _replay(
    app: RelengApp,
    store: RelengApp,
    replay: _Replay,
    configured: PolicySet,
    progress: Callable[[int, int | None, int | None], None] | None,
) -> dict[str, Any]:
    counts = {
        "messages": 0,
        "outcomes_fed": 0,
        "activations": 0,
        "before_activation": 0,
        "remote_files_fed": 0,
    }
    problems: list[dict[str, Any]] = []
    requested: dict[Any, bool] = {}
    read = (
        MESSAGE_TOPIC,
        *OUTCOME_TOPICS,
        ACTIVATED,
        topics.REMOTE_RULE_FILE_FETCHED,
        topics.BUILD_SOURCE_OBSERVED,
    )
    for n in notifications(app, read):
        e = app.mapper.to_domain_event(n)
        if n.topic == ACTIVATED:
            counts["activations"] += 1
        elif n.topic in (topics.REMOTE_RULE_FILE_FETCHED, topics.BUILD_SOURCE_OBSERVED):
            counts["remote_files_fed"] += 1
            _feed_remote_file(replay, e)
        elif n.topic == MESSAGE_TOPIC:
            counts["messages"] += 1
            if counts["activations"] == 0:
                counts["before_activation"] += 1
            replay.message(_incoming(e))
            if progress is not None and counts["messages"] % 200 == 0:
                progress(counts["messages"], None, None)
        else:
            oid = e.originator_id
            if oid not in requested:
                first = next(iter(app.events.get(oid, lte=1)))
                requested[oid] = _is_decider_action(first)
            if requested[oid]:
                problem = _feed(replay, e)
                counts["outcomes_fed"] += problem is None
                if problem:
                    problems.append(problem)
    replay.decide()
    if progress is not None:
        progress(counts["messages"], 1, 1)
    original, again = derived(app), derived(store)
    differences = problems + compare(original, again)
    note = None
    if counts["activations"] == 0:
        note = (
            "no policy activation in the log: replayed with the configured policy set "
            f"{configured.content_hash}"
        )
    elif counts["before_activation"]:
        note = (
            f"{counts['before_activation']} message(s) precede the first policy activation: "
            f"replayed with the configured policy set {configured.content_hash}"
        )

    def tally(d: dict[str, list[dict[str, Any]]], prefix: str, event: str = "") -> int:
        return sum(
            1
            for k, rows in d.items()
            if k.startswith(prefix)
            for r in rows
            if not event or r["event"] == event
        )

    return {
        "identical": not differences,
        **counts,
        "configured_policy_set_hash": configured.content_hash,
        "policy_note": note,
        "original": {
            "gates": tally(original, "gate:", "Gate.Opened"),
            "decisions": tally(original, "gate:", "Gate.Decided"),
            "actions": tally(original, "action:", "Action.Requested"),
            "events": tally(original, ""),
        },
        "replay": {
            "gates": tally(again, "gate:", "Gate.Opened"),
            "decisions": tally(again, "gate:", "Gate.Decided"),
            "actions": tally(again, "action:", "Action.Requested"),
            "events": tally(again, ""),
        },
        "differences": differences,
    }


def _feed(replay: _Replay, e: Any) -> dict[str, Any] | None:
    """Write an original outcome into the replay, after deciding what precedes it."""
    replay.decide()
    action: Any
    try:
        action = replay.app.repository.get(e.originator_id)
    except Exception:
        action = None
    if not isinstance(action, Action):
        return {
            "aggregate": f"action:{e.originator_id}",
            "what": "the original has an outcome of an action the replay never requested",
            "original": fields(e),
            "replay": None,
        }
    if topic_of(e) == topics.ACTION_ATTEMPTED:
        action.attempt(at=e.at, outcome=e.outcome, detail=e.detail)
    else:
        action.complete(at=e.at, outcome=e.outcome, detail=e.detail, result=e.result)
    replay.save(action)
    replay.undecided = True
    return None


def _feed_remote_file(replay: _Replay, e: Any) -> None:
    """A recorded gating.yaml fetch is an input, as an effector outcome: written into the
    replay at the same point, after deciding what precedes it; the fetches of one run are
    decided together before what follows them. The network is never asked."""
    if e.after < 0:  # asked for by the decision API, not by a decide run: an input as any
        replay.flush()
    elif replay.fetched != e.after:  # another run's fetches: decide what precedes them
        replay.decide()
    agg: Any
    try:
        agg = replay.app.repository.get(e.originator_id)
    except Exception:
        agg = BuildSource(e.nvr) if hasattr(e, "nvr") else RemoteRuleFile(e.url)
    if isinstance(agg, BuildSource):
        agg.observe(nvr=e.nvr, at=e.at, source=e.source, error=e.error, after=e.after)
    else:
        agg.record_fetch(
            url=e.url,
            at=e.at,
            status=e.status,
            content_b64=e.content_b64,
            content_hash=e.content_hash,
            error=e.error,
            policies=e.policies,
            attempts=e.attempts,
            subjects=list(e.subjects),
            after=e.after,
        )
    replay.save(agg)
    replay.undecided = True
    if e.after >= 0:
        replay.fetched = e.after


def compare(
    original: dict[str, list[dict[str, Any]]], again: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in sorted(set(original) | set(again)):
        a, b = original.get(name, []), again.get(name, [])
        for i in range(max(len(a), len(b))):
            x = a[i] if i < len(a) else None
            y = b[i] if i < len(b) else None
            if x == y:
                continue
            changed = (
                sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k)) if x and y else None
            )
            what = (
                "missing in the replay"
                if y is None
                else "not in the original"
                if x is None
                else f"differs in {', '.join(changed or [])}"
            )
            out.append({"aggregate": name, "index": i, "what": what, "original": x, "replay": y})
    return out


def render_verify(r: dict[str, Any]) -> str:
    o, p = r["original"], r["replay"]
    lines = [
        f"Replayed {r['messages']:,} messages ({r['activations']} policy activation(s), "
        f"{r['outcomes_fed']} effector outcome(s) fed as inputs) into a fresh store.",
        f"  original: {o['gates']} gates, {o['decisions']} decisions, {o['actions']} actions",
        f"  replay:   {p['gates']} gates, {p['decisions']} decisions, {p['actions']} actions",
    ]
    if r["policy_note"]:
        lines.append(f"  note: {r['policy_note']}")
    if r["identical"]:
        lines.append("Identical: every recorded decision is re-derived from the log.")
        return "\n".join(lines)
    lines.append(f"{len(r['differences'])} DIFFERENCE(S):")
    for d in r["differences"]:
        lines.append(f"  {d['aggregate']} #{d.get('index', '-')}: {d['what']}")
        for side in ("original", "replay"):
            v = d.get(side)
            if v:
                brief = {k: v[k] for k in ("event", "verdict", "trigger", "at") if k in v}
                lines.append(f"      {side:<8} {brief}")
    return "\n".join(lines)
