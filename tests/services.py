"""Real services for the live tests: a RabbitMQ vhost of its own per test, a PostgreSQL
database of its own per test, and the faults (``rabbitmqctl stop_app``,
``pg_ctlcluster stop``), each undone in ``finally``. Every wait is bounded in time."""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions

AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672


class ServiceUnavailable(RuntimeError):
    """A service (or the tool that controls it) is not there."""


def _run(argv: list[str], timeout: float = 120) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise ServiceUnavailable(f"{argv[0]} not found") from exc
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def wait_until(what: str, check: Callable[[], bool], timeout: float, every: float = 0.2) -> None:
    """Poll ``check`` until true; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # a service down for a moment: poll again
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# ------------------------------------------------------------------------ RabbitMQ


def rabbitmqctl(*args: str, timeout: float = 120) -> str:
    return _run(["rabbitmqctl", *args], timeout=timeout)


def rabbitmq_answers(vhost: str = "/") -> bool:
    """An AMQP connection to ``vhost`` opens (the broker is up and the vhost exists)."""
    params = pika.ConnectionParameters(
        AMQP_HOST,
        AMQP_PORT,
        vhost,
        pika.PlainCredentials("guest", "guest"),
        connection_attempts=1,
        socket_timeout=2,
        blocked_connection_timeout=5,
    )
    try:
        pika.BlockingConnection(params).close()
        return True
    except pika.exceptions.AMQPError:
        return False


def wait_rabbitmq(vhost: str = "/", timeout: float = 90) -> None:
    wait_until(
        f"RabbitMQ to accept connections to vhost {vhost!r}",
        lambda: rabbitmq_answers(vhost),
        timeout,
        0.3,
    )


@contextlib.contextmanager
def rabbitmq_down() -> Iterator[None]:
    """``rabbitmqctl stop_app`` for the block; ``start_app`` and a working connection after,
    whatever happens inside."""
    rabbitmqctl("stop_app")
    try:
        yield
    finally:
        rabbitmqctl("start_app")
        wait_rabbitmq()


@dataclass
class Broker:
    """A private vhost: the consumers' queue, bound to ``amq.topic`` for every topic, and
    a dead-letter exchange with its queue (what a consumer rejects lands there)."""

    vhost: str
    queue: str
    dlx: str
    dlq: str

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{self.vhost}"

    def parameters(self) -> pika.ConnectionParameters:
        return pika.ConnectionParameters(
            AMQP_HOST,
            AMQP_PORT,
            self.vhost,
            pika.PlainCredentials("guest", "guest"),
            connection_attempts=1,
            socket_timeout=5,
            blocked_connection_timeout=30,
            heartbeat=30,
        )

    @contextlib.contextmanager
    def channel(self) -> Iterator[Any]:
        connection = pika.BlockingConnection(self.parameters())
        try:
            yield connection.channel()
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def declare(self) -> None:
        """Declared before anything is published, with the consumers' own arguments (a
        consumer declaring them again finds them equal), so nothing is unroutable."""
        with self.channel() as ch:
            ch.exchange_declare(self.dlx, "fanout", durable=True)
            ch.queue_declare(self.dlq, durable=True)
            ch.queue_bind(self.dlq, self.dlx)
            ch.queue_declare(
                self.queue,
                durable=True,
                exclusive=False,
                auto_delete=False,
                arguments={"x-dead-letter-exchange": self.dlx},
            )
            ch.queue_bind(self.queue, "amq.topic", routing_key="#")

    def ready(self, queue: str | None = None) -> int:
        """Messages ready in the queue (not those delivered and not yet acknowledged)."""
        with self.channel() as ch:
            return int(ch.queue_declare(queue or self.queue, passive=True).method.message_count)

    def drain(self, queue: str | None = None, limit: int = 10_000) -> list[tuple[Any, bytes]]:
        """Take every ready message off a queue: (properties, body)."""
        got: list[tuple[Any, bytes]] = []
        with self.channel() as ch:
            while len(got) < limit:
                method, props, body = ch.basic_get(queue or self.queue, auto_ack=True)
                if method is None:
                    break
                got.append((props, body))
        return got

    def peek(self, queue: str | None = None, limit: int = 10_000) -> list[str]:
        """The message ids of every ready message, left on the queue (taken without
        acknowledging; the channel closes and the broker puts them back)."""
        ids: list[str] = []
        with self.channel() as ch:
            while len(ids) < limit:
                method, props, _ = ch.basic_get(queue or self.queue, auto_ack=False)
                if method is None:
                    break
                ids.append(str(props.message_id))
        return ids

    def queues(self) -> str:
        """``rabbitmqctl list_queues`` of the vhost (for failure messages)."""
        try:
            return rabbitmqctl(
                "list_queues",
                "-p",
                self.vhost,
                "name",
                "messages_ready",
                "messages_unacknowledged",
                "consumers",
                timeout=30,
            )
        except Exception as exc:
            return f"(list_queues failed: {exc})"


@contextlib.contextmanager
def private_vhost() -> Iterator[Broker]:
    tag = uuid.uuid4().hex[:8]
    broker = Broker(
        f"rt-live-{tag}", f"relengotron-{tag}", f"relengotron-{tag}.dlx", f"relengotron-{tag}.dead"
    )
    rabbitmqctl("add_vhost", broker.vhost)
    try:
        rabbitmqctl("set_permissions", "-p", broker.vhost, "guest", ".*", ".*", ".*")
        broker.declare()
        yield broker
    finally:
        with contextlib.suppress(Exception):
            wait_rabbitmq(timeout=60)  # a fault test restores the broker; wait for it anyway
        rabbitmqctl("delete_vhost", broker.vhost)


# ---------------------------------------------------------------------- PostgreSQL


def pg_admin_url() -> str:
    from tests.conftest import PG_URL

    return PG_URL.replace("postgresql+psycopg://", "postgresql://")


def pg_answers() -> bool:
    import psycopg

    try:
        psycopg.connect(pg_admin_url(), connect_timeout=2).close()
        return True
    except psycopg.Error:
        return False


def wait_postgres(timeout: float = 90) -> None:
    wait_until("PostgreSQL to accept connections", pg_answers, timeout, 0.3)


def _pg_cluster() -> tuple[str, str]:
    """(version, name) of the cluster on port 5432, from ``pg_lsclusters``."""
    for line in _run(["pg_lsclusters", "-h"], timeout=30).splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "5432":
            return parts[0], parts[1]
    raise ServiceUnavailable("pg_lsclusters lists no cluster on port 5432")


def pg_ctlcluster(action: str) -> None:
    version, name = _pg_cluster()
    _run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action], timeout=120)


@contextlib.contextmanager
def postgres_down() -> Iterator[None]:
    """The PostgreSQL server stopped for the block; started again (and answering) after,
    whatever happens inside."""
    pg_ctlcluster("stop")
    try:
        yield
    finally:
        with contextlib.suppress(RuntimeError):  # "already running" is fine
            pg_ctlcluster("start")
        wait_postgres()


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh database on the local server; its URL; dropped (connections and all) after."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    admin = pg_admin_url()
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with contextlib.suppress(Exception):
            wait_postgres(timeout=60)
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
