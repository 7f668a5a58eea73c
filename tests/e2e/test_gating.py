"""Rawhide-pending gating end to end: message files -> decisions -> koji calls.

Every scenario runs the real command line (``relengotron ingest/act/status/
waive``) against a SQLite store and the fake koji hub (``tests.fakekoji``), so
the real ``koji.ClientSession`` carries out the moves over HTTP.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from relengotron.adapters.cli.main import main
from relengotron.adapters.effects.effector import pending_actions
from relengotron.adapters.store.store import open_app
from tests.fakekoji import FakeKojiHub
from tests.messages import BATCH_TESTCASE, Bus, write

PENDING, PROMOTED, QUARANTINE = "rawhide-pending", "rawhide", "rawhide-badnewsbears"
STAGE_TESTCASE = "org.centos.prod.ci.pipeline.allpackages-build.package.test.functional.complete"


class Site:
    """A store, a settings file and a koji hub; helpers run the real CLI."""

    def __init__(self, tmp: Path, hub: FakeKojiHub, capsys: Any, max_rounds: int = 6) -> None:
        self.tmp, self.hub, self.capsys = tmp, hub, capsys
        self.db = f"sqlite:///{tmp / 'store.db'}"
        self.config = tmp / "relengotron.toml"
        self.config.write_text(
            f"""
[koji]
hub = "{hub.url}"
auth = "none"
timeout = 5
retries = 1
backoff = 0.01

[koji.tasks]
poll_interval = 0.01
timeout = 5

[gating.bisection]
max_rounds = {max_rounds}
fallback = "hold"
"""
        )
        self.bus = Bus()
        self.files = 0
        for tag in (PENDING, PROMOTED, QUARANTINE):
            hub.add_tag(tag)

    def cli(self, *argv: str) -> tuple[int, Any]:
        self.capsys.readouterr()
        code = main([*argv, "--db", self.db, "--config", str(self.config), "--json"])
        out = self.capsys.readouterr().out
        return code, json.loads(out) if out.strip() else None

    def ingest(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        self.files += 1
        path = write(self.tmp / f"in-{self.files}.jsonl", messages)
        code, out = self.cli("ingest", str(path), "--no-progress")
        assert code == 0, out
        return out

    def new_build(self, nvr: str, owner: str = "packager") -> list[dict[str, Any]]:
        """A build koji knows, tagged into the pending tag, as the bus tells it."""
        self.hub.add_build(nvr, owner=owner, tags=[PENDING])
        return [self.bus.built(nvr, owner), self.bus.tagged(nvr, owner=owner)]

    def act(self) -> dict[str, Any]:
        code, out = self.cli("act")
        assert code == 0, out
        return out

    def status(self, nvr: str) -> dict[str, Any]:
        code, out = self.cli("status", nvr)
        assert code == 0, out
        return out

    def check_requests(self) -> list[dict[str, Any]]:
        app = open_app(self.db)
        return [
            a.params["body"]
            for a in pending_actions(app)
            if a.params.get("kind") == "batch.check.requested"
        ]


def nvrs(n: int) -> list[str]:
    return [f"pkg{i}-1.0-1.fc44" for i in range(n)]


def test_all_pass_promotes_every_build(site: Site) -> None:
    builds = nvrs(3)
    msgs = [m for b in builds for m in site.new_build(b)]
    msgs += [m for b in builds for m in site.bus.passing(b)]
    # Not yet: the batch check is still missing, so every build is held.
    out = site.ingest(msgs)
    assert {d["verdict"] for d in out["decider"]["changes"]} == {"hold"}
    assert site.status(builds[0])["state"] == "held"
    unsatisfied = site.status(builds[0])["decision"]["unsatisfied_requirements"]
    assert [(r["type"], r["testcase"]) for r in unsatisfied] == [
        ("test-result-missing", BATCH_TESTCASE)
    ]

    site.ingest([site.bus.group_check("snapshot-1", builds, "passed")])
    for b in builds:
        s = site.status(b)
        assert s["decision"]["verdict"] == "promote"
        assert s["decision"]["policies_satisfied"] is True
        assert s["state"] == "candidate"  # decided, not moved yet
        assert [a["status"] for a in s["actions"]] == ["pending"]

    done = site.act()
    moved = [r for r in done["done"] if r["kind"] == "koji.move"]
    assert sorted(r["nvr"] for r in moved) == builds
    assert {r["outcome"] for r in moved} == {"moved"}
    for b in builds:
        assert site.hub.tags_of(b) == [PROMOTED]
        s = site.status(b)
        assert s["state"] == "promoted"
        assert s["tags"] == [PROMOTED]
    # Acting again does nothing: the outbox is empty.
    assert site.act()["done"] == []
    assert site.hub.moves == 3


def test_one_failing_build_is_the_only_one_quarantined(site: Site) -> None:
    good, bad = "bash-5.3-1.fc44", "vim-9.1-1.fc44"
    msgs = site.new_build(good) + site.new_build(bad, owner="zdohnal")
    msgs += site.bus.passing(good)
    msgs += [site.bus.stage(bad, "FAILURE"), site.bus.rpmdeplint(bad)]
    msgs.append(site.bus.group_check("snapshot-1", [good, bad], "passed"))
    site.ingest(msgs)

    s = site.status(bad)
    assert s["state"] == "quarantined"
    failed = [r for r in s["decision"]["unsatisfied_requirements"]]
    assert [(r["type"], r["testcase"]) for r in failed] == [("test-result-failed", STAGE_TESTCASE)]
    assert site.status(good)["decision"]["verdict"] == "promote"

    out = site.act()
    assert site.hub.tags_of(bad) == [QUARANTINE]
    assert site.hub.tags_of(good) == [PROMOTED]
    # The quarantine notice names the owner (the bus is disabled here: kept in the log).
    notices = [r for r in out["done"] if r.get("message") == "build.quarantined"]
    assert len(notices) == 1
    app = open_app(site.db)
    bodies = [
        e.params["body"]
        for e in _requested(app)
        if e.kind == "bus.publish" and e.params["kind"] == "build.quarantined"
    ]
    assert bodies[0]["owner"] == "zdohnal"
    assert bodies[0]["nvr"] == bad
    assert bodies[0]["unsatisfied_requirements"][0]["testcase"] == STAGE_TESTCASE


def _requested(app: Any) -> list[Any]:
    out = []
    for n in app.recorder.select_notifications(
        start=1, limit=100_000, topics=["domain.outbox:Action.Requested"]
    ):
        out.append(app.repository.get(n.originator_id))
    return out


def test_bisection_finds_the_culprit_in_log2_rounds(site: Site) -> None:
    builds = nvrs(8)
    culprit = builds[5]
    msgs = [m for b in builds for m in site.new_build(b)]
    msgs += [m for b in builds for m in site.bus.passing(b)]
    msgs.append(site.bus.group_check("snapshot-1", builds, "failed"))
    site.ingest(msgs)
    assert {site.status(b)["decision"]["verdict"] for b in builds} == {"hold"}

    rounds = 0
    answered: set[str] = set()
    while True:
        requests = [r for r in site.check_requests() if r["artifact"]["id"] not in answered]
        if not requests:
            break
        rounds = max(rounds, *(r["bisection"]["round"] for r in requests))
        results = []
        for r in requests:
            covered = [b["nvr"] for b in r["artifact"]["builds"]]
            assert r["testcase"] == BATCH_TESTCASE
            verdict = "failed" if culprit in covered else "passed"
            results.append(site.bus.group_check(r["artifact"]["id"], covered, verdict))
            answered.add(r["artifact"]["id"])
        site.act()  # publishes the requests (bus disabled: recorded) and moves the cleared
        site.ingest(results)
    assert rounds == math.ceil(math.log2(8))
    site.act()
    assert site.status(culprit)["state"] == "quarantined"
    assert site.hub.tags_of(culprit) == [QUARANTINE]
    reasons = site.status(culprit)["decision"]["unsatisfied_requirements"]
    assert reasons[0]["type"] == "test-result-failed"
    assert reasons[0]["testcase"] == BATCH_TESTCASE
    for b in builds:
        if b != culprit:
            assert site.hub.tags_of(b) == [PROMOTED], b
            assert site.status(b)["state"] == "promoted"


def test_bisection_bound_falls_back_and_says_so(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any
) -> None:
    site = Site(tmp_path, fake_koji, capsys, max_rounds=1)
    builds = nvrs(4)
    msgs = [m for b in builds for m in site.new_build(b)]
    msgs += [m for b in builds for m in site.bus.passing(b)]
    msgs.append(site.bus.group_check("snapshot-1", builds, "failed"))
    site.ingest(msgs)
    [a, b] = site.check_requests()
    # Both halves fail again: round 2 would exceed the bound of 1.
    site.ingest(
        [
            site.bus.group_check(
                r["artifact"]["id"], [x["nvr"] for x in r["artifact"]["builds"]], "failed"
            )
            for r in (a, b)
        ]
    )
    for nvr in builds:
        s = site.status(nvr)
        assert s["state"] == "held"
        [req] = s["decision"]["unsatisfied_requirements"]
        assert req["type"] == "batch-unresolved"
        assert "bound of 1 rounds" in req["detail"]


def test_suspects_named_by_the_result_need_no_bisection(site: Site) -> None:
    builds = nvrs(4)
    msgs = [m for b in builds for m in site.new_build(b)]
    msgs += [m for b in builds for m in site.bus.passing(b)]
    msgs.append(site.bus.group_check("snapshot-1", builds, "failed", suspects=[builds[2]]))
    site.ingest(msgs)
    assert site.check_requests() == []
    verdicts = {b: site.status(b)["decision"]["verdict"] for b in builds}
    assert verdicts == {
        builds[0]: "promote",
        builds[1]: "promote",
        builds[2]: "quarantine",
        builds[3]: "promote",
    }


def test_waiver_promotes_a_failing_build(site: Site) -> None:
    nvr = "systemd-258-2.fc44"
    msgs = site.new_build(nvr)
    msgs += [site.bus.stage(nvr, "FAILURE"), site.bus.rpmdeplint(nvr)]
    msgs.append(site.bus.group_check("snapshot-1", [nvr], "passed"))
    site.ingest(msgs)
    assert site.status(nvr)["state"] == "quarantined"
    site.act()
    assert site.hub.tags_of(nvr) == [QUARANTINE]

    code, out = site.cli("waive", nvr, STAGE_TESTCASE, "--reason", "flaky test, see #123")
    assert code == 0
    assert out["status"]["state"] == "waived"
    satisfied = out["status"]["decision"]["satisfied_requirements"]
    assert "test-result-failed-waived" in {r["type"] for r in satisfied}
    site.act()
    # Released from quarantine into the promoted tag.
    assert site.hub.tags_of(nvr) == [PROMOTED]
    assert site.status(nvr)["state"] == "promoted"


def test_waiver_from_waiverdb_before_the_move(site: Site) -> None:
    nvr = "systemd-258-2.fc44"
    msgs = site.new_build(nvr)
    msgs += [site.bus.stage(nvr, "FAILURE"), site.bus.rpmdeplint(nvr)]
    msgs.append(site.bus.group_check("snapshot-1", [nvr], "passed"))
    msgs.append(site.bus.waiver(nvr, STAGE_TESTCASE))
    site.ingest(msgs)
    s = site.status(nvr)
    assert s["state"] == "waived"
    # The quarantine move asked for before the waiver arrived was cancelled.
    assert sorted(a["status"] for a in s["actions"]) == ["cancelled", "pending"]
    site.act()
    assert site.hub.tags_of(nvr) == [PROMOTED]
    assert site.hub.moves == 1


def test_a_newer_build_obsoletes_the_older(site: Site) -> None:
    old, new = "bash-5.3-1.fc44", "bash-5.3-2.fc44"
    site.ingest(site.new_build(old) + site.bus.passing(old))
    assert site.status(old)["state"] == "held"
    site.ingest(site.new_build(new))
    s = site.status(old)
    assert s["state"] == "obsoleted"
    assert s["withdrawn"]["reason"] == "obsoleted"
    assert new in s["withdrawn"]["detail"]
    assert site.status(new)["state"] == "held"
    # A batch check passing for both promotes only the newer.
    site.ingest([*site.bus.passing(new), site.bus.group_check("s", [old, new], "passed")])
    site.act()
    assert site.hub.tags_of(new) == [PROMOTED]
    assert site.hub.tags_of(old) == [PENDING]


def test_untagged_by_someone_else_stops_being_a_candidate(site: Site) -> None:
    nvr = "bash-5.3-1.fc44"
    site.ingest(site.new_build(nvr))
    site.ingest([site.bus.untagged(nvr)])
    s = site.status(nvr)
    assert s["state"] == "obsoleted"
    assert s["withdrawn"]["reason"] == "untagged"


def test_decisions_are_recorded_only_when_they_change(site: Site) -> None:
    nvr = "bash-5.3-1.fc44"
    site.ingest(site.new_build(nvr) + site.bus.passing(nvr))
    # The same results again (a re-run with the same outcome): no new decision.
    out = site.ingest([site.bus.stage(nvr, "SUCCESS")])
    assert out["decider"]["decisions"] == 0


def test_dry_run_changes_nothing(site: Site) -> None:
    nvr = "bash-5.3-1.fc44"
    site.ingest(site.new_build(nvr) + site.bus.passing(nvr))
    site.ingest([site.bus.group_check("s", [nvr], "passed")])
    code, out = site.cli("act", "--dry-run")
    assert code == 0
    [move] = [r for r in out["still_pending"] if r["kind"] == "koji.move"]
    assert move["outcome"] == "would-move"
    assert site.hub.tags_of(nvr) == [PENDING]
    assert site.hub.count("moveBuild") == 0
    assert site.status(nvr)["actions"][0]["status"] == "pending"


def test_quarantine_notice_carries_the_final_decisions_summary(site: Site) -> None:
    """The move was asked for by one decision; a later decision (still quarantine, so
    the move stays) changed the summary before the move was done. The notice must say
    what the build's decision is when it is moved, summary and requirements alike
    (issue 15, item 11)."""
    bad = "vim-9.1-1.fc44"
    msgs = site.new_build(bad, owner="zdohnal")
    msgs += [site.bus.stage(bad, "FAILURE"), site.bus.rpmdeplint(bad)]
    msgs.append(site.bus.group_check("snapshot-1", [bad], "passed"))
    site.ingest(msgs)
    assert site.status(bad)["decision"]["summary"] == "Of 3 required tests, 1 test failed"
    site.ingest([site.bus.rpmdeplint(bad, "FAILED")])
    final = site.status(bad)["decision"]
    assert final["summary"] == "Of 3 required tests, 2 tests failed"
    site.act()
    assert site.hub.tags_of(bad) == [QUARANTINE]
    (body,) = [
        e.params["body"]
        for e in _requested(open_app(site.db))
        if e.kind == "bus.publish" and e.params["kind"] == "build.quarantined"
    ]
    assert body["summary"] == final["summary"]
    assert body["unsatisfied_requirements"] == final["unsatisfied_requirements"]


def test_a_missing_stage_is_shown_by_the_name_its_waiver_takes(site: Site) -> None:
    """No result at all for a pipeline stage: the requirement's test case is the name a
    waiver of it takes (``pipeline-stage:<pipeline>:<stage>``; no CI message named the
    stage's own test case), ``status`` says to waive exactly that name, and the waiver
    given by that hint satisfies it."""
    nvr = "zsh-5.9-9.fc44"
    msgs = site.new_build(nvr)
    msgs += [site.bus.rpmdeplint(nvr), site.bus.group_check("snapshot-9", [nvr], "passed")]
    site.ingest(msgs)
    status = site.status(nvr)
    missing = [
        r["testcase"]
        for r in status["decision"]["unsatisfied_requirements"]
        if r["type"] == "test-result-missing"
    ]
    assert missing == ["pipeline-stage:allpackages-build:package.test.functional"]
    (hint,) = status["hints"]
    assert hint["testcase"] == missing[0]
    # Nothing ran, so nothing to run again: the waiver, by the name shown.
    assert hint["do"] == [f"relengotron waive {nvr} {missing[0]} --reason TEXT"]
    code, out = site.cli("waive", nvr, missing[0], "--reason", "stage retired, see #7")
    assert code == 0
    assert out["status"]["decision"]["policies_satisfied"] is True
    assert "test-result-missing-waived" in {
        r["type"] for r in out["status"]["decision"]["satisfied_requirements"]
    }
