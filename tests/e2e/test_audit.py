"""Audit commands on the demo store and on tampered copies: explain, replay --until,
replay --verify (which must also be able to fail)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters import bootstrap
from relengotron.adapters.audit import audit_verify
from relengotron.adapters.cli.main import main
from relengotron.adapters.demo.demo import run_demo
from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.adapters.store.store import open_app
from relengotron.domain import ids
from relengotron.projections.config import GatingConfig
from relengotron.projections.processes.decider import Decider
from tests.e2e.test_gating import Site
from tests.e2e.test_policy_log import LENIENT
from tests.messages import write

VIM = "vim-9.1.1800-1.fc44"
SYSTEMD = "systemd-258-2.fc44"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    with contextlib.redirect_stdout(io.StringIO()):
        assert run_demo(f"sqlite:///{path}") == 0
    return path


def cli(capsys: Any, *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def copy(db: Path, to: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{db}{suffix}")
        if src.exists():
            shutil.copy(src, f"{to}{suffix}")
    return f"sqlite:///{to}"


def test_explain_names_the_failing_tests_message_and_the_koji_move(
    demo_db: Path, capsys: Any
) -> None:
    code, x = cli(capsys, "explain", VIM, "--db", str(demo_db))
    assert code == 0
    assert x["status"]["state"] == "quarantined"
    last = x["decisions"][-1]
    assert last["verdict"] == "quarantine" and last["policy_set_hash"].startswith("sha256:")
    (failed,) = [r for r in last["requirements"] if r["type"] == "test-result-failed"]
    msg = failed["evidence"]["message"]
    assert msg["topic"].endswith("allpackages-build.package.test.functional.complete")
    assert msg["key"] in {m["key"] for m in x["messages"]}
    assert isinstance(msg["position"], int) and msg["sent_at"]
    # the trigger of the quarantine decision is that message
    quarantined = next(d for d in x["decisions"] if d["verdict"] == "quarantine")
    assert quarantined["trigger"]["key"] == msg["key"]
    (move,) = [a for a in x["actions"] if a["kind"] == "koji.move"]
    assert move["params"]["to_tag"] == "rawhide-badnewsbears"
    assert move["history"][-1]["event"] == "Completed"
    assert move["history"][-1]["outcome"] == "moved"
    assert [t["n"] for t in x["timeline"]] == list(range(1, len(x["timeline"]) + 1))
    # in the order of the time each step happened (issue 19), each with its recorded time
    times = [datetime.fromisoformat(t["at"]) for t in x["timeline"]]
    assert times == sorted(times)
    assert all(t["recorded_at"] for t in x["timeline"])

    capsys.readouterr()
    assert main(["explain", VIM, "--db", str(demo_db)]) == 0
    text = capsys.readouterr().out
    assert "test-result-failed" in text and "rawhide-badnewsbears" in text
    assert "  1. " in text and " recorded " in text and "(was None)" not in text

    assert cli(capsys, "explain", "nope-1-1.fc44", "--db", str(demo_db))[0] == 1


def test_replay_until_before_and_after_a_waiver(demo_db: Path, capsys: Any) -> None:
    _, x = cli(capsys, "explain", SYSTEMD, "--db", str(demo_db))
    (waiver,) = [m for m in x["messages"] if "waiver" in m["topic"]]
    sent = datetime.fromisoformat(waiver["sent_at"])
    before = (sent - timedelta(seconds=1)).isoformat()
    code, then = cli(capsys, "replay", "--until", before, SYSTEMD, "--db", str(demo_db))
    assert code == 0
    (b,) = then["builds"]
    assert (b["state"], b["decision"]["verdict"]) == ("quarantined", "quarantine")
    assert then["cut"]["position"] < waiver["position"]
    code, later = cli(capsys, "replay", "--until", waiver["sent_at"], "--db", str(demo_db))
    assert code == 0
    (b,) = [b for b in later["builds"] if b["nvr"] == SYSTEMD]
    assert b["decision"]["verdict"] == "waived"
    assert later["cut"]["message"] == waiver["key"]
    # Long before anything: nothing was known.
    code, empty = cli(capsys, "replay", "--until", "2000-01-01T00:00:00", "--db", str(demo_db))
    assert empty["cut"]["message"] is None and empty["builds"] == []
    code, unknown = cli(capsys, "replay", "--until", before, "nope-1-1", "--db", str(demo_db))
    assert code == 1 and unknown["builds"] == [{"nvr": "nope-1-1", "known": False}]


def test_verify_the_demo_store(demo_db: Path, capsys: Any) -> None:
    code, r = cli(capsys, "replay", "--verify", "--db", str(demo_db))
    assert code == 0, r["differences"]
    assert r["identical"] and r["differences"] == []
    assert r["original"] == r["replay"]
    assert r["original"]["decisions"] > 10 and r["outcomes_fed"] > 0


def test_verify_finds_a_forged_decision(demo_db: Path, tmp_path: Path, capsys: Any) -> None:
    db = copy(demo_db, tmp_path / "forged.db")
    app = open_app(db)
    gate: Any = app.repository.get(ids.gate_id("rawhide_pending", VIM))
    body = dict(gate.decision, verdict="promote", summary="forged")
    gate.decide(
        trigger=None,
        at=None,
        verdict="promote",
        previous_verdict=gate.verdict,
        fingerprint="sha256:forged",
        decision=body,
    )
    app.save(gate)
    code, r = cli(capsys, "replay", "--verify", "--db", db)
    assert code == 1 and not r["identical"]
    (d,) = r["differences"]
    assert d["aggregate"] == f"gate:{VIM}" and d["what"] == "missing in the replay"
    assert d["original"]["verdict"] == "promote" and d["replay"] is None
    capsys.readouterr()
    assert main(["replay", "--verify", "--db", db]) == 1
    assert "DIFFERENCE" in capsys.readouterr().out
    # With its decider in a process of its own, the replay finds the same forgery.
    apart = audit_verify.verify(app, bootstrap.settings(None), apart=True)
    assert apart["differences"] == r["differences"]


def test_verify_with_the_decider_apart_is_the_same(demo_db: Path, tmp_path: Path) -> None:
    """A large log is replayed with the decider in a process of its own, deciding while
    the messages are recorded (adapters/audit/replay_decider.py); the demo's log (koji
    outcomes fed, a policy activation) gives the same report either way."""
    app = open_app(copy(demo_db, tmp_path / "demo.db"))
    cfg = bootstrap.settings(None)
    here = audit_verify.verify(app, cfg, apart=False)
    apart = audit_verify.verify(app, cfg, apart=True)
    assert here["identical"] and here["outcomes_fed"] > 0 and here["activations"] == 1
    assert apart == here


def test_verify_finds_decisions_taken_under_an_unlogged_policy_set(
    site: Site, tmp_path: Path
) -> None:
    nvr = "vim-9.1-1.fc44"
    msgs = [*site.new_build(nvr), site.bus.stage(nvr, "FAILURE"), site.bus.rpmdeplint(nvr)]
    path = write(tmp_path / "in.jsonl", msgs)
    assert site.cli("ingest", str(path), "--no-progress", "--no-decide")[0] == 0
    lenient = tmp_path / "lenient"
    lenient.mkdir()
    (lenient / "p.yaml").write_text(LENIENT)
    app = open_app(site.db)
    report = Decider(app, load_policy_set(lenient), GatingConfig()).run()
    assert report.decisions[-1]["verdict"] == "promote"
    code, r = site.cli("replay", "--verify")
    assert code == 1
    assert "no policy activation" in r["policy_note"]
    diffs = {d["aggregate"] for d in r["differences"]}
    assert f"gate:{nvr}" in diffs
    assert any(a.startswith("action:") for a in diffs)
