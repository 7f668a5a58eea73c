"""Harness of the live fault tests (``tests/e2e/test_live_faults.py``).

Real services, real processes: a RabbitMQ vhost of its own per test (queue, dead-letter
exchange and queue declared before anything is published), a PostgreSQL database of
its own per test, ``relengotron consume`` workers as subprocesses against the fake koji
hub, a publisher thread that republishes what the broker did not confirm, and the
faults themselves (SIGKILL, ``rabbitmqctl stop_app``, ``pg_ctlcluster stop``), each
undone in ``finally``.

The expected outcome (the *oracle*) is the same distinct messages ingested into a
SQLite store with ``relengotron ingest`` and carried out with ``relengotron act``
against a fresh fake hub of its own: final gate states and koji moves must agree.
Every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pika.exceptions

from tests.fakekoji import FakeKojiHub
from tests.messages import PREFIX, Bus
from tests.services import (  # re-exported: the fault tests import them from here
    Broker,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[1]
PENDING, PROMOTED, QUARANTINE = "rawhide-pending", "rawhide", "rawhide-badnewsbears"
READY_LINE = "relengotron consume: ready"
CONSUME = [
    sys.executable,
    "-m",
    "relengotron",
    "consume",
]  # the command under test

RECEIVED = "domain.message:InboundMessage.Received"
REJECTED = "domain.message:RejectedInput.Rejected"
DECIDED = "domain.gating:Gate.Decided"
OPENED = "domain.gating:Gate.Opened"
REQUESTED = "domain.outbox:Action.Requested"
COMPLETED = "domain.outbox:Action.Completed"
CANCELLED = "domain.outbox:Action.Cancelled"

# Only the per-build requirements: the shipped policy also asks for a batch check,
# whose absence would hold every build. Each build's final verdict then depends on
# its own two results only, whatever order they are recorded in.
POLICY = """\
--- !Policy
id: live_faults
product_versions: [fedora-rawhide]
decision_context: rawhide_pending
subject_type: koji_build
rules:
  - !PassingPipelineStageRule {stage: package.test.functional, pipeline: allpackages-build}
  - !PassingTestCaseRule {test_case_name: dist.rpmdeplint}
"""


# -------------------------------------------------------------------------- stream


@dataclass(frozen=True)
class Wire:
    """One message as published: routing key, AMQP properties' content, body bytes; and
    the JSON Lines record the oracle ingests (None for a body that is not JSON)."""

    key: str
    topic: str
    body: bytes
    headers: dict[str, Any]
    record: dict[str, Any] | None

    def properties(self) -> pika.BasicProperties:
        return pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            headers=dict(self.headers),
            message_id=self.key,
            priority=0,
        )


def _headers(sent_at: str) -> dict[str, Any]:
    """What fedora-messaging's ``Message`` sets (schema, severity, priority, send time)."""
    return {
        "fedora_messaging_schema": "base.message",
        "fedora_messaging_severity": 20,
        "priority": 0,
        "sent-at": sent_at,
    }


def wire(msg: dict[str, Any]) -> Wire:
    """A ``tests.messages.Bus`` message as fedora-messaging would put it on the wire."""
    headers = _headers(msg["headers"]["sent-at"])
    record = {"id": msg["id"], "topic": msg["topic"], "headers": headers, "body": msg["body"]}
    body = json.dumps(msg["body"], sort_keys=True).encode()
    return Wire(msg["id"], msg["topic"], body, headers, record)


@dataclass
class Stream:
    """Distinct messages, the publishing order (with duplicates), and what each build of
    the stream should end as (``promote`` or ``quarantine``)."""

    distinct: list[Wire]
    order: list[Wire]
    verdicts: dict[str, str]
    garbage: list[Wire] = field(default_factory=list)  # not JSON: recorded as rejected input

    @property
    def keys(self) -> set[str]:
        return {w.key for w in self.distinct}

    @property
    def nvrs(self) -> list[str]:
        return sorted(self.verdicts)

    def records(self) -> list[dict[str, Any]]:
        return [w.record for w in self.distinct if w.record is not None]


def gating_stream(builds: int = 48, seed: int = 6, dup_ratio: float = 0.3) -> Stream:
    """Builds arriving a few at a time: each built, tagged into rawhide-pending, its CI
    stage result and its rpmdeplint result, in random order among the builds in flight
    (each build's own four in order). Every ninth build fails its stage and every
    thirteenth its rpmdeplint (quarantined), the rest pass (promoted). ``dup_ratio`` of
    the messages are published again once or twice, right after or up to 40 later."""
    rng = random.Random(seed)
    bus = Bus()
    nvrs = [f"live{i:03d}-1.{i}-1.fc44" for i in range(builds)]
    stage_ok = {n: i % 9 != 4 for i, n in enumerate(nvrs)}
    deplint_ok = {n: i % 13 != 7 for i, n in enumerate(nvrs)}
    steps: list[Callable[[str], dict[str, Any]]] = [
        bus.built,
        bus.tagged,
        lambda n: bus.stage(n, "SUCCESS" if stage_ok[n] else "FAILURE"),
        lambda n: bus.rpmdeplint(n, "PASSED" if deplint_ok[n] else "FAILED"),
    ]
    progress = dict.fromkeys(nvrs, 0)
    waiting, flying, distinct = list(nvrs), list[str](), list[Wire]()
    while waiting or flying:
        while waiting and len(flying) < 6:
            flying.append(waiting.pop(0))
        nvr = rng.choice(flying)
        distinct.append(wire(steps[progress[nvr]](nvr)))
        progress[nvr] += 1
        if progress[nvr] == len(steps):
            flying.remove(nvr)
    order = _with_duplicates(distinct, rng, dup_ratio)
    verdicts = {n: "promote" if stage_ok[n] and deplint_ok[n] else "quarantine" for n in nvrs}
    return Stream(distinct, order, verdicts)


def _with_duplicates(wires: list[Wire], rng: random.Random, ratio: float) -> list[Wire]:
    slots: list[list[Wire]] = [[w] for w in wires]
    for i, w in enumerate(wires):
        if rng.random() < ratio:
            for _ in range(rng.choice((1, 1, 2))):  # published 2 or 3 times in all
                slots[min(len(slots) - 1, i + rng.choice((0, 0, *range(1, 41))))].append(w)
    return [w for slot in slots for w in slot]


def big_body_text(size: int) -> str:
    """``size`` characters that no compressor makes trivial (hex of chained digests)."""
    out, h = [], hashlib.sha256(b"relengotron")
    total = 0
    while total < size:
        h = hashlib.sha256(h.digest())
        out.append(h.hexdigest())
        total += 64
    return "".join(out)[:size]


def with_poison(
    stream: Stream, rng_seed: int = 7, big_mb: float = 5.0
) -> tuple[Stream, Wire, Wire, Wire]:
    """The stream plus a body that is not JSON, a topic nobody translates and a body of
    ``big_mb`` MB (a koji build message with a large extra field), each published twice
    at random places. Returns (stream, garbage, unknown, big)."""
    rng = random.Random(rng_seed)
    sent = "2026-11-20T12:00:00+00:00"
    garbage = Wire(
        "live-garbage-1",
        f"{PREFIX}.buildsys.build.state.change",
        b"\x00this is {not JSON, \xff\xfe nor UTF-8",
        _headers(sent),
        None,
    )
    unknown_msg = {
        "id": "live-unknown-1",
        "topic": f"{PREFIX}.nobody.translates.this.topic",
        "headers": {"sent-at": sent},
        "body": {"what": "a topic no translator knows", "n": 42},
    }
    big_msg = Bus().built("livebig-1.0-1.fc44")
    big_msg["id"] = "live-big-1"
    big_msg["headers"] = {"sent-at": sent}
    big_msg["body"]["extra"] = {"log": big_body_text(int(big_mb * 1024 * 1024))}
    unknown, big = wire(unknown_msg), wire(big_msg)
    order = list(stream.order)
    for w in (garbage, garbage, unknown, unknown, big, big):
        order.insert(rng.randrange(len(order) // 6, len(order)), w)
    poisoned = Stream([*stream.distinct, unknown, big], order, dict(stream.verdicts), [garbage])
    return poisoned, garbage, unknown, big


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    with path.open("w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return path


# ----------------------------------------------------------------------- publisher


class Publisher(threading.Thread):
    """Publishes ``wires`` in order to ``amq.topic`` of the broker's vhost, ``rate`` a
    second, with publisher confirms: a message counts once the broker confirmed it; one
    it did not confirm (connection lost, broker stopping) is published again on a new
    connection (at least once: the store absorbs the duplicate). Gives up after
    ``deadline`` s."""

    def __init__(
        self, broker: Broker, wires: list[Wire], rate: float = 40.0, deadline: float = 150.0
    ) -> None:
        super().__init__(daemon=True, name="live-publisher")
        self.broker, self.wires, self.rate, self.deadline = broker, wires, rate, deadline
        self.confirmed = 0
        self.reconnects = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()  # (not ``_stop``: threading.Thread has one)

    def stop(self) -> None:
        self._halt.set()

    def finish(self, timeout: float = 120) -> None:
        """Wait until everything is confirmed; raise what went wrong."""
        self.join(timeout)
        if self.is_alive():
            self.stop()
            raise AssertionError(
                f"publisher still running after {timeout:.0f} s "
                f"({self.confirmed}/{len(self.wires)} confirmed)"
            )
        if self.error is not None:
            raise AssertionError(f"publishing failed: {self.error!r}") from self.error
        assert self.confirmed == len(self.wires)

    def run(self) -> None:
        try:
            self._publish_all()
        except BaseException as exc:
            self.error = exc

    def _connect(self, give_up: float) -> tuple[Any, Any]:
        while True:
            try:
                connection = pika.BlockingConnection(self.broker.parameters())
                channel = connection.channel()
                channel.confirm_delivery()
                return connection, channel
            except pika.exceptions.AMQPError:
                if time.monotonic() > give_up or self._halt.is_set():
                    raise
                time.sleep(0.25)

    def _publish_all(self) -> None:
        give_up = time.monotonic() + self.deadline
        connection, channel = self._connect(give_up)
        interval, next_at = 1.0 / self.rate, time.monotonic()
        try:
            for w in self.wires:
                if self._halt.is_set():
                    return
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
                while True:
                    try:
                        channel.basic_publish(
                            "amq.topic", w.topic, w.body, w.properties(), mandatory=True
                        )
                        break
                    except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
                        raise  # the queue is declared beforehand: a bug
                    except pika.exceptions.AMQPError:
                        if time.monotonic() > give_up or self._halt.is_set():
                            raise
                        with contextlib.suppress(Exception):
                            connection.close()
                        self.reconnects += 1
                        connection, channel = self._connect(give_up)
                self.confirmed += 1
        finally:
            with contextlib.suppress(Exception):
                connection.close()


# ------------------------------------------------------------------------ consumer


class Consumer:
    """One ``relengotron consume`` process (its own session: SIGKILL takes all of it),
    stdout and stderr in files."""

    def __init__(self, name: str, argv: list[str], log_dir: Path) -> None:
        self.name, self.argv = name, argv
        self.out = log_dir / f"{name}.out"
        self.err = log_dir / f"{name}.err"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Consumer:
        self.starts += 1
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        env.pop("FEDORA_MESSAGING_CONF", None)  # --fm-config is what counts
        with self.out.open("ab") as out, self.err.open("ab") as err:
            out.write(f"--- start {self.starts}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float = 60) -> None:
        """Until this start printed its ready line (fails at once if the process died)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.out.read_text(errors="replace").rsplit(f"--- start {self.starts}\n", 1)[-1]
            if READY_LINE in text:
                assert f"pid {self.pid}" in text, f"{self.name}: ready line without its pid"
                return
            if not self.alive():
                raise AssertionError(
                    f"{self.name} exited ({self.proc and self.proc.returncode}) "
                    f"before it was ready:\n{self.logs()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready after {timeout:.0f} s:\n{self.logs()}")
            time.sleep(0.1)

    def kill9(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM; the exit status (the process is killed if it does not exit in time)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.cleanup()
                raise AssertionError(
                    f"{self.name} ignored SIGTERM for {timeout:.0f} s:\n{self.logs()}"
                ) from None
        return self.proc.returncode

    def cleanup(self) -> None:
        """Whatever is left of its session, killed (only ours: its own process group)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=30)

    def logs(self, lines: int = 40) -> str:
        def tail(p: Path) -> str:
            return (
                "\n".join(p.read_text(errors="replace").splitlines()[-lines:]) if p.exists() else ""
            )

        return f"[{self.name} stdout]\n{tail(self.out)}\n[{self.name} stderr]\n{tail(self.err)}"


# --------------------------------------------------------------------------- store


@dataclass(frozen=True)
class Row:
    aggregate: str
    version: int
    topic: str
    state: dict[str, Any]


class Store:
    """Reads the event table directly (SQLite or PostgreSQL), new connection each time,
    so a restarted server is no problem."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        from relengotron.adapters.store.store import normalize_url

        url = normalize_url(url)
        args = {"connect_timeout": 3} if url.startswith("postgresql") else {}
        self.engine = create_engine(url, poolclass=NullPool, connect_args=args)

    def count(self, topic: str) -> int:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            q = text("SELECT COUNT(*) FROM relengotron_events WHERE topic = :t")
            return int(conn.execute(q, {"t": topic}).scalar_one())

    def rows(self, *topics: str) -> list[Row]:
        from sqlalchemy import bindparam, text

        q = text(
            "SELECT originator_id, originator_version, topic, state FROM relengotron_events"
            " WHERE topic IN :topics ORDER BY id"
        ).bindparams(bindparam("topics", expanding=True))
        with self.engine.connect() as conn:
            found = conn.execute(q, {"topics": list(topics)}).all()
        return [Row(_hex(a), int(v), t, json.loads(bytes(s))) for a, v, t, s in found]

    def read_model_gates(self) -> dict[str, str]:
        """NVR -> gate state in the read models the projector keeps."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT nvr, gate FROM relengotron_rm_builds")).all()
        return {str(n): str(g) for n, g in rows if g is not None}

    def received_keys(self) -> Counter[str]:
        return Counter(r.state["key"] for r in self.rows(RECEIVED))

    def close(self) -> None:
        self.engine.dispose()


def _hex(value: Any) -> str:
    return value.hex() if isinstance(value, bytes | memoryview) else str(uuid.UUID(str(value)).hex)


def move_actions(store: Store) -> tuple[dict[str, list[Row]], dict[str, list[Row]], list[Row]]:
    """Koji move actions: requested per NVR, their completions per action, cancellations."""
    rows = store.rows(REQUESTED, COMPLETED, CANCELLED)
    moves = {
        r.aggregate: r for r in rows if r.topic == REQUESTED and r.state["kind"] == "koji.move"
    }
    by_nvr: dict[str, list[Row]] = {}
    for r in moves.values():
        by_nvr.setdefault(r.state["params"]["nvr"], []).append(r)
    done: dict[str, list[Row]] = {}
    for r in rows:
        if r.topic == COMPLETED and r.aggregate in moves:
            done.setdefault(r.aggregate, []).append(r)
    cancelled = [r for r in rows if r.topic == CANCELLED and r.aggregate in moves]
    return by_nvr, done, cancelled


# ------------------------------------------------------------------------ settings


def write_policies(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "live-faults.yaml").write_text(POLICY)
    return directory


def write_settings(path: Path, hub_url: str, policies: Path) -> Path:
    path.write_text(
        f"""\
[koji]
hub = "{hub_url}"
auth = "none"
timeout = 10
retries = 3
backoff = 0.05

[koji.tasks]
poll_interval = 0.05
timeout = 30

[gating]
policies = "{policies}"

[bus]
enabled = false
"""
    )
    return path


def write_fm_config(path: Path, url: str, queue: str, dlx: str, dlq: str) -> Path:
    """A fedora-messaging configuration: ``queue`` bound to everything on ``amq.topic``,
    dead-lettering to ``dlx`` (drained from ``dlq``)."""
    path.write_text(
        f"""\
amqp_url = "{url}"
passive_declares = false
publish_exchange = "amq.topic"

[client_properties]
app = "relengotron-test"

[qos]
prefetch_size = 0
prefetch_count = 25

[queues."{queue}"]
durable = true
auto_delete = false
exclusive = false
arguments = {{"x-dead-letter-exchange" = "{dlx}"}}

[[bindings]]
queue = "{queue}"
exchange = "amq.topic"
routing_keys = ["#"]

[consumer_config]
dead_letter_exchange = "{dlx}"
dead_letter_queue = "{dlq}"
"""
    )
    return path


def new_hub(nvrs: list[str]) -> FakeKojiHub:
    hub = FakeKojiHub().start()
    for tag in (PENDING, PROMOTED, QUARANTINE):
        hub.add_tag(tag)
    for nvr in nvrs:
        hub.add_build(nvr, owner="packager", tags=[PENDING])
    return hub


def hub_moves(hub: FakeKojiHub) -> Counter[tuple[str, str, str]]:
    """Every ``moveBuild`` the hub executed (multicall members too): (from, to, NVR)."""
    with hub._lock:
        calls = list(hub.calls)
    return Counter((str(a[0]), str(a[1]), str(a[2])) for m, a in calls if m == "moveBuild")


# -------------------------------------------------------------------------- oracle


def cli(*argv: str) -> tuple[int, Any]:
    """``relengotron ARGV --json`` in this process: (exit status, parsed stdout)."""
    from relengotron.adapters.cli.main import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main([*argv, "--json"])
    out = buf.getvalue()
    return code, json.loads(out) if out.strip() else None


def gate_states(db: str, config: Path, nvrs: list[str]) -> dict[str, str]:
    out = {}
    for nvr in nvrs:
        code, status = cli("status", nvr, "--db", db, "--config", str(config))
        assert code == 0, (nvr, status)
        out[nvr] = status["state"]
    return out


@dataclass
class Outcome:
    states: dict[str, str]  # NVR -> gate state (promoted, quarantined, ...)
    moves: Counter[tuple[str, str, str]]  # moveBuild calls the hub executed
    tags: dict[str, list[str]]  # NVR -> its tags on the hub at the end


def oracle(workdir: Path, stream: Stream) -> Outcome:
    """The stream's distinct messages ingested into a SQLite store, then ``act`` until
    nothing is pending, against a fresh fake hub."""
    workdir.mkdir(parents=True, exist_ok=True)
    hub = new_hub(stream.nvrs)
    try:
        config = write_settings(
            workdir / "oracle.toml", hub.url, write_policies(workdir / "policies")
        )
        db = f"sqlite:///{workdir / 'oracle.db'}"
        common = ("--db", db, "--config", str(config))
        messages = write_jsonl(workdir / "stream.jsonl", stream.records())
        code, summary = cli("ingest", str(messages), "--no-progress", *common)
        assert code == 0, summary
        assert summary["new"] == len(stream.records()), summary
        for _ in range(10):
            code, acted = cli("act", *common)
            assert code == 0, acted
            if not acted["still_pending"] and not acted["done"]:
                break
        else:
            raise AssertionError(f"oracle: actions still pending after 10 runs of act: {acted}")
        states = gate_states(db, config, stream.nvrs)
        assert not hub.errors, hub.errors
        return Outcome(states, hub_moves(hub), {n: hub.tags_of(n) for n in stream.nvrs})
    finally:
        hub.stop()


# ------------------------------------------------------------------------ live run


class LiveRun:
    """A store (PostgreSQL database), a vhost, a fake hub and the consumers of one test."""

    def __init__(self, workdir: Path, broker: Broker, db: str, stream: Stream) -> None:
        self.workdir, self.broker, self.db, self.stream = workdir, broker, db, stream
        self.hub = new_hub(stream.nvrs)
        self.config = write_settings(
            workdir / "relengotron.toml", self.hub.url, write_policies(workdir / "policies")
        )
        self.fm_config = write_fm_config(
            workdir / "fedora-messaging.toml", broker.url, broker.queue, broker.dlx, broker.dlq
        )
        self.store = Store(db)
        self.consumers: list[Consumer] = []
        self.publisher: Publisher | None = None

    def consumer(self, followers: bool = True) -> Consumer:
        argv = [
            *CONSUME,
            "--db",
            self.db,
            "--config",
            str(self.config),
            "--fm-config",
            str(self.fm_config),
        ]
        if not followers:
            argv.append("--no-followers")
        c = Consumer(f"consumer{len(self.consumers) + 1}", argv, self.workdir)
        self.consumers.append(c)
        return c.start()

    def publish(self, rate: float = 40.0) -> Publisher:
        self.publisher = Publisher(self.broker, self.stream.order, rate=rate)
        self.publisher.start()
        return self.publisher

    def recorded(self) -> int:
        return self.store.count(RECEIVED)

    def wait_recorded(self, n: int, timeout: float = 60) -> None:
        wait_until(f"{n} messages recorded", lambda: self.recorded() >= n, timeout)

    def logs(self) -> str:
        return "\n".join(c.logs() for c in self.consumers) + "\n" + self.broker.queues()

    def wait_complete(self, expected: Outcome, timeout: float = 90) -> None:
        """Until every distinct message is recorded (and the garbage rejected), the hub
        executed as many moves as the oracle's, every requested move is completed, and the
        read models (``relengotron_rm_builds``) show the oracle's gate states."""
        keys, want_moves = self.stream.keys, sum(expected.moves.values())
        waiting_for = ["nothing checked yet"]

        def unmet() -> str | None:
            if self.recorded() < len(keys) or not keys <= set(self.store.received_keys()):
                return "messages to be recorded"
            if self.stream.garbage and self.store.count(REJECTED) < 1:
                return "the garbage to be recorded as rejected input"
            if sum(hub_moves(self.hub).values()) < want_moves:
                return "koji moves"
            by_nvr, done, _ = move_actions(self.store)
            if not all(r.aggregate in done for rows in by_nvr.values() for r in rows):
                return "move outcomes to be recorded"
            gates = self.store.read_model_gates()
            if {n: gates.get(n) for n in expected.states} != expected.states:
                return "the read models (relengotron_rm_builds.gate) to catch up"
            return None

        def complete() -> bool:
            try:
                waiting_for[0] = unmet() or ""
            except Exception as exc:  # the store down for a while, or no table yet
                waiting_for[0] = f"the store ({type(exc).__name__}: {exc})"
                return False
            return not waiting_for[0]

        try:
            wait_until("the live run to complete", complete, timeout, 0.5)
        except AssertionError as exc:
            have = self._progress()
            raise AssertionError(
                f"{exc}; still waiting for {waiting_for[0][:300]}: {have}\n{self.logs()}"
            ) from None

    def _progress(self) -> str:
        """Where a run that did not complete stands; for builds the hub has not moved,
        what the store holds of them (decisions, move actions, the read model's gate)."""
        try:
            got = set(self.store.received_keys())
            missing = sorted(self.stream.keys - got)
            executed = hub_moves(self.hub)
            done = len(got & self.stream.keys)
            text = (
                f"{done}/{len(self.stream.keys)} recorded (missing {missing[:10]}), "
                f"{sum(executed.values())} moves"
            )
            unmoved = sorted(set(self.stream.verdicts) - {nvr for _, _, nvr in executed})
            if unmoved:
                by_nvr, completed, _ = move_actions(self.store)
                gates = self.store.read_model_gates()
                nvr_of = {r.aggregate: r.state["nvr"] for r in self.store.rows(OPENED)}
                decided = Counter(nvr_of.get(r.aggregate) for r in self.store.rows(DECIDED))
                for nvr in unmoved[:6]:
                    asked = by_nvr.get(nvr, [])
                    text += (
                        f"\n  not moved: {nvr} (should {self.stream.verdicts[nvr]}): "
                        f"{decided.get(nvr, 0)} Gate.Decided, {len(asked)} move(s) "
                        f"requested, {sum(1 for r in asked if r.aggregate in completed)} "
                        f"completed, read model gate {gates.get(nvr)!r}"
                    )
            return text
        except Exception as exc:
            return f"(store unreadable: {exc})"

    def stop(self) -> list[int]:
        """SIGTERM to every consumer still running: their exit statuses."""
        return [c.terminate() for c in self.consumers if c.alive()]

    def cleanup(self) -> None:
        if self.publisher is not None:
            self.publisher.stop()
            self.publisher.join(10)
        for c in self.consumers:
            c.cleanup()
        self.store.close()
        self.hub.stop()

    # ------------------------------------------------------------------ verdict

    def verify(self, expected: Outcome) -> dict[str, Any]:
        """Everything the fault tests promise, after the consumers stopped. Returns a few
        figures for the report."""
        store, stream = self.store, self.stream
        # 1. Every distinct message recorded exactly once, under its own id.
        received = self.store.rows(RECEIVED)
        counts = Counter(r.state["key"] for r in received)
        ours = {k: n for k, n in counts.items() if not k.startswith("relengotron-")}
        assert set(ours) == stream.keys, (
            f"missing {sorted(stream.keys - set(ours))[:10]}, "
            f"unexpected {sorted(set(ours) - stream.keys)[:10]}"
        )
        assert all(n == 1 for n in ours.values()), {k: n for k, n in ours.items() if n > 1}
        # ... with the body that was published (a redelivery recorded under another key
        # would show as "<id>~<hash>" above).
        bodies = {r.state["key"]: r.state for r in received}
        for w in stream.distinct:
            assert w.record is not None
            state = bodies[w.key]
            assert state["topic"] == w.topic, (w.key, state["topic"])
            assert state["body"] == w.record["body"], f"{w.key}: body differs"
        # 2. Decisions: no gate decided the same thing twice in a row.
        decided: dict[str, list[Row]] = {}
        for r in store.rows(DECIDED):
            decided.setdefault(r.aggregate, []).append(r)
        for gate, rows in decided.items():
            versions = [r.version for r in rows]
            assert versions == sorted(set(versions)), (gate, versions)
            prints = [r.state["fingerprint"] for r in rows]
            repeats = [i for i in range(1, len(prints)) if prints[i] == prints[i - 1]]
            assert not repeats, f"gate {gate}: the same decision recorded twice in a row {prints}"
        # 3. Outbox: one koji move requested per build, completed once, none cancelled.
        by_nvr, done, cancelled = move_actions(store)
        assert sorted(by_nvr) == stream.nvrs
        assert {n: len(rs) for n, rs in by_nvr.items() if len(rs) != 1} == {}
        assert not cancelled, cancelled
        outcomes: Counter[str] = Counter()
        for rows in by_nvr.values():
            completions = done.get(rows[0].aggregate, [])
            assert len(completions) == 1, (rows[0].state["key"], completions)
            outcomes[completions[0].state["outcome"]] += 1
        assert set(outcomes) <= {"moved", "already"}, outcomes
        requested = Counter(r.aggregate for r in store.rows(REQUESTED))
        assert all(n == 1 for n in requested.values())
        # 4. Koji: the oracle's moves, each exactly once; the same tags at the end.
        moves = hub_moves(self.hub)
        assert moves == expected.moves, (
            f"moves differ: live-only {moves - expected.moves}, "
            f"oracle-only {expected.moves - moves}"
        )
        assert all(n == 1 for n in moves.values()), {m: n for m, n in moves.items() if n > 1}
        assert {n: self.hub.tags_of(n) for n in stream.nvrs} == expected.tags
        assert not self.hub.errors, self.hub.errors
        # 5. Gate states as the oracle's, and as the stream says.
        states = gate_states(self.db, self.config, stream.nvrs)
        assert states == expected.states
        want = {
            n: "promoted" if v == "promote" else "quarantined" for n, v in stream.verdicts.items()
        }
        assert states == want
        # 6. Nothing dead-lettered; what is left on the queue (prefetched duplicates given
        # back at SIGTERM) was recorded already.
        dead = self.broker.drain(self.broker.dlq)
        assert not dead, [p.message_id for p, _ in dead]
        left = self.broker.drain()
        assert {p.message_id for p, _ in left} <= stream.keys | {w.key for w in stream.garbage}
        assert {p.message_id for p, _ in left} - {w.key for w in stream.garbage} <= set(ours)
        return {
            "recorded": len(ours),
            "published": len(stream.order),
            "decisions": sum(len(v) for v in decided.values()),
            "moves": sum(moves.values()),
            "move_outcomes": dict(outcomes),
            "left_on_queue": len(left),
        }
