"""Live throughput and latency: RabbitMQ -> ``relengotron consume`` -> PostgreSQL.

    python bench/live.py [--n 20000] [--workers 1,2,4] [--rate 100] [--seconds 30]
                         [--latency-workers 1,4] [--no-followers-too] [--py-spy PATH]

Real services on this machine: RabbitMQ on 127.0.0.1:5672 (a vhost of its own,
made with ``rabbitmqctl`` and deleted at the end) and PostgreSQL on 127.0.0.1:5432
(a fresh database per run, dropped after it). Messages are ``generate.stream``'s
(real body shapes, builds tagged into rawhide-pending, CI results, 2 % redeliveries),
published with pika to ``amq.topic`` as fedora-messaging puts them on the wire
(``message_id`` = the message id, JSON body, fedora-messaging's headers), into the
queue ``relengotron`` declared with the consumers' own arguments. In the same run:

1. baseline: a plain pika consumer (no processing, one ack per message, prefetch 25)
   drains a backlog of N messages from that queue: rows/s the broker gives here;
   and publish -> receive latency of that consumer at ``--rate`` msgs/s.
2. throughput: a backlog of N messages, then K ``relengotron consume`` processes
   (K in ``--workers``; a fresh database each) as deployed: followers on, so the
   worker holding the leader lock also decides, composes, acts and projects.
   Timed from the first to the last commit of an ``InboundMessage.Received`` event
   (their event timestamps) until every distinct id is recorded; msgs/s counts the
   distinct messages (redeliveries are taken off the queue too, not counted). Then
   how long after the last commit the decider had decided on everything (its tracked
   position). With ``--no-followers-too``, the same with ``--no-followers``.
3. latency: K consumers (``--latency-workers``), followers on, ``--rate`` msgs/s for
   ``--seconds`` s; latency = the timestamp of each ``Gate.Opened`` / ``Gate.Decided``
   event minus the publish time (wall clock, same machine) of its ``trigger``,
   collected once the decider has caught up; also publish -> Received committed.

The store is read by position (each poll reads only the rows since the last), so
polling costs the machine little. CPU seconds of the consumers, PostgreSQL and
RabbitMQ are read from /proc during each throughput run. ``--py-spy PATH`` samples
the first consumer of the 1-worker throughput run (GIL holders, 20 s) and prints
where its CPU goes. Everything is bounded in time and cleaned up in ``finally``
(consumers terminated, vhost deleted, databases dropped). A service restarted by
someone else during the run ends it with an error: the figures would be wrong.

The last line is JSON: ``n``, ``distinct``, ``baseline_rows_per_s``,
``throughput_msgs_per_s`` and ``ratio_to_baseline`` per worker count (followers on),
``throughput_no_followers_msgs_per_s``, ``decided_after_s``,
``throughput_decided_msgs_per_s`` (from the first commit until every message was decided
on), ``parallel`` and ``prefetch`` (the workers' settings), ``cpu_s``, the latency of
the first ``--latency-workers`` count (``latency_p50_ms``, ``latency_p99_ms``,
``latency_max_ms``, ``decisions_measured``: gate events timed), ``latency_by_workers``,
``baseline_latency_p50_ms``/``p99_ms`` and ``targets_met``: ``throughput`` (>= 1,000
msgs/s with 4 workers, followers on) and ``latency`` (p99 < 500 ms in every latency run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import stream

from domain import topics
from projections.folds.gating import SUBJECT_TOPICS

ROOT = Path(__file__).resolve().parents[1]
AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
QUEUE = "relengotron"
DEAD = "relengotron.dead-letter"  # the dead-letter exchange and its queue
PREFETCH = 25  # the plain pika consumer's (the baseline)
WORKER_PREFETCH = 10  # each consumer of a worker: config/fedora-messaging.example.toml's
READY_LINE = "relengotron consume: ready"
RECEIVED = topics.INBOUND_MESSAGE_RECEIVED
ACTIVATED = topics.POLICY_LOG_ACTIVATED
GATE_TOPICS = (topics.GATE_OPENED, topics.GATE_DECIDED)
TARGET_RATE, TARGET_P99_MS = 1000.0, 500.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROFILE = Path(tempfile.gettempdir()) / "relengotron-live-py-spy.txt"  # collapsed stacks


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def wait_until(what: str, check: Callable[[], bool], timeout: float, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def retrying(what: str, op: Callable[[], None], timeout: float = 120) -> None:
    """Clean-up that must happen: retried while the service is away (a restart)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            op()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                print(f"clean-up failed: {what}: {exc}", file=sys.stderr)
                return
            time.sleep(2)


# ------------------------------------------------------------------------ messages


@dataclass(frozen=True)
class Wire:
    """One message as fedora-messaging puts it on the wire."""

    key: str
    topic: str
    body: bytes
    properties: pika.BasicProperties


def wire(m: dict[str, Any]) -> Wire:
    headers = {
        "fedora_messaging_schema": "base.message",
        "fedora_messaging_severity": m["headers"].get("fedora_messaging_severity", 20),
        "priority": 0,
        "sent-at": m["headers"]["sent-at"],
    }
    props = pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=2,
        headers=headers,
        message_id=m["id"],
        priority=0,
    )
    return Wire(m["id"], m["topic"], json.dumps(m["body"]).encode(), props)


def wires(n: int, seed: int) -> list[Wire]:
    return [wire(m) for m in stream(n, seed=seed)]


# ------------------------------------------------------------------------ RabbitMQ


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


@dataclass
class Broker:
    vhost: str

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{self.vhost}"

    def connect(self) -> pika.BlockingConnection:
        creds = pika.PlainCredentials("guest", "guest")
        params = pika.ConnectionParameters(AMQP_HOST, AMQP_PORT, self.vhost, creds,
                                           heartbeat=60, blocked_connection_timeout=60)  # fmt: skip
        return pika.BlockingConnection(params)

    def reset(self) -> None:
        """A fresh, empty ``relengotron`` queue with the consumers' own arguments (and
        the dead-letter exchange and queue), so that nothing published is unroutable."""
        conn = self.connect()
        try:
            ch = conn.channel()
            ch.queue_delete(QUEUE)
            ch.queue_delete(DEAD)
            ch.exchange_declare(DEAD, "fanout", durable=True)
            ch.queue_declare(DEAD, durable=True)
            ch.queue_bind(DEAD, DEAD)
            ch.queue_declare(QUEUE, durable=True, exclusive=False, auto_delete=False,
                             arguments={"x-dead-letter-exchange": DEAD})  # fmt: skip
            ch.queue_bind(QUEUE, "amq.topic", routing_key="#")
        finally:
            _close(conn)

    def ready(self) -> int:
        conn = self.connect()
        try:
            return int(conn.channel().queue_declare(QUEUE, passive=True).method.message_count)
        finally:
            _close(conn)

    def publish_backlog(self, batch: list[Wire]) -> float:
        """Publish everything as fast as pika goes; seconds until the queue holds it all."""
        t0 = time.perf_counter()
        conn = self.connect()
        try:
            ch = conn.channel()
            for w in batch:
                ch.basic_publish("amq.topic", w.topic, w.body, w.properties)
        finally:
            _close(conn)
        wait_until("the backlog to be queued", lambda: self.ready() >= len(batch), 120, 0.1)
        return time.perf_counter() - t0

    def publish_paced(self, batch: list[Wire], rate: float) -> dict[str, float]:
        """Publish ``rate`` messages a second; the wall-clock time each id was first sent."""
        sent: dict[str, float] = {}
        conn = self.connect()
        try:
            ch = conn.channel()
            start = time.monotonic()
            for i, w in enumerate(batch):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    conn.sleep(delay)  # keeps the connection serviced
                now = time.time()
                ch.basic_publish("amq.topic", w.topic, w.body, w.properties)
                sent.setdefault(w.key, now)
        finally:
            _close(conn)
        return sent


def _close(conn: pika.BlockingConnection) -> None:
    with contextlib.suppress(Exception):  # closed by the broker already
        conn.close()


@contextlib.contextmanager
def private_vhost() -> Iterator[Broker]:
    broker = Broker(f"relengotron-bench-{uuid.uuid4().hex[:8]}")
    rabbitmqctl("add_vhost", broker.vhost)
    try:
        rabbitmqctl("set_permissions", "-p", broker.vhost, "guest", ".*", ".*", ".*")
        yield broker
    finally:
        retrying(f"delete vhost {broker.vhost}", lambda: rabbitmqctl("delete_vhost", broker.vhost))


def drain_plain(broker: Broker, n: int, timeout: float) -> float:
    """A plain pika consumer (prefetch 25, one ack per message): first to last delivery."""
    conn = broker.connect()
    got = 0
    first = last = 0.0
    try:
        ch = conn.channel()
        ch.basic_qos(prefetch_count=PREFETCH)

        def on_message(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
            nonlocal got, first, last
            last = time.perf_counter()
            if not got:
                first = last
            got += 1
            ch.basic_ack(method.delivery_tag)
            if got >= n:
                ch.stop_consuming()

        ch.basic_consume(QUEUE, on_message)
        conn.call_later(timeout, ch.stop_consuming)
        ch.start_consuming()
    finally:
        _close(conn)
    if got < n:
        raise SystemExit(f"baseline: only {got:,}/{n:,} messages drained in {timeout:.0f} s")
    return last - first


def plain_latency(broker: Broker, batch: list[Wire], rate: float) -> list[float]:
    """Publish at ``rate`` while a plain pika consumer (another connection, another
    thread) receives: ms from publish to receipt, each id's first copy."""
    received: dict[str, float] = {}
    ready = threading.Event()
    done = threading.Event()
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            conn = broker.connect()
            ch = conn.channel()
            ch.basic_qos(prefetch_count=PREFETCH)

            def on_message(ch: Any, method: Any, props: Any, _body: bytes) -> None:
                received.setdefault(props.message_id, time.time())
                ch.basic_ack(method.delivery_tag)

            ch.basic_consume(QUEUE, on_message)
            ready.set()
            while not done.is_set():
                conn.process_data_events(time_limit=0.1)
            conn.close()
        except BaseException as exc:
            errors.append(exc)
            ready.set()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    ready.wait(30)
    try:
        sent = broker.publish_paced(batch, rate)
        wait_until("the plain consumer", lambda: len(received) >= len(sent) or bool(errors), 60)
    finally:
        done.set()
        t.join(30)
    if errors:
        raise SystemExit(f"baseline consumer failed: {errors[0]!r}")
    return [(received[k] - sent[k]) * 1000 for k in sent]


# ---------------------------------------------------------------------- PostgreSQL


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    name = f"relengotron_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        retrying(f"drop database {name}", lambda: _drop(name))


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ts(state: dict[str, Any]) -> float:
    return datetime.fromisoformat(state["timestamp"]["_data_"]).timestamp()


class Store:
    """Follows the event table by position (``id``): each poll reads only the rows
    committed since the last one (the store inserts under a table lock, so positions
    become visible in order) and keeps what the bench needs from them."""

    TOPICS = (RECEIVED, ACTIVATED, *GATE_TOPICS)

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        self.after = 0
        self.exists = False
        self.received: dict[str, float] = {}  # message key -> Received timestamp
        self.gates: list[dict[str, Any]] = []  # Gate.Opened / Gate.Decided states
        self.activations = 0

    def poll(self) -> int:
        """Read the new rows; how many of the interesting ones there were."""
        if not self.exists:
            row = self.conn.execute("SELECT to_regclass('relengotron_events')").fetchone()
            self.exists = bool(row and row[0])
            if not self.exists:
                return 0
        rows = self.conn.execute(
            "SELECT id, topic, state FROM relengotron_events WHERE id > %s AND topic = ANY(%s)"
            " ORDER BY id",
            (self.after, list(self.TOPICS)),
        ).fetchall()
        for pos, topic, state in rows:
            self.after = pos
            data = json.loads(bytes(state))
            if topic == RECEIVED:
                self.received.setdefault(data["key"], _ts(data))
            elif topic == ACTIVATED:
                self.activations += 1
            else:
                self.gates.append(data)
        return len(rows)

    def last_input(self) -> int:
        """Position of the latest subject event (what the recording of messages writes and
        the decider reads; the decider's own events come after it)."""
        row = self.conn.execute(
            "SELECT MAX(id) FROM relengotron_events WHERE topic = ANY(%s)", (list(SUBJECT_TOPICS),)
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def decided_up_to(self) -> int:
        """The decider's tracked position (it is saved with the decisions it made)."""
        row = self.conn.execute(
            "SELECT notification_id FROM relengotron_tracking WHERE application_name = 'decider'"
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def close(self) -> None:
        self.conn.close()


# ------------------------------------------------------------------------ consumers


@dataclass
class Consumer:
    """One ``relengotron consume`` process in its own session, output in files."""

    name: str
    argv: list[str]
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def out(self) -> Path:
        return self.log_dir / f"{self.name}.out"

    @property
    def err(self) -> Path:
        return self.log_dir / f"{self.name}.err"

    def start(self) -> Consumer:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("FEDORA_MESSAGING_CONF", None)
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=out, stderr=err,
                                         start_new_session=True)  # fmt: skip
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise SystemExit(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
        return READY_LINE in self.out.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        text = [f"[{p.name}] " + x for p in (self.out, self.err) if p.exists()
                for x in p.read_text(errors="replace").splitlines()[-lines:]]  # fmt: skip
        return "\n".join(text)

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM, then (after ``timeout``) SIGKILL to its process group; exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"  {self.name} ignored SIGTERM for {timeout:.0f} s: killed")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        return self.proc.returncode


@dataclass
class Setup:
    broker: Broker
    tmp: Path
    exe: str
    consumers: list[Consumer] = field(default_factory=list)
    parallel: int | None = None  # [consumer_config] parallel (None: the default)
    prefetch: int = WORKER_PREFETCH  # [qos] prefetch_count of each consumer

    def write_configs(self) -> tuple[Path, Path]:
        settings = self.tmp / "relengotron.toml"
        settings.write_text("# no koji hub: moves stay in the outbox\n[bus]\nenabled = false\n")
        fm = self.tmp / "fedora-messaging.toml"
        fm.write_text(
            f"""\
amqp_url = "{self.broker.url}"
passive_declares = false
publish_exchange = "amq.topic"

[client_properties]
app = "relengotron-bench"

[queues.{QUEUE}]
durable = true
auto_delete = false
exclusive = false
arguments = {{"x-dead-letter-exchange" = "{DEAD}"}}

[[bindings]]
queue = "{QUEUE}"
exchange = "amq.topic"
routing_keys = ["#"]

[qos]
prefetch_size = 0
prefetch_count = {self.prefetch}

[consumer_config]
dead_letter_exchange = "{DEAD}"
dead_letter_queue = "{DEAD}"
"""
            + (f"parallel = {self.parallel}\n" if self.parallel else "")
        )
        return settings, fm

    def start(self, db: str, k: int, followers: str) -> list[Consumer]:
        """``followers``: "in-worker" (as ``consume`` runs by default), "apart" (workers
        with ``--no-followers`` plus ``act --follow`` and ``project --follow`` processes,
        the split deployment), or "none" (recording only)."""
        settings, fm = self.write_configs()
        started = []
        for i in range(k):
            argv = [self.exe, "consume", "--db", db, "--config", str(settings),
                    "--fm-config", str(fm)]  # fmt: skip
            if followers != "in-worker":
                argv.append("--no-followers")
            c = Consumer(f"consumer-{len(self.consumers) + 1}-of-{k}-{i + 1}", argv, self.tmp)
            self.consumers.append(c)
            started.append(c.start())
        if followers == "apart":
            common = ["--db", db, "--config", str(settings)]
            for name, argv in (
                ("act-follow", [self.exe, "act", "--follow", "--interval", "0.2", *common]),
                ("project-follow", [self.exe, "project", "--follow", "--no-progress", *common]),
            ):
                p = Consumer(f"{name}-of-{k}", argv, self.tmp)
                self.consumers.append(p)
                p.start()
        return started

    def stop_all(self) -> list[int | None]:
        codes = [c.stop() for c in self.consumers]
        self.consumers.clear()
        return codes


# ----------------------------------------------------------------------------- CPU


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _pids_named(*names: str) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError):
                if p.joinpath("comm").read_text().strip() in names:
                    out.append(int(p.name))
    return out


class CpuMeter:
    """CPU seconds used by the consumers, PostgreSQL and RabbitMQ between two samples
    (PostgreSQL backends started meanwhile count from zero)."""

    def __init__(self, consumers: list[Consumer]) -> None:
        self.consumers = consumers
        self.before = self._sample()

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            "consumers": {c.pid: _cpu(c.pid) for c in self.consumers},
            "postgres": {p: _cpu(p) for p in _pids_named("postgres")},
            "rabbitmq": {p: _cpu(p) for p in _pids_named("beam.smp")},
        }

    def stop(self) -> dict[str, float]:
        after = self._sample()
        return {
            what: round(sum(v - self.before[what].get(p, 0.0) for p, v in now.items()), 2)
            for what, now in after.items()
        }


# ------------------------------------------------------------------------- py-spy


def py_spy(exe: str, pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100",
         "--format", "raw", "--threads", "--gil", "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


# Frames worth naming in a profile: ours, the event store's, fedora-messaging's.
OURS = ("adapters/", "domain/", "projections/", "policies/", "eventsourcing", "fedora_messaging/",
        "jsonschema/validators.py")  # fmt: skip


def _frame(f: str) -> str:
    """``func (path:line)`` -> ``func (path)``: one entry per function."""
    name, _, where = f.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def profile_summary(path: Path, top: int = 15) -> list[str]:
    """Where a consumer's CPU goes, from py-spy's collapsed stacks (``--threads --gil``):
    each thread's share of the samples, then, for the threads that handle messages
    (twisted's pool threads, where fedora-messaging calls the consumer), the followers'
    thread and the reactor's, the busiest functions of ours, of the event store and of
    fedora-messaging (inclusive: SQLAlchemy, psycopg and twisted are inside them)."""
    threads: Counter[str] = Counter()
    parts = {"message handling": Counter[str](), "followers": Counter[str](),
             "reactor": Counter[str]()}  # fmt: skip
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        thread, *frames = stack.split(";")
        role = thread.split(": ", 1)[-1]
        role = role.rsplit("-", 1)[0] if role.startswith("PoolThread") else role
        threads[role] += n
        part = (
            "message handling" if role.startswith("PoolThread")
            else "followers" if role.startswith("relengotron-followers")
            else "reactor" if role.startswith("CrochetReactor")
            else None
        )  # fmt: skip
        if part is not None:
            parts[part]["(all)"] += n
            for f in {_frame(f) for f in frames if any(f" ({p}" in f for p in OURS)}:
                parts[part][f] += n
    total = sum(threads.values())
    if not total:
        return ["(no samples)"]
    lines = [f"py-spy (GIL held), {total:,} samples at 100/s; by thread: "
             + ", ".join(f"{t} {n / total:.0%}" for t, n in threads.most_common(4))]  # fmt: skip
    for name, counts in parts.items():
        all_ = counts.pop("(all)", 0)
        if all_:
            lines.append(f"{name} ({all_ / total:.0%} of the samples), inclusive:")
            lines += [f"  {n / all_:6.1%}  {f}" for f, n in counts.most_common(top)]
    return lines


# ------------------------------------------------------------------------ the runs


def wait_decided(store: Store, timeout: float) -> float | None:
    """Until the decider has decided on every message recorded so far (its tracked
    position reached the last subject event); then the gate events are all there.
    The wall-clock time it got there (None: not within ``timeout``)."""
    deadline = time.monotonic() + timeout
    target = store.last_input()
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.errors.UndefinedTable):
            if store.decided_up_to() >= target:
                done = time.time()
                store.poll()
                return done
        time.sleep(0.25)
    store.poll()
    return None


def wait_recorded(store: Store, keys: set[str], timeout: float) -> dict[str, float]:
    """Until every key in ``keys`` is recorded; their Received timestamps."""
    deadline = time.monotonic() + timeout
    while True:
        store.poll()
        if keys <= store.received.keys():
            return {k: store.received[k] for k in keys}
        if time.monotonic() > deadline:
            n = len(keys & store.received.keys())
            raise SystemExit(f"only {n:,}/{len(keys):,} recorded after {timeout:.0f} s")
        time.sleep(0.25)


def throughput(setup: Setup, batch: list[Wire], k: int, followers: str, timeout: float,
               spy: str | None) -> dict[str, Any]:  # fmt: skip
    keys = {w.key for w in batch}
    setup.broker.reset()
    setup.broker.publish_backlog(batch)
    with fresh_database() as db:
        store = Store(db)
        try:
            t0 = time.monotonic()
            setup.start(db, k, followers)
            consumers = list(setup.consumers)  # the followers' processes are metered too
            meter = CpuMeter(consumers)
            spying = None
            if spy:
                wait_until("the consumer", consumers[0].ready, 120)
                spying = py_spy(spy, consumers[0].pid, 20, PROFILE)
            times = wait_recorded(store, keys, timeout)
            wall = time.monotonic() - t0
            cpu = meter.stop()
            first, last = min(times.values()), max(times.values())
            result: dict[str, Any] = {
                "workers": k,
                "followers": followers,
                "recorded": len(keys),
                "seconds": round(last - first, 3),
                "msgs_per_s": round(len(keys) / (last - first), 1),
                "wall_s": round(wall, 1),
                "cpu_s": cpu,
            }
            if followers != "none":
                decided = wait_decided(store, timeout)
                result["followers_ran"] = store.activations > 0
                result["gate_events"] = len(store.gates)
                result["decided_after_s"] = None if decided is None else round(decided - last, 1)
                # From the first commit until every message was decided on.
                result["decided_msgs_per_s"] = (
                    None if decided is None else round(len(keys) / (decided - first), 1)
                )
            if spying is not None:
                spying.wait(60)
                result["profile"] = profile_summary(PROFILE)
        finally:
            codes = setup.stop_all()
            store.close()
        result["exit_codes"] = codes
    return result


def latency(setup: Setup, batch: list[Wire], k: int, rate: float,
            timeout: float) -> dict[str, Any]:  # fmt: skip
    setup.broker.reset()
    with fresh_database() as db:
        store = Store(db)
        try:
            consumers = setup.start(db, k, followers="in-worker")
            wait_until("the consumers", lambda: all(c.ready() for c in consumers), 120)
            # The leader's first round records the policy activation (and builds its views).
            with contextlib.suppress(SystemExit):
                wait_until("the leader's first round", lambda: bool(store.poll()), 60)
            sent = setup.broker.publish_paced(batch, rate)
            recorded = wait_recorded(store, set(sent), timeout)
            decided = wait_decided(store, timeout)
            gates, followed = store.gates, store.activations > 0
        finally:
            codes = setup.stop_all()
            store.close()
    ms = [(_ts(s) - sent[s["trigger"]]) * 1000 for s in gates if s.get("trigger") in sent]
    rec = [(recorded[key] - sent[key]) * 1000 for key in sent]
    return {
        "workers": k,
        "followers_ran": followed,
        "caught_up": decided is not None,
        "published": len(batch),
        "gate_events": len(gates),
        "measured": len(ms),
        "p50_ms": round(pct(ms, 50), 1) if ms else None,
        "p99_ms": round(pct(ms, 99), 1) if ms else None,
        "max_ms": round(max(ms), 1) if ms else None,
        "record_p50_ms": round(pct(rec, 50), 1),
        "record_p99_ms": round(pct(rec, 99), 1),
        "record_max_ms": round(max(rec), 1),
        "exit_codes": codes,
    }


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _workers(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000, help="backlog size")
    ap.add_argument("--workers", default="1,2,4", help="consumer counts for throughput")
    ap.add_argument("--rate", type=float, default=100.0, help="msgs/s for the latency runs")
    ap.add_argument("--seconds", type=int, default=30, help="length of each latency run")
    ap.add_argument("--latency-workers", default="1,4", help="consumer counts for latency")
    ap.add_argument("--no-followers-too", action="store_true",
                    help="also measure throughput with --no-followers")  # fmt: skip
    ap.add_argument("--followers-apart-too", action="store_true",
                    help="also measure throughput with the followers in processes of their own "
                         "(workers --no-followers, act --follow, project --follow)")  # fmt: skip
    ap.add_argument("--timeout", type=float, default=900, help="seconds allowed per run")
    ap.add_argument(
        "--parallel",
        type=int,
        help="[consumer_config] parallel of each worker (default: consume's own)",
    )
    ap.add_argument("--prefetch", type=int, default=WORKER_PREFETCH,
                    help="[qos] prefetch_count of each consumer of the workers")  # fmt: skip
    ap.add_argument("--py-spy", help="py-spy executable: profile the 1-worker run's consumer")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    if not shutil.which("rabbitmqctl"):
        raise SystemExit("rabbitmqctl is needed (a vhost of our own per run)")
    exe = str(Path(sys.executable).parent / "relengotron")
    ks, lks = _workers(args.workers), _workers(args.latency_workers)
    backlog = wires(args.n, seed=1)
    paced = wires(round(args.rate * args.seconds), seed=2)
    distinct = len({w.key for w in backlog})
    runs: list[dict[str, Any]] = []
    lat: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="relengotron-live-") as tmpdir, \
            private_vhost() as broker:  # fmt: skip
        setup = Setup(broker, Path(tmpdir), exe, parallel=args.parallel, prefetch=args.prefetch)
        try:
            broker.reset()
            pub_s = broker.publish_backlog(backlog)
            base_s = drain_plain(broker, len(backlog), args.timeout)
            base_rate = len(backlog) / base_s
            print(f"baseline:   published {len(backlog):,} in {pub_s:.1f} s; plain pika "
                  f"drained them in {base_s:.2f} s = {base_rate:,.0f} msgs/s")  # fmt: skip
            broker.reset()
            base_ms = plain_latency(broker, paced, args.rate)
            print(f"baseline:   publish -> plain pika receipt at {args.rate:.0f} msgs/s: "
                  f"p50 {pct(base_ms, 50):.1f} ms, p99 {pct(base_ms, 99):.1f} ms")  # fmt: skip
            modes = ["in-worker"]
            modes += ["apart"] if args.followers_apart_too else []
            modes += ["none"] if args.no_followers_too else []
            tags = {"in-worker": "followers in a worker", "apart": "followers apart",
                    "none": "--no-followers"}  # fmt: skip
            for followers in modes:
                for k in ks:
                    spy = args.py_spy if k == 1 and followers == "in-worker" else None
                    r = throughput(setup, backlog, k, followers, args.timeout, spy)
                    runs.append(r)
                    tag = tags[followers]
                    print(f"throughput: {k} worker(s), {tag}: {r['recorded']:,} recorded in "
                          f"{r['seconds']:.1f} s = {r['msgs_per_s']:,.0f} msgs/s "
                          f"({r['msgs_per_s'] / base_rate:.3f} x baseline); CPU s: "
                          f"{r['cpu_s']}")  # fmt: skip
                    if followers != "none" and r["followers_ran"]:
                        after, both = r["decided_after_s"], r["decided_msgs_per_s"]
                        print(f"            followers: {r['gate_events']:,} gate events; the "
                              "decider had decided on every message "
                              + ("NOT within the time allowed" if after is None
                                 else f"{after:.1f} s after the last commit (recorded and "
                                      f"decided: {both:,.0f} msgs/s)"))  # fmt: skip
                    elif followers != "none" and not r["followers_ran"]:
                        print("            NO FOLLOWER RAN (no policy activation recorded): "
                              "recording only")  # fmt: skip
                    for line in r.pop("profile", []):
                        print(f"            {line}")
            for k in lks:
                r = latency(setup, paced, k, args.rate, args.timeout)
                lat.append(r)
                print(f"latency:    {k} worker(s), {args.rate:.0f} msgs/s for {args.seconds} s: "
                      f"publish -> gate event p50 {_ms(r['p50_ms'])}, p99 {_ms(r['p99_ms'])}, "
                      f"max {_ms(r['max_ms'])} over {r['measured']:,} events; "
                      f"publish -> recorded p50 {_ms(r['record_p50_ms'])}, "
                      f"p99 {_ms(r['record_p99_ms'])}")  # fmt: skip
                if not r["followers_ran"]:
                    print("            NO FOLLOWER RAN (no policy activation recorded): "
                          "no decisions to time")  # fmt: skip
        finally:
            setup.stop_all()
    on = {r["workers"]: r for r in runs if r["followers"] == "in-worker"}
    apart = {r["workers"]: r for r in runs if r["followers"] == "apart"}
    off = {r["workers"]: r for r in runs if r["followers"] == "none"}
    first = lat[0] if lat else {}
    print(
        json.dumps(
            {
                "n": args.n,
                "distinct": distinct,
                "baseline_rows_per_s": round(base_rate),
                "throughput_msgs_per_s": {str(k): r["msgs_per_s"] for k, r in on.items()},
                "ratio_to_baseline": {
                    str(k): round(r["msgs_per_s"] / base_rate, 3) for k, r in on.items()
                },
                "throughput_followers_apart_msgs_per_s": {
                    str(k): r["msgs_per_s"] for k, r in apart.items()
                },
                "decided_after_s_followers_apart": {
                    str(k): r["decided_after_s"] for k, r in apart.items()
                },
                "throughput_no_followers_msgs_per_s": {
                    str(k): r["msgs_per_s"] for k, r in off.items()
                },
                "decided_after_s": {str(k): r["decided_after_s"] for k, r in on.items()},
                "throughput_decided_msgs_per_s": {
                    str(k): r["decided_msgs_per_s"] for k, r in on.items()
                },
                "parallel": args.parallel,
                "prefetch": args.prefetch,
                "cpu_s": {str(k): r["cpu_s"] for k, r in on.items()},
                "latency_workers": first.get("workers"),
                "latency_p50_ms": first.get("p50_ms"),
                "latency_p99_ms": first.get("p99_ms"),
                "latency_max_ms": first.get("max_ms"),
                "decisions_measured": first.get("measured"),
                "latency_by_workers": {
                    str(r["workers"]): {
                        x: r[x] for x in ("p50_ms", "p99_ms", "max_ms", "measured", "record_p99_ms")
                    }
                    for r in lat
                },
                "baseline_latency_p50_ms": round(pct(base_ms, 50), 2),
                "baseline_latency_p99_ms": round(pct(base_ms, 99), 2),
                "targets_met": {
                    # With the followers running (in a worker or apart), 4 workers.
                    "throughput": any(
                        r["workers"] == 4 and r["msgs_per_s"] >= TARGET_RATE
                        for r in runs
                        if r["followers"] != "none" and r.get("decided_after_s") is not None
                    ),
                    "latency": bool(lat)
                    and all(r["p99_ms"] is not None and r["p99_ms"] < TARGET_P99_MS for r in lat),
                },
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except (psycopg.OperationalError, pika.exceptions.AMQPError) as exc:
        # Everything was cleaned up on the way out; a restarted service spoils the figures.
        raise SystemExit(f"live bench: a service went away during the run: {exc!r}") from exc
