"""Recording without the aggregates (issue 18) writes the very events the aggregates wrote.

The same messages, in the same batches, are recorded once with every stream an
aggregate (``append_only`` empty: the code before issue 18) and once with the
append-only streams written as appended events (``domain.unit_of_work.Appends``).
The logs must hold the same events in the same order: topic, originator id,
version and decoded state (the wall-clock ``timestamp`` aside), on a fresh store,
on a store the aggregates wrote before (streams read as heads), on SQLite and
PostgreSQL, with every kind of fact, redeliveries, reused ids and a stream stored
as another class than the handler's.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.store.store import open_app
from relengotron.domain import facts as f
from relengotron.domain import ids
from relengotron.domain.application import RelengApp
from relengotron.domain.handlers import APPEND_ONLY, FACT_HANDLERS
from relengotron.domain.subjects import Subject
from relengotron.domain.values import IncomingMessage
from tests.corpus import records
from tests.messages import Bus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OLD_STORE = FIXTURES / "store_main_20261206.db"
KEY = f.ChangeKey("rpms", "pkg", "abc123")
NVR = "pkg-1.0-1.fc44"


def _facts() -> list[tuple[f.Fact, ...]]:
    """At least one fact of every kind, most streams touched more than once."""
    result = f.TestResultReported(
        "koji_build",
        NVR,
        "dist.rpmdeplint",
        "PASSED",
        "resultsdb",
        nvr=NVR,
        change=KEY,
        covered_nvrs=("a-1-1",),
        data={"x": [1]},
    )
    return [
        (f.ChangePushed(KEY, branch="rawhide", files=("pkg.spec",)),),
        (f.BuildStateChanged(NVR, "BUILDING", build_id=7, task_id=9, change=KEY),),
        (f.BuildStateChanged(NVR, "COMPLETE", old_state="BUILDING", build_id=7, change=KEY),),
        (f.BuildTagged(NVR, "f44-updates-candidate", build_id=7, owner="p"),),
        (f.BuildSigned(NVR, "abcd", rpm="pkg-1.0-1.fc44.x86_64"),),
        (f.TestRerunRequested(NVR, "dist.rpmdeplint", "mirror down", None, "me"),),
        (result, f.BuildUntagged(NVR, "f44-updates-candidate")),
        (
            f.TestResultReported(
                "bodhi_update",
                "FEDORA-2026-1",
                "update.x",
                "FAILED",
                "ci",
                nvr=NVR,
                change=KEY,
                record={"id": 3},
            ),
        ),
        (f.WaiverRecorded("koji_build", NVR, "dist.rpmdeplint", True, record={"id": 1}),),
        (f.WaiverRecorded("koji_build", NVR, "dist.abi", False, waiver_id="2"),),
        (f.GreenwaveDecisionObserved("koji_build", NVR, "ctx", "fedora-44", False, None, ("t",)),),
        (
            f.BodhiUpdateChanged(
                "FEDORA-2026-1", "request.testing", builds=(NVR,), status="pending"
            ),
        ),
        (f.BodhiComposeChanged("F44/updates", "start", updates=("FEDORA-2026-1",), success=None),),
        (f.BodhiComposeChanged("F44/updates", "complete", success=True),),
        (f.KojiRepoChanged("f44-build", 5, "init"), f.KojiRepoChanged("f44-build", 5, "done")),
        (f.KojiPackageListChanged("f44", "pkg", action="add", owner="p"),),
        (f.KojiTaskChanged(9, "OPEN", method="build"), f.KojiTaskChanged(9, "CLOSED", "OPEN")),
        (f.ArtifactDefined("img", "image", "sha256:1", {"a": 1}, "rules"),),
        (f.ManifestLearned("img", "compose", "sha256:m", (("pkg", NVR),), rpms=1),),
        (f.ArtifactDefined("img", "image", "sha256:1", {"a": 1}, "rules"),),  # no change
        (f.ArtifactDefined("img", "image", "sha256:2", {"a": 2}, "rules"),),
        (f.ArtifactRetired("img", "gone"), f.ArtifactRetired("never", None)),
        (f.ComposeStatusChanged("image:x/1", "STARTED", "ci"),),
        (f.ComposeStatusChanged("image:x/1", "FINISHED", "ci", location="http://x"),),
        (f.PolicySetActivated("sha256:p", ({"id": "p"},), "dir", "me"),),
        (f.GateOverridden(NVR, "hold", "why", "me", "ctx"),),
        (f.GateOverridden(NVR, "release", "ok", None, None),),
    ]


def messages(corpus: Path | None) -> list[IncomingMessage]:
    out = [
        IncomingMessage(
            key=f"m-{i}",
            topic=f"test.t{i % 3}",
            body={"i": i},
            sent_at=f"2026-12-06T0{i % 9}",
            family="test",
            status="recognized",
            facts=facts,
            source=f"test:{i}",
        )
        for i, facts in enumerate(_facts())
    ]
    assert {type(fact) for m in out for fact in m.facts} == set(FACT_HANDLERS)
    out.append(out[3])  # a redelivery
    out.append(IncomingMessage(key="m-4", topic="test.other", body={"reused": True}))
    bus = Bus()
    raw: list[Any] = [bus.built("other-2.0-1.fc44"), bus.tagged("other-2.0-1.fc44")]
    raw += [*bus.passing("other-2.0-1.fc44"), bus.waiver("other-2.0-1.fc44", "dist.abi")]
    raw += [bus.update("FEDORA-2026-2", ["other-2.0-1.fc44"]), bus.push("f44", ["FEDORA-2026-2"])]
    if corpus is not None:
        raw += [r for r in records(corpus) if isinstance(r, dict) and r.get("topic")]
    for record in raw:
        try:
            out.append(to_incoming(to_envelope(record), source="test"))
        except Exception:
            continue  # not a message: not what this test is about
    return out


def batches(items: list[IncomingMessage]) -> Iterator[list[IncomingMessage]]:
    sizes, start, n = (1, 5, 2, 11, 3), 0, 0
    while start < len(items):
        size = sizes[n % len(sizes)]
        yield items[start : start + size]
        start, n = start + size, n + 1


def logged(app: RelengApp, after: int = 0) -> list[tuple[str, Any, int, dict[str, Any]]]:
    out = []
    for n in app.recorder.select_notifications(after + 1, 1_000_000):
        state = app.mapper.transcoder.decode(n.state)
        state.pop("timestamp")
        out.append((n.topic, n.originator_id, n.originator_version, state))
    return out


def record_all(app: RelengApp, items: list[IncomingMessage], *, appends: bool) -> None:
    app.append_only = APPEND_ONLY if appends else frozenset()
    for batch in batches(items):
        app.record(batch)
    # A second process on the same store: nothing cached, streams read as heads.
    app._cache.clear()
    app.record([IncomingMessage(key="late", topic="t", body={}, facts=_facts()[5])])


@pytest.fixture
def corpus(request: pytest.FixtureRequest) -> Path | None:
    try:
        return Path(request.getfixturevalue("corpus_dir"))
    except pytest.skip.Exception:
        return None


def _open(where: str, tmp_path: Path, name: str, request: pytest.FixtureRequest) -> RelengApp:
    if where == "sqlite":
        return open_app(f"sqlite:///{tmp_path / name}")
    url, schema = request.getfixturevalue("pg_store")
    schema = f"{schema}_{name.split('.')[0]}"
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
        con.execute(f'CREATE SCHEMA "{schema}"')
    request.addfinalizer(lambda: _drop(url, schema))
    return open_app(url, schema=schema)


def _drop(url: str, schema: str) -> None:
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.parametrize("where", ["sqlite", "postgres"])
def test_appends_write_what_the_aggregates_wrote(
    where: str, tmp_path: Path, corpus: Path | None, request: pytest.FixtureRequest
) -> None:
    items = messages(corpus)
    apps = [_open(where, tmp_path, f"{name}.db", request) for name in ("agg", "app")]
    try:
        for app in apps:
            # A stream an older version stored as a plain subject: loaded as an aggregate.
            app.save(Subject("koji_build", "old-1-1"))
        items.append(
            IncomingMessage(
                key="old",
                topic="t",
                body={},
                facts=(f.TestResultReported("koji_build", "old-1-1", "t", "PASSED", "ci"),),
            )
        )
        record_all(apps[0], items, appends=False)
        record_all(apps[1], items, appends=True)
        old, new = logged(apps[0]), logged(apps[1])
        assert len(old) > 100
        assert new == old
    finally:
        for app in apps:
            app.close()


def test_on_a_store_the_aggregates_wrote(tmp_path: Path) -> None:
    """Streams stored before, many events long, continue with the next versions."""
    items = messages(None)
    apps = []
    for name in ("agg", "app"):
        shutil.copyfile(OLD_STORE, tmp_path / f"{name}.db")
        apps.append(open_app(f"sqlite:///{tmp_path / name}.db"))
    start = apps[0].recorder.max_notification_id() or 0
    touched = {ids.build_id(n) for n in ("pkg-1.0-1.fc44",)}
    try:
        record_all(apps[0], items, appends=False)
        record_all(apps[1], items, appends=True)
        old, new = logged(apps[0], start), logged(apps[1], start)
        assert new == old
        assert touched <= {e[1] for e in new}
    finally:
        for app in apps:
            app.close()


def test_what_the_old_store_holds_is_continued(tmp_path: Path) -> None:
    """An existing stream (a build of the fixture) gets its next versions, not new ones."""
    shutil.copyfile(OLD_STORE, tmp_path / "s.db")
    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    try:
        stored = app.recorder.select_notifications(1, 1_000_000)
        build = next(n for n in stored if n.topic == "domain.subjects:Build.Seen")
        nvr = app.mapper.transcoder.decode(build.state)["identifier"]
        last = max(n.originator_version for n in stored if n.originator_id == build.originator_id)
        app.record([IncomingMessage(key="x", topic="t", body={}, facts=(f.BuildSigned(nvr, "k"),))])
        versions = [e.originator_version for e in app.events.get(build.originator_id)]
        assert versions == list(range(1, last + 2))
        assert type(app.repository.get(build.originator_id)).__name__ == "Build"
    finally:
        app.close()


@pytest.mark.parametrize("appends", [False, True])
def test_a_stream_of_another_class_is_an_aggregate(tmp_path: Path, appends: bool) -> None:
    """A plain subject stored for a build: its aggregate answers, as before issue 18 (a
    build's own method is not one of a plain subject's: nothing is written)."""
    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    try:
        app.append_only = APPEND_ONLY if appends else frozenset()
        app.save(Subject("koji_build", "old-1-1"))
        before = app.recorder.max_notification_id()
        with pytest.raises(AttributeError, match="'tag'"):
            app.record(
                [
                    IncomingMessage(
                        key="x", topic="t", body={}, facts=(f.BuildTagged("old-1-1", "f44"),)
                    )
                ]
            )
        assert app.recorder.max_notification_id() == before
        app.record(
            [
                IncomingMessage(
                    key="y",
                    topic="t",
                    body={},
                    facts=(f.WaiverRecorded("koji_build", "old-1-1", "t", True),),
                )
            ]
        )
        assert type(app.repository.get(ids.build_id("old-1-1"))) is Subject
    finally:
        app.close()


@pytest.mark.parametrize("appends", [False, True])
def test_a_failed_batch_leaves_no_events_behind(tmp_path: Path, appends: bool) -> None:
    """A handler failing half-way: the streams it changed are not cached with the
    unsaved events, so the next batch writes only its own."""
    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    try:
        app.append_only = APPEND_ONLY if appends else frozenset()
        app.save(Subject("koji_build", "old-1-1"))
        app.record([IncomingMessage(key="a", topic="t", body={}, facts=_facts()[3])])
        with pytest.raises(AttributeError):
            app.record(
                [
                    IncomingMessage(
                        key="b",
                        topic="t",
                        body={},
                        facts=(
                            f.BuildSigned(NVR, "k"),
                            f.BuildTagged("old-1-1", "f44"),
                        ),
                    )
                ]
            )
        app.record([IncomingMessage(key="c", topic="t", body={}, facts=_facts()[3])])
        build = [e.originator_version for e in app.events.get(ids.build_id(NVR))]
        assert build == [1, 2, 3]  # Seen, Tagged (a), Tagged (c): no Signed (b)
    finally:
        app.close()


def test_heads_are_each_streams_last_version_and_first_topic(store: RelengApp) -> None:
    items = [m for m in messages(None) if m.key != "m-4" or m.topic == "test.t1"]
    for batch in batches(items):
        store.record(batch)
    want: dict[Any, tuple[int, str]] = {}
    for n in store.recorder.select_notifications(1, 1_000_000):
        version, topic = want.get(n.originator_id, (0, n.topic))
        want[n.originator_id] = (max(version, n.originator_version), topic)
    absent = ids.build_id("never-1-1")
    assert store.stream_reader is not None
    assert store.stream_reader.heads([*want, absent]) == want
    assert store.read_heads(list(want)[:3]) == {i: want[i] for i in list(want)[:3]}
    store.stream_reader, reader = None, store.stream_reader
    try:
        assert store.read_heads([*want, absent]) == want  # one stream at a time
    finally:
        store.stream_reader = reader


def test_heads_probe_the_index_of_a_store_filling_faster_than_it_is_analysed(pg_store) -> None:
    """A backfill into a fresh PostgreSQL store: the table grows faster than autovacuum
    analyses it, and the planner, asked which rows have one of a batch's ids, chose to
    scan the whole log (at every batch: 0.8 of 3.5 s of ingesting 20,000 messages,
    issue 18). ``heads`` must probe the index whatever the planner knows: the plan of
    the very statement it runs (captured as sent) holds no scan of the events table."""
    from sqlalchemy import event

    url, schema = pg_store
    app = open_app(url, schema=schema)
    try:
        engine = app.recorder.datastore.engine  # type: ignore[attr-defined]
        table = f'"{schema}".relengotron_events'
        with engine.begin() as conn:  # as a table autovacuum has not got to yet
            conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        facts = _facts()
        batch = [
            IncomingMessage(key=f"k{i}", topic="t", body={"i": i}, facts=facts[i % len(facts)])
            for i in range(400)
        ]
        for n in range(0, 4000, 400):  # ~10,000 events of 400 streams and more
            app.record([IncomingMessage(**{**vars(m), "key": f"{m.key}-{n}"}) for m in batch])
        wanted = [ids.message_id(f"k{i}-0") for i in range(300)] + [ids.build_id(NVR)]
        sent: list[tuple[str, Any]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if "relengotron_events" in statement:
                sent.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            heads = app.stream_reader.heads(wanted)  # type: ignore[union-attr]
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        assert len(heads) == len(wanted) and heads[ids.message_id("k0-0")][0] == 1
        assert sent, "heads sent no statement"
        with engine.connect() as conn:
            for statement, parameters in sent:
                plan = "\n".join(
                    r[0] for r in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
                )
                scans = [line.split("(cost")[0] for line in plan.splitlines() if "Scan" in line]
                assert "Seq Scan" not in plan, scans
    finally:
        app.close()
