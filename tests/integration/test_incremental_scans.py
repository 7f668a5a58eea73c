"""Scans of the log for rare events read each stretch of it once.

The effector looks for requested actions and the compose syncs for finished composes
at every round of the live followers. They went on from the last event of their kind:
when none came for a while (no build tagged for an hour, a compose a day), every round
read again all that was recorded since, a stretch that grows with the traffic. They go
on from the head they read up to (``RelengApp.since``)."""

from __future__ import annotations

from pathlib import Path

from relengotron.adapters import bootstrap
from relengotron.adapters.effects.pending import PendingScan
from relengotron.adapters.ingest.ingest import ingest_files
from relengotron.adapters.store.store import open_app
from relengotron.domain import topics
from tests.logwork import lines_file, result_line, sqlite_work

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "sample-stream.jsonl"


def test_since_reads_the_topics_after_a_position_up_to_a_head(store) -> None:
    ingest_files(store, [str(SAMPLE)], batch_size=500)
    cfg = bootstrap.settings(None)
    bootstrap.decider(store, cfg, bootstrap.policy_set(cfg)).run()
    head = store.log_head()
    every = store.recorder.select_notifications(1, 1_000_000)
    assert head == every[-1].id
    wanted = (topics.ACTION_REQUESTED, topics.GATE_OPENED)
    want = [n.id for n in every if n.topic in wanted]
    assert want, "the sample opens gates and requests actions"
    assert [n.id for n in store.since(0, wanted, head)] == want
    middle = want[len(want) // 2]
    assert [n.id for n in store.since(middle, wanted, head)] == [p for p in want if p > middle]
    assert [n.id for n in store.since(0, wanted, middle)] == [p for p in want if p <= middle]
    assert list(store.since(head, wanted, head)) == []


def test_the_effectors_scan_reads_a_stretch_without_actions_once(tmp_path: Path) -> None:
    app = open_app(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        cfg = bootstrap.settings(None)
        ingest_files(app, [str(SAMPLE)], batch_size=500)
        decider = bootstrap.decider(app, cfg, bootstrap.policy_set(cfg))
        decider.run()
        scan = PendingScan()
        pending = {a.id for a in scan(app)}
        assert pending, "the sample's decisions ask for koji moves"
        others = [result_line(i) for i in range(6_000)]  # an hour of results, no action
        ingest_files(app, [str(lines_file(tmp_path, others))], batch_size=500)
        decider.run()
        first = sqlite_work(app, lambda: scan(app))  # reads the stretch
        again = sqlite_work(app, lambda: scan(app))  # nothing new since
        assert first > 100, first
        assert again <= 5, (first, again)  # it read the whole stretch again every round
        assert {a.id for a in scan(app)} == pending  # and still knows what is pending
    finally:
        app.close()
