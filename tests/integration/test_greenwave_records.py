"""On a real store: what Greenwave would answer, from messages through the read models,
and the decider agreeing with the decision API (issue 15, items 1, 3 and 5).

References (the mirrored sources):
* ResultsDB ``resultsdb/serializers/api_v2.py`` (a result: ``id`` integer, ``groups``,
  ``testcase{name, ref_url, href}``, ``submit_time`` ``isoformat()`` of a naive UTC
  time, ``note``, ``ref_url``, ``data`` of lists, ``href``) and ``resultsdb/messaging.py``
  (``resultsdb.result.new`` carries that same object);
* WaiverDB ``waiverdb/fields.py`` (``id`` integer, ``proxied_by``, ``subject``, ...)
  and ``waiverdb/api_v1.py`` (``brew-build`` stored as ``koji_build``);
* Greenwave ``conf/subject_types/koji_build.yaml`` (``aliases: [brew-build]``),
  ``greenwave/waivers.py`` (``subject_type.matches``), ``greenwave/policies.py``
  (requirement keys) and ``greenwave/decision.py`` (verbose answers);
* Bodhi ``bodhi-server/bodhi/server/templates/update.html`` shows each verbose result
  with ``moment(result.submit_time + ' Z')``, ``result.data.item[0]``,
  ``result.data.arch`` and ``result.note``.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.cli.main import main
from relengotron.adapters.http.decision_request import decide
from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.adapters.settings import DEFAULT_POLICIES
from relengotron.adapters.store.readmodel_queries import SQLReadModel
from relengotron.adapters.store.readmodels import Projector
from relengotron.adapters.store.store import open_app
from relengotron.domain.application import RelengApp
from relengotron.policies.spec import PolicySet
from relengotron.projections.decision_api import DecisionService
from relengotron.projections.processes.decider import Decider
from tests.integration.test_decision_replay import CONFIG, POLICIES, run
from tests.messages import CI_CONTACT, PREFIX, Bus

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_before_gw_verdict.db"
OLD_NVR = "gating-1.0-1.fc44"
STEADY = "steady-2.0-1.fc44"
NVR = "vim-9.1-1.fc44"
NOW = datetime(2026, 11, 21, tzinfo=UTC)
RESULTSDB_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")


def resultsdb_body(rid: int, nvr: str, outcome: str, arch: str) -> dict[str, Any]:
    """A ``resultsdb.result.new`` body: ResultsDB's API v2 result, as it publishes it."""
    return {
        "id": rid,
        "groups": [f"27f94e36-62ec-11e6-83fd-525400d7d6a{rid % 10}"],
        "testcase": {
            "name": "dist.rpmdeplint",
            "ref_url": "https://fedoraproject.org/wiki/Taskotron/Tasks/dist.rpmdeplint",
            "href": "https://resultsdb.example.org/api/v2.0/testcases/dist.rpmdeplint",
        },
        "submit_time": f"2026-11-20T09:0{rid % 10}:00.250000",
        "outcome": outcome,
        "note": "",
        "ref_url": f"https://taskotron.example.org/{arch}/{rid}",
        "data": {
            "item": [nvr],
            "type": ["koji_build"],
            "arch": [arch, "noarch"],
            "system_architecture": [arch],
        },
        "href": f"https://resultsdb.example.org/api/v2.0/results/{rid}",
    }


def ci_spec(bus: Bus, nvr: str, result: str, arch: str) -> dict[str, Any]:
    """A Fedora CI spec 1.x ``koji-build.test.complete`` with its tested ``system``."""
    return bus.msg(
        f"{PREFIX}.ci.koji-build.test.complete",
        {
            "contact": CI_CONTACT,  # valid per the spec's schema (contact needs team, docs)
            "run": {"url": "https://ci.example.org/run/7", "log": "https://ci.example.org/l"},
            "artifact": {"type": "koji-build", "id": 1, "nvr": nvr, "issuer": "packager",
                         "component": nvr.rsplit("-", 2)[0], "scratch": False},
            "pipeline": {"id": "p-7", "name": "tier0"},
            "system": [{"os": "fedora-44", "provider": "testing-farm", "architecture": arch,
                        "variant": "Server"}],
            "test": {"namespace": "fedora-ci", "type": "tier0", "category": "functional",
                     "result": result},
            "generated_at": bus.t.isoformat(),
            "version": "1.1.14",
        },
    )  # fmt: skip


def api_of(app: RelengApp, policies: PolicySet = POLICIES) -> DecisionService:
    Projector(app, CONFIG).run()
    return DecisionService(SQLReadModel.of(app, CONFIG), policies)


def ask(api: DecisionService, nvr: str, **extra: Any) -> dict[str, Any]:
    request = {"product_version": "fedora-rawhide", "decision_context": "rawhide_pending",
               "subject_type": "koji_build", "subject_identifier": nvr, **extra}  # fmt: skip
    return decide(api, request, NOW)


def assert_decider_agrees(
    app: RelengApp, api: DecisionService, nvr: str, policies: PolicySet = POLICIES
) -> dict[str, Any]:
    """The decider's latest recorded decision and the decision API's answer are one."""
    view = Decider(app, policies, CONFIG).read_view()
    recorded = view.gates[nvr].decision
    answer = ask(api, nvr)
    for key in ("policies_satisfied", "summary", "applicable_policies"):
        assert answer[key] == recorded[key], key
    for key in ("satisfied_requirements", "unsatisfied_requirements"):
        got = [{k: v for k, v in r.items() if k != "state"} for r in answer[key]]
        assert got == recorded[key], key
    return answer


def test_resultsdb_ci_and_waiverdb_records_as_greenwave_gives_them(tmp_path: Path) -> None:
    bus = Bus()
    msgs = [bus.built(NVR), bus.tagged(NVR), bus.stage(NVR, "SUCCESS")]
    msgs.append(bus.group_check("check-1", [NVR], "passed"))
    failed = resultsdb_body(91_000_001, NVR, "FAILED", "ppc64le")
    passed = resultsdb_body(91_000_002, NVR, "PASSED", "x86_64")
    msgs += [bus.msg(f"{PREFIX}.resultsdb.result.new", b) for b in (failed, passed)]
    msgs.append(ci_spec(bus, NVR, "passed", "aarch64"))
    app = run(tmp_path / "s.db", msgs, [])
    api = api_of(app)

    # 1. The failure on ppc64le is not hidden by the later pass on x86_64.
    out = assert_decider_agrees(app, api, NVR)
    assert out["summary"] == "Of 4 required tests, 1 test failed"
    (bad,) = out["unsatisfied_requirements"]
    assert (bad["result_id"], bad["system_architecture"]) == (91_000_001, "ppc64le")
    assert bad["item"] == {"type": "koji_build", "item": NVR} and bad["source"] is None

    # 3. Verbose records: ResultsDB's exactly as it published them (ids are integers).
    out = ask(api, NVR, verbose=True)
    by_id = {r["id"]: r for r in out["results"]}
    for body in (failed, passed):
        assert {k: by_id[body["id"]][k] for k in body} == body
    (ci,) = [r for r in out["results"] if r["testcase"]["name"] == "fedora-ci.tier0.functional"]
    assert ci["id"] < 0  # no ResultsDB id: derived from its event
    assert ci["testcase"] == {"name": "fedora-ci.tier0.functional", "ref_url": None,
                              "href": None}  # fmt: skip
    assert RESULTSDB_TIME.match(ci["submit_time"]) and ci["note"] == ""
    assert ci["data"]["system_architecture"] == ["aarch64"]
    assert ci["data"]["system_variant"] == ["Server"]
    # The CI result's id is stable: the same on every request, and it can be ignored.
    assert [r["id"] for r in ask(api, NVR, verbose=True)["results"]].count(ci["id"]) == 1
    assert ci["id"] not in [
        r["id"] for r in ask(api, NVR, verbose=True, ignore_result=[ci["id"]])["results"]
    ]

    # 5. A waiver about the build under its alias waives it, in the decider and the API.
    waiver = {"id": 8123, "subject_type": "brew-build", "subject_identifier": NVR,
              "subject": {"type": "brew-build", "item": NVR}, "testcase": "dist.rpmdeplint",
              "scenario": None, "waived": True, "product_version": "fedora-rawhide",
              "username": "releng", "proxied_by": "bodhi", "comment": "ppc64le builder broken",
              "timestamp": "2026-11-20T09:30:00.000001"}  # fmt: skip
    run(app, [bus.msg(f"{PREFIX}.waiverdb.waiver.new", waiver)], [])
    api = api_of(app)
    out = assert_decider_agrees(app, api, NVR)
    assert out["policies_satisfied"] is True
    waived = [r for r in out["satisfied_requirements"] if r["type"].endswith("-waived")]
    assert [(r["waiver_id"], r["system_architecture"]) for r in waived] == [(8123, "ppc64le")]
    (record,) = ask(api, NVR, verbose=True)["waivers"]
    assert {k: record[k] for k in waiver} == waiver  # WaiverDB's, proxied_by included


def test_a_store_written_before_keeps_working(tmp_path: Path) -> None:
    """The committed fixture was written by the code before these changes (results
    without arch columns or records, a waiver stored under ``brew-build``)."""
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    app = open_app(f"sqlite:///{path}")
    report = Projector(app, CONFIG).run()
    assert report.rebuilt  # the read-model format changed: rebuilt by itself
    api = DecisionService(SQLReadModel.of(app, CONFIG), POLICIES)
    out = ask(api, OLD_NVR, verbose=True)
    assert out["summary"] == "All required tests (4 total) have passed or been waived"
    waived = [r for r in out["satisfied_requirements"] if r["type"].endswith("-waived")]
    assert [(r["waiver_id"], r["result_id"], r["system_architecture"]) for r in waived] == [
        (7001, 81_000_001, "ppc64le")
    ]
    # Records rebuilt from the old events: ResultsDB's data (first values) as lists.
    by_id = {r["id"]: r for r in out["results"]}
    old = by_id[81_000_001]
    assert old["data"]["system_architecture"] == ["ppc64le"] and old["note"] == ""
    assert RESULTSDB_TIME.match(old["submit_time"])
    assert [w["id"] for w in out["waivers"]] == [7001]
    assert out["waivers"][0]["subject_type"] == "koji_build"
    # The decider, resumed on the old store, decides the next message the same way.
    steady = Decider(app, POLICIES, CONFIG).read_view().gates[STEADY]
    bus = Bus(start=datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    run(app, [bus.stage(OLD_NVR, "SUCCESS"), bus.rpmdeplint(STEADY)], [])
    api = api_of(app)
    out = assert_decider_agrees(app, api, OLD_NVR)
    view = Decider(app, POLICIES, CONFIG).read_view()
    assert view.gates[OLD_NVR].verdict == "waived"
    # A build whose answer did not change gets no new decision (and so no new message)
    # although its requirements now have more keys: the new keys count only when set.
    assert view.gates[STEADY].decision["summary"] == steady.decision["summary"]
    assert (view.gates[STEADY].version, view.gates[STEADY].decided_by) == (
        steady.version,
        steady.decided_by,
    )
    # Its recorded decision keeps the old shape; its substance is the API's answer.
    answer = ask(api, STEADY)
    assert answer["summary"] == steady.decision["summary"]
    assert [(r["type"], r["testcase"]) for r in answer["satisfied_requirements"]] == [
        (r["type"], r["testcase"]) for r in steady.decision["satisfied_requirements"]
    ]


@pytest.mark.parametrize("arch_first", ["x86_64", "ppc64le"])
def test_the_latest_per_architecture_whatever_the_order(tmp_path: Path, arch_first: str) -> None:
    bus = Bus()
    other = "ppc64le" if arch_first == "x86_64" else "x86_64"
    msgs = [bus.built(NVR), bus.tagged(NVR), bus.stage(NVR, "SUCCESS")]
    msgs.append(bus.group_check("check-1", [NVR], "passed"))
    bodies = [resultsdb_body(1, NVR, "FAILED", arch_first), resultsdb_body(2, NVR, "PASSED", other)]
    msgs += [bus.msg(f"{PREFIX}.resultsdb.result.new", b) for b in bodies]
    app = run(tmp_path / "s.db", msgs, [])
    out = assert_decider_agrees(app, api_of(app), NVR)
    assert out["summary"] == "Of 4 required tests, 1 test failed"


def test_decision_command_on_a_store_written_before(tmp_path: Path, capsys: Any) -> None:
    """``relengotron decision`` on an upgraded store answers (its read models are
    rebuilt first), with integer ids, and shows the architecture to people."""
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    argv = ["decision", OLD_NVR, "--product-version", "fedora-rawhide",
            "--context", "rawhide_pending", "--db", f"sqlite:///{path}"]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["result_id"] for r in out["satisfied_requirements"]} >= {81_000_001, 81_000_002}
    assert main(argv) == 0
    assert "dist.rpmdeplint [ppc64le]" in capsys.readouterr().out


def test_an_invalid_message_never_hides_a_valid_result_from_the_api(tmp_path: Path) -> None:
    """A valid FAILED then an invalid PASSED (no ``contact``: it fails the spec's schema)
    for the same test on the same system: ResultsDB would never have stored the second
    (resultsdb-updater drops what fails the schema), so Greenwave still sees the failure.
    The decision API keeps the failure in force, as the engine does for the decider."""
    bus = Bus()
    msgs = [bus.built(NVR), bus.tagged(NVR), bus.stage(NVR, "SUCCESS")]
    msgs.append(bus.group_check("check-1", [NVR], "passed"))
    msgs.append(ci_spec(bus, NVR, "failed", "x86_64"))
    invalid = ci_spec(bus, NVR, "passed", "x86_64")
    del invalid["body"]["contact"]
    msgs.append(invalid)
    app = run(tmp_path / "s.db", msgs, [])
    api = api_of(app)
    # An on-demand rule (Greenwave's ``rules`` in the request) asks for the CI test.
    rules = [{"type": "PassingTestCaseRule", "test_case_name": "fedora-ci.tier0.functional"}]
    request = {"product_version": "fedora-rawhide", "subject_type": "koji_build",
               "subject_identifier": NVR, "rules": rules}  # fmt: skip
    out = decide(api, request, NOW)
    assert out["policies_satisfied"] is False
    (bad,) = out["unsatisfied_requirements"]
    assert bad["testcase"] == "fedora-ci.tier0.functional"
    assert bad["type"] == "test-result-failed" and not bad.get("invalid")
    # Verbose lists what Greenwave would have read: the failure, not the invalid pass.
    verbose = ask(api, NVR, verbose=True)
    ci = [r for r in verbose["results"] if r["testcase"]["name"] == "fedora-ci.tier0.functional"]
    assert [r["outcome"] for r in ci] == ["FAILED"]


# Dated from 10:00 UTC: after the BUILDING message of a build of ``Bus()`` (09:00:30).
DATED_RULE = "!PassingTestCaseRule {test_case_name: dist.dated, valid_since: 2026-11-20T10:00:00Z}"


def test_a_dated_rule_is_applied_by_the_api_as_by_the_decider(tmp_path: Path) -> None:
    """Greenwave compares ``valid_since``/``valid_until`` with the koji build's
    ``creation_time`` (greenwave/policies.py ``Rule.matches``/``PassingTestCaseRule``,
    greenwave/resources.py ``retrieve_koji_build_creation_time``). The decider knows it
    from the build's BUILDING message; the decision API, answering from the read models,
    must know the same time and apply the rule the same way. A build seen with no
    BUILDING message has no known creation time: the rule counts in both (fail closed)."""
    policy_dir = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICIES, policy_dir)
    (policy_dir / "zz-dated.yaml").write_text(
        "--- !Policy\nid: dated\nproduct_versions: [fedora-rawhide]\n"
        "decision_context: rawhide_pending\nsubject_type: koji_build\n"
        f"rules:\n  - {DATED_RULE}\n"
    )
    policies = load_policy_set(policy_dir)
    untimed = "nano-8.2-1.fc44"  # tagged, never BUILDING: creation time unknown
    bus = Bus()
    building = bus.built(NVR)  # koji's BUILDING message (state 0; sent at 09:00:30)
    building["body"].update(old=None, new=0)
    msgs = [building, bus.built(NVR), bus.tagged(NVR), bus.stage(NVR, "SUCCESS")]
    msgs += [bus.tagged(untimed), bus.stage(untimed, "SUCCESS")]
    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    app.record([to_incoming(to_envelope(m)) for m in msgs])
    Decider(app, policies, CONFIG).run()
    api = api_of(app, policies)

    out = assert_decider_agrees(app, api, NVR, policies)
    assert "dist.dated" not in json.dumps(out)  # created 09:00:30, before valid_since
    out = assert_decider_agrees(app, api, untimed, policies)
    missing = [r["testcase"] for r in out["unsatisfied_requirements"]]
    assert "dist.dated" in missing and out["policies_satisfied"] is False
