"""Invalid Fedora CI messages never count as passing (issue 15, deviation 9), through the
real CLI: ingest, status, explain, decision (the Greenwave-compatible answer with our
``state``) and ``events --invalid``.

A CI spec message that fails the spec's JSON Schema is not processed (the spec's README;
ResultsDB never stores it, so Greenwave answers "missing": greenwave/policies.py
``TestResultMissing``). Before this change the message below counted as PASSED and the
build was promoted.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.e2e.test_gating import Site
from tests.messages import BATCH_TESTCASE, rpm_build

NVR = "bash-5.3-1.fc44"
KOJI_TC = "fedora-ci.koji-build.tier0.functional"


def _invalid(message: dict[str, Any]) -> dict[str, Any]:
    """The issue's message: no contact, run or pipeline, and a version that is not semver."""
    bad = copy.deepcopy(message)
    bad["id"] = message["id"] + "-invalid"
    for key in ("contact", "run", "pipeline"):
        del bad["body"][key]
    bad["body"]["version"] = "latest"
    return bad


def _requirement(decision: dict[str, Any], testcase: str) -> dict[str, Any]:
    (req,) = [
        r
        for key in ("satisfied_requirements", "unsatisfied_requirements")
        for r in decision[key]
        if r.get("testcase") == testcase
    ]
    return req


def test_an_invalid_passing_batch_check_does_not_promote(site: Site) -> None:
    msgs = [*site.new_build(NVR), *site.bus.passing(NVR)]
    check = site.bus.group_check("snapshot-1", [NVR], "passed")
    out = site.ingest([*msgs, _invalid(check)])
    assert out["invalid"] == 1

    s = site.status(NVR)
    assert s["state"] == "held" and s["decision"]["verdict"] == "hold"
    assert s["decision"]["policies_satisfied"] is False
    assert s["decision"]["summary"] == "Of 3 required tests, 1 result missing"
    req = _requirement(s["decision"], BATCH_TESTCASE)
    assert req["type"] == "test-result-missing" and req["invalid"] is True
    assert "'contact' is a required property" in req["detail"]
    assert "version: 'latest' is not a semantic version" in req["detail"]
    assert not [r for r in site.act()["done"] if r["kind"] == "koji.move"]  # nothing moves
    assert site.hub.moves == 0

    # The decision API answers the same, with the state saying why.
    assert site.cli("project")[0] == 0
    code, d = site.cli(
        "decision", NVR, "--product-version", "fedora-rawhide", "--context", "rawhide_pending"
    )
    assert code == 1 and d["policies_satisfied"] is False  # exit 1: not satisfied
    req = _requirement(d, BATCH_TESTCASE)
    assert (req["type"], req["state"]) == ("test-result-missing", "invalid")
    assert "result_id" not in req  # Bodhi reads "missing, not running"

    # An auditor lists the invalid input, with its schema errors.
    code, rows = site.cli("events", "--invalid")
    assert code == 0
    assert [r["key"] for r in rows] == [check["id"] + "-invalid"]
    assert rows[0]["topic"].endswith("ci.koji-build-group.test.complete")
    assert any("'pipeline' is a required property" in p for p in rows[0]["problems"])
    code, text = _human(site, "events", "--invalid")
    assert code == 0 and text.startswith("1 invalid message(s)")
    assert "'pipeline' is a required property" in text

    # A valid check afterwards decides as usual.
    site.ingest([site.bus.group_check("snapshot-2", [NVR], "passed")])
    assert site.status(NVR)["decision"]["verdict"] == "promote"


def test_an_invalid_pass_after_a_failure_keeps_the_failure(site: Site) -> None:
    msgs = [*site.new_build(NVR), *site.bus.passing(NVR)]
    failed = site.bus.group_check("snapshot-1", [NVR], "failed", suspects=[NVR])
    site.ingest([*msgs, failed])
    assert site.status(NVR)["decision"]["verdict"] == "quarantine"
    site.ingest([_invalid(site.bus.group_check("snapshot-1", [NVR], "passed"))])
    s = site.status(NVR)
    assert s["decision"]["verdict"] == "quarantine"
    assert not _requirement(s["decision"], BATCH_TESTCASE).get("invalid")


def _human(site: Site, *argv: str) -> tuple[int, str]:
    from relengotron.adapters.cli.main import main

    site.capsys.readouterr()
    code = main([*argv, "--db", site.db, "--config", str(site.config)])
    return code, site.capsys.readouterr().out


def _koji_build_test(site: Site, nvr: str, result: str) -> dict[str, Any]:
    from tests.messages import CI_CONTACT, PREFIX

    namespace, type_, category = KOJI_TC.rsplit(".", 2)
    return site.bus.msg(
        f"{PREFIX}.ci.koji-build.test.complete",
        {
            "contact": CI_CONTACT,
            "run": {"url": "https://ci.example.org/9", "log": "https://ci.example.org/9/log"},
            "artifact": rpm_build(nvr, task_id=9),
            "pipeline": {"id": "p-9", "name": "tier0"},
            "test": {"namespace": namespace, "type": type_, "category": category,
                     "result": result},
            "system": [],
            "generated_at": "2026-11-20T09:00:00Z",
            "version": "1.1.14",
        },
    )  # fmt: skip


def test_a_koji_build_rule_with_only_an_invalid_message(site: Site, tmp_path: Path) -> None:
    """A PassingTestCaseRule on a Fedora CI koji-build test (the issue's case): invalid
    PASSED is missing-invalid; invalid PASSED after a valid FAILED stays failed."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "tier0.yaml").write_text(
        "--- !Policy\nid: tier0\nproduct_versions: [fedora-rawhide]\n"
        "decision_context: rawhide_pending\nsubject_type: koji_build\n"
        f"rules:\n  - !PassingTestCaseRule {{test_case_name: {KOJI_TC}}}\n"
    )
    site.config.write_text(site.config.read_text() + f'\n[gating]\npolicies = "{policies}"\n')
    site.ingest([*site.new_build(NVR), _invalid(_koji_build_test(site, NVR, "passed"))])
    s = site.status(NVR)
    assert s["decision"]["verdict"] == "hold"
    req = _requirement(s["decision"], KOJI_TC)
    assert req["invalid"] is True and "'run' is a required property" in req["detail"]
    code, x = site.cli("explain", NVR)
    assert code == 0
    (req,) = x["decisions"][-1]["requirements"]  # the latest decision, and why
    assert req["invalid"] is True and req["satisfied"] is False
    assert req["evidence"]["message"]["topic"].endswith("ci.koji-build.test.complete")
    code, text = _human(site, "explain", NVR)
    assert "test-result-missing" in text and "invalid CI message" in text
    code, text = _human(site, "status", NVR)
    assert "'run' is a required property" in text
    # The decision API reads the results table (read model): the same answer.
    assert site.cli("project")[0] == 0
    code, d = site.cli(
        "decision", NVR, "--product-version", "fedora-rawhide", "--context", "rawhide_pending"
    )
    req = _requirement(d, KOJI_TC)
    assert (code, req["type"], req["state"]) == (1, "test-result-missing", "invalid")
    assert "'run' is a required property" in req["detail"]

    other = "vim-9.1-1.fc44"
    site.ingest(
        [
            *site.new_build(other),
            _koji_build_test(site, other, "failed"),
            _invalid(_koji_build_test(site, other, "passed")),
        ]
    )
    req = _requirement(site.status(other)["decision"], KOJI_TC)
    assert (req["type"], req.get("invalid")) == ("test-result-failed", None)


# ------------------------------------------------------------------ an old store

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-3ae379e.jsonl"


def _old_store(db_path: Path) -> None:
    """The event log of a store written by commit 3ae379e, before invalid CI messages
    were told apart (tests/fixtures/store-3ae379e.jsonl: its ``relengotron_events``
    rows, made by ingesting, with that commit's tests/messages.py, two builds that pass
    their own tests, a passing group check for bash and a failing one naming vim; its
    group checks lack ``contact.team``/``docs`` and ``system``, so they would be
    invalid today)."""
    import sqlite3

    from relengotron.adapters.store.store import open_app

    open_app(f"sqlite:///{db_path}")  # today's tables
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    con = sqlite3.connect(db_path)
    with con:
        con.executemany(
            "INSERT INTO relengotron_events (id, originator_id, originator_version, topic, state)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (r["id"], bytes.fromhex(r["originator_id"]), r["originator_version"], r["topic"],
                 r["state"].encode())
                for r in rows
            ],
        )  # fmt: skip
    con.close()


def test_a_store_written_before_keeps_working(site: Site) -> None:
    _old_store(Path(site.db.removeprefix("sqlite:///")))
    # What was decided stays decided: no re-decision after the upgrade (requirements
    # recorded without ``invalid`` keep their fingerprints).
    code, out = site.cli("decide")
    assert code == 0 and out["changes"] == []
    assert site.status(NVR)["decision"]["verdict"] == "promote"
    assert site.status("vim-9.1-1.fc44")["decision"]["verdict"] == "quarantine"
    # Messages recorded before are not judged again: nothing is listed as invalid.
    assert site.cli("events", "--invalid") == (0, [])
    # New invalid messages count for nothing against the recorded valid results.
    site.ingest(
        [
            _invalid(site.bus.group_check("snapshot-2", [NVR], "failed", suspects=[NVR])),
            _invalid(site.bus.group_check("snapshot-2b", ["vim-9.1-1.fc44"], "passed")),
        ]
    )
    assert site.status(NVR)["decision"]["verdict"] == "promote"
    assert site.status("vim-9.1-1.fc44")["decision"]["verdict"] == "quarantine"
    assert len(site.cli("events", "--invalid")[1]) == 2
    assert site.cli("project")[0] == 0


def test_replay_verify_of_an_old_store_names_what_today_would_decide(site: Site) -> None:
    """``replay --verify`` re-translates every recorded message with today's code: the
    old store's group checks are invalid today, so it reports (exit 1) the two gates
    whose decisions would differ (both held: no valid batch check) and the moves that
    would not be requested, and nothing else."""
    _old_store(Path(site.db.removeprefix("sqlite:///")))
    code, out = site.cli("replay", "--verify")
    assert code == 1 and out["identical"] is False
    gates = {
        d["aggregate"]: (d["original"]["verdict"], d["replay"]["verdict"])
        for d in out["differences"]
        if d["aggregate"].startswith("gate:")
    }
    assert gates == {
        "gate:bash-5.3-1.fc44": ("promote", "hold"),
        "gate:vim-9.1-1.fc44": ("quarantine", "hold"),
    }
    assert all(d["aggregate"].startswith(("gate:", "action:")) for d in out["differences"])
