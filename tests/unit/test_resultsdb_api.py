"""ResultsDB's read API over our results (issue 20 part 5), checked case by case against
ResultsDB's own functional tests, ``testing/functest_api_v20.py`` of
release-engineering/resultsdb at a0e1e8b (``test_get_results*``): the same results in,
the same answers out. Their semantics are ``resultsdb/controllers/api_v2.py``
(``select_results``, ``get_results_latest``, ``pagination``, ``prev_next_urls``) and
``resultsdb/parsers/api_v2.py`` (``ResultsParams``); the shape
``resultsdb/serializers/api_v2.py``, with the example of its ``APIDOCS.apiary``. Through
the HTTP app (FastAPI's test client) over the in-memory read model;
tests/integration/test_resultsdb_store.py does it over a real store."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from relengotron.adapters.http.app import create_app
from relengotron.policies.spec import PolicySet
from tests.fakes import FakeReadModel

TC = "scratch.testing.mytestcase"
GROUP = "3ce5f6d7-ce34-489b-ab61-325ce634eab5"
ITEM = "perl-Specio-0.25-1.fc26"
T0 = datetime(2024, 3, 1, 10, 0, 0)


class Results:
    """ResultsDB's helper_create_result: each result a second after the previous."""

    def __init__(self) -> None:
        self.rm = FakeReadModel()
        self.ids = itertools.count(1)
        self.t = T0
        self.app = TestClient(create_app(self.rm, PolicySet(()), token=None))

    def add(
        self,
        outcome: str = "PASSED",
        testcase: str = TC,
        data: dict[str, Any] | None = None,
        groups: list[str] | None = None,
        subject: tuple[str, str] = ("koji_build", ITEM),
    ) -> dict[str, Any]:
        self.t += timedelta(seconds=1)
        rid = next(self.ids)
        record = {
            "id": rid,
            "groups": groups if groups is not None else [GROUP],
            "testcase": {
                "name": testcase,
                "ref_url": "https://example.org/tc",
                "href": f"https://resultsdb/api/v2.0/testcases/{testcase}",
            },
            "submit_time": self.t.isoformat(),
            "outcome": outcome,
            "note": "",
            "ref_url": "https://example.org/log",
            "data": {k: v if isinstance(v, list) else [v] for k, v in (data or {}).items()},
            "href": f"https://resultsdb/api/v2.0/results/{rid}",
        }
        self.rm.add_result(*subject, testcase, outcome, at=self.t.isoformat() + "+00:00",
                           result_id=rid, record=record)  # fmt: skip
        return record

    def get(self, url: str, status: int = 200) -> Any:
        r = self.app.get(url)
        assert r.status_code == status, r.text
        return r.json()


@pytest.fixture
def db() -> Results:
    return Results()


def ref(db: Results) -> dict[str, Any]:
    """functest's ref_result: item, type, moo data."""
    return db.add(data={"item": ITEM, "type": "koji_build", "moo": ["boo", "woof"]})


def test_get_results_shape_and_default_order(db: Results) -> None:
    assert db.get("/api/v2.0/results") == {"prev": None, "next": None, "data": []}
    first = ref(db)
    second = db.add()
    out = db.get("/api/v2.0/results")
    assert [r["id"] for r in out["data"]] == [second["id"], first["id"]]
    shown = out["data"][1]
    for key in ("id", "testcase", "outcome", "submit_time", "data", "note", "ref_url",
                "groups", "href"):  # fmt: skip
        assert shown[key] == first[key], key
    assert isinstance(shown["id"], int)
    assert set(shown["testcase"]) == {"name", "ref_url", "href"}
    assert db.get(f"/api/v2.0/results/{first['id']}")["id"] == first["id"]
    assert db.get("/api/v2.0/results/999", 404) == {"message": "Result not found"}
    assert db.get("/api/v2.0/results/nope", 404) == {"message": "Result not found"}


def test_get_results_by_group_testcase_like_and_outcome(db: Results) -> None:
    uuid2 = "1c26effb-7c07-4d90-9428-86aac053288c"
    first = ref(db)
    db.add(groups=[uuid2], testcase=TC + ".fake", outcome="FAILED")
    assert [r["id"] for r in db.get(f"/api/v2.0/results?groups={GROUP}")["data"]] == [1]
    assert len(db.get(f"/api/v2.0/results?groups={GROUP},{uuid2}")["data"]) == 2
    assert [r["id"] for r in db.get(f"/api/v2.0/results?testcases={TC}")["data"]] == [1]
    assert len(db.get(f"/api/v2.0/results?testcases={TC},{TC}.fake")["data"]) == 2
    assert db.get(f"/api/v2.0/results?testcases:like={TC}")["data"][0] == db.get(
        f"/api/v2.0/results/{first['id']}"
    )
    both = db.get(f"/api/v2.0/results?testcases:like={TC}*")
    assert both["data"] == db.get(f"/api/v2.0/results?testcases:like={TC},{TC}*")["data"]
    assert len(both["data"]) == 2
    assert [r["id"] for r in db.get("/api/v2.0/results?outcome=PASSED")["data"]] == [1]
    assert len(db.get("/api/v2.0/results?outcome=passed,FAILED")["data"]) == 2
    bad = db.get("/api/v2.0/results?outcome=GREEN", 400)
    assert bad["validation_error"]["query_params"][0]["loc"] == ["outcome"]
    assert "must be one of: PASSED, INFO, FAILED, NEEDS_INSPECTION" in bad["message"]


def test_get_results_sorting_and_since(db: Results) -> None:
    ref(db)
    db.add(testcase="aa_fake." + TC)
    desc = db.get("/api/v2.0/results?_sort=desc:submit_time")["data"]
    asc = db.get("/api/v2.0/results?_sort=asc:submit_time")["data"]
    assert [r["testcase"]["name"] for r in desc] == ["aa_fake." + TC, TC]
    assert asc == desc[::-1]
    one = (T0 + timedelta(seconds=1)).isoformat()
    assert len(db.get(f"/api/v2.0/results?since={one}")["data"]) == 2
    assert len(db.get(f"/api/v2.0/results?since={one},{one}")["data"]) == 1
    later = (T0 + timedelta(seconds=100)).isoformat()
    assert db.get(f"/api/v2.0/results?since={later}")["data"] == []
    # The time zone is dropped, not converted (parse_since: replace(tzinfo=None)).
    assert len(db.get(f"/api/v2.0/results?since={one}%2B05:00")["data"]) == 2
    bad = db.get("/api/v2.0/results?since=yesterday", 400)
    assert bad["validation_error"]["query_params"][0]["loc"] == ["since"]


def test_get_results_by_result_data(db: Results) -> None:
    first = ref(db)
    db.add(data={"item": "other-1-1.fc26", "type": "koji_build"})
    for query in (f"item={ITEM}", f"item={ITEM}&moo=boo,woof", f"item={ITEM}&moo=boo,fake",
                  "moo:like=*oo*", "moo:like=*fake*,*oo*", f"item={ITEM}&item=nothing",
                  "moo:anything=boo"):  # fmt: skip
        data = db.get(f"/api/v2.0/results?{query}")["data"]
        assert [r["id"] for r in data] == [first["id"]], query
    # APIDOCS.apiary's own example: .../results?item:like=koschei*fc24*&outcome=PASSED,FAILED
    # &since=2016-08-15T13:00:00,2016-08-15T13:30:00
    since = f"{T0.isoformat()},{(T0 + timedelta(minutes=30)).isoformat()}"
    apiary = db.get(f"/api/v2.0/results?item:like=perl*fc26*&outcome=PASSED,FAILED&since={since}")
    assert [r["id"] for r in apiary["data"]] == [first["id"]]
    assert db.get("/api/v2.0/results?moo=fake")["data"] == []
    assert db.get("/api/v2.0/results?moo:like=oo")["data"] == []  # LIKE matches the whole
    assert db.get("/api/v2.0/results?moo:like=b_o")["data"][0]["id"] == first["id"]
    assert db.get("/api/v2.0/results?Moo=boo")["data"] == []  # keys are case-sensitive


def test_get_results_latest(db: Results) -> None:
    db.add(outcome="PASSED")
    assert len(db.get("/api/v2.0/results/latest")["data"]) == 1
    db.add(outcome="FAILED")
    out = db.get("/api/v2.0/results/latest")["data"]
    assert [r["outcome"] for r in out] == ["FAILED"]
    db.add(testcase=TC + ".1")
    out = db.get("/api/v2.0/results/latest")["data"]
    assert [(r["testcase"]["name"], r["outcome"]) for r in out] == [
        (TC + ".1", "PASSED"),
        (TC, "FAILED"),
    ]
    assert set(db.get("/api/v2.0/results/latest")) == {"data"}  # no paging there


def test_get_results_latest_modifiers(db: Results) -> None:
    db.add(outcome="PASSED")
    db.add(outcome="FAILED")
    db.add(testcase=TC + ".1", outcome="PASSED")
    db.add(testcase=TC + ".1", groups=["foobargroup"], outcome="FAILED")

    def seen(query: str) -> list[tuple[str, str]]:
        out = db.get(f"/api/v2.0/results/latest?{query}")["data"]
        return [(r["testcase"]["name"], r["outcome"]) for r in out]

    assert seen(f"testcases={TC}") == [(TC, "FAILED")]
    assert seen(f"testcases={TC},{TC}.1") == [(TC + ".1", "FAILED"), (TC, "FAILED")]
    assert seen("testcases:like=*") == [(TC + ".1", "FAILED"), (TC, "FAILED")]
    assert seen(f"groups={GROUP}") == [(TC + ".1", "PASSED"), (TC, "FAILED")]
    # ``outcome`` does not filter latest results (get_results_latest never passes it).
    assert seen("outcome=PASSED") == [(TC + ".1", "FAILED"), (TC, "FAILED")]


def test_get_results_latest_distinct_on(db: Results) -> None:
    db.add(outcome="PASSED", data={"scenario": "scenario1"})
    db.add(outcome="FAILED", data={"scenario": "scenario2"})
    out = db.get(f"/api/v2.0/results/latest?testcases={TC}&_distinct_on=scenario")["data"]
    assert [r["data"]["scenario"][0] for r in out] == ["scenario2", "scenario1"]
    out = db.get(f"/api/v2.0/results/latest?testcases={TC}")["data"]
    assert [r["data"]["scenario"][0] for r in out] == ["scenario2"]
    wrong = db.get("/api/v2.0/results/latest?_distinct_on=scenario", 400)
    assert wrong == {"message": "Please, provide at least one filter beside '_distinct_on'"}


@pytest.mark.parametrize("case", [1, 2, 3])
def test_get_results_latest_distinct_on_more_specific_cases(db: Results, case: int) -> None:
    db.add(outcome="PASSED", testcase="tc_1", data={"item": "grub", "scenario": "s_1"})
    db.add(outcome="PASSED", testcase="tc_2", data={"item": "grub", "scenario": "s_1"})
    db.add(outcome="PASSED", testcase="tc_2", data={"item": "grub", "scenario": "s_2"})
    db.add(outcome="PASSED", testcase="tc_3", data={"item": "grub"})
    if case >= 2:
        db.add(outcome="FAILED", testcase="tc_1", data={"item": "grub"})
    if case >= 3:
        db.add(outcome="INFO", testcase="tc_1", data={"item": "grub", "scenario": "s_1"})
    out = db.get("/api/v2.0/results/latest?item=grub&_distinct_on=scenario")["data"]
    assert len(out) == {1: 4, 2: 5, 3: 5}[case]
    if case == 3:
        items = [(x["data"].get("scenario", [None])[0], x["testcase"]["name"], x["outcome"])
                 for x in out]  # fmt: skip
        assert items == [
            ("s_1", "tc_1", "INFO"),
            (None, "tc_1", "FAILED"),
            (None, "tc_3", "PASSED"),
            ("s_2", "tc_2", "PASSED"),
            ("s_1", "tc_2", "PASSED"),
        ]


def test_get_results_latest_distinct_on_with_scenario_not_defined(db: Results) -> None:
    db.add(outcome="PASSED")
    db.add(outcome="FAILED")
    out = db.get(f"/api/v2.0/results/latest?testcases={TC}&_distinct_on=scenario")["data"]
    assert [r["outcome"] for r in out] == ["FAILED"]


def test_paging_links_as_prev_next_urls(db: Results) -> None:
    for _ in range(5):
        db.add()
    first = db.get("/api/v2.0/results?limit=2&item=x&callback=cb")
    # No data filter matched: item=x and callback=cb are data filters here.
    assert first == {"prev": None, "next": None, "data": []}
    page0 = db.get("/api/v2.0/results?limit=2")
    assert [r["id"] for r in page0["data"]] == [5, 4]
    assert page0["prev"] is None
    assert page0["next"] == "http://testserver/api/v2.0/results?limit=2&page=1"
    page1 = db.get(page0["next"])
    assert [r["id"] for r in page1["data"]] == [3, 2]
    assert page1["prev"] == "http://testserver/api/v2.0/results?limit=2&page=0"
    page2 = db.get(page1["next"])
    assert [r["id"] for r in page2["data"]] == [1] and page2["next"] is None
    assert db.get("/api/v2.0/results?page=-1&limit=2")["data"][0]["id"] == 5
    assert db.get("/api/v2.0/results?limit=0")["data"] == []
    assert db.get("/api/v2.0/results?limit=many", 400)["validation_error"]
    assert len(db.get("/api/v2.0/results")["data"]) == 5  # limit 20 by default


def test_records_we_rebuilt_are_found_by_greenwaves_keys() -> None:
    """A result from a CI message (no ResultsDB record) answers as ResultsDB would, and
    a compose's is found by ``productmd.compose.id`` (Greenwave's
    ``conf/subject_types/compose.yaml`` item_key)."""
    db = Results()
    compose = "Fedora-Rawhide-20261206.n.0"
    db.rm.add_result("compose", compose, "compose.install_default", "PASSED",
                     at="2026-12-06T10:00:00+00:00", origin="ci",
                     scenario="fedora.Server-dvd-iso.x86_64.64bit")  # fmt: skip
    db.rm.add_result("koji_build", ITEM, "invalid.test", "INVALID",
                     at="2026-12-06T10:00:00+00:00", origin="ci")  # fmt: skip
    out = db.get(f"/api/v2.0/results/latest?productmd.compose.id={compose}"
                 "&_distinct_on=scenario,system_architecture,system_variant")["data"]  # fmt: skip
    (r,) = out
    assert r["data"] == {
        "type": ["compose"],
        "item": [compose],
        "productmd.compose.id": [compose],
        "scenario": ["fedora.Server-dvd-iso.x86_64.64bit"],
    }
    assert r["id"] < 0 and r["submit_time"] == "2026-12-06T10:00:00.000000"
    assert r["href"] == f"http://testserver/api/v2.0/results/{r['id']}"
    assert r["testcase"] == {"name": "compose.install_default", "ref_url": None, "href": None}
    # INVALID results (ours) are not ResultsDB's: never served.
    assert db.get(f"/api/v2.0/results?item={ITEM}")["data"] == []
