"""``relengotron consume`` killed with SIGKILL and restarted loses nothing and changes nothing.

The story (``tests.crashing.gating_story``, redeliveries included) is published to a
RabbitMQ vhost of its own before the worker starts; the worker records in group
commits and, in the same process, decides, acts and keeps its read models. It is
killed at seeded random points of the work (aimed by polling the store's event count,
after it said it is ready), restarted, and stopped with SIGTERM once everything is
recorded and the store is still. Unacknowledged deliveries come back from the broker.

A worker has several deliveries in hand at once and commits them as they are
translated, so the order it records them in is not the bus order, killed or not; and
when koji carries out a move relative to later messages is a matter of timing. So the
reference is not another worker's store but the same log derived without a kill: the
messages in the order the killed worker recorded them, through ``ingest`` and ``act``
into a fresh store. Every published message must be recorded once, and every
aggregate's event stream must equal the reference's (``tests.crashing.normalized``,
plus the ``source`` of each message: the queue here, file and line there). Koji is not
configured here (moves stay pending, so no timing enters the decisions); moves under
kills are ``tests/e2e/test_crash_recovery.py``'s subject. SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.store.store import open_app
from tests.conftest import _service_missing
from tests.crashing import (
    ROOT,
    Counter,
    Stream,
    activate_policies,
    command,
    differences,
    event_streams,
    gating_story,
    normalized,
    write_jsonl,
)
from tests.live import CONSUME, Consumer, Publisher, Store, wire, write_fm_config, write_policies
from tests.rabbit import require_rabbitmq
from tests.services import Broker, rabbitmqctl, wait_until

SEED = 1415
KILLS = 5
RECEIVED = "domain.message:InboundMessage.Received"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_rabbitmq()
    if shutil.which("rabbitmqctl") is None:
        _service_missing("rabbitmqctl", "not on PATH (needed for a vhost of our own)")
    work = tmp_path_factory.mktemp("consume-story")
    messages = gating_story(seed=SEED, packages=14, versions=5)
    return {
        "messages": messages,
        "keys": {m["id"] for m in messages},
        "policies": write_policies(work / "policies"),  # one path for every run
    }


@contextlib.contextmanager
def private_vhost() -> Iterator[Broker]:
    """A vhost of its own (the queue's name is recorded with each message as its
    ``source``, ``amqp:<queue>``; the reference ignores it anyway)."""
    name = "relengotron-crash"
    broker = Broker(f"rt-crash-{uuid.uuid4().hex[:8]}", name, f"{name}.dlx", f"{name}.dead")
    rabbitmqctl("add_vhost", broker.vhost)
    try:
        rabbitmqctl("set_permissions", "-p", broker.vhost, "guest", ".*", ".*", ".*")
        broker.declare()
        yield broker
    finally:
        rabbitmqctl("delete_vhost", broker.vhost)


def _settings(path: Path, policies: Path) -> Path:
    """No koji hub (moves stay pending), no outgoing bus (messages complete as disabled)."""
    path.write_text(f'[gating]\npolicies = "{policies}"\n\n[bus]\nenabled = false\n')
    return path


def _wait_for(worker: Consumer, count: Counter, target: int) -> None:
    """Until the store passes ``target`` (or stays still for 3 s: nothing left to do)."""
    still = [count(), time.monotonic()]
    deadline = time.monotonic() + 90
    while worker.alive() and time.monotonic() < deadline:
        position = count()
        if position >= target:
            return
        if position != still[0]:
            still[:] = [position, time.monotonic()]
        elif time.monotonic() - still[1] > 3.0:
            return
        time.sleep(0.003)


def _run_to_the_end(
    worker: Consumer, db: str, count: Counter, story: dict[str, Any], broker: Broker
) -> None:
    """Until every message is recorded, the queue is empty and the store has been still
    for three seconds (the followers run at least every second); then SIGTERM."""
    still = [count(), time.monotonic()]

    def done() -> bool:
        assert worker.alive(), worker.logs()
        position = count()
        if position != still[0]:
            still[:] = [position, time.monotonic()]
            return False
        if time.monotonic() - still[1] < 3.0:
            return False
        store = Store(db)
        try:
            return story["keys"] <= set(store.received_keys()) and broker.ready() == 0
        finally:
            store.close()

    try:
        wait_until("the worker to record and decide everything", done, 120, 0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{worker.logs()}\n{broker.queues()}") from None
    assert worker.terminate() == 0, worker.logs()


def _received_in_order(db: str) -> list[dict[str, Any]]:
    """The recorded messages, in the order the store holds them, as input records."""
    app = open_app(db)
    try:
        out = []
        for n in app.recorder.select_notifications(start=1, limit=1_000_000, topics=[RECEIVED]):
            e = app.mapper.to_domain_event(n)
            out.append({"topic": e.topic, "id": e.msg_id, "headers": e.headers, "body": e.body})
        return out
    finally:
        app.close()


def _reference(work: Path, records: list[dict[str, Any]], config: Path) -> dict[str, Stream]:
    """The same messages in the same order through ``ingest`` and ``act``, no kill."""
    db = f"sqlite:///{work / 'reference.db'}"
    app = open_app(db)
    try:
        activate_policies(app, config)
    finally:
        app.close()
    messages = write_jsonl(work / "recorded.jsonl", [r for r in records if r["id"] != POLICY])
    common = ("--db", db, "--config", str(config), "--json")
    for argv in (("ingest", str(messages), "--no-progress"), ("act",)):
        done = subprocess.run(command(*argv, *common), cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
    return _without_sources(normalized(event_streams(db)))


POLICY = "crash-test-policy-activation"


def _without_sources(streams: dict[str, Stream]) -> dict[str, Stream]:
    """``source`` of a recorded message: where it came from (queue; file and line)."""
    return {
        a: [(v, t, {k: x for k, x in s.items() if k != "source"}) for v, t, s in rows]
        for a, rows in streams.items()
    }


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_killed_worker_loses_nothing_and_derives_the_clean_log(
    request: pytest.FixtureRequest, tmp_path: Path, story: dict[str, Any], backend: str
) -> None:
    if backend == "sqlite":
        db = f"sqlite:///{tmp_path / 'crashed.db'}"
    else:
        url, schema = request.getfixturevalue("pg_store")
        db = f"{url}?options=-csearch_path%3D{schema}"
    config = _settings(tmp_path / "relengotron.toml", story["policies"])
    app = open_app(db)
    try:
        activate_policies(app, config)
    finally:
        app.close()
    rng = random.Random(f"{SEED}-{backend}")
    log: list[str] = []
    started = time.monotonic()
    with private_vhost() as broker:
        publisher = Publisher(broker, [wire(m) for m in story["messages"]], rate=2000.0)
        publisher.start()
        publisher.finish(60)
        fm = write_fm_config(tmp_path / "fm.toml", broker.url, broker.queue, broker.dlx, broker.dlq)
        argv = [*CONSUME, "--db", db, "--config", str(config), "--fm-config", str(fm)]
        worker = Consumer("consume", argv, tmp_path)
        count = Counter(db)
        # Roughly what the worker writes: its messages' events and the decider's.
        work = 6 * len(story["keys"])
        try:
            for _ in range(KILLS):
                target = max(count(), 0) + rng.randint(1, work // (KILLS + 1))
                worker.start().wait_ready()
                _wait_for(worker, count, target)
                time.sleep(rng.uniform(0, 0.05))
                assert worker.alive(), worker.logs()
                worker.kill9()
                log.append(f"consume killed at {count()} events (aimed at {target})")
            worker.start().wait_ready()
            _run_to_the_end(worker, db, count, story, broker)
        finally:
            worker.cleanup()
            count.close()
    print(
        f"\nconsume on {backend}: {len(log)} kill points in {time.monotonic() - started:.1f} s:"
        + "".join(f"\n  {line}" for line in log)
    )
    records = _received_in_order(db)
    keys = [r["id"] for r in records]
    assert len(keys) == len(set(keys)), "a message recorded twice"
    assert set(keys) == story["keys"] | {POLICY}, "a message lost"
    crashed = _without_sources(normalized(event_streams(db)))
    reference = _reference(tmp_path, records, config)
    decided = sum(1 for s in crashed.values() for _, t, _ in s if t == "domain.gating:Gate.Decided")
    assert decided >= 10, decided
    assert crashed == reference, differences(reference, crashed)
