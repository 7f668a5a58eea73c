"""The followers of a live store: one leader per store, views kept between rounds.

* a decider that keeps its folded view between runs (a long-running process)
  records exactly what fresh runs record, event for event (hypothesis);
* the leader lock: one holder at a time, on SQLite (flock; a killed holder frees it)
  and on PostgreSQL (advisory lock; a lost session is noticed and the lock taken over);
* two followers on one store and one koji hub: only the leader acts, each build is
  moved exactly once, and the promoted builds are where the one-shot commands would
  put them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from relengotron.adapters import bootstrap
from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.live.followers import (
    CommitWakeups,
    FileLeaderLock,
    Followers,
    PostgresLeaderLock,
    leader_lock,
)
from relengotron.adapters.store.store import normalize_url, open_app
from relengotron.projections.processes.decider import Decider
from tests.e2e.test_gating import PENDING, PROMOTED, QUARANTINE
from tests.fakekoji import FakeKojiHub
from tests.integration.test_decision_replay import (
    CONFIG,
    POLICIES,
    SCENARIO,
    derived,
    messages,
    operation,
    run,
)
from tests.messages import Bus


def decide_keeping_the_view(path: Path, msgs: list[dict[str, Any]]) -> Any:
    """One decider for the whole stream, run after every message, its view kept."""
    app = open_app(f"sqlite:///{path}")
    decider = Decider(app, POLICIES, CONFIG, page_size=7)
    decider.keep_view = True
    read = 0
    for m in msgs:
        app.record([to_incoming(to_envelope(m))])
        read += decider.run().read
    # Each run reads only what is new: no run folded the log again from the start.
    events = len(app.recorder.select_notifications(start=1, limit=1_000_000))
    assert read <= events, (read, events)
    return app


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(operation, min_size=1, max_size=14))
def test_a_kept_view_decides_as_fresh_runs(ops: list[tuple[Any, ...]]) -> None:
    msgs = messages(ops)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = derived(run(Path(tmp) / "a.db", msgs, []))
        kept = derived(decide_keeping_the_view(Path(tmp) / "b.db", msgs))
    assert kept == fresh


def test_the_kept_view_is_dropped_when_a_run_fails(tmp_path: Path) -> None:
    """A run that fails may have folded events it never saved: the next run must not
    start from that view."""
    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    decider = Decider(app, POLICIES, CONFIG)
    decider.keep_view = True
    msgs = messages(SCENARIO)
    app.record([to_incoming(to_envelope(m)) for m in msgs[:4]])
    decider.run()
    assert decider._kept is not None
    decider._start_view()  # what a run does first; a failing run never puts it back
    assert decider._kept is None
    app.record([to_incoming(to_envelope(m)) for m in msgs[4:]])
    decider.run()  # from the saved tracking position, folding the log again
    assert derived(app) == derived(run(tmp_path / "fresh.db", msgs, [4]))


# ------------------------------------------------------------------ leader locks


def test_file_lock_one_holder_and_a_killed_holder_frees_it(tmp_path: Path) -> None:
    path = tmp_path / "store.db.followers.leader"
    a, b = FileLeaderLock(path), FileLeaderLock(path)
    assert a.acquire() and a.acquire()  # held stays held
    assert not b.acquire()
    a.release()
    assert b.acquire()
    b.release()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from adapters.live.followers import FileLeaderLock;"
            f"assert FileLeaderLock(Path({str(path)!r})).acquire(); print('held', flush=True);"
            "time.sleep(60)",
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert not a.acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        assert a.acquire()
    finally:
        if holder.poll() is None:
            holder.kill()
        a.release()


@pytest.mark.postgres
def test_postgres_lock_one_holder_and_a_lost_session_is_taken_over(pg_store: Any) -> None:
    url, schema = pg_store
    engine = create_engine(normalize_url(url))
    name = f"relengotron:test:{schema}"
    a, b = PostgresLeaderLock(engine, name), PostgresLeaderLock(engine, name)
    try:
        assert a.acquire() and a.acquire()
        assert not b.acquire()
        assert a._conn is not None
        pid = a._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        a._conn.commit()
        with engine.connect() as admin:  # the server ends a's session (as a restart would)
            admin.exec_driver_sql("SELECT pg_terminate_backend(%s)", (pid,))
            admin.commit()
        time.sleep(0.2)
        assert not a.acquire()  # noticed: the lock went with the session
        assert b.acquire()
        assert not a.acquire()
        b.release()
        assert a.acquire()
    finally:
        a.release()
        b.release()
        engine.dispose()


def test_each_store_has_its_own_lock(tmp_path: Path) -> None:
    one = open_app(f"sqlite:///{tmp_path / 'one.db'}")
    two = open_app(f"sqlite:///{tmp_path / 'two.db'}")
    a, b = leader_lock(one), leader_lock(two)
    try:
        assert a.acquire() and b.acquire()
        assert not leader_lock(one).acquire()
    finally:
        a.release()
        b.release()


# ------------------------------------------------------------------ commit wakeups


def _wait(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())


@pytest.mark.postgres
def test_the_leader_decides_at_once_on_what_another_worker_records(pg_store: Any) -> None:
    """With several workers, most messages are committed by a worker that does not lead.
    The leader hears of each commit (LISTEN/NOTIFY), not only at its periodic round:
    here the period is a minute, and the decision must come within seconds."""
    url, schema = pg_store
    cfg = bootstrap.settings(None)
    leader_app, worker = open_app(url, schema=schema), open_app(url, schema=schema)
    followers = Followers(leader_app, cfg, interval=60, act=False, project=False)
    assert followers.wakeups is not None
    followers.start()
    try:
        assert _wait(lambda: followers.stats.leader and followers.wakeups.listening.is_set(), 30)
        rounds = followers.stats.led
        bus, nvr = Bus(), "bash-5.3-1.fc44"
        worker.record([to_incoming(to_envelope(bus.built(nvr, "p")))])
        worker.record([to_incoming(to_envelope(bus.tagged(nvr, owner="p")))])
        view = lambda: bootstrap.decider(worker, cfg).read_view().gates  # noqa: E731
        assert _wait(lambda: nvr in view(), 15), "not decided: the leader was not woken"
        # The round commits its decisions before it counts itself: wait for the count.
        assert _wait(lambda: followers.stats.led > rounds, 5)
        assert followers.wakeups.notified >= 2
        assert followers.stats.errors == 0, followers.stats.last_error
    finally:
        followers.stop()
    assert not followers.wakeups.is_alive()


@pytest.mark.postgres
def test_commit_wakeups_listen_again_after_losing_their_session(pg_store: Any) -> None:
    url, schema = pg_store
    app = open_app(url, schema=schema)
    woken: list[float] = []
    wakeups = CommitWakeups.of(app, lambda: woken.append(time.monotonic()))
    assert wakeups is not None
    wakeups.retry = 0.2
    wakeups.start()
    engine = create_engine(normalize_url(url))
    bus = Bus()
    try:
        assert wakeups.listening.wait(10)
        app.record([to_incoming(to_envelope(bus.built("a-1-1.fc44", "p")))])
        assert _wait(lambda: len(woken) == 1, 10)
        with engine.connect() as admin:  # the server ends the session (a restart would)
            admin.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'relengotron-wakeups' AND pid <> pg_backend_pid()"
            )
            admin.commit()
        assert _wait(lambda: not wakeups.listening.is_set(), 10)
        assert wakeups.listening.wait(10)  # listening again, on a new session
        app.record([to_incoming(to_envelope(bus.built("b-1-1.fc44", "p")))])
        assert _wait(lambda: len(woken) >= 2, 10)
    finally:
        wakeups.stop()
        engine.dispose()
    assert not wakeups.is_alive()


def test_no_commit_wakeups_on_sqlite(tmp_path: Path) -> None:
    """One SQLite file, one writer at a time: its workers wake their own followers, and
    the leader's periodic round picks up the rest."""
    assert CommitWakeups.of(open_app(f"sqlite:///{tmp_path / 's.db'}"), lambda: None) is None


# ------------------------------------------------------------------ two followers, one hub


def _site(tmp_path: Path, hub: FakeKojiHub) -> Path:
    """The three gating tags on the hub, and a settings file that acts on it."""
    for tag in (PENDING, PROMOTED, QUARANTINE):
        hub.add_tag(tag)
    settings_file = tmp_path / "relengotron.toml"
    settings_file.write_text(
        f'[koji]\nhub = "{hub.url}"\nauth = "none"\ntimeout = 5\nretries = 1\nbackoff = 0.01\n'
        "[koji.tasks]\npoll_interval = 0.01\ntimeout = 5\n"
    )
    return settings_file


def test_two_followers_one_store_each_build_moved_once(
    tmp_path: Path, fake_koji: FakeKojiHub
) -> None:
    hub = fake_koji
    settings_file = _site(tmp_path, hub)
    cfg = bootstrap.settings(str(settings_file))
    db = f"sqlite:///{tmp_path / 'store.db'}"
    bus = Bus()
    nvrs = [f"pkg{i}-1.0-1.fc44" for i in range(6)]
    msgs: list[dict[str, Any]] = []
    for i, nvr in enumerate(nvrs):
        hub.add_build(nvr, owner="packager", tags=[PENDING])
        msgs += [bus.built(nvr, "packager"), bus.tagged(nvr, owner="packager")]
        msgs += [bus.stage(nvr, "FAILURE" if i == 0 else "SUCCESS"), bus.rpmdeplint(nvr)]
    # The rawhide policy also wants the batch integrity check of the pending builds.
    msgs.append(bus.group_check("snapshot-1", nvrs, "passed"))
    first = Followers(open_app(db), cfg, interval=0.05)
    second = Followers(open_app(db), cfg, interval=0.05)
    app = open_app(db)
    try:
        for m in msgs:
            app.record([to_incoming(to_envelope(m))])
            assert first.round() is True  # the first one leads ...
            assert second.round() is False  # ... the second only waits
        for _ in range(5):  # outcomes decided on, notices sent
            first.round()
        assert first.stats.errors == 0, first.stats.last_error
        moved = [args for method, args in hub.calls if method == "moveBuild"]
        assert sorted(a[2] for a in moved) == sorted(nvrs)  # each build once
        assert hub.tags_of(nvrs[0]) == [QUARANTINE]
        assert all(hub.tags_of(n) == [PROMOTED] for n in nvrs[1:])
        # The leader goes away: the other takes over and finds nothing left to do.
        first.lock.release()
        assert second.round() is True
        assert len([m for m, _ in hub.calls if m == "moveBuild"]) == len(nvrs)
        view = bootstrap.decider(app, cfg).read_view()
        assert {n: view.gates[n].promoted for n in nvrs} == {n: n != nvrs[0] for n in nvrs}
        rm = bootstrap.read_model(app, cfg)
        assert rm.build(nvrs[0])["gate"] == "quarantined"  # type: ignore[index]
    finally:
        first.lock.release()
        second.lock.release()


def test_act_follow_command_runs_and_stops_on_sigterm(
    tmp_path: Path, fake_koji: FakeKojiHub
) -> None:
    hub = fake_koji
    settings_file = _site(tmp_path, hub)
    db = f"sqlite:///{tmp_path / 'store.db'}"
    bus = Bus()
    nvr = "bash-5.3-1.fc44"
    hub.add_build(nvr, owner="packager", tags=[PENDING])
    app = open_app(db)
    for m in [bus.built(nvr, "p"), bus.tagged(nvr, owner="p"), bus.stage(nvr, "SUCCESS"),
              bus.rpmdeplint(nvr), bus.group_check("snapshot-1", [nvr], "passed")]:  # fmt: skip
        app.record([to_incoming(to_envelope(m))])
    exe = str(Path(sys.executable).parent / "relengotron")
    proc = subprocess.Popen(
        [exe, "act", "--follow", "--interval", "0.1", "--db", db, "--config", str(settings_file),
         "--json"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and hub.tags_of(nvr) != [PROMOTED]:
            time.sleep(0.1)
        assert hub.tags_of(nvr) == [PROMOTED]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert '"rounds_as_leader"' in out.strip().splitlines()[-1]
