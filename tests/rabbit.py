"""RabbitMQ for tests: skip (or, under CI=true, fail) when the broker is not there;
fixtures for a private topic prefix and a queue listening under it."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest

HOST, PORT = "127.0.0.1", 5672
URL = f"amqp://guest:guest@{HOST}:{PORT}/%2F"


def require_rabbitmq() -> None:
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError as exc:
        why = f"RabbitMQ not reachable on {HOST}:{PORT}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (CI=true: the broker is required)")
        pytest.skip(why)


@pytest.fixture
def prefix() -> str:
    """A topic prefix no other test (or engineer) publishes under."""
    return f"rt{uuid.uuid4().hex[:12]}.relengotron"


@pytest.fixture
def listener(prefix: str) -> Iterator[Any]:
    """(channel, queue): an exclusive queue bound to ``amq.topic`` for ``<prefix word>.#``."""
    require_rabbitmq()
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
    channel.queue_bind(queue, "amq.topic", routing_key=f"{prefix.split('.')[0]}.#")
    yield channel, queue
    connection.close()


def receive(listener: Any, count: int = 1, wait: float = 5.0) -> list[tuple[Any, Any, bytes]]:
    channel, queue = listener
    got: list[tuple[Any, Any, bytes]] = []
    deadline = time.monotonic() + wait
    while len(got) < count and time.monotonic() < deadline:
        method, props, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
        else:
            got.append((method, props, body))
    assert len(got) == count, f"expected {count} messages, got {len(got)}"
    return got
