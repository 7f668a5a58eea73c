"""What ``relengotron serve`` runs (``adapters.cli.cli_api.make_server``) on a real store:
Greenwave's CORS headers, request limits, catching the read models up before answering,
and 503s instead of verdicts when the store is lost.

Greenwave's behaviour is read from its source (release-engineering/greenwave):
``greenwave/utils.py`` ``insert_headers`` (the CORS headers and their values, from
``CORS_URL``; also put on every JSON error by ``json_error``), ``greenwave/api_v1.py``
(``OPTIONS /decision`` answered with Flask's default options response, ``insert_headers``
on ``/about``, ``/policies`` and ``POST /decision``; none on ``/healthcheck``, in
``greenwave/app_factory.py``). Bodhi's update page calls the decision API from the
browser (bodhi-server/bodhi/server/templates/update.html, ``get_greenwave_information``:
``$.ajax`` POST with ``contentType: 'application/json'``, which needs a preflight), and
Bodhi's server retries non-2xx answers and then waits (bodhi-server/bodhi/server/util.py
``call_api``; models.py ``update_test_gating_status``: an error means "waiting").
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from relengotron.adapters.cli.cli_api import make_server
from relengotron.adapters.cli.main import main
from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.settings_file import load_settings
from relengotron.adapters.store.readmodels import Projector
from relengotron.adapters.store.store import open_app
from tests.conftest import PG_URL, REPO, _service_missing
from tests.messages import Bus, write

DECISION = "/api/v1.0/decision"
BODHI = "https://bodhi.fedoraproject.org"
NVR = "python-requests-2.31.0-1.fc40"
POLICY = """\
--- !Policy
id: gw_http_rpmdeplint
product_versions: [fedora-40]
decision_contexts: [bodhi_update_push_stable]
subject_type: koji_build
rules:
  - !PassingTestCaseRule {test_case_name: dist.rpmdeplint}
"""


def request(*nvrs: str) -> dict[str, Any]:
    return {
        "product_version": "fedora-40",
        "decision_context": "bodhi_update_push_stable",
        "subject": [{"type": "koji_build", "item": n} for n in (nvrs or (NVR,))],
    }


class Site:
    """A store with one build that passes, a policy directory and a settings file."""

    def __init__(self, tmp: Path, db: str | None = None) -> None:
        self.tmp = tmp
        self.db = db or f"sqlite:///{tmp / 'store.db'}"
        (tmp / "policies").mkdir(parents=True)
        (tmp / "policies" / "p.yaml").write_text(POLICY)
        self.config = tmp / "relengotron.toml"
        self.settings()
        self.bus = Bus()
        self.app = open_app(self.db)
        self.record(self.bus.built(NVR), self.bus.tagged(NVR, "f40-updates-testing-pending"))
        self.record(self.bus.rpmdeplint(NVR, "PASSED"))
        Projector(self.app, load_settings(str(self.config)).gating).run()

    def settings(self, **api: Any) -> None:
        values = {"project_interval": 3600, **api}  # only a catch-up can bring news
        lines = [f"{k} = {orjson.dumps(v).decode()}" for k, v in values.items()]
        self.config.write_text(
            f'[gating]\npolicies = "{self.tmp / "policies"}"\n\n[api]\n' + "\n".join(lines) + "\n"
        )

    def record(self, *messages: dict[str, Any]) -> None:
        self.app.record([to_incoming(to_envelope(m)) for m in messages])

    def client(self, **api: Any) -> TestClient:
        self.settings(**api)
        return TestClient(make_server(self.db, str(self.config)))


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


@pytest.fixture
def pg_database() -> Iterator[tuple[str, Any]]:
    """(URL, admin connection) of a fresh PostgreSQL database, dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect(
            PG_URL.replace("postgresql+psycopg://", "postgresql://"),
            autocommit=True,
            connect_timeout=3,
        )
    except Exception as exc:
        _service_missing("PostgreSQL at 127.0.0.1:5432", str(exc).strip().splitlines()[0])
    name = "gw_http_" + uuid.uuid4().hex[:10]
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL.rsplit('/', 1)[0]}/{name}", admin
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def any_site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    if request.param == "sqlite":
        return Site(tmp_path)
    url, _ = request.getfixturevalue("pg_database")
    return Site(tmp_path, db=url)


def _satisfied(client: TestClient, *nvrs: str) -> bool:
    r = client.post(DECISION, json=request(*nvrs))
    assert r.status_code == 200, r.text
    return bool(r.json()["policies_satisfied"])


# ------------------------------------------------------------------ 6. CORS


def test_cors_as_greenwave_with_cors_url(site: Site) -> None:
    with site.client(cors_url=BODHI) as c:
        pre = c.options(
            DECISION,
            headers={
                "Origin": BODHI,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["allow"] == "OPTIONS, POST"
        assert pre.headers["access-control-allow-origin"] == BODHI
        assert pre.headers["access-control-allow-headers"] == "Content-Type"
        # Greenwave's (singular) header name, and the standard one.
        assert pre.headers["access-control-allow-method"] == "POST, OPTIONS"
        assert pre.headers["access-control-allow-methods"] == "POST, OPTIONS"
        r = c.post(DECISION, json=request(), headers={"Origin": BODHI})
        assert r.status_code == 200 and r.json()["policies_satisfied"] is True
        assert r.headers["access-control-allow-origin"] == BODHI
        # Greenwave sets the configured URL whatever the Origin (it does not echo it).
        other = c.post(DECISION, json=request(), headers={"Origin": "https://evil.example"})
        assert other.headers["access-control-allow-origin"] == BODHI
        # Errors carry them too (json_error -> insert_headers).
        bad = c.post(DECISION, json={"decision_context": "x"})
        assert bad.status_code == 400
        assert bad.headers["access-control-allow-origin"] == BODHI
        unknown = c.get("/api/v1.0/nowhere")
        assert unknown.status_code == 404
        assert unknown.headers["access-control-allow-origin"] == BODHI
        for path in ("/api/v1.0/about", "/api/v1.0/policies"):
            got = c.get(path)
            assert got.status_code == 200
            assert got.headers["access-control-allow-origin"] == BODHI
        # Greenwave's healthcheck has no CORS headers.
        assert "access-control-allow-origin" not in c.get("/healthcheck").headers
        # Flask's automatic OPTIONS on Greenwave's GET routes: no view, so no CORS headers.
        auto = c.options("/api/v1.0/about", headers={"Origin": BODHI})
        assert auto.status_code == 200 and auto.headers["allow"] == "GET, HEAD, OPTIONS"
        assert "access-control-allow-origin" not in auto.headers


def test_no_cors_url_no_cors_headers_but_options_is_answered(site: Site) -> None:
    with site.client() as c:
        pre = c.options(DECISION, headers={"Origin": BODHI})
        assert pre.status_code == 200 and pre.headers["allow"] == "OPTIONS, POST"
        assert "access-control-allow-origin" not in pre.headers
        assert "access-control-allow-origin" not in c.post(DECISION, json=request()).headers


def test_cors_url_must_be_a_string(site: Site) -> None:
    site.settings(cors_url=5)
    from relengotron.adapters.settings import SettingsError

    with pytest.raises(SettingsError, match="cors_url"):
        load_settings(str(site.config))


# ------------------------------------------------------------------ 10. limits


def test_a_body_over_the_limit_is_413_before_it_is_read_whole(site: Site) -> None:
    with site.client(max_body_bytes=2000, cors_url=BODHI) as c:
        big = orjson.dumps(request(*[f"pkg{i}-1-1.fc40" for i in range(100)]))
        assert len(big) > 2000
        r = c.post(DECISION, content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert r.json() == {
            "message": "Request body too large: more than 2000 bytes "
            "(the limit, [api] max_body_bytes)"
        }
        assert r.headers["access-control-allow-origin"] == BODHI

        def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it comes
            for i in range(0, len(big), 500):
                yield big[i : i + 500]

        r = c.post(DECISION, content=chunked(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        # The writes are limited too.
        r = c.post("/api/v1/waivers", content=b"{" + b" " * 3000 + b"}",
                   headers={"content-type": "application/json"})  # fmt: skip
        assert r.status_code == 413
        # At the limit is fine.
        ok = orjson.dumps(request())
        assert (
            c.post(DECISION, content=ok, headers={"content-type": "application/json"}).status_code
            == 200
        )


def test_too_many_subjects_is_400(site: Site) -> None:
    with site.client(max_subjects=20) as c:
        r = c.post(DECISION, json=request(*[f"pkg{i}-1-1.fc40" for i in range(21)]))
        assert r.status_code == 400
        assert r.json() == {
            "message": "Too many subjects: 21, at most 20 per request ([api] max_subjects)"
        }
        r = c.post(DECISION, json=request(*[f"pkg{i}-1-1.fc40" for i in range(20)]))
        assert r.status_code == 200


def test_limit_settings_have_sane_defaults_and_are_checked(site: Site) -> None:
    from relengotron.adapters.settings import ApiSettings, SettingsError

    api = ApiSettings()
    assert api.max_body_bytes == 1024 * 1024 and api.max_subjects == 1000
    assert api.catch_up_timeout == 5.0 and api.cors_url is None
    for bad in ({"max_body_bytes": 0}, {"max_subjects": 0}, {"catch_up_timeout": 0},
                {"decision_threads": 0}):  # fmt: skip
        site.settings(**bad)
        with pytest.raises(SettingsError, match=next(iter(bad))):
            load_settings(str(site.config))


# ------------------------------------------------------------------ 7. stale reads


def test_a_decision_reflects_every_message_recorded_before_it(any_site: Site) -> None:
    site = any_site
    with site.client() as c:
        assert _satisfied(c) is True
        # ResultsDB says FAILED; Bodhi asks as soon as it sees the message.
        site.record(site.bus.rpmdeplint(NVR, "FAILED"))
        r = c.post(DECISION, json=request())
        assert r.status_code == 200
        assert r.json()["policies_satisfied"] is False
        assert r.json()["summary"] == "Of 1 required test, 1 test failed"
        site.record(site.bus.rpmdeplint(NVR, "PASSED"))
        assert _satisfied(c) is True


def test_the_read_api_reflects_what_was_just_recorded(site: Site) -> None:
    with site.client() as c:
        assert "f40-updates-testing" not in c.get(f"/api/v1/builds/{NVR}").json()["tags"]
        site.record(site.bus.tagged(NVR, "f40-updates-testing"))
        assert "f40-updates-testing" in c.get(f"/api/v1/builds/{NVR}").json()["tags"]


def test_resultsdb_reads_reflect_what_was_just_recorded(any_site: Site) -> None:
    """Greenwave reading our ResultsDB API must not get a stale "latest" (a FAILED result
    recorded a moment ago would be missing, and it would say passed)."""
    site = any_site
    query = {"item": NVR, "type": "koji_build", "testcases": "dist.rpmdeplint",
             "_distinct_on": "scenario,system_architecture,system_variant"}  # fmt: skip
    with site.client() as c:
        before = c.get("/api/v2.0/results/latest", params=query).json()["data"]
        site.record(site.bus.rpmdeplint(NVR, "FAILED"))
        after = c.get("/api/v2.0/results/latest", params=query).json()["data"]
        assert [r["outcome"] for r in after] == ["FAILED"]
        assert [r["outcome"] for r in before] == ["PASSED"]
        listed = c.get("/api/v2.0/results", params={"item": NVR}).json()["data"]
        assert listed[0]["outcome"] == "FAILED"


def test_a_catch_up_past_its_bound_is_503_not_a_stale_verdict(site: Site) -> None:
    with site.client(catch_up_timeout=0.3, cors_url=BODHI) as c:
        assert _satisfied(c) is True
        site.record(site.bus.rpmdeplint(NVR, "FAILED"))
        # Another writer holds the store: the read models cannot be brought up to date.
        path = site.db.removeprefix("sqlite:///")
        holder = sqlite3.connect(path, timeout=30, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            r = c.post(DECISION, json=request())
            assert r.status_code == 503
            assert r.headers["retry-after"] == "1"
            assert r.headers["access-control-allow-origin"] == BODHI
            body = r.json()
            assert set(body) == {"message"}
            assert body["message"].startswith("The read models are behind the log")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # Once the store is free, the projector gets there (its busy wait may take a
        # moment on a loaded machine: 503s meanwhile, never a stale "satisfied").
        deadline = time.monotonic() + 20
        while True:
            r = c.post(DECISION, json=request())
            if r.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert r.status_code == 200 and r.json()["policies_satisfied"] is False


def test_ingest_brings_the_read_models_up_to_date(site: Site, capsys: Any) -> None:
    bus = site.bus
    path = write(site.tmp / "in.jsonl", [bus.rpmdeplint(NVR, "FAILED")])
    assert main(["ingest", str(path), "--db", site.db, "--config", str(site.config),
                 "--no-progress", "--json"]) == 0  # fmt: skip
    capsys.readouterr()
    # Nothing left for the projector to fold: ingest did it.
    assert Projector(site.app, load_settings(str(site.config)).gating).run().events == 0
    # And `relengotron decision` answers from it (exit 1: not satisfied).
    assert main(["decision", NVR, "--product-version", "fedora-40", "--context",
                 "bodhi_update_push_stable", "--db", site.db, "--config", str(site.config),
                 "--json"]) == 1  # fmt: skip
    assert orjson.loads(capsys.readouterr().out)["policies_satisfied"] is False


def test_decide_brings_the_read_models_up_to_date(site: Site, capsys: Any) -> None:
    site.record(site.bus.rpmdeplint(NVR, "FAILED"))
    assert main(["decide", "--db", site.db, "--config", str(site.config), "--json"]) == 0
    capsys.readouterr()
    assert Projector(site.app, load_settings(str(site.config)).gating).run().events == 0


def test_the_decision_command_catches_up_first(site: Site, capsys: Any) -> None:
    site.record(site.bus.rpmdeplint(NVR, "FAILED"))  # recorded, not projected
    code = main(["decision", NVR, "--product-version", "fedora-40", "--context",
                 "bodhi_update_push_stable", "--db", site.db, "--config", str(site.config),
                 "--json"])  # fmt: skip
    assert orjson.loads(capsys.readouterr().out)["policies_satisfied"] is False
    assert code == 1


def test_another_process_recording_after_a_store_check_is_seen(site: Site) -> None:
    """The server's checks of the SQLite file must not drop its SQLite locks. POSIX
    advisory locks are the process's: closing any descriptor of the file releases all
    of them (https://sqlite.org/howtocorrupt.html, 2.2). Without its shared lock, the
    next process to close its last connection (here ``relengotron ingest``, which also
    folds the read models) takes itself for the last one, checkpoints and deletes the
    write-ahead log, and the server's pooled connections go on reading the log as it was:
    a stale verdict (seen by Bodhi's contract test, tests/e2e/test_bodhi_contract.py)."""
    with site.client() as c:
        assert _satisfied(c) is True
        # Something new for the catch-up thread: its round checks the file (guard.py).
        site.record(site.bus.tagged(NVR, "f40-updates-testing"))
        assert _satisfied(c) is True
        path = write(site.tmp / "failed.jsonl", [site.bus.rpmdeplint(NVR, "FAILED")])
        done = subprocess.run(
            [sys.executable, "-m", "relengotron", "ingest", str(path), "--db", site.db,
             "--config", str(site.config), "--no-progress", "--json"],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert Path(site.db.removeprefix("sqlite:///") + "-wal").exists()  # not ours to drop
        assert _satisfied(c) is False


# ------------------------------------------------------------------ 8. a lost store


def _garbage(path: Path) -> None:
    with path.open("r+b") as f:  # in place: same inode
        f.write(os.urandom(path.stat().st_size))


def _another_store(tmp: Path) -> Path:
    other = Site(tmp / "other")
    other.app.close()
    return Path(other.db.removeprefix("sqlite:///"))


def _lose(how: str, path: Path, tmp: Path) -> None:
    # A later tick of the file clock than the server's last look (a copy of the same
    # size within the same tick is left to the catch-up thread's rounds: guard.py).
    time.sleep(0.02)
    if how == "deleted":
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
    elif how == "garbage":
        _garbage(path)
    elif how == "renamed-over":  # another store moved into place (another inode)
        os.replace(_another_store(tmp), path)
    elif how == "copied-over":  # another store copied over it (same inode)
        shutil.copyfile(_another_store(tmp), path)
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["deleted", "garbage", "renamed-over", "copied-over"])
def test_a_lost_sqlite_store_is_503_and_unhealthy(site: Site, how: str) -> None:
    path = Path(site.db.removeprefix("sqlite:///"))
    with site.client(cors_url=BODHI) as c:
        assert _satisfied(c) is True
        assert c.get("/healthcheck").status_code == 200
        _lose(how, path, site.tmp)
        for _ in range(2):  # and stays so
            r = c.post(DECISION, json=request())
            assert r.status_code == 503, r.text
            assert set(r.json()) == {"message"}
            assert "store" in r.json()["message"]
            assert r.headers["access-control-allow-origin"] == BODHI
            assert "retry-after" in r.headers
            health = c.get("/healthcheck")
            assert health.status_code == 503
            assert health.text.startswith("Health check failed")
            # The other routes reading the store do not answer from the lost one either.
            build = c.get(f"/api/v1/builds/{NVR}")
            assert build.status_code == 503
            assert build.json()["message"].startswith("The store cannot be read: ")


def test_a_dropped_postgresql_database_is_503_and_unhealthy(
    tmp_path: Path, pg_database: tuple[str, Any]
) -> None:
    url, admin = pg_database
    site = Site(tmp_path, db=url)
    with site.client() as c:
        assert _satisfied(c) is True
        site.app.close()
        admin.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        r = c.post(DECISION, json=request())
        assert r.status_code == 503, r.text
        assert "store" in r.json()["message"]
        assert c.get("/healthcheck").status_code == 503


def test_a_postgresql_database_replaced_by_another_store_is_503(
    tmp_path: Path, pg_database: tuple[str, Any]
) -> None:
    url, admin = pg_database
    name = url.rsplit("/", 1)[1]
    site = Site(tmp_path / "first", db=url)
    with site.client() as c:
        assert _satisfied(c) is True
        site.app.close()
        # Dropped and made again with the same name, then filled with another store
        # (the same messages, recorded again: only the store's identity differs).
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        other = Site(tmp_path / "second", db=url)
        other.app.close()
        r = c.post(DECISION, json=request())
        assert r.status_code == 503, r.text
        assert "replaced by another store" in r.json()["message"]
        assert c.get("/healthcheck").status_code == 503
