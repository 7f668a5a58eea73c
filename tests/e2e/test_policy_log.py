"""The policy set in force is part of the log: activations are input messages, the
decider follows them, and a replay re-derives decisions taken under several sets."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.settings import DEFAULT_POLICIES
from relengotron.adapters.store.store import open_app
from relengotron.domain.application import RelengApp
from tests.e2e.test_gating import Site
from tests.fakekoji import FakeKojiHub

LENIENT = (
    "--- !Policy\n"
    "id: only_rpmdeplint\n"
    "product_versions: [fedora-rawhide]\n"
    "decision_context: rawhide_pending\n"
    "subject_type: koji_build\n"
    "rules:\n"
    "  - !PassingTestCaseRule {test_case_name: dist.rpmdeplint}\n"
)


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    d = tmp_path / "policies"
    d.mkdir()
    shutil.copy(DEFAULT_POLICIES / "rawhide-pending.yaml", d)
    return d


@pytest.fixture
def psite(tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any, policies: Path) -> Site:
    site = Site(tmp_path, fake_koji, capsys)
    site.config.write_text(site.config.read_text() + f'\n[gating]\npolicies = "{policies}"\n')
    return site


def activations(db: str) -> list[Any]:
    app = open_app(db)
    topics = ["domain.policyset:PolicyLog.Activated"]
    return [
        app.mapper.to_domain_event(n)
        for n in app.recorder.select_notifications(start=1, limit=10_000, topics=topics)
    ]


def decisions(app: RelengApp, nvr: str) -> list[Any]:
    from relengotron.domain import ids

    gate = ids.gate_id("rawhide_pending", nvr)
    return [e for e in app.events.get(gate) if type(e).__qualname__ == "Gate.Decided"]


def test_syncing_twice_records_one_activation(psite: Site) -> None:
    nvr = "vim-9.1-1.fc44"
    psite.ingest([*psite.new_build(nvr), psite.bus.stage(nvr, "FAILURE")])
    psite.cli("decide")
    psite.cli("status", nvr)
    psite.ingest([psite.bus.rpmdeplint(nvr)])
    (activation,) = activations(psite.db)
    app = open_app(psite.db)
    raw = app.stored_message(activation.msg)
    assert raw.topic == "relengotron.policy.activated"
    assert raw.body["policy_set_hash"] == activation.policy_set_hash
    assert all(
        d.decision["policy_set_hash"] == activation.policy_set_hash for d in decisions(app, nvr)
    )


def test_a_new_policy_set_reevaluates_every_candidate_and_replays(
    psite: Site, policies: Path
) -> None:
    vim, bash = "vim-9.1-1.fc44", "bash-5.3-1.fc44"
    psite.ingest(
        [
            *psite.new_build(vim),
            *psite.new_build(bash),
            psite.bus.stage(vim, "FAILURE"),
            psite.bus.rpmdeplint(vim),
            psite.bus.rpmdeplint(bash),
        ]
    )
    assert psite.status(vim)["decision"]["verdict"] == "quarantine"
    assert psite.status(bash)["decision"]["verdict"] == "hold"
    first = activations(psite.db)[0].policy_set_hash

    # Midway through the stream, the policies change: both candidates are re-evaluated
    # under the new set, at the activation message, before any new message arrives.
    (policies / "rawhide-pending.yaml").write_text(LENIENT)
    code, out = psite.cli("decide")
    assert code == 0
    changed = {c["nvr"]: c["verdict"] for c in out["changes"]}
    assert changed == {vim: "promote", bash: "promote"}
    first_set, second = activations(psite.db)
    assert first_set.policy_set_hash == first != second.policy_set_hash
    app = open_app(psite.db)
    latest = decisions(app, vim)[-1]
    assert latest.trigger == second.msg
    assert latest.decision["policy_set_hash"] == second.policy_set_hash

    # Back to the strict set, and more messages: the log now holds three activations.
    shutil.copy(DEFAULT_POLICIES / "rawhide-pending.yaml", policies)
    glibc = "glibc-2.42-1.fc44"
    psite.ingest([*psite.new_build(glibc), psite.bus.stage(glibc, "FAILURE")])
    assert len(activations(psite.db)) == 3
    assert psite.status(glibc)["decision"]["verdict"] == "quarantine"
    psite.act()

    # The replay needs nothing but the raw log: the policy sets come from it.
    (policies / "rawhide-pending.yaml").write_text(LENIENT)  # configured != any in force
    code, report = psite.cli("replay", "--verify")
    assert code == 0, report["differences"]
    assert report["identical"] and report["activations"] == 3
    assert report["policy_note"] is None
    assert report["original"]["decisions"] == report["replay"]["decisions"] > 4
    assert report["outcomes_fed"] > 0


def test_without_an_activation_the_decider_uses_its_own_set(psite: Site) -> None:
    nvr = "vim-9.1-1.fc44"
    psite.files += 1
    from tests.messages import write

    path = write(psite.tmp / "in.jsonl", [*psite.new_build(nvr), psite.bus.stage(nvr, "FAILURE")])
    code, _ = psite.cli("ingest", str(path), "--no-progress", "--no-decide")
    assert code == 0
    assert activations(psite.db) == []
    from relengotron.adapters import bootstrap

    cfg = bootstrap.settings(str(psite.config))
    app = open_app(psite.db)
    report = bootstrap.decider(app, cfg).run()
    assert [c["verdict"] for c in report.decisions] == ["hold", "quarantine"]
    assert activations(psite.db) == []
