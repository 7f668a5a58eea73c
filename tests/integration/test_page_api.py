"""The page's JSON routes and the headers of every answer, without a browser
(``adapters.http.page_api``, ``adapters.http.security``, ``adapters.services.page``);
the page itself is driven in Chromium by tests/e2e/test_web_page.py."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from relengotron.adapters.http import page_api
from relengotron.adapters.http.app import create_app
from relengotron.adapters.http.security import CSP
from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.adapters.services.page import build_links, message_url, recent_decisions
from relengotron.adapters.settings import LinkSettings, SettingsError
from relengotron.adapters.settings_file import settings_from
from tests.fakes import FakeReadModel

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "adapters" / "http" / "static"
BASES = LinkSettings().bases(None)
VIM = "vim-9.1.1800-1.fc44"


def _app(rm: FakeReadModel, *, token: str | None = None, stream: float = 1.5) -> FastAPI:
    policies = load_policy_set(REPO / "config" / "policies")
    app = create_app(rm, lambda: policies, token=token)
    page_api.configure(app, page_api.PageSources(rm, BASES, stream_seconds=stream))
    app.include_router(page_api.router)
    return app


def _decision(rm: FakeReadModel, nvr: str, verdict: str, previous: str | None, at: str) -> None:
    row = rm.add_decision(nvr, {"verdict": verdict, "summary": f"{verdict} at {at}"}, at=at)
    row["previous"] = previous
    rm.message_rows[row["trigger"]] = {
        "key": row["trigger"], "topic": f"org.fedoraproject.prod.ci.{verdict}",
        "family": "ci", "at": at, "position": row["position"],
    }  # fmt: skip


# ------------------------------------------------------------------ links


def test_build_links_from_koji_and_dist_git() -> None:
    build = {"nvr": VIM, "koji_id": 2900005, "change": "rpms/vim#5da2ad0b"}
    assert build_links(build, BASES) == {
        "koji": "https://koji.fedoraproject.org/koji/buildinfo?buildID=2900005",
        "distgit": "https://src.fedoraproject.org/rpms/vim/c/5da2ad0b",
        "bodhi": f"https://bodhi.fedoraproject.org/updates/?builds={VIM}",
    }
    # koji's own source form, and a build koji has not told us about yet
    koji_source = {"nvr": VIM, "change": "git+https://src.fedoraproject.org/rpms/vim.git#abc"}
    links = build_links(koji_source, BASES)
    assert links["distgit"] == "https://src.fedoraproject.org/rpms/vim/c/abc"
    assert "koji" not in links
    assert "distgit" not in build_links({"nvr": VIM, "change": "no commit here"}, BASES)


def test_link_bases_come_from_settings(tmp_path: Path) -> None:
    cfg = settings_from(
        {"koji": {"weburl": "https://koji.example.org/koji/"},
         "links": {"bodhi": "https://bodhi.example.org", "distgit": "https://git.example.org/"}},
        source="t.toml", base=tmp_path,
    )  # fmt: skip
    bases = cfg.links.bases(cfg.koji.weburl)
    assert bases["koji"] == "https://koji.example.org/koji"  # [koji] weburl, no slash
    assert bases["distgit"] == "https://git.example.org"
    assert bases["bodhi"] == "https://bodhi.example.org"
    assert bases["datagrepper"] == "https://apps.fedoraproject.org/datagrepper"
    explicit = LinkSettings(koji_web="https://kojiweb.example.org/koji")
    assert explicit.bases("https://ignored")["koji"] == "https://kojiweb.example.org/koji"
    with pytest.raises(SettingsError):
        settings_from({"links": {"bodhi": 3}}, source="t.toml", base=tmp_path)


def test_a_trigger_is_named_by_its_topic_and_linked_when_it_came_from_the_bus() -> None:
    bus = {"key": "8970646a-a924-4ed3-87d8-1695beecb78c", "family": "ci"}
    url = message_url(bus, BASES)
    assert url == (
        "https://apps.fedoraproject.org/datagrepper/v2/id"
        "?id=8970646a-a924-4ed3-87d8-1695beecb78c&is_raw=true"
    )
    assert message_url({"key": "relengotron-abc", "family": "relengotron"}, BASES) is None


# ------------------------------------------------------------------ decisions


def test_recent_decisions_by_time_without_unchanged_ones_unless_asked() -> None:
    rm = FakeReadModel()
    _decision(rm, VIM, "hold", None, "2026-11-20T09:00:00+00:00")
    _decision(rm, VIM, "hold", "hold", "2026-11-20T09:05:00+00:00")  # summary only
    _decision(rm, "rpm-6.0.1-1.fc44", "quarantine", "hold", "2026-11-21T02:00:00+00:00")
    # recorded later, but about an earlier message (a replayed batch): ordered by time
    _decision(rm, VIM, "quarantine", "hold", "2026-11-20T09:41:00+00:00")
    changed = recent_decisions(rm, BASES, limit=10)
    assert [(d["nvr"], d["verdict"], d["at"][:13]) for d in changed] == [
        ("rpm-6.0.1-1.fc44", "quarantine", "2026-11-21T02"),
        (VIM, "quarantine", "2026-11-20T09"),
        (VIM, "hold", "2026-11-20T09"),
    ]
    assert all(d["changed"] for d in changed)
    every = recent_decisions(rm, BASES, limit=10, changed_only=False)
    assert len(every) == 4 and [d["changed"] for d in every].count(False) == 1
    first = changed[0]["trigger_message"]
    assert first["topic"] == "org.fedoraproject.prod.ci.quarantine"
    assert first["url"] and first["key"] in first["url"]
    only_vim = recent_decisions(rm, BASES, limit=10, package="vim")
    assert {d["nvr"] for d in only_vim} == {VIM}
    one_build = recent_decisions(rm, BASES, limit=10, changed_only=False, nvr=VIM)
    assert [d["nvr"] for d in one_build] == [VIM] * 3
    assert len(recent_decisions(rm, BASES, limit=1)) == 1


def test_page_routes_read_only_and_say_what_the_server_offers() -> None:
    rm = FakeReadModel()
    rm.builds[VIM] = {"nvr": VIM, "gate": "quarantined", "koji_id": 7, "change": "rpms/vim#a",
                      "tags": ["rawhide-badnewsbears"], "decision": None}  # fmt: skip
    _decision(rm, VIM, "quarantine", "hold", "2026-11-20T09:41:00+00:00")
    client = TestClient(_app(rm))
    info = client.get("/api/v1/page").json()
    # The server has the rerun route (the gatekeeper's): advertised, used only with writes.
    assert info == {"links": BASES, "writes": False, "rerun": "/api/v1/builds/{nvr}/rerun"}
    assert TestClient(_app(rm, token="t")).get("/api/v1/page").json()["writes"] is True
    builds = client.get("/api/v1/page/builds?gate=quarantined&gate=held").json()["builds"]
    assert [b["nvr"] for b in builds] == [VIM]
    assert builds[0]["links"]["koji"].endswith("buildID=7") and builds[0]["move_pending"] is None
    assert client.get("/api/v1/page/builds?gate=nonsense").status_code == 400
    decisions = client.get("/api/v1/page/decisions").json()["decisions"]
    assert decisions[0]["trigger_message"]["topic"] == "org.fedoraproject.prod.ci.quarantine"
    assert client.get(f"/api/v1/page/links/{VIM}").json()["links"]["distgit"].endswith("/c/a")
    assert client.get("/api/v1/page/links/nope-1-1").status_code == 404
    assert client.get("/api/v1/operations").status_code == 503  # not configured here
    # none of the page's routes writes
    for route in page_api.router.routes:
        assert getattr(route, "methods", set()) <= {"GET", "HEAD"}, route


def test_a_rerun_endpoint_is_advertised_when_the_server_has_one() -> None:
    app = _app(FakeReadModel())

    @app.post("/api/v1/builds/{nvr}/rerun")
    def rerun(nvr: str) -> dict[str, Any]:  # what the gatekeeper's rerun adds
        return {}

    assert TestClient(app).get("/api/v1/page").json()["rerun"] == "/api/v1/builds/{nvr}/rerun"


# ------------------------------------------------------------------ live updates


def test_server_sent_events_follow_the_read_models_position() -> None:
    rm = FakeReadModel()
    _decision(rm, VIM, "hold", None, "2026-11-20T09:00:00+00:00")  # position 1
    client = TestClient(_app(rm, stream=2.0))

    def later() -> None:  # a new event folded while the page listens
        time.sleep(0.7)
        _decision(rm, VIM, "quarantine", "hold", "2026-11-20T09:41:00+00:00")

    threading.Thread(target=later, daemon=True).start()
    with client.stream("GET", "/api/v1/updates") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    positions = [int(p) for p in re.findall(r'event: position\ndata: \{"position":(\d+)\}', text)]
    assert positions == [1, 2]
    assert text.startswith("retry: ")


# ------------------------------------------------------------------ headers and assets


def test_every_answer_has_the_policy_and_nosniff() -> None:
    from relengotron.adapters.http import page

    app = _app(FakeReadModel())
    app.include_router(page.router)
    client = TestClient(app)
    for path in ("/", "/static/app.js", "/static/actions.js", "/docs", "/openapi.json",
                 "/api/v1/page", "/api/v1/builds?gate=candidate", "/nowhere"):  # fmt: skip
        r = client.get(path)
        assert r.headers["content-security-policy"] == CSP, path
        assert r.headers["x-content-type-options"] == "nosniff", path
    assert "default-src 'self'" in CSP and "unsafe" not in CSP
    assert client.get("/redoc").status_code == 404  # it loads from a CDN: off
    docs = client.get("/docs").text
    assert re.findall(r'(?:src|href)="([^"]+)"', docs) == [
        "data:,", "/static/swagger/swagger-ui.css", "/static/swagger/swagger-ui-bundle.js",
        "/static/docs.js",
    ]  # fmt: skip
    bundle = client.get("/static/swagger/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert client.get("/static/swagger/index.html").status_code == 404  # only what /docs loads


@pytest.mark.parametrize("name", sorted(p.name for p in STATIC.iterdir()))
def test_no_static_file_names_another_origin(name: str) -> None:
    text = (STATIC / name).read_text(encoding="utf-8")
    assert not re.search(r"https?://|[\"'(]//", text), re.findall(r"https?://\S+", text)
    if name.endswith(".html"):  # no inline script or handler (the policy forbids them)
        assert not re.search(r"<script(?![^>]*\bsrc=)", text)
        assert not re.search(r"\son[a-z]+=", text)
