"""``relengotron consume`` against the real RabbitMQ: nothing dropped, each message once.

Each broker test runs the real command (a subprocess, SIGTERM at the end) on a RabbitMQ
vhost of its own (``rabbitmqctl add_vhost``: a queue, bindings, a dead-letter exchange
and queue no other test sees) and a SQLite store in ``tmp_path``; messages go out
through our publisher (fedora-messaging's serialisation) or, for bodies no publisher
would send, raw with pika. Outages are real: the store locked by another connection,
the broker closing the consumer's connections. Every wait is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pytest
from fedora_messaging.message import Message, load_message

from relengotron.adapters.ingest.collector import THRESHOLDS
from relengotron.adapters.store.store import open_app
from relengotron.domain.application import RelengApp
from tests.conftest import _service_missing
from tests.live import write_fm_config
from tests.rabbit import HOST, PORT, require_rabbitmq

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "fedora-messaging.example.toml"
SAMPLE = ROOT / "config" / "examples" / "sample-stream.jsonl"
READY = "relengotron consume: ready"
COMMAND = (sys.executable, "-m", "relengotron", "consume")
REJECTED = "domain.message:RejectedInput.Rejected"
GARBAGE = b"\x00this is {not JSON, \xff\xfe nor UTF-8"
ARRAY = b'[1, "two", {"three": 3}]'

# ------------------------------------------------------------------ harness


def wait_until(what: str, check: Callable[[], bool], timeout: float, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def rabbitmqctl(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}"
    return done.stdout


@dataclass
class Bus:
    """A private vhost and the fedora-messaging configuration of one test."""

    vhost: str
    queue: str
    dlx: str
    dlq: str
    fm_config: Path

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{HOST}:{PORT}/{self.vhost}"

    @contextlib.contextmanager
    def channel(self) -> Iterator[Any]:
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            yield connection.channel()
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def ready(self, name: str) -> int:
        """Messages ready on a queue (delivered, unacknowledged ones not counted)."""
        with self.channel() as ch:
            return int(ch.queue_declare(name, passive=True).method.message_count)

    def publish(self, *messages: Message) -> None:
        """Through our publisher: fedora-messaging's body, headers and properties."""
        from relengotron.adapters.messaging.publisher import FedoraMessagingPublisher

        with FedoraMessagingPublisher(self.url, config_file=str(self.fm_config)) as pub:
            for m in messages:
                pub.publish(m)

    def publish_raw(self, routing_key: str, body: bytes, **props: Any) -> None:
        """What no fedora-messaging publisher would send: raw bytes, with confirms."""
        with self.channel() as ch:
            ch.confirm_delivery()
            ch.basic_publish("amq.topic", routing_key, body, pika.BasicProperties(**props))

    def connections(self) -> list[str]:
        """The broker's ids (pids) of the connections to this vhost."""
        out = rabbitmqctl("list_connections", "vhost", "pid")
        return [
            line.split("\t")[1]
            for line in out.splitlines()
            if line.split("\t")[0] == self.vhost and "\t" in line
        ]

    def close_connections(self) -> int:
        """The broker closes every connection to this vhost (320 CONNECTION_FORCED, as
        when it shuts down)."""
        pids = self.connections()
        for pid in pids:
            rabbitmqctl("close_connection", pid, "test: the broker goes away")
        return len(pids)


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[Bus]:
    require_rabbitmq()
    if shutil.which("rabbitmqctl") is None:
        _service_missing("rabbitmqctl", "not on PATH (needed for a vhost of our own)")
    tag = uuid.uuid4().hex[:8]
    b = Bus(
        vhost=f"rt-consume-{tag}",
        queue=f"relengotron-{tag}",
        dlx=f"relengotron-{tag}.dead-letter",
        dlq=f"relengotron-{tag}.dead-letters",
        fm_config=tmp_path / "fedora-messaging.toml",
    )
    rabbitmqctl("add_vhost", b.vhost)
    try:
        rabbitmqctl("set_permissions", "-p", b.vhost, "guest", ".*", ".*", ".*")
        write_fm_config(b.fm_config, b.url, b.queue, b.dlx, b.dlq)
        yield b
    finally:
        rabbitmqctl("delete_vhost", b.vhost)


class Consume:
    """``relengotron consume --json`` as a subprocess."""

    def __init__(self, bus: Bus, db: str, workdir: Path, name: str = "consume") -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("FEDORA_MESSAGING_CONF", "RELENGOTRON_DB", "RELENGOTRON_CONFIG")
        }
        self.stderr_path = workdir / f"{name}.stderr"
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [*COMMAND, "--db", db, "--fm-config", str(bus.fm_config), "--no-followers", "--json"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if line.startswith(READY):
                return line
        raise AssertionError(f"consume not ready in {timeout:.0f} s:\n{self.stderr()}")

    def terminate(self, timeout: float = 60) -> tuple[int, dict[str, Any]]:
        """SIGTERM; the exit status and the JSON summary."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"consume still running {timeout:.0f} s after SIGTERM") from None
        time.sleep(0.1)  # the reader thread takes the last line
        summary: dict[str, Any] = {}
        while not self.lines.empty():
            line = self.lines.get()
            if line.startswith("{"):
                summary = json.loads(line)
        assert summary, f"no summary on stdout:\n{self.stderr()}"
        return code, summary

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._stderr.close()


@pytest.fixture
def consumers() -> Iterator[list[Consume]]:
    started: list[Consume] = []
    yield started
    for c in started:
        c.cleanup()


def start(consumers: list[Consume], bus: Bus, db: str, workdir: Path) -> Consume:
    c = Consume(bus, db, workdir, f"consume{len(consumers) + 1}")
    consumers.append(c)
    line = c.wait_ready()
    assert re.fullmatch(rf"{READY} \(queue {re.escape(bus.queue)}, pid {c.proc.pid}\)", line)
    return c


def rejected(app: RelengApp) -> list[Any]:
    """Every RejectedInput.Rejected event in the store."""
    out = []
    for n in app.recorder.select_notifications(start=1, limit=1_000_000, topics=[REJECTED]):
        out.append(app.mapper.to_domain_event(n))
    return out


def recorded(app: RelengApp, *keys: str) -> Callable[[], bool]:
    return lambda: all(app.has_message(k) for k in keys)


def sample_messages(n: int) -> list[Message]:
    """The first ``n`` messages of the sample stream, as fedora-messaging messages."""
    out = []
    with SAMPLE.open() as f:
        for line in f:
            if len(out) == n:
                break
            out.append(load_message(json.loads(line)))
    return out


def message(topic: str, body: dict[str, Any], key: str) -> Message:
    m = Message(topic=topic, body=body)
    m.id = key
    return m


# ------------------------------------------------------------------ the broker tests


@pytest.mark.rabbitmq
@pytest.mark.slow
def test_each_message_recorded_once_and_refused_bodies_kept(
    bus: Bus, tmp_path: Path, consumers: list[Consume]
) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    consume = start(consumers, bus, db, tmp_path)
    real = sample_messages(4)  # git.receive, two build state changes, a tag
    unknown = message("org.example.prod.nobody.translates.this", {"n": 42}, "unknown-1")
    big_text = "".join(f"{i:08x}" for i in range(5 * 1024 * 1024 // 8))  # 5 MiB, no repeats
    big = message("org.example.prod.big.body", {"blob": big_text}, "big-1")
    bus.publish(*real, unknown, big, real[1])  # real[1] again: a redelivery
    bus.publish_raw("org.fedoraproject.prod.buildsys.tag", GARBAGE, message_id="garbage-1")
    bus.publish_raw(
        "org.fedoraproject.prod.buildsys.tag",
        ARRAY,
        message_id="array-1",
        content_encoding="utf-8",
        content_type="application/json",
    )

    app = open_app(db)
    keys = [m.id for m in (*real, unknown, big)]
    wait_until("every message recorded", recorded(app, *keys), 60)
    wait_until("both refused bodies kept", lambda: len(rejected(app)) >= 2, 60)
    code, summary = consume.terminate()

    assert code == 0, consume.stderr()
    assert summary["received"] == 7
    assert (summary["new"], summary["duplicate"], summary["unrecognized"]) == (6, 1, 2)
    assert (summary["dead_letters"], summary["rejected"]) == (2, 2)
    assert summary["storage_retries"] == 0
    # Consuming is bulk work: fewer garbage collections (adapters/ingest/collector.py).
    assert summary["gc_thresholds"] == list(THRESHOLDS)
    # Acknowledged: nothing left on the queue, nothing left on the dead-letter queue.
    assert bus.ready(bus.queue) == 0
    assert bus.ready(bus.dlq) == 0
    # Recorded as sent: topic, body, headers; translated; once.
    for m in real:
        stored = app.stored_message(m.id)
        assert (stored.topic, stored.body, stored.status) == (m.topic, m.body, "recognized")
        assert stored.headers["sent-at"] == m._headers["sent-at"]
        assert stored.source == f"amqp:{bus.queue}"
    assert app.stored_message("unknown-1").status == "unrecognized"
    assert app.stored_message("big-1").body["blob"] == big_text
    assert len(list(app.events.get(app.stored_message(real[1].id).originator_id))) == 1
    # The refused bodies: raw bytes, routing key, headers (x-death) and the reason.
    by_id = {}
    for e in rejected(app):
        raw = json.loads(e.raw)
        by_id[raw["properties"]["message_id"]] = (raw, e)
    garbage, g_event = by_id["garbage-1"]
    assert base64.b64decode(garbage["body_base64"]) == GARBAGE
    assert "body" not in garbage
    array, a_event = by_id["array-1"]
    assert array["body"].encode() == ARRAY
    for raw, event in (by_id["garbage-1"], by_id["array-1"]):
        assert raw["routing_key"] == "org.fedoraproject.prod.buildsys.tag"
        assert raw["exchange"] == bus.dlx
        death = raw["properties"]["headers"]["x-death"][0]
        assert (death["reason"], death["queue"]) == ("rejected", bus.queue)
        assert event.reason.startswith("refused by fedora-messaging: not a valid message (")
        assert event.reason.endswith(f"(x-death reason rejected, queue {bus.queue})")
        assert event.source == f"amqp-dead-letter:{bus.dlq}"
    assert "is not of type 'object'" in a_event.reason
    assert "not utf-8 text" in g_event.reason


@pytest.mark.rabbitmq
@pytest.mark.slow
def test_store_outage_waited_out_without_loss(
    bus: Bus, tmp_path: Path, consumers: list[Consume]
) -> None:
    """Another connection holds the store's write lock past SQLite's busy timeout (5 s):
    the consumer retries (WARNING lines), and each message lands once."""
    db_file = tmp_path / "store.db"
    db = f"sqlite:///{db_file}"
    consume = start(consumers, bus, db, tmp_path)
    first, second = sample_messages(2)
    locker = sqlite3.connect(db_file, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        bus.publish(first, second)
        wait_until(
            "a storage retry in the log", lambda: "store unavailable" in consume.stderr(), 30
        )
        time.sleep(3)  # a few more tries (0.5 s, 1 s, ...), each one a busy timeout
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    app = open_app(db)
    wait_until("both recorded after the lock", recorded(app, first.id, second.id), 60)
    code, summary = consume.terminate()
    assert code == 0, consume.stderr()
    assert summary["storage_retries"] >= 1
    assert (summary["received"], summary["new"], summary["duplicate"]) == (2, 2, 0)
    assert bus.ready(bus.queue) == 0
    log = consume.stderr()
    # One message, or both together when they came in the same batch (the consumer's
    # recording thread takes what is waiting: adapters/live/consumer.py, "N messages").
    retried = r"WARNING store unavailable recording (message \S+|\d+ messages) .*database is locked"
    assert re.search(retried, log), log[-6000:]
    assert "retrying in 0.5 s" in log


@pytest.mark.rabbitmq
@pytest.mark.slow
def test_sigterm_during_an_outage_leaves_the_message_on_the_queue(
    bus: Bus, tmp_path: Path, consumers: list[Consume]
) -> None:
    db_file = tmp_path / "store.db"
    db = f"sqlite:///{db_file}"
    consume = start(consumers, bus, db, tmp_path)
    (m,) = sample_messages(1)
    locker = sqlite3.connect(db_file, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        bus.publish(m)
        wait_until("a storage retry", lambda: "store unavailable" in consume.stderr(), 30)
        started = time.monotonic()
        code, summary = consume.terminate(timeout=30)
        assert time.monotonic() - started < 20  # one busy timeout (5 s) and the cancel
        assert code == 0, consume.stderr()
        assert summary["new"] == 0 and summary["storage_retries"] >= 1
        assert bus.ready(bus.queue) == 1  # not acknowledged: back on the queue
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    app = open_app(db)
    assert not app.has_message(m.id)
    again = start(consumers, bus, db, tmp_path)  # the next consumer records it
    wait_until("the message recorded by the next consumer", recorded(app, m.id), 60)
    code, summary = again.terminate()
    assert code == 0 and summary["new"] == 1
    assert bus.ready(bus.queue) == 0


@pytest.mark.rabbitmq
@pytest.mark.slow
def test_broker_closing_the_connections_is_survived(
    bus: Bus, tmp_path: Path, consumers: list[Consume]
) -> None:
    """The broker drops both connections (the consumer's and the dead-letter drainer's):
    fedora-messaging's factory and the drainer reconnect, and consuming goes on."""
    db = f"sqlite:///{tmp_path / 'store.db'}"
    consume = start(consumers, bus, db, tmp_path)
    before, after = sample_messages(2)
    bus.publish(before)
    app = open_app(db)
    wait_until("the first message recorded", recorded(app, before.id), 30)
    assert len(bus.connections()) == 2
    old = set(bus.connections())
    assert bus.close_connections() == 2
    wait_until(
        "both connections back",
        lambda: len(set(bus.connections()) - old) == 2,
        60,
        every=0.5,
    )
    bus.publish(after)
    bus.publish_raw("org.fedoraproject.prod.buildsys.tag", GARBAGE, message_id="garbage-2")
    wait_until("the second message recorded", recorded(app, after.id), 30)
    wait_until("the garbage kept", lambda: len(rejected(app)) == 1, 30)
    code, summary = consume.terminate()
    assert code == 0, consume.stderr()
    assert (summary["new"], summary["rejected"]) == (2, 1)
    assert bus.ready(bus.queue) == 0 and bus.ready(bus.dlq) == 0


# ------------------------------------------------------------------ without a broker


def _load(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``load_consume_config`` on a file, without touching the process-wide config."""
    from fedora_messaging import config as fm_config

    from relengotron.adapters.cli.cli_live_config import load_consume_config
    from relengotron.adapters.settings import Settings

    monkeypatch.setenv("FEDORA_MESSAGING_CONF", "/nonexistent")  # restored afterwards
    monkeypatch.setattr(fm_config, "conf", fm_config.LazyConfig())
    return load_consume_config(str(path), Settings())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('arguments = {"x-dead-letter-exchange" = "q.dlx"}', "arguments = {}", "needs arguments"),
        ('dead_letter_queue = "q.dlq"', 'dead_letter_queue = "q"', "must not be in [queues]"),
        ('dead_letter_queue = "q.dlq"', 'status = "x"', "unknown key(s) status"),
        ('amqp_url = "amqp://', 'amqp_url = "http://', "amqp_url must start with amqp://"),
        (
            'dead_letter_queue = "q.dlq"',
            'dead_letter_queue = "q.dlq"\nparallel = 0',
            "from 1 to 64",
        ),
        ('dead_letter_queue = "q.dlq"', 'dead_letter_queue = "q.dlq"\nparallel = 65', "1 to 64"),
        ('dead_letter_queue = "q.dlq"', 'dead_letter_queue = "q.dlq"\nparallel = "8"', "1 to 64"),
        ('dead_letter_queue = "q.dlq"', 'dead_letter_queue = "q.dlq"\nparallel = true', "1 to 64"),
    ],
)
def test_configurations_that_would_lose_messages_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, message: str
) -> None:
    from relengotron.adapters.cli.cli_live_config import ConsumeUsageError

    good = tmp_path / "good.toml"
    write_fm_config(good, "amqp://guest:guest@127.0.0.1/%2F", "q", "q.dlx", "q.dlq")
    loaded = _load(good, monkeypatch)
    assert (loaded.queues, loaded.parallel) == (("q",), 32)  # parallel: the default
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace(old, new))
    with pytest.raises(ConsumeUsageError, match=re.escape(message)):
        _load(bad, monkeypatch)


def test_missing_fm_config_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from relengotron.adapters.cli.main import main

    monkeypatch.delenv("RELENGOTRON_CONFIG", raising=False)
    missing = tmp_path / "missing.toml"
    assert main(["consume", "--fm-config", str(missing), "--db", str(tmp_path / "s.db")]) == 2
    err = capsys.readouterr().err
    assert f"fedora-messaging configuration not found: {missing} (--fm-config)" in err


def test_example_config_binds_every_translated_family(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every message of the sample streams and the shared corpus that a translator turns
    into facts, on a production topic, is routed to the example queue."""
    from relengotron.adapters.ingest.envelope import NotAMessage, to_envelope
    from relengotron.adapters.translate import translate
    from tests.conftest import CORPUS

    cc = _load(EXAMPLE, monkeypatch)
    assert cc.queues == ("relengotron",)
    assert (cc.dead_letter_exchange, cc.dead_letter_queue) == (
        "relengotron.dead-letter",
        "relengotron.dead-letter",
    )
    conf = tomllib.loads(EXAMPLE.read_text())
    assert conf["qos"]["prefetch_count"] == 10
    assert cc.parallel == conf["consumer_config"]["parallel"] == 32
    keys = [k for b in conf["bindings"] for k in b["routing_keys"]]
    patterns = [_amqp_topic_pattern(k) for k in keys]
    files = sorted((ROOT / "config" / "examples").glob("*.jsonl"))
    if CORPUS.is_dir():
        files += sorted(CORPUS.rglob("*.jsonl"))
    checked, missed = 0, set()
    for f in files:
        for line in f.read_text().splitlines():
            try:
                envelope = to_envelope(json.loads(line))
            except (ValueError, NotAMessage):
                continue
            if not envelope.topic.startswith(("org.fedoraproject.prod.", "org.centos.prod.")):
                continue
            t = translate(envelope)
            if t.family is None or t.ignored:
                continue
            checked += 1
            if not any(p.match(envelope.topic) for p in patterns):
                missed.add(envelope.topic)
    assert checked >= 50
    assert not missed, sorted(missed)
    assert _amqp_topic_pattern("a.#").match("a") and not _amqp_topic_pattern("a.*").match("a")


def _amqp_topic_pattern(key: str) -> re.Pattern[str]:
    """A topic exchange's binding key as a regular expression (``*`` one word, ``#`` any
    number of words, zero included)."""
    rx = ""
    for i, word in enumerate(key.split(".")):
        if word == "#":
            rx += r"(?:\.[^.]+)*" if i else r"(?:[^.]+(?:\.[^.]+)*)?"
        else:
            rx += (r"\." if i else "") + (r"[^.]+" if word == "*" else re.escape(word))
    return re.compile(rf"^{rx}$")


def test_dead_letter_items() -> None:
    """What each refused body becomes (the decoding rules, without a broker)."""
    from relengotron.adapters.live.deadletter import dead_letter_item
    from relengotron.domain.values import IncomingMessage, RejectedLine

    death = {"x-death": [{"reason": "rejected", "queue": "q", "count": 1, "exchange": "amq.topic"}]}

    def props(**kw: Any) -> pika.BasicProperties:
        return pika.BasicProperties(headers=dict(death), message_id="m-1", **kw)

    item, _ = dead_letter_item("t.a", "dlx", props(), GARBAGE, "src")
    assert isinstance(item, RejectedLine)
    assert base64.b64decode(json.loads(item.raw)["body_base64"]) == GARBAGE
    item, _ = dead_letter_item("t.a", "dlx", props(content_encoding="utf-8"), b"{oops", "src")
    assert isinstance(item, RejectedLine) and json.loads(item.raw)["body"] == "{oops"
    assert "the body is not JSON" in item.reason
    # An object its schema refuses (a severity fedora-messaging does not know) is a
    # message all the same, with the refusal among its problems.
    bad_severity = pika.BasicProperties(
        headers={**death, "fedora_messaging_severity": 99}, message_id="m-2"
    )
    body = b'{"build_id": 1, "name": "bash"}'
    item, _ = dead_letter_item(
        "org.fedoraproject.prod.buildsys.tag", "dlx", bad_severity, body, "s"
    )
    assert isinstance(item, IncomingMessage)
    assert item.key == "m-2" and item.family == "koji"
    assert any(p.startswith("refused by fedora-messaging") for p in item.problems)
    # Valid after all (dead-lettered because it expired, say): a message, noted.
    expired = pika.BasicProperties(
        headers={"x-death": [{"reason": "expired", "queue": "q"}]}, message_id="m-3"
    )
    item, _ = dead_letter_item("org.example.x", "dlx", expired, b'{"a": 1}', "s")
    assert isinstance(item, IncomingMessage) and item.body == {"a": 1}
    assert item.problems == (
        "received from the dead-letter queue (x-death reason expired, queue q)",
    )
