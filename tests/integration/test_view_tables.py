"""The followers' views live in tables, written with their position (issue 17, step 2).

No pickles: the decider's gating view and the composer's artifacts view are JSON
documents (``relengotron_view_docs``) with the position they reached
(``relengotron_view_meta``), written in the same transaction as the follower's
tracked position and the events it recorded. A resume reads the entries the new
input touches, not the whole view.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from sqlalchemy import select

from relengotron.adapters import bootstrap
from relengotron.adapters.ingest.ingest import ingest_files
from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.adapters.services import decisions
from relengotron.adapters.settings import DEFAULT_POLICIES
from relengotron.adapters.store.store import open_app
from relengotron.adapters.store.view_store import SQLViewStore
from relengotron.projections.config import GatingConfig
from relengotron.projections.folds.view_docs import ViewMeta
from relengotron.projections.processes.decider import Decider
from tests.crashing import event_streams, gating_story, normalized, write_jsonl

CONFIG = GatingConfig()


def test_the_view_and_the_position_commit_together_or_not_at_all(store: Any) -> None:
    views = SQLViewStore(store.recorder)
    doc = {("builds", "a-1-1"): b'{"nvr": "a-1-1"}'}

    def write(docs: Mapping[tuple[str, str], bytes | None], position: int) -> Any:
        return lambda: views.write("gating-view", ViewMeta("f", position, position), docs)

    store.save_tracked([], "decider", 5, also=write(doc, 5))
    assert views.meta("gating-view") == ViewMeta("f", 5, 5)
    # The same position again: the tracking row conflicts (another writer got there
    # first), and the view written in that transaction is rolled back with it.
    other = {("builds", "b-1-1"): b'{"nvr": "b-1-1"}', ("builds", "a-1-1"): None}
    with pytest.raises(IntegrityError):
        store.save_tracked([], "decider", 5, also=write(other, 6))
    assert views.meta("gating-view") == ViewMeta("f", 5, 5)
    assert views.load_all("gating-view", "builds") == {"a-1-1": b'{"nvr": "a-1-1"}'}
    assert store.tracked_position("decider") == 5


class CountingViews:
    """The SQL view store, counting what a run asks of it (a spy at the port)."""

    def __init__(self, inner: SQLViewStore) -> None:
        self.inner = inner
        self.keys = 0
        self.whole_kinds: list[str] = []

    def meta(self, view: str) -> ViewMeta | None:
        return self.inner.meta(view)

    def load(self, view: str, kind: str, keys: Collection[str]) -> dict[str, bytes]:
        self.keys += len(keys)
        return self.inner.load(view, kind, keys)

    def load_all(self, view: str, kind: str) -> dict[str, bytes]:
        self.whole_kinds.append(kind)
        return self.inner.load_all(view, kind)

    def write(self, *args: Any, **kwargs: Any) -> None:
        self.inner.write(*args, **kwargs)


def _doc_count(views: SQLViewStore) -> int:
    with views.datastore.engine.connect() as conn:
        return len(conn.execute(select(views.docs.c.key)).all())


def test_a_write_overwrites_changed_documents_and_deletes_gone_ones(store: Any) -> None:
    """Documents are written over in place (an upsert) and deleted when gone, in more
    than one chunk, on both stores; the other view's documents are left alone."""
    views = SQLViewStore(store.recorder)
    keys = [f"nvr-{i}" for i in range(1200)]  # three chunks of 500
    views.write("gating", ViewMeta("f1", 10, 10), {("gate", k): b"1" for k in keys})
    views.write("other", ViewMeta("f1", 10, 10), {("gate", keys[0]): b"x"})
    changed = {("gate", k): (b"2" if i % 2 else None) for i, k in enumerate(keys)}
    changed[("build", "new")] = b"3"
    views.write("gating", ViewMeta("f1", 20, 20), changed)
    gates = views.load_all("gating", "gate")
    assert gates == {k: b"2" for i, k in enumerate(keys) if i % 2}
    assert views.load_all("gating", "build") == {"new": b"3"}
    assert views.load_all("other", "gate") == {keys[0]: b"x"}
    assert views.meta("gating") == ViewMeta("f1", 20, 20)
    # A few documents (PostgreSQL: row by row, not COPY) are written over the same way.
    views.write("gating", ViewMeta("f1", 30, 30), {("gate", keys[1]): b"4", ("b", "x"): b"5"})
    assert views.load_all("gating", "gate")[keys[1]] == b"4"
    assert views.load_all("gating", "b") == {"x": b"5"}
    assert views.load_all("other", "gate") == {keys[0]: b"x"}


def test_a_resume_reads_what_the_new_messages_touch(tmp_path: Path) -> None:
    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    policies = load_policy_set(DEFAULT_POLICIES)
    story = gating_story(seed=7, packages=60, versions=5)
    write_jsonl(tmp_path / "a.jsonl", story[:-20])
    write_jsonl(tmp_path / "b.jsonl", story[-20:])
    ingest_files(app, [str(tmp_path / "a.jsonl")])
    views = SQLViewStore(app.recorder)
    Decider(app, policies, CONFIG, views=views).run()
    stored = _doc_count(views)
    assert stored > 1000

    ingest_files(app, [str(tmp_path / "b.jsonl")])
    spy = CountingViews(views)
    resumed = Decider(app, policies, CONFIG, views=spy)
    report = resumed.run()
    assert report.read > 0
    assert spy.whole_kinds == []  # no whole-view scan on the per-message path
    assert spy.keys < stored / 10, (spy.keys, stored)
    meta = views.meta("gating-view")
    assert meta is not None and meta.tracked == app.tracked_position("decider")
    assert meta.position >= meta.tracked

    # And it decided as one run over the whole story does.
    fresh = open_app(f"sqlite:///{tmp_path / 'fresh.db'}")
    write_jsonl(tmp_path / "all.jsonl", story)
    ingest_files(fresh, [str(tmp_path / "all.jsonl")])
    Decider(fresh, policies, CONFIG).run()
    resumed_log = _decisions(f"sqlite:///{tmp_path / 's.db'}")
    assert resumed_log and resumed_log == _decisions(f"sqlite:///{tmp_path / 'fresh.db'}")


def _decisions(url: str) -> dict[str, Any]:
    """What the decider recorded: gates, bisections and its outbox actions."""
    streams = normalized(event_streams(url))
    return {
        k: v for k, v in streams.items() if v[0][1].startswith(("domain.gating:", "domain.outbox:"))
    }


def test_a_view_of_another_format_is_folded_again_and_replaced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    app = open_app(url)
    write_jsonl(tmp_path / "a.jsonl", gating_story(seed=3, packages=6, versions=3))
    ingest_files(app, [str(tmp_path / "a.jsonl")])
    cfg = bootstrap.settings(None)
    decisions.decide_all(app, cfg)
    views = SQLViewStore(app.recorder)
    before = views.load_all("gating-view", "gates")
    with views.datastore.engine.begin() as conn:  # as if written by older code
        conn.execute(views.meta_table.update().values(format="v4:0000"))
        conn.execute(views.docs.update().values(doc=b'{"broken": true}'))
    report = bootstrap.decider(app, cfg).run()
    assert report.decisions == []  # nothing new: the view was folded again from the log
    assert views.load_all("gating-view", "gates") == before
    meta = views.meta("gating-view")
    assert meta is not None and meta.format != "v4:0000"


def test_two_workers_taking_turns_with_kept_views_decide_as_one_run(tmp_path: Path) -> None:
    """Leadership passes between two long-running workers (each keeps the view it read
    between its runs). A worker's kept view is stale once the other wrote the tables:
    folding on from it over entries the other changed would apply events twice."""
    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    policies = load_policy_set(DEFAULT_POLICIES)
    story = gating_story(seed=11, packages=12, versions=4)
    views = SQLViewStore(app.recorder)
    workers = [Decider(app, policies, CONFIG, views=views) for _ in range(2)]
    for w in workers:
        w.keep_view = True
    cuts = [0, 40, 80, 120, 160, len(story)]
    for turn, (a, b) in enumerate(pairwise(cuts)):
        write_jsonl(tmp_path / f"{turn}.jsonl", story[a:b])
        ingest_files(app, [str(tmp_path / f"{turn}.jsonl")])
        workers[turn % 2].run()
    fresh = open_app(f"sqlite:///{tmp_path / 'fresh.db'}")
    write_jsonl(tmp_path / "all.jsonl", story)
    ingest_files(fresh, [str(tmp_path / "all.jsonl")])
    Decider(fresh, policies, CONFIG).run()
    resumed_log = _decisions(f"sqlite:///{tmp_path / 's.db'}")
    assert resumed_log == _decisions(f"sqlite:///{tmp_path / 'fresh.db'}")
    # And the tables hold the view a clean fold gives.
    again = Decider(app, policies, CONFIG, views=views).read_view()
    clean = Decider(fresh, policies, CONFIG).read_view()
    for nvr in clean.builds:  # log positions differ between the stores: not compared
        assert _unplaced(again.builds[nvr]) == _unplaced(clean.builds[nvr]), nvr
        assert again.gates.get(nvr) == clean.gates.get(nvr), nvr


def _unplaced(build: Any) -> Any:
    return replace(build, results=[replace(r, position=0) for r in build.results])
