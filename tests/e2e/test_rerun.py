"""Rerun, first class (issue 20, part 3), end to end through the real CLI, the fake koji
hub over XML-RPC and the outbox: ``relengotron rerun`` records the request, publishes it
in Bodhi's re-trigger shape, holds the build (``rerun-requested``) until a newer result
or the deadline, and a test that failed and then passed on the rerun is counted flaky."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fedora_messaging import message as fm

from relengotron.adapters.messaging.catalog import message_for
from relengotron.adapters.messaging.rerun_schemas import TestRerunRequestedV1
from relengotron.adapters.store.store import open_app
from relengotron.projections.folds.requirement_states import with_states
from tests.e2e.test_gating import PENDING, PROMOTED, QUARANTINE, Site, _requested
from tests.fakekoji import FakeKojiHub
from tests.messages import Bus
from tests.rabbit import URL, receive

TC = "dist.rpmdeplint"


def failing(site: Site, nvr: str) -> list[dict[str, Any]]:
    return [
        *site.new_build(nvr, owner="zdohnal"),
        site.bus.stage(nvr, "SUCCESS"),
        site.bus.rpmdeplint(nvr, "FAILED"),
        site.bus.group_check("snapshot-1", [nvr], "passed"),
    ]


def rerun(site: Site, nvr: str, testcase: str = TC) -> tuple[int, Any]:
    return site.cli("rerun", nvr, testcase, "--reason", "mirror was down", "--username", "adamw")


def the_requirement(status: dict[str, Any]) -> dict[str, Any]:
    decision = with_states(status["decision"]) or {}
    [req] = [r for r in decision["unsatisfied_requirements"] if r["testcase"] == TC]
    return req


def test_a_rerun_holds_the_build_and_a_pass_on_it_is_flaky(site: Site) -> None:
    nvr = "vim-9.1-1.fc44"
    site.ingest(failing(site, nvr))
    status = site.status(nvr)
    assert status["state"] == "quarantined"
    # Rerun is offered before waiving.
    [hint] = status["hints"]
    assert hint["testcase"] == TC
    assert hint["do"] == [
        f"relengotron rerun {nvr} {TC} --reason TEXT",
        f"relengotron waive {nvr} {TC} --reason TEXT",
    ]
    site.act()
    assert site.hub.tags_of(nvr) == [QUARANTINE]

    code, out = rerun(site, nvr)
    assert code == 0, out
    status = out["status"]
    assert status["state"] == "held"
    req = the_requirement(status)
    assert req["type"] == "test-result-failed"  # Greenwave's type stays
    assert req["state"] == "rerun-requested"
    [asked] = status["reruns"]
    assert asked["state"] == "requested"
    assert req["rerun_deadline"] == asked["deadline"]
    assert asked["deadline"] > asked["requested_at"]
    assert "hints" not in status or all(
        not h.startswith("relengotron rerun") for h in status["hints"][0]["do"]
    )

    done = site.act()
    published = [r for r in done["done"] if r.get("message") == "test.rerun.requested"]
    assert [r["outcome"] for r in published] == ["disabled"]  # bus off: kept in the log
    [body] = [
        a.params["body"]
        for a in _requested(open_app(site.db))
        if a.params.get("kind") == "test.rerun.requested"
    ]
    message = message_for("test.rerun.requested", body, "org.fedoraproject.prod.relengotron")
    assert message.topic == "org.fedoraproject.prod.relengotron.test.rerun.requested"
    assert body["re-trigger"] is True and body["agent"] == "adamw"
    [build] = body["artifact"]["builds"]
    assert body["artifact"]["type"] == "koji-build-group"
    assert build["nvr"] == nvr and build["type"] == "koji-build"
    assert isinstance(build["id"], int) and isinstance(build["task_id"], int)
    assert (body["testcase"], body["reason"]) == (TC, "mirror was down")

    site.ingest([site.bus.rpmdeplint(nvr, "PASSED")])
    status = site.status(nvr)
    assert status["decision"]["verdict"] == "promote"
    assert status["reruns"][0]["state"] == "flaky"
    assert status["flaky"] == {TC: 1}
    moved = [r for r in site.act()["done"] if r["kind"] == "koji.move"]
    assert [(r["from_tag"], r["to_tag"]) for r in moved] == [(QUARANTINE, PROMOTED)]
    assert site.hub.tags_of(nvr) == [PROMOTED]

    code, report = site.cli("replay", "--verify", "--no-progress")
    assert report["differences"] == []
    assert (code, report["identical"]) == (0, True)


def test_a_rerun_that_fails_again_quarantines_and_is_not_flaky(site: Site) -> None:
    nvr = "vim-9.1-1.fc44"
    site.ingest(failing(site, nvr))
    assert rerun(site, nvr)[0] == 0
    assert site.status(nvr)["state"] == "held"
    site.ingest([site.bus.rpmdeplint(nvr, "FAILED")])
    status = site.status(nvr)
    assert status["state"] == "quarantined"
    assert status["reruns"][0]["state"] == "answered"
    assert status["flaky"] == {}
    assert the_requirement(status)["state"] == "failed"
    # A second rerun may be asked; it is offered again.
    assert status["hints"][0]["do"][0].startswith("relengotron rerun")


def test_no_answer_by_the_deadline_lets_the_failure_stand(site: Site) -> None:
    nvr, other = "vim-9.1-1.fc44", "bash-5.3-1.fc44"
    # The request is sent now (the wall clock, as any input of ours); the bus follows.
    site.bus = Bus(start=datetime.now(UTC) - timedelta(hours=1))
    site.ingest(failing(site, nvr))
    assert rerun(site, nvr)[0] == 0
    assert site.status(nvr)["state"] == "held"
    site.bus.later(timedelta(hours=5))
    site.ingest(site.new_build(other))  # message time moves; not yet past the deadline
    assert site.status(nvr)["state"] == "held"
    site.bus.later(timedelta(hours=2))
    site.ingest([site.bus.stage(other, "SUCCESS")])
    status = site.status(nvr)
    assert status["state"] == "quarantined"
    req = the_requirement(status)
    assert req["state"] == "failed"
    assert "no result by" in req["detail"]


def test_rerun_of_what_was_never_run_is_refused(site: Site) -> None:
    nvr = "vim-9.1-1.fc44"
    site.ingest(failing(site, nvr))
    code, out = rerun(site, "nope-1-1.fc44")
    assert code == 1 and "no build" in out["error"]
    code, out = rerun(site, nvr, "no.such.test")
    assert code == 1 and "no result of no.such.test" in out["error"]
    assert "reruns" not in site.status(nvr)
    assert site.hub.tags_of(nvr) == [PENDING]


def test_the_api_asks_for_a_rerun_and_counts_flaky_tests(site: Site) -> None:
    from fastapi.testclient import TestClient

    from relengotron.adapters import bootstrap
    from relengotron.adapters.http.app import create_app
    from relengotron.adapters.http.commands import StoreCommands

    nvr = "vim-9.1-1.fc44"
    site.ingest(failing(site, nvr))
    cfg = bootstrap.settings(str(site.config))
    app = open_app(site.db)
    api = create_app(
        bootstrap.read_model(app, cfg),
        bootstrap.policy_set(cfg),
        token="s3cret",
        commands=StoreCommands(app, cfg),
    )
    client = TestClient(api)
    body = {"testcase": TC, "reason": "mirror was down", "username": "adamw"}
    assert client.post(f"/api/v1/builds/{nvr}/rerun", json=body).status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    r = client.post("/api/v1/builds/nope-1-1.fc44/rerun", json=body, headers=auth)
    assert r.status_code == 404
    r = client.post(f"/api/v1/builds/{nvr}/rerun", json=body, headers=auth)
    assert r.status_code == 202, r.text
    assert r.json()["topic"] == "relengotron.test.rerun"
    build = client.get(f"/api/v1/builds/{nvr}").json()
    [req] = [r for r in build["decision"]["unsatisfied_requirements"] if r["testcase"] == TC]
    assert req["state"] == "rerun-requested"
    assert build["gate"] == "held"
    assert "rerun-requested" in [h["kind"] for h in build["history"]]
    assert client.get("/api/v1/flaky").json() == {"flaky": []}

    site.ingest([site.bus.rpmdeplint(nvr, "PASSED")])
    bootstrap.projector(app, cfg).run()
    assert client.get("/api/v1/flaky").json() == {
        "flaky": [{"testcase": TC, "count": 1, "builds": [nvr]}]
    }
    code, explained = site.cli("explain", nvr)
    assert code == 0
    assert explained["status"]["flaky"] == {TC: 1}
    assert any("FlakyFound" in str(g.get("event")) for g in explained["gate"])


def test_people_see_reruns_hints_and_flaky_tests(site: Site, capsys: Any) -> None:
    from relengotron.adapters.cli.main import main

    nvr = "vim-9.1-1.fc44"
    site.ingest(failing(site, nvr))
    args = ["--db", site.db, "--config", str(site.config)]
    capsys.readouterr()
    assert main(["status", nvr, *args]) == 0
    out = capsys.readouterr().out
    assert f"to do about {TC}: relengotron rerun {nvr} {TC} --reason TEXT  or  " in out
    assert rerun(site, nvr)[0] == 0
    assert main(["status", nvr, *args]) == 0
    assert f"rerun of {TC} by adamw: requested until " in capsys.readouterr().out
    site.ingest([site.bus.rpmdeplint(nvr, "PASSED")])
    assert main(["explain", nvr, *args]) == 0
    out = capsys.readouterr().out
    assert f"rerun of {TC} asked by adamw: flaky" in out
    assert f"flaky: {TC} (passed on 1 rerun(s) after failing)" in out


@pytest.mark.rabbitmq
@pytest.mark.timeout(120)
def test_the_rerun_request_reaches_the_bus(
    tmp_path: Path, fake_koji: FakeKojiHub, capsys: Any, listener: Any, prefix: str
) -> None:
    site = Site(tmp_path, fake_koji, capsys)
    site.config.write_text(
        site.config.read_text()
        + f'\n[bus]\nenabled = true\namqp_url = "{URL}"\ntopic_prefix = "{prefix}"\n'
    )
    nvr = "vim-9.1-1.fc44"
    site.ingest(failing(site, nvr))
    site.act()
    receive(listener, count=len(_published(site)), wait=20)  # the decisions so far
    assert rerun(site, nvr)[0] == 0
    out = site.act()
    [sent] = [r for r in out["done"] if r.get("message") == "test.rerun.requested"]
    assert sent["outcome"] == "published"
    received = receive(listener, count=2, wait=20)  # the request, and the hold it makes
    messages = [fm.get_message(m.routing_key, props, body) for m, props, body in received]
    [asked] = [m for m in messages if isinstance(m, TestRerunRequestedV1)]
    assert asked.topic == f"{prefix}.test.rerun.requested"
    assert asked.body["re-trigger"] is True and asked.body["agent"] == "adamw"
    assert asked.body["artifact"]["builds"][0]["nvr"] == nvr
    assert asked.usernames == ["adamw"] and asked.packages == ["vim"]
    assert (asked.body["testcase"], asked.body["reason"]) == (TC, "mirror was down")


def _published(site: Site) -> list[Any]:
    return [a for a in _requested(open_app(site.db)) if a.kind == "bus.publish"]
