"""Package-owned gating.yaml end to end: a fake dist-git (real git repositories served
over pagure's raw-file URLs, tests/fakedistgit.py), ingest, decisions, outage, replay.

Greenwave's behaviour relied on: greenwave/policies.py (RemoteRule._get_sub_policies:
the first URL with a file counts, 404 = no file; answers fetched-gating-yaml,
invalid-gating-yaml, failed-fetch-gating-yaml; the source of a remote policy's answers
is the file's URL), greenwave/resources.py (retrieve_yaml_remote_rule: 404 -> None,
other errors raise; retrieve_scm_from_koji_build: namespace, name, rev from the build's
source) and docs/package-specific-policies.rst.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters import bootstrap
from relengotron.adapters.audit import audit, audit_verify
from relengotron.adapters.cli.main import main
from relengotron.adapters.services import decisions
from relengotron.adapters.store.store import open_app
from tests.fakedistgit import FakeDistGit
from tests.messages import Bus

PARENT = """\
--- !Policy
id: rawhide-remote
product_versions: [fedora-*]
decision_context: rawhide_pending
subject_type: koji_build
rules:
  - !RemoteRule {}
"""


def gating_yaml(testcase: str) -> str:
    return (
        "--- !Policy\nproduct_versions: [fedora-*]\ndecision_context: rawhide_pending\n"
        f"rules:\n  - !PassingTestCaseRule {{test_case_name: {testcase}}}\n"
    )


@pytest.fixture
def distgit(tmp_path: Path) -> Any:
    fake = FakeDistGit(tmp_path / "git").start()
    yield fake
    fake.stop()


def built(bus: Bus, nvr: str, repo: str, rev: str) -> dict[str, Any]:
    m = bus.built(nvr)
    m["body"]["source"] = f"git+https://src.fedoraproject.org/rpms/{repo}.git#{rev}"
    return m


def last_decision(app: Any, nvr: str) -> dict[str, Any]:
    rows = [r for r in audit_verify.derived(app)[f"gate:{nvr}"] if r["event"] == "Gate.Decided"]
    return rows[-1]["decision"]


def types(reqs: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(r["type"], r.get("testcase")) for r in reqs]


def ingest(tmp_path: Path, name: str, msgs: list[dict[str, Any]], args: list[str]) -> None:
    stream = tmp_path / name
    stream.write_text("".join(json.dumps(m) + "\n" for m in msgs))
    assert main(["ingest", str(stream), *args]) == 0


def test_gating_yaml_from_dist_git(tmp_path: Path, distgit: FakeDistGit) -> None:
    rev1 = distgit.commit("rpms", "bash", "gating.yaml", gating_yaml("dist.rpmdeplint"))
    rev2 = distgit.commit("rpms", "bash", "gating.yaml", gating_yaml("dist.abicheck"))
    revz = distgit.commit("rpms", "zsh", "zsh.spec", "Name: zsh\n")
    revb = distgit.commit("rpms", "vim", "gating.yaml", "--- !Policy\nrules: []\n")
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "remote.yaml").write_text(PARENT)
    config = tmp_path / "relengotron.toml"
    config.write_text(
        f'[gating]\npolicies = "{policies}"\n'
        f'[gating.remote_rules]\nurl_templates = ["{distgit.template}"]\n'
        "timeout = 0.5\nretries = 2\nbackoff = 0.01\n"
    )
    db = f"sqlite:///{tmp_path / 'store.db'}"
    args = ["--db", db, "--config", str(config), "--no-progress"]
    bus = Bus()
    url1, url2 = (
        distgit.template.format(pkg_namespace="rpms/", pkg_name="bash", rev=r) for r in (rev1, rev2)
    )
    night = []
    for nvr, repo, rev in (
        ("bash-5.3-1.fc44", "bash", rev1),
        ("zsh-5.9-1.fc44", "zsh", revz),
        ("vim-9.1-1.fc44", "vim", revb),
    ):
        night += [built(bus, nvr, repo, rev), bus.tagged(nvr)]
    # dist-git hangs for bash's file (both attempts time out): failed fetch, held
    distgit.hang_next(2, seconds=1.0)
    ingest(tmp_path, "night1.jsonl", night, args)

    app = open_app(db)
    # No decision is announced before the file is known: one decision per build, each
    # made with its file (or its failed fetch), never "not fetched yet".
    derived = audit_verify.derived(app)
    for nvr in ("bash-5.3-1.fc44", "zsh-5.9-1.fc44", "vim-9.1-1.fc44"):
        assert [r["event"] for r in derived[f"gate:{nvr}"]] == ["Gate.Opened", "Gate.Decided"]
    assert "not been fetched yet" not in json.dumps(derived)
    d = last_decision(app, "bash-5.3-1.fc44")
    assert d["verdict"] == "hold" and d["policies_satisfied"] is False
    (req,) = d["unsatisfied_requirements"]
    assert (req["type"], req["sources"]) == ("failed-fetch-gating-yaml", [url1])
    assert "Failed to get remote policies" in req["error"] and "Timeout" in req["error"]
    # zsh: no gating.yaml, nothing asked (Greenwave: the parent policy applies, no answers)
    d = last_decision(app, "zsh-5.9-1.fc44")
    assert (d["verdict"], d["summary"]) == ("promote", "No tests are required")
    # vim: a broken file is an unsatisfied invalid-gating-yaml
    d = last_decision(app, "vim-9.1-1.fc44")
    assert types(d["unsatisfied_requirements"]) == [("invalid-gating-yaml", "invalid-gating-yaml")]
    assert d["unsatisfied_requirements"][0]["details"] == (
        "Policy 'untitled': No decision contexts provided"
    )
    assert d["summary"] == "1 error due to invalid remote rule file"

    # The server recovers: the next decide run fetches bash's file again, and only it.
    before = len(distgit.requests)
    assert main(["decide", *args[:4]]) in (0, 1)
    assert len(distgit.requests) == before + 1
    d = last_decision(app, "bash-5.3-1.fc44")
    assert types(d["unsatisfied_requirements"]) == [("test-result-missing", "dist.rpmdeplint")]
    assert d["unsatisfied_requirements"][0]["source"] == url1
    assert types(d["satisfied_requirements"]) == [("fetched-gating-yaml", "fetched-gating-yaml")]

    # A result arrives: bash-1 passes under its own commit's gating.yaml.
    ingest(tmp_path, "results.jsonl", [bus.rpmdeplint("bash-5.3-1.fc44")], args)
    d = last_decision(app, "bash-5.3-1.fc44")
    assert (d["verdict"], d["summary"]) == (
        "promote",
        "All required tests (1 total) have passed or been waived",
    )
    assert [r["source"] for r in d["satisfied_requirements"]] == [url1, url1]

    # The next commit's file asks for another test: a new file, a new event.
    ingest(
        tmp_path,
        "night2.jsonl",
        [built(bus, "bash-5.3-2.fc44", "bash", rev2), bus.tagged("bash-5.3-2.fc44")],
        args,
    )
    d = last_decision(app, "bash-5.3-2.fc44")
    assert types(d["unsatisfied_requirements"]) == [("test-result-missing", "dist.abicheck")]
    assert d["unsatisfied_requirements"][0]["source"] == url2
    # explain names the file (its URL names the commit) and its hash for each answer
    x = audit.explain(app, bootstrap.settings(str(config)), "bash-5.3-2.fc44")
    assert x is not None
    last = x["decisions"][-1]["requirements"]
    fetched = next(r for r in last if r["type"] == "fetched-gating-yaml")
    assert fetched["evidence"]["file"]["url"] == url2
    assert fetched["evidence"]["file"]["content_hash"].startswith("sha256:")
    assert f"gating.yaml {url2}" in audit.render_explain(x)
    requests = len(distgit.requests)
    assert requests == 2 + 1 + 1 + 1 + 1  # bash-1 twice timed out, again; zsh, vim, bash-2

    # dist-git is gone: a replay decides exactly the same from the log alone.
    distgit.stop()
    report = audit_verify.verify(app, bootstrap.settings(str(config)))
    assert report["differences"] == [] and report["identical"] is True
    assert report["remote_files_fed"] == 5  # bash-1 (error, then found), zsh, vim, bash-2
    assert len(distgit.requests) == requests
    # The decider in a process of its own is fed each fetch at the same point.
    assert audit_verify.verify(app, bootstrap.settings(str(config)), apart=True) == report
    app.close()


def test_a_store_written_before_remote_rules(tmp_path: Path) -> None:
    """tests/fixtures/store_before_gw_verdict.db was written by earlier code (no remote rule
    files, decider view format 3). The upgraded decider rebuilds its view from the log,
    re-decides nothing (no fingerprint changed), and fetches nothing: its policies have no
    RemoteRule."""
    import shutil

    from relengotron.adapters.settings import Settings
    from relengotron.projections.processes.decider import Decider
    from tests.integration.test_decision_replay import CONFIG, POLICIES

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "store_before_gw_verdict.db"
    path = tmp_path / "old.db"
    shutil.copy(fixture, path)
    app = open_app(f"sqlite:///{path}")
    decider = Decider(app, POLICIES, CONFIG)
    report = decider.run()
    assert report.decisions == [] and report.read > 0  # read again from the log, no change
    assert decider.view.gates and decider.view.remote_files == {}
    cfg = Settings(gating=CONFIG)
    assert decisions.decide_with(app, cfg, POLICIES).decisions == []
    app.close()


FEDORA = Path(__file__).resolve().parents[1] / "fixtures" / "fedora-greenwave"
TIER0 = "fedora-ci.koji-build.tier0.functional"
# A real-shaped gating.yaml (docs.fedoraproject.org "CI gating"): testing and stable.
REAL_GATING_YAML = f"""\
--- !Policy
product_versions:
  - fedora-*
decision_contexts: [bodhi_update_push_testing, bodhi_update_push_stable]
subject_type: koji_build
rules:
  - !PassingTestCaseRule {{test_case_name: {TIER0}}}
"""


def test_bodhi_contexts_through_the_decision_api(
    tmp_path: Path, distgit: FakeDistGit, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fedora's production policy, unchanged, and ``relengotron decision`` (the decision
    API's service) in each Bodhi context, for a build whose package opts in. Expected as
    Greenwave decides (greenwave/decision.py, policies.py: the remoterule policy applies
    only where the file has a policy for the context; fetched-gating-yaml is satisfied)."""
    rev = distgit.commit("rpms", "bash", "gating.yaml", REAL_GATING_YAML)
    config = tmp_path / "relengotron.toml"
    config.write_text(
        f'[gating]\npolicies = "{FEDORA}"\n'
        f'[gating.remote_rules]\nurl_templates = ["{distgit.template}"]\n'
        "timeout = 2\nretries = 1\n"
    )
    db = f"sqlite:///{tmp_path / 'store.db'}"
    bus = Bus()
    nvr = "bash-5.2.37-1.fc42"
    stream = tmp_path / "in.jsonl"
    stream.write_text(json.dumps(built(bus, nvr, "bash", rev)) + "\n")
    common = ["--db", db, "--config", str(config)]
    assert main(["ingest", str(stream), *common, "--no-progress", "--json"]) == 0
    capsys.readouterr()
    url = distgit.template.format(pkg_namespace="rpms/", pkg_name="bash", rev=rev)

    def decision(context: str) -> dict[str, Any]:
        argv = ["decision", nvr, "--product-version", "fedora-42", "--context", context]
        main([*argv, *common, "--json"])
        return json.loads(capsys.readouterr().out)

    for context in ("bodhi_update_push_testing", "bodhi_update_push_stable"):
        d = decision(context)
        assert d["applicable_policies"] == [
            "kojibuild_bodhipush_no_requirements",
            "kojibuild_bodhipush_remoterule",
        ]
        assert (d["policies_satisfied"], d["summary"]) == (
            False,
            "Of 1 required test, 1 result missing",
        )
        assert [(r["type"], r["source"]) for r in d["satisfied_requirements"]] == [
            ("fetched-gating-yaml", url)
        ]
        assert [(r["type"], r["testcase"], r["source"]) for r in d["unsatisfied_requirements"]] == [
            ("test-result-missing", TIER0, url)
        ]
    for context in ("bodhi_update_push_testing_critpath", "bodhi_update_push_stable_critpath"):
        d = decision(context)
        assert d["applicable_policies"] == ["kojibuild_bodhipush_no_requirements"]
        assert (d["policies_satisfied"], d["summary"]) == (True, "No tests are required")
    d = decision("bodhi_update_push_stable_core_critpath")
    assert d["applicable_policies"] == ["kojibuild_bodhipush_no_requirements"]
    # Several contexts at once (Greenwave's list): the file's policy matches one of them
    argv = ["decision", nvr, "--product-version", "fedora-42"]
    contexts = [
        "--context",
        "bodhi_update_push_stable_critpath",
        "--context",
        "bodhi_update_push_stable",
    ]
    main([*argv, *contexts, *common, "--json"])
    d = json.loads(capsys.readouterr().out)
    assert d["applicable_policies"] == [
        "kojibuild_bodhipush_no_requirements",
        "kojibuild_bodhipush_remoterule",
    ]
    assert [(r["type"], r["testcase"]) for r in d["unsatisfied_requirements"]] == [
        ("test-result-missing", TIER0)
    ]
    # An on-demand RemoteRule (Greenwave's OnDemandPolicy: the file's policies chosen by
    # product version, whatever their contexts)
    from relengotron.adapters.http.decision_request import decide
    from relengotron.adapters.rules.remote_rule_source import StoreRemoteRules
    from relengotron.projections.decision_api import DecisionService

    cfg = bootstrap.settings(str(config))
    app = open_app(db)
    service = DecisionService(
        bootstrap.read_model(app, cfg), bootstrap.policy_set(cfg), remote=StoreRemoteRules(app, cfg)
    )
    request = {"product_version": "fedora-42", "subject_type": "koji_build",
               "subject_identifier": nvr, "rules": [{"type": "RemoteRule"}]}  # fmt: skip
    d = decide(service, request)
    assert "applicable_policies" not in d and d["summary"] == "Of 1 required test, 1 result missing"
    assert [r["type"] for r in d["satisfied_requirements"]] == ["fetched-gating-yaml"]
    assert [r["testcase"] for r in d["unsatisfied_requirements"]] == [TIER0]
    app.close()
    # fetched once, on first need; every later answer read the log
    assert len(distgit.requests) == 1
    distgit.stop()
    assert decision("bodhi_update_push_stable")["satisfied_requirements"][0]["source"] == url


def test_source_asked_of_koji_when_no_message_gave_it(
    tmp_path: Path, distgit: FakeDistGit, fake_koji: Any
) -> None:
    """Fedora's koji messages carry no source: koji's getBuild answers it (Greenwave's
    retrieve_koji_build_source through koji.ClientSession, here against tests/fakekoji.py),
    recorded as observed; a build without a source skips the dist-git template
    (Greenwave's NoSourceException: nothing asked). Replay asks neither koji nor dist-git."""
    rev = distgit.commit("rpms", "tmux", "gating.yaml", gating_yaml("dist.rpmdeplint"))
    tmux, nosrc = "tmux-3.5-1.fc44", "nosrc-1.0-1.fc44"
    fake_koji.add_build(tmux)
    fake_koji.add_build(nosrc)
    with fake_koji._lock:  # koji's getBuild "source" (the fake stores what it answers)
        fake_koji._builds[tmux]["source"] = f"git+https://src.fedoraproject.org/rpms/tmux.git#{rev}"
        fake_koji._builds[nosrc]["source"] = None
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "remote.yaml").write_text(PARENT)
    config = tmp_path / "relengotron.toml"
    config.write_text(
        f'[koji]\nhub = "{fake_koji.url}"\nretries = 1\n'
        f'[gating]\npolicies = "{policies}"\n'
        f'[gating.remote_rules]\nurl_templates = ["{distgit.template}"]\n'
        "timeout = 2\nretries = 1\n"
    )
    db = f"sqlite:///{tmp_path / 'store.db'}"
    args = ["--db", db, "--config", str(config), "--no-progress"]
    bus = Bus()
    ingest(
        tmp_path,
        "in.jsonl",
        [bus.built(tmux), bus.tagged(tmux), bus.built(nosrc), bus.tagged(nosrc)],
        args,
    )
    app = open_app(db)
    url = distgit.template.format(pkg_namespace="rpms/", pkg_name="tmux", rev=rev)
    d = last_decision(app, tmux)
    assert [(r["type"], r["testcase"], r["source"]) for r in d["unsatisfied_requirements"]] == [
        ("test-result-missing", "dist.rpmdeplint", url)
    ]
    d = last_decision(app, nosrc)
    assert (d["verdict"], d["summary"]) == ("promote", "No tests are required")
    derived = audit_verify.derived(app)
    for nvr in (tmux, nosrc):  # decided once, with what koji and dist-git answered
        assert [r["event"] for r in derived[f"gate:{nvr}"]] == ["Gate.Opened", "Gate.Decided"]
    assert fake_koji.count("getBuild") == 2 and len(distgit.requests) == 1
    distgit.stop()
    fake_koji.stop()
    report = audit_verify.verify(app, bootstrap.settings(str(config)))
    assert report["identical"] is True and report["remote_files_fed"] == 3
    app.close()


def test_a_file_no_store_can_keep_is_invalid(tmp_path: Path) -> None:
    """A gating.yaml whose strings hold NUL (a YAML escape) cannot be stored as read on
    PostgreSQL (domain/safe_text.py): the file is recorded as invalid, saying why, the
    same on every store; its bytes are kept (base64) for the audit."""
    from relengotron.adapters.rules.remote_rule_fetch import Fetched, record
    from relengotron.domain.remote_rules import remote_rule_file_id

    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    body = gating_yaml('"dist.rpm\\0deplint"').encode()
    record(
        app,
        "file:///x/gating.yaml",
        Fetched("found", body),
        ["a-1-1.fc44"],
        "2026-01-01T00:00:00+00:00",
    )
    (e,) = [e for e in app.events.get(remote_rule_file_id("file:///x/gating.yaml"))][1:]
    assert e.status == "found" and e.policies is None  # type: ignore[attr-defined]
    assert "NUL" in e.error and e.content_b64  # type: ignore[attr-defined]
    app.close()


def test_a_body_that_stalls_is_a_failed_fetch() -> None:
    """A server that answers 200 then stalls the body: a failed fetch (retried, then an
    error), never a crash and never a file."""
    import socket
    import threading
    import time

    from relengotron.adapters.rules.remote_rule_fetch import fetch
    from relengotron.adapters.settings import RemoteRuleSettings

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(2)

    def stall(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n--- !Po")
        time.sleep(1.0)
        conn.close()

    def serve() -> None:
        for _ in range(2):  # one connection per attempt, each stalled on its own
            conn, _ = srv.accept()
            threading.Thread(target=stall, args=(conn,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{srv.getsockname()[1]}/rpms/x/raw/abc/f/gating.yaml"
    out = fetch(url, RemoteRuleSettings(timeout=0.3, retries=2, backoff=0.01))
    server.join(timeout=5)
    srv.close()
    assert (out.status, out.content, out.attempts) == ("error", None, 2)
    assert "Read timed out" in (out.error or "")
