"""The RabbitMQ side of ``bench/live.py``: a private vhost, messages in their wire form
(as fedora-messaging publishes them), the plain pika consumer the consumers are
measured against (drain rate and publish -> receive latency), and the waiting helpers
both sides use."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from generate import stream

AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672
QUEUE = "relengotron"
DEAD = "relengotron.dead-letter"  # the dead-letter exchange and its queue
PREFETCH = 25  # the plain pika consumer's (the baseline)
WORKER_PREFETCH = 10  # each consumer of a worker: config/fedora-messaging.example.toml's


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
