"""No fedmsg is ever dropped (issue 6): live consumers under faults.

Each test publishes a stream of real-shaped messages (``tests.messages.Bus``: builds
built, tagged into rawhide-pending, their CI stage and rpmdeplint results; about a
third of the messages published two or three times) to a RabbitMQ vhost of its own,
while ``relengotron consume`` processes record them into a PostgreSQL database of its
own and their followers decide and move builds on a fake koji hub. A fault strikes
about a third of the way in; after recovery the store must hold each distinct message
exactly once, and the final gate states and koji moves must equal those of the same
distinct messages ingested and acted on offline (``relengotron ingest`` + ``act`` on
SQLite against a fresh hub), each move made once (``tests.live.LiveRun.verify``).

Faults: a consumer killed with SIGKILL and restarted; either of two workers killed
and restarted three times at random moments; two and four consumers competing
on one queue; RabbitMQ stopped and started (``rabbitmqctl stop_app`` / ``start_app``);
PostgreSQL stopped for five seconds; a body that is not JSON, a topic nobody
translates and a 5 MB body in the stream; and an outage window refilled from a
datagrepper dump (``relengotron ingest``) while the workers consume. Services are
always restored in ``finally``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _service_missing
from tests.live import (
    CONSUME,
    RECEIVED,
    REJECTED,
    Consumer,
    LiveRun,
    Outcome,
    Publisher,
    Stream,
    gating_stream,
    with_poison,
)
from tests.live import (
    oracle as run_oracle,
)
from tests.services import (
    ServiceUnavailable,
    pg_answers,
    pg_database,
    postgres_down,
    private_vhost,
    rabbitmq_answers,
    rabbitmq_down,
    rabbitmqctl,
)

pytestmark = [pytest.mark.slow, pytest.mark.rabbitmq, pytest.mark.postgres]

BUILDS = 48  # 4 messages each: 192 distinct messages, 286 published
PACE = 30.0  # messages a second: a fault a third of the way in strikes mid-stream
BURST = 1000.0  # as fast as the broker confirms


@pytest.fixture(scope="module")
def services() -> None:
    """RabbitMQ and PostgreSQL answer, and we may stop and start them (as root)."""
    if not rabbitmq_answers():
        _service_missing("RabbitMQ at 127.0.0.1:5672", "no AMQP connection")
    try:
        rabbitmqctl("list_vhosts", timeout=60)
    except (ServiceUnavailable, RuntimeError) as exc:
        _service_missing("rabbitmqctl", str(exc))
    if not pg_answers():
        _service_missing("PostgreSQL at 127.0.0.1:5432", "no connection")


_ORACLES: dict[str, Outcome] = {}


def expected(name: str, stream: Stream, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """The oracle's outcome for a stream (computed once per stream)."""
    if name not in _ORACLES:
        _ORACLES[name] = run_oracle(tmp_path_factory.mktemp(f"oracle-{name}"), stream)
    return _ORACLES[name]


@pytest.fixture
def live(services: None, tmp_path: Path) -> Iterator[Callable[[Stream], LiveRun]]:
    """A factory: a live run (its vhost, its database, its hub) for a stream."""
    with contextlib.ExitStack() as stack:

        def make(stream: Stream) -> LiveRun:
            broker = stack.enter_context(private_vhost())
            db = stack.enter_context(pg_database())
            run = LiveRun(tmp_path, broker, db, stream)
            stack.callback(run.cleanup)
            return run

        yield make


def _finish(run: LiveRun, outcome: Outcome) -> dict[str, Any]:
    """Publishing done, everything recorded and acted on, consumers stopped with SIGTERM
    (exit 0), then the verdict."""
    assert run.publisher is not None
    run.publisher.finish()
    run.wait_complete(outcome)
    dead = [c.name for c in run.consumers if not c.alive()]
    assert not dead, f"consumers died: {dead}\n{run.logs()}"
    codes = run.stop()
    assert codes == [0] * len(codes), f"exit statuses on SIGTERM: {codes}\n{run.logs()}"
    return run.verify(outcome)


def _rejected_body(state: dict[str, Any]) -> bytes:
    """The body bytes a dead letter's rejected input keeps (``raw`` is a JSON object
    with ``body``, the text, or ``body_base64`` when the bytes are not UTF-8)."""
    raw = json.loads(state["raw"])
    if "body_base64" in raw:
        return base64.b64decode(raw["body_base64"])
    return str(raw["body"]).encode()


def _third(run: LiveRun) -> int:
    return len(run.stream.keys) // 3


def _assert_mid_stream(run: LiveRun) -> None:
    """The fault is about to strike while messages are still being published."""
    assert run.publisher is not None
    left = len(run.stream.order) - run.publisher.confirmed
    assert left > len(run.stream.order) // 3, f"only {left} messages left to publish"


def _workers(run: LiveRun, n: int) -> list[Consumer]:
    """``n`` consumer processes of the run, each consuming (ready) when this returns."""
    started = [run.consumer() for _ in range(n)]
    for c in started:
        c.wait_ready()
    return started


def _a_third_in(run: LiveRun, rate: float) -> Publisher:
    """Publishing at ``rate``: returns once a third is recorded, the rest still to come."""
    publisher = run.publish(rate=rate)
    run.wait_recorded(_third(run))
    _assert_mid_stream(run)
    return publisher


def test_consumer_killed_mid_stream_then_restarted(
    live: Callable[[Stream], LiveRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Four times the usual stream: a burst the consumer cannot finish between the poll
    # that sees a third recorded and the kill (at 192 messages it once did, once
    # recording had got faster: the test then tested nothing).
    stream = gating_stream(4 * BUILDS)
    outcome = expected("plain-x4", stream, tmp_path_factory)
    run = live(stream)
    [consumer] = _workers(run, 1)
    # A burst: when a third is recorded, the rest waits on the queue, 25 of it delivered
    # to the consumer (prefetch) and not acknowledged.
    publisher = run.publish(rate=BURST)
    run.wait_recorded(_third(run))

    consumer.kill9()
    publisher.finish()
    # Whatever the broker confirmed and the store does not hold must still be on the
    # broker: the messages the dead consumer held unacknowledged are ready again.
    recorded = set(run.store.received_keys())
    ours = {k for k in recorded if not k.startswith("relengotron-")}
    assert ours <= stream.keys
    assert len(ours) < len(stream.keys), "the stream was recorded before the kill: nothing tested"
    unrecorded = {w.key for w in stream.order} - recorded
    on_broker: set[str] = set()
    deadline = time.monotonic() + 15  # the broker requeues once it sees the socket closed
    while not unrecorded <= on_broker and time.monotonic() < deadline:
        time.sleep(0.2)
        on_broker = set(run.broker.peek())
    lost = sorted(unrecorded - on_broker)
    assert not lost, f"neither in the store nor on the broker: {lost[:20]}\n{run.logs()}"

    consumer.start()
    consumer.wait_ready()
    figures = _finish(run, outcome)
    assert figures["recorded"] == len(stream.keys)


def test_either_of_two_workers_killed_again_and_again(
    live: Callable[[Stream], LiveRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two workers; three times, one of them (the leader or not, at random) is killed
    with SIGKILL at a random moment while messages arrive, and restarted: the leader
    lock passes between them, and the outcome is the oracle's, no move made twice."""
    rng = random.Random(11)
    stream = gating_stream(BUILDS)
    outcome = expected("plain", stream, tmp_path_factory)
    run = live(stream)
    workers = _workers(run, 2)
    run.publish(rate=PACE * 2)
    for i in range(3):
        time.sleep(rng.uniform(0.5, 2.5))
        if i == 0:
            _assert_mid_stream(run)
        victim = rng.choice(workers)
        victim.kill9()
        time.sleep(rng.uniform(0.0, 1.0))
        victim.start()
        victim.wait_ready()
    figures = _finish(run, outcome)
    assert figures["recorded"] == len(stream.keys)


@pytest.mark.parametrize("workers", [2, 4])
def test_competing_consumers_on_one_queue(
    live: Callable[[Stream], LiveRun], tmp_path_factory: pytest.TempPathFactory, workers: int
) -> None:
    stream = gating_stream(BUILDS)
    outcome = expected("plain", stream, tmp_path_factory)
    run = live(stream)
    _workers(run, workers)
    run.publish(rate=BURST)  # the workers get messages of the same builds at once
    leaders = _sample_leaders(run, samples=5)
    assert max(leaders) <= 1, f"advisory locks held at once: {leaders}"
    _finish(run, outcome)


def _sample_leaders(run: LiveRun, samples: int) -> list[int]:
    """How many leader locks are held in the test's database, a few times over: the
    advisory locks but the one table creators take for a moment (``SCHEMA_LOCK``)."""
    from sqlalchemy import text

    from relengotron.adapters.store.persistence import SCHEMA_LOCK

    # pg_locks shows a bigint advisory key as two oids: its high and low 32 bits.
    key = SCHEMA_LOCK & 0xFFFF_FFFF_FFFF_FFFF
    q = text(
        "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
        " WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
        " AND NOT (CAST(l.classid AS bigint) = :hi AND CAST(l.objid AS bigint) = :lo)"
    )
    seen = []
    for _ in range(samples):
        with run.store.engine.connect() as conn:
            seen.append(
                int(conn.execute(q, {"hi": key >> 32, "lo": key & 0xFFFF_FFFF}).scalar_one())
            )
        time.sleep(0.5)
    return seen


def test_rabbitmq_restarted_mid_stream(
    live: Callable[[Stream], LiveRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    stream = gating_stream(BUILDS)
    outcome = expected("plain", stream, tmp_path_factory)
    run = live(stream)
    _workers(run, 2)
    publisher = _a_third_in(run, PACE)
    with rabbitmq_down():
        time.sleep(3)  # the publisher keeps trying; the consumers must reconnect alone
    assert publisher.reconnects >= 1, "the publisher never noticed the broker going away"
    _finish(run, outcome)


def test_postgresql_unavailable_mid_stream(
    live: Callable[[Stream], LiveRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    stream = gating_stream(BUILDS)
    outcome = expected("plain", stream, tmp_path_factory)
    run = live(stream)
    consumers = _workers(run, 2)
    publisher = _a_third_in(run, PACE)
    before = publisher.confirmed
    with postgres_down():
        time.sleep(5)  # publishing goes on: the messages wait on the broker
        assert publisher.confirmed > before, "nothing was published while the store was down"
        assert all(c.alive() for c in consumers), run.logs()
    _finish(run, outcome)


def test_poison_unknown_and_huge_messages_are_kept(
    live: Callable[[Stream], LiveRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    stream, garbage, unknown, big = with_poison(gating_stream(BUILDS))
    outcome = expected("poison", stream, tmp_path_factory)
    run = live(stream)
    _workers(run, 1)
    run.publish(rate=PACE)
    _finish(run, outcome)

    received = {r.state["key"]: r.state for r in run.store.rows(RECEIVED)}
    assert received[unknown.key]["status"] == "unrecognized"
    assert big.record is not None
    log = received[big.key]["body"]["extra"]["log"]
    assert len(log) == 5 * 1024 * 1024
    assert log == big.record["body"]["extra"]["log"]
    # The garbage, kept byte for byte as rejected input, once: the second copy is a
    # redelivery of the same message (same id, same bytes).
    rejected = [
        r
        for r in run.store.rows(REJECTED)
        if "this is {not JSON" in str(r.state) or garbage.key in str(r.state)
    ]
    assert rejected, "the garbage is not in the store"
    assert [_rejected_body(r.state) for r in rejected] == [garbage.body] * len(rejected)
    raws = "\n".join(str(r.state.get("raw"))[:800] for r in rejected)
    assert len(rejected) == 1, (
        f"the garbage (published twice) rejected {len(rejected)} times:\n{raws}"
    )


def test_backfill_from_the_archive_interleaves_with_live_consumption(
    live: Callable[[Stream], LiveRun], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """An outage window refilled from the archive while the workers consume: the middle
    third of the stream never reaches our queue; a datagrepper dump of the window and
    some messages on either side (which the workers also receive) is ingested while
    publishing goes on. Each message is recorded once, from whichever got it first."""
    stream = gating_stream(BUILDS)
    outcome = expected("plain", stream, tmp_path_factory)
    run = live(stream)
    order = stream.order
    third = len(order) // 3
    missed = {w.key for w in order[third : 2 * third]}
    on_the_bus = [w for w in order if w.key not in missed]
    archived: dict[str, Any] = {}
    for w in order[third - 40 : 2 * third + 40]:  # the window and around it
        assert w.record is not None
        archived.setdefault(w.key, w)
    dump = tmp_path / "datagrepper-raw.json"
    dump.write_text(
        json.dumps(
            {
                "raw_messages": [
                    {"msg_id": w.key, "topic": w.topic, "msg": w.record["body"],
                     "headers": w.headers, "timestamp": time.time()}
                    for w in archived.values()
                ],
                "pages": 1, "total": len(archived),
            }
        )
    )  # fmt: skip
    assert missed <= set(archived) and set(archived) - missed, "the dump must overlap the bus"
    _workers(run, 2)
    run.publisher = Publisher(run.broker, on_the_bus, rate=PACE)
    run.publisher.start()
    run.wait_recorded(len(on_the_bus) // 6)  # the workers are busy with the live stream
    ingest = subprocess.run(
        [*CONSUME[:-1], "ingest", str(dump), "--db", run.db, "--config", str(run.config),
         "--json", "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr
    summary = json.loads(ingest.stdout)
    assert summary["read"] == len(archived) and summary["rejected"] == 0
    # What the workers had recorded already was a duplicate; the window was new.
    assert summary["new"] >= len(missed)
    assert summary["new"] + summary["duplicate"] == len(archived)
    assert run.publisher.confirmed < len(on_the_bus), "publishing was over before the backfill"
    _finish(run, outcome)
