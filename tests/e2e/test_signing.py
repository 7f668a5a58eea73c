"""Signing as a gate (issue 20, part 1), end to end: the real CLI, the fake koji hub
over XML-RPC, and a fake robosignatory answering with koji's ``buildsys.rpm.sign``
messages in their real shape. A build passes every test, is held ``unsigned``, the
signing request goes out (tagged into the signing-pending tag, as Fedora's
robosignatory expects), and it is promoted only once every rpm is signed with the
release's key."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.e2e.test_gating import PENDING, PROMOTED, Site
from tests.fakekoji import FakeKojiHub
from tests.fakesigner import FakeSigner

SIGNING = "rawhide-signing-pending"
KEY = "e99d6ad1"  # Fedora 41's key id, as koji's sigkey
REPO = Path(__file__).resolve().parents[2]
SIGN_SCHEMA = "fedora-messaging-schema-packages/koji_fedoramessaging.rpm.SignV1.json"


def signing_site(tmp: Path, hub: FakeKojiHub, capsys: Any, backend: str = "") -> Site:
    site = Site(tmp, hub, capsys)
    policies = tmp / "policies"
    policies.mkdir()
    text = (REPO / "config/policies/rawhide-pending.yaml").read_text()
    (policies / "rawhide-pending.yaml").write_text(
        text + f"\n  - !SignedRule {{sigkey: {KEY.upper()}}}\n"
    )
    shutil.copy(REPO / "config/policies/bodhi.yaml", policies / "bodhi.yaml")
    site.config.write_text(
        site.config.read_text()
        + f'\n[gating]\npolicies = "{policies}"\n\n[signing]\n'
        + (backend or f'backend = "robosignatory"\npending_tag = "{SIGNING}"\n')
    )
    hub.add_tag(SIGNING)
    return site


def passing(site: Site, nvr: str, rpms: list[tuple[str, str]]) -> list[dict[str, Any]]:
    site.hub.add_build(nvr, owner="packager", tags=[PENDING], rpms=rpms)
    return [
        site.bus.built(nvr),
        site.bus.tagged(nvr),
        *site.bus.passing(nvr),
        site.bus.group_check("snapshot-1", [nvr], "passed"),
    ]


def signing_requirement(site: Site, nvr: str) -> dict[str, Any]:
    decision = site.status(nvr)["decision"]
    reqs = decision["satisfied_requirements"] + decision["unsatisfied_requirements"]
    [req] = [r for r in reqs if r["testcase"] == f"signed-with:{KEY}"]
    return req


RPMS = [("bash", "src"), ("bash", "x86_64"), ("bash-debuginfo", "x86_64")]


def test_a_passing_build_is_promoted_only_when_every_rpm_is_signed(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any, corpus_dir: Path
) -> None:
    site = signing_site(tmp_path, fake_koji, capsys)
    nvr = "bash-5.3-1.fc44"
    site.ingest(passing(site, nvr, RPMS))

    status = site.status(nvr)
    assert status["state"] == "held"
    assert status["decision"]["verdict"] == "hold"
    req = signing_requirement(site, nvr)
    assert req["type"] == "unsigned"
    assert [r["type"] for r in status["decision"]["unsatisfied_requirements"]] == ["unsigned"]
    assert "build signature pending" in status["decision"]["summary"]
    [sign] = [a for a in status["actions"] if a["kind"] == "sign.request"]
    assert sign["status"] == "pending"

    out = site.act()
    [done] = [r for r in out["done"] if r["kind"] == "sign.request"]
    assert done["outcome"] == "requested"
    assert fake_koji.tags_of(nvr) == [PENDING, SIGNING]  # robosignatory's cue
    assert fake_koji.tags_of(nvr) and PROMOTED not in fake_koji.tags_of(nvr)

    signer = FakeSigner(fake_koji, site.bus, SIGNING, KEY)
    assert signer.waiting() == [nvr]
    # One rpm left unsigned keeps the build out.
    partial = signer.sign(nvr, skip={"bash-debuginfo-5.3-1.fc44.x86_64"})
    schema = json.loads((corpus_dir / "schemas" / SIGN_SCHEMA).read_text())["body_schema"]
    for m in partial:
        jsonschema.validate(m["body"], schema)
    site.ingest(partial)
    assert signing_requirement(site, nvr)["type"] == "unsigned"
    status = site.status(nvr)
    assert status["state"] == "held"
    # The decision stays (one decision per state, not per signature); status says how far.
    assert status["signing"] == [
        {
            "sigkey": KEY,
            "request": "requested",
            "rpms": [f"{n}-5.3-1.fc44.{a}" for n, a in sorted(RPMS)],
            "unsigned": ["bash-debuginfo-5.3-1.fc44.x86_64"],
        }
    ]
    assert not [r for r in site.act()["done"] if r["kind"] == "koji.move"]
    assert PROMOTED not in fake_koji.tags_of(nvr)

    # Signed with another key: still not the release's.
    site.ingest(signer.sign(nvr, skip={"bash-5.3-1.fc44.src"}, sigkey="deadbeef"))
    assert signing_requirement(site, nvr)["type"] == "unsigned"
    assert site.status(nvr)["signing"][0]["unsigned"] == ["bash-debuginfo-5.3-1.fc44.x86_64"]

    site.ingest(signer.sign(nvr))
    assert signer.waiting() == []
    req = signing_requirement(site, nvr)
    assert req["type"] == "signed"
    assert req["detail"] == f"all 3 rpms signed with key {KEY}"
    assert site.status(nvr)["decision"]["verdict"] == "promote"
    moved = [r for r in site.act()["done"] if r["kind"] == "koji.move"]
    assert [(r["nvr"], r["outcome"]) for r in moved] == [(nvr, "moved")]
    assert fake_koji.tags_of(nvr) == [PROMOTED]
    assert site.status(nvr)["state"] == "promoted"


def test_no_signing_is_requested_while_a_test_is_missing(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any
) -> None:
    site = signing_site(tmp_path, fake_koji, capsys)
    nvr = "vim-9.1-1.fc44"
    fake_koji.add_build(nvr, tags=[PENDING])
    site.ingest([site.bus.built(nvr), site.bus.tagged(nvr), *site.bus.passing(nvr)])
    status = site.status(nvr)
    types = sorted(r["type"] for r in status["decision"]["unsatisfied_requirements"])
    assert types == ["test-result-missing", "unsigned"]
    assert not [a for a in status["actions"] if a["kind"] == "sign.request"]
    site.act()
    assert fake_koji.tags_of(nvr) == [PENDING]


def test_the_command_backend_runs_with_the_build_and_key(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any
) -> None:
    seen = tmp_path / "signed.txt"
    script = tmp_path / "sign.py"
    script.write_text(
        "import sys\n"
        f"open({str(seen)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "sys.exit(3 if sys.argv[-2].startswith('bad') else 0)\n"
    )
    argv = json.dumps([sys.executable, str(script)])
    site = signing_site(tmp_path, fake_koji, capsys, f'backend = "command"\nargv = {argv}\n')
    good, bad = "bash-5.3-1.fc44", "bad-1.0-1.fc44"
    site.ingest(passing(site, good, RPMS) + passing(site, bad, [("bad", "noarch")]))
    code, out = site.cli("act")
    assert code == 1  # an action failed
    outcomes = {r["nvr"]: r["outcome"] for r in out["done"] if r["kind"] == "sign.request"}
    assert outcomes == {good: "requested", bad: "failed"}
    assert sorted(seen.read_text().split("\n")[:-1]) == [f"bad-1.0-1.fc44 {KEY}", f"{good} {KEY}"]
    assert SIGNING not in fake_koji.tags_of(good)  # the command, not robosignatory
    [failed] = [a for a in site.status(bad)["actions"] if a["kind"] == "sign.request"]
    assert "exited 3" in json.dumps(failed)
    signer = FakeSigner(fake_koji, site.bus, SIGNING, KEY)
    site.ingest(signer.sign(good))
    assert site.status(good)["decision"]["verdict"] == "promote"
    assert site.status(bad)["state"] == "held"


@pytest.mark.parametrize("bad", ['backend = "gpg"\n', 'backend = "command"\n'])
def test_signing_settings_are_checked(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any, bad: str
) -> None:
    site = signing_site(tmp_path, fake_koji, capsys, bad)
    code, _ = site.cli("status", "x-1-1")
    assert code == 2


def test_people_see_the_signing_in_status_and_act(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any
) -> None:
    from relengotron.adapters.cli.main import main

    site = signing_site(tmp_path, fake_koji, capsys)
    nvr = "bash-5.3-1.fc44"
    site.ingest(passing(site, nvr, RPMS))
    args = ["--db", site.db, "--config", str(site.config)]
    capsys.readouterr()
    assert main(["act", *args]) == 0
    assert f"requested     sign {nvr} with key {KEY}" in capsys.readouterr().out
    assert main(["status", nvr, *args]) == 0
    out = capsys.readouterr().out
    assert "NOT unsigned" in out
    assert f"sign with key {KEY}: requested" in out
    assert f"signing with {KEY}: requested, 3 rpm(s) unsigned" in out


def test_replay_verify_re_derives_signing_decisions(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any
) -> None:
    site = signing_site(tmp_path, fake_koji, capsys)
    nvr = "bash-5.3-1.fc44"
    site.ingest(passing(site, nvr, RPMS))
    site.act()
    signer = FakeSigner(fake_koji, site.bus, SIGNING, KEY)
    site.ingest(signer.sign(nvr, skip={"bash-5.3-1.fc44.src"}))
    site.ingest(signer.sign(nvr))
    site.act()
    assert site.status(nvr)["state"] == "promoted"
    code, report = site.cli("replay", "--verify", "--no-progress")
    assert report["differences"] == []
    assert (code, report["identical"]) == (0, True)
