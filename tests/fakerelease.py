"""Fakes of the release lifecycle's systems, each on 127.0.0.1 speaking its protocol:

* :class:`FakeBodhi` — Bodhi's releases API as bodhi-server defines it
  (``bodhi/server/services/releases.py``: ``GET /releases/{name}`` answers the release
  or 404 ``{"status": "error", "errors": [...]}``; ``POST /releases/`` validated by
  ``SaveReleaseSchema`` in ``bodhi/server/schemas.py``: the required fields, ``state``
  one of ``ReleaseState``, a ``csrf_token`` from ``GET /csrf``, ``edited`` naming the
  release edited; admins only: here a bearer token);
* :class:`FakePagure` — Pagure's ``GET /api/0/<ns>/<repo>/git/branches`` and ``POST
  /api/0/<ns>/<repo>/git/branch`` (form ``branch``, ``from_branch``; ``Authorization:
  token ...``), as src.fedoraproject.org serves them;
* :class:`FakeBugzilla` — Bugzilla's XML-RPC (``/xmlrpc.cgi``) as python-bugzilla
  calls it: ``Bugzilla.version``, ``Product.get``, ``Bug.search``, ``Bug.update`` (writes
  need ``Bugzilla_api_key``).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse
import xmlrpc.client
from typing import Any

TOKEN = "s3cret"
STATES = ("disabled", "pending", "frozen", "current", "archived")  # bodhi ReleaseState
REQUIRED = ("name", "long_name", "branch", "id_prefix", "dist_tag", "stable_tag",
            "testing_tag", "candidate_tag")  # fmt: skip
TAG_TYPES = ("candidate", "testing", "stable", "override", "pending_testing", "pending_stable")
OPEN = ("NEW", "ASSIGNED", "POST", "MODIFIED", "ON_DEV", "ON_QA", "VERIFIED", "RELEASE_PENDING")


class _Server:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls: list[str] = []
        self.fail: dict[str, int] = {}  # "POST /releases/" -> status of the next call
        self.hold: dict[str, float] = {}  # "POST /releases/" -> seconds before answering
        self.done: list[str] = []  # requests executed (before any hold)
        self._server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> Any:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner._serve(self, "GET")

            def do_POST(self) -> None:
                owner._serve(self, "POST")

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.block_on_close = False
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def _serve(self, h: http.server.BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        path = urllib.parse.urlsplit(h.path).path
        with self.lock:
            self.calls.append(f"{method} {path}")
            status, body, ctype = self.handle(method, path, dict(h.headers), raw)
            self.done.append(f"{method} {path}")
        time.sleep(self.hold.get(f"{method} {path}", 0.0))
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def handle(self, method: str, path: str, headers: dict[str, str],
               raw: bytes) -> tuple[int, Any, str]:  # fmt: skip
        raise NotImplementedError


def _error(status: int, location: str, name: str, description: str) -> tuple[int, Any, str]:
    return (
        status,
        {
            "status": "error",
            "errors": [{"location": location, "name": name, "description": description}],
        },
        "application/json",
    )


class FakeBodhi(_Server):
    """``koji``: the hub Bodhi checks a release's tags against (``validate_tags`` in
    ``bodhi/server/validators.py``: ``getTag(tag, strict=True)`` for each tag type of
    ``Release.get_tags``); None: no check."""

    def __init__(self, koji: Any = None) -> None:
        super().__init__()
        self.koji = koji
        self.releases: dict[str, dict[str, Any]] = {}
        self.csrf = "csrf-token-1"

    def handle(self, method: str, path: str, headers: dict[str, str],
               raw: bytes) -> tuple[int, Any, str]:  # fmt: skip
        j = "application/json"
        if method == "GET" and path == "/csrf":
            return 200, {"csrf_token": self.csrf}, j
        if method == "GET" and path.startswith("/releases/") and path.count("/") == 2:
            name = path.split("/")[2]
            r = self.releases.get(name.upper())
            if r is None:
                return _error(404, "body", "name", "No such release")  # get_release_json
            return 200, r, j
        if method == "POST" and path == "/releases/":
            if (n := self.fail.pop("POST /releases/", 0)) != 0:
                return _error(n, "body", "name", "injected failure")
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return _error(403, "header", "Authorization", "admin permission required")
            data = json.loads(raw or b"{}")
            if data.get("csrf_token") != self.csrf:
                return _error(400, "body", "csrf_token", "CSRF tokens do not match")
            missing = [k for k in REQUIRED if not data.get(k)]
            if missing:
                return _error(400, "body", missing[0], "Required")
            if data.get("state", "disabled") not in STATES:
                return _error(400, "body", "state", f'"{data["state"]}" is not one of ...')
            for kind in TAG_TYPES:
                tag = data.get(f"{kind}_tag")
                if tag and self.koji is not None and self.koji.tag_info(tag) is None:
                    return _error(400, "body", f"{kind}_tag", f"Invalid tag: {tag}")
            data.pop("csrf_token")
            edited = data.pop("edited", None)
            if edited is None and data["name"] in self.releases:
                return _error(400, "body", "name", "Release already exists")
            if edited is not None and edited not in self.releases:
                return _error(400, "body", "edited", "No such release")
            base = self.releases.pop(edited, {}) if edited else {}
            r = {**base, "state": "disabled", **data}
            self.releases[r["name"]] = r
            return 200, r, j
        return _error(404, "url", "path", f"no route {method} {path}")


class FakePagure(_Server):
    def __init__(self, packages: dict[str, list[str]]) -> None:
        super().__init__()
        self.branches = {p: list(b) for p, b in packages.items()}  # "rpms/bash" -> branches

    def handle(self, method: str, path: str, headers: dict[str, str],
               raw: bytes) -> tuple[int, Any, str]:  # fmt: skip
        j = "application/json"
        parts = path.strip("/").split("/")  # api 0 ns repo git branches|branch
        if len(parts) != 6 or parts[:2] != ["api", "0"] or parts[4] != "git":
            return 404, {"error": "Not found", "error_code": "ENOCODE"}, j
        repo = f"{parts[2]}/{parts[3]}"
        if repo not in self.branches:
            return 404, {"error": "Project not found", "error_code": "ENOPROJECT"}, j
        if method == "GET" and parts[5] == "branches":
            return 200, {"total_branches": len(self.branches[repo]),
                         "branches": sorted(self.branches[repo])}, j  # fmt: skip
        if method == "POST" and parts[5] == "branch":
            if headers.get("Authorization") != f"token {TOKEN}":
                return 401, {"error": "Invalid or expired token", "error_code": "EINVALIDTOK"}, j
            form = dict(urllib.parse.parse_qsl(raw.decode()))
            if form.get("branch") in self.branches[repo]:
                return 400, {"error": "The branch already exists", "error_code": "ENOCODE"}, j
            if form.get("from_branch") not in self.branches[repo]:
                return (
                    400,
                    {"error": "The from_branch does not exist", "error_code": "EINVALIDREQ"},
                    j,
                )
            self.branches[repo].append(form["branch"])
            return 200, {"message": "Project branch was created"}, j
        return 405, {"error": "method not allowed"}, j


class FakeBugzilla(_Server):
    def __init__(self, product: str = "Fedora", versions: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.product = product
        self.versions = list(versions)
        self.bugs: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[str]] = {}
        self.updates: list[list[int]] = []  # the ids of each Bug.update

    @property
    def xmlrpc_url(self) -> str:
        return self.url + "xmlrpc.cgi"

    def add_bug(self, version: str, status: str = "NEW") -> int:
        with self.lock:
            bug_id = 100000 + len(self.bugs)
            self.bugs[bug_id] = {"id": bug_id, "product": self.product, "version": [version],
                                 "status": status, "resolution": "", "component": ["bash"],
                                 "summary": f"bug {bug_id}"}  # fmt: skip
            return bug_id

    def handle(self, method: str, path: str, headers: dict[str, str],
               raw: bytes) -> tuple[int, Any, str]:  # fmt: skip
        if method != "POST" or path != "/xmlrpc.cgi":
            return 404, b"not found", "text/plain"
        params, name = xmlrpc.client.loads(raw)
        try:
            result = self.call(str(name), params[0] if params else {})
            body = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True)
        except xmlrpc.client.Fault as fault:
            body = xmlrpc.client.dumps(fault, allow_none=True)
        return 200, body.encode(), "text/xml"

    def call(self, name: str, p: dict[str, Any]) -> Any:
        self.calls.append(name)
        if name == "Bugzilla.version":
            return {"version": "5.0.4.rh100"}
        if name == "Product.get":
            if self.product not in p.get("names", []):
                return {"products": []}
            versions = [{"name": v, "id": i, "is_active": True, "sort_key": 0}
                        for i, v in enumerate(self.versions)]  # fmt: skip
            return {"products": [{"id": 49, "name": self.product, "versions": versions}]}
        if name == "Bug.search":
            want = lambda k: [p[k]] if isinstance(p.get(k), str) else p.get(k)  # noqa: E731
            bugs = [b for b in self.bugs.values()
                    if (not p.get("product") or b["product"] in want("product"))
                    and (not p.get("version") or b["version"][0] in want("version"))
                    and (not p.get("bug_status") or b["status"] in want("bug_status"))]  # fmt: skip
            bugs = bugs[: int(p["limit"])] if p.get("limit") else bugs
            return {"bugs": [dict(b) for b in bugs]}
        if name == "Bug.update":
            if p.get("Bugzilla_api_key") != TOKEN:
                raise xmlrpc.client.Fault(
                    410, "You must log in before using this part of Bugzilla."
                )
            ids = [int(i) for i in p["ids"]]
            self.updates.append(ids)
            for i in ids:
                b = self.bugs[i]
                b["status"] = p.get("status", b["status"])
                b["resolution"] = p.get("resolution", b["resolution"])
                comment = p.get("comment") or {}
                text = comment.get("body") or comment.get("comment")
                if text:
                    self.comments.setdefault(i, []).append(text)
            return {"bugs": [{"id": i, "changes": {}} for i in ids]}
        raise xmlrpc.client.Fault(32000, f"The method '{name}' is not valid")
