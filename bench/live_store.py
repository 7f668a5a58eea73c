"""The PostgreSQL side of ``bench/live.py``: a fresh database per run, and the store read
by position (what was recorded, decided and when), polled cheaply."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
from live_broker import retrying

from relengotron.domain import topics
from relengotron.projections.folds.gating import SUBJECT_TOPICS

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
RECEIVED = topics.INBOUND_MESSAGE_RECEIVED
ACTIVATED = topics.POLICY_LOG_ACTIVATED
GATE_TOPICS = (topics.GATE_OPENED, topics.GATE_DECIDED)


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


def event_time(state: dict[str, Any]) -> float:
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
                self.received.setdefault(data["key"], event_time(data))
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
