"""Manual overrides: ``relengotron override`` records an input message; the decider
promotes or holds the build whatever the policies say, and says who and why."""

from __future__ import annotations

from relengotron.adapters.store.store import open_app
from tests.e2e.test_gating import PROMOTED, Site


def _failing(site: Site, nvr: str) -> None:
    site.ingest(
        [
            *site.new_build(nvr),
            site.bus.stage(nvr, "FAILURE"),
            site.bus.rpmdeplint(nvr),
            site.bus.group_check("snapshot-1", [nvr], "passed"),
        ]
    )


def _req(decision: dict, kind: str) -> list[dict]:
    return [
        r
        for key in ("satisfied_requirements", "unsatisfied_requirements")
        for r in decision[key]
        if r["type"] == kind
    ]


def test_override_promote_moves_a_failing_build_and_names_who_and_why(site: Site) -> None:
    nvr = "vim-9.1-1.fc44"
    _failing(site, nvr)
    assert site.status(nvr)["decision"]["verdict"] == "quarantine"
    code, out = site.cli(
        "override", nvr, "promote", "--reason", "known flake, see #42", "--username", "alice"
    )
    assert code == 0
    key = out["override_id"]
    d = out["status"]["decision"]
    assert d["verdict"] == "promote"
    (req,) = _req(d, "manual-override")
    assert req in d["satisfied_requirements"]
    assert (req["username"], req["reason"], req["message"]) == (
        "alice",
        "known flake, see #42",
        key,
    )
    assert "alice" in d["summary"]
    # The policies' own answer stays visible: the failing test is still listed.
    assert [r["type"] for r in d["unsatisfied_requirements"]] == ["test-result-failed"]
    site.act()
    assert site.hub.tags_of(nvr) == [PROMOTED]
    assert site.status(nvr)["state"] == "promoted"

    code, x = site.cli("explain", nvr)
    assert code == 0
    assert [(o["action"], o["username"]) for o in x["overrides"]] == [("promote", "alice")]
    assert x["overrides"][0]["message"]["topic"] == "relengotron.gate.override"
    promoted = [d for d in x["decisions"] if d["verdict"] == "promote"]
    assert promoted[0]["trigger"]["key"] == key
    code, report = site.cli("replay", "--verify")
    assert code == 0 and report["identical"], report["differences"]


def test_override_hold_then_release(site: Site) -> None:
    nvr = "bash-5.3-1.fc44"
    site.ingest(site.new_build(nvr))
    code, out = site.cli("override", nvr, "hold", "--reason", "wait for the mass rebuild")
    assert code == 0
    assert out["status"]["decision"]["verdict"] == "hold"
    site.ingest(
        [
            site.bus.stage(nvr, "SUCCESS"),
            site.bus.rpmdeplint(nvr),
            site.bus.group_check("snapshot-1", [nvr], "passed"),
        ]
    )
    d = site.status(nvr)["decision"]
    assert d["verdict"] == "hold"
    (req,) = _req(d, "manual-hold")
    assert req in d["unsatisfied_requirements"] and req["reason"] == "wait for the mass rebuild"
    site.act()
    assert site.hub.tags_of(nvr) != [PROMOTED]

    code, out = site.cli("override", nvr, "release", "--reason", "rebuild done")
    assert code == 0
    d = out["status"]["decision"]
    assert d["verdict"] == "promote"
    assert _req(d, "manual-hold") == [] and _req(d, "manual-override") == []
    site.act()
    assert site.hub.tags_of(nvr) == [PROMOTED]


def test_an_override_of_another_context_is_ignored(site: Site) -> None:
    from relengotron.adapters.ingest.envelope import to_envelope
    from relengotron.adapters.ingest.ingest import to_incoming

    nvr = "vim-9.1-1.fc44"
    _failing(site, nvr)
    app = open_app(site.db)
    body = {"nvr": nvr, "action": "promote", "reason": "r", "context": "bodhi_update_push"}
    app.record([to_incoming(to_envelope({"topic": "relengotron.gate.override", "body": body}))])
    code, out = site.cli("decide")
    assert code == 0 and out["changes"] == []
    assert site.status(nvr)["decision"]["verdict"] == "quarantine"
