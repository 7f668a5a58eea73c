"""Poison deliveries through ``relengotron consume`` and the real RabbitMQ (issue 14).

Bodies no store can hold as they are (lone surrogates, NUL, NaN, huge integers,
duplicate keys, deep nesting, invalid UTF-8, integers beyond ``int()``'s digit limit)
are published raw (pika) among real messages, fast enough that the group commit takes
them in the same transactions as their neighbours. Each poison delivery is recorded (as
a message with its problems and its exact input, or as rejected input with the reason),
counted, acknowledged once and never requeued; every neighbour is recorded; both
queues end empty. The harness (a private vhost, ``consume`` as a subprocess) is
tests/integration/test_consumer.py's.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.store.store import open_app
from tests.integration.test_consumer import (  # noqa: F401  (fixtures)
    Bus,
    Consume,
    bus,
    consumers,
    recorded,
    rejected,
    sample_messages,
    start,
    wait_until,
)

TOPIC = "org.fedoraproject.prod.fedocal.meeting.new"
FM_HEADERS = {
    "fedora_messaging_schema": "base.message",
    "fedora_messaging_severity": 20,
    "sent-at": "2026-12-06T05:00:00+00:00",
    "priority": 0,
}


def poison() -> dict[str, bytes]:
    """message id -> the raw body."""
    return {
        "p-surrogate": rb'{"text": "a\udc00b", "\ud800": 1}',
        "p-nul": rb'{"nvr": "bash-1-1\u0000", "x": "\u0000"}',
        "p-nan": b'{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e999}',
        "p-bigint": b'{"id": ' + b"9" * 40 + b"}",
        "p-duplicate": b'{"k": 1, "k": 2}',
        "p-deep-150": b'{"d": ' + b"[" * 150 + b"]" * 150 + b"}",
        "p-deep-5000": b'{"d": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "p-not-utf8": b'{"who": "Jos\xe9"}',
        "p-int-digits": b'{"id": ' + b"7" * 5000 + b"}",
        "p-20mb": b'{"log": "' + b"z" * 20_000_000 + rb'\u0000"}',
    }


@pytest.mark.rabbitmq
@pytest.mark.slow
def test_poison_deliveries_are_kept_counted_and_never_cost_a_neighbour(
    bus: Bus,  # noqa: F811
    tmp_path: Path,
    consumers: list[Consume],  # noqa: F811
) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    consume = start(consumers, bus, db, tmp_path)
    good = sample_messages(40)
    bodies = poison()
    # Interleaved and published back to back: the poison shares commits with good ones.
    per = len(good) // len(bodies)
    for i, (key, body) in enumerate(bodies.items()):
        bus.publish(*good[i * per : (i + 1) * per])
        bus.publish_raw(
            TOPIC,
            body,
            message_id=key,
            headers=dict(FM_HEADERS),
            content_type="application/json",
            content_encoding="utf-8",
        )
    bus.publish(*good[len(bodies) * per :])

    app = open_app(db)
    goods = {m.id for m in good}
    wait_until("every good message recorded", recorded(app, *goods), 90)

    def kept(key: str) -> Any:
        if app.has_message(key):
            return app.stored_message(key)
        for e in rejected(app):
            raw = json.loads(e.raw)  # a delivery (id) or a dead letter (properties)
            if key in (raw.get("id"), raw.get("properties", {}).get("message_id")):
                return e
        return None

    wait_until("every poison delivery kept", lambda: all(kept(k) for k in bodies), 90)
    wait_until("both queues empty", lambda: bus.ready(bus.queue) + bus.ready(bus.dlq) == 0, 30)
    code, summary = consume.terminate()
    assert code == 0, consume.stderr()[-3000:]

    # Recorded as messages, store-safe, each with its problems and its exact input.
    sur = app.stored_message("p-surrogate")
    assert sur.body == {"text": "a\ufffdb", "\ufffd": 1}
    assert any("surrogate" in p for p in sur.problems)
    exact = json.loads(base64.b64decode(sur.original))  # the record as received, escaped
    assert exact["body"] == {"text": "a\udc00b", "\ud800": 1} and exact["id"] == "p-surrogate"
    nul = app.stored_message("p-nul")
    assert nul.body == {"nvr": "bash-1-1\ufffd", "x": "\ufffd"}
    assert app.stored_message("p-nan").body == {
        "a": "NaN",
        "b": "Infinity",
        "c": "-Infinity",
        "d": "Infinity",  # fedora-messaging parsed 1e999 to inf before we saw it
    }
    assert app.stored_message("p-bigint").body == {"id": "9" * 40}
    # fedora-messaging's json.loads keeps the last of duplicate keys before we see them
    assert app.stored_message("p-duplicate").body == {"k": 2}
    assert app.stored_message("p-20mb").body == {"log": "z" * 20_000_000 + "\ufffd"}
    # What fedora-messaging refuses (not UTF-8; more digits than int() takes) is
    # dead-lettered, and read from there as ingest reads a line: a message, exact bytes.
    for key, body in (("p-not-utf8", {"who": "Jos\ufffd"}), ("p-int-digits", {"id": "7" * 5000})):
        m = app.stored_message(key)
        assert m.body == body and base64.b64decode(m.original) == bodies[key], key
        assert any("fedora-messaging" in p or "dead-letter" in p for p in m.problems), m.problems
    # Rejected input (nested too deep), with the reason and the exact value.
    for key in ("p-deep-150", "p-deep-5000"):
        assert "nested deeper than 100 levels" in kept(key).reason, kept(key).reason
    # Counted once each; nothing requeued; nothing left.
    assert summary["new"] == len(good) + 8, summary
    assert summary["rejected"] == len(rejected(app)) == 2, summary
    assert summary["received"] + summary["dead_letters"] == len(good) + len(bodies), summary
    assert summary["storage_retries"] == 0
    assert bus.ready(bus.queue) == bus.ready(bus.dlq) == 0


def test_repeated_dead_letters_without_an_id_are_records_of_their_own(store) -> None:
    """The same garbage dead-lettered twice without a message id: two records (their
    x-death stamps differ); the same letter delivered again (stamps equal): one."""
    import datetime

    import pika

    from relengotron.adapters.live.deadletter import dead_letter_item

    def letter(second: int) -> Any:
        death = {
            "reason": "rejected",
            "queue": "q",
            "count": 1,
            "time": datetime.datetime(2026, 12, 6, 5, 0, second),
        }
        props = pika.BasicProperties(headers={"x-death": [death]})
        item, _ = dead_letter_item("t.a", "dlx", props, b"\xffgarbage", "amqp-dead-letter:q")
        return item

    assert store.record_rejected([letter(1)]) == 1
    assert store.record_rejected([letter(1)]) == 0  # redelivered from the queue
    assert store.record_rejected([letter(2)]) == 1  # another delivery of the same bytes
