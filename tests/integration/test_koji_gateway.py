"""The koji gateway against the fake hub: real ``koji.ClientSession`` over HTTP."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import koji
import pytest

from relengotron.adapters.koji import koji_gateway as kg
from relengotron.adapters.koji import koji_values as kv
from relengotron.adapters.koji.koji_values import (
    ALREADY,
    FAILED,
    GONE,
    MOVED,
    TRANSIENT,
    WOULD_MOVE,
)
from tests.fakekoji import FakeKojiHub

PENDING, RAWHIDE = "rawhide-pending", "rawhide"
FOO = "foo-1.0-1.fc44"
WRITES = ("tagBuild", "moveBuild", "untagBuild")

Make = Callable[..., kg.KojiGateway]


@pytest.fixture
def hub(fake_koji: FakeKojiHub) -> FakeKojiHub:
    fake_koji.add_tag(PENDING)
    fake_koji.add_tag(RAWHIDE)
    return fake_koji


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(hub: FakeKojiHub, sleeps: list[float]) -> Iterator[Make]:
    """Gateways on the fake hub: quick timeouts, no real sleeping (sleeps are recorded)."""
    made: list[kg.KojiGateway] = []

    def _make(**kw: Any) -> kg.KojiGateway:
        kw = {"timeout": 5.0, "retries": 2, "backoff": 0.5, "poll_interval": 0.25,
              "task_timeout": 30.0, "sleep": sleeps.append, **kw}  # fmt: skip
        made.append(kg.KojiGateway(hub.url, **kw))
        return made[-1]

    yield _make
    for gw in made:
        gw.close()


def mv(nvr: str = FOO, n: int = 1) -> kv.Move:
    return kv.Move(f"act-{n}", nvr, PENDING, RAWHIDE)


def writes(hub: FakeKojiHub) -> int:
    return sum(hub.count(m) for m in WRITES)


def client(hub: FakeKojiHub) -> Any:
    return koji.ClientSession(hub.url, {"max_retries": 0, "timeout": 5})


def test_move_a_pending_build(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING, "f44-build"])
    [res] = make().move([mv()])
    assert (res.outcome, res.attempts) == (MOVED, 1)
    assert res.detail == f"moved {PENDING} -> {RAWHIDE} by task {res.task_id}"
    assert hub.tags_of(FOO) == ["f44-build", RAWHIDE]
    assert hub.moves == 1
    rows = {r["tag_name"]: r for r in client(hub).tagHistory(build=FOO)}
    assert rows[PENDING]["revoke_event"] > rows[PENDING]["create_event"]
    assert rows[PENDING]["active"] is None
    assert rows[RAWHIDE]["active"] is True
    assert rows[RAWHIDE]["create_event"] >= rows[PENDING]["revoke_event"]
    expected = {"action_id": "act-1", "nvr": FOO, "outcome": MOVED, "detail": res.detail,
                "task_id": res.task_id, "attempts": 1}  # fmt: skip
    assert res.as_dict() == expected


def test_already_in_the_target_makes_no_write(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[RAWHIDE])
    [res] = make().move([mv()])
    assert (res.outcome, res.detail, res.task_id) == (ALREADY, f"already in {RAWHIDE}", None)
    assert writes(hub) == 0


def test_in_both_tags_the_stale_pending_tag_is_removed(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING, RAWHIDE])
    [res] = make().move([mv()])
    assert res.outcome == ALREADY
    assert "removed the stale rawhide-pending" in res.detail
    assert hub.tags_of(FOO) == [RAWHIDE]
    assert hub.count("untagBuild") == 1 and hub.count("moveBuild") == 0


def test_gone_does_nothing(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=["f44"])
    [res] = make().move([mv()])
    assert res.outcome == GONE
    assert res.detail == "not in rawhide-pending any more (tags: f44); nothing done"
    assert writes(hub) == 0


def test_unknown_or_unreadable_build_fails(hub: FakeKojiHub, make: Make) -> None:
    [res] = make().move([mv("nope-1-1")])
    assert (res.outcome, res.detail) == (FAILED, "no such build nope-1-1")
    hub.add_build(FOO, tags=[PENDING])
    hub.fail_next("getBuild", message="invalid format: foo")
    [res] = make().move([mv()])
    assert (res.outcome, res.detail) == (FAILED, f"cannot read {FOO}: invalid format: foo")
    assert writes(hub) == 0


def test_a_batch_moves_in_one_multicall(hub: FakeKojiHub, make: Make) -> None:
    nvrs = [f"pkg{n}-1.0-1.fc44" for n in range(8)]
    for nvr in nvrs:
        hub.add_build(nvr, tags=[PENDING])
    results = make().move([mv(nvr, n) for n, nvr in enumerate(nvrs)])
    assert [r.outcome for r in results] == [MOVED] * 8
    assert [r.action_id for r in results] == [f"act-{n}" for n in range(8)]
    assert len({r.task_id for r in results}) == 8
    move_calls = [a for m, a in hub.calls if m == "multiCall" and "moveBuild" in a[0]]
    assert len(move_calls) == 1 and hub.count("moveBuild") == 8
    assert hub.count("multiCall") == 3  # read, move, one poll
    assert hub.tagged(RAWHIDE) == sorted(nvrs) and hub.tagged(PENDING) == []


def test_a_refused_move_fails_only_that_build(hub: FakeKojiHub, make: Make) -> None:
    for nvr in ("a-1-1", "b-1-1", "c-1-1"):
        hub.add_build(nvr, tags=[PENDING])
    hub.fail_next("moveBuild", fault_code=koji.ActionNotAllowed.faultCode,
                  message="policy violation (tag: rawhide)")  # fmt: skip
    results = make().move([mv("a-1-1"), mv("b-1-1"), mv("c-1-1")])
    assert [r.outcome for r in results] == [FAILED, MOVED, MOVED]
    assert "policy violation (tag: rawhide)" in results[0].detail
    assert hub.tags_of("a-1-1") == [PENDING]


def test_a_failed_task_fails_with_its_message(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.fail_task_for(FOO, "tag rawhide is locked")
    [res] = make().move([mv()])
    assert res.outcome == FAILED and res.task_id is not None
    assert res.detail == f"task {res.task_id} failed: tag rawhide is locked"
    assert hub.tags_of(FOO) == [PENDING]


def test_a_task_open_for_three_polls(hub: FakeKojiHub, make: Make, sleeps: list) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.tasks_open_for_polls(3)
    [res] = make(poll_interval=0.25).move([mv()])
    assert res.outcome == MOVED
    assert sleeps == [0.25, 0.25, 0.25]
    assert hub.count("getTaskInfo") == 4


def test_dry_run_writes_nothing(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build("a-1-1", tags=[PENDING])
    hub.add_build("b-1-1", tags=[RAWHIDE])
    hub.add_build("c-1-1", tags=["f44"])
    hub.add_build("d-1-1", tags=[PENDING, RAWHIDE])
    moves = [mv(n) for n in ("a-1-1", "b-1-1", "c-1-1", "d-1-1")]
    results = make().move(moves, dry_run=True)
    assert [r.outcome for r in results] == [WOULD_MOVE, ALREADY, GONE, ALREADY]
    assert results[0].detail == "would move rawhide-pending -> rawhide"
    assert writes(hub) == 0 and hub.tags_of("d-1-1") == [RAWHIDE, PENDING]


def test_moving_again_is_already(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    gw = make()
    assert gw.move([mv()])[0].outcome == MOVED
    assert gw.move([mv()])[0].outcome == ALREADY
    assert hub.moves == 1 and hub.count("moveBuild") == 1


def test_the_same_build_twice_in_a_batch(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    first, second = make().move([mv(n=1), mv(n=2)])
    assert first.outcome == MOVED
    assert second.outcome == ALREADY and "failed" in second.detail  # the loser's task failed
    assert hub.moves == 1


def test_not_logged_in_is_no_fault_of_the_build(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.fail_next("moveBuild", fault_code=koji.AuthError.faultCode, message="Not logged-in")
    [res] = make().move([mv()])
    assert res.outcome == TRANSIENT and "Not logged-in" in res.detail


def test_waits_for_a_move_someone_else_started(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.tasks_open_for_polls(2)
    task = client(hub).moveBuild(PENDING, RAWHIDE, FOO)
    [res] = make().move([mv()])
    assert (res.outcome, res.task_id) == (ALREADY, task)
    assert hub.moves == 1 and hub.count("moveBuild") == 1


def test_503_twice_then_moved(hub: FakeKojiHub, make: Make, sleeps: list) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.http_error_next(2, status=503)
    [res] = make(backoff=0.5).move([mv()])
    assert (res.outcome, res.attempts) == (MOVED, 3)
    assert sleeps == [0.5, 1.0]


def test_persistent_503_is_transient(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.http_error_next(50, status=503)
    [res] = make(retries=3).move([mv()])
    assert (res.outcome, res.attempts) == (TRANSIENT, 4)
    assert "503" in res.detail and writes(hub) == 0


def test_a_hub_offline_fault_is_retried(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.fail_next("multiCall", fault_code=koji.ServerOffline.faultCode, message="outage")
    [res] = make().move([mv()])
    assert (res.outcome, res.attempts) == (MOVED, 2)


def test_a_refused_whole_call_is_transient_without_retries(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.fail_next("multiCall", fault_code=koji.AuthError.faultCode, message="no permission")
    [res] = make().move([mv()])  # not the build's fault: a later run tries again
    assert (res.outcome, res.attempts) == (TRANSIENT, 1)
    assert "refused the call" in res.detail and "no permission" in res.detail


def test_a_slow_hub_is_transient(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.delay("getBuild", 1.0)
    [res] = make(timeout=0.2, retries=1).move([mv()])
    assert (res.outcome, res.attempts) == (TRANSIENT, 2)
    assert "timed out" in res.detail.lower()


def test_a_task_still_running_is_transient_then_settled(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.tasks_open_for_polls(5)
    [res] = make(task_timeout=0.5, poll_interval=0.25).move([mv()])
    assert (res.outcome, res.detail) == (TRANSIENT, f"task {res.task_id} still running")
    [again] = make().move([mv()])  # waits for the running task instead of moving twice
    assert (again.outcome, again.task_id) == (ALREADY, res.task_id)
    assert again.detail == f"already in rawhide (moved by task {res.task_id})"
    assert hub.moves == 1 and hub.count("moveBuild") == 1


def test_crash_after_move_build_then_a_fresh_gateway(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    gate = hub.block("moveBuild")
    try:
        [lost] = make(timeout=0.5, retries=0).move([mv()])  # the answer never comes back
        assert lost.outcome == TRANSIENT
        assert hub.wait_called("moveBuild")
        [res] = make().move([mv()])
    finally:
        gate.set()
    assert res.outcome == ALREADY
    assert hub.moves == 1 and hub.count("moveBuild") == 1


def test_crash_in_an_abandoned_thread_with_a_running_task(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.tasks_open_for_polls(2)
    gate = hub.block("moveBuild")
    crashed = threading.Thread(target=make().move, args=([mv()],), daemon=True)
    crashed.start()  # abandoned: as if the process died while koji runs the task
    try:
        assert hub.wait_called("moveBuild")
        [res] = make().move([mv()])
    finally:
        gate.set()
        crashed.join(5)
    assert res.outcome == ALREADY and "moved by task" in res.detail
    assert hub.moves == 1 and hub.count("moveBuild") == 1


def test_a_lost_answer_is_retried_by_reading_again(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING])
    gate = hub.block("moveBuild")
    try:
        [res] = make(timeout=0.5, retries=2).move([mv()])
    finally:
        gate.set()
    assert (res.outcome, res.attempts) == (ALREADY, 2)
    assert hub.moves == 1 and hub.count("moveBuild") == 1


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (kv.KojiAuth("password"), "unknown koji auth method"),
        (kv.KojiAuth("ssl"), "needs cert"),
        (kv.KojiAuth("keytab", principal="relengotron@FEDORAPROJECT.ORG"), "needs both"),
        (kv.KojiAuth("keytab", keytab="/etc/r.keytab"), "needs both"),
        (kv.KojiAuth(""), "unknown koji auth method ''"),
    ],
)
def test_auth_validation(auth: kv.KojiAuth, message: str) -> None:
    with pytest.raises(kv.KojiConfigError, match=message):
        auth.validate()
    with pytest.raises(kv.KojiConfigError):
        kg.KojiGateway("http://127.0.0.1:1/kojihub", auth)


def test_valid_auth() -> None:
    kv.KojiAuth().validate()
    kv.KojiAuth("ssl", cert="/etc/pki/relengotron.pem", serverca="/etc/pki/ca.pem").validate()
    kv.KojiAuth("keytab", principal="r@EXAMPLE.ORG", keytab="/etc/r.keytab").validate()
    kv.KojiAuth("none", cert="/etc/unused.pem", keytab="/etc/unused.keytab").validate()  # ignored


def test_login_happens_before_the_first_write_only(
    hub: FakeKojiHub, make: Make, tmp_path: Any
) -> None:
    hub.add_build("a-1-1", tags=[RAWHIDE])
    hub.add_build("b-1-1", tags=[PENDING])
    gw = make(auth=kv.KojiAuth("ssl", cert=str(tmp_path / "missing.pem")))
    assert gw.move([mv("a-1-1")])[0].outcome == ALREADY  # no write: no login
    with pytest.raises(kv.KojiLoginError, match=r"missing\.pem"):
        gw.move([mv("b-1-1")])
    assert writes(hub) == 0


def test_keytab_login_failure(hub: FakeKojiHub, make: Make, tmp_path: Any) -> None:
    hub.add_build(FOO, tags=[PENDING])
    auth = kv.KojiAuth("keytab", principal="r@EXAMPLE.ORG", keytab=str(tmp_path / "no.keytab"))
    with pytest.raises(kv.KojiLoginError, match="keytab login"):
        make(auth=auth, retries=0).move([mv()])
    assert writes(hub) == 0


def test_reads(hub: FakeKojiHub, make: Make) -> None:
    hub.add_build(FOO, tags=[PENDING, "f44-build"])
    hub.add_build("bar-2-1.fc44", tags=[PENDING])
    gw = make()
    assert gw.tags_of(FOO) == ["f44-build", PENDING]
    assert gw.tags_of("nope-1-1") == []
    build = gw.build(FOO)
    assert build is not None and (build["nvr"], build["name"], build["state"]) == (FOO, "foo", 1)
    assert gw.build("nope-1-1") is None
    assert gw.tagged(PENDING) == ["bar-2-1.fc44", FOO]
    assert gw.tagged(RAWHIDE) == []
    with pytest.raises(koji.GenericError, match="No such tagInfo"):
        gw.tagged("no-such-tag")
    hub.fail_next("listTags", message="database trouble")
    with pytest.raises(koji.GenericError, match="database trouble"):
        gw.tags_of(FOO)
    assert writes(hub) == 0


def test_reads_retry_then_give_up(hub: FakeKojiHub, make: Make, sleeps: list) -> None:
    hub.add_build(FOO, tags=[PENDING])
    hub.http_error_next(1)
    assert make(retries=1).tags_of(FOO) == [PENDING]
    hub.http_error_next(2)
    with pytest.raises(kv.KojiUnavailable, match="after 2 tries"):
        make(retries=1).build(FOO)
    assert sleeps == [0.5, 0.5]


def test_empty_move_is_free(hub: FakeKojiHub, make: Make) -> None:
    assert make().move([]) == []
    assert hub.calls == []


def test_hub_speaks_multicall_and_faults(hub: FakeKojiHub) -> None:
    hub.add_build(FOO, tags=[PENDING])
    session = client(hub)
    with session.multicall() as m:
        build, tags, bad = m.getBuild(FOO), m.listTags(build=FOO), m.listTags(build="x-1-1")
    assert build.result["nvr"] == FOO and [t["name"] for t in tags.result] == [PENDING]
    with pytest.raises(koji.GenericError, match="No such build"):
        _ = bad.result
    with pytest.raises(koji.TagError, match="not in tag"):
        session.untagBuild(RAWHIDE, FOO)
    assert session.untagBuild(RAWHIDE, FOO, strict=False) is None
    assert ("listTags", ({"build": FOO},)) in hub.calls
    assert hub.count("listTags") == 2 and hub.count("multiCall") == 1


def test_hub_survives_clients_that_go_away(hub: FakeKojiHub) -> None:
    host, port = hub.url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port))) as sock:  # half a request, then gone
        sock.sendall(b"POST /kojihub HTTP/1.0\r\nContent-Length: 500\r\n\r\n<?xml")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"garbage\r\n\r\n")
    hub.delay("getAPIVersion", 0.5)
    with pytest.raises(Exception, match=r"(?i)timed? ?out"):
        koji.ClientSession(hub.url, {"max_retries": 0, "timeout": 0.1}).getAPIVersion()
    hub.delay("getAPIVersion", 0)
    assert client(hub).getAPIVersion() == 1
    assert hub.wait_called("getAPIVersion", times=2)
