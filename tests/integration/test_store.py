"""The event store contract, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading

from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.store.store import open_app
from relengotron.adapters.translate import Envelope
from relengotron.domain import ids
from relengotron.domain.facts import BuildTagged, ChangeKey
from relengotron.domain.facts import TestResultReported as ResultFact
from relengotron.domain.values import IncomingMessage, RejectedLine


def _msg(key: str, nvr: str = "bash-5.2-1.fc44", tag: str = "rawhide-pending") -> IncomingMessage:
    return IncomingMessage(
        key=key,
        topic="org.fedoraproject.prod.buildsys.tag",
        body={"name": "bash", "tag": tag, "key": key},
        family="koji",
        status="recognized",
        facts=(BuildTagged(nvr=nvr, tag=tag),),
    )


def _count(app) -> int:
    n, start = 0, 1
    while page := app.recorder.select_notifications(start, 1000):
        n += len(page)
        start = page[-1].id + 1
    return n


def test_records_raw_and_normalized_in_one_go(store):
    out = store.record([_msg("m1")])
    assert out.new == ("m1",)
    assert out.events == 3  # message received, build seen, build tagged
    stored = store.stored_message("m1")
    assert stored.topic == "org.fedoraproject.prod.buildsys.tag"
    assert stored.body == {"name": "bash", "tag": "rawhide-pending", "key": "m1"}
    build = store.repository.get(ids.build_id("bash-5.2-1.fc44"))
    assert build.tags == ["rawhide-pending"]


def test_redelivery_changes_nothing(store):
    store.record([_msg("m1"), _msg("m2", tag="f44")])
    before = _count(store)
    out = store.record([_msg("m2", tag="f44"), _msg("m1")])
    assert out.new == ()
    assert sorted(out.duplicate) == ["m1", "m2"]
    assert _count(store) == before


def test_duplicate_inside_a_batch_does_not_lose_the_rest(store):
    store.record([_msg("old")])
    batch = [_msg("a"), _msg("old"), _msg("b"), _msg("a"), _msg("c")]
    out = store.record(batch)
    assert out.new == ("a", "b", "c")
    assert sorted(out.duplicate) == ["a", "old"]
    build = store.repository.get(ids.build_id("bash-5.2-1.fc44"))
    assert build.version == 1 + 4  # seen + four tag events (old, a, b, c)


def test_reused_id_with_other_content_is_kept_and_flagged(store):
    store.record([_msg("same", tag="one")])
    out = store.record([_msg("same", tag="two")])
    assert len(out.recorded) == 1
    kept = out.recorded[0]
    assert kept.key.startswith("same~")
    assert "also used by a different message" in kept.problems[-1]
    # and re-ingesting that second message again is now a plain duplicate
    again = store.record([_msg("same", tag="two")])
    assert again.new == () and again.duplicate == (kept.key,)


def test_results_land_on_subject_build_and_change(store):
    change = ChangeKey("rpms", "bash", "abc123")
    fact = ResultFact(
        subject_type="dist_git_commit",
        subject_identifier="rpms/bash#abc123",
        testcase="org.centos.prod.ci.pipeline.package.test.functional.complete",
        outcome="PASSED",
        origin="ci-pipeline",
        nvr="bash-5.2-1.fc44",
        change=change,
    )
    msg = IncomingMessage(
        key="r1", topic="t", body={}, facts=(fact,), status="recognized", family="ci"
    )
    store.record([msg])
    change_events = [
        type(e).__name__ for e in store.events.get(ids.change_id("rpms", "bash", "abc123"))
    ]
    build_events = [type(e).__name__ for e in store.events.get(ids.build_id("bash-5.2-1.fc44"))]
    assert change_events == ["Seen", "ResultRecorded"]
    assert build_events == ["Seen", "ResultRecorded"]


def test_rejected_input_is_kept_once_per_line(store):
    lines = [RejectedLine(raw="{not json", reason="not JSON", source="f", line=3)]
    assert store.record_rejected(lines) == 1
    assert store.record_rejected(lines) == 0
    rejected = store.repository.get(ids.rejected_line_id("f", 3, "{not json", None))
    assert rejected.reason == "not JSON"
    # the same text at another line is a record of its own (issue 14)
    assert store.record_rejected([RejectedLine("{not json", "not JSON", "f", 4)]) == 1


def test_stream_reader_finds_many_at_once(store):
    store.record([_msg(f"k{i}", nvr=f"p{i}-1-1") for i in range(30)])
    wanted = [ids.build_id(f"p{i}-1-1") for i in range(0, 40, 2)]
    found = store.existing(wanted)
    assert found == {ids.build_id(f"p{i}-1-1") for i in range(0, 30, 2)}
    streams = store.read_streams(wanted[:3])
    assert [s.originator_version for s in streams[wanted[0]]] == [1, 2]


def test_translated_envelope_round_trip(store):
    env = Envelope(
        topic="org.fedoraproject.prod.buildsys.tag",
        body={
            "name": "bash",
            "version": "5.2",
            "release": "1.fc44",
            "tag": "rawhide-pending",
            "build_id": 7,
            "instance": "primary",
        },
        msg_id="2026-abc",
    )
    out = store.record([to_incoming(env)])
    assert out.new == ("2026-abc",)
    assert store.repository.get(ids.build_id("bash-5.2-1.fc44")).koji_id == 7


def test_two_writers_on_one_store_lose_nothing(store, tmp_path):
    """Two application instances (as two workers) append to the same build concurrently."""
    url = store.env["SQLALCHEMY_URL"]
    schema = store.env.get("SQLALCHEMY_SCHEMA")
    apps = [open_app(url, schema=schema) for _ in range(2)]
    errors: list[BaseException] = []

    def work(app, prefix):
        try:
            for i in range(20):
                app.record([_msg(f"{prefix}{i}", tag=f"{prefix}{i}")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a, p)) for a, p in zip(apps, "xy", strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    build = store.repository.get(ids.build_id("bash-5.2-1.fc44"))
    assert build.version == 1 + 40
    assert len(build.tags) == 40


def test_only_a_scratch_store_skips_fsync(tmp_path):
    """``replay --verify`` records into a store it deletes at the end: its commits need
    not reach the disk (SQLite ``synchronous=OFF``). Every other store keeps SQLite's
    default for WAL files, FULL (2): a message is acknowledged only once it is there."""

    def synchronous(app):
        engine = app.recorder.datastore.engine
        with engine.connect() as a, engine.connect() as b:  # every connection, not one
            return {c.exec_driver_sql("PRAGMA synchronous").scalar() for c in (a, b)}

    scratch = open_app(f"sqlite:///{tmp_path / 'scratch.db'}", scratch=True)
    kept = open_app(f"sqlite:///{tmp_path / 'kept.db'}")
    try:
        assert synchronous(scratch) == {0}
        assert synchronous(kept) == {2}
        scratch.record([to_incoming(Envelope("a.b", {"x": 1}, msg_id="m-1"))])
        assert scratch.recorder.max_notification_id() == 1
    finally:
        scratch.close()
        kept.close()


def test_a_locked_sqlite_file_is_waited_for_whoever_reports_it():
    """SQLite's "database is locked" reaches us from SQLAlchemy (opening a store) or
    wrapped by eventsourcing (a transaction's commit): ``while_locked`` tries again on
    both, within its patience, and lets every other error through at once."""
    import pytest
    import sqlalchemy.exc
    from eventsourcing.persistence import OperationalError as StoreOperationalError

    from relengotron.adapters.store.store import while_locked

    for locked in (
        StoreOperationalError("(sqlite3.OperationalError) database is locked"),
        sqlalchemy.exc.OperationalError("COMMIT", {}, Exception("database is locked")),
    ):
        calls = []

        def write(locked=locked, calls=calls):
            calls.append(1)
            if len(calls) < 3:
                raise locked
            return "written"

        assert while_locked(write, patience=5) == "written" and len(calls) == 3

    def broken():
        raise StoreOperationalError("disk I/O error")

    with pytest.raises(StoreOperationalError, match="disk I/O"):
        while_locked(broken, patience=5)
