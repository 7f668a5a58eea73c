"""The decider asks the store for an aggregate only when its view says one exists.

Most gates and actions a run looks for are new ones: a build just tagged into the
pending tag has no gate yet, a decision's koji move has not been requested yet. The
view folds every ``Gate.Opened`` and every ``Action.Requested`` (and the run's own as it
records them), so a lookup it proves empty costs no query. This counts the queries
that load one aggregate's events (eventsourcing's ``select_events``: ``WHERE
originator_id = ?``) on the real SQLite engine, through SQLAlchemy's event hook; the
decisions are those of ``replay --verify`` (identical), so the shortcut changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from relengotron.adapters import bootstrap
from relengotron.adapters.audit import audit_verify
from relengotron.adapters.ingest.ingest import ingest_files
from relengotron.adapters.store.store import open_app
from tests.logwork import lines_file, result_line, sqlite_work

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "sample-stream.jsonl"


def _stream_loads(app: Any) -> list[str]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        s = " ".join(statement.split())
        if s.startswith("SELECT") and "FROM relengotron_events" in s and ("originator_id = ?" in s):
            seen.append(s)

    event.listen(app.recorder.datastore.engine, "before_cursor_execute", count)
    return seen


def test_a_first_run_decides_without_loading_any_aggregate(tmp_path: Path) -> None:
    app = open_app(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        cfg = bootstrap.settings(None)
        ingest_files(app, [str(SAMPLE)], batch_size=500)
        loads = _stream_loads(app)
        report = bootstrap.decider(app, cfg, bootstrap.policy_set(cfg)).run()
        assert report.decisions and report.actions  # it decided and asked for moves
        assert loads == []
        # A second run over nothing new: nothing is loaded either.
        bootstrap.decider(app, cfg, bootstrap.policy_set(cfg)).run()
        assert loads == []
        assert audit_verify.verify(app, cfg)["identical"]
    finally:
        app.close()


def test_a_log_decided_again_from_its_start_asks_the_store_for_the_gates_further_on(
    tmp_path: Path,
) -> None:
    """A decider with no position and no view (a store written before the decider kept
    one, as tests/e2e/test_invalid_ci.py's) folds the log from the start: the gates an
    earlier run opened lie further on than the tags it meets first, so the view cannot
    vouch for their absence and the store is asked (else it would open them again:
    ``IntegrityError``). Once it has folded past them, it stops asking."""
    import sqlite3

    db = tmp_path / "store.db"
    app = open_app(f"sqlite:///{db}")
    cfg = bootstrap.settings(None)
    ingest_files(app, [str(SAMPLE)], batch_size=500)
    first = bootstrap.decider(app, cfg, bootstrap.policy_set(cfg)).run()
    app.close()
    con = sqlite3.connect(db)
    with con:
        for table in ("relengotron_tracking", "relengotron_view_docs", "relengotron_view_meta"):
            con.execute(f"DELETE FROM {table}")
    con.close()
    app = open_app(f"sqlite:///{db}")
    try:
        loads = _stream_loads(app)
        again = bootstrap.decider(app, cfg, bootstrap.policy_set(cfg)).run()
        assert again.decisions == [] and again.actions == 0  # all decided before
        assert loads, "the earlier run's gates lie beyond the tags: the store is asked"
        assert first.decisions
    finally:
        app.close()


def _round_after(tmp_path: Path, old: int) -> int:
    """The work of the followers' round over the sample's last two messages, on a log
    that holds ``old`` more messages, decided before, that open nothing (results of
    builds that were never tagged: both followers fold them, so their views move on)."""
    app = open_app(f"sqlite:///{tmp_path / f'store-{old}.db'}")
    try:
        cfg = bootstrap.settings(None)
        lines = SAMPLE.read_text().splitlines()
        others = [result_line(i) for i in range(old)]
        followers = [
            bootstrap.decider(app, cfg, bootstrap.policy_set(cfg)),
            bootstrap.composer(app, cfg),
        ]
        for part in (lines[:-2], others):
            ingest_files(app, [str(lines_file(tmp_path, part))], batch_size=500)
            for f in followers:
                f.run()
        ingest_files(app, [str(lines_file(tmp_path, lines[-2:]))], batch_size=500)
        return sum(sqlite_work(app, f.run) for f in followers)
    finally:
        app.close()


def test_a_round_over_new_messages_reads_no_more_of_a_longer_log(tmp_path: Path) -> None:
    """The live followers run a round for every burst of messages: a round's work must
    not grow with the log behind it. Each run looked for the last gate or action ever
    created with ``MAX(id)`` over the events of those topics, which walks the log back
    from its end to that event (no index on the topic): 95 ms a run behind 2 million
    events of other topics. The same round behind 6,000 more messages costs the same."""
    short, long = _round_after(tmp_path, 0), _round_after(tmp_path, 6_000)
    assert long <= 2 * short + 10, (short, long)  # not the 400 times of a walk back


def test_the_last_creation_is_looked_up_from_the_views_position_on_postgresql(
    pg_store: Any,
) -> None:
    """On PostgreSQL the same lookup is an index scan bounded by the view's position
    (``Index Cond: id > ...``): the plan of the very statement a run sends."""
    from sqlalchemy import event

    url, schema = pg_store
    app = open_app(url, schema=schema)
    try:
        cfg = bootstrap.settings(None)
        ingest_files(app, [str(SAMPLE)], batch_size=500)
        bootstrap.decider(app, cfg, bootstrap.policy_set(cfg)).run()
        folded = app.tracked_position("decider")
        engine = app.recorder.datastore.engine
        sent: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *a: Any) -> None:
            if statement.startswith("SELECT MAX(id)"):
                sent.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            bootstrap.decider(app, cfg, bootstrap.policy_set(cfg)).run()
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        assert sent, "no lookup of the last creation"
        with engine.connect() as conn:
            for statement, parameters in sent:
                plan = "\n".join(
                    r[0] for r in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
                )
                assert "Index Cond" in plan and "(id >" in plan, plan
                assert parameters[0] >= folded > 0  # from the view's position, not 0
    finally:
        app.close()
