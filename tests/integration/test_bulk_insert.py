"""The bulk insert of stored events: on PostgreSQL a large batch goes in with ``COPY``,
a small one with ``executemany``; the rows, the order of notification ids and the
``IntegrityError`` on a duplicate are the same either way (and on SQLite)."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from relengotron.adapters.store.persistence import COPY_MIN
from relengotron.adapters.store.store import open_app
from relengotron.domain import ids
from relengotron.domain.facts import BuildTagged
from relengotron.domain.values import IncomingMessage

# Values COPY's text format must escape: tabs, newlines, backslashes, NUL bytes,
# bytes that are not UTF-8, non-ASCII text, an empty state.
ODD_STATES = [
    b"",
    b"\x00\x01\x02\\\t\n\r",
    b'{"a": "tab\\there\\nnewline"}',
    b"\\N",
    "caf\u00e9 \U0001f680".encode(),
    bytes(range(256)),
]
ODD_TOPICS = ["domain.x:A.B", "tab\there", "new\nline", "back\\slash", "\\N", "caf\u00e9"]


def _events(n: int, seed: int = 0) -> list[StoredEvent]:
    out = []
    for i in range(n):
        oid = uuid.UUID(int=(seed << 64) + i // 3)
        out.append(
            StoredEvent(
                originator_id=oid,
                originator_version=i % 3 + 1,
                topic=ODD_TOPICS[i % len(ODD_TOPICS)],
                state=ODD_STATES[i % len(ODD_STATES)] + str(i).encode(),
            )
        )
    return out


def _rows(app) -> list[tuple]:
    return [
        (n.id, n.originator_id, n.originator_version, n.topic, n.state)
        for n in app.recorder.select_notifications(1, 100_000)
    ]


def _app_like(store):
    return open_app(store.env["SQLALCHEMY_URL"], schema=store.env.get("SQLALCHEMY_SCHEMA"))


def test_one_large_batch_writes_the_rows_small_batches_write(store, tmp_path, request):
    events = _events(4 * COPY_MIN)
    store.recorder.insert_events(events)  # one batch: COPY on PostgreSQL
    if store.env.get("SQLALCHEMY_SCHEMA"):
        other_schema = "t_" + uuid.uuid4().hex[:12]
        url = store.env["SQLALCHEMY_URL"]
        import psycopg

        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{other_schema}"')
        request.addfinalizer(lambda: _drop(conninfo, other_schema))
        small = open_app(url, schema=other_schema)
    else:
        small = open_app(f"sqlite:///{tmp_path / 'small.db'}")
    for i in range(0, len(events), COPY_MIN - 1):  # batches below COPY_MIN: executemany
        small.recorder.insert_events(events[i : i + COPY_MIN - 1])
    got = _rows(store)
    assert got == _rows(small)
    assert [r[0] for r in got] == list(range(1, len(events) + 1))
    assert [(r[1], r[2], r[3], r[4]) for r in got] == [
        (e.originator_id, e.originator_version, e.topic, e.state) for e in events
    ]
    small.close()


def _drop(conninfo: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.parametrize("where", ["stored before", "twice in the batch"])
def test_a_duplicate_fails_the_whole_large_batch_with_integrity_error(store, where):
    events = _events(2 * COPY_MIN, seed=1)
    if where == "stored before":
        store.recorder.insert_events([events[COPY_MIN]])
        batch = events
    else:
        batch = [*events, events[-1]]
    before = _rows(store)
    with pytest.raises(IntegrityError):
        store.recorder.insert_events(batch)
    assert _rows(store) == before  # nothing of the batch was written
    store.recorder.insert_events(events[COPY_MIN + 1 :])  # the store still takes writes
    assert len(_rows(store)) == len(before) + len(events) - COPY_MIN - 1


def _msg(key: str, tag: str) -> IncomingMessage:
    return IncomingMessage(
        key=key,
        topic="org.fedoraproject.prod.buildsys.tag",
        body={"name": "bash", "tag": tag, "key": key},
        family="koji",
        status="recognized",
        facts=(BuildTagged(nvr="bash-5.2-1.fc44", tag=tag),),
    )


def test_a_large_batch_conflicting_with_another_writer_is_recorded_again(store):
    """A writer whose cached aggregate is stale fails its large batch on the unique
    index, forgets what it loaded and records it again: nothing lost, nothing twice."""
    other = _app_like(store)
    store.record([_msg("first", "t0")])
    store.repository.get(ids.build_id("bash-5.2-1.fc44"))  # cached at version 2
    other.record([_msg("meanwhile", "t1")])  # the build moves on behind its back
    batch = [_msg(f"m{i}", f"tag{i}") for i in range(COPY_MIN)]
    out = store.record(batch)
    assert out.new == tuple(m.key for m in batch)
    assert out.events >= 2 * COPY_MIN
    build = store.repository.get(ids.build_id("bash-5.2-1.fc44"))
    assert build.tags == ["t0", "t1", *(f"tag{i}" for i in range(COPY_MIN))]
    again = store.record(batch)  # a redelivery of the whole batch
    assert again.new == () and len(again.duplicate) == COPY_MIN
    other.close()


@pytest.mark.parametrize(
    "query",
    [
        {"start": 1, "limit": 10_000},
        {"start": 5, "limit": 7},
        {"start": 5, "limit": 1000, "inclusive_of_start": False},
        {"start": 3, "limit": 1000, "stop": 40},
        {"start": None, "limit": 50, "topics": ODD_TOPICS[:3]},
        {"start": 10, "limit": 1000, "stop": 90, "topics": ["\\N", "caf\u00e9"]},
        {"start": 10_000, "limit": 10},
    ],
)
def test_pages_read_from_the_driver_are_the_library_pages(store, query):
    """``select_notifications`` reads straight from the driver (followers and audits
    read every event through it): the rows, ids, order and filters are the library's
    own query's (eventsourcing_sqlalchemy's ORM ``select_notifications``)."""
    from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder

    store.recorder.insert_events(_events(120, seed=7))
    ours = store.recorder.select_notifications(**query)
    theirs = SQLAlchemyApplicationRecorder.select_notifications(store.recorder, **query)
    assert ours == theirs
    assert all(isinstance(n.state, bytes) for n in ours)
    if query["start"] != 10_000:
        assert ours
