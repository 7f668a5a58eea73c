"""A store written by main before issue 17 keeps working: stored class paths are a schema.

``tests/fixtures/store_main_20261206.db`` is the demo's store as main wrote it on
2026-12-06 (``tests/fixtures/make_store_main_20261206.py`` says how), with what that
code answered about it in ``store_main_20261206.json``. Today's code must re-derive
every decision from it identically (``replay --verify``), answer ``status`` for every
build and ``artifacts`` as it did, decide nothing new, and project the same read-model
rows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.cli.main import main
from relengotron.projections.folds.greenwave_records import data_rows, submit_sort_time
from tests.fixtures.make_store_main_20261206 import read_models

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DB = FIXTURES / "store_main_20261206.db"
EXPECTED = FIXTURES / "store_main_20261206.json"
BUILDS = "relengotron_rm_builds"
RESULTS = "relengotron_rm_results"


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    rc = main([*argv, "--json"])
    return rc, json.loads(capsys.readouterr().out)


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "old.db"
    shutil.copyfile(DB, path)
    return path


def test_old_store_replays_identically_and_answers_as_before(
    old_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = json.loads(EXPECTED.read_text())
    url = f"sqlite:///{old_store}"
    rc, report = run_json(capsys, "replay", "--verify", "--no-progress", "--db", url)
    assert report["differences"] == []
    assert report["identical"] is True and rc == 0
    assert report["original"]["decisions"] == 51 and report["messages"] == 109

    assert len(expected["status"]) == 10
    for nvr, was in expected["status"].items():
        rc, body = run_json(capsys, "status", nvr, "--db", url)
        # Added since (issues 19, 20): what to do about a failed test (rerun before
        # waive) or a missing one (waive, by the name shown).
        hints = {h["testcase"]: h["do"] for h in body.pop("hints", None) or ()}
        unsatisfied = (body["decision"] or {}).get("unsatisfied_requirements", ())
        failed = [
            r["testcase"]
            for r in unsatisfied
            if r["type"] in ("test-result-failed", "test-result-errored")
        ]
        missing = [r["testcase"] for r in unsatisfied if r["type"] == "test-result-missing"]
        assert sorted(hints) == sorted({*failed, *missing}), nvr
        assert all(hints[tc][0].startswith("relengotron rerun ") for tc in failed), nvr
        assert all(hints[tc] == [f"relengotron waive {nvr} {tc} --reason TEXT"]
                   for tc in missing), nvr  # fmt: skip
        assert (rc, body) == (was["rc"], was["body"]), nvr
    rc, body = run_json(capsys, "artifacts", "--db", url)
    assert (rc, body) == (expected["artifacts"]["rc"], expected["artifacts"]["body"])

    # Deciding again finds nothing to change; the read models it projects (from
    # nothing: the fixture holds none) are the rows main projected.
    rc, decided = run_json(capsys, "decide", "--db", url)
    assert rc == 0
    assert decided["changes"] == [] and decided["actions_requested"] == 0
    models = read_models(old_store)
    # Added since (read-model format 4, issue 20): each value of each result's data, what
    # ResultsDB's data filters look up.
    data = models.pop("relengotron_rm_result_data")
    assert sorted(models) == sorted(expected["read_models"])
    derived = [
        row for r in models[RESULTS] for row in data_rows(r["position"], json.loads(r["record"]))
    ]
    assert data and sorted(map(json.dumps, data)) == sorted(map(json.dumps, derived))
    # Added since (read-model format 3): a build's creation time, the send time of its
    # first BUILDING message (issue 16, dated rules in the decision API).
    builds = models[BUILDS]
    building: dict[str, str] = {}
    for h in sorted(models["relengotron_rm_history"], key=lambda h: h["position"]):
        if h["summary"] == "koji build BUILDING":
            building.setdefault(h["nvr"], h["at"])
    assert building and {b["nvr"]: b.pop("created") for b in builds} == {
        b["nvr"]: building.get(b["nvr"]) for b in builds
    }
    models[BUILDS] = sorted(builds, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    # Added since (read-model format 4, issue 20): a result's record's submit_time as
    # sortable text, what ResultsDB's API pages by.
    results = models[RESULTS]
    times = [(r.pop("submit_time"), submit_sort_time(json.loads(r["record"]))) for r in results]
    assert all(kept == made for kept, made in times)
    # (some of the demo's ResultsDB messages carry no submit_time: none to sort by)
    assert sum(kept is not None for kept, _ in times) > len(times) // 2
    models[RESULTS] = sorted(results, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    for table, rows in expected["read_models"].items():
        assert models[table] == rows, table


def test_the_old_pickled_views_are_dropped_and_the_views_folded_into_tables(
    old_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fixture holds the pickled views main kept (``relengotron_views``): they are
    never read (unpickling stored bytes is no way to read a store), the table goes, and
    the decider's and the composer's views are folded into the view tables, each with
    the follower's tracked position."""
    import sqlite3

    def tables() -> set[str]:
        with sqlite3.connect(old_store) as db:
            return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    assert "relengotron_views" in tables()
    rc, decided = run_json(capsys, "decide", "--db", f"sqlite:///{old_store}")
    assert rc == 0 and decided["changes"] == []
    assert "relengotron_views" not in tables()
    with sqlite3.connect(old_store) as db:
        meta = dict(db.execute("SELECT view, tracked FROM relengotron_view_meta").fetchall())
        tracked = dict(
            db.execute(
                "SELECT application_name, MAX(notification_id) FROM relengotron_tracking"
                " GROUP BY application_name"
            ).fetchall()
        )
        kinds = {r[0] for r in db.execute("SELECT DISTINCT kind FROM relengotron_view_docs")}
    assert meta == {"gating-view": tracked["decider"], "artifact-view": tracked["composer"]}
    assert {"builds", "gates", "actions", "composes", "graph", "definitions"} <= kinds
