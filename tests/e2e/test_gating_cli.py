"""The gating commands' edges: dry-run evaluation, revoked waivers, bad policies,
koji absent or down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relengotron.adapters.cli.main import main
from relengotron.adapters.store.store import open_app
from tests.e2e.test_gating import PENDING, PROMOTED, STAGE_TESTCASE, Site
from tests.fakekoji import FakeKojiHub


def _event_count(db: str) -> int:
    app = open_app(db)
    return len(app.recorder.select_notifications(start=1, limit=1_000_000))


def _failing(site: Site, nvr: str) -> None:
    site.ingest(
        [
            *site.new_build(nvr),
            site.bus.stage(nvr, "FAILURE"),
            site.bus.rpmdeplint(nvr),
            site.bus.group_check("snapshot-1", [nvr], "passed"),
        ]
    )


def test_evaluate_tries_other_policies_and_records_nothing(site: Site, tmp_path: Path) -> None:
    nvr = "vim-9.1-1.fc44"
    _failing(site, nvr)
    lenient = tmp_path / "lenient"
    lenient.mkdir()
    (lenient / "only-rpmdeplint.yaml").write_text(
        "--- !Policy\n"
        "id: only_rpmdeplint\n"
        "product_versions: [fedora-rawhide]\n"
        "decision_context: rawhide_pending\n"
        "subject_type: koji_build\n"
        "rules:\n"
        "  - !PassingTestCaseRule {test_case_name: dist.rpmdeplint}\n"
    )
    before = _event_count(site.db)
    code, out = site.cli("evaluate", nvr, "--policies", str(lenient))
    assert code == 0
    assert out["verdict"] == "promote"
    assert out["applicable_policies"] == ["only_rpmdeplint"]
    assert _event_count(site.db) == before
    assert site.status(nvr)["decision"]["verdict"] == "quarantine"  # unchanged


def test_a_broken_policy_directory_is_a_clear_usage_error(
    site: Site, tmp_path: Path, capsys: Any
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "p.yaml").write_text(
        "--- !Policy\nid: x\nproduct_versions: [fedora-rawhide]\ndecision_context: c\n"
        "subject_type: koji_build\nrules:\n  - !PassingTestCaseRule {test_case_nam: t}\n"
    )
    capsys.readouterr()
    code = main(["evaluate", "x-1-1", "--policies", str(bad), "--db", site.db])
    err = capsys.readouterr().err
    assert code == 2
    assert "p.yaml:7" in err and "test_case_nam" in err


def test_revoking_a_waiver_quarantines_again(site: Site) -> None:
    nvr = "systemd-258-2.fc44"
    _failing(site, nvr)
    code, out = site.cli("waive", nvr, STAGE_TESTCASE, "--reason", "flaky")
    assert out["status"]["state"] == "waived"
    code, out = site.cli("waive", nvr, STAGE_TESTCASE, "--reason", "not flaky", "--revoke")
    assert code == 0
    assert out["status"]["state"] == "quarantined"
    site.act()
    assert site.hub.tags_of(nvr) == ["rawhide-badnewsbears"]


def test_without_a_koji_hub_moves_wait_in_the_outbox(site: Site) -> None:
    site.config.write_text("")  # built-in defaults: no hub
    nvr = "bash-5.3-1.fc44"
    site.ingest(
        [*site.new_build(nvr), *site.bus.passing(nvr), site.bus.group_check("s", [nvr], "passed")]
    )
    out = site.act()
    [move] = [r for r in out["still_pending"] if r["kind"] == "koji.move"]
    assert move["outcome"] == "not-configured"
    assert site.status(nvr)["actions"][0]["status"] == "pending"


def test_koji_down_leaves_the_move_pending_then_it_goes_through(
    site: Site, fake_koji: FakeKojiHub
) -> None:
    nvr = "bash-5.3-1.fc44"
    site.ingest(
        [*site.new_build(nvr), *site.bus.passing(nvr), site.bus.group_check("s", [nvr], "passed")]
    )
    fake_koji.http_error_next(times=2, status=503)  # retries = 1: two tries, both fail
    code, out = site.cli("act")
    assert code == 1  # not all done (README, "Exit codes")
    [move] = [r for r in out["still_pending"] if r["kind"] == "koji.move"]
    assert move["outcome"] == "transient"
    assert fake_koji.tags_of(nvr) == [PENDING]
    out = site.act()  # the hub has recovered
    assert [r["outcome"] for r in out["done"] if r["kind"] == "koji.move"] == ["moved"]
    assert fake_koji.tags_of(nvr) == [PROMOTED]
