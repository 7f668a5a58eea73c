"""Real-client contract: Bodhi 26.4's own code asks ``relengotron serve`` for decisions.

``bodhi-server`` 26.4.0 from PyPI runs in an environment of its own (tests/bodhi_env.py:
Debian's python3 with python3-rpm and python3-librepo, made once and cached), and
tests/bodhi_helper.py, run by that interpreter, creates Bodhi ``Update`` objects in an
SQLite database and calls Bodhi's gating code against a real ``relengotron serve`` on a
free port of 127.0.0.1, whose store holds real-shaped bus messages (koji, Bodhi,
ResultsDB, WaiverDB, Fedora CI) ingested and projected beforehand. What is asserted is
what Bodhi derives: ``Update.test_gating_status`` after
``Update.update_test_gating_status()``, ``Update.get_test_gating_info()`` (the
get-test-results view), and what the update page's "Automated Tests" tab computes from
those answers: ported to Python (``page_summary``, ``page_waivers``), and for real, with
Bodhi's own web application serving its update page to headless Chromium, whose script
asks ``serve`` (``bodhi_pages``).

Bodhi's code this relies on (read in /work/.mirror/fedora-infra+bodhi/repo, Bodhi 8.1.1,
and checked against the 26.4.0 wheel, which has the same gating code):

* bodhi-server/bodhi/server/models.py: ``Update.greenwave_subject`` (every build as
  ``koji_build`` plus the update as ``bodhi_update``), ``greenwave_request_batches``
  and ``greenwave_subject_batch_size`` (``greenwave_batch_size``, 8: a large update is
  asked in several requests), ``_greenwave_decision_contexts`` (``bodhi_update_push_
  testing`` for a pending update requested to testing, else ``..._stable``; a critpath
  update adds ``<context>_critpath`` first), ``product_version`` (the release's long
  name: ``fedora-40``), ``_get_test_gating_status`` (failed when an unsatisfied
  requirement is not ``test-result-missing``; missing ones are ``waiting`` for two
  hours after the last edit, then ``failed`` unless every missing one has a
  ``result_id``, i.e. is QUEUED or RUNNING; ``passed`` when satisfied; ``ignored``
  when nothing is required), ``update_test_gating_status`` (a Greenwave error or
  timeout means ``waiting``; ``greenwave_failed`` is never set by 26.4),
  ``comment_on_test_gating_status_change`` (Bodhi comments on every change).
* bodhi-server/bodhi/server/util.py: ``greenwave_api_post`` -> ``call_api`` (POST JSON,
  three retries a second apart on any non-2xx, then ``RuntimeError`` quoting the body).
* bodhi-server/bodhi/server/config.py: ``greenwave_api_url``, ``greenwave_batch_size``,
  ``test_gating.required``.
* bodhi-server/bodhi/server/templates/update.html (the update page's script; the
  static/js files do not touch Greenwave): the browser POSTs each batch to
  ``greenwave_api_url + '/decision'`` with ``verbose: true``, counts requirements for
  the summary (``generate_requirements_summary``), looks waivers up by
  ``requirement.waiver_id`` in ``data.waivers`` and shows ``@username: 'comment'``,
  and shows each result with ``data.item[0]``, ``data.arch``, ``data.scenario[0]``,
  ``note``, ``ref_url`` and its age ``moment(submit_time + ' Z').fromNow()`` with the
  page's vendored moment.js 2.8.3 (static/vendor/moment/moment.min.js).
* bodhi-server/tests/base.py, tests/testing.ini: how Bodhi's own tests make a database,
  a release and updates (followed by tests/bodhi_helper.py).

Every scenario is a plain assertion (the issue 15 deviations they once marked
``xfail`` are fixed). The browser runs with web security on: the page's POST to
``serve`` is cross-origin, answered by ``[api] cors_url`` (Greenwave's ``CORS_URL``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.bodhi_env import BODHI_VERSION, BodhiUnavailable, ensure, venv_dir
from tests.conftest import REPO, _service_missing
from tests.messages import Bus

pytestmark = pytest.mark.slow

HELPER = REPO / "tests" / "bodhi_helper.py"
MOMENT = "bodhi/server/static/vendor/moment/moment.min.js"
PV = "fedora-40"
TIER0 = "fedora-ci.koji-build.tier0.functional"
INSTALLABILITY = "fedora-ci.koji-build.installability.functional"
SERVER = ("update.base_selinux", "update.base_services_start", "update.base_update_cli")
# config/policies/bodhi.yaml: openQA's release-critical tests on critpath updates.
OPENQA = [
    ("update.install_default_update_netinst", "fedora.updates-everything-boot-iso.x86_64.64bit"),
    *[(t, "fedora.updates-server.x86_64.64bit") for t in SERVER],
]
DESKTOP = ("update.desktop_update_graphical", "fedora.updates-workstation.x86_64.64bit")
PREFIX = "org.fedoraproject.prod"
SERVER_START_S = 60.0
BODHI_TIMEOUT_S = 300


def alias(name: str) -> str:
    return "FEDORA-2026-" + hashlib.sha1(name.encode()).hexdigest()[:10]


# ------------------------------------------------------------------ messages


class Stream(Bus):
    """tests.messages.Bus plus ResultsDB and WaiverDB messages as those services publish
    them (resultsdb/serializers/api_v2.py ``_serialize_Result``: integer id, ``submit_time``
    as naive UTC ``isoformat()``, data values as lists; waiverdb/fields.py
    ``waiver_fields``)."""

    def result(
        self,
        item: str,
        testcase: str,
        outcome: str,
        *,
        subject_type: str = "koji_build",
        scenario: str | None = None,
        arch: str = "x86_64",
        system_architecture: str | None = None,
        note: str = "",
    ) -> dict[str, Any]:
        rid = 51_000_000 + next(self.ids)
        data: dict[str, list[str]] = {"item": [item], "type": [subject_type], "arch": [arch]}
        if scenario:
            data["scenario"] = [scenario]
        if system_architecture:
            data["system_architecture"] = [system_architecture]
        submit = self.t + self.step  # the time msg() is about to stamp
        return self.msg(
            f"{PREFIX}.resultsdb.result.new",
            {
                "id": rid,
                "groups": [f"{rid:x}-group"],
                "testcase": {
                    "name": testcase,
                    "ref_url": f"https://docs.fedoraproject.org/ci/{testcase}",
                    "href": f"https://resultsdb.example/api/v2.0/testcases/{testcase}",
                },
                "submit_time": submit.replace(tzinfo=None).isoformat(timespec="microseconds"),
                "outcome": outcome,
                "note": note,
                "ref_url": f"https://ci.example/{rid}",
                "data": data,
                "href": f"https://resultsdb.example/api/v2.0/results/{rid}",
            },
        )

    def waive(
        self,
        item: str,
        testcase: str,
        *,
        subject_type: str = "koji_build",
        scenario: str | None = None,
        comment: str = "known flake, see rhbz#2250000",
    ) -> dict[str, Any]:
        wid = 7_000 + next(self.ids)
        return self.msg(
            f"{PREFIX}.waiverdb.waiver.new",
            {
                "id": wid,
                "subject_type": subject_type,
                "subject_identifier": item,
                "subject": {"type": subject_type, "item": item},
                "testcase": testcase,
                "scenario": scenario,
                "username": "adamwill",
                "proxied_by": None,
                "product_version": PV,
                "waived": True,
                "comment": comment,
                "timestamp": self.t.replace(tzinfo=None).isoformat(timespec="microseconds"),
            },
        )


@dataclass
class Update:
    """A Bodhi update for tests/bodhi_helper.py, and the messages about it."""

    name: str
    builds: list[str]
    critpath: bool = False
    critpath_groups: str | None = None
    request: str | None = "testing"
    status: str = "pending"
    modified_hours_ago: float = 0.0
    messages: list[dict[str, Any]] = field(default_factory=list)
    invalid: bool = False  # its messages break their schema on purpose

    @property
    def alias(self) -> str:
        return alias(self.name)

    def spec(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "builds": self.builds,
            "critpath": self.critpath,
            "critpath_groups": self.critpath_groups,
            "request": self.request,
            "status": self.status,
            "modified_hours_ago": self.modified_hours_ago,
        }


def scenarios(s: Stream) -> list[Update]:
    """The updates and everything the bus said about them, in order."""
    ups: list[Update] = []

    def update(name: str, builds: list[str], **kw: Any) -> Update:
        u = Update(name, builds, **kw)
        u.messages += [s.built(b) for b in builds]
        u.messages.append(s.update(u.alias, builds, request=u.request or "testing"))
        ups.append(u)
        return u

    def openqa(u: Update, failed: str | None = None, tests: list[tuple[str, str]] = OPENQA) -> None:
        for t, scenario in tests:
            outcome = "FAILED" if t == failed else "PASSED"
            u.messages.append(
                s.result(u.alias, t, outcome, subject_type="bodhi_update", scenario=scenario)
            )

    u = update("passing", ["python-requests-2.31.0-1.fc40", "python-urllib3-2.0.7-1.fc40"])
    u.messages += [s.result(b, TIER0, "PASSED") for b in u.builds]

    u = update("failing", ["python-idna-3.6-1.fc40"])
    u.messages.append(s.result(u.builds[0], TIER0, "FAILED", note="2 of 31 tests failed"))

    update("missing-recent", ["python-certifi-2024.2.2-1.fc40"])
    update("missing-old", ["python-chardet-5.2.0-1.fc40"], modified_hours_ago=3)

    u = update("running-old", ["python-six-1.16.0-1.fc40"], modified_hours_ago=3)
    u.messages.append(s.result(u.builds[0], TIER0, "RUNNING"))

    u = update("waived", ["python-pyyaml-6.0.1-1.fc40", "python-markupsafe-2.1.5-1.fc40"])
    u.messages.append(s.result(u.builds[0], TIER0, "FAILED"))
    u.messages += [s.waive(b, TIER0) for b in u.builds]  # one failed, one missing

    u = update("critpath-passing", ["systemd-255.4-1.fc40"], critpath=True)
    u.messages.append(s.result(u.builds[0], TIER0, "PASSED"))
    openqa(u)

    u = update("critpath-failing", ["glibc-2.39-2.fc40"], critpath=True)
    u.messages.append(s.result(u.builds[0], TIER0, "PASSED"))
    openqa(u, failed="update.base_selinux")

    u = update("critpath-waived", ["dnf5-5.1.13-1.fc40"], critpath=True)
    u.messages.append(s.result(u.builds[0], TIER0, "PASSED"))
    openqa(u, failed="update.base_update_cli")
    u.messages.append(
        s.waive(u.alias, "update.base_update_cli", subject_type="bodhi_update",
                scenario="fedora.updates-server.x86_64.64bit")
    )  # fmt: skip

    # Fedora's critpath.type json gives groups: one context per group, none of which has a
    # policy here; the plain context's policies still apply (Greenwave's decision.py: 404
    # only for a subject no policy of any of the contexts applies to).
    u = update("critpath-groups", ["gnome-shell-46.0-1.fc40"], critpath=True,
               critpath_groups="critical-path-gnome")  # fmt: skip
    u.messages.append(s.result(u.builds[0], TIER0, "PASSED"))

    # In testing, requested stable: the stable contexts, the desktop test still missing.
    u = update("critpath-stable", ["rpm-4.19.1.1-1.fc40"], critpath=True,
               request="stable", status="testing")  # fmt: skip
    u.messages += [s.result(u.builds[0], TIER0, "PASSED"),
                   s.result(u.builds[0], INSTALLABILITY, "PASSED")]  # fmt: skip
    openqa(u)

    # 40 builds + the update: 41 subjects, six requests of at most 8. kernel is in the
    # policies' excluded_packages (Greenwave: an `excluded` satisfied requirement).
    large = [f"python-large{i:02d}-1.0-1.fc40" for i in range(39)] + ["kernel-6.11.5-300.fc40"]
    u = update("large", large)
    u.messages += [s.result(b, TIER0, "PASSED") for b in large[:-1]]

    # The build that fails is asked in the third request.
    large_f = [f"python-bulk{i:02d}-1.0-1.fc40" for i in range(20)]
    u = update("large-failing", large_f)
    u.messages += [s.result(b, TIER0, "FAILED" if b == large_f[-1] else "PASSED")
                   for b in large_f]  # fmt: skip

    # Issue 15 deviation 1: Greenwave takes the latest result per testcase and per
    # value of its DISTINCT_LATEST_RESULTS_ON data keys (greenwave/config.py: scenario,
    # system_architecture, system_variant; greenwave/resources.py asks ResultsDB's
    # /results/latest?_distinct_on=..., resultsdb/controllers/api_v2.py
    # get_results_latest: DISTINCT ON the testcase and those keys' values). The tested
    # system's architecture is ``system_architecture`` (as Greenwave's own
    # functional-tests/conftest.py create_rtt_compose_result records it, and as a CI
    # message's system.architecture is kept): aarch64 failed, x86_64 passed later.
    u = update("arch", ["python-lxml-5.1.0-1.fc40"])
    u.messages += [
        s.result(u.builds[0], TIER0, "FAILED", arch="aarch64", system_architecture="aarch64"),
        s.result(u.builds[0], TIER0, "PASSED", arch="x86_64", system_architecture="x86_64"),
    ]
    # ``data.arch`` alone (what the page shows) is none of those keys: for Greenwave the
    # two results are one, and the later PASSED is the latest.
    u = update("arch-only", ["python-lxml-html-clean-0.1.0-1.fc40"])
    u.messages += [s.result(u.builds[0], TIER0, "FAILED", arch="aarch64"),
                   s.result(u.builds[0], TIER0, "PASSED", arch="x86_64")]  # fmt: skip

    # Issue 15 deviation 5: WaiverDB's brew-build is an alias of koji_build.
    u = update("brew-waiver", ["python-attrs-23.2.0-1.fc40"])
    u.messages += [s.result(u.builds[0], TIER0, "FAILED"),
                   s.waive(u.builds[0], TIER0, subject_type="brew-build")]  # fmt: skip

    # Issue 15 deviation 9: a Fedora CI spec message without contact/run/pipeline and
    # with a version that is not semver must not satisfy anything.
    u = update("invalid-ci", ["python-jinja2-3.1.3-1.fc40"], invalid=True)
    nvr = u.builds[0]
    u.messages.append(
        s.msg(f"{PREFIX}.ci.koji-build.test.complete", {
            "artifact": {"type": "koji-build", "id": s.build_id(nvr), "nvr": nvr,
                         "component": "python-jinja2", "issuer": "packager",
                         "scratch": False},
            "test": {"namespace": "fedora-ci.koji-build", "type": "tier0",
                     "category": "functional", "result": "passed"},
            "generated_at": s.t.isoformat(),
            "version": "1.1",
        })
    )  # fmt: skip
    return ups


# ------------------------------------------------------------------ processes


def _cli(*args: str, timeout: float = 240, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "relengotron", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode in ok, f"relengotron {args[0]}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _ingest(
    db: str, path: Path, messages: list[dict[str, Any]], *, invalid: bool = False
) -> dict[str, Any]:
    """Ingested, every message recorded; ``invalid``: messages that ingest may reject
    (exit 1) once it validates Fedora CI messages against their schemas."""
    path.write_text("".join(json.dumps(m) + "\n" for m in messages))
    args = ("ingest", "--db", db, "--no-progress", "--json", str(path))
    summary = json.loads(_cli(*args, ok=(0, 1) if invalid else (0,)))
    assert summary["unrecognized"] == 0, summary
    assert invalid or summary["rejected"] == 0, summary
    return summary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(db: str, tmp: Path, settings: str = "", port: int | None = None) -> Iterator[str]:
    """``relengotron serve`` on a free port; its catch-up thread every 600 s, so what it
    answers right after an ingest is what it reads on demand, not luck of timing."""
    config = tmp / "relengotron.toml"
    config.write_text(f"[api]\nproject_interval = 600\n{settings}")
    port = port or _free_port()
    log_path = tmp / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "relengotron", "serve", "--db", db,
             "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"serve exited {proc.returncode}: {log_path.read_text()[-3000:]}")
                try:
                    urllib.request.urlopen(base + "/healthcheck", timeout=2).close()
                    break
                except (OSError, urllib.error.HTTPError):
                    if time.monotonic() > deadline:
                        pytest.fail(f"serve did not answer: {log_path.read_text()[-3000:]}")
                    time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def run_bodhi(python: Path, base: str, updates: list[Update], probes: Any = None) -> Any:
    request = {
        "greenwave_api_url": base + "/api/v1.0",
        "batch_size": 8,
        "updates": [u.spec() for u in updates],
        "probes": probes or {},
    }
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONWARNINGS": "ignore"}
    env.pop("BODHI_CONFIG", None)
    done = subprocess.run(
        [str(python), str(HELPER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=BODHI_TIMEOUT_S,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, f"bodhi helper exited {done.returncode}:\n{done.stderr[-4000:]}"
    answer = json.loads(done.stdout)
    assert answer["bodhi_version"] == BODHI_VERSION
    answer["stderr"] = done.stderr
    return answer


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def bodhi_python() -> Path:
    started = time.monotonic()
    try:
        python, made = ensure()
    except BodhiUnavailable as exc:
        _service_missing(f"bodhi-server {BODHI_VERSION}", str(exc))
    what = f"installed in {made:.0f} s" if made else "cached"
    print(f"\nbodhi-server {BODHI_VERSION} ({what}, {time.monotonic() - started:.1f} s): {python}")
    return python


@dataclass
class World:
    tmp: Path
    db: str
    base: str
    stream: Stream
    updates: dict[str, Update]


@pytest.fixture(scope="module")
def world(bodhi_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("bodhi_contract")
    db = f"sqlite:///{tmp / 'store.db'}"
    stream = Stream(start=datetime(2026, 11, 20, 9, 0, 0, 250_000, tzinfo=UTC))
    ups = scenarios(stream)
    _ingest(db, tmp / "bus.jsonl", [m for u in ups if not u.invalid for m in u.messages])
    _ingest(db, tmp / "bad.jsonl", [m for u in ups if u.invalid for m in u.messages], invalid=True)
    _cli("project", "--db", db, "--no-progress")
    with serve(db, tmp) as base:
        yield World(tmp, db, base, stream, {u.name: u for u in ups})


NO_POLICY = {
    "product_version": PV,
    "decision_context": "bodhi_update_push_nowhere",
    "subject": [{"type": "koji_build", "item": "python-requests-2.31.0-1.fc40"}],
}


@pytest.fixture(scope="module")
def bodhi(bodhi_python: Path, world: World) -> dict[str, Any]:
    """Bodhi asked once about every update (one interpreter start for all)."""
    answer = run_bodhi(bodhi_python, world.base, list(world.updates.values()),
                       probes={"no-policy": NO_POLICY})  # fmt: skip
    answer["by_name"] = {n: answer["updates"][u.alias] for n, u in world.updates.items()}
    return answer


def got(bodhi: dict[str, Any], name: str) -> dict[str, Any]:
    out = bodhi["by_name"][name]
    assert "crash" not in out, out.get("crash")
    assert "decisions_error" not in out, out["decisions_error"] + "\n" + bodhi["stderr"][-3000:]
    return out


def requirements(out: dict[str, Any], which: str) -> list[dict[str, Any]]:
    return [r for d in out["decisions"] for r in d[which]]


# ------------------------------------------------------------------ the page


def page_summary(decisions: list[dict[str, Any]]) -> str:
    """The "Automated Tests" summary, counted as update.html's script counts
    (``handle_unsatisfied_requirements``, ``populate_missing_result``,
    ``generate_requirements_summary``)."""
    tests = unsatisfied = missing = running = remote = 0

    def populate_missing(r: dict[str, Any]) -> None:
        nonlocal missing, running
        if r.get("result_id"):
            running += 1
        else:
            missing += 1

    for d in decisions:
        for r in d["unsatisfied_requirements"]:
            unsatisfied += 1
            if r["type"] == "test-result-missing":
                populate_missing(r)
            if "gating-yaml" in r["type"]:
                remote += 1
                tests -= 1
        for r in d["satisfied_requirements"]:
            if r["type"] == "test-result-missing-waived":
                populate_missing(r)
        tests += len(d["unsatisfied_requirements"]) + len(d["satisfied_requirements"])
    if tests == 0:
        return "no tests are required"
    failed = unsatisfied - missing - running - remote
    parts = []
    if failed > 0:
        parts.append(f"{failed} of {tests} required tests failed")
    if running > 0:
        parts.append(f"{running} of {tests} required tests running")
    if missing > 0:
        parts.append(f"{missing} of {tests} required test results missing")
    if remote > 0:
        parts.append(f"{remote} errors handling remote rules")
    return ", ".join(parts) or "All required tests passed"


def page_waivers(decisions: list[dict[str, Any]]) -> dict[str, str]:
    """``testcase -> tooltip`` for waived requirements, looked up as the page does:
    ``waivers[requirement.waiver_id]`` over ``data.waivers`` keyed by ``waiver.id`` (a JS
    object: keys are strings), then ``'Waived by @' + w.username + ": '" + w.comment``."""
    waivers = {str(w["id"]): w for d in decisions for w in d["waivers"]}
    shown = {}
    for r in (r for d in decisions for r in d["satisfied_requirements"]):
        if r["type"].endswith("-waived"):
            w = waivers.get(str(r.get("waiver_id")))
            assert w is not None, f"the page finds no waiver {r.get('waiver_id')!r}: {r}"
            shown[r["testcase"]] = f"Waived by @{w['username']}: '{w['comment']}'"
    return shown


def moment_js(times: list[str]) -> list[tuple[str | None, str]]:
    """``moment(time + ' Z')`` with the page's own moment.js, in Node.js: the ISO time it
    shows the age of (None: moment finds no valid date), and the age, ``fromNow()``."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        _service_missing("Node.js", "node not found (apt install nodejs)")
    moment = next(venv_dir().glob(f"lib/python3*/site-packages/{MOMENT}"))
    script = (
        "const moment = require(process.argv[1]);"
        "const times = JSON.parse(process.argv[2]);"
        "console.log(JSON.stringify(times.map(t => {"
        "  const m = moment(t + ' Z');"
        "  return [m.isValid() ? m.toISOString() : null, m.fromNow()]; })));"
    )
    done = subprocess.run([node, "-e", script, str(moment), json.dumps(times)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [(iso, age) for iso, age in json.loads(done.stdout)]


# ------------------------------------------------------------------ verdicts


def test_passing_update(bodhi: dict[str, Any], world: World) -> None:
    out = got(bodhi, "passing")
    u = world.updates["passing"]
    assert out["product_version"] == PV
    assert out["contexts"] == ["bodhi_update_push_testing"]
    assert [s["item"] for s in out["requests"][0]["subject"]] == [*u.builds, u.alias]
    assert (out["status"], out["passed"]) == ("passed", True)
    assert out["comments"] == ["This update's test gating status has been changed to 'passed'."]
    (decision,) = out["decisions"]
    assert decision["policies_satisfied"] is True
    sat = decision["satisfied_requirements"]
    assert sorted((r["subject_identifier"], r["type"]) for r in sat) == [
        (b, "test-result-passed") for b in sorted(u.builds)
    ]
    assert page_summary(out["decisions"]) == "All required tests passed"


def test_failing_update(bodhi: dict[str, Any]) -> None:
    out = got(bodhi, "failing")
    assert (out["status"], out["passed"]) == ("failed", False)
    assert out["comments"] == ["This update's test gating status has been changed to 'failed'."]
    (req,) = requirements(out, "unsatisfied_requirements")
    assert (req["type"], req["testcase"]) == ("test-result-failed", TIER0)
    assert page_summary(out["decisions"]) == "1 of 1 required tests failed"


def test_missing_results_wait_two_hours_then_fail(bodhi: dict[str, Any]) -> None:
    recent, old = got(bodhi, "missing-recent"), got(bodhi, "missing-old")
    assert (recent["status"], recent["passed"]) == ("waiting", False)
    assert (old["status"], old["passed"]) == ("failed", False)
    for out in (recent, old):
        (req,) = requirements(out, "unsatisfied_requirements")
        assert req["type"] == "test-result-missing" and not req.get("result_id")
        assert page_summary(out["decisions"]) == "1 of 1 required test results missing"


def test_running_result_keeps_an_old_update_waiting(bodhi: dict[str, Any]) -> None:
    # Missing, but with the RUNNING result's id: Bodhi keeps waiting past two hours.
    out = got(bodhi, "running-old")
    assert (out["status"], out["passed"]) == ("waiting", False)
    (req,) = requirements(out, "unsatisfied_requirements")
    assert req["type"] == "test-result-missing" and req["result_id"]
    assert page_summary(out["decisions"]) == "1 of 1 required tests running"


def test_waived_failure_and_missing_result(bodhi: dict[str, Any]) -> None:
    out = got(bodhi, "waived")
    assert (out["status"], out["passed"]) == ("passed", True)
    types = sorted(r["type"] for r in requirements(out, "satisfied_requirements"))
    assert types == ["test-result-failed-waived", "test-result-missing-waived"]
    assert page_waivers(out["decisions"]) == {
        TIER0: "Waived by @adamwill: 'known flake, see rhbz#2250000'"
    }
    # The page counts a waived missing result as missing (update.html, as it is).
    assert page_summary(out["decisions"]) == "1 of 2 required test results missing"


# ------------------------------------------------------------------ critpath


def test_critpath_update_passing(bodhi: dict[str, Any], world: World) -> None:
    out = got(bodhi, "critpath-passing")
    assert out["contexts"] == ["bodhi_update_push_testing_critpath", "bodhi_update_push_testing"]
    assert (out["status"], out["passed"]) == ("passed", True)
    sat = requirements(out, "satisfied_requirements")
    alias_ = world.updates["critpath-passing"].alias
    assert sorted((r["testcase"], r["scenario"]) for r in sat
                  if r["subject_identifier"] == alias_) == sorted(OPENQA)  # fmt: skip
    (decision,) = out["decisions"]
    assert sorted(decision["applicable_policies"]) == [
        "fedora_ci_tier0_for_testing", "openqa_release_critical_tasks_for_testing"]  # fmt: skip


def test_critpath_update_failing_openqa(bodhi: dict[str, Any], world: World) -> None:
    out = got(bodhi, "critpath-failing")
    assert (out["status"], out["passed"]) == ("failed", False)
    (req,) = requirements(out, "unsatisfied_requirements")
    assert (req["subject_type"], req["subject_identifier"]) == (
        "bodhi_update", world.updates["critpath-failing"].alias)  # fmt: skip
    assert (req["testcase"], req["scenario"], req["type"]) == (
        "update.base_selinux",
        "fedora.updates-server.x86_64.64bit",
        "test-result-failed",
    )


def test_critpath_update_waived_in_waiverdb(bodhi: dict[str, Any]) -> None:
    out = got(bodhi, "critpath-waived")
    assert (out["status"], out["passed"]) == ("passed", True)
    assert page_waivers(out["decisions"]) == {
        "update.base_update_cli": "Waived by @adamwill: 'known flake, see rhbz#2250000'"
    }
    assert page_summary(out["decisions"]) == "All required tests passed"


def test_critpath_groups_ask_one_context_per_group(bodhi: dict[str, Any]) -> None:
    out = got(bodhi, "critpath-groups")
    assert out["contexts"] == [
        "bodhi_update_push_testing_critical-path-gnome_critpath",
        "bodhi_update_push_testing",
    ]
    assert (out["status"], out["passed"]) == ("passed", True)
    (decision,) = out["decisions"]
    assert decision["applicable_policies"] == ["fedora_ci_tier0_for_testing"]
    assert [r["testcase"] for r in decision["satisfied_requirements"]] == [TIER0]


def test_critpath_update_to_stable_waits_for_the_desktop_test(bodhi: dict[str, Any]) -> None:
    out = got(bodhi, "critpath-stable")
    assert out["contexts"] == ["bodhi_update_push_stable_critpath", "bodhi_update_push_stable"]
    assert (out["status"], out["passed"]) == ("waiting", False)
    (req,) = requirements(out, "unsatisfied_requirements")
    assert (req["type"], req["testcase"], req["scenario"]) == ("test-result-missing", *DESKTOP)
    sat = {r["testcase"] for r in requirements(out, "satisfied_requirements")}
    assert {TIER0, INSTALLABILITY} <= sat


# ------------------------------------------------------------------ large updates


def test_large_update_in_batches(bodhi: dict[str, Any], world: World) -> None:
    out = got(bodhi, "large")
    u = world.updates["large"]
    assert [len(r["subject"]) for r in out["requests"]] == [8, 8, 8, 8, 8, 1]
    assert len(out["decisions"]) == 6
    assert (out["status"], out["passed"]) == ("passed", True)
    sat = requirements(out, "satisfied_requirements")
    assert sorted(r["subject_identifier"] for r in sat) == sorted(u.builds)
    kernel = next(r for r in sat if r["subject_identifier"].startswith("kernel-"))
    assert kernel["type"] == "excluded"
    assert all(r["type"] == "test-result-passed" for r in sat if r is not kernel)
    # each batch's results are its own subjects' results
    for request, decision in zip(out["requests"], out["decisions"], strict=True):
        items = {s["item"] for s in request["subject"]}
        assert {r["data"]["item"][0] for r in decision["results"]} <= items
    assert page_summary(out["decisions"]) == "All required tests passed"


def test_large_update_failing_in_a_later_batch(bodhi: dict[str, Any], world: World) -> None:
    out = got(bodhi, "large-failing")
    assert len(out["requests"]) == 3
    assert (out["status"], out["passed"]) == ("failed", False)
    (req,) = requirements(out, "unsatisfied_requirements")
    assert req["subject_identifier"] == world.updates["large-failing"].builds[-1]
    assert out["decisions"][2]["policies_satisfied"] is False
    assert page_summary(out["decisions"]) == "1 of 20 required tests failed"


# ------------------------------------------------------------------ what the page reads


def test_page_shows_each_result_under_its_subject(bodhi: dict[str, Any], world: World) -> None:
    out = got(bodhi, "critpath-failing")
    u = world.updates["critpath-failing"]
    rows = {(r["data"]["item"][0], r["testcase"]["name"], r["outcome"])
            for d in out["decisions"] for r in d["results"]}  # fmt: skip
    assert rows == {(u.builds[0], TIER0, "PASSED")} | {
        (u.alias, t, "FAILED" if t == "update.base_selinux" else "PASSED") for t, _ in OPENQA
    }
    results = [r for d in out["decisions"] for r in d["results"]]
    openqa = [r for r in results if r["data"]["item"][0] == u.alias]
    # make_row: the openQA flavor and machine from data.scenario[0]
    assert sorted(r["data"]["scenario"][0] for r in openqa) == sorted(s for _, s in OPENQA)
    assert all(r["ref_url"].startswith("https://ci.example/") for r in results)


def sent_results(world: World, name: str) -> dict[int, dict[str, Any]]:
    return {m["body"]["id"]: m["body"] for m in world.updates[name].messages
            if m["topic"].endswith("resultsdb.result.new")}  # fmt: skip


def test_page_result_age_parses_with_moment(bodhi: dict[str, Any], world: World) -> None:
    """``moment(result.submit_time + ' Z')`` must be the time ResultsDB recorded, not
    "Invalid date"."""
    out = got(bodhi, "passing")
    sent = sent_results(world, "passing")
    results = [r for d in out["decisions"] for r in d["results"]]
    assert len(results) == len(sent)
    shown = moment_js([r["submit_time"] for r in results])
    for r, (iso, _) in zip(results, shown, strict=True):
        expected = sent[int(r["id"])]["submit_time"][:23] + "Z"  # moment keeps milliseconds
        assert iso == expected, f"{r['submit_time']!r} + ' Z' shows as {iso}"


@pytest.mark.parametrize("key", ["arch", "note", "ref_url", "groups", "ids"])
def test_page_result_fields_as_resultsdb(bodhi: dict[str, Any], world: World, key: str) -> None:
    """Verbose results are ResultsDB's records: the page shows ``data.arch`` and
    ``note``; Greenwave passes ResultsDB's integers, ``groups``, ``testcase.ref_url``."""
    out = got(bodhi, "passing")
    sent = sent_results(world, "passing")
    for r in (r for d in out["decisions"] for r in d["results"]):
        body = sent[int(r["id"])]
        if key == "arch":
            assert r["data"].get("arch") == body["data"]["arch"]
        elif key == "note":
            assert r["note"] == body["note"] == ""
        elif key == "ref_url":
            assert r["testcase"].get("ref_url") == body["testcase"]["ref_url"]
        elif key == "groups":
            assert r.get("groups") == body["groups"]
        else:
            assert r["id"] == body["id"]
    for req in requirements(out, "satisfied_requirements"):
        if key == "ids":
            assert isinstance(req["result_id"], int), req


# ------------------------------------------------------------------ deviations


def test_result_failed_on_one_arch_fails_the_update(bodhi: dict[str, Any]) -> None:
    out = got(bodhi, "arch")
    assert (out["status"], out["passed"]) == ("failed", False)
    (req,) = requirements(out, "unsatisfied_requirements")
    assert (req["type"], req["system_architecture"]) == ("test-result-failed", "aarch64")
    # Both latest results, one per architecture, are the answer's results.
    archs = sorted(r["data"]["system_architecture"][0] for d in out["decisions"]
                   for r in d["results"])  # fmt: skip
    assert archs == ["aarch64", "x86_64"]


def test_results_apart_only_in_data_arch_are_one_latest_result(bodhi: dict[str, Any]) -> None:
    # Greenwave does not tell results apart by ``data.arch`` (not a distinct key): the
    # later PASSED is the latest; the earlier aarch64 FAILED is not in the answer.
    out = got(bodhi, "arch-only")
    assert (out["status"], out["passed"]) == ("passed", True)
    results = [r for d in out["decisions"] for r in d["results"]]
    assert [(r["outcome"], r["data"]["arch"]) for r in results] == [("PASSED", ["x86_64"])]


def test_brew_build_waiver_applies_to_the_koji_build(bodhi: dict[str, Any]) -> None:
    out = got(bodhi, "brew-waiver")
    assert (out["status"], out["passed"]) == ("passed", True)


def test_invalid_ci_message_does_not_pass_the_update(bodhi: dict[str, Any]) -> None:
    out = got(bodhi, "invalid-ci")
    assert out["passed"] is False
    assert out["status"] in ("waiting", "failed")


def test_no_policy_is_an_error_bodhi_reports(bodhi: dict[str, Any]) -> None:
    # util.greenwave_api_post -> call_api: a 404 after three retries is a RuntimeError
    # quoting the JSON body (an update asking this would be left `waiting`).
    error = bodhi["probes"]["no-policy"]["error"]
    assert error.startswith("RuntimeError: Bodhi failed to send POST request to Greenwave")
    assert '"404"' in error


def test_no_policy_message_is_greenwaves(bodhi: dict[str, Any]) -> None:
    error = bodhi["probes"]["no-policy"]["error"]
    assert ("Found no applicable policies for koji_build subjects at gating point(s) "
            f"bodhi_update_push_nowhere in {PV}") in error  # fmt: skip


def test_cors_for_the_update_page(world: World, tmp_path: Path) -> None:
    """The page's jQuery POST (JSON) is cross-origin: a preflight, then the POST, both
    answered with Bodhi's origin allowed (Greenwave's CORS_URL)."""
    origin = "https://bodhi.fedoraproject.org"
    body = json.dumps({"product_version": PV, "decision_context": "bodhi_update_push_testing",
                       "subject": [{"type": "koji_build",
                                    "item": world.updates["passing"].builds[0]}],
                       "verbose": True}).encode()  # fmt: skip
    with serve(world.db, tmp_path, settings=f'cors_url = "{origin}"\n') as base:
        pre = urllib.request.Request(base + "/api/v1.0/decision", method="OPTIONS", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})  # fmt: skip
        with urllib.request.urlopen(pre, timeout=10) as r:
            assert r.status in (200, 204)
            assert r.headers["Access-Control-Allow-Origin"] == origin
            assert "content-type" in r.headers.get("Access-Control-Allow-Headers", "").lower()
        post = urllib.request.Request(base + "/api/v1.0/decision", data=body, headers={
            "Origin": origin, "Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(post, timeout=10) as r:
            assert r.headers["Access-Control-Allow-Origin"] == origin


def test_lost_store_leaves_updates_waiting(bodhi_python: Path, world: World,
                                           tmp_path: Path) -> None:  # fmt: skip
    """A server whose store file is gone must not say "passed": 503, Bodhi waits."""
    store = tmp_path / "copy.db"
    shutil.copy(world.db.removeprefix("sqlite:///"), store)
    with serve(f"sqlite:///{store}", tmp_path) as base:
        store.unlink()
        for extra in ("-wal", "-shm"):
            Path(str(store) + extra).unlink(missing_ok=True)
        health = urllib.request.Request(base + "/healthcheck")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(health, timeout=10).close()
        assert err.value.code == 503
        out = run_bodhi(bodhi_python, base, [world.updates["passing"]])
    result = out["updates"][world.updates["passing"].alias]
    assert (result["status"], result["passed"]) == ("waiting", False)
    assert "503" in result["decisions_error"]


def test_result_recorded_before_the_request_is_seen(bodhi_python: Path, world: World,
                                                    tmp_path: Path) -> None:  # fmt: skip
    """Bodhi asks as soon as ResultsDB's message arrives: a result ingested before the
    request must be in the answer (the server's own catch-up runs every 600 s here).

    Run after the other tests (another ``serve`` on this store came and went), this
    found the server answering from a write-ahead log another process had deleted: the
    server's file checks closed a descriptor of the store, which drops every POSIX lock
    the process holds on it (adapters/http/guard.py; the focused test is
    tests/integration/test_http_front.py
    test_another_process_recording_after_a_store_check_is_seen)."""
    u = Update("late", ["python-late-1.0-1.fc40"])
    s = world.stream
    u.messages = [s.built(u.builds[0]), s.update(u.alias, u.builds),
                  s.result(u.builds[0], TIER0, "PASSED")]  # fmt: skip
    _ingest(world.db, tmp_path / "late.jsonl", u.messages)
    out = run_bodhi(bodhi_python, world.base, [u])["updates"][u.alias]
    assert (out["status"], out["passed"]) == ("passed", True), out


# ------------------------------------------------------------------ Bodhi's page in a browser

PAGES = ("passing", "failing", "missing-recent", "critpath-waived")
PAGE_TIMEOUT_MS = 30_000
COLLECT = """() => ({
  badge: (document.querySelector('#test_status_badge') || {innerText: ''}).innerText.trim(),
  builds: [...document.querySelectorAll('#resultsdb h4')].map(h => h.innerText.trim()),
  rows: [...document.querySelectorAll('#resultsdb tr')].map(tr => ({
    cls: tr.className,
    cells: [...tr.querySelectorAll('td')].map(td => td.innerText.trim()),
    titles: [...tr.querySelectorAll('span')].map(
      s => s.getAttribute('data-bs-original-title') || s.getAttribute('title')).filter(t => t),
  })),
})"""


def show_pages(
    python: Path, base: str, updates: list[Update], log_path: Path, *,
    port: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Bodhi's own update pages (bodhi.server.main through waitress, on ``port``) in
    headless Chromium, their script asking the decision API at ``base`` from the browser:
    (what each page shows, Bodhi's answer)."""
    import select

    from tests.e2e.test_web_page import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        _service_missing("Chromium", f"{CHROMIUM} not found (apt install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _service_missing("playwright", f"cannot import it ({exc})")
    port = port or _free_port()
    request = {"greenwave_api_url": base + "/api/v1.0", "batch_size": 8,
               "updates": [u.spec() for u in updates], "page_port": port}  # fmt: skip
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONWARNINGS": "ignore"}
    env.pop("BODHI_CONFIG", None)
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(python), str(HELPER)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                                cwd=REPO)  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], BODHI_TIMEOUT_S)
            line = proc.stdout.readline() if ready else ""
            assert line, f"Bodhi's web app did not start:\n{log_path.read_text()[-4000:]}"
            answer = json.loads(line)
            shown: dict[str, Any] = {}
            with sync_playwright() as p:
                # Web security on (Chromium's default): the cross-origin POST is
                # preflighted and its answer checked against the page's origin.
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, timeout=60_000, args=list(CHROMIUM_ARGS)
                )
                try:
                    for u in updates:
                        shown[u.name] = _show(browser, f"http://127.0.0.1:{port}/updates/{u.alias}")
                finally:
                    browser.close()
        finally:
            proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    return shown, answer


@pytest.fixture(scope="module")
def bodhi_pages(bodhi_python: Path, world: World) -> dict[str, Any]:
    """The pages of PAGES, in a browser with web security on: Bodhi's page (its own
    origin) POSTs JSON to ``serve`` (another origin), so Chromium sends a CORS preflight
    first; ``serve``'s ``[api] cors_url`` names the page's origin, as Fedora's Greenwave
    names Bodhi's (test_cors_refused_for_another_origin shows the browser enforcing it)."""
    updates = [world.updates[n] for n in PAGES]
    page_port = _free_port()
    tmp = world.tmp / "pages"
    tmp.mkdir(exist_ok=True)
    settings = f'cors_url = "http://127.0.0.1:{page_port}"\n'
    with serve(world.db, tmp, settings=settings) as base:
        shown, answer = show_pages(bodhi_python, base, updates, tmp / "bodhi-pages.log",
                                   port=page_port)  # fmt: skip
    return {"shown": shown, "answer": answer, "world": world}


def _show(browser: Any, url: str) -> dict[str, Any]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("requestfailed", lambda r: console.append(f"failed: {r.method} {r.url} {r.failure}"))
    try:
        response = page.goto(url, timeout=PAGE_TIMEOUT_MS)
        assert response is not None and response.status == 200, url
        # finish() removes the badge's spinner once every batch is answered (or failed)
        page.wait_for_function(
            "() => !document.querySelector('#test_status_badge .spinner')",
            timeout=PAGE_TIMEOUT_MS,
        )
        seen = dict(page.evaluate(COLLECT))
        seen["errors"] = errors
        seen["console"] = console
        return seen
    finally:
        page.close()


def _decisions(bodhi_pages: dict[str, Any], name: str) -> list[dict[str, Any]]:
    u = bodhi_pages["world"].updates[name]
    out = bodhi_pages["answer"]["updates"][u.alias]
    assert "decisions" in out, out
    return list(out["decisions"])


@pytest.mark.parametrize(
    ("name", "summary"),
    [
        ("passing", "All required tests passed"),
        ("failing", "1 of 1 required tests failed"),
        ("missing-recent", "1 of 1 required test results missing"),
        ("critpath-waived", "All required tests passed"),
    ],
)
def test_bodhi_page_summary(bodhi_pages: dict[str, Any], name: str, summary: str) -> None:
    seen = bodhi_pages["shown"][name]
    assert seen["errors"] == [], seen["console"]
    assert seen["badge"] == summary, seen["console"]
    assert seen["badge"] == summary
    assert page_summary(_decisions(bodhi_pages, name)) == summary  # the port agrees


def test_bodhi_page_rows(bodhi_pages: dict[str, Any]) -> None:
    u = bodhi_pages["world"].updates["critpath-waived"]
    seen = bodhi_pages["shown"]["critpath-waived"]
    assert seen["builds"] == [*u.builds, u.alias]
    rows = {r["cells"][2].split("\xa0")[0].split()[0]: r for r in seen["rows"]}
    assert sorted(rows) == sorted([TIER0, *(t for t, _ in OPENQA)])
    cli = rows["update.base_update_cli"]
    assert "table-danger" in cli["cls"]  # FAILED, shown as failed ...
    assert "Waived by @adamwill: 'known flake, see rhbz#2250000'" in cli["titles"]  # ... waived
    assert "64bit" in cli["cells"][2] and "server" in cli["cells"][2]  # machine, flavor
    assert f"{TIER0} is a required test" in rows[TIER0]["titles"]
    assert [r["cells"][3] for r in bodhi_pages["shown"]["failing"]["rows"]] == [
        "2 of 31 tests failed"  # the note
    ]
    (missing,) = bodhi_pages["shown"]["missing-recent"]["rows"]
    assert "absent-automatedtest" in missing["cls"] and missing["cells"][2] == TIER0


def test_bodhi_page_shows_the_arch(bodhi_pages: dict[str, Any]) -> None:
    seen = bodhi_pages["shown"]["passing"]
    assert [r["cells"][2] for r in seen["rows"]] == [f"{TIER0}\xa0x86_64"] * 2


def test_bodhi_page_result_ages(bodhi_pages: dict[str, Any]) -> None:
    """Each row's age is the one moment.js gives ResultsDB's time (the page showed "a
    few seconds ago" for results 16 days old: moment fell back to ``Date``)."""
    for name, seen in bodhi_pages["shown"].items():
        sent = [m["body"]["submit_time"] for m in bodhi_pages["world"].updates[name].messages
                if m["topic"].endswith("resultsdb.result.new")]  # fmt: skip
        expected = {age for _, age in moment_js(sent)}
        ages = [r["cells"][4] for r in seen["rows"] if "absent-automatedtest" not in r["cls"]]
        assert len(ages) == len(sent) and set(ages) <= expected, (name, ages, expected)
        fallback = [c for c in seen["console"] if "falls back to js Date" in c]
        if any("absent-automatedtest" in r["cls"] for r in seen["rows"]):
            # Bodhi's own doing, not our times': update.html's handle_results draws a
            # missing result with make_row(..., time=''), and make_row's
            # ``if (time != undefined)`` lets '' through to moment('' + ' Z'), which
            # moment 2.8.3 cannot parse and hands to Date with this warning (printed
            # once per page, so it cannot be told apart from a result's here).
            continue
        assert not fallback, (name, fallback)


def test_cors_refused_for_another_origin(bodhi_python: Path, world: World, tmp_path: Path) -> None:
    """The same page against a ``serve`` whose CORS setting names another origin: the
    browser refuses the answer (the page's ajax error path: no summary, no rows). So the
    pages above pass because the preflight and the POST were answered with the page's
    origin, not because nothing was checked."""
    u = world.updates["passing"]
    settings = 'cors_url = "https://bodhi.fedoraproject.org"\n'
    with serve(world.db, tmp_path, settings=settings) as base:
        shown, _ = show_pages(bodhi_python, base, [u], tmp_path / "bodhi-page.log")  # fmt: skip
    seen = shown["passing"]
    # The badge keeps what Bodhi rendered server-side (its stored gating status): the
    # page makes no summary when Greenwave's answer errs (update.html greenwave_errors).
    assert seen["badge"] != "All required tests passed" and seen["rows"] == [], seen
    failed = [c for c in seen["console"] if c.startswith("failed: POST ") and "/decision" in c]
    assert failed, seen["console"]
