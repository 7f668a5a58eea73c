"""Re-check after quarantine (issue 20, part 2), end to end: the real CLI, the fake koji
hub over XML-RPC, and a simulated CI answering every ``batch.check.requested``. With
``recheck: after-quarantine`` on the batch rule, builds a bisection cleared are promoted
only once the rest of the batch, checked again after the suspects left the pending tag,
passes; a repeat failure bisects again; the number of re-checks is bounded."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relengotron.adapters.cli.main import main
from tests.e2e.test_gating import PENDING, PROMOTED, QUARANTINE, Site, nvrs
from tests.fakekoji import FakeKojiHub

REPO = Path(__file__).resolve().parents[2]


def recheck_site(tmp: Path, hub: FakeKojiHub, capsys: Any, max_rechecks: int = 3) -> Site:
    site = Site(tmp, hub, capsys, max_rounds=4)
    policies = tmp / "policies"
    policies.mkdir()
    text = (REPO / "config/policies/rawhide-pending.yaml").read_text()
    rule = "!BatchIntegrityRule {test_case_name: fedora-ci.koji-build-group.integrity.functional"
    assert rule in text
    (policies / "rawhide-pending.yaml").write_text(
        text.replace(rule, rule + ", recheck: after-quarantine")
    )
    shutil.copy(REPO / "config/policies/bodhi.yaml", policies / "bodhi.yaml")
    config = site.config.read_text().replace(
        'fallback = "hold"\n', f'fallback = "hold"\nmax_rechecks = {max_rechecks}\n'
    )
    site.config.write_text(config + f'\n[gating]\npolicies = "{policies}"\n')
    return site


def answer(site: Site, failing: Callable[[list[str]], bool]) -> list[dict[str, Any]]:
    """Answer every check requested so far (failed when ``failing`` says), then act."""
    requests = site.check_requests()
    site.act()  # publishes them (the bus is off: kept in the log) and moves what it can
    site.ingest(
        [
            site.bus.group_check(
                r["artifact"]["id"],
                covered := [b["nvr"] for b in r["artifact"]["builds"]],
                "failed" if failing(covered) else "passed",
            )
            for r in requests
        ]
    )
    return requests


def step(site: Site, failing: Callable[[list[str]], bool]) -> list[dict[str, Any]]:
    """One round of ``act --follow`` and of CI: decide, act, answer what was asked."""
    assert site.cli("decide")[0] == 0
    if not site.check_requests():
        site.act()
        assert site.cli("decide")[0] == 0
    return answer(site, failing) if site.check_requests() else []


def run(site: Site, failing: Callable[[list[str]], bool]) -> list[str]:
    """Rounds until nothing more is asked; the groups checked, in order."""
    groups: list[str] = []
    for _ in range(12):
        asked = step(site, failing)
        if not asked:
            return groups
        groups += [r["artifact"]["id"] for r in asked]
    raise AssertionError(f"no end after {groups}")


def start(site: Site, builds: list[str]) -> None:
    msgs = [m for b in builds for m in site.new_build(b)]
    msgs += [m for b in builds for m in site.bus.passing(b)]
    msgs.append(site.bus.group_check("snapshot-1", builds, "failed"))
    site.ingest(msgs)


def batch_requirement(site: Site, nvr: str) -> dict[str, Any]:
    d = site.status(nvr)["decision"]
    [req] = [
        r
        for r in d["satisfied_requirements"] + d["unsatisfied_requirements"]
        if r["testcase"].startswith("fedora-ci.koji-build-group")
    ]
    return req


def test_the_rest_is_promoted_only_when_its_recheck_passes(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any
) -> None:
    site = recheck_site(tmp_path, fake_koji, capsys)
    builds = nvrs(4)
    culprit = builds[2]
    start(site, builds)
    while site.check_requests():
        answer(site, lambda covered: culprit in covered)
    # Bisected: the culprit is a suspect, the rest cleared by their halves but held.
    assert batch_requirement(site, culprit)["type"] == "test-result-failed"
    for b in builds:
        if b != culprit:
            req = batch_requirement(site, b)
            assert req["type"] == "batch-recheck-pending", b
            assert f"once {culprit} left {PENDING}" in req["detail"]
            assert "awaiting a re-check after quarantine" in site.status(b)["decision"]["summary"]
    # Acting moves the suspect out; that asks for the re-check of the rest.
    site.act()
    assert fake_koji.tags_of(culprit) == [QUARANTINE]
    assert site.check_requests() == []  # the move's outcome is not decided on yet
    assert site.cli("decide")[0] == 0  # (the next round of ``act --follow``)
    [recheck] = site.check_requests()
    assert recheck["artifact"]["id"] == "snapshot-1/recheck-1"
    rest = sorted(b["nvr"] for b in recheck["artifact"]["builds"])
    assert rest == sorted(b for b in builds if b != culprit)
    assert recheck["bisection"]["recheck"] == 1 and recheck["bisection"]["parent"] == "snapshot-1"
    site.act()
    for b in rest:
        assert fake_koji.tags_of(b) == [PENDING], b  # nothing promoted before it passes
    [shown] = site.status(rest[0])["rechecks"]
    assert (shown["group"], shown["outcome"]) == ("snapshot-1/recheck-1", "requested")
    assert sorted(shown["builds"]) == rest
    args = ["--db", site.db, "--config", str(site.config)]
    capsys.readouterr()
    assert main(["status", rest[0], *args]) == 0
    assert "re-check snapshot-1/recheck-1 of 3 build(s): requested" in capsys.readouterr().out
    site.ingest([site.bus.group_check("snapshot-1/recheck-1", rest, "passed")])
    for b in rest:
        assert batch_requirement(site, b)["type"] == "test-result-passed"
    assert site.status(rest[0])["rechecks"][0]["outcome"] == "PASSED"
    site.act()
    for b in rest:
        assert fake_koji.tags_of(b) == [PROMOTED], b
    assert site.check_requests() == []
    code, report = site.cli("replay", "--verify", "--no-progress")
    assert report["differences"] == []
    assert (code, report["identical"]) == (0, True)


def test_a_repeat_failure_bisects_again(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any
) -> None:
    site = recheck_site(tmp_path, fake_koji, capsys)
    builds = nvrs(4)
    first, second = builds[2], builds[0]

    def fails(covered: list[str]) -> bool:
        # The second culprit breaks only on top of what is left once the first is gone.
        gone = fake_koji.tags_of(first) == [QUARANTINE]
        return first in covered or (gone and second in covered)

    start(site, builds)
    groups = run(site, fails)
    assert groups == [
        "snapshot-1/a", "snapshot-1/b", "snapshot-1/b/a", "snapshot-1/b/b",
        "snapshot-1/recheck-1", "snapshot-1/recheck-1/a", "snapshot-1/recheck-1/b",
        "snapshot-1/recheck-2",
    ]  # fmt: skip
    site.act()
    assert fake_koji.tags_of(first) == [QUARANTINE]
    assert fake_koji.tags_of(second) == [QUARANTINE]
    for b in builds[1], builds[3]:
        assert fake_koji.tags_of(b) == [PROMOTED], b


def test_the_number_of_rechecks_is_bounded(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any
) -> None:
    site = recheck_site(tmp_path, fake_koji, capsys, max_rechecks=1)
    builds = nvrs(4)
    first, second = builds[2], builds[0]
    start(site, builds)
    groups = run(
        site, lambda c: first in c or (fake_koji.tags_of(first) == [QUARANTINE] and second in c)
    )
    assert groups[-1] == "snapshot-1/recheck-1/b"  # no second re-check
    for b in builds[1], builds[3]:
        s = site.status(b)
        assert s["state"] == "held", b
        req = batch_requirement(site, b)
        assert req["type"] == "batch-unresolved"
        assert "the bound of 1 re-checks was reached" in req["detail"]
        assert fake_koji.tags_of(b) == [PENDING]


def test_a_recheck_failing_without_a_suspect_is_unresolved(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any
) -> None:
    site = recheck_site(tmp_path, fake_koji, capsys)
    builds = nvrs(4)
    first = builds[2]

    def fails(covered: list[str]) -> bool:
        # Once the first is gone, the three left break only together.
        return first in covered or (fake_koji.tags_of(first) == [QUARANTINE] and len(covered) == 3)

    start(site, builds)
    assert run(site, fails)[-3:] == [
        "snapshot-1/recheck-1", "snapshot-1/recheck-1/a", "snapshot-1/recheck-1/b"
    ]  # fmt: skip
    site.act()
    for b in builds[0], builds[1], builds[3]:
        req = batch_requirement(site, b)
        assert req["type"] == "batch-unresolved", b
        assert (
            "re-check snapshot-1/recheck-1 failed and its bisection named no suspect"
            in (req["detail"])
        )
        assert fake_koji.tags_of(b) == [PENDING]
