"""The SQL read models: what they say agrees with the log, however they were built.

* folding incrementally (any page size, after any batch of messages) writes exactly
  the rows a rebuild from zero writes (hypothesis);
* every build's gate state, verdict, tags and decision agree with ``relengotron
  status`` (the decider's own view of the log);
* the projector's direct JSON decode of stored states equals eventsourcing's mapper;
* ``when`` hides facts sent after it; a settings change rebuilds the tables;
* a projector killed with SIGKILL mid-rebuild resumes and ends where a clean run ends.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from relengotron.adapters.http.decision_request import decide
from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.services.status import build_status
from relengotron.adapters.store.persistence import COPY_MIN
from relengotron.adapters.store.readmodel_queries import SQLReadModel
from relengotron.adapters.store.readmodel_tables import ReadModelTables
from relengotron.adapters.store.readmodels import Projector
from relengotron.domain.application import RelengApp
from relengotron.projections.config import GatingConfig
from relengotron.projections.decision_api import DecisionService
from relengotron.projections.folds.readmodel import TOPICS
from relengotron.projections.processes.decider import Decider
from tests.integration.test_decision_replay import (
    CONFIG,
    NVRS,
    POLICIES,
    SCENARIO,
    STAGE,
    messages,
    operation,
    run,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def dump(app: RelengApp) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model row, sorted, tracking excluded."""
    tables = ReadModelTables.of(app)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with tables.engine.connect() as conn:
        for name, table in tables.t.items():
            if name == "tracking":
                continue
            out[name] = sorted(
                (tuple(repr(v) for v in row) for row in conn.execute(select(table))),
            )
    return out


def project(app: RelengApp, page_size: int = 5000) -> Projector:
    p = Projector(app, CONFIG, page_size=page_size)
    p.run()
    return p


def agrees_with_status(app: RelengApp, config: GatingConfig = CONFIG) -> int:
    """Compare every build of the read model with ``status``; return how many."""
    view = Decider(app, POLICIES, config).read_view()
    rm = SQLReadModel.of(app, config)
    checked = 0
    for nvr in view.builds.keys() | view.gates.keys():
        status = build_status(view, nvr, config.pending_tag)
        row = rm.build(nvr)
        assert status is not None and row is not None, nvr
        assert row["gate"] == status["state"], (nvr, row["gate"], status["state"])
        assert row["tags"] == status["tags"], nvr
        assert row["decision"] == status["decision"], nvr
        assert row["decided_at"] == status["decided_at"], nvr
        assert row["owner"] == status["owner"], nvr
        assert (row["withdrawn"] or None) == (
            {**status["withdrawn"], "by": row["withdrawn"]["by"]} if status["withdrawn"] else None
        ), nvr
        checked += 1
    agrees_with_the_decision_api(app, view, rm, config)
    return checked


def agrees_with_the_decision_api(
    app: RelengApp, view: Any, rm: SQLReadModel, config: GatingConfig
) -> None:
    """Every open candidate's recorded decision is what the decision API answers now,
    requirement for requirement (the evidence ids aside: a re-run that passes again
    records no new decision)."""
    api = DecisionService(rm, POLICIES)
    for nvr, gate in view.gates.items():
        if not gate.open or gate.promoted or not gate.decision:
            continue
        answer = decide(
            api,
            {"product_version": config.product_version,
             "decision_context": config.decision_context,
             "subject_type": "koji_build", "subject_identifier": nvr},
            datetime.now(UTC),
        )  # fmt: skip

        def shape(reqs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
            keys = ("type", "testcase", "scenario", "system_architecture", "system_variant")
            return [tuple(r.get(k) for k in keys) for r in reqs]

        recorded = gate.decision
        assert answer["summary"] == recorded["summary"], nvr
        assert answer["policies_satisfied"] == recorded["policies_satisfied"], nvr
        for key in ("satisfied_requirements", "unsatisfied_requirements"):
            assert shape(answer[key]) == shape(recorded[key]), (nvr, key)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    ops=st.lists(operation, min_size=1, max_size=14),
    cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=5),
    page=st.sampled_from([1, 2, 7, 5000]),
)
def test_incremental_projection_equals_a_rebuild(
    ops: list[tuple[Any, ...]], cuts: list[int], page: int
) -> None:
    msgs = messages(ops)
    with tempfile.TemporaryDirectory() as tmp:
        app = open_sqlite(Path(tmp) / "a.db")
        start = 0
        for end in [*sorted(set(cuts)), len(msgs)]:
            if end > start:
                run(app, msgs[start:end], [])
                project(app, page_size=page)
                start = end
        incremental = dump(app)
        Projector(app, CONFIG).rebuild()
        assert dump(app) == incremental
        agrees_with_status(app)


def open_sqlite(path: Path) -> RelengApp:
    from relengotron.adapters.store.store import open_app

    return open_app(f"sqlite:///{path}")


def scenario() -> list[dict[str, Any]]:
    return messages(SCENARIO)


def test_read_models_on_sqlite_and_postgresql(store: RelengApp) -> None:
    run(store, scenario(), [4, 9])
    projector = project(store, page_size=3)
    assert projector.tables.t["builds"].schema == store.recorder.events_record_cls.__table__.schema  # type: ignore[attr-defined]
    assert agrees_with_status(store) == 4
    rm = SQLReadModel.of(store, CONFIG)
    assert rm.position() > 0
    # bash-5.3-2 was tagged after bash-5.3-1: the older one is obsoleted.
    assert rm.build(NVRS[0])["gate"] == "obsoleted"  # type: ignore[index]
    assert rm.build(NVRS[0])["withdrawn"]["reason"] == "obsoleted"  # type: ignore[index]
    vim = rm.build(NVRS[2])
    assert vim is not None and vim["package"] == "vim"
    facts = rm.subject_facts(
        [("koji_build", NVRS[2]), ("koji_build", "nope-1-1.fc44")], records=True
    )
    vim_facts = facts[("koji_build", NVRS[2])]
    assert vim_facts.known and not facts[("koji_build", "nope-1-1.fc44")].known
    assert {r.testcase for r in vim_facts.results} == {STAGE, "dist.rpmdeplint"}
    assert [w.waived for w in vim_facts.waivers] == [True]
    record = json.loads(vim_facts.waiver_records[0])  # WaiverDB's, as the message gave it
    assert (record["subject_identifier"], record["id"]) == (NVRS[2], vim_facts.waivers[0].waiver_id)
    history = rm.build_history(NVRS[2])
    kinds = [h["kind"] for h in history]
    assert kinds[:2] == ["state", "tagged"] and "decided" in kinds and "waiver" in kinds
    assert [h["position"] for h in history] == sorted(h["position"] for h in history)
    decisions = rm.decisions(NVRS[2])
    assert decisions and decisions[0]["verdict"] == vim["verdict"]
    assert [d["position"] for d in decisions] == sorted(
        (d["position"] for d in decisions), reverse=True
    )
    assert all(d["policy_set_hash"] == POLICIES.content_hash for d in decisions)
    # Projecting again changes nothing; a rebuild writes the same rows.
    before = dump(store)
    assert project(store).run().events == 0
    Projector(store, CONFIG).rebuild()
    assert dump(store) == before


def test_bulk_pages_write_what_small_pages_write(store: RelengApp) -> None:
    """On PostgreSQL a page's rows go in with COPY (``COPY_MIN`` rows or more of a
    table; an upsert through a staging table), else with ``executemany``: both write
    the same rows, also when a page updates rows written before (the builds a later
    page decides on again)."""
    nvrs = [f"pkg{i}-1.0-1.fc44" for i in range(COPY_MIN + 8)]
    run(store, messages([("tag", nvr) for nvr in nvrs]), [])
    project(store, page_size=5000)  # one page: every build a new row
    run(store, messages([("stage", nvr, "SUCCESS") for nvr in nvrs]), [])
    assert project(store, page_size=5000).run().events == 0
    bulk = dump(store)
    assert len(bulk["builds"]) == len(nvrs) >= COPY_MIN and len(bulk["history"]) > COPY_MIN
    assert {rm_build(store, nvr)["verdict"] for nvr in nvrs} == {"hold"}
    Projector(store, CONFIG, page_size=7).rebuild()  # every table under COPY_MIN a page
    assert dump(store) == bulk
    agrees_with_status(store)


def rm_build(app: RelengApp, nvr: str) -> dict[str, Any]:
    build = SQLReadModel.of(app, CONFIG).build(nvr)
    assert build is not None
    return build


def test_the_demo_store_agrees_with_status(tmp_path: Path) -> None:
    """The demo's two nights, with koji moves done: promoted, quarantined, waived."""
    db = tmp_path / "demo.db"
    subprocess.run(
        [str(BIN / "relengotron"), "demo", "--db", f"sqlite:///{db}"],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=True,
    )
    app = open_sqlite(db)
    config = GatingConfig()
    Projector(app, config).run()
    view = Decider(app, POLICIES, config).read_view()
    rm = SQLReadModel.of(app, config)
    checked = 0
    for nvr in view.gates:
        status = build_status(view, nvr, config.pending_tag)
        row = rm.build(nvr)
        assert status is not None and row is not None
        assert (row["gate"], row["tags"], row["decision"]) == (
            status["state"],
            status["tags"],
            status["decision"],
        ), nvr
        checked += 1
    assert checked >= 10
    assert {b["nvr"].split("-")[0] for b in rm.builds_by_gate("quarantined")} == {"vim", "rpm"}
    assert rm.builds_by_gate("promoted")


def test_when_hides_later_facts(tmp_path: Path) -> None:
    app = open_sqlite(tmp_path / "s.db")
    msgs = scenario()
    run(app, msgs, [])
    project(app)
    rm = SQLReadModel.of(app, CONFIG)
    subject = ("koji_build", NVRS[2])
    everything = rm.subject_facts([subject])[subject]
    waiver_at = everything.waivers[0]
    cut = min(r.at for r in everything.results if r.at)
    before = rm.subject_facts([subject], when=cut)[subject]
    assert len(before.results) == 1 and not before.waivers
    assert all(r.at is not None and r.at <= cut for r in before.results)
    assert len(everything.results) > 1 and waiver_at.waived
    assert rm.decisions(NVRS[2], when="2000-01-01T00:00:00") == []


def test_direct_decode_equals_the_mapper(tmp_path: Path) -> None:
    """The projector reads stored JSON itself: it must see what eventsourcing sees."""
    app = open_sqlite(tmp_path / "s.db")
    run(app, scenario(), [])
    seen = 0
    for n in app.recorder.select_notifications(start=1, limit=100_000, topics=TOPICS):
        raw = orjson.loads(n.state)
        event = app.mapper.to_domain_event(n)
        mapped = {k: v for k, v in vars(event).items() if k not in ("timestamp",)}
        mapped.pop("originator_id"), mapped.pop("originator_version")
        raw.pop("timestamp")
        assert raw == json.loads(json.dumps(mapped, default=str)), n.topic
        seen += 1
    assert seen > 50


def test_changed_settings_rebuild_the_read_models(tmp_path: Path) -> None:
    app = open_sqlite(tmp_path / "s.db")
    run(app, scenario(), [])
    project(app)
    other = GatingConfig(promoted_tag="f45", max_rounds=CONFIG.max_rounds)
    report = Projector(app, other).run()
    assert report.rebuilt and report.reason and "settings" in report.reason
    assert report.start == 0 and report.events > 0


def test_project_cli_killed_mid_rebuild_resumes(tmp_path: Path) -> None:
    """SIGKILL during ``project --rebuild``: the next run resumes from the last page
    committed and the tables end as a clean rebuild leaves them."""
    db = tmp_path / "s.db"
    app = open_sqlite(db)
    msgs = []
    for i in range(60):
        msgs += messages(
            [("tag", f"pkg{i}-1.0-1.fc44"), ("stage", f"pkg{i}-1.0-1.fc44", "SUCCESS")]
        )
    run(app, msgs, [])
    url = f"sqlite:///{db}"
    exe = str(BIN / "relengotron")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [exe, "project", "--db", url, "--rebuild", "--page-size", "1", "--no-progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    killed_at = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            killed_at = _tracked(db)
            if killed_at > 20:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the rebuild ended before it could be killed"
    after_kill = _tracked(db)
    assert after_kill >= killed_at > 0
    # A fold from the start builds the query indexes once, at its end: killed before,
    # it left them out; the next run, whatever its position, makes them first.
    every_index = {str(i.name) for i in ReadModelTables.of(app).secondary_indexes()}
    assert len(every_index) == 8 and not every_index & _indexes(db)
    resumed = subprocess.run(
        [exe, "project", "--db", url, "--json", "--no-progress"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert report["start"] == after_kill and not report["rebuilt"]
    assert report["position"] > after_kill
    assert every_index <= _indexes(db)
    resumed_rows = dump(app)
    Projector(app, CONFIG, page_size=7).rebuild()
    assert dump(app) == resumed_rows
    assert every_index <= _indexes(db)


def _indexes(db: Path) -> set[str]:
    with sqlite3.connect(db, timeout=5) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return {name for (name,) in rows}


def _tracked(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute(
                "SELECT position FROM relengotron_rm_tracking WHERE name = 'readmodels'"
            ).fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


def test_health_shows_followers_falling_behind(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    app = open_sqlite(db)
    msgs = scenario()
    run(app, msgs[:6], [])
    project(app)
    rm = SQLReadModel.of(app, CONFIG)
    caught_up = rm.health()
    assert caught_up["followers"]["readmodels"]["lag"] == 0
    assert caught_up["messages"] == 6
    # More input, nobody decides or projects: both fall behind by what was recorded.
    app.record([to_incoming(to_envelope(m)) for m in msgs[6:]])
    behind = rm.health()
    recorded = behind["head"] - caught_up["head"]
    assert recorded > 0
    assert behind["followers"]["readmodels"]["lag"] == recorded
    assert behind["followers"]["decider"]["lag"] == len(msgs) - 6  # messages not decided on
    exe, url = str(BIN / "relengotron"), f"sqlite:///{db}"
    limit = str(min(recorded, len(msgs) - 6) - 1)
    late = subprocess.run(
        [exe, "health", "--db", url, "--max-lag", limit, "--json"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert late.returncode == 1
    assert "readmodels lags" in " ".join(json.loads(late.stdout)["problems"])
    Decider(app, POLICIES, CONFIG).run()  # the decider catches up ...
    project(app)  # ... and the read models after it
    fine = subprocess.run(
        # The scenario's messages were sent long ago: so were its pending moves.
        [exe, "health", "--db", url, "--max-lag", limit, "--max-pending-age", "1e10"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert fine.returncode == 0, fine.stdout
    assert fine.stdout.strip().endswith("OK")


def test_two_projectors_at_once_both_end_up_to_date(tmp_path: Path) -> None:
    """``ingest`` folds the read models while ``serve`` folds them too (two processes on
    one store): the one that loses a page's race must not fail (it used to end with an
    IntegrityError on a row the other had written: ``ingest`` exited 70)."""
    app = open_sqlite(tmp_path / "s.db")
    run(app, scenario(), [])
    other = Projector(app, CONFIG)
    raced = []

    def meanwhile(events: int, done: int, total: int | None) -> None:
        if not raced:  # after this projector's first page, another folds everything
            raced.append(other.run().position)

    slow = Projector(app, CONFIG, page_size=7, progress=meanwhile)
    report = slow.run()
    assert raced and raced[0] == slow.head()
    assert report.position == slow.head()
    expected = dump(app)
    project(app)  # nothing left to do, nothing duplicated
    assert dump(app) == expected
    fresh = open_sqlite(tmp_path / "fresh.db")
    run(fresh, scenario(), [])
    project(fresh)
    assert dump(fresh) == expected
