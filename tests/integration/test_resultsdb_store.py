"""ResultsDB's read API over a real store (SQLite and PostgreSQL), read as Greenwave reads
ResultsDB (issue 20 part 5).

``greenwave_results`` sends the queries Greenwave's ``ResultsRetriever`` sends
(release-engineering/greenwave ``greenwave/resources.py``: ``GET <url>/results/latest``
with ``_distinct_on`` = ``DISTINCT_LATEST_RESULTS_ON`` of ``greenwave/config.py``,
``since=1900-01-01T00:00:00.000000,<when>`` when asked as of a time, ``testcases`` for
one testcase), one per query of the subject type (``greenwave/subjects/subject.py``
``result_queries`` with ``conf/subject_types/koji_build.yaml``: ``type=koji_build,
brew-build&item=X`` and ``original_spec_nvr=X``; ``compose.yaml``:
``productmd.compose.id=X``), as ``requests`` encodes ``params``. The answers are checked
against the results the messages carried."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from relengotron.adapters import bootstrap
from relengotron.adapters.http.app import create_app
from relengotron.adapters.services import inputs
from relengotron.adapters.settings import Settings
from relengotron.adapters.store.readmodel_queries import SQLReadModel
from relengotron.policies.spec import PolicySet
from tests.messages import PREFIX, Bus, write

NVR = "bash-5.3-1.fc44"
OTHER = "bash-5.3-2.fc44"
COMPOSE = "Fedora-Rawhide-20261206.n.0"
DISTINCT_ON = "scenario,system_architecture,system_variant"  # greenwave/config.py
RESULT_QUERIES = {  # greenwave conf/subject_types/*.yaml result_queries (or item_dict)
    "koji_build": [{"type": "koji_build,brew-build", "item_key": "item"},
                   {"item_key": "original_spec_nvr"}],
    "compose": [{"item_key": "productmd.compose.id"}],
}  # fmt: skip


def resultsdb(bus: Bus, rid: int, testcase: str, outcome: str, data: dict[str, Any]) -> Any:
    return bus.msg(
        f"{PREFIX}.resultsdb.result.new",
        {
            "id": rid,
            "outcome": outcome,
            "testcase": {"name": testcase, "ref_url": f"https://docs.example.org/{testcase}",
                         "href": f"https://resultsdb.example.org/api/v2.0/testcases/{testcase}"},
            "data": {k: v if isinstance(v, list) else [v] for k, v in data.items()},
            "ref_url": f"https://ci.example.org/{rid}",
            "note": f"note {rid}",
            "groups": ["27b4b8a2-6a62-4b9e-9a43-6f8d2d8f0a11"],
            "submit_time": bus.t.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "href": f"https://resultsdb.example.org/api/v2.0/results/{rid}",
        },
    )  # fmt: skip


@pytest.fixture
def site(store: Any, tmp_path: Path) -> Iterator[tuple[TestClient, Bus, dict[str, Any]]]:
    bus = Bus()
    koji = {"type": "koji_build", "item": NVR}
    x86, arm = {"system_architecture": "x86_64"}, {"system_architecture": "aarch64"}
    deplint = "dist.rpmdeplint"
    sent = {
        "old": resultsdb(bus, 101, deplint, "FAILED", koji | x86),
        "new": resultsdb(bus, 102, deplint, "PASSED", koji | x86),
        "arm": resultsdb(bus, 103, deplint, "FAILED", koji | arm),
        "spec": resultsdb(bus, 104, "dist.abicheck", "PASSED", {"original_spec_nvr": NVR}),
        "brew": resultsdb(bus, 105, "dist.legacy", "INFO", {"type": "brew-build", "item": NVR}),
        "other": resultsdb(bus, 106, deplint, "PASSED", {"type": "koji_build", "item": OTHER}),
        "openqa": resultsdb(bus, 107, "compose.install_default", "PASSED",
                            {"productmd.compose.id": COMPOSE, "item": COMPOSE, "type": "compose",
                             "scenario": "fedora.Server-dvd-iso.x86_64.64bit"}),
        "stage": bus.stage(NVR, "SUCCESS"),  # a CI message: its record rebuilt by us
        "ci-compose": bus.compose_result(COMPOSE, "fedora-ci.compose.tier0.functional", "passed"),
    }  # fmt: skip
    path = write(tmp_path / "in.jsonl", list(sent.values()))
    cfg = Settings()
    inputs.ingest(store, [str(path)], cfg=cfg)
    bootstrap.projector(store, cfg).run()
    app = create_app(SQLReadModel.of(store, cfg.gating), PolicySet(()), token=None)
    yield TestClient(app), bus, sent


def greenwave_results(
    client: TestClient,
    subject_type: str,
    item: str,
    testcase: str | None = None,
    when: str | None = None,
) -> list[dict[str, Any]]:
    """ResultsRetriever._retrieve_all: one /results/latest query per result query."""
    params: dict[str, str] = {"_distinct_on": DISTINCT_ON}
    if when:
        params["since"] = f"1900-01-01T00:00:00.000000,{when}"
    if testcase:
        params["testcases"] = testcase
    results: list[dict[str, Any]] = []
    for query_dict in RESULT_QUERIES[subject_type]:
        query = {query_dict["item_key"]: item}
        if "type" in query_dict:
            query["type"] = query_dict["type"]
        query.update(params)
        r = client.get("/api/v2.0/results/latest", params=query)
        assert r.status_code == 200, r.text
        results.extend(r.json()["data"])
    return results


def _ids(results: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in results]


def test_greenwave_reads_a_builds_latest_results(site: Any) -> None:
    client, _, sent = site
    got = greenwave_results(client, "koji_build", NVR)
    # First query (type=koji_build,brew-build & item): the newest rpmdeplint of each
    # architecture, the brew-build result, our CI stage result; second (original_spec_nvr):
    # abicheck. The older x86_64 rpmdeplint and the other build's never.
    resultsdb_ids = [r["id"] for r in got if r["id"] > 0]
    assert sorted(resultsdb_ids) == [102, 103, 104, 105]
    (stage,) = [r for r in got if r["id"] < 0]
    assert stage["testcase"]["name"] == (
        "org.centos.prod.ci.pipeline.allpackages-build.package.test.functional.complete"
    )
    assert stage["data"]["item"] == [NVR] and stage["data"]["type"] == ["koji_build"]
    # ResultsDB's record, as ResultsDB gave it (the serializer's keys and values).
    (new,) = [r for r in got if r["id"] == 102]
    body = sent["new"]["body"]
    for key in ("testcase", "outcome", "note", "ref_url", "groups", "href", "submit_time"):
        assert new[key] == body[key], key
    assert new["data"]["system_architecture"] == ["x86_64"]


def test_greenwave_as_of_a_time_and_for_one_testcase(site: Any) -> None:
    client, _, sent = site
    # Asked as of just after the first result: only it existed then.
    first = sent["old"]["body"]["submit_time"]
    got = greenwave_results(client, "koji_build", NVR, when=first)
    assert _ids(got) == [101]
    got = greenwave_results(client, "koji_build", NVR, testcase="dist.rpmdeplint")
    assert sorted(_ids(got)) == [102, 103]


def test_greenwave_reads_a_composes_results(site: Any) -> None:
    client, _, _ = site
    got = greenwave_results(client, "compose", COMPOSE)
    names = sorted(r["testcase"]["name"] for r in got)
    assert names == ["compose.install_default", "fedora-ci.compose.tier0.functional"]
    for r in got:
        assert r["data"]["productmd.compose.id"] == [COMPOSE]


def test_filters_paging_and_one_result_over_the_store(site: Any) -> None:
    client, _, _ = site
    page = client.get("/api/v2.0/results", params={"limit": 3}).json()
    assert len(page["data"]) == 3 and page["prev"] is None
    assert page["next"] == "http://testserver/api/v2.0/results?limit=3&page=1"
    rest = client.get(page["next"]).json()
    every = client.get("/api/v2.0/results", params={"limit": 100}).json()["data"]
    assert _ids(page["data"] + rest["data"]) == _ids(every)[:6]
    assert len(every) == 9
    times = [r["submit_time"] for r in every]
    assert times == sorted(times, reverse=True)
    # Paged in the store (no data filter) or checked here (testcases:like=* matches every
    # result): the same results in the same order, whatever the sort and bounds.
    since = f"{every[6]['submit_time']},{every[1]['submit_time']}"
    sorts = ({}, {"_sort": "asc:submit_time"}, {"_sort": "disable_sorting"})
    for extra in (*sorts, {"since": since}, {"outcome": "PASSED,INFO"}, {"page": 1, "limit": 4}):
        in_store = client.get("/api/v2.0/results", params={"limit": 100} | extra).json()
        here = client.get(
            "/api/v2.0/results", params={"limit": 100, "testcases:like": "*"} | extra
        ).json()
        assert _ids(in_store["data"]) == _ids(here["data"]), extra
        assert in_store["data"], extra
    assert len(client.get("/api/v2.0/results", params={"since": since}).json()["data"]) == 6
    like = client.get("/api/v2.0/results", params={"testcases:like": "dist.*", "outcome": "FAILED"})
    assert sorted(_ids(like.json()["data"])) == [101, 103]
    arch = client.get("/api/v2.0/results", params={"system_architecture:like": "aarch*"})
    assert _ids(arch.json()["data"]) == [103]
    percent = client.get("/api/v2.0/results", params={"item": "bash-5.3-1%"})
    assert percent.json()["data"] == []  # exact values are not patterns
    assert client.get("/api/v2.0/results/104").json()["data"] == {"original_spec_nvr": [NVR]}
    assert client.get("/api/v2.0/results/1040").status_code == 404


def test_a_store_written_by_the_previous_code_answers(tmp_path: Path) -> None:
    """tests/fixtures/store_main_20261206.db (main before this change; no read-model tables):
    projected by today's code, every result it holds is served, in ResultsDB's shape, and
    Greenwave's queries for a build find that build's results."""
    import shutil

    from relengotron.adapters.store.store import open_app
    from relengotron.domain import topics

    db = tmp_path / "old.db"
    shutil.copyfile(Path(__file__).resolve().parents[1] / "fixtures" / "store_main_20261206.db", db)
    store = open_app(f"sqlite:///{db}")
    try:
        cfg = Settings()
        bootstrap.projector(store, cfg).run()
        recorded = [
            n for n in store.recorder.select_notifications(
                start=1, limit=100_000, topics=(topics.SUBJECT_RESULT_RECORDED,))
        ]  # fmt: skip
        client = TestClient(
            create_app(SQLReadModel.of(store, cfg.gating), PolicySet(()), token=None)
        )
        every = client.get("/api/v2.0/results", params={"limit": 10_000}).json()
        assert every["next"] is None and every["data"]
        subjects = {(r["data"]["type"][0], r["data"]["item"][0]) for r in every["data"]}
        # One record per result recorded on its subject's stream (a result about a build
        # is also recorded on the build's stream, and other streams; only once here).
        assert len(every["data"]) <= len(recorded)
        for r in every["data"]:
            assert isinstance(r["id"], int) and set(r["testcase"]) == {"name", "ref_url", "href"}
            assert r["outcome"] != "INVALID"
        typ, item = sorted(s for s in subjects if s[0] == "koji_build")[0]
        got = greenwave_results(client, typ, item)
        assert got and all(r["data"]["item"] == [item] or
                           r["data"].get("original_spec_nvr") == [item] for r in got)  # fmt: skip
        mine = [r for r in every["data"] if r["data"]["item"] == [item]]
        latest = {(r["testcase"]["name"], *(tuple(r["data"].get(k, [None]))
                   for k in DISTINCT_ON.split(","))) for r in mine}  # fmt: skip
        assert len(got) == len(latest)
    finally:
        store.close()


def test_long_data_values_are_matched_whole(store: Any, tmp_path: Path) -> None:
    """Data values are looked up by their first VALUE_CHARS characters (an index entry
    has a size limit on PostgreSQL); the whole value decides."""
    from relengotron.projections.folds.greenwave_records import VALUE_CHARS

    bus = Bus()
    common = "x" * (VALUE_CHARS + 50)
    one, two = common + "-one", common + "-two"
    koji = {"type": "koji_build", "item": NVR}
    messages = [
        resultsdb(bus, 201, "dist.long", "PASSED", koji | {"long": one}),
        resultsdb(bus, 202, "dist.long", "FAILED", koji | {"long": two}),
    ]
    cfg = Settings()
    inputs.ingest(store, [str(write(tmp_path / "long.jsonl", messages))], cfg=cfg)
    bootstrap.projector(store, cfg).run()
    client = TestClient(create_app(SQLReadModel.of(store, cfg.gating), PolicySet(()), token=None))
    for value, wanted in ((one, [201]), (two, [202]), (f"{one},{two}", [202, 201]), (common, [])):
        got = client.get("/api/v2.0/results", params={"long": value}).json()["data"]
        assert _ids(got) == wanted


def test_broad_and_narrow_data_filters_together(store: Any, tmp_path: Path) -> None:
    """``type=koji_build`` names every result, ``item`` a few: the answer is the same
    whichever the store looks up first (more results of a type than the first lookup
    takes)."""
    bus = Bus()
    messages = [
        resultsdb(bus, 300 + n, f"dist.t{n % 2}", "PASSED",
                  {"type": "koji_build", "item": f"pkg{n // 2}-1-1.fc44"})
        for n in range(230)
    ]  # fmt: skip
    cfg = Settings()
    inputs.ingest(store, [str(write(tmp_path / "many.jsonl", messages))], cfg=cfg)
    bootstrap.projector(store, cfg).run()
    client = TestClient(create_app(SQLReadModel.of(store, cfg.gating), PolicySet(()), token=None))
    both = {"type": "koji_build,brew-build", "item": "pkg7-1-1.fc44"}
    assert sorted(_ids(client.get("/api/v2.0/results", params=both).json()["data"])) == [314, 315]
    every = client.get("/api/v2.0/results", params={"type": "koji_build", "limit": 500}).json()
    assert len(every["data"]) == 230 and every["next"] is None
    latest = client.get("/api/v2.0/results/latest", params={"type": "koji_build"}).json()
    assert sorted(_ids(latest["data"])) == [528, 529]  # the newest of each testcase
