"""Harness of the crash tests: a gating story, a store read as event streams, SIGKILLs.

* :func:`gating_story` — packages whose builds follow one another through the pending
  tag (built, tagged, CI stage and rpmdeplint results; some promoted by hand, some
  untagged), interleaved, with redeliveries: newer builds obsolete older ones, the
  finding of issue 14.
* :func:`event_streams` — a store as ``{aggregate id: [(version, topic, state), ...]}``,
  every aggregate, every event, state decoded; :func:`normalized` drops what a crash
  legitimately changes (each field is named and justified there).
* :class:`Killer` — runs a real ``relengotron`` process and kills it with SIGKILL at
  seeded random points, aimed by polling the store's last event position so the kills
  fall across batches and commits, then lets a last run finish.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.messages import Bus

ROOT = Path(__file__).resolve().parents[1]
PENDING, PROMOTED = "rawhide-pending", "rawhide"
POLICY_KEY = "crash-test-policy-activation"


# --------------------------------------------------------------------------- stream


def gating_story(
    seed: int = 14, packages: int = 14, versions: int = 4, duplicates: float = 0.02
) -> list[dict[str, Any]]:
    """Real-shaped messages (``tests.messages.Bus``): each package's builds one after
    the other (built, tagged into the pending tag, a CI stage and an rpmdeplint result,
    sometimes tagged into the promoted tag by hand or untagged from the pending tag),
    the packages interleaved at random; ``duplicates`` of them delivered twice."""
    rng = random.Random(seed)
    bus = Bus()
    plans: dict[str, list[Callable[[], dict[str, Any]]]] = {}
    for p in range(packages):
        steps: list[Callable[[], dict[str, Any]]] = []
        for v in range(1, versions + 1):
            nvr = f"crash{p:02d}-{v}.0-1.fc44"
            stage = "SUCCESS" if rng.random() < 0.8 else "FAILURE"
            deplint = "PASSED" if rng.random() < 0.85 else "FAILED"
            steps += [lambda n=nvr: bus.built(n), lambda n=nvr: bus.tagged(n)]
            extra = rng.random()
            if extra < 0.1:  # untagged by someone while held: withdrawn
                steps.append(lambda n=nvr: bus.untagged(n))
            steps += [
                lambda n=nvr, s=stage: bus.stage(n, s),
                lambda n=nvr, d=deplint: bus.rpmdeplint(n, d),
            ]
            if 0.1 <= extra < 0.3:  # promoted by hand: an older build not to obsolete
                steps.append(lambda n=nvr: bus.tagged(n, PROMOTED))
        plans[f"crash{p:02d}"] = steps
    out: list[dict[str, Any]] = []
    while plans:
        name = rng.choice(sorted(plans))
        out.append(plans[name].pop(0)())
        if not plans[name]:
            del plans[name]
        if out and rng.random() < duplicates:
            out.append(dict(rng.choice(out)))
    return out


def story_nvrs(messages: Sequence[dict[str, Any]]) -> list[str]:
    """The NVRs built in a story (for the fake hub)."""
    return sorted(
        {
            f"{m['body']['name']}-{m['body']['version']}-{m['body']['release']}"
            for m in messages
            if m["topic"].endswith("buildsys.build.state.change")
        }
    )


def write_jsonl(path: Path, messages: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(m, sort_keys=True) + "\n" for m in messages))
    return path


def activate_policies(app: Any, config: Path) -> None:
    """Record the policy activation ``relengotron ingest`` would record at its start
    (``adapters.services.inputs.sync_policies``), under a fixed key and time instead of a random one
    and the wall clock, so a clean store and a crashed one hold the same input."""
    from relengotron.adapters import bootstrap
    from relengotron.adapters.ingest.envelope import to_envelope
    from relengotron.adapters.ingest.ingest import to_incoming
    from relengotron.adapters.services import inputs

    cfg = bootstrap.settings(str(config))
    policies = bootstrap.policy_set(cfg)
    body = {
        "policy_set_hash": policies.content_hash,
        "policies": [p.canonical() for p in policies.policies],
        "source": str(cfg.policies),
        "username": "crash-test",
    }
    record = {
        "topic": inputs.POLICY_ACTIVATED,
        "id": POLICY_KEY,
        "headers": {"sent-at": "2026-11-20T08:00:00+00:00"},
        "body": body,
    }
    app.record([to_incoming(to_envelope(record), source="crash test")])
    assert inputs.active_policy_hash(app) == policies.content_hash


def crash_definitions(low: range, high: range) -> str:
    """Artifact definitions over the gating story's packages (crashNN): a repository of
    the promoted tag, an image and an OSTree composed from it (``low`` and ``high``
    packages in their manifests), and an image built from the OSTree (a child waits for
    its parent's compose)."""

    def names(r: range) -> str:
        return ", ".join(f"crash{p:02d}" for p in r)

    return f"""
- name: rawhide-repo
  kind: repo
  release: rawhide
  arches: [x86_64]
  tags: [rawhide]
- name: crash-low
  kind: qcow2
  release: rawhide
  arches: [x86_64]
  repositories: [rawhide-repo]
  packages: [{names(low)}]
- name: crash-high
  kind: ostree
  release: rawhide
  arches: [x86_64]
  repositories: [rawhide-repo]
  packages: [{names(high)}]
  match: {{ostree_ref: fedora/rawhide/x86_64/crash}}
- name: crash-high-image
  kind: qcow2
  release: rawhide
  arches: [x86_64]
  built_from: [crash-high]
"""


def artifact_messages(directory: Path) -> list[dict[str, Any]]:
    """The ``relengotron.artifact.defined`` messages ``relengotron artifacts sync``
    records for ``directory`` (``adapters.artifacts.artifact_sync``), sent at a fixed time
    instead of the wall clock's, so a clean store and a crashed one hold the same
    input (the composer's clock is message time)."""
    from relengotron.adapters import bootstrap
    from relengotron.adapters.artifacts.artifact_sync import _defined
    from relengotron.adapters.artifacts.definitions import load_definitions

    out = []
    for d in load_definitions(directory, bootstrap.kinds()):
        m = _defined(d)
        out.append({**m, "headers": {"sent-at": "2026-11-20T08:00:01+00:00"}})
    return out


# --------------------------------------------------------------------------- stores

Stream = list[tuple[int, str, dict[str, Any]]]

# Written by the effector, whose clock is the wall clock (``adapters.effects.effector``).
EFFECTOR_TOPICS = ("domain.outbox:Action.Completed", "domain.outbox:Action.Attempted")


def event_streams(url: str, schema: str | None = None) -> dict[str, Stream]:
    """Every aggregate of the store: its events in version order, state decoded."""
    from relengotron.adapters.store.store import open_app

    app = open_app(url, schema=schema)
    try:
        out: dict[str, Stream] = {}
        after = 0
        while True:
            page = app.recorder.select_notifications(start=after + 1, limit=5000)
            if not page:
                break
            for n in page:
                e = app.mapper.to_domain_event(n)
                state = {k: v for k, v in vars(e).items() if k not in ("originator_id",)}
                out.setdefault(str(n.originator_id), []).append(
                    (n.originator_version, n.topic, state)
                )
            after = page[-1].id
        for stream in out.values():
            stream.sort(key=lambda r: r[0])
        return out
    finally:
        app.close()


def normalized(streams: dict[str, Stream]) -> dict[str, Stream]:
    """The streams without what a kill legitimately changes:

    * ``timestamp`` of every event: eventsourcing's time of recording (wall clock);
    * ``originator_version`` inside the state: it is the version, kept in the tuple;
    * ``at`` of what the effector records (``Action.Completed``/``Attempted``, and the
      notices it requests itself, ``trigger`` None): the wall-clock time it acted;
    * a koji move's outcome ``moved``/``already`` with its ``detail`` and ``result``: a
      kill after koji moved the build and before the outcome was recorded makes the
      restarted effector find it moved (``already``, the truth of that run); what must
      hold, one ``moveBuild`` per build and the same tags, is checked on the hub;
    * the koji ``task_id`` in the body of the ``build.promoted``/``build.quarantined``
      notices the effector requests: the number koji gave the move's task, which
      depends on how the killed runs' multicalls were cut, not on anything we decide.
    Everything else — every aggregate, every version, every topic, every other field,
    decisions, triggers and message times — must be equal."""
    out: dict[str, Stream] = {}
    for aggregate, stream in streams.items():
        rows: Stream = []
        for version, topic, state in stream:
            s = {k: v for k, v in state.items() if k not in ("timestamp", "originator_version")}
            effector = topic in EFFECTOR_TOPICS or (
                topic == "domain.outbox:Action.Requested" and s.get("trigger") is None
            )
            if effector:
                s.pop("at", None)
                body = (s.get("params") or {}).get("body")
                if isinstance(body, dict) and "task_id" in body:
                    s["params"] = {**s["params"], "body": {**body, "task_id": "<koji's>"}}
            if topic == "domain.outbox:Action.Completed" and s.get("outcome") in (
                "moved",
                "already",
            ):
                s["outcome"] = "moved-or-already"
                s.pop("detail", None)
                s.pop("result", None)
            rows.append((version, topic, s))
        out[aggregate] = rows
    return out


def differences(clean: dict[str, Stream], crashed: dict[str, Stream], limit: int = 8) -> str:
    """A readable account of the aggregates whose streams differ ('' when none)."""
    lines = []
    for aggregate in sorted(set(clean) | set(crashed)):
        a, b = clean.get(aggregate), crashed.get(aggregate)
        if a == b:
            continue
        if len(lines) >= limit:
            lines.append("...")
            break
        lines.append(f"aggregate {aggregate}:")
        lines.append(f"  clean:   {[(v, t) for v, t, _ in a or []]}")
        lines.append(f"  crashed: {[(v, t) for v, t, _ in b or []]}")
        for (va, ta, sa), (_, _, sb) in zip(a or [], b or [], strict=False):
            if sa != sb:
                keys = sorted(k for k in set(sa) | set(sb) if sa.get(k) != sb.get(k))
                lines.append(f"  v{va} {ta} differs in {keys}: {sa} != {sb}"[:600])
                break
    return "\n".join(lines)


class Counter:
    """How many events a store holds, asked over one kept connection pool (cheap enough
    to ask every few milliseconds). A count, not the last id: PostgreSQL's sequence
    skips the ids of a killed transaction. -1 while the store cannot be read."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        from relengotron.adapters.store.store import normalize_url

        self.engine = create_engine(normalize_url(url), pool_size=1)

    def __call__(self) -> int:
        from sqlalchemy import text

        try:
            with self.engine.connect() as conn:
                q = text("SELECT COUNT(*) FROM relengotron_events")
                return int(conn.execute(q).scalar() or 0)
        except Exception:  # no table yet, or locked for a moment
            return -1

    def close(self) -> None:
        self.engine.dispose()


def followers_events(url: str) -> int:
    """How many events the followers (decider, composer, effector) wrote."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from relengotron.adapters.store.store import normalize_url

    engine = create_engine(normalize_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            q = text(
                "SELECT COUNT(*) FROM relengotron_events WHERE topic LIKE 'domain.gating:%'"
                " OR topic LIKE 'domain.outbox:%' OR topic LIKE 'domain.composing:%'"
            )
            return int(conn.execute(q).scalar() or 0)
    finally:
        engine.dispose()


def composer_events(url: str) -> int:
    """How many events the composer's aggregates hold (composes and pushes)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from relengotron.adapters.store.store import normalize_url

    engine = create_engine(normalize_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            q = text(
                "SELECT COUNT(*) FROM relengotron_events WHERE topic LIKE 'domain.composing:%'"
            )
            return int(conn.execute(q).scalar() or 0)
    finally:
        engine.dispose()


def last_position(url: str) -> int:
    """How many events the store holds (see :class:`Counter`)."""
    counter = Counter(url)
    try:
        return counter()
    finally:
        counter.close()


# --------------------------------------------------------------------------- killing


def command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "relengotron", *argv]


@dataclass
class Killer:
    """Runs commands to completion, killing each with SIGKILL a few times first.

    Each kill is aimed at a random point of the work still to do: a number of events
    between what the store holds now and what it holds when the command is done (known
    from a clean run); the store is polled every few ms and the process killed a random
    0-50 ms after it passed the target, so kills land between commits and inside them,
    in recording and in deciding. ``points`` counts the kills that hit a running
    process (a process that finished first ends the kills of that command)."""

    rng: random.Random
    workdir: Path
    points: int = 0
    log: list[str] = field(default_factory=list)

    def run(
        self,
        argv: list[str],
        *,
        url: str,
        goal: int,
        kills: int,
        deciding: int | None = None,
        composing: int | None = None,
        done: Callable[[subprocess.CompletedProcess[str]], bool] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Kill ``argv`` up to ``kills`` times, then run it to its end. ``goal``: how
        many events the store holds when the command is done (from a clean run);
        ``deciding``: how many it holds when the command starts deciding (every other
        kill is aimed between the two: the decider's commits); ``composing``: ... when
        the composer starts recording (then every third kill is aimed at its commits)."""
        counter = Counter(url) if kills else None
        aims = [None, deciding, composing] if composing is not None else [None, deciding]
        try:
            for i in range(kills):
                assert counter is not None
                low = aims[i % len(aims)]
                if not self._attempt(argv, counter=counter, goal=goal, low=low):
                    break  # it finished before the kill: nothing more to kill
        finally:
            if counter is not None:
                counter.close()
        result = subprocess.run(
            argv, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300
        )
        if done is not None:
            assert done(result), f"{argv[3:5]}: {result.returncode}\n{result.stderr[-3000:]}"
        return result

    def _attempt(self, argv: list[str], *, counter: Counter, goal: int, low: int | None) -> bool:
        start = max(counter(), 0, low or 0)
        target = self.rng.randint(start + 1, max(goal, start + 1))
        jitter = self.rng.uniform(0, 0.05)
        # A kill that the store does not reach in time (the decider reads long before it
        # commits; the view is saved last) falls at that random moment instead; not one
        # aimed at the decider's commits, which waits for them (or for the end).
        patience = self.rng.uniform(2.0, 8.0) if low is None else float("inf")
        err = self.workdir / f"killed-{self.points}.err"
        with err.open("w") as stderr:
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=_env(),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        try:
            began = time.monotonic()
            aimed = True
            while proc.poll() is None and counter() < target:
                if time.monotonic() - began > patience:
                    aimed = False
                    break
                time.sleep(0.003)
            time.sleep(jitter)
            if proc.poll() is not None:
                return False
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            self.points += 1
            how = f"aimed at {target}" if aimed else f"at {patience:.1f} s"
            if low is not None:
                how += f" of [{low}, {goal}]"
            self.log.append(
                f"{argv[3]} killed at {counter()} events ({how}, +{jitter * 1000:.0f} ms)"
            )
            return True
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}
